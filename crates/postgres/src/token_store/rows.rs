//! The token tables' rows as diesel reads and writes them.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use kernel::{AccountId, PermissionSet, SessionId, UserId};
use tokens::ports::{StoredApiKey, StoredRefreshToken, StoredSession};
use tokens::{ApiKey, NewSession, SessionKind};
use uuid::Uuid;

use crate::error::DbError;
use crate::schema::{api_keys, refresh_tokens, sessions};

pub(super) fn session_kind(stored: &str) -> Result<SessionKind, DbError> {
    SessionKind::parse(stored)
        .ok_or_else(|| DbError::Corrupt(format!("unknown session kind `{stored}`")))
}

#[derive(Insertable)]
#[diesel(table_name = sessions, treat_none_as_default_value = false)]
pub(super) struct NewSessionRow<'a> {
    id: Uuid,
    account_id: Uuid,
    user_id: Uuid,
    kind: &'static str,
    scope: &'a str,
    api_key_id: Option<Uuid>,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    ip: Option<ipnet::IpNet>,
    country: Option<&'a str>,
}

impl<'a> From<&'a NewSession> for NewSessionRow<'a> {
    fn from(session: &'a NewSession) -> Self {
        Self {
            id: session.id.as_uuid(),
            account_id: session.account_id.as_uuid(),
            user_id: session.user_id.as_uuid(),
            kind: session.kind.as_str(),
            scope: &session.scope,
            api_key_id: session.api_key_id,
            created_at: session.created_at,
            expires_at: session.expires_at,
            last_seen_at: session.created_at,
            ip: session.ip.map(ipnet::IpNet::from),
            country: session.country.as_deref(),
        }
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = sessions, check_for_backend(diesel::pg::Pg))]
pub(super) struct SessionRow {
    id: Uuid,
    account_id: Uuid,
    user_id: Uuid,
    kind: String,
    scope: String,
    api_key_id: Option<Uuid>,
    expires_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    last_seen_at: Option<DateTime<Utc>>,
    ip: Option<ipnet::IpNet>,
}

impl TryFrom<SessionRow> for StoredSession {
    type Error = DbError;

    fn try_from(row: SessionRow) -> Result<Self, DbError> {
        Ok(Self {
            id: SessionId::from_uuid(row.id),
            account_id: AccountId::from_uuid(row.account_id),
            user_id: UserId::from_uuid(row.user_id),
            kind: session_kind(&row.kind)?,
            scope: row.scope,
            api_key_id: row.api_key_id,
            expires_at: row.expires_at,
            revoked: row.revoked_at.is_some(),
            last_seen_at: row.last_seen_at.unwrap_or(row.created_at),
            last_seen_ip: row.ip.map(|ip| ip.addr()),
        })
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = refresh_tokens, check_for_backend(diesel::pg::Pg))]
pub(super) struct RefreshTokenRow {
    session_id: Uuid,
    account_id: Uuid,
    expires_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
}

impl From<RefreshTokenRow> for StoredRefreshToken {
    fn from(row: RefreshTokenRow) -> Self {
        Self {
            session_id: SessionId::from_uuid(row.session_id),
            account_id: AccountId::from_uuid(row.account_id),
            expires_at: row.expires_at,
            used_at: row.used_at,
        }
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = api_keys, check_for_backend(diesel::pg::Pg))]
pub(super) struct ApiKeyRow {
    id: Uuid,
    account_id: Uuid,
    user_id: Uuid,
    name: String,
    scopes: Option<String>,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
}

impl TryFrom<ApiKeyRow> for ApiKey {
    type Error = DbError;

    fn try_from(row: ApiKeyRow) -> Result<Self, DbError> {
        let scopes = row
            .scopes
            .map(|s| PermissionSet::parse_scope(&s))
            .transpose()
            .map_err(|e| DbError::Corrupt(format!("api key {}: {e}", row.id)))?;
        Ok(Self {
            key_id: row.id,
            account_id: AccountId::from_uuid(row.account_id),
            user_id: UserId::from_uuid(row.user_id),
            name: row.name,
            scopes,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
        })
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = api_keys, check_for_backend(diesel::pg::Pg))]
pub(super) struct StoredApiKeyRow {
    #[diesel(embed)]
    key: ApiKeyRow,
    secret_digest: Vec<u8>,
    deleted_at: Option<DateTime<Utc>>,
}

impl TryFrom<StoredApiKeyRow> for StoredApiKey {
    type Error = DbError;

    fn try_from(row: StoredApiKeyRow) -> Result<Self, DbError> {
        Ok(Self {
            key: row.key.try_into()?,
            secret_digest: row.secret_digest,
            deleted: row.deleted_at.is_some(),
        })
    }
}
