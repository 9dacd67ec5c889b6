//! Request and response bodies as the API shows them (api.md), apart from the domain types.

use chrono::{DateTime, Utc};
use identity::{Account, Profile, User, Workspace};
use serde::{Deserialize, Serialize};
use tokens::IssuedTokens;
use utoipa::ToSchema;
use uuid::Uuid;

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

#[derive(Debug, Serialize, ToSchema)]
pub struct SignupResponse {
    pub user: UserBody,
    pub account: AccountBody,
    pub workspace: WorkspaceBody,
}

/// Tokens, as every sign-in and exchange returns them.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// EdDSA-signed JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Opaque; exchange it for new tokens before `refresh_expires_in` runs out.
    pub refresh_token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Seconds until the refresh token expires.
    pub refresh_expires_in: i64,
    /// Space-separated permissions the tokens may be used for.
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<UserBody>,
}

impl TokenResponse {
    #[must_use]
    pub fn new(tokens: IssuedTokens, user: Option<User>) -> Self {
        Self {
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
            token_type: "Bearer",
            expires_in: tokens.expires_in,
            refresh_expires_in: tokens.refresh_expires_in,
            scope: tokens.scope,
            user: user.map(UserBody::from),
        }
    }
}

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

fn workspace_role_bodies(roles: &kernel::Roles) -> Vec<WorkspaceRoleBody> {
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

/// `POST /v1/auth`: exchange an API key for tokens.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ClientAuthRequest {
    #[schema(example = "ns_live_0193…_…")]
    pub api_key: String,
    /// Narrow the tokens to these permissions (within the key's and its owner's).
    #[schema(example = json!(["customers:read"]))]
    pub scopes: Option<Vec<String>>,
}

/// `POST /v1/auth/refresh`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageBody {
    #[schema(example = "Successfully logged out")]
    pub message: &'static str,
}

/// `GET /v1/auth/token`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShortLivedTokenResponse {
    /// An EdDSA JWT (`typ: st+jwt`) for the content API, without a refresh token.
    pub token: String,
    /// Seconds until it expires.
    pub expires_in: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateApiKeyRequest {
    #[schema(example = "CRM sync")]
    pub name: String,
    /// What the key may ever be exchanged for; absent: whatever its owner may do.
    pub scopes: Option<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    pub key_id: Uuid,
    /// Shown this once; only a digest is kept.
    pub api_key: String,
    pub name: String,
    pub scopes: Option<Vec<&'static str>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyBody {
    pub key_id: Uuid,
    pub name: String,
    pub scopes: Option<Vec<&'static str>>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// An API key of the account, as its administrators see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountApiKeyBody {
    pub key_id: Uuid,
    pub name: String,
    pub scopes: Option<Vec<&'static str>>,
    /// The key's owner.
    pub user_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<tokens::ApiKey> for AccountApiKeyBody {
    fn from(key: tokens::ApiKey) -> Self {
        Self {
            key_id: key.key_id,
            name: key.name,
            scopes: scope_list(key.scopes),
            user_id: key.user_id.as_uuid(),
            created_at: key.created_at,
            last_used_at: key.last_used_at,
        }
    }
}

/// One of the caller's live sessions.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionBody {
    pub id: Uuid,
    /// `login` (a person's sign-in), `api_key` (a key exchange) or `short_lived`.
    #[schema(example = "login")]
    pub kind: &'static str,
    pub created_at: DateTime<Utc>,
    /// When its tokens were last issued: its start or its latest refresh.
    pub last_seen_at: DateTime<Utc>,
    /// The address it was last seen from.
    #[schema(value_type = Option<String>)]
    pub ip: Option<std::net::IpAddr>,
    /// The country of its start, where a GeoIP database knows it.
    pub country: Option<String>,
    /// The API key it came from, by name.
    pub key_name: Option<String>,
    /// When it ends for good.
    pub expires_at: DateTime<Utc>,
    /// Whether this is the session of the token making the request.
    pub current: bool,
}

impl SessionBody {
    #[must_use]
    pub fn new(session: tokens::SessionSummary, current: kernel::SessionId) -> Self {
        Self {
            id: session.id.as_uuid(),
            kind: session.kind.as_str(),
            created_at: session.created_at,
            last_seen_at: session.last_seen_at,
            ip: session.ip,
            country: session.country,
            key_name: session.key_name,
            expires_at: session.expires_at,
            current: session.id == current,
        }
    }
}

fn scope_list(scopes: Option<kernel::PermissionSet>) -> Option<Vec<&'static str>> {
    scopes.map(|s| s.iter().map(kernel::Permission::as_str).collect())
}

impl From<tokens::ApiKey> for ApiKeyBody {
    fn from(key: tokens::ApiKey) -> Self {
        Self {
            key_id: key.key_id,
            name: key.name,
            scopes: scope_list(key.scopes),
            created_at: key.created_at,
            last_used_at: key.last_used_at,
        }
    }
}

impl CreatedApiKey {
    #[must_use]
    pub fn new(key: tokens::ApiKey, plaintext: String) -> Self {
        Self {
            key_id: key.key_id,
            api_key: plaintext,
            name: key.name,
            scopes: scope_list(key.scopes),
            created_at: key.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Jwk {
    #[schema(example = "OKP")]
    pub kty: &'static str,
    #[schema(example = "Ed25519")]
    pub crv: &'static str,
    pub x: String,
    pub kid: String,
    #[schema(example = "EdDSA")]
    pub alg: &'static str,
    #[serde(rename = "use")]
    #[schema(example = "sig")]
    pub use_: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthBody {
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// `POST /v1/me/password`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    /// 8 to 72 bytes.
    pub new_password: String,
}

/// One event of the audit trail.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventBody {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    #[schema(example = "login_failed")]
    pub event: String,
    pub user_id: Option<Uuid>,
    /// The API key involved, by id.
    pub client_id: Option<Uuid>,
    pub ip: Option<String>,
    pub country: Option<String>,
    pub success: bool,
    /// Why, who acted when not the user (`by`: `operator` for operator commands), and the
    /// user's failure counters at the time.
    pub detail: serde_json::Value,
}

impl From<identity::models::AuditRecord> for AuditEventBody {
    fn from(record: identity::models::AuditRecord) -> Self {
        Self {
            id: record.id,
            at: record.at,
            event: record.event,
            user_id: record.user_id.map(|u| u.as_uuid()),
            client_id: record.client_id,
            ip: record.ip.map(|ip| ip.to_string()),
            country: record.country,
            success: record.success,
            detail: serde_json::json!({
                "reason": record.reason,
                "by": record.by,
                "failed_signin_attempts": record.failed_signin_attempts,
                "failed_validation_attempts": record.failed_validation_attempts,
            }),
        }
    }
}

/// `POST /v1/auth/password-reset`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetRequest {
    pub email: String,
}

/// `POST /v1/auth/password-reset/confirm`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetConfirmRequest {
    pub email: String,
    /// The code from the reset email (`Code: …`).
    pub code: String,
    /// 8 to 72 bytes.
    pub new_password: String,
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

/// A TOTP code (activate, disable).
#[derive(Debug, Deserialize, ToSchema)]
pub struct CodeRequest {
    #[schema(example = "123456")]
    pub code: String,
}

/// TOTP setup, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct TotpSetupBody {
    /// Base32, for typing into an authenticator app.
    pub secret: String,
    /// `otpauth://totp/…` (RFC 6238, SHA1, 6 digits, 30 s), for a QR code.
    pub otpauth_url: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodesBody {
    /// Ten one-time codes that stand in for a TOTP code; shown this once.
    pub recovery_codes: Vec<String>,
}
