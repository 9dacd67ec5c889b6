//! The Postgres adapter: a diesel-async pool, the one way to open a unit of work under the
//! row-level-security rules of security.md ([`Db::tenant`], [`Db::anonymous`]), the embedded
//! migrations, and the repositories that implement the domains' store ports.
//!
//! SQL and diesel stop here: every failure leaves this crate as a [`kernel::StoreError`].

pub mod audit;
pub mod bus;
pub mod campaigns;
pub mod customers;
pub mod db;
pub mod error;
pub mod identity;
pub mod migrate;
pub mod outbox;
mod pipeline;
pub mod rate_limiter;
mod roles;
/// Diesel's view of the tables: `diesel print-schema`'s output (diesel.toml, `just schema`),
/// held against `migrations/` by `scripts/check-schema.sh`.
pub mod schema;
pub mod session_cache;
pub mod signing_keys;
pub mod token_store;

pub use audit::PgAuditLog;
pub use bus::InvalidationBus;
pub use campaigns::{PgCampaignStore, PgCampaignTx, PgDataKeyStore};
pub use customers::{DEFAULT_MAX_CONCURRENT_IMPORTS, IMPORT_APPLICATION_NAME, PgCustomerStore};
pub use db::{CopyPool, Db, Lookup, PoolSettings, Tx};
pub use error::DbError;
pub use identity::PgIdentityStore;
pub use migrate::{MIGRATIONS, ensure_database, run_migrations};
pub use outbox::{OutboxListener, PgOutbox};
pub use rate_limiter::PgRateLimiter;
pub use session_cache::SessionCache;
pub use signing_keys::PgSigningKeyStore;
pub use token_store::PgTokenStore;
