//! [`MembershipStore`] on Postgres: users and their account and workspace roles.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use identity::Member;
use identity::models::NewCode;
use identity::ports::MembershipStore;
use kernel::{AccountId, Roles, SealedEmail, StoreError, UserId};
use uuid::Uuid;

use super::{NewUserRow, PgIdentityStore, UserRow, not_found};
use crate::error::DbError;
use crate::outbox::enqueue;
use crate::roles::{load_roles, roles_from_rows};
use crate::schema::{account_roles, users, workspace_roles};
use crate::session_cache::{Invalidation, announce};

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = account_roles, check_for_backend(diesel::pg::Pg))]
struct AccountRoleRow {
    account_id: Uuid,
    user_id: Uuid,
    role: String,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = workspace_roles, check_for_backend(diesel::pg::Pg))]
struct WorkspaceRoleRow {
    account_id: Uuid,
    workspace_id: Uuid,
    user_id: Uuid,
    role: String,
}

/// Adds `roles` to the user's roles.
async fn write_roles(
    conn: &mut AsyncPgConnection,
    account: AccountId,
    user: UserId,
    roles: &Roles,
) -> Result<(), DbError> {
    let account_rows: Vec<_> = roles
        .account
        .iter()
        .map(|role| AccountRoleRow {
            account_id: account.as_uuid(),
            user_id: user.as_uuid(),
            role: role.as_str().to_owned(),
        })
        .collect();
    diesel::insert_into(account_roles::table)
        .values(account_rows)
        .execute(conn)
        .await?;
    let workspace_rows: Vec<_> = roles
        .workspaces
        .iter()
        .map(|(workspace, role)| WorkspaceRoleRow {
            account_id: account.as_uuid(),
            workspace_id: workspace.as_uuid(),
            user_id: user.as_uuid(),
            role: role.as_str().to_owned(),
        })
        .collect();
    diesel::insert_into(workspace_roles::table)
        .values(workspace_rows)
        .execute(conn)
        .await?;
    Ok(())
}

#[async_trait]
impl MembershipStore for PgIdentityStore {
    #[tracing::instrument(skip_all, fields(account_id = %account))]
    async fn members(&self, account: AccountId) -> Result<Vec<Member>, StoreError> {
        self.db
            .tenant_tx(account, None, async |conn: &mut AsyncPgConnection| {
                let users = users::table
                    .order(users::created_at.asc())
                    .select(UserRow::as_select())
                    .load(conn)
                    .await?;
                let account_rows = account_roles::table
                    .select(AccountRoleRow::as_select())
                    .load(conn)
                    .await?;
                let workspace_rows = workspace_roles::table
                    .select(WorkspaceRoleRow::as_select())
                    .load(conn)
                    .await?;
                users
                    .into_iter()
                    .map(|row| {
                        let id = row.id;
                        let roles = roles_from_rows(
                            account_rows
                                .iter()
                                .filter(|r| r.user_id == id)
                                .map(|r| r.role.as_str()),
                            workspace_rows
                                .iter()
                                .filter(|r| r.user_id == id)
                                .map(|r| (r.workspace_id, r.role.as_str())),
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

    #[tracing::instrument(skip_all, fields(account_id = %account, user_id = %user))]
    async fn set_roles(
        &self,
        account: AccountId,
        user: UserId,
        roles: &Roles,
    ) -> Result<Member, StoreError> {
        let member = self
            .db
            .tenant_tx(account, None, async |conn: &mut AsyncPgConnection| {
                let found = users::table
                    .filter(users::id.eq(user.as_uuid()))
                    .select(UserRow::as_select())
                    .for_update()
                    .first(conn)
                    .await?;
                diesel::delete(account_roles::table)
                    .filter(account_roles::user_id.eq(user.as_uuid()))
                    .execute(conn)
                    .await?;
                diesel::delete(workspace_roles::table)
                    .filter(workspace_roles::user_id.eq(user.as_uuid()))
                    .execute(conn)
                    .await?;
                write_roles(conn, account, user, roles).await?;
                announce(conn, Invalidation::User(user)).await?;
                let roles = load_roles(conn, user.as_uuid()).await?;
                Ok(Member {
                    user: found.into_user()?,
                    roles,
                })
            })
            .await?;
        self.sessions.invalidate(Invalidation::User(user));
        Ok(member)
    }

    #[tracing::instrument(skip_all, fields(account_id = %account, user_id = %user))]
    async fn remove_user(&self, account: AccountId, user: UserId) -> Result<(), StoreError> {
        self.db
            .tenant_tx(account, None, async |conn: &mut AsyncPgConnection| {
                // Sessions, refresh tokens, API keys and roles go with the user (ON DELETE CASCADE).
                let removed = diesel::delete(users::table)
                    .filter(users::id.eq(user.as_uuid()))
                    .execute(conn)
                    .await?;
                if removed == 0 {
                    return Err(not_found());
                }
                announce(conn, Invalidation::User(user)).await
            })
            .await?;
        self.sessions.invalidate(Invalidation::User(user));
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(account_id = %member.user.account_id, user_id = %member.user.id))]
    async fn create_invited_member(
        &self,
        member: &Member,
        invitation: &NewCode,
        email: &SealedEmail,
    ) -> Result<(), StoreError> {
        let user = &member.user;
        self.db
            .tenant_tx(
                user.account_id,
                None,
                async |conn: &mut AsyncPgConnection| {
                    diesel::insert_into(users::table)
                        .values(NewUserRow::new(user, None))
                        .execute(conn)
                        .await?;
                    write_roles(conn, user.account_id, user.id, &member.roles).await?;
                    super::pending_codes::store_code(conn, invitation).await?;
                    enqueue(conn, user.account_id, email).await?;
                    Ok(())
                },
            )
            .await
    }
}
