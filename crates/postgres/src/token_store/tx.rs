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

use futures_util::future::BoxFuture;

use super::deferred::{self, Deferred};
use super::rows::{ApiKeyRow, RefreshTokenRow, SessionRow, StoredApiKeyRow, session_kind};
use crate::error::DbError;
use crate::pipeline::{PipelinedTx, Settings};
use crate::roles::{load_roles, roles_from_rows};
use crate::schema::{
    account_roles, api_keys, redeemed_mfa_tokens, refresh_tokens, sessions, workspace_roles,
};
use crate::session_cache::{Invalidation, SessionCache};

/// A [`TokenTx`] on one pipelined Postgres transaction (`crate::pipeline`): reads go out with
/// everything queued before them, writes whose result the service does not need are queued.
/// Revocations are announced to every instance inside the transaction (so only a committed one
/// is heard) and dropped from this instance's cache at once after the commit.
pub struct PgTokenTx {
    tx: PipelinedTx,
    cache: Arc<SessionCache>,
    /// Whose rows the unit of work sees, and so what the cache may answer with: an account's
    /// (a tenant), or on the anonymous exchange path only the key it names.
    visible: Visible,
    /// What to tell this instance's cache once the unit of work has committed.
    after_commit: Vec<CacheChange>,
    deferred: Vec<Deferred>,
}

/// A committed change this instance's cache learns of at once (other instances hear of it on
/// the bus).
#[derive(Clone, Copy, Debug)]
pub(super) enum Visible {
    Tenant(AccountId),
    ApiKey(Uuid),
    Nothing,
}

enum CacheChange {
    Forget(Invalidation),
    KeyUsed(Uuid, DateTime<Utc>),
}

impl PgTokenTx {
    pub(super) fn new(tx: PipelinedTx, cache: Arc<SessionCache>, visible: Visible) -> Self {
        Self {
            tx,
            cache,
            visible,
            after_commit: Vec::new(),
            deferred: Vec::new(),
        }
    }

    /// Announces `what` to every instance if the unit of work commits, and applies it to this
    /// instance's cache once it has.
    fn announce(&mut self, what: Invalidation) {
        self.defer(Deferred::Announce(what));
        self.after_commit.push(CacheChange::Forget(what));
    }

    fn defer(&mut self, write: Deferred) {
        self.deferred.push(write);
    }

    /// One read, sent in the same round trip as everything the transaction still owes the
    /// server (its `BEGIN`, its settings, the queued writes, which it may then see).
    async fn read<'s, T: Send>(
        &'s mut self,
        read: impl FnOnce(&'s AsyncPgConnection) -> BoxFuture<'s, Result<T, DbError>>,
    ) -> Result<T, StoreError> {
        let writes = std::mem::take(&mut self.deferred);
        Ok(self
            .tx
            .read(move |conn| deferred::statements(conn, writes), read)
            .await?)
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
        let revoke = diesel::update(sessions::table)
            .filter(which)
            .filter(sessions::revoked_at.is_null())
            .set((
                sessions::revoked_at.eq(at),
                sessions::revoked_reason.eq(reason),
            ))
            .returning(sessions::id);
        let ids = self
            .read(move |mut conn| {
                Box::pin(async move { Ok(revoke.get_results::<Uuid>(&mut conn).await?) })
            })
            .await?;
        let ids: Vec<SessionId> = ids.into_iter().map(SessionId::from_uuid).collect();
        for session in &ids {
            self.announce(Invalidation::Session(*session));
        }
        Ok(ids)
    }
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
    async fn become_tenant(
        &mut self,
        account: AccountId,
        user: Option<UserId>,
    ) -> Result<(), StoreError> {
        let settings = Settings::tenant(account, user);
        self.visible = Visible::Tenant(account);
        if self.deferred.is_empty() {
            self.tx.switch_to(settings);
        } else {
            // Writes queued so far were made as the role before: they go first.
            self.defer(Deferred::Settings(settings));
        }
        Ok(())
    }

    async fn insert_session(&mut self, session: &NewSession) -> Result<(), StoreError> {
        self.defer(Deferred::Session(session.clone()));
        Ok(())
    }

