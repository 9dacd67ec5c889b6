//! Message use cases: publishing into encrypted storage, retrieval, counting.

use kernel::{AccountId, Actor, CustomerId, Permission, WorkspaceId};
use uuid::Uuid;

use crate::access::require_in;
use crate::crypto::{DataKey, MessageBinding};
use crate::error::{CampaignError, FieldError};
use crate::models::{
    CampaignId, Message, MessageFilter, MessageId, NewMessage, Page, PageQuery, Publication,
    Retrieval, SealedMessage,
};
use crate::service::CampaignService;

impl CampaignService {
    /// Publishes a batch of messages to a `draft` or `active` campaign (`messages:publish`):
    /// every message is sealed under the workspace's data key and the batch is written whole or
    /// not at all. Every customer must be a customer of the workspace, else the whole batch is
    /// refused naming the offending indexes. Returns the new ids in the order given.
    pub async fn publish(
        &self,
        actor: &Actor,
        workspace: WorkspaceId,
        campaign: CampaignId,
        messages: Vec<NewMessage>,
    ) -> Result<Vec<MessageId>, CampaignError> {
        require_in(actor, workspace, Permission::MessagesPublish)?;
        let limit = self.policy.max_messages_per_publish;
        if messages.len() > limit {
            return Err(CampaignError::TooManyMessages {
                limit,
                got: messages.len(),
            });
        }
        self.validate_messages(&messages)?;
        let account = actor.account_id;
        let status = self
            .store
            .campaign(account, workspace, campaign)
            .await?
            .status;
        if !status.accepts_messages() {
            return Err(CampaignError::NotPublishable(status));
        }
        self.check_customers(account, workspace, &messages).await?;

        let key = self
            .data_key(account, workspace, true)
            .await?
            .ok_or_else(|| {
                CampaignError::Internal("a data key was created but not returned".into())
            })?;
        let now = self.now();
        let sealed = messages
            .iter()
            .map(|message| {
                let id = MessageId::generate();
                let binding = MessageBinding {
                    workspace,
                    campaign,
                    message: id,
                };
                Ok(SealedMessage {
                    id,
                    campaign_id: campaign,
                    customer_id: message.customer_id,
                    sealed: key.seal(&binding, &message.content)?,
                    created_at: now,
                })
            })
            .collect::<Result<Vec<_>, CampaignError>>()?;
        match self
            .store
            .publish(account, workspace, campaign, &sealed)
            .await?
        {
            Publication::Published => Ok(sealed.into_iter().map(|m| m.id).collect()),
            Publication::NotPublishable(status) => Err(CampaignError::NotPublishable(status)),
            Publication::CustomerGone => Err(CampaignError::CustomerGone),
        }
    }

