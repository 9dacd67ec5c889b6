//! [`EmailVerificationStore`] on Postgres: the codes sent to prove an address, and
//! `users.email_verified_at`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use identity::User;
use identity::ports::EmailVerificationStore;
use kernel::{AccountId, SealedEmail, StoreError, UserId};

use crate::db::Db;
use crate::error::store;
use crate::outbox::enqueue;
use crate::schema::{email_verifications, users};

#[derive(Clone, Debug)]
pub struct PgEmailVerificationStore {
    db: Db,
}

impl PgEmailVerificationStore {
    #[must_use]
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

#[async_trait]
impl EmailVerificationStore for PgEmailVerificationStore {
    async fn start_email_verification(
        &self,
        user: &User,
        code_digest: &[u8; 32],
        expires_at: DateTime<Utc>,
        email: &SealedEmail,
    ) -> Result<(), StoreError> {
        store(async {
            let mut tx = self.db.tenant(user.account_id, Some(user.id)).await?;
            diesel::insert_into(email_verifications::table)
                .values((
                    email_verifications::user_id.eq(user.id.as_uuid()),
                    email_verifications::account_id.eq(user.account_id.as_uuid()),
                    email_verifications::code_digest.eq(code_digest.as_slice()),
                    email_verifications::expires_at.eq(expires_at),
                ))
                .on_conflict(email_verifications::user_id)
                .do_update()
                .set((
                    email_verifications::code_digest.eq(code_digest.as_slice()),
                    email_verifications::created_at.eq(diesel::dsl::now),
                    email_verifications::expires_at.eq(expires_at),
                ))
                .execute(tx.conn())
                .await?;
            enqueue(tx.conn(), user.account_id, email).await?;
            tx.commit().await
        })
        .await
    }

    async fn verify_email(
        &self,
        account: AccountId,
        user: UserId,
        code_digest: &[u8; 32],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, Some(user)).await?;
            let used = diesel::delete(email_verifications::table)
                .filter(email_verifications::user_id.eq(user.as_uuid()))
                .filter(email_verifications::code_digest.eq(code_digest.as_slice()))
                .filter(email_verifications::expires_at.gt(now))
                .execute(tx.conn())
                .await?;
            if used == 1 {
                diesel::update(users::table.filter(users::id.eq(user.as_uuid())))
                    .set(users::email_verified_at.eq(now))
                    .execute(tx.conn())
                    .await?;
            }
            tx.commit().await?;
            Ok(used == 1)
        })
        .await
    }

    async fn mark_email_verified(
        &self,
        account: AccountId,
        user: UserId,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, Some(user)).await?;
            diesel::update(
                users::table
                    .filter(users::id.eq(user.as_uuid()))
                    .filter(users::email_verified_at.is_null()),
            )
            .set(users::email_verified_at.eq(at))
            .execute(tx.conn())
            .await?;
            diesel::delete(email_verifications::table)
                .filter(email_verifications::user_id.eq(user.as_uuid()))
                .execute(tx.conn())
                .await?;
            tx.commit().await
        })
        .await
    }

    async fn email_verified(&self, account: AccountId, user: UserId) -> Result<bool, StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, Some(user)).await?;
            let verified = users::table
                .filter(users::id.eq(user.as_uuid()))
                .select(users::email_verified_at.is_not_null())
                .first::<bool>(tx.conn())
                .await?;
            tx.commit().await?;
            Ok(verified)
        })
        .await
    }
}
