//! What the tokens domain needs from the outside world: signing keys, and a transaction-typed
//! store of sessions, refresh tokens and API keys.

use std::net::IpAddr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kernel::{AccountId, AuthEvent, Roles, SessionId, StoreError, UserId};
use uuid::Uuid;

use crate::api_key::ApiKey;
use crate::session::{NewSession, SessionKind, SessionSummary};

/// A signing key as persisted: public half in clear, private half sealed under the master key
/// (or absent when the key is held outside the store).
#[derive(Clone, Debug)]
pub struct StoredSigningKey {
    pub kid: String,
    pub public_key: [u8; 32],
    pub private_key_sealed: Option<Vec<u8>>,
    pub created_at: DateTime<Utc>,
    /// From when the key signs; before, it only verifies (so that every instance knows it
    /// before any signs with it).
    pub activates_at: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait SigningKeyStore: Send + Sync + 'static {
    /// Opens a unit of work on the (global) signing keys. With [`KeysAccess::Exclusive`] no
    /// other exclusive unit runs until this one ends, on any instance: two instances starting
    /// on an empty database agree on one key.
    async fn begin(&self, access: KeysAccess) -> Result<Box<dyn SigningKeyTx>, StoreError>;
}

/// Whether a unit of work on the signing keys excludes the other exclusive ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeysAccess {
    Shared,
    Exclusive,
}

/// One unit of work on the signing keys; nothing of it is kept unless it commits.
#[async_trait]
pub trait SigningKeyTx: Send {
    /// Every key, newest first.
    async fn keys(&mut self) -> Result<Vec<StoredSigningKey>, StoreError>;

    /// Stores a key, and has every instance reload its keys once this commits. MUST succeed
    /// without change when a key with the same `kid` already exists.
    async fn add(&mut self, key: &StoredSigningKey) -> Result<(), StoreError>;

    /// Appends an operator's act on the keys to the audit trail (an event of no account).
    async fn record(&mut self, event: &AuthEvent) -> Result<(), StoreError>;

    async fn commit(self: Box<Self>) -> Result<(), StoreError>;
}

/// Which rows a unit of work starts out seeing (security.md, "Tenancy").
#[derive(Clone, Copy, Debug)]
pub enum Access<'a> {
    /// An account's rows, as one of its users when `user` is given.
    Tenant {
        account: AccountId,
        user: Option<UserId>,
    },
    /// The anonymous exchange path: only the API key with this id (and events of no account),
    /// until [`TokenTx::become_tenant`].
    ApiKey(Uuid),
    /// The anonymous refresh path: only the refresh token with this digest (and events of no
    /// account), until [`TokenTx::become_tenant`].
    RefreshToken(&'a [u8; 32]),
}

/// A session row as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSession {
    pub id: SessionId,
    pub account_id: AccountId,
    pub user_id: UserId,
    pub kind: SessionKind,
    pub scope: String,
    pub api_key_id: Option<Uuid>,
    /// When the session ends for good.
    pub expires_at: DateTime<Utc>,
    pub revoked: bool,
    /// When and from where it was last seen (its start, until a refresh notes otherwise).
    pub last_seen_at: DateTime<Utc>,
    pub last_seen_ip: Option<IpAddr>,
}

/// What decides, on every authenticated request, whether a session is live: read together in
/// one go, cached per instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionStanding {
    pub kind: SessionKind,
    pub revoked: bool,
    pub expires_at: DateTime<Utc>,
    /// For a session exchanged for an API key: whether the key still exists (not deleted).
    pub api_key_live: Option<bool>,
    /// The user's roles right now.
    pub roles: Roles,
}

/// A refresh token row as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRefreshToken {
    pub session_id: SessionId,
    pub account_id: AccountId,
    pub expires_at: DateTime<Utc>,
    /// When it was first presented (it is retired from then on).
    pub used_at: Option<DateTime<Utc>>,
}

/// A refresh token to store: only its digest is kept.
#[derive(Clone, Debug)]
pub struct NewRefreshToken {
    pub digest: [u8; 32],
    pub account_id: AccountId,
    pub session_id: SessionId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// An API key as stored, with the digest of its secret.
#[derive(Clone, Debug)]
pub struct StoredApiKey {
    pub key: ApiKey,
    pub secret_digest: Vec<u8>,
    /// Deleted keys are kept (for the audit trail's sake) but never work again.
    pub deleted: bool,
}

#[derive(Clone, Debug)]
pub struct NewApiKey {
    pub key: ApiKey,
    pub secret_digest: [u8; 32],
}

/// Where sessions, refresh tokens and API keys are kept. A use case opens one unit of work with
/// [`TokenStore::begin`], reads and writes through it — single statements that decide nothing —
/// and commits; the rules (reuse detection and its overlap window, who may revoke what, when a
/// key's last use is noted, which event goes with which change) are [`crate::TokenService`]'s.
#[async_trait]
pub trait TokenStore: Send + Sync + 'static {
    /// Opens a unit of work seeing what `access` allows. Nothing it wrote is kept unless it is
    /// committed; dropped, it rolls back.
    async fn begin(&self, access: Access<'_>) -> Result<Box<dyn TokenTx>, StoreError>;

    /// The standing of `session` if it is a session of `user` in `account` (`None`
    /// otherwise), for the check of every authenticated request. Implementations are expected
    /// to cache it, and MUST stop serving a cached standing within a second of any instance
    /// committing a revocation of the session, a deletion of its key or a change of the
    /// user's roles.
    async fn session_standing(
        &self,
        account: AccountId,
        user: UserId,
        session: SessionId,
    ) -> Result<Option<SessionStanding>, StoreError>;
}

/// One unit of work on the token tables: each method is one read or one write.
#[async_trait]
pub trait TokenTx: Send {
    /// Continues as a tenant of `account` (the anonymous lookup ends here).
    async fn become_tenant(
        &mut self,
        account: AccountId,
        user: Option<UserId>,
    ) -> Result<(), StoreError>;

