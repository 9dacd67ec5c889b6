//! [`ApiKeyStore`] on Postgres.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use kernel::{AccountId, AuthEvent, PermissionSet, SessionId, StoreError, UserId};
use tokens::ApiKey;
use tokens::ports::{ApiKeyStore, KeyCredentials, NewApiKey};
use uuid::Uuid;

use crate::audit::insert_event;
use crate::db::{Db, Lookup};
use crate::error::{DbError, store};
use crate::roles::load_roles;
use crate::schema::{api_keys, sessions};
use crate::session_cache::{Invalidation, SessionCache, announce};

#[derive(Clone)]
pub struct PgApiKeyStore {
    db: Db,
    /// This instance's session cache: sessions of a deleted key are forgotten here at once.
    sessions: Arc<SessionCache>,
}

impl std::fmt::Debug for PgApiKeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgApiKeyStore")
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

impl PgApiKeyStore {
    #[must_use]
    pub fn new(db: Db, sessions: Arc<SessionCache>) -> Self {
        Self { db, sessions }
    }

    /// This instance need not wait for its own notifications.
    fn forget(&self, revoked: Vec<SessionId>) {
        for session in revoked {
            self.sessions.invalidate(Invalidation::Session(session));
        }
    }
}

/// Revokes every live session exchanged for one of `keys` (their short-lived tokens too) and
/// announces each, inside the caller's transaction.
async fn revoke_key_sessions(
    conn: &mut diesel_async::AsyncPgConnection,
    keys: &[Uuid],
    at: DateTime<Utc>,
) -> Result<Vec<SessionId>, DbError> {
    let revoked = diesel::update(sessions::table)
        .filter(sessions::api_key_id.eq_any(keys))
        .filter(sessions::revoked_at.is_null())
        .set((
            sessions::revoked_at.eq(at),
            sessions::revoked_reason.eq("api key deleted"),
        ))
        .returning(sessions::id)
        .get_results::<Uuid>(conn)
        .await?;
    let revoked: Vec<SessionId> = revoked.into_iter().map(SessionId::from_uuid).collect();
    for session in &revoked {
        announce(conn, Invalidation::Session(*session)).await?;
    }
    Ok(revoked)
}

type KeyRow = (
    Uuid,
    Uuid,
    Uuid,
    String,
    Option<String>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);

fn key_from_row(
    (id, account, user, name, scopes, created_at, last_used_at): KeyRow,
) -> Result<ApiKey, DbError> {
    let scopes = scopes
        .map(|s| PermissionSet::parse_scope(&s))
        .transpose()
        .map_err(|e| DbError::Corrupt(format!("api key {id}: {e}")))?;
    Ok(ApiKey {
        key_id: id,
        account_id: AccountId::from_uuid(account),
        user_id: UserId::from_uuid(user),
        name,
        scopes,
        created_at,
        last_used_at,
    })
}

const KEY_COLUMNS: (
    api_keys::id,
    api_keys::account_id,
    api_keys::user_id,
    api_keys::name,
    api_keys::scopes,
    api_keys::created_at,
    api_keys::last_used_at,
) = (
    api_keys::id,
    api_keys::account_id,
    api_keys::user_id,
    api_keys::name,
    api_keys::scopes,
    api_keys::created_at,
    api_keys::last_used_at,
);

#[async_trait]
impl ApiKeyStore for PgApiKeyStore {
    async fn create_api_key(&self, new: &NewApiKey, event: &AuthEvent) -> Result<(), StoreError> {
        let key = &new.key;
        store(async {
            let mut tx = self.db.tenant(key.account_id, Some(key.user_id)).await?;
            // Only while the owner is a developer: a demotion that committed first (whatever
            // this instance's cache says) leaves no key behind to revive later. The role row is
            // locked so that a concurrent demotion waits for this insert (and then deletes it).
            let inserted = diesel::sql_query(
                "INSERT INTO api_keys (id, account_id, user_id, name, scopes, secret_digest, created_at) \
                 SELECT $1, $2, $3, $4, $5, $6, $7 \
                 WHERE EXISTS (SELECT 1 FROM account_roles \
                               WHERE user_id = $3 AND role = 'developer' FOR SHARE)",
            )
            .bind::<diesel::sql_types::Uuid, _>(key.key_id)
            .bind::<diesel::sql_types::Uuid, _>(key.account_id.as_uuid())
            .bind::<diesel::sql_types::Uuid, _>(key.user_id.as_uuid())
            .bind::<diesel::sql_types::Text, _>(&key.name)
            .bind::<diesel::sql_types::Nullable<diesel::sql_types::Text>, _>(
                key.scopes.map(PermissionSet::to_scope_string),
            )
            .bind::<diesel::sql_types::Bytea, _>(new.secret_digest.as_slice())
            .bind::<diesel::sql_types::Timestamptz, _>(key.created_at)
            .execute(tx.conn())
            .await?;
            if inserted == 0 {
                return Err(DbError::Query(diesel::result::Error::NotFound));
            }
            insert_event(tx.conn(), event).await?;
            tx.commit().await
        })
        .await
    }

