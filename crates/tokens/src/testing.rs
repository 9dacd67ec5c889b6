//! In-memory fakes of the tokens ports, for this crate's tests and for the tests of crates
//! that build on it (feature `testing`). Plain maps, no rules: a unit of work holds the store's
//! lock from `begin` to `commit` (transactions run one at a time) and puts everything back
//! when dropped uncommitted. What a unit of work sees follows its [`Access`], as row-level
//! security does in the real store.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kernel::{AccountId, AuditLog, AuthEvent, AuthEventKind, Roles, SessionId, StoreError, UserId};
use tokio::sync::{Mutex, MutexGuard, OwnedMutexGuard};
use uuid::Uuid;

use crate::api_key::ApiKey;
use crate::ports::{
    Access, NewApiKey, NewRefreshToken, SessionStanding, StoredApiKey, StoredRefreshToken,
    StoredSession, TokenStore, TokenTx,
};
use crate::session::{NewSession, SessionSummary};

#[derive(Clone)]
struct SessionRow {
    session: NewSession,
    revoked: bool,
    last_seen_at: DateTime<Utc>,
    last_seen_ip: Option<IpAddr>,
}

#[derive(Clone)]
struct KeyRow {
    key: ApiKey,
    secret_digest: [u8; 32],
    deleted: bool,
}

#[derive(Clone, Default)]
struct State {
    roles: HashMap<UserId, Roles>,
    sessions: HashMap<SessionId, SessionRow>,
    refresh: HashMap<[u8; 32], StoredRefreshToken>,
    keys: HashMap<Uuid, KeyRow>,
    redeemed_mfa_tokens: HashSet<Uuid>,
    events: Vec<AuthEvent>,
}

#[derive(Default)]
pub struct MemoryTokenStore(Arc<Mutex<State>>);

impl MemoryTokenStore {
    /// The state, between units of work (tests call these helpers only then).
    fn state(&self) -> MutexGuard<'_, State> {
        self.0
            .try_lock()
            .unwrap_or_else(|_| panic!("MemoryTokenStore used while a unit of work is open"))
    }

    /// The kinds of every event recorded, in order.
    #[must_use]
    pub fn events(&self) -> Vec<AuthEventKind> {
        self.state().events.iter().map(|e| e.kind).collect()
    }

    /// Every event recorded, in order.
    #[must_use]
    pub fn recorded_events(&self) -> Vec<AuthEvent> {
        self.state().events.clone()
    }

    /// Gives `user` these roles.
    pub fn set_roles(&self, user: UserId, roles: Roles) {
        self.state().roles.insert(user, roles);
    }

    /// Removes a user as the real store does: roles gone, keys deleted, sessions revoked.
    pub fn remove_user(&self, user: UserId) {
        let mut state = self.state();
        state.roles.remove(&user);
        state
            .keys
            .values_mut()
            .filter(|k| k.key.user_id == user)
            .for_each(|k| k.deleted = true);
        state
            .sessions
            .values_mut()
            .filter(|s| s.session.user_id == user)
            .for_each(|s| s.revoked = true);
    }
}

#[async_trait]
impl AuditLog for MemoryTokenStore {
    async fn record(&self, event: &AuthEvent) -> Result<(), StoreError> {
        self.0.lock().await.events.push(event.clone());
        Ok(())
    }
}

#[async_trait]
impl TokenStore for MemoryTokenStore {
    async fn begin(&self, access: Access<'_>) -> Result<Box<dyn TokenTx>, StoreError> {
        let state = self.0.clone().lock_owned().await;
        let before = state.clone();
        Ok(Box::new(MemoryTokenTx {
            state,
            before: Some(before),
            sees: Sees::from(access),
        }))
    }

    async fn session_standing(
        &self,
        account: AccountId,
        user: UserId,
        session: SessionId,
    ) -> Result<Option<SessionStanding>, StoreError> {
        let state = self.0.lock().await;
        Ok(state
            .sessions
            .get(&session)
            .filter(|s| s.session.account_id == account && s.session.user_id == user)
            .map(|s| SessionStanding {
                kind: s.session.kind,
                revoked: s.revoked,
                expires_at: s.session.expires_at,
                api_key_live: s
                    .session
                    .api_key_id
                    .map(|id| state.keys.get(&id).is_some_and(|k| !k.deleted)),
                roles: state.roles.get(&user).cloned().unwrap_or_default(),
            }))
    }
}

/// What a unit of work may see (the fake's row-level security).
#[derive(Clone, Copy)]
enum Sees {
    Account(AccountId),
    ApiKey(Uuid),
    RefreshToken([u8; 32]),
}

impl From<Access<'_>> for Sees {
    fn from(access: Access<'_>) -> Self {
        match access {
            Access::Tenant { account, .. } => Self::Account(account),
            Access::ApiKey(id) => Self::ApiKey(id),
            Access::RefreshToken(digest) => Self::RefreshToken(*digest),
        }
    }
}

