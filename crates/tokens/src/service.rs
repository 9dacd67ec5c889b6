//! The tokens domain's use cases: sessions and their tokens, authentication of every request,
//! logout, API keys and their exchange, refresh rotation with reuse detection, and short-lived
//! tokens for frontends.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::Duration;
use chrono::{DateTime, Utc};
use kernel::{
    AccountId, AccountRole, Actor, AuthEvent, AuthEventKind, Capability, Clock, DEFAULT_KEY_SCOPES,
    Permission, PermissionSet, RateLimit, RateLimiter, Roles, SessionId, StoreError, UserId,
    Verdict,
};
use uuid::Uuid;

use crate::TokenError;
use crate::api_key::{ApiKey, GeneratedApiKey, PresentedApiKey};
use crate::claims::TokenKind;
use crate::issuer::{IssuedTokens, SessionClaims, TokenIssuer};
use crate::ports::{
    ApiKeyStore, KeyCredentials, NewApiKey, RefreshRotation, Rotation, SessionStore,
};
use crate::refresh::RefreshToken;
use crate::session::{NewSession, SessionKind, SessionSummary};

/// Lifetimes and windows of the token model.
#[derive(Clone, Debug)]
pub struct TokenPolicy {
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    /// A session's absolute lifetime; never less than `refresh_ttl` (a shorter one counts as
    /// `refresh_ttl`). Rotation never extends a session past it.
    pub session_max: Duration,
    /// A refresh token used less than this long ago may be presented again (a client retrying
    /// after a lost response) without counting as reuse. Zero: never.
    pub refresh_overlap: Duration,
    /// Client authentication (`POST /v1/auth`, `GET /v1/auth/token`) per API key ...
    pub client_auth_per_key: RateLimit,
    /// ... and per client IP, across every instance.
    pub client_auth_per_ip: RateLimit,
    /// IPv6 clients are counted per network of this many bits (see
    /// [`kernel::address_bucket`]).
    pub ipv6_prefix: u8,
}

impl TokenPolicy {
    /// How long a session lives from its start, whatever its refreshes.
    #[must_use]
    pub fn session_lifetime(&self) -> Duration {
        self.session_max.max(self.refresh_ttl)
    }
}

/// A verified MFA token: who it proves a password for, and what redeems it (once).
#[derive(Clone, Debug)]
pub struct MfaTicket {
    pub account_id: AccountId,
    pub user_id: UserId,
    id: Uuid,
    expires_at: DateTime<Utc>,
}

/// The bearer tokens an authenticated request may carry; MFA and refresh tokens never pass.
const BEARER_KINDS: &[TokenKind] = &[TokenKind::Access, TokenKind::ShortLived];

pub const SHORT_LIVED_DEFAULT_MINUTES: i64 = 60;
pub const SHORT_LIVED_MAX_MINUTES: i64 = 1440;
const API_KEY_NAME_MAX_CHARS: usize = 100;

pub struct TokenService {
    issuer: Arc<TokenIssuer>,
    sessions: Arc<dyn SessionStore>,
    keys: Arc<dyn ApiKeyStore>,
    limiter: Arc<dyn RateLimiter>,
    clock: Arc<dyn Clock>,
    policy: TokenPolicy,
}

impl TokenService {
    pub fn new(
        issuer: Arc<TokenIssuer>,
        sessions: Arc<dyn SessionStore>,
        keys: Arc<dyn ApiKeyStore>,
        limiter: Arc<dyn RateLimiter>,
        clock: Arc<dyn Clock>,
        policy: TokenPolicy,
    ) -> Self {
        Self {
            issuer,
            sessions,
            keys,
            limiter,
            clock,
            policy,
        }
    }

    #[must_use]
    pub fn issuer(&self) -> &TokenIssuer {
        &self.issuer
    }

