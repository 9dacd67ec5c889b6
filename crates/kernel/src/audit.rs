//! The audit trail's vocabulary: what happened, to whom, from where. Every domain that
//! authenticates someone writes these; the trail is append-only.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::ids::{AccountId, UserId};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthEventKind {
    Signup,
    LoginSucceeded,
    LoginFailed,
    Logout,
    ApiKeyCreated,
    ApiKeyDeleted,
    TokenExchanged,
    TokenExchangeFailed,
    TokenRefreshed,
    TokenRefreshFailed,
    RefreshTokenReused,
    ShortLivedTokenIssued,
    AccountLocked,
    PasswordChanged,
    RolesChanged,
    UserRemoved,
    UserInvited,
    PasswordResetRequested,
    PasswordReset,
    MfaEnabled,
    MfaDisabled,
    MfaFailed,
    /// An operator revoked every session of a user.
    SessionsRevoked,
    /// An operator added a token signing key.
    SigningKeyRotated,
    /// An operator listed the token signing keys.
    SigningKeysListed,
    /// A user ended one of their own sessions ("log out other devices").
    SessionEnded,
    /// A user's API keys were disabled for good (they lost the developer role).
    ApiKeysDisabled,
    /// A wrong current password at a password change (counted like a failed sign-in).
    PasswordChangeFailed,
}

impl AuthEventKind {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Signup => "signup",
            Self::LoginSucceeded => "login_succeeded",
            Self::LoginFailed => "login_failed",
            Self::Logout => "logout",
            Self::ApiKeyCreated => "api_key_created",
            Self::ApiKeyDeleted => "api_key_deleted",
            Self::TokenExchanged => "token_exchanged",
            Self::TokenExchangeFailed => "token_exchange_failed",
            Self::TokenRefreshed => "token_refreshed",
            Self::TokenRefreshFailed => "token_refresh_failed",
            Self::RefreshTokenReused => "refresh_token_reused",
            Self::ShortLivedTokenIssued => "short_lived_token_issued",
            Self::AccountLocked => "account_locked",
            Self::PasswordChanged => "password_changed",
            Self::RolesChanged => "roles_changed",
            Self::UserRemoved => "user_removed",
            Self::UserInvited => "user_invited",
            Self::PasswordResetRequested => "password_reset_requested",
            Self::PasswordReset => "password_reset",
            Self::MfaEnabled => "mfa_enabled",
            Self::MfaDisabled => "mfa_disabled",
            Self::MfaFailed => "mfa_failed",
            Self::SessionsRevoked => "sessions_revoked",
            Self::SigningKeyRotated => "signing_key_rotated",
            Self::SigningKeysListed => "signing_keys_listed",
            Self::SessionEnded => "session_ended",
            Self::ApiKeysDisabled => "api_keys_disabled",
            Self::PasswordChangeFailed => "password_change_failed",
        }
    }

    pub const ALL: [Self; 28] = [
        Self::Signup,
        Self::LoginSucceeded,
        Self::LoginFailed,
        Self::Logout,
        Self::ApiKeyCreated,
        Self::ApiKeyDeleted,
        Self::TokenExchanged,
        Self::TokenExchangeFailed,
        Self::TokenRefreshed,
        Self::TokenRefreshFailed,
        Self::RefreshTokenReused,
        Self::ShortLivedTokenIssued,
        Self::AccountLocked,
        Self::PasswordChanged,
        Self::RolesChanged,
        Self::UserRemoved,
        Self::UserInvited,
        Self::PasswordResetRequested,
        Self::PasswordReset,
        Self::MfaEnabled,
        Self::MfaDisabled,
        Self::MfaFailed,
        Self::SessionsRevoked,
        Self::SigningKeyRotated,
        Self::SigningKeysListed,
        Self::SessionEnded,
        Self::ApiKeysDisabled,
        Self::PasswordChangeFailed,
    ];

    /// The kind named `name`, if any.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// One line of the audit trail.
#[derive(Clone, Debug)]
pub struct AuthEvent {
    pub id: Uuid,
    /// `None` when the attempt named no known user or key.
    pub account_id: Option<AccountId>,
    pub at: DateTime<Utc>,
    pub kind: AuthEventKind,
    pub user_id: Option<UserId>,
    /// The API key involved, by id (never its secret).
    pub client_id: Option<Uuid>,
    pub ip: Option<IpAddr>,
    /// Where the IP was, when a GeoIP database knows (ISO country code, city name).
    pub country: Option<String>,
    pub city: Option<String>,
    pub success: bool,
    pub reason: Option<&'static str>,
    /// The user's consecutive failed sign-ins and failed code validations (MFA), after this event.
    pub failed_signin_attempts: i32,
    pub failed_validation_attempts: i32,
    /// Who acted, when not the user themselves: [`OPERATOR`] for the operator commands of the
    /// `nudgescribe` binary.
    pub by: Option<&'static str>,
    /// Further facts worth keeping with the event (e.g. the `kid` of a new signing key).
    pub details: Vec<(&'static str, String)>,
}

/// The actor marker of events caused by an operator command (`detail.by`).
pub const OPERATOR: &str = "operator";

impl AuthEvent {
    /// An event at `at`, about `who` (account, user) if known.
    #[must_use]
    pub fn new(
        kind: AuthEventKind,
        at: DateTime<Utc>,
        who: Option<(AccountId, UserId)>,
        success: bool,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            account_id: who.map(|(account, _)| account),
            at,
            kind,
            user_id: who.map(|(_, user)| user),
            client_id: None,
            ip: None,
            country: None,
            city: None,
            success,
            reason: None,
            failed_signin_attempts: 0,
            failed_validation_attempts: 0,
            by: None,
            details: Vec::new(),
        }
    }

    /// Marks the event as caused by an operator command, not by the user.
    #[must_use]
    pub fn by_operator(mut self) -> Self {
        self.by = Some(OPERATOR);
        self
    }

    /// Adds a fact to the event's detail.
    #[must_use]
    pub fn with_detail(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.details.push((key, value.into()));
        self
    }

    #[must_use]
    pub fn from_ip(mut self, ip: Option<IpAddr>) -> Self {
        self.ip = ip;
        self
    }

    #[must_use]
    pub fn with_client(mut self, client_id: Uuid) -> Self {
        self.client_id = Some(client_id);
        self
    }

    #[must_use]
    pub fn because(mut self, reason: &'static str) -> Self {
        self.reason = Some(reason);
        self
    }
}

/// The append-only audit trail, for an event that is its own unit of work (a refused attempt,
/// an operator's act). An event that goes with a change is written in that change's unit of
/// work by the domain's own transaction port instead, so that neither is kept without the other.
#[async_trait::async_trait]
pub trait AuditLog: Send + Sync + 'static {
    /// Appends `event` (in its account, or — naming none — in no account's trail).
    async fn record(&self, event: &AuthEvent) -> Result<(), crate::StoreError>;
}
