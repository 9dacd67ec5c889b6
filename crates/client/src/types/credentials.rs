//! API keys and client tokens: request and response bodies.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `POST /v1/auth/keys`.
#[derive(Clone, Debug, Serialize)]
pub struct CreateApiKeyRequest {
    /// A name to recognise the key by.
    pub name: String,
    /// What the key may ever be exchanged for (always within its owner's permissions).
    ///
    /// `None`: the content permissions only — `customers:read`, `customers:write`,
    /// `campaigns:read`, `campaigns:write`, `messages:publish`, `messages:read` — and
    /// `users:read`. Account administration (`users:manage`, `account:manage`, `audit:read`)
    /// works for a key only when named here. `api_keys:manage` is never a key's: managing
    /// credentials (password, MFA, API keys, sessions) is for a person's sign-in only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
}

/// `POST /v1/auth/keys` → 201: the key, shown this once.
#[derive(Clone, Deserialize, Serialize)]
pub struct CreatedApiKey {
    /// The key's id.
    pub key_id: Uuid,
    /// `ns_live_…`: keep it secret; the server keeps only a digest.
    pub api_key: String,
    /// Its name.
    pub name: String,
    /// Its scopes: those asked for, or the defaults (see [`CreateApiKeyRequest::scopes`]).
    pub scopes: Option<Vec<String>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for CreatedApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedApiKey")
            .field("key_id", &self.key_id)
            .field("api_key", &"..")
            .field("name", &self.name)
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// `GET /v1/auth/keys`: a key, never its secret.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct ApiKey {
    /// The key's id.
    pub key_id: Uuid,
    /// Its name.
    pub name: String,
    /// Its scopes; `None` only for a key made before keys named them, which covers the
    /// defaults (see [`CreateApiKeyRequest::scopes`]).
    pub scopes: Option<Vec<String>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last exchanged (coalesced to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
}

/// `GET /v1/account/api-keys`: a key of the account with its owner, never its secret.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct AccountApiKey {
    /// The key's id.
    pub key_id: Uuid,
    /// Its name.
    pub name: String,
    /// Its scopes, as in [`ApiKey::scopes`].
    pub scopes: Option<Vec<String>>,
    /// The user who owns it.
    pub user_id: Uuid,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last exchanged (coalesced to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
}

/// How a session began.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    /// A person's sign-in (password, invitation, password reset).
    Login,
    /// An API key exchanged for tokens (`POST /v1/auth`).
    ApiKey,
    /// A short-lived token for a frontend (`GET /v1/auth/token`).
    ShortLived,
    /// A kind this version of the client does not know (a newer server).
    #[serde(other)]
    Other,
}

/// `GET /v1/me/sessions`: one of the caller's live sessions.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Session {
    /// The session's id, for [`Client::end_session`](crate::Client::end_session).
    pub id: Uuid,
    /// How it began.
    pub kind: SessionKind,
    /// When it began.
    pub created_at: DateTime<Utc>,
    /// When its tokens were last issued: its start or its latest refresh.
    pub last_seen_at: DateTime<Utc>,
    /// The address it was last seen from, when known.
    pub ip: Option<String>,
    /// The country of its start, where the server's GeoIP database knows it.
    pub country: Option<String>,
    /// The API key it came from, by name (for `api_key` and `short_lived` sessions).
    pub key_name: Option<String>,
    /// When it ends for good: refreshes never move this.
    pub expires_at: DateTime<Utc>,
    /// Whether this is the session of the token that asked.
    pub current: bool,
}

/// `GET /v1/auth/token`: a short-lived access token for a frontend, without a refresh token.
#[derive(Clone, Deserialize, Serialize)]
pub struct ShortLivedToken {
    /// An EdDSA JWT (`typ: st+jwt`).
    pub token: String,
    /// Seconds until it expires.
    pub expires_in: i64,
}

impl std::fmt::Debug for ShortLivedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShortLivedToken")
            .field("token", &"..")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// One public key of `GET /.well-known/jwks.json`.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Jwk {
    /// `OKP`.
    pub kty: String,
    /// `Ed25519`.
    pub crv: String,
    /// The public key, base64url.
    pub x: String,
    /// The key id, as in a token's `kid` header.
    pub kid: String,
    /// `EdDSA`.
    pub alg: String,
    /// `sig`.
    #[serde(rename = "use")]
    pub use_: String,
}

/// `GET /.well-known/jwks.json`.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct JwkSet {
    /// Every key that verifies a token still valid.
    pub keys: Vec<Jwk>,
}
