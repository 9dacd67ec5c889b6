//! Campaigns and messages: request and response bodies.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::*;

/// Where a campaign's messages go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Email.
    Email,
    /// SMS.
    Sms,
    /// Push notification.
    Push,
    /// In-app message.
    InApp,
}

/// `draft → active → paused ↔ active → completed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    /// Being prepared.
    Draft,
    /// Running.
    Active,
    /// Stopped for now.
    Paused,
    /// Over.
    Completed,
}

/// A campaign.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Campaign {
    /// The campaign's id.
    pub id: Uuid,
    /// Its workspace.
    pub workspace_id: Uuid,
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// Its channel.
    pub channel: Channel,
    /// Its customer groups.
    pub group_ids: Vec<Uuid>,
    /// Its status.
    pub status: CampaignStatus,
    /// Messages published to it.
    pub message_count: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// `POST /campaigns` (created as `draft`).
#[derive(Clone, Debug, Serialize)]
pub struct NewCampaign {
    /// 1 to 200 characters.
    pub name: String,
    /// Up to 2,000 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its channel.
    pub channel: Channel,
    /// Customer groups of the same workspace.
    pub group_ids: Vec<Uuid>,
}

/// `PATCH /campaigns/{id}`: fields left `None` stay.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CampaignChanges {
    /// New name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// New channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    /// Replaces the groups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_ids: Option<Vec<Uuid>>,
    /// A transition (409 when not allowed from the current status).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<CampaignStatus>,
}

/// Filters of a workspace's campaign list.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CampaignFilter {
    /// Only campaigns in this status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<CampaignStatus>,
}

/// `POST /v1/campaigns/search`: campaigns of every workspace of the account the caller may read.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CampaignSearch {
    /// Only these workspaces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace_ids: Option<Vec<Uuid>>,
    /// Only this status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<CampaignStatus>,
    /// Which page.
    #[serde(flatten)]
    pub page: PageRequest,
}

/// `POST /v1/campaigns/search/pages`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CampaignSearchPages {
    /// Only these workspaces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace_ids: Option<Vec<Uuid>>,
    /// Only this status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<CampaignStatus>,
    /// Page size to count for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_size: Option<i64>,
}

/// One message to publish.
#[derive(Clone, Debug, Serialize)]
pub struct NewMessage {
    /// A customer of the workspace.
    pub customer_id: Uuid,
    /// Optional subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The body.
    pub body: String,
    /// Any JSON object, stored encrypted with the subject and body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
}

#[derive(Serialize)]
pub(crate) struct PublishRequest<'a> {
    pub messages: &'a [NewMessage],
}

/// `POST …/messages/publish` → 201.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Published {
    /// Messages stored.
    pub published: usize,
    /// Their ids, in the order given.
    pub message_ids: Vec<Uuid>,
}

/// `POST …/messages/retrieve`: which messages, which page.
#[derive(Clone, Debug, Default, Serialize)]
pub struct MessageQuery {
    /// Which page.
    #[serde(flatten)]
    pub page: PageRequest,
    /// Only messages for these customers (at most 1,000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_ids: Option<Vec<Uuid>>,
    /// Only these messages (at most 1,000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_ids: Option<Vec<Uuid>>,
}

/// `POST …/messages/pages`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct MessagePagesQuery {
    /// Page size to count for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_size: Option<i64>,
    /// Only messages for these customers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_ids: Option<Vec<Uuid>>,
}

/// A stored message, decrypted.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Message {
    /// The message's id.
    pub id: Uuid,
    /// Its campaign.
    pub campaign_id: Uuid,
    /// Its customer.
    pub customer_id: Uuid,
    /// Its subject.
    pub subject: Option<String>,
    /// Its body.
    pub body: String,
    /// Its metadata.
    pub metadata: Option<Value>,
    /// When it was published.
    pub created_at: DateTime<Utc>,
}
