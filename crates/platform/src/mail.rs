//! Mailers: SMTP through lettre, or — with no SMTP server configured — the log.

use async_trait::async_trait;
use kernel::{MailError, Mailer, OutgoingEmail};
use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::Error as SmtpError;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use uuid::Uuid;

/// Delivers through an SMTP server (`smtp://host:port`, `smtps://…` or `smtp://…?tls=required`,
/// with `user:password@` for authentication).
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpMailer {
    pub fn new(url: &str, from: &str) -> Result<Self, MailError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| permanent(format!("email.smtp_url: {e}")))?
            .build();
        let from = from
            .parse::<Mailbox>()
            .map_err(|e| permanent(format!("email.from `{from}`: {e}")))?;
        Ok(Self { transport, from })
    }
}

fn permanent(message: String) -> MailError {
    MailError {
        message,
        permanent: true,
    }
}

fn classify(error: &SmtpError) -> MailError {
    MailError {
        message: error.to_string(),
        permanent: error.is_permanent(),
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, id: Uuid, email: &OutgoingEmail) -> Result<(), MailError> {
        let to = email
            .to
            .as_str()
            .parse::<Mailbox>()
            .map_err(|e| permanent(format!("recipient: {e}")))?;
        let message = Message::builder()
            .message_id(Some(format!("<{id}@nudgescribe>")))
            .from(self.from.clone())
            .to(to)
            .subject(&email.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(email.body.clone())
            .map_err(|e| permanent(e.to_string()))?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| classify(&e))
    }
}

/// Writes each message to the log instead of sending it (no SMTP server configured).
/// For development: the body, codes included, lands in the log.
pub struct LogMailer;

#[async_trait]
impl Mailer for LogMailer {
    async fn send(&self, id: Uuid, email: &OutgoingEmail) -> Result<(), MailError> {
        tracing::info!(
            %id,
            to = %email.to,
            subject = %email.subject,
            body = %email.body,
            "email not sent (NUDGESCRIBE__EMAIL__SMTP_URL is unset); logged instead"
        );
        Ok(())
    }
}