struct MemoryTokenTx {
    state: OwnedMutexGuard<State>,
    /// What to put back if the unit of work is dropped uncommitted.
    before: Option<State>,
    sees: Sees,
}

impl Drop for MemoryTokenTx {
    fn drop(&mut self) {
        if let Some(before) = self.before.take() {
            *self.state = before;
        }
    }
}

impl MemoryTokenTx {
    fn account(&self) -> Option<AccountId> {
        match self.sees {
            Sees::Account(account) => Some(account),
            Sees::ApiKey(_) | Sees::RefreshToken(_) => None,
        }
    }

    fn in_account(&self, account: AccountId) -> bool {
        self.account() == Some(account)
    }

    fn sessions_mut(&mut self) -> impl Iterator<Item = &mut SessionRow> {
        let account = self.account();
        self.state
            .sessions
            .values_mut()
            .filter(move |s| Some(s.session.account_id) == account)
    }

    fn keys_mut(&mut self) -> impl Iterator<Item = &mut KeyRow> {
        let account = self.account();
        self.state
            .keys
            .values_mut()
            .filter(move |k| Some(k.key.account_id) == account)
    }

    fn session_mut(&mut self, session: SessionId) -> Option<&mut SessionRow> {
        self.sessions_mut().find(|s| s.session.id == session)
    }
}

fn revoke_where<'a>(
    sessions: impl Iterator<Item = &'a mut SessionRow>,
    matches: impl Fn(&NewSession) -> bool,
) -> Vec<SessionId> {
    sessions
        .filter(|s| !s.revoked && matches(&s.session))
        .map(|s| {
            s.revoked = true;
            s.session.id
        })
        .collect()
}

#[async_trait]
impl TokenTx for MemoryTokenTx {
    async fn become_tenant(
        &mut self,
        account: AccountId,
        _user: Option<UserId>,
    ) -> Result<(), StoreError> {
        self.sees = Sees::Account(account);
        Ok(())
    }

    async fn insert_session(&mut self, session: &NewSession) -> Result<(), StoreError> {
        if !self.in_account(session.account_id) {
            return Err(StoreError::Other(
                "row-level security: another account".into(),
            ));
        }
        self.state.sessions.insert(
            session.id,
            SessionRow {
                session: session.clone(),
                revoked: false,
                last_seen_at: session.created_at,
                last_seen_ip: session.ip,
            },
        );
        Ok(())
    }

    async fn lock_session(
        &mut self,
        session: SessionId,
    ) -> Result<Option<StoredSession>, StoreError> {
        Ok(self.session_mut(session).map(|s| StoredSession {
            id: s.session.id,
            account_id: s.session.account_id,
            user_id: s.session.user_id,
            kind: s.session.kind,
            scope: s.session.scope.clone(),
            api_key_id: s.session.api_key_id,
            expires_at: s.session.expires_at,
            revoked: s.revoked,
            last_seen_at: s.last_seen_at,
            last_seen_ip: s.last_seen_ip,
        }))
    }

    async fn note_session_seen(
        &mut self,
        session: SessionId,
        at: DateTime<Utc>,
        ip: Option<IpAddr>,
    ) -> Result<(), StoreError> {
        if let Some(s) = self.session_mut(session) {
            s.last_seen_at = at;
            s.last_seen_ip = ip;
        }
        Ok(())
    }

    async fn revoke_session(
        &mut self,
        session: SessionId,
        _reason: &'static str,
        _at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Ok(!revoke_where(self.sessions_mut(), |s| s.id == session).is_empty())
    }

    async fn revoke_user_sessions(
        &mut self,
        user: UserId,
        keep: Option<SessionId>,
        _reason: &'static str,
        _at: DateTime<Utc>,
    ) -> Result<Vec<SessionId>, StoreError> {
        Ok(revoke_where(self.sessions_mut(), |s| {
            s.user_id == user && Some(s.id) != keep
        }))
    }

    async fn revoke_key_sessions(
        &mut self,
        keys: &[Uuid],
        _reason: &'static str,
        _at: DateTime<Utc>,
    ) -> Result<Vec<SessionId>, StoreError> {
        Ok(revoke_where(self.sessions_mut(), |s| {
            s.api_key_id.is_some_and(|k| keys.contains(&k))
        }))
    }