    /// Starts a session with an access and a refresh token; `event` is recorded with it (and
    /// its address and country with the session).
    pub async fn start_session(
        &self,
        kind: SessionKind,
        account_id: AccountId,
        user_id: UserId,
        scope: PermissionSet,
        api_key_id: Option<Uuid>,
        event: AuthEvent,
    ) -> Result<IssuedTokens, TokenError> {
        let now = self.clock.now();
        let refresh = RefreshToken::generate()?;
        let expires_at = now + self.policy.session_lifetime();
        let session = NewSession {
            id: SessionId::generate(),
            account_id,
            user_id,
            kind,
            scope: scope.to_scope_string(),
            api_key_id,
            created_at: now,
            expires_at,
            refresh_token_digest: Some(refresh.digest),
            refresh_expires_at: (now + self.policy.refresh_ttl).min(expires_at),
            ip: event.ip,
            country: event.country.clone(),
        };
        let access_ttl = self.policy.access_ttl.min(expires_at - now);
        let access_token = self.issuer.sign_for_session(
            TokenKind::Access,
            &claims_of(&session),
            now,
            access_ttl,
        )?;
        self.sessions.start_session(&session, &event).await?;
        Ok(IssuedTokens {
            access_token,
            refresh_token: refresh.secret,
            expires_in: access_ttl.num_seconds(),
            refresh_expires_in: (session.refresh_expires_at - now).num_seconds(),
            scope: session.scope,
        })
    }

    /// The [`Actor`] a bearer token speaks for — its kind of credential, the roles held right
    /// now. Refused: anything but an access or short-lived token, an invalid or expired one,
    /// or one whose session was revoked (by any instance), whose user is gone, or whose API
    /// key no longer works. What the actor may then do is the capability rule's to say
    /// ([`Actor::require`]).
    pub async fn authenticate(&self, bearer: &str) -> Result<Actor, TokenError> {
        let now = self.clock.now();
        let (token_kind, claims) = self.issuer.verify(bearer, BEARER_KINDS, now)?;
        let scope = PermissionSet::parse_scope(&claims.scope)
            .map_err(|_| TokenError::Invalid("unknown scope"))?;
        let account_id = AccountId::from_uuid(claims.acc);
        let user_id = UserId::from_uuid(claims.sub);
        let session_id = SessionId::from_uuid(claims.sid);
        let live = self
            .sessions
            .live_session(account_id, user_id, session_id, now)
            .await?
            .ok_or(TokenError::Invalid("session is not live"))?;
        // A short-lived token is what a short-lived session signs, and nothing else is.
        if (token_kind == TokenKind::ShortLived) != (live.kind == SessionKind::ShortLived) {
            return Err(TokenError::Invalid("token type does not match its session"));
        }
        Ok(Actor {
            user_id,
            account_id,
            session_id,
            account_roles: live.roles.account,
            workspace_roles: live.roles.workspaces,
            scope,
            credential: live.kind.credential(),
        })
    }

    /// Revokes the caller's session: its access and refresh tokens stop working everywhere.
    pub async fn logout(&self, actor: &Actor, ip: Option<IpAddr>) -> Result<(), TokenError> {
        actor.require(Capability::EndOwnSession)?;
        let event = AuthEvent::new(
            AuthEventKind::Logout,
            self.clock.now(),
            Some((actor.account_id, actor.user_id)),
            true,
        )
        .from_ip(ip);
        self.sessions
            .revoke_session(actor.account_id, actor.session_id, "logout", &event)
            .await?;
        Ok(())
    }

    /// A short token proving a correct password, to be completed by the MFA step. It starts no
    /// session, is accepted only by [`TokenService::verify_mfa_token`], and completes one
    /// sign-in at most ([`TokenService::redeem_mfa_ticket`]).
    pub fn mint_mfa_token(
        &self,
        account_id: AccountId,
        user_id: UserId,
        ttl: Duration,
    ) -> Result<String, TokenError> {
        let claims = SessionClaims {
            account_id,
            user_id,
            session_id: SessionId::generate(),
            scope: String::new(),
        };
        self.issuer
            .sign_for_session(TokenKind::Mfa, &claims, self.clock.now(), ttl)
    }

