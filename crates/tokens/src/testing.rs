//! In-memory fakes of the tokens ports, for this crate's tests and for the tests of crates
//! that build on it (feature `testing`).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kernel::{
    AccountId, AccountRole, AuthEvent, AuthEventKind, Roles, SessionId, StoreError, UserId,
};
use uuid::Uuid;

use crate::api_key::ApiKey;
use crate::ports::{
    ApiKeyStore, KeyCredentials, NewApiKey, RefreshRotation, Rotation, SessionGrant, SessionStore,
};
use crate::session::{LiveSession, NewSession, SessionSummary};

#[derive(Clone)]
struct StoredSession {
    session: NewSession,
    revoked: bool,
    last_seen_at: DateTime<Utc>,
}

#[derive(Default)]
struct State {
    roles: HashMap<UserId, Roles>,
    sessions: HashMap<SessionId, StoredSession>,
    /// digest → (session, used_at)
    refresh: HashMap<[u8; 32], (SessionId, Option<DateTime<Utc>>)>,
    keys: HashMap<Uuid, (ApiKey, [u8; 32], bool)>,
    redeemed_mfa_tokens: std::collections::HashSet<Uuid>,
    events: Vec<AuthEvent>,
}

#[derive(Default)]
pub struct MemoryTokenStore(Mutex<State>);

impl MemoryTokenStore {
    fn state(&self) -> MutexGuard<'_, State> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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

    /// Gives `user` these roles (a user without roles counts as removed).
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
            .filter(|k| k.0.user_id == user)
            .for_each(|k| k.2 = true);
        state
            .sessions
            .values_mut()
            .filter(|s| s.session.user_id == user)
            .for_each(|s| s.revoked = true);
    }
}

#[async_trait]
impl SessionStore for MemoryTokenStore {
    async fn start_session(
        &self,
        session: &NewSession,
        event: &AuthEvent,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        if let Some(digest) = session.refresh_token_digest {
            state.refresh.insert(digest, (session.id, None));
        }
        state.sessions.insert(
            session.id,
            StoredSession {
                session: session.clone(),
                revoked: false,
                last_seen_at: session.created_at,
            },
        );
        state.events.push(event.clone());
        Ok(())
    }

    async fn live_session(
        &self,
        account: AccountId,
        user: UserId,
        session: SessionId,
        now: DateTime<Utc>,
    ) -> Result<Option<LiveSession>, StoreError> {
        let state = self.state();
        let Some(stored) = state.sessions.get(&session) else {
            return Ok(None);
        };
        let s = &stored.session;
        let roles = state.roles.get(&user).cloned().unwrap_or_default();
        let key_ok = s.api_key_id.is_none_or(|id| {
            state.keys.get(&id).is_some_and(|(_, _, deleted)| !deleted)
                && roles.account.contains(&AccountRole::Developer)
        });
        let live = !stored.revoked
            && s.account_id == account
            && s.user_id == user
            && s.expires_at > now
            && state.roles.contains_key(&user)
            && key_ok;
        Ok(live.then_some(LiveSession {
            kind: s.kind,
            roles,
        }))
    }

