//! Customer groups of a workspace and their members.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use customers::GroupChanges;
use kernel::{CustomerId, GroupId, WorkspaceId};
use uuid::Uuid;

use crate::auth::WorkspaceContent;
use crate::error::{ApiError, ErrorBody};
use crate::paging::{PageParams, Paged, encode_cursor};
use crate::state::AppState;
use crate::wire::{
    GroupBody, GroupChangeRequest, GroupRequest, MembersAddedBody, MembersRemovedBody,
    MembersRequest,
};

fn ids(path: (Uuid, Uuid)) -> (WorkspaceId, GroupId) {
    (WorkspaceId::from_uuid(path.0), GroupId::from_uuid(path.1))
}

fn customer_ids(body: &MembersRequest) -> Vec<CustomerId> {
    body.customer_ids
        .iter()
        .copied()
        .map(CustomerId::from_uuid)
        .collect()
}

/// Create a group (`customers:write`).
#[utoipa::path(
    tag = "customers",
    security(("bearer" = [])),
    params(("workspace_id" = Uuid, Path)),
    request_body = GroupRequest,
    responses(
        (status = 201, body = GroupBody),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "A group with this name exists", body = ErrorBody),
    )
)]
#[post("/v1/workspaces/{workspace_id}/customer-groups")]
pub async fn create(
    state: web::Data<AppState>,
    WorkspaceContent(actor): WorkspaceContent,
    workspace: web::Path<Uuid>,
    body: web::Json<GroupRequest>,
) -> Result<HttpResponse, ApiError> {
    let group = state
        .customers
        .create_group(
            &actor,
            WorkspaceId::from_uuid(workspace.into_inner()),
            &body.name,
            body.description.as_deref(),
        )
        .await?;
    Ok(HttpResponse::Created().json(GroupBody::from(group)))
}

/// The workspace's groups, oldest first, with their member counts (`customers:read`).
#[utoipa::path(
    tag = "customers",
    security(("bearer" = [])),
    params(("workspace_id" = Uuid, Path), PageParams),
    responses(
        (status = 200, body = Paged<GroupBody>),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
#[get("/v1/workspaces/{workspace_id}/customer-groups")]
pub async fn list(
    state: web::Data<AppState>,
    WorkspaceContent(actor): WorkspaceContent,
    workspace: web::Path<Uuid>,
    paging: web::Query<PageParams>,
) -> Result<web::Json<Paged<GroupBody>>, ApiError> {
    let request = paging.resolve()?;
    let page = state
        .customers
        .groups(
            &actor,
            WorkspaceId::from_uuid(workspace.into_inner()),
            request,
        )
        .await?;
    let next = page
        .items
        .last()
        .map(|g| encode_cursor(g.created_at, g.id.as_uuid()));
    let items = page.items.into_iter().map(GroupBody::from).collect();
    Ok(web::Json(Paged::new(
        items,
        &request,
        page.total_items,
        next,
    )))
}

/// One group (`customers:read`).
#[utoipa::path(
    tag = "customers",
    security(("bearer" = [])),
    params(("workspace_id" = Uuid, Path), ("group_id" = Uuid, Path)),
    responses(
        (status = 200, body = GroupBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
#[get("/v1/workspaces/{workspace_id}/customer-groups/{group_id}")]
pub async fn show(
    state: web::Data<AppState>,
    WorkspaceContent(actor): WorkspaceContent,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<web::Json<GroupBody>, ApiError> {
    let (ws, id) = ids(path.into_inner());
    Ok(web::Json(
        state.customers.group(&actor, ws, id).await?.into(),
    ))
}

/// Rename or describe a group (`customers:write`).
#[utoipa::path(
    tag = "customers",
    security(("bearer" = [])),
    params(("workspace_id" = Uuid, Path), ("group_id" = Uuid, Path)),
    request_body = GroupChangeRequest,
    responses(
        (status = 200, body = GroupBody),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody),
    )
)]
#[patch("/v1/workspaces/{workspace_id}/customer-groups/{group_id}")]
pub async fn update(
    state: web::Data<AppState>,
    WorkspaceContent(actor): WorkspaceContent,
    path: web::Path<(Uuid, Uuid)>,
    body: web::Json<GroupChangeRequest>,
) -> Result<web::Json<GroupBody>, ApiError> {
    let (ws, id) = ids(path.into_inner());
    let body = body.into_inner();
    let changes = GroupChanges {
        name: body.name,
        description: body.description,
    };
    Ok(web::Json(
        state
            .customers
            .update_group(&actor, ws, id, changes)
            .await?
            .into(),
    ))
}

/// Delete a group; its customers stay (`customers:write`).
#[utoipa::path(
    tag = "customers",
    security(("bearer" = [])),
    params(("workspace_id" = Uuid, Path), ("group_id" = Uuid, Path)),
    responses(
        (status = 204),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
#[delete("/v1/workspaces/{workspace_id}/customer-groups/{group_id}")]
pub async fn remove(
    state: web::Data<AppState>,
    WorkspaceContent(actor): WorkspaceContent,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (ws, id) = ids(path.into_inner());
    state.customers.delete_group(&actor, ws, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Add customers to a group (`customers:write`); all must be customers of the workspace.
#[utoipa::path(
    tag = "customers",
    security(("bearer" = [])),
    params(("workspace_id" = Uuid, Path), ("group_id" = Uuid, Path)),
    request_body = MembersRequest,
    responses(
        (status = 200, body = MembersAddedBody),
        (status = 400, description = "Some ids are not customers of this workspace", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
#[post("/v1/workspaces/{workspace_id}/customer-groups/{group_id}/members")]
pub async fn add_members(
    state: web::Data<AppState>,
    WorkspaceContent(actor): WorkspaceContent,
    path: web::Path<(Uuid, Uuid)>,
    body: web::Json<MembersRequest>,
) -> Result<web::Json<MembersAddedBody>, ApiError> {
    let (ws, id) = ids(path.into_inner());
    let added = state
        .customers
        .add_group_members(&actor, ws, id, &customer_ids(&body))
        .await?;
    Ok(web::Json(MembersAddedBody { added }))
}

/// Remove customers from a group (`customers:write`).
#[utoipa::path(
    tag = "customers",
    security(("bearer" = [])),
    params(("workspace_id" = Uuid, Path), ("group_id" = Uuid, Path)),
    request_body = MembersRequest,
    responses(
        (status = 200, body = MembersRemovedBody),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
#[post("/v1/workspaces/{workspace_id}/customer-groups/{group_id}/members/remove")]
pub async fn remove_members(
    state: web::Data<AppState>,
    WorkspaceContent(actor): WorkspaceContent,
    path: web::Path<(Uuid, Uuid)>,
    body: web::Json<MembersRequest>,
) -> Result<web::Json<MembersRemovedBody>, ApiError> {
    let (ws, id) = ids(path.into_inner());
    let removed = state
        .customers
        .remove_group_members(&actor, ws, id, &customer_ids(&body))
        .await?;
    Ok(web::Json(MembersRemovedBody { removed }))
}
