//! Workspaces: who sees which, and who may change them.

use kernel::{Actor, Capability, Permission, WorkspaceId};

use crate::error::IdentityError;
use crate::models::{Workspace, parse_name};
use crate::service::{IdentityService, require_administration};

impl IdentityService {
    /// The workspaces the actor sees, oldest first.
    pub async fn workspaces(&self, actor: &Actor) -> Result<Vec<Workspace>, IdentityError> {
        actor.require(Capability::WorkspaceContent)?;
        let all = self.store().workspaces(actor.account_id).await?;
        Ok(all
            .into_iter()
            .filter(|w| actor.sees_workspace(w.id))
            .collect())
    }

    /// One workspace; one the actor does not see answers like a missing one.
    pub async fn workspace(
        &self,
        actor: &Actor,
        id: WorkspaceId,
    ) -> Result<Workspace, IdentityError> {
        actor.require(Capability::WorkspaceContent)?;
        if !actor.sees_workspace(id) {
            return Err(IdentityError::NotFound);
        }
        Ok(self.store().workspace(actor.account_id, id).await?)
    }

    /// Creates a workspace (`account:manage`).
    pub async fn create_workspace(
        &self,
        actor: &Actor,
        name: &str,
    ) -> Result<Workspace, IdentityError> {
        require_administration(actor, Permission::AccountManage)?;
        let name = valid_name(name)?;
        let workspace = Workspace {
            id: WorkspaceId::generate(),
            account_id: actor.account_id,
            name,
            created_at: self.now(),
        };
        self.store().create_workspace(&workspace).await?;
        Ok(workspace)
    }

    /// Renames a workspace (`account:manage`).
    pub async fn rename_workspace(
        &self,
        actor: &Actor,
        id: WorkspaceId,
        name: &str,
    ) -> Result<Workspace, IdentityError> {
        require_administration(actor, Permission::AccountManage)?;
        let name = valid_name(name)?;
        Ok(self
            .store()
            .rename_workspace(actor.account_id, id, &name)
            .await?)
    }

    /// Deletes a workspace and everything in it (`account:manage`).
    pub async fn delete_workspace(
        &self,
        actor: &Actor,
        id: WorkspaceId,
    ) -> Result<(), IdentityError> {
        require_administration(actor, Permission::AccountManage)?;
        Ok(self.store().delete_workspace(actor.account_id, id).await?)
    }
}

fn valid_name(raw: &str) -> Result<String, IdentityError> {
    let mut errors = Vec::new();
    parse_name("name", raw, &mut errors).ok_or(IdentityError::Validation(errors))
}
