//! [`SignInGuard`] on Postgres: the lockout's counters on `users`, read and written in a
//! [`PgUnit`] (the row held `FOR NO KEY UPDATE`, so concurrent failures on several instances
//! are counted one after the other), and what a sign-in checks besides the password.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use identity::models::SignInFailures;
use identity::ports::{SignInGuard, SignInGuardTx};
use kernel::{AccountId, AuthEvent, AuthEventKind, SealedEmail, StoreError, UserId};

use super::{PgIdentityStore, PgUnit, statement};
use crate::audit::insert_event;
use crate::error::store;
use crate::outbox::enqueue;
use crate::schema::{auth_events, users};
use crate::session_cache::Invalidation;

/// The lockout's counters, as stored on `users`.
#[derive(Queryable, Selectable, AsChangeset)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg), treat_none_as_null = true)]
struct FailuresRow {
    failed_signin_attempts: i32,
    failed_validation_attempts: i32,
    locked_until: Option<DateTime<Utc>>,
}

#[async_trait]
impl SignInGuardTx for PgUnit {
    #[tracing::instrument(skip_all, fields(user_id = %self.user))]
    async fn failures(&mut self) -> Result<SignInFailures, StoreError> {
        let user = self.user_id();
        let row = statement(
            users::table
                .filter(users::id.eq(user))
                .select(FailuresRow::as_select())
                .for_no_key_update()
                .first(self.conn()),
        )
        .await?;
        Ok(SignInFailures {
            signins: row.failed_signin_attempts,
            validations: row.failed_validation_attempts,
            locked_until: row.locked_until,
        })
    }

    #[tracing::instrument(skip_all, fields(user_id = %self.user))]
    async fn set_failures(&mut self, failures: &SignInFailures) -> Result<(), StoreError> {
        let user = self.user_id();
        statement(
            diesel::update(users::table.filter(users::id.eq(user)))
                .set(FailuresRow {
                    failed_signin_attempts: failures.signins,
                    failed_validation_attempts: failures.validations,
                    locked_until: failures.locked_until,
                })
                .execute(self.conn()),
        )
        .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn record(&mut self, event: &AuthEvent) -> Result<(), StoreError> {
        store(insert_event(self.conn(), event)).await
    }

    #[tracing::instrument(skip_all)]
    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        let PgUnit {
            tx,
            user,
            sessions,
            caller_changed,
            ..
        } = *self;
        store(tx.commit()).await?;
        if caller_changed {
            sessions.invalidate(Invalidation::User(user));
        }
        Ok(())
    }
}

#[async_trait]
impl SignInGuard for PgIdentityStore {
    #[tracing::instrument(skip_all, fields(account_id = %account, user_id = %user))]
    async fn begin_guard(
        &self,
        account: AccountId,
        user: UserId,
    ) -> Result<Box<dyn SignInGuardTx>, StoreError> {
        Ok(Box::new(self.unit(account, user, None).await?))
    }

    #[tracing::instrument(skip_all, fields(account_id = %account, user_id = %user))]
    async fn countries_seen(
        &self,
        account: AccountId,
        user: UserId,
    ) -> Result<Vec<String>, StoreError> {
        self.db
            .tenant_tx(account, Some(user), async |conn: &mut AsyncPgConnection| {
                Ok(auth_events::table
                    .filter(auth_events::user_id.eq(user.as_uuid()))
                    .filter(auth_events::event.eq(AuthEventKind::LoginSucceeded.as_str()))
                    .filter(auth_events::country.is_not_null())
                    .select(auth_events::country.assume_not_null())
                    .distinct()
                    .load::<String>(conn)
                    .await?)
            })
            .await
    }

    #[tracing::instrument(skip_all, fields(account_id = %account))]
    async fn enqueue_email(
        &self,
        account: AccountId,
        email: &SealedEmail,
    ) -> Result<(), StoreError> {
        self.db
            .tenant_tx(account, None, async |conn: &mut AsyncPgConnection| {
                enqueue(conn, account, email).await?;
                Ok(())
            })
            .await
    }
}
