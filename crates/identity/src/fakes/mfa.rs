//! [`MfaStore`] in memory.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kernel::{AccountId, AuthEvent, StoreError, UserId};

use super::{MemoryStore, MemoryTx};
use crate::models::MfaRecord;
use crate::ports::{MfaStore, MfaTx};

impl MemoryStore {
    /// Turns TOTP on directly (a test's shortcut past the activation code).
    pub async fn enable_totp(
        &self,
        _account: AccountId,
        user: UserId,
        step: i64,
        recovery_digests: &[[u8; 32]],
        event: &AuthEvent,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        if let Some(record) = state.mfa.get_mut(&user) {
            record.enabled = true;
            record.last_used_step = Some(step);
        }
        for digest in recovery_digests {
            state.recovery.insert(*digest, (user, false));
        }
        state.events.push(event.clone());
        Ok(())
    }
}

#[async_trait]
impl MfaStore for MemoryStore {
    async fn mfa(
        &self,
        _account: AccountId,
        user: UserId,
    ) -> Result<Option<MfaRecord>, StoreError> {
        Ok(self.state().mfa.get(&user).cloned())
    }

    async fn begin_mfa(
        &self,
        _account: AccountId,
        user: UserId,
    ) -> Result<Box<dyn MfaTx>, StoreError> {
        Ok(Box::new(self.unit(user, None)))
    }
}

#[async_trait]
impl MfaTx for MemoryTx {
    async fn totp(&mut self) -> Result<Option<MfaRecord>, StoreError> {
        Ok(self.state().mfa.get(&self.user).cloned())
    }

    async fn save_pending(&mut self, secret_sealed: &[u8]) -> Result<(), StoreError> {
        self.state().mfa.insert(
            self.user,
            MfaRecord {
                secret_sealed: secret_sealed.to_vec(),
                enabled: false,
                last_used_step: None,
            },
        );
        Ok(())
    }

    async fn enable(&mut self, _at: DateTime<Utc>) -> Result<(), StoreError> {
        let user = self.user;
        if let Some(record) = self.state().mfa.get_mut(&user) {
            record.enabled = true;
        }
        Ok(())
    }

    async fn set_last_used_step(&mut self, step: i64) -> Result<(), StoreError> {
        let user = self.user;
        if let Some(record) = self.state().mfa.get_mut(&user) {
            record.last_used_step = Some(step);
        }
        Ok(())
    }

    async fn replace_recovery_codes(&mut self, digests: &[[u8; 32]]) -> Result<(), StoreError> {
        let user = self.user;
        let mut state = self.state();
        state.recovery.retain(|_, (owner, _)| *owner != user);
        for digest in digests {
            state.recovery.insert(*digest, (user, false));
        }
        Ok(())
    }

    async fn recovery_code_used(&mut self, digest: &[u8; 32]) -> Result<Option<bool>, StoreError> {
        Ok(self
            .state()
            .recovery
            .get(digest)
            .filter(|(owner, _)| *owner == self.user)
            .map(|(_, used)| *used))
    }

    async fn mark_recovery_code_used(
        &mut self,
        digest: &[u8; 32],
        _at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let user = self.user;
        if let Some((_, used)) = self
            .state()
            .recovery
            .get_mut(digest)
            .filter(|(owner, _)| *owner == user)
        {
            *used = true;
        }
        Ok(())
    }

    async fn remove(&mut self) -> Result<(), StoreError> {
        let user = self.user;
        let mut state = self.state();
        state.mfa.remove(&user);
        state.recovery.retain(|_, (owner, _)| *owner != user);
        Ok(())
    }
}
