//! Workspaces: who sees which, and who may change them.

use kernel::{Actor, Capability, Permission, WorkspaceId};

use crate::error::IdentityError;
use crate::models::{Workspace, parse_name};
use crate::service::{IdentityService, require_administration};

impl IdentityService {
    /// The workspaces the actor sees, oldest first.
    #[tracing::instrument(skip_all, fields(account_id = %actor.account_id))]
    pub async fn workspaces(&self, actor: &Actor) -> Result<Vec<Workspace>, IdentityError> {
        actor.require(Capability::WorkspaceContent)?;
        let all = self.workspace_store().workspaces(actor.account_id).await?;
        Ok(all
            .into_iter()
            .filter(|w| actor.sees_workspace(w.id))
            .collect())
    }

    /// One workspace; one the actor does not see answers like a missing one.
    #[tracing::instrument(skip_all, fields(account_id = %actor.account_id))]
    pub async fn workspace(
        &self,
        actor: &Actor,
        id: WorkspaceId,
    ) -> Result<Workspace, IdentityError> {
        actor.require(Capability::WorkspaceContent)?;
        if !actor.sees_workspace(id) {
            return Err(IdentityError::NotFound);
        }
        Ok(self
            .workspace_store()
            .workspace(actor.account_id, id)
            .await?)
    }

    /// Creates a workspace (`account:manage`).
    #[tracing::instrument(skip_all, fields(account_id = %actor.account_id))]
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
        self.workspace_store().create_workspace(&workspace).await?;
        Ok(workspace)
    }

    /// Renames a workspace (`account:manage`).
    #[tracing::instrument(skip_all, fields(account_id = %actor.account_id))]
    pub async fn rename_workspace(
        &self,
        actor: &Actor,
        id: WorkspaceId,
        name: &str,
    ) -> Result<Workspace, IdentityError> {
        require_administration(actor, Permission::AccountManage)?;
        let name = valid_name(name)?;
        Ok(self
            .workspace_store()
            .rename_workspace(actor.account_id, id, &name)
            .await?)
    }

    /// Deletes a workspace and everything in it (`account:manage`).
    #[tracing::instrument(skip_all, fields(account_id = %actor.account_id))]
    pub async fn delete_workspace(
        &self,
        actor: &Actor,
        id: WorkspaceId,
    ) -> Result<(), IdentityError> {
        require_administration(actor, Permission::AccountManage)?;
        Ok(self
            .workspace_store()
            .delete_workspace(actor.account_id, id)
            .await?)
    }
}

fn valid_name(raw: &str) -> Result<String, IdentityError> {
    let mut errors = Vec::new();
    parse_name("name", raw, &mut errors).ok_or(IdentityError::Validation(errors))
}