    /// One statement: the session joined with the token, both rows locked — so that a
    /// rotation that waited for another reads both as that one left them (Postgres reads a
    /// locked row again once it has the lock).
    #[tracing::instrument(skip_all)]
    async fn lock_session_then_token(
        &mut self,
        session: SessionId,
        digest: &[u8; 32],
    ) -> Result<(Option<StoredSession>, Option<StoredRefreshToken>), StoreError> {
        let both = sessions::table
            .inner_join(refresh_tokens::table.on(refresh_tokens::session_id.eq(sessions::id)))
            .filter(sessions::id.eq(session.as_uuid()))
            .filter(refresh_tokens::token_hash.eq(digest.to_vec()))
            .select((SessionRow::as_select(), RefreshTokenRow::as_select()))
            .for_update();
        let found = self
            .read(move |mut conn| {
                Box::pin(async move {
                    Ok(both
                        .first::<(SessionRow, RefreshTokenRow)>(&mut conn)
                        .await
                        .optional()?)
                })
            })
            .await?;
        match found {
            Some((session, token)) => Ok((
                Some(StoredSession::try_from(session)?),
                Some(StoredRefreshToken::from(token)),
            )),
            // Either is gone (swept, or never matched): the rotation refuses either way.
            None => Ok((self.lock_session(session).await?, None)),
        }
    }

