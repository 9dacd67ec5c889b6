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

/// The key that signs new tokens, and every public key that still verifies old ones.
pub struct KeyRing {
    signer_kid: String,
    signer: EncodingKey,
    verifiers: HashMap<String, DecodingKey>,
    jwks: Vec<PublicJwk>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("signer_kid", &self.signer_kid)
            .field("verifiers", &self.verifiers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl KeyRing {
    /// A ring that signs with `signer` and verifies with it and every key in `published`.
    #[must_use]
    pub fn new(signer: &SigningKey, published: &[StoredSigningKey]) -> Self {
        let mut verifiers = HashMap::new();
        let mut jwks = Vec::new();
        let signer_public = (signer.kid.clone(), signer.public);
        for (kid, public) in std::iter::once(signer_public).chain(
            published
                .iter()
                .filter(|k| k.kid != signer.kid)
                .map(|k| (k.kid.clone(), k.public_key)),
        ) {
            let x = URL_SAFE_NO_PAD.encode(public);
            verifiers.insert(kid.clone(), DecodingKey::from_ed_der(&public));
            jwks.push(PublicJwk {
                kty: "OKP",
                crv: "Ed25519",
                x,
                kid,
                alg: "EdDSA",
                use_: "sig",
            });
        }
        Self {
            signer_kid: signer.kid.clone(),
            signer: EncodingKey::from_ed_der(&signer.pkcs8),
            verifiers,
            jwks,
        }
    }

    #[must_use]
    pub fn signer_kid(&self) -> &str {
        &self.signer_kid
    }

    pub(crate) fn signer(&self) -> &EncodingKey {
        &self.signer
    }

    pub(crate) fn verifier(&self, kid: &str) -> Option<&DecodingKey> {
        self.verifiers.get(kid)
    }

    /// The public keys, signer first.
    #[must_use]
    pub fn jwks(&self) -> &[PublicJwk] {
        &self.jwks
    }
}

#[cfg(test)]
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
            &[new.public_record(Utc::now()), old.public_record(Utc::now())],
        );
        let kids: Vec<&str> = ring.jwks().iter().map(|k| k.kid.as_str()).collect();
        assert_eq!(kids, vec![new.kid(), old.kid()]);
        assert_eq!(ring.signer_kid(), new.kid());
        Ok(())
    }
}
