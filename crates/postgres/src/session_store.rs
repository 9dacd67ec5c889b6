//! [`SessionStore`] on Postgres, with the revocation-aware cache of [`SessionCache`].

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures_util::TryFutureExt as _;
use kernel::{AccountId, AuthEvent, SessionId, StoreError, UserId};
use tokens::ports::{RefreshRotation, Rotation, SessionGrant, SessionStore};
use tokens::{LiveSession, NewSession, SessionKind, SessionSummary};
use uuid::Uuid;

use crate::audit::{insert_event, record_event};
use crate::db::{Db, Lookup};
use crate::error::{DbError, store};
use crate::roles::{load_roles, roles_from_rows};
use crate::schema::{api_keys, redeemed_mfa_tokens, refresh_tokens, sessions};
use crate::session_cache::{Invalidation, SessionCache, announce};

#[derive(Clone)]
pub struct PgSessionStore {
    db: Db,
    cache: Arc<SessionCache>,
}

impl std::fmt::Debug for PgSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSessionStore")
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

impl PgSessionStore {
    /// A store whose session checks are served from `cache` (kept current by
    /// [`SessionCache::listen`], which the caller runs).
    #[must_use]
    pub fn new(db: Db, cache: Arc<SessionCache>) -> Self {
        Self { db, cache }
    }
}

/// The most sessions `GET /v1/me/sessions` lists (the newest): an integration exchanging its
/// key often may hold many at once.
const MAX_LISTED_SESSIONS: i64 = 500;

#[derive(QueryableByName)]
struct RoleRow {
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    workspace_id: Option<Uuid>,
    #[diesel(sql_type = Text)]
    role: String,
}

/// Revokes a session inside `conn`'s transaction and announces it.
async fn revoke(
    conn: &mut AsyncPgConnection,
    session: SessionId,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    diesel::update(sessions::table)
        .filter(sessions::id.eq(session.as_uuid()))
        .filter(sessions::revoked_at.is_null())
        .set((
            sessions::revoked_at.eq(now),
            sessions::revoked_reason.eq(reason),
        ))
        .execute(conn)
        .await?;
    announce(conn, Invalidation::Session(session)).await
}

#[async_trait]
impl SessionStore for PgSessionStore {
    async fn start_session(
        &self,
        session: &NewSession,
        event: &AuthEvent,
    ) -> Result<(), StoreError> {
        store(async {
            let mut tx = self
                .db
                .tenant(session.account_id, Some(session.user_id))
                .await?;
            let conn = tx.conn();
            diesel::insert_into(sessions::table)
                .values((
                    sessions::id.eq(session.id.as_uuid()),
                    sessions::account_id.eq(session.account_id.as_uuid()),
                    sessions::user_id.eq(session.user_id.as_uuid()),
                    sessions::kind.eq(session.kind.as_str()),
                    sessions::scope.eq(&session.scope),
                    sessions::api_key_id.eq(session.api_key_id),
                    sessions::created_at.eq(session.created_at),
                    sessions::expires_at.eq(session.expires_at),
                    sessions::last_seen_at.eq(session.created_at),
                    sessions::ip.eq(session.ip.map(ipnet::IpNet::from)),
                    sessions::country.eq(session.country.as_deref()),
                ))
                .execute(conn)
                .await?;
            // The session row first (the rest refer to it), then the rest pipelined.
            let conn: &AsyncPgConnection = conn;
            let refresh = async {
                let Some(digest) = session.refresh_token_digest else {
                    return Ok(0);
                };
                diesel::insert_into(refresh_tokens::table)
                    .values((
                        refresh_tokens::token_hash.eq(digest.as_slice()),
                        refresh_tokens::account_id.eq(session.account_id.as_uuid()),
                        refresh_tokens::session_id.eq(session.id.as_uuid()),
                        refresh_tokens::created_at.eq(session.created_at),
                        refresh_tokens::expires_at.eq(session.refresh_expires_at),
                    ))
                    .execute(&mut &*conn)
                    .await
                    .map_err(DbError::from)
            };
            let key_used = async {
                let Some(key) = session.api_key_id else {
                    return Ok(0);
                };
                // Coalesced: at most one write a minute per key, inside a write we make anyway.
                diesel::update(api_keys::table)
                    .filter(api_keys::id.eq(key))
                    .filter(
                        api_keys::last_used_at.is_null().or(api_keys::last_used_at
                            .lt(session.created_at - chrono::Duration::minutes(1))),
                    )
                    .set(api_keys::last_used_at.eq(session.created_at))
                    .execute(&mut &*conn)
                    .await
                    .map_err(DbError::from)
            };
            futures_util::future::try_join3(refresh, key_used, insert_event(conn, event)).await?;
            tx.commit().await
        })
        .await
    }

