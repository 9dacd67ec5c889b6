//! Campaign rows and their group links: single statements.

use ::campaigns::{Campaign, CampaignFilter, CampaignId, GroupId, Keyset, PageRequest};
use chrono::{DateTime, Utc};
use diesel::dsl::exists;
use diesel::expression::{AppearsOnTable, ValidGrouping, is_aggregate};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Array, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use kernel::{AccountId, WorkspaceId};
use uuid::Uuid;

use super::corrupt;
use crate::error::DbError;
use crate::schema::{campaign_groups, campaigns, workspaces};

/// A campaign's groups, sorted, read with the campaign in the same statement. An expression of
/// its own (not `dsl::sql`, whose literal keeps a statement out of the prepared-statement cache),
/// so that loading a campaign stays one cached statement.
#[derive(Clone, Copy, Debug, QueryId)]
struct GroupIds;

impl Expression for GroupIds {
    type SqlType = Array<SqlUuid>;
}

impl QueryFragment<Pg> for GroupIds {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(
            "ARRAY(SELECT campaign_groups.group_id FROM campaign_groups \
             WHERE campaign_groups.campaign_id = campaigns.id ORDER BY campaign_groups.group_id)",
        );
        Ok(())
    }
}

impl AppearsOnTable<campaigns::table> for GroupIds {}
impl SelectableExpression<campaigns::table> for GroupIds {}
impl ValidGrouping<()> for GroupIds {
    type IsAggregate = is_aggregate::Never;
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = campaigns, check_for_backend(diesel::pg::Pg))]
struct CampaignRow {
    id: Uuid,
    account_id: Uuid,
    workspace_id: Uuid,
    name: String,
    description: String,
    channel: String,
    status: String,
    message_count: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    #[diesel(select_expression = GroupIds, select_expression_type = GroupIds)]
    group_ids: Vec<Uuid>,
}

