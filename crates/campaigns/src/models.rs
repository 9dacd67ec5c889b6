//! Campaigns, their messages, and the queries over them.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
pub use kernel::GroupId;
use kernel::{AccountId, CustomerId, SessionId, UserId, WorkspaceId};
use uuid::Uuid;

use kernel::id_type;

id_type!(
    /// A campaign of a workspace.
    CampaignId
);
id_type!(
    /// One message published to a campaign, for one customer.
    MessageId
);

/// How a campaign reaches its customers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Channel {
    Email,
    Sms,
    Push,
    InApp,
}

impl Channel {
    pub const ALL: [Self; 4] = [Self::Email, Self::Sms, Self::Push, Self::InApp];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
            Self::Push => "push",
            Self::InApp => "in_app",
        }
    }
}

/// Where a campaign is in its life: `draft → active → paused ↔ active → completed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CampaignStatus {
    Draft,
    Active,
    Paused,
    Completed,
}

impl CampaignStatus {
    pub const ALL: [Self; 4] = [Self::Draft, Self::Active, Self::Paused, Self::Completed];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Active => "active",
            Self::Paused => "paused",
            Self::Completed => "completed",
        }
    }

    /// The statuses this one may move to; `completed` is final.
    #[must_use]
    pub const fn next(self) -> &'static [Self] {
        match self {
            Self::Draft | Self::Paused => &[Self::Active],
            Self::Active => &[Self::Paused, Self::Completed],
            Self::Completed => &[],
        }
    }

    #[must_use]
    pub fn can_become(self, to: Self) -> bool {
        self.next().contains(&to)
    }

    /// The transition rule seen from this status, naming what it may become.
    #[must_use]
    pub const fn rule(self) -> &'static str {
        match self {
            Self::Draft => "a draft campaign can only become active",
            Self::Active => "an active campaign can only become paused or completed",
            Self::Paused => "a paused campaign can only become active",
            Self::Completed => "a completed campaign cannot change status",
        }
    }

    /// Whether messages may be published to a campaign in this status.
    #[must_use]
    pub const fn accepts_messages(self) -> bool {
        matches!(self, Self::Draft | Self::Active)
    }
}

macro_rules! text_enum {
    ($name:ident, $what:literal) => {
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .into_iter()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| format!(concat!("unknown ", $what, " `{}`"), s))
            }
        }
    };
}

text_enum!(Channel, "channel");
text_enum!(CampaignStatus, "campaign status");

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Campaign {
    pub id: CampaignId,
    pub account_id: AccountId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub description: String,
    pub channel: Channel,
    /// Sorted, without duplicates.
    pub group_ids: Vec<GroupId>,
    pub status: CampaignStatus,
    /// Messages stored for the campaign now.
    pub message_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a client gives to create a campaign.
#[derive(Clone, Debug)]
pub struct CampaignInput {
    pub name: String,
    pub description: Option<String>,
    pub channel: Channel,
    pub group_ids: Vec<GroupId>,
}

/// A partial change; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct CampaignChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub channel: Option<Channel>,
    pub group_ids: Option<Vec<GroupId>>,
    pub status: Option<CampaignStatus>,
}

/// Which campaigns a list or search covers (of the account the unit of work is for).
#[derive(Clone, Debug, Default)]
pub struct CampaignFilter {
    /// `None`: every workspace of the account.
    pub workspaces: Option<Vec<WorkspaceId>>,
    pub status: Option<CampaignStatus>,
}

impl CampaignFilter {
    /// Whether the filter selects `campaign`: the meaning of the filter, which the SQL adapter
    /// states set-wise as a `WHERE` clause.
    #[must_use]
    pub fn selects(&self, campaign: &Campaign) -> bool {
        self.workspaces
            .as_ref()
            .is_none_or(|w| w.contains(&campaign.workspace_id))
            && self.status.is_none_or(|s| s == campaign.status)
    }
}

