//! Customers of a workspace: list, pages, read, partial update, delete, bulk update and delete.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use customers::service::BulkItemError;
use customers::{Customer, CustomerFilter, CustomerPatch, Page, PageRequest as CustomerPage};
use kernel::{CustomerId, GroupId, WorkspaceId};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::WorkspaceContent;
use crate::error::{ApiError, ErrorBody};
use crate::paging::{PageParams, PageRequest, Paged, PagesBody, encode_cursor, page_size_only};
use crate::state::AppState;

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
    fn filter(&self) -> CustomerFilter {
        CustomerFilter {
            group_id: self.group_id.map(GroupId::from_uuid),
            search: self.search.clone(),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PagesParams {
    /// 1..=500 (default 50).
    pub page_size: Option<i64>,
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

pub(crate) fn customer_page(request: &PageRequest) -> CustomerPage {
    CustomerPage {
        page_size: request.page_size,
        offset: request.offset,
        after: request.after,
    }
}

fn paged(page: Page<Customer>, request: &PageRequest) -> Paged<CustomerBody> {
    let next = page
        .items
        .last()
        .map(|c| encode_cursor(c.created_at, c.id.as_uuid()));
    let items = page.items.into_iter().map(CustomerBody::from).collect();
    Paged::new(items, request, page.total_items, next)
}

/// The workspace's customers, oldest first (`customers:read`). Pages by `page` or, at the
/// same cost however deep, by `cursor`.
#[utoipa::path(
    tag = "customers",
    security(("bearer" = [])),
    params(("workspace_id" = Uuid, Path), CustomerQuery, PageParams),
    responses(
        (status = 200, body = Paged<CustomerBody>),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
#[get("/v1/workspaces/{workspace_id}/customers")]
pub async fn list(
    state: web::Data<AppState>,
    WorkspaceContent(actor): WorkspaceContent,
    workspace: web::Path<Uuid>,
    query: web::Query<CustomerQuery>,
    paging: web::Query<PageParams>,
) -> Result<web::Json<Paged<CustomerBody>>, ApiError> {
    let request = paging.resolve()?;
    let page = state
        .customers
        .customers(
            &actor,
            WorkspaceId::from_uuid(workspace.into_inner()),
            &query.filter(),
            customer_page(&request),
        )
        .await?;
    Ok(web::Json(paged(page, &request)))
}

/// How many pages the list has at `page_size`, with the same filters (`customers:read`).
#[utoipa::path(
    tag = "customers",
    security(("bearer" = [])),
    params(("workspace_id" = Uuid, Path), CustomerQuery, PagesParams),
    responses(
        (status = 200, body = PagesBody),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
#[get("/v1/workspaces/{workspace_id}/customers/pages")]
pub async fn pages(
    state: web::Data<AppState>,
    WorkspaceContent(actor): WorkspaceContent,
    workspace: web::Path<Uuid>,
    query: web::Query<CustomerQuery>,
    size: web::Query<PagesParams>,
) -> Result<web::Json<PagesBody>, ApiError> {
    let page_size = page_size_only(size.page_size)?;
    let total = state
        .customers
        .count_customers(
            &actor,
            WorkspaceId::from_uuid(workspace.into_inner()),
            &query.filter(),
        )
        .await?;
    Ok(web::Json(PagesBody::new(page_size, total)))
}

fn ids(path: (Uuid, Uuid)) -> (WorkspaceId, CustomerId) {
    (
        WorkspaceId::from_uuid(path.0),
        CustomerId::from_uuid(path.1),
    )
}

/// One customer (`customers:read`).
#[utoipa::path(
    tag = "customers",
    security(("bearer" = [])),
    params(("workspace_id" = Uuid, Path), ("customer_id" = Uuid, Path)),
    responses(
        (status = 200, body = CustomerBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
#[get("/v1/workspaces/{workspace_id}/customers/{customer_id}")]
pub async fn show(
    state: web::Data<AppState>,
    WorkspaceContent(actor): WorkspaceContent,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<web::Json<CustomerBody>, ApiError> {
    let (ws, id) = ids(path.into_inner());
    let customer = state.customers.customer(&actor, ws, id).await?;
    Ok(web::Json(customer.into()))
}

/// Change a customer (`customers:write`): absent fields stay, `null` clears, attributes merge.
#[utoipa::path(
    tag = "customers",
    security(("bearer" = [])),
    params(("workspace_id" = Uuid, Path), ("customer_id" = Uuid, Path)),
    request_body = CustomerPatchRequest,
    responses(
        (status = 200, body = CustomerBody),
        (status = 400, description = "Invalid fields, each named", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Another customer has this email or external_id", body = ErrorBody),
    )
)]
#[patch("/v1/workspaces/{workspace_id}/customers/{customer_id}")]
pub async fn update(
    state: web::Data<AppState>,
    WorkspaceContent(actor): WorkspaceContent,
    path: web::Path<(Uuid, Uuid)>,
    body: web::Json<CustomerPatchRequest>,
) -> Result<web::Json<CustomerBody>, ApiError> {
    let (ws, id) = ids(path.into_inner());
    let customer = state
        .customers
        .update_customer(&actor, ws, id, body.into_inner().into())
        .await?;
    Ok(web::Json(customer.into()))
}

/// Delete a customer (`customers:write`).
#[utoipa::path(
    tag = "customers",
    security(("bearer" = [])),
    params(("workspace_id" = Uuid, Path), ("customer_id" = Uuid, Path)),
    responses(
        (status = 204),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
#[delete("/v1/workspaces/{workspace_id}/customers/{customer_id}")]
pub async fn remove(
    state: web::Data<AppState>,
    WorkspaceContent(actor): WorkspaceContent,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (ws, id) = ids(path.into_inner());
    state.customers.delete_customer(&actor, ws, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Change many customers (`customers:write`); each item is applied on its own and those that
/// fail are listed by index.
#[utoipa::path(
    tag = "customers",
    security(("bearer" = [])),
    params(("workspace_id" = Uuid, Path)),
    request_body = BulkPatchRequest,
    responses(
        (status = 200, body = BulkPatchBody),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
#[patch("/v1/workspaces/{workspace_id}/customers")]
pub async fn update_many(
    state: web::Data<AppState>,
    WorkspaceContent(actor): WorkspaceContent,
    workspace: web::Path<Uuid>,
    body: web::Json<BulkPatchRequest>,
) -> Result<web::Json<BulkPatchBody>, ApiError> {
    let items = body
        .into_inner()
        .customers
        .into_iter()
        .map(|item| (CustomerId::from_uuid(item.id), item.changes.into()))
        .collect();
    let (updated, errors) = state
        .customers
        .update_customers(
            &actor,
            WorkspaceId::from_uuid(workspace.into_inner()),
            items,
        )
        .await?;
    Ok(web::Json(BulkPatchBody {
        updated,
        errors: errors.into_iter().map(Into::into).collect(),
    }))
}

/// Delete many customers (`customers:write`); ids that are not customers here are skipped.
#[utoipa::path(
    tag = "customers",
    security(("bearer" = [])),
    params(("workspace_id" = Uuid, Path)),
    request_body = BulkDeleteRequest,
    responses(
        (status = 200, body = BulkDeleteBody),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
#[post("/v1/workspaces/{workspace_id}/customers/bulk-delete")]
pub async fn remove_many(
    state: web::Data<AppState>,
    WorkspaceContent(actor): WorkspaceContent,
    workspace: web::Path<Uuid>,
    body: web::Json<BulkDeleteRequest>,
) -> Result<web::Json<BulkDeleteBody>, ApiError> {
    let ids: Vec<CustomerId> = body
        .ids
        .iter()
        .copied()
        .map(CustomerId::from_uuid)
        .collect();
    let deleted = state
        .customers
        .delete_customers(&actor, WorkspaceId::from_uuid(workspace.into_inner()), &ids)
        .await?;
    Ok(web::Json(BulkDeleteBody { deleted }))
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
