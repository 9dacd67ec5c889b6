//! The pool and the unit of work.
//!
//! Every request's database work is one transaction opened by [`Db::tenant`] (as `access_user`,
//! with `app.account_id` / `app.user_id` set transaction-locally) or [`Db::anonymous`] (as
//! `anon_user`, seeing only the user whose email it names). Settings made with
//! `set_config(…, true)` end with the transaction, so nothing leaks to the connection's next user.

use std::time::Duration;

use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{
    AnsiTransactionManager, AsyncConnection, AsyncPgConnection, RunQueryDsl, TransactionManager,
};
use futures_util::future::BoxFuture;
use kernel::{AccountId, EmailAddress, UserId};

use kernel::StoreError;

use crate::error::DbError;
use crate::pipeline::{PipelinedTx, Settings};

/// The work of one transaction: an async closure over its connection whose future is `Send`
/// (so a store method stays `Send`). Returning `Ok` commits, returning `Err` rolls back.
pub trait Work<'c, T>:
    AsyncFnOnce(&'c mut AsyncPgConnection) -> Result<T, DbError>
    + FnOnce(&'c mut AsyncPgConnection) -> <Self as Work<'c, T>>::Fut
{
    type Fut: Future<Output = Result<T, DbError>> + Send;
}

impl<'c, T, F, Fut> Work<'c, T> for F
where
    F: AsyncFnOnce(&'c mut AsyncPgConnection) -> Result<T, DbError>
        + FnOnce(&'c mut AsyncPgConnection) -> Fut,
    Fut: Future<Output = Result<T, DbError>> + Send,
{
    type Fut = Fut;
}

#[derive(Clone, Debug)]
pub struct PoolSettings {
    pub max_connections: usize,
    /// How long a request waits for a free connection before failing with 503.
    pub acquire_timeout: Duration,
    /// Applied to every connection: no statement runs longer.
    pub statement_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(30),
        }
    }
}

/// The one row an anonymous unit of work may see.
#[derive(Clone, Copy, Debug)]
pub enum Lookup<'a> {
    Nothing,
    UserByEmail(&'a EmailAddress),
    ApiKey(uuid::Uuid),
    RefreshToken(&'a [u8; 32]),
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A pool of connections, and the only way to open a unit of work on them.
#[derive(Clone)]
pub struct Db {
    pool: Pool<AsyncPgConnection>,
    /// Kept for the few connections made outside the pool (bulk COPY).
    url: std::sync::Arc<str>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("status", &self.pool.status())
            .finish()
    }
}

impl Db {
    /// Builds the pool. Connections are made lazily; see [`Db::check`].
    pub fn connect(url: &str, settings: &PoolSettings) -> Result<Self, DbError> {
        let statement_timeout_ms = settings.statement_timeout.as_millis();
        let mut config = ManagerConfig::default();
        // A pooled connection is checked for an open transaction on return, not pinged on every
        // checkout: a dead one fails its first query and is replaced.
        config.recycling_method = RecyclingMethod::Fast;
        config.custom_setup = Box::new(move |url| {
            let url = url.to_owned();
            Box::pin(async move {
                let mut conn = AsyncPgConnection::establish(&url).await?;
                diesel::sql_query(format!("SET statement_timeout = {statement_timeout_ms}"))
                    .execute(&mut conn)
                    .await
                    .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
                Ok(conn)
            }) as BoxFuture<'static, _>
        });
        let manager =
            AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(url, config);
        let pool = Pool::builder(manager)
            .max_size(settings.max_connections)
            .wait_timeout(Some(settings.acquire_timeout))
            .create_timeout(Some(settings.acquire_timeout))
            .runtime(deadpool_runtime())
            .build()
            .map_err(|e| DbError::BadUrl(e.to_string()))?;
        Ok(Self {
            pool,
            url: url.into(),
        })
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Whether the database answers (readiness).
    pub async fn check(&self) -> Result<(), DbError> {
        let mut tx = self.begin().await?;
        diesel::sql_query("SELECT 1").execute(tx.conn()).await?;
        tx.commit().await
    }

    /// Runs `work` as one transaction of `account` (see [`Db::tenant`]): it begins, runs, commits
    /// when `work` returns `Ok` and rolls back otherwise, and maps the adapter's errors to the
    /// store's. A forgotten commit cannot happen.
    pub async fn tenant_tx<T, F>(
        &self,
        account: AccountId,
        user: Option<UserId>,
        work: F,
    ) -> Result<T, StoreError>
    where
        F: for<'c> Work<'c, T> + Send,
        T: Send,
    {
        let tx = self.tenant(account, user).await?;
        Ok(tx.run(work).await?)
    }

    /// Runs `work` as one transaction of the anonymous role (see [`Db::anonymous`]).
    pub async fn anonymous_tx<T, F>(&self, lookup: Lookup<'_>, work: F) -> Result<T, StoreError>
    where
        F: for<'c> Work<'c, T> + Send,
        T: Send,
    {
        let tx = self.anonymous(lookup).await?;
        Ok(tx.run(work).await?)
    }

    /// Runs `work` as one transaction of the server's own role (see [`Db::system`]).
    pub async fn system_tx<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        F: for<'c> Work<'c, T> + Send,
        T: Send,
    {
        let tx = self.system().await?;
        Ok(tx.run(work).await?)
    }

    /// A unit of work for a signed-in user (or, with `user` unset, for work on behalf of an
    /// account): only that account's rows are visible or writable.
    pub async fn tenant(&self, account: AccountId, user: Option<UserId>) -> Result<Tx, DbError> {
        // BEGIN and the tenant settings in one round trip (a simple-query batch): every request
        // opens one of these. The values are UUIDs we format ourselves, never caller text.
        self.begin_with(&Settings::tenant(account, user).begin_batch())
            .await
    }

    /// A unit of work for the anonymous authentication paths: it sees only the one row that
    /// `lookup` names (a user by email, an API key by id, a refresh token by digest), and may
    /// record attempts that name no known account.
    pub async fn anonymous(&self, lookup: Lookup<'_>) -> Result<Tx, DbError> {
        let settings = Settings::anonymous(lookup);
        if let Lookup::UserByEmail(_) = lookup {
            // An address is caller text: it goes as a bound parameter, never into SQL text.
            let mut tx = self.begin().await?;
            settings.execute(tx.conn()).await?;
            return Ok(tx);
        }
        // A key id or a digest is hex we formatted ourselves: BEGIN and the settings go as one
        // batch, one round trip.
        self.begin_with(&settings.begin_batch()).await
    }

    /// A unit of work whose `BEGIN` and settings travel with its first statements, and whose
    /// writes travel with its next read or its commit (see [`crate::pipeline`]).
    pub(crate) async fn pipelined(&self, settings: Settings) -> Result<PipelinedTx, DbError> {
        let conn = self.pool.get().await.map_err(DbError::from)?;
        Ok(PipelinedTx::new(conn, settings))
    }

    /// A unit of work as the server's own login role: for global tables (signing keys) only.
    pub async fn system(&self) -> Result<Tx, DbError> {
        self.begin().await
    }

    /// A connection outside any transaction, as the server's own login role: for one
    /// statement on a global table (rate-limit counters), which commits on its own and so
    /// saves the BEGIN and COMMIT round trips. Never for tenant data.
    pub(crate) async fn single_statement(&self) -> Result<Object<AsyncPgConnection>, DbError> {
        self.pool.get().await.map_err(DbError::from)
    }

    /// Opens a transaction with `batch` (which starts with `BEGIN`) as one simple query.
    async fn begin_with(&self, batch: &str) -> Result<Tx, DbError> {
        let mut conn = self.pool.get().await.map_err(DbError::from)?;
        if let Err(e) = AnsiTransactionManager::begin_transaction_sql(&mut *conn, batch).await {
            // The batch may have left the server inside a transaction the manager does not
            // know of: this connection must never be handed out again.
            drop(Object::take(conn));
            return Err(e.into());
        }
        Ok(Tx { conn })
    }

    async fn begin(&self) -> Result<Tx, DbError> {
        let mut conn = self.pool.get().await.map_err(DbError::from)?;
        AnsiTransactionManager::begin_transaction(&mut *conn).await?;
        Ok(Tx { conn })
    }
}

fn deadpool_runtime() -> deadpool::Runtime {
    deadpool::Runtime::Tokio1
}

/// An open transaction. [`Tx::commit`] ends it; dropping it instead rolls it back (the
/// connection, left inside a transaction, is discarded by the pool and the server aborts it).
pub struct Tx {
    conn: Object<AsyncPgConnection>,
}

impl Tx {
    pub fn conn(&mut self) -> &mut AsyncPgConnection {
        &mut self.conn
    }

    /// Runs `work` on this transaction and commits it when `work` succeeds.
    pub async fn run<T, F>(mut self, work: F) -> Result<T, DbError>
    where
        F: for<'c> Work<'c, T> + Send,
        T: Send,
    {
        let out = work(self.conn()).await?;
        self.commit().await?;
        Ok(out)
    }

    pub async fn commit(mut self) -> Result<(), DbError> {
        AnsiTransactionManager::commit_transaction(&mut *self.conn).await?;
        Ok(())
    }
}

// --- the COPY connections ---------------------------------------------------------------------

/// How connections to the database are secured: the one place, for the pool's connections
/// (diesel-async's `establish`, which connects without TLS) and the COPY connections alike.
/// Were TLS added, it would be added here and in [`Db::connect`]'s setup together.
pub(crate) fn tls() -> tokio_postgres::NoTls {
    tokio_postgres::NoTls
}

/// Longest wait for a COPY connection to be made.
const COPY_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Makes the COPY connections: the [`Db`]'s URL and [`tls`], named `application_name` so
/// `pg_stat_activity` tells them apart.
#[derive(Debug)]
pub(crate) struct CopyConnections {
    config: tokio_postgres::Config,
}

impl deadpool::managed::Manager for CopyConnections {
    type Type = tokio_postgres::Client;
    type Error = tokio_postgres::Error;

    async fn create(&self) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        let (client, connection) = self.config.connect(tls()).await?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::warn!(%error, "COPY connection ended");
            }
        });
        Ok(client)
    }

    async fn recycle(
        &self,
        client: &mut tokio_postgres::Client,
        _: &deadpool::managed::Metrics,
    ) -> deadpool::managed::RecycleResult<tokio_postgres::Error> {
        if client.is_closed() {
            return Err(deadpool::managed::RecycleError::message("closed"));
        }
        Ok(())
    }
}

/// A bounded pool of plain `tokio-postgres` connections for bulk `COPY` (which diesel-async
/// lacks), apart from [`Db`]'s pool: at most `max` at once, and a connection is had at once or
/// not at all — never waited for. Its units of work are `CopyPool::tenant`'s, as the tenant
/// like [`Db::tenant`]'s.
#[derive(Clone, Debug)]
pub struct CopyPool {
    pool: deadpool::managed::Pool<CopyConnections>,
}

/// Why no COPY unit of work could be had.
#[derive(Debug)]
pub(crate) enum CopyPoolError {
    /// Every connection is in use.
    Exhausted,
    Store(StoreError),
}

impl Db {
    /// A pool of at most `max` COPY connections to this database, named `application_name`.
    pub(crate) fn copy_pool(&self, max: usize, application_name: &str) -> CopyPool {
        let mut config: tokio_postgres::Config = match self.url().parse() {
            Ok(config) => config,
            // `Db::connect` parsed this URL already; an unparsable one fails at first use.
            Err(_) => tokio_postgres::Config::new(),
        };
        config
            .application_name(application_name)
            .connect_timeout(COPY_CONNECT_TIMEOUT);
        let pool = deadpool::managed::Pool::builder(CopyConnections { config })
            .max_size(max)
            // Zero: a free connection or none, never a wait.
            .wait_timeout(Some(Duration::ZERO))
            .create_timeout(Some(COPY_CONNECT_TIMEOUT))
            .runtime(deadpool_runtime())
            .build();
        CopyPool {
            pool: pool.unwrap_or_else(|_| {
                // Only a timeout without a runtime fails to build, and the runtime is set.
                unreachable!("a pool with a runtime builds")
            }),
        }
    }
}

/// A COPY connection inside a transaction as the tenant. [`CopyTx::end`] then
/// [`CopyTx::release`] end it and give the connection back; dropped instead — mid-`COPY`, or
/// failed — the connection is closed, so the server rolls the transaction back and no
/// half-done import reaches the next user of the pool.
pub(crate) struct CopyTx {
    client: Option<deadpool::managed::Object<CopyConnections>>,
}

impl CopyPool {
    /// Opens a transaction as `access_user` in `account` (the settings of [`Db::tenant`]),
    /// whose statements may run for up to `statement_timeout` (a PostgreSQL interval).
    pub(crate) async fn tenant(
        &self,
        account: AccountId,
        statement_timeout: &str,
    ) -> Result<CopyTx, CopyPoolError> {
        use deadpool::managed::{PoolError, TimeoutType};
        let client = match self.pool.get().await {
            Ok(client) => client,
            Err(PoolError::Timeout(TimeoutType::Wait)) => return Err(CopyPoolError::Exhausted),
            Err(error) => {
                return Err(CopyPoolError::Store(StoreError::Unavailable(
                    error.to_string(),
                )));
            }
        };
        let tx = CopyTx {
            client: Some(client),
        };
        let settings = async {
            let client = tx.client()?;
            client.batch_execute("BEGIN").await.map_err(copy_failure)?;
            client
                .execute(
                    "SELECT set_config('statement_timeout', $1, true),
                            set_config('role', 'access_user', true),
                            set_config('app.account_id', $2, true),
                            set_config('app.user_id', '', true),
                            set_config('app.user_email', '', true),
                            set_config('app.api_key_id', '', true),
                            set_config('app.refresh_digest', '', true)",
                    &[&statement_timeout, &account.to_string()],
                )
                .await
                .map_err(copy_failure)?;
            Ok::<_, StoreError>(())
        };
        settings.await.map_err(CopyPoolError::Store)?;
        Ok(tx)
    }
}

impl CopyTx {
    pub(crate) fn client(&self) -> Result<&tokio_postgres::Client, StoreError> {
        self.client
            .as_deref()
            .ok_or_else(|| StoreError::Other("the COPY unit of work has ended".into()))
    }

    /// Ends the unit of work with `statement` (`COMMIT` or `ROLLBACK`); the connection is
    /// then outside any transaction, and [`CopyTx::release`] gives it back.
    pub(crate) async fn end(&self, statement: &str) -> Result<(), StoreError> {
        self.client()?
            .batch_execute(statement)
            .await
            .map_err(copy_failure)
    }

    /// Gives the connection back to the pool: call it only once [`CopyTx::end`] succeeded.
    pub(crate) fn release(mut self) {
        drop(self.client.take());
    }
}

impl Drop for CopyTx {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            // Not ended: the connection may be mid-COPY or mid-transaction. Closed, never reused.
            drop(deadpool::managed::Object::take(client));
        }
    }
}

/// A `tokio-postgres` failure as a [`StoreError`], as [`DbError`] maps diesel's.
pub(crate) fn copy_failure(error: tokio_postgres::Error) -> StoreError {
    if let Some(db) = error.as_db_error() {
        if *db.code() == tokio_postgres::error::SqlState::UNIQUE_VIOLATION {
            return StoreError::Duplicate(db.constraint().unwrap_or("unique").to_owned());
        }
        if crate::error::is_unavailable_state(db.code().code()) {
            return StoreError::Unavailable(db.message().to_owned());
        }
        return StoreError::Other(db.message().to_owned());
    }
    if error.is_closed() {
        StoreError::Unavailable(error.to_string())
    } else {
        StoreError::Other(error.to_string())
    }
}
