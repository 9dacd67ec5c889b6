//! The tokens domain's [`TokenStore`] on Postgres: units of work of single statements
//! ([`PgTokenTx`]), and the per-request session standing served from the revocation-aware
//! [`SessionCache`].

mod deferred;
mod rows;
mod statements;
mod tx;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{Bool, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use kernel::{AccountId, SessionId, StoreError, UserId};
use tokens::ports::{Access, SessionStanding, TokenStore, TokenTx};
use uuid::Uuid;

pub use self::tx::PgTokenTx;
use self::tx::Visible;
use crate::db::{Db, Lookup};
use crate::error::DbError;
use crate::pipeline::Settings;
use crate::roles::roles_from_rows;
use crate::session_cache::SessionCache;

#[derive(Clone)]
pub struct PgTokenStore {
    db: Db,
    cache: Arc<SessionCache>,
}

impl std::fmt::Debug for PgTokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgTokenStore")
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

impl PgTokenStore {
    /// A store whose session standings are served from `cache` (kept current by the
    /// invalidation listener, which the caller runs) and which tells `cache` at once of the
    /// revocations it commits.
    #[must_use]
    pub fn new(db: Db, cache: Arc<SessionCache>) -> Self {
        Self { db, cache }
    }
}

/// One row of the standing query: a marker row with the session's facts, then the user's roles.
#[derive(QueryableByName)]
struct StandingRow {
    #[diesel(sql_type = Text)]
    part: String,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    workspace_id: Option<Uuid>,
    #[diesel(sql_type = Text)]
    value: String,
    #[diesel(sql_type = Nullable<Bool>)]
    revoked: Option<bool>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    expires_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Bool>)]
    api_key_live: Option<bool>,
}

fn standing_from_rows(rows: &[StandingRow]) -> Result<Option<SessionStanding>, DbError> {
    let Some(marker) = rows.iter().find(|r| r.part == "session") else {
        return Ok(None);
    };
    let roles = roles_from_rows(
        rows.iter()
            .filter(|r| r.part == "account")
            .map(|r| r.value.as_str()),
        rows.iter()
            .filter(|r| r.part == "workspace")
            .filter_map(|r| r.workspace_id.map(|w| (w, r.value.as_str()))),
    )?;
    Ok(Some(SessionStanding {
        kind: rows::session_kind(&marker.value)?,
        revoked: marker.revoked.unwrap_or(true),
        expires_at: marker
            .expires_at
            .ok_or_else(|| DbError::Corrupt("session without an end".into()))?,
        api_key_live: marker.api_key_live,
        roles,
    }))
}

#[async_trait]
impl TokenStore for PgTokenStore {
    #[tracing::instrument(skip_all)]
    async fn begin(&self, access: Access<'_>) -> Result<Box<dyn TokenTx>, StoreError> {
        let (settings, visible) = match access {
            Access::Tenant { account, user } => {
                (Settings::tenant(account, user), Visible::Tenant(account))
            }
            Access::ApiKey(id) => (Settings::anonymous(Lookup::ApiKey(id)), Visible::ApiKey(id)),
            Access::RefreshToken(digest) => (
                Settings::anonymous(Lookup::RefreshToken(digest)),
                Visible::Nothing,
            ),
        };
        let tx = self.db.pipelined(settings).await?;
        Ok(Box::new(PgTokenTx::new(tx, self.cache.clone(), visible)))
    }

    #[tracing::instrument(skip_all, fields(session = %session))]
    async fn session_standing(
        &self,
        account: AccountId,
        user: UserId,
        session: SessionId,
    ) -> Result<Option<SessionStanding>, StoreError> {
        if let Some(standing) = self.cache.get(account, user, session) {
            return Ok(Some(standing));
        }
        let generation = self.cache.generation();
        // One round trip: the session's facts, then — if there is such a session — the user's
        // roles.
        let rows = self
            .db
            .tenant_tx(account, Some(user), async |conn| {
                Ok(diesel::sql_query(
                    "WITH s AS ( \
                         SELECT s.kind, s.revoked_at IS NOT NULL AS revoked, s.expires_at, \
                                CASE WHEN s.api_key_id IS NULL THEN NULL ELSE EXISTS ( \
                                    SELECT 1 FROM api_keys k \
                                    WHERE k.id = s.api_key_id AND k.deleted_at IS NULL) END \
                                    AS api_key_live \
                         FROM sessions s WHERE s.id = $1 AND s.user_id = $2 \
                     ) \
                     SELECT 'session' AS part, NULL::uuid AS workspace_id, s.kind AS value, \
                            s.revoked, s.expires_at, s.api_key_live FROM s \
                     UNION ALL SELECT 'account', NULL, role, NULL, NULL, NULL FROM account_roles \
                         WHERE user_id = $2 AND EXISTS (SELECT 1 FROM s) \
                     UNION ALL SELECT 'workspace', workspace_id, role, NULL, NULL, NULL \
                         FROM workspace_roles WHERE user_id = $2 AND EXISTS (SELECT 1 FROM s)",
                )
                .bind::<SqlUuid, _>(session.as_uuid())
                .bind::<SqlUuid, _>(user.as_uuid())
                .load::<StandingRow>(conn)
                .await?)
            })
            .await?;
        let standing = standing_from_rows(&rows)?;
        if let Some(standing) = &standing {
            self.cache
                .insert(generation, account, user, session, standing.clone());
        }
        Ok(standing)
    }
}
