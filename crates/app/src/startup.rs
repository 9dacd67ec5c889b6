//! Wiring: every concrete adapter meets its port here, and nowhere else.

use std::net::TcpListener;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{HttpServer, web};
use async_trait::async_trait;
use campaigns::{CampaignDeps, CampaignPolicy, CampaignService};
use chrono::Duration as TimeDelta;
use customers::{CustomerPolicy, CustomerService};
use http::{AppState, HealthCheck, TrustedProxies, build_app};
use identity::ports::GeoLocator;
use kernel::SealingKey;
use kernel::{Clock, Mailer, OutboxDelivery, OutboxSettings};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use platform::{LogMailer, MaxMindLocator, SmtpMailer, SystemClock, UnknownLocations};
use postgres::{
    Db, InvalidationBus, PgCampaignStore, PgCustomerStore, PgOutbox, PgRateLimiter,
    PgSigningKeyStore, PoolSettings, SessionCache,
};
use secrecy::ExposeSecret as _;
use tokens::{KeyOrigin, KeyRing, SigningKey, TokenIssuer, load_key_ring};

use crate::error::AppError;
use crate::keys::{configured_signing_key, load_master_key};
use crate::message_keys::MessageKeys;
use crate::services::{ServiceDeps, Services, max_token_lifetime};
use crate::settings::Settings;

/// Creates the database when it is missing and applies pending migrations.
pub async fn prepare_database(settings: &Settings) -> Result<(), AppError> {
    let url = settings.database.url.expose_secret();
    let created = postgres::ensure_database(url).await.map_err(|e| match e {
        postgres::DbError::Connect { url, reason } => AppError::DatabaseUnreachable { url, reason },
        other => other.into(),
    })?;
    if created {
        tracing::info!(database = %postgres::migrate::redact(url), "created the database");
    }
    let applied = postgres::run_migrations(url).await?;
    for version in &applied {
        tracing::info!(%version, "applied migration");
    }
    Ok(())
}

/// The metrics recorder is process-wide: installed once, shared by every server in the process.
fn metrics_handle() -> Result<PrometheusHandle, AppError> {
    static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .install_recorder()
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|e| AppError::Config(format!("metrics recorder: {e}")))
}

/// Where this instance's signing keys come from, for start-up and every reload.
struct KeySource {
    store: PgSigningKeyStore,
    master: Arc<SealingKey>,
    configured: Option<SigningKey>,
    max_token_lifetime: TimeDelta,
}

impl KeySource {
    async fn load(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(KeyRing, KeyOrigin), AppError> {
        Ok(load_key_ring(
            &self.store,
            &self.master,
            self.configured.as_ref(),
            now,
            self.max_token_lifetime,
        )
        .await?)
    }

    /// Reloads the key ring whenever any instance rotates keys (and every five minutes, so
    /// that keys whose tokens have all expired leave the JWKS), for as long as the server runs.
    #[allow(
        clippy::disallowed_methods,
        reason = "a loop of the composition root, paced by real time"
    )]
    async fn follow_rotations(
        self,
        issuer: Arc<TokenIssuer>,
        bus: Arc<InvalidationBus>,
        clock: Arc<dyn Clock>,
    ) {
        loop {
            tokio::select! {
                () = bus.signing_keys_changed() => {}
                () = tokio::time::sleep(Duration::from_secs(300)) => {}
            }
            match self.load(clock.now()).await {
                Ok((ring, _)) => issuer.replace_ring(ring),
                Err(error) => tracing::warn!(%error, "could not reload the signing keys"),
            }
        }
    }
}

/// Drops spent rate-limit counters once a minute, for as long as the server runs.
#[allow(
    clippy::disallowed_methods,
    reason = "a loop of the composition root, paced by real time"
)]
async fn sweep_rate_limits(limiter: Arc<PgRateLimiter>, clock: Arc<dyn Clock>) {
    let mut every_minute = tokio::time::interval(Duration::from_secs(60));
    loop {
        every_minute.tick().await;
        if let Err(error) = limiter.sweep(clock.now(), TimeDelta::hours(1)).await {
            tracing::warn!(%error, "could not sweep rate-limit counters");
        }
    }
}

struct DbHealth(Db);

#[async_trait]
impl HealthCheck for DbHealth {
    async fn ready(&self) -> Result<(), String> {
        self.0.check().await.map_err(|e| format!("database: {e}"))
    }
}

