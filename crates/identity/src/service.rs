//! Identity's use cases.

use std::sync::{Arc, OnceLock};

use kernel::{
    AccountId, AccountRole, Actor, AuthEvent, AuthEventKind, Capability, Clock, EmailAddress,
    Permission, PermissionSet, RateLimit, RateLimiter, Roles, SealingKey, UserId, Verdict,
    WorkspaceId, WorkspaceRole,
};
use tokens::{SessionKind, TokenService};

use crate::error::{FieldError, IdentityError};
use crate::models::{
    Account, AuditQuery, AuditRecord, Credentials, LoginInput, LoginOutcome, LoginStep, Member,
    NewAccount, Page, Password, Profile, RoleAssignment, SignupInput, SignupOutcome, User,
    Workspace, parse_name,
};
use crate::ports::{EmailVerificationStore, GeoLocator, IdentityStore, Location, PasswordHasher};

const DEFAULT_WORKSPACE_NAME: &str = "Default";
/// Longest password a login attempt is hashed for; longer ones cannot match a stored hash.
const MAX_LOGIN_PASSWORD_BYTES: usize = 1024;

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

/// The adapters identity's services run on.
pub struct IdentityDeps {
    pub store: Arc<dyn IdentityStore>,
    pub verifications: Arc<dyn EmailVerificationStore>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub tokens: Arc<TokenService>,
    pub limiter: Arc<dyn RateLimiter>,
    /// Seals TOTP secrets at rest.
    pub secrets: Arc<SealingKey>,
    pub geo: Arc<dyn GeoLocator>,
    pub clock: Arc<dyn Clock>,
}

pub struct IdentityService {
    store: Arc<dyn IdentityStore>,
    verifications: Arc<dyn EmailVerificationStore>,
    hasher: Arc<dyn PasswordHasher>,
    tokens: Arc<TokenService>,
    limiter: Arc<dyn RateLimiter>,
    /// Seals TOTP secrets at rest.
    secrets: Arc<SealingKey>,
    geo: Arc<dyn GeoLocator>,
    clock: Arc<dyn Clock>,
    /// A hash to verify against when the email is unknown, so that both failures take as long.
    decoy_hash: OnceLock<String>,
    policy: IdentityPolicy,
}

