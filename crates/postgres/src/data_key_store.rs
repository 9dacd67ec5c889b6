//! [`DataKeyStore`] on Postgres: one wrapped data key per workspace.

use async_trait::async_trait;
use campaigns::ports::DataKeyStore;
use campaigns::{StoredDataKey, WrappedDataKey};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use kernel::{AccountId, StoreError, WorkspaceId};
use uuid::Uuid;

use crate::db::Db;
use crate::error::store;
use crate::schema::workspace_data_keys as keys;

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

fn wrapped((master_key_id, sealed): (String, Vec<u8>)) -> WrappedDataKey {
    WrappedDataKey {
        master_key_id,
        sealed,
    }
}

#[async_trait]
impl DataKeyStore for PgDataKeyStore {
    async fn data_key(
        &self,
        account: AccountId,
        workspace: WorkspaceId,
    ) -> Result<Option<WrappedDataKey>, StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, None).await?;
            let row = keys::table
                .filter(keys::workspace_id.eq(workspace.as_uuid()))
                .select((keys::master_key_id, keys::wrapped_key))
                .first::<(String, Vec<u8>)>(tx.conn())
                .await
                .optional()?;
            tx.commit().await?;
            Ok(row.map(wrapped))
        })
        .await
    }

    async fn create_data_key(
        &self,
        account: AccountId,
        workspace: WorkspaceId,
        key: &WrappedDataKey,
    ) -> Result<WrappedDataKey, StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, None).await?;
            diesel::insert_into(keys::table)
                .values((
                    keys::workspace_id.eq(workspace.as_uuid()),
                    keys::account_id.eq(account.as_uuid()),
                    keys::master_key_id.eq(&key.master_key_id),
                    keys::wrapped_key.eq(&key.sealed),
                ))
                .on_conflict_do_nothing()
                .execute(tx.conn())
                .await?;
            let stored = keys::table
                .filter(keys::workspace_id.eq(workspace.as_uuid()))
                .select((keys::master_key_id, keys::wrapped_key))
                .first::<(String, Vec<u8>)>(tx.conn())
                .await?;
            tx.commit().await?;
            Ok(wrapped(stored))
        })
        .await
    }

    async fn data_keys_not_under(
        &self,
        master_key_id: &str,
        after: Option<WorkspaceId>,
        limit: i64,
    ) -> Result<Vec<StoredDataKey>, StoreError> {
        store(async {
            let mut tx = self.db.system().await?;
            let mut query = keys::table
                .filter(keys::master_key_id.ne(master_key_id))
                .into_boxed();
            if let Some(after) = after {
                query = query.filter(keys::workspace_id.gt(after.as_uuid()));
            }
            let rows = query
                .order(keys::workspace_id)
                .limit(limit)
                .select((
                    keys::account_id,
                    keys::workspace_id,
                    keys::master_key_id,
                    keys::wrapped_key,
                ))
                .load::<(Uuid, Uuid, String, Vec<u8>)>(tx.conn())
                .await?;
            tx.commit().await?;
            Ok(rows
                .into_iter()
                .map(
                    |(account, workspace, master_key_id, sealed)| StoredDataKey {
                        account_id: AccountId::from_uuid(account),
                        workspace_id: WorkspaceId::from_uuid(workspace),
                        wrapped: WrappedDataKey {
                            master_key_id,
                            sealed,
                        },
                    },
                )
                .collect())
        })
        .await
    }

    async fn rewrap(&self, old: &StoredDataKey, new: &WrappedDataKey) -> Result<bool, StoreError> {
        store(async {
            let mut tx = self.db.system().await?;
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
            .execute(tx.conn())
            .await?;
            tx.commit().await?;
            Ok(updated == 1)
        })
        .await
    }

    async fn data_keys_per_master_key(&self) -> Result<Vec<(String, i64)>, StoreError> {
        store(async {
            let mut tx = self.db.system().await?;
            let counts = keys::table
                .group_by(keys::master_key_id)
                .select((keys::master_key_id, diesel::dsl::count_star()))
                .order(keys::master_key_id)
                .load::<(String, i64)>(tx.conn())
                .await?;
            tx.commit().await?;
            Ok(counts)
        })
        .await
    }
}

/// `pg_advisory_xact_lock` key that lets one master-key rotation run at a time.
const ROTATION_LOCK: i64 = 7_346_235_003;

impl PgDataKeyStore {
    /// Waits for, then holds, the rotation lock until the returned unit of work ends: two
    /// rotations at once could otherwise each add a key and lose the other's.
    pub async fn rotation_lock(&self) -> Result<crate::Tx, crate::DbError> {
        let mut tx = self.db.system().await?;
        diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
            .bind::<diesel::sql_types::BigInt, _>(ROTATION_LOCK)
            .execute(tx.conn())
            .await?;
        Ok(tx)
    }
}
