//! Choosing the signing key at start-up: the configured one, else the newest stored key this
//! server can open, else a new one (generated once, even when several instances start at once).

use chrono::{DateTime, Duration, Utc};
use kernel::{AuthEvent, AuthEventKind, SealingKey};

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
        store.add_signing_key(&key.public_record(now)).await?;
        let keys = store.signing_keys().await?;
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

    let keys = store.signing_keys().await?;
    let private = openable(&keys, master);
    if !private.is_empty() {
        let ring = ring_of(&private, &keys, now, max_token_lifetime);
        let kid = ring.signer_kid(now).unwrap_or_default().to_owned();
        return Ok((ring, KeyOrigin::Stored { kid }));
    }

    let generated = SigningKey::generate()?;
    let sealed = generated.seal(master, now)?;
    let keys = store.add_first_signing_key(&sealed).await?;
    let mut private = openable(&keys, master);
    if private.is_empty() {
        // Keys exist but none opens under this master key (it was lost or replaced): start a
        // new one. Tokens signed before keep verifying: public halves are stored in clear.
        store.add_signing_key(&sealed).await?;
        private.push((generated, now));
    }
    let keys = store.signing_keys().await?;
    let ring = ring_of(&private, &keys, now, max_token_lifetime);
    let kid = ring.signer_kid(now).unwrap_or_default().to_owned();
    let origin = if kid == sealed.kid {
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
    store.add_rotated_signing_key(&sealed, &event).await?;
    Ok(sealed)
}

/// Every signing key, newest first, for an operator — who is recorded as having looked
/// (`signing_keys_listed`, `detail.by = "operator"`).
pub async fn list_signing_keys(
    store: &dyn SigningKeyStore,
    now: DateTime<Utc>,
) -> Result<Vec<StoredSigningKey>, TokenError> {
    let keys = store.signing_keys().await?;
    let event = AuthEvent::new(AuthEventKind::SigningKeysListed, now, None, true)
        .by_operator()
        .with_detail("keys", keys.len().to_string());
    store.record_event(&event).await?;
    Ok(keys)
}

#[cfg(test)]
#[allow(
    clippy::disallowed_methods,
    reason = "tests start from the real time and move on from it"
)]
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

        async fn record_event(&self, _event: &kernel::AuthEvent) -> Result<(), StoreError> {
            Ok(())
        }

        async fn add_rotated_signing_key(
            &self,
            key: &StoredSigningKey,
            _event: &kernel::AuthEvent,
        ) -> Result<(), StoreError> {
            self.add_signing_key(key).await
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
