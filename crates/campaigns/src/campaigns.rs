//! Campaign use cases: create, read, change, delete, and the account-wide search. The rules
//! are here, once: a campaign's workspace must exist and its groups be the workspace's; a
//! status change follows the contract; deleting a campaign deletes its messages.

use kernel::{Actor, Permission, StoreError, WorkspaceId};

use crate::access::{readable_workspaces, require_in};
use crate::error::{CampaignError, FieldError, refuse_unknown};
use crate::models::{
    Campaign, CampaignChanges, CampaignFilter, CampaignId, CampaignInput, CampaignStatus, GroupId,
    Page, PageRequest,
};
use crate::ports::{Audience, CampaignRead};
use crate::service::{CampaignService, SearchInput};

impl CampaignService {
    /// Creates a campaign in `draft` (`campaigns:write`).
    #[tracing::instrument(skip_all, fields(account = %actor.account_id, %workspace))]
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
        self.writing(actor.account_id, None, async |tx| {
            // A workspace that is not the caller's has none of the groups either: that is a
            // 404 for the workspace (as for any other request into it), not a 400 on groups.
            if !tx.workspace_exists(workspace).await? {
                return Err(CampaignError::NotFound);
            }
            check_groups_exist(tx, workspace, &input.group_ids).await?;
            match tx.insert_campaign(&campaign).await {
                Ok(()) => Ok(()),
                // The workspace exists (it was just seen): a group went meanwhile.
                Err(StoreError::NotFound) if !campaign.group_ids.is_empty() => Err(group_gone()),
                Err(other) => Err(other.into()),
            }
        })
        .await?;
        Ok(campaign)
    }

    /// A page of the workspace's campaigns, newest first (`campaigns:read`).
    #[tracing::instrument(skip_all, fields(account = %actor.account_id, %workspace))]
    pub async fn campaigns(
        &self,
        actor: &Actor,
        workspace: WorkspaceId,
        status: Option<CampaignStatus>,
        page: &PageRequest,
    ) -> Result<Page<Campaign>, CampaignError> {
        let filter = workspace_filter(actor, workspace, status)?;
        self.reading(actor.account_id, async |tx| {
            require_workspace(tx, workspace).await?;
            page_of(tx, &filter, page).await
        })
        .await
    }

    /// How many campaigns [`CampaignService::campaigns`] would list.
    #[tracing::instrument(skip_all, fields(account = %actor.account_id, %workspace))]
    pub async fn count_campaigns(
        &self,
        actor: &Actor,
        workspace: WorkspaceId,
        status: Option<CampaignStatus>,
    ) -> Result<i64, CampaignError> {
        let filter = workspace_filter(actor, workspace, status)?;
        self.reading(actor.account_id, async |tx| {
            require_workspace(tx, workspace).await?;
            Ok(tx.count_campaigns(&filter).await?)
        })
        .await
    }

    /// One campaign (`campaigns:read`).
    #[tracing::instrument(skip_all, fields(account = %actor.account_id, %workspace, campaign = %id))]
    pub async fn campaign(
        &self,
        actor: &Actor,
        workspace: WorkspaceId,
        id: CampaignId,
    ) -> Result<Campaign, CampaignError> {
        require_in(actor, workspace, Permission::CampaignsRead)?;
        self.reading(actor.account_id, async |tx| {
            Ok(tx.campaign(workspace, id).await?)
        })
        .await
    }

    /// Changes a campaign (`campaigns:write`); a status change must follow
    /// `draft → active → paused ↔ active → completed`, else `IllegalTransition`. The campaign
    /// is locked while the change is judged and written, so two concurrent transitions are
    /// judged one after the other.
    #[tracing::instrument(skip_all, fields(account = %actor.account_id, %workspace, campaign = %id))]
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
        self.writing(actor.account_id, None, async |tx| {
            // A campaign that is not the caller's is a 404, whatever the groups asked for.
            let current = tx.lock_campaign(workspace, id).await?;
            if let Some(groups) = &requested_groups {
                check_groups_exist(tx, workspace, groups).await?;
            }
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
            let updated = current.changed(&changes, self.now());
            tx.update_campaign(&updated).await?;
            if let Some(groups) = &changes.group_ids {
                match tx.replace_groups(&updated, groups).await {
                    Ok(()) => {}
                    // The campaign is held: a group went meanwhile.
                    Err(StoreError::NotFound) => return Err(group_gone()),
                    Err(other) => return Err(other.into()),
                }
            }
            Ok(updated)
        })
        .await
    }

    /// Deletes a campaign and its messages (`campaigns:write`).
    #[tracing::instrument(skip_all, fields(account = %actor.account_id, %workspace, campaign = %id))]
    pub async fn delete_campaign(
        &self,
        actor: &Actor,
        workspace: WorkspaceId,
        id: CampaignId,
    ) -> Result<(), CampaignError> {
        require_in(actor, workspace, Permission::CampaignsWrite)?;
        self.writing(actor.account_id, None, async |tx| {
            tx.delete_messages(workspace, id).await?;
            Ok(tx.delete_campaign(workspace, id).await?)
        })
        .await
    }

    /// Campaigns of every workspace of the account the actor reads campaigns in, narrowed to
    /// `input`, newest first (`campaigns:read` account-wide or in some workspace).
    #[tracing::instrument(skip_all, fields(account = %actor.account_id))]
    pub async fn search(
        &self,
        actor: &Actor,
        input: SearchInput,
        page: &PageRequest,
    ) -> Result<Page<Campaign>, CampaignError> {
        let filter = search_filter(actor, input)?;
        self.reading(actor.account_id, async |tx| {
            page_of(tx, &filter, page).await
        })
        .await
    }

    /// How many campaigns [`CampaignService::search`] would find.
    #[tracing::instrument(skip_all, fields(account = %actor.account_id))]
    pub async fn count_search(
        &self,
        actor: &Actor,
        input: SearchInput,
    ) -> Result<i64, CampaignError> {
        let filter = search_filter(actor, input)?;
        self.reading(actor.account_id, async |tx| {
            Ok(tx.count_campaigns(&filter).await?)
        })
        .await
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
}

