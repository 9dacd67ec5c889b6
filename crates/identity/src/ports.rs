//! What identity needs from the outside world. Each store method is one unit of work (one
//! transaction, run under the tenancy rules of security.md).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kernel::{
    AccountId, AuthEvent, EmailAddress, Roles, SealedEmail, StoreError, UserId, WorkspaceId,
};

use crate::models::{
    Account, AuditQuery, AuditRecord, Credentials, FailedSignin, Member, MfaRecord, NewAccount,
    NewInvitation, Page, PendingCode, User, Workspace,
};

#[async_trait]
pub trait IdentityStore: Send + Sync + 'static {
    /// Stores a new account, its owner (with the `owner` role), its default workspace and the
    /// signup event, all or nothing. MUST return `Duplicate("users_email_key")` when the email
    /// is already taken by any user of any account.
    async fn create_account(&self, new: &NewAccount, event: &AuthEvent) -> Result<(), StoreError>;

    /// The anonymous sign-in path: the one user with this email, across accounts.
    async fn find_credentials(
        &self,
        email: &EmailAddress,
    ) -> Result<Option<Credentials>, StoreError>;

    /// Appends to the audit trail (in the event's account, or in none).
    async fn record_event(&self, event: &AuthEvent) -> Result<(), StoreError>;

    /// Every user of the account with their roles, oldest first.
    async fn members(&self, account: AccountId) -> Result<Vec<Member>, StoreError>;

    /// Replaces the user's non-owner account roles and all their workspace roles, and makes
    /// every instance forget what it cached about the user. The `owner` role is left as it
    /// is. MUST return `NotFound` for a user outside `account`, and `NotFound` as well when a
    /// workspace is not the account's.
    async fn set_roles(
        &self,
        account: AccountId,
        user: UserId,
        roles: &Roles,
    ) -> Result<Member, StoreError>;

    /// Deletes the user; their sessions, refresh tokens, API keys and roles go with them, and
    /// every instance forgets them at once. MUST return `NotFound` for a user outside `account`.
    async fn remove_user(&self, account: AccountId, user: UserId) -> Result<(), StoreError>;

    /// The account's workspaces, oldest first.
    async fn workspaces(&self, account: AccountId) -> Result<Vec<Workspace>, StoreError>;

    /// MUST return `NotFound` for a workspace outside `account`.
    async fn workspace(&self, account: AccountId, id: WorkspaceId)
    -> Result<Workspace, StoreError>;

    async fn create_workspace(&self, workspace: &Workspace) -> Result<(), StoreError>;

    /// MUST return `NotFound` for a workspace outside `account`.
    async fn rename_workspace(
        &self,
        account: AccountId,
        id: WorkspaceId,
        name: &str,
    ) -> Result<Workspace, StoreError>;

    /// Deletes the workspace with everything in it. MUST return `NotFound` for a workspace
    /// outside `account`.
    async fn delete_workspace(&self, account: AccountId, id: WorkspaceId)
    -> Result<(), StoreError>;

    /// Stores a user without a password (with their roles), their invitation, and the email
    /// carrying its code (into the outbox), all or nothing. MUST return
    /// `Duplicate("users_email_key")` when the email is taken, `NotFound` when a workspace is
    /// not the account's.
    async fn create_invited_user(
        &self,
        member: &Member,
        invitation: &NewInvitation,
        email: &SealedEmail,
    ) -> Result<(), StoreError>;

    /// The anonymous accept path: the invitation of the user with this email, if any.
    async fn invitation(&self, email: &EmailAddress) -> Result<Option<PendingCode>, StoreError>;

    /// Sets the invited user's password and marks the invitation accepted — only if it was
    /// not accepted yet. Returns whether it was (false: someone accepted it first).
    async fn accept_invitation(
        &self,
        account: AccountId,
        user: UserId,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Counts a failed sign-in; at `max_attempts` consecutive failures the account is locked
    /// until `now + lockout` (and the count starts again). Atomic across instances.
    async fn record_failed_signin(
        &self,
        account: AccountId,
        user: UserId,
        now: DateTime<Utc>,
        max_attempts: i32,
        lockout: chrono::Duration,
    ) -> Result<FailedSignin, StoreError>;

    /// Clears the failed-sign-in count and any lock, after a successful sign-in.
    async fn clear_failed_signins(
        &self,
        account: AccountId,
        user: UserId,
    ) -> Result<(), StoreError>;

    /// Replaces the user's password hash.
    async fn set_password(
        &self,
        account: AccountId,
        user: UserId,
        password_hash: &str,
        event: &AuthEvent,
    ) -> Result<(), StoreError>;

    /// The account's audit trail, newest first.
    async fn audit_events(
        &self,
        account: AccountId,
        query: &AuditQuery,
    ) -> Result<Page<AuditRecord>, StoreError>;

    /// Stores (replacing any earlier one) the user's reset code digest, and enqueues the email
    /// carrying the code, in one transaction.
    async fn create_password_reset(
        &self,
        user: &User,
        code_digest: &[u8; 32],
        expires_at: DateTime<Utc>,
        email: &SealedEmail,
        event: &AuthEvent,
    ) -> Result<(), StoreError>;

    /// The anonymous confirm path: the open reset of the user with this email, if any.
    async fn password_reset(&self, email: &EmailAddress)
    -> Result<Option<PendingCode>, StoreError>;

    /// Sets the new password and marks the reset used — only if it was not used yet — and
    /// clears any sign-in lock. Returns whether it did.
    async fn complete_password_reset(
        &self,
        account: AccountId,
        user: UserId,
        password_hash: &str,
        event: &AuthEvent,
    ) -> Result<bool, StoreError>;

    /// The user's TOTP record, pending or enabled.
    async fn mfa(&self, account: AccountId, user: UserId) -> Result<Option<MfaRecord>, StoreError>;

    /// Stores a new pending TOTP secret (replacing a pending one). MUST return
    /// `Duplicate("mfa_enabled")` when TOTP is already enabled.
    async fn save_pending_totp(
        &self,
        account: AccountId,
        user: UserId,
        secret_sealed: &[u8],
    ) -> Result<(), StoreError>;

    /// Enables the pending TOTP, noting `step` as used, and stores the recovery codes' digests.
    async fn enable_totp(
        &self,
        account: AccountId,
        user: UserId,
        step: i64,
        recovery_digests: &[[u8; 32]],
        event: &AuthEvent,
    ) -> Result<(), StoreError>;

    /// Removes TOTP and the recovery codes.
    async fn disable_totp(
        &self,
        account: AccountId,
        user: UserId,
        event: &AuthEvent,
    ) -> Result<(), StoreError>;

    /// Accepts TOTP `step` if it is later than the last accepted one (atomically: a code is
    /// accepted once, whichever instance sees it). Returns whether it was.
    async fn use_totp_step(
        &self,
        account: AccountId,
        user: UserId,
        step: i64,
    ) -> Result<bool, StoreError>;

    /// Marks an unused recovery code of the user used. Returns whether there was one.
    async fn use_recovery_code(
        &self,
        account: AccountId,
        user: UserId,
        digest: &[u8; 32],
    ) -> Result<bool, StoreError>;

    /// Counts a failed MFA validation; like failed sign-ins, `max_attempts` in a row lock the
    /// account until `now + lockout`.
    async fn record_failed_validation(
        &self,
        account: AccountId,
        user: UserId,
        now: DateTime<Utc>,
        max_attempts: i32,
        lockout: chrono::Duration,
    ) -> Result<FailedSignin, StoreError>;

    /// The countries the user has signed in from before.
    async fn countries_seen(
        &self,
        account: AccountId,
        user: UserId,
    ) -> Result<Vec<String>, StoreError>;

    /// Enqueues an email into the outbox on its own.
    async fn enqueue_email(
        &self,
        account: AccountId,
        email: &SealedEmail,
    ) -> Result<(), StoreError>;

    /// The user and their account. MUST return `NotFound` for a user outside `account`.
    async fn profile(
        &self,
        account: AccountId,
        user: UserId,
    ) -> Result<(User, Account), StoreError>;
}

