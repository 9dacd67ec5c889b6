//! Email as a port. Domains never send mail themselves: they put an [`OutgoingEmail`] into
//! the outbox inside the transaction that causes it, and a worker hands it to a [`Mailer`].

use async_trait::async_trait;
use uuid::Uuid;

use crate::email::EmailAddress;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutgoingEmail {
    pub to: EmailAddress,
    pub subject: String,
    /// Plain text. Codes stand on a line of their own: `Code: <code>`.
    pub body: String,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct MailError {
    pub message: String,
    /// The server refused this message for good (bad address): retrying will not help.
    pub permanent: bool,
}

#[async_trait]
pub trait Mailer: Send + Sync + 'static {
    /// Hands the message over for delivery. `id` identifies it across retries (it becomes the
    /// Message-ID), so a receiver can tell a redelivery from a new message.
    async fn send(&self, id: Uuid, email: &OutgoingEmail) -> Result<(), MailError>;
}
