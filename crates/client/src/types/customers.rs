//! Customers: request and response bodies.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// A customer of a workspace.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Customer {
    /// The customer's id.
    pub id: Uuid,
    /// The integrator's own id for the customer (upsert key when given).
    pub external_id: Option<String>,
    /// Lower-cased email (upsert key when there is no external id).
    pub email: Option<String>,
    /// E.164.
    pub phone: Option<String>,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Custom profile field values by key.
    pub attributes: BTreeMap<String, Value>,
    /// Groups the customer is in.
    pub group_ids: Vec<Uuid>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// Filters of the customer list.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CustomerFilter {
    /// Only members of this group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<Uuid>,
    /// A prefix of the email, external id, first name, "first last" or last name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search: Option<String>,
}

/// A partial change to a customer: `None` leaves a field as it is, `Some(None)` clears it.
/// `attributes` merge; an attribute set to `null` is removed.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CustomerChanges {
    /// New external id (`Some(None)` clears it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<Option<String>>,
    /// New email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<Option<String>>,
    /// New phone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<Option<String>>,
    /// New first name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<Option<String>>,
    /// New last name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<Option<String>>,
    /// Attributes to set (or, as `null`, remove).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<BTreeMap<String, Value>>,
}

/// One item of a bulk update.
#[derive(Clone, Debug, Serialize)]
pub struct CustomerUpdate {
    /// The customer.
    pub id: Uuid,
    /// Its changes.
    #[serde(flatten)]
    pub changes: CustomerChanges,
}

#[derive(Serialize)]
pub(crate) struct BulkUpdateRequest<'a> {
    pub customers: &'a [CustomerUpdate],
}

/// `PATCH /customers` (bulk): what was applied.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct BulkUpdateReport {
    /// Customers updated.
    pub updated: u64,
    /// Items not applied, each with why.
    pub errors: Vec<BulkItemError>,
}

/// An item of a bulk update that was not applied.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct BulkItemError {
    /// Its position in the request.
    pub index: usize,
    /// The customer.
    pub id: Uuid,
    /// The field at fault, if one.
    pub field: Option<String>,
    /// Why.
    pub message: String,
}

#[derive(Serialize)]
pub(crate) struct IdsRequest<'a> {
    pub ids: &'a [Uuid],
}

/// `POST /customers/bulk-delete`.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct BulkDeleteReport {
    /// Customers deleted (ids not found are skipped).
    pub deleted: u64,
}

/// How an upload is applied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadMode {
    /// Check and write (the default).
    #[default]
    Upsert,
    /// Check only.
    Validate,
}

/// The report of a customer upload.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct UploadReport {
    /// Rows read.
    pub total_rows: u64,
    /// Rows that passed the checks.
    pub valid_rows: u64,
    /// Rows that did not.
    pub invalid_rows: u64,
    /// Customers created (0 in validate mode).
    pub created: u64,
    /// Customers matched and updated (0 in validate mode).
    pub updated: u64,
    /// The first 1,000 errors.
    pub errors: Vec<RowError>,
    /// Whether there were more.
    pub errors_truncated: bool,
}

/// A row of an upload that failed its checks.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct RowError {
    /// The row's line (the header is line 1).
    pub row: u64,
    /// The field at fault.
    pub field: String,
    /// Why.
    pub message: String,
}

/// A customer group.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Group {
    /// The group's id.
    pub id: Uuid,
    /// Its workspace.
    pub workspace_id: Uuid,
    /// Its name (unique in the workspace).
    pub name: String,
    /// Its description.
    pub description: String,
    /// Customers in it.
    pub member_count: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// `POST /customer-groups`.
#[derive(Clone, Debug, Serialize)]
pub struct NewGroup {
    /// Unique in the workspace.
    pub name: String,
    /// Optional description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `PATCH /customer-groups/{id}`: fields left `None` stay.
#[derive(Clone, Debug, Default, Serialize)]
pub struct GroupChanges {
    /// New name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Serialize)]
pub(crate) struct MembersRequest<'a> {
    pub customer_ids: &'a [Uuid],
}

/// `POST …/members`.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct MembersAdded {
    /// Customers that were not members before.
    pub added: u64,
}

/// `POST …/members/remove`.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct MembersRemoved {
    /// Customers that were members.
    pub removed: u64,
}

/// A custom profile field of a workspace.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct ProfileField {
    /// The field's id.
    pub id: Uuid,
    /// snake_case key, as in CSV headers and `attributes`.
    pub key: String,
    /// For people.
    pub label: String,
    /// `string`, `number`, `boolean`, `date`, `enum`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Whether every customer must have it.
    pub required: bool,
    /// The values of an `enum`.
    pub options: Vec<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// `POST /profile-fields`.
#[derive(Clone, Debug, Serialize)]
pub struct NewProfileField {
    /// snake_case, unique in the workspace.
    pub key: String,
    /// For people.
    pub label: String,
    /// `string`, `number`, `boolean`, `date`, `enum`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Whether every customer must have it.
    pub required: bool,
    /// Only (and always) for `enum`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<String>>,
}

/// `PATCH /profile-fields/{id}`: fields left `None` stay.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ProfileFieldChanges {
    /// New label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// New type.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// New required flag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
    /// New enum options.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<String>>,
}
