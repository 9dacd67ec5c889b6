//! Workspace data keys: read and first stored inside a tenant's unit of work; listed and
//! re-wrapped across accounts by the master-key rotation ([`PgDataKeyStore`]).

use ::campaigns::ports::DataKeyStore;
use ::campaigns::{StoredDataKey, WrappedDataKey};
use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use kernel::{AccountId, StoreError, WorkspaceId};
use uuid::Uuid;

use crate::db::{Db, Tx};
use crate::error::DbError;
use crate::schema::workspace_data_keys as keys;

#[derive(Queryable, Selectable)]
#[diesel(table_name = keys, check_for_backend(diesel::pg::Pg))]
struct WrappedRow {
    master_key_id: String,
    wrapped_key: Vec<u8>,
}

impl From<WrappedRow> for WrappedDataKey {
    fn from(row: WrappedRow) -> Self {
        Self {
            master_key_id: row.master_key_id,
            sealed: row.wrapped_key,
        }
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = keys, check_for_backend(diesel::pg::Pg))]
struct StoredRow {
    account_id: Uuid,
    workspace_id: Uuid,
    #[diesel(embed)]
    wrapped: WrappedRow,
}

impl From<StoredRow> for StoredDataKey {
    fn from(row: StoredRow) -> Self {
        Self {
            account_id: AccountId::from_uuid(row.account_id),
            workspace_id: WorkspaceId::from_uuid(row.workspace_id),
            wrapped: row.wrapped.into(),
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = keys, check_for_backend(diesel::pg::Pg))]
struct NewDataKey<'a> {
    workspace_id: Uuid,
    account_id: Uuid,
    master_key_id: &'a str,
    wrapped_key: &'a [u8],
}

pub(super) async fn data_key(
    conn: &mut AsyncPgConnection,
    workspace: WorkspaceId,
) -> Result<Option<WrappedDataKey>, DbError> {
    Ok(keys::table
        .filter(keys::workspace_id.eq(workspace.as_uuid()))
        .select(WrappedRow::as_select())
        .first(conn)
        .await
        .optional()?
        .map(WrappedDataKey::from))
}

/// `Ok(false)`: the workspace has a data key already (the first one stored wins).
pub(super) async fn insert(
    conn: &mut AsyncPgConnection,
    account: AccountId,
    workspace: WorkspaceId,
    key: &WrappedDataKey,
) -> Result<bool, DbError> {
    let inserted = diesel::insert_into(keys::table)
        .values(NewDataKey {
            workspace_id: workspace.as_uuid(),
            account_id: account.as_uuid(),
            master_key_id: &key.master_key_id,
            wrapped_key: &key.sealed,
        })
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted == 1)
}

/// Every account's data keys, for the master-key rotation command.
#[derive(Clone, Debug)]
pub struct PgDataKeyStore {
    db: Db,
}

impl PgDataKeyStore {
    #[must_use]
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

#[async_trait]
impl DataKeyStore for PgDataKeyStore {
    #[tracing::instrument(skip_all, fields(master_key_id, limit))]
    async fn data_keys_not_under(
        &self,
        master_key_id: &str,
        after: Option<WorkspaceId>,
        limit: i64,
    ) -> Result<Vec<StoredDataKey>, StoreError> {
        self.db
            .system_tx(async |conn| {
                let mut query = keys::table
                    .filter(keys::master_key_id.ne(master_key_id))
                    .into_boxed();
                if let Some(after) = after {
                    query = query.filter(keys::workspace_id.gt(after.as_uuid()));
                }
                let rows = query
                    .order(keys::workspace_id)
                    .limit(limit)
                    .select(StoredRow::as_select())
                    .load(conn)
                    .await?;
                Ok(rows.into_iter().map(StoredDataKey::from).collect())
            })
            .await
    }

    #[tracing::instrument(skip_all, fields(workspace = %old.workspace_id))]
    async fn rewrap(&self, old: &StoredDataKey, new: &WrappedDataKey) -> Result<bool, StoreError> {
        self.db
            .system_tx(async |conn| {
                let updated = diesel::update(
                    keys::table
                        .filter(keys::workspace_id.eq(old.workspace_id.as_uuid()))
                        .filter(keys::master_key_id.eq(&old.wrapped.master_key_id))
                        .filter(keys::wrapped_key.eq(&old.wrapped.sealed)),
                )
                .set((
                    keys::master_key_id.eq(&new.master_key_id),
                    keys::wrapped_key.eq(&new.sealed),
                    keys::rewrapped_at.eq(diesel::dsl::now),
                ))
                .execute(conn)
                .await?;
                Ok(updated == 1)
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn data_keys_per_master_key(&self) -> Result<Vec<(String, i64)>, StoreError> {
        self.db
            .system_tx(async |conn| {
                Ok(keys::table
                    .group_by(keys::master_key_id)
                    .select((keys::master_key_id, diesel::dsl::count_star()))
                    .order(keys::master_key_id)
                    .load::<(String, i64)>(conn)
                    .await?)
            })
            .await
    }
}

/// `pg_advisory_xact_lock` key that lets one master-key rotation run at a time.
const ROTATION_LOCK: i64 = 7_346_235_003;

impl PgDataKeyStore {
    /// Waits for, then holds, the rotation lock until the returned unit of work ends: two
    /// rotations at once could otherwise each add a key and lose the other's.
    pub async fn rotation_lock(&self) -> Result<Tx, DbError> {
        let mut tx = self.db.system().await?;
        diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
            .bind::<diesel::sql_types::BigInt, _>(ROTATION_LOCK)
            .execute(tx.conn())
            .await?;
        Ok(tx)
    }
}
