//! Customers, their groups and profile fields, and the upload report, as the API shows them.

use customers::service::BulkItemError;
use customers::{Customer, CustomerFilter, CustomerPatch, Group, ImportReport, ProfileField};
use kernel::GroupId;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerBody {
    pub id: Uuid,
    pub external_id: Option<String>,
    /// Lower-cased.
    pub email: Option<String>,
    /// E.164, e.g. `+14155550123`.
    pub phone: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Custom profile field key → typed value.
    #[schema(value_type = Object)]
    pub attributes: Map<String, Value>,
    pub group_ids: Vec<Uuid>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<Customer> for CustomerBody {
    fn from(c: Customer) -> Self {
        Self {
            id: c.id.as_uuid(),
            external_id: c.external_id,
            email: c.email,
            phone: c.phone,
            first_name: c.first_name,
            last_name: c.last_name,
            attributes: c.attributes,
            group_ids: c.group_ids.iter().map(GroupId::as_uuid).collect(),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// Which customers a list covers.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerQuery {
    /// Only members of this group.
    pub group_id: Option<Uuid>,
    /// A prefix of the email, external id, first name, "first last" or last name.
    pub search: Option<String>,
}

impl CustomerQuery {
    pub(crate) fn filter(&self) -> CustomerFilter {
        CustomerFilter {
            group_id: self.group_id.map(GroupId::from_uuid),
            search: self.search.clone(),
        }
    }
}

/// `null` and absent differ: absent keeps a field, `null` clears it.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A partial update: fields left out stay, `null` clears; `attributes` merge, and a key set
/// to `null` is removed.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerPatchRequest {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable)]
    pub external_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable)]
    pub first_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable)]
    pub last_name: Option<Option<String>>,
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<Map<String, Value>>,
}

impl From<CustomerPatchRequest> for CustomerPatch {
    fn from(r: CustomerPatchRequest) -> Self {
        Self {
            external_id: r.external_id,
            email: r.email,
            phone: r.phone,
            first_name: r.first_name,
            last_name: r.last_name,
            attributes: r.attributes,
        }
    }
}

/// One item of a bulk update: the customer's id and the same changes as a single PATCH.
#[derive(Debug, Deserialize, ToSchema)]
pub struct BulkPatchItem {
    pub id: Uuid,
    #[serde(flatten)]
    pub changes: CustomerPatchRequest,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct BulkPatchRequest {
    pub customers: Vec<BulkPatchItem>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkItemErrorBody {
    /// Position of the item in `customers`.
    pub index: usize,
    pub id: Uuid,
    pub field: Option<String>,
    pub message: String,
}

impl From<BulkItemError> for BulkItemErrorBody {
    fn from(e: BulkItemError) -> Self {
        Self {
            index: e.index,
            id: e.id.as_uuid(),
            field: e.field,
            message: e.message,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkPatchBody {
    pub updated: u64,
    pub errors: Vec<BulkItemErrorBody>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct BulkDeleteRequest {
    pub ids: Vec<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkDeleteBody {
    pub deleted: u64,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct GroupRequest {
    /// 1 to 200 characters, unique in the workspace.
    pub name: String,
    /// Up to 2,000 characters.
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct GroupChangeRequest {
    pub name: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupBody {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub name: String,
    pub description: String,
    pub member_count: i64,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<Group> for GroupBody {
    fn from(g: Group) -> Self {
        Self {
            id: g.id.as_uuid(),
            workspace_id: g.workspace_id.as_uuid(),
            name: g.name,
            description: g.description,
            member_count: g.member_count,
            created_at: g.created_at,
            updated_at: g.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct MembersRequest {
    pub customer_ids: Vec<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MembersAddedBody {
    /// Customers that were not members before.
    pub added: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MembersRemovedBody {
    /// Customers that were members.
    pub removed: u64,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ProfileFieldRequest {
    /// snake_case, unique in the workspace, not a built-in field name.
    #[schema(example = "loyalty_tier")]
    pub key: String,
    pub label: String,
    /// `string`, `number`, `boolean`, `date` (YYYY-MM-DD) or `enum`.
    #[serde(rename = "type")]
    #[schema(example = "enum")]
    pub kind: String,
    #[serde(default)]
    pub required: bool,
    /// The allowed values of an `enum` field.
    pub options: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ProfileFieldChangeRequest {
    pub label: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub required: Option<bool>,
    pub options: Option<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileFieldBody {
    pub id: Uuid,
    pub key: String,
    pub label: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub required: bool,
    pub options: Vec<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<ProfileField> for ProfileFieldBody {
    fn from(f: ProfileField) -> Self {
        Self {
            id: f.id.as_uuid(),
            options: f.kind.options().to_vec(),
            kind: f.kind.name(),
            key: f.key,
            label: f.label,
            required: f.required,
            created_at: f.created_at,
            updated_at: f.updated_at,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UploadMode {
    /// Check every row, write nothing.
    Validate,
    /// Check every row and write the valid ones (the default).
    #[default]
    Upsert,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadParams {
    /// `validate` or `upsert` (default).
    pub mode: Option<UploadMode>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RowErrorBody {
    /// The file's line the row starts on (CSV), or its 1-based position (JSON array).
    pub row: u64,
    /// The column, or `row` for a row that cannot be read.
    pub field: String,
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UploadReportBody {
    pub total_rows: u64,
    pub valid_rows: u64,
    pub invalid_rows: u64,
    /// Customers created (0 in `validate` mode).
    pub created: u64,
    /// Existing customers the file matched and updated (0 in `validate` mode).
    pub updated: u64,
    /// The first 1,000 errors, by row.
    pub errors: Vec<RowErrorBody>,
    /// Whether there were more errors than listed.
    pub errors_truncated: bool,
}

impl From<ImportReport> for UploadReportBody {
    fn from(r: ImportReport) -> Self {
        Self {
            total_rows: r.total_rows,
            valid_rows: r.valid_rows,
            invalid_rows: r.invalid_rows,
            created: r.created,
            updated: r.updated,
            errors: r
                .errors
                .into_iter()
                .map(|e| RowErrorBody {
                    row: e.row,
                    field: e.field,
                    message: e.message,
                })
                .collect(),
            errors_truncated: r.errors_truncated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_items_carry_the_single_patch_rules() {
        let item: Result<BulkPatchItem, _> = serde_json::from_value(serde_json::json!({
            "id": "00000000-0000-7000-8000-000000000000",
            "first_name": "Ada",
            "phone": null,
        }));
        let changes = item.map(|i| i.changes).unwrap_or_default();
        assert_eq!(changes.first_name, Some(Some("Ada".into())));
        assert_eq!(changes.phone, Some(None), "null clears");
        assert_eq!(changes.email, None, "absent keeps");
    }
}
