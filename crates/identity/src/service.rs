//! Identity's use cases.

use std::sync::{Arc, OnceLock};

use kernel::{
    AccountId, AccountRole, Actor, AuditLog, AuthEvent, AuthEventKind, Capability, Clock,
    EmailAddress, Permission, RateLimit, RateLimiter, Roles, SealingKey, UserId, Verdict,
    WorkspaceId,
};
use tokens::TokenService;

use crate::error::{FieldError, IdentityError};
use crate::models::{
    Account, AuditQuery, AuditRecord, NewAccount, Page, Password, Profile, SignupInput,
    SignupOutcome, User, Workspace, parse_name,
};
use crate::ports::{
    AccountStore, GeoLocator, MembershipStore, MfaStore, PasswordHasher, PendingCodes, SignInGuard,
    WorkspaceStore,
};

const DEFAULT_WORKSPACE_NAME: &str = "Default";

/// Lifetimes of identity's codes.
#[derive(Clone, Debug)]
pub struct IdentityPolicy {
    pub invitation_ttl: chrono::Duration,
    /// Sign-in attempts per client IP, across every instance.
    pub signin_per_ip: RateLimit,
    /// Reset requests per email address, across every instance.
    pub reset_per_email: RateLimit,
    /// How long a password-reset code stays valid.
    pub reset_ttl: chrono::Duration,
    /// MFA code attempts per user, across every instance.
    pub mfa_per_user: RateLimit,
    /// Consecutive failed sign-ins (or MFA codes) that lock an account ...
    pub max_failed_signins: i32,
    /// ... for this long.
    pub lockout: chrono::Duration,
    /// Sign-ups per client address, across every instance.
    pub signup_per_ip: RateLimit,
    /// Invitations per account, across every instance.
    pub invitations_per_account: RateLimit,
    /// Verification emails a user may ask for again, across every instance.
    pub verification_per_user: RateLimit,
    /// IPv6 clients are counted per network of this many bits (see [`kernel::address_bucket`]).
    pub ipv6_prefix: u8,
    /// How long an email verification code stays valid.
    pub verification_ttl: chrono::Duration,
}

impl Default for IdentityPolicy {
    fn default() -> Self {
        Self {
            invitation_ttl: chrono::Duration::days(7),
            signin_per_ip: RateLimit::per_minute(5),
            mfa_per_user: RateLimit::per_minute(3),
            reset_per_email: RateLimit {
                limit: 1,
                window: chrono::Duration::minutes(15),
            },
            reset_ttl: chrono::Duration::minutes(15),
            max_failed_signins: 5,
            lockout: chrono::Duration::minutes(15),
            signup_per_ip: RateLimit {
                limit: 10,
                window: chrono::Duration::hours(1),
            },
            invitations_per_account: RateLimit {
                limit: 50,
                window: chrono::Duration::hours(1),
            },
            verification_per_user: RateLimit {
                limit: 5,
                window: chrono::Duration::hours(1),
            },
            ipv6_prefix: 64,
            verification_ttl: chrono::Duration::days(2),
        }
    }
}

/// identity's stores, by area, and the audit trail for events that are their own unit of work.
#[derive(Clone)]
pub struct IdentityStores {
    pub accounts: Arc<dyn AccountStore>,
    pub workspaces: Arc<dyn WorkspaceStore>,
    pub memberships: Arc<dyn MembershipStore>,
    pub guard: Arc<dyn SignInGuard>,
    pub mfa: Arc<dyn MfaStore>,
    pub codes: Arc<dyn PendingCodes>,
    pub audit: Arc<dyn AuditLog>,
}

impl IdentityStores {
    /// Every area's store from one adapter that implements them all.
    pub fn from_one<S>(store: &Arc<S>, audit: Arc<dyn AuditLog>) -> Self
    where
        S: AccountStore + WorkspaceStore + MembershipStore + SignInGuard + MfaStore + PendingCodes,
    {
        Self {
            accounts: store.clone(),
            workspaces: store.clone(),
            memberships: store.clone(),
            guard: store.clone(),
            mfa: store.clone(),
            codes: store.clone(),
            audit,
        }
    }
}

