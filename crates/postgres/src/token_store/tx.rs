//! One unit of work on the token tables: each method one statement, no rule of its own.

use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::Bool;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use kernel::{AccountId, AuthEvent, PermissionSet, Roles, SessionId, StoreError, UserId};
use tokens::ports::{
    NewApiKey, NewRefreshToken, StoredApiKey, StoredRefreshToken, StoredSession, TokenTx,
};
use tokens::{ApiKey, NewSession, SessionSummary};
use uuid::Uuid;

use super::deferred::{self, Deferred};
use super::rows::{
    ApiKeyRow, NewSessionRow, RefreshTokenRow, SessionRow, StoredApiKeyRow, session_kind,
};
use crate::db::Tx;
use crate::error::DbError;
use crate::roles::{load_roles, roles_from_rows};
use crate::schema::{
    account_roles, api_keys, redeemed_mfa_tokens, refresh_tokens, sessions, workspace_roles,
};
use crate::session_cache::{Invalidation, SessionCache, announce};

/// A [`TokenTx`] on one Postgres transaction. Revocations are announced to every instance
/// inside the transaction (so only a committed one is heard) and dropped from this instance's
/// cache at once after the commit.
pub struct PgTokenTx {
    tx: Tx,
    cache: Arc<SessionCache>,
    revoked: Vec<SessionId>,
    deferred: Vec<Deferred>,
}

impl PgTokenTx {
    pub(super) fn new(tx: Tx, cache: Arc<SessionCache>) -> Self {
        Self {
            tx,
            cache,
            revoked: Vec::new(),
            deferred: Vec::new(),
        }
    }

    /// The connection, once every queued write has gone: what comes next may read them.
    async fn conn(&mut self) -> Result<&mut AsyncPgConnection, DbError> {
        deferred::flush(self.tx.conn(), &mut self.deferred).await?;
        Ok(self.tx.conn())
    }

    fn defer(&mut self, write: Deferred) {
        self.deferred.push(write);
    }

    /// Revokes the unrevoked sessions `which` selects, announces each to every instance and
    /// remembers them for this instance's cache.
    #[tracing::instrument(skip_all)]
    async fn revoke_where(
        &mut self,
        which: Box<dyn BoxableExpression<sessions::table, Pg, SqlType = Bool> + Send>,
        reason: &'static str,
        at: DateTime<Utc>,
    ) -> Result<Vec<SessionId>, StoreError> {
        one(async {
            let ids = diesel::update(sessions::table)
                .filter(which)
                .filter(sessions::revoked_at.is_null())
                .set((
                    sessions::revoked_at.eq(at),
                    sessions::revoked_reason.eq(reason),
                ))
                .returning(sessions::id)
                .get_results::<Uuid>(self.conn().await?)
                .await?;
            let ids: Vec<SessionId> = ids.into_iter().map(SessionId::from_uuid).collect();
            for session in &ids {
                announce(self.tx.conn(), Invalidation::Session(*session)).await?;
            }
            self.revoked.extend_from_slice(&ids);
            Ok(ids)
        })
        .await
    }
}

/// Runs one statement of the unit of work, mapping its error to the store's.
async fn one<T>(statement: impl Future<Output = Result<T, DbError>>) -> Result<T, StoreError> {
    Ok(statement.await?)
}

#[derive(Queryable)]
struct SummaryRow {
    id: Uuid,
    kind: String,
    created_at: DateTime<Utc>,
    last_seen_at: Option<DateTime<Utc>>,
    ip: Option<ipnet::IpNet>,
    country: Option<String>,
    key_name: Option<String>,
    expires_at: DateTime<Utc>,
}

impl TryFrom<SummaryRow> for SessionSummary {
    type Error = DbError;

    fn try_from(row: SummaryRow) -> Result<Self, DbError> {
        Ok(Self {
            id: SessionId::from_uuid(row.id),
            kind: session_kind(&row.kind)?,
            created_at: row.created_at,
            last_seen_at: row.last_seen_at.unwrap_or(row.created_at),
            ip: row.ip.map(|ip| ip.addr()),
            country: row.country,
            key_name: row.key_name,
            expires_at: row.expires_at,
        })
    }
}

#[async_trait]
impl TokenTx for PgTokenTx {
    #[tracing::instrument(skip_all)]
    async fn become_tenant(
        &mut self,
        account: AccountId,
        user: Option<UserId>,
    ) -> Result<(), StoreError> {
        // Writes queued so far were made as the role before: they go first.
        one(async {
            deferred::flush(self.tx.conn(), &mut self.deferred).await?;
            self.tx.become_tenant(account, user).await
        })
        .await
    }

