//! Campaign use cases: create, read, change, delete, and the account-wide search.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use kernel::{Actor, Clock, Permission, StoreError, WorkspaceId};

use crate::access::{readable_workspaces, require_in};
use crate::error::{CampaignError, FieldError};
use crate::models::{
    Campaign, CampaignChanges, CampaignFilter, CampaignId, CampaignInput, CampaignStatus, GroupId,
    Page, PageQuery,
};
use crate::ports::{Audience, CampaignStore, DataKeyStore, MasterKeys};

/// Attempts at a change whose campaign keeps changing status under it.
const UPDATE_ATTEMPTS: usize = 3;

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
    pub store: Arc<dyn CampaignStore>,
    pub audience: Arc<dyn Audience>,
    pub data_keys: Arc<dyn DataKeyStore>,
    pub master_keys: Arc<dyn MasterKeys>,
    pub clock: Arc<dyn Clock>,
}

pub struct CampaignService {
    pub(crate) store: Arc<dyn CampaignStore>,
    pub(crate) audience: Arc<dyn Audience>,
    pub(crate) data_keys: Arc<dyn DataKeyStore>,
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
            audience: deps.audience,
            data_keys: deps.data_keys,
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

    /// Creates a campaign in `draft` (`campaigns:write`).
    pub async fn create_campaign(
        &self,
        actor: &Actor,
        workspace: WorkspaceId,
        input: CampaignInput,
    ) -> Result<Campaign, CampaignError> {
        require_in(actor, workspace, Permission::CampaignsWrite)?;
        let mut errors = Vec::new();
        let name = valid_name(&input.name, &mut errors);
        let description =
            valid_description(input.description.as_deref().unwrap_or(""), &mut errors);
        let group_ids = self.valid_groups(&input.group_ids, &mut errors);
        let (Some(name), Some(description), Some(group_ids)) = (name, description, group_ids)
        else {
            return Err(CampaignError::Validation(errors));
        };
        if let Err(unknown) = self
            .check_groups_exist(actor, workspace, &input.group_ids)
            .await
        {
            // A workspace that is not the caller's has none of the groups either: that is a
            // 404 for the workspace (as for any other request into it), not a 400 on groups.
            if !self
                .store
                .workspace_exists(actor.account_id, workspace)
                .await?
            {
                return Err(CampaignError::NotFound);
            }
            return Err(unknown);
        }
        let now = self.now();
        let campaign = Campaign {
            id: CampaignId::generate(),
            account_id: actor.account_id,
            workspace_id: workspace,
            name,
            description,
            channel: input.channel,
            group_ids,
            status: CampaignStatus::Draft,
            message_count: 0,
            created_at: now,
            updated_at: now,
        };
        match self.store.create_campaign(&campaign).await {
            Ok(()) => Ok(campaign),
            Err(StoreError::NotFound) if !campaign.group_ids.is_empty() => {
                // The workspace exists (groups were found in it): a group went meanwhile.
                Err(group_gone())
            }
            Err(other) => Err(other.into()),
        }
    }

    /// A page of the workspace's campaigns, newest first (`campaigns:read`).
    pub async fn campaigns(
        &self,
        actor: &Actor,
        workspace: WorkspaceId,
        status: Option<CampaignStatus>,
        page: &PageQuery,
    ) -> Result<Page<Campaign>, CampaignError> {
        let filter = self.workspace_filter(actor, workspace, status).await?;
        Ok(self
            .store
            .campaigns(actor.account_id, &filter, page)
            .await?)
    }

    /// How many campaigns [`CampaignService::campaigns`] would list.
    pub async fn count_campaigns(
        &self,
        actor: &Actor,
        workspace: WorkspaceId,
        status: Option<CampaignStatus>,
    ) -> Result<i64, CampaignError> {
        let filter = self.workspace_filter(actor, workspace, status).await?;
        Ok(self
            .store
            .count_campaigns(actor.account_id, &filter)
            .await?)
    }

    async fn workspace_filter(
        &self,
        actor: &Actor,
        workspace: WorkspaceId,
        status: Option<CampaignStatus>,
    ) -> Result<CampaignFilter, CampaignError> {
        require_in(actor, workspace, Permission::CampaignsRead)?;
        if !self
            .store
            .workspace_exists(actor.account_id, workspace)
            .await?
        {
            return Err(CampaignError::NotFound);
        }
        Ok(CampaignFilter {
            workspaces: Some(vec![workspace]),
            status,
        })
    }

    /// One campaign (`campaigns:read`).
    pub async fn campaign(
        &self,
        actor: &Actor,
        workspace: WorkspaceId,
        id: CampaignId,
    ) -> Result<Campaign, CampaignError> {
        require_in(actor, workspace, Permission::CampaignsRead)?;
        Ok(self.store.campaign(actor.account_id, workspace, id).await?)
    }

