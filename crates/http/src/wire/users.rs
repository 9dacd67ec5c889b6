//! The account's users: members with their roles, invitations, role assignments.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkspaceRoleBody {
    pub workspace_id: Uuid,
    #[schema(example = "editor")]
    pub role: &'static str,
}

/// A user of the account with the roles they hold.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberBody {
    pub id: Uuid,
    pub account_id: Uuid,
    pub email: String,
    pub full_name: String,
    pub created_at: DateTime<Utc>,
    #[schema(example = json!(["owner", "developer"]))]
    pub account_roles: Vec<&'static str>,
    pub workspace_roles: Vec<WorkspaceRoleBody>,
}

pub(super) fn workspace_role_bodies(roles: &kernel::Roles) -> Vec<WorkspaceRoleBody> {
    roles
        .workspaces
        .iter()
        .map(|(workspace, role)| WorkspaceRoleBody {
            workspace_id: workspace.as_uuid(),
            role: role.as_str(),
        })
        .collect()
}

impl From<identity::Member> for MemberBody {
    fn from(member: identity::Member) -> Self {
        let user = member.user;
        Self {
            id: user.id.as_uuid(),
            account_id: user.account_id.as_uuid(),
            email: user.email.to_string(),
            full_name: user.full_name,
            created_at: user.created_at,
            account_roles: member.roles.account.iter().map(|r| r.as_str()).collect(),
            workspace_roles: workspace_role_bodies(&member.roles),
        }
    }
}

/// `POST /v1/users`: invite a user.
#[derive(Debug, Deserialize, ToSchema)]
pub struct InviteRequest {
    #[schema(example = "bob@example.com")]
    pub email: String,
    #[schema(example = "Bob Builder")]
    pub full_name: String,
    #[serde(default)]
    #[schema(example = json!(["member"]))]
    pub account_roles: Vec<String>,
    #[serde(default)]
    pub workspace_roles: Vec<WorkspaceRoleRequest>,
}

/// `POST /v1/invitations/accept`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AcceptInvitationRequest {
    pub email: String,
    /// The code from the invitation email (`Code: …`).
    pub code: String,
    /// 8 to 72 bytes.
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct WorkspaceRoleRequest {
    pub workspace_id: String,
    #[schema(example = "editor")]
    pub role: String,
}

/// `PUT /v1/users/{user_id}/roles`: the roles to hold from now on (`owner` is kept, never
/// assigned here).
#[derive(Debug, Deserialize, ToSchema)]
pub struct RoleAssignmentRequest {
    #[schema(example = json!(["developer"]))]
    pub account_roles: Vec<String>,
    #[serde(default)]
    pub workspace_roles: Vec<WorkspaceRoleRequest>,
}
