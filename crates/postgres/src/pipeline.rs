//! A unit of work whose statements travel together: its `BEGIN` and role settings are not sent
//! when it opens but in front of its first statements, and its queued writes go with its next
//! read or with its `COMMIT` — so a unit of work that reads once and writes a few rows costs two
//! round trips, and one that only writes costs one.
//!
//! Why the order on the wire is the order of the code: every statement here, `BEGIN` and
//! `COMMIT` included, goes through diesel-async's prepared-statement path, which takes the
//! connection's statement-cache lock (a fair, first-come lock) before it prepares and sends its
//! statement without yielding in between. Futures polled in order therefore reach the server in
//! order, even when one of them must first be prepared; and Postgres runs a connection's
//! statements in the order they arrive. Each statement has its own static query id, so each is
//! prepared once per connection and only bound and executed after that.
//!
//! That also takes that no statement here binds a type diesel must look up by name (a custom
//! Postgres type): diesel-async resolves those under another lock first, which a statement
//! behind it would not wait for.
//!
//! diesel-async's transaction manager never hears of these transactions, so the pool cannot tell
//! an open one: a unit of work dropped inside its transaction is rolled back in the background
//! and handed back only if that works, and one that failed leaves the pool for good.

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::Text;
use diesel_async::pooled_connection::deadpool::Object;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures_util::future::BoxFuture;

use crate::db::{Lookup, hex};
use crate::error::DbError;

/// The role and settings a unit of work runs with, set transaction-locally.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Settings {
    pub role: &'static str,
    pub account_id: String,
    pub user_id: String,
    pub user_email: String,
    pub api_key_id: String,
    pub refresh_digest: String,
}

impl Settings {
    pub(crate) fn tenant(account: kernel::AccountId, user: Option<kernel::UserId>) -> Self {
        Self {
            role: "access_user",
            account_id: account.to_string(),
            user_id: user.map(|u| u.to_string()).unwrap_or_default(),
            ..Self::nobody()
        }
    }

    /// The anonymous role, seeing only the one row `lookup` names.
    pub(crate) fn anonymous(lookup: Lookup<'_>) -> Self {
        let mut settings = Self::nobody();
        match lookup {
            Lookup::Nothing => {}
            Lookup::UserByEmail(email) => email.as_str().clone_into(&mut settings.user_email),
            Lookup::ApiKey(id) => settings.api_key_id = id.to_string(),
            Lookup::RefreshToken(digest) => settings.refresh_digest = hex(digest),
        }
        settings
    }

    fn nobody() -> Self {
        Self {
            role: "anon_user",
            account_id: String::new(),
            user_id: String::new(),
            user_email: String::new(),
            api_key_id: String::new(),
            refresh_digest: String::new(),
        }
    }
}

impl Settings {
    /// The settings by name, in the order they are set.
    fn named(&self) -> [(&'static str, &str); 5] {
        [
            ("app.account_id", &self.account_id),
            ("app.user_id", &self.user_id),
            ("app.user_email", &self.user_email),
            ("app.api_key_id", &self.api_key_id),
            ("app.refresh_digest", &self.refresh_digest),
        ]
    }

    /// `BEGIN` and the settings as one simple-query batch, values written into the text: only
    /// for values this server formatted itself (ids, hex digests), never for caller text.
    pub(crate) fn begin_batch(&self) -> String {
        debug_assert!(
            self.user_email.is_empty(),
            "an address is never written into SQL"
        );
        let mut batch = format!("BEGIN; SELECT set_config('role', '{}', true)", self.role);
        for (name, value) in self.named() {
            batch.push_str(&format!(", set_config('{name}', '{value}', true)"));
        }
        batch
    }
}

/// `SELECT set_config(…)` for every setting, as one prepared statement.
impl QueryFragment<Pg> for Settings {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> diesel::QueryResult<()> {
        out.push_sql("SELECT set_config('role', ");
        out.push_bind_param::<Text, _>(self.role)?;
        for (name, value) in self.named() {
            out.push_sql(", true), set_config('");
            out.push_sql(name);
            out.push_sql("', ");
            out.push_bind_param::<Text, _>(value)?;
        }
        out.push_sql(", true)");
        Ok(())
    }
}

impl QueryId for Settings {
    type QueryId = Self;
    const HAS_STATIC_QUERY_ID: bool = true;
}

/// A statement of fixed text with no parameters (`BEGIN`, `COMMIT`), prepared like any other.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fixed<const WHICH: u8>;

pub(crate) const BEGIN: Fixed<0> = Fixed;
pub(crate) const COMMIT: Fixed<1> = Fixed;
pub(crate) const ROLLBACK: Fixed<2> = Fixed;

impl<const WHICH: u8> QueryFragment<Pg> for Fixed<WHICH> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> diesel::QueryResult<()> {
        out.push_sql(match WHICH {
            0 => "BEGIN",
            1 => "COMMIT",
            _ => "ROLLBACK",
        });
        Ok(())
    }
}

