//! Operator commands that work on the database directly (no server needed).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use identity::IdentityService;
use kernel::Clock;
use platform::{SystemClock, UnknownLocations};
use postgres::{Db, PgDataKeyStore, PgRateLimiter, PgSigningKeyStore, PoolSettings, SessionCache};
use secrecy::ExposeSecret as _;
use tokens::load_key_ring;
use tokens::ports::StoredSigningKey;

use crate::error::AppError;
use crate::keys::{configured_signing_key, load_master_key};
use crate::message_keys::{KeySource, MessageKeys};
use crate::services::{ServiceDeps, Services, max_token_lifetime};
use crate::settings::Settings;
use crate::startup::prepare_database;

async fn key_store(settings: &Settings) -> Result<PgSigningKeyStore, AppError> {
    prepare_database(settings).await?;
    let db = Db::connect(
        settings.database.url.expose_secret(),
        &PoolSettings {
            max_connections: 1,
            ..PoolSettings::default()
        },
    )?;
    Ok(PgSigningKeyStore::new(db))
}

/// Adds a new signing key, sealed under the master key. Running instances hear of it at once
/// and verify its tokens; they sign with it once `activate_in` has passed.
pub async fn rotate_signing_key(
    settings: &Settings,
    activate_in: Duration,
) -> Result<StoredSigningKey, AppError> {
    let store = key_store(settings).await?;
    let master = load_master_key(&settings.keys)?;
    let activate_in = chrono::Duration::from_std(activate_in)
        .map_err(|e| AppError::Config(format!("--activate-in: {e}")))?;
    let key = tokens::rotate_signing_key(&store, &master, SystemClock.now(), activate_in).await?;
    tracing::info!(kid = %key.kid, activates_at = %key.activates_at, "signing key added");
    Ok(key)
}

/// Every stored signing key, newest first (audited as `signing_keys_listed`).
pub async fn signing_keys(settings: &Settings) -> Result<Vec<StoredSigningKey>, AppError> {
    Ok(tokens::list_signing_keys(&key_store(settings).await?, SystemClock.now()).await?)
}

/// One line per key: kid, activation, and whether it signs, waits, or only verifies.
#[must_use]
pub fn describe(keys: &[StoredSigningKey], now: DateTime<Utc>) -> Vec<String> {
    let signing = keys
        .iter()
        .filter(|k| k.retired_at.is_none() && k.activates_at <= now)
        .map(|k| k.kid.as_str())
        .next();
    keys.iter()
        .map(|k| {
            let state = if Some(k.kid.as_str()) == signing {
                "signing"
            } else if k.activates_at > now {
                "pending"
            } else {
                "verifying"
            };
            let custody = if k.private_key_sealed.is_some() {
                "sealed in database"
            } else {
                "held outside"
            };
            format!(
                "{}  {state:<9}  activates {}  ({custody})",
                k.kid,
                k.activates_at.to_rfc3339()
            )
        })
        .collect()
}

/// What `keys rotate-master` did.
#[derive(Debug)]
pub struct MasterRotation {
    /// The id of the key generated into the key file, if one was.
    pub generated: Option<String>,
    pub outcome: campaigns::Rewrapped,
}

async fn data_key_store(settings: &Settings) -> Result<PgDataKeyStore, AppError> {
    prepare_database(settings).await?;
    // One connection holds the rotation lock while the other does the work.
    let db = Db::connect(
        settings.database.url.expose_secret(),
        &PoolSettings {
            max_connections: 2,
            ..PoolSettings::default()
        },
    )?;
    Ok(PgDataKeyStore::new(db))
}

/// Re-wraps every workspace data key under the active message master key — first adding a
/// new key to the key file, unless `rewrap_only` (or the keys come from configuration, where
/// the operator puts the new key first). Messages are not touched. Running servers keep
/// working throughout: the older keys stay in the ring, and a server meeting a data key
/// wrapped under a key it does not know reads its key file again.
pub async fn rotate_message_master_key(
    settings: &Settings,
    rewrap_only: bool,
) -> Result<MasterRotation, AppError> {
    let store = data_key_store(settings).await?;
    let lock = store.rotation_lock().await?;
    // Loaded under the lock, so that a rotation that just finished is seen.
    let keys = MessageKeys::load(&settings.keys)?;
    let generated = match keys.source() {
        KeySource::File(_) if !rewrap_only => Some(keys.add_generated_key()?),
        _ => None,
    };
    let outcome = campaigns::rewrap_data_keys(&store, &keys)
        .await
        .map_err(|e| AppError::Keys(format!("re-wrapping data keys: {e}")))?;
    lock.commit().await?;
    tracing::info!(
        master_key_id = %outcome.master_key_id,
        rewrapped = outcome.rewrapped,
        failed = outcome.failed.len(),
        "message master key rotated"
    );
    Ok(MasterRotation { generated, outcome })
}

