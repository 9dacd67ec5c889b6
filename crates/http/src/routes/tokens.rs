//! The client API: key exchange, refresh, short-lived tokens, logout, API key management.

use actix_web::{HttpRequest, HttpResponse, delete, get, post, route, web};
use serde::Deserialize;
use tokens::service::SHORT_LIVED_DEFAULT_MINUTES;
use uuid::Uuid;

use crate::auth::{ClientIp, EndOwnSession, OwnCredentials, bearer};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use crate::wire::{
    ApiKeyBody, ClientAuthRequest, CreateApiKeyRequest, CreatedApiKey, MessageBody, RefreshRequest,
    ShortLivedTokenResponse, TokenResponse,
};

/// Exchange an API key for an access token (14 days) and a refresh token (15 days).
#[utoipa::path(
    tag = "tokens",
    request_body = ClientAuthRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 400, body = ErrorBody),
        (status = 401, description = "Unknown, wrong or revoked key", body = ErrorBody),
        (status = 403, description = "Scopes beyond the key's or its owner's", body = ErrorBody),
    )
)]
#[post("/v1/auth")]
pub async fn exchange(
    state: web::Data<AppState>,
    ip: ClientIp,
    body: web::Json<ClientAuthRequest>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    let tokens = state
        .tokens
        .exchange_api_key(&body.api_key, body.scopes.as_deref(), ip.0)
        .await?;
    Ok(web::Json(TokenResponse::new(tokens, None)))
}

/// Re-authenticate with a refresh token in `Authorization: Bearer` or `X-Refresh-Token`:
/// a new access token and a new refresh token; the presented one is retired.
#[utoipa::path(
    method(get, trace),
    path = "/v1/auth",
    tag = "tokens",
    params(("X-Refresh-Token" = Option<String>, Header, description = "The refresh token, if not sent as a Bearer token")),
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, description = "Unknown, expired, revoked or reused refresh token", body = ErrorBody),
    )
)]
#[route("/v1/auth", method = "GET", method = "TRACE")]
pub async fn reauthenticate(
    state: web::Data<AppState>,
    ip: ClientIp,
    req: HttpRequest,
) -> Result<web::Json<TokenResponse>, ApiError> {
    let presented = bearer(&req)
        .or_else(|| {
            req.headers()
                .get("x-refresh-token")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
        .ok_or(ApiError::Unauthenticated)?;
    let tokens = state.tokens.refresh(&presented, ip.0).await?;
    Ok(web::Json(TokenResponse::new(tokens, None)))
}

/// Trade a refresh token for new tokens (the same rotation as `GET`/`TRACE /v1/auth`).
#[utoipa::path(
    tag = "tokens",
    request_body = RefreshRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, description = "Unknown, expired, revoked or reused refresh token", body = ErrorBody),
    )
)]
#[post("/v1/auth/refresh")]
pub async fn refresh(
    state: web::Data<AppState>,
    ip: ClientIp,
    body: web::Json<RefreshRequest>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    let tokens = state.tokens.refresh(&body.refresh_token, ip.0).await?;
    Ok(web::Json(TokenResponse::new(tokens, None)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ShortLivedQuery {
    /// Minutes until the token expires: 1 to 1440, default 60.
    #[serde(rename = "expiryMins")]
    #[param(rename = "expiryMins", value_type = Option<i64>)]
    expiry_mins: Option<String>,
}

/// A short-lived token for a frontend, fetched by a backend with its API key in the
/// `apiKey` header.
#[utoipa::path(
    tag = "tokens",
    params(
        ShortLivedQuery,
        ("apiKey" = String, Header, description = "The API key"),
    ),
    responses(
        (status = 200, body = ShortLivedTokenResponse),
        (status = 400, description = "expiryMins out of range", body = ErrorBody),
        (status = 401, body = ErrorBody),
    )
)]
#[get("/v1/auth/token")]
pub async fn short_lived(
    state: web::Data<AppState>,
    ip: ClientIp,
    req: HttpRequest,
    query: web::Query<ShortLivedQuery>,
) -> Result<web::Json<ShortLivedTokenResponse>, ApiError> {
    let minutes = match query.expiry_mins.as_deref() {
        None => SHORT_LIVED_DEFAULT_MINUTES,
        Some(raw) => raw.trim().parse::<i64>().map_err(|_| {
            ApiError::BadRequest(
                "expiryMins must be a whole number of minutes from 1 to 1440".into(),
            )
        })?,
    };
    let key = req
        .headers()
        .get("apikey")
        .and_then(|v| v.to_str().ok())
        .ok_or(ApiError::Unauthenticated)?;
    let (token, expires_in) = state.tokens.short_lived_token(key, minutes, ip.0).await?;
    Ok(web::Json(ShortLivedTokenResponse { token, expires_in }))
}

/// End the caller's session: its access and refresh tokens stop working at once, everywhere.
#[utoipa::path(
    tag = "tokens",
    security(("bearer" = [])),
    responses((status = 200, body = MessageBody), (status = 401, body = ErrorBody))
)]
#[post("/v1/auth/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    ip: ClientIp,
    EndOwnSession(actor): EndOwnSession,
) -> Result<web::Json<MessageBody>, ApiError> {
    state.tokens.logout(&actor, ip.0).await?;
    Ok(web::Json(MessageBody {
        message: "Successfully logged out",
    }))
}

/// Create an API key (developer role required). The key is shown this once.
#[utoipa::path(
    tag = "tokens",
    security(("bearer" = [])),
    request_body = CreateApiKeyRequest,
    responses(
        (status = 201, body = CreatedApiKey),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Not a developer, or scopes beyond your own", body = ErrorBody),
    )
)]
#[post("/v1/auth/keys")]
pub async fn create_key(
    state: web::Data<AppState>,
    ip: ClientIp,
    OwnCredentials(actor): OwnCredentials,
    body: web::Json<CreateApiKeyRequest>,
) -> Result<HttpResponse, ApiError> {
    let (key, plaintext) = state
        .tokens
        .create_api_key(&actor, &body.name, body.scopes.as_deref(), ip.0)
        .await?;
    Ok(HttpResponse::Created().json(CreatedApiKey::new(key, plaintext)))
}

/// The caller's API keys (never their secrets).
#[utoipa::path(
    tag = "tokens",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<ApiKeyBody>), (status = 401, body = ErrorBody))
)]
#[get("/v1/auth/keys")]
pub async fn list_keys(
    state: web::Data<AppState>,
    OwnCredentials(actor): OwnCredentials,
) -> Result<web::Json<Vec<ApiKeyBody>>, ApiError> {
    let keys = state.tokens.api_keys(&actor).await?;
    Ok(web::Json(keys.into_iter().map(ApiKeyBody::from).collect()))
}

/// Delete one of the caller's API keys; tokens obtained with it stop working at once.
#[utoipa::path(
    tag = "tokens",
    security(("bearer" = [])),
    params(("key_id" = Uuid, Path)),
    responses(
        (status = 204),
        (status = 401, body = ErrorBody),
        (status = 404, description = "API key not found", body = ErrorBody),
    )
)]
#[delete("/v1/auth/keys/{key_id}")]
pub async fn delete_key(
    state: web::Data<AppState>,
    ip: ClientIp,
    OwnCredentials(actor): OwnCredentials,
    key_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state
        .tokens
        .delete_api_key(&actor, key_id.into_inner(), ip.0)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
