//! identity's store ports on Postgres, one file per area: [`AccountStore`] (`accounts.rs`,
//! with the audit trail's reads in `audit_trail.rs`), [`WorkspaceStore`] (`workspaces.rs`),
//! [`MembershipStore`] (`memberships.rs`), [`SignInGuard`] (`sign_in_guard.rs`), [`MfaStore`]
//! (`mfa.rs`) and [`PendingCodes`] (`pending_codes.rs`). Each method is one statement or one
//! unit of work on [`Db::tenant_tx`]/[`Db::anonymous_tx`]; where identity's service decides
//! inside a unit of work, the port hands it a `PgUnit`, a transaction whose methods are
//! single statements and which commits when the service says so. No rule is written here.
//!
//! [`AccountStore`]: identity::ports::AccountStore
//! [`WorkspaceStore`]: identity::ports::WorkspaceStore
//! [`MembershipStore`]: identity::ports::MembershipStore
//! [`SignInGuard`]: identity::ports::SignInGuard
//! [`MfaStore`]: identity::ports::MfaStore
//! [`PendingCodes`]: identity::ports::PendingCodes

mod accounts;
mod audit_trail;
mod memberships;
mod mfa;
mod pending_codes;
mod sign_in_guard;
mod workspaces;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use identity::User;
use identity::models::CodeKind;
use kernel::{AccountId, EmailAddress, StoreError, UserId};
use uuid::Uuid;

use crate::db::{Db, Tx};
use crate::error::DbError;
use crate::schema::users;
use crate::session_cache::{Invalidation, SessionCache, announce};

/// Every identity store port, on one pool.
#[derive(Clone)]
pub struct PgIdentityStore {
    db: Db,
    /// This instance's session cache: a role change is seen here at once, and by the other
    /// instances when its notification arrives.
    sessions: Arc<SessionCache>,
}

impl std::fmt::Debug for PgIdentityStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgIdentityStore")
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

impl PgIdentityStore {
    #[must_use]
    pub fn new(db: Db, sessions: Arc<SessionCache>) -> Self {
        Self { db, sessions }
    }

    /// Opens the unit of work on one user's rows that a transaction-typed port hands out.
    async fn unit(
        &self,
        account: AccountId,
        user: UserId,
        kind: Option<CodeKind>,
    ) -> Result<PgUnit, StoreError> {
        let tx = self.db.tenant(account, Some(user)).await?;
        Ok(PgUnit {
            tx,
            account,
            user,
            kind,
            sessions: Arc::clone(&self.sessions),
            caller_changed: false,
        })
    }
}

/// A unit of work on one user's rows, handed to identity's service through
/// [`identity::ports::SignInGuardTx`], [`identity::ports::MfaTx`] and
/// [`identity::ports::Redemption`]: single statements, committed when the service says so;
/// dropped, it rolls back.
pub(crate) struct PgUnit {
    tx: Tx,
    account: AccountId,
    user: UserId,
    /// The kind of code being redeemed, in a redemption.
    kind: Option<CodeKind>,
    sessions: Arc<SessionCache>,
    /// What `GET /v1/me` says of the user changed (MFA, a proven address): every instance
    /// forgets what it cached of them once this commits.
    caller_changed: bool,
}

impl PgUnit {
    fn conn(&mut self) -> &mut diesel_async::AsyncPgConnection {
        self.tx.conn()
    }

    fn user_id(&self) -> Uuid {
        self.user.as_uuid()
    }

    /// Tells every instance, inside the transaction, that the user's caller facts changed.
    async fn caller_changed(&mut self) -> Result<(), StoreError> {
        self.caller_changed = true;
        let user = self.user;
        crate::error::store(announce(self.conn(), Invalidation::User(user))).await
    }
}

/// A user as stored.
#[derive(Queryable, Selectable, QueryableByName)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub(crate) struct UserRow {
    id: Uuid,
    account_id: Uuid,
    email: String,
    full_name: String,
    created_at: DateTime<Utc>,
}

impl UserRow {
    pub(crate) fn into_user(self) -> Result<User, DbError> {
        Ok(User {
            id: UserId::from_uuid(self.id),
            account_id: AccountId::from_uuid(self.account_id),
            email: EmailAddress::parse(&self.email).map_err(|_| {
                DbError::Corrupt(format!("stored email of user {} is invalid", self.id))
            })?,
            full_name: self.full_name,
            created_at: self.created_at,
        })
    }
}

/// A user to be stored.
#[derive(Insertable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
struct NewUserRow<'a> {
    id: Uuid,
    account_id: Uuid,
    email: &'a str,
    full_name: &'a str,
    password_hash: Option<&'a str>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl<'a> NewUserRow<'a> {
    fn new(user: &'a User, password_hash: Option<&'a str>) -> Self {
        Self {
            id: user.id.as_uuid(),
            account_id: user.account_id.as_uuid(),
            email: user.email.as_str(),
            full_name: &user.full_name,
            password_hash,
            created_at: user.created_at,
            updated_at: user.created_at,
        }
    }
}

/// Sets a user's password hash (one statement).
async fn set_password_hash(
    conn: &mut diesel_async::AsyncPgConnection,
    user: UserId,
    password_hash: &str,
    at: DateTime<Utc>,
) -> Result<(), DbError> {
    diesel_async::RunQueryDsl::execute(
        diesel::update(users::table.filter(users::id.eq(user.as_uuid()))).set((
            users::password_hash.eq(password_hash),
            users::updated_at.eq(at),
        )),
        conn,
    )
    .await?;
    Ok(())
}

/// "No row" as the store's error, for a write that found nothing to change.
fn not_found() -> DbError {
    DbError::Query(diesel::result::Error::NotFound)
}

/// One statement of a [`PgUnit`], its failure as the store's.
async fn statement<T>(
    query: impl Future<Output = Result<T, diesel::result::Error>>,
) -> Result<T, StoreError> {
    query.await.map_err(|e| DbError::Query(e).into())
}
