//! [`CampaignStore`] on Postgres: campaigns and their groups here, messages in
//! `message_store.rs`.

use std::collections::HashMap;

use ::campaigns::ports::CampaignStore;
use ::campaigns::{
    Campaign, CampaignChanges, CampaignFilter, CampaignId, CampaignStatus, GroupId, MessageFilter,
    Page, PageQuery, Publication, Retrieval, SealedMessage,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use kernel::{AccountId, StoreError, WorkspaceId};
use uuid::Uuid;

use crate::db::Db;
use crate::error::{DbError, store};
use crate::message_store;
use crate::schema::{campaign_groups, campaigns, workspaces};

#[derive(Clone, Debug)]
pub struct PgCampaignStore {
    db: Db,
}

impl PgCampaignStore {
    #[must_use]
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

type CampaignRow = (
    Uuid,
    Uuid,
    Uuid,
    String,
    String,
    String,
    String,
    i64,
    DateTime<Utc>,
    DateTime<Utc>,
);

const CAMPAIGN_COLUMNS: (
    campaigns::id,
    campaigns::account_id,
    campaigns::workspace_id,
    campaigns::name,
    campaigns::description,
    campaigns::channel,
    campaigns::status,
    campaigns::message_count,
    campaigns::created_at,
    campaigns::updated_at,
) = (
    campaigns::id,
    campaigns::account_id,
    campaigns::workspace_id,
    campaigns::name,
    campaigns::description,
    campaigns::channel,
    campaigns::status,
    campaigns::message_count,
    campaigns::created_at,
    campaigns::updated_at,
);

pub(crate) fn parse_status(id: Uuid, status: &str) -> Result<CampaignStatus, DbError> {
    status
        .parse()
        .map_err(|e| DbError::Corrupt(format!("campaign {id}: {e}")))
}

fn campaign_from_row(
    (
        id,
        account,
        workspace,
        name,
        description,
        channel,
        status,
        message_count,
        created_at,
        updated_at,
    ): CampaignRow,
    group_ids: Vec<GroupId>,
) -> Result<Campaign, DbError> {
    Ok(Campaign {
        id: CampaignId::from_uuid(id),
        account_id: AccountId::from_uuid(account),
        workspace_id: WorkspaceId::from_uuid(workspace),
        name,
        description,
        channel: channel
            .parse()
            .map_err(|e| DbError::Corrupt(format!("campaign {id}: {e}")))?,
        group_ids,
        status: parse_status(id, &status)?,
        message_count,
        created_at,
        updated_at,
    })
}

/// The campaigns of `rows`, each with its groups (sorted), in the order given.
async fn with_groups(
    conn: &mut AsyncPgConnection,
    rows: Vec<CampaignRow>,
) -> Result<Vec<Campaign>, DbError> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.0).collect();
    let links = campaign_groups::table
        .filter(campaign_groups::campaign_id.eq_any(&ids))
        .order((campaign_groups::campaign_id, campaign_groups::group_id))
        .select((campaign_groups::campaign_id, campaign_groups::group_id))
        .load::<(Uuid, Uuid)>(conn)
        .await?;
    let mut groups: HashMap<Uuid, Vec<GroupId>> = HashMap::new();
    for (campaign, group) in links {
        groups
            .entry(campaign)
            .or_default()
            .push(GroupId::from_uuid(group));
    }
    rows.into_iter()
        .map(|row| {
            let mine = groups.remove(&row.0).unwrap_or_default();
            campaign_from_row(row, mine)
        })
        .collect()
}

