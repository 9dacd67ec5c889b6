//! In-memory fakes of the campaigns ports: one store holding workspaces, customers, groups,
//! campaigns, messages, retrievals and data keys, as one database does in production.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kernel::{AccountId, CustomerId, StoreError, WorkspaceId};

use crate::models::{
    Campaign, CampaignChanges, CampaignFilter, CampaignId, CampaignStatus, GroupId, MessageFilter,
    Page, PageQuery, Publication, Retrieval, SealedMessage, StoredDataKey, WrappedDataKey,
};
use crate::ports::{Audience, CampaignStore, DataKeyStore};

#[derive(Default)]
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
    state: Mutex<State>,
}

impl MemoryStore {
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn in_workspace(campaign: &Campaign, account: AccountId, workspace: WorkspaceId) -> bool {
    campaign.account_id == account && campaign.workspace_id == workspace
}

fn selects(filter: &CampaignFilter, account: AccountId, campaign: &Campaign) -> bool {
    campaign.account_id == account
        && filter
            .workspaces
            .as_ref()
            .is_none_or(|w| w.contains(&campaign.workspace_id))
        && filter.status.is_none_or(|s| s == campaign.status)
}

fn message_selected(filter: &MessageFilter, message: &SealedMessage) -> bool {
    filter
        .customer_ids
        .as_ref()
        .is_none_or(|ids| ids.contains(&message.customer_id))
        && filter
            .message_ids
            .as_ref()
            .is_none_or(|ids| ids.contains(&message.id))
}

#[async_trait]
impl CampaignStore for MemoryStore {
    async fn workspace_exists(
        &self,
        account: AccountId,
        workspace: WorkspaceId,
    ) -> Result<bool, StoreError> {
        Ok(self.state().workspaces.contains(&(account, workspace)))
    }

    async fn create_campaign(&self, campaign: &Campaign) -> Result<(), StoreError> {
        let mut state = self.state();
        let (account, workspace) = (campaign.account_id, campaign.workspace_id);
        if !state.workspaces.contains(&(account, workspace))
            || campaign
                .group_ids
                .iter()
                .any(|g| !state.groups.contains(&(account, workspace, *g)))
        {
            return Err(StoreError::NotFound);
        }
        state.campaigns.insert(campaign.id, campaign.clone());
        Ok(())
    }

    async fn campaign(
        &self,
        account: AccountId,
        workspace: WorkspaceId,
        id: CampaignId,
    ) -> Result<Campaign, StoreError> {
        self.state()
            .campaigns
            .get(&id)
            .filter(|c| in_workspace(c, account, workspace))
            .cloned()
            .ok_or(StoreError::NotFound)
    }

    async fn campaigns(
        &self,
        account: AccountId,
        filter: &CampaignFilter,
        page: &PageQuery,
    ) -> Result<Page<Campaign>, StoreError> {
        let state = self.state();
        let mut all: Vec<Campaign> = state
            .campaigns
            .values()
            .filter(|c| selects(filter, account, c))
            .cloned()
            .collect();
        all.sort_by_key(|c| std::cmp::Reverse((c.created_at, c.id)));
        let total_items = i64::try_from(all.len()).unwrap_or(i64::MAX);
        let start = match page.after {
            Some((at, id)) => all
                .iter()
                .position(|c| (c.created_at, c.id.as_uuid()) < (at, id))
                .unwrap_or(all.len()),
            None => usize::try_from(page.offset).unwrap_or(usize::MAX),
        };
        let items = all
            .into_iter()
            .skip(start)
            .take(usize::try_from(page.limit).unwrap_or(0))
            .collect();
        Ok(Page { items, total_items })
    }

    async fn count_campaigns(
        &self,
        account: AccountId,
        filter: &CampaignFilter,
    ) -> Result<i64, StoreError> {
        let count = self
            .state()
            .campaigns
            .values()
            .filter(|c| selects(filter, account, c))
            .count();
        Ok(i64::try_from(count).unwrap_or(i64::MAX))
    }

    async fn update_campaign(
        &self,
        account: AccountId,
        workspace: WorkspaceId,
        id: CampaignId,
        expected: CampaignStatus,
        changes: &CampaignChanges,
        now: DateTime<Utc>,
    ) -> Result<Option<Campaign>, StoreError> {
        let mut state = self.state();
        if let Some(groups) = &changes.group_ids
            && groups
                .iter()
                .any(|g| !state.groups.contains(&(account, workspace, *g)))
        {
            return Err(StoreError::NotFound);
        }
        let campaign = state
            .campaigns
            .get_mut(&id)
            .filter(|c| in_workspace(c, account, workspace))
            .ok_or(StoreError::NotFound)?;
        if campaign.status != expected {
            return Ok(None);
        }
        if let Some(name) = &changes.name {
            campaign.name.clone_from(name);
        }
        if let Some(description) = &changes.description {
            campaign.description.clone_from(description);
        }
        if let Some(channel) = changes.channel {
            campaign.channel = channel;
        }
        if let Some(groups) = &changes.group_ids {
            campaign.group_ids.clone_from(groups);
        }
        if let Some(status) = changes.status {
            campaign.status = status;
        }
        campaign.updated_at = now;
        Ok(Some(campaign.clone()))
    }

