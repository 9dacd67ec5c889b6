//! [`IdentityStore`] on Postgres.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use identity::models::{
    AuditQuery, AuditRecord, Credentials, FailedSignin, Member, MfaRecord, NewAccount,
    NewInvitation, Page, PendingCode,
};
use identity::ports::IdentityStore;
use identity::{Account, User, Workspace};
use kernel::{
    AccountId, AccountRole, AuthEvent, EmailAddress, Roles, SealedEmail, StoreError, UserId,
    WorkspaceId,
};
use uuid::Uuid;

use crate::audit::{insert_event, record_event};
use crate::db::{Db, Lookup};
use crate::error::{DbError, store};
use crate::outbox::enqueue;
use crate::roles::{load_roles, roles_from_rows};
use crate::schema::{
    account_roles, accounts, auth_events, invitations, mfa_recovery_codes, password_resets,
    user_mfa, users, workspace_roles, workspaces,
};
use crate::session_cache::{Invalidation, SessionCache, announce};

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
}

#[derive(Queryable)]
struct UserRow {
    id: Uuid,
    account_id: Uuid,
    email: String,
    full_name: String,
    created_at: DateTime<Utc>,
}

impl UserRow {
    fn into_user(self) -> Result<User, DbError> {
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

/// Adds `roles` (except `owner`) to the user's roles.
async fn write_roles(
    conn: &mut diesel_async::AsyncPgConnection,
    account: AccountId,
    user: UserId,
    roles: &Roles,
) -> Result<(), DbError> {
    let account_rows: Vec<_> = roles
        .account
        .iter()
        .filter(|r| **r != AccountRole::Owner)
        .map(|role| {
            (
                account_roles::account_id.eq(account.as_uuid()),
                account_roles::user_id.eq(user.as_uuid()),
                account_roles::role.eq(role.as_str()),
            )
        })
        .collect();
    diesel::insert_into(account_roles::table)
        .values(account_rows)
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    let workspace_rows: Vec<_> = roles
        .workspaces
        .iter()
        .map(|(workspace, role)| {
            (
                workspace_roles::account_id.eq(account.as_uuid()),
                workspace_roles::workspace_id.eq(workspace.as_uuid()),
                workspace_roles::user_id.eq(user.as_uuid()),
                workspace_roles::role.eq(role.as_str()),
            )
        })
        .collect();
    diesel::insert_into(workspace_roles::table)
        .values(workspace_rows)
        .execute(conn)
        .await?;
    Ok(())
}

/// A one-time code with its user: digest, expiry, and when it was redeemed.
type CodeRow = (UserRow, Vec<u8>, DateTime<Utc>, Option<DateTime<Utc>>);

fn pending_code(
    (user, code_digest, expires_at, redeemed_at): CodeRow,
) -> Result<PendingCode, DbError> {
    Ok(PendingCode {
        user: user.into_user()?,
        code_digest,
        expires_at,
        used: redeemed_at.is_some(),
    })
}

type CredentialRow = (
    UserRow,
    Option<String>,
    i32,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

/// A correct second factor clears the failed-validation count.
async fn clear_failures(
    conn: &mut diesel_async::AsyncPgConnection,
    user: UserId,
) -> Result<(), DbError> {
    diesel::update(users::table.filter(users::id.eq(user.as_uuid())))
        .set(users::failed_validation_attempts.eq(0))
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(diesel::QueryableByName)]
struct Failures {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    failed_signin_attempts: i32,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>)]
    locked_until: Option<DateTime<Utc>>,
}

type AuditRow = (
    Uuid,
    DateTime<Utc>,
    String,
    Option<Uuid>,
    Option<Uuid>,
    Option<ipnet::IpNet>,
    Option<String>,
    bool,
    i32,
    i32,
    serde_json::Value,
);

fn audit_record(
    (id, at, event, user_id, client_id, ip, country, success, signins, validations, detail): AuditRow,
) -> AuditRecord {
    AuditRecord {
        id,
        at,
        event,
        user_id: user_id.map(UserId::from_uuid),
        client_id,
        ip: ip.map(|net| net.addr()),
        country,
        success,
        failed_signin_attempts: signins,
        failed_validation_attempts: validations,
        reason: detail["reason"].as_str().map(str::to_owned),
        by: detail["by"].as_str().map(str::to_owned),
    }
}

type WorkspaceRow = (Uuid, Uuid, String, DateTime<Utc>);

const WORKSPACE_COLUMNS: (
    workspaces::id,
    workspaces::account_id,
    workspaces::name,
    workspaces::created_at,
) = (
    workspaces::id,
    workspaces::account_id,
    workspaces::name,
    workspaces::created_at,
);

fn workspace_from_row((id, account, name, created_at): WorkspaceRow) -> Workspace {
    Workspace {
        id: WorkspaceId::from_uuid(id),
        account_id: AccountId::from_uuid(account),
        name,
        created_at,
    }
}

type UserColumns = (
    users::id,
    users::account_id,
    users::email,
    users::full_name,
    users::created_at,
);
const USER_COLUMNS: UserColumns = (
    users::id,
    users::account_id,
    users::email,
    users::full_name,
    users::created_at,
);

#[async_trait]
impl IdentityStore for PgIdentityStore {
    async fn create_account(&self, new: &NewAccount, event: &AuthEvent) -> Result<(), StoreError> {
        store(async {
            let mut tx = self.db.tenant(new.account.id, Some(new.owner.id)).await?;
            let conn = tx.conn();
            diesel::insert_into(accounts::table)
                .values((
                    accounts::id.eq(new.account.id.as_uuid()),
                    accounts::name.eq(&new.account.name),
                    accounts::created_at.eq(new.account.created_at),
                    accounts::updated_at.eq(new.account.created_at),
                ))
                .execute(conn)
                .await?;
            diesel::insert_into(users::table)
                .values((
                    users::id.eq(new.owner.id.as_uuid()),
                    users::account_id.eq(new.account.id.as_uuid()),
                    users::email.eq(new.owner.email.as_str()),
                    users::full_name.eq(&new.owner.full_name),
                    users::password_hash.eq(&new.password_hash),
                    users::created_at.eq(new.owner.created_at),
                    users::updated_at.eq(new.owner.created_at),
                ))
                .execute(conn)
                .await?;
            diesel::insert_into(account_roles::table)
                .values((
                    account_roles::account_id.eq(new.account.id.as_uuid()),
                    account_roles::user_id.eq(new.owner.id.as_uuid()),
                    account_roles::role.eq(AccountRole::Owner.as_str()),
                ))
                .execute(conn)
                .await?;
            diesel::insert_into(workspaces::table)
                .values((
                    workspaces::id.eq(new.workspace.id.as_uuid()),
                    workspaces::account_id.eq(new.account.id.as_uuid()),
                    workspaces::name.eq(&new.workspace.name),
                    workspaces::created_at.eq(new.workspace.created_at),
                    workspaces::updated_at.eq(new.workspace.created_at),
                ))
                .execute(conn)
                .await?;
            insert_event(conn, event).await?;
            tx.commit().await
        })
        .await
    }

