//! Sessions: one per login, key exchange or short-lived token; every token it produces carries
//! its id as `sid`, and revoking it stops them all.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use kernel::{AccountId, CredentialKind, Roles, SessionId, UserId};
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionKind {
    Login,
    ApiKey,
    ShortLived,
}

impl SessionKind {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::ApiKey => "api_key",
            Self::ShortLived => "short_lived",
        }
    }

    /// The credential kind of the session's access tokens.
    #[must_use]
    pub const fn credential(self) -> CredentialKind {
        match self {
            Self::Login => CredentialKind::HumanSession,
            Self::ApiKey => CredentialKind::ApiKeySession,
            Self::ShortLived => CredentialKind::ShortLived,
        }
    }

    #[must_use]
    pub fn parse(stored: &str) -> Option<Self> {
        [Self::Login, Self::ApiKey, Self::ShortLived]
            .into_iter()
            .find(|k| k.as_str() == stored)
    }
}

/// A session to be stored, with the digest of its first refresh token (if it has one).
#[derive(Clone, Debug)]
pub struct NewSession {
    pub id: SessionId,
    pub account_id: AccountId,
    pub user_id: UserId,
    pub kind: SessionKind,
    /// The scope every token of the session carries (space-separated permissions).
    pub scope: String,
    /// The API key the session was exchanged for.
    pub api_key_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    /// When the session ends for good: no refresh extends it.
    pub expires_at: DateTime<Utc>,
    pub refresh_token_digest: Option<[u8; 32]>,
    /// When the first refresh token can no longer be used (at most `expires_at`).
    pub refresh_expires_at: DateTime<Utc>,
    /// Where the session began (shown to its owner).
    pub ip: Option<IpAddr>,
    pub country: Option<String>,
}

/// A session found live on an authenticated request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveSession {
    pub kind: SessionKind,
    /// The user's roles right now.
    pub roles: Roles,
}

/// One of a user's live sessions, as `GET /v1/me/sessions` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionSummary {
    pub id: SessionId,
    pub kind: SessionKind,
    pub created_at: DateTime<Utc>,
    /// When its tokens were last issued (its start or its latest refresh).
    pub last_seen_at: DateTime<Utc>,
    pub ip: Option<IpAddr>,
    pub country: Option<String>,
    /// The API key it was exchanged for, by name.
    pub key_name: Option<String>,
    pub expires_at: DateTime<Utc>,
}
