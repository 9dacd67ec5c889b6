//! The transactional outbox: emails are enqueued in the transaction that causes them, and a
//! worker delivers them — at least once, never again once marked delivered, surviving crashes
//! (a claimed message whose worker died is taken again when its claim lapses).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Bytea, Integer, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use kernel::{AccountId, EmailAddress, Mailer, OutgoingEmail, SealedEmail, SealingKey};
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

/// How the worker paces itself.
#[derive(Clone, Debug)]
pub struct OutboxSettings {
    /// How long a worker holds a claimed message before another may take it.
    pub claim_for: Duration,
    /// Attempts before a message is given up (marked failed).
    pub max_attempts: i32,
    /// The wait before retry n is `base_backoff * 2^(n-1)`, at most an hour.
    pub base_backoff: Duration,
    /// Polling interval when no notification arrives.
    pub poll_every: Duration,
    pub batch: i64,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        Self {
            claim_for: Duration::from_secs(60),
            max_attempts: 8,
            base_backoff: Duration::from_secs(5),
            poll_every: Duration::from_secs(5),
            batch: 20,
        }
    }
}

#[derive(QueryableByName, Debug)]
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

/// Delivers pending messages through `mailer`, opening their bodies with `key` (the master
/// key the domains sealed them with).
#[derive(Clone)]
pub struct OutboxWorker {
    db: Db,
    mailer: Arc<dyn Mailer>,
    key: Arc<SealingKey>,
    settings: OutboxSettings,
}

impl OutboxWorker {
    #[must_use]
    pub fn new(
        db: Db,
        mailer: Arc<dyn Mailer>,
        key: Arc<SealingKey>,
        settings: OutboxSettings,
    ) -> Self {
        Self {
            db,
            mailer,
            key,
            settings,
        }
    }

    /// Claims up to a batch of due messages (skipping those another worker holds).
    async fn claim(&self, now: DateTime<Utc>) -> Result<Vec<Claimed>, DbError> {
        let mut tx = self.db.system().await?;
        let claim_until = now
            + chrono::Duration::from_std(self.settings.claim_for)
                .unwrap_or_else(|_| chrono::Duration::minutes(1));
        let claimed = diesel::sql_query(
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
        .bind::<diesel::sql_types::BigInt, _>(self.settings.batch)
        .load::<Claimed>(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(claimed)
    }

    async fn mark_delivered(&self, id: Uuid, now: DateTime<Utc>) -> Result<(), DbError> {
        let mut tx = self.db.system().await?;
        diesel::update(email_outbox::table.filter(email_outbox::id.eq(id)))
            .set((
                email_outbox::delivered_at.eq(now),
                email_outbox::claimed_until.eq(None::<DateTime<Utc>>),
                // The body may carry a code: it does not outlive its delivery.
                email_outbox::body.eq(""),
                email_outbox::body_sealed.eq(None::<Vec<u8>>),
                email_outbox::last_error.eq(None::<String>),
            ))
            .execute(tx.conn())
            .await?;
        tx.commit().await
    }

    async fn mark_failed(
        &self,
        message: &Claimed,
        error: &kernel::MailError,
        now: DateTime<Utc>,
    ) -> Result<(), DbError> {
        let give_up = error.permanent || message.attempts >= self.settings.max_attempts;
        // A message given up on keeps no code: only its address, subject and error remain.
        let scrub = |body: &str| {
            if give_up {
                String::new()
            } else {
                body.to_owned()
            }
        };
        let exponent = u32::try_from(message.attempts.saturating_sub(1))
            .unwrap_or(0)
            .min(12);
        let backoff =
            (self.settings.base_backoff * 2u32.pow(exponent)).min(Duration::from_secs(3600));
        let mut tx = self.db.system().await?;
        diesel::update(email_outbox::table.filter(email_outbox::id.eq(message.id)))
            .set((
                email_outbox::claimed_until.eq(None::<DateTime<Utc>>),
                email_outbox::last_error.eq(error.message.as_str()),
                email_outbox::next_attempt_at
                    .eq(now + chrono::Duration::from_std(backoff).unwrap_or_default()),
                email_outbox::failed_at.eq(give_up.then_some(now)),
                email_outbox::body.eq(scrub(&message.body)),
                email_outbox::body_sealed.eq(if give_up {
                    None
                } else {
                    message.body_sealed.clone()
                }),
            ))
            .execute(tx.conn())
            .await?;
        tx.commit().await
    }

    /// Delivers what is due now; returns how many were delivered.
    pub async fn deliver_due(&self) -> Result<usize, DbError> {
        let claimed = self.claim(Utc::now()).await?;
        let mut delivered = 0;
        for message in claimed {
            let Ok(to) = EmailAddress::parse(&message.to_address) else {
                let error = kernel::MailError {
                    message: format!("invalid address {}", message.to_address),
                    permanent: true,
                };
                self.mark_failed(&message, &error, Utc::now()).await?;
                continue;
            };
            let email = match &message.body_sealed {
                Some(sealed) => match (SealedEmail {
                    id: message.id,
                    to,
                    subject: message.subject.clone(),
                    body_sealed: sealed.clone(),
                })
                .open(&self.key)
                {
                    Ok(email) => email,
                    Err(e) => {
                        // Sealed under a key this instance does not hold: never deliverable.
                        let error = kernel::MailError {
                            message: format!("the body does not open: {e}"),
                            permanent: true,
                        };
                        self.mark_failed(&message, &error, Utc::now()).await?;
                        continue;
                    }
                },
                None => OutgoingEmail {
                    to,
                    subject: message.subject.clone(),
                    body: message.body.clone(),
                },
            };
            match self.mailer.send(message.id, &email).await {
                Ok(()) => {
                    self.mark_delivered(message.id, Utc::now()).await?;
                    delivered += 1;
                }
                Err(error) => {
                    tracing::warn!(id = %message.id, attempt = message.attempts, error = %error, "email delivery failed");
                    self.mark_failed(&message, &error, Utc::now()).await?;
                }
            }
        }
        Ok(delivered)
    }

    /// Delivers for as long as the process runs: on every enqueue notification and every
    /// `poll_every`.
    pub async fn run(self, url: String) {
        use diesel_async::AsyncConnection as _;
        use futures_util::StreamExt as _;
        loop {
            let mut listener = match AsyncPgConnection::establish(&url).await {
                Ok(mut conn) => match diesel::sql_query(format!("LISTEN {CHANNEL}"))
                    .execute(&mut conn)
                    .await
                {
                    Ok(_) => Some(conn),
                    Err(_) => None,
                },
                Err(_) => None,
            };
            loop {
                if let Err(error) = self.deliver_due().await {
                    tracing::warn!(%error, "outbox delivery round failed");
                }
                let wake = async {
                    match listener.as_mut() {
                        Some(conn) => {
                            let mut stream = std::pin::pin!(conn.notifications_stream());
                            stream.next().await.is_some_and(|n| n.is_ok())
                        }
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    alive = wake => if !alive { break },
                    () = tokio::time::sleep(self.settings.poll_every) => {}
                }
            }
            tokio::time::sleep(self.settings.poll_every).await;
        }
    }
}
