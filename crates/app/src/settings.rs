//! Typed configuration: built-in defaults < optional file < `NUDGESCRIBE__SECTION__KEY`
//! environment variables (and `DATABASE_URL`), validated once at start-up.

use std::path::PathBuf;

use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

use crate::error::AppError;

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/nudgescribe";

/// Every field has its default (the `Default` impls below), so a file or the environment sets
/// only what differs.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub server: ServerSettings,
    pub auth: AuthSettings,
    pub rate_limits: RateLimitSettings,
    pub email: EmailSettings,
    pub geoip: GeoIpSettings,
    pub keys: KeySettings,
    pub log: LogSettings,
    pub campaigns: CampaignSettings,
    pub customers: CustomerSettings,
}

#[derive(Clone, Deserialize)]
#[serde(default)]
pub struct DatabaseSettings {
    /// May carry a password (`postgres://user:password@…`).
    pub url: SecretString,
    pub max_connections: usize,
    pub acquire_timeout_ms: u64,
    pub statement_timeout_ms: u64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    /// actix workers; 0 means one per core.
    pub workers: usize,
    /// Comma-separated IPs/CIDRs whose `X-Forwarded-For` is believed.
    pub trusted_proxies: String,
    pub json_limit_bytes: usize,
    pub shutdown_timeout_secs: u64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct AuthSettings {
    pub bcrypt_cost: u32,
    pub issuer: String,
    pub audience: String,
    pub access_ttl_secs: i64,
    pub refresh_ttl_secs: i64,
    /// A session's absolute lifetime; unset (or shorter), `refresh_ttl_secs`. Refreshes never
    /// extend a session past it.
    pub session_max_secs: Option<i64>,
    /// A refresh token used less than this many seconds ago may be presented again without
    /// counting as reuse (a client retrying a lost response). 0: never.
    pub refresh_overlap_secs: i64,
    pub leeway_secs: i64,
    /// How long an invitation code stays valid.
    pub invitation_ttl_secs: i64,
    /// How long a password-reset code stays valid.
    pub reset_ttl_secs: i64,
    /// How long an email verification code stays valid.
    pub email_verification_ttl_secs: i64,
    /// Consecutive failed sign-ins that lock an account ...
    pub max_failed_signins: i32,
    /// ... for this many seconds.
    pub lockout_secs: i64,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct GeoIpSettings {
    /// A MaxMind-format `.mmdb` (country or city); unset: every location is unknown.
    pub database: Option<PathBuf>,
}

#[derive(Clone, Deserialize)]
#[serde(default)]
pub struct EmailSettings {
    /// `smtp://host:port` (or `smtps://`, with `user:password@`); unset: emails are logged.
    pub smtp_url: Option<SecretString>,
    /// The sender of every email.
    pub from: String,
}

/// Limits shared by every instance (counted in Postgres), per minute.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct RateLimitSettings {
    /// `POST /v1/auth` and `GET /v1/auth/token` attempts per API key.
    pub client_auth_per_key_per_minute: u32,
    /// The same, per client IP.
    pub client_auth_per_ip_per_minute: u32,
    /// `POST /v1/auth/login` attempts per client IP.
    pub signin_per_ip_per_minute: u32,
    /// `POST /v1/auth/login/mfa` attempts per user.
    pub mfa_per_user_per_minute: u32,
    /// `POST /v1/auth/password-reset` requests per email address, per 15 minutes.
    pub password_reset_per_email: u32,
    /// `POST /v1/signup` per client address, per hour.
    pub signup_per_ip_per_hour: u32,
    /// Invitations (`POST /v1/users`) per account, per hour.
    pub invitations_per_account_per_hour: u32,
    /// Verification emails (`POST /v1/me/email/verify/resend`) per user, per hour.
    pub email_verification_per_user_per_hour: u32,
    /// IPv6 clients are limited per network of this many bits (IPv4 per address).
    pub ipv6_prefix: u8,
}

#[derive(Clone, Deserialize)]
#[serde(default)]
pub struct KeySettings {
    /// Base64 of 32 bytes; seals secrets stored in the database. Unset: read from (or
    /// generated into) `master_key_file`.
    pub master_key: Option<SecretString>,
    pub master_key_file: PathBuf,
    /// An Ed25519 private key (PKCS#8 PEM) to sign tokens with, inline or as a file.
    pub signing_key: Option<SecretString>,
    pub signing_key_file: Option<PathBuf>,
    /// Comma-separated base64 keys (32 bytes each) wrapping the workspace data keys that
    /// encrypt messages; the first wraps new data keys, all unwrap. Unset: read from (or
    /// generated into) `message_master_key_file`.
    pub message_master_keys: Option<SecretString>,
    /// One base64 key per line, the first active; rewritten by `keys rotate-master`.
    pub message_master_key_file: PathBuf,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct CampaignSettings {
    /// Largest JSON body of a message publish request (1,000 messages), in bytes.
    pub publish_json_limit_bytes: usize,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct CustomerSettings {
    /// Largest customer upload (CSV or JSON), in bytes; larger answers 413.
    pub max_upload_bytes: u64,
    /// Most items in one bulk update, bulk delete or group membership change.
    pub max_bulk_items: usize,
    /// Uploads holding an import connection at once, per instance (outside the pool); one
    /// more answers 503 with `Retry-After`, never waits.
    pub max_concurrent_uploads: usize,
    /// An upload whose body sends nothing for this long is abandoned (400), nothing written.
    pub body_idle_secs: u64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct LogSettings {
    /// `tracing` filter directives, e.g. `info` or `nudgescribe=debug,info`.
    pub level: String,
    /// `plain` for people, `json` for log pipelines.
    pub format: LogFormat,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Plain,
    Json,
}

// The defaults, as `.env.example` lists them.

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: DEFAULT_DATABASE_URL.into(),
            max_connections: 16,
            acquire_timeout_ms: 5_000,
            statement_timeout_ms: 30_000,
        }
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8080,
            workers: 0,
            trusted_proxies: String::new(),
            json_limit_bytes: 1_048_576,
            shutdown_timeout_secs: 30,
        }
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            bcrypt_cost: 12,
            issuer: "nudgescribe".into(),
            audience: "nudgescribe-api".into(),
            access_ttl_secs: 14 * 24 * 3600,
            refresh_ttl_secs: 15 * 24 * 3600,
            session_max_secs: None,
            refresh_overlap_secs: 0,
            leeway_secs: 30,
            invitation_ttl_secs: 7 * 24 * 3600,
            reset_ttl_secs: 15 * 60,
            email_verification_ttl_secs: 2 * 24 * 3600,
            max_failed_signins: 5,
            lockout_secs: 15 * 60,
        }
    }
}

