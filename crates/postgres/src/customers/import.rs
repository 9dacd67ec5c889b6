//! The import fast path: rows stream into a temporary table by binary `COPY`, then one set of
//! statements matches them to stored customers and writes them — in one transaction, so an
//! upload is applied whole or not at all. The matching is the domain's rule
//! (`customers::upload::matching`) in set-wise form; the adapter tests hold the two together.
//!
//! diesel-async has no `COPY`, so this runs on a connection of the [`CopyPool`] (tokio-postgres,
//! the driver under diesel-async), as the tenant, like every unit of work: at most N at once
//! per instance, one had without waiting (none free: the upload is refused), taken when the
//! upload's first bytes arrive and given back when it ends. A connection given back has
//! committed or rolled back; one whose upload was abandoned or failed is closed instead, so no
//! half-done import can leak into the next one. The workspace's profile fields are read inside
//! the same transaction, under its lock. One import per workspace at a time: a second is
//! refused at once instead of holding its connection while it waits for the first.

use std::pin::Pin;
use std::time::Duration;

use ::customers::ports::sets;
use ::customers::{
    BeginImportError, ImportApplied, ImportRow, ImportSink, OpenImport, ProfileField, RowError,
    WriteError,
};
use async_trait::async_trait;
use kernel::{AccountId, StoreError, WorkspaceId};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{Json, Type};
use uuid::Uuid;

use super::profile_fields::FieldRow;
use super::write_error;
use crate::db::{CopyPool, CopyPoolError, CopyTx, copy_failure as failure};

/// Import connections per instance when not configured (`NUDGESCRIBE__CUSTOMERS__MAX_CONCURRENT_UPLOADS`).
pub const DEFAULT_MAX_CONCURRENT_IMPORTS: usize = 4;

/// The `application_name` of import connections, as `pg_stat_activity` shows them.
pub const IMPORT_APPLICATION_NAME: &str = "nudgescribe-import";

/// A workspace whose lock is taken is asked once more after this long: an upload dropped a
/// moment ago releases its lock only when its backend has seen the connection close.
const LOCK_RETRY_AFTER: Duration = Duration::from_millis(100);

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
    writer: Pin<Box<BinaryCopyInWriter>>,
    tx: CopyTx,
    account: Uuid,
    workspace: Uuid,
}

/// The workspace's profile fields, as this transaction sees them.
const SCHEMA: &str = "SELECT id, workspace_id, key, label, field_type, required, options, \
                             created_at, updated_at
                        FROM profile_fields WHERE workspace_id = $1 ORDER BY created_at, id";

impl PgImport {
    #[allow(
        clippy::disallowed_methods,
        reason = "the workspace lock is asked again after a real pause"
    )]
    pub(crate) async fn open(
        pool: &CopyPool,
        account: AccountId,
        workspace: WorkspaceId,
    ) -> Result<OpenImport, BeginImportError> {
        let tx = pool
            .tenant(account, IMPORT_STATEMENT_TIMEOUT)
            .await
            .map_err(|error| match error {
                CopyPoolError::Exhausted => BeginImportError::AtCapacity,
                CopyPoolError::Store(error) => BeginImportError::Store(error),
            })?;
        let client = tx.client()?;
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
            // Dropping the unit of work closes its connection, as before any upload began.
            return Err(BeginImportError::WorkspaceBusy);
        }
        let schema = client
            .query(SCHEMA, &[&workspace.as_uuid()])
            .await
            .map_err(failure)?
            .iter()
            .map(|row| {
                let field = FieldRow {
                    id: row.try_get(0).map_err(failure)?,
                    workspace_id: row.try_get(1).map_err(failure)?,
                    key: row.try_get(2).map_err(failure)?,
                    label: row.try_get(3).map_err(failure)?,
                    field_type: row.try_get(4).map_err(failure)?,
                    required: row.try_get(5).map_err(failure)?,
                    options: row.try_get(6).map_err(failure)?,
                    created_at: row.try_get(7).map_err(failure)?,
                    updated_at: row.try_get(8).map_err(failure)?,
                };
                ProfileField::try_from(field).map_err(StoreError::from)
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        client.batch_execute(STAGING).await.map_err(failure)?;
        let sink = client.copy_in(COPY).await.map_err(failure)?;
        let import = Self {
            writer: Box::pin(BinaryCopyInWriter::new(sink, &COPY_TYPES)),
            tx,
            account: account.as_uuid(),
            workspace: workspace.as_uuid(),
        };
        Ok(OpenImport {
            sink: Box::new(import),
            schema,
        })
    }

    #[tracing::instrument(skip_all)]
    async fn conflicts(&self) -> Result<Vec<RowError>, StoreError> {
        let rows = self
            .tx
            .client()?
            .query(CONFLICTS, &[])
            .await
            .map_err(failure)?;
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

    /// Everything of `finish` but the answer's shape: matched, conflicts removed, applied.
    #[tracing::instrument(skip_all)]
    async fn apply(&mut self, apply: bool) -> Result<ImportApplied, StoreError> {
        self.writer.as_mut().finish().await.map_err(failure)?;
        let client = self.tx.client()?;
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
            self.tx.end("ROLLBACK").await?;
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
        self.tx.end("COMMIT").await?;
        Ok(ImportApplied {
            created,
            updated,
            rejected,
        })
    }
}

#[async_trait]
impl ImportSink for PgImport {
    #[tracing::instrument(skip_all)]
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

    #[tracing::instrument(skip_all)]
    async fn finish(mut self: Box<Self>, apply: bool) -> Result<ImportApplied, WriteError> {
        let applied = self.apply(apply).await.map_err(write_error)?;
        let PgImport { tx, .. } = *self;
        if applied.created >= ANALYZE_AFTER_ROWS {
            // After the answer, not before it: the rows are committed; only the statistics lag.
            // The connection keeps its slot until the statistics are refreshed.
            tokio::spawn(async move {
                match tx.end("ANALYZE customers").await {
                    Ok(()) => tx.release(),
                    Err(error) => {
                        tracing::warn!(%error, "could not refresh the statistics of customers");
                    }
                }
            });
        } else {
            tx.release();
        }
        Ok(applied)
    }
}

// The staging row layout above must agree with the domain's `sets` mask.
const _: () = assert!(sets::PHONE == 1 && sets::FIRST_NAME == 2 && sets::LAST_NAME == 4);
