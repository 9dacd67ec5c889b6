//! What a request needs to know about its caller, kept cheap: session standings, API keys and
//! users' roles are cached in memory, and every instance drops an entry the moment any instance
//! revokes the session, deletes the key or changes the user, as the invalidation bus
//! ([`crate::bus`]) tells it.
//!
//! Correctness does not rest on the cache: while the bus is not connected nothing is served
//! from it, a reconnect clears it, and an entry lives at most [`ENTRY_TTL`] even if a
//! notification were somehow missed. A load racing with an invalidation is not cached
//! (a generation counter tells). And what is served from it is re-checked where it matters:
//! a session opened on a key deleted a moment ago is refused on its first use, because its
//! standing says the key is gone.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use identity::models::CallerRecord;
use kernel::{AccountId, Roles, SessionId, UserId};
use tokens::ports::{SessionStanding, StoredApiKey};
use uuid::Uuid;

pub use crate::bus::Invalidation;

/// The longest an entry is trusted without hearing from Postgres.
pub const ENTRY_TTL: Duration = Duration::from_secs(60);
/// Entries of one kind kept at most; a full kind starts again empty.
const MAX_ENTRIES: usize = 100_000;
pub(crate) use crate::bus::announce;

struct Entry<V> {
    value: V,
    loaded: Instant,
}

/// One kind of cached fact.
struct Facts<K, V>(HashMap<K, Entry<V>>);

impl<K, V> Default for Facts<K, V> {
    fn default() -> Self {
        Self(HashMap::new())
    }
}

impl<K: Eq + Hash, V: Clone> Facts<K, V> {
    #[allow(
        clippy::disallowed_methods,
        reason = "a cached fact lives for a real-time TTL"
    )]
    fn get(&self, key: &K) -> Option<&V> {
        self.0
            .get(key)
            .filter(|e| e.loaded.elapsed() < ENTRY_TTL)
            .map(|e| &e.value)
    }

    #[allow(
        clippy::disallowed_methods,
        reason = "a cached fact lives for a real-time TTL"
    )]
    fn put(&mut self, key: K, value: V) {
        if self.0.len() >= MAX_ENTRIES {
            self.0.clear();
        }
        self.0.insert(
            key,
            Entry {
                value,
                loaded: Instant::now(),
            },
        );
    }

    fn retain(&mut self, mut keep: impl FnMut(&K, &V) -> bool) {
        self.0.retain(|k, e| keep(k, &e.value));
    }
}

#[derive(Default)]
struct Maps {
    /// A session's standing, with the account and user it belongs to.
    standings: Facts<SessionId, (AccountId, UserId, SessionStanding)>,
    /// API keys by id, as the anonymous exchange path reads them.
    api_keys: Facts<Uuid, StoredApiKey>,
    /// A user's roles, with the account they belong to.
    roles: Facts<UserId, (AccountId, Roles)>,
    /// What `GET /v1/me` tells of a user beside the session's roles.
    callers: Facts<UserId, CallerRecord>,
}

/// This instance's cache of what requests need to know about their callers.
#[derive(Default)]
pub struct SessionCache {
    maps: RwLock<Maps>,
    generation: AtomicU64,
    listening: AtomicBool,
}

