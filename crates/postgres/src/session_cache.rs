//! The per-request session check, kept cheap: session standings (with the user's roles) are
//! cached in memory, and every instance drops an entry the moment any instance revokes the
//! session or changes the user, as the invalidation bus ([`crate::bus`]) tells it.
//!
//! Correctness does not rest on the cache: while the bus is not connected nothing is served
//! from it, a reconnect clears it, and an entry lives at most [`ENTRY_TTL`] even if a
//! notification were somehow missed. A load racing with an invalidation is not cached
//! (a generation counter tells).

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kernel::{AccountId, SessionId, UserId};
use tokens::ports::SessionStanding;

pub use crate::bus::Invalidation;

/// The longest an entry is trusted without hearing from Postgres.
pub const ENTRY_TTL: Duration = Duration::from_secs(60);
const MAX_ENTRIES: usize = 100_000;
pub(crate) use crate::bus::announce;

struct Entry {
    account: AccountId,
    user: UserId,
    standing: SessionStanding,
    loaded: Instant,
}

/// This instance's cache of session standings.
#[derive(Default)]
pub struct SessionCache {
    entries: RwLock<HashMap<SessionId, Entry>>,
    generation: AtomicU64,
    listening: AtomicBool,
}

impl SessionCache {
    /// A session's cached standing, if trustworthy right now.
    #[allow(
        clippy::disallowed_methods,
        reason = "a cached standing lives for a real-time TTL"
    )]
    pub fn get(
        &self,
        account: AccountId,
        user: UserId,
        session: SessionId,
    ) -> Option<SessionStanding> {
        if !self.listening.load(Ordering::Acquire) {
            return None;
        }
        let entries = self
            .entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        entries
            .get(&session)
            .filter(|e| e.account == account && e.user == user && e.loaded.elapsed() < ENTRY_TTL)
            .map(|e| e.standing.clone())
    }

    /// Read before loading from the database; pass to [`SessionCache::insert`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Caches a load, unless an invalidation happened since `generation` was read.
    #[allow(
        clippy::disallowed_methods,
        reason = "a cached standing lives for a real-time TTL"
    )]
    pub fn insert(
        &self,
        generation: u64,
        account: AccountId,
        user: UserId,
        session: SessionId,
        standing: SessionStanding,
    ) {
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.generation.load(Ordering::Acquire) != generation
            || !self.listening.load(Ordering::Acquire)
        {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(
            session,
            Entry {
                account,
                user,
                standing,
                loaded: Instant::now(),
            },
        );
    }

    /// Drops what `what` names (a signing-key change names no session).
    pub fn invalidate(&self, what: Invalidation) {
        if what == Invalidation::SigningKeys {
            return;
        }
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::AcqRel);
        match what {
            Invalidation::Session(id) => {
                entries.remove(&id);
            }
            Invalidation::User(id) => entries.retain(|_, e| e.user != id),
            Invalidation::SigningKeys => {}
        }
    }

    /// Serves from the cache only while the bus hears every invalidation; either way, forgets
    /// everything (a change may have been missed).
    pub(crate) fn set_listening(&self, listening: bool) {
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
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
}
