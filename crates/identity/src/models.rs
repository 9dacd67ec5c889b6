//! Identity's types. Inputs are validated into these at the service boundary, so an invalid
//! password or name cannot exist past it.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use kernel::{AccountId, EmailAddress, PermissionSet, Roles, UserId, WorkspaceId};
use tokens::IssuedTokens;

use crate::error::FieldError;

/// A password as typed: 8..=72 bytes, since bcrypt ignores what lies past 72.
#[derive(Clone)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

impl Password {
    pub const MIN_BYTES: usize = 8;
    pub const MAX_BYTES: usize = 72;

    pub fn parse(raw: String) -> Result<Self, String> {
        match raw.len() {
            n if n < Self::MIN_BYTES => {
                Err(format!("must be at least {} bytes long", Self::MIN_BYTES))
            }
            n if n > Self::MAX_BYTES => Err(format!(
                "must be at most {} bytes long (bcrypt ignores anything longer)",
                Self::MAX_BYTES
            )),
            _ => Ok(Self(raw)),
        }
    }

    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A display name (account, workspace or person): trimmed, 1..=200 characters.
pub(crate) fn parse_name(
    field: &'static str,
    raw: &str,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let trimmed = raw.trim();
    let length = trimmed.chars().count();
    if length == 0 || length > 200 {
        errors.push(FieldError::new(
            field,
            "must be between 1 and 200 characters",
        ));
        return None;
    }
    if trimmed.chars().any(char::is_control) {
        errors.push(FieldError::new(
            field,
            "must not contain control characters",
        ));
        return None;
    }
    Some(trimmed.to_owned())
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub account_id: AccountId,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub account_id: AccountId,
    pub email: EmailAddress,
    pub full_name: String,
    pub created_at: DateTime<Utc>,
}

/// `POST /v1/signup`, as received.
#[derive(Clone, Debug)]
pub struct SignupInput {
    pub email: String,
    pub password: String,
    pub full_name: String,
    pub account_name: String,
    /// Where the sign-up came from (limited per address); `None` for an operator's.
    pub ip: Option<IpAddr>,
}

/// A new account with its owner and default workspace, ready to be stored.
#[derive(Clone, Debug)]
pub struct NewAccount {
    pub account: Account,
    pub owner: User,
    pub password_hash: String,
    pub workspace: Workspace,
}

#[derive(Clone, Debug)]
pub struct SignupOutcome {
    pub user: User,
    pub account: Account,
    pub workspace: Workspace,
}

/// `POST /v1/auth/login`, as received, with where it came from.
#[derive(Clone, Debug)]
pub struct LoginInput {
    pub email: String,
    pub password: String,
    pub ip: Option<IpAddr>,
}

/// A user's stored password hash, found by email on the anonymous path.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub user: User,
    pub password_hash: Option<String>,
    /// Consecutive failed sign-ins since the last success or lockout.
    pub failed_signin_attempts: i32,
    pub locked_until: Option<DateTime<Utc>>,
    /// TOTP is on: a password alone does not sign in.
    pub mfa_enabled: bool,
}

/// The counters behind the sign-in lockout, as stored for a user.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SignInFailures {
    /// Consecutive wrong passwords since the last success or lockout.
    pub signins: i32,
    /// Consecutive wrong second-factor codes since the last success or lockout.
    pub validations: i32,
    /// Sign-in is refused until then.
    pub locked_until: Option<DateTime<Utc>>,
}

/// The outcome of counting one more failed sign-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailedSignin {
    pub attempts: i32,
    /// Set when this failure locked the account.
    pub locked_until: Option<DateTime<Utc>>,
}

/// One line of the audit trail, as `GET /v1/audit-events` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    pub id: uuid::Uuid,
    pub at: DateTime<Utc>,
    pub event: String,
    pub user_id: Option<UserId>,
    pub client_id: Option<uuid::Uuid>,
    pub ip: Option<IpAddr>,
    pub country: Option<String>,
    pub success: bool,
    pub failed_signin_attempts: i32,
    pub failed_validation_attempts: i32,
    pub reason: Option<String>,
    /// Who acted when not the user: `operator` for the operator commands.
    pub by: Option<String>,
}

