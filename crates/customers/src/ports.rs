//! What the customers domain needs from the outside world.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kernel::{AccountId, CustomerId, GroupId, ProfileFieldId, StoreError, WorkspaceId};
use serde_json::{Map, Value};

use crate::error::RowError;
use crate::models::{
    Customer, CustomerChanges, CustomerFilter, Group, GroupChanges, Page, PageRequest, ProfileField,
};

/// Storage of customers, their groups and the workspace's profile fields. Every method works
/// inside one account; objects of other accounts (or workspaces) are never found.
#[async_trait]
pub trait CustomerStore: Send + Sync + 'static {
    async fn workspace_exists(
        &self,
        account: AccountId,
        ws: WorkspaceId,
    ) -> Result<bool, StoreError>;

    async fn profile_fields(
        &self,
        account: AccountId,
        ws: WorkspaceId,
    ) -> Result<Vec<ProfileField>, StoreError>;
    async fn insert_profile_field(
        &self,
        account: AccountId,
        field: &ProfileField,
    ) -> Result<(), StoreError>;
    async fn update_profile_field(
        &self,
        account: AccountId,
        field: &ProfileField,
    ) -> Result<(), StoreError>;
    /// Deletes the field and removes its key from every customer's attributes.
    async fn delete_profile_field(
        &self,
        account: AccountId,
        ws: WorkspaceId,
        id: ProfileFieldId,
    ) -> Result<(), StoreError>;
    /// How many customers hold a value for `field.key` that `field` would not admit, or (when
    /// `field.required`) hold none.
    async fn profile_field_misfits(
        &self,
        account: AccountId,
        field: &ProfileField,
    ) -> Result<i64, StoreError>;

    async fn customer(
        &self,
        account: AccountId,
        ws: WorkspaceId,
        id: CustomerId,
    ) -> Result<Customer, StoreError>;
    /// One page, oldest first (by `created_at`, then id).
    async fn customers(
        &self,
        account: AccountId,
        ws: WorkspaceId,
        filter: &CustomerFilter,
        page: PageRequest,
    ) -> Result<Page<Customer>, StoreError>;
    async fn count_customers(
        &self,
        account: AccountId,
        ws: WorkspaceId,
        filter: &CustomerFilter,
    ) -> Result<i64, StoreError>;
    async fn update_customer(
        &self,
        account: AccountId,
        ws: WorkspaceId,
        id: CustomerId,
        changes: &CustomerChanges,
        at: DateTime<Utc>,
    ) -> Result<Customer, StoreError>;
    /// Deletes those of `ids` that exist; returns how many did.
    async fn delete_customers(
        &self,
        account: AccountId,
        ws: WorkspaceId,
        ids: &[CustomerId],
    ) -> Result<u64, StoreError>;
    /// Opens an import: rows written to the sink are applied (or only checked) by its
    /// [`ImportSink::finish`], all at once or not at all. Never waits for a free slot or for
    /// another import into the workspace to end: it answers [`BeginImportError::AtCapacity`] or
    /// [`BeginImportError::WorkspaceBusy`] instead. Dropping the sink unfinished writes nothing
    /// and frees its slot.
    async fn begin_import(
        &self,
        account: AccountId,
        ws: WorkspaceId,
    ) -> Result<Box<dyn ImportSink>, BeginImportError>;

    async fn groups(
        &self,
        account: AccountId,
        ws: WorkspaceId,
        page: PageRequest,
    ) -> Result<Page<Group>, StoreError>;
    async fn group(
        &self,
        account: AccountId,
        ws: WorkspaceId,
        id: GroupId,
    ) -> Result<Group, StoreError>;
    async fn insert_group(&self, account: AccountId, group: &Group) -> Result<(), StoreError>;
    async fn update_group(
        &self,
        account: AccountId,
        ws: WorkspaceId,
        id: GroupId,
        changes: &GroupChanges,
        at: DateTime<Utc>,
    ) -> Result<Group, StoreError>;
    async fn delete_group(
        &self,
        account: AccountId,
        ws: WorkspaceId,
        id: GroupId,
    ) -> Result<(), StoreError>;
    /// Adds the customers to the group. When some are not customers of the workspace nothing
    /// is added and those are returned; otherwise the number newly added.
    async fn add_group_members(
        &self,
        account: AccountId,
        ws: WorkspaceId,
        group: GroupId,
        customers: &[CustomerId],
    ) -> Result<Result<u64, Vec<CustomerId>>, StoreError>;
    /// Removes those of the customers that are members; returns how many were.
    async fn remove_group_members(
        &self,
        account: AccountId,
        ws: WorkspaceId,
        group: GroupId,
        customers: &[CustomerId],
    ) -> Result<u64, StoreError>;
}

/// Why an import could not begin.
#[derive(Debug, thiserror::Error)]
pub enum BeginImportError {
    /// As many imports as the store allows at once are running.
    #[error("too many imports are in progress")]
    AtCapacity,
    /// Another import into the same workspace is in progress.
    #[error("another import into this workspace is in progress")]
    WorkspaceBusy,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Which of the optional built-in fields an import row sets (a missing column keeps them).
pub mod sets {
    pub const PHONE: i16 = 1;
    pub const FIRST_NAME: i16 = 2;
    pub const LAST_NAME: i16 = 4;
}

/// One validated row of an upload, ready to be upserted: by `external_id` when it has one,
/// else by `email`.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportRow {
    pub row: u64,
    /// The id the customer gets if the row creates one.
    pub id: CustomerId,
    pub external_id: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// A [`sets`] mask: which of phone and names the row writes (`None` clears).
    pub sets: i16,
    /// Attribute values the row writes.
    pub attributes: Map<String, Value>,
    /// Attribute keys the row clears (an empty cell, or `null`).
    pub cleared: Vec<String>,
}

/// What applying an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportApplied {
    pub created: u64,
    pub updated: u64,
    /// Rows valid on their own that the stored data refuses (an email another customer has).
    pub rejected: Vec<RowError>,
}

/// The receiving end of an import, open for one upload.
#[async_trait]
pub trait ImportSink: Send {
    async fn write(&mut self, rows: &[ImportRow]) -> Result<(), StoreError>;
    /// Matches the rows to stored customers, rejects those that conflict, and — when `apply`
    /// — writes the rest at once. Without `apply` nothing is written and only `rejected` is
    /// reported (`created` and `updated` stay 0).
    async fn finish(self: Box<Self>, apply: bool) -> Result<ImportApplied, StoreError>;
}
