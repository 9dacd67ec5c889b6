//! The pool and the unit of work.
//!
//! Every request's database work is one transaction opened by [`Db::tenant`] (as `access_user`,
//! with `app.account_id` / `app.user_id` set transaction-locally) or [`Db::anonymous`] (as
//! `anon_user`, seeing only the user whose email it names). Settings made with
//! `set_config(…, true)` end with the transaction, so nothing leaks to the connection's next user.

use std::time::Duration;

use diesel::sql_types::{Nullable, Text};
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

fn hex(bytes: &[u8]) -> String {
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
        self.begin_with(&format!(
            "BEGIN; SELECT set_config('role', 'access_user', true), \
                    set_config('app.account_id', '{account}', true), \
                    set_config('app.user_id', '{}', true), \
                    set_config('app.user_email', '', true), \
                    set_config('app.api_key_id', '', true), \
                    set_config('app.refresh_digest', '', true)",
            user.map(|u| u.to_string()).unwrap_or_default()
        ))
        .await
    }

    /// A unit of work for the anonymous authentication paths: it sees only the one row that
    /// `lookup` names (a user by email, an API key by id, a refresh token by digest), and may
    /// record attempts that name no known account. Once that row names the account,
    /// [`Tx::become_tenant`] continues the same transaction as that tenant.
    pub async fn anonymous(&self, lookup: Lookup<'_>) -> Result<Tx, DbError> {
        let (setting, value) = match lookup {
            Lookup::Nothing => ("app.user_email", String::new()),
            Lookup::UserByEmail(email) => ("app.user_email", email.as_str().to_owned()),
            Lookup::ApiKey(id) => ("app.api_key_id", id.to_string()),
            Lookup::RefreshToken(digest) => ("app.refresh_digest", hex(digest)),
        };
        if let Lookup::UserByEmail(_) = lookup {
            // An address is caller text: it goes as a bound parameter, never into SQL text.
            let mut tx = self.begin().await?;
            diesel::sql_query(
                "SELECT set_config('role', 'anon_user', true), set_config($1, $2, true)",
            )
            .bind::<Text, _>(setting)
            .bind::<Text, _>(value)
            .execute(tx.conn())
            .await?;
            return Ok(tx);
        }
        // A key id or a digest is hex we formatted ourselves: BEGIN and the settings go as one
        // batch, one round trip (these paths run on every key exchange and refresh).
        self.begin_with(&format!(
            "BEGIN; SELECT set_config('role', 'anon_user', true), set_config('{setting}', '{value}', true)"
        ))
        .await
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

    /// Continues the transaction as `access_user` in `account`: from here on only that
    /// account's rows are visible or writable (the anonymous settings are cleared).
    pub async fn become_tenant(
        &mut self,
        account: AccountId,
        user: Option<UserId>,
    ) -> Result<(), DbError> {
        diesel::sql_query(
            "SELECT set_config('role', 'access_user', true), \
                    set_config('app.account_id', $1, true), \
                    set_config('app.user_id', coalesce($2, ''), true), \
                    set_config('app.user_email', '', true), \
                    set_config('app.api_key_id', '', true), \
                    set_config('app.refresh_digest', '', true)",
        )
        .bind::<Text, _>(account.to_string())
        .bind::<Nullable<Text>, _>(user.map(|u| u.to_string()))
        .execute(self.conn())
        .await?;
        Ok(())
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
