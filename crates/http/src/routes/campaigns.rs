//! Campaigns of a workspace, and the account-wide campaign search.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use campaigns::{Campaign, CampaignChanges, CampaignId, CampaignInput, GroupId, SearchInput};
use kernel::WorkspaceId;
use uuid::Uuid;

use crate::auth::WorkspaceContent;
use crate::error::{ApiError, ErrorBody};
use crate::paging::{
    PageParams, PageRequest, Paged, PagesBody, PagesParams, encode_cursor, page_size_only,
};
use crate::state::AppState;
use crate::wire::{
    CampaignBody, CampaignChangeRequest, CampaignListFilter, CampaignRequest, CampaignStatusBody,
    SearchPagesRequest, SearchRequest,
};

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
            &request,
        )
        .await?;
    Ok(web::Json(paged(page, &request)))
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
            &request,
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
