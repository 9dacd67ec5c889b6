//! Tokens: Ed25519 signing keys and their JWKS, access-token claims and their verification,
//! sessions and their revocation, opaque refresh tokens with rotation and reuse detection,
//! API keys and their exchange, and short-lived tokens for frontends.
//!
//! Knows nothing of HTTP or SQL: storage comes through the ports in [`ports`], and every rule
//! of the token model is [`TokenService`]'s.

pub mod api_key;
pub mod bootstrap;
pub mod claims;
pub mod error;
mod exchange;
pub mod issuer;
mod key_management;
pub mod keys;
pub mod ports;
pub mod refresh;
mod rotation;
pub mod service;
pub mod session;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use api_key::ApiKey;
pub use bootstrap::{KeyOrigin, list_signing_keys, load_key_ring, rotate_signing_key};
pub use claims::{AccessClaims, TokenKind};
pub use error::TokenError;
pub use issuer::{IssuedTokens, SessionClaims, TokenIssuer, TokenSettings};
pub use keys::{KeyRing, SigningKey};
pub use refresh::RefreshToken;
pub use service::{MfaTicket, TokenPolicy, TokenService};
pub use session::{LiveSession, NewSession, SessionKind, SessionSummary};
