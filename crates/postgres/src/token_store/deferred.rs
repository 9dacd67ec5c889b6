//! Writes whose result the token service does not need (a successor token, a token's use, where
//! a session was seen, a key's last use, an audit event): a unit of work queues them and sends
//! them together — one pipelined round trip — before its next read or its commit. A failed
//! one fails that read or the commit, so the use case still stands or falls as a whole.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use kernel::{AuthEvent, SessionId};
use tokens::ports::NewRefreshToken;
use uuid::Uuid;

use crate::audit::insert_event;
use crate::error::DbError;
use crate::schema::{api_keys, refresh_tokens, sessions};

pub(super) enum Deferred {
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
}

impl Deferred {
    /// Sends the statement; taking the connection by shared reference lets several go at once.
    async fn execute(&self, conn: &AsyncPgConnection) -> Result<(), DbError> {
        match self {
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
                diesel::update(refresh_tokens::table)
                    .filter(refresh_tokens::token_hash.eq(digest.as_slice()))
                    .set(refresh_tokens::used_at.eq(at))
                    .execute(&mut &*conn)
                    .await?;
            }
            Self::SessionSeen { session, at, ip } => {
                diesel::update(sessions::table)
                    .filter(sessions::id.eq(session.as_uuid()))
                    .set((
                        sessions::last_seen_at.eq(at),
                        sessions::ip.eq(ip.map(ipnet::IpNet::from)),
                    ))
                    .execute(&mut &*conn)
                    .await?;
            }
            Self::KeyLastUsed { key, at } => {
                diesel::update(api_keys::table)
                    .filter(api_keys::id.eq(key))
                    .set(api_keys::last_used_at.eq(at))
                    .execute(&mut &*conn)
                    .await?;
            }
            Self::Event(event) => insert_event(conn, event).await?,
        }
        Ok(())
    }
}

/// Sends every queued write, pipelined, and waits for all of them.
pub(super) async fn flush(
    conn: &AsyncPgConnection,
    writes: &mut Vec<Deferred>,
) -> Result<(), DbError> {
    if writes.is_empty() {
        return Ok(());
    }
    let queued = std::mem::take(writes);
    futures_util::future::try_join_all(queued.iter().map(|write| write.execute(conn))).await?;
    Ok(())
}
