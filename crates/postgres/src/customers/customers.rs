//! [`CustomerRecords`] on Postgres: customer rows, their lists (keyset or offset pages, the
//! prefix search) and their group ids.

use std::collections::HashMap;

use ::customers::models::{Customer, CustomerChanges, CustomerFilter, Keyset, Page, PageRequest};
use ::customers::{CustomerRecords, WriteError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::dsl::{count_star, exists, select, sql};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Jsonb, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use kernel::{CustomerId, GroupId, StoreError, WorkspaceId};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{PgCustomersTx, write_error};
use crate::error::{DbError, store};
use crate::schema::{customer_group_members, customers, workspaces};

#[derive(Queryable, Selectable)]
#[diesel(table_name = customers)]
#[diesel(check_for_backend(diesel::pg::Pg))]
struct CustomerRow {
    id: Uuid,
    workspace_id: Uuid,
    external_id: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    attributes: Value,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl CustomerRow {
    fn into_customer(self, group_ids: Vec<GroupId>) -> Customer {
        let attributes = match self.attributes {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        Customer {
            id: CustomerId::from_uuid(self.id),
            workspace_id: WorkspaceId::from_uuid(self.workspace_id),
            external_id: self.external_id,
            email: self.email,
            phone: self.phone,
            first_name: self.first_name,
            last_name: self.last_name,
            attributes,
            group_ids,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

#[derive(AsChangeset)]
#[diesel(table_name = customers)]
struct CustomerChangeset<'a> {
    external_id: Option<Option<&'a str>>,
    email: Option<Option<&'a str>>,
    phone: Option<Option<&'a str>>,
    first_name: Option<Option<&'a str>>,
    last_name: Option<Option<&'a str>>,
    updated_at: DateTime<Utc>,
}

/// The customers with the groups each belongs to (one query for the whole page).
async fn with_groups(
    conn: &mut AsyncPgConnection,
    rows: Vec<CustomerRow>,
) -> Result<Vec<Customer>, DbError> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let memberships: Vec<(Uuid, Uuid)> = customer_group_members::table
        .filter(customer_group_members::customer_id.eq_any(&ids))
        .order(customer_group_members::group_id.asc())
        .select((
            customer_group_members::customer_id,
            customer_group_members::group_id,
        ))
        .load(conn)
        .await?;
    let mut groups: HashMap<Uuid, Vec<GroupId>> = HashMap::new();
    for (customer, group) in memberships {
        groups
            .entry(customer)
            .or_default()
            .push(GroupId::from_uuid(group));
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let ids = groups.remove(&row.id).unwrap_or_default();
            row.into_customer(ids)
        })
        .collect())
}

async fn one_with_groups(
    conn: &mut AsyncPgConnection,
    row: CustomerRow,
) -> Result<Customer, DbError> {
    with_groups(conn, vec![row])
        .await?
        .pop()
        .ok_or(DbError::Query(diesel::result::Error::NotFound))
}

type CustomerQuery<'a> = customers::BoxedQuery<'a, Pg>;

/// `LIKE` pattern matching values that start with `prefix` literally.
fn prefix_pattern(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The search text of `filter`, if it has any besides blanks.
fn search_term(filter: &CustomerFilter) -> Option<&str> {
    filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The customers of `ws` that `filter` selects. The name expressions match the indexes of the
/// migration, so prefix searches can use them.
fn filtered<'a>(ws: WorkspaceId, filter: &CustomerFilter) -> CustomerQuery<'a> {
    let mut query = customers::table
        .filter(customers::workspace_id.eq(ws.as_uuid()))
        .into_boxed();
    if let Some(group) = filter.group_id {
        query = query.filter(
            customers::id.eq_any(
                customer_group_members::table
                    .filter(customer_group_members::group_id.eq(group.as_uuid()))
                    .select(customer_group_members::customer_id),
            ),
        );
    }
    if let Some(search) = search_term(filter) {
        let exact = prefix_pattern(search);
        let lower = exact.to_lowercase();
        query = query.filter(
            customers::email
                .like(lower.clone())
                .or(customers::external_id.like(exact))
                .or(sql::<Bool>(
                    "lower(coalesce(first_name, '') || ' ' || coalesce(last_name, '')) LIKE ",
                )
                .bind::<Text, _>(lower.clone()))
                .or(sql::<Bool>("lower(last_name) LIKE ").bind::<Text, _>(lower)),
        );
    }
    query
}

/// Keyset paging: the rows of `table` after `key` in `(created_at, id)` order — a row
/// comparison, so the `(workspace_id, created_at, id)` index serves it.
pub(super) fn after_key(
    table: &'static str,
    key: Keyset,
) -> diesel::expression::SqlLiteral<Bool, impl diesel::query_builder::QueryFragment<Pg>> {
    sql::<Bool>("(")
        .sql(table)
        .sql(".created_at, ")
        .sql(table)
        .sql(".id) > (")
        .bind::<Timestamptz, _>(key.created_at)
        .sql(", ")
        .bind::<SqlUuid, _>(key.id)
        .sql(")")
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

/// How many customers `filter` selects. The whole workspace is read off the counter the
/// triggers of migration 000900 keep; a filtered list is counted.
async fn total(
    conn: &mut AsyncPgConnection,
    ws: WorkspaceId,
    filter: &CustomerFilter,
) -> Result<i64, DbError> {
    let unfiltered = filter.group_id.is_none() && search_term(filter).is_none();
    if !unfiltered {
        return Ok(filtered(ws, filter)
            .select(count_star())
            .first(conn)
            .await?);
    }
    let counted: Count = diesel::sql_query(
        "SELECT coalesce((SELECT customers FROM workspace_customer_counts \
                           WHERE workspace_id = $1), 0) AS count",
    )
    .bind::<SqlUuid, _>(ws.as_uuid())
    .get_result(conn)
    .await?;
    Ok(counted.count)
}

/// An upsert key of a customer.
#[derive(Clone, Copy)]
enum Key {
    Email,
    ExternalId,
}

/// The id of the customer of `ws` whose `key` is `value`.
async fn holder(
    conn: &mut AsyncPgConnection,
    ws: WorkspaceId,
    key: Key,
    value: &str,
) -> Result<Option<CustomerId>, DbError> {
    let query = customers::table
        .filter(customers::workspace_id.eq(ws.as_uuid()))
        .select(customers::id)
        .into_boxed();
    let query = match key {
        Key::Email => query.filter(customers::email.eq(value)),
        Key::ExternalId => query.filter(customers::external_id.eq(value)),
    };
    let found: Option<Uuid> = query.first(conn).await.optional()?;
    Ok(found.map(CustomerId::from_uuid))
}

#[async_trait]
impl CustomerRecords for PgCustomersTx {
    #[tracing::instrument(skip_all)]
    async fn workspace_exists(&mut self, ws: WorkspaceId) -> Result<bool, StoreError> {
        store(async {
            Ok(select(exists(
                workspaces::table.filter(workspaces::id.eq(ws.as_uuid())),
            ))
            .get_result(self.conn().await?)
            .await?)
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(workspace_id = %ws, customer_id = %id))]
    async fn customer(&mut self, ws: WorkspaceId, id: CustomerId) -> Result<Customer, StoreError> {
        // The row and its groups asked together, in the round trip that also begins the
        // transaction (the groups query needs only the id; one row comes back whatever the
        // number of groups).
        let row = customers::table
            .filter(customers::id.eq(id.as_uuid()))
            .filter(customers::workspace_id.eq(ws.as_uuid()))
            .select(CustomerRow::as_select());
        let groups = customer_group_members::table
            .filter(customer_group_members::customer_id.eq(id.as_uuid()))
            .order(customer_group_members::group_id.asc())
            .select(customer_group_members::group_id);
        store(self.tx.read(
            |_| Vec::new(),
            move |conn| {
                Box::pin(async move {
                    let (mut first, mut second) = (conn, conn);
                    let (row, groups) = futures_util::future::try_join(
                        row.first::<CustomerRow>(&mut first),
                        groups.load::<Uuid>(&mut second),
                    )
                    .await?;
                    Ok(row.into_customer(groups.into_iter().map(GroupId::from_uuid).collect()))
                })
            },
        ))
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn customer_with_email(
        &mut self,
        ws: WorkspaceId,
        email: &str,
    ) -> Result<Option<CustomerId>, StoreError> {
        store(holder(self.conn().await?, ws, Key::Email, email)).await
    }

    #[tracing::instrument(skip_all)]
    async fn customer_with_external_id(
        &mut self,
        ws: WorkspaceId,
        external_id: &str,
    ) -> Result<Option<CustomerId>, StoreError> {
        store(holder(self.conn().await?, ws, Key::ExternalId, external_id)).await
    }

    #[tracing::instrument(skip_all, fields(workspace_id = %ws, items = ids.len()))]
    async fn existing_customers(
        &mut self,
        ws: WorkspaceId,
        ids: &[CustomerId],
    ) -> Result<Vec<CustomerId>, StoreError> {
        let ids: Vec<Uuid> = ids.iter().map(CustomerId::as_uuid).collect();
        store(async {
            let found: Vec<Uuid> = customers::table
                .filter(customers::workspace_id.eq(ws.as_uuid()))
                .filter(customers::id.eq_any(&ids))
                .select(customers::id)
                .load(self.conn().await?)
                .await?;
            Ok(found.into_iter().map(CustomerId::from_uuid).collect())
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(workspace_id = %ws))]
    async fn customers(
        &mut self,
        ws: WorkspaceId,
        filter: &CustomerFilter,
        page: PageRequest,
    ) -> Result<Page<Customer>, StoreError> {
        store(async {
            let conn = self.conn().await?;
            let mut query = filtered(ws, filter)
                .order((customers::created_at.asc(), customers::id.asc()))
                .limit(page.page_size)
                .select(CustomerRow::as_select());
            query = match page.after {
                Some(key) => query.filter(after_key("customers", key)),
                None => query.offset(page.offset),
            };
            let rows = query.load::<CustomerRow>(conn).await?;
            let total_items = total(conn, ws, filter).await?;
            let items = with_groups(conn, rows).await?;
            Ok(Page { items, total_items })
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(workspace_id = %ws))]
    async fn count_customers(
        &mut self,
        ws: WorkspaceId,
        filter: &CustomerFilter,
    ) -> Result<i64, StoreError> {
        store(total(self.conn().await?, ws, filter)).await
    }

    #[tracing::instrument(skip_all, fields(workspace_id = %ws, customer_id = %id))]
    async fn update_customer(
        &mut self,
        ws: WorkspaceId,
        id: CustomerId,
        changes: &CustomerChanges,
        at: DateTime<Utc>,
    ) -> Result<Customer, WriteError> {
        let set_attributes = Value::Object(changes.set_attributes.clone());
        let conn = self.conn().await.map_err(write_error)?;
        let updated = async {
            let row = diesel::update(
                customers::table
                    .filter(customers::id.eq(id.as_uuid()))
                    .filter(customers::workspace_id.eq(ws.as_uuid())),
            )
            .set((
                CustomerChangeset {
                    external_id: changes.external_id.as_ref().map(Option::as_deref),
                    email: changes.email.as_ref().map(Option::as_deref),
                    phone: changes.phone.as_ref().map(Option::as_deref),
                    first_name: changes.first_name.as_ref().map(Option::as_deref),
                    last_name: changes.last_name.as_ref().map(Option::as_deref),
                    updated_at: at,
                },
                customers::attributes.eq(sql::<Jsonb>("(attributes - ")
                    .bind::<Array<Text>, _>(&changes.remove_attributes)
                    .sql(") || ")
                    .bind::<Jsonb, _>(&set_attributes)),
            ))
            .returning(CustomerRow::as_returning())
            .get_result(conn)
            .await?;
            one_with_groups(conn, row).await
        }
        .await;
        updated.map_err(write_error)
    }

    #[tracing::instrument(skip_all, fields(workspace_id = %ws, items = ids.len()))]
    async fn delete_customers(
        &mut self,
        ws: WorkspaceId,
        ids: &[CustomerId],
    ) -> Result<u64, StoreError> {
        let ids: Vec<Uuid> = ids.iter().map(CustomerId::as_uuid).collect();
        store(async {
            let deleted = diesel::delete(
                customers::table
                    .filter(customers::workspace_id.eq(ws.as_uuid()))
                    .filter(customers::id.eq_any(&ids)),
            )
            .execute(self.conn().await?)
            .await?;
            Ok(deleted as u64)
        })
        .await
    }
}
