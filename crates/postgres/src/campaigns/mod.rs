//! The campaigns domain on Postgres: [`PgCampaignStore`] opens the domain's units of work, each
//! one transaction of the tenant ([`PgCampaignTx`]) whose methods are single statements; the
//! rotation command's [`PgDataKeyStore`] works across accounts.
//!
//! Where the rules live: in `campaigns::CampaignService`, once. This adapter decides nothing —
//! status transitions, "only `draft` and `active` campaigns take messages", "a campaign's
//! groups and a message's customer must be the workspace's", "a data key is made on the first
//! publish" and "an unfiltered total is the campaign's own count" are the service's. What stays
//! here is what only the database can say in one statement for a whole set:
//! - which of a batch's customers (or a campaign's groups) are not the workspace's
//!   (`audience.rs`: one `SELECT … WHERE id = ANY(…)` for the set the domain hands over, not a
//!   round trip per message);
//! - that a customer deleted since that check makes the batch's one `INSERT … SELECT FROM
//!   unnest(…)` fail on its reference (`messages.rs`; the domain answers `CustomerGone`);
//! - that a workspace has one data key, the first stored (`data_keys.rs`: `ON CONFLICT DO
//!   NOTHING`; the domain reads the winner);
//! - the row lock of `lock_campaign` (`FOR NO KEY UPDATE`), which keeps what the service judged
//!   true until it commits, and the `(created_at, id)` keyset order of pages.

mod audience;
#[allow(
    clippy::module_inception,
    reason = "the brief's layout: campaigns/{campaigns,messages,…}"
)]
mod campaigns;
mod data_keys;
mod messages;

use ::campaigns::ports::{Audience, CampaignRead, CampaignStore, CampaignWrite, UnitOfWork};
use ::campaigns::{
    Campaign, CampaignFilter, CampaignId, GroupId, MessageFilter, PageRequest, Retrieval,
    SealedMessage, WrappedDataKey,
};
use async_trait::async_trait;
use diesel_async::{AnsiTransactionManager, AsyncPgConnection, TransactionManager};
use kernel::{AccountId, CustomerId, StoreError, UserId, WorkspaceId};

use crate::db::{Db, Tx};
use crate::error::{DbError, store};

pub use data_keys::PgDataKeyStore;

/// Opens the campaigns domain's units of work on Postgres.
#[derive(Clone, Debug)]
pub struct PgCampaignStore {
    db: Db,
}

impl PgCampaignStore {
    #[must_use]
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    #[tracing::instrument(skip_all)]
    async fn begin(
        &self,
        account: AccountId,
        user: Option<UserId>,
    ) -> Result<Box<PgCampaignTx>, StoreError> {
        let tx = self.db.tenant(account, user).await?;
        Ok(Box::new(PgCampaignTx { tx, account }))
    }
}

#[async_trait]
impl CampaignStore for PgCampaignStore {
    #[tracing::instrument(skip_all, fields(%account))]
    async fn read(&self, account: AccountId) -> Result<Box<dyn CampaignRead>, StoreError> {
        Ok(self.begin(account, None).await?)
    }

    #[tracing::instrument(skip_all, fields(%account))]
    async fn write(
        &self,
        account: AccountId,
        user: Option<UserId>,
    ) -> Result<Box<dyn CampaignWrite>, StoreError> {
        Ok(self.begin(account, user).await?)
    }
}

/// One transaction of the tenant, handed to the domain: it ends with the domain's `commit` or
/// `rollback` (dropped, it rolls back and the pool gives its connection up).
pub struct PgCampaignTx {
    tx: Tx,
    account: AccountId,
}

impl PgCampaignTx {
    fn conn(&mut self) -> &mut AsyncPgConnection {
        self.tx.conn()
    }
}

