//! Campaign messages: the batch insert behind publishing, retrieval pages with their audit
//! record, and counts.

use ::campaigns::{
    CampaignId, MessageFilter, MessageId, Page, PageQuery, Publication, Retrieval, SealedMessage,
};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{Array, Bytea, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use kernel::{AccountId, CustomerId, WorkspaceId};
use uuid::Uuid;

use crate::campaign_store::parse_status;
use crate::db::Db;
use crate::error::DbError;
use crate::schema::{campaign_messages, campaigns, message_retrievals};

const CUSTOMER_REFERENCE: &str = "campaign_messages_customer_id_fkey";

/// One statement for the whole batch: arrays unnested into rows, so that a batch of 1,000 is
/// one round trip with seven parameters (and one cached prepared statement), not 7,000 binds.
const INSERT_BATCH: &str = "\
    INSERT INTO campaign_messages \
        (id, account_id, workspace_id, campaign_id, customer_id, sealed, created_at) \
    SELECT m.id, $1, $2, $3, m.customer_id, m.sealed, m.created_at \
    FROM unnest($4::uuid[], $5::uuid[], $6::bytea[], $7::timestamptz[]) \
        AS m (id, customer_id, sealed, created_at)";

fn campaign_row(
    workspace: WorkspaceId,
    campaign: CampaignId,
) -> campaigns::BoxedQuery<'static, diesel::pg::Pg> {
    campaigns::table
        .filter(campaigns::id.eq(campaign.as_uuid()))
        .filter(campaigns::workspace_id.eq(workspace.as_uuid()))
        .into_boxed()
}

/// Writes the batch and counts it on the campaign — only while the campaign is `draft` or
/// `active`: the count's update locks the campaign row, so no status change slips in between.
pub(crate) async fn publish(
    db: &Db,
    account: AccountId,
    workspace: WorkspaceId,
    campaign: CampaignId,
    messages: &[SealedMessage],
) -> Result<Publication, DbError> {
    let mut tx = db.tenant(account, None).await?;
    let added = i64::try_from(messages.len())
        .map_err(|_| DbError::Corrupt("batch too large to count".into()))?;
    let counted = diesel::update(
        campaigns::table
            .filter(campaigns::id.eq(campaign.as_uuid()))
            .filter(campaigns::workspace_id.eq(workspace.as_uuid()))
            .filter(campaigns::status.eq_any(["draft", "active"])),
    )
    .set(campaigns::message_count.eq(campaigns::message_count + added))
    .execute(tx.conn())
    .await?;
    if counted == 0 {
        let status = campaign_row(workspace, campaign)
            .select(campaigns::status)
            .first::<String>(tx.conn())
            .await?;
        tx.commit().await?;
        return Ok(Publication::NotPublishable(parse_status(
            campaign.as_uuid(),
            &status,
        )?));
    }
    let ids: Vec<Uuid> = messages.iter().map(|m| m.id.as_uuid()).collect();
    let customers: Vec<Uuid> = messages.iter().map(|m| m.customer_id.as_uuid()).collect();
    let sealed: Vec<&[u8]> = messages.iter().map(|m| m.sealed.as_slice()).collect();
    let created: Vec<DateTime<Utc>> = messages.iter().map(|m| m.created_at).collect();
    let inserted = diesel::sql_query(INSERT_BATCH)
        .bind::<SqlUuid, _>(account.as_uuid())
        .bind::<SqlUuid, _>(workspace.as_uuid())
        .bind::<SqlUuid, _>(campaign.as_uuid())
        .bind::<Array<SqlUuid>, _>(ids)
        .bind::<Array<SqlUuid>, _>(customers)
        .bind::<Array<Bytea>, _>(sealed)
        .bind::<Array<Timestamptz>, _>(created)
        .execute(tx.conn())
        .await;
    match inserted {
        Ok(_) => {}
        // A customer deleted since the batch was checked; dropping the transaction undoes it.
        Err(DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info))
            if info.constraint_name() == Some(CUSTOMER_REFERENCE) =>
        {
            return Ok(Publication::CustomerGone);
        }
        Err(other) => return Err(other.into()),
    }
    tx.commit().await?;
    Ok(Publication::Published)
}

