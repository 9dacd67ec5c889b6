//! Writes whose result the token service does not need (a session, a successor token, a token's
//! use, where a session was seen, a key's last use, an audit event, an announcement, a change of
//! role): a unit of work queues them and sends them, in order, in the same round trip as its
//! next read or its commit ([`crate::pipeline`]). A failed one fails that read or the commit,
//! so the use case still stands or falls as a whole.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures_util::future::BoxFuture;
use kernel::{AuthEvent, SessionId};
use tokens::NewSession;
use tokens::ports::NewRefreshToken;
use uuid::Uuid;

use super::rows::NewSessionRow;
use super::statements::{MarkRefreshTokenUsed, NoteKeyUsed, NoteSessionSeen};
use crate::audit::insert_event;
use crate::bus::{Invalidation, announce};
use crate::error::DbError;
use crate::pipeline::{Settings, Statements};
use crate::schema::{refresh_tokens, sessions};

pub(super) enum Deferred {
    Session(NewSession),
    RefreshToken(NewRefreshToken),
    RefreshTokenUsed {
        digest: [u8; 32],
        at: DateTime<Utc>,
    },
    SessionSeen {
        session: SessionId,
        at: DateTime<Utc>,
        ip: Option<IpAddr>,
    },
    KeyLastUsed {
        key: Uuid,
        at: DateTime<Utc>,
    },
    Event(Box<AuthEvent>),
    Announce(Invalidation),
    /// The unit of work goes on with other settings (after the writes queued before).
    Settings(Settings),
}

impl Deferred {
    /// Sends the statement; taking the connection by shared reference lets several go at once.
    async fn execute(self, conn: &AsyncPgConnection) -> Result<(), DbError> {
        match self {
            Self::Session(session) => {
                diesel::insert_into(sessions::table)
                    .values(&NewSessionRow::from(&session))
                    .execute(&mut &*conn)
                    .await?;
            }
            Self::RefreshToken(token) => {
                diesel::insert_into(refresh_tokens::table)
                    .values((
                        refresh_tokens::token_hash.eq(token.digest.as_slice()),
                        refresh_tokens::account_id.eq(token.account_id.as_uuid()),
                        refresh_tokens::session_id.eq(token.session_id.as_uuid()),
                        refresh_tokens::created_at.eq(token.created_at),
                        refresh_tokens::expires_at.eq(token.expires_at),
                    ))
                    .execute(&mut &*conn)
                    .await?;
            }
            Self::RefreshTokenUsed { digest, at } => {
                MarkRefreshTokenUsed { at, digest }
                    .execute(&mut &*conn)
                    .await?;
            }
            Self::SessionSeen { session, at, ip } => {
                NoteSessionSeen {
                    at,
                    ip: ip.map(ipnet::IpNet::from),
                    session: session.as_uuid(),
                }
                .execute(&mut &*conn)
                .await?;
            }
            Self::KeyLastUsed { key, at } => {
                NoteKeyUsed { at, key }.execute(&mut &*conn).await?;
            }
            Self::Event(event) => insert_event(conn, &event).await?,
            Self::Announce(what) => announce(conn, what).await?,
            Self::Settings(settings) => {
                settings.execute(&mut &*conn).await?;
            }
        }
        Ok(())
    }
}

/// The queued writes as statements to send, in order.
pub(super) fn statements(conn: &AsyncPgConnection, writes: Vec<Deferred>) -> Statements<'_> {
    writes
        .into_iter()
        .map(|write| Box::pin(write.execute(conn)) as BoxFuture<'_, Result<(), DbError>>)
        .collect()
}
