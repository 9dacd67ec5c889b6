//! Operator commands that work on the database directly (no server needed).

use std::time::Duration;

use chrono::{DateTime, Utc};
use postgres::{Db, PgSigningKeyStore, PoolSettings};
use tokens::ports::{SigningKeyStore, StoredSigningKey};

use crate::error::AppError;
use crate::keys::load_master_key;
use crate::settings::Settings;
use crate::startup::prepare_database;

async fn key_store(settings: &Settings) -> Result<PgSigningKeyStore, AppError> {
    prepare_database(settings).await?;
    let db = Db::connect(
        &settings.database.url,
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
    let key = tokens::rotate_signing_key(&store, &master, Utc::now(), activate_in).await?;
    tracing::info!(kid = %key.kid, activates_at = %key.activates_at, "signing key added");
    Ok(key)
}

/// Every stored signing key, newest first.
pub async fn signing_keys(settings: &Settings) -> Result<Vec<StoredSigningKey>, AppError> {
    Ok(key_store(settings).await?.signing_keys().await?)
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
