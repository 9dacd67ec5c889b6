//! The account's users and their roles.

use actix_web::{HttpResponse, delete, get, post, put, web};
use identity::{AcceptInput, InviteInput, RoleAssignment};
use kernel::UserId;
use uuid::Uuid;

use crate::auth::{AccountAdministration, ClientIp};
use crate::error::{ApiError, ErrorBody};
use crate::paging::{PageParams, Paged};
use crate::state::AppState;
use crate::wire::{
    AcceptInvitationRequest, InviteRequest, MemberBody, RoleAssignmentRequest, TokenResponse,
    WorkspaceRoleRequest,
};

fn assignment(
    account_roles: Vec<String>,
    workspace_roles: Vec<WorkspaceRoleRequest>,
) -> RoleAssignment {
    RoleAssignment {
        account_roles,
        workspace_roles: workspace_roles
            .into_iter()
            .map(|w| (w.workspace_id, w.role))
            .collect(),
    }
}

/// Invite a user into the account (`users:manage`): they are created with the given roles and
/// emailed a single-use invitation code (valid 7 days).
#[utoipa::path(
    tag = "identity",
    security(("bearer" = [])),
    request_body = InviteRequest,
    responses(
        (status = 201, body = MemberBody),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Without users:manage, a short-lived token (`credential_not_allowed`), or an unverified email (`email_unverified`)", body = ErrorBody),
        (status = 404, description = "A workspace of `workspace_roles` is not the account's", body = ErrorBody),
        (status = 409, description = "The email is taken", body = ErrorBody),
        (status = 429, description = "Over the account's invitations an hour", body = ErrorBody),
    )
)]
#[post("/v1/users")]
pub async fn invite(
    state: web::Data<AppState>,
    AccountAdministration(actor): AccountAdministration,
    body: web::Json<InviteRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let member = state
        .identity
        .invite_user(
            &actor,
            InviteInput {
                email: body.email,
                full_name: body.full_name,
                roles: assignment(body.account_roles, body.workspace_roles),
            },
        )
        .await?;
    Ok(HttpResponse::Created().json(MemberBody::from(member)))
}

/// Accept an invitation: set a password with the emailed code, and sign in.
#[utoipa::path(
    tag = "identity",
    request_body = AcceptInvitationRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 400, description = "Invalid fields, or a wrong, used or expired code", body = ErrorBody),
    )
)]
#[post("/v1/invitations/accept")]
pub async fn accept_invitation(
    state: web::Data<AppState>,
    ip: ClientIp,
    body: web::Json<AcceptInvitationRequest>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    let body = body.into_inner();
    let outcome = state
        .identity
        .accept_invitation(AcceptInput {
            email: body.email,
            code: body.code,
            password: body.password,
            ip: ip.0,
        })
        .await?;
    Ok(web::Json(TokenResponse::new(
        outcome.tokens,
        Some(outcome.user),
    )))
}

/// The account's users with their roles (`users:read`).
#[utoipa::path(
    tag = "identity",
    security(("bearer" = [])),
    params(PageParams),
    responses(
        (status = 200, body = Paged<MemberBody>),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    )
)]
#[get("/v1/users")]
pub async fn list(
    state: web::Data<AppState>,
    AccountAdministration(actor): AccountAdministration,
    paging: web::Query<PageParams>,
) -> Result<web::Json<Paged<MemberBody>>, ApiError> {
    let request = paging.resolve()?;
    let members = state.identity.members(&actor).await?;
    let all = members.into_iter().map(MemberBody::from).collect();
    Ok(web::Json(Paged::of_all(all, &request)?))
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
    AccountAdministration(actor): AccountAdministration,
    user_id: web::Path<Uuid>,
    body: web::Json<RoleAssignmentRequest>,
) -> Result<web::Json<MemberBody>, ApiError> {
    let body = body.into_inner();
    let member = state
        .identity
        .assign_roles(
            &actor,
            UserId::from_uuid(user_id.into_inner()),
            assignment(body.account_roles, body.workspace_roles),
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
    AccountAdministration(actor): AccountAdministration,
    user_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state
        .identity
        .remove_user(&actor, UserId::from_uuid(user_id.into_inner()))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