    /// The user an MFA token was minted for; any other token is refused.
    pub fn verify_mfa_token(&self, token: &str) -> Result<MfaTicket, TokenError> {
        let (_, claims) = self
            .issuer
            .verify(token, &[TokenKind::Mfa], self.clock.now())?;
        Ok(MfaTicket {
            account_id: AccountId::from_uuid(claims.acc),
            user_id: UserId::from_uuid(claims.sub),
            id: claims.sid,
            expires_at: DateTime::from_timestamp(claims.exp, 0)
                .ok_or(TokenError::Invalid("expiry out of range"))?,
        })
    }

    /// Uses up an MFA token: the first call succeeds, every later one is refused.
    pub async fn redeem_mfa_ticket(&self, ticket: &MfaTicket) -> Result<(), TokenError> {
        let fresh = self
            .sessions
            .redeem_mfa_token(
                ticket.account_id,
                ticket.user_id,
                ticket.id,
                ticket.expires_at,
            )
            .await?;
        if fresh {
            Ok(())
        } else {
            Err(TokenError::Invalid("mfa token already used"))
        }
    }

    /// Revokes every other session of the actor's user (after a password change): their
    /// tokens stop working at once, everywhere; the actor's own session goes on.
    pub async fn revoke_other_sessions(
        &self,
        actor: &Actor,
        reason: &'static str,
    ) -> Result<(), TokenError> {
        Ok(self
            .sessions
            .revoke_user_sessions(
                actor.account_id,
                actor.user_id,
                Some(actor.session_id),
                reason,
            )
            .await?)
    }

    /// Revokes every session of a user (after a password reset): all their tokens stop working
    /// at once, everywhere.
    pub async fn revoke_all_sessions(
        &self,
        account: AccountId,
        user: UserId,
        reason: &'static str,
    ) -> Result<(), TokenError> {
        Ok(self
            .sessions
            .revoke_user_sessions(account, user, None, reason)
            .await?)
    }

    /// Exchanges an API key for tokens, narrowed to `requested` scopes if given (which must
    /// lie within the key's scopes and its owner's permissions, else 403).
    pub async fn exchange_api_key(
        &self,
        presented: &str,
        requested: Option<&[String]>,
        ip: Option<IpAddr>,
    ) -> Result<IssuedTokens, TokenError> {
        let requested = requested.map(parse_scopes).transpose()?;
        self.limit_client_auth(presented, ip).await?;
        let credentials = self
            .verify_key(presented, AuthEventKind::TokenExchangeFailed, ip)
            .await?;
        let key = &credentials.key;
        let allowed = key_allowance(&credentials);
        let scope = match requested {
            Some(requested) if !requested.is_subset_of(allowed) => {
                let event = self
                    .key_event(AuthEventKind::TokenExchangeFailed, key, false, ip)
                    .because("scope beyond the key's or owner's permissions");
                self.sessions.record_event(&event).await?;
                return Err(TokenError::Forbidden(
                    "the requested scopes exceed what this key and its owner may do",
                ));
            }
            Some(requested) => requested,
            None => allowed,
        };
        let event = self.key_event(AuthEventKind::TokenExchanged, key, true, ip);
        self.start_session(
            SessionKind::ApiKey,
            key.account_id,
            key.user_id,
            scope,
            Some(key.key_id),
            event,
        )
        .await
    }

