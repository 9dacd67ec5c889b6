//! [`IdentityStore`] on Postgres.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use identity::models::{Credentials, NewAccount, Roles};
use identity::ports::IdentityStore;
use identity::{Account, AuthEvent, User};
use kernel::{AccountId, EmailAddress, SessionId, StoreError, UserId, WorkspaceId};
use tokens::NewSession;
use uuid::Uuid;

use crate::db::Db;
use crate::error::{DbError, store};
use crate::schema::{
    account_roles, accounts, auth_events, refresh_tokens, sessions, users, workspaces,
};

#[derive(Clone, Debug)]
pub struct PgIdentityStore {
    db: Db,
}

impl PgIdentityStore {
    #[must_use]
    pub fn new(db: Db) -> Self {
        Self { db }
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

async fn insert_event(
    conn: &mut diesel_async::AsyncPgConnection,
    event: &AuthEvent,
) -> Result<(), DbError> {
    let detail = match event.reason {
        Some(reason) => serde_json::json!({ "reason": reason }),
        None => serde_json::json!({}),
    };
    diesel::insert_into(auth_events::table)
        .values((
            auth_events::id.eq(event.id),
            auth_events::account_id.eq(event.account_id.map(|a| a.as_uuid())),
            auth_events::at.eq(event.at),
            auth_events::event.eq(event.kind.as_str()),
            auth_events::user_id.eq(event.user_id.map(|u| u.as_uuid())),
            auth_events::ip.eq(event.ip.map(ipnet::IpNet::from)),
            auth_events::success.eq(event.success),
            auth_events::detail.eq(detail),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(QueryableByName)]
struct RoleRow {
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    workspace_id: Option<Uuid>,
    #[diesel(sql_type = Text)]
    role: String,
}

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
                    account_roles::role.eq(kernel::AccountRole::Owner.as_str()),
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
            let mut tx = self.db.anonymous(Some(email)).await?;
            let row = users::table
                .filter(users::email.eq(email.as_str()))
                .select((USER_COLUMNS, users::password_hash))
                .first::<(UserRow, Option<String>)>(tx.conn())
                .await
                .optional()?;
            tx.commit().await?;
            row.map(|(user, password_hash)| {
                Ok(Credentials {
                    user: user.into_user()?,
                    password_hash,
                })
            })
            .transpose()
        })
        .await
    }

    async fn start_session(
        &self,
        session: &NewSession,
        event: &AuthEvent,
    ) -> Result<(), StoreError> {
        store(async {
            let mut tx = self
                .db
                .tenant(session.account_id, Some(session.user_id))
                .await?;
            let conn = tx.conn();
            diesel::insert_into(sessions::table)
                .values((
                    sessions::id.eq(session.id.as_uuid()),
                    sessions::account_id.eq(session.account_id.as_uuid()),
                    sessions::user_id.eq(session.user_id.as_uuid()),
                    sessions::kind.eq(session.kind.as_str()),
                    sessions::created_at.eq(session.created_at),
                    sessions::expires_at.eq(session.expires_at),
                ))
                .execute(conn)
                .await?;
            diesel::insert_into(refresh_tokens::table)
                .values((
                    refresh_tokens::token_hash.eq(session.refresh_token_digest.as_slice()),
                    refresh_tokens::account_id.eq(session.account_id.as_uuid()),
                    refresh_tokens::session_id.eq(session.id.as_uuid()),
                    refresh_tokens::created_at.eq(session.created_at),
                    refresh_tokens::expires_at.eq(session.expires_at),
                ))
                .execute(conn)
                .await?;
            insert_event(conn, event).await?;
            tx.commit().await
        })
        .await
    }

    async fn record_event(&self, event: &AuthEvent) -> Result<(), StoreError> {
        store(async {
            let mut tx = match event.account_id {
                Some(account) => self.db.tenant(account, event.user_id).await?,
                None => self.db.anonymous(None).await?,
            };
            insert_event(tx.conn(), event).await?;
            tx.commit().await
        })
        .await
    }

    async fn live_session_roles(
        &self,
        account: AccountId,
        user: UserId,
        session: SessionId,
        now: DateTime<Utc>,
    ) -> Result<Option<Roles>, StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, Some(user)).await?;
            // One round trip: a marker row when the session is live, then the user's roles.
            let rows = diesel::sql_query(
                "SELECT r.kind, r.workspace_id, r.role FROM ( \
                     SELECT 'session' AS kind, NULL::uuid AS workspace_id, '' AS role \
                     UNION ALL SELECT 'account', NULL, role FROM account_roles WHERE user_id = $2 \
                     UNION ALL SELECT 'workspace', workspace_id, role FROM workspace_roles WHERE user_id = $2 \
                 ) r \
                 WHERE EXISTS (SELECT 1 FROM sessions s \
                               WHERE s.id = $1 AND s.user_id = $2 \
                                 AND s.revoked_at IS NULL AND s.expires_at > $3)",
            )
            .bind::<SqlUuid, _>(session.as_uuid())
            .bind::<SqlUuid, _>(user.as_uuid())
            .bind::<Timestamptz, _>(now)
            .load::<RoleRow>(tx.conn())
            .await?;
            tx.commit().await?;
            if rows.is_empty() {
                return Ok(None);
            }
            let mut roles = Roles::default();
            for row in rows {
                match (row.kind.as_str(), row.workspace_id) {
                    ("account", _) => roles.account.push(parse_role(&row.role)?),
                    ("workspace", Some(workspace)) => roles
                        .workspaces
                        .push((WorkspaceId::from_uuid(workspace), parse_role(&row.role)?)),
                    _ => {}
                }
            }
            roles.account.sort();
            roles.workspaces.sort();
            Ok(Some(roles))
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

fn parse_role<R: std::str::FromStr>(stored: &str) -> Result<R, DbError> {
    stored
        .parse()
        .map_err(|_| DbError::Corrupt(format!("unknown stored role `{stored}`")))
}
