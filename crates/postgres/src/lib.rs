//! The Postgres adapter: a diesel-async pool, the one way to open a unit of work under the
//! row-level-security rules of security.md ([`Db::tenant`], [`Db::anonymous`]), the embedded
//! migrations, and the repositories that implement the domains' store ports.
//!
//! SQL and diesel stop here: every failure leaves this crate as a [`kernel::StoreError`].

pub mod db;
pub mod error;
pub mod identity_store;
pub mod migrate;
pub mod schema;
pub mod signing_keys;

pub use db::{Db, PoolSettings, Tx};
pub use error::DbError;
pub use identity_store::PgIdentityStore;
pub use migrate::{MIGRATIONS, ensure_database, run_migrations};
pub use signing_keys::PgSigningKeyStore;
