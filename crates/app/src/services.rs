//! The domain services that the server and the operator commands share, wired in one place:
//! [`Services::build`] is called by `Application::build` (with the listeners and workers of a
//! running server around it) and by `admin.rs` (on a small pool, without them).

use std::sync::Arc;

use chrono::Duration as TimeDelta;
use identity::ports::GeoLocator;
use identity::{IdentityDeps, IdentityService, IdentityStores};
use kernel::{Clock, SealingKey};
use platform::BcryptHasher;
use postgres::{Db, PgAuditLog, PgIdentityStore, PgRateLimiter, PgTokenStore, SessionCache};
use tokens::{KeyRing, TokenIssuer, TokenService, TokenSettings};

use crate::error::AppError;
use crate::settings::Settings;

/// How long a token this server issues can stay valid: a signing key is kept for verifying
/// that long after it stops signing.
pub(crate) fn max_token_lifetime(settings: &Settings) -> TimeDelta {
    let auth = &settings.auth;
    TimeDelta::seconds(auth.access_ttl_secs)
        .max(TimeDelta::minutes(tokens::service::SHORT_LIVED_MAX_MINUTES))
        + TimeDelta::seconds(auth.leeway_secs)
}

/// What the shared services run on, beyond the pool and the settings.
pub(crate) struct ServiceDeps {
    /// The signing keys, as loaded at start.
    pub ring: KeyRing,
    /// This instance's session cache (a server keeps it in step with the others).
    pub sessions: Arc<SessionCache>,
    pub limiter: Arc<PgRateLimiter>,
    /// Seals secrets at rest (TOTP secrets, queued emails).
    pub master: Arc<SealingKey>,
    pub geo: Arc<dyn GeoLocator>,
    pub clock: Arc<dyn Clock>,
}

/// The token and identity services, on their Postgres stores.
pub(crate) struct Services {
    pub issuer: Arc<TokenIssuer>,
    pub tokens: Arc<TokenService>,
    pub identity: Arc<IdentityService>,
}

impl Services {
    pub(crate) fn build(db: &Db, settings: &Settings, deps: ServiceDeps) -> Result<Self, AppError> {
        let auth = &settings.auth;
        let issuer = Arc::new(TokenIssuer::new(
            TokenSettings {
                issuer: auth.issuer.clone(),
                audience: auth.audience.clone(),
                leeway: TimeDelta::seconds(auth.leeway_secs),
            },
            deps.ring,
        ));
        let tokens = Arc::new(TokenService::new(
            issuer.clone(),
            Arc::new(PgTokenStore::new(db.clone(), deps.sessions.clone())),
            Arc::new(PgAuditLog::new(db.clone())),
            deps.limiter.clone(),
            deps.clock.clone(),
            settings.token_policy(),
        ));
        let hasher =
            BcryptHasher::new(auth.bcrypt_cost).map_err(|e| AppError::Config(e.to_string()))?;
        let store = Arc::new(PgIdentityStore::new(db.clone(), deps.sessions));
        let identity = Arc::new(IdentityService::new(
            IdentityDeps {
                stores: IdentityStores::from_one(&store, Arc::new(PgAuditLog::new(db.clone()))),
                hasher: Arc::new(hasher),
                tokens: tokens.clone(),
                limiter: deps.limiter,
                secrets: deps.master,
                geo: deps.geo,
                clock: deps.clock,
            },
            settings.identity_policy(),
        ));
        Ok(Self {
            issuer,
            tokens,
            identity,
        })
    }
}
