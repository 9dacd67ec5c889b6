//! The HTTP adapter: the actix-web application, its routes, the Bearer extractor that turns a
//! token into an [`kernel::Actor`], error → status mapping in one place ([`error::ApiError`]),
//! request ids, tracing spans and metrics, and the OpenAPI document with its interactive docs.
//!
//! Handlers are thin: extract, call one domain service, map the result.

pub mod app;
pub mod auth;
pub mod client_ip;
pub mod error;
pub mod headers;
pub mod known_routes;
pub mod observe;
pub mod paging;
pub mod routes;
pub mod state;
pub mod wire;

pub use app::build_app;
pub use client_ip::TrustedProxies;
pub use error::ApiError;
pub use state::{AppState, HealthCheck};
