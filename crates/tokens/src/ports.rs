//! What the tokens domain needs from the outside world. Each store method is one unit of work.

use std::net::IpAddr;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use kernel::{AccountId, AuthEvent, Roles, SessionId, StoreError, UserId};
use uuid::Uuid;

use crate::api_key::ApiKey;
use crate::session::{LiveSession, NewSession, SessionKind, SessionSummary};

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
    /// Every key, newest first.
    async fn signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError>;

    /// Stores a key. MUST succeed without change when a key with the same `kid` already exists
    /// (two instances starting at once may both try).
    async fn add_signing_key(&self, key: &StoredSigningKey) -> Result<(), StoreError>;

    /// Appends an operator's act on the keys to the audit trail (an event of no account).
    async fn record_event(&self, event: &AuthEvent) -> Result<(), StoreError>;

    /// Stores a key an operator added, and `event` (the audit of it), in one unit of work.
    async fn add_rotated_signing_key(
        &self,
        key: &StoredSigningKey,
        event: &AuthEvent,
    ) -> Result<(), StoreError>;

    /// Stores `key` only if no unretired key with a private half exists yet, atomically with
    /// respect to other callers (two instances starting on an empty database agree on one
    /// key). Returns every key afterwards, newest first.
    async fn add_first_signing_key(
        &self,
        key: &StoredSigningKey,
    ) -> Result<Vec<StoredSigningKey>, StoreError>;
}

/// A session as the refresh path finds it, with what decides whether it may go on.
#[derive(Clone, Debug)]
pub struct SessionGrant {
    pub session_id: SessionId,
    pub account_id: AccountId,
    pub user_id: UserId,
    pub kind: SessionKind,
    pub scope: String,
    pub api_key_id: Option<Uuid>,
    /// Whether the session's API key (if any) still exists.
    pub api_key_live: bool,
    /// The owner's current roles.
    pub roles: Roles,
    /// When the session ends for good (rotation never moves it).
    pub expires_at: DateTime<Utc>,
}

/// A refresh-token rotation to carry out.
#[derive(Clone, Debug)]
pub struct RefreshRotation {
    pub presented: [u8; 32],
    pub successor: [u8; 32],
    pub now: DateTime<Utc>,
    /// The successor's own expiry; the store MUST cut it to the session's end.
    pub successor_expires_at: DateTime<Utc>,
    pub overlap: Duration,
    /// Where the refresh came from: the session's last-seen address.
    pub ip: Option<IpAddr>,
}

/// What presenting a refresh token came to.
#[derive(Clone, Debug)]
pub enum Rotation {
    /// The token was current: it is retired and `successor` now stands for the session.
    Rotated(SessionGrant),
    /// The token had already been used (outside the overlap window): the store has revoked
    /// the whole session.
    Reused {
        account_id: AccountId,
        user_id: UserId,
        session_id: SessionId,
    },
    /// Unknown, expired, or its session is revoked or expired.
    Invalid,
}

