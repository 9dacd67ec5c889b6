//! Choosing the signing key at start-up: the configured one, else the newest stored key this
//! server can open, else a new one (generated once, even when several instances start at once).

use chrono::{DateTime, Utc};
use kernel::SealingKey;

use crate::TokenError;
use crate::keys::{KeyRing, SigningKey};
use crate::ports::{SigningKeyStore, StoredSigningKey};

/// Where the signing key came from; a generated one deserves a warning in the logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyOrigin {
    Configured { kid: String },
    Stored { kid: String },
    Generated { kid: String },
}

fn newest_openable(keys: &[StoredSigningKey], master: &SealingKey) -> Option<SigningKey> {
    keys.iter()
        .filter(|k| k.retired_at.is_none() && k.private_key_sealed.is_some())
        .find_map(|k| SigningKey::unseal(k, master).ok())
}

/// The key ring this server signs and verifies with.
pub async fn load_key_ring(
    store: &dyn SigningKeyStore,
    master: &SealingKey,
    configured: Option<SigningKey>,
    now: DateTime<Utc>,
) -> Result<(KeyRing, KeyOrigin), TokenError> {
    if let Some(key) = configured {
        // Publish its public half so that other instances verify what it signs.
        store.add_signing_key(&key.public_record(now)).await?;
        let keys = store.signing_keys().await?;
        let origin = KeyOrigin::Configured {
            kid: key.kid().to_owned(),
        };
        return Ok((KeyRing::new(&key, &keys), origin));
    }

    let keys = store.signing_keys().await?;
    if let Some(key) = newest_openable(&keys, master) {
        let origin = KeyOrigin::Stored {
            kid: key.kid().to_owned(),
        };
        return Ok((KeyRing::new(&key, &keys), origin));
    }

    let generated = SigningKey::generate()?;
    let sealed = generated.seal(master, now)?;
    let keys = store.add_first_signing_key(&sealed).await?;
    if let Some(key) = newest_openable(&keys, master) {
        let origin = if key.kid() == generated.kid() {
            KeyOrigin::Generated {
                kid: key.kid().to_owned(),
            }
        } else {
            KeyOrigin::Stored {
                kid: key.kid().to_owned(),
            }
        };
        return Ok((KeyRing::new(&key, &keys), origin));
    }

    // Keys exist but none opens under this master key (it was lost or replaced): start a new
    // one. Tokens signed before keep verifying, since public halves are stored in clear.
    store.add_signing_key(&sealed).await?;
    let keys = store.signing_keys().await?;
    let origin = KeyOrigin::Generated {
        kid: generated.kid().to_owned(),
    };
    Ok((KeyRing::new(&generated, &keys), origin))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use kernel::StoreError;

    use super::*;

    #[derive(Default)]
    struct MemoryKeys(Mutex<Vec<StoredSigningKey>>);

    impl MemoryKeys {
        fn all(&self) -> Vec<StoredSigningKey> {
            let mut keys = self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            keys.reverse();
            keys
        }
    }

    #[async_trait]
    impl SigningKeyStore for MemoryKeys {
        async fn signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError> {
            Ok(self.all())
        }

        async fn add_signing_key(&self, key: &StoredSigningKey) -> Result<(), StoreError> {
            let mut keys = self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if !keys.iter().any(|k| k.kid == key.kid) {
                keys.push(key.clone());
            }
            Ok(())
        }

        async fn add_first_signing_key(
            &self,
            key: &StoredSigningKey,
        ) -> Result<Vec<StoredSigningKey>, StoreError> {
            {
                let mut keys = self
                    .0
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if !keys
                    .iter()
                    .any(|k| k.retired_at.is_none() && k.private_key_sealed.is_some())
                {
                    keys.push(key.clone());
                }
            }
            Ok(self.all())
        }
    }

    fn master(byte: u8) -> SealingKey {
        SealingKey::from_bytes(&[byte; 32]).unwrap_or_else(|e| panic!("{e}"))
    }

    #[tokio::test]
    async fn generates_once_then_reuses_the_stored_key() -> Result<(), TokenError> {
        let store = MemoryKeys::default();
        let (_, first) = load_key_ring(&store, &master(1), None, Utc::now()).await?;
        let (_, second) = load_key_ring(&store, &master(1), None, Utc::now()).await?;
        let KeyOrigin::Generated { kid } = first else {
            panic!("expected a generated key, got {first:?}");
        };
        assert_eq!(second, KeyOrigin::Stored { kid });
        assert_eq!(store.all().len(), 1);
        Ok(())
    }

    #[tokio::test]
    async fn a_lost_master_key_starts_a_new_signing_key_and_keeps_the_old_public_one()
    -> Result<(), TokenError> {
        let store = MemoryKeys::default();
        let (_, first) = load_key_ring(&store, &master(1), None, Utc::now()).await?;
        let (ring, second) = load_key_ring(&store, &master(2), None, Utc::now()).await?;
        assert!(matches!(second, KeyOrigin::Generated { .. }));
        assert_ne!(first, second);
        assert_eq!(ring.jwks().len(), 2, "the old key still verifies");
        Ok(())
    }

    #[tokio::test]
    async fn a_configured_key_wins_and_is_published() -> Result<(), TokenError> {
        let store = MemoryKeys::default();
        let key = SigningKey::generate()?;
        let kid = key.kid().to_owned();
        let (ring, origin) = load_key_ring(&store, &master(1), Some(key), Utc::now()).await?;
        assert_eq!(origin, KeyOrigin::Configured { kid: kid.clone() });
        assert_eq!(ring.signer_kid(), kid);
        let stored = store.all();
        assert_eq!(stored.len(), 1);
        assert!(
            stored[0].private_key_sealed.is_none(),
            "the private half stays outside"
        );
        Ok(())
    }
}