impl Default for EmailSettings {
    fn default() -> Self {
        Self {
            smtp_url: None,
            from: "NudgeScribe <no-reply@nudgescribe.localhost>".into(),
        }
    }
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            client_auth_per_key_per_minute: 300,
            client_auth_per_ip_per_minute: 600,
            signin_per_ip_per_minute: 5,
            mfa_per_user_per_minute: 3,
            password_reset_per_email: 1,
            signup_per_ip_per_hour: 10,
            invitations_per_account_per_hour: 50,
            email_verification_per_user_per_hour: 5,
            ipv6_prefix: 64,
        }
    }
}

impl Default for KeySettings {
    fn default() -> Self {
        Self {
            master_key: None,
            master_key_file: ".nudgescribe/master.key".into(),
            signing_key: None,
            signing_key_file: None,
            message_master_keys: None,
            message_master_key_file: ".nudgescribe/message-master.keys".into(),
        }
    }
}

impl Default for CampaignSettings {
    fn default() -> Self {
        Self {
            publish_json_limit_bytes: 16 * 1024 * 1024,
        }
    }
}

impl Default for CustomerSettings {
    fn default() -> Self {
        Self {
            max_upload_bytes: 512 * 1024 * 1024,
            max_bulk_items: 10_000,
            max_concurrent_uploads: 4,
            body_idle_secs: 30,
        }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Plain,
        }
    }
}

// Secrets print as `..`: what is set shows, never its value.

/// A secret's place in `Debug`.
struct Redacted;

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("..")
    }
}

/// `Some(..)` or `None`, for a secret in `Debug`.
fn secret_state(secret: Option<&SecretString>) -> Option<Redacted> {
    secret.map(|_| Redacted)
}

impl std::fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &Redacted)
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout_ms", &self.acquire_timeout_ms)
            .field("statement_timeout_ms", &self.statement_timeout_ms)
            .finish()
    }
}

impl std::fmt::Debug for EmailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailSettings")
            .field("smtp_url", &secret_state(self.smtp_url.as_ref()))
            .field("from", &self.from)
            .finish()
    }
}

