//! [`AccountStore`] in memory.

use async_trait::async_trait;
use kernel::{AccountId, AccountRole, AuthEvent, EmailAddress, Roles, StoreError, UserId};

use super::MemoryStore;
use crate::models::{
    Account, AuditQuery, AuditRecord, CallerRecord, Credentials, NewAccount, Page, User,
};
use crate::ports::AccountStore;

#[async_trait]
impl AccountStore for MemoryStore {
    async fn create_account(&self, new: &NewAccount, event: &AuthEvent) -> Result<(), StoreError> {
        let mut state = self.state();
        // The unique index on users.email.
        if state
            .users
            .values()
            .any(|(u, _, _)| u.email == new.owner.email)
        {
            return Err(StoreError::Duplicate("users_email_key".into()));
        }
        let roles = Roles {
            account: vec![AccountRole::Owner],
            workspaces: Vec::new(),
        };
        state.accounts.insert(new.account.id, new.account.clone());
        state
            .workspaces
            .insert(new.workspace.id, new.workspace.clone());
        state.users.insert(
            new.owner.id,
            (
                new.owner.clone(),
                Some(new.password_hash.clone()),
                roles.clone(),
            ),
        );
        self.tokens.set_roles(new.owner.id, roles);
        state.events.push(event.clone());
        Ok(())
    }

    async fn find_credentials(
        &self,
        email: &EmailAddress,
    ) -> Result<Option<Credentials>, StoreError> {
        let state = self.state();
        Ok(state
            .users
            .values()
            .find(|(u, _, _)| &u.email == email)
            .map(|(user, hash, _)| {
                let failures = state.failures.get(&user.id).copied().unwrap_or_default();
                Credentials {
                    user: user.clone(),
                    password_hash: hash.clone(),
                    failed_signin_attempts: failures.signins,
                    locked_until: failures.locked_until,
                    mfa_enabled: state.mfa.get(&user.id).is_some_and(|m| m.enabled),
                }
            }))
    }

    async fn profile(
        &self,
        account: AccountId,
        user: UserId,
    ) -> Result<(User, Account), StoreError> {
        let state = self.state();
        let (user, _, _) = state
            .users
            .get(&user)
            .filter(|(u, _, _)| u.account_id == account)
            .ok_or(StoreError::NotFound)?;
        let account = state.accounts.get(&account).ok_or(StoreError::NotFound)?;
        Ok((user.clone(), account.clone()))
    }

    async fn set_password(
        &self,
        _account: AccountId,
        user: UserId,
        password_hash: &str,
        event: &AuthEvent,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        if let Some((_, hash, _)) = state.users.get_mut(&user) {
            *hash = Some(password_hash.to_owned());
        }
        state.events.push(event.clone());
        Ok(())
    }

    async fn email_verified(&self, _account: AccountId, user: UserId) -> Result<bool, StoreError> {
        Ok(self.state().verified.contains(&user))
    }

    async fn caller(&self, account: AccountId, user: UserId) -> Result<CallerRecord, StoreError> {
        let (found, in_account) = self.profile(account, user).await?;
        let state = self.state();
        Ok(CallerRecord {
            user: found,
            account: in_account,
            email_verified: state.verified.contains(&user),
            mfa_enabled: state.mfa.get(&user).is_some_and(|m| m.enabled),
        })
    }

    async fn audit_events(
        &self,
        _account: AccountId,
        _query: &AuditQuery,
    ) -> Result<Page<AuditRecord>, StoreError> {
        Ok(Page {
            items: Vec::new(),
            total_items: 0,
        })
    }
}