    async fn live_session(
        &self,
        account: AccountId,
        user: UserId,
        session: SessionId,
        now: DateTime<Utc>,
    ) -> Result<Option<LiveSession>, StoreError> {
        if let Some(live) = self.cache.get(account, user, session) {
            return Ok(Some(live));
        }
        let generation = self.cache.generation();
        let live = store(async {
            let mut tx = self.db.tenant(account, Some(user)).await?;
            // One round trip: a marker row naming the session's kind when it is live, then the
            // user's roles.
            let rows = diesel::sql_query(
                "WITH live AS ( \
                     SELECT s.kind FROM sessions s \
                     WHERE s.id = $1 AND s.user_id = $2 \
                       AND s.revoked_at IS NULL AND s.expires_at > $3 \
                       AND (s.api_key_id IS NULL OR ( \
                           EXISTS (SELECT 1 FROM api_keys k \
                                   WHERE k.id = s.api_key_id AND k.deleted_at IS NULL) \
                           AND EXISTS (SELECT 1 FROM account_roles d \
                                       WHERE d.user_id = $2 AND d.role = 'developer'))) \
                 ) \
                 SELECT 'session' AS kind, NULL::uuid AS workspace_id, live.kind AS role FROM live \
                 UNION ALL SELECT 'account', NULL, role FROM account_roles \
                     WHERE user_id = $2 AND EXISTS (SELECT 1 FROM live) \
                 UNION ALL SELECT 'workspace', workspace_id, role FROM workspace_roles \
                     WHERE user_id = $2 AND EXISTS (SELECT 1 FROM live)",
            )
            .bind::<SqlUuid, _>(session.as_uuid())
            .bind::<SqlUuid, _>(user.as_uuid())
            .bind::<Timestamptz, _>(now)
            .load::<RoleRow>(tx.conn())
            .await?;
            tx.commit().await?;
            let Some(marker) = rows.iter().find(|r| r.kind == "session") else {
                return Ok(None);
            };
            let kind = SessionKind::parse(&marker.role).ok_or_else(|| {
                DbError::Corrupt(format!("unknown session kind `{}`", marker.role))
            })?;
            let roles = roles_from_rows(
                rows.iter()
                    .filter(|r| r.kind == "account")
                    .map(|r| r.role.as_str()),
                rows.iter()
                    .filter(|r| r.kind == "workspace")
                    .filter_map(|r| r.workspace_id.map(|w| (w, r.role.as_str()))),
            )?;
            Ok(Some(LiveSession { kind, roles }))
        })
        .await?;
        if let Some(live) = &live {
            self.cache
                .insert(generation, account, user, session, live.clone());
        }
        Ok(live)
    }

