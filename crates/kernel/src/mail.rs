//! Email as a port. Domains never send mail themselves: they put an [`OutgoingEmail`] into
//! the outbox inside the transaction that causes it, and [`crate::outbox::OutboxDelivery`] hands
//! it to a [`Mailer`].

use async_trait::async_trait;
use uuid::Uuid;

use crate::email::EmailAddress;
use crate::seal::{SealError, SealingKey};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutgoingEmail {
    pub to: EmailAddress,
    pub subject: String,
    /// Plain text. Codes stand on a line of their own: `Code: <code>`.
    pub body: String,
}

/// An email as the outbox keeps it until delivery: its body — which may carry a code — sealed
/// under the master key and bound to the message's id, so a database dump or a copied row
/// shows no code.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedEmail {
    /// The outbox row's id (and the Message-ID's).
    pub id: Uuid,
    pub to: EmailAddress,
    pub subject: String,
    pub body_sealed: Vec<u8>,
}

impl std::fmt::Debug for SealedEmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedEmail")
            .field("id", &self.id)
            .field("to", &self.to)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

fn outbox_binding(id: Uuid) -> Vec<u8> {
    format!("nudgescribe/outbox/{id}").into_bytes()
}

impl OutgoingEmail {
    /// Seals the body for the outbox, under a new message id.
    pub fn seal(&self, key: &SealingKey) -> Result<SealedEmail, SealError> {
        let id = Uuid::now_v7();
        Ok(SealedEmail {
            id,
            to: self.to.clone(),
            subject: self.subject.clone(),
            body_sealed: key.seal(self.body.as_bytes(), &outbox_binding(id))?,
        })
    }
}

impl SealedEmail {
    /// The email as it is sent.
    pub fn open(&self, key: &SealingKey) -> Result<OutgoingEmail, SealError> {
        let body = key.open(&self.body_sealed, &outbox_binding(self.id))?;
        Ok(OutgoingEmail {
            to: self.to.clone(),
            subject: self.subject.clone(),
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
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
