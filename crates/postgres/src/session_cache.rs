//! The per-request session check, kept cheap: live sessions (with their roles) are cached in
//! memory, and every instance drops an entry the moment any instance revokes the session or
//! changes the user, through Postgres `LISTEN`/`NOTIFY` on [`CHANNEL`].
//!
//! Correctness does not rest on the cache: while the listener is not connected nothing is
//! served from it, a reconnect clears it, and an entry lives at most [`ENTRY_TTL`] even if a
//! notification were somehow missed. A load racing with an invalidation is not cached
//! (a generation counter tells).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use futures_util::StreamExt as _;
use kernel::{AccountId, SessionId, UserId};
use tokens::LiveSession;
use uuid::Uuid;

use crate::error::DbError;

/// The channel revocations are announced on.
pub const CHANNEL: &str = "nudgescribe_sessions";
/// The longest an entry is trusted without hearing from Postgres.
pub const ENTRY_TTL: Duration = Duration::from_secs(60);
const MAX_ENTRIES: usize = 100_000;
/// How often the listener proves its connection alive.
const PING_EVERY: Duration = Duration::from_secs(5);

/// What a notification on [`CHANNEL`] names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invalidation {
    Session(SessionId),
    User(UserId),
    /// The signing keys changed (a rotation): every instance reloads its key ring.
    SigningKeys,
}

impl Invalidation {
    #[must_use]
    pub fn payload(self) -> String {
        match self {
            Self::Session(id) => format!("s:{id}"),
            Self::User(id) => format!("u:{id}"),
            Self::SigningKeys => "k:".to_owned(),
        }
    }

    #[must_use]
    pub fn parse(payload: &str) -> Option<Self> {
        if payload == "k:" {
            return Some(Self::SigningKeys);
        }
        let (kind, id) = payload.split_once(':')?;
        let id = Uuid::parse_str(id).ok()?;
        match kind {
            "s" => Some(Self::Session(SessionId::from_uuid(id))),
            "u" => Some(Self::User(UserId::from_uuid(id))),
            _ => None,
        }
    }
}

struct Entry {
    account: AccountId,
    user: UserId,
    live: LiveSession,
    loaded: Instant,
}

/// The session cache, and the listener that keeps it (and, through
/// [`SessionCache::signing_keys_changed`], each instance's key ring) in step with every
/// instance's changes.
#[derive(Default)]
pub struct SessionCache {
    entries: RwLock<HashMap<SessionId, Entry>>,
    generation: AtomicU64,
    listening: AtomicBool,
    signing_keys_changed: tokio::sync::Notify,
}

impl SessionCache {
    /// A live session's cached kind and roles, if trustworthy right now.
    #[allow(
        clippy::disallowed_methods,
        reason = "a cached session lives for a real-time TTL"
    )]
    pub fn get(&self, account: AccountId, user: UserId, session: SessionId) -> Option<LiveSession> {
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
            .map(|e| e.live.clone())
    }

    /// Read before loading from the database; pass to [`SessionCache::insert`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Caches a load, unless an invalidation happened since `generation` was read.
    #[allow(
        clippy::disallowed_methods,
        reason = "a cached session lives for a real-time TTL"
    )]
    pub fn insert(
        &self,
        generation: u64,
        account: AccountId,
        user: UserId,
        session: SessionId,
        live: LiveSession,
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
                live,
                loaded: Instant::now(),
            },
        );
    }

    pub fn invalidate(&self, what: Invalidation) {
        if what == Invalidation::SigningKeys {
            self.signing_keys_changed.notify_one();
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

    /// Resolves when some instance changed the signing keys (or the listener reconnected,
    /// after which a change may have been missed): time to reload the key ring.
    pub async fn signing_keys_changed(&self) {
        self.signing_keys_changed.notified().await;
    }

    fn set_listening(&self, listening: bool) {
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
        self.listening.store(listening, Ordering::Release);
    }

    /// Keeps the cache in step with every instance's revocations, for as long as the process
    /// runs: connects, `LISTEN`s, applies notifications; on any failure stops serving from the
    /// cache, clears it, and reconnects with backoff.
    #[allow(
        clippy::disallowed_methods,
        reason = "reconnection backoff is real time"
    )]
    pub async fn listen(self: Arc<Self>, url: String) {
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.listen_once(&url).await {
                Ok(()) => backoff = Duration::from_millis(100),
                Err(error) => {
                    tracing::warn!(%error, "session revocation listener lost its connection; reconnecting");
                }
            }
            self.set_listening(false);
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    #[allow(
        clippy::disallowed_methods,
        reason = "the listener pings on a real-time deadline"
    )]
    async fn listen_once(&self, url: &str) -> Result<(), DbError> {
        // Imported here: its `load` would shadow the atomics' elsewhere in this module.
        use diesel_async::RunQueryDsl as _;
        let mut conn = AsyncPgConnection::establish(url)
            .await
            .map_err(|e| DbError::Connect {
                url: crate::migrate::redact(url),
                reason: e.to_string(),
            })?;
        diesel::sql_query(format!("LISTEN {CHANNEL}"))
            .execute(&mut conn)
            .await?;
        self.set_listening(true);
        // A rotation may have happened while no one was listening.
        self.signing_keys_changed.notify_one();
        loop {
            {
                let mut notifications = std::pin::pin!(conn.notifications_stream());
                let deadline = tokio::time::sleep(PING_EVERY);
                tokio::pin!(deadline);
                loop {
                    tokio::select! {
                        next = notifications.next() => match next {
                            Some(Ok(notification)) => {
                                if let Some(what) = Invalidation::parse(&notification.payload) {
                                    self.invalidate(what);
                                }
                            }
                            Some(Err(error)) => return Err(error.into()),
                            None => return Err(DbError::Pool("the listener connection closed".into())),
                        },
                        () = &mut deadline => break,
                    }
                }
            }
            // A connection that died quietly is noticed here, not at the next revocation.
            diesel::sql_query("SELECT 1").execute(&mut conn).await?;
        }
    }
}

/// Announces an invalidation to every instance when the surrounding transaction commits.
pub(crate) async fn announce(
    conn: &mut AsyncPgConnection,
    what: Invalidation,
) -> Result<(), DbError> {
    use diesel_async::RunQueryDsl as _;
    diesel::sql_query("SELECT pg_notify($1, $2)")
        .bind::<Text, _>(CHANNEL)
        .bind::<Text, _>(what.payload())
        .execute(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles() -> LiveSession {
        LiveSession {
            kind: tokens::SessionKind::Login,
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