impl IdentityService {
    pub fn new(deps: IdentityDeps, policy: IdentityPolicy) -> Self {
        Self {
            store: deps.store,
            verifications: deps.verifications,
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
        match self.store.create_account(&new, &event).await {
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

    /// Checks an email and password and starts a session.
    pub async fn login(&self, input: LoginInput) -> Result<LoginStep, IdentityError> {
        let mut errors = Vec::new();
        let email = EmailAddress::parse(&input.email)
            .map_err(|e| errors.push(field("email", e.to_string())))
            .ok();
        if input.password.is_empty() {
            errors.push(field("password", "must not be empty".into()));
        }
        let Some(email) = email.filter(|_| errors.is_empty()) else {
            return Err(IdentityError::Validation(errors));
        };

        if let Some(ip) = input.ip {
            let bucket = format!(
                "signin:ip:{}",
                kernel::address_bucket(ip, self.policy.ipv6_prefix)
            );
            self.limit(&bucket, self.policy.signin_per_ip).await?;
        }
        let credentials = self.store.find_credentials(&email).await?;
        let hash = match credentials.as_ref().and_then(|c| c.password_hash.clone()) {
            Some(hash) => hash,
            None => self.decoy_hash().await?,
        };
        let matches = self.password_matches(&input.password, &hash).await?;

        let now = self.clock.now();
        let locked = credentials
            .as_ref()
            .and_then(|c| c.locked_until)
            .is_some_and(|until| until > now);
        let credentials = match credentials {
            Some(credentials) if matches && !locked && credentials.password_hash.is_some() => {
                credentials
            }
            known => {
                self.failed_signin(known, locked, input.ip).await?;
                return Err(IdentityError::InvalidCredentials);
            }
        };
        if credentials.failed_signin_attempts > 0 || credentials.locked_until.is_some() {
            let user = &credentials.user;
            self.store
                .clear_failed_signins(user.account_id, user.id)
                .await?;
        }
        self.after_first_factor(credentials.user, credentials.mfa_enabled, input.ip, None)
            .await
    }

    /// Whether `candidate` is the password behind `hash` (hashing off the reactor).
    async fn password_matches(&self, candidate: &str, hash: &str) -> Result<bool, IdentityError> {
        if candidate.len() > MAX_LOGIN_PASSWORD_BYTES {
            return Ok(false);
        }
        self.hasher
            .verify(candidate, hash)
            .await
            .map_err(IdentityError::from)
    }

    /// Audits a failed sign-in and, for a known user, counts it towards a lockout. Answers
    /// nothing: every failure looks the same to the caller.
    async fn failed_signin(
        &self,
        known: Option<Credentials>,
        locked: bool,
        ip: Option<std::net::IpAddr>,
    ) -> Result<(), IdentityError> {
        let now = self.clock.now();
        let Some(credentials) = known else {
            let event = AuthEvent::new(AuthEventKind::LoginFailed, now, None, false)
                .from_ip(ip)
                .because("unknown email");
            return Ok(self.store.record_event(&event).await?);
        };
        let user = &credentials.user;
        let who = Some((user.account_id, user.id));
        if locked {
            let mut event = AuthEvent::new(AuthEventKind::LoginFailed, now, who, false)
                .from_ip(ip)
                .because("account locked");
            event.failed_signin_attempts = credentials.failed_signin_attempts;
            return Ok(self.store.record_event(&event).await?);
        }
        let counted = self
            .store
            .record_failed_signin(
                user.account_id,
                user.id,
                now,
                self.policy.max_failed_signins,
                self.policy.lockout,
            )
            .await?;
        let reason = if credentials.password_hash.is_some() {
            "wrong password"
        } else {
            "invitation not accepted"
        };
        let mut event = AuthEvent::new(AuthEventKind::LoginFailed, now, who, false)
            .from_ip(ip)
            .because(reason);
        event.failed_signin_attempts = counted.attempts;
        let location = self.locate(ip);
        event.country = location.country;
        event.city = location.city;
        self.store.record_event(&event).await?;
        if counted.locked_until.is_some() {
            let mut event = AuthEvent::new(AuthEventKind::AccountLocked, now, who, false)
                .from_ip(ip)
                .because("too many failed sign-ins");
            event.failed_signin_attempts = self.policy.max_failed_signins;
            self.store.record_event(&event).await?;
        }
        Ok(())
    }

    /// Changes the caller's password (a person's session only); every other session of
    /// theirs is revoked. The current password is a fresh proof: limited per user, and a
    /// wrong one counts toward the lockout like a failed sign-in.
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
                crate::fresh_proof::Proof::Password,
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
        self.store
            .set_password(actor.account_id, actor.user_id, &hash, &event)
            .await?;
        self.tokens
            .revoke_other_sessions(actor, "password changed")
            .await?;
        Ok(())
    }

    /// The account's audit trail (`audit:read`), newest first.
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
        Ok(self.store.audit_events(actor.account_id, &query).await?)
    }

    /// Starts a login session for a user whose credentials were just proven, and audits it
    /// with where it came from. A sign-in from a country the user has not signed in from
    /// before (when they have signed in from somewhere) sends them a warning email.
    pub(crate) async fn sign_in(
        &self,
        user: User,
        ip: Option<std::net::IpAddr>,
        how: Option<&'static str>,
    ) -> Result<LoginOutcome, IdentityError> {
        let location = self.locate(ip);
        if let Some(country) = &location.country {
            let seen = self.store.countries_seen(user.account_id, user.id).await?;
            if !seen.is_empty() && !seen.contains(country) {
                self.store
                    .enqueue_email(
                        user.account_id,
                        &self.seal_email(&new_location_warning(&user, &location, ip))?,
                    )
                    .await?;
            }
        }
        let mut event = AuthEvent::new(
            AuthEventKind::LoginSucceeded,
            self.clock.now(),
            Some((user.account_id, user.id)),
            true,
        )
        .from_ip(ip);
        event.reason = how;
        event.country = location.country;
        event.city = location.city;
        let tokens = self
            .tokens
            .start_session(
                SessionKind::Login,
                user.account_id,
                user.id,
                PermissionSet::all(),
                None,
                event,
            )
            .await?;
        Ok(LoginOutcome { tokens, user })
    }

    pub(crate) fn locate(&self, ip: Option<std::net::IpAddr>) -> Location {
        ip.map(|ip| self.geo.locate(ip)).unwrap_or_default()
    }

    /// Who the actor is, with their roles and effective permissions.
    pub async fn profile(&self, actor: &Actor) -> Result<Profile, IdentityError> {
        actor.require(Capability::WorkspaceContent)?;
        let (user, account) = self.store.profile(actor.account_id, actor.user_id).await?;
        Ok(Profile {
            user,
            account,
            roles: Roles {
                account: actor.account_roles.clone(),
                workspaces: actor.workspace_roles.clone(),
            },
            permissions: actor.account_permissions(),
            email_verified: self
                .verifications
                .email_verified(actor.account_id, actor.user_id)
                .await?,
            mfa_enabled: self
                .store
                .mfa(actor.account_id, actor.user_id)
                .await?
                .is_some_and(|m| m.enabled),
        })
    }

    /// The account's users with their roles (`users:read`).
    pub async fn members(&self, actor: &Actor) -> Result<Vec<Member>, IdentityError> {
        require_administration(actor, Permission::UsersRead)?;
        Ok(self.store.members(actor.account_id).await?)
    }

    /// The "User Role screen": an owner or admin (`users:manage`) sets a user's account roles
    /// (`admin`, `developer`, `member`) and workspace roles — their own included. The `owner`
    /// role is not assigned here and is never taken away here, so the account keeps its owners.
    /// Takes effect on the user's next request, on every instance.
    pub async fn assign_roles(
        &self,
        actor: &Actor,
        user: UserId,
        assignment: RoleAssignment,
    ) -> Result<Member, IdentityError> {
        require_administration(actor, Permission::UsersManage)?;
        let roles = parse_assignment(&assignment).map_err(IdentityError::Validation)?;
        within_reach(actor, &roles)?;
        if actor.credential != kernel::CredentialKind::HumanSession {
            let members = self.store.members(actor.account_id).await?;
            let target = members
                .iter()
                .find(|m| m.user.id == user)
                .ok_or(IdentityError::NotFound)?;
            within_reach(actor, &target.roles)?;
        }
        let member = self.store.set_roles(actor.account_id, user, &roles).await?;
        if !roles.account.contains(&AccountRole::Developer) {
            // For good, so that giving the role back does not revive a key nobody watched. After
            // the roles change: from then on no key can be stored for the user (the store
            // checks the role), so none escapes between the two.
            self.tokens
                .disable_user_api_keys(actor.account_id, user, "the owner lost the developer role")
                .await?;
        }
        let mut event = AuthEvent::new(
            AuthEventKind::RolesChanged,
            self.clock.now(),
            Some((actor.account_id, user)),
            true,
        );
        event.reason = Some("changed by a users manager");
        self.store.record_event(&event).await?;
        Ok(member)
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

    pub(crate) fn verifications(&self) -> &dyn EmailVerificationStore {
        self.verifications.as_ref()
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
}

/// Parses a role assignment; `owner` is never assigned this way.
pub(crate) fn parse_assignment(assignment: &RoleAssignment) -> Result<Roles, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut roles = Roles::default();
    for raw in &assignment.account_roles {
        match raw.parse::<AccountRole>() {
            Ok(AccountRole::Owner) => errors.push(field(
                "account_roles",
                "`owner` is not assigned here; owners keep their role".into(),
            )),
            Ok(role) if !roles.account.contains(&role) => roles.account.push(role),
            Ok(_) => {}
            Err(e) => errors.push(field("account_roles", e.to_string())),
        }
    }
    for (workspace, role) in &assignment.workspace_roles {
        let workspace = workspace.parse::<WorkspaceId>();
        let role = role.parse::<WorkspaceRole>();
        match (workspace, role) {
            (Ok(w), Ok(_)) if roles.workspaces.iter().any(|(seen, _)| *seen == w) => errors.push(
                field("workspace_roles", format!("workspace {w} is listed twice")),
            ),
            (Ok(w), Ok(r)) => roles.workspaces.push((w, r)),
            (Err(_), _) => errors.push(field(
                "workspace_roles",
                "workspace_id must be a UUID".into(),
            )),
            (_, Err(e)) => errors.push(field("workspace_roles", e.to_string())),
        }
    }
    if errors.is_empty() {
        Ok(roles)
    } else {
        Err(errors)
    }
}

impl IdentityService {
    /// Removes a user (`users:manage`): their sessions end and their API keys stop working at
    /// once, on every instance. Only an owner removes an owner, and never the last one.
    pub async fn remove_user(&self, actor: &Actor, user: UserId) -> Result<(), IdentityError> {
        require_administration(actor, Permission::UsersManage)?;
        let members = self.store.members(actor.account_id).await?;
        let target = members
            .iter()
            .find(|m| m.user.id == user)
            .ok_or(IdentityError::NotFound)?;
        within_reach(actor, &target.roles)?;
        if target.roles.account.contains(&AccountRole::Owner) {
            if !actor.has_role(AccountRole::Owner) {
                return Err(IdentityError::Forbidden(
                    "only an owner can remove an owner",
                ));
            }
            let owners = members
                .iter()
                .filter(|m| m.roles.account.contains(&AccountRole::Owner))
                .count();
            if owners <= 1 {
                return Err(IdentityError::Conflict(
                    "an account keeps at least one owner",
                ));
            }
        }
        self.store.remove_user(actor.account_id, user).await?;
        let event = AuthEvent::new(
            AuthEventKind::UserRemoved,
            self.clock.now(),
            Some((actor.account_id, user)),
            true,
        );
        Ok(self.store.record_event(&event).await?)
    }

    pub(crate) fn store(&self) -> &dyn IdentityStore {
        self.store.as_ref()
    }

    pub(crate) fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    async fn decoy_hash(&self) -> Result<String, IdentityError> {
        if let Some(hash) = self.decoy_hash.get() {
            return Ok(hash.clone());
        }
        let hash = self
            .hasher
            .hash(&random_text()?)
            .await
            .map_err(IdentityError::from)?;
        Ok(self.decoy_hash.get_or_init(|| hash).clone())
    }
}

/// The email that tells a user about a sign-in from a new country.
fn new_location_warning(
    user: &User,
    location: &Location,
    ip: Option<std::net::IpAddr>,
) -> kernel::OutgoingEmail {
    let place = match (&location.city, &location.country) {
        (Some(city), Some(country)) => format!("{city}, {country}"),
        (None, Some(country)) => country.clone(),
        _ => "an unknown place".to_owned(),
    };
    kernel::OutgoingEmail {
        to: user.email.clone(),
        subject: "New sign-in to NudgeScribe from a new country".into(),
        body: format!(
            "Hello {name},\n\nYour NudgeScribe account was just signed in to from {place} \
             (IP {ip}), a country you have not signed in from before.\n\n\
             If this was you, nothing needs doing. If not, change your password now and turn on \
             two-factor authentication.\n",
            name = kernel::text::inert_name(&user.full_name),
            ip = ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string()),
        ),
    }
}

/// Random text that no one can type as a password.
fn random_text() -> Result<String, IdentityError> {
    let bytes =
        kernel::seal::random_bytes::<24>().map_err(|e| IdentityError::Internal(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
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
