//! The account's users and their roles.

use actix_web::{HttpResponse, delete, get, put, web};
use identity::RoleAssignment;
use kernel::UserId;
use uuid::Uuid;

use crate::auth::Authenticated;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use crate::wire::{MemberBody, RoleAssignmentRequest};

/// The account's users with their roles (`users:read`).
#[utoipa::path(
    tag = "identity",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<MemberBody>),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    )
)]
#[get("/v1/users")]
pub async fn list(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<web::Json<Vec<MemberBody>>, ApiError> {
    let members = state.identity.members(&actor).await?;
    Ok(web::Json(
        members.into_iter().map(MemberBody::from).collect(),
    ))
}

/// Set a user's roles (`users:manage`): account roles `admin`, `developer`, `member` and
/// workspace roles. Owners keep `owner`. Applies from the user's next request.
#[utoipa::path(
    tag = "identity",
    security(("bearer" = [])),
    params(("user_id" = Uuid, Path)),
    request_body = RoleAssignmentRequest,
    responses(
        (status = 200, body = MemberBody),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, description = "No such user (or workspace) in this account", body = ErrorBody),
    )
)]
#[put("/v1/users/{user_id}/roles")]
pub async fn assign_roles(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    user_id: web::Path<Uuid>,
    body: web::Json<RoleAssignmentRequest>,
) -> Result<web::Json<MemberBody>, ApiError> {
    let body = body.into_inner();
    let member = state
        .identity
        .assign_roles(
            &actor,
            UserId::from_uuid(user_id.into_inner()),
            RoleAssignment {
                account_roles: body.account_roles,
                workspace_roles: body
                    .workspace_roles
                    .into_iter()
                    .map(|w| (w.workspace_id, w.role))
                    .collect(),
            },
        )
        .await?;
    Ok(web::Json(member.into()))
}

/// Remove a user (`users:manage`): their sessions and API keys stop working at once. Only an
/// owner removes an owner, and an account keeps at least one (409).
#[utoipa::path(
    tag = "identity",
    security(("bearer" = [])),
    params(("user_id" = Uuid, Path)),
    responses(
        (status = 204),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The account's last owner", body = ErrorBody),
    )
)]
#[delete("/v1/users/{user_id}")]
pub async fn remove(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    user_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state
        .identity
        .remove_user(&actor, UserId::from_uuid(user_id.into_inner()))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
