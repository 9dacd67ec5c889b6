//! [`MfaStore`] on Postgres: `user_mfa` and `mfa_recovery_codes`, changed in a [`PgUnit`] that
//! holds the user's TOTP row; which code is accepted is identity's rule.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use identity::models::MfaRecord;
use identity::ports::{MfaStore, MfaTx};
use kernel::{AccountId, StoreError, UserId};
use uuid::Uuid;

use super::{PgIdentityStore, PgUnit, statement};
use crate::error::store;
use crate::schema::{mfa_recovery_codes, user_mfa};

#[derive(Queryable, Selectable)]
#[diesel(table_name = user_mfa, check_for_backend(diesel::pg::Pg))]
struct MfaRow {
    secret_sealed: Vec<u8>,
    enabled_at: Option<DateTime<Utc>>,
    last_used_step: Option<i64>,
}

impl From<MfaRow> for MfaRecord {
    fn from(row: MfaRow) -> Self {
        Self {
            secret_sealed: row.secret_sealed,
            enabled: row.enabled_at.is_some(),
            last_used_step: row.last_used_step,
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = user_mfa, check_for_backend(diesel::pg::Pg))]
struct NewMfaRow<'a> {
    user_id: Uuid,
    account_id: Uuid,
    secret_sealed: &'a [u8],
}

#[derive(Insertable)]
#[diesel(table_name = mfa_recovery_codes, check_for_backend(diesel::pg::Pg))]
struct NewRecoveryCodeRow<'a> {
    code_digest: &'a [u8],
    user_id: Uuid,
    account_id: Uuid,
}

#[async_trait]
impl MfaStore for PgIdentityStore {
    #[tracing::instrument(skip_all, fields(account_id = %account, user_id = %user))]
    async fn mfa(&self, account: AccountId, user: UserId) -> Result<Option<MfaRecord>, StoreError> {
        self.db
            .tenant_tx(account, Some(user), async |conn: &mut AsyncPgConnection| {
                let row = user_mfa::table
                    .filter(user_mfa::user_id.eq(user.as_uuid()))
                    .select(MfaRow::as_select())
                    .first(conn)
                    .await
                    .optional()?;
                Ok(row.map(MfaRecord::from))
            })
            .await
    }

    #[tracing::instrument(skip_all, fields(account_id = %account, user_id = %user))]
    async fn begin_mfa(
        &self,
        account: AccountId,
        user: UserId,
    ) -> Result<Box<dyn MfaTx>, StoreError> {
        Ok(Box::new(self.unit(account, user, None).await?))
    }
}

#[async_trait]
impl MfaTx for PgUnit {
    #[tracing::instrument(skip_all, fields(user_id = %self.user))]
    async fn totp(&mut self) -> Result<Option<MfaRecord>, StoreError> {
        let user = self.user_id();
        let row = statement(
            user_mfa::table
                .filter(user_mfa::user_id.eq(user))
                .select(MfaRow::as_select())
                .for_update()
                .first(self.conn()),
        )
        .await;
        match row {
            Ok(row) => Ok(Some(row.into())),
            Err(StoreError::NotFound) => Ok(None),
            Err(other) => Err(other),
        }
    }

    #[tracing::instrument(skip_all, fields(user_id = %self.user))]
    async fn save_pending(&mut self, secret_sealed: &[u8]) -> Result<(), StoreError> {
        let row = NewMfaRow {
            user_id: self.user_id(),
            account_id: self.account.as_uuid(),
            secret_sealed,
        };
        statement(
            diesel::insert_into(user_mfa::table)
                .values(row)
                .on_conflict(user_mfa::user_id)
                .do_update()
                .set((
                    user_mfa::secret_sealed.eq(secret_sealed),
                    user_mfa::created_at.eq(diesel::dsl::now),
                ))
                .execute(self.conn()),
        )
        .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(user_id = %self.user))]
    async fn enable(&mut self, at: DateTime<Utc>) -> Result<(), StoreError> {
        let user = self.user_id();
        statement(
            diesel::update(user_mfa::table.filter(user_mfa::user_id.eq(user)))
                .set(user_mfa::enabled_at.eq(at))
                .execute(self.conn()),
        )
        .await?;
        self.caller_changed().await
    }

    #[tracing::instrument(skip_all, fields(user_id = %self.user))]
    async fn set_last_used_step(&mut self, step: i64) -> Result<(), StoreError> {
        let user = self.user_id();
        statement(
            diesel::update(user_mfa::table.filter(user_mfa::user_id.eq(user)))
                .set(user_mfa::last_used_step.eq(step))
                .execute(self.conn()),
        )
        .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(user_id = %self.user))]
    async fn replace_recovery_codes(&mut self, digests: &[[u8; 32]]) -> Result<(), StoreError> {
        let (user, account) = (self.user_id(), self.account.as_uuid());
        let rows: Vec<_> = digests
            .iter()
            .map(|digest| NewRecoveryCodeRow {
                code_digest: digest.as_slice(),
                user_id: user,
                account_id: account,
            })
            .collect();
        let conn = self.conn();
        store(async {
            diesel::delete(mfa_recovery_codes::table)
                .filter(mfa_recovery_codes::user_id.eq(user))
                .execute(conn)
                .await?;
            diesel::insert_into(mfa_recovery_codes::table)
                .values(rows)
                .execute(conn)
                .await?;
            Ok(())
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(user_id = %self.user))]
    async fn recovery_code_used(&mut self, digest: &[u8; 32]) -> Result<Option<bool>, StoreError> {
        let user = self.user_id();
        let found = store(async {
            Ok(mfa_recovery_codes::table
                .filter(mfa_recovery_codes::code_digest.eq(digest.as_slice()))
                .filter(mfa_recovery_codes::user_id.eq(user))
                .select(mfa_recovery_codes::used_at)
                .for_update()
                .first::<Option<DateTime<Utc>>>(self.conn())
                .await
                .optional()?)
        })
        .await?;
        Ok(found.map(|used_at| used_at.is_some()))
    }

    #[tracing::instrument(skip_all, fields(user_id = %self.user))]
    async fn mark_recovery_code_used(
        &mut self,
        digest: &[u8; 32],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let user = self.user_id();
        statement(
            diesel::update(mfa_recovery_codes::table)
                .filter(mfa_recovery_codes::code_digest.eq(digest.as_slice()))
                .filter(mfa_recovery_codes::user_id.eq(user))
                .set(mfa_recovery_codes::used_at.eq(at))
                .execute(self.conn()),
        )
        .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(user_id = %self.user))]
    async fn remove(&mut self) -> Result<(), StoreError> {
        let user = self.user_id();
        let conn = self.conn();
        store(async {
            diesel::delete(user_mfa::table.filter(user_mfa::user_id.eq(user)))
                .execute(conn)
                .await?;
            diesel::delete(mfa_recovery_codes::table)
                .filter(mfa_recovery_codes::user_id.eq(user))
                .execute(conn)
                .await?;
            Ok(())
        })
        .await?;
        self.caller_changed().await
    }
}
