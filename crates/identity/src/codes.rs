//! One-time codes sent by email (invitations, password resets): 80 random bits as 20 hex
//! digits; only their SHA-256 digest is stored, compared in constant time.

use kernel::seal::{constant_time_eq, random_bytes, sha256};

use crate::error::IdentityError;

pub(crate) fn new_code() -> Result<String, IdentityError> {
    let bytes = random_bytes::<10>().map_err(|e| IdentityError::Internal(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

pub(crate) fn digest(code: &str) -> [u8; 32] {
    sha256(code.trim().to_ascii_lowercase().as_bytes())
}

pub(crate) fn matches(presented: &str, stored_digest: &[u8]) -> bool {
    constant_time_eq(&digest(presented), stored_digest)
}

impl crate::models::PendingCode {
    /// Whether `presented` redeems this code at `now`: unused, unexpired, matching.
    pub(crate) fn accepts(&self, presented: &str, now: chrono::DateTime<chrono::Utc>) -> bool {
        !self.used && self.expires_at > now && matches(presented, &self.code_digest)
    }
}
