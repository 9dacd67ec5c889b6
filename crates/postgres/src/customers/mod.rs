//! The customers domain's ports on Postgres: [`PgCustomerStore`] opens a unit of work
//! ([`PgCustomersTx`], one transaction as the tenant) whose methods are single reads and
//! writes — by area in `customers.rs`, `groups.rs`, `profile_fields.rs` — and the upload's
//! fast path (`import.rs`). The rules are the domain's; this adapter only stores.

use ::customers::{
    BeginImportError, CustomerStore, CustomersTx, OpenImport, UniqueKey, WriteError,
};
use async_trait::async_trait;
use kernel::{AccountId, StoreError, WorkspaceId};

use crate::db::{CopyPool, Db};
use crate::error::DbError;
use crate::pipeline::{PipelinedTx, Settings};

#[allow(clippy::module_inception)]
mod customers;
mod groups;
pub(crate) mod import;
mod profile_fields;

pub use import::{DEFAULT_MAX_CONCURRENT_IMPORTS, IMPORT_APPLICATION_NAME};

#[derive(Clone, Debug)]
pub struct PgCustomerStore {
    db: Db,
    /// The uploads' own connections (`COPY`): at most N at once, never waited for.
    imports: CopyPool,
}

impl PgCustomerStore {
    /// With [`DEFAULT_MAX_CONCURRENT_IMPORTS`] import connections.
    #[must_use]
    pub fn new(db: Db) -> Self {
        Self::with_max_concurrent_imports(db, DEFAULT_MAX_CONCURRENT_IMPORTS)
    }

    /// At most `max` uploads hold an import connection at once (outside `db`'s pool); one
    /// more is refused at once ([`BeginImportError::AtCapacity`]), never queued.
    #[must_use]
    pub fn with_max_concurrent_imports(db: Db, max: usize) -> Self {
        let imports = db.copy_pool(max, IMPORT_APPLICATION_NAME);
        Self { db, imports }
    }
}

/// One unit of work of the customers domain: a transaction as `access_user` in the account,
/// whose `BEGIN` goes with its first statements.
pub struct PgCustomersTx {
    tx: PipelinedTx,
    account: AccountId,
}

impl PgCustomersTx {
    /// The connection, for statements one after another.
    async fn conn(&mut self) -> Result<&mut diesel_async::AsyncPgConnection, DbError> {
        self.tx.conn().await
    }
}

#[async_trait]
impl CustomerStore for PgCustomerStore {
    #[tracing::instrument(skip_all, fields(account_id = %account))]
    async fn begin(&self, account: AccountId) -> Result<Box<dyn CustomersTx>, StoreError> {
        let tx = self.db.pipelined(Settings::tenant(account, None)).await?;
        Ok(Box::new(PgCustomersTx { tx, account }))
    }

    #[tracing::instrument(skip_all, fields(account_id = %account, workspace_id = %ws))]
    async fn begin_import(
        &self,
        account: AccountId,
        ws: WorkspaceId,
    ) -> Result<OpenImport, BeginImportError> {
        import::PgImport::open(&self.imports, account, ws).await
    }
}

#[async_trait]
impl CustomersTx for PgCustomersTx {
    /// The domain's unit of work ends here: the one commit of a transaction handed to the
    /// domain through its transaction-typed port.
    #[tracing::instrument(skip_all)]
    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        Ok(self.tx.commit(|_| Vec::new()).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn rollback(self: Box<Self>) {
        // Rolled back here, the connection goes back to the pool clean (dropped inside a
        // transaction, the pool would discard it).
        if let Err(error) = self.tx.rollback().await {
            tracing::warn!(%error, "could not roll back a customers unit of work");
        }
    }
}

/// Which of the domain's uniqueness rules a constraint of the migrations is.
fn unique_key(constraint: &str) -> Option<UniqueKey> {
    match constraint {
        "customers_email_key" => Some(UniqueKey::CustomerEmail),
        "customers_external_id_key" => Some(UniqueKey::CustomerExternalId),
        "profile_fields_key_key" => Some(UniqueKey::ProfileFieldKey),
        "customer_groups_name_key" => Some(UniqueKey::GroupName),
        _ => None,
    }
}

/// A failed write as the domain sees it: a unique violation named by its [`UniqueKey`].
pub(crate) fn write_error(error: impl Into<StoreError>) -> WriteError {
    match error.into() {
        StoreError::Duplicate(constraint) => match unique_key(&constraint) {
            Some(key) => WriteError::Duplicate(key),
            None => WriteError::Store(StoreError::Duplicate(constraint)),
        },
        other => WriteError::Store(other),
    }
}

/// `NotFound` when a statement that names one row touched none.
fn one_row(changed: usize) -> Result<(), DbError> {
    if changed == 0 {
        Err(DbError::Query(diesel::result::Error::NotFound))
    } else {
        Ok(())
    }
}
