//! In-memory fakes of the campaigns ports: plain maps of workspaces, customers, groups,
//! campaigns, messages, retrievals and data keys, as one database holds them in production.
//! No rule lives here — the service decides; a unit of work is a copy of the maps that replaces
//! them when it commits (and is forgotten when it does not). Rows of other accounts are not
//! seen, as row-level security hides them in Postgres.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use kernel::{AccountId, CustomerId, StoreError, UserId, WorkspaceId};

use crate::models::{
    Campaign, CampaignFilter, CampaignId, GroupId, Keyset, MessageFilter, PageRequest, Retrieval,
    SealedMessage, StoredDataKey, WrappedDataKey,
};
use crate::ports::{
    Audience, CampaignRead, CampaignStore, CampaignWrite, DataKeyStore, UnitOfWork,
};

#[derive(Clone, Default)]
pub struct State {
    pub workspaces: HashSet<(AccountId, WorkspaceId)>,
    pub customers: HashSet<(AccountId, WorkspaceId, CustomerId)>,
    pub groups: HashSet<(AccountId, WorkspaceId, GroupId)>,
    pub campaigns: BTreeMap<CampaignId, Campaign>,
    /// In publish order.
    pub messages: Vec<(AccountId, WorkspaceId, SealedMessage)>,
    /// Each retrieval with how many messages it returned.
    pub retrievals: Vec<(Retrieval, i64)>,
    pub data_keys: BTreeMap<WorkspaceId, (AccountId, WrappedDataKey)>,
}

#[derive(Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

impl MemoryStore {
    pub fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    fn begin(&self, account: AccountId) -> Box<MemoryTx> {
        Box::new(MemoryTx {
            shared: self.state.clone(),
            account,
            state: self.state().clone(),
        })
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A page of `rows` (already in the list's order), by keyset when `page.after` is given (the
/// rows after that key, in the same order), else by offset.
fn page_of<T>(rows: Vec<T>, page: &PageRequest, after: impl Fn(&T, Keyset) -> bool) -> Vec<T> {
    let limit = usize::try_from(page.page_size).unwrap_or(0);
    match page.after {
        Some(key) => rows
            .into_iter()
            .filter(|r| after(r, key))
            .take(limit)
            .collect(),
        None => rows
            .into_iter()
            .skip(usize::try_from(page.offset).unwrap_or(usize::MAX))
            .take(limit)
            .collect(),
    }
}

#[async_trait]
impl CampaignStore for MemoryStore {
    async fn read(&self, account: AccountId) -> Result<Box<dyn CampaignRead>, StoreError> {
        Ok(self.begin(account))
    }

    async fn write(
        &self,
        account: AccountId,
        _user: Option<UserId>,
    ) -> Result<Box<dyn CampaignWrite>, StoreError> {
        Ok(self.begin(account))
    }
}

/// One unit of work: its own copy of the maps.
struct MemoryTx {
    shared: Arc<Mutex<State>>,
    account: AccountId,
    state: State,
}

impl MemoryTx {
    fn campaign_mut(
        &mut self,
        workspace: WorkspaceId,
        id: CampaignId,
    ) -> Result<&mut Campaign, StoreError> {
        let account = self.account;
        self.state
            .campaigns
            .get_mut(&id)
            .filter(|c| c.account_id == account && c.workspace_id == workspace)
            .ok_or(StoreError::NotFound)
    }

    fn messages_of<'a>(
        &'a self,
        workspace: WorkspaceId,
        campaign: CampaignId,
        filter: &'a MessageFilter,
    ) -> impl Iterator<Item = &'a SealedMessage> + 'a {
        let account = self.account;
        self.state
            .messages
            .iter()
            .filter(move |(a, w, m)| {
                *a == account && *w == workspace && m.campaign_id == campaign && filter.selects(m)
            })
            .map(|(_, _, m)| m)
    }

    fn campaigns_of<'a>(
        &'a self,
        filter: &'a CampaignFilter,
    ) -> impl Iterator<Item = &'a Campaign> + 'a {
        let account = self.account;
        self.state
            .campaigns
            .values()
            .filter(move |c| c.account_id == account && filter.selects(c))
    }
}

#[async_trait]
impl UnitOfWork for MemoryTx {
    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        *lock(&self.shared) = self.state;
        Ok(())
    }

