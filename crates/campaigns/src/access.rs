//! Who may do what: the workspace rules of identity, applied to campaigns and messages.

use kernel::{Actor, Permission, WorkspaceId};

use crate::error::CampaignError;

/// A workspace the actor does not see answers like a missing one (404); one they see without
/// the permission is a 403. Another account's workspace is caught by the store (404).
pub(crate) fn require_in(
    actor: &Actor,
    workspace: WorkspaceId,
    permission: Permission,
) -> Result<(), CampaignError> {
    if actor.require(kernel::Capability::WorkspaceContent).is_err() {
        Err(CampaignError::Forbidden)
    } else if !actor.sees_workspace(workspace) {
        Err(CampaignError::NotFound)
    } else if actor.can_in_workspace(workspace, permission) {
        Ok(())
    } else {
        Err(CampaignError::Forbidden)
    }
}

/// The workspaces an account-wide search covers: `None` is every workspace of the account (for
/// those who read campaigns account-wide), else the workspaces the actor reads campaigns in,
/// narrowed to `requested`. Someone who reads campaigns nowhere is refused.
pub(crate) fn readable_workspaces(
    actor: &Actor,
    requested: Option<Vec<WorkspaceId>>,
) -> Result<Option<Vec<WorkspaceId>>, CampaignError> {
    if actor.require(kernel::Capability::WorkspaceContent).is_err() {
        return Err(CampaignError::Forbidden);
    }
    if actor.can(Permission::CampaignsRead) {
        return Ok(requested);
    }
    let mut readable: Vec<WorkspaceId> = actor
        .workspace_roles
        .iter()
        .map(|(w, _)| *w)
        .filter(|w| actor.can_in_workspace(*w, Permission::CampaignsRead))
        .collect();
    readable.sort_unstable();
    readable.dedup();
    if readable.is_empty() {
        return Err(CampaignError::Forbidden);
    }
    Ok(Some(match requested {
        None => readable,
        Some(requested) => requested
            .into_iter()
            .filter(|w| readable.contains(w))
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use kernel::{AccountId, AccountRole, PermissionSet, SessionId, UserId, WorkspaceRole};

    use super::*;

    fn actor(account: Vec<AccountRole>, workspaces: Vec<(WorkspaceId, WorkspaceRole)>) -> Actor {
        Actor {
            user_id: UserId::generate(),
            account_id: AccountId::generate(),
            session_id: SessionId::generate(),
            account_roles: account,
            workspace_roles: workspaces,
            scope: PermissionSet::all(),
            credential: kernel::CredentialKind::HumanSession,
        }
    }

    #[test]
    fn unseen_workspaces_are_missing_and_seen_ones_without_permission_forbidden() {
        let (ws, other) = (WorkspaceId::generate(), WorkspaceId::generate());
        let viewer = actor(vec![AccountRole::Member], vec![(ws, WorkspaceRole::Viewer)]);
        assert!(require_in(&viewer, ws, Permission::CampaignsRead).is_ok());
        assert!(matches!(
            require_in(&viewer, ws, Permission::MessagesPublish),
            Err(CampaignError::Forbidden)
        ));
        assert!(matches!(
            require_in(&viewer, other, Permission::CampaignsRead),
            Err(CampaignError::NotFound)
        ));
        let developer = actor(vec![AccountRole::Developer], Vec::new());
        assert!(matches!(
            require_in(&developer, ws, Permission::CampaignsRead),
            Err(CampaignError::NotFound)
        ));
        let owner = actor(vec![AccountRole::Owner], Vec::new());
        assert!(require_in(&owner, other, Permission::MessagesRead).is_ok());
    }

    #[test]
    fn a_narrow_scope_forbids_even_the_owner() {
        let mut owner = actor(vec![AccountRole::Owner], Vec::new());
        owner.scope = PermissionSet::of(&[Permission::CampaignsRead]);
        let ws = WorkspaceId::generate();
        assert!(matches!(
            require_in(&owner, ws, Permission::MessagesRead),
            Err(CampaignError::Forbidden)
        ));
    }

    #[test]
    fn searches_cover_only_readable_workspaces() {
        let (a, b, c) = (
            WorkspaceId::generate(),
            WorkspaceId::generate(),
            WorkspaceId::generate(),
        );
        let member = actor(
            vec![AccountRole::Member],
            vec![(a, WorkspaceRole::Viewer), (b, WorkspaceRole::Editor)],
        );
        let mut all = readable_workspaces(&member, None)
            .ok()
            .flatten()
            .unwrap_or_default();
        all.sort_unstable();
        let mut expected = vec![a, b];
        expected.sort_unstable();
        assert_eq!(all, expected);
        assert_eq!(
            readable_workspaces(&member, Some(vec![b, c]))
                .ok()
                .flatten(),
            Some(vec![b])
        );
        let owner = actor(vec![AccountRole::Owner], Vec::new());
        assert_eq!(readable_workspaces(&owner, None).ok(), Some(None));
        let developer = actor(vec![AccountRole::Developer], Vec::new());
        assert!(matches!(
            readable_workspaces(&developer, None),
            Err(CampaignError::Forbidden)
        ));
    }
}
