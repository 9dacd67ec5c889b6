//! Campaigns, the account-wide search, and their messages.

use futures_util::stream::BoxStream;
use uuid::Uuid;

use crate::client::{Auth, Client};
use crate::endpoints as ep;
use crate::error::Error;
use crate::paging::every_item;
use crate::types::{
    Campaign, CampaignChanges, CampaignFilter, CampaignSearch, CampaignSearchPages, Message,
    MessagePagesQuery, MessageQuery, NewCampaign, NewMessage, Page, PageCount, PageRequest,
    PageSizeQuery, PublishRequest, Published,
};

const NO_QUERY: Option<&()> = None;
const NO_BODY: Option<&()> = None;

#[derive(serde::Serialize)]
struct ListQuery<'a> {
    #[serde(flatten)]
    filter: &'a CampaignFilter,
    #[serde(flatten)]
    page: &'a PageRequest,
}

impl Client {
    /// `POST …/campaigns`: a new campaign, in `draft`.
    ///
    /// # Errors
    /// 400 naming invalid fields (or groups not of the workspace).
    pub async fn create_campaign(
        &self,
        workspace_id: Uuid,
        campaign: &NewCampaign,
    ) -> Result<Campaign, Error> {
        self.call(
            Auth::Bearer,
            &ep::CREATE_CAMPAIGN,
            &[&workspace_id],
            NO_QUERY,
            Some(campaign),
        )
        .await
    }

    /// `GET …/campaigns`: one page.
    ///
    /// # Errors
    /// 404 for a workspace the caller does not see; 403 without `campaigns:read`.
    pub async fn campaigns(
        &self,
        workspace_id: Uuid,
        filter: &CampaignFilter,
        page: &PageRequest,
    ) -> Result<Page<Campaign>, Error> {
        self.call(
            Auth::Bearer,
            &ep::CAMPAIGNS,
            &[&workspace_id],
            Some(&ListQuery { filter, page }),
            NO_BODY,
        )
        .await
    }

    /// Every campaign of the workspace matching `filter`.
    pub fn campaigns_stream(
        &self,
        workspace_id: Uuid,
        filter: CampaignFilter,
        page_size: i64,
    ) -> BoxStream<'static, Result<Campaign, Error>> {
        let client = self.clone();
        every_item(page_size, move |page| {
            let client = client.clone();
            let filter = filter.clone();
            async move { client.campaigns(workspace_id, &filter, &page).await }
        })
    }

    /// `GET …/campaigns/pages`.
    ///
    /// # Errors
    /// As [`Client::campaigns`].
    pub async fn campaign_pages(
        &self,
        workspace_id: Uuid,
        page_size: Option<i64>,
    ) -> Result<PageCount, Error> {
        self.call(
            Auth::Bearer,
            &ep::CAMPAIGN_PAGES,
            &[&workspace_id],
            Some(&PageSizeQuery { page_size }),
            NO_BODY,
        )
        .await
    }

    /// `GET …/campaigns/{campaign_id}`.
    ///
    /// # Errors
    /// 404 for no such campaign here.
    pub async fn campaign(&self, workspace_id: Uuid, campaign_id: Uuid) -> Result<Campaign, Error> {
        self.call(
            Auth::Bearer,
            &ep::CAMPAIGN,
            &[&workspace_id, &campaign_id],
            NO_QUERY,
            NO_BODY,
        )
        .await
    }

    /// `PATCH …/campaigns/{campaign_id}`: a partial change, or a status transition
    /// (`draft → active → paused ↔ active → completed`).
    ///
    /// # Errors
    /// 409 for a transition not allowed from the current status.
    pub async fn update_campaign(
        &self,
        workspace_id: Uuid,
        campaign_id: Uuid,
        changes: &CampaignChanges,
    ) -> Result<Campaign, Error> {
        self.call(
            Auth::Bearer,
            &ep::UPDATE_CAMPAIGN,
            &[&workspace_id, &campaign_id],
            NO_QUERY,
            Some(changes),
        )
        .await
    }

    /// `DELETE …/campaigns/{campaign_id}` (with its messages).
    ///
    /// # Errors
    /// 404 for no such campaign here.
    pub async fn delete_campaign(
        &self,
        workspace_id: Uuid,
        campaign_id: Uuid,
    ) -> Result<(), Error> {
        self.call_empty(
            &ep::DELETE_CAMPAIGN,
            &[&workspace_id, &campaign_id],
            NO_BODY,
        )
        .await
    }

    /// `POST /v1/campaigns/search`: campaigns of every workspace of the account that the
    /// caller may read.
    ///
    /// # Errors
    /// 403 without `campaigns:read`.
    pub async fn search_campaigns(&self, search: &CampaignSearch) -> Result<Page<Campaign>, Error> {
        self.call(
            Auth::Bearer,
            &ep::SEARCH_CAMPAIGNS,
            &[],
            NO_QUERY,
            Some(search),
        )
        .await
    }

    /// `POST /v1/campaigns/search/pages`.
    ///
    /// # Errors
    /// As [`Client::search_campaigns`].
    pub async fn search_campaign_pages(
        &self,
        search: &CampaignSearchPages,
    ) -> Result<PageCount, Error> {
        self.call(
            Auth::Bearer,
            &ep::SEARCH_CAMPAIGN_PAGES,
            &[],
            NO_QUERY,
            Some(search),
        )
        .await
    }

    /// `POST …/messages/publish`: stores messages (at most 1,000 a call), encrypted.
    ///
    /// # Errors
    /// 400 for customers not of the workspace or invalid messages; 413 over the body limit.
    pub async fn publish_messages(
        &self,
        workspace_id: Uuid,
        campaign_id: Uuid,
        messages: &[NewMessage],
    ) -> Result<Published, Error> {
        self.call(
            Auth::Bearer,
            &ep::PUBLISH_MESSAGES,
            &[&workspace_id, &campaign_id],
            NO_QUERY,
            Some(&PublishRequest { messages }),
        )
        .await
    }

    /// `POST …/messages/retrieve`: one page of messages, decrypted.
    ///
    /// # Errors
    /// 404 for no such campaign here; 403 without `messages:read`.
    pub async fn retrieve_messages(
        &self,
        workspace_id: Uuid,
        campaign_id: Uuid,
        query: &MessageQuery,
    ) -> Result<Page<Message>, Error> {
        self.call(
            Auth::Bearer,
            &ep::RETRIEVE_MESSAGES,
            &[&workspace_id, &campaign_id],
            NO_QUERY,
            Some(query),
        )
        .await
    }

    /// Every message of the campaign matching `query`'s filters, by cursor (its `page` is
    /// replaced page after page).
    pub fn messages_stream(
        &self,
        workspace_id: Uuid,
        campaign_id: Uuid,
        query: MessageQuery,
        page_size: i64,
    ) -> BoxStream<'static, Result<Message, Error>> {
        let client = self.clone();
        every_item(page_size, move |page| {
            let client = client.clone();
            let query = MessageQuery {
                page,
                ..query.clone()
            };
            async move {
                client
                    .retrieve_messages(workspace_id, campaign_id, &query)
                    .await
            }
        })
    }

    /// `POST …/messages/pages`.
    ///
    /// # Errors
    /// As [`Client::retrieve_messages`].
    pub async fn message_pages(
        &self,
        workspace_id: Uuid,
        campaign_id: Uuid,
        query: &MessagePagesQuery,
    ) -> Result<PageCount, Error> {
        self.call(
            Auth::Bearer,
            &ep::MESSAGE_PAGES,
            &[&workspace_id, &campaign_id],
            NO_QUERY,
            Some(query),
        )
        .await
    }
}
