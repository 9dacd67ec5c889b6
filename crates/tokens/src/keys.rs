//! Ed25519 signing keys, identified by their RFC 7638 thumbprint, and the key ring that signs
//! with the newest and verifies with every key still published.

use std::collections::HashMap;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use jsonwebtoken::{DecodingKey, EncodingKey};
use kernel::SealingKey;
use kernel::seal::sha256;
use serde::Serialize;

use crate::TokenError;
use crate::ports::StoredSigningKey;

/// A private Ed25519 key with its id.
pub struct SigningKey {
    kid: String,
    /// PKCS#8 v2 DER.
    pkcs8: Vec<u8>,
    public: [u8; 32],
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    pub fn generate() -> Result<Self, TokenError> {
        let pair = Ed25519KeyPair::generate()
            .map_err(|_| TokenError::Key("could not generate an Ed25519 key".into()))?;
        Self::from_pair(&pair)
    }

    /// From PKCS#8 DER (v1, as `openssl genpkey` writes it, or v2).
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, TokenError> {
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map_err(|e| TokenError::Key(format!("not an Ed25519 PKCS#8 key: {e}")))?;
        Self::from_pair(&pair)
    }

    /// From a PEM `PRIVATE KEY` block (`openssl genpkey -algorithm ed25519`).
    pub fn from_pem(pem: &str) -> Result<Self, TokenError> {
        let body: String = pem
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with("-----"))
            .collect();
        let der = STANDARD
            .decode(body)
            .map_err(|_| TokenError::Key("the PEM key is not valid base64".into()))?;
        Self::from_pkcs8(&der)
    }

    fn from_pair(pair: &Ed25519KeyPair) -> Result<Self, TokenError> {
        let pkcs8 = pair
            .to_pkcs8()
            .map_err(|_| TokenError::Key("could not encode the key".into()))?;
        let mut public = [0u8; 32];
        public.copy_from_slice(pair.public_key().as_ref());
        Ok(Self {
            kid: thumbprint(&public),
            pkcs8: pkcs8.as_ref().to_vec(),
            public,
        })
    }

    #[must_use]
    pub fn kid(&self) -> &str {
        &self.kid
    }

    #[must_use]
    pub fn public_key(&self) -> [u8; 32] {
        self.public
    }

    /// The form the store keeps: the private half sealed under the master key, bound to its kid.
    pub fn seal(
        &self,
        master: &SealingKey,
        created_at: DateTime<Utc>,
    ) -> Result<StoredSigningKey, TokenError> {
        Ok(StoredSigningKey {
            kid: self.kid.clone(),
            public_key: self.public,
            private_key_sealed: Some(master.seal(&self.pkcs8, &associated_data(&self.kid))?),
            created_at,
            activates_at: created_at,
            retired_at: None,
        })
    }

    /// Opens a stored key; refuses one whose contents do not match its kid.
    pub fn unseal(stored: &StoredSigningKey, master: &SealingKey) -> Result<Self, TokenError> {
        let sealed = stored
            .private_key_sealed
            .as_deref()
            .ok_or_else(|| TokenError::Key(format!("key {} has no private half", stored.kid)))?;
        let key = Self::from_pkcs8(&master.open(sealed, &associated_data(&stored.kid))?)?;
        if key.kid == stored.kid {
            Ok(key)
        } else {
            Err(TokenError::Key(format!(
                "key {} does not match its id",
                stored.kid
            )))
        }
    }

    /// The public form for the store, without the private half.
    #[must_use]
    pub fn public_record(&self, created_at: DateTime<Utc>) -> StoredSigningKey {
        StoredSigningKey {
            kid: self.kid.clone(),
            public_key: self.public,
            private_key_sealed: None,
            created_at,
            activates_at: created_at,
            retired_at: None,
        }
    }
}

fn associated_data(kid: &str) -> Vec<u8> {
    format!("nudgescribe/signing-key/{kid}").into_bytes()
}

/// RFC 7638 JWK thumbprint of an Ed25519 public key (RFC 8037 §2).
fn thumbprint(public: &[u8; 32]) -> String {
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(public)
    );
    URL_SAFE_NO_PAD.encode(sha256(canonical.as_bytes()))
}

/// One public key as the JWKS publishes it (RFC 8037 OKP).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PublicJwk {
    pub kty: &'static str,
    pub crv: &'static str,
    pub x: String,
    pub kid: String,
    pub alg: &'static str,
    #[serde(rename = "use")]
    pub use_: &'static str,
}

