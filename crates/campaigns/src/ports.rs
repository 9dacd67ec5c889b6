//! What campaigns need from the outside world.
//!
//! Storage is transaction-typed (as kanidm's `proxy_read`/`proxy_write`): a use case opens one
//! unit of work for its tenant through [`CampaignStore`] — [`CampaignStore::read`] when it only
//! reads, [`CampaignStore::write`] when it writes — whose methods are single reads and writes.
//! The service decides (status transitions, which groups and customers a campaign may name,
//! when a data key is created, how a total is counted) and then commits; a unit of work dropped
//! without [`UnitOfWork::commit`] is rolled back. Every method runs under the tenancy rules of
//! security.md: the unit of work sees only its account's rows.
//!
//! Where a check covers a whole batch (the customers of a 1,000-message publish, the groups of a
//! campaign), the domain hands the adapter the set and the adapter answers set-wise in one
//! statement ([`Audience`]) rather than one round trip per row.

use std::sync::Arc;

use async_trait::async_trait;
use kernel::{AccountId, CustomerId, StoreError, UserId, WorkspaceId};

use crate::crypto::MasterKey;
use crate::models::{
    Campaign, CampaignFilter, CampaignId, GroupId, MessageFilter, PageRequest, Retrieval,
    SealedMessage, StoredDataKey, WrappedDataKey,
};

/// Opens campaigns' units of work.
#[async_trait]
pub trait CampaignStore: Send + Sync + 'static {
    /// A unit of work that only reads, for `account`.
    async fn read(&self, account: AccountId) -> Result<Box<dyn CampaignRead>, StoreError>;

    /// A unit of work that may write, for `account` (as `user` when the writes are theirs, as
    /// an audit record is).
    async fn write(
        &self,
        account: AccountId,
        user: Option<UserId>,
    ) -> Result<Box<dyn CampaignWrite>, StoreError>;
}

/// How a unit of work ends.
#[async_trait]
pub trait UnitOfWork: Send {
    /// Makes every write of the unit of work durable, at once.
    async fn commit(self: Box<Self>) -> Result<(), StoreError>;

    /// Undoes every write of the unit of work (as dropping it would, but handing the
    /// connection back for the next one).
    async fn rollback(self: Box<Self>) -> Result<(), StoreError>;
}

/// Who campaigns may reach: campaigns' own view of the customers domain, answered set-wise
/// inside a unit of work.
#[async_trait]
pub trait Audience: Send {
    /// Those of `customers` that are not customers of `workspace` (unknown, of another
    /// workspace, or of another account), each once.
    async fn unknown_customers(
        &mut self,
        workspace: WorkspaceId,
        customers: &[CustomerId],
    ) -> Result<Vec<CustomerId>, StoreError>;

    /// Those of `groups` that are not groups of `workspace`, each once.
    async fn unknown_groups(
        &mut self,
        workspace: WorkspaceId,
        groups: &[GroupId],
    ) -> Result<Vec<GroupId>, StoreError>;
}

/// The reads of a unit of work.
#[async_trait]
pub trait CampaignRead: UnitOfWork + Audience {
    /// Whether `workspace` is one of the account's.
    async fn workspace_exists(&mut self, workspace: WorkspaceId) -> Result<bool, StoreError>;

    /// One campaign with its groups (sorted). MUST return `NotFound` for a campaign outside
    /// `workspace` or the account.
    async fn campaign(
        &mut self,
        workspace: WorkspaceId,
        id: CampaignId,
    ) -> Result<Campaign, StoreError>;

    /// A page of the account's campaigns that `filter` selects, newest first
    /// (`(created_at, id)` descending; `page.after` continues after that key).
    async fn campaigns(
        &mut self,
        filter: &CampaignFilter,
        page: &PageRequest,
    ) -> Result<Vec<Campaign>, StoreError>;

    /// How many of the account's campaigns `filter` selects.
    async fn count_campaigns(&mut self, filter: &CampaignFilter) -> Result<i64, StoreError>;

