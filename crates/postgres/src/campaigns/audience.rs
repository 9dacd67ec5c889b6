//! Campaigns' view of the customers tables: which of a set the domain hands over are not the
//! workspace's, each answered in one statement for the whole set.

use ::campaigns::GroupId;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use kernel::{CustomerId, WorkspaceId};
use uuid::Uuid;

use crate::error::DbError;
use crate::schema::{customer_groups, customers};

pub(super) async fn unknown_customers(
    conn: &mut AsyncPgConnection,
    workspace: WorkspaceId,
    asked: &[CustomerId],
) -> Result<Vec<CustomerId>, DbError> {
    let asked: Vec<Uuid> = asked.iter().map(CustomerId::as_uuid).collect();
    let found = customers::table
        .filter(customers::workspace_id.eq(workspace.as_uuid()))
        .filter(customers::id.eq_any(&asked))
        .select(customers::id)
        .load::<Uuid>(conn)
        .await?;
    Ok(missing(&asked, found)
        .into_iter()
        .map(CustomerId::from_uuid)
        .collect())
}

pub(super) async fn unknown_groups(
    conn: &mut AsyncPgConnection,
    workspace: WorkspaceId,
    asked: &[GroupId],
) -> Result<Vec<GroupId>, DbError> {
    let asked: Vec<Uuid> = asked.iter().map(GroupId::as_uuid).collect();
    let found = customer_groups::table
        .filter(customer_groups::workspace_id.eq(workspace.as_uuid()))
        .filter(customer_groups::id.eq_any(&asked))
        .select(customer_groups::id)
        .load::<Uuid>(conn)
        .await?;
    Ok(missing(&asked, found)
        .into_iter()
        .map(GroupId::from_uuid)
        .collect())
}

/// Those of `asked` that are not in `found`, each once.
fn missing(asked: &[Uuid], mut found: Vec<Uuid>) -> Vec<Uuid> {
    found.sort_unstable();
    let mut missing: Vec<Uuid> = asked
        .iter()
        .filter(|id| found.binary_search(id).is_err())
        .copied()
        .collect();
    missing.sort_unstable();
    missing.dedup();
    missing
}
