//! What the customers domain needs from the outside world.
//!
//! A use case opens one unit of work ([`CustomerStore::begin`]), reads and writes through it —
//! each method one read or one write, with no rule of its own — and ends it with
//! [`CustomersTx::commit`] (or [`CustomersTx::rollback`]; dropped, it rolls back). The rules
//! (who may, what is a duplicate, what a field change must leave valid) are the service's.
//! Uploads have a port of their own ([`ImportSink`]): their rows stream into the store and are
//! matched there set-wise.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kernel::{AccountId, CustomerId, GroupId, ProfileFieldId, StoreError, WorkspaceId};
use serde_json::{Map, Value};

use crate::error::RowError;
use crate::models::{
    Customer, CustomerChanges, CustomerFilter, Group, GroupChanges, Page, PageRequest, ProfileField,
};
use crate::values::Admits;

/// Opens units of work on the customers of one account. Objects of other accounts are never
/// found through them.
#[async_trait]
pub trait CustomerStore: Send + Sync + 'static {
    /// A unit of work in `account`: everything done through it is one transaction.
    async fn begin(&self, account: AccountId) -> Result<Box<dyn CustomersTx>, StoreError>;

    /// Opens an import: rows written to the sink are applied (or only checked) by its
    /// [`ImportSink::finish`], all at once or not at all. Never waits for a free slot or for
    /// another import into the workspace to end: it answers [`BeginImportError::AtCapacity`] or
    /// [`BeginImportError::WorkspaceBusy`] instead. Dropping the sink unfinished writes nothing
    /// and frees its slot. The schema it answers with is read inside the import's transaction.
    async fn begin_import(
        &self,
        account: AccountId,
        ws: WorkspaceId,
    ) -> Result<OpenImport, BeginImportError>;
}

/// One unit of work: the reads and writes of every area, then commit or rollback.
#[async_trait]
pub trait CustomersTx: CustomerRecords + GroupRecords + ProfileFieldRecords + Send {
    async fn commit(self: Box<Self>) -> Result<(), StoreError>;
    /// Ends the unit of work writing nothing (dropping it does the same, less cheaply).
    async fn rollback(self: Box<Self>);
}

/// The uniqueness rules of the domain, as a store names the one a write broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UniqueKey {
    CustomerEmail,
    CustomerExternalId,
    ProfileFieldKey,
    GroupName,
}

/// Why a write that a uniqueness rule guards failed.
#[derive(Debug)]
pub enum WriteError {
    /// Another object holds the key (the service checks first; this is the store's backstop
    /// against a concurrent writer).
    Duplicate(UniqueKey),
    Store(StoreError),
}

impl From<StoreError> for WriteError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

/// Customers of a workspace. `NotFound` for a customer of another workspace or account.
#[async_trait]
pub trait CustomerRecords: Send {
    async fn workspace_exists(&mut self, ws: WorkspaceId) -> Result<bool, StoreError>;
    async fn customer(&mut self, ws: WorkspaceId, id: CustomerId) -> Result<Customer, StoreError>;
    /// The customer whose email is `email`, if any.
    async fn customer_with_email(
        &mut self,
        ws: WorkspaceId,
        email: &str,
    ) -> Result<Option<CustomerId>, StoreError>;
    /// The customer whose external id is `external_id`, if any.
    async fn customer_with_external_id(
        &mut self,
        ws: WorkspaceId,
        external_id: &str,
    ) -> Result<Option<CustomerId>, StoreError>;
    /// Those of `ids` that are customers of the workspace.
    async fn existing_customers(
        &mut self,
        ws: WorkspaceId,
        ids: &[CustomerId],
    ) -> Result<Vec<CustomerId>, StoreError>;
    /// One page, oldest first (by `created_at`, then id), with the total `filter` selects.
    async fn customers(
        &mut self,
        ws: WorkspaceId,
        filter: &CustomerFilter,
        page: PageRequest,
    ) -> Result<Page<Customer>, StoreError>;
    async fn count_customers(
        &mut self,
        ws: WorkspaceId,
        filter: &CustomerFilter,
    ) -> Result<i64, StoreError>;
    /// Writes `changes` (attributes merged: removed keys, then set ones); `NotFound` when
    /// there is no such customer, `Duplicate(CustomerEmail | CustomerExternalId)` when another
    /// holds the key.
    async fn update_customer(
        &mut self,
        ws: WorkspaceId,
        id: CustomerId,
        changes: &CustomerChanges,
        at: DateTime<Utc>,
    ) -> Result<Customer, WriteError>;
    /// Deletes those of `ids` that exist (and their memberships); returns how many did.
    async fn delete_customers(
        &mut self,
        ws: WorkspaceId,
        ids: &[CustomerId],
    ) -> Result<u64, StoreError>;
}