/// The adapters identity's services run on.
pub struct IdentityDeps {
    pub stores: IdentityStores,
    pub hasher: Arc<dyn PasswordHasher>,
    pub tokens: Arc<TokenService>,
    pub limiter: Arc<dyn RateLimiter>,
    /// Seals TOTP secrets at rest.
    pub secrets: Arc<SealingKey>,
    pub geo: Arc<dyn GeoLocator>,
    pub clock: Arc<dyn Clock>,
}

pub struct IdentityService {
    stores: IdentityStores,
    hasher: Arc<dyn PasswordHasher>,
    tokens: Arc<TokenService>,
    limiter: Arc<dyn RateLimiter>,
    /// Seals TOTP secrets at rest.
    secrets: Arc<SealingKey>,
    geo: Arc<dyn GeoLocator>,
    clock: Arc<dyn Clock>,
    /// A hash to verify against when the email is unknown, so that both failures take as long.
    pub(crate) decoy_hash: OnceLock<String>,
    policy: IdentityPolicy,
}

impl IdentityService {
    pub fn new(deps: IdentityDeps, policy: IdentityPolicy) -> Self {
        Self {
            stores: deps.stores,
            hasher: deps.hasher,
            tokens: deps.tokens,
            limiter: deps.limiter,
            secrets: deps.secrets,
            geo: deps.geo,
            clock: deps.clock,
            decoy_hash: OnceLock::new(),
            policy,
        }
    }

    /// Creates an account, its first user (who owns it) and a default workspace.
    /// Limited per client address (`signup_per_ip`): every sign-up costs a bcrypt hash.
    #[tracing::instrument(skip_all)]
    pub async fn signup(&self, input: SignupInput) -> Result<SignupOutcome, IdentityError> {
        if let Some(ip) = input.ip {
            let bucket = format!(
                "signup:ip:{}",
                kernel::address_bucket(ip, self.policy.ipv6_prefix)
            );
            self.limit(&bucket, self.policy.signup_per_ip).await?;
        }
        self.create_account(input, false).await
    }

    /// [`IdentityService::signup`], audited as the user's own or (`by_operator`) an operator's.
    pub(crate) async fn create_account(
        &self,
        input: SignupInput,
        by_operator: bool,
    ) -> Result<SignupOutcome, IdentityError> {
        let mut errors = Vec::new();
        let email = EmailAddress::parse(&input.email)
            .map_err(|e| errors.push(field("email", e.to_string())))
            .ok();
        let password = Password::parse(input.password)
            .map_err(|e| errors.push(field("password", e)))
            .ok();
        let full_name = parse_name("full_name", &input.full_name, &mut errors);
        let account_name = parse_name("account_name", &input.account_name, &mut errors);
        let (Some(email), Some(password), Some(full_name), Some(account_name)) =
            (email, password, full_name, account_name)
        else {
            return Err(IdentityError::Validation(errors));
        };
        strong_password("password", &password, &email)?;

        let password_hash = self
            .hasher
            .hash(password.expose())
            .await
            .map_err(IdentityError::from)?;
        let now = self.clock.now();
        let account = Account {
            id: AccountId::generate(),
            name: account_name,
            created_at: now,
        };
        let owner = User {
            id: UserId::generate(),
            account_id: account.id,
            email,
            full_name,
            created_at: now,
        };
        let workspace = Workspace {
            id: WorkspaceId::generate(),
            account_id: account.id,
            name: DEFAULT_WORKSPACE_NAME.to_owned(),
            created_at: now,
        };
        let mut event = AuthEvent::new(
            AuthEventKind::Signup,
            now,
            Some((account.id, owner.id)),
            true,
        );
        if by_operator {
            event = event.by_operator();
        }
        let new = NewAccount {
            account,
            owner,
            password_hash,
            workspace,
        };
        match self.accounts().create_account(&new, &event).await {
            Ok(()) => {}
            Err(kernel::StoreError::Duplicate(_)) => return Err(IdentityError::EmailTaken),
            Err(other) => return Err(other.into()),
        }
        self.send_verification(&new.owner).await?;
        Ok(SignupOutcome {
            user: new.owner,
            account: new.account,
            workspace: new.workspace,
        })
    }

