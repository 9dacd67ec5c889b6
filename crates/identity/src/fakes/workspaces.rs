//! [`WorkspaceStore`] in memory.

use async_trait::async_trait;
use kernel::{AccountId, StoreError, WorkspaceId};

use super::MemoryStore;
use crate::models::Workspace;
use crate::ports::WorkspaceStore;

#[async_trait]
impl WorkspaceStore for MemoryStore {
    async fn workspaces(&self, account: AccountId) -> Result<Vec<Workspace>, StoreError> {
        let mut found: Vec<Workspace> = self
            .state()
            .workspaces
            .values()
            .filter(|w| w.account_id == account)
            .cloned()
            .collect();
        found.sort_by_key(|w| w.id);
        Ok(found)
    }

    async fn workspace(
        &self,
        account: AccountId,
        id: WorkspaceId,
    ) -> Result<Workspace, StoreError> {
        self.state()
            .workspaces
            .get(&id)
            .filter(|w| w.account_id == account)
            .cloned()
            .ok_or(StoreError::NotFound)
    }

    async fn create_workspace(&self, workspace: &Workspace) -> Result<(), StoreError> {
        self.state()
            .workspaces
            .insert(workspace.id, workspace.clone());
        Ok(())
    }

    async fn rename_workspace(
        &self,
        account: AccountId,
        id: WorkspaceId,
        name: &str,
    ) -> Result<Workspace, StoreError> {
        let mut state = self.state();
        let workspace = state
            .workspaces
            .get_mut(&id)
            .filter(|w| w.account_id == account)
            .ok_or(StoreError::NotFound)?;
        name.clone_into(&mut workspace.name);
        Ok(workspace.clone())
    }

    async fn delete_workspace(
        &self,
        account: AccountId,
        id: WorkspaceId,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        match state.workspaces.get(&id) {
            Some(w) if w.account_id == account => {
                state.workspaces.remove(&id);
                Ok(())
            }
            _ => Err(StoreError::NotFound),
        }
    }
}