#[async_trait]
impl UnitOfWork for PgCampaignTx {
    #[tracing::instrument(skip_all)]
    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        Ok(self.tx.commit().await?)
    }

    #[tracing::instrument(skip_all)]
    async fn rollback(mut self: Box<Self>) -> Result<(), StoreError> {
        store(async {
            AnsiTransactionManager::rollback_transaction(self.conn()).await?;
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl Audience for PgCampaignTx {
    #[tracing::instrument(skip_all, fields(%workspace, customers = customers.len()))]
    async fn unknown_customers(
        &mut self,
        workspace: WorkspaceId,
        customers: &[CustomerId],
    ) -> Result<Vec<CustomerId>, StoreError> {
        store(audience::unknown_customers(
            self.conn(),
            workspace,
            customers,
        ))
        .await
    }

    #[tracing::instrument(skip_all, fields(%workspace, groups = groups.len()))]
    async fn unknown_groups(
        &mut self,
        workspace: WorkspaceId,
        groups: &[GroupId],
    ) -> Result<Vec<GroupId>, StoreError> {
        store(audience::unknown_groups(self.conn(), workspace, groups)).await
    }
}

#[async_trait]
impl CampaignRead for PgCampaignTx {
    #[tracing::instrument(skip_all, fields(%workspace))]
    async fn workspace_exists(&mut self, workspace: WorkspaceId) -> Result<bool, StoreError> {
        store(campaigns::workspace_exists(self.conn(), workspace)).await
    }

    #[tracing::instrument(skip_all, fields(%workspace, campaign = %id))]
    async fn campaign(
        &mut self,
        workspace: WorkspaceId,
        id: CampaignId,
    ) -> Result<Campaign, StoreError> {
        store(campaigns::load(self.conn(), workspace, id, false)).await
    }

    #[tracing::instrument(skip_all)]
    async fn campaigns(
        &mut self,
        filter: &CampaignFilter,
        page: &PageRequest,
    ) -> Result<Vec<Campaign>, StoreError> {
        let account = self.account;
        store(campaigns::page(self.conn(), account, filter, page)).await
    }

    #[tracing::instrument(skip_all)]
    async fn count_campaigns(&mut self, filter: &CampaignFilter) -> Result<i64, StoreError> {
        let account = self.account;
        store(campaigns::count(self.conn(), account, filter)).await
    }

    #[tracing::instrument(skip_all, fields(%workspace, %campaign))]
    async fn messages(
        &mut self,
        workspace: WorkspaceId,
        campaign: CampaignId,
        filter: &MessageFilter,
        page: &PageRequest,
    ) -> Result<Vec<SealedMessage>, StoreError> {
        store(messages::page(
            self.conn(),
            workspace,
            campaign,
            filter,
            page,
        ))
        .await
    }

    #[tracing::instrument(skip_all, fields(%workspace, %campaign))]
    async fn count_messages(
        &mut self,
        workspace: WorkspaceId,
        campaign: CampaignId,
        filter: &MessageFilter,
    ) -> Result<i64, StoreError> {
        store(messages::count(self.conn(), workspace, campaign, filter)).await
    }

    #[tracing::instrument(skip_all, fields(%workspace))]
    async fn data_key(
        &mut self,
        workspace: WorkspaceId,
    ) -> Result<Option<WrappedDataKey>, StoreError> {
        store(data_keys::data_key(self.conn(), workspace)).await
    }
}

#[async_trait]
impl CampaignWrite for PgCampaignTx {
    #[tracing::instrument(skip_all, fields(%workspace, campaign = %id))]
    async fn lock_campaign(
        &mut self,
        workspace: WorkspaceId,
        id: CampaignId,
    ) -> Result<Campaign, StoreError> {
        store(campaigns::load(self.conn(), workspace, id, true)).await
    }

    #[tracing::instrument(skip_all, fields(workspace = %campaign.workspace_id, campaign = %campaign.id))]
    async fn insert_campaign(&mut self, campaign: &Campaign) -> Result<(), StoreError> {
        store(campaigns::insert(self.conn(), campaign)).await
    }

    #[tracing::instrument(skip_all, fields(workspace = %campaign.workspace_id, campaign = %campaign.id))]
    async fn update_campaign(&mut self, campaign: &Campaign) -> Result<(), StoreError> {
        store(campaigns::update(self.conn(), campaign)).await
    }

    #[tracing::instrument(skip_all, fields(campaign = %campaign.id, groups = groups.len()))]
    async fn replace_groups(
        &mut self,
        campaign: &Campaign,
        groups: &[GroupId],
    ) -> Result<(), StoreError> {
        store(campaigns::replace_groups(self.conn(), campaign, groups)).await
    }

    #[tracing::instrument(skip_all, fields(%workspace, %campaign))]
    async fn delete_messages(
        &mut self,
        workspace: WorkspaceId,
        campaign: CampaignId,
    ) -> Result<(), StoreError> {
        store(messages::delete(self.conn(), workspace, campaign)).await
    }

    #[tracing::instrument(skip_all, fields(%workspace, campaign = %id))]
    async fn delete_campaign(
        &mut self,
        workspace: WorkspaceId,
        id: CampaignId,
    ) -> Result<(), StoreError> {
        store(campaigns::delete(self.conn(), workspace, id)).await
    }

    #[tracing::instrument(skip_all, fields(%workspace, %campaign, messages = messages.len()))]
    async fn insert_messages(
        &mut self,
        workspace: WorkspaceId,
        campaign: CampaignId,
        messages: &[SealedMessage],
    ) -> Result<bool, StoreError> {
        let account = self.account;
        store(messages::insert(
            self.conn(),
            account,
            workspace,
            campaign,
            messages,
        ))
        .await
    }

    #[tracing::instrument(skip_all, fields(campaign = %retrieval.campaign_id, returned))]
    async fn record_retrieval(
        &mut self,
        retrieval: &Retrieval,
        returned: usize,
    ) -> Result<(), StoreError> {
        store(messages::record_retrieval(self.conn(), retrieval, returned)).await
    }

    #[tracing::instrument(skip_all, fields(%workspace))]
    async fn insert_data_key(
        &mut self,
        workspace: WorkspaceId,
        key: &WrappedDataKey,
    ) -> Result<bool, StoreError> {
        let account = self.account;
        store(data_keys::insert(self.conn(), account, workspace, key)).await
    }
}

/// A stored text the domain does not know (a status or channel no migration allows).
fn corrupt(what: &str, id: impl std::fmt::Display, error: impl std::fmt::Display) -> DbError {
    DbError::Corrupt(format!("{what} {id}: {error}"))
}
