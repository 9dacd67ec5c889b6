//! The composition root: configuration, wiring of adapters into ports, and the `nudgescribe`
//! binary's commands. The only crate that knows every concrete type.

pub mod admin;
pub mod error;
pub mod keys;
pub mod message_keys;
pub mod outbox_worker;
mod services;
pub mod settings;
pub mod startup;
pub mod telemetry;

pub use error::AppError;
pub use settings::Settings;
pub use startup::{Application, prepare_database};
