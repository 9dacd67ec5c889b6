//! One module per area; each handler: extract → one service call → map.

pub mod account;
pub mod campaigns;
pub mod credentials;
pub mod customer_groups;
pub mod customer_upload;
pub mod customers;
pub mod health;
pub mod identity;
pub mod jwks;
pub mod messages;
pub mod profile_fields;
pub mod tokens;
pub mod users;
pub mod workspaces;