struct Signer {
    kid: String,
    activates_at: DateTime<Utc>,
    key: EncodingKey,
}

/// The keys that sign new tokens (the newest active one signs), and every public key that
/// still verifies tokens in circulation.
pub struct KeyRing {
    /// Newest activation first.
    signers: Vec<Signer>,
    verifiers: HashMap<String, DecodingKey>,
    jwks: Vec<PublicJwk>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field(
                "signers",
                &self.signers.iter().map(|s| &s.kid).collect::<Vec<_>>(),
            )
            .field("verifiers", &self.verifiers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl KeyRing {
    /// A ring that signs with `signer` and verifies with it and every key in `published` that
    /// carries no retirement, whatever their ages: for tests and tools that hold one key. It
    /// reads no clock; a server assembles its ring at the clock's time with
    /// [`KeyRing::assemble`].
    #[must_use]
    pub fn new(signer: &SigningKey, published: &[StoredSigningKey]) -> Self {
        // At the end of time every retirement has happened, every key is active, and no
        // lifetime has run out (`MAX` never ends).
        Self::assemble(
            &[(signer, DateTime::<Utc>::MIN_UTC)],
            published,
            DateTime::<Utc>::MAX_UTC,
            chrono::Duration::MAX,
        )
    }

    /// A ring from the private keys this server holds (with their activation times) and the
    /// stored keys. A stored key is published until `max_token_lifetime` after a newer key
    /// took over from it: by then no token it signed is still valid.
    #[must_use]
    pub fn assemble(
        private: &[(&SigningKey, DateTime<Utc>)],
        published: &[StoredSigningKey],
        now: DateTime<Utc>,
        max_token_lifetime: chrono::Duration,
    ) -> Self {
        let mut signers: Vec<Signer> = private
            .iter()
            .map(|(key, activates_at)| Signer {
                kid: key.kid.clone(),
                activates_at: *activates_at,
                key: EncodingKey::from_ed_der(&key.pkcs8),
            })
            .collect();
        signers.sort_by_key(|s| std::cmp::Reverse(s.activates_at));

        let mut by_activation: Vec<(String, [u8; 32], DateTime<Utc>)> = published
            .iter()
            .filter(|k| k.retired_at.is_none_or(|retired| retired > now))
            .map(|k| (k.kid.clone(), k.public_key, k.activates_at))
            .collect();
        for (key, activates_at) in private {
            if !by_activation.iter().any(|(kid, _, _)| *kid == key.kid) {
                by_activation.push((key.kid.clone(), key.public, *activates_at));
            }
        }
        by_activation.sort_by_key(|k| std::cmp::Reverse(k.2));
        let current_signer = signers
            .iter()
            .find(|s| s.activates_at <= now)
            .or_else(|| signers.last())
            .map(|s| s.kid.clone());
        let mut verifiers = HashMap::new();
        let mut jwks = Vec::new();
        // Walking newest first: a key is superseded when the next newer key became active.
        let mut newer_active_since: Option<DateTime<Utc>> = None;
        for (kid, public, activates_at) in by_activation {
            let still_verifying = newer_active_since.is_none_or(|since| {
                since
                    .checked_add_signed(max_token_lifetime)
                    .is_none_or(|end| end > now)
            });
            if still_verifying || current_signer.as_deref() == Some(kid.as_str()) {
                verifiers.insert(kid.clone(), DecodingKey::from_ed_der(&public));
                jwks.push(PublicJwk {
                    kty: "OKP",
                    crv: "Ed25519",
                    x: URL_SAFE_NO_PAD.encode(public),
                    kid,
                    alg: "EdDSA",
                    use_: "sig",
                });
            }
            if activates_at <= now && newer_active_since.is_none() {
                newer_active_since = Some(activates_at);
            }
        }
        Self {
            signers,
            verifiers,
            jwks,
        }
    }

    /// The key that signs at `now`: the newest one already active (or, if none is yet, the
    /// first to become active).
    fn signer_at(&self, now: DateTime<Utc>) -> Option<&Signer> {
        self.signers
            .iter()
            .find(|s| s.activates_at <= now)
            .or_else(|| self.signers.last())
    }

    #[must_use]
    pub fn signer_kid(&self, now: DateTime<Utc>) -> Option<&str> {
        self.signer_at(now).map(|s| s.kid.as_str())
    }

    pub(crate) fn signer(&self, now: DateTime<Utc>) -> Option<(&str, &EncodingKey)> {
        self.signer_at(now).map(|s| (s.kid.as_str(), &s.key))
    }

    pub(crate) fn verifier(&self, kid: &str) -> Option<&DecodingKey> {
        self.verifiers.get(kid)
    }

    /// The public keys, newest first.
    #[must_use]
    pub fn jwks(&self) -> &[PublicJwk] {
        &self.jwks
    }
}

#[cfg(test)]
#[allow(
    clippy::disallowed_methods,
    reason = "tests start from the real time and move on from it"
)]
mod tests {
    use super::*;

