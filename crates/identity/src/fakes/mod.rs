//! In-memory fakes of identity's ports, for the service tests: plain maps, no rules (the
//! rules are the service's). A unit of work writes straight into the maps; tests never
//! abandon one after a write.

mod accounts;
mod memberships;
mod mfa;
mod pending_codes;
mod workspaces;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kernel::{
    AccountId, AuditLog, AuthEvent, OutgoingEmail, Roles, SealedEmail, SealingKey, StoreError,
    UserId, WorkspaceId,
};
use tokens::testing::MemoryTokenStore;

use crate::models::{Account, CodeKind, MfaRecord, SignInFailures, User, Workspace};
use crate::ports::{HashError, PasswordHasher, SignInGuard, SignInGuardTx};

/// The master key of the tests' services: the fake's outbox opens what they sealed with it.
pub const TEST_SEALING_KEY: [u8; 32] = [9; 32];

/// Identity's stores; the roles it grants are mirrored into the tokens fake, as both read one
/// database in production.
pub struct MemoryStore {
    pub state: Arc<Mutex<State>>,
    tokens: Arc<MemoryTokenStore>,
}

/// A stored one-time code.
#[derive(Clone, Debug)]
pub struct StoredCode {
    pub digest: [u8; 32],
    pub expires_at: DateTime<Utc>,
    pub used: bool,
}

#[derive(Default)]
pub struct State {
    pub accounts: HashMap<AccountId, Account>,
    pub users: HashMap<UserId, (User, Option<String>, Roles)>,
    pub workspaces: HashMap<WorkspaceId, Workspace>,
    pub codes: HashMap<(CodeKind, UserId), StoredCode>,
    pub mfa: HashMap<UserId, MfaRecord>,
    /// digest → (owner, used)
    pub recovery: HashMap<[u8; 32], (UserId, bool)>,
    pub failures: HashMap<UserId, SignInFailures>,
    pub outbox: Vec<SealedEmail>,
    pub verified: HashSet<UserId>,
    pub events: Vec<AuthEvent>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl MemoryStore {
    pub fn sharing_roles_with(tokens: Arc<MemoryTokenStore>) -> Self {
        Self {
            state: Arc::new(Mutex::new(State::default())),
            tokens,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
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

    fn unit(&self, user: UserId, kind: Option<CodeKind>) -> MemoryTx {
        MemoryTx {
            state: self.state.clone(),
            user,
            kind,
        }
    }
}

/// A unit of work on one user's rows.
pub struct MemoryTx {
    state: Arc<Mutex<State>>,
    user: UserId,
    /// The kind of code being redeemed, in a redemption.
    kind: Option<CodeKind>,
}

impl MemoryTx {
    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

#[async_trait]
impl SignInGuardTx for MemoryTx {
    async fn failures(&mut self) -> Result<SignInFailures, StoreError> {
        let state = self.state();
        if !state.users.contains_key(&self.user) {
            return Err(StoreError::NotFound);
        }
        Ok(state.failures.get(&self.user).copied().unwrap_or_default())
    }

    async fn set_failures(&mut self, failures: &SignInFailures) -> Result<(), StoreError> {
        self.state().failures.insert(self.user, *failures);
        Ok(())
    }

    async fn record(&mut self, event: &AuthEvent) -> Result<(), StoreError> {
        self.state().events.push(event.clone());
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        Ok(())
    }
}

#[async_trait]
impl SignInGuard for MemoryStore {
    async fn begin_guard(
        &self,
        _account: AccountId,
        user: UserId,
    ) -> Result<Box<dyn SignInGuardTx>, StoreError> {
        Ok(Box::new(self.unit(user, None)))
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
}

#[async_trait]
impl AuditLog for MemoryStore {
    async fn record(&self, event: &AuthEvent) -> Result<(), StoreError> {
        self.state().events.push(event.clone());
        Ok(())
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
