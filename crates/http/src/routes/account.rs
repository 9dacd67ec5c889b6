//! The caller's own credentials, and the account's audit trail.

use actix_web::{HttpResponse, delete, get, post, web};
use identity::models::AuditQuery;
use kernel::UserId;
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::{AccountAdministration, ClientIp, OwnCredentials};
use crate::error::{ApiError, ErrorBody};
use crate::paging::{PageParams, Paged, encode_cursor};
use crate::state::AppState;
use crate::wire::{
    AuditEventBody, ChangePasswordRequest, CodeRequest, LoginMfaRequest, LoginResponse,
    MessageBody, RecoveryCodesBody, ResetConfirmRequest, ResetRequest, TokenResponse,
    TotpSetupBody,
};

/// Change your password: the current one is required; your other sessions end.
#[utoipa::path(
    tag = "identity",
    security(("bearer" = [])),
    request_body = ChangePasswordRequest,
    responses(
        (status = 204),
        (status = 400, description = "Wrong current password (counted toward the lockout), an invalid new one, or a weak one (`weak_password`)", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Not a person's session (`credential_not_allowed`)", body = ErrorBody),
        (status = 429, description = "Too many attempts, or the account is locked", body = ErrorBody),
    )
)]
#[post("/v1/me/password")]
pub async fn change_password(
    state: web::Data<AppState>,
    ip: ClientIp,
    OwnCredentials(actor): OwnCredentials,
    body: web::Json<ChangePasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    state
        .identity
        .change_password(&actor, &body.current_password, body.new_password, ip.0)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    /// Only events of this kind (e.g. `login_failed`).
    pub event: Option<String>,
    /// Only events about this user.
    pub user_id: Option<Uuid>,
}

/// The account's audit trail of authentication events, newest first (`audit:read`).
#[utoipa::path(
    tag = "identity",
    security(("bearer" = [])),
    params(AuditFilter, PageParams),
    responses(
        (status = 200, body = Paged<AuditEventBody>),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    )
)]
#[get("/v1/audit-events")]
pub async fn audit_events(
    state: web::Data<AppState>,
    AccountAdministration(actor): AccountAdministration,
    filter: web::Query<AuditFilter>,
    paging: web::Query<PageParams>,
) -> Result<web::Json<Paged<AuditEventBody>>, ApiError> {
    let request = paging.resolve()?;
    let filter = filter.into_inner();
    let page = state
        .identity
        .audit_events(
            &actor,
            AuditQuery {
                event: filter.event,
                user_id: filter.user_id.map(UserId::from_uuid),
                page: request,
            },
        )
        .await?;
    let next = page.items.last().map(|e| encode_cursor(e.at, e.id));
    let items = page.items.into_iter().map(AuditEventBody::from).collect();
    Ok(web::Json(Paged::new(
        items,
        &request,
        page.total_items,
        next,
    )))
}

/// Ask for a password-reset code by email. Answers 202 whether or not the address belongs to
/// anyone; at most one request per address every 15 minutes.
#[utoipa::path(
    tag = "identity",
    request_body = ResetRequest,
    responses(
        (status = 202, body = MessageBody),
        (status = 400, body = ErrorBody),
        (status = 429, body = ErrorBody),
    )
)]
#[post("/v1/auth/password-reset")]
pub async fn request_reset(
    state: web::Data<AppState>,
    ip: ClientIp,
    body: web::Json<ResetRequest>,
) -> Result<HttpResponse, ApiError> {
    state
        .identity
        .request_password_reset(&body.email, ip.0)
        .await?;
    Ok(HttpResponse::Accepted().json(MessageBody {
        message: "If the address belongs to an account, a reset code is on its way",
    }))
}

/// Set a new password with the emailed code: every session of the user ends, and a new one
/// starts.
#[utoipa::path(
    tag = "identity",
    request_body = ResetConfirmRequest,
    responses(
        (status = 200, description = "Tokens, or the MFA step for a user with MFA on", body = LoginResponse),
        (status = 400, description = "Invalid fields, or a wrong, used or expired code", body = ErrorBody),
    )
)]
#[post("/v1/auth/password-reset/confirm")]
pub async fn confirm_reset(
    state: web::Data<AppState>,
    ip: ClientIp,
    body: web::Json<ResetConfirmRequest>,
) -> Result<web::Json<LoginResponse>, ApiError> {
    let body = body.into_inner();
    let outcome = state
        .identity
        .confirm_password_reset(identity::models::ResetConfirmation {
            email: body.email,
            code: body.code,
            new_password: body.new_password,
            ip: ip.0,
        })
        .await?;
    Ok(web::Json(outcome.into()))
}