    async fn rollback(self: Box<Self>) -> Result<(), StoreError> {
        Ok(())
    }
}

#[async_trait]
impl Audience for MemoryTx {
    async fn unknown_customers(
        &mut self,
        workspace: WorkspaceId,
        customers: &[CustomerId],
    ) -> Result<Vec<CustomerId>, StoreError> {
        let mut unknown: Vec<CustomerId> = customers
            .iter()
            .filter(|c| {
                !self
                    .state
                    .customers
                    .contains(&(self.account, workspace, **c))
            })
            .copied()
            .collect();
        unknown.sort_unstable();
        unknown.dedup();
        Ok(unknown)
    }

    async fn unknown_groups(
        &mut self,
        workspace: WorkspaceId,
        groups: &[GroupId],
    ) -> Result<Vec<GroupId>, StoreError> {
        let mut unknown: Vec<GroupId> = groups
            .iter()
            .filter(|g| !self.state.groups.contains(&(self.account, workspace, **g)))
            .copied()
            .collect();
        unknown.sort_unstable();
        unknown.dedup();
        Ok(unknown)
    }
}

#[async_trait]
impl CampaignRead for MemoryTx {
    async fn workspace_exists(&mut self, workspace: WorkspaceId) -> Result<bool, StoreError> {
        Ok(self.state.workspaces.contains(&(self.account, workspace)))
    }

    async fn campaign(
        &mut self,
        workspace: WorkspaceId,
        id: CampaignId,
    ) -> Result<Campaign, StoreError> {
        self.campaign_mut(workspace, id).map(|c| c.clone())
    }

    async fn campaigns(
        &mut self,
        filter: &CampaignFilter,
        page: &PageRequest,
    ) -> Result<Vec<Campaign>, StoreError> {
        let mut all: Vec<Campaign> = self.campaigns_of(filter).cloned().collect();
        all.sort_by_key(|c| std::cmp::Reverse((c.created_at, c.id)));
        Ok(page_of(all, page, |c, key| {
            Keyset::new(c.created_at, c.id.as_uuid()) < key
        }))
    }

    async fn count_campaigns(&mut self, filter: &CampaignFilter) -> Result<i64, StoreError> {
        Ok(count(self.campaigns_of(filter).count()))
    }

    async fn messages(
        &mut self,
        workspace: WorkspaceId,
        campaign: CampaignId,
        filter: &MessageFilter,
        page: &PageRequest,
    ) -> Result<Vec<SealedMessage>, StoreError> {
        let mut all: Vec<SealedMessage> = self
            .messages_of(workspace, campaign, filter)
            .cloned()
            .collect();
        all.sort_by_key(|m| (m.created_at, m.id));
        Ok(page_of(all, page, |m, key| {
            Keyset::new(m.created_at, m.id.as_uuid()) > key
        }))
    }

    async fn count_messages(
        &mut self,
        workspace: WorkspaceId,
        campaign: CampaignId,
        filter: &MessageFilter,
    ) -> Result<i64, StoreError> {
        Ok(count(self.messages_of(workspace, campaign, filter).count()))
    }

    async fn data_key(
        &mut self,
        workspace: WorkspaceId,
    ) -> Result<Option<WrappedDataKey>, StoreError> {
        Ok(self
            .state
            .data_keys
            .get(&workspace)
            .filter(|(a, _)| *a == self.account)
            .map(|(_, k)| k.clone()))
    }
}