async fn write_groups(
    conn: &mut AsyncPgConnection,
    account: AccountId,
    campaign: CampaignId,
    groups: &[GroupId],
) -> Result<(), DbError> {
    let rows: Vec<_> = groups
        .iter()
        .map(|g| {
            (
                campaign_groups::campaign_id.eq(campaign.as_uuid()),
                campaign_groups::group_id.eq(g.as_uuid()),
                campaign_groups::account_id.eq(account.as_uuid()),
            )
        })
        .collect();
    if !rows.is_empty() {
        diesel::insert_into(campaign_groups::table)
            .values(rows)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// One campaign of the workspace, with its groups.
pub(crate) async fn load_campaign(
    conn: &mut AsyncPgConnection,
    workspace: WorkspaceId,
    id: CampaignId,
) -> Result<Campaign, DbError> {
    let row = campaigns::table
        .filter(campaigns::id.eq(id.as_uuid()))
        .filter(campaigns::workspace_id.eq(workspace.as_uuid()))
        .select(CAMPAIGN_COLUMNS)
        .first::<CampaignRow>(conn)
        .await?;
    with_groups(conn, vec![row])
        .await?
        .pop()
        .ok_or(DbError::Query(diesel::result::Error::NotFound))
}

#[derive(AsChangeset)]
#[diesel(table_name = campaigns)]
struct CampaignChangeset<'a> {
    name: Option<&'a str>,
    description: Option<&'a str>,
    channel: Option<&'static str>,
    status: Option<&'static str>,
    updated_at: DateTime<Utc>,
}

fn filtered<'a>(
    account: AccountId,
    filter: &CampaignFilter,
) -> campaigns::BoxedQuery<'a, diesel::pg::Pg> {
    let mut query = campaigns::table
        .filter(campaigns::account_id.eq(account.as_uuid()))
        .into_boxed();
    if let Some(workspaces) = &filter.workspaces {
        let ids: Vec<Uuid> = workspaces.iter().map(WorkspaceId::as_uuid).collect();
        query = query.filter(campaigns::workspace_id.eq_any(ids));
    }
    if let Some(status) = filter.status {
        query = query.filter(campaigns::status.eq(status.as_str()));
    }
    query
}

