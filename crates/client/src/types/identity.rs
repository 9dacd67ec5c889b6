//! Identity: request and response bodies.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// `POST /v1/signup`.
#[derive(Clone, Debug, Serialize)]
pub struct SignupRequest {
    /// The owner's email (also their sign-in).
    pub email: String,
    /// 8 to 72 bytes.
    pub password: String,
    /// The owner's name.
    pub full_name: String,
    /// The company's name.
    pub account_name: String,
}

/// A user, as the API shows them.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct User {
    /// The user's id.
    pub id: Uuid,
    /// The account the user belongs to.
    pub account_id: Uuid,
    /// Lower-cased email.
    pub email: String,
    /// The user's name.
    pub full_name: String,
    /// When the user was created.
    pub created_at: DateTime<Utc>,
}

/// An account (a company, a tenant).
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Account {
    /// The account's id.
    pub id: Uuid,
    /// The account's name.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A workspace of an account.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Workspace {
    /// The workspace's id.
    pub id: Uuid,
    /// Its account.
    pub account_id: Uuid,
    /// Its name.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// `POST /v1/signup` → 201.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct SignupResponse {
    /// The new owner.
    pub user: User,
    /// The new account.
    pub account: Account,
    /// Its default workspace.
    pub workspace: Workspace,
}

/// Tokens, as every sign-in, exchange and refresh returns them.
#[derive(Clone, Deserialize, Serialize)]
pub struct Tokens {
    /// EdDSA-signed JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Opaque; rotates on every use (the old one is retired at once).
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Seconds until the refresh token expires — never beyond the session's end (a session
    /// ends at most the refresh TTL after it began; refreshes do not extend it).
    pub refresh_expires_in: i64,
    /// Space-separated permissions the tokens carry.
    pub scope: String,
    /// The user, after a login (not after a key exchange or refresh).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
}

impl std::fmt::Debug for Tokens {
    // Tokens are credentials: never in a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("access_token", &"..")
            .field("refresh_token", &"..")
            .field("expires_in", &self.expires_in)
            .field("refresh_expires_in", &self.refresh_expires_in)
            .field("scope", &self.scope)
            .field("user", &self.user)
            .finish()
    }
}

/// `POST /v1/auth/login`: the tokens, or — with MFA on — the token for the MFA step.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(untagged)]
pub enum LoginResponse {
    /// With MFA on: send a code with [`MfaRequired::mfa_token`] to `POST /v1/auth/login/mfa`.
    /// (Listed first: its `mfa_required` field tells it apart.)
    MfaRequired(MfaRequired),
    /// Signed in.
    Tokens(Tokens),
}

/// The first factor passed; the second is due.
#[derive(Clone, Deserialize, Serialize)]
pub struct MfaRequired {
    /// Always `true`.
    pub mfa_required: bool,
    /// Proof of the password step, for `POST /v1/auth/login/mfa`.
    pub mfa_token: String,
    /// Seconds the MFA token stays valid.
    pub expires_in: i64,
}

impl std::fmt::Debug for MfaRequired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaRequired")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// A workspace role held by a user.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct WorkspaceRole {
    /// The workspace.
    pub workspace_id: Uuid,
    /// `manager`, `editor` or `viewer`.
    pub role: String,
}

/// `GET /v1/me`.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Me {
    /// The caller.
    pub user: User,
    /// The caller's account.
    pub account: Account,
    /// `owner`, `admin`, `developer`, `member`.
    pub account_roles: Vec<String>,
    /// Roles per workspace.
    pub workspace_roles: Vec<WorkspaceRole>,
    /// Effective account-wide permissions.
    pub permissions: Vec<String>,
    /// Whether TOTP is on.
    pub mfa_enabled: bool,
}

/// A user of the account with their roles (`GET /v1/users`).
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Member {
    /// The user's id.
    pub id: Uuid,
    /// Their account.
    pub account_id: Uuid,
    /// Their email.
    pub email: String,
    /// Their name.
    pub full_name: String,
    /// When they were created.
    pub created_at: DateTime<Utc>,
    /// Account roles.
    pub account_roles: Vec<String>,
    /// Workspace roles.
    pub workspace_roles: Vec<WorkspaceRole>,
}

/// A workspace role to assign.
#[derive(Clone, Debug, Serialize)]
pub struct WorkspaceRoleRequest {
    /// The workspace.
    pub workspace_id: Uuid,
    /// `manager`, `editor` or `viewer`.
    pub role: String,
}

/// `POST /v1/users`: invite a user (an invitation code is emailed).
#[derive(Clone, Debug, Serialize)]
pub struct InviteRequest {
    /// Their email.
    pub email: String,
    /// Their name.
    pub full_name: String,
    /// `admin`, `developer`, `member`.
    pub account_roles: Vec<String>,
    /// Roles per workspace.
    pub workspace_roles: Vec<WorkspaceRoleRequest>,
}

/// `PUT /v1/users/{user_id}/roles`.
#[derive(Clone, Debug, Serialize)]
pub struct RoleAssignment {
    /// `admin`, `developer`, `member` (owners keep `owner`).
    pub account_roles: Vec<String>,
    /// Roles per workspace.
    pub workspace_roles: Vec<WorkspaceRoleRequest>,
}

/// `POST /v1/me/mfa/totp/setup`: shown once.
#[derive(Clone, Deserialize, Serialize)]
pub struct TotpSetup {
    /// Base32, for typing into an authenticator app.
    pub secret: String,
    /// `otpauth://totp/…`, for a QR code.
    pub otpauth_url: String,
}

impl std::fmt::Debug for TotpSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSetup { .. }")
    }
}

/// `POST /v1/me/mfa/totp/activate`: ten one-time codes, shown once.
#[derive(Clone, Deserialize, Serialize)]
pub struct RecoveryCodes {
    /// Each stands in for a TOTP code once.
    pub recovery_codes: Vec<String>,
}

impl std::fmt::Debug for RecoveryCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryCodes { .. }")
    }
}

/// `{"message": …}` answers (logout).
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct MessageResponse {
    /// What happened.
    pub message: String,
}

/// One event of the audit trail.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct AuditEvent {
    /// The event's id.
    pub id: Uuid,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// `login_succeeded`, `token_refreshed`, …
    pub event: String,
    /// The user concerned.
    pub user_id: Option<Uuid>,
    /// The API key involved.
    pub client_id: Option<Uuid>,
    /// The client's IP.
    pub ip: Option<String>,
    /// ISO country of the IP, when known.
    pub country: Option<String>,
    /// Whether the attempt succeeded.
    pub success: bool,
    /// Why, and the user's failure counters at the time.
    pub detail: Value,
}

/// Filters of `GET /v1/audit-events`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct AuditQuery {
    /// Only events of this name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// Only events about this user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Uuid>,
}