    async fn live_sessions(
        &mut self,
        user: UserId,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<SessionSummary>, StoreError> {
        let keys = self.state.keys.clone();
        let mut live: Vec<SessionSummary> = self
            .sessions_mut()
            .filter(|s| !s.revoked && s.session.user_id == user && s.session.expires_at > now)
            .map(|s| SessionSummary {
                id: s.session.id,
                kind: s.session.kind,
                created_at: s.session.created_at,
                last_seen_at: s.last_seen_at,
                ip: s.last_seen_ip,
                country: s.session.country.clone(),
                key_name: s
                    .session
                    .api_key_id
                    .and_then(|id| keys.get(&id))
                    .map(|k| k.key.name.clone()),
                expires_at: s.session.expires_at,
            })
            .collect();
        live.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        live.truncate(limit);
        Ok(live)
    }

    async fn insert_refresh_token(&mut self, token: &NewRefreshToken) -> Result<(), StoreError> {
        self.state.refresh.insert(
            token.digest,
            StoredRefreshToken {
                session_id: token.session_id,
                account_id: token.account_id,
                expires_at: token.expires_at,
                used_at: None,
            },
        );
        Ok(())
    }

    async fn refresh_token(
        &mut self,
        digest: &[u8; 32],
    ) -> Result<Option<StoredRefreshToken>, StoreError> {
        let visible = match self.sees {
            Sees::RefreshToken(seen) => seen == *digest,
            Sees::Account(_) | Sees::ApiKey(_) => true,
        };
        let account = self.account();
        Ok(self
            .state
            .refresh
            .get(digest)
            .filter(|t| visible && account.is_none_or(|a| a == t.account_id))
            .cloned())
    }

    async fn mark_refresh_token_used(
        &mut self,
        digest: &[u8; 32],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if let Some(token) = self.state.refresh.get_mut(digest) {
            token.used_at = Some(at);
        }
        Ok(())
    }

    async fn insert_redeemed_mfa_token(
        &mut self,
        _account: AccountId,
        _user: UserId,
        token_id: Uuid,
        _expires_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Ok(self.state.redeemed_mfa_tokens.insert(token_id))
    }

    async fn api_key(&mut self, key_id: Uuid) -> Result<Option<StoredApiKey>, StoreError> {
        let sees = self.sees;
        Ok(self
            .state
            .keys
            .get(&key_id)
            .filter(|k| match sees {
                Sees::Account(account) => k.key.account_id == account,
                Sees::ApiKey(id) => id == key_id,
                Sees::RefreshToken(_) => false,
            })
            .map(|k| StoredApiKey {
                key: k.key.clone(),
                secret_digest: k.secret_digest.to_vec(),
                deleted: k.deleted,
            }))
    }

    async fn live_api_keys(&mut self, owner: Option<UserId>) -> Result<Vec<ApiKey>, StoreError> {
        let mut keys: Vec<ApiKey> = self
            .keys_mut()
            .filter(|k| !k.deleted && owner.is_none_or(|o| k.key.user_id == o))
            .map(|k| k.key.clone())
            .collect();
        keys.sort_by_key(|k| std::cmp::Reverse(k.created_at));
        Ok(keys)
    }

    async fn insert_api_key(&mut self, key: &NewApiKey) -> Result<(), StoreError> {
        self.state.keys.insert(
            key.key.key_id,
            KeyRow {
                key: key.key.clone(),
                secret_digest: key.secret_digest,
                deleted: false,
            },
        );
        Ok(())
    }

    async fn set_api_key_last_used(
        &mut self,
        key_id: Uuid,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if let Some(k) = self.keys_mut().find(|k| k.key.key_id == key_id) {
            k.key.last_used_at = Some(at);
        }
        Ok(())
    }

    async fn delete_api_key(
        &mut self,
        key_id: Uuid,
        _reason: &'static str,
        _at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Ok(self
            .keys_mut()
            .find(|k| k.key.key_id == key_id && !k.deleted)
            .map(|k| k.deleted = true)
            .is_some())
    }

    async fn delete_user_api_keys(
        &mut self,
        user: UserId,
        _reason: &'static str,
        _at: DateTime<Utc>,
    ) -> Result<Vec<Uuid>, StoreError> {
        Ok(self
            .keys_mut()
            .filter(|k| k.key.user_id == user && !k.deleted)
            .map(|k| {
                k.deleted = true;
                k.key.key_id
            })
            .collect())
    }

    async fn roles(&mut self, user: UserId) -> Result<Roles, StoreError> {
        Ok(self.state.roles.get(&user).cloned().unwrap_or_default())
    }

    async fn lock_roles(&mut self, user: UserId) -> Result<Roles, StoreError> {
        self.roles(user).await
    }

    async fn record_event(&mut self, event: &AuthEvent) -> Result<(), StoreError> {
        self.state.events.push(event.clone());
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        self.before = None;
        Ok(())
    }
}

/// A limiter counting in memory, with the same fixed windows as the real one.
#[derive(Default)]
pub struct MemoryRateLimiter(std::sync::Mutex<HashMap<(String, DateTime<Utc>), u32>>);

#[async_trait]
impl kernel::RateLimiter for MemoryRateLimiter {
    async fn hit(
        &self,
        bucket: &str,
        limit: kernel::RateLimit,
        now: DateTime<Utc>,
    ) -> Result<kernel::Verdict, StoreError> {
        let (start, retry_after_secs) = kernel::rate_limit::window_of(limit, now);
        let mut hits = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = hits.entry((bucket.to_owned(), start)).or_insert(0);
        *count += 1;
        Ok(if *count <= limit.limit {
            kernel::Verdict::Allowed
        } else {
            kernel::Verdict::Limited { retry_after_secs }
        })
    }
}
