//! The Postgres adapter: a diesel-async pool, the one way to open a unit of work under the
//! row-level-security rules of security.md ([`Db::tenant`], [`Db::anonymous`]), the embedded
//! migrations, and the repositories that implement the domains' store ports.
//!
//! SQL and diesel stop here: every failure leaves this crate as a [`kernel::StoreError`].

pub mod api_key_store;
pub mod audience;
pub mod audit;
pub mod campaign_store;
mod customer_import;
pub mod customer_store;
pub mod data_key_store;
pub mod db;
pub mod email_verification_store;
pub mod error;
pub mod identity_store;
mod message_store;
pub mod migrate;
pub mod outbox;
pub mod rate_limiter;
mod roles;
/// Diesel's view of the tables: `diesel print-schema`'s output (diesel.toml, `just schema`),
/// held against `migrations/` by `scripts/check-schema.sh`.
pub mod schema;
pub mod session_cache;
pub mod session_store;
pub mod signing_keys;

pub use api_key_store::PgApiKeyStore;
pub use audience::PgAudience;
pub use audit::PgAuditLog;
pub use campaign_store::PgCampaignStore;
pub use customer_import::{DEFAULT_MAX_CONCURRENT_IMPORTS, IMPORT_APPLICATION_NAME};
pub use customer_store::PgCustomerStore;
pub use data_key_store::PgDataKeyStore;
pub use db::{Db, Lookup, PoolSettings, Tx};
pub use email_verification_store::PgEmailVerificationStore;
pub use error::DbError;
pub use identity_store::PgIdentityStore;
pub use migrate::{MIGRATIONS, ensure_database, run_migrations};
pub use outbox::{OutboxListener, PgOutbox};
pub use rate_limiter::PgRateLimiter;
pub use session_cache::SessionCache;
pub use session_store::PgSessionStore;
pub use signing_keys::PgSigningKeyStore;
