//! Sessions: one per login, key exchange or short-lived token; every token it produces carries
//! its id as `sid`, and revoking it stops them all.

use chrono::{DateTime, Utc};
use kernel::{AccountId, SessionId, UserId};
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
    /// When the session, and its last refresh token, can no longer be used.
    pub expires_at: DateTime<Utc>,
    pub refresh_token_digest: Option<[u8; 32]>,
}
