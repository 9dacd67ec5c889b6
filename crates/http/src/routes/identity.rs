use actix_web::{HttpResponse, get, post, web};
use identity::{LoginInput, SignupInput};

use crate::auth::{ClientIp, WorkspaceContent};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use crate::wire::{LoginRequest, LoginResponse, MeResponse, SignupRequest, SignupResponse};

/// Create an account: its first user owns it, and a default workspace is made.
#[utoipa::path(
    tag = "identity",
    request_body = SignupRequest,
    responses(
        (status = 201, body = SignupResponse),
        (status = 400, description = "Invalid fields", body = ErrorBody),
        (status = 409, description = "The email is taken", body = ErrorBody),
        (status = 429, description = "Too many sign-ups from this address", body = ErrorBody),
        (status = 503, description = "Too many new passwords waiting to be hashed; retry shortly", body = ErrorBody),
    )
)]
#[post("/v1/signup")]
pub async fn signup(
    state: web::Data<AppState>,
    ip: ClientIp,
    body: web::Json<SignupRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let outcome = state
        .identity
        .signup(SignupInput {
            email: body.email,
            password: body.password,
            full_name: body.full_name,
            account_name: body.account_name,
            ip: ip.0,
        })
        .await?;
    Ok(HttpResponse::Created().json(SignupResponse {
        user: outcome.user.into(),
        account: outcome.account.into(),
        workspace: outcome.workspace.into(),
    }))
}

/// Sign in with email and password.
#[utoipa::path(
    tag = "identity",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Tokens, or `{mfa_required, mfa_token, expires_in}` with MFA on", body = LoginResponse),
        (status = 400, body = ErrorBody),
        (status = 401, description = "Wrong email or password, or a locked account (never saying which)", body = ErrorBody),
        (status = 429, body = ErrorBody),
    )
)]
#[post("/v1/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    ip: ClientIp,
    body: web::Json<LoginRequest>,
) -> Result<web::Json<LoginResponse>, ApiError> {
    let body = body.into_inner();
    let outcome = state
        .identity
        .login(LoginInput {
            email: body.email,
            password: body.password,
            ip: ip.0,
        })
        .await?;
    Ok(web::Json(outcome.into()))
}

/// The caller: user, account, roles and effective permissions.
#[utoipa::path(
    tag = "identity",
    security(("bearer" = [])),
    responses((status = 200, body = MeResponse), (status = 401, body = ErrorBody))
)]
#[get("/v1/me")]
pub async fn me(
    state: web::Data<AppState>,
    WorkspaceContent(actor): WorkspaceContent,
) -> Result<web::Json<MeResponse>, ApiError> {
    let profile = state.identity.profile(&actor).await?;
    Ok(web::Json(profile.into()))
}
