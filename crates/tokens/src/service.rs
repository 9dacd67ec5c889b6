//! The tokens domain's use cases: sessions and their tokens, authentication of every request,
//! logout, API keys and their exchange, refresh rotation with reuse detection, and short-lived
//! tokens for frontends.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::Duration;
use kernel::{
    AccountId, AccountRole, Actor, AuthEvent, AuthEventKind, Clock, Permission, PermissionSet,
    RateLimit, RateLimiter, Roles, SessionId, StoreError, UserId, Verdict,
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
use crate::session::{NewSession, SessionKind};

/// Lifetimes and windows of the token model.
#[derive(Clone, Debug)]
pub struct TokenPolicy {
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    /// A refresh token used less than this long ago may be presented again (a client retrying
    /// after a lost response) without counting as reuse. Zero: never.
    pub refresh_overlap: Duration,
    /// Client authentication (`POST /v1/auth`, `GET /v1/auth/token`) per API key ...
    pub client_auth_per_key: RateLimit,
    /// ... and per client IP, across every instance.
    pub client_auth_per_ip: RateLimit,
}

/// Which token kinds an endpoint accepts as its bearer credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accept {
    /// Credential management (keys, logout, password, MFA): full access tokens only.
    AccessOnly,
    /// The content API: access tokens, or short-lived tokens handed to a frontend.
    AccessOrShortLived,
}

