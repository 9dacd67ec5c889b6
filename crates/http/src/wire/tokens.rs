//! Tokens, API keys, sessions and the JWKS.

use chrono::{DateTime, Utc};
use identity::User;
use serde::{Deserialize, Serialize};
use tokens::IssuedTokens;
use utoipa::ToSchema;
use uuid::Uuid;

use super::identity::UserBody;

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
