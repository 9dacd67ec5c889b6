//! The import fast path: rows stream into a temporary table by binary `COPY`, then one set of
//! statements matches them to stored customers and writes them — in one transaction, so an
//! upload is applied whole or not at all.
//!
//! diesel-async has no `COPY`, so this runs on a connection of its own (tokio-postgres, the
//! driver under diesel-async), opened per upload as the tenant, like every unit of work.
//!
//! Those connections are bounded apart from the pool ([`ImportSlots`]): at most N at once per
//! instance, a slot taken without waiting (none free: the upload is refused), the connection
//! made when the upload's first bytes arrive and closed when it ends — finished, failed or
//! abandoned. A connection that carried a `COPY` is never reused, so no half-done import can
//! leak into the next one. One import per workspace at a time: a second is refused at once
//! instead of holding its connection while it waits for the first.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use ::customers::ports::sets;
use ::customers::{BeginImportError, ImportApplied, ImportRow, ImportSink, RowError};
use async_trait::async_trait;
use kernel::{AccountId, StoreError, WorkspaceId};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{Json, Type};
use tokio_postgres::{Client, Config, NoTls};
use uuid::Uuid;

use crate::db::Db;

/// Import connections per instance when not configured (`NUDGESCRIBE__CUSTOMERS__MAX_CONCURRENT_UPLOADS`).
pub const DEFAULT_MAX_CONCURRENT_IMPORTS: usize = 4;

/// The `application_name` of import connections, as `pg_stat_activity` shows them.
pub const IMPORT_APPLICATION_NAME: &str = "nudgescribe-import";

/// Longest wait for an import connection to be made.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A workspace whose lock is taken is asked once more after this long: an upload dropped a
/// moment ago releases its lock only when its backend has seen the connection close.
const LOCK_RETRY_AFTER: Duration = Duration::from_millis(100);

/// The slots of the import connections: the one bound on how many there are.
#[derive(Clone, Debug)]
pub(crate) struct ImportSlots(Arc<Semaphore>);

impl ImportSlots {
    pub(crate) fn new(max: usize) -> Self {
        Self(Arc::new(Semaphore::new(max)))
    }

    /// A free slot, or none — never a wait.
    fn take(&self) -> Result<OwnedSemaphorePermit, BeginImportError> {
        self.0
            .clone()
            .try_acquire_owned()
            .map_err(|_| BeginImportError::AtCapacity)
    }
}

/// Longest any statement of an import may run: merging a million rows takes seconds, not the
/// request timeout of ordinary units of work.
const IMPORT_STATEMENT_TIMEOUT: &str = "15min";

const STAGING: &str = "CREATE TEMP TABLE import_rows (
        row_no      bigint NOT NULL,
        id          uuid NOT NULL,
        external_id text,
        email       text,
        phone       text,
        first_name  text,
        last_name   text,
        sets        smallint NOT NULL,
        attributes  jsonb NOT NULL,
        cleared     text[] NOT NULL
    ) ON COMMIT DROP";

const COPY: &str = "COPY import_rows (row_no, id, external_id, email, phone, first_name, \
                    last_name, sets, attributes, cleared) FROM STDIN (FORMAT binary)";

const COPY_TYPES: [Type; 10] = [
    Type::INT8,
    Type::UUID,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::INT2,
    Type::JSONB,
    Type::TEXT_ARRAY,
];

/// Each row with the customer it updates (`target`: by external id, else by email — an email
/// match may gain the row's new external id only if it has none) and who holds its email now.
const MATCH: &str = "CREATE TEMP TABLE import_matched ON COMMIT DROP AS
    SELECT s.*, coalesce(x.id, e.id) AS target, o.id AS email_owner
    FROM import_rows s
    LEFT JOIN customers x
           ON x.workspace_id = $1 AND s.external_id IS NOT NULL AND x.external_id = s.external_id
    LEFT JOIN customers e
           ON e.workspace_id = $1 AND x.id IS NULL AND s.email IS NOT NULL AND e.email = s.email
          AND (s.external_id IS NULL OR e.external_id IS NULL)
    LEFT JOIN customers o
           ON o.workspace_id = $1 AND s.email IS NOT NULL AND o.email = s.email";