#[async_trait]
impl CampaignWrite for MemoryTx {
    async fn lock_campaign(
        &mut self,
        workspace: WorkspaceId,
        id: CampaignId,
    ) -> Result<Campaign, StoreError> {
        // A unit of work here is a copy of its own: nothing else changes it meanwhile.
        self.campaign(workspace, id).await
    }

    async fn insert_campaign(&mut self, campaign: &Campaign) -> Result<(), StoreError> {
        self.state.campaigns.insert(campaign.id, campaign.clone());
        Ok(())
    }

    async fn update_campaign(&mut self, campaign: &Campaign) -> Result<(), StoreError> {
        let stored = self.campaign_mut(campaign.workspace_id, campaign.id)?;
        let groups = std::mem::take(&mut stored.group_ids);
        *stored = Campaign {
            group_ids: groups,
            ..campaign.clone()
        };
        Ok(())
    }

    async fn replace_groups(
        &mut self,
        campaign: &Campaign,
        groups: &[GroupId],
    ) -> Result<(), StoreError> {
        self.campaign_mut(campaign.workspace_id, campaign.id)?
            .group_ids = groups.to_vec();
        Ok(())
    }

    async fn delete_messages(
        &mut self,
        workspace: WorkspaceId,
        campaign: CampaignId,
    ) -> Result<(), StoreError> {
        let account = self.account;
        self.state
            .messages
            .retain(|(a, w, m)| !(*a == account && *w == workspace && m.campaign_id == campaign));
        Ok(())
    }

    async fn delete_campaign(
        &mut self,
        workspace: WorkspaceId,
        id: CampaignId,
    ) -> Result<(), StoreError> {
        self.campaign_mut(workspace, id)?;
        self.state.campaigns.remove(&id);
        Ok(())
    }

    async fn insert_messages(
        &mut self,
        workspace: WorkspaceId,
        _campaign: CampaignId,
        messages: &[SealedMessage],
    ) -> Result<bool, StoreError> {
        let account = self.account;
        self.state
            .messages
            .extend(messages.iter().map(|m| (account, workspace, m.clone())));
        Ok(true)
    }

    async fn record_retrieval(
        &mut self,
        retrieval: &Retrieval,
        returned: usize,
    ) -> Result<(), StoreError> {
        self.state
            .retrievals
            .push((retrieval.clone(), count(returned)));
        Ok(())
    }

    async fn insert_data_key(
        &mut self,
        workspace: WorkspaceId,
        key: &WrappedDataKey,
    ) -> Result<bool, StoreError> {
        if self.state.data_keys.contains_key(&workspace) {
            return Ok(false);
        }
        self.state
            .data_keys
            .insert(workspace, (self.account, key.clone()));
        Ok(true)
    }
}

#[async_trait]
impl DataKeyStore for MemoryStore {
    async fn data_keys_not_under(
        &self,
        master_key_id: &str,
        after: Option<WorkspaceId>,
        limit: i64,
    ) -> Result<Vec<StoredDataKey>, StoreError> {
        Ok(self
            .state()
            .data_keys
            .iter()
            .filter(|(w, (_, k))| {
                k.master_key_id != master_key_id && after.is_none_or(|after| **w > after)
            })
            .take(usize::try_from(limit).unwrap_or(0))
            .map(|(w, (a, k))| StoredDataKey {
                account_id: *a,
                workspace_id: *w,
                wrapped: k.clone(),
            })
            .collect())
    }

    async fn rewrap(&self, old: &StoredDataKey, new: &WrappedDataKey) -> Result<bool, StoreError> {
        let mut state = self.state();
        match state.data_keys.get_mut(&old.workspace_id) {
            Some((_, key)) if *key == old.wrapped => {
                *key = new.clone();
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn data_keys_per_master_key(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let mut counts: BTreeMap<String, i64> = BTreeMap::new();
        for (_, key) in self.state().data_keys.values() {
            *counts.entry(key.master_key_id.clone()).or_default() += 1;
        }
        Ok(counts.into_iter().collect())
    }
}