fn filtered(
    workspace: WorkspaceId,
    campaign: CampaignId,
    filter: &MessageFilter,
) -> campaign_messages::BoxedQuery<'static, diesel::pg::Pg> {
    let mut query = campaign_messages::table
        .filter(campaign_messages::campaign_id.eq(campaign.as_uuid()))
        .filter(campaign_messages::workspace_id.eq(workspace.as_uuid()))
        .into_boxed();
    if let Some(customers) = &filter.customer_ids {
        let ids: Vec<Uuid> = customers.iter().map(CustomerId::as_uuid).collect();
        query = query.filter(campaign_messages::customer_id.eq_any(ids));
    }
    if let Some(messages) = &filter.message_ids {
        let ids: Vec<Uuid> = messages.iter().map(MessageId::as_uuid).collect();
        query = query.filter(campaign_messages::id.eq_any(ids));
    }
    query
}

/// How many messages `filter` selects; unfiltered, the campaign's own count (no scan).
async fn total(
    conn: &mut AsyncPgConnection,
    workspace: WorkspaceId,
    campaign: CampaignId,
    filter: &MessageFilter,
) -> Result<i64, DbError> {
    let stored = campaign_row(workspace, campaign)
        .select(campaigns::message_count)
        .first::<i64>(conn)
        .await?;
    if filter.is_empty() {
        return Ok(stored);
    }
    Ok(filtered(workspace, campaign, filter)
        .count()
        .get_result::<i64>(conn)
        .await?)
}

type MessageRow = (Uuid, Uuid, Uuid, Vec<u8>, DateTime<Utc>);

/// A page of sealed messages, oldest first, and the audit record of reading it.
pub(crate) async fn page(
    db: &Db,
    account: AccountId,
    workspace: WorkspaceId,
    campaign: CampaignId,
    filter: &MessageFilter,
    page: &PageQuery,
    audit: &Retrieval,
) -> Result<Page<SealedMessage>, DbError> {
    let mut tx = db.tenant(account, Some(audit.user_id)).await?;
    let total_items = total(tx.conn(), workspace, campaign, filter).await?;
    if filter.is_empty() {
        // A campaign published to since the last ANALYZE looks empty to the planner, which then
        // sorts every message of it rather than walk the (campaign_id, created_at, id) index in
        // order: a second instead of milliseconds. Unfiltered, the ordered index scan is always
        // right; filtered pages (few rows, found by another index) keep their sort.
        diesel::sql_query("SET LOCAL enable_sort = off")
            .execute(tx.conn())
            .await?;
    }
    let mut query = filtered(workspace, campaign, filter);
    if let Some((at, id)) = page.after {
        // `created_at >= at` lets the (campaign_id, created_at, id) index bound the scan.
        query = query.filter(
            campaign_messages::created_at.ge(at).and(
                campaign_messages::created_at
                    .gt(at)
                    .or(campaign_messages::id.gt(id)),
            ),
        );
    } else {
        query = query.offset(page.offset);
    }
    let rows = query
        .order((
            campaign_messages::created_at.asc(),
            campaign_messages::id.asc(),
        ))
        .limit(page.limit)
        .select((
            campaign_messages::id,
            campaign_messages::campaign_id,
            campaign_messages::customer_id,
            campaign_messages::sealed,
            campaign_messages::created_at,
        ))
        .load::<MessageRow>(tx.conn())
        .await?;
    diesel::insert_into(message_retrievals::table)
        .values((
            message_retrievals::id.eq(audit.id),
            message_retrievals::account_id.eq(audit.account_id.as_uuid()),
            message_retrievals::workspace_id.eq(audit.workspace_id.as_uuid()),
            message_retrievals::campaign_id.eq(audit.campaign_id.as_uuid()),
            message_retrievals::user_id.eq(audit.user_id.as_uuid()),
            message_retrievals::session_id.eq(audit.session_id.as_uuid()),
            message_retrievals::retrieved_at.eq(audit.at),
            message_retrievals::message_count.eq(i32::try_from(rows.len()).unwrap_or(i32::MAX)),
        ))
        .execute(tx.conn())
        .await?;
    tx.commit().await?;
    let items = rows
        .into_iter()
        .map(
            |(id, campaign_id, customer_id, sealed, created_at)| SealedMessage {
                id: MessageId::from_uuid(id),
                campaign_id: CampaignId::from_uuid(campaign_id),
                customer_id: CustomerId::from_uuid(customer_id),
                sealed,
                created_at,
            },
        )
        .collect();
    Ok(Page { items, total_items })
}

pub(crate) async fn count(
    db: &Db,
    account: AccountId,
    workspace: WorkspaceId,
    campaign: CampaignId,
    filter: &MessageFilter,
) -> Result<i64, DbError> {
    let mut tx = db.tenant(account, None).await?;
    let count = total(tx.conn(), workspace, campaign, filter).await?;
    tx.commit().await?;
    Ok(count)
}