    /// Changes a campaign (`campaigns:write`); a status change must follow
    /// `draft → active → paused ↔ active → completed`, else `IllegalTransition`.
    pub async fn update_campaign(
        &self,
        actor: &Actor,
        workspace: WorkspaceId,
        id: CampaignId,
        changes: CampaignChanges,
    ) -> Result<Campaign, CampaignError> {
        require_in(actor, workspace, Permission::CampaignsWrite)?;
        let requested_groups = changes.group_ids.clone();
        let changes = self.valid_changes(changes)?;
        if let Some(groups) = &requested_groups
            && let Err(unknown) = self.check_groups_exist(actor, workspace, groups).await
        {
            // A campaign that is not the caller's is a 404, whatever the groups asked for.
            self.store.campaign(actor.account_id, workspace, id).await?;
            return Err(unknown);
        }
        for _ in 0..UPDATE_ATTEMPTS {
            let current = self.store.campaign(actor.account_id, workspace, id).await?;
            if let Some(to) = changes.status
                && to != current.status
                && !current.status.can_become(to)
            {
                return Err(CampaignError::IllegalTransition {
                    from: current.status,
                    to,
                });
            }
            if is_empty(&changes) {
                return Ok(current);
            }
            let updated = self
                .store
                .update_campaign(
                    actor.account_id,
                    workspace,
                    id,
                    current.status,
                    &changes,
                    self.now(),
                )
                .await;
            match updated {
                Ok(Some(campaign)) => return Ok(campaign),
                // The status moved under us: judge the transition again from the new one.
                Ok(None) => {}
                Err(StoreError::NotFound) if changes.group_ids.is_some() => {
                    return match self.store.campaign(actor.account_id, workspace, id).await {
                        Ok(_) => Err(group_gone()),
                        Err(error) => Err(error.into()),
                    };
                }
                Err(error) => return Err(error.into()),
            }
        }
        Err(CampaignError::Unavailable(
            "the campaign kept changing status; try again".into(),
        ))
    }

    /// Deletes a campaign and its messages (`campaigns:write`).
    pub async fn delete_campaign(
        &self,
        actor: &Actor,
        workspace: WorkspaceId,
        id: CampaignId,
    ) -> Result<(), CampaignError> {
        require_in(actor, workspace, Permission::CampaignsWrite)?;
        Ok(self
            .store
            .delete_campaign(actor.account_id, workspace, id)
            .await?)
    }

    /// Campaigns of every workspace of the account the actor reads campaigns in, narrowed to
    /// `input`, newest first (`campaigns:read` account-wide or in some workspace).
    pub async fn search(
        &self,
        actor: &Actor,
        input: SearchInput,
        page: &PageQuery,
    ) -> Result<Page<Campaign>, CampaignError> {
        let filter = CampaignFilter {
            workspaces: readable_workspaces(actor, input.workspace_ids)?,
            status: input.status,
        };
        Ok(self
            .store
            .campaigns(actor.account_id, &filter, page)
            .await?)
    }

    /// How many campaigns [`CampaignService::search`] would find.
    pub async fn count_search(
        &self,
        actor: &Actor,
        input: SearchInput,
    ) -> Result<i64, CampaignError> {
        let filter = CampaignFilter {
            workspaces: readable_workspaces(actor, input.workspace_ids)?,
            status: input.status,
        };
        Ok(self
            .store
            .count_campaigns(actor.account_id, &filter)
            .await?)
    }

    fn valid_groups(&self, raw: &[GroupId], errors: &mut Vec<FieldError>) -> Option<Vec<GroupId>> {
        if raw.len() > self.policy.max_groups {
            errors.push(FieldError::new(
                "group_ids",
                format!("at most {} groups per campaign", self.policy.max_groups),
            ));
            return None;
        }
        let mut groups = raw.to_vec();
        groups.sort_unstable();
        groups.dedup();
        Some(groups)
    }

    fn valid_changes(&self, changes: CampaignChanges) -> Result<CampaignChanges, CampaignError> {
        let mut errors = Vec::new();
        let name = changes.name.as_deref().map(|n| valid_name(n, &mut errors));
        let description = changes
            .description
            .as_deref()
            .map(|d| valid_description(d, &mut errors));
        let group_ids = changes
            .group_ids
            .as_deref()
            .map(|g| self.valid_groups(g, &mut errors));
        if !errors.is_empty() {
            return Err(CampaignError::Validation(errors));
        }
        Ok(CampaignChanges {
            name: name.flatten(),
            description: description.flatten(),
            group_ids: group_ids.flatten(),
            ..changes
        })
    }

    /// Refuses groups that are not the workspace's, naming each by its index in the request.
    async fn check_groups_exist(
        &self,
        actor: &Actor,
        workspace: WorkspaceId,
        groups: &[GroupId],
    ) -> Result<(), CampaignError> {
        if groups.is_empty() {
            return Ok(());
        }
        let unknown = self
            .audience
            .unknown_groups(actor.account_id, workspace, groups)
            .await?;
        if unknown.is_empty() {
            return Ok(());
        }
        Err(CampaignError::Validation(
            groups
                .iter()
                .enumerate()
                .filter(|(_, g)| unknown.contains(g))
                .map(|(i, _)| {
                    FieldError::new(
                        format!("group_ids[{i}]"),
                        "is not a group of this workspace",
                    )
                })
                .collect(),
        ))
    }
}

fn is_empty(changes: &CampaignChanges) -> bool {
    changes.name.is_none()
        && changes.description.is_none()
        && changes.channel.is_none()
        && changes.group_ids.is_none()
        && changes.status.is_none()
}

fn group_gone() -> CampaignError {
    CampaignError::Validation(vec![FieldError::new(
        "group_ids",
        "a group was deleted meanwhile; try again",
    )])
}

fn valid_name(raw: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    let name = raw.trim();
    let length = name.chars().count();
    if length == 0 || length > 200 {
        errors.push(FieldError::new(
            "name",
            "must be between 1 and 200 characters",
        ));
        None
    } else if name.chars().any(char::is_control) {
        errors.push(FieldError::new(
            "name",
            "must not contain control characters",
        ));
        None
    } else {
        Some(name.to_owned())
    }
}

fn valid_description(raw: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    let description = raw.trim();
    if description.chars().count() > 2000 {
        errors.push(FieldError::new(
            "description",
            "must be at most 2000 characters",
        ));
        None
    } else if !kernel::text::is_multi_line(description) {
        errors.push(FieldError::new(
            "description",
            "must not contain control characters other than line breaks and tabs",
        ));
        None
    } else {
        Some(description.to_owned())
    }
}