    /// Trades a refresh token for a new access token and a new refresh token. A retired token
    /// presented again is theft: the whole session is revoked.
    pub async fn refresh(
        &self,
        presented: &str,
        ip: Option<IpAddr>,
    ) -> Result<IssuedTokens, TokenError> {
        let now = self.clock.now();
        let successor = RefreshToken::generate()?;
        let rotation = self
            .sessions
            .rotate_refresh_token(&RefreshRotation {
                presented: RefreshToken::digest_of(presented.trim()),
                successor: successor.digest,
                now,
                successor_expires_at: now + self.policy.refresh_ttl,
                overlap: self.policy.refresh_overlap,
                ip,
            })
            .await?;
        let grant = match rotation {
            Rotation::Rotated(grant) => grant,
            Rotation::Reused {
                account_id,
                user_id,
                session_id: _,
            } => {
                let event = AuthEvent::new(
                    AuthEventKind::RefreshTokenReused,
                    now,
                    Some((account_id, user_id)),
                    false,
                )
                .from_ip(ip)
                .because("a retired refresh token was presented; session revoked");
                self.sessions.record_event(&event).await?;
                return Err(TokenError::Invalid("refresh token reused"));
            }
            Rotation::Invalid => {
                let event = AuthEvent::new(AuthEventKind::TokenRefreshFailed, now, None, false)
                    .from_ip(ip)
                    .because("unknown, expired or revoked refresh token");
                self.sessions.record_event(&event).await?;
                return Err(TokenError::Invalid("refresh token not usable"));
            }
        };
        let who = Some((grant.account_id, grant.user_id));
        let key_dead = grant.kind == SessionKind::ApiKey
            && (!grant.api_key_live || !grant.roles.account.contains(&AccountRole::Developer));
        if key_dead {
            let mut event = AuthEvent::new(AuthEventKind::TokenRefreshFailed, now, who, false)
                .from_ip(ip)
                .because("the session's API key was deleted or its owner is no longer a developer");
            event.client_id = grant.api_key_id;
            self.sessions
                .revoke_session(
                    grant.account_id,
                    grant.session_id,
                    "api key revoked",
                    &event,
                )
                .await?;
            return Err(TokenError::Invalid("api key no longer valid"));
        }
        let mut event = AuthEvent::new(AuthEventKind::TokenRefreshed, now, who, true).from_ip(ip);
        event.client_id = grant.api_key_id;
        self.sessions.record_event(&event).await?;
        let claims = SessionClaims {
            account_id: grant.account_id,
            user_id: grant.user_id,
            session_id: grant.session_id,
            scope: grant.scope.clone(),
        };
        // The session's end bounds everything it issues.
        let remaining = grant.expires_at - now;
        let access_ttl = self.policy.access_ttl.min(remaining);
        Ok(IssuedTokens {
            access_token: self.issuer.sign_for_session(
                TokenKind::Access,
                &claims,
                now,
                access_ttl,
            )?,
            refresh_token: successor.secret,
            expires_in: access_ttl.num_seconds(),
            refresh_expires_in: self.policy.refresh_ttl.min(remaining).num_seconds(),
            scope: grant.scope,
        })
    }

    /// A short-lived token (`st+jwt`, no refresh token) for a backend to hand to its frontend.
    /// Returns the token and its lifetime in seconds.
    pub async fn short_lived_token(
        &self,
        presented: &str,
        expiry_minutes: i64,
        ip: Option<IpAddr>,
    ) -> Result<(String, i64), TokenError> {
        if !(1..=SHORT_LIVED_MAX_MINUTES).contains(&expiry_minutes) {
            return Err(TokenError::Validation(vec![(
                "expiryMins",
                format!("must be a whole number of minutes from 1 to {SHORT_LIVED_MAX_MINUTES}"),
            )]));
        }
        self.limit_client_auth(presented, ip).await?;
        let credentials = self
            .verify_key(presented, AuthEventKind::TokenExchangeFailed, ip)
            .await?;
        let key = &credentials.key;
        let now = self.clock.now();
        let ttl = Duration::minutes(expiry_minutes);
        let scope = key_allowance(&credentials)
            .intersection(kernel::CredentialKind::ShortLived.permission_ceiling());
        let session = NewSession {
            id: SessionId::generate(),
            account_id: key.account_id,
            user_id: key.user_id,
            kind: SessionKind::ShortLived,
            scope: scope.to_scope_string(),
            api_key_id: Some(key.key_id),
            created_at: now,
            expires_at: now + ttl,
            refresh_token_digest: None,
            refresh_expires_at: now + ttl,
            ip,
            country: None,
        };
        let token =
            self.issuer
                .sign_for_session(TokenKind::ShortLived, &claims_of(&session), now, ttl)?;
        let event = self.key_event(AuthEventKind::ShortLivedTokenIssued, key, true, ip);
        self.sessions.start_session(&session, &event).await?;
        Ok((token, ttl.num_seconds()))
    }