/// Rows the stored data refuses: an email another customer holds, or a second row for the
/// same customer (which one would win is not the file's order).
const CONFLICTS: &str = "
    SELECT row_no, 'email', 'belongs to another customer of this workspace'
      FROM import_matched
     WHERE email_owner IS NOT NULL AND email_owner IS DISTINCT FROM target
    UNION ALL
    SELECT row_no, 'row', 'changes the same customer as an earlier row'
      FROM (SELECT row_no, row_number() OVER (PARTITION BY target ORDER BY row_no) AS nth
              FROM import_matched WHERE target IS NOT NULL) repeated
     WHERE nth > 1";

/// Updates only customers whose data changes, so a re-upload rewrites nothing. One join: the new
/// values are written out twice (the `SET` and the change test) rather than joined again.
const UPDATE: &str = "
    UPDATE customers c
       SET external_id = coalesce(m.external_id, c.external_id),
           email = coalesce(m.email, c.email),
           phone = CASE WHEN m.sets & 1 <> 0 THEN m.phone ELSE c.phone END,
           first_name = CASE WHEN m.sets & 2 <> 0 THEN m.first_name ELSE c.first_name END,
           last_name = CASE WHEN m.sets & 4 <> 0 THEN m.last_name ELSE c.last_name END,
           attributes = (c.attributes - m.cleared) || m.attributes,
           updated_at = now()
      FROM import_matched m
     WHERE c.id = m.target
       AND (c.external_id, c.email, c.phone, c.first_name, c.last_name, c.attributes)
           IS DISTINCT FROM
           (coalesce(m.external_id, c.external_id),
            coalesce(m.email, c.email),
            CASE WHEN m.sets & 1 <> 0 THEN m.phone ELSE c.phone END,
            CASE WHEN m.sets & 2 <> 0 THEN m.first_name ELSE c.first_name END,
            CASE WHEN m.sets & 4 <> 0 THEN m.last_name ELSE c.last_name END,
            (c.attributes - m.cleared) || m.attributes)";

const INSERT: &str = "
    INSERT INTO customers (id, account_id, workspace_id, external_id, email, phone, first_name,
                           last_name, attributes)
    SELECT id, $1, $2, external_id, email, phone, first_name, last_name, attributes
      FROM import_matched WHERE target IS NULL
     ORDER BY row_no";

/// New rows from this many on leave the planner's picture of `customers` stale enough that it
/// sorts a whole workspace instead of walking the page index (measured: 100 ms a page at 200,000
/// customers, against under 1 ms). Statistics are refreshed at once rather than whenever
/// autovacuum gets round to it.
const ANALYZE_AFTER_ROWS: u64 = 10_000;

/// An open import: a connection inside a transaction, with `COPY` running into the staging table.
/// Dropped, it closes the connection (the backend rolls back) and frees its slot.
pub struct PgImport {
    client: Client,
    writer: Pin<Box<BinaryCopyInWriter>>,
    account: Uuid,
    workspace: Uuid,
    slot: OwnedSemaphorePermit,
}

fn failure(error: tokio_postgres::Error) -> StoreError {
    if let Some(db) = error.as_db_error() {
        if *db.code() == SqlState::UNIQUE_VIOLATION {
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

impl PgImport {
    #[allow(
        clippy::disallowed_methods,
        reason = "the workspace lock is asked again after a real pause"
    )]
    pub(crate) async fn open(
        db: &Db,
        slots: &ImportSlots,
        account: AccountId,
        workspace: WorkspaceId,
    ) -> Result<Self, BeginImportError> {
        let slot = slots.take()?;
        let mut config: Config = db
            .url()
            .parse()
            .map_err(|e: tokio_postgres::Error| StoreError::Unavailable(e.to_string()))?;
        config
            .application_name(IMPORT_APPLICATION_NAME)
            .connect_timeout(CONNECT_TIMEOUT);
        let (client, connection) = config
            .connect(NoTls)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::warn!(%error, "import connection ended");
            }
        });
        client.batch_execute("BEGIN").await.map_err(failure)?;
        client
            .execute(
                "SELECT set_config('statement_timeout', $1, true),
                        set_config('role', 'access_user', true),
                        set_config('app.account_id', $2, true)",
                &[&IMPORT_STATEMENT_TIMEOUT, &account.to_string()],
            )
            .await
            .map_err(failure)?;
        // One import per workspace at a time: their matches would race. Taken without waiting
        // (asked twice, `LOCK_RETRY_AFTER` apart), so a second upload is refused instead of
        // holding a connection while the first runs.
        let mut locked = false;
        for attempt in 0..2 {
            if attempt > 0 {
                tokio::time::sleep(LOCK_RETRY_AFTER).await;
            }
            locked = client
                .query_one(
                    "SELECT pg_try_advisory_xact_lock(hashtextextended($1, 7346235002))",
                    &[&workspace.to_string()],
                )
                .await
                .and_then(|row| row.try_get::<_, bool>(0))
                .map_err(failure)?;
            if locked {
                break;
            }
        }
        if !locked {
            // Dropping the client closes the connection; the slot is freed with it.
            return Err(BeginImportError::WorkspaceBusy);
        }
        client.batch_execute(STAGING).await.map_err(failure)?;
        let sink = client.copy_in(COPY).await.map_err(failure)?;
        Ok(Self {
            writer: Box::pin(BinaryCopyInWriter::new(sink, &COPY_TYPES)),
            client,
            account: account.as_uuid(),
            workspace: workspace.as_uuid(),
            slot,
        })
    }

    async fn conflicts(&self) -> Result<Vec<RowError>, StoreError> {
        let rows = self.client.query(CONFLICTS, &[]).await.map_err(failure)?;
        rows.iter()
            .map(|row| {
                let number: i64 = row.try_get(0).map_err(failure)?;
                Ok(RowError {
                    row: u64::try_from(number).unwrap_or_default(),
                    field: row.try_get(1).map_err(failure)?,
                    message: row.try_get(2).map_err(failure)?,
                })
            })
            .collect()
    }
}

