//! The hot path's `UPDATE`s as statements of fixed text: diesel marks every `UPDATE` it builds
//! as not to be cached (a changeset may skip columns), so each would be prepared again on every
//! request; these are prepared once per connection, like the rest.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Bytea, Inet, Nullable, Timestamptz, Uuid as SqlUuid};
use uuid::Uuid;

/// `UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2`
pub(super) struct MarkRefreshTokenUsed {
    pub at: DateTime<Utc>,
    pub digest: [u8; 32],
}

/// `UPDATE sessions SET last_seen_at = $1, ip = $2 WHERE id = $3`
pub(super) struct NoteSessionSeen {
    pub at: DateTime<Utc>,
    pub ip: Option<ipnet::IpNet>,
    pub session: Uuid,
}

/// `UPDATE api_keys SET last_used_at = $1 WHERE id = $2`
pub(super) struct NoteKeyUsed {
    pub at: DateTime<Utc>,
    pub key: Uuid,
}

impl QueryFragment<Pg> for MarkRefreshTokenUsed {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> diesel::QueryResult<()> {
        out.push_sql("UPDATE refresh_tokens SET used_at = ");
        out.push_bind_param::<Timestamptz, _>(&self.at)?;
        out.push_sql(" WHERE token_hash = ");
        out.push_bind_param::<Bytea, _>(self.digest.as_slice())?;
        Ok(())
    }
}

impl QueryFragment<Pg> for NoteSessionSeen {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> diesel::QueryResult<()> {
        out.push_sql("UPDATE sessions SET last_seen_at = ");
        out.push_bind_param::<Timestamptz, _>(&self.at)?;
        out.push_sql(", ip = ");
        out.push_bind_param::<Nullable<Inet>, _>(&self.ip)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<SqlUuid, _>(&self.session)?;
        Ok(())
    }
}

impl QueryFragment<Pg> for NoteKeyUsed {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> diesel::QueryResult<()> {
        out.push_sql("UPDATE api_keys SET last_used_at = ");
        out.push_bind_param::<Timestamptz, _>(&self.at)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<SqlUuid, _>(&self.key)?;
        Ok(())
    }
}

impl QueryId for MarkRefreshTokenUsed {
    type QueryId = Self;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl QueryId for NoteSessionSeen {
    type QueryId = Self;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl QueryId for NoteKeyUsed {
    type QueryId = Self;
    const HAS_STATIC_QUERY_ID: bool = true;
}