    async fn api_keys(&self, account: AccountId, user: UserId) -> Result<Vec<ApiKey>, StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, Some(user)).await?;
            let rows = api_keys::table
                .filter(api_keys::user_id.eq(user.as_uuid()))
                .filter(api_keys::deleted_at.is_null())
                .order(api_keys::created_at.desc())
                .select(KEY_COLUMNS)
                .load::<KeyRow>(tx.conn())
                .await?;
            tx.commit().await?;
            rows.into_iter().map(key_from_row).collect()
        })
        .await
    }

    async fn account_api_keys(&self, account: AccountId) -> Result<Vec<ApiKey>, StoreError> {
        store(async {
            let mut tx = self.db.tenant(account, None).await?;
            let rows = api_keys::table
                .filter(api_keys::deleted_at.is_null())
                .order(api_keys::created_at.desc())
                .select(KEY_COLUMNS)
                .load::<KeyRow>(tx.conn())
                .await?;
            tx.commit().await?;
            rows.into_iter().map(key_from_row).collect()
        })
        .await
    }

    async fn delete_api_key(
        &self,
        account: AccountId,
        owner: Option<UserId>,
        key_id: Uuid,
        reason: &'static str,
        event: &AuthEvent,
    ) -> Result<(), StoreError> {
        let revoked = store(async {
            let mut tx = self.db.tenant(account, event.user_id).await?;
            let mut deletion = diesel::update(api_keys::table)
                .filter(api_keys::id.eq(key_id))
                .filter(api_keys::deleted_at.is_null())
                .into_boxed();
            if let Some(owner) = owner {
                deletion = deletion.filter(api_keys::user_id.eq(owner.as_uuid()));
            }
            let deleted = deletion
                .set((
                    api_keys::deleted_at.eq(event.at),
                    api_keys::deleted_reason.eq(reason),
                ))
                .execute(tx.conn())
                .await?;
            if deleted == 0 {
                return Err(DbError::Query(diesel::result::Error::NotFound));
            }
            let revoked = revoke_key_sessions(tx.conn(), &[key_id], event.at).await?;
            insert_event(tx.conn(), event).await?;
            tx.commit().await?;
            Ok(revoked)
        })
        .await?;
        self.forget(revoked);
        Ok(())
    }

    async fn delete_user_api_keys(
        &self,
        account: AccountId,
        user: UserId,
        reason: &'static str,
        event: &AuthEvent,
    ) -> Result<usize, StoreError> {
        let (deleted, revoked) = store(async {
            let mut tx = self.db.tenant(account, Some(user)).await?;
            let deleted = diesel::update(api_keys::table)
                .filter(api_keys::user_id.eq(user.as_uuid()))
                .filter(api_keys::deleted_at.is_null())
                .set((
                    api_keys::deleted_at.eq(event.at),
                    api_keys::deleted_reason.eq(reason),
                ))
                .returning(api_keys::id)
                .get_results::<Uuid>(tx.conn())
                .await?;
            if deleted.is_empty() {
                tx.commit().await?;
                return Ok((0, Vec::new()));
            }
            let revoked = revoke_key_sessions(tx.conn(), &deleted, event.at).await?;
            insert_event(tx.conn(), event).await?;
            tx.commit().await?;
            Ok((deleted.len(), revoked))
        })
        .await?;
        self.forget(revoked);
        Ok(deleted)
    }

    async fn key_credentials(&self, key_id: Uuid) -> Result<Option<KeyCredentials>, StoreError> {
        store(async {
            let mut tx = self.db.anonymous(Lookup::ApiKey(key_id)).await?;
            let found = api_keys::table
                .filter(api_keys::id.eq(key_id))
                .filter(api_keys::deleted_at.is_null())
                .select((KEY_COLUMNS, api_keys::secret_digest))
                .first::<(KeyRow, Vec<u8>)>(tx.conn())
                .await
                .optional()?;
            let Some((row, secret_digest)) = found else {
                tx.commit().await?;
                return Ok(None);
            };
            let key = key_from_row(row)?;
            tx.become_tenant(key.account_id, Some(key.user_id)).await?;
            let owner_roles = load_roles(tx.conn(), key.user_id.as_uuid()).await?;
            tx.commit().await?;
            Ok(Some(KeyCredentials {
                key,
                secret_digest,
                owner_roles,
            }))
        })
        .await
    }
}
