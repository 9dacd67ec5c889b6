//! What identity needs from the outside world, by area: accounts, workspaces, memberships,
//! the sign-in guard (the lockout's counters), MFA and the pending codes. A store method is
//! one unit of work (one transaction, run under the tenancy rules of security.md); where a use
//! case must read, decide and write atomically, the port opens a unit of work (`begin_*`)
//! whose methods are single reads and writes, the service applies its rule, then `commit()`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kernel::{
    AccountId, AuthEvent, EmailAddress, Roles, SealedEmail, StoreError, UserId, WorkspaceId,
};

pub use kernel::AuditLog;

use crate::models::{
    Account, AuditQuery, AuditRecord, CallerRecord, CodeKind, Credentials, Member, MfaRecord,
    NewAccount, NewCode, Page, PendingCode, SignInFailures, User, Workspace,
};

/// Accounts and their users: sign-up, credentials, profile, password, the proven address and
/// the account's audit trail.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// Stores a new account, its owner (with the `owner` role), its default workspace and the
    /// signup event, all or nothing. MUST return `Duplicate("users_email_key")` when the email
    /// is already taken by any user of any account.
    async fn create_account(&self, new: &NewAccount, event: &AuthEvent) -> Result<(), StoreError>;

    /// The anonymous sign-in path: the one user with this email, across accounts.
    async fn find_credentials(
        &self,
        email: &EmailAddress,
    ) -> Result<Option<Credentials>, StoreError>;

    /// The user and their account. MUST return `NotFound` for a user outside `account`.
    async fn profile(
        &self,
        account: AccountId,
        user: UserId,
    ) -> Result<(User, Account), StoreError>;

    /// Replaces the user's password hash, with `event`, in one unit of work.
    async fn set_password(
        &self,
        account: AccountId,
        user: UserId,
        password_hash: &str,
        event: &AuthEvent,
    ) -> Result<(), StoreError>;

    /// Whether the user has proven their address.
    async fn email_verified(&self, account: AccountId, user: UserId) -> Result<bool, StoreError>;

    /// Everything `GET /v1/me` says of the caller that the session does not carry: the user,
    /// their account, whether their address is proven and MFA on. Asked on every such request:
    /// an adapter MAY answer from a cache that every instance empties of a user as soon as
    /// their address is proven, their MFA changes or they are removed. MUST return `NotFound`
    /// for a user outside `account`.
    async fn caller(&self, account: AccountId, user: UserId) -> Result<CallerRecord, StoreError>;

    /// The account's audit trail, newest first.
    async fn audit_events(
        &self,
        account: AccountId,
        query: &AuditQuery,
    ) -> Result<Page<AuditRecord>, StoreError>;
}

/// An account's workspaces.
#[async_trait]
pub trait WorkspaceStore: Send + Sync + 'static {
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
}

/// Who belongs to an account, with which roles.
#[async_trait]
pub trait MembershipStore: Send + Sync + 'static {
    /// Every user of the account with their roles, oldest first.
    async fn members(&self, account: AccountId) -> Result<Vec<Member>, StoreError>;

    /// Replaces the user's account and workspace roles with exactly `roles`, and makes every
    /// instance forget what it cached about the user. MUST return `NotFound` for a user outside
    /// `account`, and `NotFound` as well when a workspace is not the account's.
    async fn set_roles(
        &self,
        account: AccountId,
        user: UserId,
        roles: &Roles,
    ) -> Result<Member, StoreError>;

    /// Deletes the user; their sessions, refresh tokens, API keys and roles go with them, and
    /// every instance forgets them at once. MUST return `NotFound` for a user outside `account`.
    async fn remove_user(&self, account: AccountId, user: UserId) -> Result<(), StoreError>;

    /// Stores a user without a password (with their roles), their invitation code, and the
    /// email carrying it (into the outbox), all or nothing. MUST return
    /// `Duplicate("users_email_key")` when the email is taken, `NotFound` when a workspace is
    /// not the account's.
    async fn create_invited_member(
        &self,
        member: &Member,
        invitation: &NewCode,
        email: &SealedEmail,
    ) -> Result<(), StoreError>;
}

/// One unit of work on a user's sign-in counters: its methods are single reads and writes,
/// the lockout rule is the service's. Nothing is kept unless [`SignInGuardTx::commit`] is
/// called; dropped, it rolls back.
#[async_trait]
pub trait SignInGuardTx: Send {
    /// The user's counters, held for this unit of work (a concurrent unit of work on the same
    /// user waits), so that failures counted on several instances all count. MUST return
    /// `NotFound` for a user outside the unit of work's account.
    async fn failures(&mut self) -> Result<SignInFailures, StoreError>;

    /// Stores the user's counters.
    async fn set_failures(&mut self, failures: &SignInFailures) -> Result<(), StoreError>;

    /// Appends `event` to the audit trail, with this unit of work.
    async fn record(&mut self, event: &AuthEvent) -> Result<(), StoreError>;

