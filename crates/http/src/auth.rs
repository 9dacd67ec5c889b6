//! Extractors for who is calling: one per [`Capability`] of the credential-kinds rule, so
//! that every protected handler names what it needs in its signature (a handler without one
//! is public), and [`ClientIp`].
//!
//! Each verifies the bearer token into an [`Actor`] and asks kernel's rule whether the
//! credential's kind may be used for the capability at all: a refresh or MFA token never
//! verifies (401), a kind the rule refuses is a 403 `credential_not_allowed`. Roles and scopes
//! are the services' to check.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use kernel::{Actor, Capability};

use crate::error::ApiError;
use crate::state::AppState;

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

fn authorize(
    req: &HttpRequest,
    capability: Capability,
) -> Pin<Box<dyn Future<Output = Result<Actor, ApiError>>>> {
    let token = bearer(req);
    let state = state(req);
    Box::pin(async move {
        let token = token.ok_or(ApiError::Unauthenticated)?;
        let actor = state?.tokens.authenticate(&token).await?;
        actor.require(capability)?;
        Ok(actor)
    })
}

macro_rules! capability_extractor {
    ($(#[$doc:meta])* $name:ident => $capability:expr) => {
        $(#[$doc])*
        pub struct $name(pub Actor);

        impl FromRequest for $name {
            type Error = ApiError;
            type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

            fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
                let actor = authorize(req, $capability);
                Box::pin(async move { actor.await.map(Self) })
            }
        }
    };
}

capability_extractor!(
    /// The caller's own credentials — password, MFA, API keys, sessions: a person's session.
    OwnCredentials => Capability::OwnCredentials
);
capability_extractor!(
    /// Every API key of the account: a person's session (the service asks for `users:manage`).
    CredentialAdministration => Capability::CredentialAdministration
);
capability_extractor!(
    /// Users, roles, workspace changes, the audit trail: a person's session, or a key session
    /// whose scopes name the permission (the service checks which).
    AccountAdministration => Capability::AccountAdministration
);
capability_extractor!(
    /// Workspace content and the caller's profile: any access or short-lived token, within its
    /// scope and the owner's roles.
    WorkspaceContent => Capability::WorkspaceContent
);
capability_extractor!(
    /// Ending the caller's own session (logout): any access or short-lived token.
    EndOwnSession => Capability::EndOwnSession
);

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