/// One line per message master key (active first) with the data keys it wraps, then any
/// data keys wrapped under a key the ring lacks.
pub async fn message_master_keys(settings: &Settings) -> Result<Vec<String>, AppError> {
    let store = data_key_store(settings).await?;
    let keys = MessageKeys::load(&settings.keys)?;
    let counts = campaigns::ports::DataKeyStore::data_keys_per_master_key(&store).await?;
    let ring = keys.ring().ids();
    let count_of = |id: &str| counts.iter().find(|(k, _)| k == id).map_or(0, |(_, n)| *n);
    let mut lines: Vec<String> = ring
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let role = if i == 0 { "active" } else { "unwraps" };
            format!("{id}  {role:<8}  {} workspace data keys", count_of(id))
        })
        .collect();
    lines.extend(
        counts
            .iter()
            .filter(|(id, _)| !ring.contains(id))
            .map(|(id, n)| format!("{id}  MISSING   {n} workspace data keys (not in the ring!)")),
    );
    Ok(lines)
}

/// The identity service as the operator commands need it: the same stores and token service
/// as a server's, on a small pool, without the listeners and workers of a running server.
/// Sessions revoked here are announced over `NOTIFY`, so every running instance drops them
/// at once.
async fn operator_identity(settings: &Settings) -> Result<Arc<IdentityService>, AppError> {
    prepare_database(settings).await?;
    let db = Db::connect(
        settings.database.url.expose_secret(),
        &PoolSettings {
            max_connections: 2,
            ..PoolSettings::default()
        },
    )?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let master = Arc::new(load_master_key(&settings.keys)?);
    let (ring, _) = load_key_ring(
        &PgSigningKeyStore::new(db.clone()),
        &master,
        configured_signing_key(&settings.keys)?.as_ref(),
        clock.now(),
        max_token_lifetime(settings),
    )
    .await?;
    let services = Services::build(
        &db,
        settings,
        ServiceDeps {
            ring,
            sessions: Arc::new(SessionCache::default()),
            limiter: Arc::new(PgRateLimiter::new(db.clone())),
            master,
            // Operator commands sign no one in: no locations to look up.
            geo: Arc::new(UnknownLocations),
            clock,
        },
    )?;
    Ok(services.identity)
}

/// Where `admin create-account` got the owner's password.
#[derive(Debug)]
pub enum PasswordSource {
    /// Given by the operator (environment or stdin): not shown again.
    Given(String),
    /// Generated here: shown once, for the operator to hand over.
    Generated(String),
}

impl PasswordSource {
    fn expose(&self) -> &str {
        match self {
            Self::Given(p) | Self::Generated(p) => p,
        }
    }
}

/// A random password of 24 URL-safe characters (144 bits from the OS RNG).
pub fn generate_password() -> Result<String, AppError> {
    use base64::Engine as _;
    let bytes = kernel::seal::random_bytes::<18>()?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// What `admin create-account` made.
#[derive(Debug)]
pub struct CreatedAccount {
    pub outcome: identity::SignupOutcome,
    /// The generated password, if one was: print it once.
    pub generated_password: Option<String>,
}

/// Creates an account, its owner (with `password`) and its default workspace, audited as
/// `signup` with `detail.by = "operator"`.
pub async fn create_account(
    settings: &Settings,
    email: &str,
    full_name: &str,
    account_name: &str,
    password: PasswordSource,
) -> Result<CreatedAccount, AppError> {
    let identity = operator_identity(settings).await?;
    let outcome = identity
        .operator_create_account(identity::SignupInput {
            email: email.to_owned(),
            password: password.expose().to_owned(),
            full_name: full_name.to_owned(),
            account_name: account_name.to_owned(),
            ip: None,
        })
        .await?;
    tracing::info!(
        user_id = %outcome.user.id,
        account_id = %outcome.account.id,
        "account created by an operator"
    );
    Ok(CreatedAccount {
        outcome,
        generated_password: match password {
            PasswordSource::Generated(p) => Some(p),
            PasswordSource::Given(_) => None,
        },
    })
}

/// Turns the user's MFA off and deletes their recovery codes (audited as `mfa_disabled` with
/// `detail.by = "operator"`).
pub async fn reset_mfa(
    settings: &Settings,
    email: &str,
) -> Result<(identity::User, identity::MfaReset), AppError> {
    let identity = operator_identity(settings).await?;
    let reset = identity.operator_reset_mfa(email).await?;
    tracing::info!(user_id = %reset.0.id, outcome = ?reset.1, "MFA reset by an operator");
    Ok(reset)
}

/// Ends every session of the user on every instance (audited as `sessions_revoked` with
/// `detail.by = "operator"`).
pub async fn revoke_sessions(settings: &Settings, email: &str) -> Result<identity::User, AppError> {
    let identity = operator_identity(settings).await?;
    let user = identity.operator_revoke_sessions(email).await?;
    tracing::info!(user_id = %user.id, "sessions revoked by an operator");
    Ok(user)
}