/// Which audit events to list: newest first, filtered, one page (`page.after` continues with
/// the events strictly older than its key).
#[derive(Clone, Debug)]
pub struct AuditQuery {
    pub event: Option<String>,
    pub user_id: Option<UserId>,
    pub page: PageRequest,
}

pub use kernel::{Keyset, Page, PageRequest};

#[derive(Clone, Debug)]
pub struct LoginOutcome {
    pub tokens: IssuedTokens,
    pub user: User,
}

/// What `GET /v1/me` shows.
#[derive(Clone, Debug)]
pub struct Profile {
    pub user: User,
    pub account: Account,
    pub roles: Roles,
    pub permissions: PermissionSet,
    pub mfa_enabled: bool,
    /// Whether the user has proven their email address.
    pub email_verified: bool,
}

/// The stored facts of a caller, as [`crate::ports::AccountStore::caller`] reads them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallerRecord {
    pub user: User,
    pub account: Account,
    pub email_verified: bool,
    pub mfa_enabled: bool,
}

/// A user with the roles they hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub user: User,
    pub roles: Roles,
}

/// `PUT /v1/users/{id}/roles`, as received.
#[derive(Clone, Debug)]
pub struct RoleAssignment {
    pub account_roles: Vec<String>,
    pub workspace_roles: Vec<(String, String)>,
}

/// `POST /v1/users`, as received.
#[derive(Clone, Debug)]
pub struct InviteInput {
    pub email: String,
    pub full_name: String,
    pub roles: RoleAssignment,
}

/// The kinds of one-time code sent by email. Each user has at most one open code of each kind;
/// a new one replaces it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CodeKind {
    /// Sets an invited user's first password.
    Invitation,
    /// Sets a new password for a user who forgot theirs.
    PasswordReset,
    /// Proves the user's email address.
    EmailVerification,
}

/// A one-time code to be stored: only the digest of its code.
#[derive(Clone, Debug)]
pub struct NewCode {
    pub kind: CodeKind,
    pub user_id: UserId,
    pub account_id: AccountId,
    pub code_digest: [u8; 32],
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A one-time code waiting for its user (an invitation, a password reset, an address to
/// prove), as the path that redeems it finds it.
#[derive(Clone, Debug)]
pub struct PendingCode {
    pub user: User,
    pub code_digest: Vec<u8>,
    pub expires_at: DateTime<Utc>,
    /// Redeemed already (accepted, used).
    pub used: bool,
}

/// `POST /v1/invitations/accept`, as received.
#[derive(Clone, Debug)]
pub struct AcceptInput {
    pub email: String,
    pub code: String,
    pub password: String,
    pub ip: Option<IpAddr>,
}

/// `POST /v1/auth/password-reset/confirm`, as received.
#[derive(Clone, Debug)]
pub struct ResetConfirmation {
    pub email: String,
    pub code: String,
    pub new_password: String,
    pub ip: Option<IpAddr>,
}

/// Where a sign-in stands after the password (or a reset code) was accepted.
#[derive(Clone, Debug)]
pub enum LoginStep {
    Complete(LoginOutcome),
    /// MFA is on: `POST /v1/auth/login/mfa` with this token and a code completes it.
    MfaRequired {
        mfa_token: String,
        expires_in: i64,
    },
}

/// A user's TOTP, as stored.
#[derive(Clone, Debug)]
pub struct MfaRecord {
    /// The secret, sealed under the master key (bound to the user).
    pub secret_sealed: Vec<u8>,
    pub enabled: bool,
    pub last_used_step: Option<i64>,
}

/// What TOTP setup shows, once: the secret for an authenticator app.
#[derive(Clone)]
pub struct TotpSetup {
    pub secret: String,
    pub otpauth_url: String,
}

impl std::fmt::Debug for TotpSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSetup(..)")
    }
}