impl SessionCache {
    fn read(&self) -> Option<std::sync::RwLockReadGuard<'_, Maps>> {
        if !self.listening.load(Ordering::Acquire) {
            return None;
        }
        Some(
            self.maps
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// Runs `put` on the maps unless an invalidation happened since `generation` was read.
    fn write_if_current(&self, generation: u64, put: impl FnOnce(&mut Maps)) {
        let mut maps = self
            .maps
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.generation.load(Ordering::Acquire) == generation
            && self.listening.load(Ordering::Acquire)
        {
            put(&mut maps);
        }
    }

    /// A session's cached standing, if trustworthy right now.
    pub fn get(
        &self,
        account: AccountId,
        user: UserId,
        session: SessionId,
    ) -> Option<SessionStanding> {
        self.read()?
            .standings
            .get(&session)
            .filter(|(a, u, _)| *a == account && *u == user)
            .map(|(_, _, standing)| standing.clone())
    }

    /// Read before loading from the database; pass to the `insert` that caches the load.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Caches a session's standing, unless an invalidation happened since `generation`.
    pub fn insert(
        &self,
        generation: u64,
        account: AccountId,
        user: UserId,
        session: SessionId,
        standing: SessionStanding,
    ) {
        self.write_if_current(generation, |maps| {
            maps.standings.put(session, (account, user, standing));
        });
    }

    /// A cached API key, if trustworthy right now.
    pub(crate) fn api_key(&self, id: Uuid) -> Option<StoredApiKey> {
        self.read()?.api_keys.get(&id).cloned()
    }

    pub(crate) fn insert_api_key(&self, generation: u64, key: StoredApiKey) {
        self.write_if_current(generation, |maps| maps.api_keys.put(key.key.key_id, key));
    }

    /// This instance noted the key's use at `at` (a committed write).
    pub(crate) fn api_key_used(&self, id: Uuid, at: DateTime<Utc>) {
        let mut maps = self
            .maps
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(entry) = maps.api_keys.0.get_mut(&id) {
            entry.value.key.last_used_at = Some(at);
        }
    }

    /// A user's cached roles in `account`, if trustworthy right now.
    pub(crate) fn roles(&self, account: AccountId, user: UserId) -> Option<Roles> {
        self.read()?
            .roles
            .get(&user)
            .filter(|(a, _)| *a == account)
            .map(|(_, roles)| roles.clone())
    }

    pub(crate) fn insert_roles(
        &self,
        generation: u64,
        account: AccountId,
        user: UserId,
        roles: Roles,
    ) {
        self.write_if_current(generation, |maps| maps.roles.put(user, (account, roles)));
    }

    /// A user's cached caller facts in `account`, if trustworthy right now.
    pub(crate) fn caller(&self, account: AccountId, user: UserId) -> Option<CallerRecord> {
        self.read()?
            .callers
            .get(&user)
            .filter(|caller| caller.account.id == account)
            .cloned()
    }

    pub(crate) fn insert_caller(&self, generation: u64, caller: CallerRecord) {
        self.write_if_current(generation, |maps| maps.callers.put(caller.user.id, caller));
    }

    /// Drops what `what` names (a signing-key change names nothing cached here).
    pub fn invalidate(&self, what: Invalidation) {
        if what == Invalidation::SigningKeys {
            return;
        }
        let mut maps = self
            .maps
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::AcqRel);
        match what {
            Invalidation::Session(id) => {
                maps.standings.0.remove(&id);
            }
            Invalidation::User(id) => {
                maps.standings.retain(|_, (_, user, _)| *user != id);
                maps.api_keys.retain(|_, key| key.key.user_id != id);
                maps.roles.0.remove(&id);
                maps.callers.0.remove(&id);
            }
            Invalidation::ApiKey(id) => {
                maps.api_keys.0.remove(&id);
                // A session opened on the key from a cached copy while it was being deleted
                // may have missed the revocation: every key session's standing is read again.
                maps.standings
                    .retain(|_, (_, _, standing)| standing.api_key_live.is_none());
            }
            Invalidation::SigningKeys => {}
        }
    }