impl Accept {
    const fn kinds(self) -> &'static [TokenKind] {
        match self {
            Self::AccessOnly => &[TokenKind::Access],
            Self::AccessOrShortLived => &[TokenKind::Access, TokenKind::ShortLived],
        }
    }
}

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

    /// Starts a session with an access and a refresh token; `event` is recorded with it.
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
        let session = NewSession {
            id: SessionId::generate(),
            account_id,
            user_id,
            kind,
            scope: scope.to_scope_string(),
            api_key_id,
            created_at: now,
            expires_at: now + self.policy.refresh_ttl,
            refresh_token_digest: Some(refresh.digest),
        };
        let access_token = self.issuer.sign_for_session(
            TokenKind::Access,
            &claims_of(&session),
            now,
            self.policy.access_ttl,
        )?;
        self.sessions.start_session(&session, &event).await?;
        Ok(IssuedTokens {
            access_token,
            refresh_token: refresh.secret,
            expires_in: self.policy.access_ttl.num_seconds(),
            refresh_expires_in: self.policy.refresh_ttl.num_seconds(),
            scope: session.scope,
        })
    }

    /// The [`Actor`] a bearer token speaks for, with the roles held right now. Refused: a token
    /// of a kind `accept` does not take, an invalid or expired one, or one whose session was
    /// revoked (by any instance), whose user is gone, or whose API key no longer works.
    pub async fn authenticate(&self, bearer: &str, accept: Accept) -> Result<Actor, TokenError> {
        let now = self.clock.now();
        let (_, claims) = self.issuer.verify(bearer, accept.kinds(), now)?;
        let scope = PermissionSet::parse_scope(&claims.scope)
            .map_err(|_| TokenError::Invalid("unknown scope"))?;
        let account_id = AccountId::from_uuid(claims.acc);
        let user_id = UserId::from_uuid(claims.sub);
        let session_id = SessionId::from_uuid(claims.sid);
        let roles = self
            .sessions
            .live_session(account_id, user_id, session_id, now)
            .await?
            .ok_or(TokenError::Invalid("session is not live"))?;
        Ok(Actor {
            user_id,
            account_id,
            session_id,
            account_roles: roles.account,
            workspace_roles: roles.workspaces,
            scope,
        })
    }

    /// Revokes the caller's session: its access and refresh tokens stop working everywhere.
    pub async fn logout(&self, actor: &Actor, ip: Option<IpAddr>) -> Result<(), TokenError> {
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
    /// session and is accepted only by [`TokenService::verify_mfa_token`].
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
    pub fn verify_mfa_token(&self, token: &str) -> Result<(AccountId, UserId), TokenError> {
        let (_, claims) = self
            .issuer
            .verify(token, &[TokenKind::Mfa], self.clock.now())?;
        Ok((
            AccountId::from_uuid(claims.acc),
            UserId::from_uuid(claims.sub),
        ))
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
        Ok(IssuedTokens {
            access_token: self.issuer.sign_for_session(
                TokenKind::Access,
                &claims,
                now,
                self.policy.access_ttl,
            )?,
            refresh_token: successor.secret,
            expires_in: self.policy.access_ttl.num_seconds(),
            refresh_expires_in: self.policy.refresh_ttl.num_seconds(),
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
        let session = NewSession {
            id: SessionId::generate(),
            account_id: key.account_id,
            user_id: key.user_id,
            kind: SessionKind::ShortLived,
            scope: key_allowance(&credentials).to_scope_string(),
            api_key_id: Some(key.key_id),
            created_at: now,
            expires_at: now + ttl,
            refresh_token_digest: None,
        };
        let token =
            self.issuer
                .sign_for_session(TokenKind::ShortLived, &claims_of(&session), now, ttl)?;
        let event = self.key_event(AuthEventKind::ShortLivedTokenIssued, key, true, ip);
        self.sessions.start_session(&session, &event).await?;
        Ok((token, ttl.num_seconds()))
    }

    /// Creates an API key for the caller, who must hold the developer role. The plaintext is
    /// returned this once.
    pub async fn create_api_key(
        &self,
        actor: &Actor,
        name: &str,
        scopes: Option<&[String]>,
        ip: Option<IpAddr>,
    ) -> Result<(ApiKey, String), TokenError> {
        require_developer(actor)?;
        let mut errors = Vec::new();
        let name = name.trim();
        if name.is_empty() || name.chars().count() > API_KEY_NAME_MAX_CHARS {
            errors.push((
                "name",
                format!("must be between 1 and {API_KEY_NAME_MAX_CHARS} characters"),
            ));
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
        self.keys
            .create_api_key(
                &NewApiKey {
                    key: key.clone(),
                    secret_digest: generated.digest,
                },
                &event,
            )
            .await?;
        Ok((key, generated.plaintext.clone()))
    }

    /// The caller's keys (never their secrets).
    pub async fn api_keys(&self, actor: &Actor) -> Result<Vec<ApiKey>, TokenError> {
        Ok(self.keys.api_keys(actor.account_id, actor.user_id).await?)
    }

    /// Deletes one of the caller's keys; sessions exchanged for it are revoked.
    pub async fn delete_api_key(
        &self,
        actor: &Actor,
        key_id: Uuid,
        ip: Option<IpAddr>,
    ) -> Result<(), TokenError> {
        let event = AuthEvent::new(
            AuthEventKind::ApiKeyDeleted,
            self.clock.now(),
            Some((actor.account_id, actor.user_id)),
            true,
        )
        .with_client(key_id)
        .from_ip(ip);
        match self
            .keys
            .delete_api_key(actor.account_id, actor.user_id, key_id, &event)
            .await
        {
            Err(StoreError::NotFound) => Err(TokenError::NotFound),
            other => Ok(other?),
        }
    }

    /// Counts a client-authentication attempt against its IP's and its key's limits.
    async fn limit_client_auth(
        &self,
        presented: &str,
        ip: Option<IpAddr>,
    ) -> Result<(), TokenError> {
        let now = self.clock.now();
        let mut buckets = Vec::with_capacity(2);
        if let Some(ip) = ip {
            buckets.push((
                format!("client-auth:ip:{ip}"),
                self.policy.client_auth_per_ip,
            ));
        }
        if let Some(key) = PresentedApiKey::parse(presented) {
            buckets.push((
                format!("client-auth:key:{}", key.key_id),
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

/// What a key may be exchanged for: its scopes (if narrowed) within its owner's permissions.
fn key_allowance(credentials: &KeyCredentials) -> PermissionSet {
    let owner = all_permissions(&credentials.owner_roles);
    credentials
        .key
        .scopes
        .map_or(owner, |scopes| scopes.intersection(owner))
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