    async fn insert_session(&mut self, session: &NewSession) -> Result<(), StoreError> {
        let row = NewSessionRow::from(session);
        one(async {
            diesel::insert_into(sessions::table)
                .values(&row)
                .execute(self.conn().await?)
                .await?;
            Ok(())
        })
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn lock_session(
        &mut self,
        session: SessionId,
    ) -> Result<Option<StoredSession>, StoreError> {
        one(async {
            sessions::table
                .filter(sessions::id.eq(session.as_uuid()))
                .select(SessionRow::as_select())
                .for_update()
                .first(self.conn().await?)
                .await
                .optional()?
                .map(StoredSession::try_from)
                .transpose()
        })
        .await
    }

    async fn note_session_seen(
        &mut self,
        session: SessionId,
        at: DateTime<Utc>,
        ip: Option<IpAddr>,
    ) -> Result<(), StoreError> {
        self.defer(Deferred::SessionSeen { session, at, ip });
        Ok(())
    }

    async fn revoke_session(
        &mut self,
        session: SessionId,
        reason: &'static str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let which = Box::new(sessions::id.eq(session.as_uuid()));
        Ok(!self.revoke_where(which, reason, at).await?.is_empty())
    }

    async fn revoke_user_sessions(
        &mut self,
        user: UserId,
        keep: Option<SessionId>,
        reason: &'static str,
        at: DateTime<Utc>,
    ) -> Result<Vec<SessionId>, StoreError> {
        let keep = keep.map(|s| s.as_uuid()).unwrap_or_default();
        let which = Box::new(
            sessions::user_id
                .eq(user.as_uuid())
                .and(sessions::id.ne(keep)),
        );
        self.revoke_where(which, reason, at).await
    }

    async fn revoke_key_sessions(
        &mut self,
        keys: &[Uuid],
        reason: &'static str,
        at: DateTime<Utc>,
    ) -> Result<Vec<SessionId>, StoreError> {
        let which = Box::new(sessions::api_key_id.eq_any(keys.to_vec()).assume_not_null());
        self.revoke_where(which, reason, at).await
    }

    #[tracing::instrument(skip_all)]
    async fn live_sessions(
        &mut self,
        user: UserId,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<SessionSummary>, StoreError> {
        one(async {
            let rows = sessions::table
                .left_join(api_keys::table.on(api_keys::id.nullable().eq(sessions::api_key_id)))
                .filter(sessions::user_id.eq(user.as_uuid()))
                .filter(sessions::revoked_at.is_null())
                .filter(sessions::expires_at.gt(now))
                .order(sessions::created_at.desc())
                .limit(i64::try_from(limit).unwrap_or(i64::MAX))
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
                .load::<SummaryRow>(self.conn().await?)
                .await?;
            rows.into_iter().map(SessionSummary::try_from).collect()
        })
        .await
    }

    async fn insert_refresh_token(&mut self, token: &NewRefreshToken) -> Result<(), StoreError> {
        self.defer(Deferred::RefreshToken(token.clone()));
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn refresh_token(
        &mut self,
        digest: &[u8; 32],
    ) -> Result<Option<StoredRefreshToken>, StoreError> {
        one(async {
            Ok(refresh_tokens::table
                .filter(refresh_tokens::token_hash.eq(digest.as_slice()))
                .select(RefreshTokenRow::as_select())
                .first(self.conn().await?)
                .await
                .optional()?
                .map(StoredRefreshToken::from))
        })
        .await
    }

    async fn mark_refresh_token_used(
        &mut self,
        digest: &[u8; 32],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.defer(Deferred::RefreshTokenUsed {
            digest: *digest,
            at,
        });
        Ok(())
    }

    async fn insert_redeemed_mfa_token(
        &mut self,
        account: AccountId,
        user: UserId,
        token_id: Uuid,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        one(async {
            let inserted = diesel::insert_into(redeemed_mfa_tokens::table)
                .values((
                    redeemed_mfa_tokens::id.eq(token_id),
                    redeemed_mfa_tokens::account_id.eq(account.as_uuid()),
                    redeemed_mfa_tokens::user_id.eq(user.as_uuid()),
                    redeemed_mfa_tokens::expires_at.eq(expires_at),
                ))
                .on_conflict_do_nothing()
                .execute(self.conn().await?)
                .await?;
            Ok(inserted == 1)
        })
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn api_key(&mut self, key_id: Uuid) -> Result<Option<StoredApiKey>, StoreError> {
        one(async {
            api_keys::table
                .filter(api_keys::id.eq(key_id))
                .select(StoredApiKeyRow::as_select())
                .first(self.conn().await?)
                .await
                .optional()?
                .map(StoredApiKey::try_from)
                .transpose()
        })
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn live_api_keys(&mut self, owner: Option<UserId>) -> Result<Vec<ApiKey>, StoreError> {
        one(async {
            let mut query = api_keys::table
                .filter(api_keys::deleted_at.is_null())
                .order(api_keys::created_at.desc())
                .select(ApiKeyRow::as_select())
                .into_boxed();
            if let Some(owner) = owner {
                query = query.filter(api_keys::user_id.eq(owner.as_uuid()));
            }
            let rows = query.load(self.conn().await?).await?;
            rows.into_iter().map(ApiKey::try_from).collect()
        })
        .await
    }

    async fn insert_api_key(&mut self, new: &NewApiKey) -> Result<(), StoreError> {
        let key = &new.key;
        one(async {
            diesel::insert_into(api_keys::table)
                .values((
                    api_keys::id.eq(key.key_id),
                    api_keys::account_id.eq(key.account_id.as_uuid()),
                    api_keys::user_id.eq(key.user_id.as_uuid()),
                    api_keys::name.eq(&key.name),
                    api_keys::scopes.eq(key.scopes.map(PermissionSet::to_scope_string)),
                    api_keys::secret_digest.eq(new.secret_digest.as_slice()),
                    api_keys::created_at.eq(key.created_at),
                ))
                .execute(self.conn().await?)
                .await?;
            Ok(())
        })
        .await
    }

    async fn set_api_key_last_used(
        &mut self,
        key_id: Uuid,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.defer(Deferred::KeyLastUsed { key: key_id, at });
        Ok(())
    }

    async fn delete_api_key(
        &mut self,
        key_id: Uuid,
        reason: &'static str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        one(async {
            let deleted = diesel::update(api_keys::table)
                .filter(api_keys::id.eq(key_id))
                .filter(api_keys::deleted_at.is_null())
                .set((
                    api_keys::deleted_at.eq(at),
                    api_keys::deleted_reason.eq(reason),
                ))
                .execute(self.conn().await?)
                .await?;
            Ok(deleted == 1)
        })
        .await
    }

    async fn delete_user_api_keys(
        &mut self,
        user: UserId,
        reason: &'static str,
        at: DateTime<Utc>,
    ) -> Result<Vec<Uuid>, StoreError> {
        one(async {
            Ok(diesel::update(api_keys::table)
                .filter(api_keys::user_id.eq(user.as_uuid()))
                .filter(api_keys::deleted_at.is_null())
                .set((
                    api_keys::deleted_at.eq(at),
                    api_keys::deleted_reason.eq(reason),
                ))
                .returning(api_keys::id)
                .get_results::<Uuid>(self.conn().await?)
                .await?)
        })
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn roles(&mut self, user: UserId) -> Result<Roles, StoreError> {
        one(load_roles(self.conn().await?, user.as_uuid())).await
    }

    #[tracing::instrument(skip_all)]
    async fn lock_roles(&mut self, user: UserId) -> Result<Roles, StoreError> {
        one(async {
            let account = account_roles::table
                .filter(account_roles::user_id.eq(user.as_uuid()))
                .select(account_roles::role)
                .for_share()
                .load::<String>(self.conn().await?)
                .await?;
            let workspaces = workspace_roles::table
                .filter(workspace_roles::user_id.eq(user.as_uuid()))
                .select((workspace_roles::workspace_id, workspace_roles::role))
                .load::<(Uuid, String)>(self.conn().await?)
                .await?;
            roles_from_rows(
                account.iter().map(String::as_str),
                workspaces.iter().map(|(w, r)| (*w, r.as_str())),
            )
        })
        .await
    }

    async fn record_event(&mut self, event: &AuthEvent) -> Result<(), StoreError> {
        self.defer(Deferred::Event(Box::new(event.clone())));
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        let Self {
            mut tx,
            cache,
            revoked,
            mut deferred,
        } = *self;
        deferred::flush(tx.conn(), &mut deferred).await?;
        tx.commit().await?;
        // This instance need not wait for its own notifications.
        for session in revoked {
            cache.invalidate(Invalidation::Session(session));
        }
        Ok(())
    }
}
