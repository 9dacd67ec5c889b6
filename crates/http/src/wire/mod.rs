//! Request and response bodies as the API shows them (api.md), apart from the domain types:
//! one module per area, all re-exported here (`crate::wire::X`).

mod account;
mod campaigns;
mod customers;
mod identity;
mod tokens;
mod users;
mod workspaces;

pub use account::*;
pub use campaigns::*;
pub use customers::*;
pub use identity::*;
pub use tokens::*;
pub use users::*;
pub use workspaces::*;

use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageBody {
    #[schema(example = "Successfully logged out")]
    pub message: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthBody {
    #[schema(example = "ok")]
    pub status: &'static str,
}
