//! In-memory fakes of identity's ports, for the service tests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kernel::{
    AccountId, AccountRole, AuthEvent, EmailAddress, OutgoingEmail, Roles, SealedEmail, SealingKey,
    StoreError, UserId, WorkspaceId,
};
use tokens::testing::MemoryTokenStore;

use crate::models::{
    Account, AuditQuery, AuditRecord, Credentials, FailedSignin, Member, MfaRecord, NewAccount,
    NewInvitation, Page, PendingCode, User, Workspace,
};
use crate::ports::{EmailVerificationStore, HashError, IdentityStore, PasswordHasher};

/// Identity's store; the roles it grants are mirrored into the tokens fake, as both read one
/// database in production.
/// The master key of the tests' services: the fake's outbox opens what they sealed with it.
pub const TEST_SEALING_KEY: [u8; 32] = [9; 32];

pub struct MemoryStore {
    pub state: Mutex<State>,
    tokens: Arc<MemoryTokenStore>,
}

#[derive(Default)]
pub struct State {
    pub accounts: HashMap<AccountId, Account>,
    pub users: HashMap<UserId, (User, Option<String>, Roles)>,
    pub workspaces: HashMap<WorkspaceId, Workspace>,
    pub invitations: HashMap<UserId, (NewInvitation, bool)>,
    /// user → (code digest, expires, used)
    pub resets: HashMap<UserId, ([u8; 32], chrono::DateTime<chrono::Utc>, bool)>,
    pub mfa: HashMap<UserId, MfaRecord>,
    pub recovery: HashMap<[u8; 32], (UserId, bool)>,
    /// user → (failed sign-ins, locked until)
    pub failures: HashMap<UserId, (i32, Option<chrono::DateTime<chrono::Utc>>)>,
    pub outbox: Vec<SealedEmail>,
    pub verification_codes: HashMap<UserId, ([u8; 32], DateTime<Utc>)>,
    pub verified: std::collections::HashSet<UserId>,
    pub events: Vec<AuthEvent>,
}