impl std::fmt::Debug for KeySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySettings")
            .field("master_key", &secret_state(self.master_key.as_ref()))
            .field("master_key_file", &self.master_key_file)
            .field("signing_key", &secret_state(self.signing_key.as_ref()))
            .field("signing_key_file", &self.signing_key_file)
            .field(
                "message_master_keys",
                &secret_state(self.message_master_keys.as_ref()),
            )
            .field("message_master_key_file", &self.message_master_key_file)
            .finish()
    }
}

impl Settings {
    /// Defaults (the `Default` impls), then `file` (if given; it must exist), then the
    /// environment.
    pub fn load(file: Option<&std::path::Path>) -> Result<Self, AppError> {
        let mut builder = config::Config::builder();
        if let Some(file) = file {
            builder = builder.add_source(config::File::from(file).required(true));
        }
        builder = builder.add_source(
            config::Environment::with_prefix("NUDGESCRIBE")
                .prefix_separator("__")
                .separator("__")
                .ignore_empty(true)
                .try_parsing(true),
        );
        if let (None, Ok(url)) = (
            std::env::var_os("NUDGESCRIBE__DATABASE__URL"),
            std::env::var("DATABASE_URL"),
        ) {
            builder = builder.set_override("database.url", url)?;
        }
        let settings: Self = builder.build()?.try_deserialize()?;
        settings.validate()?;
        Ok(settings)
    }

    /// The token model's lifetimes and client-auth limits, as configured.
    #[must_use]
    pub fn token_policy(&self) -> tokens::TokenPolicy {
        let auth = &self.auth;
        let limits = &self.rate_limits;
        tokens::TokenPolicy {
            access_ttl: chrono::TimeDelta::seconds(auth.access_ttl_secs),
            refresh_ttl: chrono::TimeDelta::seconds(auth.refresh_ttl_secs),
            session_max: chrono::TimeDelta::seconds(
                auth.session_max_secs.unwrap_or(auth.refresh_ttl_secs),
            ),
            refresh_overlap: chrono::TimeDelta::seconds(auth.refresh_overlap_secs),
            client_auth_per_key: kernel::RateLimit::per_minute(
                limits.client_auth_per_key_per_minute,
            ),
            client_auth_per_ip: kernel::RateLimit::per_minute(limits.client_auth_per_ip_per_minute),
            ipv6_prefix: limits.ipv6_prefix,
        }
    }

    /// Identity's code lifetimes, limits and lockout, as configured.
    #[must_use]
    pub fn identity_policy(&self) -> identity::IdentityPolicy {
        let auth = &self.auth;
        let limits = &self.rate_limits;
        let per_hour = |limit| kernel::RateLimit {
            limit,
            window: chrono::TimeDelta::hours(1),
        };
        identity::IdentityPolicy {
            invitation_ttl: chrono::TimeDelta::seconds(auth.invitation_ttl_secs),
            signin_per_ip: kernel::RateLimit::per_minute(limits.signin_per_ip_per_minute),
            mfa_per_user: kernel::RateLimit::per_minute(limits.mfa_per_user_per_minute),
            reset_per_email: kernel::RateLimit {
                limit: limits.password_reset_per_email,
                window: chrono::TimeDelta::minutes(15),
            },
            reset_ttl: chrono::TimeDelta::seconds(auth.reset_ttl_secs),
            max_failed_signins: auth.max_failed_signins,
            lockout: chrono::TimeDelta::seconds(auth.lockout_secs),
            signup_per_ip: per_hour(limits.signup_per_ip_per_hour),
            invitations_per_account: per_hour(limits.invitations_per_account_per_hour),
            verification_per_user: per_hour(limits.email_verification_per_user_per_hour),
            ipv6_prefix: limits.ipv6_prefix,
            verification_ttl: chrono::TimeDelta::seconds(auth.email_verification_ttl_secs),
        }
    }