#[async_trait]
impl CampaignStore for PgCampaignStore {
    async fn workspace_exists(
        &self,
        account: AccountId,
        workspace: WorkspaceId,
    ) -> Result<bool, StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, None).await?;
            let found = workspaces::table
                .filter(workspaces::id.eq(workspace.as_uuid()))
                .count()
                .get_result::<i64>(tx.conn())
                .await?;
            tx.commit().await?;
            Ok(found > 0)
        })
        .await
    }

    async fn create_campaign(&self, campaign: &Campaign) -> Result<(), StoreError> {
        store(async {
            let mut tx = self.db.tenant(campaign.account_id, None).await?;
            diesel::insert_into(campaigns::table)
                .values((
                    campaigns::id.eq(campaign.id.as_uuid()),
                    campaigns::account_id.eq(campaign.account_id.as_uuid()),
                    campaigns::workspace_id.eq(campaign.workspace_id.as_uuid()),
                    campaigns::name.eq(&campaign.name),
                    campaigns::description.eq(&campaign.description),
                    campaigns::channel.eq(campaign.channel.as_str()),
                    campaigns::status.eq(campaign.status.as_str()),
                    campaigns::message_count.eq(campaign.message_count),
                    campaigns::created_at.eq(campaign.created_at),
                    campaigns::updated_at.eq(campaign.updated_at),
                ))
                .execute(tx.conn())
                .await?;
            write_groups(
                tx.conn(),
                campaign.account_id,
                campaign.id,
                &campaign.group_ids,
            )
            .await?;
            tx.commit().await
        })
        .await
    }

    async fn campaign(
        &self,
        account: AccountId,
        workspace: WorkspaceId,
        id: CampaignId,
    ) -> Result<Campaign, StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, None).await?;
            let campaign = load_campaign(tx.conn(), workspace, id).await?;
            tx.commit().await?;
            Ok(campaign)
        })
        .await
    }

    async fn campaigns(
        &self,
        account: AccountId,
        filter: &CampaignFilter,
        page: &PageQuery,
    ) -> Result<Page<Campaign>, StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, None).await?;
            let total_items = filtered(account, filter)
                .count()
                .get_result::<i64>(tx.conn())
                .await?;
            let mut query = filtered(account, filter);
            if let Some((at, id)) = page.after {
                // Newest first: "after" the cursor is older than it.
                query = query.filter(
                    campaigns::created_at
                        .le(at)
                        .and(campaigns::created_at.lt(at).or(campaigns::id.lt(id))),
                );
            } else {
                query = query.offset(page.offset);
            }
            let rows = query
                .order((campaigns::created_at.desc(), campaigns::id.desc()))
                .limit(page.limit)
                .select(CAMPAIGN_COLUMNS)
                .load::<CampaignRow>(tx.conn())
                .await?;
            let items = with_groups(tx.conn(), rows).await?;
            tx.commit().await?;
            Ok(Page { items, total_items })
        })
        .await
    }

    async fn count_campaigns(
        &self,
        account: AccountId,
        filter: &CampaignFilter,
    ) -> Result<i64, StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, None).await?;
            let count = filtered(account, filter)
                .count()
                .get_result::<i64>(tx.conn())
                .await?;
            tx.commit().await?;
            Ok(count)
        })
        .await
    }

    async fn update_campaign(
        &self,
        account: AccountId,
        workspace: WorkspaceId,
        id: CampaignId,
        expected: CampaignStatus,
        changes: &CampaignChanges,
        now: DateTime<Utc>,
    ) -> Result<Option<Campaign>, StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, None).await?;
            let changeset = CampaignChangeset {
                name: changes.name.as_deref(),
                description: changes.description.as_deref(),
                channel: changes.channel.map(|c| c.as_str()),
                status: changes.status.map(|s| s.as_str()),
                updated_at: now,
            };
            let updated = diesel::update(
                campaigns::table
                    .filter(campaigns::id.eq(id.as_uuid()))
                    .filter(campaigns::workspace_id.eq(workspace.as_uuid()))
                    .filter(campaigns::status.eq(expected.as_str())),
            )
            .set(&changeset)
            .execute(tx.conn())
            .await?;
            if updated == 0 {
                // Missing (NotFound), or its status moved on (the caller judges again).
                load_campaign(tx.conn(), workspace, id).await?;
                tx.commit().await?;
                return Ok(None);
            }
            if let Some(groups) = &changes.group_ids {
                diesel::delete(
                    campaign_groups::table.filter(campaign_groups::campaign_id.eq(id.as_uuid())),
                )
                .execute(tx.conn())
                .await?;
                write_groups(tx.conn(), account, id, groups).await?;
            }
            let campaign = load_campaign(tx.conn(), workspace, id).await?;
            tx.commit().await?;
            Ok(Some(campaign))
        })
        .await
    }

    async fn delete_campaign(
        &self,
        account: AccountId,
        workspace: WorkspaceId,
        id: CampaignId,
    ) -> Result<(), StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, None).await?;
            // Its messages and group links go with it (ON DELETE CASCADE).
            let deleted = diesel::delete(
                campaigns::table
                    .filter(campaigns::id.eq(id.as_uuid()))
                    .filter(campaigns::workspace_id.eq(workspace.as_uuid())),
            )
            .execute(tx.conn())
            .await?;
            if deleted == 0 {
                return Err(DbError::Query(diesel::result::Error::NotFound));
            }
            tx.commit().await
        })
        .await
    }

    async fn publish(
        &self,
        account: AccountId,
        workspace: WorkspaceId,
        campaign: CampaignId,
        messages: &[SealedMessage],
    ) -> Result<Publication, StoreError> {
        store(message_store::publish(
            &self.db, account, workspace, campaign, messages,
        ))
        .await
    }

    async fn messages(
        &self,
        account: AccountId,
        workspace: WorkspaceId,
        campaign: CampaignId,
        filter: &MessageFilter,
        page: &PageQuery,
        audit: &Retrieval,
    ) -> Result<Page<SealedMessage>, StoreError> {
        store(message_store::page(
            &self.db, account, workspace, campaign, filter, page, audit,
        ))
        .await
    }

    async fn count_messages(
        &self,
        account: AccountId,
        workspace: WorkspaceId,
        campaign: CampaignId,
        filter: &MessageFilter,
    ) -> Result<i64, StoreError> {
        store(message_store::count(
            &self.db, account, workspace, campaign, filter,
        ))
        .await
    }
}