/// Proving email addresses: the codes sent at sign-up, and who has proven theirs.
#[async_trait]
pub trait EmailVerificationStore: Send + Sync + 'static {
    /// Stores (replacing any earlier one) the user's verification code digest and enqueues
    /// the email carrying the code, in one unit of work.
    async fn start_email_verification(
        &self,
        user: &User,
        code_digest: &[u8; 32],
        expires_at: DateTime<Utc>,
        email: &SealedEmail,
    ) -> Result<(), StoreError>;

    /// Marks the user's address verified at `now` if `code_digest` is their open, unexpired
    /// code, using the code up — atomically. Returns whether it did.
    async fn verify_email(
        &self,
        account: AccountId,
        user: UserId,
        code_digest: &[u8; 32],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Marks the address verified without a code (an invitation accepted or a reset confirmed
    /// proves it); drops any open code. Changes nothing when it already is.
    async fn mark_email_verified(
        &self,
        account: AccountId,
        user: UserId,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Whether the user has proven their address.
    async fn email_verified(&self, account: AccountId, user: UserId) -> Result<bool, StoreError>;
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Too many new passwords wait to be hashed: try again shortly (a flood, not a fault).
    #[error("password hashing is busy")]
    Busy,
    #[error("password hashing failed: {0}")]
    Failed(String),
}

/// Slow, salted password hashing. Implementations run off the async reactor.
#[async_trait]
pub trait PasswordHasher: Send + Sync + 'static {
    async fn hash(&self, password: &str) -> Result<String, HashError>;

    /// Whether `candidate` matches `hash`; a malformed hash is `Ok(false)`.
    async fn verify(&self, candidate: &str, hash: &str) -> Result<bool, HashError>;
}

/// Where an IP address is, as far as a GeoIP database knows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Location {
    /// ISO 3166-1 alpha-2 code.
    pub country: Option<String>,
    pub city: Option<String>,
}

/// IP geolocation. Lookups are local (a database file in memory), so not async; without a
/// database every address is an unknown location.
pub trait GeoLocator: Send + Sync + 'static {
    fn locate(&self, ip: std::net::IpAddr) -> Location;
}