/// A built server, bound to its port, not yet running.
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Prepares the database, loads keys, wires services and binds the listener (port 0 picks
    /// a free one; see [`Application::port`]).
    pub async fn build(settings: Settings) -> Result<Self, AppError> {
        prepare_database(&settings).await?;
        let db = Db::connect(
            settings.database.url.expose_secret(),
            &PoolSettings {
                max_connections: settings.database.max_connections,
                acquire_timeout: Duration::from_millis(settings.database.acquire_timeout_ms),
                statement_timeout: Duration::from_millis(settings.database.statement_timeout_ms),
            },
        )?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);

        let master = Arc::new(load_master_key(&settings.keys)?);
        let keys = KeySource {
            store: PgSigningKeyStore::new(db.clone()),
            master: master.clone(),
            configured: configured_signing_key(&settings.keys)?,
            max_token_lifetime: max_token_lifetime(&settings),
        };
        let (ring, origin) = keys.load(clock.now()).await?;
        match origin {
            KeyOrigin::Generated { kid } => tracing::warn!(
                %kid,
                "no signing key configured: generated one and stored it in the database, \
                 sealed under the master key"
            ),
            KeyOrigin::Stored { kid } | KeyOrigin::Configured { kid } => {
                tracing::info!(%kid, "signing tokens with key");
            }
        }
        let session_cache = Arc::new(SessionCache::default());
        let bus = Arc::new(InvalidationBus::new(session_cache.clone()));
        tokio::spawn(
            bus.clone()
                .listen(settings.database.url.expose_secret().to_owned()),
        );
        let limiter = Arc::new(PgRateLimiter::new(db.clone()));
        tokio::spawn(sweep_rate_limits(limiter.clone(), clock.clone()));
        let geo: Arc<dyn GeoLocator> = match &settings.geoip.database {
            Some(path) => {
                Arc::new(MaxMindLocator::open(path).map_err(|e| AppError::Config(e.to_string()))?)
            }
            None => {
                tracing::info!(
                    "NUDGESCRIBE__GEOIP__DATABASE is unset: sign-in locations are unknown"
                );
                Arc::new(UnknownLocations)
            }
        };
        let Services {
            issuer,
            tokens,
            identity,
        } = Services::build(
            &db,
            &settings,
            ServiceDeps {
                ring,
                sessions: session_cache.clone(),
                limiter,
                master: master.clone(),
                geo,
                clock: clock.clone(),
            },
        )?;
        tokio::spawn(keys.follow_rotations(issuer, bus, clock.clone()));
        let message_keys = MessageKeys::load(&settings.keys)?;
        tracing::info!(
            key_id = %campaigns::ports::MasterKeys::active(&message_keys).id(),
            "wrapping new workspace data keys under message master key"
        );
        let campaigns = Arc::new(CampaignService::new(
            CampaignDeps {
                store: Arc::new(PgCampaignStore::new(db.clone())),
                master_keys: Arc::new(message_keys),
                clock: clock.clone(),
            },
            CampaignPolicy::default(),
        ));
        let customers = Arc::new(CustomerService::new(
            Arc::new(PgCustomerStore::with_max_concurrent_imports(
                db.clone(),
                settings.customers.max_concurrent_uploads,
            )),
            clock.clone(),
            CustomerPolicy {
                max_upload_bytes: settings.customers.max_upload_bytes,
                max_bulk_items: settings.customers.max_bulk_items,
                upload_body_idle: Duration::from_secs(settings.customers.body_idle_secs),
            },
        ));
        let mailer: Arc<dyn Mailer> = match &settings.email.smtp_url {
            Some(url) => Arc::new(
                SmtpMailer::new(url.expose_secret(), &settings.email.from)
                    .map_err(|e| AppError::Config(e.to_string()))?,
            ),
            None => {
                tracing::warn!(
                    "NUDGESCRIBE__EMAIL__SMTP_URL is unset: emails will be logged, not sent"
                );
                Arc::new(LogMailer)
            }
        };
        let delivery = OutboxDelivery::new(
            Arc::new(PgOutbox::new(db.clone())),
            mailer,
            master,
            Arc::new(SystemClock),
            OutboxSettings::default(),
        );
        tokio::spawn(crate::outbox_worker::run(
            delivery,
            settings.database.url.expose_secret().to_owned(),
        ));
        let state = web::Data::new(AppState {
            identity,
            tokens,
            campaigns,
            customers,
            health: Arc::new(DbHealth(db)),
            metrics: metrics_handle()?,
            trusted_proxies: TrustedProxies::parse(&settings.server.trusted_proxies)
                .map_err(|e| AppError::Config(e.to_string()))?,
            json_limit: settings.server.json_limit_bytes,
            publish_json_limit: settings.campaigns.publish_json_limit_bytes,
        });

        let address = format!("{}:{}", settings.server.host, settings.server.port);
        let listener = TcpListener::bind(&address).map_err(|e| AppError::Bind {
            address: address.clone(),
            reason: e.to_string(),
        })?;
        let port = listener.local_addr()?.port();
        let mut server = HttpServer::new(move || build_app(state.clone()))
            .shutdown_timeout(settings.server.shutdown_timeout_secs);
        if settings.server.workers > 0 {
            server = server.workers(settings.server.workers);
        }
        let server = server
            .listen(listener)
            .map_err(|e| AppError::Bind {
                address,
                reason: e.to_string(),
            })?
            .run();
        Ok(Self { port, server })
    }

    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGINT/SIGTERM, then finishes in-flight requests (graceful shutdown).
    pub async fn run_until_stopped(self) -> Result<(), AppError> {
        self.server.await.map_err(AppError::from)
    }
}
