//! API keys: `ns_live_<key id>_<secret>`, 256 secret bits from the OS RNG, shown once, stored
//! only as a SHA-256 digest and compared in constant time.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use kernel::seal::{constant_time_eq, random_bytes, sha256};
use kernel::{AccountId, PermissionSet, UserId};
use uuid::Uuid;

use crate::TokenError;

const PREFIX: &str = "ns_live_";
const SECRET_CHARS: usize = 43;

/// A new key: the text the client receives once, and what the store keeps.
pub struct GeneratedApiKey {
    pub key_id: Uuid,
    pub plaintext: String,
    pub digest: [u8; 32],
}

impl std::fmt::Debug for GeneratedApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedApiKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl GeneratedApiKey {
    pub fn generate() -> Result<Self, TokenError> {
        let key_id = Uuid::now_v7();
        let secret = URL_SAFE_NO_PAD.encode(random_bytes::<32>()?);
        Ok(Self {
            key_id,
            plaintext: format!("{PREFIX}{}_{secret}", key_id.simple()),
            digest: sha256(secret.as_bytes()),
        })
    }
}

/// A key as presented by a client, split into its id and the digest of its secret.
#[derive(Clone, Copy)]
pub struct PresentedApiKey {
    pub key_id: Uuid,
    digest: [u8; 32],
}

impl std::fmt::Debug for PresentedApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresentedApiKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl PresentedApiKey {
    /// `None` for anything not shaped like a key (so no lookup is made for it).
    #[must_use]
    pub fn parse(presented: &str) -> Option<Self> {
        let rest = presented.trim().strip_prefix(PREFIX)?;
        let (id, secret) = rest.split_once('_')?;
        if id.len() != 32 || secret.len() != SECRET_CHARS {
            return None;
        }
        let key_id = Uuid::try_parse(id).ok()?;
        Some(Self {
            key_id,
            digest: sha256(secret.as_bytes()),
        })
    }

    /// Whether the secret matches the stored digest, in constant time.
    #[must_use]
    pub fn matches(&self, stored_digest: &[u8]) -> bool {
        constant_time_eq(&self.digest, stored_digest)
    }
}

/// A key as listed (never with its secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    pub key_id: Uuid,
    pub account_id: AccountId,
    pub user_id: UserId,
    pub name: String,
    /// What the key may ever be exchanged for; `None`: whatever its owner may do.
    pub scopes: Option<PermissionSet>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_parses_back_and_matches() -> Result<(), TokenError> {
        let key = GeneratedApiKey::generate()?;
        assert!(key.plaintext.starts_with("ns_live_"));
        let presented =
            PresentedApiKey::parse(&key.plaintext).ok_or(TokenError::Invalid("parse"))?;
        assert_eq!(presented.key_id, key.key_id);
        assert!(presented.matches(&key.digest));
        Ok(())
    }

    #[test]
    fn another_secret_does_not_match() -> Result<(), TokenError> {
        let key = GeneratedApiKey::generate()?;
        let other = GeneratedApiKey::generate()?;
        // The secret is base64url, which may itself contain `_`: cut by position.
        let other_secret = &other.plaintext[PREFIX.len() + 33..];
        let forged = format!("{PREFIX}{}_{other_secret}", key.key_id.simple());
        let presented = PresentedApiKey::parse(&forged).ok_or(TokenError::Invalid("parse"))?;
        assert!(!presented.matches(&key.digest));
        Ok(())
    }

    #[test]
    fn malformed_keys_do_not_parse() {
        for bad in [
            "",
            "ns_live_",
            "ns_live_abc_def",
            "sk_live_0123",
            "ns_live_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ] {
            assert!(PresentedApiKey::parse(bad).is_none(), "{bad}");
        }
    }
}