#[async_trait]
impl ImportSink for PgImport {
    async fn write(&mut self, rows: &[ImportRow]) -> Result<(), StoreError> {
        for row in rows {
            let row_no = i64::try_from(row.row).unwrap_or(i64::MAX);
            self.writer
                .as_mut()
                .write(&[
                    &row_no,
                    &row.id.as_uuid(),
                    &row.external_id,
                    &row.email,
                    &row.phone,
                    &row.first_name,
                    &row.last_name,
                    &row.sets,
                    &Json(&row.attributes),
                    &row.cleared,
                ])
                .await
                .map_err(failure)?;
        }
        Ok(())
    }

    async fn finish(mut self: Box<Self>, apply: bool) -> Result<ImportApplied, StoreError> {
        self.writer.as_mut().finish().await.map_err(failure)?;
        let client = &self.client;
        client
            .batch_execute("ANALYZE import_rows")
            .await
            .map_err(failure)?;
        client
            .execute(MATCH, &[&self.workspace])
            .await
            .map_err(failure)?;
        client
            .batch_execute("ANALYZE import_matched")
            .await
            .map_err(failure)?;
        let rejected = self.conflicts().await?;
        if !rejected.is_empty() {
            let numbers: Vec<i64> = rejected
                .iter()
                .map(|e| i64::try_from(e.row).unwrap_or(i64::MAX))
                .collect();
            client
                .execute(
                    "DELETE FROM import_matched WHERE row_no = ANY($1)",
                    &[&numbers],
                )
                .await
                .map_err(failure)?;
        }
        if !apply {
            client.batch_execute("ROLLBACK").await.map_err(failure)?;
            return Ok(ImportApplied {
                rejected,
                ..ImportApplied::default()
            });
        }
        let matched: i64 = client
            .query_one(
                "SELECT count(*) FROM import_matched WHERE target IS NOT NULL",
                &[],
            )
            .await
            .and_then(|row| row.try_get(0))
            .map_err(failure)?;
        let updated = u64::try_from(matched).unwrap_or_default();
        client.execute(UPDATE, &[]).await.map_err(failure)?;
        let created = client
            .execute(INSERT, &[&self.account, &self.workspace])
            .await
            .map_err(failure)?;
        client.batch_execute("COMMIT").await.map_err(failure)?;
        if created >= ANALYZE_AFTER_ROWS {
            // After the answer, not before it: the rows are committed; only the statistics lag.
            // The connection keeps its slot until the statistics are refreshed.
            let PgImport { client, slot, .. } = *self;
            tokio::spawn(async move {
                if let Err(error) = client.batch_execute("ANALYZE customers").await {
                    tracing::warn!(%error, "could not refresh the statistics of customers");
                }
                drop(slot);
            });
        }
        Ok(ImportApplied {
            created,
            updated,
            rejected,
        })
    }
}

// The staging row layout above must agree with the domain's `sets` mask.
const _: () = assert!(sets::PHONE == 1 && sets::FIRST_NAME == 2 && sets::LAST_NAME == 4);