    async fn user_sessions(
        &self,
        account: AccountId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<SessionSummary>, StoreError> {
        type Row = (
            Uuid,
            String,
            DateTime<Utc>,
            Option<DateTime<Utc>>,
            Option<ipnet::IpNet>,
            Option<String>,
            Option<String>,
            DateTime<Utc>,
        );
        store(async {
            let mut tx = self.db.tenant(account, Some(user)).await?;
            let rows = sessions::table
                .left_join(api_keys::table.on(api_keys::id.nullable().eq(sessions::api_key_id)))
                .filter(sessions::user_id.eq(user.as_uuid()))
                .filter(sessions::revoked_at.is_null())
                .filter(sessions::expires_at.gt(now))
                .order(sessions::created_at.desc())
                .limit(MAX_LISTED_SESSIONS)
                .select((
                    sessions::id,
                    sessions::kind,
                    sessions::created_at,
                    sessions::last_seen_at,
                    sessions::ip,
                    sessions::country,
                    api_keys::name.nullable(),
                    sessions::expires_at,
                ))
                .load::<Row>(tx.conn())
                .await?;
            tx.commit().await?;
            rows.into_iter()
                .map(
                    |(id, kind, created_at, last_seen_at, ip, country, key_name, expires_at)| {
                        Ok(SessionSummary {
                            id: SessionId::from_uuid(id),
                            kind: SessionKind::parse(&kind).ok_or_else(|| {
                                DbError::Corrupt(format!("unknown session kind `{kind}`"))
                            })?,
                            created_at,
                            last_seen_at: last_seen_at.unwrap_or(created_at),
                            ip: ip.map(|ip| ip.addr()),
                            country,
                            key_name,
                            expires_at,
                        })
                    },
                )
                .collect()
        })
        .await
    }

    async fn redeem_mfa_token(
        &self,
        account: AccountId,
        user: UserId,
        token_id: Uuid,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, Some(user)).await?;
            let inserted = diesel::insert_into(redeemed_mfa_tokens::table)
                .values((
                    redeemed_mfa_tokens::id.eq(token_id),
                    redeemed_mfa_tokens::account_id.eq(account.as_uuid()),
                    redeemed_mfa_tokens::user_id.eq(user.as_uuid()),
                    redeemed_mfa_tokens::expires_at.eq(expires_at),
                ))
                .on_conflict_do_nothing()
                .execute(tx.conn())
                .await?;
            tx.commit().await?;
            Ok(inserted == 1)
        })
        .await
    }

    async fn rotate_refresh_token(
        &self,
        rotation: &RefreshRotation,
    ) -> Result<Rotation, StoreError> {
        store(async {
            let mut tx = self
                .db
                .anonymous(Lookup::RefreshToken(&rotation.presented))
                .await?;
            let found = refresh_tokens::table
                .filter(refresh_tokens::token_hash.eq(rotation.presented.as_slice()))
                .select((
                    refresh_tokens::session_id,
                    refresh_tokens::account_id,
                    refresh_tokens::expires_at,
                ))
                .first::<(Uuid, Uuid, DateTime<Utc>)>(tx.conn())
                .await
                .optional()?;
            let Some((session_id, account_id, token_expires_at)) = found else {
                tx.commit().await?;
                return Ok(Rotation::Invalid);
            };
            let account = AccountId::from_uuid(account_id);
            tx.become_tenant(account, None).await?;
            // Locking the session serialises concurrent rotations: the second sees the first's
            // `used_at` and counts as reuse.
            let (user_id, kind, scope, api_key_id, revoked_at, session_expires_at) =
                sessions::table
                    .filter(sessions::id.eq(session_id))
                    .select((
                        sessions::user_id,
                        sessions::kind,
                        sessions::scope,
                        sessions::api_key_id,
                        sessions::revoked_at,
                        sessions::expires_at,
                    ))
                    .for_update()
                    .first::<(
                        Uuid,
                        String,
                        String,
                        Option<Uuid>,
                        Option<DateTime<Utc>>,
                        DateTime<Utc>,
                    )>(tx.conn())
                    .await?;
            let used_at = refresh_tokens::table
                .filter(refresh_tokens::token_hash.eq(rotation.presented.as_slice()))
                .select(refresh_tokens::used_at)
                .first::<Option<DateTime<Utc>>>(tx.conn())
                .await?;
            let now = rotation.now;
            if revoked_at.is_some() || session_expires_at <= now || token_expires_at <= now {
                tx.commit().await?;
                return Ok(Rotation::Invalid);
            }
            let session = SessionId::from_uuid(session_id);
            let user = UserId::from_uuid(user_id);
            if used_at.is_some_and(|used| now - used >= rotation.overlap) {
                revoke(tx.conn(), session, "refresh token reuse", now).await?;
                tx.commit().await?;
                // As in `revoke_session`: this instance does not wait for its own
                // notification, so the theft's very next request is refused here too.
                self.cache.invalidate(Invalidation::Session(session));
                return Ok(Rotation::Reused {
                    account_id: account,
                    user_id: user,
                    session_id: session,
                });
            }
            // The successor never outlives its session, whose end never moves.
            let successor_expires_at = rotation.successor_expires_at.min(session_expires_at);
            // Everything left is independent of each other: pipelined, one round trip.
            let conn: &AsyncPgConnection = tx.conn();
            let mark_used = diesel::update(refresh_tokens::table)
                .filter(refresh_tokens::token_hash.eq(rotation.presented.as_slice()))
                .set(refresh_tokens::used_at.eq(used_at.unwrap_or(now)))
                .execute(&mut &*conn)
                .map_err(DbError::from);
            let successor = diesel::insert_into(refresh_tokens::table)
                .values((
                    refresh_tokens::token_hash.eq(rotation.successor.as_slice()),
                    refresh_tokens::account_id.eq(account_id),
                    refresh_tokens::session_id.eq(session_id),
                    refresh_tokens::created_at.eq(now),
                    refresh_tokens::expires_at.eq(successor_expires_at),
                ))
                .execute(&mut &*conn)
                .map_err(DbError::from);
            let seen = diesel::update(sessions::table)
                .filter(sessions::id.eq(session_id))
                .set((
                    sessions::last_seen_at.eq(now),
                    sessions::ip.eq(rotation.ip.map(ipnet::IpNet::from)),
                ))
                .execute(&mut &*conn)
                .map_err(DbError::from);
            let key_live = async {
                let Some(key) = api_key_id else {
                    return Ok(false);
                };
                let live = api_keys::table
                    .filter(api_keys::id.eq(key))
                    .filter(api_keys::deleted_at.is_null())
                    .count()
                    .get_result::<i64>(&mut &*conn)
                    .await?;
                Ok::<_, DbError>(live > 0)
            };
            let (_, _, _, api_key_live, roles) = futures_util::future::try_join5(
                mark_used,
                successor,
                seen,
                key_live,
                load_roles(conn, user_id),
            )
            .await?;
            tx.commit().await?;
            let kind = SessionKind::parse(&kind)
                .ok_or_else(|| DbError::Corrupt(format!("unknown session kind `{kind}`")))?;
            Ok(Rotation::Rotated(SessionGrant {
                session_id: session,
                account_id: account,
                user_id: user,
                kind,
                scope,
                api_key_id,
                api_key_live,
                roles,
                expires_at: session_expires_at,
            }))
        })
        .await
    }

    async fn revoke_session(
        &self,
        account: AccountId,
        session: SessionId,
        reason: &'static str,
        event: &AuthEvent,
    ) -> Result<(), StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, event.user_id).await?;
            revoke(tx.conn(), session, reason, event.at).await?;
            insert_event(tx.conn(), event).await?;
            tx.commit().await
        })
        .await?;
        // This instance need not wait for its own notification.
        self.cache.invalidate(Invalidation::Session(session));
        Ok(())
    }

    async fn revoke_user_session(
        &self,
        account: AccountId,
        user: UserId,
        session: SessionId,
        reason: &'static str,
        event: &AuthEvent,
    ) -> Result<bool, StoreError> {
        let ended = store(async {
            let mut tx = self.db.tenant(account, Some(user)).await?;
            let ended = diesel::update(sessions::table)
                .filter(sessions::id.eq(session.as_uuid()))
                .filter(sessions::user_id.eq(user.as_uuid()))
                .filter(sessions::revoked_at.is_null())
                .filter(sessions::expires_at.gt(event.at))
                .set((
                    sessions::revoked_at.eq(event.at),
                    sessions::revoked_reason.eq(reason),
                ))
                .execute(tx.conn())
                .await?;
            if ended == 1 {
                announce(tx.conn(), Invalidation::Session(session)).await?;
                insert_event(tx.conn(), event).await?;
            }
            tx.commit().await?;
            Ok::<_, DbError>(ended == 1)
        })
        .await?;
        if ended {
            self.cache.invalidate(Invalidation::Session(session));
        }
        Ok(ended)
    }

    async fn revoke_user_sessions(
        &self,
        account: AccountId,
        user: UserId,
        keep: Option<SessionId>,
        reason: &'static str,
    ) -> Result<(), StoreError> {
        let revoked = store(async {
            let mut tx = self.db.tenant(account, Some(user)).await?;
            let keep = keep.map(|s| s.as_uuid()).unwrap_or_default();
            let revoked = diesel::update(sessions::table)
                .filter(sessions::user_id.eq(user.as_uuid()))
                .filter(sessions::revoked_at.is_null())
                .filter(sessions::id.ne(keep))
                .set((
                    sessions::revoked_at.eq(diesel::dsl::now),
                    sessions::revoked_reason.eq(reason),
                ))
                .returning(sessions::id)
                .get_results::<Uuid>(tx.conn())
                .await?;
            let revoked: Vec<SessionId> = revoked.into_iter().map(SessionId::from_uuid).collect();
            for session in &revoked {
                announce(tx.conn(), Invalidation::Session(*session)).await?;
            }
            tx.commit().await?;
            Ok::<_, DbError>(revoked)
        })
        .await?;
        for session in revoked {
            self.cache.invalidate(Invalidation::Session(session));
        }
        Ok(())
    }

    async fn record_event(&self, event: &AuthEvent) -> Result<(), StoreError> {
        record_event(&self.db, event).await
    }
}
