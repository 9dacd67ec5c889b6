//! Choosing the signing key at start-up: the configured one, else the newest stored key this
//! server can open, else a new one (generated once, even when several instances start at once).

use chrono::{DateTime, Duration, Utc};
use kernel::{AuthEvent, AuthEventKind, SealingKey};

use crate::TokenError;
use crate::keys::{KeyRing, SigningKey};
use crate::ports::{KeysAccess, SigningKeyStore, StoredSigningKey};

/// Where the signing key came from; a generated one deserves a warning in the logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyOrigin {
    Configured { kid: String },
    Stored { kid: String },
    Generated { kid: String },
}

/// Every stored key this server can open (unretired, sealed under `master`), with its
/// activation time.
fn openable(keys: &[StoredSigningKey], master: &SealingKey) -> Vec<(SigningKey, DateTime<Utc>)> {
    keys.iter()
        .filter(|k| k.retired_at.is_none() && k.private_key_sealed.is_some())
        .filter_map(|k| {
            SigningKey::unseal(k, master)
                .ok()
                .map(|key| (key, k.activates_at))
        })
        .collect()
}

fn ring_of(
    private: &[(SigningKey, DateTime<Utc>)],
    keys: &[StoredSigningKey],
    now: DateTime<Utc>,
    max_token_lifetime: Duration,
) -> KeyRing {
    let private: Vec<(&SigningKey, DateTime<Utc>)> =
        private.iter().map(|(k, at)| (k, *at)).collect();
    KeyRing::assemble(&private, keys, now, max_token_lifetime)
}

/// The key ring this server signs and verifies with. Called at start-up and again whenever
/// the stored keys change (a rotation on any instance).
pub async fn load_key_ring(
    store: &dyn SigningKeyStore,
    master: &SealingKey,
    configured: Option<&SigningKey>,
    now: DateTime<Utc>,
    max_token_lifetime: Duration,
) -> Result<(KeyRing, KeyOrigin), TokenError> {
    if let Some(key) = configured {
        // Publish its public half so that other instances verify what it signs.
        let mut tx = store.begin(KeysAccess::Shared).await?;
        tx.add(&key.public_record(now)).await?;
        let keys = tx.keys().await?;
        tx.commit().await?;
        let ring = KeyRing::assemble(
            &[(key, DateTime::<Utc>::MIN_UTC)],
            &keys,
            now,
            max_token_lifetime,
        );
        let origin = KeyOrigin::Configured {
            kid: key.kid().to_owned(),
        };
        return Ok((ring, origin));
    }

    // Exclusive: an instance that finds no key it can open generates one, and one that starts
    // at the same moment waits, then finds that key.
    let mut tx = store.begin(KeysAccess::Exclusive).await?;
    let mut keys = tx.keys().await?;
    let mut private = openable(&keys, master);
    let generated = private.is_empty();
    if generated {
        // None yet, or none opens under this master key (it was lost or replaced): start a new
        // one. Tokens signed before keep verifying: public halves are stored in clear.
        let key = SigningKey::generate()?;
        let sealed = key.seal(master, now)?;
        tx.add(&sealed).await?;
        keys.insert(0, sealed);
        private.push((key, now));
    }
    tx.commit().await?;
    let ring = ring_of(&private, &keys, now, max_token_lifetime);
    let kid = ring.signer_kid(now).unwrap_or_default().to_owned();
    let origin = if generated {
        KeyOrigin::Generated { kid }
    } else {
        KeyOrigin::Stored { kid }
    };
    Ok((ring, origin))
}

/// Adds a new signing key that every instance verifies at once and signs with from
/// `now + activate_in` — long enough for every instance to have reloaded its keys.
pub async fn rotate_signing_key(
    store: &dyn SigningKeyStore,
    master: &SealingKey,
    now: DateTime<Utc>,
    activate_in: Duration,
) -> Result<StoredSigningKey, TokenError> {
    let key = SigningKey::generate()?;
    let mut sealed = key.seal(master, now)?;
    sealed.activates_at = now + activate_in;
    // Keys are global: the event names no account, so only operators see it.
    let event = AuthEvent::new(AuthEventKind::SigningKeyRotated, now, None, true)
        .by_operator()
        .with_detail("kid", sealed.kid.clone())
        .with_detail("activates_at", sealed.activates_at.to_rfc3339());
    let mut tx = store.begin(KeysAccess::Shared).await?;
    tx.add(&sealed).await?;
    tx.record(&event).await?;
    tx.commit().await?;
    Ok(sealed)
}

