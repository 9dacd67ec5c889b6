//! Tokens: Ed25519 signing keys and their JWKS, access-token claims and their verification,
//! sessions, and opaque refresh tokens.
//!
//! Knows nothing of HTTP or SQL: keys are persisted through the [`ports::SigningKeyStore`] port.

pub mod bootstrap;
pub mod claims;
pub mod error;
pub mod issuer;
pub mod keys;
pub mod ports;
pub mod refresh;
pub mod session;

pub use bootstrap::{KeyOrigin, load_key_ring};
pub use claims::{AccessClaims, TokenKind};
pub use error::TokenError;
pub use issuer::{IssuedTokens, TokenIssuer, TokenSettings};
pub use keys::{KeyRing, SigningKey};
pub use refresh::RefreshToken;
pub use session::{NewSession, SessionKind};
