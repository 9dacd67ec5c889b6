//! [`PendingCodes`] on Postgres: invitations, password resets and address verifications are
//! one kind of pending code with one shape (user, account, code digest, created, expires, and
//! — except for a verification code, which is deleted when used — when it was used), kept in
//! a table per kind. The statements are the same for every kind, so they are written once,
//! with the table and column names taken from [`CodeKind`] (never from caller text).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Bytea, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use identity::models::{CodeKind, NewCode, PendingCode};
use identity::ports::{PendingCodes, Redemption};
use kernel::{AccountId, AuthEvent, EmailAddress, SealedEmail, StoreError, UserId};

use super::{PgIdentityStore, PgUnit, UserRow, set_password_hash};
use crate::audit::insert_event;
use crate::db::Lookup;
use crate::error::{DbError, store};
use crate::outbox::enqueue;
use crate::schema::{email_verifications, users};

/// Where a kind of code is kept: its table, and the column that says when it was used.
struct CodeTable {
    table: &'static str,
    used_at: Option<&'static str>,
}

fn code_table(kind: CodeKind) -> CodeTable {
    let (table, used_at) = match kind {
        CodeKind::Invitation => ("invitations", Some("accepted_at")),
        CodeKind::PasswordReset => ("password_resets", Some("used_at")),
        CodeKind::EmailVerification => ("email_verifications", None),
    };
    CodeTable { table, used_at }
}

impl CodeTable {
    /// The code with its user, for `condition` (on `c`, the code, and `u`, the user).
    fn select(&self, condition: &str) -> String {
        let used_at = self.used_at.map_or_else(
            || "NULL::timestamptz".to_owned(),
            |column| format!("c.{column}"),
        );
        format!(
            "SELECT u.id, u.account_id, u.email, u.full_name, u.created_at, \
                    c.code_digest, c.expires_at, {used_at} AS used_at \
             FROM {table} c JOIN users u ON u.id = c.user_id WHERE {condition}",
            table = self.table,
        )
    }
}

/// A code with its user, as stored.
#[derive(QueryableByName)]
struct CodeRow {
    #[diesel(embed)]
    user: UserRow,
    #[diesel(sql_type = Bytea)]
    code_digest: Vec<u8>,
    #[diesel(sql_type = Timestamptz)]
    expires_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    used_at: Option<DateTime<Utc>>,
}

impl CodeRow {
    fn into_pending(self) -> Result<PendingCode, DbError> {
        Ok(PendingCode {
            user: self.user.into_user()?,
            code_digest: self.code_digest,
            expires_at: self.expires_at,
            used: self.used_at.is_some(),
        })
    }
}