    fn master() -> SealingKey {
        SealingKey::from_bytes(&[3u8; 32]).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn kid_is_the_rfc7638_thumbprint() -> Result<(), TokenError> {
        // RFC 8037 appendix A.1 / A.3: the thumbprint of its example public key.
        let public = URL_SAFE_NO_PAD
            .decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
            .map_err(|e| TokenError::Key(e.to_string()))?;
        let mut key = [0u8; 32];
        key.copy_from_slice(&public);
        assert_eq!(
            thumbprint(&key),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
        Ok(())
    }

    #[test]
    fn sealed_keys_open_only_under_their_kid() -> Result<(), TokenError> {
        let key = SigningKey::generate()?;
        let mut stored = key.seal(&master(), Utc::now())?;
        let opened = SigningKey::unseal(&stored, &master())?;
        assert_eq!(opened.kid(), key.kid());
        stored.kid = "another".into();
        assert!(SigningKey::unseal(&stored, &master()).is_err());
        Ok(())
    }

    #[test]
    fn reads_openssl_pem_keys() -> Result<(), TokenError> {
        // RFC 8037 A.1's private key as `openssl genpkey -algorithm ed25519` writes it (PKCS#8 v1).
        let pem = "-----BEGIN PRIVATE KEY-----\n\
                   MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n\
                   -----END PRIVATE KEY-----\n";
        let key = SigningKey::from_pem(pem)?;
        assert_eq!(key.kid(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
        Ok(())
    }

    #[test]
    fn the_ring_publishes_the_signer_and_older_keys() -> Result<(), TokenError> {
        let old = SigningKey::generate()?;
        let new = SigningKey::generate()?;
        let ring = KeyRing::new(
            &new,
            &[old.public_record(Utc::now() - chrono::Duration::hours(1))],
        );
        let mut kids: Vec<&str> = ring.jwks().iter().map(|k| k.kid.as_str()).collect();
        kids.sort_unstable();
        let mut expected = vec![new.kid(), old.kid()];
        expected.sort_unstable();
        assert_eq!(kids, expected);
        assert_eq!(ring.signer_kid(Utc::now()), Some(new.kid()));
        Ok(())
    }

    #[test]
    fn a_rotated_key_signs_from_its_activation_and_the_old_one_verifies_until_its_tokens_expire()
    -> Result<(), TokenError> {
        let t0 = Utc::now();
        let lifetime = chrono::Duration::days(14);
        let old = SigningKey::generate()?;
        let new = SigningKey::generate()?;
        let old_record = old.public_record(t0 - chrono::Duration::days(30));
        let mut new_record = new.public_record(t0);
        new_record.activates_at = t0 + chrono::Duration::seconds(60);
        let records = [new_record.clone(), old_record.clone()];
        let private = [
            (&old, old_record.activates_at),
            (&new, new_record.activates_at),
        ];

        let before = KeyRing::assemble(&private, &records, t0, lifetime);
        assert_eq!(
            before.signer_kid(t0),
            Some(old.kid()),
            "the new key waits for its activation"
        );
        assert_eq!(before.jwks().len(), 2, "but verifies already");
        let after = t0 + chrono::Duration::seconds(61);
        assert_eq!(before.signer_kid(after), Some(new.kid()));

        let ring = KeyRing::assemble(
            &private,
            &records,
            t0 + chrono::Duration::days(13),
            lifetime,
        );
        assert_eq!(
            ring.jwks().len(),
            2,
            "tokens of the old key may still be valid"
        );
        let ring = KeyRing::assemble(
            &private,
            &records,
            t0 + chrono::Duration::days(15),
            lifetime,
        );
        let kids: Vec<&str> = ring.jwks().iter().map(|k| k.kid.as_str()).collect();
        assert_eq!(
            kids,
            vec![new.kid()],
            "the old key's last token has expired"
        );
        Ok(())
    }
}