    async fn user_sessions(
        &self,
        account: AccountId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<SessionSummary>, StoreError> {
        let state = self.state();
        let mut live: Vec<SessionSummary> = state
            .sessions
            .values()
            .filter(|s| {
                !s.revoked
                    && s.session.account_id == account
                    && s.session.user_id == user
                    && s.session.expires_at > now
            })
            .map(|s| SessionSummary {
                id: s.session.id,
                kind: s.session.kind,
                created_at: s.session.created_at,
                last_seen_at: s.last_seen_at,
                ip: s.session.ip,
                country: s.session.country.clone(),
                key_name: s
                    .session
                    .api_key_id
                    .and_then(|id| state.keys.get(&id))
                    .map(|(k, _, _)| k.name.clone()),
                expires_at: s.session.expires_at,
            })
            .collect();
        live.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        Ok(live)
    }

    async fn redeem_mfa_token(
        &self,
        _account: AccountId,
        _user: UserId,
        token_id: Uuid,
        _expires_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Ok(self.state().redeemed_mfa_tokens.insert(token_id))
    }

    async fn rotate_refresh_token(
        &self,
        rotation: &RefreshRotation,
    ) -> Result<Rotation, StoreError> {
        let mut state = self.state();
        let Some((session_id, used_at)) = state.refresh.get(&rotation.presented).copied() else {
            return Ok(Rotation::Invalid);
        };
        let Some(stored) = state.sessions.get(&session_id).cloned() else {
            return Ok(Rotation::Invalid);
        };
        if stored.revoked || stored.session.expires_at <= rotation.now {
            return Ok(Rotation::Invalid);
        }
        if used_at.is_some_and(|used| rotation.now - used >= rotation.overlap) {
            if let Some(s) = state.sessions.get_mut(&session_id) {
                s.revoked = true;
            }
            return Ok(Rotation::Reused {
                account_id: stored.session.account_id,
                user_id: stored.session.user_id,
                session_id,
            });
        }
        state.refresh.insert(
            rotation.presented,
            (session_id, Some(used_at.unwrap_or(rotation.now))),
        );
        state.refresh.insert(rotation.successor, (session_id, None));
        if let Some(s) = state.sessions.get_mut(&session_id) {
            s.last_seen_at = rotation.now;
        }
        let key_live = stored
            .session
            .api_key_id
            .and_then(|id| state.keys.get(&id))
            .is_some_and(|(_, _, deleted)| !deleted);
        let s = stored.session;
        Ok(Rotation::Rotated(SessionGrant {
            session_id,
            account_id: s.account_id,
            user_id: s.user_id,
            kind: s.kind,
            scope: s.scope,
            api_key_id: s.api_key_id,
            api_key_live: key_live,
            roles: state.roles.get(&s.user_id).cloned().unwrap_or_default(),
            expires_at: s.expires_at,
        }))
    }

    async fn revoke_session(
        &self,
        _account: AccountId,
        session: SessionId,
        _reason: &'static str,
        event: &AuthEvent,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        if let Some(s) = state.sessions.get_mut(&session) {
            s.revoked = true;
        }
        state.events.push(event.clone());
        Ok(())
    }

    async fn revoke_user_session(
        &self,
        account: AccountId,
        user: UserId,
        session: SessionId,
        _reason: &'static str,
        event: &AuthEvent,
    ) -> Result<bool, StoreError> {
        let mut state = self.state();
        let Some(s) = state.sessions.get_mut(&session) else {
            return Ok(false);
        };
        let live = !s.revoked
            && s.session.account_id == account
            && s.session.user_id == user
            && s.session.expires_at > event.at;
        if live {
            s.revoked = true;
            state.events.push(event.clone());
        }
        Ok(live)
    }

    async fn revoke_user_sessions(
        &self,
        _account: AccountId,
        user: UserId,
        keep: Option<SessionId>,
        _reason: &'static str,
    ) -> Result<(), StoreError> {
        for (id, s) in &mut self.state().sessions {
            if s.session.user_id == user && Some(*id) != keep {
                s.revoked = true;
            }
        }
        Ok(())
    }

    async fn record_event(&self, event: &AuthEvent) -> Result<(), StoreError> {
        self.state().events.push(event.clone());
        Ok(())
    }
}

#[async_trait]
impl ApiKeyStore for MemoryTokenStore {
    async fn create_api_key(&self, key: &NewApiKey, event: &AuthEvent) -> Result<(), StoreError> {
        let mut state = self.state();
        let developer = state
            .roles
            .get(&key.key.user_id)
            .is_some_and(|r| r.account.contains(&AccountRole::Developer));
        if !developer {
            return Err(StoreError::NotFound);
        }
        state
            .keys
            .insert(key.key.key_id, (key.key.clone(), key.secret_digest, false));
        state.events.push(event.clone());
        Ok(())
    }

    async fn api_keys(&self, account: AccountId, user: UserId) -> Result<Vec<ApiKey>, StoreError> {
        Ok(self
            .state()
            .keys
            .values()
            .filter(|(k, _, deleted)| !deleted && k.account_id == account && k.user_id == user)
            .map(|(k, _, _)| k.clone())
            .collect())
    }

    async fn account_api_keys(&self, account: AccountId) -> Result<Vec<ApiKey>, StoreError> {
        Ok(self
            .state()
            .keys
            .values()
            .filter(|(k, _, deleted)| !deleted && k.account_id == account)
            .map(|(k, _, _)| k.clone())
            .collect())
    }

    async fn delete_api_key(
        &self,
        account: AccountId,
        owner: Option<UserId>,
        key_id: Uuid,
        _reason: &'static str,
        event: &AuthEvent,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        match state.keys.get_mut(&key_id) {
            Some((key, _, deleted))
                if !*deleted
                    && key.account_id == account
                    && owner.is_none_or(|owner| key.user_id == owner) =>
            {
                *deleted = true;
            }
            _ => return Err(StoreError::NotFound),
        }
        for s in state.sessions.values_mut() {
            if s.session.api_key_id == Some(key_id) {
                s.revoked = true;
            }
        }
        state.events.push(event.clone());
        Ok(())
    }

    async fn delete_user_api_keys(
        &self,
        account: AccountId,
        user: UserId,
        _reason: &'static str,
        event: &AuthEvent,
    ) -> Result<usize, StoreError> {
        let mut state = self.state();
        let mut deleted_keys = Vec::new();
        for (key, _, deleted) in state.keys.values_mut() {
            if !*deleted && key.account_id == account && key.user_id == user {
                *deleted = true;
                deleted_keys.push(key.key_id);
            }
        }
        for s in state.sessions.values_mut() {
            if s.session
                .api_key_id
                .is_some_and(|k| deleted_keys.contains(&k))
            {
                s.revoked = true;
            }
        }
        if !deleted_keys.is_empty() {
            state.events.push(event.clone());
        }
        Ok(deleted_keys.len())
    }

    async fn key_credentials(&self, key_id: Uuid) -> Result<Option<KeyCredentials>, StoreError> {
        let state = self.state();
        Ok(state
            .keys
            .get(&key_id)
            .filter(|(_, _, deleted)| !deleted)
            .map(|(key, digest, _)| KeyCredentials {
                key: key.clone(),
                secret_digest: digest.to_vec(),
                owner_roles: state.roles.get(&key.user_id).cloned().unwrap_or_default(),
            }))
    }
}

/// A limiter counting in memory, with the same fixed windows as the real one.
#[derive(Default)]
pub struct MemoryRateLimiter(Mutex<HashMap<(String, DateTime<Utc>), u32>>);

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
