//! Customers of a workspace: list, pages, read, partial update, delete, bulk update and delete.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use customers::{Customer, Page};
use kernel::{CustomerId, WorkspaceId};
use uuid::Uuid;

use crate::auth::WorkspaceContent;
use crate::error::{ApiError, ErrorBody};
use crate::paging::{
    PageParams, PageRequest, Paged, PagesBody, PagesParams, encode_cursor, page_size_only,
};
use crate::state::AppState;
use crate::wire::{
    BulkDeleteBody, BulkDeleteRequest, BulkPatchBody, BulkPatchRequest, CustomerBody,
    CustomerPatchRequest, CustomerQuery,
};

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
            request,
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
