//! [`AccountStore`] on Postgres: accounts, their users' credentials and profile.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use identity::models::{AuditQuery, AuditRecord, CallerRecord, Credentials, NewAccount, Page};
use identity::ports::AccountStore;
use identity::{Account, User};
use kernel::{AccountId, AccountRole, AuthEvent, EmailAddress, StoreError, UserId};
use uuid::Uuid;

use super::{NewUserRow, PgIdentityStore, UserRow, set_password_hash};
use crate::audit::insert_event;
use crate::db::Lookup;
use crate::identity::workspaces::NewWorkspaceRow;
use crate::schema::{account_roles, accounts, user_mfa, users};

#[derive(Insertable)]
#[diesel(table_name = accounts, check_for_backend(diesel::pg::Pg))]
struct NewAccountRow<'a> {
    id: Uuid,
    name: &'a str,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = accounts, check_for_backend(diesel::pg::Pg))]
struct AccountRow {
    id: Uuid,
    name: String,
    created_at: DateTime<Utc>,
}

/// A user with what signing in needs.
#[derive(Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
struct CredentialsRow {
    #[diesel(embed)]
    user: UserRow,
    password_hash: Option<String>,
    failed_signin_attempts: i32,
    locked_until: Option<DateTime<Utc>>,
    #[diesel(select_expression = user_mfa::enabled_at.nullable())]
    #[diesel(select_expression_type = diesel::dsl::Nullable<user_mfa::enabled_at>)]
    mfa_enabled_at: Option<DateTime<Utc>>,
}

#[async_trait]
impl AccountStore for PgIdentityStore {
    #[tracing::instrument(skip_all, fields(account_id = %new.account.id, user_id = %new.owner.id))]
    async fn create_account(&self, new: &NewAccount, event: &AuthEvent) -> Result<(), StoreError> {
        let (account, owner) = (new.account.id, new.owner.id);
        self.db
            .tenant_tx(
                account,
                Some(owner),
                async |conn: &mut AsyncPgConnection| {
                    diesel::insert_into(accounts::table)
                        .values(NewAccountRow {
                            id: account.as_uuid(),
                            name: &new.account.name,
                            created_at: new.account.created_at,
                            updated_at: new.account.created_at,
                        })
                        .execute(conn)
                        .await?;
                    diesel::insert_into(users::table)
                        .values(NewUserRow::new(&new.owner, Some(&new.password_hash)))
                        .execute(conn)
                        .await?;
                    diesel::insert_into(account_roles::table)
                        .values((
                            account_roles::account_id.eq(account.as_uuid()),
                            account_roles::user_id.eq(owner.as_uuid()),
                            account_roles::role.eq(AccountRole::Owner.as_str()),
                        ))
                        .execute(conn)
                        .await?;
                    diesel::insert_into(crate::schema::workspaces::table)
                        .values(NewWorkspaceRow::new(&new.workspace))
                        .execute(conn)
                        .await?;
                    insert_event(conn, event).await
                },
            )
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn find_credentials(
        &self,
        email: &EmailAddress,
    ) -> Result<Option<Credentials>, StoreError> {
        self.db
            .anonymous_tx(
                Lookup::UserByEmail(email),
                async |conn: &mut AsyncPgConnection| {
                    let row = users::table
                        .left_join(user_mfa::table.on(user_mfa::user_id.eq(users::id)))
                        .filter(users::email.eq(email.as_str()))
                        .select(CredentialsRow::as_select())
                        .first(conn)
                        .await
                        .optional()?;
                    row.map(|row| {
                        Ok(Credentials {
                            user: row.user.into_user()?,
                            password_hash: row.password_hash,
                            failed_signin_attempts: row.failed_signin_attempts,
                            locked_until: row.locked_until,
                            mfa_enabled: row.mfa_enabled_at.is_some(),
                        })
                    })
                    .transpose()
                },
            )
            .await
    }

    #[tracing::instrument(skip_all, fields(account_id = %account, user_id = %user))]
    async fn profile(
        &self,
        account: AccountId,
        user: UserId,
    ) -> Result<(User, Account), StoreError> {
        self.db
            .tenant_tx(account, Some(user), async |conn: &mut AsyncPgConnection| {
                let (user_row, account_row) = users::table
                    .inner_join(accounts::table)
                    .filter(users::id.eq(user.as_uuid()))
                    .select((UserRow::as_select(), AccountRow::as_select()))
                    .first::<(UserRow, AccountRow)>(conn)
                    .await?;
                Ok((
                    user_row.into_user()?,
                    Account {
                        id: AccountId::from_uuid(account_row.id),
                        name: account_row.name,
                        created_at: account_row.created_at,
                    },
                ))
            })
            .await
    }

    #[tracing::instrument(skip_all, fields(account_id = %account, user_id = %user))]
    async fn set_password(
        &self,
        account: AccountId,
        user: UserId,
        password_hash: &str,
        event: &AuthEvent,
    ) -> Result<(), StoreError> {
        self.db
            .tenant_tx(account, Some(user), async |conn: &mut AsyncPgConnection| {
                set_password_hash(conn, user, password_hash, event.at).await?;
                insert_event(conn, event).await
            })
            .await
    }

    #[tracing::instrument(skip_all, fields(account_id = %account, user_id = %user))]
    async fn email_verified(&self, account: AccountId, user: UserId) -> Result<bool, StoreError> {
        self.db
            .tenant_tx(account, Some(user), async |conn: &mut AsyncPgConnection| {
                Ok(users::table
                    .filter(users::id.eq(user.as_uuid()))
                    .select(users::email_verified_at.is_not_null())
                    .first::<bool>(conn)
                    .await?)
            })
            .await
    }

    /// Served from this instance's cache when it can (emptied of the user by every instance
    /// when their MFA or address changes, or they go); else one query.
    #[tracing::instrument(skip_all, fields(account_id = %account, user_id = %user))]
    async fn caller(&self, account: AccountId, user: UserId) -> Result<CallerRecord, StoreError> {
        if let Some(caller) = self.sessions.caller(account, user) {
            return Ok(caller);
        }
        let generation = self.sessions.generation();
        let caller = self
            .db
            .tenant_tx(account, Some(user), async |conn: &mut AsyncPgConnection| {
                let (user_row, account_row, email_verified, mfa_enabled) = users::table
                    .inner_join(accounts::table)
                    .left_join(user_mfa::table.on(user_mfa::user_id.eq(users::id)))
                    .filter(users::id.eq(user.as_uuid()))
                    .select((
                        UserRow::as_select(),
                        AccountRow::as_select(),
                        users::email_verified_at.is_not_null(),
                        user_mfa::enabled_at.nullable().is_not_null(),
                    ))
                    .first::<(UserRow, AccountRow, bool, bool)>(conn)
                    .await?;
                Ok(CallerRecord {
                    user: user_row.into_user()?,
                    account: Account {
                        id: AccountId::from_uuid(account_row.id),
                        name: account_row.name,
                        created_at: account_row.created_at,
                    },
                    email_verified,
                    mfa_enabled,
                })
            })
            .await?;
        self.sessions.insert_caller(generation, caller.clone());
        Ok(caller)
    }

    #[tracing::instrument(skip_all, fields(account_id = %account))]
    async fn audit_events(
        &self,
        account: AccountId,
        query: &AuditQuery,
    ) -> Result<Page<AuditRecord>, StoreError> {
        self.db
            .tenant_tx(account, None, async |conn: &mut AsyncPgConnection| {
                super::audit_trail::page(conn, query).await
            })
            .await
    }
}
