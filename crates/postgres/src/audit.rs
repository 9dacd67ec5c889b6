//! Writing the append-only audit trail, inside whatever unit of work caused the event.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use kernel::{AuditLog, AuthEvent, StoreError};

use crate::db::{Db, Lookup};
use crate::error::DbError;
use crate::schema::auth_events;

pub(crate) async fn insert_event(
    conn: &AsyncPgConnection,
    event: &AuthEvent,
) -> Result<(), DbError> {
    let mut detail = serde_json::Map::new();
    if let Some(reason) = event.reason {
        detail.insert("reason".into(), reason.into());
    }
    if let Some(by) = event.by {
        detail.insert("by".into(), by.into());
    }
    for (key, value) in &event.details {
        detail.insert((*key).into(), value.as_str().into());
    }
    let detail = serde_json::Value::Object(detail);
    diesel::insert_into(auth_events::table)
        .values((
            auth_events::id.eq(event.id),
            auth_events::account_id.eq(event.account_id.map(|a| a.as_uuid())),
            auth_events::at.eq(event.at),
            auth_events::event.eq(event.kind.as_str()),
            auth_events::user_id.eq(event.user_id.map(|u| u.as_uuid())),
            auth_events::client_id.eq(event.client_id),
            auth_events::ip.eq(event.ip.map(ipnet::IpNet::from)),
            auth_events::country.eq(event.country.as_deref()),
            auth_events::city.eq(event.city.as_deref()),
            auth_events::success.eq(event.success),
            auth_events::failed_signin_attempts.eq(event.failed_signin_attempts),
            auth_events::failed_validation_attempts.eq(event.failed_validation_attempts),
            auth_events::detail.eq(detail),
        ))
        .execute(&mut &*conn)
        .await?;
    Ok(())
}

/// Records an event on its own: in its account, or — naming none — on the anonymous path.
pub(crate) async fn record_event(db: &Db, event: &AuthEvent) -> Result<(), StoreError> {
    let work = async |conn: &mut AsyncPgConnection| insert_event(conn, event).await;
    match event.account_id {
        Some(account) => db.tenant_tx(account, event.user_id, work).await,
        None => db.anonymous_tx(Lookup::Nothing, work).await,
    }
}

/// kernel's [`AuditLog`] on Postgres: each event in a transaction of its own.
#[derive(Clone, Debug)]
pub struct PgAuditLog {
    db: Db,
}

impl PgAuditLog {
    #[must_use]
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

#[async_trait::async_trait]
impl AuditLog for PgAuditLog {
    #[tracing::instrument(skip_all)]
    async fn record(&self, event: &AuthEvent) -> Result<(), StoreError> {
        record_event(&self.db, event).await
    }
}
