//! Campaigns, their published messages and retrievals, and the campaign search, as the API shows them.

use campaigns::{Campaign, CampaignStatus, Channel, GroupId, Message};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Clone, Copy, Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChannelBody {
    Email,
    Sms,
    Push,
    InApp,
}

impl From<ChannelBody> for Channel {
    fn from(channel: ChannelBody) -> Self {
        match channel {
            ChannelBody::Email => Self::Email,
            ChannelBody::Sms => Self::Sms,
            ChannelBody::Push => Self::Push,
            ChannelBody::InApp => Self::InApp,
        }
    }
}

impl From<Channel> for ChannelBody {
    fn from(channel: Channel) -> Self {
        match channel {
            Channel::Email => Self::Email,
            Channel::Sms => Self::Sms,
            Channel::Push => Self::Push,
            Channel::InApp => Self::InApp,
        }
    }
}

/// `draft → active → paused ↔ active → completed`.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatusBody {
    Draft,
    Active,
    Paused,
    Completed,
}

impl From<CampaignStatusBody> for CampaignStatus {
    fn from(status: CampaignStatusBody) -> Self {
        match status {
            CampaignStatusBody::Draft => Self::Draft,
            CampaignStatusBody::Active => Self::Active,
            CampaignStatusBody::Paused => Self::Paused,
            CampaignStatusBody::Completed => Self::Completed,
        }
    }
}

impl From<CampaignStatus> for CampaignStatusBody {
    fn from(status: CampaignStatus) -> Self {
        match status {
            CampaignStatus::Draft => Self::Draft,
            CampaignStatus::Active => Self::Active,
            CampaignStatus::Paused => Self::Paused,
            CampaignStatus::Completed => Self::Completed,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CampaignRequest {
    /// 1 to 200 characters.
    #[schema(example = "Spring sale")]
    pub name: String,
    /// Up to 2,000 characters.
    pub description: Option<String>,
    pub channel: ChannelBody,
    /// Customer groups of the same workspace.
    #[serde(default)]
    pub group_ids: Vec<Uuid>,
}

/// A partial change: fields left out stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CampaignChangeRequest {
    pub name: Option<String>,
    pub description: Option<String>,
    pub channel: Option<ChannelBody>,
    /// Replaces the campaign's groups.
    pub group_ids: Option<Vec<Uuid>>,
    /// A transition along `draft → active → paused ↔ active → completed` (409 otherwise).
    pub status: Option<CampaignStatusBody>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignBody {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub name: String,
    pub description: String,
    pub channel: ChannelBody,
    pub group_ids: Vec<Uuid>,
    pub status: CampaignStatusBody,
    /// Messages published to the campaign (and not deleted since).
    pub message_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Campaign> for CampaignBody {
    fn from(campaign: Campaign) -> Self {
        Self {
            id: campaign.id.as_uuid(),
            workspace_id: campaign.workspace_id.as_uuid(),
            name: campaign.name,
            description: campaign.description,
            channel: campaign.channel.into(),
            group_ids: campaign.group_ids.iter().map(GroupId::as_uuid).collect(),
            status: campaign.status.into(),
            message_count: campaign.message_count,
            created_at: campaign.created_at,
            updated_at: campaign.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CampaignListFilter {
    /// Only campaigns in this status.
    pub status: Option<CampaignStatusBody>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SearchRequest {
    /// Only these workspaces (those the caller may not read are left out).
    pub workspace_ids: Option<Vec<Uuid>>,
    pub status: Option<CampaignStatusBody>,
    /// 1-based page number (default 1).
    pub page: Option<i64>,
    /// Items per page, 1..=500 (default 50).
    pub page_size: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SearchPagesRequest {
    pub workspace_ids: Option<Vec<Uuid>>,
    pub status: Option<CampaignStatusBody>,
    /// Items per page, 1..=500 (default 50).
    pub page_size: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PublishRequest {
    /// At most 1,000.
    pub messages: Vec<MessageRequest>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct MessageRequest {
    /// A customer of this workspace.
    pub customer_id: Uuid,
    pub subject: Option<String>,
    pub body: String,
    /// Any JSON object; stored encrypted with the subject and body.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublishedBody {
    pub published: usize,
    /// In the order the messages were given.
    pub message_ids: Vec<Uuid>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RetrieveRequest {
    /// 1-based page number (default 1).
    pub page: Option<i64>,
    /// Items per page, 1..=500 (default 50).
    pub page_size: Option<i64>,
    /// `next_cursor` of the previous page: continues after it.
    pub cursor: Option<String>,
    /// Only messages for these customers (at most 1,000 ids).
    pub customer_ids: Option<Vec<Uuid>>,
    /// Only these messages (at most 1,000 ids).
    pub message_ids: Option<Vec<Uuid>>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct MessagePagesRequest {
    /// Items per page, 1..=500 (default 50).
    pub page_size: Option<i64>,
    pub customer_ids: Option<Vec<Uuid>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignMessageBody {
    pub id: Uuid,
    pub campaign_id: Uuid,
    pub customer_id: Uuid,
    pub subject: Option<String>,
    pub body: String,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
}

impl From<Message> for CampaignMessageBody {
    fn from(message: Message) -> Self {
        Self {
            id: message.id.as_uuid(),
            campaign_id: message.campaign_id.as_uuid(),
            customer_id: message.customer_id.as_uuid(),
            subject: message.content.subject,
            body: message.content.body,
            metadata: message.content.metadata,
            created_at: message.created_at,
        }
    }
}