    /// Serves from the cache only while the bus hears every invalidation; either way, forgets
    /// everything (a change may have been missed).
    pub(crate) fn set_listening(&self, listening: bool) {
        let mut maps = self
            .maps
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::AcqRel);
        *maps = Maps::default();
        self.listening.store(listening, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles() -> SessionStanding {
        SessionStanding {
            kind: tokens::SessionKind::Login,
            revoked: false,
            expires_at: chrono::DateTime::UNIX_EPOCH,
            api_key_live: None,
            roles: kernel::Roles {
                account: vec![kernel::AccountRole::Owner],
                workspaces: Vec::new(),
            },
        }
    }

    #[test]
    fn payloads_round_trip() {
        let session = Invalidation::Session(SessionId::generate());
        let user = Invalidation::User(UserId::generate());
        assert_eq!(Invalidation::parse(&session.payload()), Some(session));
        assert_eq!(Invalidation::parse(&user.payload()), Some(user));
        assert_eq!(Invalidation::parse("x:nope"), None);
    }

    #[test]
    fn nothing_is_served_while_not_listening() {
        let cache = SessionCache::default();
        let (a, u, s) = (
            AccountId::generate(),
            UserId::generate(),
            SessionId::generate(),
        );
        cache.insert(cache.generation(), a, u, s, roles());
        assert_eq!(cache.get(a, u, s), None);
    }

    #[test]
    fn invalidations_evict_and_stale_loads_are_dropped() {
        let cache = SessionCache::default();
        cache.set_listening(true);
        let (a, u, s) = (
            AccountId::generate(),
            UserId::generate(),
            SessionId::generate(),
        );
        cache.insert(cache.generation(), a, u, s, roles());
        assert_eq!(cache.get(a, u, s), Some(roles()));
        assert_eq!(
            cache.get(AccountId::generate(), u, s),
            None,
            "another account's claims"
        );

        cache.invalidate(Invalidation::Session(s));
        assert_eq!(cache.get(a, u, s), None);

        let before = cache.generation();
        cache.invalidate(Invalidation::User(u));
        cache.insert(before, a, u, s, roles());
        assert_eq!(
            cache.get(a, u, s),
            None,
            "a load that raced an invalidation is not kept"
        );

        cache.insert(cache.generation(), a, u, s, roles());
        cache.invalidate(Invalidation::User(u));
        assert_eq!(cache.get(a, u, s), None);
    }

    fn key(owner: UserId, account: AccountId) -> StoredApiKey {
        StoredApiKey {
            key: tokens::ApiKey {
                key_id: Uuid::now_v7(),
                account_id: account,
                user_id: owner,
                name: "k".into(),
                scopes: None,
                created_at: chrono::DateTime::UNIX_EPOCH,
                last_used_at: None,
            },
            secret_digest: vec![1; 32],
            deleted: false,
        }
    }

    #[test]
    fn keys_and_roles_go_with_their_user_and_keys_with_their_deletion() {
        let cache = SessionCache::default();
        cache.set_listening(true);
        let (a, u) = (AccountId::generate(), UserId::generate());
        let (first, second) = (key(u, a), key(u, a));
        let owner_roles = roles().roles;
        cache.insert_api_key(cache.generation(), first.clone());
        cache.insert_api_key(cache.generation(), second.clone());
        cache.insert_roles(cache.generation(), a, u, owner_roles.clone());
        assert_eq!(cache.roles(a, u), Some(owner_roles.clone()));
        assert_eq!(
            cache.roles(AccountId::generate(), u),
            None,
            "another account's"
        );

        cache.invalidate(Invalidation::ApiKey(first.key.key_id));
        assert!(cache.api_key(first.key.key_id).is_none());
        assert!(cache.api_key(second.key.key_id).is_some());

        let at = chrono::DateTime::UNIX_EPOCH + chrono::Duration::days(1);
        cache.api_key_used(second.key.key_id, at);
        assert_eq!(
            cache
                .api_key(second.key.key_id)
                .and_then(|k| k.key.last_used_at),
            Some(at)
        );

        cache.invalidate(Invalidation::User(u));
        assert!(cache.api_key(second.key.key_id).is_none());
        assert_eq!(cache.roles(a, u), None);
    }

    #[test]
    fn a_deleted_key_sends_every_key_session_back_to_the_database() {
        let cache = SessionCache::default();
        cache.set_listening(true);
        let (a, u) = (AccountId::generate(), UserId::generate());
        let (person, integration) = (SessionId::generate(), SessionId::generate());
        let mut key_session = roles();
        key_session.api_key_live = Some(true);
        cache.insert(cache.generation(), a, u, person, roles());
        cache.insert(cache.generation(), a, u, integration, key_session);
        cache.invalidate(Invalidation::ApiKey(Uuid::now_v7()));
        assert_eq!(cache.get(a, u, integration), None);
        assert_eq!(cache.get(a, u, person), Some(roles()));
    }
}