    /// Creates an API key for the caller, a person holding the developer role. Without
    /// `scopes` the key covers [`DEFAULT_KEY_SCOPES`]. The plaintext is returned this once.
    pub async fn create_api_key(
        &self,
        actor: &Actor,
        name: &str,
        scopes: Option<&[String]>,
        ip: Option<IpAddr>,
    ) -> Result<(ApiKey, String), TokenError> {
        actor.require(Capability::OwnCredentials)?;
        require_developer(actor)?;
        let mut errors = Vec::new();
        let name = name.trim();
        if name.is_empty() || name.chars().count() > API_KEY_NAME_MAX_CHARS {
            errors.push((
                "name",
                format!("must be between 1 and {API_KEY_NAME_MAX_CHARS} characters"),
            ));
        }
        if !kernel::text::is_single_line(name) {
            errors.push(("name", "must not contain control characters".to_owned()));
        }
        let scopes = match scopes.map(parse_scopes).transpose() {
            Ok(scopes) => scopes,
            Err(TokenError::Validation(mut more)) => {
                errors.append(&mut more);
                None
            }
            Err(other) => return Err(other),
        };
        if !errors.is_empty() {
            return Err(TokenError::Validation(errors));
        }
        let owner_permissions = all_permissions(&Roles {
            account: actor.account_roles.clone(),
            workspaces: actor.workspace_roles.clone(),
        });
        if scopes.is_some_and(|s| !s.is_subset_of(owner_permissions)) {
            return Err(TokenError::Forbidden(
                "a key's scopes must lie within your own permissions",
            ));
        }
        if scopes.is_some_and(|s| s.contains(Permission::ApiKeysManage)) {
            return Err(TokenError::Forbidden(
                "api_keys:manage cannot be given to a key: only people manage keys",
            ));
        }
        // Least privilege: a key names what it may do; unnamed, it gets the content defaults.
        let scopes = Some(scopes.unwrap_or(DEFAULT_KEY_SCOPES));
        let generated = GeneratedApiKey::generate()?;
        let now = self.clock.now();
        let key = ApiKey {
            key_id: generated.key_id,
            account_id: actor.account_id,
            user_id: actor.user_id,
            name: name.to_owned(),
            scopes,
            created_at: now,
            last_used_at: None,
        };
        let event = self.key_event(AuthEventKind::ApiKeyCreated, &key, true, ip);
        let stored = self
            .keys
            .create_api_key(
                &NewApiKey {
                    key: key.clone(),
                    secret_digest: generated.digest,
                },
                &event,
            )
            .await;
        match stored {
            // The role was taken away meanwhile (the actor's roles may be a moment old).
            Err(StoreError::NotFound) => {
                Err(TokenError::Forbidden("only developers can manage API keys"))
            }
            other => Ok(other.map(|()| (key, generated.plaintext.clone()))?),
        }
    }

    /// The caller's keys (never their secrets).
    pub async fn api_keys(&self, actor: &Actor) -> Result<Vec<ApiKey>, TokenError> {
        actor.require(Capability::OwnCredentials)?;
        Ok(self.keys.api_keys(actor.account_id, actor.user_id).await?)
    }

    /// Deletes one of the caller's keys; sessions exchanged for it are revoked.
    pub async fn delete_api_key(
        &self,
        actor: &Actor,
        key_id: Uuid,
        ip: Option<IpAddr>,
    ) -> Result<(), TokenError> {
        actor.require(Capability::OwnCredentials)?;
        let event = self.key_deleted_event(actor, key_id, ip);
        match self
            .keys
            .delete_api_key(
                actor.account_id,
                Some(actor.user_id),
                key_id,
                "deleted by its owner",
                &event,
            )
            .await
        {
            Err(StoreError::NotFound) => Err(TokenError::NotFound),
            other => Ok(other?),
        }
    }

    /// Every key of the account with its owner (`users:manage`, a person's session): how an
    /// owner or admin finds a key to stop.
    pub async fn account_api_keys(&self, actor: &Actor) -> Result<Vec<ApiKey>, TokenError> {
        require_key_administrator(actor)?;
        Ok(self.keys.account_api_keys(actor.account_id).await?)
    }