    fn validate(&self) -> Result<(), AppError> {
        let mut problems = Vec::new();
        let url = self.database.url.expose_secret();
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            problems.push("database.url (DATABASE_URL) must be a postgres:// URL".to_owned());
        }
        if self.database.max_connections == 0 {
            problems.push("database.max_connections must be at least 1".to_owned());
        }
        if !(4..=31).contains(&self.auth.bcrypt_cost) {
            problems.push("auth.bcrypt_cost must be between 4 and 31".to_owned());
        }
        if self.auth.access_ttl_secs <= 0 || self.auth.refresh_ttl_secs <= 0 {
            problems
                .push("auth.access_ttl_secs and auth.refresh_ttl_secs must be positive".to_owned());
        }
        if !(32..=128).contains(&self.rate_limits.ipv6_prefix) {
            problems.push("rate_limits.ipv6_prefix must be between 32 and 128".to_owned());
        }
        if self.auth.session_max_secs.is_some_and(|secs| secs <= 0) {
            problems.push("auth.session_max_secs must be positive when set".to_owned());
        }
        if !(0..=300).contains(&self.auth.refresh_overlap_secs) {
            problems.push("auth.refresh_overlap_secs must be between 0 and 300".to_owned());
        }
        if self.auth.invitation_ttl_secs <= 0 || self.auth.reset_ttl_secs <= 0 {
            problems.push(
                "auth.invitation_ttl_secs and auth.reset_ttl_secs must be positive".to_owned(),
            );
        }
        if !(0..=300).contains(&self.auth.leeway_secs) {
            problems.push("auth.leeway_secs must be between 0 and 300".to_owned());
        }
        if self.auth.max_failed_signins < 1 || self.auth.lockout_secs < 1 {
            problems
                .push("auth.max_failed_signins and auth.lockout_secs must be positive".to_owned());
        }
        if self.rate_limits.client_auth_per_key_per_minute == 0
            || self.rate_limits.client_auth_per_ip_per_minute == 0
            || self.rate_limits.signin_per_ip_per_minute == 0
            || self.rate_limits.password_reset_per_email == 0
            || self.rate_limits.mfa_per_user_per_minute == 0
        {
            problems.push("rate limits must be at least 1 per minute".to_owned());
        }
        if let Err(e) = http::TrustedProxies::parse(&self.server.trusted_proxies) {
            problems.push(format!("server.trusted_proxies: {e}"));
        }
        if self.keys.signing_key.is_some() && self.keys.signing_key_file.is_some() {
            problems.push("set keys.signing_key or keys.signing_key_file, not both".to_owned());
        }
        if let Some(keys) = &self.keys.message_master_keys
            && let Err(e) = crate::message_keys::parse_message_keys(keys.expose_secret())
        {
            problems.push(format!("keys.message_master_keys: {e}"));
        }
        if self.campaigns.publish_json_limit_bytes < self.server.json_limit_bytes {
            problems.push(
                "campaigns.publish_json_limit_bytes must be at least server.json_limit_bytes"
                    .to_owned(),
            );
        }
        if self.customers.max_concurrent_uploads == 0 || self.customers.body_idle_secs == 0 {
            problems.push(
                "customers.max_concurrent_uploads and customers.body_idle_secs must be at least 1"
                    .to_owned(),
            );
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(AppError::Config(problems.join("; ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Result<Settings, AppError> {
        // One file per call: the tests of this module run in parallel in one process.
        let unique: String = kernel::seal::random_bytes::<8>()
            .map(|b| b.iter().map(|x| format!("{x:02x}")).collect())
            .unwrap_or_default();
        let file = std::env::temp_dir().join(format!(
            "nudgescribe-settings-{}-{unique}.toml",
            std::process::id()
        ));
        std::fs::write(&file, "[server]\nport = 9191\n")?;
        let settings = Settings::load(Some(&file));
        std::fs::remove_file(&file)?;
        settings
    }

    #[test]
    fn a_file_overrides_the_defaults() -> Result<(), AppError> {
        let settings = defaults()?;
        assert_eq!(settings.server.port, 9191);
        assert_eq!(settings.auth.bcrypt_cost, 12);
        assert_eq!(settings.auth.access_ttl_secs, 14 * 24 * 3600);
        assert_eq!(settings.auth.refresh_ttl_secs, 15 * 24 * 3600);
        Ok(())
    }

    #[test]
    fn invalid_values_are_named() -> Result<(), AppError> {
        let mut settings = defaults()?;
        settings.database.url = "mysql://nope".into();
        settings.auth.bcrypt_cost = 3;
        settings.server.trusted_proxies = "10.0.0.0/8, bogus".into();
        let Err(AppError::Config(message)) = settings.validate() else {
            panic!("expected a configuration error");
        };
        for named in [
            "database.url",
            "auth.bcrypt_cost",
            "server.trusted_proxies",
            "bogus",
        ] {
            assert!(message.contains(named), "{named} in {message}");
        }
        Ok(())
    }

    #[test]
    fn a_missing_config_file_is_an_error() {
        let missing = std::path::Path::new("/nonexistent/nudgescribe.toml");
        assert!(matches!(
            Settings::load(Some(missing)),
            Err(AppError::Config(_))
        ));
    }
}
