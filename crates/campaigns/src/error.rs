use kernel::{SealError, StoreError};

use crate::models::{CampaignStatus, MessageId};

pub use kernel::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    /// The workspace is visible to the actor, who lacks the permission this needs.
    #[error("you do not have the permission this needs")]
    Forbidden,
    /// Missing, in a workspace the actor does not see, or another account's.
    #[error("not found")]
    NotFound,
    #[error("{}", from.rule())]
    IllegalTransition {
        from: CampaignStatus,
        to: CampaignStatus,
    },
    #[error("messages can only be published to draft or active campaigns; this one is {0}")]
    NotPublishable(CampaignStatus),
    /// A customer named by the batch was deleted while it was being published.
    #[error("a customer of the batch was deleted meanwhile; nothing was published")]
    CustomerGone,
    #[error("at most {limit} messages per request; this one has {got}")]
    TooManyMessages { limit: usize, got: usize },
    /// A stored message or data key does not open: tampered with, moved to another workspace
    /// or campaign, or sealed under a key the ring lacks. Never answered with its content.
    #[error("stored message data failed its integrity check: {detail}")]
    Unreadable {
        message_id: Option<MessageId>,
        detail: String,
    },
    #[error("the service is temporarily unavailable")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for CampaignError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Self::NotFound,
            StoreError::Unavailable(why) => Self::Unavailable(why),
            StoreError::Duplicate(what) => Self::Internal(format!("unexpected duplicate: {what}")),
            StoreError::Other(why) => Self::Internal(why),
        }
    }
}

impl From<SealError> for CampaignError {
    fn from(error: SealError) -> Self {
        match error {
            SealError::CannotOpen => Self::Unreadable {
                message_id: None,
                detail: error.to_string(),
            },
            SealError::BadKey | SealError::Rng => Self::Internal(error.to_string()),
        }
    }
}

/// Refuses a request that names what is not the workspace's: one field error (named by
/// `field` from its index) for each of `asked` that is among `unknown`; none, `Ok`.
pub(crate) fn refuse_unknown<'a, T: PartialEq + 'a>(
    asked: impl IntoIterator<Item = &'a T>,
    unknown: &[T],
    field: impl Fn(usize) -> String,
    message: &str,
) -> Result<(), CampaignError> {
    if unknown.is_empty() {
        return Ok(());
    }
    Err(CampaignError::Validation(
        asked
            .into_iter()
            .enumerate()
            .filter(|(_, item)| unknown.contains(item))
            .map(|(i, _)| FieldError::new(field(i), message))
            .collect(),
    ))
}