    /// Deletes any key of the account (`users:manage`, a person's session); its sessions stop
    /// at once, everywhere. Audited against the key's owner, by the administrator.
    pub async fn revoke_account_api_key(
        &self,
        actor: &Actor,
        key_id: Uuid,
        ip: Option<IpAddr>,
    ) -> Result<(), TokenError> {
        require_key_administrator(actor)?;
        let event = self
            .key_deleted_event(actor, key_id, ip)
            .because("deleted by an account administrator")
            .with_detail("by_user", actor.user_id.to_string());
        match self
            .keys
            .delete_api_key(
                actor.account_id,
                None,
                key_id,
                "deleted by an account administrator",
                &event,
            )
            .await
        {
            Err(StoreError::NotFound) => Err(TokenError::NotFound),
            other => Ok(other?),
        }
    }

    /// Disables every key of a user who lost the developer role, for good, and ends the
    /// sessions exchanged for them: giving the role back does not revive them.
    pub async fn disable_user_api_keys(
        &self,
        account: AccountId,
        user: UserId,
        reason: &'static str,
    ) -> Result<usize, TokenError> {
        let event = AuthEvent::new(
            AuthEventKind::ApiKeysDisabled,
            self.clock.now(),
            Some((account, user)),
            true,
        )
        .because(reason);
        Ok(self
            .keys
            .delete_user_api_keys(account, user, reason, &event)
            .await?)
    }

    /// The caller's live sessions, newest first (a person's session only).
    pub async fn sessions(&self, actor: &Actor) -> Result<Vec<SessionSummary>, TokenError> {
        actor.require(Capability::OwnCredentials)?;
        Ok(self
            .sessions
            .user_sessions(actor.account_id, actor.user_id, self.clock.now())
            .await?)
    }

    /// Ends one of the caller's live sessions ("log out other devices"): its tokens stop at
    /// once, everywhere. `NotFound` for anything but a live session of the caller.
    pub async fn end_session(
        &self,
        actor: &Actor,
        session: SessionId,
        ip: Option<IpAddr>,
    ) -> Result<(), TokenError> {
        actor.require(Capability::OwnCredentials)?;
        let now = self.clock.now();
        let event = AuthEvent::new(
            AuthEventKind::SessionEnded,
            now,
            Some((actor.account_id, actor.user_id)),
            true,
        )
        .from_ip(ip)
        .with_detail("session_id", session.to_string());
        let ended = self
            .sessions
            .revoke_user_session(
                actor.account_id,
                actor.user_id,
                session,
                "ended by its user",
                &event,
            )
            .await?;
        if ended {
            Ok(())
        } else {
            Err(TokenError::SessionNotFound)
        }
    }

    fn key_deleted_event(&self, actor: &Actor, key_id: Uuid, ip: Option<IpAddr>) -> AuthEvent {
        AuthEvent::new(
            AuthEventKind::ApiKeyDeleted,
            self.clock.now(),
            Some((actor.account_id, actor.user_id)),
            true,
        )
        .with_client(key_id)
        .from_ip(ip)
    }

    /// Counts a client-authentication attempt against its address's limit and its key's limit
    /// *from that address*: wrong secrets naming a key from one address never lock the genuine
    /// holder out elsewhere.
    async fn limit_client_auth(
        &self,
        presented: &str,
        ip: Option<IpAddr>,
    ) -> Result<(), TokenError> {
        let now = self.clock.now();
        let mut buckets = Vec::with_capacity(2);
        let address = ip.map(|ip| kernel::address_bucket(ip, self.policy.ipv6_prefix));
        let from = address.as_deref().unwrap_or("unknown");
        if let Some(address) = &address {
            buckets.push((
                format!("client-auth:ip:{address}"),
                self.policy.client_auth_per_ip,
            ));
        }
        if let Some(key) = PresentedApiKey::parse(presented) {
            buckets.push((
                format!("client-auth:key:{}:from:{from}", key.key_id),
                self.policy.client_auth_per_key,
            ));
        }
        match self.limiter.hit_each(&buckets, now).await? {
            Verdict::Limited { retry_after_secs } => {
                Err(TokenError::RateLimited { retry_after_secs })
            }
            Verdict::Allowed => Ok(()),
        }
    }

