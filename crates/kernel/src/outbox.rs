//! The transactional outbox as a port, and the delivery rule on top of it.
//!
//! Domains enqueue a [`SealedEmail`] inside the transaction that causes it (each store does
//! that in its own unit of work). [`OutboxDelivery`] then hands what is due to the [`Mailer`]:
//! at least once, never again once marked delivered, retried with exponential backoff, given up
//! after [`OutboxSettings::max_attempts`] or a permanent refusal — and it survives crashes: a
//! claimed email whose worker died is claimed again once its claim lapses. The storage behind
//! [`Outbox`] answers single operations and holds no rule; the loop that calls
//! [`OutboxDelivery::deliver_due`] (on every enqueue notification and every poll) lives in the
//! composition root.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::clock::Clock;
use crate::email::EmailAddress;
use crate::error::StoreError;
use crate::mail::{MailError, Mailer, OutgoingEmail, SealedEmail};
use crate::seal::SealingKey;

/// An email claimed for one delivery attempt, as the outbox stores it.
#[derive(Clone)]
pub struct PendingEmail {
    pub id: Uuid,
    /// The address as stored; checked again before sending.
    pub to: String,
    pub subject: String,
    /// The clear body of an email enqueued before bodies were sealed; empty otherwise.
    pub body: String,
    /// The body sealed as [`SealedEmail::body_sealed`].
    pub body_sealed: Option<Vec<u8>>,
    /// Attempts so far, the claimed one included.
    pub attempts: i32,
}

impl std::fmt::Debug for PendingEmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingEmail")
            .field("id", &self.id)
            .field("to", &self.to)
            .field("subject", &self.subject)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// The outbox's storage: each method is one unit of work of its own.
#[async_trait]
pub trait Outbox: Send + Sync + 'static {
    /// Claims up to `limit` emails that are due at `now` (not delivered, not given up, next
    /// attempt not later than `now`, no claim held past `now`), oldest due first, holds them
    /// until `claim_until` and counts the attempt. MUST skip emails another worker is claiming
    /// at the same moment, so that two workers never claim the same email.
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        claim_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<PendingEmail>, StoreError>;

    /// Records the delivery at `at`, releases the claim, clears the last error and drops the
    /// body (which may carry a code).
    async fn mark_delivered(&self, id: Uuid, at: DateTime<Utc>) -> Result<(), StoreError>;

    /// Releases the claim, records `error` and schedules the next attempt at `next_attempt_at`;
    /// the body stays (sealed) for that attempt.
    async fn retry_later(
        &self,
        id: Uuid,
        error: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Gives the email up at `at`: releases the claim, records `error` and drops the body, so
    /// that only its address, subject and error remain.
    async fn mark_failed(&self, id: Uuid, error: &str, at: DateTime<Utc>)
    -> Result<(), StoreError>;
}

/// How delivery paces itself.
#[derive(Clone, Debug)]
pub struct OutboxSettings {
    /// How long a worker holds a claimed email before another may take it.
    pub claim_for: Duration,
    /// Attempts before an email is given up (marked failed).
    pub max_attempts: i32,
    /// The wait before retry n is `base_backoff * 2^(n-1)`, at most an hour.
    pub base_backoff: Duration,
    /// Polling interval of the delivery loop when no enqueue notification arrives.
    pub poll_every: Duration,
    /// Emails claimed at once.
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

/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

impl OutboxSettings {
    /// The wait after failed attempt number `attempts` (1 for the first):
    /// `base_backoff * 2^(attempts-1)`, at most an hour.
    #[must_use]
    pub fn backoff(&self, attempts: i32) -> Duration {
        let exponent = u32::try_from(attempts.saturating_sub(1))
            .unwrap_or(0)
            .min(12);
        (self.base_backoff * 2u32.pow(exponent)).min(MAX_BACKOFF)
    }

