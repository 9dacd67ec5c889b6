//! One-time codes sent by email (invitations, password resets, address verification): 80
//! random bits as 20 hex digits; only their SHA-256 digest is stored, compared in constant
//! time. The redemption rule (matching, unexpired, used once) is here and nowhere else.

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

impl crate::models::NewCode {
    /// The code of `kind` for `user`, issued at `now`, valid until `expires_at`: only its digest.
    pub(crate) fn for_user(
        kind: crate::models::CodeKind,
        user: &crate::models::User,
        code: &str,
        now: chrono::DateTime<chrono::Utc>,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        Self {
            kind,
            user_id: user.id,
            account_id: user.account_id,
            code_digest: digest(code),
            created_at: now,
            expires_at,
        }
    }
}

impl crate::service::IdentityService {
    /// Redeems the code held in `tx` with `presented` at `now`: accepted (see
    /// [`crate::models::PendingCode::accepts`]), it is used up, once — `tx` holds it, so a
    /// concurrent redemption waits and then finds it used. Returns whether it was accepted.
    pub(crate) async fn redeem(
        &self,
        tx: &mut dyn crate::ports::Redemption,
        presented: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, IdentityError> {
        if !tx
            .code()
            .await?
            .is_some_and(|code| code.accepts(presented, now))
        {
            return Ok(false);
        }
        tx.mark_used(now).await?;
        Ok(true)
    }
}

impl crate::service::IdentityService {
    /// Redeems the emailed code of `kind` of the user with `email` and sets `password`: the
    /// code is checked before the (slow) hashing, so that no unit of work waits for it, and
    /// again — held — in the unit of work that uses it up. Returns that unit of work, for the
    /// caller to finish and commit, and the user; `None` when the code is not accepted.
    pub(crate) async fn redeem_with_password(
        &self,
        kind: crate::models::CodeKind,
        email: &kernel::EmailAddress,
        presented: &str,
        password: &crate::models::Password,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<(Box<dyn crate::ports::Redemption>, crate::models::User)>, IdentityError>
    {
        let Some(pending) = self
            .codes()
            .find(kind, email)
            .await?
            .filter(|p| p.accepts(presented, now))
        else {
            return Ok(None);
        };
        let hash = self
            .hasher()
            .hash(password.expose())
            .await
            .map_err(IdentityError::from)?;
        let user = pending.user;
        let mut tx = self
            .codes()
            .begin_redemption(kind, user.account_id, user.id)
            .await?;
        if !self.redeem(tx.as_mut(), presented, now).await? {
            tx.commit().await?;
            return Ok(None);
        }
        tx.set_password(&hash, now).await?;
        Ok(Some((tx, user)))
    }
}
