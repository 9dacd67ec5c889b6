//! Campaigns of a workspace, and the account-wide campaign search.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use campaigns::{
    Campaign, CampaignChanges, CampaignId, CampaignInput, CampaignStatus, Channel, GroupId,
    PageQuery, SearchInput,
};
use chrono::{DateTime, Utc};
use kernel::WorkspaceId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::WorkspaceContent;
use crate::error::{ApiError, ErrorBody};
use crate::paging::{PageParams, PageRequest, Paged, PagesBody, encode_cursor, page_size_only};
use crate::state::AppState;

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

pub(crate) fn page_query(request: &PageRequest) -> PageQuery {
    PageQuery {
        offset: request.offset,
        limit: request.page_size,
        after: request.after,
    }
}

fn paged(page: campaigns::Page<Campaign>, request: &PageRequest) -> Paged<CampaignBody> {
    let next = page
        .items
        .last()
        .map(|c| encode_cursor(c.created_at, c.id.as_uuid()));
    let items = page.items.into_iter().map(CampaignBody::from).collect();
    Paged::new(items, request, page.total_items, next)
}

fn ids(workspace: Uuid, campaign: Uuid) -> (WorkspaceId, CampaignId) {
    (
        WorkspaceId::from_uuid(workspace),
        CampaignId::from_uuid(campaign),
    )
}

