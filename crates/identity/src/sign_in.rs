//! Signing in with a password: the check (as slow for an unknown email as for a known one),
//! the lockout's counting (`sign_in_guard`), and the session with where it came from.

use kernel::{AuthEvent, AuthEventKind, EmailAddress, PermissionSet};
use tokens::SessionKind;

use crate::error::IdentityError;
use crate::models::{Credentials, LoginInput, LoginOutcome, LoginStep, User};
use crate::ports::Location;
use crate::service::{IdentityService, field};
use crate::sign_in_guard::Failure;

/// Longest password a login attempt is hashed for; longer ones cannot match a stored hash.
const MAX_LOGIN_PASSWORD_BYTES: usize = 1024;

impl IdentityService {
    /// Checks an email and password and starts a session.
    #[tracing::instrument(skip_all)]
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
                kernel::address_bucket(ip, self.policy().ipv6_prefix)
            );
            self.limit(&bucket, self.policy().signin_per_ip).await?;
        }
        let credentials = self.accounts().find_credentials(&email).await?;
        let hash = match credentials.as_ref().and_then(|c| c.password_hash.clone()) {
            Some(hash) => hash,
            None => self.decoy_hash().await?,
        };
        let matches = self.password_matches(&input.password, &hash).await?;

        let now = self.now();
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
            self.record_success(user.account_id, user.id, Failure::Password)
                .await?;
        }
        self.after_first_factor(credentials.user, credentials.mfa_enabled, input.ip, None)
            .await
    }

    /// Whether `candidate` is the password behind `hash` (hashing off the reactor).
    pub(crate) async fn password_matches(
        &self,
        candidate: &str,
        hash: &str,
    ) -> Result<bool, IdentityError> {
        if candidate.len() > MAX_LOGIN_PASSWORD_BYTES {
            return Ok(false);
        }
        self.hasher()
            .verify(candidate, hash)
            .await
            .map_err(IdentityError::from)
    }

    /// Audits a failed sign-in and, for a known user, counts it towards a lockout (the count
    /// and its events in one unit of work). Answers nothing: every failure looks the same to
    /// the caller.
    async fn failed_signin(
        &self,
        known: Option<Credentials>,
        locked: bool,
        ip: Option<std::net::IpAddr>,
    ) -> Result<(), IdentityError> {
        let now = self.now();
        let Some(credentials) = known else {
            let event = AuthEvent::new(AuthEventKind::LoginFailed, now, None, false)
                .from_ip(ip)
                .because("unknown email");
            return self.audit(&event).await;
        };
        let user = &credentials.user;
        let who = Some((user.account_id, user.id));
        if locked {
            let mut event = AuthEvent::new(AuthEventKind::LoginFailed, now, who, false)
                .from_ip(ip)
                .because("account locked");
            event.failed_signin_attempts = credentials.failed_signin_attempts;
            return self.audit(&event).await;
        }
        let reason = if credentials.password_hash.is_some() {
            "wrong password"
        } else {
            "invitation not accepted"
        };
        let location = self.locate(ip);
        let max = self.policy().max_failed_signins;
        self.record_failure(user.account_id, user.id, Failure::Password, |counted| {
            let mut event = AuthEvent::new(AuthEventKind::LoginFailed, now, who, false)
                .from_ip(ip)
                .because(reason);
            event.failed_signin_attempts = counted.attempts;
            event.country = location.country;
            event.city = location.city;
            let mut events = vec![event];
            if counted.locked_until.is_some() {
                let mut event = AuthEvent::new(AuthEventKind::AccountLocked, now, who, false)
                    .from_ip(ip)
                    .because("too many failed sign-ins");
                event.failed_signin_attempts = max;
                events.push(event);
            }
            events
        })
        .await?;
        Ok(())
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
            let seen = self
                .guard()
                .countries_seen(user.account_id, user.id)
                .await?;
            if !seen.is_empty() && !seen.contains(country) {
                self.guard()
                    .enqueue_email(
                        user.account_id,
                        &self.seal_email(&new_location_warning(&user, &location, ip))?,
                    )
                    .await?;
            }
        }
        let mut event = AuthEvent::new(
            AuthEventKind::LoginSucceeded,
            self.now(),
            Some((user.account_id, user.id)),
            true,
        )
        .from_ip(ip);
        event.reason = how;
        event.country = location.country;
        event.city = location.city;
        let tokens = self
            .token_service()
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
        ip.map(|ip| self.geo().locate(ip)).unwrap_or_default()
    }

    async fn decoy_hash(&self) -> Result<String, IdentityError> {
        if let Some(hash) = self.decoy_hash.get() {
            return Ok(hash.clone());
        }
        let hash = self
            .hasher()
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
