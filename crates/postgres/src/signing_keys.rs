//! [`SigningKeyStore`] on Postgres: a global table, read and written as the server's own role.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use kernel::StoreError;
use tokens::ports::{SigningKeyStore, StoredSigningKey};

use crate::db::Db;
use crate::error::{DbError, store};
use crate::schema::signing_keys;

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

type KeyRow = (String, Vec<u8>, Option<Vec<u8>>, DateTime<Utc>, Option<DateTime<Utc>>);

#[async_trait]
impl SigningKeyStore for PgSigningKeyStore {
    async fn signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError> {
        store(async {
            let mut tx = self.db.system().await?;
            let rows = signing_keys::table
                .select((
                    signing_keys::kid,
                    signing_keys::public_key,
                    signing_keys::private_key_sealed,
                    signing_keys::created_at,
                    signing_keys::retired_at,
                ))
                .order(signing_keys::created_at.desc())
                .load::<KeyRow>(tx.conn())
                .await?;
            tx.commit().await?;
            rows.into_iter()
                .map(|(kid, public, private_key_sealed, created_at, retired_at)| {
                    let public_key = public
                        .try_into()
                        .map_err(|_| DbError::Corrupt(format!("public key {kid} is not 32 bytes")))?;
                    Ok(StoredSigningKey {
                        kid,
                        public_key,
                        private_key_sealed,
                        created_at,
                        retired_at,
                    })
                })
                .collect()
        })
        .await
    }

    async fn add_signing_key(&self, key: &StoredSigningKey) -> Result<(), StoreError> {
        store(async {
            let mut tx = self.db.system().await?;
            diesel::insert_into(signing_keys::table)
                .values((
                    signing_keys::kid.eq(&key.kid),
                    signing_keys::algorithm.eq("EdDSA"),
                    signing_keys::public_key.eq(key.public_key.as_slice()),
                    signing_keys::private_key_sealed.eq(key.private_key_sealed.as_deref()),
                    signing_keys::created_at.eq(key.created_at),
                    signing_keys::retired_at.eq(key.retired_at),
                ))
                .on_conflict(signing_keys::kid)
                .do_nothing()
                .execute(tx.conn())
                .await?;
            tx.commit().await
        })
        .await
    }
}