    /// A page of the campaign's messages that `filter` selects, oldest first
    /// (`(created_at, id)` ascending; `page.after` continues after that key).
    async fn messages(
        &mut self,
        workspace: WorkspaceId,
        campaign: CampaignId,
        filter: &MessageFilter,
        page: &PageRequest,
    ) -> Result<Vec<SealedMessage>, StoreError>;

    /// How many of the campaign's stored messages `filter` selects (a scan: the service uses
    /// the campaign's own count when nothing is filtered).
    async fn count_messages(
        &mut self,
        workspace: WorkspaceId,
        campaign: CampaignId,
        filter: &MessageFilter,
    ) -> Result<i64, StoreError>;

    /// The workspace's wrapped data key, if it has one.
    async fn data_key(
        &mut self,
        workspace: WorkspaceId,
    ) -> Result<Option<WrappedDataKey>, StoreError>;
}

/// The writes of a unit of work (which may read too).
#[async_trait]
pub trait CampaignWrite: CampaignRead {
    /// As [`CampaignRead::campaign`], and holds the campaign against every other change (a
    /// status change, a publish) until this unit of work ends: what the service decides from
    /// it stays true until it commits.
    async fn lock_campaign(
        &mut self,
        workspace: WorkspaceId,
        id: CampaignId,
    ) -> Result<Campaign, StoreError>;

    /// Stores a new campaign with its groups. MUST return `NotFound` when the workspace or a
    /// group does not exist (a group deleted since it was checked).
    async fn insert_campaign(&mut self, campaign: &Campaign) -> Result<(), StoreError>;

    /// Writes the campaign's fields as given (not its groups; see
    /// [`CampaignWrite::replace_groups`]). MUST return `NotFound` for a campaign outside its
    /// workspace or the account.
    async fn update_campaign(&mut self, campaign: &Campaign) -> Result<(), StoreError>;

    /// Makes `groups` the campaign's groups. MUST return `NotFound` when a group does not
    /// exist (deleted since it was checked).
    async fn replace_groups(
        &mut self,
        campaign: &Campaign,
        groups: &[GroupId],
    ) -> Result<(), StoreError>;

    /// Deletes the campaign's messages.
    async fn delete_messages(
        &mut self,
        workspace: WorkspaceId,
        campaign: CampaignId,
    ) -> Result<(), StoreError>;

    /// Deletes the campaign (and its group links). MUST return `NotFound` for a campaign
    /// outside `workspace` or the account.
    async fn delete_campaign(
        &mut self,
        workspace: WorkspaceId,
        id: CampaignId,
    ) -> Result<(), StoreError>;

    /// Writes the messages of `campaign` (each names it), all of them or none. `Ok(false)`: a
    /// customer they name is no longer a customer of `workspace` (deleted since it was
    /// checked); nothing was written, and the unit of work can only be rolled back.
    async fn insert_messages(
        &mut self,
        workspace: WorkspaceId,
        campaign: CampaignId,
        messages: &[SealedMessage],
    ) -> Result<bool, StoreError>;

    /// Records one retrieval and how many messages it returned.
    async fn record_retrieval(
        &mut self,
        retrieval: &Retrieval,
        returned: usize,
    ) -> Result<(), StoreError>;

    /// Stores `key` as the workspace's data key unless it has one already. `Ok(false)`: it
    /// had (another instance got there first); nothing was written.
    async fn insert_data_key(
        &mut self,
        workspace: WorkspaceId,
        key: &WrappedDataKey,
    ) -> Result<bool, StoreError>;
}

/// Every workspace's data key, for the master-key rotation command (every account, not a
/// request). Each method is its own unit of work.
#[async_trait]
pub trait DataKeyStore: Send + Sync + 'static {
    /// Up to `limit` data keys not wrapped under `master_key_id`, after `after` in
    /// workspace-id order.
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
