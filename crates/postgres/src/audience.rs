//! [`Audience`] on Postgres: campaigns' view of the customers tables.

use async_trait::async_trait;
use campaigns::GroupId;
use campaigns::ports::Audience;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use kernel::{AccountId, CustomerId, StoreError, WorkspaceId};
use uuid::Uuid;

use crate::db::Db;
use crate::error::store;
use crate::schema::{customer_groups, customers};

#[derive(Clone, Debug)]
pub struct PgAudience {
    db: Db,
}

impl PgAudience {
    #[must_use]
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

#[async_trait]
impl Audience for PgAudience {
    async fn unknown_customers(
        &self,
        account: AccountId,
        workspace: WorkspaceId,
        asked: &[CustomerId],
    ) -> Result<Vec<CustomerId>, StoreError> {
        let asked: Vec<Uuid> = asked.iter().map(CustomerId::as_uuid).collect();
        store(async {
            let mut tx = self.db.tenant(account, None).await?;
            let mut found = customers::table
                .filter(customers::workspace_id.eq(workspace.as_uuid()))
                .filter(customers::id.eq_any(&asked))
                .select(customers::id)
                .load::<Uuid>(tx.conn())
                .await?;
            tx.commit().await?;
            found.sort_unstable();
            Ok(missing_sorted(&asked, &found)
                .into_iter()
                .map(CustomerId::from_uuid)
                .collect())
        })
        .await
    }

    async fn unknown_groups(
        &self,
        account: AccountId,
        workspace: WorkspaceId,
        asked: &[GroupId],
    ) -> Result<Vec<GroupId>, StoreError> {
        let asked: Vec<Uuid> = asked.iter().map(GroupId::as_uuid).collect();
        store(async {
            let mut tx = self.db.tenant(account, None).await?;
            let mut found = customer_groups::table
                .filter(customer_groups::workspace_id.eq(workspace.as_uuid()))
                .filter(customer_groups::id.eq_any(&asked))
                .select(customer_groups::id)
                .load::<Uuid>(tx.conn())
                .await?;
            tx.commit().await?;
            found.sort_unstable();
            Ok(missing_sorted(&asked, &found)
                .into_iter()
                .map(GroupId::from_uuid)
                .collect())
        })
        .await
    }
}

/// Those of `asked` that are not in `found` (sorted), each once.
fn missing_sorted(asked: &[Uuid], found: &[Uuid]) -> Vec<Uuid> {
    let mut missing: Vec<Uuid> = asked
        .iter()
        .filter(|id| found.binary_search(id).is_err())
        .copied()
        .collect();
    missing.sort_unstable();
    missing.dedup();
    missing
}
