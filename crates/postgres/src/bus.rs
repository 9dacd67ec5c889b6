//! The cross-instance invalidation bus: a change that every instance must see at once
//! (a revoked session, a user's changed roles, a rotated signing key) is announced with
//! `NOTIFY` on [`CHANNEL`] inside the transaction that makes it — so only a committed change is
//! heard — and every instance's [`InvalidationBus`] `LISTEN`s on its own connection and applies
//! it to that instance's [`SessionCache`] and key ring.

use std::sync::Arc;
use std::time::Duration;

use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use futures_util::StreamExt as _;
use kernel::{SessionId, UserId};
use uuid::Uuid;

use crate::error::DbError;
use crate::session_cache::SessionCache;

/// How often the listener proves its connection alive.
const PING_EVERY: Duration = Duration::from_secs(5);

/// The channel revocations are announced on.
pub const CHANNEL: &str = "nudgescribe_sessions";

/// What a notification on [`CHANNEL`] names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invalidation {
    Session(SessionId),
    /// The user's roles changed, or the user is gone.
    User(UserId),
    /// The API key was deleted.
    ApiKey(Uuid),
    /// The signing keys changed (a rotation): every instance reloads its key ring.
    SigningKeys,
}

impl Invalidation {
    #[must_use]
    pub fn payload(self) -> String {
        match self {
            Self::Session(id) => format!("s:{id}"),
            Self::User(id) => format!("u:{id}"),
            Self::ApiKey(id) => format!("a:{id}"),
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
            "a" => Some(Self::ApiKey(id)),
            _ => None,
        }
    }
}

/// This instance's end of the bus.
pub struct InvalidationBus {
    cache: Arc<SessionCache>,
    signing_keys_changed: tokio::sync::Notify,
}

impl InvalidationBus {
    #[must_use]
    pub fn new(cache: Arc<SessionCache>) -> Self {
        Self {
            cache,
            signing_keys_changed: tokio::sync::Notify::new(),
        }
    }

    /// Resolves when some instance changed the signing keys (or the listener reconnected,
    /// after which a change may have been missed): time to reload the key ring.
    pub async fn signing_keys_changed(&self) {
        self.signing_keys_changed.notified().await;
    }

    fn apply(&self, what: Invalidation) {
        match what {
            Invalidation::SigningKeys => self.signing_keys_changed.notify_one(),
            Invalidation::Session(_) | Invalidation::User(_) | Invalidation::ApiKey(_) => {
                self.cache.invalidate(what);
            }
        }
    }

    /// Keeps this instance in step with every instance's revocations, for as long as the process
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
            self.cache.set_listening(false);
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
        self.cache.set_listening(true);
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
                                    self.apply(what);
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
pub(crate) async fn announce(conn: &AsyncPgConnection, what: Invalidation) -> Result<(), DbError> {
    use diesel_async::RunQueryDsl as _;
    Notify(what.payload()).execute(&mut &*conn).await?;
    Ok(())
}

/// `SELECT pg_notify(CHANNEL, payload)`, a prepared statement like any other (it goes out on
/// every revocation and role change, and is pipelined with the writes around it).
struct Notify(String);

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for Notify {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> diesel::QueryResult<()> {
        out.push_sql("SELECT pg_notify('");
        out.push_sql(CHANNEL);
        out.push_sql("', ");
        out.push_bind_param::<Text, _>(&self.0)?;
        out.push_sql(")");
        Ok(())
    }
}

impl diesel::query_builder::QueryId for Notify {
    type QueryId = Self;
    const HAS_STATIC_QUERY_ID: bool = true;
}
