//! [`CustomerStore`] on Postgres.

use std::collections::{BTreeSet, HashMap};

use ::customers::models::{
    Customer, CustomerChanges, CustomerFilter, FieldKind, Group, GroupChanges, Page, PageRequest,
    ProfileField,
};
use ::customers::{BeginImportError, CustomerStore, ImportSink};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::dsl::{count_star, sql};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Jsonb, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use kernel::{AccountId, CustomerId, GroupId, ProfileFieldId, StoreError, WorkspaceId};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::customer_import::{DEFAULT_MAX_CONCURRENT_IMPORTS, ImportSlots, PgImport};
use crate::db::Db;
use crate::error::{DbError, store};
use crate::schema::{
    customer_group_members, customer_groups, customers, profile_fields, workspaces,
};

#[derive(Clone, Debug)]
pub struct PgCustomerStore {
    db: Db,
    /// The uploads' own connections: one per upload, at most this many at once.
    imports: ImportSlots,
}

impl PgCustomerStore {
    /// With [`DEFAULT_MAX_CONCURRENT_IMPORTS`] import connections.
    #[must_use]
    pub fn new(db: Db) -> Self {
        Self::with_max_concurrent_imports(db, DEFAULT_MAX_CONCURRENT_IMPORTS)
    }

    /// At most `max` uploads hold an import connection at once (outside `db`'s pool); one
    /// more is refused at once ([`BeginImportError::AtCapacity`]), never queued.
    #[must_use]
    pub fn with_max_concurrent_imports(db: Db, max: usize) -> Self {
        Self {
            db,
            imports: ImportSlots::new(max),
        }
    }
}

// --- rows -------------------------------------------------------------------------------------

