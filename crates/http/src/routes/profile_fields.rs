//! Custom profile fields: the schema customers' `attributes` follow.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use customers::{NewProfileField, ProfileFieldChanges};
use kernel::{ProfileFieldId, WorkspaceId};
use uuid::Uuid;

use crate::auth::WorkspaceContent;
use crate::error::{ApiError, ErrorBody};
use crate::paging::{PageParams, Paged};
use crate::state::AppState;
use crate::wire::{ProfileFieldBody, ProfileFieldChangeRequest, ProfileFieldRequest};

fn ids(path: (Uuid, Uuid)) -> (WorkspaceId, ProfileFieldId) {
    (
        WorkspaceId::from_uuid(path.0),
        ProfileFieldId::from_uuid(path.1),
    )
}

/// Add a profile field (`customers:write`).
#[utoipa::path(
    tag = "customers",
    security(("bearer" = [])),
    params(("workspace_id" = Uuid, Path)),
    request_body = ProfileFieldRequest,
    responses(
        (status = 201, body = ProfileFieldBody),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The key exists, or a required field while customers lack it", body = ErrorBody),
    )
)]
#[post("/v1/workspaces/{workspace_id}/profile-fields")]
pub async fn create(
    state: web::Data<AppState>,
    WorkspaceContent(actor): WorkspaceContent,
    workspace: web::Path<Uuid>,
    body: web::Json<ProfileFieldRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let field = state
        .customers
        .create_profile_field(
            &actor,
            WorkspaceId::from_uuid(workspace.into_inner()),
            NewProfileField {
                key: body.key,
                label: body.label,
                kind: body.kind,
                required: body.required,
                options: body.options,
            },
        )
        .await?;
    Ok(HttpResponse::Created().json(ProfileFieldBody::from(field)))
}

/// The workspace's profile fields, oldest first (`customers:read`).
#[utoipa::path(
    tag = "customers",
    security(("bearer" = [])),
    params(("workspace_id" = Uuid, Path), PageParams),
    responses(
        (status = 200, body = Paged<ProfileFieldBody>),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
#[get("/v1/workspaces/{workspace_id}/profile-fields")]
pub async fn list(
    state: web::Data<AppState>,
    WorkspaceContent(actor): WorkspaceContent,
    workspace: web::Path<Uuid>,
    paging: web::Query<PageParams>,
) -> Result<web::Json<Paged<ProfileFieldBody>>, ApiError> {
    let request = paging.resolve()?;
    let fields = state
        .customers
        .profile_fields(&actor, WorkspaceId::from_uuid(workspace.into_inner()))
        .await?;
    let all = fields.into_iter().map(ProfileFieldBody::from).collect();
    Ok(web::Json(Paged::of_all(all, &request)?))
}

/// Change a field (`customers:write`). A new type, new options or `required` are refused with
/// 409 while stored values would no longer fit.
#[utoipa::path(
    tag = "customers",
    security(("bearer" = [])),
    params(("workspace_id" = Uuid, Path), ("field_id" = Uuid, Path)),
    request_body = ProfileFieldChangeRequest,
    responses(
        (status = 200, body = ProfileFieldBody),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody),
    )
)]
#[patch("/v1/workspaces/{workspace_id}/profile-fields/{field_id}")]
pub async fn update(
    state: web::Data<AppState>,
    WorkspaceContent(actor): WorkspaceContent,
    path: web::Path<(Uuid, Uuid)>,
    body: web::Json<ProfileFieldChangeRequest>,
) -> Result<web::Json<ProfileFieldBody>, ApiError> {
    let (ws, id) = ids(path.into_inner());
    let body = body.into_inner();
    let changes = ProfileFieldChanges {
        label: body.label,
        kind: body.kind,
        required: body.required,
        options: body.options,
    };
    Ok(web::Json(
        state
            .customers
            .update_profile_field(&actor, ws, id, changes)
            .await?
            .into(),
    ))
}

/// Delete a field and remove its attribute from every customer (`customers:write`).
#[utoipa::path(
    tag = "customers",
    security(("bearer" = [])),
    params(("workspace_id" = Uuid, Path), ("field_id" = Uuid, Path)),
    responses(
        (status = 204),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
#[delete("/v1/workspaces/{workspace_id}/profile-fields/{field_id}")]
pub async fn remove(
    state: web::Data<AppState>,
    WorkspaceContent(actor): WorkspaceContent,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (ws, id) = ids(path.into_inner());
    state.customers.delete_profile_field(&actor, ws, id).await?;
    Ok(HttpResponse::NoContent().finish())
}