    async fn find_credentials(
        &self,
        email: &EmailAddress,
    ) -> Result<Option<Credentials>, StoreError> {
        store(async {
            let mut tx = self.db.anonymous(Lookup::UserByEmail(email)).await?;
            let row = users::table
                .left_join(user_mfa::table.on(user_mfa::user_id.eq(users::id)))
                .filter(users::email.eq(email.as_str()))
                .select((
                    USER_COLUMNS,
                    users::password_hash,
                    users::failed_signin_attempts,
                    users::locked_until,
                    user_mfa::enabled_at.nullable(),
                ))
                .first::<CredentialRow>(tx.conn())
                .await
                .optional()?;
            tx.commit().await?;
            row.map(
                |(user, password_hash, failed_signin_attempts, locked_until, mfa)| {
                    Ok(Credentials {
                        user: user.into_user()?,
                        password_hash,
                        failed_signin_attempts,
                        locked_until,
                        mfa_enabled: mfa.is_some(),
                    })
                },
            )
            .transpose()
        })
        .await
    }

    async fn record_event(&self, event: &AuthEvent) -> Result<(), StoreError> {
        record_event(&self.db, event).await
    }

    async fn members(&self, account: AccountId) -> Result<Vec<Member>, StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, None).await?;
            let users = users::table
                .order(users::created_at.asc())
                .select(USER_COLUMNS)
                .load::<UserRow>(tx.conn())
                .await?;
            let account_rows = account_roles::table
                .select((account_roles::user_id, account_roles::role))
                .load::<(Uuid, String)>(tx.conn())
                .await?;
            let workspace_rows = workspace_roles::table
                .select((
                    workspace_roles::user_id,
                    workspace_roles::workspace_id,
                    workspace_roles::role,
                ))
                .load::<(Uuid, Uuid, String)>(tx.conn())
                .await?;
            tx.commit().await?;
            users
                .into_iter()
                .map(|row| {
                    let id = row.id;
                    let roles = roles_from_rows(
                        account_rows
                            .iter()
                            .filter(|(u, _)| *u == id)
                            .map(|(_, r)| r.as_str()),
                        workspace_rows
                            .iter()
                            .filter(|(u, _, _)| *u == id)
                            .map(|(_, w, r)| (*w, r.as_str())),
                    )?;
                    Ok(Member {
                        user: row.into_user()?,
                        roles,
                    })
                })
                .collect()
        })
        .await
    }

    async fn set_roles(
        &self,
        account: AccountId,
        user: UserId,
        roles: &Roles,
    ) -> Result<Member, StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, None).await?;
            let found = users::table
                .filter(users::id.eq(user.as_uuid()))
                .select(USER_COLUMNS)
                .for_update()
                .first::<UserRow>(tx.conn())
                .await?;
            diesel::delete(account_roles::table)
                .filter(account_roles::user_id.eq(user.as_uuid()))
                .filter(account_roles::role.ne(AccountRole::Owner.as_str()))
                .execute(tx.conn())
                .await?;
            diesel::delete(workspace_roles::table)
                .filter(workspace_roles::user_id.eq(user.as_uuid()))
                .execute(tx.conn())
                .await?;
            write_roles(tx.conn(), account, user, roles).await?;
            announce(tx.conn(), Invalidation::User(user)).await?;
            let roles = load_roles(tx.conn(), user.as_uuid()).await?;
            tx.commit().await?;
            self.sessions.invalidate(Invalidation::User(user));
            Ok(Member {
                user: found.into_user()?,
                roles,
            })
        })
        .await
    }

    async fn remove_user(&self, account: AccountId, user: UserId) -> Result<(), StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, None).await?;
            // Sessions, refresh tokens, API keys and roles go with the user (ON DELETE CASCADE).
            let removed = diesel::delete(users::table)
                .filter(users::id.eq(user.as_uuid()))
                .execute(tx.conn())
                .await?;
            if removed == 0 {
                return Err(DbError::Query(diesel::result::Error::NotFound));
            }
            announce(tx.conn(), Invalidation::User(user)).await?;
            tx.commit().await?;
            self.sessions.invalidate(Invalidation::User(user));
            Ok(())
        })
        .await
    }

    async fn workspaces(&self, account: AccountId) -> Result<Vec<Workspace>, StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, None).await?;
            let rows = workspaces::table
                .order((workspaces::created_at.asc(), workspaces::id.asc()))
                .select(WORKSPACE_COLUMNS)
                .load::<WorkspaceRow>(tx.conn())
                .await?;
            tx.commit().await?;
            Ok(rows.into_iter().map(workspace_from_row).collect())
        })
        .await
    }

    async fn workspace(
        &self,
        account: AccountId,
        id: WorkspaceId,
    ) -> Result<Workspace, StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, None).await?;
            let row = workspaces::table
                .filter(workspaces::id.eq(id.as_uuid()))
                .select(WORKSPACE_COLUMNS)
                .first::<WorkspaceRow>(tx.conn())
                .await?;
            tx.commit().await?;
            Ok(workspace_from_row(row))
        })
        .await
    }

    async fn create_workspace(&self, workspace: &Workspace) -> Result<(), StoreError> {
        store(async {
            let mut tx = self.db.tenant(workspace.account_id, None).await?;
            diesel::insert_into(workspaces::table)
                .values((
                    workspaces::id.eq(workspace.id.as_uuid()),
                    workspaces::account_id.eq(workspace.account_id.as_uuid()),
                    workspaces::name.eq(&workspace.name),
                    workspaces::created_at.eq(workspace.created_at),
                    workspaces::updated_at.eq(workspace.created_at),
                ))
                .execute(tx.conn())
                .await?;
            tx.commit().await
        })
        .await
    }

    async fn rename_workspace(
        &self,
        account: AccountId,
        id: WorkspaceId,
        name: &str,
    ) -> Result<Workspace, StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, None).await?;
            let row = diesel::update(workspaces::table)
                .filter(workspaces::id.eq(id.as_uuid()))
                .set((
                    workspaces::name.eq(name),
                    workspaces::updated_at.eq(diesel::dsl::now),
                ))
                .returning(WORKSPACE_COLUMNS)
                .get_result::<WorkspaceRow>(tx.conn())
                .await?;
            tx.commit().await?;
            Ok(workspace_from_row(row))
        })
        .await
    }

    async fn delete_workspace(
        &self,
        account: AccountId,
        id: WorkspaceId,
    ) -> Result<(), StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, None).await?;
            // Its content and workspace roles go with it (ON DELETE CASCADE).
            let deleted = diesel::delete(workspaces::table)
                .filter(workspaces::id.eq(id.as_uuid()))
                .execute(tx.conn())
                .await?;
            if deleted == 0 {
                return Err(DbError::Query(diesel::result::Error::NotFound));
            }
            tx.commit().await
        })
        .await
    }

    async fn create_invited_user(
        &self,
        member: &Member,
        invitation: &NewInvitation,
        email: &SealedEmail,
    ) -> Result<(), StoreError> {
        let user = &member.user;
        store(async {
            let mut tx = self.db.tenant(user.account_id, None).await?;
            diesel::insert_into(users::table)
                .values((
                    users::id.eq(user.id.as_uuid()),
                    users::account_id.eq(user.account_id.as_uuid()),
                    users::email.eq(user.email.as_str()),
                    users::full_name.eq(&user.full_name),
                    users::created_at.eq(user.created_at),
                    users::updated_at.eq(user.created_at),
                ))
                .execute(tx.conn())
                .await?;
            write_roles(tx.conn(), user.account_id, user.id, &member.roles).await?;
            diesel::insert_into(invitations::table)
                .values((
                    invitations::user_id.eq(user.id.as_uuid()),
                    invitations::account_id.eq(user.account_id.as_uuid()),
                    invitations::code_digest.eq(invitation.code_digest.as_slice()),
                    invitations::created_at.eq(invitation.created_at),
                    invitations::expires_at.eq(invitation.expires_at),
                ))
                .execute(tx.conn())
                .await?;
            enqueue(tx.conn(), user.account_id, email).await?;
            tx.commit().await
        })
        .await
    }

    async fn invitation(&self, email: &EmailAddress) -> Result<Option<PendingCode>, StoreError> {
        store(async {
            let mut tx = self.db.anonymous(Lookup::UserByEmail(email)).await?;
            let found = invitations::table
                .inner_join(users::table.on(users::id.eq(invitations::user_id)))
                .filter(users::email.eq(email.as_str()))
                .select((
                    USER_COLUMNS,
                    invitations::code_digest,
                    invitations::expires_at,
                    invitations::accepted_at,
                ))
                .first::<CodeRow>(tx.conn())
                .await
                .optional()?;
            tx.commit().await?;
            found.map(pending_code).transpose()
        })
        .await
    }

    async fn accept_invitation(
        &self,
        account: AccountId,
        user: UserId,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, Some(user)).await?;
            let accepted = diesel::update(invitations::table)
                .filter(invitations::user_id.eq(user.as_uuid()))
                .filter(invitations::accepted_at.is_null())
                .set(invitations::accepted_at.eq(now))
                .execute(tx.conn())
                .await?;
            if accepted == 0 {
                tx.commit().await?;
                return Ok(false);
            }
            diesel::update(users::table.filter(users::id.eq(user.as_uuid())))
                .set((
                    users::password_hash.eq(password_hash),
                    users::updated_at.eq(now),
                ))
                .execute(tx.conn())
                .await?;
            tx.commit().await?;
            Ok(true)
        })
        .await
    }

    async fn record_failed_signin(
        &self,
        account: AccountId,
        user: UserId,
        now: DateTime<Utc>,
        max_attempts: i32,
        lockout: chrono::Duration,
    ) -> Result<FailedSignin, StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, Some(user)).await?;
            // One statement: concurrent failures on several instances all count.
            let (attempts, locked_until) = diesel::sql_query(
                "UPDATE users SET \
                     failed_signin_attempts = CASE WHEN failed_signin_attempts + 1 >= $2 \
                                                   THEN 0 ELSE failed_signin_attempts + 1 END, \
                     locked_until = CASE WHEN failed_signin_attempts + 1 >= $2 \
                                         THEN $3 ELSE locked_until END \
                 WHERE id = $1 \
                 RETURNING failed_signin_attempts, locked_until",
            )
            .bind::<diesel::sql_types::Uuid, _>(user.as_uuid())
            .bind::<diesel::sql_types::Integer, _>(max_attempts)
            .bind::<diesel::sql_types::Timestamptz, _>(now + lockout)
            .get_result::<Failures>(tx.conn())
            .await
            .map(|f| (f.failed_signin_attempts, f.locked_until))?;
            tx.commit().await?;
            let locked = locked_until.filter(|until| *until > now && attempts == 0);
            Ok(FailedSignin {
                attempts: if locked.is_some() {
                    max_attempts
                } else {
                    attempts
                },
                locked_until: locked,
            })
        })
        .await
    }

    async fn clear_failed_signins(
        &self,
        account: AccountId,
        user: UserId,
    ) -> Result<(), StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, Some(user)).await?;
            diesel::update(users::table.filter(users::id.eq(user.as_uuid())))
                .set((
                    users::failed_signin_attempts.eq(0),
                    users::locked_until.eq(None::<DateTime<Utc>>),
                ))
                .execute(tx.conn())
                .await?;
            tx.commit().await
        })
        .await
    }

    async fn set_password(
        &self,
        account: AccountId,
        user: UserId,
        password_hash: &str,
        event: &AuthEvent,
    ) -> Result<(), StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, Some(user)).await?;
            diesel::update(users::table.filter(users::id.eq(user.as_uuid())))
                .set((
                    users::password_hash.eq(password_hash),
                    users::updated_at.eq(event.at),
                ))
                .execute(tx.conn())
                .await?;
            insert_event(tx.conn(), event).await?;
            tx.commit().await
        })
        .await
    }

    async fn audit_events(
        &self,
        account: AccountId,
        query: &AuditQuery,
    ) -> Result<Page<AuditRecord>, StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, None).await?;
            let filtered = || {
                let mut q = auth_events::table.into_boxed();
                if let Some(event) = &query.event {
                    q = q.filter(auth_events::event.eq(event.clone()));
                }
                if let Some(user) = query.user_id {
                    q = q.filter(auth_events::user_id.eq(user.as_uuid()));
                }
                q
            };
            let total_items = filtered().count().get_result::<i64>(tx.conn()).await?;
            let mut page = filtered();
            if let Some((at, id)) = query.before {
                page = page.filter(
                    auth_events::at
                        .lt(at)
                        .or(auth_events::at.eq(at).and(auth_events::id.lt(id))),
                );
            } else {
                page = page.offset(query.offset);
            }
            let rows = page
                .order((auth_events::at.desc(), auth_events::id.desc()))
                .limit(query.limit)
                .select((
                    auth_events::id,
                    auth_events::at,
                    auth_events::event,
                    auth_events::user_id,
                    auth_events::client_id,
                    auth_events::ip,
                    auth_events::country,
                    auth_events::success,
                    auth_events::failed_signin_attempts,
                    auth_events::failed_validation_attempts,
                    auth_events::detail,
                ))
                .load::<AuditRow>(tx.conn())
                .await?;
            tx.commit().await?;
            Ok(Page {
                items: rows.into_iter().map(audit_record).collect(),
                total_items,
            })
        })
        .await
    }

    async fn create_password_reset(
        &self,
        user: &User,
        code_digest: &[u8; 32],
        expires_at: DateTime<Utc>,
        email: &SealedEmail,
        event: &AuthEvent,
    ) -> Result<(), StoreError> {
        store(async {
            let mut tx = self.db.tenant(user.account_id, Some(user.id)).await?;
            diesel::insert_into(password_resets::table)
                .values((
                    password_resets::user_id.eq(user.id.as_uuid()),
                    password_resets::account_id.eq(user.account_id.as_uuid()),
                    password_resets::code_digest.eq(code_digest.as_slice()),
                    password_resets::created_at.eq(event.at),
                    password_resets::expires_at.eq(expires_at),
                ))
                .on_conflict(password_resets::user_id)
                .do_update()
                .set((
                    password_resets::code_digest.eq(code_digest.as_slice()),
                    password_resets::created_at.eq(event.at),
                    password_resets::expires_at.eq(expires_at),
                    password_resets::used_at.eq(None::<DateTime<Utc>>),
                ))
                .execute(tx.conn())
                .await?;
            enqueue(tx.conn(), user.account_id, email).await?;
            insert_event(tx.conn(), event).await?;
            tx.commit().await
        })
        .await
    }

    async fn password_reset(
        &self,
        email: &EmailAddress,
    ) -> Result<Option<PendingCode>, StoreError> {
        store(async {
            let mut tx = self.db.anonymous(Lookup::UserByEmail(email)).await?;
            let found = password_resets::table
                .inner_join(users::table.on(users::id.eq(password_resets::user_id)))
                .filter(users::email.eq(email.as_str()))
                .select((
                    USER_COLUMNS,
                    password_resets::code_digest,
                    password_resets::expires_at,
                    password_resets::used_at,
                ))
                .first::<CodeRow>(tx.conn())
                .await
                .optional()?;
            tx.commit().await?;
            found.map(pending_code).transpose()
        })
        .await
    }

    async fn complete_password_reset(
        &self,
        account: AccountId,
        user: UserId,
        password_hash: &str,
        event: &AuthEvent,
    ) -> Result<bool, StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, Some(user)).await?;
            let used = diesel::update(password_resets::table)
                .filter(password_resets::user_id.eq(user.as_uuid()))
                .filter(password_resets::used_at.is_null())
                .set(password_resets::used_at.eq(event.at))
                .execute(tx.conn())
                .await?;
            if used == 0 {
                tx.commit().await?;
                return Ok(false);
            }
            diesel::update(users::table.filter(users::id.eq(user.as_uuid())))
                .set((
                    users::password_hash.eq(password_hash),
                    users::updated_at.eq(event.at),
                    users::failed_signin_attempts.eq(0),
                    users::locked_until.eq(None::<DateTime<Utc>>),
                ))
                .execute(tx.conn())
                .await?;
            insert_event(tx.conn(), event).await?;
            tx.commit().await?;
            Ok(true)
        })
        .await
    }

    async fn mfa(&self, account: AccountId, user: UserId) -> Result<Option<MfaRecord>, StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, Some(user)).await?;
            let row = user_mfa::table
                .filter(user_mfa::user_id.eq(user.as_uuid()))
                .select((
                    user_mfa::secret_sealed,
                    user_mfa::enabled_at,
                    user_mfa::last_used_step,
                ))
                .first::<(Vec<u8>, Option<DateTime<Utc>>, Option<i64>)>(tx.conn())
                .await
                .optional()?;
            tx.commit().await?;
            Ok(
                row.map(|(secret_sealed, enabled_at, last_used_step)| MfaRecord {
                    secret_sealed,
                    enabled: enabled_at.is_some(),
                    last_used_step,
                }),
            )
        })
        .await
    }

    async fn save_pending_totp(
        &self,
        account: AccountId,
        user: UserId,
        secret_sealed: &[u8],
    ) -> Result<(), StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, Some(user)).await?;
            let enabled = user_mfa::table
                .filter(user_mfa::user_id.eq(user.as_uuid()))
                .filter(user_mfa::enabled_at.is_not_null())
                .count()
                .get_result::<i64>(tx.conn())
                .await?;
            if enabled > 0 {
                return Err(DbError::Query(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    Box::new("mfa_enabled".to_owned()),
                )));
            }
            diesel::insert_into(user_mfa::table)
                .values((
                    user_mfa::user_id.eq(user.as_uuid()),
                    user_mfa::account_id.eq(account.as_uuid()),
                    user_mfa::secret_sealed.eq(secret_sealed),
                ))
                .on_conflict(user_mfa::user_id)
                .do_update()
                .set((
                    user_mfa::secret_sealed.eq(secret_sealed),
                    user_mfa::created_at.eq(diesel::dsl::now),
                ))
                .execute(tx.conn())
                .await?;
            tx.commit().await
        })
        .await
    }

    async fn enable_totp(
        &self,
        account: AccountId,
        user: UserId,
        step: i64,
        recovery_digests: &[[u8; 32]],
        event: &AuthEvent,
    ) -> Result<(), StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, Some(user)).await?;
            diesel::update(user_mfa::table.filter(user_mfa::user_id.eq(user.as_uuid())))
                .set((
                    user_mfa::enabled_at.eq(event.at),
                    user_mfa::last_used_step.eq(step),
                ))
                .execute(tx.conn())
                .await?;
            diesel::delete(mfa_recovery_codes::table)
                .filter(mfa_recovery_codes::user_id.eq(user.as_uuid()))
                .execute(tx.conn())
                .await?;
            let rows: Vec<_> = recovery_digests
                .iter()
                .map(|digest| {
                    (
                        mfa_recovery_codes::code_digest.eq(digest.as_slice()),
                        mfa_recovery_codes::user_id.eq(user.as_uuid()),
                        mfa_recovery_codes::account_id.eq(account.as_uuid()),
                    )
                })
                .collect();
            diesel::insert_into(mfa_recovery_codes::table)
                .values(rows)
                .execute(tx.conn())
                .await?;
            insert_event(tx.conn(), event).await?;
            tx.commit().await
        })
        .await
    }

    async fn disable_totp(
        &self,
        account: AccountId,
        user: UserId,
        event: &AuthEvent,
    ) -> Result<(), StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, Some(user)).await?;
            diesel::delete(user_mfa::table.filter(user_mfa::user_id.eq(user.as_uuid())))
                .execute(tx.conn())
                .await?;
            diesel::delete(mfa_recovery_codes::table)
                .filter(mfa_recovery_codes::user_id.eq(user.as_uuid()))
                .execute(tx.conn())
                .await?;
            insert_event(tx.conn(), event).await?;
            tx.commit().await
        })
        .await
    }

    async fn use_totp_step(
        &self,
        account: AccountId,
        user: UserId,
        step: i64,
    ) -> Result<bool, StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, Some(user)).await?;
            let accepted = diesel::update(user_mfa::table)
                .filter(user_mfa::user_id.eq(user.as_uuid()))
                .filter(
                    user_mfa::last_used_step
                        .is_null()
                        .or(user_mfa::last_used_step.lt(step)),
                )
                .set(user_mfa::last_used_step.eq(step))
                .execute(tx.conn())
                .await?;
            if accepted > 0 {
                clear_failures(tx.conn(), user).await?;
            }
            tx.commit().await?;
            Ok(accepted > 0)
        })
        .await
    }

    async fn use_recovery_code(
        &self,
        account: AccountId,
        user: UserId,
        digest: &[u8; 32],
    ) -> Result<bool, StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, Some(user)).await?;
            let used = diesel::update(mfa_recovery_codes::table)
                .filter(mfa_recovery_codes::code_digest.eq(digest.as_slice()))
                .filter(mfa_recovery_codes::user_id.eq(user.as_uuid()))
                .filter(mfa_recovery_codes::used_at.is_null())
                .set(mfa_recovery_codes::used_at.eq(diesel::dsl::now))
                .execute(tx.conn())
                .await?;
            if used > 0 {
                clear_failures(tx.conn(), user).await?;
            }
            tx.commit().await?;
            Ok(used > 0)
        })
        .await
    }

    async fn record_failed_validation(
        &self,
        account: AccountId,
        user: UserId,
        now: DateTime<Utc>,
        max_attempts: i32,
        lockout: chrono::Duration,
    ) -> Result<FailedSignin, StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, Some(user)).await?;
            let counted = diesel::sql_query(
                "UPDATE users SET \
                     failed_validation_attempts = CASE WHEN failed_validation_attempts + 1 >= $2 \
                                                       THEN 0 ELSE failed_validation_attempts + 1 END, \
                     locked_until = CASE WHEN failed_validation_attempts + 1 >= $2 \
                                         THEN $3 ELSE locked_until END \
                 WHERE id = $1 \
                 RETURNING failed_validation_attempts AS failed_signin_attempts, locked_until",
            )
            .bind::<diesel::sql_types::Uuid, _>(user.as_uuid())
            .bind::<diesel::sql_types::Integer, _>(max_attempts)
            .bind::<diesel::sql_types::Timestamptz, _>(now + lockout)
            .get_result::<Failures>(tx.conn())
            .await?;
            tx.commit().await?;
            let locked = counted
                .locked_until
                .filter(|until| *until > now && counted.failed_signin_attempts == 0);
            Ok(FailedSignin {
                attempts: if locked.is_some() {
                    max_attempts
                } else {
                    counted.failed_signin_attempts
                },
                locked_until: locked,
            })
        })
        .await
    }

    async fn countries_seen(
        &self,
        account: AccountId,
        user: UserId,
    ) -> Result<Vec<String>, StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, Some(user)).await?;
            let countries = auth_events::table
                .filter(auth_events::user_id.eq(user.as_uuid()))
                .filter(auth_events::event.eq(kernel::AuthEventKind::LoginSucceeded.as_str()))
                .filter(auth_events::country.is_not_null())
                .select(auth_events::country.assume_not_null())
                .distinct()
                .load::<String>(tx.conn())
                .await?;
            tx.commit().await?;
            Ok(countries)
        })
        .await
    }

    async fn enqueue_email(
        &self,
        account: AccountId,
        email: &SealedEmail,
    ) -> Result<(), StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, None).await?;
            enqueue(tx.conn(), account, email).await?;
            tx.commit().await
        })
        .await
    }

    async fn profile(
        &self,
        account: AccountId,
        user: UserId,
    ) -> Result<(User, Account), StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, Some(user)).await?;
            let (user_row, (id, name, created_at)) = users::table
                .inner_join(accounts::table)
                .filter(users::id.eq(user.as_uuid()))
                .select((
                    USER_COLUMNS,
                    (accounts::id, accounts::name, accounts::created_at),
                ))
                .first::<(UserRow, (Uuid, String, DateTime<Utc>))>(tx.conn())
                .await?;
            tx.commit().await?;
            Ok((
                user_row.into_user()?,
                Account {
                    id: AccountId::from_uuid(id),
                    name,
                    created_at,
                },
            ))
        })
        .await
    }
}