impl CampaignRow {
    fn into_campaign(self) -> Result<Campaign, DbError> {
        Ok(Campaign {
            id: CampaignId::from_uuid(self.id),
            account_id: AccountId::from_uuid(self.account_id),
            workspace_id: WorkspaceId::from_uuid(self.workspace_id),
            channel: self
                .channel
                .parse()
                .map_err(|e| corrupt("campaign", self.id, e))?,
            status: self
                .status
                .parse()
                .map_err(|e| corrupt("campaign", self.id, e))?,
            name: self.name,
            description: self.description,
            group_ids: self.group_ids.into_iter().map(GroupId::from_uuid).collect(),
            message_count: self.message_count,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// The columns a campaign's own write sets (its groups are links of their own).
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = campaigns, check_for_backend(diesel::pg::Pg))]
struct CampaignFields<'a> {
    name: &'a str,
    description: &'a str,
    channel: &'static str,
    status: &'static str,
    message_count: i64,
    updated_at: DateTime<Utc>,
}

impl<'a> CampaignFields<'a> {
    fn of(campaign: &'a Campaign) -> Self {
        Self {
            name: &campaign.name,
            description: &campaign.description,
            channel: campaign.channel.as_str(),
            status: campaign.status.as_str(),
            message_count: campaign.message_count,
            updated_at: campaign.updated_at,
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = campaigns, check_for_backend(diesel::pg::Pg))]
struct NewCampaign<'a> {
    id: Uuid,
    account_id: Uuid,
    workspace_id: Uuid,
    created_at: DateTime<Utc>,
    #[diesel(embed)]
    fields: CampaignFields<'a>,
}

#[derive(Insertable)]
#[diesel(table_name = campaign_groups, check_for_backend(diesel::pg::Pg))]
struct GroupLink {
    campaign_id: Uuid,
    group_id: Uuid,
    account_id: Uuid,
}

fn in_workspace(
    workspace: WorkspaceId,
    id: CampaignId,
) -> diesel::dsl::Filter<
    diesel::dsl::Filter<campaigns::table, diesel::dsl::Eq<campaigns::id, Uuid>>,
    diesel::dsl::Eq<campaigns::workspace_id, Uuid>,
> {
    campaigns::table
        .filter(campaigns::id.eq(id.as_uuid()))
        .filter(campaigns::workspace_id.eq(workspace.as_uuid()))
}

pub(super) async fn workspace_exists(
    conn: &mut AsyncPgConnection,
    workspace: WorkspaceId,
) -> Result<bool, DbError> {
    Ok(diesel::select(exists(
        workspaces::table.filter(workspaces::id.eq(workspace.as_uuid())),
    ))
    .get_result(conn)
    .await?)
}

/// One campaign of the workspace with its groups; `lock`ed, it is held against every other
/// writer until the transaction ends.
pub(super) async fn load(
    conn: &mut AsyncPgConnection,
    workspace: WorkspaceId,
    id: CampaignId,
    lock: bool,
) -> Result<Campaign, DbError> {
    let query = in_workspace(workspace, id).select(CampaignRow::as_select());
    let row = if lock {
        query.for_no_key_update().first(conn).await?
    } else {
        query.first(conn).await?
    };
    row.into_campaign()
}

/// The account's campaigns that `filter` selects: the filter's meaning
/// (`CampaignFilter::selects`) as a `WHERE` clause.
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

pub(super) async fn page(
    conn: &mut AsyncPgConnection,
    account: AccountId,
    filter: &CampaignFilter,
    page: &PageRequest,
) -> Result<Vec<Campaign>, DbError> {
    let mut query = filtered(account, filter);
    if let Some(Keyset { created_at: at, id }) = page.after {
        // Newest first: "after" the cursor is older than it.
        query = query.filter(
            campaigns::created_at
                .le(at)
                .and(campaigns::created_at.lt(at).or(campaigns::id.lt(id))),
        );
    } else {
        query = query.offset(page.offset);
    }
    query
        .order((campaigns::created_at.desc(), campaigns::id.desc()))
        .limit(page.page_size)
        .select(CampaignRow::as_select())
        .load(conn)
        .await?
        .into_iter()
        .map(CampaignRow::into_campaign)
        .collect()
}

pub(super) async fn count(
    conn: &mut AsyncPgConnection,
    account: AccountId,
    filter: &CampaignFilter,
) -> Result<i64, DbError> {
    Ok(filtered(account, filter).count().get_result(conn).await?)
}

pub(super) async fn insert(
    conn: &mut AsyncPgConnection,
    campaign: &Campaign,
) -> Result<(), DbError> {
    diesel::insert_into(campaigns::table)
        .values(NewCampaign {
            id: campaign.id.as_uuid(),
            account_id: campaign.account_id.as_uuid(),
            workspace_id: campaign.workspace_id.as_uuid(),
            created_at: campaign.created_at,
            fields: CampaignFields::of(campaign),
        })
        .execute(conn)
        .await?;
    insert_groups(conn, campaign, &campaign.group_ids).await
}

pub(super) async fn update(
    conn: &mut AsyncPgConnection,
    campaign: &Campaign,
) -> Result<(), DbError> {
    let updated = diesel::update(in_workspace(campaign.workspace_id, campaign.id))
        .set(CampaignFields::of(campaign))
        .execute(conn)
        .await?;
    if updated == 0 {
        return Err(DbError::Query(diesel::result::Error::NotFound));
    }
    Ok(())
}

pub(super) async fn replace_groups(
    conn: &mut AsyncPgConnection,
    campaign: &Campaign,
    groups: &[GroupId],
) -> Result<(), DbError> {
    diesel::delete(
        campaign_groups::table.filter(campaign_groups::campaign_id.eq(campaign.id.as_uuid())),
    )
    .execute(conn)
    .await?;
    insert_groups(conn, campaign, groups).await
}

/// A group deleted meanwhile fails the link's reference (`NotFound` for the domain).
async fn insert_groups(
    conn: &mut AsyncPgConnection,
    campaign: &Campaign,
    groups: &[GroupId],
) -> Result<(), DbError> {
    if groups.is_empty() {
        return Ok(());
    }
    let links: Vec<GroupLink> = groups
        .iter()
        .map(|g| GroupLink {
            campaign_id: campaign.id.as_uuid(),
            group_id: g.as_uuid(),
            account_id: campaign.account_id.as_uuid(),
        })
        .collect();
    diesel::insert_into(campaign_groups::table)
        .values(links)
        .execute(conn)
        .await?;
    Ok(())
}

/// Its group links go with it (`ON DELETE CASCADE`).
pub(super) async fn delete(
    conn: &mut AsyncPgConnection,
    workspace: WorkspaceId,
    id: CampaignId,
) -> Result<(), DbError> {
    let deleted = diesel::delete(in_workspace(workspace, id))
        .execute(conn)
        .await?;
    if deleted == 0 {
        return Err(DbError::Query(diesel::result::Error::NotFound));
    }
    Ok(())
}