    async fn insert_session(&mut self, session: &NewSession) -> Result<(), StoreError>;

    /// [`TokenTx::lock_session`], then — once the lock is held, so as of then —
    /// [`TokenTx::refresh_token`]: what a rotation decides on. An adapter may send the two
    /// reads together.
    async fn lock_session_then_token(
        &mut self,
        session: SessionId,
        digest: &[u8; 32],
    ) -> Result<(Option<StoredSession>, Option<StoredRefreshToken>), StoreError> {
        let locked = self.lock_session(session).await?;
        let token = self.refresh_token(digest).await?;
        Ok((locked, token))
    }

    /// The session, locked until the unit of work ends: of two units of work deciding on one
    /// session, the second waits for the first and then sees what it did.
    async fn lock_session(
        &mut self,
        session: SessionId,
    ) -> Result<Option<StoredSession>, StoreError>;

    /// Notes the session's latest use: when and from where.
    async fn note_session_seen(
        &mut self,
        session: SessionId,
        at: DateTime<Utc>,
        ip: Option<IpAddr>,
    ) -> Result<(), StoreError>;

    /// Marks the session revoked at `at` unless it already is; returns whether it did. Every
    /// instance hears of it once the unit of work commits.
    async fn revoke_session(
        &mut self,
        session: SessionId,
        reason: &'static str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Marks every unrevoked session of `user` but `keep` revoked; returns those it revoked
    /// (every instance hears of them once the unit of work commits).
    async fn revoke_user_sessions(
        &mut self,
        user: UserId,
        keep: Option<SessionId>,
        reason: &'static str,
        at: DateTime<Utc>,
    ) -> Result<Vec<SessionId>, StoreError>;

    /// Marks every unrevoked session exchanged for one of `keys` revoked; returns those it
    /// revoked (every instance hears of them once the unit of work commits).
    async fn revoke_key_sessions(
        &mut self,
        keys: &[Uuid],
        reason: &'static str,
        at: DateTime<Utc>,
    ) -> Result<Vec<SessionId>, StoreError>;

    /// The user's sessions that are neither revoked nor ended at `now`, newest first, at most
    /// `limit` of them.
    async fn live_sessions(
        &mut self,
        user: UserId,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<SessionSummary>, StoreError>;

    async fn insert_refresh_token(&mut self, token: &NewRefreshToken) -> Result<(), StoreError>;

    async fn refresh_token(
        &mut self,
        digest: &[u8; 32],
    ) -> Result<Option<StoredRefreshToken>, StoreError>;

    async fn mark_refresh_token_used(
        &mut self,
        digest: &[u8; 32],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Stores an MFA token's id as redeemed. Returns `false` — and changes nothing — when it
    /// is stored already (of two concurrent redemptions, exactly one returns `true`).
    async fn insert_redeemed_mfa_token(
        &mut self,
        account: AccountId,
        user: UserId,
        token_id: Uuid,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// A key by id, deleted or not (within what the unit of work sees).
    async fn api_key(&mut self, key_id: Uuid) -> Result<Option<StoredApiKey>, StoreError>;

    /// The keys that are not deleted — of `owner` only, when given — newest first.
    async fn live_api_keys(&mut self, owner: Option<UserId>) -> Result<Vec<ApiKey>, StoreError>;

    async fn insert_api_key(&mut self, key: &NewApiKey) -> Result<(), StoreError>;

    async fn set_api_key_last_used(
        &mut self,
        key_id: Uuid,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Marks the key deleted for `reason` unless it already is; returns whether it did.
    async fn delete_api_key(
        &mut self,
        key_id: Uuid,
        reason: &'static str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Marks every key of `user` that is not deleted yet deleted; returns their ids.
    async fn delete_user_api_keys(
        &mut self,
        user: UserId,
        reason: &'static str,
        at: DateTime<Utc>,
    ) -> Result<Vec<Uuid>, StoreError>;

    /// The user's current roles.
    async fn roles(&mut self, user: UserId) -> Result<Roles, StoreError>;

    /// The user's current roles, held until the unit of work ends: a concurrent change of the
    /// user's account roles waits for it.
    async fn lock_roles(&mut self, user: UserId) -> Result<Roles, StoreError>;

    /// Appends to the audit trail (in the event's account, or in none).
    async fn record_event(&mut self, event: &AuthEvent) -> Result<(), StoreError>;

    /// Keeps everything the unit of work wrote, atomically.
    async fn commit(self: Box<Self>) -> Result<(), StoreError>;
}