/// Complete a sign-in with MFA: the token from `POST /v1/auth/login` and a TOTP code (or a
/// recovery code). A code works once.
#[utoipa::path(
    tag = "identity",
    request_body = LoginMfaRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, description = "Invalid MFA token, or a wrong or reused code", body = ErrorBody),
        (status = 429, body = ErrorBody),
    )
)]
#[post("/v1/auth/login/mfa")]
pub async fn login_mfa(
    state: web::Data<AppState>,
    ip: ClientIp,
    body: web::Json<LoginMfaRequest>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    let outcome = state
        .identity
        .login_mfa(&body.mfa_token, &body.code, ip.0)
        .await?;
    Ok(web::Json(TokenResponse::new(
        outcome.tokens,
        Some(outcome.user),
    )))
}

/// Start TOTP setup: a new secret and its `otpauth://` URL, shown once.
#[utoipa::path(
    tag = "identity",
    security(("bearer" = [])),
    responses(
        (status = 200, body = TotpSetupBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Not a person's session (`credential_not_allowed`)", body = ErrorBody),
        (status = 409, description = "TOTP is already enabled", body = ErrorBody),
    )
)]
#[post("/v1/me/mfa/totp/setup")]
pub async fn totp_setup(
    state: web::Data<AppState>,
    OwnCredentials(actor): OwnCredentials,
) -> Result<web::Json<TotpSetupBody>, ApiError> {
    let setup = state.identity.setup_totp(&actor).await?;
    Ok(web::Json(TotpSetupBody {
        secret: setup.secret,
        otpauth_url: setup.otpauth_url,
    }))
}

/// Turn TOTP on with a code from the app; returns 10 one-time recovery codes.
#[utoipa::path(
    tag = "identity",
    security(("bearer" = [])),
    request_body = CodeRequest,
    responses(
        (status = 200, body = RecoveryCodesBody),
        (status = 401, description = "Wrong code (counted toward the lockout)", body = ErrorBody),
        (status = 403, description = "Not a person's session (`credential_not_allowed`)", body = ErrorBody),
        (status = 409, description = "No setup started, or already enabled", body = ErrorBody),
        (status = 429, description = "Too many attempts, or the account is locked", body = ErrorBody),
    )
)]
#[post("/v1/me/mfa/totp/activate")]
pub async fn totp_activate(
    state: web::Data<AppState>,
    ip: ClientIp,
    OwnCredentials(actor): OwnCredentials,
    body: web::Json<CodeRequest>,
) -> Result<web::Json<RecoveryCodesBody>, ApiError> {
    let recovery_codes = state
        .identity
        .activate_totp(&actor, &body.code, ip.0)
        .await?;
    Ok(web::Json(RecoveryCodesBody { recovery_codes }))
}

/// Turn TOTP off; needs a current code (or a recovery code).
#[utoipa::path(
    tag = "identity",
    security(("bearer" = [])),
    request_body = CodeRequest,
    responses(
        (status = 204),
        (status = 401, description = "Wrong code (counted toward the lockout)", body = ErrorBody),
        (status = 403, description = "Not a person's session (`credential_not_allowed`)", body = ErrorBody),
        (status = 409, description = "TOTP is not enabled", body = ErrorBody),
        (status = 429, description = "Too many attempts, or the account is locked", body = ErrorBody),
    )
)]
#[delete("/v1/me/mfa/totp")]
pub async fn totp_disable(
    state: web::Data<AppState>,
    ip: ClientIp,
    OwnCredentials(actor): OwnCredentials,
    body: web::Json<CodeRequest>,
) -> Result<HttpResponse, ApiError> {
    state
        .identity
        .disable_totp(&actor, &body.code, ip.0)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
