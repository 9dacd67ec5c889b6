//! Workspaces of the caller's account.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use kernel::WorkspaceId;
use uuid::Uuid;

use crate::auth::{AccountAdministration, WorkspaceContent};
use crate::error::{ApiError, ErrorBody};
use crate::paging::{PageParams, Paged};
use crate::state::AppState;
use crate::wire::{WorkspaceBody, WorkspaceRequest};

/// The workspaces the caller sees: all of the account's for owners and admins, else those the
/// caller holds a role in.
#[utoipa::path(
    tag = "workspaces",
    security(("bearer" = [])),
    params(PageParams),
    responses((status = 200, body = Paged<WorkspaceBody>), (status = 401, body = ErrorBody))
)]
#[get("/v1/workspaces")]
pub async fn list(
    state: web::Data<AppState>,
    WorkspaceContent(actor): WorkspaceContent,
    paging: web::Query<PageParams>,
) -> Result<web::Json<Paged<WorkspaceBody>>, ApiError> {
    let request = paging.resolve()?;
    let workspaces = state.identity.workspaces(&actor).await?;
    let all = workspaces.into_iter().map(WorkspaceBody::from).collect();
    Ok(web::Json(Paged::of_all(all, &request)?))
}

/// Create a workspace (`account:manage`).
#[utoipa::path(
    tag = "workspaces",
    security(("bearer" = [])),
    request_body = WorkspaceRequest,
    responses(
        (status = 201, body = WorkspaceBody),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    )
)]
#[post("/v1/workspaces")]
pub async fn create(
    state: web::Data<AppState>,
    AccountAdministration(actor): AccountAdministration,
    body: web::Json<WorkspaceRequest>,
) -> Result<HttpResponse, ApiError> {
    let workspace = state.identity.create_workspace(&actor, &body.name).await?;
    Ok(HttpResponse::Created().json(WorkspaceBody::from(workspace)))
}

/// One workspace (404 when the caller does not see it, or it is another account's).
#[utoipa::path(
    tag = "workspaces",
    security(("bearer" = [])),
    params(("workspace_id" = Uuid, Path)),
    responses(
        (status = 200, body = WorkspaceBody),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
#[get("/v1/workspaces/{workspace_id}")]
pub async fn show(
    state: web::Data<AppState>,
    WorkspaceContent(actor): WorkspaceContent,
    id: web::Path<Uuid>,
) -> Result<web::Json<WorkspaceBody>, ApiError> {
    let workspace = state
        .identity
        .workspace(&actor, WorkspaceId::from_uuid(id.into_inner()))
        .await?;
    Ok(web::Json(workspace.into()))
}

/// Rename a workspace (`account:manage`).
#[utoipa::path(
    tag = "workspaces",
    security(("bearer" = [])),
    params(("workspace_id" = Uuid, Path)),
    request_body = WorkspaceRequest,
    responses(
        (status = 200, body = WorkspaceBody),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
#[patch("/v1/workspaces/{workspace_id}")]
pub async fn rename(
    state: web::Data<AppState>,
    AccountAdministration(actor): AccountAdministration,
    id: web::Path<Uuid>,
    body: web::Json<WorkspaceRequest>,
) -> Result<web::Json<WorkspaceBody>, ApiError> {
    let workspace = state
        .identity
        .rename_workspace(&actor, WorkspaceId::from_uuid(id.into_inner()), &body.name)
        .await?;
    Ok(web::Json(workspace.into()))
}

/// Delete a workspace and everything in it (`account:manage`).
#[utoipa::path(
    tag = "workspaces",
    security(("bearer" = [])),
    params(("workspace_id" = Uuid, Path)),
    responses(
        (status = 204),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
#[delete("/v1/workspaces/{workspace_id}")]
pub async fn remove(
    state: web::Data<AppState>,
    AccountAdministration(actor): AccountAdministration,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state
        .identity
        .delete_workspace(&actor, WorkspaceId::from_uuid(id.into_inner()))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