    /// Changes the caller's password (a person's session only); every other session of
    /// theirs is revoked. The current password is a fresh proof: limited per user, and a
    /// wrong one counts toward the lockout like a failed sign-in.
    #[tracing::instrument(skip_all, fields(user_id = %actor.user_id))]
    pub async fn change_password(
        &self,
        actor: &Actor,
        current: &str,
        new: String,
        ip: Option<std::net::IpAddr>,
    ) -> Result<(), IdentityError> {
        actor.require(Capability::OwnCredentials)?;
        let new = Password::parse(new)
            .map_err(|e| IdentityError::Validation(vec![field("new_password", e)]))?;
        let credentials = self.admit_proof(actor).await?;
        strong_password("new_password", &new, &credentials.user.email)?;
        let stored = credentials.password_hash.ok_or(IdentityError::NotFound)?;
        if !self.password_matches(current, &stored).await? {
            self.proof_failed(
                actor,
                crate::sign_in_guard::Failure::Password,
                AuthEventKind::PasswordChangeFailed,
                ip,
            )
            .await?;
            return Err(IdentityError::Validation(vec![field(
                "current_password",
                "is not your current password".into(),
            )]));
        }
        let hash = self
            .hasher
            .hash(new.expose())
            .await
            .map_err(IdentityError::from)?;
        let event = AuthEvent::new(
            AuthEventKind::PasswordChanged,
            self.clock.now(),
            Some((actor.account_id, actor.user_id)),
            true,
        )
        .from_ip(ip);
        self.accounts()
            .set_password(actor.account_id, actor.user_id, &hash, &event)
            .await?;
        self.tokens
            .revoke_other_sessions(actor, "password changed")
            .await?;
        Ok(())
    }

    /// The account's audit trail (`audit:read`), newest first.
    #[tracing::instrument(skip_all, fields(account_id = %actor.account_id))]
    pub async fn audit_events(
        &self,
        actor: &Actor,
        query: AuditQuery,
    ) -> Result<Page<AuditRecord>, IdentityError> {
        require_administration(actor, Permission::AuditRead)?;
        if let Some(event) = query
            .event
            .as_deref()
            .filter(|e| AuthEventKind::parse(e).is_none())
        {
            return Err(IdentityError::Validation(vec![field(
                "event",
                format!("unknown event `{event}`"),
            )]));
        }
        Ok(self
            .accounts()
            .audit_events(actor.account_id, &query)
            .await?)
    }

    /// Who the actor is, with their roles and effective permissions.
    #[tracing::instrument(skip_all, fields(user_id = %actor.user_id))]
    pub async fn profile(&self, actor: &Actor) -> Result<Profile, IdentityError> {
        actor.require(Capability::WorkspaceContent)?;
        let caller = self
            .accounts()
            .caller(actor.account_id, actor.user_id)
            .await?;
        Ok(Profile {
            user: caller.user,
            account: caller.account,
            roles: Roles {
                account: actor.account_roles.clone(),
                workspaces: actor.workspace_roles.clone(),
            },
            permissions: actor.account_permissions(),
            email_verified: caller.email_verified,
            mfa_enabled: caller.mfa_enabled,
        })
    }

    pub(crate) fn secrets(&self) -> &SealingKey {
        &self.secrets
    }

    /// An email for the outbox: its body (which may carry a code) sealed at rest.
    pub(crate) fn seal_email(
        &self,
        email: &kernel::OutgoingEmail,
    ) -> Result<kernel::SealedEmail, IdentityError> {
        email
            .seal(&self.secrets)
            .map_err(|e| IdentityError::Internal(format!("sealing an email: {e}")))
    }