    /// Whether a failure of attempt number `attempts` ends the email's tries.
    #[must_use]
    pub fn gives_up(&self, attempts: i32, error: &MailError) -> bool {
        error.permanent || attempts >= self.max_attempts
    }
}

/// Delivers due emails from an [`Outbox`] through a [`Mailer`], opening their bodies with the
/// master key the domains sealed them with.
#[derive(Clone)]
pub struct OutboxDelivery {
    outbox: Arc<dyn Outbox>,
    mailer: Arc<dyn Mailer>,
    key: Arc<SealingKey>,
    clock: Arc<dyn Clock>,
    settings: OutboxSettings,
}

impl OutboxDelivery {
    #[must_use]
    pub fn new(
        outbox: Arc<dyn Outbox>,
        mailer: Arc<dyn Mailer>,
        key: Arc<SealingKey>,
        clock: Arc<dyn Clock>,
        settings: OutboxSettings,
    ) -> Self {
        Self {
            outbox,
            mailer,
            key,
            clock,
            settings,
        }
    }

    #[must_use]
    pub fn settings(&self) -> &OutboxSettings {
        &self.settings
    }

    /// Claims what is due now and tries each once; returns how many were delivered.
    #[tracing::instrument(skip_all, fields(delivered))]
    pub async fn deliver_due(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let claim_until = now
            + chrono::Duration::from_std(self.settings.claim_for)
                .unwrap_or_else(|_| chrono::Duration::minutes(1));
        let claimed = self
            .outbox
            .claim_due(now, claim_until, self.settings.batch)
            .await?;
        let mut delivered = 0;
        for pending in claimed {
            let email = match self.open(&pending) {
                Ok(email) => email,
                Err(error) => {
                    self.failed(&pending, &error).await?;
                    continue;
                }
            };
            match self.mailer.send(pending.id, &email).await {
                Ok(()) => {
                    self.outbox
                        .mark_delivered(pending.id, self.clock.now())
                        .await?;
                    delivered += 1;
                }
                Err(error) => {
                    tracing::warn!(id = %pending.id, attempt = pending.attempts, error = %error, "email delivery failed");
                    self.failed(&pending, &error).await?;
                }
            }
        }
        tracing::Span::current().record("delivered", delivered);
        Ok(delivered)
    }

    /// The email as it is sent; an error that can never be retried away when it cannot be.
    fn open(&self, pending: &PendingEmail) -> Result<OutgoingEmail, MailError> {
        let to = EmailAddress::parse(&pending.to).map_err(|_| MailError {
            message: format!("invalid address {}", pending.to),
            permanent: true,
        })?;
        match &pending.body_sealed {
            Some(sealed) => SealedEmail {
                id: pending.id,
                to,
                subject: pending.subject.clone(),
                body_sealed: sealed.clone(),
            }
            .open(&self.key)
            // Sealed under a key this instance does not hold: never deliverable.
            .map_err(|e| MailError {
                message: format!("the body does not open: {e}"),
                permanent: true,
            }),
            None => Ok(OutgoingEmail {
                to,
                subject: pending.subject.clone(),
                body: pending.body.clone(),
            }),
        }
    }

    /// A failed attempt: retried after its backoff, or given up.
    async fn failed(&self, pending: &PendingEmail, error: &MailError) -> Result<(), StoreError> {
        let now = self.clock.now();
        if self.settings.gives_up(pending.attempts, error) {
            self.outbox
                .mark_failed(pending.id, &error.message, now)
                .await
        } else {
            let backoff = self.settings.backoff(pending.attempts);
            let next = now + chrono::Duration::from_std(backoff).unwrap_or_default();
            self.outbox
                .retry_later(pending.id, &error.message, next)
                .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_up_to_an_hour() {
        let settings = OutboxSettings::default();
        assert_eq!(settings.backoff(1), Duration::from_secs(5));
        assert_eq!(settings.backoff(2), Duration::from_secs(10));
        assert_eq!(settings.backoff(4), Duration::from_secs(40));
        assert_eq!(settings.backoff(20), MAX_BACKOFF);
        assert_eq!(settings.backoff(0), Duration::from_secs(5));
    }

    #[test]
    fn permanent_refusals_and_the_last_attempt_give_up() {
        let settings = OutboxSettings::default();
        let temporary = MailError {
            message: "451".into(),
            permanent: false,
        };
        let permanent = MailError {
            message: "550".into(),
            permanent: true,
        };
        assert!(!settings.gives_up(1, &temporary));
        assert!(settings.gives_up(1, &permanent));
        assert!(settings.gives_up(settings.max_attempts, &temporary));
    }
}
