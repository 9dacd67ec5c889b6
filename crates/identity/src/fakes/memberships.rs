//! [`MembershipStore`] in memory.

use async_trait::async_trait;
use kernel::{AccountId, Roles, SealedEmail, StoreError, UserId};

use super::{MemoryStore, StoredCode};
use crate::models::{Member, NewCode};
use crate::ports::MembershipStore;

#[async_trait]
impl MembershipStore for MemoryStore {
    async fn members(&self, account: AccountId) -> Result<Vec<Member>, StoreError> {
        Ok(self
            .state()
            .users
            .values()
            .filter(|(u, _, _)| u.account_id == account)
            .map(|(user, _, roles)| Member {
                user: user.clone(),
                roles: roles.clone(),
            })
            .collect())
    }

    async fn set_roles(
        &self,
        account: AccountId,
        user: UserId,
        roles: &Roles,
    ) -> Result<Member, StoreError> {
        let mut state = self.state();
        let (found, _, current) = state
            .users
            .get_mut(&user)
            .filter(|(u, _, _)| u.account_id == account)
            .ok_or(StoreError::NotFound)?;
        current.clone_from(roles);
        self.tokens.set_roles(user, roles.clone());
        Ok(Member {
            user: found.clone(),
            roles: roles.clone(),
        })
    }

    async fn remove_user(&self, account: AccountId, user: UserId) -> Result<(), StoreError> {
        let mut state = self.state();
        match state.users.get(&user) {
            Some((u, _, _)) if u.account_id == account => {
                state.users.remove(&user);
                self.tokens.remove_user(user);
                Ok(())
            }
            _ => Err(StoreError::NotFound),
        }
    }

    async fn create_invited_member(
        &self,
        member: &Member,
        invitation: &NewCode,
        email: &SealedEmail,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        // The unique index on users.email.
        if state
            .users
            .values()
            .any(|(u, _, _)| u.email == member.user.email)
        {
            return Err(StoreError::Duplicate("users_email_key".into()));
        }
        state.users.insert(
            member.user.id,
            (member.user.clone(), None, member.roles.clone()),
        );
        self.tokens.set_roles(member.user.id, member.roles.clone());
        state.codes.insert(
            (invitation.kind, member.user.id),
            StoredCode {
                digest: invitation.code_digest,
                expires_at: invitation.expires_at,
                used: false,
            },
        );
        state.outbox.push(email.clone());
        Ok(())
    }
}
