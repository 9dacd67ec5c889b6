//! Sessions: one per login or key exchange; every token it produces carries its id.

use chrono::{DateTime, Utc};
use kernel::{AccountId, SessionId, UserId};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionKind {
    Login,
    ApiKey,
}

impl SessionKind {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::ApiKey => "api_key",
        }
    }
}

/// A session to be stored, with the digest of its first refresh token.
#[derive(Clone, Debug)]
pub struct NewSession {
    pub id: SessionId,
    pub account_id: AccountId,
    pub user_id: UserId,
    pub kind: SessionKind,
    pub created_at: DateTime<Utc>,
    /// When the last refresh token of the session can no longer be used.
    pub expires_at: DateTime<Utc>,
    pub refresh_token_digest: [u8; 32],
}