#[derive(Queryable)]
struct FieldRow {
    id: Uuid,
    workspace_id: Uuid,
    key: String,
    label: String,
    field_type: String,
    required: bool,
    options: Vec<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const FIELD_COLUMNS: (
    profile_fields::id,
    profile_fields::workspace_id,
    profile_fields::key,
    profile_fields::label,
    profile_fields::field_type,
    profile_fields::required,
    profile_fields::options,
    profile_fields::created_at,
    profile_fields::updated_at,
) = (
    profile_fields::id,
    profile_fields::workspace_id,
    profile_fields::key,
    profile_fields::label,
    profile_fields::field_type,
    profile_fields::required,
    profile_fields::options,
    profile_fields::created_at,
    profile_fields::updated_at,
);

fn field_from_row(row: FieldRow) -> Result<ProfileField, DbError> {
    let options = (row.field_type == "enum").then_some(row.options);
    let kind = FieldKind::parse(&row.field_type, options).map_err(DbError::Corrupt)?;
    Ok(ProfileField {
        id: ProfileFieldId::from_uuid(row.id),
        workspace_id: WorkspaceId::from_uuid(row.workspace_id),
        key: row.key,
        label: row.label,
        kind,
        required: row.required,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

#[derive(Queryable)]
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

const CUSTOMER_COLUMNS: (
    customers::id,
    customers::workspace_id,
    customers::external_id,
    customers::email,
    customers::phone,
    customers::first_name,
    customers::last_name,
    customers::attributes,
    customers::created_at,
    customers::updated_at,
) = (
    customers::id,
    customers::workspace_id,
    customers::external_id,
    customers::email,
    customers::phone,
    customers::first_name,
    customers::last_name,
    customers::attributes,
    customers::created_at,
    customers::updated_at,
);

fn customer_from_row(row: CustomerRow, group_ids: Vec<GroupId>) -> Customer {
    let attributes = match row.attributes {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    Customer {
        id: CustomerId::from_uuid(row.id),
        workspace_id: WorkspaceId::from_uuid(row.workspace_id),
        external_id: row.external_id,
        email: row.email,
        phone: row.phone,
        first_name: row.first_name,
        last_name: row.last_name,
        attributes,
        group_ids,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
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
            customer_from_row(row, ids)
        })
        .collect())
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

/// Keyset paging: the rows of `table` after `(at, id)` in `(created_at, id)` order — a row
/// comparison, so the `(workspace_id, created_at, id)` index serves it.
fn after_key(
    table: &'static str,
    at: DateTime<Utc>,
    id: Uuid,
) -> diesel::expression::SqlLiteral<Bool, impl diesel::query_builder::QueryFragment<Pg>> {
    sql::<Bool>("(")
        .sql(table)
        .sql(".created_at, ")
        .sql(table)
        .sql(".id) > (")
        .bind::<Timestamptz, _>(at)
        .sql(", ")
        .bind::<SqlUuid, _>(id)
        .sql(")")
}

#[derive(Queryable)]
struct GroupRow {
    id: Uuid,
    workspace_id: Uuid,
    name: String,
    description: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    member_count: i64,
}

fn group_from_row(row: GroupRow) -> Group {
    Group {
        id: GroupId::from_uuid(row.id),
        workspace_id: WorkspaceId::from_uuid(row.workspace_id),
        name: row.name,
        description: row.description,
        member_count: row.member_count,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

fn member_count() -> diesel::expression::SqlLiteral<BigInt> {
    sql::<BigInt>(
        "(SELECT count(*) FROM customer_group_members m WHERE m.group_id = customer_groups.id)",
    )
}

async fn load_group(
    conn: &mut AsyncPgConnection,
    ws: WorkspaceId,
    id: GroupId,
) -> Result<Group, DbError> {
    let row = customer_groups::table
        .filter(customer_groups::workspace_id.eq(ws.as_uuid()))
        .filter(customer_groups::id.eq(id.as_uuid()))
        .select((
            customer_groups::id,
            customer_groups::workspace_id,
            customer_groups::name,
            customer_groups::description,
            customer_groups::created_at,
            customer_groups::updated_at,
            member_count(),
        ))
        .first::<GroupRow>(conn)
        .await?;
    Ok(group_from_row(row))
}

/// The SQL test of whether `value` (a jsonb) is one `kind` admits; the same rule as the
/// domain's `values::fits`, which the adapter tests compare it with.
fn fits_sql(kind: &FieldKind) -> &'static str {
    match kind {
        FieldKind::String => {
            "jsonb_typeof(value) = 'string' AND char_length(value #>> '{}') <= 1000"
        }
        FieldKind::Number => "jsonb_typeof(value) = 'number'",
        FieldKind::Boolean => "jsonb_typeof(value) = 'boolean'",
        FieldKind::Date => "jsonb_typeof(value) = 'string' AND app.is_date(value #>> '{}')",
        FieldKind::Enum(_) => "jsonb_typeof(value) = 'string' AND (value #>> '{}') = ANY($4)",
    }
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

#[async_trait]
impl CustomerStore for PgCustomerStore {
    async fn workspace_exists(
        &self,
        account: AccountId,
        ws: WorkspaceId,
    ) -> Result<bool, StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, None).await?;
            let found: i64 = workspaces::table
                .filter(workspaces::id.eq(ws.as_uuid()))
                .select(count_star())
                .first(tx.conn())
                .await?;
            tx.commit().await?;
            Ok(found > 0)
        })
        .await
    }

    async fn profile_fields(
        &self,
        account: AccountId,
        ws: WorkspaceId,
    ) -> Result<Vec<ProfileField>, StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, None).await?;
            let rows = profile_fields::table
                .filter(profile_fields::workspace_id.eq(ws.as_uuid()))
                .order((profile_fields::created_at.asc(), profile_fields::id.asc()))
                .select(FIELD_COLUMNS)
                .load::<FieldRow>(tx.conn())
                .await?;
            tx.commit().await?;
            rows.into_iter().map(field_from_row).collect()
        })
        .await
    }

    async fn insert_profile_field(
        &self,
        account: AccountId,
        field: &ProfileField,
    ) -> Result<(), StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, None).await?;
            diesel::insert_into(profile_fields::table)
                .values((
                    profile_fields::id.eq(field.id.as_uuid()),
                    profile_fields::account_id.eq(account.as_uuid()),
                    profile_fields::workspace_id.eq(field.workspace_id.as_uuid()),
                    profile_fields::key.eq(&field.key),
                    profile_fields::label.eq(&field.label),
                    profile_fields::field_type.eq(field.kind.name()),
                    profile_fields::required.eq(field.required),
                    profile_fields::options.eq(field.kind.options()),
                    profile_fields::created_at.eq(field.created_at),
                    profile_fields::updated_at.eq(field.updated_at),
                ))
                .execute(tx.conn())
                .await?;
            tx.commit().await
        })
        .await
    }

    async fn update_profile_field(
        &self,
        account: AccountId,
        field: &ProfileField,
    ) -> Result<(), StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, None).await?;
            let changed = diesel::update(
                profile_fields::table
                    .filter(profile_fields::id.eq(field.id.as_uuid()))
                    .filter(profile_fields::workspace_id.eq(field.workspace_id.as_uuid())),
            )
            .set((
                profile_fields::label.eq(&field.label),
                profile_fields::field_type.eq(field.kind.name()),
                profile_fields::required.eq(field.required),
                profile_fields::options.eq(field.kind.options()),
                profile_fields::updated_at.eq(field.updated_at),
            ))
            .execute(tx.conn())
            .await?;
            if changed == 0 {
                return Err(DbError::Query(diesel::result::Error::NotFound));
            }
            tx.commit().await
        })
        .await
    }

    async fn delete_profile_field(
        &self,
        account: AccountId,
        ws: WorkspaceId,
        id: ProfileFieldId,
    ) -> Result<(), StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, None).await?;
            let key: String = diesel::delete(
                profile_fields::table
                    .filter(profile_fields::id.eq(id.as_uuid()))
                    .filter(profile_fields::workspace_id.eq(ws.as_uuid())),
            )
            .returning(profile_fields::key)
            .get_result(tx.conn())
            .await?;
            diesel::sql_query(
                "UPDATE customers SET attributes = attributes - $2, updated_at = now() \
                 WHERE workspace_id = $1 AND attributes ? $2",
            )
            .bind::<SqlUuid, _>(ws.as_uuid())
            .bind::<Text, _>(&key)
            .execute(tx.conn())
            .await?;
            tx.commit().await
        })
        .await
    }

    async fn profile_field_misfits(
        &self,
        account: AccountId,
        field: &ProfileField,
    ) -> Result<i64, StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, None).await?;
            let query = format!(
                "SELECT count(*) AS count FROM customers, LATERAL (SELECT attributes -> $2 AS value) v \
                 WHERE workspace_id = $1 \
                   AND CASE WHEN value IS NULL THEN $3 ELSE NOT ({}) END",
                fits_sql(&field.kind)
            );
            let counted = diesel::sql_query(query)
                .bind::<SqlUuid, _>(field.workspace_id.as_uuid())
                .bind::<Text, _>(&field.key)
                .bind::<Bool, _>(field.required)
                .bind::<Array<Text>, _>(field.kind.options())
                .get_result::<Count>(tx.conn())
                .await?;
            tx.commit().await?;
            Ok(counted.count)
        })
        .await
    }

    async fn customer(
        &self,
        account: AccountId,
        ws: WorkspaceId,
        id: CustomerId,
    ) -> Result<Customer, StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, None).await?;
            let row = customers::table
                .filter(customers::id.eq(id.as_uuid()))
                .filter(customers::workspace_id.eq(ws.as_uuid()))
                .select(CUSTOMER_COLUMNS)
                .first::<CustomerRow>(tx.conn())
                .await?;
            let mut found = with_groups(tx.conn(), vec![row]).await?;
            tx.commit().await?;
            found
                .pop()
                .ok_or(DbError::Query(diesel::result::Error::NotFound))
        })
        .await
    }

    async fn customers(
        &self,
        account: AccountId,
        ws: WorkspaceId,
        filter: &CustomerFilter,
        page: PageRequest,
    ) -> Result<Page<Customer>, StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, None).await?;
            let mut query = filtered(ws, filter)
                .order((customers::created_at.asc(), customers::id.asc()))
                .limit(page.page_size)
                .select(CUSTOMER_COLUMNS);
            query = match page.after {
                Some((at, id)) => query.filter(after_key("customers", at, id)),
                None => query.offset(page.offset),
            };
            let rows = query.load::<CustomerRow>(tx.conn()).await?;
            let total_items = total(tx.conn(), ws, filter).await?;
            let items = with_groups(tx.conn(), rows).await?;
            tx.commit().await?;
            Ok(Page { items, total_items })
        })
        .await
    }

    async fn count_customers(
        &self,
        account: AccountId,
        ws: WorkspaceId,
        filter: &CustomerFilter,
    ) -> Result<i64, StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, None).await?;
            let total = total(tx.conn(), ws, filter).await?;
            tx.commit().await?;
            Ok(total)
        })
        .await
    }

    async fn update_customer(
        &self,
        account: AccountId,
        ws: WorkspaceId,
        id: CustomerId,
        changes: &CustomerChanges,
        at: DateTime<Utc>,
    ) -> Result<Customer, StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, None).await?;
            let set_attributes = Value::Object(changes.set_attributes.clone());
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
            .returning(CUSTOMER_COLUMNS)
            .get_result::<CustomerRow>(tx.conn())
            .await?;
            let mut updated = with_groups(tx.conn(), vec![row]).await?;
            tx.commit().await?;
            updated
                .pop()
                .ok_or(DbError::Query(diesel::result::Error::NotFound))
        })
        .await
    }

    async fn delete_customers(
        &self,
        account: AccountId,
        ws: WorkspaceId,
        ids: &[CustomerId],
    ) -> Result<u64, StoreError> {
        let ids: Vec<Uuid> = ids.iter().map(CustomerId::as_uuid).collect();
        store(async {
            let mut tx = self.db.tenant(account, None).await?;
            let deleted = diesel::delete(
                customers::table
                    .filter(customers::workspace_id.eq(ws.as_uuid()))
                    .filter(customers::id.eq_any(&ids)),
            )
            .execute(tx.conn())
            .await?;
            tx.commit().await?;
            Ok(deleted as u64)
        })
        .await
    }

    async fn begin_import(
        &self,
        account: AccountId,
        ws: WorkspaceId,
    ) -> Result<Box<dyn ImportSink>, BeginImportError> {
        Ok(Box::new(
            PgImport::open(&self.db, &self.imports, account, ws).await?,
        ))
    }

    async fn groups(
        &self,
        account: AccountId,
        ws: WorkspaceId,
        page: PageRequest,
    ) -> Result<Page<Group>, StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, None).await?;
            let mut query = customer_groups::table
                .filter(customer_groups::workspace_id.eq(ws.as_uuid()))
                .order((customer_groups::created_at.asc(), customer_groups::id.asc()))
                .limit(page.page_size)
                .select((
                    customer_groups::id,
                    customer_groups::workspace_id,
                    customer_groups::name,
                    customer_groups::description,
                    customer_groups::created_at,
                    customer_groups::updated_at,
                    member_count(),
                ))
                .into_boxed();
            query = match page.after {
                Some((at, id)) => query.filter(after_key("customer_groups", at, id)),
                None => query.offset(page.offset),
            };
            let rows = query.load::<GroupRow>(tx.conn()).await?;
            let total_items: i64 = customer_groups::table
                .filter(customer_groups::workspace_id.eq(ws.as_uuid()))
                .select(count_star())
                .first(tx.conn())
                .await?;
            tx.commit().await?;
            Ok(Page {
                items: rows.into_iter().map(group_from_row).collect(),
                total_items,
            })
        })
        .await
    }

    async fn group(
        &self,
        account: AccountId,
        ws: WorkspaceId,
        id: GroupId,
    ) -> Result<Group, StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, None).await?;
            let group = load_group(tx.conn(), ws, id).await?;
            tx.commit().await?;
            Ok(group)
        })
        .await
    }

    async fn insert_group(&self, account: AccountId, group: &Group) -> Result<(), StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, None).await?;
            diesel::insert_into(customer_groups::table)
                .values((
                    customer_groups::id.eq(group.id.as_uuid()),
                    customer_groups::account_id.eq(account.as_uuid()),
                    customer_groups::workspace_id.eq(group.workspace_id.as_uuid()),
                    customer_groups::name.eq(&group.name),
                    customer_groups::description.eq(&group.description),
                    customer_groups::created_at.eq(group.created_at),
                    customer_groups::updated_at.eq(group.updated_at),
                ))
                .execute(tx.conn())
                .await?;
            tx.commit().await
        })
        .await
    }

    async fn update_group(
        &self,
        account: AccountId,
        ws: WorkspaceId,
        id: GroupId,
        changes: &GroupChanges,
        at: DateTime<Utc>,
    ) -> Result<Group, StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, None).await?;
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
            .execute(tx.conn())
            .await?;
            if changed == 0 {
                return Err(DbError::Query(diesel::result::Error::NotFound));
            }
            let group = load_group(tx.conn(), ws, id).await?;
            tx.commit().await?;
            Ok(group)
        })
        .await
    }

    async fn delete_group(
        &self,
        account: AccountId,
        ws: WorkspaceId,
        id: GroupId,
    ) -> Result<(), StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, None).await?;
            let deleted = diesel::delete(
                customer_groups::table
                    .filter(customer_groups::id.eq(id.as_uuid()))
                    .filter(customer_groups::workspace_id.eq(ws.as_uuid())),
            )
            .execute(tx.conn())
            .await?;
            if deleted == 0 {
                return Err(DbError::Query(diesel::result::Error::NotFound));
            }
            tx.commit().await
        })
        .await
    }

    async fn add_group_members(
        &self,
        account: AccountId,
        ws: WorkspaceId,
        group: GroupId,
        customers_to_add: &[CustomerId],
    ) -> Result<Result<u64, Vec<CustomerId>>, StoreError> {
        let wanted: BTreeSet<Uuid> = customers_to_add.iter().map(CustomerId::as_uuid).collect();
        let wanted: Vec<Uuid> = wanted.into_iter().collect();
        store(async {
            let mut tx = self.db.tenant(account, None).await?;
            load_group(tx.conn(), ws, group).await?;
            let found: BTreeSet<Uuid> = customers::table
                .filter(customers::workspace_id.eq(ws.as_uuid()))
                .filter(customers::id.eq_any(&wanted))
                .select(customers::id)
                .load::<Uuid>(tx.conn())
                .await?
                .into_iter()
                .collect();
            let unknown: Vec<CustomerId> = wanted
                .iter()
                .filter(|id| !found.contains(id))
                .map(|id| CustomerId::from_uuid(*id))
                .collect();
            if !unknown.is_empty() {
                return Ok(Err(unknown));
            }
            let rows: Vec<_> = wanted
                .iter()
                .map(|customer| {
                    (
                        customer_group_members::group_id.eq(group.as_uuid()),
                        customer_group_members::customer_id.eq(*customer),
                        customer_group_members::account_id.eq(account.as_uuid()),
                    )
                })
                .collect();
            let mut added = 0;
            // Postgres takes at most 65,535 bind parameters per statement.
            for chunk in rows.chunks(10_000) {
                added += diesel::insert_into(customer_group_members::table)
                    .values(chunk)
                    .on_conflict_do_nothing()
                    .execute(tx.conn())
                    .await?;
            }
            tx.commit().await?;
            Ok(Ok(added as u64))
        })
        .await
    }

    async fn remove_group_members(
        &self,
        account: AccountId,
        ws: WorkspaceId,
        group: GroupId,
        customers_to_remove: &[CustomerId],
    ) -> Result<u64, StoreError> {
        let ids: Vec<Uuid> = customers_to_remove
            .iter()
            .map(CustomerId::as_uuid)
            .collect();
        store(async {
            let mut tx = self.db.tenant(account, None).await?;
            load_group(tx.conn(), ws, group).await?;
            let removed = diesel::delete(
                customer_group_members::table
                    .filter(customer_group_members::group_id.eq(group.as_uuid()))
                    .filter(customer_group_members::customer_id.eq_any(&ids)),
            )
            .execute(tx.conn())
            .await?;
            tx.commit().await?;
            Ok(removed as u64)
        })
        .await
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

#[derive(AsChangeset)]
#[diesel(table_name = customer_groups)]
struct GroupChangeset<'a> {
    name: Option<&'a str>,
    description: Option<&'a str>,
    updated_at: DateTime<Utc>,
}
