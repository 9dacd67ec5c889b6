//! Message use cases: publishing into encrypted storage, retrieval, counting. The rules are
//! here, once: only `draft` and `active` campaigns take messages, only for customers of the
//! workspace; a workspace's data key is made on its first publish; a retrieval is audited; an
//! unfiltered total is the campaign's own count.

use kernel::{AccountId, Actor, CustomerId, Permission, WorkspaceId};
use uuid::Uuid;

use crate::access::require_in;
use crate::crypto::{DataKey, MessageBinding};
use crate::error::{CampaignError, FieldError, refuse_unknown};
use crate::models::{
    CampaignId, Message, MessageFilter, MessageId, NewMessage, Page, PageRequest, Retrieval,
    SealedMessage, WrappedDataKey,
};
use crate::ports::{Audience, CampaignRead, CampaignWrite};
use crate::service::CampaignService;

impl CampaignService {
    /// Publishes a batch of messages to a `draft` or `active` campaign (`messages:publish`):
    /// every message is sealed under the workspace's data key and the batch is written whole or
    /// not at all. Every customer must be a customer of the workspace, else the whole batch is
    /// refused naming the offending indexes. Returns the new ids in the order given.
    ///
    /// Two units of work: the checks (and the data key, made on the first publish), then —
    /// after sealing, which holds no connection and no lock — the write, which writes the
    /// batch, then holds the campaign, judges its status again and counts the messages on it.
    #[tracing::instrument(
        skip_all,
        fields(account = %actor.account_id, %workspace, %campaign, messages = messages.len())
    )]
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
        let key = self
            .writing(account, None, async |tx| {
                let status = tx.campaign(workspace, campaign).await?.status;
                if !status.accepts_messages() {
                    return Err(CampaignError::NotPublishable(status));
                }
                check_customers(tx, workspace, &messages).await?;
                self.data_key_or_new(tx, account, workspace).await
            })
            .await?;
        let sealed = self.seal(&key, workspace, campaign, &messages)?;
        let added = i64::try_from(sealed.len())
            .map_err(|_| CampaignError::Internal("batch too large to count".into()))?;
        self.writing(account, None, async |tx| {
            // Written first and judged after: the campaign is held only from here to the
            // commit, so concurrent batches of one campaign write their rows side by side, and
            // a status change that came meanwhile undoes this one (the rollback).
            if !tx.insert_messages(workspace, campaign, &sealed).await? {
                return Err(CampaignError::CustomerGone);
            }
            let mut held = tx.lock_campaign(workspace, campaign).await?;
            if !held.status.accepts_messages() {
                // Its status changed since the checks.
                return Err(CampaignError::NotPublishable(held.status));
            }
            held.message_count += added;
            Ok(tx.update_campaign(&held).await?)
        })
        .await?;
        Ok(sealed.into_iter().map(|m| m.id).collect())
    }

    /// A page of the campaign's messages, opened, oldest first (`messages:read`). Every call is
    /// audited: who read which campaign's messages, and how many. A message that does not open
    /// is an error (`Unreadable`), never returned as it is.
    #[tracing::instrument(skip_all, fields(account = %actor.account_id, %workspace, %campaign))]
    pub async fn retrieve(
        &self,
        actor: &Actor,
        workspace: WorkspaceId,
        campaign: CampaignId,
        filter: MessageFilter,
        page: &PageRequest,
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
        let (sealed, wrapped) = self
            .writing(account, Some(actor.user_id), async |tx| {
                let total_items = total(tx, workspace, campaign, &filter).await?;
                let items = tx.messages(workspace, campaign, &filter, page).await?;
                tx.record_retrieval(&audit, items.len()).await?;
                let wrapped = if items.is_empty() {
                    None
                } else {
                    tx.data_key(workspace).await?
                };
                Ok((Page { items, total_items }, wrapped))
            })
            .await?;
        if sealed.items.is_empty() {
            return Ok(Page {
                items: Vec::new(),
                total_items: sealed.total_items,
            });
        }
        let wrapped = wrapped.ok_or_else(|| CampaignError::Unreadable {
            message_id: None,
            detail: format!("workspace {workspace} has messages but no data key"),
        })?;
        let key = self.unwrap_data_key(account, workspace, &wrapped)?;
        let items = sealed
            .items
            .into_iter()
            .map(|sealed| open(&key, workspace, sealed))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page {
            items,
            total_items: sealed.total_items,
        })
    }

    /// How many of the campaign's messages `customer_ids` selects (`messages:read`).
    #[tracing::instrument(skip_all, fields(account = %actor.account_id, %workspace, %campaign))]
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
        self.reading(actor.account_id, async |tx| {
            total(tx, workspace, campaign, &filter).await
        })
        .await
    }

    /// The workspace's data key, unwrapped; made (and wrapped under the active master key) when
    /// it has none. When several instances race, every one ends up with the first one stored.
    async fn data_key_or_new(
        &self,
        tx: &mut dyn CampaignWrite,
        account: AccountId,
        workspace: WorkspaceId,
    ) -> Result<DataKey, CampaignError> {
        let wrapped = match tx.data_key(workspace).await? {
            Some(wrapped) => wrapped,
            None => {
                let fresh = DataKey::generate()?;
                let ours = self.master_keys.active().wrap(account, workspace, &fresh)?;
                if tx.insert_data_key(workspace, &ours).await? {
                    return Ok(fresh);
                }
                tx.data_key(workspace).await?.ok_or_else(|| {
                    CampaignError::Internal("a data key was stored but is not there".into())
                })?
            }
        };
        self.unwrap_data_key(account, workspace, &wrapped)
    }

    /// A stored data key, opened under the master key it names.
    fn unwrap_data_key(
        &self,
        account: AccountId,
        workspace: WorkspaceId,
        wrapped: &WrappedDataKey,
    ) -> Result<DataKey, CampaignError> {
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
        master
            .unwrap(account, workspace, wrapped)
            .map_err(|_| CampaignError::Unreadable {
                message_id: None,
                detail: format!("the data key of workspace {workspace} does not unwrap"),
            })
    }

    /// Each message sealed under `key`, bound to its workspace, campaign and new id.
    fn seal(
        &self,
        key: &DataKey,
        workspace: WorkspaceId,
        campaign: CampaignId,
        messages: &[NewMessage],
    ) -> Result<Vec<SealedMessage>, CampaignError> {
        let now = self.now();
        messages
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
            .collect()
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

/// Refuses the batch when any customer is not the workspace's, naming every such index: the
/// domain hands the adapter the set of customers, which it checks in one statement.
async fn check_customers(
    audience: &mut dyn Audience,
    workspace: WorkspaceId,
    messages: &[NewMessage],
) -> Result<(), CampaignError> {
    let mut customers: Vec<CustomerId> = messages.iter().map(|m| m.customer_id).collect();
    customers.sort_unstable();
    customers.dedup();
    let unknown = audience.unknown_customers(workspace, &customers).await?;
    refuse_unknown(
        messages.iter().map(|m| &m.customer_id),
        &unknown,
        |i| format!("messages[{i}].customer_id"),
        "is not a customer of this workspace",
    )
}

/// How many messages `filter` selects: unfiltered, the campaign's own count (no scan; a
/// missing campaign is `NotFound`).
async fn total(
    tx: &mut dyn CampaignRead,
    workspace: WorkspaceId,
    campaign: CampaignId,
    filter: &MessageFilter,
) -> Result<i64, CampaignError> {
    let stored = tx.campaign(workspace, campaign).await?.message_count;
    if filter.is_empty() {
        return Ok(stored);
    }
    Ok(tx.count_messages(workspace, campaign, filter).await?)
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
