//! Opaque refresh tokens: 256 random bits shown once, stored only as a SHA-256 digest.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kernel::seal::{random_bytes, sha256};

use crate::TokenError;

const PREFIX: &str = "nsr_";

/// A freshly minted refresh token: the secret for the client and the digest for the store.
pub struct RefreshToken {
    pub secret: String,
    pub digest: [u8; 32],
}

impl std::fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshToken(..)")
    }
}

impl RefreshToken {
    pub fn generate() -> Result<Self, TokenError> {
        let secret = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(random_bytes::<32>()?));
        let digest = sha256(secret.as_bytes());
        Ok(Self { secret, digest })
    }

    /// The digest a presented token is looked up by.
    #[must_use]
    pub fn digest_of(presented: &str) -> [u8; 32] {
        sha256(presented.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_distinct_and_digest_consistently() -> Result<(), TokenError> {
        let a = RefreshToken::generate()?;
        let b = RefreshToken::generate()?;
        assert_ne!(a.secret, b.secret);
        assert!(a.secret.starts_with(PREFIX));
        assert_eq!(a.secret.len(), PREFIX.len() + 43);
        assert_eq!(RefreshToken::digest_of(&a.secret), a.digest);
        Ok(())
    }
}
