//! Campaign messages: the one-statement batch insert behind publishing, retrieval pages and
//! their audit record, counts. Single statements; the service decides when each runs.

use ::campaigns::{
    CampaignId, Keyset, MessageFilter, MessageId, PageRequest, Retrieval, SealedMessage,
};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{Array, Bytea, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use kernel::{AccountId, CustomerId, WorkspaceId};
use uuid::Uuid;

use crate::error::DbError;
use crate::schema::{campaign_messages, message_retrievals};

const CUSTOMER_REFERENCE: &str = "campaign_messages_customer_id_fkey";

/// One statement for the whole batch: arrays unnested into rows, so that a batch of 1,000 is
/// one round trip with seven parameters (and one cached prepared statement), not 7,000 binds.
/// The customers' references are checked set-wise by the same statement.
const INSERT_BATCH: &str = "\
    INSERT INTO campaign_messages \
        (id, account_id, workspace_id, campaign_id, customer_id, sealed, created_at) \
    SELECT m.id, $1, $2, $3, m.customer_id, m.sealed, m.created_at \
    FROM unnest($4::uuid[], $5::uuid[], $6::bytea[], $7::timestamptz[]) \
        AS m (id, customer_id, sealed, created_at)";

#[derive(Queryable, Selectable)]
#[diesel(table_name = campaign_messages, check_for_backend(diesel::pg::Pg))]
struct MessageRow {
    id: Uuid,
    campaign_id: Uuid,
    customer_id: Uuid,
    sealed: Vec<u8>,
    created_at: DateTime<Utc>,
}

impl From<MessageRow> for SealedMessage {
    fn from(row: MessageRow) -> Self {
        Self {
            id: MessageId::from_uuid(row.id),
            campaign_id: CampaignId::from_uuid(row.campaign_id),
            customer_id: CustomerId::from_uuid(row.customer_id),
            sealed: row.sealed,
            created_at: row.created_at,
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = message_retrievals, check_for_backend(diesel::pg::Pg))]
struct RetrievalRow {
    id: Uuid,
    account_id: Uuid,
    workspace_id: Uuid,
    campaign_id: Uuid,
    user_id: Uuid,
    session_id: Uuid,
    retrieved_at: DateTime<Utc>,
    message_count: i32,
}

/// `Ok(false)`: a customer of the batch is not (any longer) the workspace's; the statement
/// failed whole, and the transaction can only be rolled back.
pub(super) async fn insert(
    conn: &mut AsyncPgConnection,
    account: AccountId,
    workspace: WorkspaceId,
    campaign: CampaignId,
    messages: &[SealedMessage],
) -> Result<bool, DbError> {
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
        .execute(conn)
        .await;
    match inserted {
        Ok(_) => Ok(true),
        Err(DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info))
            if info.constraint_name() == Some(CUSTOMER_REFERENCE) =>
        {
            Ok(false)
        }
        Err(other) => Err(other.into()),
    }
}

/// The campaign's messages that `filter` selects: the filter's meaning
/// (`MessageFilter::selects`) as a `WHERE` clause.
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

pub(super) async fn count(
    conn: &mut AsyncPgConnection,
    workspace: WorkspaceId,
    campaign: CampaignId,
    filter: &MessageFilter,
) -> Result<i64, DbError> {
    Ok(filtered(workspace, campaign, filter)
        .count()
        .get_result(conn)
        .await?)
}

/// A page of sealed messages, oldest first.
pub(super) async fn page(
    conn: &mut AsyncPgConnection,
    workspace: WorkspaceId,
    campaign: CampaignId,
    filter: &MessageFilter,
    page: &PageRequest,
) -> Result<Vec<SealedMessage>, DbError> {
    if filter.is_empty() {
        // A campaign published to since the last ANALYZE looks empty to the planner, which then
        // sorts every message of it rather than walk the (campaign_id, created_at, id) index in
        // order: a second instead of milliseconds. Unfiltered, the ordered index scan is always
        // right; filtered pages (few rows, found by another index) keep their sort.
        diesel::sql_query("SET LOCAL enable_sort = off")
            .execute(conn)
            .await?;
    }
    let mut query = filtered(workspace, campaign, filter);
    if let Some(Keyset { created_at: at, id }) = page.after {
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
        .limit(page.page_size)
        .select(MessageRow::as_select())
        .load(conn)
        .await?;
    Ok(rows.into_iter().map(SealedMessage::from).collect())
}

/// The trigger `campaign_messages_uncount` lowers the campaign's count as they go.
pub(super) async fn delete(
    conn: &mut AsyncPgConnection,
    workspace: WorkspaceId,
    campaign: CampaignId,
) -> Result<(), DbError> {
    diesel::delete(
        campaign_messages::table
            .filter(campaign_messages::campaign_id.eq(campaign.as_uuid()))
            .filter(campaign_messages::workspace_id.eq(workspace.as_uuid())),
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn record_retrieval(
    conn: &mut AsyncPgConnection,
    audit: &Retrieval,
    returned: usize,
) -> Result<(), DbError> {
    diesel::insert_into(message_retrievals::table)
        .values(RetrievalRow {
            id: audit.id,
            account_id: audit.account_id.as_uuid(),
            workspace_id: audit.workspace_id.as_uuid(),
            campaign_id: audit.campaign_id.as_uuid(),
            user_id: audit.user_id.as_uuid(),
            session_id: audit.session_id.as_uuid(),
            retrieved_at: audit.at,
            message_count: i32::try_from(returned).unwrap_or(i32::MAX),
        })
        .execute(conn)
        .await?;
    Ok(())
}
