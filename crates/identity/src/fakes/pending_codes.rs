//! [`PendingCodes`] in memory.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kernel::{AccountId, AuthEvent, EmailAddress, SealedEmail, StoreError, UserId};

use super::{MemoryStore, MemoryTx, StoredCode};
use crate::models::{CodeKind, NewCode, PendingCode};
use crate::ports::{PendingCodes, Redemption};

#[async_trait]
impl PendingCodes for MemoryStore {
    async fn issue(
        &self,
        code: &NewCode,
        email: &SealedEmail,
        event: Option<&AuthEvent>,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        state.codes.insert(
            (code.kind, code.user_id),
            StoredCode {
                digest: code.code_digest,
                expires_at: code.expires_at,
                used: false,
            },
        );
        state.outbox.push(email.clone());
        state.events.extend(event.cloned());
        Ok(())
    }

    async fn find(
        &self,
        kind: CodeKind,
        email: &EmailAddress,
    ) -> Result<Option<PendingCode>, StoreError> {
        if kind == CodeKind::EmailVerification {
            return Ok(None);
        }
        let state = self.state();
        Ok(state
            .users
            .values()
            .find(|(u, _, _)| &u.email == email)
            .and_then(|(user, _, _)| {
                let code = state.codes.get(&(kind, user.id))?;
                Some(pending(user, code))
            }))
    }

    async fn begin_redemption(
        &self,
        kind: CodeKind,
        _account: AccountId,
        user: UserId,
    ) -> Result<Box<dyn Redemption>, StoreError> {
        Ok(Box::new(self.unit(user, Some(kind))))
    }
}

fn pending(user: &crate::models::User, code: &StoredCode) -> PendingCode {
    PendingCode {
        user: user.clone(),
        code_digest: code.digest.to_vec(),
        expires_at: code.expires_at,
        used: code.used,
    }
}

impl MemoryTx {
    fn kind(&self) -> Result<CodeKind, StoreError> {
        self.kind
            .ok_or_else(|| StoreError::Other("not a redemption".into()))
    }
}

#[async_trait]
impl Redemption for MemoryTx {
    async fn code(&mut self) -> Result<Option<PendingCode>, StoreError> {
        let key = (self.kind()?, self.user);
        let state = self.state();
        let Some((user, _, _)) = state.users.get(&self.user) else {
            return Ok(None);
        };
        Ok(state.codes.get(&key).map(|code| pending(user, code)))
    }

    async fn mark_used(&mut self, _at: DateTime<Utc>) -> Result<(), StoreError> {
        let key = (self.kind()?, self.user);
        let mut state = self.state();
        if key.0 == CodeKind::EmailVerification {
            state.codes.remove(&key);
        } else if let Some(code) = state.codes.get_mut(&key) {
            code.used = true;
        }
        Ok(())
    }

    async fn set_password(
        &mut self,
        password_hash: &str,
        _at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let user = self.user;
        if let Some((_, hash, _)) = self.state().users.get_mut(&user) {
            *hash = Some(password_hash.to_owned());
        }
        Ok(())
    }

    async fn mark_email_verified(&mut self, _at: DateTime<Utc>) -> Result<(), StoreError> {
        let user = self.user;
        let mut state = self.state();
        state.codes.remove(&(CodeKind::EmailVerification, user));
        state.verified.insert(user);
        Ok(())
    }
}