/// Groups of a workspace and their members.
#[async_trait]
pub trait GroupRecords: Send {
    async fn groups(
        &mut self,
        ws: WorkspaceId,
        page: PageRequest,
    ) -> Result<Page<Group>, StoreError>;
    async fn group(&mut self, ws: WorkspaceId, id: GroupId) -> Result<Group, StoreError>;
    /// The group named `name`, if any.
    async fn group_named(
        &mut self,
        ws: WorkspaceId,
        name: &str,
    ) -> Result<Option<GroupId>, StoreError>;
    /// `Duplicate(GroupName)` when the name is taken.
    async fn insert_group(&mut self, group: &Group) -> Result<(), WriteError>;
    /// `NotFound` when there is no such group; `Duplicate(GroupName)` when the name is taken.
    async fn update_group(
        &mut self,
        ws: WorkspaceId,
        id: GroupId,
        changes: &GroupChanges,
        at: DateTime<Utc>,
    ) -> Result<Group, WriteError>;
    /// Deletes the group and its memberships; `NotFound` when there is no such group.
    async fn delete_group(&mut self, ws: WorkspaceId, id: GroupId) -> Result<(), StoreError>;
    /// Makes the customers members (those that are already stay); returns how many were not.
    async fn add_members(
        &mut self,
        group: GroupId,
        customers: &[CustomerId],
    ) -> Result<u64, StoreError>;
    /// Removes those of the customers that are members; returns how many were.
    async fn remove_members(
        &mut self,
        group: GroupId,
        customers: &[CustomerId],
    ) -> Result<u64, StoreError>;
}

/// The workspace's custom profile fields, and the attributes they govern.
#[async_trait]
pub trait ProfileFieldRecords: Send {
    /// Oldest first.
    async fn profile_fields(&mut self, ws: WorkspaceId) -> Result<Vec<ProfileField>, StoreError>;
    /// `Duplicate(ProfileFieldKey)` when the key is taken.
    async fn insert_profile_field(&mut self, field: &ProfileField) -> Result<(), WriteError>;
    /// `NotFound` when there is no such field.
    async fn update_profile_field(&mut self, field: &ProfileField) -> Result<(), StoreError>;
    /// Deletes the field and answers its key; `NotFound` when there is no such field.
    async fn delete_profile_field(
        &mut self,
        ws: WorkspaceId,
        id: ProfileFieldId,
    ) -> Result<String, StoreError>;
    /// Removes `key` from the attributes of every customer of the workspace that has it.
    async fn remove_attribute(
        &mut self,
        ws: WorkspaceId,
        key: &str,
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
    /// How many customers of the workspace hold a value at `key` that `admits` does not admit,
    /// or — when `missing_counts` — hold none. Set-wise: the store tests the predicate the
    /// domain hands it, value by value, without handing the values out.
    async fn count_misfits(
        &mut self,
        ws: WorkspaceId,
        key: &str,
        admits: &Admits,
        missing_counts: bool,
    ) -> Result<i64, StoreError>;
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

/// An import that has begun: its sink, and the workspace's profile fields as its own
/// transaction sees them (the rows are checked against these).
pub struct OpenImport {
    pub sink: Box<dyn ImportSink>,
    pub schema: Vec<ProfileField>,
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
    /// Matches the rows to stored customers by the rule of [`crate::upload::matching`],
    /// rejects those that conflict, and — when `apply` — writes the rest at once. Without
    /// `apply` nothing is written and only `rejected` is reported (`created` and `updated`
    /// stay 0).
    async fn finish(self: Box<Self>, apply: bool) -> Result<ImportApplied, WriteError>;
}
