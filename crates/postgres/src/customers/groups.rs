//! [`GroupRecords`] on Postgres: groups with their member counts, and memberships.

use ::customers::models::{Group, GroupChanges, Page, PageRequest};
use ::customers::{GroupRecords, WriteError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::dsl::{count_star, sql};
use diesel::expression::SqlLiteral;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use kernel::{CustomerId, GroupId, StoreError, WorkspaceId};
use uuid::Uuid;

use super::customers::after_key;
use super::{PgCustomersTx, one_row, write_error};
use crate::error::{DbError, store};
use crate::schema::{customer_group_members, customer_groups};

fn member_count() -> SqlLiteral<BigInt> {
    sql::<BigInt>(
        "(SELECT count(*) FROM customer_group_members m WHERE m.group_id = customer_groups.id)",
    )
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = customer_groups)]
#[diesel(check_for_backend(diesel::pg::Pg))]
struct GroupRow {
    id: Uuid,
    workspace_id: Uuid,
    name: String,
    description: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    #[diesel(select_expression = member_count())]
    #[diesel(select_expression_type = SqlLiteral<BigInt>)]
    member_count: i64,
}

impl From<GroupRow> for Group {
    fn from(row: GroupRow) -> Self {
        Self {
            id: GroupId::from_uuid(row.id),
            workspace_id: WorkspaceId::from_uuid(row.workspace_id),
            name: row.name,
            description: row.description,
            member_count: row.member_count,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = customer_groups)]
struct NewGroupRow<'a> {
    id: Uuid,
    account_id: Uuid,
    workspace_id: Uuid,
    name: &'a str,
    description: &'a str,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(AsChangeset)]
#[diesel(table_name = customer_groups)]
struct GroupChangeset<'a> {
    name: Option<&'a str>,
    description: Option<&'a str>,
    updated_at: DateTime<Utc>,
}

async fn load_group(
    conn: &mut AsyncPgConnection,
    ws: WorkspaceId,
    id: GroupId,
) -> Result<Group, DbError> {
    let row = customer_groups::table
        .filter(customer_groups::workspace_id.eq(ws.as_uuid()))
        .filter(customer_groups::id.eq(id.as_uuid()))
        .select(GroupRow::as_select())
        .first(conn)
        .await?;
    Ok(row.into())
}

#[async_trait]
impl GroupRecords for PgCustomersTx {
    #[tracing::instrument(skip_all, fields(workspace_id = %ws))]
    async fn groups(
        &mut self,
        ws: WorkspaceId,
        page: PageRequest,
    ) -> Result<Page<Group>, StoreError> {
        store(async {
            let conn = self.conn().await?;
            let mut query = customer_groups::table
                .filter(customer_groups::workspace_id.eq(ws.as_uuid()))
                .order((customer_groups::created_at.asc(), customer_groups::id.asc()))
                .limit(page.page_size)
                .select(GroupRow::as_select())
                .into_boxed();
            query = match page.after {
                Some(key) => query.filter(after_key("customer_groups", key)),
                None => query.offset(page.offset),
            };
            let rows = query.load::<GroupRow>(conn).await?;
            let total_items: i64 = customer_groups::table
                .filter(customer_groups::workspace_id.eq(ws.as_uuid()))
                .select(count_star())
                .first(conn)
                .await?;
            Ok(Page {
                items: rows.into_iter().map(Group::from).collect(),
                total_items,
            })
        })
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn group(&mut self, ws: WorkspaceId, id: GroupId) -> Result<Group, StoreError> {
        store(load_group(self.conn().await?, ws, id)).await
    }

    #[tracing::instrument(skip_all)]
    async fn group_named(
        &mut self,
        ws: WorkspaceId,
        name: &str,
    ) -> Result<Option<GroupId>, StoreError> {
        store(async {
            let found: Option<Uuid> = customer_groups::table
                .filter(customer_groups::workspace_id.eq(ws.as_uuid()))
                .filter(customer_groups::name.eq(name))
                .select(customer_groups::id)
                .first(self.conn().await?)
                .await
                .optional()?;
            Ok(found.map(GroupId::from_uuid))
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(workspace_id = %group.workspace_id, group_id = %group.id))]
    async fn insert_group(&mut self, group: &Group) -> Result<(), WriteError> {
        diesel::insert_into(customer_groups::table)
            .values(NewGroupRow {
                id: group.id.as_uuid(),
                account_id: self.account.as_uuid(),
                workspace_id: group.workspace_id.as_uuid(),
                name: &group.name,
                description: &group.description,
                created_at: group.created_at,
                updated_at: group.updated_at,
            })
            .execute(self.conn().await.map_err(write_error)?)
            .await
            .map(drop)
            .map_err(|e| write_error(DbError::from(e)))
    }

    #[tracing::instrument(skip_all, fields(workspace_id = %ws, group_id = %id))]
    async fn update_group(
        &mut self,
        ws: WorkspaceId,
        id: GroupId,
        changes: &GroupChanges,
        at: DateTime<Utc>,
    ) -> Result<Group, WriteError> {
        let conn = self.conn().await.map_err(write_error)?;
        let updated = async {
            let changed = diesel::update(
                customer_groups::table
                    .filter(customer_groups::id.eq(id.as_uuid()))
                    .filter(customer_groups::workspace_id.eq(ws.as_uuid())),
            )
            .set(GroupChangeset {
                name: changes.name.as_deref(),
                description: changes.description.as_deref(),
                updated_at: at,
            })
            .execute(conn)
            .await?;
            one_row(changed)?;
            load_group(conn, ws, id).await
        }
        .await;
        updated.map_err(write_error)
    }

    #[tracing::instrument(skip_all, fields(workspace_id = %ws, group_id = %id))]
    async fn delete_group(&mut self, ws: WorkspaceId, id: GroupId) -> Result<(), StoreError> {
        store(async {
            let deleted = diesel::delete(
                customer_groups::table
                    .filter(customer_groups::id.eq(id.as_uuid()))
                    .filter(customer_groups::workspace_id.eq(ws.as_uuid())),
            )
            .execute(self.conn().await?)
            .await?;
            one_row(deleted)
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(group_id = %group, items = customers.len()))]
    async fn add_members(
        &mut self,
        group: GroupId,
        customers: &[CustomerId],
    ) -> Result<u64, StoreError> {
        let rows: Vec<_> = customers
            .iter()
            .map(|customer| {
                (
                    customer_group_members::group_id.eq(group.as_uuid()),
                    customer_group_members::customer_id.eq(customer.as_uuid()),
                    customer_group_members::account_id.eq(self.account.as_uuid()),
                )
            })
            .collect();
        store(async {
            let mut added = 0;
            // Postgres takes at most 65,535 bind parameters per statement.
            for chunk in rows.chunks(10_000) {
                added += diesel::insert_into(customer_group_members::table)
                    .values(chunk)
                    .on_conflict_do_nothing()
                    .execute(self.conn().await?)
                    .await?;
            }
            Ok(added as u64)
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(group_id = %group, items = customers.len()))]
    async fn remove_members(
        &mut self,
        group: GroupId,
        customers: &[CustomerId],
    ) -> Result<u64, StoreError> {
        let ids: Vec<Uuid> = customers.iter().map(CustomerId::as_uuid).collect();
        store(async {
            let removed = diesel::delete(
                customer_group_members::table
                    .filter(customer_group_members::group_id.eq(group.as_uuid()))
                    .filter(customer_group_members::customer_id.eq_any(&ids)),
            )
            .execute(self.conn().await?)
            .await?;
            Ok(removed as u64)
        })
        .await
    }
}
