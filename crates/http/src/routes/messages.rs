//! A campaign's messages: publishing (sealed at rest), retrieval (opened, audited), pages.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::web::JsonBody;
use actix_web::{FromRequest, HttpRequest, HttpResponse, post, web};
use campaigns::{CampaignId, MessageContent, MessageFilter, MessageId, NewMessage};
use kernel::{CustomerId, WorkspaceId};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::auth::WorkspaceContent;
use crate::error::{ApiError, ErrorBody};
use crate::paging::{PageParams, Paged, PagesBody, encode_cursor, page_size_only};
use crate::state::AppState;
use crate::wire::{
    CampaignMessageBody, MessagePagesRequest, PublishRequest, PublishedBody, RetrieveRequest,
};

/// A JSON body under the publish limit (`AppState::publish_json_limit`) rather than the
/// general one: a batch of 1,000 messages is far larger than any other request.
pub struct PublishJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for PublishJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<AppState>>()
            .map_or(crate::state::DEFAULT_PUBLISH_JSON_LIMIT, |s| {
                s.publish_json_limit
            });
        let body = JsonBody::<T>::new(req, payload, None, true).limit(limit);
        Box::pin(async move { body.await.map(Self).map_err(ApiError::from) })
    }
}

fn ids(path: web::Path<(Uuid, Uuid)>) -> (WorkspaceId, CampaignId) {
    let (workspace, campaign) = path.into_inner();
    (
        WorkspaceId::from_uuid(workspace),
        CampaignId::from_uuid(campaign),
    )
}

fn customers(ids: Option<Vec<Uuid>>) -> Option<Vec<CustomerId>> {
    ids.map(|ids| ids.into_iter().map(CustomerId::from_uuid).collect())
}

/// Publish messages to a `draft` or `active` campaign (`messages:publish`). Subject, body and
/// metadata are encrypted at rest. All or nothing: one customer that is not the workspace's
/// refuses the whole batch (400, naming every offending index).
#[utoipa::path(
    tag = "campaigns",
    security(("bearer" = [])),
    params(("workspace_id" = Uuid, Path), ("campaign_id" = Uuid, Path)),
    request_body = PublishRequest,
    responses(
        (status = 201, body = PublishedBody),
        (status = 400, description = "Invalid messages or customers not of this workspace, by index (`messages[3].customer_id`)", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The campaign is paused or completed", body = ErrorBody),
        (status = 413, description = "More than 1,000 messages, or a body over the publish limit", body = ErrorBody),
    )
)]
#[post("/v1/workspaces/{workspace_id}/campaigns/{campaign_id}/messages/publish")]
pub async fn publish(
    state: web::Data<AppState>,
    WorkspaceContent(actor): WorkspaceContent,
    path: web::Path<(Uuid, Uuid)>,
    body: PublishJson<PublishRequest>,
) -> Result<HttpResponse, ApiError> {
    let (workspace, campaign) = ids(path);
    let messages = body
        .0
        .messages
        .into_iter()
        .map(|m| NewMessage {
            customer_id: CustomerId::from_uuid(m.customer_id),
            content: MessageContent {
                subject: m.subject,
                body: m.body,
                metadata: m.metadata,
            },
        })
        .collect();
    let ids = state
        .campaigns
        .publish(&actor, workspace, campaign, messages)
        .await?;
    Ok(HttpResponse::Created().json(PublishedBody {
        published: ids.len(),
        message_ids: ids.iter().map(MessageId::as_uuid).collect(),
    }))
}

/// A page of the campaign's messages, decrypted, oldest first (`messages:read`). Every call is
/// audited. A message that fails its integrity check is a 500 (`message_integrity_error`),
/// never returned.
#[utoipa::path(
    tag = "campaigns",
    security(("bearer" = [])),
    params(("workspace_id" = Uuid, Path), ("campaign_id" = Uuid, Path)),
    request_body = RetrieveRequest,
    responses(
        (status = 200, body = Paged<CampaignMessageBody>),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 500, description = "A stored message failed its integrity check", body = ErrorBody),
    )
)]
#[post("/v1/workspaces/{workspace_id}/campaigns/{campaign_id}/messages/retrieve")]
pub async fn retrieve(
    state: web::Data<AppState>,
    WorkspaceContent(actor): WorkspaceContent,
    path: web::Path<(Uuid, Uuid)>,
    body: web::Json<RetrieveRequest>,
) -> Result<web::Json<Paged<CampaignMessageBody>>, ApiError> {
    let (workspace, campaign) = ids(path);
    let body = body.into_inner();
    let request = PageParams {
        page: body.page,
        page_size: body.page_size,
        cursor: body.cursor,
    }
    .resolve()?;
    let filter = MessageFilter {
        customer_ids: customers(body.customer_ids),
        message_ids: body
            .message_ids
            .map(|ids| ids.into_iter().map(MessageId::from_uuid).collect()),
    };
    let page = state
        .campaigns
        .retrieve(&actor, workspace, campaign, filter, &request)
        .await?;
    let next = page
        .items
        .last()
        .map(|m| encode_cursor(m.created_at, m.id.as_uuid()));
    let items = page
        .items
        .into_iter()
        .map(CampaignMessageBody::from)
        .collect();
    Ok(web::Json(Paged::new(
        items,
        &request,
        page.total_items,
        next,
    )))
}

/// How many pages of messages there are at `page_size`, for the same customers
/// (`messages:read`).
#[utoipa::path(
    tag = "campaigns",
    security(("bearer" = [])),
    params(("workspace_id" = Uuid, Path), ("campaign_id" = Uuid, Path)),
    request_body = MessagePagesRequest,
    responses(
        (status = 200, body = PagesBody),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
#[post("/v1/workspaces/{workspace_id}/campaigns/{campaign_id}/messages/pages")]
pub async fn pages(
    state: web::Data<AppState>,
    WorkspaceContent(actor): WorkspaceContent,
    path: web::Path<(Uuid, Uuid)>,
    body: web::Json<MessagePagesRequest>,
) -> Result<web::Json<PagesBody>, ApiError> {
    let (workspace, campaign) = ids(path);
    let body = body.into_inner();
    let size = page_size_only(body.page_size)?;
    let total = state
        .campaigns
        .count_messages(&actor, workspace, campaign, customers(body.customer_ids))
        .await?;
    Ok(web::Json(PagesBody::new(size, total)))
}
