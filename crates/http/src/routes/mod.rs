//! One module per area; each handler: extract → one service call → map.

pub mod account;
pub mod health;
pub mod identity;
pub mod jwks;
pub mod tokens;
pub mod users;
pub mod workspaces;
