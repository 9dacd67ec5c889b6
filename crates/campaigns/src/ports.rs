//! What campaigns need from the outside world. Each store method is one unit of work (one
//! transaction, run under the tenancy rules of security.md): `account` is the tenant.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kernel::{AccountId, CustomerId, StoreError, WorkspaceId};

use crate::crypto::MasterKey;
use crate::models::{
    Campaign, CampaignChanges, CampaignFilter, CampaignId, CampaignStatus, GroupId, MessageFilter,
    Page, PageQuery, Publication, Retrieval, SealedMessage, StoredDataKey, WrappedDataKey,
};

#[async_trait]
pub trait CampaignStore: Send + Sync + 'static {
    /// Whether `workspace` is one of the account's.
    async fn workspace_exists(
        &self,
        account: AccountId,
        workspace: WorkspaceId,
    ) -> Result<bool, StoreError>;

    /// Stores a new campaign with its groups. MUST return `NotFound` when the workspace is not
    /// the account's, or a group no longer exists.
    async fn create_campaign(&self, campaign: &Campaign) -> Result<(), StoreError>;

    /// MUST return `NotFound` for a campaign outside `workspace` or the account.
    async fn campaign(
        &self,
        account: AccountId,
        workspace: WorkspaceId,
        id: CampaignId,
    ) -> Result<Campaign, StoreError>;

    /// The account's campaigns that `filter` selects, newest first.
    async fn campaigns(
        &self,
        account: AccountId,
        filter: &CampaignFilter,
        page: &PageQuery,
    ) -> Result<Page<Campaign>, StoreError>;

    async fn count_campaigns(
        &self,
        account: AccountId,
        filter: &CampaignFilter,
    ) -> Result<i64, StoreError>;

    /// Applies `changes` — only if the campaign's status is still `expected` (compare and set,
    /// so that two concurrent transitions cannot both pass the rules). `Ok(None)`: the status
    /// changed meanwhile, nothing was written. MUST return `NotFound` for a campaign outside
    /// `workspace` or the account, or when a new group no longer exists.
    async fn update_campaign(
        &self,
        account: AccountId,
        workspace: WorkspaceId,
        id: CampaignId,
        expected: CampaignStatus,
        changes: &CampaignChanges,
        now: DateTime<Utc>,
    ) -> Result<Option<Campaign>, StoreError>;

    /// Deletes the campaign and its messages. MUST return `NotFound` for a campaign outside
    /// `workspace` or the account.
    async fn delete_campaign(
        &self,
        account: AccountId,
        workspace: WorkspaceId,
        id: CampaignId,
    ) -> Result<(), StoreError>;

    /// Writes every message or none, in one transaction that first checks (and holds) the
    /// campaign's status, and counts them on the campaign. MUST return `NotFound` for a
    /// campaign outside `workspace` or the account.
    async fn publish(
        &self,
        account: AccountId,
        workspace: WorkspaceId,
        campaign: CampaignId,
        messages: &[SealedMessage],
    ) -> Result<Publication, StoreError>;

    /// A page of the campaign's messages that `filter` selects, oldest first, with the total;
    /// records `audit` (with how many were returned) in the same transaction. MUST return
    /// `NotFound` for a campaign outside `workspace` or the account.
    async fn messages(
        &self,
        account: AccountId,
        workspace: WorkspaceId,
        campaign: CampaignId,
        filter: &MessageFilter,
        page: &PageQuery,
        audit: &Retrieval,
    ) -> Result<Page<SealedMessage>, StoreError>;

    /// How many of the campaign's messages `filter` selects. MUST return `NotFound` for a
    /// campaign outside `workspace` or the account.
    async fn count_messages(
        &self,
        account: AccountId,
        workspace: WorkspaceId,
        campaign: CampaignId,
        filter: &MessageFilter,
    ) -> Result<i64, StoreError>;
}

/// Who campaigns may reach: campaigns' own view of the customers domain.
#[async_trait]
pub trait Audience: Send + Sync + 'static {
    /// Those of `customers` that are not customers of `workspace` (unknown, of another
    /// workspace, or of another account), each once.
    async fn unknown_customers(
        &self,
        account: AccountId,
        workspace: WorkspaceId,
        customers: &[CustomerId],
    ) -> Result<Vec<CustomerId>, StoreError>;

    /// Those of `groups` that are not groups of `workspace`, each once.
    async fn unknown_groups(
        &self,
        account: AccountId,
        workspace: WorkspaceId,
        groups: &[GroupId],
    ) -> Result<Vec<GroupId>, StoreError>;
}

/// Where each workspace's wrapped data key is kept.
#[async_trait]
pub trait DataKeyStore: Send + Sync + 'static {
    async fn data_key(
        &self,
        account: AccountId,
        workspace: WorkspaceId,
    ) -> Result<Option<WrappedDataKey>, StoreError>;

    /// Stores `key` unless the workspace has a data key already, and returns the one stored:
    /// when several instances race, every one of them ends up using the first.
    async fn create_data_key(
        &self,
        account: AccountId,
        workspace: WorkspaceId,
        key: &WrappedDataKey,
    ) -> Result<WrappedDataKey, StoreError>;

    /// For the rotation command (every account, not a request): up to `limit` data keys not
    /// wrapped under `master_key_id`, after `after` in workspace-id order.
    async fn data_keys_not_under(
        &self,
        master_key_id: &str,
        after: Option<WorkspaceId>,
        limit: i64,
    ) -> Result<Vec<StoredDataKey>, StoreError>;

    /// Replaces `old`'s wrapping with `new` — only if it is still `old.wrapped` (another
    /// rotation may have got there first). Returns whether it did.
    async fn rewrap(&self, old: &StoredDataKey, new: &WrappedDataKey) -> Result<bool, StoreError>;

    /// How many data keys each master key wraps, by master key id.
    async fn data_keys_per_master_key(&self) -> Result<Vec<(String, i64)>, StoreError>;
}

/// The master keys data keys are wrapped under.
pub trait MasterKeys: Send + Sync + 'static {
    /// The key new data keys are wrapped under.
    fn active(&self) -> Arc<MasterKey>;

    /// The key with this id, if the ring has it. An implementation whose ring can grow while
    /// the server runs (a key file another process rotated) looks again before saying no.
    fn get(&self, id: &str) -> Option<Arc<MasterKey>>;
}
