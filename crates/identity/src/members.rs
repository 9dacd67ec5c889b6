//! Members of an account and their roles: the "User Role screen", and removing a user.

use kernel::{
    AccountRole, Actor, AuthEvent, AuthEventKind, Permission, Roles, UserId, WorkspaceId,
    WorkspaceRole,
};

use crate::error::{FieldError, IdentityError};
use crate::models::{Member, RoleAssignment};
use crate::service::{IdentityService, field, require_administration, within_reach};

impl IdentityService {
    /// The account's users with their roles (`users:read`).
    #[tracing::instrument(skip_all, fields(account_id = %actor.account_id))]
    pub async fn members(&self, actor: &Actor) -> Result<Vec<Member>, IdentityError> {
        require_administration(actor, Permission::UsersRead)?;
        Ok(self.memberships().members(actor.account_id).await?)
    }

    /// The "User Role screen": an owner or admin (`users:manage`) sets a user's account roles
    /// (`admin`, `developer`, `member`) and workspace roles — their own included. The `owner`
    /// role is not assigned here and is never taken away here, so the account keeps its owners.
    /// Takes effect on the user's next request, on every instance.
    #[tracing::instrument(skip_all, fields(account_id = %actor.account_id, user_id = %user))]
    pub async fn assign_roles(
        &self,
        actor: &Actor,
        user: UserId,
        assignment: RoleAssignment,
    ) -> Result<Member, IdentityError> {
        require_administration(actor, Permission::UsersManage)?;
        let mut roles = parse_assignment(&assignment).map_err(IdentityError::Validation)?;
        within_reach(actor, &roles)?;
        let members = self.memberships().members(actor.account_id).await?;
        let current = &member_of(&members, user)?.roles;
        if actor.credential != kernel::CredentialKind::HumanSession {
            within_reach(actor, current)?;
        }
        // Nobody gains or loses `owner` here (it is given only at sign-up), so reading it
        // outside the write is safe.
        if current.account.contains(&AccountRole::Owner) {
            roles.account.insert(0, AccountRole::Owner);
        }
        let member = self
            .memberships()
            .set_roles(actor.account_id, user, &roles)
            .await?;
        if !roles.account.contains(&AccountRole::Developer) {
            // For good, so that giving the role back does not revive a key nobody watched. After
            // the roles change: from then on no key can be stored for the user (the store
            // checks the role), so none escapes between the two.
            self.token_service()
                .disable_user_api_keys(actor.account_id, user, "the owner lost the developer role")
                .await?;
        }
        let mut event = AuthEvent::new(
            AuthEventKind::RolesChanged,
            self.now(),
            Some((actor.account_id, user)),
            true,
        );
        event.reason = Some("changed by a users manager");
        self.audit(&event).await?;
        Ok(member)
    }

    /// Removes a user (`users:manage`): their sessions end and their API keys stop working at
    /// once, on every instance. Only an owner removes an owner, and never the last one.
    #[tracing::instrument(skip_all, fields(account_id = %actor.account_id, user_id = %user))]
    pub async fn remove_user(&self, actor: &Actor, user: UserId) -> Result<(), IdentityError> {
        require_administration(actor, Permission::UsersManage)?;
        let members = self.memberships().members(actor.account_id).await?;
        let target = member_of(&members, user)?;
        within_reach(actor, &target.roles)?;
        if target.roles.account.contains(&AccountRole::Owner) {
            if !actor.has_role(AccountRole::Owner) {
                return Err(IdentityError::Forbidden(
                    "only an owner can remove an owner",
                ));
            }
            let owners = members
                .iter()
                .filter(|m| m.roles.account.contains(&AccountRole::Owner))
                .count();
            if owners <= 1 {
                return Err(IdentityError::Conflict(
                    "an account keeps at least one owner",
                ));
            }
        }
        self.memberships()
            .remove_user(actor.account_id, user)
            .await?;
        let event = AuthEvent::new(
            AuthEventKind::UserRemoved,
            self.now(),
            Some((actor.account_id, user)),
            true,
        );
        self.audit(&event).await
    }
}

/// The member `user` among `members`; `NotFound` when they are not one.
fn member_of(members: &[Member], user: UserId) -> Result<&Member, IdentityError> {
    members
        .iter()
        .find(|m| m.user.id == user)
        .ok_or(IdentityError::NotFound)
}

/// Parses a role assignment; `owner` is never assigned this way.
pub(crate) fn parse_assignment(assignment: &RoleAssignment) -> Result<Roles, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut roles = Roles::default();
    for raw in &assignment.account_roles {
        match raw.parse::<AccountRole>() {
            Ok(AccountRole::Owner) => errors.push(field(
                "account_roles",
                "`owner` is not assigned here; owners keep their role".into(),
            )),
            Ok(role) if !roles.account.contains(&role) => roles.account.push(role),
            Ok(_) => {}
            Err(e) => errors.push(field("account_roles", e.to_string())),
        }
    }
    for (workspace, role) in &assignment.workspace_roles {
        let workspace = workspace.parse::<WorkspaceId>();
        let role = role.parse::<WorkspaceRole>();
        match (workspace, role) {
            (Ok(w), Ok(_)) if roles.workspaces.iter().any(|(seen, _)| *seen == w) => errors.push(
                field("workspace_roles", format!("workspace {w} is listed twice")),
            ),
            (Ok(w), Ok(r)) => roles.workspaces.push((w, r)),
            (Err(_), _) => errors.push(field(
                "workspace_roles",
                "workspace_id must be a UUID".into(),
            )),
            (_, Err(e)) => errors.push(field("workspace_roles", e.to_string())),
        }
    }
    if errors.is_empty() {
        Ok(roles)
    } else {
        Err(errors)
    }
}