    /// A page of the campaign's messages, opened, oldest first (`messages:read`). Every call is
    /// audited: who read which campaign's messages, and how many. A message that does not open
    /// is an error (`Unreadable`), never returned as it is.
    pub async fn retrieve(
        &self,
        actor: &Actor,
        workspace: WorkspaceId,
        campaign: CampaignId,
        filter: MessageFilter,
        page: &PageQuery,
    ) -> Result<Page<Message>, CampaignError> {
        require_in(actor, workspace, Permission::MessagesRead)?;
        self.validate_filter(&filter)?;
        let account = actor.account_id;
        let audit = Retrieval {
            id: Uuid::now_v7(),
            account_id: account,
            workspace_id: workspace,
            campaign_id: campaign,
            user_id: actor.user_id,
            session_id: actor.session_id,
            at: self.now(),
        };
        let page = self
            .store
            .messages(account, workspace, campaign, &filter, page, &audit)
            .await?;
        if page.items.is_empty() {
            return Ok(Page {
                items: Vec::new(),
                total_items: page.total_items,
            });
        }
        let key = self
            .data_key(account, workspace, false)
            .await?
            .ok_or_else(|| CampaignError::Unreadable {
                message_id: None,
                detail: format!("workspace {workspace} has messages but no data key"),
            })?;
        let items = page
            .items
            .into_iter()
            .map(|sealed| open(&key, workspace, sealed))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page {
            items,
            total_items: page.total_items,
        })
    }

    /// How many of the campaign's messages `customer_ids` selects (`messages:read`).
    pub async fn count_messages(
        &self,
        actor: &Actor,
        workspace: WorkspaceId,
        campaign: CampaignId,
        customer_ids: Option<Vec<CustomerId>>,
    ) -> Result<i64, CampaignError> {
        require_in(actor, workspace, Permission::MessagesRead)?;
        let filter = MessageFilter {
            customer_ids,
            message_ids: None,
        };
        self.validate_filter(&filter)?;
        Ok(self
            .store
            .count_messages(actor.account_id, workspace, campaign, &filter)
            .await?)
    }

    /// The workspace's data key, unwrapped; created (and wrapped under the active master key)
    /// on first use when `create` is set.
    pub(crate) async fn data_key(
        &self,
        account: AccountId,
        workspace: WorkspaceId,
        create: bool,
    ) -> Result<Option<DataKey>, CampaignError> {
        let wrapped = match self.data_keys.data_key(account, workspace).await? {
            Some(wrapped) => wrapped,
            None if create => {
                let fresh = DataKey::generate()?;
                let ours = self.master_keys.active().wrap(account, workspace, &fresh)?;
                let stored = self
                    .data_keys
                    .create_data_key(account, workspace, &ours)
                    .await?;
                if stored == ours {
                    return Ok(Some(fresh));
                }
                stored
            }
            None => return Ok(None),
        };
        let master = self
            .master_keys
            .get(&wrapped.master_key_id)
            .ok_or_else(|| CampaignError::Unreadable {
                message_id: None,
                detail: format!(
                    "the data key of workspace {workspace} is wrapped under master key {}, \
                     which is not in the key ring",
                    wrapped.master_key_id
                ),
            })?;
        let key =
            master
                .unwrap(account, workspace, &wrapped)
                .map_err(|_| CampaignError::Unreadable {
                    message_id: None,
                    detail: format!("the data key of workspace {workspace} does not unwrap"),
                })?;
        Ok(Some(key))
    }

    fn validate_messages(&self, messages: &[NewMessage]) -> Result<(), CampaignError> {
        let policy = &self.policy;
        let mut errors = Vec::new();
        if messages.is_empty() {
            errors.push(FieldError::new(
                "messages",
                "must hold at least one message",
            ));
        }
        for (i, message) in messages.iter().enumerate() {
            let content = &message.content;
            if content.body.is_empty() {
                errors.push(FieldError::new(
                    format!("messages[{i}].body"),
                    "must not be empty",
                ));
            } else if content.body.len() > policy.max_body_bytes {
                errors.push(FieldError::new(
                    format!("messages[{i}].body"),
                    format!("must be at most {} bytes", policy.max_body_bytes),
                ));
            }
            if content
                .subject
                .as_ref()
                .is_some_and(|s| s.chars().count() > policy.max_subject_chars)
            {
                errors.push(FieldError::new(
                    format!("messages[{i}].subject"),
                    format!("must be at most {} characters", policy.max_subject_chars),
                ));
            }
            if let Some(metadata) = &content.metadata {
                if !metadata.is_object() {
                    errors.push(FieldError::new(
                        format!("messages[{i}].metadata"),
                        "must be a JSON object",
                    ));
                } else if metadata.to_string().len() > policy.max_metadata_bytes {
                    errors.push(FieldError::new(
                        format!("messages[{i}].metadata"),
                        format!(
                            "must be at most {} bytes as JSON",
                            policy.max_metadata_bytes
                        ),
                    ));
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(CampaignError::Validation(errors))
        }
    }

    /// Refuses the batch when any customer is not the workspace's, naming every such index.
    async fn check_customers(
        &self,
        account: AccountId,
        workspace: WorkspaceId,
        messages: &[NewMessage],
    ) -> Result<(), CampaignError> {
        let mut customers: Vec<CustomerId> = messages.iter().map(|m| m.customer_id).collect();
        customers.sort_unstable();
        customers.dedup();
        let unknown = self
            .audience
            .unknown_customers(account, workspace, &customers)
            .await?;
        if unknown.is_empty() {
            return Ok(());
        }
        Err(CampaignError::Validation(
            messages
                .iter()
                .enumerate()
                .filter(|(_, m)| unknown.contains(&m.customer_id))
                .map(|(i, _)| {
                    FieldError::new(
                        format!("messages[{i}].customer_id"),
                        "is not a customer of this workspace",
                    )
                })
                .collect(),
        ))
    }

    fn validate_filter(&self, filter: &MessageFilter) -> Result<(), CampaignError> {
        let max = self.policy.max_filter_ids;
        let mut errors = Vec::new();
        if filter
            .customer_ids
            .as_ref()
            .is_some_and(|ids| ids.len() > max)
        {
            errors.push(FieldError::new(
                "customer_ids",
                format!("at most {max} ids"),
            ));
        }
        if filter
            .message_ids
            .as_ref()
            .is_some_and(|ids| ids.len() > max)
        {
            errors.push(FieldError::new("message_ids", format!("at most {max} ids")));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(CampaignError::Validation(errors))
        }
    }
}

fn open(
    key: &DataKey,
    workspace: WorkspaceId,
    sealed: SealedMessage,
) -> Result<Message, CampaignError> {
    let binding = MessageBinding {
        workspace,
        campaign: sealed.campaign_id,
        message: sealed.id,
    };
    let content = key
        .open(&binding, &sealed.sealed)
        .map_err(|_| CampaignError::Unreadable {
            message_id: Some(sealed.id),
            detail: format!(
                "message {} of campaign {} does not open under the data key of workspace {workspace}",
                sealed.id, sealed.campaign_id
            ),
        })?;
    Ok(Message {
        id: sealed.id,
        campaign_id: sealed.campaign_id,
        customer_id: sealed.customer_id,
        content,
        created_at: sealed.created_at,
    })
}
