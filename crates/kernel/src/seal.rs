//! Sealing secrets at rest: AES-256-GCM with a fresh random nonce per seal and associated data
//! that binds a ciphertext to what it belongs to (a row copied elsewhere does not open).
//!
//! Sealed layout: `version (1) || nonce (12) || ciphertext || tag (16)`.
//! Random 96-bit nonces are safe here because each key seals few values (signing keys, TOTP
//! secrets, wrapped data keys); bulk encryption uses per-workspace data keys.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

const VERSION: u8 = 1;
pub const KEY_LEN: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("a sealing key must be {KEY_LEN} bytes (base64-encoded)")]
    BadKey,
    #[error("the sealed value is damaged, or was sealed under another key or for another owner")]
    CannotOpen,
    #[error("the operating system's random source failed")]
    Rng,
}

/// A 256-bit key that seals and opens values.
pub struct SealingKey(LessSafeKey);

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(..)")
    }
}

impl SealingKey {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SealError> {
        if bytes.len() != KEY_LEN {
            return Err(SealError::BadKey);
        }
        let key = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| SealError::BadKey)?;
        Ok(Self(LessSafeKey::new(key)))
    }

    pub fn from_base64(encoded: &str) -> Result<Self, SealError> {
        let bytes = STANDARD
            .decode(encoded.trim())
            .map_err(|_| SealError::BadKey)?;
        Self::from_bytes(&bytes)
    }

    /// Fresh key material from the OS random source, base64-encoded.
    pub fn generate_base64() -> Result<String, SealError> {
        Ok(STANDARD.encode(random_bytes::<KEY_LEN>()?))
    }

    pub fn seal(&self, plaintext: &[u8], associated_data: &[u8]) -> Result<Vec<u8>, SealError> {
        let nonce_bytes = random_bytes::<NONCE_LEN>()?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + plaintext.len() + 16);
        out.push(VERSION);
        out.extend_from_slice(&nonce_bytes);
        let mut in_out = plaintext.to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(associated_data),
                &mut in_out,
            )
            .map_err(|_| SealError::CannotOpen)?;
        out.extend_from_slice(&in_out);
        Ok(out)
    }

    pub fn open(&self, sealed: &[u8], associated_data: &[u8]) -> Result<Vec<u8>, SealError> {
        let (&version, rest) = sealed.split_first().ok_or(SealError::CannotOpen)?;
        if version != VERSION || rest.len() < NONCE_LEN {
            return Err(SealError::CannotOpen);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::CannotOpen)?;
        let mut in_out = ciphertext.to_vec();
        let plaintext = self
            .0
            .open_in_place(nonce, Aad::from(associated_data), &mut in_out)
            .map_err(|_| SealError::CannotOpen)?;
        Ok(plaintext.to_vec())
    }
}

/// `N` bytes from the operating system's random source.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], SealError> {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| SealError::Rng)?;
    Ok(bytes)
}

/// SHA-256 of `data`: how opaque secrets (refresh tokens, API key secrets, codes) are stored.
#[must_use]
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// Compares two secrets in time that does not depend on where they differ.
#[must_use]
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SealingKey {
        SealingKey::from_bytes(&[7u8; KEY_LEN]).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn round_trips_with_the_same_associated_data() -> Result<(), SealError> {
        let sealed = key().seal(b"secret", b"owner-1")?;
        assert_ne!(&sealed[13..19], b"secret");
        assert_eq!(key().open(&sealed, b"owner-1")?, b"secret");
        Ok(())
    }

    #[test]
    fn refuses_other_associated_data_keys_and_tampering() -> Result<(), SealError> {
        let sealed = key().seal(b"secret", b"owner-1")?;
        assert_eq!(key().open(&sealed, b"owner-2"), Err(SealError::CannotOpen));
        let other = SealingKey::from_bytes(&[8u8; KEY_LEN])?;
        assert_eq!(other.open(&sealed, b"owner-1"), Err(SealError::CannotOpen));
        let mut tampered = sealed.clone();
        if let Some(last) = tampered.last_mut() {
            *last ^= 1;
        }
        assert_eq!(
            key().open(&tampered, b"owner-1"),
            Err(SealError::CannotOpen)
        );
        assert_eq!(key().open(&[], b"owner-1"), Err(SealError::CannotOpen));
        Ok(())
    }

    #[test]
    fn nonces_differ_between_seals() -> Result<(), SealError> {
        assert_ne!(key().seal(b"x", b"")?, key().seal(b"x", b"")?);
        Ok(())
    }

    #[test]
    fn keys_must_be_32_bytes() {
        assert_eq!(
            SealingKey::from_base64("c2hvcnQ=").err(),
            Some(SealError::BadKey)
        );
        assert!(
            SealingKey::from_base64(&SealingKey::generate_base64().unwrap_or_default()).is_ok()
        );
    }

    #[test]
    fn sha256_matches_the_known_vector() {
        let hex: String = sha256(b"abc").iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