/// Create a campaign, in `draft` (`campaigns:write`).
#[utoipa::path(
    tag = "campaigns",
    security(("bearer" = [])),
    params(("workspace_id" = Uuid, Path)),
    request_body = CampaignRequest,
    responses(
        (status = 201, body = CampaignBody),
        (status = 400, description = "Invalid fields, or a group not of this workspace", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
#[post("/v1/workspaces/{workspace_id}/campaigns")]
pub async fn create(
    state: web::Data<AppState>,
    WorkspaceContent(actor): WorkspaceContent,
    workspace: web::Path<Uuid>,
    body: web::Json<CampaignRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let campaign = state
        .campaigns
        .create_campaign(
            &actor,
            WorkspaceId::from_uuid(workspace.into_inner()),
            CampaignInput {
                name: body.name,
                description: body.description,
                channel: body.channel.into(),
                group_ids: body.group_ids.into_iter().map(GroupId::from_uuid).collect(),
            },
        )
        .await?;
    Ok(HttpResponse::Created().json(CampaignBody::from(campaign)))
}

/// The workspace's campaigns, newest first (`campaigns:read`).
#[utoipa::path(
    tag = "campaigns",
    security(("bearer" = [])),
    params(("workspace_id" = Uuid, Path), CampaignListFilter, PageParams),
    responses(
        (status = 200, body = Paged<CampaignBody>),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
#[get("/v1/workspaces/{workspace_id}/campaigns")]
pub async fn list(
    state: web::Data<AppState>,
    WorkspaceContent(actor): WorkspaceContent,
    workspace: web::Path<Uuid>,
    filter: web::Query<CampaignListFilter>,
    paging: web::Query<PageParams>,
) -> Result<web::Json<Paged<CampaignBody>>, ApiError> {
    let request = paging.resolve()?;
    let page = state
        .campaigns
        .campaigns(
            &actor,
            WorkspaceId::from_uuid(workspace.into_inner()),
            filter.status.map(Into::into),
            &page_query(&request),
        )
        .await?;
    Ok(web::Json(paged(page, &request)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PagesParams {
    /// Items per page, 1..=500 (default 50).
    pub page_size: Option<i64>,
}

/// How many pages the campaign list has at `page_size`, with the same filters
/// (`campaigns:read`).
#[utoipa::path(
    tag = "campaigns",
    security(("bearer" = [])),
    params(("workspace_id" = Uuid, Path), CampaignListFilter, PagesParams),
    responses(
        (status = 200, body = PagesBody),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
#[get("/v1/workspaces/{workspace_id}/campaigns/pages")]
pub async fn pages(
    state: web::Data<AppState>,
    WorkspaceContent(actor): WorkspaceContent,
    workspace: web::Path<Uuid>,
    filter: web::Query<CampaignListFilter>,
    params: web::Query<PagesParams>,
) -> Result<web::Json<PagesBody>, ApiError> {
    let size = page_size_only(params.page_size)?;
    let total = state
        .campaigns
        .count_campaigns(
            &actor,
            WorkspaceId::from_uuid(workspace.into_inner()),
            filter.status.map(Into::into),
        )
        .await?;
    Ok(web::Json(PagesBody::new(size, total)))
}

/// One campaign (`campaigns:read`).
#[utoipa::path(
    tag = "campaigns",
    security(("bearer" = [])),
    params(("workspace_id" = Uuid, Path), ("campaign_id" = Uuid, Path)),
    responses(
        (status = 200, body = CampaignBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
#[get("/v1/workspaces/{workspace_id}/campaigns/{campaign_id}")]
pub async fn show(
    state: web::Data<AppState>,
    WorkspaceContent(actor): WorkspaceContent,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<web::Json<CampaignBody>, ApiError> {
    let (workspace, campaign) = path.into_inner();
    let (workspace, campaign) = ids(workspace, campaign);
    let campaign = state
        .campaigns
        .campaign(&actor, workspace, campaign)
        .await?;
    Ok(web::Json(campaign.into()))
}

/// Change a campaign, or move its status (`campaigns:write`).
#[utoipa::path(
    tag = "campaigns",
    security(("bearer" = [])),
    params(("workspace_id" = Uuid, Path), ("campaign_id" = Uuid, Path)),
    request_body = CampaignChangeRequest,
    responses(
        (status = 200, body = CampaignBody),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Not a transition the status allows; the message names those it does", body = ErrorBody),
    )
)]
#[patch("/v1/workspaces/{workspace_id}/campaigns/{campaign_id}")]
pub async fn update(
    state: web::Data<AppState>,
    WorkspaceContent(actor): WorkspaceContent,
    path: web::Path<(Uuid, Uuid)>,
    body: web::Json<CampaignChangeRequest>,
) -> Result<web::Json<CampaignBody>, ApiError> {
    let (workspace, campaign) = path.into_inner();
    let (workspace, campaign) = ids(workspace, campaign);
    let body = body.into_inner();
    let changes = CampaignChanges {
        name: body.name,
        description: body.description,
        channel: body.channel.map(Into::into),
        group_ids: body
            .group_ids
            .map(|g| g.into_iter().map(GroupId::from_uuid).collect()),
        status: body.status.map(Into::into),
    };
    let campaign = state
        .campaigns
        .update_campaign(&actor, workspace, campaign, changes)
        .await?;
    Ok(web::Json(campaign.into()))
}

/// Delete a campaign and its messages (`campaigns:write`).
#[utoipa::path(
    tag = "campaigns",
    security(("bearer" = [])),
    params(("workspace_id" = Uuid, Path), ("campaign_id" = Uuid, Path)),
    responses(
        (status = 204),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
#[delete("/v1/workspaces/{workspace_id}/campaigns/{campaign_id}")]
pub async fn remove(
    state: web::Data<AppState>,
    WorkspaceContent(actor): WorkspaceContent,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (workspace, campaign) = path.into_inner();
    let (workspace, campaign) = ids(workspace, campaign);
    state
        .campaigns
        .delete_campaign(&actor, workspace, campaign)
        .await?;
    Ok(HttpResponse::NoContent().finish())
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

fn search_input(
    workspace_ids: Option<Vec<Uuid>>,
    status: Option<CampaignStatusBody>,
) -> SearchInput {
    SearchInput {
        workspace_ids: workspace_ids
            .map(|ids| ids.into_iter().map(WorkspaceId::from_uuid).collect()),
        status: status.map(Into::into),
    }
}

/// The campaigns of every workspace of the account that the caller may read, newest first
/// (`campaigns:read`, account-wide or in some workspace).
#[utoipa::path(
    tag = "campaigns",
    security(("bearer" = [])),
    request_body = SearchRequest,
    responses(
        (status = 200, body = Paged<CampaignBody>),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    )
)]
#[post("/v1/campaigns/search")]
pub async fn search(
    state: web::Data<AppState>,
    WorkspaceContent(actor): WorkspaceContent,
    body: web::Json<SearchRequest>,
) -> Result<web::Json<Paged<CampaignBody>>, ApiError> {
    let body = body.into_inner();
    let request = PageParams {
        page: body.page,
        page_size: body.page_size,
        cursor: body.cursor,
    }
    .resolve()?;
    let page = state
        .campaigns
        .search(
            &actor,
            search_input(body.workspace_ids, body.status),
            &page_query(&request),
        )
        .await?;
    Ok(web::Json(paged(page, &request)))
}

/// How many pages a search has at `page_size` (`campaigns:read`).
#[utoipa::path(
    tag = "campaigns",
    security(("bearer" = [])),
    request_body = SearchPagesRequest,
    responses(
        (status = 200, body = PagesBody),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    )
)]
#[post("/v1/campaigns/search/pages")]
pub async fn search_pages(
    state: web::Data<AppState>,
    WorkspaceContent(actor): WorkspaceContent,
    body: web::Json<SearchPagesRequest>,
) -> Result<web::Json<PagesBody>, ApiError> {
    let body = body.into_inner();
    let size = page_size_only(body.page_size)?;
    let total = state
        .campaigns
        .count_search(&actor, search_input(body.workspace_ids, body.status))
        .await?;
    Ok(web::Json(PagesBody::new(size, total)))
}
