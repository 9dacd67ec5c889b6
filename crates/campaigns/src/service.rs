//! The campaigns service: its dependencies, its limits, and how a use case runs in one unit of
//! work. The use cases are in `campaigns.rs` (campaigns and the search) and `messages.rs`
//! (publish, retrieve, count).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use kernel::{AccountId, Clock, UserId, WorkspaceId};

use crate::error::CampaignError;
use crate::models::CampaignStatus;
use crate::ports::{CampaignRead, CampaignStore, CampaignWrite, MasterKeys, UnitOfWork};

/// The limits of the campaigns API.
#[derive(Clone, Debug)]
pub struct CampaignPolicy {
    /// Messages in one publish request.
    pub max_messages_per_publish: usize,
    pub max_subject_chars: usize,
    pub max_body_bytes: usize,
    /// Serialised size of a message's metadata object.
    pub max_metadata_bytes: usize,
    /// Groups one campaign targets.
    pub max_groups: usize,
    /// Ids in one retrieval filter (`customer_ids`, `message_ids`).
    pub max_filter_ids: usize,
}

impl Default for CampaignPolicy {
    fn default() -> Self {
        Self {
            max_messages_per_publish: 1000,
            max_subject_chars: 1000,
            max_body_bytes: 256 * 1024,
            max_metadata_bytes: 16 * 1024,
            max_groups: 100,
            max_filter_ids: 1000,
        }
    }
}

/// The adapters the campaigns services run on.
pub struct CampaignDeps {
    /// Campaigns, their messages, the audience they may reach and the workspaces' data keys,
    /// in units of work.
    pub store: Arc<dyn CampaignStore>,
    pub master_keys: Arc<dyn MasterKeys>,
    pub clock: Arc<dyn Clock>,
}

pub struct CampaignService {
    store: Arc<dyn CampaignStore>,
    pub(crate) master_keys: Arc<dyn MasterKeys>,
    clock: Arc<dyn Clock>,
    pub(crate) policy: CampaignPolicy,
}

/// What an account-wide search asks for.
#[derive(Clone, Debug, Default)]
pub struct SearchInput {
    pub workspace_ids: Option<Vec<WorkspaceId>>,
    pub status: Option<CampaignStatus>,
}

impl CampaignService {
    pub fn new(deps: CampaignDeps, policy: CampaignPolicy) -> Self {
        Self {
            store: deps.store,
            master_keys: deps.master_keys,
            clock: deps.clock,
            policy,
        }
    }

    #[must_use]
    pub fn policy(&self) -> &CampaignPolicy {
        &self.policy
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Runs `work` in one unit of work of `account` that only reads; it ends either way.
    pub(crate) async fn reading<T>(
        &self,
        account: AccountId,
        work: impl AsyncFnOnce(&mut dyn CampaignRead) -> Result<T, CampaignError>,
    ) -> Result<T, CampaignError> {
        let mut tx = self.store.read(account).await?;
        let outcome = work(&mut *tx).await;
        finish(tx, outcome).await
    }

    /// Runs `work` in one unit of work of `account` (as `user`, when given): it commits when
    /// `work` succeeds and rolls back when it fails, so a use case writes all or nothing.
    pub(crate) async fn writing<T>(
        &self,
        account: AccountId,
        user: Option<UserId>,
        work: impl AsyncFnOnce(&mut dyn CampaignWrite) -> Result<T, CampaignError>,
    ) -> Result<T, CampaignError> {
        let mut tx = self.store.write(account, user).await?;
        let outcome = work(&mut *tx).await;
        finish(tx, outcome).await
    }
}

async fn finish<T, U: UnitOfWork + ?Sized>(
    tx: Box<U>,
    outcome: Result<T, CampaignError>,
) -> Result<T, CampaignError> {
    match outcome {
        Ok(value) => {
            tx.commit().await?;
            Ok(value)
        }
        Err(error) => {
            // The use case's error is the answer; a rollback that fails still undoes the work
            // (the adapter gives the connection up).
            if let Err(rollback) = tx.rollback().await {
                tracing::debug!(%rollback, "rollback failed");
            }
            Err(error)
        }
    }
}