/// A list of one workspace's campaigns (`campaigns:read` there).
fn workspace_filter(
    actor: &Actor,
    workspace: WorkspaceId,
    status: Option<CampaignStatus>,
) -> Result<CampaignFilter, CampaignError> {
    require_in(actor, workspace, Permission::CampaignsRead)?;
    Ok(CampaignFilter {
        workspaces: Some(vec![workspace]),
        status,
    })
}

fn search_filter(actor: &Actor, input: SearchInput) -> Result<CampaignFilter, CampaignError> {
    Ok(CampaignFilter {
        workspaces: readable_workspaces(actor, input.workspace_ids)?,
        status: input.status,
    })
}

/// Another account's (or a missing) workspace is a 404.
async fn require_workspace(
    tx: &mut dyn CampaignRead,
    workspace: WorkspaceId,
) -> Result<(), CampaignError> {
    if tx.workspace_exists(workspace).await? {
        Ok(())
    } else {
        Err(CampaignError::NotFound)
    }
}

/// A page of what `filter` selects, with the size of the whole selection.
async fn page_of(
    tx: &mut dyn CampaignRead,
    filter: &CampaignFilter,
    page: &PageRequest,
) -> Result<Page<Campaign>, CampaignError> {
    let total_items = tx.count_campaigns(filter).await?;
    let items = tx.campaigns(filter, page).await?;
    Ok(Page { items, total_items })
}

/// Refuses groups that are not the workspace's, naming each by its index in the request.
async fn check_groups_exist(
    audience: &mut dyn Audience,
    workspace: WorkspaceId,
    groups: &[GroupId],
) -> Result<(), CampaignError> {
    if groups.is_empty() {
        return Ok(());
    }
    let unknown = audience.unknown_groups(workspace, groups).await?;
    refuse_unknown(
        groups,
        &unknown,
        |i| format!("group_ids[{i}]"),
        "is not a group of this workspace",
    )
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