impl MemoryStore {
    pub fn sharing_roles_with(tokens: Arc<MemoryTokenStore>) -> Self {
        Self {
            state: Mutex::new(State::default()),
            tokens,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn events(&self) -> Vec<AuthEvent> {
        self.state().events.clone()
    }

    /// The outbox, opened with [`TEST_SEALING_KEY`] (the key the tests' service seals with).
    pub fn outbox(&self) -> Vec<OutgoingEmail> {
        let key = SealingKey::from_bytes(&TEST_SEALING_KEY).unwrap_or_else(|e| panic!("{e}"));
        self.state()
            .outbox
            .iter()
            .map(|sealed| sealed.open(&key).unwrap_or_else(|e| panic!("{e}")))
            .collect()
    }
}

#[async_trait]
impl IdentityStore for MemoryStore {
    async fn create_account(&self, new: &NewAccount, event: &AuthEvent) -> Result<(), StoreError> {
        let mut state = self.state();
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
                let (failed, locked_until) =
                    state.failures.get(&user.id).copied().unwrap_or((0, None));
                Credentials {
                    user: user.clone(),
                    password_hash: hash.clone(),
                    failed_signin_attempts: failed,
                    locked_until,
                    mfa_enabled: state.mfa.get(&user.id).is_some_and(|m| m.enabled),
                }
            }))
    }

    async fn record_event(&self, event: &AuthEvent) -> Result<(), StoreError> {
        self.state().events.push(event.clone());
        Ok(())
    }

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
        let mut next = roles.clone();
        if current.account.contains(&AccountRole::Owner) {
            next.account.insert(0, AccountRole::Owner);
        }
        *current = next.clone();
        self.tokens.set_roles(user, next.clone());
        Ok(Member {
            user: found.clone(),
            roles: next,
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

    async fn workspaces(&self, account: AccountId) -> Result<Vec<Workspace>, StoreError> {
        let mut found: Vec<Workspace> = self
            .state()
            .workspaces
            .values()
            .filter(|w| w.account_id == account)
            .cloned()
            .collect();
        found.sort_by_key(|w| w.id);
        Ok(found)
    }

    async fn workspace(
        &self,
        account: AccountId,
        id: WorkspaceId,
    ) -> Result<Workspace, StoreError> {
        self.state()
            .workspaces
            .get(&id)
            .filter(|w| w.account_id == account)
            .cloned()
            .ok_or(StoreError::NotFound)
    }

    async fn create_workspace(&self, workspace: &Workspace) -> Result<(), StoreError> {
        self.state()
            .workspaces
            .insert(workspace.id, workspace.clone());
        Ok(())
    }

    async fn rename_workspace(
        &self,
        account: AccountId,
        id: WorkspaceId,
        name: &str,
    ) -> Result<Workspace, StoreError> {
        let mut state = self.state();
        let workspace = state
            .workspaces
            .get_mut(&id)
            .filter(|w| w.account_id == account)
            .ok_or(StoreError::NotFound)?;
        name.clone_into(&mut workspace.name);
        Ok(workspace.clone())
    }

    async fn delete_workspace(
        &self,
        account: AccountId,
        id: WorkspaceId,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        match state.workspaces.get(&id) {
            Some(w) if w.account_id == account => {
                state.workspaces.remove(&id);
                Ok(())
            }
            _ => Err(StoreError::NotFound),
        }
    }

    async fn create_invited_user(
        &self,
        member: &Member,
        invitation: &NewInvitation,
        email: &SealedEmail,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
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
        state
            .invitations
            .insert(member.user.id, (invitation.clone(), false));
        state.outbox.push(email.clone());
        Ok(())
    }

    async fn invitation(&self, email: &EmailAddress) -> Result<Option<PendingCode>, StoreError> {
        let state = self.state();
        Ok(state
            .users
            .values()
            .find(|(u, _, _)| &u.email == email)
            .and_then(|(user, _, _)| {
                state
                    .invitations
                    .get(&user.id)
                    .map(|(inv, accepted)| PendingCode {
                        user: user.clone(),
                        code_digest: inv.code_digest.to_vec(),
                        expires_at: inv.expires_at,
                        used: *accepted,
                    })
            }))
    }

    async fn accept_invitation(
        &self,
        _account: AccountId,
        user: UserId,
        password_hash: &str,
        _now: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, StoreError> {
        let mut state = self.state();
        let Some((_, accepted)) = state.invitations.get_mut(&user) else {
            return Ok(false);
        };
        if *accepted {
            return Ok(false);
        }
        *accepted = true;
        if let Some((_, hash, _)) = state.users.get_mut(&user) {
            *hash = Some(password_hash.to_owned());
        }
        Ok(true)
    }

    async fn record_failed_signin(
        &self,
        _account: AccountId,
        user: UserId,
        now: chrono::DateTime<chrono::Utc>,
        max_attempts: i32,
        lockout: chrono::Duration,
    ) -> Result<FailedSignin, StoreError> {
        let mut state = self.state();
        let entry = state.failures.entry(user).or_insert((0, None));
        entry.0 += 1;
        let attempts = entry.0;
        let locked_until = (attempts >= max_attempts).then(|| now + lockout);
        if locked_until.is_some() {
            *entry = (0, locked_until);
        }
        Ok(FailedSignin {
            attempts,
            locked_until,
        })
    }

    async fn clear_failed_signins(
        &self,
        _account: AccountId,
        user: UserId,
    ) -> Result<(), StoreError> {
        self.state().failures.remove(&user);
        Ok(())
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

    async fn create_password_reset(
        &self,
        user: &User,
        code_digest: &[u8; 32],
        expires_at: chrono::DateTime<chrono::Utc>,
        email: &SealedEmail,
        event: &AuthEvent,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        state
            .resets
            .insert(user.id, (*code_digest, expires_at, false));
        state.outbox.push(email.clone());
        state.events.push(event.clone());
        Ok(())
    }

    async fn password_reset(
        &self,
        email: &EmailAddress,
    ) -> Result<Option<PendingCode>, StoreError> {
        let state = self.state();
        Ok(state
            .users
            .values()
            .find(|(u, _, _)| &u.email == email)
            .and_then(|(user, _, _)| {
                state
                    .resets
                    .get(&user.id)
                    .map(|(digest, expires_at, used)| PendingCode {
                        user: user.clone(),
                        code_digest: digest.to_vec(),
                        expires_at: *expires_at,
                        used: *used,
                    })
            }))
    }

    async fn complete_password_reset(
        &self,
        _account: AccountId,
        user: UserId,
        password_hash: &str,
        event: &AuthEvent,
    ) -> Result<bool, StoreError> {
        let mut state = self.state();
        match state.resets.get_mut(&user) {
            Some(reset) if !reset.2 => reset.2 = true,
            _ => return Ok(false),
        }
        if let Some((_, hash, _)) = state.users.get_mut(&user) {
            *hash = Some(password_hash.to_owned());
        }
        state.failures.remove(&user);
        state.events.push(event.clone());
        Ok(true)
    }

    async fn mfa(
        &self,
        _account: AccountId,
        user: UserId,
    ) -> Result<Option<MfaRecord>, StoreError> {
        Ok(self.state().mfa.get(&user).cloned())
    }

    async fn save_pending_totp(
        &self,
        _account: AccountId,
        user: UserId,
        secret_sealed: &[u8],
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        if state.mfa.get(&user).is_some_and(|m| m.enabled) {
            return Err(StoreError::Duplicate("mfa_enabled".into()));
        }
        state.mfa.insert(
            user,
            MfaRecord {
                secret_sealed: secret_sealed.to_vec(),
                enabled: false,
                last_used_step: None,
            },
        );
        Ok(())
    }

    async fn enable_totp(
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

    async fn disable_totp(
        &self,
        _account: AccountId,
        user: UserId,
        event: &AuthEvent,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        state.mfa.remove(&user);
        state.recovery.retain(|_, (owner, _)| *owner != user);
        state.events.push(event.clone());
        Ok(())
    }

    async fn use_totp_step(
        &self,
        _account: AccountId,
        user: UserId,
        step: i64,
    ) -> Result<bool, StoreError> {
        let mut state = self.state();
        let Some(record) = state.mfa.get_mut(&user) else {
            return Ok(false);
        };
        if record.last_used_step.is_some_and(|last| last >= step) {
            return Ok(false);
        }
        record.last_used_step = Some(step);
        Ok(true)
    }

    async fn use_recovery_code(
        &self,
        _account: AccountId,
        user: UserId,
        digest: &[u8; 32],
    ) -> Result<bool, StoreError> {
        let mut state = self.state();
        match state.recovery.get_mut(digest) {
            Some((owner, used)) if *owner == user && !*used => {
                *used = true;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn record_failed_validation(
        &self,
        account: AccountId,
        user: UserId,
        now: chrono::DateTime<chrono::Utc>,
        max_attempts: i32,
        lockout: chrono::Duration,
    ) -> Result<FailedSignin, StoreError> {
        self.record_failed_signin(account, user, now, max_attempts, lockout)
            .await
    }

    async fn countries_seen(
        &self,
        _account: AccountId,
        user: UserId,
    ) -> Result<Vec<String>, StoreError> {
        // Sign-in events are recorded with their sessions, by the tokens store.
        Ok(self
            .tokens
            .recorded_events()
            .iter()
            .filter(|e| e.user_id == Some(user) && e.kind == kernel::AuthEventKind::LoginSucceeded)
            .filter_map(|e| e.country.clone())
            .collect())
    }

    async fn enqueue_email(
        &self,
        _account: AccountId,
        email: &SealedEmail,
    ) -> Result<(), StoreError> {
        self.state().outbox.push(email.clone());
        Ok(())
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
}

/// A "hash" that is the password with a prefix: fast, and enough to test the flows.
pub struct PlainHasher;

#[async_trait]
impl PasswordHasher for PlainHasher {
    async fn hash(&self, password: &str) -> Result<String, HashError> {
        Ok(format!("plain${password}"))
    }

    async fn verify(&self, candidate: &str, hash: &str) -> Result<bool, HashError> {
        Ok(hash.strip_prefix("plain$") == Some(candidate))
    }
}

/// Locates by the first octet: 203.x is Australia, 198.x the United States, others unknown.
pub struct OctetLocator;

impl crate::ports::GeoLocator for OctetLocator {
    fn locate(&self, ip: std::net::IpAddr) -> crate::ports::Location {
        let country = match ip {
            std::net::IpAddr::V4(v4) if v4.octets()[0] == 203 => Some("AU"),
            std::net::IpAddr::V4(v4) if v4.octets()[0] == 198 => Some("US"),
            _ => None,
        };
        crate::ports::Location {
            country: country.map(str::to_owned),
            city: None,
        }
    }
}

#[async_trait]
impl EmailVerificationStore for MemoryStore {
    async fn start_email_verification(
        &self,
        user: &User,
        code_digest: &[u8; 32],
        expires_at: DateTime<Utc>,
        email: &SealedEmail,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        state
            .verification_codes
            .insert(user.id, (*code_digest, expires_at));
        state.outbox.push(email.clone());
        Ok(())
    }

    async fn verify_email(
        &self,
        _account: AccountId,
        user: UserId,
        code_digest: &[u8; 32],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut state = self.state();
        let matches = state
            .verification_codes
            .get(&user)
            .is_some_and(|(digest, expires)| digest == code_digest && *expires > now);
        if matches {
            state.verification_codes.remove(&user);
            state.verified.insert(user);
        }
        Ok(matches)
    }

    async fn mark_email_verified(
        &self,
        _account: AccountId,
        user: UserId,
        _at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        state.verification_codes.remove(&user);
        state.verified.insert(user);
        Ok(())
    }

    async fn email_verified(&self, _account: AccountId, user: UserId) -> Result<bool, StoreError> {
        Ok(self.state().verified.contains(&user))
    }
}