    #[tracing::instrument(skip_all)]
    async fn lock_session(
        &mut self,
        session: SessionId,
    ) -> Result<Option<StoredSession>, StoreError> {
        let query = sessions::table
            .filter(sessions::id.eq(session.as_uuid()))
            .select(SessionRow::as_select())
            .for_update();
        self.read(move |mut conn| {
            Box::pin(async move {
                query
                    .first(&mut conn)
                    .await
                    .optional()?
                    .map(StoredSession::try_from)
                    .transpose()
            })
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
        let query = sessions::table
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
            ));
        self.read(move |mut conn| {
            Box::pin(async move {
                let rows = query.load::<SummaryRow>(&mut conn).await?;
                rows.into_iter().map(SessionSummary::try_from).collect()
            })
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
        let query = refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(digest.to_vec()))
            .select(RefreshTokenRow::as_select());
        self.read(move |mut conn| {
            Box::pin(async move {
                Ok(query
                    .first(&mut conn)
                    .await
                    .optional()?
                    .map(StoredRefreshToken::from))
            })
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
        let insert = diesel::insert_into(redeemed_mfa_tokens::table)
            .values((
                redeemed_mfa_tokens::id.eq(token_id),
                redeemed_mfa_tokens::account_id.eq(account.as_uuid()),
                redeemed_mfa_tokens::user_id.eq(user.as_uuid()),
                redeemed_mfa_tokens::expires_at.eq(expires_at),
            ))
            .on_conflict_do_nothing();
        self.read(move |mut conn| {
            Box::pin(async move { Ok(insert.execute(&mut conn).await? == 1) })
        })
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn api_key(&mut self, key_id: Uuid) -> Result<Option<StoredApiKey>, StoreError> {
        // What row-level security would show: the tenant's keys, or the one key named.
        let cached = self.cache.api_key(key_id).filter(|key| match self.visible {
            Visible::Tenant(account) => key.key.account_id == account,
            Visible::ApiKey(id) => id == key_id,
            Visible::Nothing => false,
        });
        if cached.is_some() {
            return Ok(cached);
        }
        let generation = self.cache.generation();
        let query = api_keys::table
            .filter(api_keys::id.eq(key_id))
            .select(StoredApiKeyRow::as_select());
        let found = self
            .read(move |mut conn| {
                Box::pin(async move {
                    query
                        .first(&mut conn)
                        .await
                        .optional()?
                        .map(StoredApiKey::try_from)
                        .transpose()
                })
            })
            .await?;
        if let Some(key) = &found {
            self.cache.insert_api_key(generation, key.clone());
        }
        Ok(found)
    }

    #[tracing::instrument(skip_all)]
    async fn live_api_keys(&mut self, owner: Option<UserId>) -> Result<Vec<ApiKey>, StoreError> {
        let mut query = api_keys::table
            .filter(api_keys::deleted_at.is_null())
            .order(api_keys::created_at.desc())
            .select(ApiKeyRow::as_select())
            .into_boxed();
        if let Some(owner) = owner {
            query = query.filter(api_keys::user_id.eq(owner.as_uuid()));
        }
        self.read(move |mut conn| {
            Box::pin(async move {
                let rows = query.load(&mut conn).await?;
                rows.into_iter().map(ApiKey::try_from).collect()
            })
        })
        .await
    }

    async fn insert_api_key(&mut self, new: &NewApiKey) -> Result<(), StoreError> {
        let key = &new.key;
        let insert = diesel::insert_into(api_keys::table).values((
            api_keys::id.eq(key.key_id),
            api_keys::account_id.eq(key.account_id.as_uuid()),
            api_keys::user_id.eq(key.user_id.as_uuid()),
            api_keys::name.eq(key.name.clone()),
            api_keys::scopes.eq(key.scopes.map(PermissionSet::to_scope_string)),
            api_keys::secret_digest.eq(new.secret_digest.to_vec()),
            api_keys::created_at.eq(key.created_at),
        ));
        self.read(move |mut conn| {
            Box::pin(async move {
                insert.execute(&mut conn).await?;
                Ok(())
            })
        })
        .await
    }

    async fn set_api_key_last_used(
        &mut self,
        key_id: Uuid,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.defer(Deferred::KeyLastUsed { key: key_id, at });
        self.after_commit.push(CacheChange::KeyUsed(key_id, at));
        Ok(())
    }

    async fn delete_api_key(
        &mut self,
        key_id: Uuid,
        reason: &'static str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let delete = diesel::update(api_keys::table)
            .filter(api_keys::id.eq(key_id))
            .filter(api_keys::deleted_at.is_null())
            .set((
                api_keys::deleted_at.eq(at),
                api_keys::deleted_reason.eq(reason),
            ));
        let deleted = self
            .read(move |mut conn| {
                Box::pin(async move { Ok(delete.execute(&mut conn).await? == 1) })
            })
            .await?;
        if deleted {
            self.announce(Invalidation::ApiKey(key_id));
        }
        Ok(deleted)
    }

    async fn delete_user_api_keys(
        &mut self,
        user: UserId,
        reason: &'static str,
        at: DateTime<Utc>,
    ) -> Result<Vec<Uuid>, StoreError> {
        let delete = diesel::update(api_keys::table)
            .filter(api_keys::user_id.eq(user.as_uuid()))
            .filter(api_keys::deleted_at.is_null())
            .set((
                api_keys::deleted_at.eq(at),
                api_keys::deleted_reason.eq(reason),
            ))
            .returning(api_keys::id);
        let deleted = self
            .read(move |mut conn| {
                Box::pin(async move { Ok(delete.get_results::<Uuid>(&mut conn).await?) })
            })
            .await?;
        for key in &deleted {
            self.announce(Invalidation::ApiKey(*key));
        }
        Ok(deleted)
    }

    #[tracing::instrument(skip_all)]
    async fn roles(&mut self, user: UserId) -> Result<Roles, StoreError> {
        let Visible::Tenant(account) = self.visible else {
            return self
                .read(move |conn| Box::pin(load_roles(conn, user.as_uuid())))
                .await;
        };
        if let Some(roles) = self.cache.roles(account, user) {
            return Ok(roles);
        }
        let generation = self.cache.generation();
        let roles = self
            .read(move |conn| Box::pin(load_roles(conn, user.as_uuid())))
            .await?;
        self.cache
            .insert_roles(generation, account, user, roles.clone());
        Ok(roles)
    }

    #[tracing::instrument(skip_all)]
    async fn lock_roles(&mut self, user: UserId) -> Result<Roles, StoreError> {
        let account = account_roles::table
            .filter(account_roles::user_id.eq(user.as_uuid()))
            .select(account_roles::role)
            .for_share();
        let workspaces = workspace_roles::table
            .filter(workspace_roles::user_id.eq(user.as_uuid()))
            .select((workspace_roles::workspace_id, workspace_roles::role));
        self.read(move |conn| {
            Box::pin(async move {
                let mut first = conn;
                let mut second = conn;
                let (account, workspaces) = futures_util::future::try_join(
                    account.load::<String>(&mut first),
                    workspaces.load::<(Uuid, String)>(&mut second),
                )
                .await?;
                roles_from_rows(
                    account.iter().map(String::as_str),
                    workspaces.iter().map(|(w, r)| (*w, r.as_str())),
                )
            })
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
            tx,
            cache,
            after_commit,
            deferred,
            ..
        } = *self;
        tx.commit(move |conn| deferred::statements(conn, deferred))
            .await?;
        // This instance need not wait for its own notifications.
        for change in after_commit {
            match change {
                CacheChange::Forget(what) => cache.invalidate(what),
                CacheChange::KeyUsed(key, at) => cache.api_key_used(key, at),
            }
        }
        Ok(())
    }
}