impl<const WHICH: u8> QueryId for Fixed<WHICH> {
    type QueryId = Self;
    const HAS_STATIC_QUERY_ID: bool = true;
}

/// Statements sent together, in order, without waiting for each other's answers.
pub(crate) type Statements<'c> = Vec<BoxFuture<'c, Result<(), DbError>>>;

/// Where the transaction stands on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Stage {
    /// Nothing sent yet: `BEGIN` and these settings go in front of the first statements.
    Pending(Settings),
    /// `BEGIN` sent; settings to send in front of the next statements, if they changed.
    Open(Option<Settings>),
    /// Committed, or given up: the connection is done with.
    Ended,
}

/// A unit of work on one pooled connection (see the module's documentation).
pub struct PipelinedTx {
    conn: Option<Object<AsyncPgConnection>>,
    stage: Stage,
}

impl PipelinedTx {
    pub(crate) fn new(conn: Object<AsyncPgConnection>, settings: Settings) -> Self {
        Self {
            conn: Some(conn),
            stage: Stage::Pending(settings),
        }
    }

    /// From here on the unit runs with `settings` (sent in front of its next statements).
    pub(crate) fn switch_to(&mut self, settings: Settings) {
        match &mut self.stage {
            Stage::Pending(pending) => *pending = settings,
            Stage::Open(next) => *next = Some(settings),
            Stage::Ended => {}
        }
    }