impl Campaign {
    /// The campaign with `changes` applied at `now` (a change of status is judged before, by
    /// [`CampaignStatus::can_become`]).
    #[must_use]
    pub fn changed(&self, changes: &CampaignChanges, now: DateTime<Utc>) -> Self {
        let mut next = self.clone();
        if let Some(name) = &changes.name {
            next.name.clone_from(name);
        }
        if let Some(description) = &changes.description {
            next.description.clone_from(description);
        }
        if let Some(channel) = changes.channel {
            next.channel = channel;
        }
        if let Some(groups) = &changes.group_ids {
            next.group_ids.clone_from(groups);
        }
        if let Some(status) = changes.status {
            next.status = status;
        }
        next.updated_at = now;
        next
    }
}

pub use kernel::{Keyset, Page, PageRequest};

/// What a message says; sealed whole at rest.
#[derive(Clone, Debug, PartialEq)]
pub struct MessageContent {
    pub subject: Option<String>,
    pub body: String,
    /// A JSON object, when given.
    pub metadata: Option<serde_json::Value>,
}

/// One message of a publish request.
#[derive(Clone, Debug)]
pub struct NewMessage {
    pub customer_id: CustomerId,
    pub content: MessageContent,
}

/// A message, opened.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub id: MessageId,
    pub campaign_id: CampaignId,
    pub customer_id: CustomerId,
    pub content: MessageContent,
    pub created_at: DateTime<Utc>,
}

/// A message as stored: its content sealed under the workspace's data key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedMessage {
    pub id: MessageId,
    pub campaign_id: CampaignId,
    pub customer_id: CustomerId,
    pub sealed: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

/// Which messages a retrieval covers.
#[derive(Clone, Debug, Default)]
pub struct MessageFilter {
    pub customer_ids: Option<Vec<CustomerId>>,
    pub message_ids: Option<Vec<MessageId>>,
}

impl MessageFilter {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.customer_ids.is_none() && self.message_ids.is_none()
    }

    /// Whether the filter selects `message`: the meaning of the filter, which the SQL adapter
    /// states set-wise as a `WHERE` clause.
    #[must_use]
    pub fn selects(&self, message: &SealedMessage) -> bool {
        self.customer_ids
            .as_ref()
            .is_none_or(|ids| ids.contains(&message.customer_id))
            && self
                .message_ids
                .as_ref()
                .is_none_or(|ids| ids.contains(&message.id))
    }
}

/// The audit record of one retrieval: who read which campaign's messages. The store adds how
/// many it returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retrieval {
    pub id: Uuid,
    pub account_id: AccountId,
    pub workspace_id: WorkspaceId,
    pub campaign_id: CampaignId,
    pub user_id: UserId,
    pub session_id: SessionId,
    pub at: DateTime<Utc>,
}

/// A data key as stored: sealed under the master key named by `master_key_id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrappedDataKey {
    pub master_key_id: String,
    pub sealed: Vec<u8>,
}

/// A workspace's wrapped data key, as the rotation command sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredDataKey {
    pub account_id: AccountId,
    pub workspace_id: WorkspaceId,
    pub wrapped: WrappedDataKey,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_are_exactly_those_of_the_contract() {
        use CampaignStatus::{Active, Completed, Draft, Paused};
        let allowed = [
            (Draft, Active),
            (Active, Paused),
            (Paused, Active),
            (Active, Completed),
        ];
        for from in CampaignStatus::ALL {
            for to in CampaignStatus::ALL {
                assert_eq!(
                    from.can_become(to),
                    allowed.contains(&(from, to)),
                    "{from} → {to}"
                );
            }
        }
    }

    #[test]
    fn rules_name_the_allowed_next_statuses() {
        for status in CampaignStatus::ALL {
            for next in status.next() {
                assert!(status.rule().contains(next.as_str()), "{status}");
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for channel in Channel::ALL {
            assert_eq!(channel.as_str().parse::<Channel>(), Ok(channel));
        }
        for status in CampaignStatus::ALL {
            assert_eq!(status.as_str().parse::<CampaignStatus>(), Ok(status));
        }
        assert!("fax".parse::<Channel>().is_err());
    }
}
