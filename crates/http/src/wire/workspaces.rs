//! Workspaces.

use chrono::{DateTime, Utc};
use identity::Workspace;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkspaceBody {
    pub id: Uuid,
    pub account_id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl From<Workspace> for WorkspaceBody {
    fn from(workspace: Workspace) -> Self {
        Self {
            id: workspace.id.as_uuid(),
            account_id: workspace.account_id.as_uuid(),
            name: workspace.name,
            created_at: workspace.created_at,
        }
    }
}

/// `POST /v1/workspaces` and `PATCH /v1/workspaces/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct WorkspaceRequest {
    #[schema(example = "Newsletter")]
    pub name: String,
}
