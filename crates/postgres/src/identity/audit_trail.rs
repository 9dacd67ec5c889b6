//! Reading an account's audit trail (writing it is `crate::audit`).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use identity::models::{AuditQuery, AuditRecord, Keyset, Page};
use kernel::UserId;
use uuid::Uuid;

use crate::error::DbError;
use crate::schema::auth_events;

/// One line of the audit trail, as stored.
#[derive(Queryable, Selectable)]
#[diesel(table_name = auth_events, check_for_backend(diesel::pg::Pg))]
struct AuditRow {
    id: Uuid,
    at: DateTime<Utc>,
    event: String,
    user_id: Option<Uuid>,
    client_id: Option<Uuid>,
    ip: Option<ipnet::IpNet>,
    country: Option<String>,
    success: bool,
    failed_signin_attempts: i32,
    failed_validation_attempts: i32,
    detail: serde_json::Value,
}

impl From<AuditRow> for AuditRecord {
    fn from(row: AuditRow) -> Self {
        Self {
            id: row.id,
            at: row.at,
            event: row.event,
            user_id: row.user_id.map(UserId::from_uuid),
            client_id: row.client_id,
            ip: row.ip.map(|net| net.addr()),
            country: row.country,
            success: row.success,
            failed_signin_attempts: row.failed_signin_attempts,
            failed_validation_attempts: row.failed_validation_attempts,
            reason: row.detail["reason"].as_str().map(str::to_owned),
            by: row.detail["by"].as_str().map(str::to_owned),
        }
    }
}

/// The page of the trail `query` asks for (in the unit of work's account), newest first.
pub(super) async fn page(
    conn: &mut AsyncPgConnection,
    query: &AuditQuery,
) -> Result<Page<AuditRecord>, DbError> {
    let filtered = || {
        let mut q = auth_events::table.into_boxed();
        if let Some(event) = &query.event {
            q = q.filter(auth_events::event.eq(event.clone()));
        }
        if let Some(user) = query.user_id {
            q = q.filter(auth_events::user_id.eq(user.as_uuid()));
        }
        q
    };
    let total_items = filtered().count().get_result::<i64>(conn).await?;
    let mut page = filtered();
    if let Some(Keyset { created_at: at, id }) = query.page.after {
        page = page.filter(
            auth_events::at
                .lt(at)
                .or(auth_events::at.eq(at).and(auth_events::id.lt(id))),
        );
    } else {
        page = page.offset(query.page.offset);
    }
    let rows = page
        .order((auth_events::at.desc(), auth_events::id.desc()))
        .limit(query.page.page_size)
        .select(AuditRow::as_select())
        .load(conn)
        .await?;
    Ok(Page {
        items: rows.into_iter().map(AuditRecord::from).collect(),
        total_items,
    })
}
