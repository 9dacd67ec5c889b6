//! [`ProfileFieldRecords`] on Postgres: the field rows, and the set-wise statements over the
//! attributes they govern.

use ::customers::models::{FieldKind, ProfileField};
use ::customers::values::Admits;
use ::customers::{ProfileFieldRecords, WriteError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{
    Array, BigInt, Bool, Integer, Nullable, Text, Timestamptz, Uuid as SqlUuid,
};
use diesel_async::RunQueryDsl;
use kernel::{ProfileFieldId, StoreError, WorkspaceId};
use uuid::Uuid;

use super::{PgCustomersTx, one_row, write_error};
use crate::error::{DbError, store};
use crate::schema::profile_fields;

#[derive(Queryable, Selectable)]
#[diesel(table_name = profile_fields)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub(super) struct FieldRow {
    pub(super) id: Uuid,
    pub(super) workspace_id: Uuid,
    pub(super) key: String,
    pub(super) label: String,
    pub(super) field_type: String,
    pub(super) required: bool,
    pub(super) options: Vec<String>,
    pub(super) created_at: DateTime<Utc>,
    pub(super) updated_at: DateTime<Utc>,
}

impl TryFrom<FieldRow> for ProfileField {
    type Error = DbError;

    fn try_from(row: FieldRow) -> Result<Self, DbError> {
        let options = (row.field_type == "enum").then_some(row.options);
        let kind = FieldKind::parse(&row.field_type, options).map_err(DbError::Corrupt)?;
        Ok(Self {
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
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = profile_fields)]
struct FieldValues<'a> {
    label: &'a str,
    field_type: &'a str,
    required: bool,
    options: &'a [String],
    updated_at: DateTime<Utc>,
}

impl<'a> From<&'a ProfileField> for FieldValues<'a> {
    fn from(field: &'a ProfileField) -> Self {
        Self {
            label: &field.label,
            field_type: field.kind.name(),
            required: field.required,
            options: field.kind.options(),
            updated_at: field.updated_at,
        }
    }
}

/// Customers of `$1` whose attribute `$2` a field would not admit: none, when `$3` says a
/// missing value counts; otherwise a value failing the predicate of the domain's
/// [`Admits`] (`$4`…`$8`). The predicate's home is `customers::values::Admits`: this only
/// evaluates it, one clause per condition, each off unless the domain sets it.
const MISFITS: &str = "
    SELECT count(*) AS count
      FROM customers, LATERAL (SELECT attributes -> $2 AS value) v
     WHERE workspace_id = $1
       AND CASE WHEN value IS NULL THEN $3 ELSE NOT (
               jsonb_typeof(value) = $4
           AND ($5::integer IS NULL OR char_length(value #>> '{}') <= $5)
           AND (NOT $6 OR (value #>> '{}') !~ '[\\x01-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f]')
           AND (NOT $7 OR app.is_date(value #>> '{}'))
           AND ($8::text[] IS NULL OR (value #>> '{}') = ANY($8))
       ) END";

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

#[async_trait]
impl ProfileFieldRecords for PgCustomersTx {
    #[tracing::instrument(skip_all, fields(workspace_id = %ws))]
    async fn profile_fields(&mut self, ws: WorkspaceId) -> Result<Vec<ProfileField>, StoreError> {
        store(async {
            let rows = profile_fields::table
                .filter(profile_fields::workspace_id.eq(ws.as_uuid()))
                .order((profile_fields::created_at.asc(), profile_fields::id.asc()))
                .select(FieldRow::as_select())
                .load(self.conn().await?)
                .await?;
            rows.into_iter().map(ProfileField::try_from).collect()
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(workspace_id = %field.workspace_id, field_id = %field.id))]
    async fn insert_profile_field(&mut self, field: &ProfileField) -> Result<(), WriteError> {
        diesel::insert_into(profile_fields::table)
            .values((
                profile_fields::id.eq(field.id.as_uuid()),
                profile_fields::account_id.eq(self.account.as_uuid()),
                profile_fields::workspace_id.eq(field.workspace_id.as_uuid()),
                profile_fields::key.eq(&field.key),
                profile_fields::created_at.eq(field.created_at),
                FieldValues::from(field),
            ))
            .execute(self.conn().await.map_err(write_error)?)
            .await
            .map(drop)
            .map_err(|e| write_error(DbError::from(e)))
    }

    #[tracing::instrument(skip_all, fields(workspace_id = %field.workspace_id, field_id = %field.id))]
    async fn update_profile_field(&mut self, field: &ProfileField) -> Result<(), StoreError> {
        store(async {
            let changed = diesel::update(
                profile_fields::table
                    .filter(profile_fields::id.eq(field.id.as_uuid()))
                    .filter(profile_fields::workspace_id.eq(field.workspace_id.as_uuid())),
            )
            .set(FieldValues::from(field))
            .execute(self.conn().await?)
            .await?;
            one_row(changed)
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(workspace_id = %ws, field_id = %id))]
    async fn delete_profile_field(
        &mut self,
        ws: WorkspaceId,
        id: ProfileFieldId,
    ) -> Result<String, StoreError> {
        store(async {
            Ok(diesel::delete(
                profile_fields::table
                    .filter(profile_fields::id.eq(id.as_uuid()))
                    .filter(profile_fields::workspace_id.eq(ws.as_uuid())),
            )
            .returning(profile_fields::key)
            .get_result(self.conn().await?)
            .await?)
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(workspace_id = %ws))]
    async fn remove_attribute(
        &mut self,
        ws: WorkspaceId,
        key: &str,
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        store(async {
            let removed = diesel::sql_query(
                "UPDATE customers SET attributes = attributes - $2, updated_at = $3 \
                 WHERE workspace_id = $1 AND attributes ? $2",
            )
            .bind::<SqlUuid, _>(ws.as_uuid())
            .bind::<Text, _>(key)
            .bind::<Timestamptz, _>(at)
            .execute(self.conn().await?)
            .await?;
            Ok(removed as u64)
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(workspace_id = %ws))]
    async fn count_misfits(
        &mut self,
        ws: WorkspaceId,
        key: &str,
        admits: &Admits,
        missing_counts: bool,
    ) -> Result<i64, StoreError> {
        let max_chars = admits
            .max_chars
            .map(|max| i32::try_from(max).unwrap_or(i32::MAX));
        store(async {
            let counted = diesel::sql_query(MISFITS)
                .bind::<SqlUuid, _>(ws.as_uuid())
                .bind::<Text, _>(key)
                .bind::<Bool, _>(missing_counts)
                .bind::<Text, _>(admits.json_type.name())
                .bind::<Nullable<Integer>, _>(max_chars)
                .bind::<Bool, _>(admits.free_text)
                .bind::<Bool, _>(admits.calendar_date)
                .bind::<Nullable<Array<Text>>, _>(admits.one_of.as_deref())
                .get_result::<Count>(self.conn().await?)
                .await?;
            Ok(counted.count)
        })
        .await
    }
}