    async fn delete_campaign(
        &self,
        account: AccountId,
        workspace: WorkspaceId,
        id: CampaignId,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        if !state
            .campaigns
            .get(&id)
            .is_some_and(|c| in_workspace(c, account, workspace))
        {
            return Err(StoreError::NotFound);
        }
        state.campaigns.remove(&id);
        state.messages.retain(|(_, _, m)| m.campaign_id != id);
        Ok(())
    }

    async fn publish(
        &self,
        account: AccountId,
        workspace: WorkspaceId,
        campaign: CampaignId,
        messages: &[SealedMessage],
    ) -> Result<Publication, StoreError> {
        let mut state = self.state();
        let status = state
            .campaigns
            .get(&campaign)
            .filter(|c| in_workspace(c, account, workspace))
            .ok_or(StoreError::NotFound)?
            .status;
        if !status.accepts_messages() {
            return Ok(Publication::NotPublishable(status));
        }
        if messages.iter().any(|m| {
            !state
                .customers
                .contains(&(account, workspace, m.customer_id))
        }) {
            return Ok(Publication::CustomerGone);
        }
        state
            .messages
            .extend(messages.iter().map(|m| (account, workspace, m.clone())));
        if let Some(c) = state.campaigns.get_mut(&campaign) {
            c.message_count += i64::try_from(messages.len()).unwrap_or(i64::MAX);
        }
        Ok(Publication::Published)
    }

    async fn messages(
        &self,
        account: AccountId,
        workspace: WorkspaceId,
        campaign: CampaignId,
        filter: &MessageFilter,
        page: &PageQuery,
        audit: &Retrieval,
    ) -> Result<Page<SealedMessage>, StoreError> {
        let mut state = self.state();
        if !state
            .campaigns
            .get(&campaign)
            .is_some_and(|c| in_workspace(c, account, workspace))
        {
            return Err(StoreError::NotFound);
        }
        let mut all: Vec<SealedMessage> = state
            .messages
            .iter()
            .filter(|(_, _, m)| m.campaign_id == campaign && message_selected(filter, m))
            .map(|(_, _, m)| m.clone())
            .collect();
        all.sort_by_key(|m| (m.created_at, m.id));
        let total_items = i64::try_from(all.len()).unwrap_or(i64::MAX);
        let items: Vec<SealedMessage> = all
            .into_iter()
            .filter(|m| {
                page.after
                    .is_none_or(|after| (m.created_at, m.id.as_uuid()) > after)
            })
            .skip(if page.after.is_some() {
                0
            } else {
                usize::try_from(page.offset).unwrap_or(usize::MAX)
            })
            .take(usize::try_from(page.limit).unwrap_or(0))
            .collect();
        state.retrievals.push((
            audit.clone(),
            i64::try_from(items.len()).unwrap_or(i64::MAX),
        ));
        Ok(Page { items, total_items })
    }

    async fn count_messages(
        &self,
        account: AccountId,
        workspace: WorkspaceId,
        campaign: CampaignId,
        filter: &MessageFilter,
    ) -> Result<i64, StoreError> {
        let state = self.state();
        if !state
            .campaigns
            .get(&campaign)
            .is_some_and(|c| in_workspace(c, account, workspace))
        {
            return Err(StoreError::NotFound);
        }
        let count = state
            .messages
            .iter()
            .filter(|(_, _, m)| m.campaign_id == campaign && message_selected(filter, m))
            .count();
        Ok(i64::try_from(count).unwrap_or(i64::MAX))
    }
}

#[async_trait]
impl Audience for MemoryStore {
    async fn unknown_customers(
        &self,
        account: AccountId,
        workspace: WorkspaceId,
        customers: &[CustomerId],
    ) -> Result<Vec<CustomerId>, StoreError> {
        let state = self.state();
        let mut unknown: Vec<CustomerId> = customers
            .iter()
            .filter(|c| !state.customers.contains(&(account, workspace, **c)))
            .copied()
            .collect();
        unknown.sort_unstable();
        unknown.dedup();
        Ok(unknown)
    }

    async fn unknown_groups(
        &self,
        account: AccountId,
        workspace: WorkspaceId,
        groups: &[GroupId],
    ) -> Result<Vec<GroupId>, StoreError> {
        let state = self.state();
        let mut unknown: Vec<GroupId> = groups
            .iter()
            .filter(|g| !state.groups.contains(&(account, workspace, **g)))
            .copied()
            .collect();
        unknown.sort_unstable();
        unknown.dedup();
        Ok(unknown)
    }
}

#[async_trait]
impl DataKeyStore for MemoryStore {
    async fn data_key(
        &self,
        account: AccountId,
        workspace: WorkspaceId,
    ) -> Result<Option<WrappedDataKey>, StoreError> {
        Ok(self
            .state()
            .data_keys
            .get(&workspace)
            .filter(|(a, _)| *a == account)
            .map(|(_, k)| k.clone()))
    }

    async fn create_data_key(
        &self,
        account: AccountId,
        workspace: WorkspaceId,
        key: &WrappedDataKey,
    ) -> Result<WrappedDataKey, StoreError> {
        let mut state = self.state();
        let (owner, stored) = state
            .data_keys
            .entry(workspace)
            .or_insert_with(|| (account, key.clone()));
        if *owner == account {
            Ok(stored.clone())
        } else {
            Err(StoreError::NotFound)
        }
    }

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
