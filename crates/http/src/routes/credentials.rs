//! Credentials seen from above: every API key of the account (for its administrators), the
//! caller's own sessions ("log out other devices"), and proving the caller's email address.

use actix_web::{HttpResponse, delete, get, post, web};
use kernel::SessionId;
use uuid::Uuid;

use crate::auth::{ClientIp, CredentialAdministration, OwnCredentials};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use crate::wire::{AccountApiKeyBody, CodeRequest, SessionBody};

/// Every API key of the account, with its owner (`users:manage`, a person's session only).
#[utoipa::path(
    tag = "tokens",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<AccountApiKeyBody>),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Without users:manage, or not a person's session (`credential_not_allowed`)", body = ErrorBody),
    )
)]
#[get("/v1/account/api-keys")]
pub async fn account_keys(
    state: web::Data<AppState>,
    CredentialAdministration(actor): CredentialAdministration,
) -> Result<web::Json<Vec<AccountApiKeyBody>>, ApiError> {
    let keys = state.tokens.account_api_keys(&actor).await?;
    Ok(web::Json(
        keys.into_iter().map(AccountApiKeyBody::from).collect(),
    ))
}

/// Revoke any API key of the account: the key and every token obtained with it stop at once,
/// on every instance (`users:manage`, a person's session only; audited).
#[utoipa::path(
    tag = "tokens",
    security(("bearer" = [])),
    params(("key_id" = Uuid, Path)),
    responses(
        (status = 204),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Without users:manage, or not a person's session (`credential_not_allowed`)", body = ErrorBody),
        (status = 404, description = "API key not found", body = ErrorBody),
    )
)]
#[delete("/v1/account/api-keys/{key_id}")]
pub async fn revoke_account_key(
    state: web::Data<AppState>,
    ip: ClientIp,
    CredentialAdministration(actor): CredentialAdministration,
    key_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state
        .tokens
        .revoke_account_api_key(&actor, key_id.into_inner(), ip.0)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Your live sessions, newest first (at most 500): sign-ins, key exchanges and short-lived
/// tokens, with where each was last seen. A person's session only.
#[utoipa::path(
    tag = "identity",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<SessionBody>),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Not a person's session (`credential_not_allowed`)", body = ErrorBody),
    )
)]
#[get("/v1/me/sessions")]
pub async fn sessions(
    state: web::Data<AppState>,
    OwnCredentials(actor): OwnCredentials,
) -> Result<web::Json<Vec<SessionBody>>, ApiError> {
    let current = actor.session_id;
    let sessions = state.tokens.sessions(&actor).await?;
    Ok(web::Json(
        sessions
            .into_iter()
            .map(|s| SessionBody::new(s, current))
            .collect(),
    ))
}

/// End one of your sessions: its access and refresh tokens stop at once, on every instance.
#[utoipa::path(
    tag = "identity",
    security(("bearer" = [])),
    params(("session_id" = Uuid, Path)),
    responses(
        (status = 204),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Not a person's session (`credential_not_allowed`)", body = ErrorBody),
        (status = 404, description = "No such live session of yours", body = ErrorBody),
    )
)]
#[delete("/v1/me/sessions/{session_id}")]
pub async fn end_session(
    state: web::Data<AppState>,
    ip: ClientIp,
    OwnCredentials(actor): OwnCredentials,
    session_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state
        .tokens
        .end_session(&actor, SessionId::from_uuid(session_id.into_inner()), ip.0)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Verify your email address with the code emailed at sign-up (a person's session only).
#[utoipa::path(
    tag = "identity",
    security(("bearer" = [])),
    request_body = CodeRequest,
    responses(
        (status = 204),
        (status = 400, description = "Wrong, used or expired code", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Not a person's session (`credential_not_allowed`)", body = ErrorBody),
        (status = 429, body = ErrorBody),
    )
)]
#[post("/v1/me/email/verify")]
pub async fn verify_email(
    state: web::Data<AppState>,
    OwnCredentials(actor): OwnCredentials,
    body: web::Json<CodeRequest>,
) -> Result<HttpResponse, ApiError> {
    state.identity.verify_email(&actor, &body.code).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Email a new verification code (nothing is sent once the address is verified).
#[utoipa::path(
    tag = "identity",
    security(("bearer" = [])),
    responses(
        (status = 202),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Not a person's session (`credential_not_allowed`)", body = ErrorBody),
        (status = 429, description = "Asked too often (5 an hour by default)", body = ErrorBody),
    )
)]
#[post("/v1/me/email/verify/resend")]
pub async fn resend_verification(
    state: web::Data<AppState>,
    OwnCredentials(actor): OwnCredentials,
) -> Result<HttpResponse, ApiError> {
    state.identity.resend_verification(&actor).await?;
    Ok(HttpResponse::Accepted().finish())
}