/// Every signing key, newest first, for an operator — who is recorded as having looked
/// (`signing_keys_listed`, `detail.by = "operator"`).
pub async fn list_signing_keys(
    store: &dyn SigningKeyStore,
    now: DateTime<Utc>,
) -> Result<Vec<StoredSigningKey>, TokenError> {
    let mut tx = store.begin(KeysAccess::Shared).await?;
    let keys = tx.keys().await?;
    let event = AuthEvent::new(AuthEventKind::SigningKeysListed, now, None, true)
        .by_operator()
        .with_detail("keys", keys.len().to_string());
    tx.record(&event).await?;
    tx.commit().await?;
    Ok(keys)
}

#[cfg(test)]
#[allow(
    clippy::disallowed_methods,
    reason = "tests start from the real time and move on from it"
)]
mod tests {
    use std::sync::Arc;

    use async_trait::async_trait;
    use kernel::StoreError;

    use super::*;
    use crate::ports::SigningKeyTx;

    /// The keys as a plain list, oldest first; a unit of work edits a copy of it, kept when it
    /// commits. Exclusive units are serialised by the list's lock being held throughout.
    #[derive(Default)]
    struct MemoryKeys(Arc<tokio::sync::Mutex<Vec<StoredSigningKey>>>);

    impl MemoryKeys {
        fn all(&self) -> Vec<StoredSigningKey> {
            let mut keys = self.0.try_lock().map(|k| k.clone()).unwrap_or_default();
            keys.reverse();
            keys
        }
    }

    struct MemoryKeysTx {
        held: tokio::sync::OwnedMutexGuard<Vec<StoredSigningKey>>,
        keys: Vec<StoredSigningKey>,
    }

    #[async_trait]
    impl SigningKeyStore for MemoryKeys {
        async fn begin(&self, _access: KeysAccess) -> Result<Box<dyn SigningKeyTx>, StoreError> {
            let held = Arc::clone(&self.0).lock_owned().await;
            let keys = held.clone();
            Ok(Box::new(MemoryKeysTx { held, keys }))
        }
    }

    #[async_trait]
    impl SigningKeyTx for MemoryKeysTx {
        async fn keys(&mut self) -> Result<Vec<StoredSigningKey>, StoreError> {
            Ok(self.keys.iter().rev().cloned().collect())
        }

        async fn add(&mut self, key: &StoredSigningKey) -> Result<(), StoreError> {
            if !self.keys.iter().any(|k| k.kid == key.kid) {
                self.keys.push(key.clone());
            }
            Ok(())
        }

        async fn record(&mut self, _event: &kernel::AuthEvent) -> Result<(), StoreError> {
            Ok(())
        }

        async fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
            *self.held = std::mem::take(&mut self.keys);
            Ok(())
        }
    }

    const LIFETIME: Duration = Duration::days(14);

    #[tokio::test]
    async fn a_rotation_publishes_at_once_and_signs_after_activation() -> Result<(), TokenError> {
        let store = MemoryKeys::default();
        let now = Utc::now();
        let (_, first) = load_key_ring(&store, &master(1), None, now, LIFETIME).await?;
        let rotated = rotate_signing_key(&store, &master(1), now, Duration::seconds(30)).await?;
        let (ring, origin) = load_key_ring(&store, &master(1), None, now, LIFETIME).await?;
        assert_eq!(ring.jwks().len(), 2);
        assert_eq!(
            origin,
            KeyOrigin::Stored {
                kid: match first {
                    KeyOrigin::Generated { kid } => kid,
                    other => panic!("{other:?}"),
                }
            }
        );
        assert_eq!(
            ring.signer_kid(now + Duration::seconds(31)),
            Some(rotated.kid.as_str())
        );
        Ok(())
    }

    fn master(byte: u8) -> SealingKey {
        SealingKey::from_bytes(&[byte; 32]).unwrap_or_else(|e| panic!("{e}"))
    }

    #[tokio::test]
    async fn generates_once_then_reuses_the_stored_key() -> Result<(), TokenError> {
        let store = MemoryKeys::default();
        let (_, first) = load_key_ring(&store, &master(1), None, Utc::now(), LIFETIME).await?;
        let (_, second) = load_key_ring(&store, &master(1), None, Utc::now(), LIFETIME).await?;
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
        let (_, first) = load_key_ring(&store, &master(1), None, Utc::now(), LIFETIME).await?;
        let (ring, second) = load_key_ring(&store, &master(2), None, Utc::now(), LIFETIME).await?;
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
        let (ring, origin) =
            load_key_ring(&store, &master(1), Some(&key), Utc::now(), LIFETIME).await?;
        assert_eq!(origin, KeyOrigin::Configured { kid: kid.clone() });
        assert_eq!(ring.signer_kid(Utc::now()), Some(kid.as_str()));
        let stored = store.all();
        assert_eq!(stored.len(), 1);
        assert!(
            stored[0].private_key_sealed.is_none(),
            "the private half stays outside"
        );
        Ok(())
    }
}