    /// Sends what the transaction still owes the server (its `BEGIN`, changed settings), then
    /// `writes`, then `read`, all in one round trip, and answers with what `read` answers.
    /// After an error the unit of work is good only for dropping (which discards its
    /// connection): Postgres refuses everything in a failed transaction anyway.
    pub(crate) async fn read<'c, T>(
        &'c mut self,
        writes: impl FnOnce(&'c AsyncPgConnection) -> Statements<'c>,
        read: impl FnOnce(&'c AsyncPgConnection) -> BoxFuture<'c, Result<T, DbError>>,
    ) -> Result<T, DbError> {
        let (conn, mut statements) = self.prelude()?;
        statements.extend(writes(conn));
        let sent = futures_util::future::try_join_all(statements);
        let (_, value) = futures_util::future::try_join(sent, read(conn)).await?;
        Ok(value)
    }

    /// The connection, for statements one after another, once the transaction's `BEGIN` and
    /// settings have gone (in one round trip, if still owed).
    pub(crate) async fn conn(&mut self) -> Result<&mut AsyncPgConnection, DbError> {
        {
            let (_, owed) = self.prelude()?;
            futures_util::future::try_join_all(owed).await?;
        }
        self.conn
            .as_deref_mut()
            .ok_or_else(|| DbError::Corrupt("a unit of work without its connection".into()))
    }

    /// Ends the transaction keeping nothing; the connection goes back to the pool clean.
    pub(crate) async fn rollback(mut self) -> Result<(), DbError> {
        if !matches!(self.stage, Stage::Open(_)) {
            return Ok(());
        }
        let Some(conn) = self.conn.as_deref_mut() else {
            return Ok(());
        };
        match ROLLBACK.execute(conn).await {
            Ok(_) => {
                self.stage = Stage::Ended;
                drop(self.conn.take());
                Ok(())
            }
            Err(error) => {
                self.give_up();
                Err(error.into())
            }
        }
    }

    /// Sends what the transaction still owes the server, `writes` and `COMMIT`, in one round
    /// trip, and gives the connection back to the pool once every statement succeeded.
    pub(crate) async fn commit(
        mut self,
        writes: impl FnOnce(&AsyncPgConnection) -> Statements<'_>,
    ) -> Result<(), DbError> {
        let result = {
            let (conn, owed) = self.prelude()?;
            // A statement that fails before it is sent (a value that does not bind) must not
            // let the `COMMIT` behind it keep the others: each is first polled in order, so a
            // failure on the first poll is known when the `COMMIT` is first polled.
            let failed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let mut statements: Statements<'_> = owed
                .into_iter()
                .chain(writes(conn))
                .map(|statement| {
                    let failed = std::sync::Arc::clone(&failed);
                    Box::pin(async move {
                        let outcome = statement.await;
                        if outcome.is_err() {
                            failed.store(true, std::sync::atomic::Ordering::Release);
                        }
                        outcome
                    }) as BoxFuture<'_, Result<(), DbError>>
                })
                .collect();
            statements.push(Box::pin(async move {
                if std::sync::atomic::AtomicBool::load(
                    &failed,
                    std::sync::atomic::Ordering::Acquire,
                ) {
                    ROLLBACK.execute(&mut &*conn).await?;
                    return Err(DbError::Corrupt(
                        "a statement failed before it was sent; rolled back".into(),
                    ));
                }
                COMMIT.execute(&mut &*conn).await?;
                Ok(())
            }));
            // Every answer is awaited: a `COMMIT` after a failed statement answers as a
            // rollback, and the failure is what the caller hears.
            futures_util::future::join_all(statements)
                .await
                .into_iter()
                .collect::<Result<Vec<()>, DbError>>()
        };
        match result {
            Ok(_) => {
                self.stage = Stage::Ended;
                // Back to the pool: the transaction ended.
                drop(self.conn.take());
                Ok(())
            }
            Err(error) => {
                self.give_up();
                Err(error)
            }
        }
    }

    /// The connection and the statements the server is owed before anything else.
    fn prelude(&mut self) -> Result<(&AsyncPgConnection, Statements<'_>), DbError> {
        let settings = match std::mem::replace(&mut self.stage, Stage::Open(None)) {
            Stage::Pending(settings) => (true, Some(settings)),
            Stage::Open(next) => (false, next),
            Stage::Ended => {
                self.stage = Stage::Ended;
                return Err(DbError::Corrupt(
                    "a unit of work used after it ended".into(),
                ));
            }
        };
        let conn: &AsyncPgConnection = self
            .conn
            .as_deref()
            .ok_or_else(|| DbError::Corrupt("a unit of work without its connection".into()))?;
        let mut statements: Statements<'_> = Vec::with_capacity(4);
        if settings.0 {
            statements.push(Box::pin(async move {
                BEGIN.execute(&mut &*conn).await?;
                Ok(())
            }));
        }
        if let Some(settings) = settings.1 {
            statements.push(Box::pin(async move {
                settings.execute(&mut &*conn).await?;
                Ok(())
            }));
        }
        Ok((conn, statements))
    }

    /// After an error: the connection, perhaps inside a transaction or with an answer still
    /// owed, never goes back to the pool.
    fn give_up(&mut self) {
        self.stage = Stage::Ended;
        if let Some(conn) = self.conn.take() {
            drop(Object::take(conn));
        }
    }
}

impl Drop for PipelinedTx {
    fn drop(&mut self) {
        match self.stage {
            // Nothing was sent: the connection is as clean as it came.
            Stage::Pending(_) => drop(self.conn.take()),
            // Dropped inside its transaction (a refusal that needs nothing kept, a cancelled
            // request): rolled back in the background and handed back to the pool if that
            // works, so that cheap refusals cost no reconnection; discarded if it does not.
            Stage::Open(_) => match (self.conn.take(), tokio::runtime::Handle::try_current()) {
                (Some(mut conn), Ok(runtime)) => {
                    self.stage = Stage::Ended;
                    runtime.spawn(async move {
                        if ROLLBACK.execute(&mut *conn).await.is_err() {
                            drop(Object::take(conn));
                        }
                    });
                }
                (conn, _) => {
                    self.conn = conn;
                    self.give_up();
                }
            },
            Stage::Ended => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use diesel::{ExpressionMethods as _, QueryDsl as _};

    use super::*;
    use crate::db::{Db, PoolSettings};
    use crate::schema::rate_limit_hits;

    type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

    /// One connection, so every statement below is prepared for the first time in the very
    /// pipeline that also carries the `COMMIT`.
    async fn one_connection()
    -> Result<(testdb::TestDatabase, Db), Box<dyn std::error::Error + Send + Sync>> {
        let database = testdb::TestDatabase::new(crate::MIGRATIONS).await?;
        let settings = PoolSettings {
            max_connections: 1,
            ..PoolSettings::default()
        };
        let db = Db::connect(database.url(), &settings)?;
        Ok((database, db))
    }

    /// The login role itself, so the test may write a global table.
    fn as_owner() -> Settings {
        Settings {
            role: "postgres",
            ..Settings::anonymous(Lookup::Nothing)
        }
    }

    fn insert<'c>(
        conn: &'c AsyncPgConnection,
        bucket: &'static str,
    ) -> BoxFuture<'c, Result<(), DbError>> {
        Box::pin(async move {
            diesel::insert_into(rate_limit_hits::table)
                .values((
                    rate_limit_hits::bucket.eq(bucket),
                    rate_limit_hits::window_start.eq(chrono::DateTime::UNIX_EPOCH),
                    rate_limit_hits::hits.eq(1),
                ))
                .execute(&mut &*conn)
                .await?;
            Ok(())
        })
    }

