//! What an access token says, and the kinds of token that must never stand in for each other.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The kinds of signed token. Each has its own JOSE `typ`, checked on every verification, so a
/// token of one kind never passes where another is expected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// The bearer token of every protected endpoint (RFC 9068 `at+jwt`).
    Access,
    /// Proof of a correct password, pending the MFA step.
    Mfa,
    /// A short-lived token a backend fetched with its API key for its frontend; accepted by
    /// the content API, never by credential management.
    ShortLived,
}

impl TokenKind {
    #[must_use]
    pub const fn jose_type(self) -> &'static str {
        match self {
            Self::Access => "at+jwt",
            Self::Mfa => "mfa+jwt",
            Self::ShortLived => "st+jwt",
        }
    }
}

/// Claims of an access token, as api.md lists them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    /// The user.
    pub sub: Uuid,
    /// The user's account.
    pub acc: Uuid,
    /// The session the token descends from.
    pub sid: Uuid,
    /// Space-separated permissions the token may ever be used for.
    pub scope: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: Uuid,
}