#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Stores a session, its first refresh token (if any) and `event`; for a key exchange,
    /// also notes the key's `last_used_at` (coalesced: at most one write a minute per key).
    async fn start_session(
        &self,
        session: &NewSession,
        event: &AuthEvent,
    ) -> Result<(), StoreError>;

    /// The session's kind and the user's current roles if the session is live: not revoked,
    /// not expired, its user still in `account`, and — for sessions from an API key — the key
    /// not deleted and its owner still a developer. `None` otherwise. Called on every
    /// authenticated request: implementations are expected to cache, and MUST see a
    /// revocation made by any instance within a second.
    async fn live_session(
        &self,
        account: AccountId,
        user: UserId,
        session: SessionId,
        now: DateTime<Utc>,
    ) -> Result<Option<LiveSession>, StoreError>;

    /// The user's live sessions (not revoked, not expired at `now`), newest first.
    async fn user_sessions(
        &self,
        account: AccountId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<SessionSummary>, StoreError>;

    /// Marks an MFA token as used. Returns `false` — and changes nothing — when it was used
    /// already (atomically: of two concurrent redemptions, one wins).
    async fn redeem_mfa_token(
        &self,
        account: AccountId,
        user: UserId,
        token_id: Uuid,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Retires the presented refresh token and stores its successor (which never outlives the
    /// session; the session's end does not move), atomically: of two concurrent uses, one
    /// rotates and the other is a reuse. A token used less than `overlap` ago rotates again
    /// instead of counting as reuse. On reuse the store revokes the session and tells every
    /// instance. A rotation notes the session as seen now, from `ip`.
    async fn rotate_refresh_token(
        &self,
        rotation: &RefreshRotation,
    ) -> Result<Rotation, StoreError>;

    /// Revokes a session (every token descending from it), with `event`, and tells every
    /// instance. Revoking a revoked session changes nothing.
    async fn revoke_session(
        &self,
        account: AccountId,
        session: SessionId,
        reason: &'static str,
        event: &AuthEvent,
    ) -> Result<(), StoreError>;

    /// Revokes `session` if it is a live session of `user` (not revoked, not expired at
    /// `event.at`), with `event`, and tells every instance. Returns whether it did.
    async fn revoke_user_session(
        &self,
        account: AccountId,
        user: UserId,
        session: SessionId,
        reason: &'static str,
        event: &AuthEvent,
    ) -> Result<bool, StoreError>;

    /// Revokes every live session of the user except `keep`, and tells every instance.
    async fn revoke_user_sessions(
        &self,
        account: AccountId,
        user: UserId,
        keep: Option<SessionId>,
        reason: &'static str,
    ) -> Result<(), StoreError>;

    /// Appends to the audit trail (in the event's account, or in none).
    async fn record_event(&self, event: &AuthEvent) -> Result<(), StoreError>;
}

/// A key's stored credentials, found by id on the anonymous exchange path.
#[derive(Clone, Debug)]
pub struct KeyCredentials {
    pub key: ApiKey,
    pub secret_digest: Vec<u8>,
    pub owner_roles: Roles,
}

#[derive(Clone, Debug)]
pub struct NewApiKey {
    pub key: ApiKey,
    pub secret_digest: [u8; 32],
}

#[async_trait]
pub trait ApiKeyStore: Send + Sync + 'static {
    /// Stores a key with `event`, only while its owner holds the developer role (checked in the
    /// same unit of work, so a key never outlives a demotion that committed first). MUST
    /// return `NotFound` — storing nothing — when the owner does not hold it.
    async fn create_api_key(&self, key: &NewApiKey, event: &AuthEvent) -> Result<(), StoreError>;

    /// The user's keys that are not deleted, newest first.
    async fn api_keys(&self, account: AccountId, user: UserId) -> Result<Vec<ApiKey>, StoreError>;

    /// Every key of the account that is not deleted, newest first.
    async fn account_api_keys(&self, account: AccountId) -> Result<Vec<ApiKey>, StoreError>;

    /// Deletes a key of the account — of `owner` only, when given — for `reason`, and revokes
    /// every session exchanged for it, telling every instance. MUST return `NotFound` when
    /// there is no such live key (another owner's, another account's, or already deleted).
    async fn delete_api_key(
        &self,
        account: AccountId,
        owner: Option<UserId>,
        key_id: Uuid,
        reason: &'static str,
        event: &AuthEvent,
    ) -> Result<(), StoreError>;

    /// Deletes every live key of the user for `reason` (for good: nothing brings them back)
    /// and revokes every session exchanged for them, telling every instance; records `event`
    /// when there was any. Returns how many keys it deleted.
    async fn delete_user_api_keys(
        &self,
        account: AccountId,
        user: UserId,
        reason: &'static str,
        event: &AuthEvent,
    ) -> Result<usize, StoreError>;

    /// The anonymous exchange path: a key that is not deleted, by id, across accounts.
    async fn key_credentials(&self, key_id: Uuid) -> Result<Option<KeyCredentials>, StoreError>;
}