    /// Makes the unit of work's writes durable.
    async fn commit(self: Box<Self>) -> Result<(), StoreError>;
}

/// The lockout's counters, and what a sign-in checks besides the password.
#[async_trait]
pub trait SignInGuard: Send + Sync + 'static {
    /// Opens a unit of work on the user's sign-in counters.
    async fn begin_guard(
        &self,
        account: AccountId,
        user: UserId,
    ) -> Result<Box<dyn SignInGuardTx>, StoreError>;

    /// The countries the user has signed in from before.
    async fn countries_seen(
        &self,
        account: AccountId,
        user: UserId,
    ) -> Result<Vec<String>, StoreError>;

    /// Enqueues an email into the outbox on its own (a warning about a sign-in).
    async fn enqueue_email(
        &self,
        account: AccountId,
        email: &SealedEmail,
    ) -> Result<(), StoreError>;
}

/// One unit of work on a user's TOTP (and, as a second factor guards sign-in, on their sign-in
/// counters): single reads and writes; which code is accepted is the service's rule.
#[async_trait]
pub trait MfaTx: SignInGuardTx {
    /// The user's TOTP record, pending or enabled, held for this unit of work.
    async fn totp(&mut self) -> Result<Option<MfaRecord>, StoreError>;

    /// Stores a pending TOTP secret, replacing the user's record.
    async fn save_pending(&mut self, secret_sealed: &[u8]) -> Result<(), StoreError>;

    /// Marks the TOTP enabled at `at`.
    async fn enable(&mut self, at: DateTime<Utc>) -> Result<(), StoreError>;

    /// Notes `step` as the last TOTP step accepted.
    async fn set_last_used_step(&mut self, step: i64) -> Result<(), StoreError>;

    /// Replaces the user's recovery codes with these digests.
    async fn replace_recovery_codes(&mut self, digests: &[[u8; 32]]) -> Result<(), StoreError>;

    /// Whether the user has a recovery code with this digest, and whether it was used; held for
    /// this unit of work. `None`: no such code of theirs.
    async fn recovery_code_used(&mut self, digest: &[u8; 32]) -> Result<Option<bool>, StoreError>;

    /// Marks the user's recovery code with this digest used at `at`.
    async fn mark_recovery_code_used(
        &mut self,
        digest: &[u8; 32],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Removes the TOTP record and every recovery code of the user.
    async fn remove(&mut self) -> Result<(), StoreError>;
}

/// TOTP multi-factor authentication.
#[async_trait]
pub trait MfaStore: Send + Sync + 'static {
    /// The user's TOTP record, pending or enabled.
    async fn mfa(&self, account: AccountId, user: UserId) -> Result<Option<MfaRecord>, StoreError>;

    /// Opens a unit of work on the user's TOTP.
    async fn begin_mfa(
        &self,
        account: AccountId,
        user: UserId,
    ) -> Result<Box<dyn MfaTx>, StoreError>;
}

/// One unit of work redeeming a user's code of one kind: single reads and writes; whether
/// the code is accepted (matching, unexpired, used once) is the service's rule.
#[async_trait]
pub trait Redemption: SignInGuardTx {
    /// The user's code of this kind, held for this unit of work.
    async fn code(&mut self) -> Result<Option<PendingCode>, StoreError>;

    /// Marks the code used at `at` (a verification code is used up: it is gone).
    async fn mark_used(&mut self, at: DateTime<Utc>) -> Result<(), StoreError>;

    /// Sets the user's password hash.
    async fn set_password(
        &mut self,
        password_hash: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Marks the user's address verified at `at` (changing nothing when it already is), and
    /// drops an open verification code.
    async fn mark_email_verified(&mut self, at: DateTime<Utc>) -> Result<(), StoreError>;
}

/// The one-time codes sent by email (invitations, password resets, address verification):
/// one kind of pending code, one shape.
#[async_trait]
pub trait PendingCodes: Send + Sync + 'static {
    /// Stores `code` (replacing the user's open code of its kind), enqueues the email carrying
    /// it and records `event`, if any, in one unit of work.
    async fn issue(
        &self,
        code: &NewCode,
        email: &SealedEmail,
        event: Option<&AuthEvent>,
    ) -> Result<(), StoreError>;

    /// The anonymous path (an invitation, a reset): the code of `kind` of the user with this
    /// email, if any. A verification code is redeemed signed in, through
    /// [`PendingCodes::begin_redemption`]; for it this answers `None`.
    async fn find(
        &self,
        kind: CodeKind,
        email: &EmailAddress,
    ) -> Result<Option<PendingCode>, StoreError>;

    /// Opens a unit of work redeeming the user's code of `kind`.
    async fn begin_redemption(
        &self,
        kind: CodeKind,
        account: AccountId,
        user: UserId,
    ) -> Result<Box<dyn Redemption>, StoreError>;
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
