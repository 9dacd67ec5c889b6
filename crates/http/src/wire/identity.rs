//! Sign-up, sign-in (with its MFA step) and the caller's profile.

use chrono::{DateTime, Utc};
use identity::{Account, Profile, User};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::tokens::TokenResponse;
use super::users::{WorkspaceRoleBody, workspace_role_bodies};
use super::workspaces::WorkspaceBody;

#[derive(Debug, Deserialize, ToSchema)]
pub struct SignupRequest {
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// 8 to 72 bytes.
    #[schema(example = "correct horse battery")]
    pub password: String,
    #[schema(example = "Ada Lovelace")]
    pub full_name: String,
    #[schema(example = "Analytical Engines Ltd")]
    pub account_name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserBody {
    pub id: Uuid,
    pub account_id: Uuid,
    pub email: String,
    pub full_name: String,
    pub created_at: DateTime<Utc>,
}

impl From<User> for UserBody {
    fn from(user: User) -> Self {
        Self {
            id: user.id.as_uuid(),
            account_id: user.account_id.as_uuid(),
            email: user.email.to_string(),
            full_name: user.full_name,
            created_at: user.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountBody {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl From<Account> for AccountBody {
    fn from(account: Account) -> Self {
        Self {
            id: account.id.as_uuid(),
            name: account.name,
            created_at: account.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignupResponse {
    pub user: UserBody,
    pub account: AccountBody,
    pub workspace: WorkspaceBody,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    pub user: UserBody,
    pub account: AccountBody,
    #[schema(example = json!(["owner"]))]
    pub account_roles: Vec<&'static str>,
    pub workspace_roles: Vec<WorkspaceRoleBody>,
    /// Effective account-wide permissions (workspace roles add to them inside their workspace).
    pub permissions: Vec<&'static str>,
    pub mfa_enabled: bool,
    /// Whether the user has proven their email address (needed to invite users).
    pub email_verified: bool,
}

impl From<Profile> for MeResponse {
    fn from(profile: Profile) -> Self {
        Self {
            user: profile.user.into(),
            account: profile.account.into(),
            account_roles: profile.roles.account.iter().map(|r| r.as_str()).collect(),
            workspace_roles: workspace_role_bodies(&profile.roles),
            permissions: profile.permissions.iter().map(|p| p.as_str()).collect(),
            mfa_enabled: profile.mfa_enabled,
            email_verified: profile.email_verified,
        }
    }
}

/// The answer of a sign-in: tokens, or — with MFA on — the token for the MFA step.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum LoginResponse {
    Tokens(TokenResponse),
    MfaRequired(MfaRequiredBody),
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MfaRequiredBody {
    pub mfa_required: bool,
    /// Send with a code to `POST /v1/auth/login/mfa`.
    pub mfa_token: String,
    /// Seconds the MFA token stays valid.
    pub expires_in: i64,
}

impl From<identity::models::LoginStep> for LoginResponse {
    fn from(step: identity::models::LoginStep) -> Self {
        match step {
            identity::models::LoginStep::Complete(outcome) => {
                Self::Tokens(TokenResponse::new(outcome.tokens, Some(outcome.user)))
            }
            identity::models::LoginStep::MfaRequired {
                mfa_token,
                expires_in,
            } => Self::MfaRequired(MfaRequiredBody {
                mfa_required: true,
                mfa_token,
                expires_in,
            }),
        }
    }
}

/// `POST /v1/auth/login/mfa`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginMfaRequest {
    pub mfa_token: String,
    /// A current TOTP code, or one of the recovery codes.
    pub code: String,
}
