//! [`SigningKeyStore`] on Postgres: a global table, read and written as the server's own role.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use kernel::{AuthEvent, StoreError};
use tokens::ports::{KeysAccess, SigningKeyStore, SigningKeyTx, StoredSigningKey};

use crate::db::{Db, Tx};
use crate::error::DbError;
use crate::schema::signing_keys;
use crate::session_cache::{Invalidation, announce};

#[derive(Clone, Debug)]
pub struct PgSigningKeyStore {
    db: Db,
}

impl PgSigningKeyStore {
    #[must_use]
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

async fn load_all(
    conn: &mut diesel_async::AsyncPgConnection,
) -> Result<Vec<StoredSigningKey>, DbError> {
    let rows = signing_keys::table
        .select((
            signing_keys::kid,
            signing_keys::public_key,
            signing_keys::private_key_sealed,
            signing_keys::created_at,
            signing_keys::activates_at,
            signing_keys::retired_at,
        ))
        .order(signing_keys::activates_at.desc())
        .load::<KeyRow>(conn)
        .await?;
    rows.into_iter()
        .map(
            |(kid, public, private_key_sealed, created_at, activates_at, retired_at)| {
                let public_key = public
                    .try_into()
                    .map_err(|_| DbError::Corrupt(format!("public key {kid} is not 32 bytes")))?;
                Ok(StoredSigningKey {
                    kid,
                    public_key,
                    private_key_sealed,
                    created_at,
                    activates_at,
                    retired_at,
                })
            },
        )
        .collect()
}

async fn insert(
    conn: &mut diesel_async::AsyncPgConnection,
    key: &StoredSigningKey,
) -> Result<(), DbError> {
    diesel::insert_into(signing_keys::table)
        .values((
            signing_keys::kid.eq(&key.kid),
            signing_keys::algorithm.eq("EdDSA"),
            signing_keys::public_key.eq(key.public_key.as_slice()),
            signing_keys::private_key_sealed.eq(key.private_key_sealed.as_deref()),
            signing_keys::created_at.eq(key.created_at),
            signing_keys::activates_at.eq(key.activates_at),
            signing_keys::retired_at.eq(key.retired_at),
        ))
        .on_conflict(signing_keys::kid)
        .do_nothing()
        .execute(conn)
        .await?;
    // Every instance reloads its key ring.
    announce(conn, Invalidation::SigningKeys).await
}

/// Serialises exclusive units of work across instances.
const BOOTSTRAP_LOCK: i64 = 7_346_235_003;

type KeyRow = (
    String,
    Vec<u8>,
    Option<Vec<u8>>,
    DateTime<Utc>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);

#[async_trait]
impl SigningKeyStore for PgSigningKeyStore {
    #[tracing::instrument(skip_all, fields(?access))]
    async fn begin(&self, access: KeysAccess) -> Result<Box<dyn SigningKeyTx>, StoreError> {
        let mut tx = self.db.system().await?;
        if access == KeysAccess::Exclusive {
            diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
                .bind::<diesel::sql_types::BigInt, _>(BOOTSTRAP_LOCK)
                .execute(tx.conn())
                .await
                .map_err(DbError::from)?;
        }
        Ok(Box::new(PgSigningKeyTx { tx }))
    }
}

/// A unit of work on the signing keys: one transaction as the server's own role.
struct PgSigningKeyTx {
    tx: Tx,
}

#[async_trait]
impl SigningKeyTx for PgSigningKeyTx {
    #[tracing::instrument(skip_all)]
    async fn keys(&mut self) -> Result<Vec<StoredSigningKey>, StoreError> {
        Ok(load_all(self.tx.conn()).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn add(&mut self, key: &StoredSigningKey) -> Result<(), StoreError> {
        Ok(insert(self.tx.conn(), key).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn record(&mut self, event: &AuthEvent) -> Result<(), StoreError> {
        Ok(crate::audit::insert_event(self.tx.conn(), event).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        Ok(self.tx.commit().await?)
    }
}
