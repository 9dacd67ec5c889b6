//! Extractors for who is calling: [`Authenticated`] (a verified bearer token, as an
//! [`Actor`]) and [`ClientIp`].

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use kernel::Actor;
use tokens::Accept;

use crate::error::ApiError;
use crate::state::AppState;

/// The actor behind a valid `Authorization: Bearer <token>` — an access token or a short-lived
/// token — with their current roles. Missing, malformed, expired or revoked tokens are a 401.
pub struct Authenticated(pub Actor);

/// Like [`Authenticated`], but only a full access token will do: for managing credentials
/// (API keys, logout), which a short-lived frontend token must never do.
pub struct FullAccess(pub Actor);

/// The bearer credential of a request, if any.
pub fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::Internal("application state is not configured".into()))
}

fn authenticate(
    req: &HttpRequest,
    accept: Accept,
) -> Pin<Box<dyn Future<Output = Result<Actor, ApiError>>>> {
    let token = bearer(req);
    let state = state(req);
    Box::pin(async move {
        let token = token.ok_or(ApiError::Unauthenticated)?;
        Ok(state?.tokens.authenticate(&token, accept).await?)
    })
}

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let actor = authenticate(req, Accept::AccessOrShortLived);
        Box::pin(async move { actor.await.map(Self) })
    }
}

impl FromRequest for FullAccess {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let actor = authenticate(req, Accept::AccessOnly);
        Box::pin(async move { actor.await.map(Self) })
    }
}

/// The client's address, per the trusted-proxy rules of [`crate::TrustedProxies`].
pub struct ClientIp(pub Option<IpAddr>);

impl FromRequest for ClientIp {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(state(req).map(|state| {
            let forwarded = req
                .headers()
                .get_all("x-forwarded-for")
                .filter_map(|v| v.to_str().ok());
            Self(
                state
                    .trusted_proxies
                    .client_ip(req.peer_addr().map(|a| a.ip()), forwarded),
            )
        }))
    }
}
