//! Who is asking: built once from a verified token and the live roles, then passed down.

use crate::credential::{Capability, CredentialKind, CredentialNotAllowed};
use crate::ids::{AccountId, SessionId, UserId, WorkspaceId};
use crate::rbac::{AccountRole, Permission, PermissionSet, WorkspaceRole};

/// The roles a user holds right now.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Roles {
    pub account: Vec<AccountRole>,
    pub workspaces: Vec<(WorkspaceId, WorkspaceRole)>,
}

impl Roles {
    /// What the account roles allow account-wide.
    #[must_use]
    pub fn account_permissions(&self) -> PermissionSet {
        self.account.iter().fold(PermissionSet::EMPTY, |set, role| {
            set.union(role.permissions())
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub user_id: UserId,
    pub account_id: AccountId,
    pub session_id: SessionId,
    /// The roles the user holds now (not when the token was issued).
    pub account_roles: Vec<AccountRole>,
    pub workspace_roles: Vec<(WorkspaceId, WorkspaceRole)>,
    /// What the token may ever be used for; roles can only narrow it further.
    pub scope: PermissionSet,
    /// How the caller proved who they are: bounds everything else (see [`crate::credential`]).
    pub credential: CredentialKind,
}

impl Actor {
    /// What the token's scope and the credential's kind leave of any role's permissions.
    #[must_use]
    fn allowance(&self) -> PermissionSet {
        self.scope
            .intersection(self.credential.permission_ceiling())
    }

    /// The permissions the account roles grant, narrowed by the token's scope and kind.
    #[must_use]
    pub fn account_permissions(&self) -> PermissionSet {
        self.account_roles
            .iter()
            .fold(PermissionSet::EMPTY, |set, role| {
                set.union(role.permissions())
            })
            .intersection(self.allowance())
    }

    /// Whether the caller's kind of credential may be used for `capability` at all (the
    /// "Credential kinds" table); roles and scope are asked separately, through
    /// [`Actor::can`] and [`Actor::can_in_workspace`].
    pub fn require(&self, capability: Capability) -> Result<(), CredentialNotAllowed> {
        if self.credential.permits(capability) {
            Ok(())
        } else {
            Err(CredentialNotAllowed(self.credential))
        }
    }

    /// Whether the actor holds `permission` account-wide.
    #[must_use]
    pub fn can(&self, permission: Permission) -> bool {
        self.account_permissions().contains(permission)
    }

    /// The permissions the actor holds inside one workspace: account-wide ones plus those of
    /// the workspace role, narrowed by the token's scope.
    #[must_use]
    pub fn workspace_permissions(&self, workspace: WorkspaceId) -> PermissionSet {
        let from_workspace = self
            .workspace_roles
            .iter()
            .filter(|(id, _)| *id == workspace)
            .fold(PermissionSet::EMPTY, |set, (_, role)| {
                set.union(role.permissions())
            });
        self.account_permissions()
            .union(from_workspace.intersection(self.allowance()))
    }

    #[must_use]
    pub fn can_in_workspace(&self, workspace: WorkspaceId, permission: Permission) -> bool {
        self.workspace_permissions(workspace).contains(permission)
    }

    #[must_use]
    pub fn has_role(&self, role: AccountRole) -> bool {
        self.account_roles.contains(&role)
    }

    /// Whether the actor sees `workspace` at all: owners and admins see every workspace of
    /// their account, anyone else only those they hold a role in. Every domain answers a
    /// workspace the actor does not see like a missing one (404).
    #[must_use]
    pub fn sees_workspace(&self, workspace: WorkspaceId) -> bool {
        self.has_role(AccountRole::Owner)
            || self.has_role(AccountRole::Admin)
            || self.workspace_roles.iter().any(|(w, _)| *w == workspace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(account_roles: Vec<AccountRole>, scope: PermissionSet) -> Actor {
        Actor {
            user_id: UserId::generate(),
            account_id: AccountId::generate(),
            session_id: SessionId::generate(),
            account_roles,
            workspace_roles: Vec::new(),
            scope,
            credential: CredentialKind::HumanSession,
        }
    }

    #[test]
    fn scope_narrows_roles() {
        let narrow = actor(
            vec![AccountRole::Owner],
            PermissionSet::of(&[Permission::CustomersRead]),
        );
        assert!(narrow.can(Permission::CustomersRead));
        assert!(!narrow.can(Permission::UsersManage));
    }

    #[test]
    fn workspace_roles_apply_only_in_their_workspace() {
        let mut member = actor(vec![AccountRole::Member], PermissionSet::all());
        let ws = WorkspaceId::generate();
        member.workspace_roles.push((ws, WorkspaceRole::Viewer));
        assert!(member.can_in_workspace(ws, Permission::CustomersRead));
        assert!(!member.can_in_workspace(ws, Permission::CustomersWrite));
        assert!(!member.can_in_workspace(WorkspaceId::generate(), Permission::CustomersRead));
        assert!(!member.can(Permission::CustomersRead));
        assert!(member.sees_workspace(ws));
        assert!(!member.sees_workspace(WorkspaceId::generate()));
        let owner = actor(vec![AccountRole::Owner], PermissionSet::all());
        assert!(owner.sees_workspace(WorkspaceId::generate()));
    }

    #[test]
    fn the_credential_kind_bounds_scope_and_roles() {
        let mut short = actor(vec![AccountRole::Owner], PermissionSet::all());
        short.credential = CredentialKind::ShortLived;
        let ws = WorkspaceId::generate();
        short.workspace_roles.push((ws, WorkspaceRole::Manager));
        assert!(short.can(Permission::CustomersRead));
        assert!(!short.can(Permission::UsersManage));
        assert!(!short.can(Permission::AuditRead));
        assert!(!short.can_in_workspace(ws, Permission::AccountManage));
        assert!(short.require(Capability::WorkspaceContent).is_ok());
        assert_eq!(
            short.require(Capability::OwnCredentials),
            Err(CredentialNotAllowed(CredentialKind::ShortLived))
        );

        let mut key = actor(
            vec![AccountRole::Owner, AccountRole::Developer],
            PermissionSet::all(),
        );
        key.credential = CredentialKind::ApiKeySession;
        assert!(key.can(Permission::UsersManage));
        assert!(!key.can(Permission::ApiKeysManage));
        assert!(key.require(Capability::OwnCredentials).is_err());
        assert!(key.require(Capability::AccountAdministration).is_ok());
    }
}