    /// Checks a presented key: well-formed, existing, secret matching, owner a developer.
    /// Every failure is audited and answers alike.
    async fn verify_key(
        &self,
        presented: &str,
        failure: AuthEventKind,
        ip: Option<IpAddr>,
    ) -> Result<KeyCredentials, TokenError> {
        let now = self.clock.now();
        let fail = |who: Option<&ApiKey>, reason: &'static str| {
            let mut event =
                AuthEvent::new(failure, now, who.map(|k| (k.account_id, k.user_id)), false)
                    .from_ip(ip)
                    .because(reason);
            event.client_id = who.map(|k| k.key_id);
            event
        };
        let Some(parsed) = PresentedApiKey::parse(presented) else {
            self.sessions
                .record_event(&fail(None, "malformed api key"))
                .await?;
            return Err(TokenError::Invalid("malformed api key"));
        };
        let Some(credentials) = self.keys.key_credentials(parsed.key_id).await? else {
            let mut event = fail(None, "unknown api key");
            event.client_id = Some(parsed.key_id);
            self.sessions.record_event(&event).await?;
            return Err(TokenError::Invalid("unknown api key"));
        };
        let reason = if !parsed.matches(&credentials.secret_digest) {
            Some("wrong api key secret")
        } else if !credentials
            .owner_roles
            .account
            .contains(&AccountRole::Developer)
        {
            Some("the key's owner is no longer a developer")
        } else {
            None
        };
        if let Some(reason) = reason {
            self.sessions
                .record_event(&fail(Some(&credentials.key), reason))
                .await?;
            return Err(TokenError::Invalid("api key not usable"));
        }
        Ok(credentials)
    }

    fn key_event(
        &self,
        kind: AuthEventKind,
        key: &ApiKey,
        success: bool,
        ip: Option<IpAddr>,
    ) -> AuthEvent {
        AuthEvent::new(
            kind,
            self.clock.now(),
            Some((key.account_id, key.user_id)),
            success,
        )
        .with_client(key.key_id)
        .from_ip(ip)
    }
}

fn claims_of(session: &NewSession) -> SessionClaims {
    SessionClaims {
        account_id: session.account_id,
        user_id: session.user_id,
        session_id: session.id,
        scope: session.scope.clone(),
    }
}

/// Everything the roles allow anywhere: account-wide, plus each workspace role's.
fn all_permissions(roles: &Roles) -> PermissionSet {
    roles
        .workspaces
        .iter()
        .fold(roles.account_permissions(), |set, (_, role)| {
            set.union(role.permissions())
        })
}

/// What a key may be exchanged for: its scopes (the defaults for a key made before keys named
/// them) within its owner's permissions, within what any key session may do.
fn key_allowance(credentials: &KeyCredentials) -> PermissionSet {
    let owner = all_permissions(&credentials.owner_roles);
    credentials
        .key
        .scopes
        .unwrap_or(DEFAULT_KEY_SCOPES)
        .intersection(owner)
        .intersection(kernel::CredentialKind::ApiKeySession.permission_ceiling())
}

fn parse_scopes(requested: &[String]) -> Result<PermissionSet, TokenError> {
    let mut set = PermissionSet::EMPTY;
    let mut unknown = Vec::new();
    for scope in requested {
        match scope.parse::<Permission>() {
            Ok(permission) => set = set.union(PermissionSet::of(&[permission])),
            Err(_) => unknown.push(scope.as_str()),
        }
    }
    if unknown.is_empty() {
        Ok(set)
    } else {
        Err(TokenError::Validation(vec![(
            "scopes",
            format!("unknown scopes: {}", unknown.join(", ")),
        )]))
    }
}

fn require_key_administrator(actor: &Actor) -> Result<(), TokenError> {
    actor.require(Capability::CredentialAdministration)?;
    if actor.can(Permission::UsersManage) {
        Ok(())
    } else {
        Err(TokenError::Forbidden(
            "managing the account's keys needs users:manage",
        ))
    }
}

fn require_developer(actor: &Actor) -> Result<(), TokenError> {
    if actor.has_role(AccountRole::Developer) && actor.scope.contains(Permission::ApiKeysManage) {
        Ok(())
    } else {
        Err(TokenError::Forbidden("only developers can manage API keys"))
    }
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