/// Stores `code`, replacing (and reopening) the user's code of its kind.
pub(super) async fn store_code(
    conn: &mut AsyncPgConnection,
    code: &NewCode,
) -> Result<(), DbError> {
    let table = code_table(code.kind);
    let reopen = table
        .used_at
        .map(|column| format!(", {column} = NULL"))
        .unwrap_or_default();
    diesel::sql_query(format!(
        "INSERT INTO {table} (user_id, account_id, code_digest, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (user_id) DO UPDATE SET code_digest = EXCLUDED.code_digest, \
             created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at{reopen}",
        table = table.table,
    ))
    .bind::<diesel::sql_types::Uuid, _>(code.user_id.as_uuid())
    .bind::<diesel::sql_types::Uuid, _>(code.account_id.as_uuid())
    .bind::<Bytea, _>(code.code_digest.as_slice())
    .bind::<Timestamptz, _>(code.created_at)
    .bind::<Timestamptz, _>(code.expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

#[async_trait]
impl PendingCodes for PgIdentityStore {
    #[tracing::instrument(skip_all, fields(kind = ?code.kind, account_id = %code.account_id, user_id = %code.user_id))]
    async fn issue(
        &self,
        code: &NewCode,
        email: &SealedEmail,
        event: Option<&AuthEvent>,
    ) -> Result<(), StoreError> {
        self.db
            .tenant_tx(
                code.account_id,
                Some(code.user_id),
                async |conn: &mut AsyncPgConnection| {
                    store_code(conn, code).await?;
                    enqueue(conn, code.account_id, email).await?;
                    if let Some(event) = event {
                        insert_event(conn, event).await?;
                    }
                    Ok(())
                },
            )
            .await
    }

    #[tracing::instrument(skip_all, fields(kind = ?kind))]
    async fn find(
        &self,
        kind: CodeKind,
        email: &EmailAddress,
    ) -> Result<Option<PendingCode>, StoreError> {
        if kind == CodeKind::EmailVerification {
            // Not visible to the anonymous role: redeemed signed in.
            return Ok(None);
        }
        let sql = code_table(kind).select("u.email = $1");
        self.db
            .anonymous_tx(
                Lookup::UserByEmail(email),
                async |conn: &mut AsyncPgConnection| {
                    let found = diesel::sql_query(sql)
                        .bind::<Text, _>(email.as_str())
                        .get_result::<CodeRow>(conn)
                        .await
                        .optional()?;
                    found.map(CodeRow::into_pending).transpose()
                },
            )
            .await
    }

    #[tracing::instrument(skip_all, fields(kind = ?kind, account_id = %account, user_id = %user))]
    async fn begin_redemption(
        &self,
        kind: CodeKind,
        account: AccountId,
        user: UserId,
    ) -> Result<Box<dyn Redemption>, StoreError> {
        Ok(Box::new(self.unit(account, user, Some(kind)).await?))
    }
}

impl PgUnit {
    fn code_table(&self) -> Result<CodeTable, StoreError> {
        self.kind
            .map(code_table)
            .ok_or_else(|| StoreError::Other("not a redemption".into()))
    }
}

#[async_trait]
impl Redemption for PgUnit {
    #[tracing::instrument(skip_all, fields(user_id = %self.user))]
    async fn code(&mut self) -> Result<Option<PendingCode>, StoreError> {
        let sql = format!(
            "{} FOR UPDATE OF c",
            self.code_table()?.select("c.user_id = $1")
        );
        let user = self.user_id();
        store(async {
            let found = diesel::sql_query(sql)
                .bind::<diesel::sql_types::Uuid, _>(user)
                .get_result::<CodeRow>(self.conn())
                .await
                .optional()?;
            found.map(CodeRow::into_pending).transpose()
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(user_id = %self.user))]
    async fn mark_used(&mut self, at: DateTime<Utc>) -> Result<(), StoreError> {
        let table = self.code_table()?;
        let user = self.user_id();
        let conn = self.conn();
        store(async {
            match table.used_at {
                Some(column) => {
                    diesel::sql_query(format!(
                        "UPDATE {table} SET {column} = $2 WHERE user_id = $1",
                        table = table.table
                    ))
                    .bind::<diesel::sql_types::Uuid, _>(user)
                    .bind::<Timestamptz, _>(at)
                    .execute(conn)
                    .await?
                }
                None => {
                    diesel::sql_query(format!(
                        "DELETE FROM {table} WHERE user_id = $1",
                        table = table.table
                    ))
                    .bind::<diesel::sql_types::Uuid, _>(user)
                    .execute(conn)
                    .await?
                }
            };
            Ok(())
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(user_id = %self.user))]
    async fn set_password(
        &mut self,
        password_hash: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let user = self.user;
        store(set_password_hash(self.conn(), user, password_hash, at)).await
    }

    #[tracing::instrument(skip_all, fields(user_id = %self.user))]
    async fn mark_email_verified(&mut self, at: DateTime<Utc>) -> Result<(), StoreError> {
        let user = self.user_id();
        let conn = self.conn();
        store(async {
            diesel::update(
                users::table
                    .filter(users::id.eq(user))
                    .filter(users::email_verified_at.is_null()),
            )
            .set(users::email_verified_at.eq(at))
            .execute(conn)
            .await?;
            diesel::delete(email_verifications::table)
                .filter(email_verifications::user_id.eq(user))
                .execute(conn)
                .await?;
            Ok(())
        })
        .await?;
        self.caller_changed().await
    }
}