    pub(crate) fn accounts(&self) -> &dyn AccountStore {
        self.stores.accounts.as_ref()
    }

    pub(crate) fn workspace_store(&self) -> &dyn WorkspaceStore {
        self.stores.workspaces.as_ref()
    }

    pub(crate) fn memberships(&self) -> &dyn MembershipStore {
        self.stores.memberships.as_ref()
    }

    pub(crate) fn guard(&self) -> &dyn SignInGuard {
        self.stores.guard.as_ref()
    }

    pub(crate) fn mfa_store(&self) -> &dyn MfaStore {
        self.stores.mfa.as_ref()
    }

    pub(crate) fn codes(&self) -> &dyn PendingCodes {
        self.stores.codes.as_ref()
    }

    /// Records an event that is its own unit of work.
    pub(crate) async fn audit(&self, event: &AuthEvent) -> Result<(), IdentityError> {
        Ok(self.stores.audit.record(event).await?)
    }

    pub(crate) fn geo(&self) -> &dyn GeoLocator {
        self.geo.as_ref()
    }

    /// Counts one hit of `bucket` against `limit` (across every instance); over it, the
    /// caller is told when to come back.
    pub(crate) async fn limit(&self, bucket: &str, limit: RateLimit) -> Result<(), IdentityError> {
        match self.limiter.hit(bucket, limit, self.clock.now()).await? {
            Verdict::Allowed => Ok(()),
            Verdict::Limited { retry_after_secs } => {
                Err(IdentityError::RateLimited { retry_after_secs })
            }
        }
    }

    pub(crate) fn token_service(&self) -> &TokenService {
        &self.tokens
    }

    pub(crate) fn hasher(&self) -> &dyn PasswordHasher {
        self.hasher.as_ref()
    }

    pub(crate) fn policy(&self) -> &IdentityPolicy {
        &self.policy
    }

    pub(crate) fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }
}

/// Account administration (users, roles, workspaces, the audit trail): a credential kind that
/// may administer at all, holding `permission`.
pub(crate) fn require_administration(
    actor: &Actor,
    permission: Permission,
) -> Result<(), IdentityError> {
    actor.require(Capability::AccountAdministration)?;
    if actor.can(permission) {
        Ok(())
    } else {
        Err(IdentityError::Forbidden(
            "you do not have the permission this needs",
        ))
    }
}

/// Whether `actor` may hand out (or take away) `roles`: a person administers by their own
/// roles; any other credential (an integration's key) never reaches a user whose roles would
/// grant more than the credential itself may do — so a key scoped `users:manage` cannot mint
/// an admin or a developer, nor demote or remove one.
pub(crate) fn within_reach(actor: &Actor, roles: &Roles) -> Result<(), IdentityError> {
    if actor.credential == kernel::CredentialKind::HumanSession {
        return Ok(());
    }
    let account_ok = roles
        .account_permissions()
        .is_subset_of(actor.account_permissions());
    let workspaces_ok = roles.workspaces.iter().all(|(ws, role)| {
        role.permissions()
            .is_subset_of(actor.workspace_permissions(*ws))
    });
    let developer = roles.account.contains(&AccountRole::Developer);
    if account_ok && workspaces_ok && !developer {
        Ok(())
    } else {
        Err(IdentityError::Forbidden(
            "an integration cannot grant, change or remove roles beyond its own scopes",
        ))
    }
}

/// Refuses a password that is common or built on `email` (docs/security.md, "Passwords").
pub(crate) fn strong_password(
    field_name: &'static str,
    password: &Password,
    email: &EmailAddress,
) -> Result<(), IdentityError> {
    match crate::password_policy::weakness(password.expose(), email) {
        Some(weakness) => Err(IdentityError::WeakPassword(field(
            field_name,
            weakness.message().to_owned(),
        ))),
        None => Ok(()),
    }
}

pub(crate) fn field(name: &'static str, message: String) -> FieldError {
    FieldError::new(name, message)
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