    /// The rows of the table, as the unit of work sees them.
    fn count(mut conn: &AsyncPgConnection) -> BoxFuture<'_, Result<i64, DbError>> {
        Box::pin(async move {
            Ok(rate_limit_hits::table
                .count()
                .get_result::<i64>(&mut conn)
                .await?)
        })
    }

    /// One read in a unit of work of its own.
    async fn read_once<T: Send + 'static>(
        db: &Db,
        read: fn(&AsyncPgConnection) -> BoxFuture<'_, Result<T, DbError>>,
    ) -> Result<T, Box<dyn std::error::Error + Send + Sync>> {
        let mut tx = db.pipelined(as_owner()).await?;
        let found = tx.read(|_| Vec::new(), read).await?;
        tx.commit(|_| Vec::new()).await?;
        Ok(found)
    }

    async fn buckets(db: &Db) -> Result<Vec<String>, Box<dyn std::error::Error + Send + Sync>> {
        read_once(db, |mut conn| {
            Box::pin(async move {
                Ok(rate_limit_hits::table
                    .select(rate_limit_hits::bucket)
                    .order(rate_limit_hits::bucket)
                    .load::<String>(&mut conn)
                    .await?)
            })
        })
        .await
    }

    #[tokio::test]
    async fn a_failed_statement_keeps_nothing_of_the_pipeline_it_was_sent_in() -> TestResult {
        let (_database, db) = one_connection().await?;
        let tx = db.pipelined(as_owner()).await?;
        let failed = tx
            .commit(|conn| vec![insert(conn, "a"), insert(conn, "b"), insert(conn, "a")])
            .await;
        assert!(failed.is_err(), "the duplicate fails the commit");
        assert!(buckets(&db).await?.is_empty(), "nothing of it was kept");

        let tx = db.pipelined(as_owner()).await?;
        tx.commit(|conn| vec![insert(conn, "c"), insert(conn, "d")])
            .await?;
        assert_eq!(buckets(&db).await?, ["c", "d"]);
        Ok(())
    }

    #[tokio::test]
    async fn a_read_sees_the_writes_sent_before_it_and_a_dropped_unit_keeps_none() -> TestResult {
        let (_database, db) = one_connection().await?;
        let mut tx = db.pipelined(as_owner()).await?;
        let seen = tx.read(|conn| vec![insert(conn, "e")], count).await?;
        assert_eq!(seen, 1);
        drop(tx);
        assert!(
            buckets(&db).await?.is_empty(),
            "the dropped unit kept nothing"
        );
        Ok(())
    }

    diesel::define_sql_function!(fn pg_backend_pid() -> diesel::sql_types::Integer);

    /// The server process behind the pool's one connection.
    async fn backend(db: &Db) -> Result<i32, Box<dyn std::error::Error + Send + Sync>> {
        read_once(db, |mut conn| {
            Box::pin(async move {
                Ok(diesel::select(pg_backend_pid())
                    .get_result::<i32>(&mut conn)
                    .await?)
            })
        })
        .await
    }

    #[tokio::test]
    async fn units_of_work_hand_their_connection_back_whether_they_end_or_are_dropped() -> TestResult
    {
        let (_database, db) = one_connection().await?;
        let first = backend(&db).await?;
        drop(db.pipelined(as_owner()).await?);
        assert_eq!(backend(&db).await?, first, "a unit that sent nothing");

        let mut tx = db.pipelined(as_owner()).await?;
        tx.read(|conn| vec![insert(conn, "g")], count).await?;
        drop(tx);
        assert_eq!(
            backend(&db).await?,
            first,
            "a unit dropped inside its transaction, rolled back"
        );
        assert!(buckets(&db).await?.is_empty(), "and its write is gone");

        let tx = db.pipelined(as_owner()).await?;
        tx.commit(|conn| vec![insert(conn, "f")]).await?;
        assert_eq!(buckets(&db).await?, ["f"]);
        assert_eq!(backend(&db).await?, first, "a committed unit");
        Ok(())
    }
}
