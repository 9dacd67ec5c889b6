//! The transactional outbox's storage: emails are enqueued in the transaction that causes
//! them (`enqueue`), and [`PgOutbox`] answers kernel's [`Outbox`] port, whose
//! [`kernel::OutboxDelivery`] holds the delivery rule (claims, retries, giving up).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bytea, Integer, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use kernel::{AccountId, Outbox, PendingEmail, SealedEmail, StoreError};
use uuid::Uuid;

use crate::db::Db;
use crate::error::DbError;
use crate::schema::email_outbox;

/// Woken on every enqueue, so delivery does not wait for the next poll.
pub const CHANNEL: &str = "nudgescribe_outbox";

/// Enqueues `email` inside `conn`'s transaction: it exists if and only if the change commits.
/// Its body stays sealed at rest.
pub(crate) async fn enqueue(
    conn: &mut AsyncPgConnection,
    account: AccountId,
    email: &SealedEmail,
) -> Result<Uuid, DbError> {
    let id = email.id;
    diesel::insert_into(email_outbox::table)
        .values((
            email_outbox::id.eq(id),
            email_outbox::account_id.eq(account.as_uuid()),
            email_outbox::to_address.eq(email.to.as_str()),
            email_outbox::subject.eq(&email.subject),
            email_outbox::body.eq(""),
            email_outbox::body_sealed.eq(&email.body_sealed),
        ))
        .execute(conn)
        .await?;
    diesel::sql_query("SELECT pg_notify($1, '')")
        .bind::<Text, _>(CHANNEL)
        .execute(conn)
        .await?;
    Ok(id)
}

#[derive(QueryableByName)]
struct Claimed {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    to_address: String,
    #[diesel(sql_type = Text)]
    subject: String,
    /// Rows enqueued before bodies were sealed.
    #[diesel(sql_type = Text)]
    body: String,
    #[diesel(sql_type = Nullable<Bytea>)]
    body_sealed: Option<Vec<u8>>,
    #[diesel(sql_type = Integer)]
    attempts: i32,
}

impl From<Claimed> for PendingEmail {
    fn from(row: Claimed) -> Self {
        Self {
            id: row.id,
            to: row.to_address,
            subject: row.subject,
            body: row.body,
            body_sealed: row.body_sealed,
            attempts: row.attempts,
        }
    }
}

/// kernel's [`Outbox`] on the `email_outbox` table, as the server's own role (the outbox is
/// global: a worker delivers every account's email). Each method is one statement.
#[derive(Clone, Debug)]
pub struct PgOutbox {
    db: Db,
}

impl PgOutbox {
    #[must_use]
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

#[async_trait]
impl Outbox for PgOutbox {
    #[tracing::instrument(skip_all, fields(limit))]
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        claim_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<PendingEmail>, StoreError> {
        let claimed = self
            .db
            .system_tx(async move |conn| {
                Ok(diesel::sql_query(
                    "UPDATE email_outbox SET claimed_until = $2, attempts = attempts + 1 \
                     WHERE id IN ( \
                         SELECT id FROM email_outbox \
                         WHERE delivered_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1 \
                           AND (claimed_until IS NULL OR claimed_until < $1) \
                         ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
                     RETURNING id, to_address, subject, body, body_sealed, attempts",
                )
                .bind::<Timestamptz, _>(now)
                .bind::<Timestamptz, _>(claim_until)
                .bind::<BigInt, _>(limit)
                .load::<Claimed>(conn)
                .await?)
            })
            .await?;
        Ok(claimed.into_iter().map(PendingEmail::from).collect())
    }

    #[tracing::instrument(skip_all, fields(%id))]
    async fn mark_delivered(&self, id: Uuid, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.db
            .system_tx(async move |conn| {
                diesel::update(email_outbox::table.filter(email_outbox::id.eq(id)))
                    .set((
                        email_outbox::delivered_at.eq(at),
                        email_outbox::claimed_until.eq(None::<DateTime<Utc>>),
                        // The body may carry a code: it does not outlive its delivery.
                        email_outbox::body.eq(""),
                        email_outbox::body_sealed.eq(None::<Vec<u8>>),
                        email_outbox::last_error.eq(None::<String>),
                    ))
                    .execute(conn)
                    .await?;
                Ok(())
            })
            .await
    }

    #[tracing::instrument(skip_all, fields(%id))]
    async fn retry_later(
        &self,
        id: Uuid,
        error: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.db
            .system_tx(async move |conn| {
                diesel::update(email_outbox::table.filter(email_outbox::id.eq(id)))
                    .set((
                        email_outbox::claimed_until.eq(None::<DateTime<Utc>>),
                        email_outbox::last_error.eq(error),
                        email_outbox::next_attempt_at.eq(next_attempt_at),
                    ))
                    .execute(conn)
                    .await?;
                Ok(())
            })
            .await
    }

    #[tracing::instrument(skip_all, fields(%id))]
    async fn mark_failed(
        &self,
        id: Uuid,
        error: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.db
            .system_tx(async move |conn| {
                diesel::update(email_outbox::table.filter(email_outbox::id.eq(id)))
                    .set((
                        email_outbox::claimed_until.eq(None::<DateTime<Utc>>),
                        email_outbox::last_error.eq(error),
                        email_outbox::failed_at.eq(at),
                        // Given up on, it keeps no code: only its address, subject and error.
                        email_outbox::body.eq(""),
                        email_outbox::body_sealed.eq(None::<Vec<u8>>),
                    ))
                    .execute(conn)
                    .await?;
                Ok(())
            })
            .await
    }
}

/// The enqueue notifications on [`CHANNEL`], so a delivery loop need not wait for its next
/// poll.
pub struct OutboxListener {
    conn: AsyncPgConnection,
}

impl OutboxListener {
    /// Listens on its own connection to `url`; `None` when that cannot be had (the loop then
    /// only polls).
    pub async fn connect(url: &str) -> Option<Self> {
        use diesel_async::AsyncConnection as _;
        let mut conn = AsyncPgConnection::establish(url).await.ok()?;
        diesel::sql_query(format!("LISTEN {CHANNEL}"))
            .execute(&mut conn)
            .await
            .ok()?;
        Some(Self { conn })
    }

    /// Waits for the next enqueue; `false` once the connection is lost.
    pub async fn notified(&mut self) -> bool {
        use futures_util::StreamExt as _;
        let mut stream = std::pin::pin!(self.conn.notifications_stream());
        stream.next().await.is_some_and(|n| n.is_ok())
    }
}
