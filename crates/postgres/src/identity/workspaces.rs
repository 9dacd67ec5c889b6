//! [`WorkspaceStore`] on Postgres.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use identity::Workspace;
use identity::ports::WorkspaceStore;
use kernel::{AccountId, StoreError, WorkspaceId};
use uuid::Uuid;

use super::{PgIdentityStore, not_found};
use crate::schema::workspaces;

#[derive(Queryable, Selectable)]
#[diesel(table_name = workspaces, check_for_backend(diesel::pg::Pg))]
struct WorkspaceRow {
    id: Uuid,
    account_id: Uuid,
    name: String,
    created_at: DateTime<Utc>,
}

impl From<WorkspaceRow> for Workspace {
    fn from(row: WorkspaceRow) -> Self {
        Self {
            id: WorkspaceId::from_uuid(row.id),
            account_id: AccountId::from_uuid(row.account_id),
            name: row.name,
            created_at: row.created_at,
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = workspaces, check_for_backend(diesel::pg::Pg))]
pub(super) struct NewWorkspaceRow<'a> {
    id: Uuid,
    account_id: Uuid,
    name: &'a str,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl<'a> NewWorkspaceRow<'a> {
    pub(super) fn new(workspace: &'a Workspace) -> Self {
        Self {
            id: workspace.id.as_uuid(),
            account_id: workspace.account_id.as_uuid(),
            name: &workspace.name,
            created_at: workspace.created_at,
            updated_at: workspace.created_at,
        }
    }
}

#[async_trait]
impl WorkspaceStore for PgIdentityStore {
    #[tracing::instrument(skip_all, fields(account_id = %account))]
    async fn workspaces(&self, account: AccountId) -> Result<Vec<Workspace>, StoreError> {
        self.db
            .tenant_tx(account, None, async |conn: &mut AsyncPgConnection| {
                let rows = workspaces::table
                    .order((workspaces::created_at.asc(), workspaces::id.asc()))
                    .select(WorkspaceRow::as_select())
                    .load(conn)
                    .await?;
                Ok(rows.into_iter().map(Workspace::from).collect())
            })
            .await
    }

    #[tracing::instrument(skip_all, fields(account_id = %account, workspace_id = %id))]
    async fn workspace(
        &self,
        account: AccountId,
        id: WorkspaceId,
    ) -> Result<Workspace, StoreError> {
        self.db
            .tenant_tx(account, None, async |conn: &mut AsyncPgConnection| {
                let row = workspaces::table
                    .filter(workspaces::id.eq(id.as_uuid()))
                    .select(WorkspaceRow::as_select())
                    .first(conn)
                    .await?;
                Ok(Workspace::from(row))
            })
            .await
    }

    #[tracing::instrument(skip_all, fields(account_id = %workspace.account_id, workspace_id = %workspace.id))]
    async fn create_workspace(&self, workspace: &Workspace) -> Result<(), StoreError> {
        self.db
            .tenant_tx(
                workspace.account_id,
                None,
                async |conn: &mut AsyncPgConnection| {
                    diesel::insert_into(workspaces::table)
                        .values(NewWorkspaceRow::new(workspace))
                        .execute(conn)
                        .await?;
                    Ok(())
                },
            )
            .await
    }

    #[tracing::instrument(skip_all, fields(account_id = %account, workspace_id = %id))]
    async fn rename_workspace(
        &self,
        account: AccountId,
        id: WorkspaceId,
        name: &str,
    ) -> Result<Workspace, StoreError> {
        self.db
            .tenant_tx(account, None, async |conn: &mut AsyncPgConnection| {
                let row = diesel::update(workspaces::table)
                    .filter(workspaces::id.eq(id.as_uuid()))
                    .set((
                        workspaces::name.eq(name),
                        workspaces::updated_at.eq(diesel::dsl::now),
                    ))
                    .returning(WorkspaceRow::as_returning())
                    .get_result(conn)
                    .await?;
                Ok(Workspace::from(row))
            })
            .await
    }

    #[tracing::instrument(skip_all, fields(account_id = %account, workspace_id = %id))]
    async fn delete_workspace(
        &self,
        account: AccountId,
        id: WorkspaceId,
    ) -> Result<(), StoreError> {
        self.db
            .tenant_tx(account, None, async |conn: &mut AsyncPgConnection| {
                // Its content and workspace roles go with it (ON DELETE CASCADE).
                let deleted = diesel::delete(workspaces::table)
                    .filter(workspaces::id.eq(id.as_uuid()))
                    .execute(conn)
                    .await?;
                if deleted == 0 {
                    return Err(not_found());
                }
                Ok(())
            })
            .await
    }
}
