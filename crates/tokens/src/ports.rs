//! What the tokens domain needs from the outside world.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kernel::StoreError;

/// A signing key as persisted: public half in clear, private half sealed under the master key
/// (or absent when the key is held outside the store).
#[derive(Clone, Debug)]
pub struct StoredSigningKey {
    pub kid: String,
    pub public_key: [u8; 32],
    pub private_key_sealed: Option<Vec<u8>>,
    pub created_at: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait SigningKeyStore: Send + Sync + 'static {
    /// Every key, newest first.
    async fn signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError>;

    /// Stores a key. MUST succeed without change when a key with the same `kid` already exists
    /// (two instances starting at once may both try).
    async fn add_signing_key(&self, key: &StoredSigningKey) -> Result<(), StoreError>;

    /// Stores `key` only if no unretired key with a private half exists yet, atomically with
    /// respect to other callers (two instances starting on an empty database agree on one
    /// key). Returns every key afterwards, newest first.
    async fn add_first_signing_key(
        &self,
        key: &StoredSigningKey,
    ) -> Result<Vec<StoredSigningKey>, StoreError>;
}
