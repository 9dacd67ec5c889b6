//! Campaigns: campaigns of a workspace and their status rules, messages published into
//! envelope-encrypted storage and retrieved (audited), and master-key rotation.
//!
//! Services take an [`kernel::Actor`] and plain inputs and answer with domain types or
//! [`CampaignError`]. Storage, the customers it checks against, data keys, master keys and time
//! come through the ports in [`ports`]; this crate knows nothing of HTTP or SQL, nor of the
//! customers domain beyond its own [`ports::Audience`] port.

mod access;
mod campaigns;
pub mod crypto;
pub mod error;
mod messages;
pub mod models;
pub mod ports;
pub mod rotation;
pub mod service;

#[cfg(any(test, feature = "testing"))]
pub mod fakes;
#[cfg(test)]
mod service_tests;

pub use crypto::{DataKey, MasterKey, MasterKeyRing, MessageBinding};
pub use error::{CampaignError, FieldError};
pub use models::{
    Campaign, CampaignChanges, CampaignFilter, CampaignId, CampaignInput, CampaignStatus, Channel,
    GroupId, Keyset, Message, MessageContent, MessageFilter, MessageId, NewMessage, Page,
    PageRequest, Retrieval, SealedMessage, StoredDataKey, WrappedDataKey,
};
pub use rotation::{Rewrapped, rewrap_data_keys};
pub use service::{CampaignDeps, CampaignPolicy, CampaignService, SearchInput};
