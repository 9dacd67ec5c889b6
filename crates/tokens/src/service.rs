//! The tokens domain's use cases: sessions and their tokens, authentication of every request,
//! logout and ending sessions. Key exchange and short-lived tokens are in `exchange.rs`,
//! refresh rotation in `rotation.rs`, API key management in `key_management.rs`.
//!
//! Every rule is here, once: the store ([`TokenStore`]) only reads and writes inside the unit of
//! work a use case opens, and the use case commits it.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::Duration;
use chrono::{DateTime, Utc};
use kernel::{
    AccountId, AccountRole, Actor, AuditLog, AuthEvent, AuthEventKind, Capability, Clock,
    PermissionSet, RateLimit, RateLimiter, Roles, SessionId, UserId,
};
use uuid::Uuid;

use crate::TokenError;
use crate::claims::TokenKind;
pub use crate::exchange::{SHORT_LIVED_DEFAULT_MINUTES, SHORT_LIVED_MAX_MINUTES};
use crate::issuer::{IssuedTokens, SessionClaims, TokenIssuer};
use crate::ports::{Access, NewRefreshToken, SessionStanding, TokenStore, TokenTx};
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

/// The most sessions `GET /v1/me/sessions` lists (the newest): an integration exchanging its
/// key often may hold many at once.
pub const MAX_LISTED_SESSIONS: usize = 500;

pub struct TokenService {
    pub(crate) issuer: Arc<TokenIssuer>,
    pub(crate) store: Arc<dyn TokenStore>,
    pub(crate) audit: Arc<dyn AuditLog>,
    pub(crate) limiter: Arc<dyn RateLimiter>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) policy: TokenPolicy,
}

/// Whether a session may still act: not revoked, not ended, and — for a session exchanged for
/// an API key — its key not deleted and its owner still a developer.
pub(crate) fn is_live(standing: &SessionStanding, now: DateTime<Utc>) -> bool {
    !standing.revoked
        && standing.expires_at > now
        && standing.api_key_live.is_none_or(|key_live| {
            key_live && standing.roles.account.contains(&AccountRole::Developer)
        })
}

impl TokenService {
    pub fn new(
        issuer: Arc<TokenIssuer>,
        store: Arc<dyn TokenStore>,
        audit: Arc<dyn AuditLog>,
        limiter: Arc<dyn RateLimiter>,
        clock: Arc<dyn Clock>,
        policy: TokenPolicy,
    ) -> Self {
        Self {
            issuer,
            store,
            audit,
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
    #[tracing::instrument(skip_all, fields(account = %account_id, user = %user_id, kind = kind.as_str()))]
    pub async fn start_session(
        &self,
        kind: SessionKind,
        account_id: AccountId,
        user_id: UserId,
        scope: PermissionSet,
        api_key_id: Option<Uuid>,
        event: AuthEvent,
    ) -> Result<IssuedTokens, TokenError> {
        let mut tx = self
            .store
            .begin(Access::Tenant {
                account: account_id,
                user: Some(user_id),
            })
            .await?;
        let tokens = self
            .open_session(
                &mut *tx, kind, account_id, user_id, scope, api_key_id, &event,
            )
            .await?;
        tx.commit().await?;
        Ok(tokens)
    }

    /// Writes a new session, its first refresh token and `event` into `tx`, and signs its
    /// access token.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn open_session(
        &self,
        tx: &mut dyn TokenTx,
        kind: SessionKind,
        account_id: AccountId,
        user_id: UserId,
        scope: PermissionSet,
        api_key_id: Option<Uuid>,
        event: &AuthEvent,
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
        tx.insert_session(&session).await?;
        tx.insert_refresh_token(&NewRefreshToken {
            digest: refresh.digest,
            account_id,
            session_id: session.id,
            created_at: now,
            expires_at: session.refresh_expires_at,
        })
        .await?;
        tx.record_event(event).await?;
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
    #[tracing::instrument(skip_all)]
    pub async fn authenticate(&self, bearer: &str) -> Result<Actor, TokenError> {
        let now = self.clock.now();
        let (token_kind, claims) = self.issuer.verify(bearer, BEARER_KINDS, now)?;
        let scope = PermissionSet::parse_scope(&claims.scope)
            .map_err(|_| TokenError::Invalid("unknown scope"))?;
        let account_id = AccountId::from_uuid(claims.acc);
        let user_id = UserId::from_uuid(claims.sub);
        let session_id = SessionId::from_uuid(claims.sid);
        let standing = self
            .store
            .session_standing(account_id, user_id, session_id)
            .await?
            .filter(|standing| is_live(standing, now))
            .ok_or(TokenError::Invalid("session is not live"))?;
        // A short-lived token is what a short-lived session signs, and nothing else is.
        if (token_kind == TokenKind::ShortLived) != (standing.kind == SessionKind::ShortLived) {
            return Err(TokenError::Invalid("token type does not match its session"));
        }
        let Roles {
            account: account_roles,
            workspaces: workspace_roles,
        } = standing.roles;
        Ok(Actor {
            user_id,
            account_id,
            session_id,
            account_roles,
            workspace_roles,
            scope,
            credential: standing.kind.credential(),
        })
    }

    /// Revokes the caller's session: its access and refresh tokens stop working everywhere.
    #[tracing::instrument(skip_all, fields(session = %actor.session_id))]
    pub async fn logout(&self, actor: &Actor, ip: Option<IpAddr>) -> Result<(), TokenError> {
        actor.require(Capability::EndOwnSession)?;
        let now = self.clock.now();
        let event = AuthEvent::new(
            AuthEventKind::Logout,
            now,
            Some((actor.account_id, actor.user_id)),
            true,
        )
        .from_ip(ip);
        let mut tx = self.tenant(actor.account_id, Some(actor.user_id)).await?;
        tx.revoke_session(actor.session_id, "logout", now).await?;
        tx.record_event(&event).await?;
        tx.commit().await?;
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
    #[tracing::instrument(skip_all, fields(user = %ticket.user_id))]
    pub async fn redeem_mfa_ticket(&self, ticket: &MfaTicket) -> Result<(), TokenError> {
        let mut tx = self.tenant(ticket.account_id, Some(ticket.user_id)).await?;
        let fresh = tx
            .insert_redeemed_mfa_token(
                ticket.account_id,
                ticket.user_id,
                ticket.id,
                ticket.expires_at,
            )
            .await?;
        tx.commit().await?;
        if fresh {
            Ok(())
        } else {
            Err(TokenError::Invalid("mfa token already used"))
        }
    }

    /// Revokes every other session of the actor's user (after a password change): their
    /// tokens stop working at once, everywhere; the actor's own session goes on.
    #[tracing::instrument(skip_all, fields(user = %actor.user_id))]
    pub async fn revoke_other_sessions(
        &self,
        actor: &Actor,
        reason: &'static str,
    ) -> Result<(), TokenError> {
        self.revoke_user_sessions(
            actor.account_id,
            actor.user_id,
            Some(actor.session_id),
            reason,
        )
        .await
    }

    /// Revokes every session of a user (after a password reset): all their tokens stop working
    /// at once, everywhere.
    #[tracing::instrument(skip_all, fields(user = %user))]
    pub async fn revoke_all_sessions(
        &self,
        account: AccountId,
        user: UserId,
        reason: &'static str,
    ) -> Result<(), TokenError> {
        self.revoke_user_sessions(account, user, None, reason).await
    }

    async fn revoke_user_sessions(
        &self,
        account: AccountId,
        user: UserId,
        keep: Option<SessionId>,
        reason: &'static str,
    ) -> Result<(), TokenError> {
        let mut tx = self.tenant(account, Some(user)).await?;
        tx.revoke_user_sessions(user, keep, reason, self.clock.now())
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The caller's live sessions, newest first (a person's session only).
    #[tracing::instrument(skip_all, fields(user = %actor.user_id))]
    pub async fn sessions(&self, actor: &Actor) -> Result<Vec<SessionSummary>, TokenError> {
        actor.require(Capability::OwnCredentials)?;
        let mut tx = self.tenant(actor.account_id, Some(actor.user_id)).await?;
        let sessions = tx
            .live_sessions(actor.user_id, self.clock.now(), MAX_LISTED_SESSIONS)
            .await?;
        tx.commit().await?;
        Ok(sessions)
    }

    /// Ends one of the caller's live sessions ("log out other devices"): its tokens stop at
    /// once, everywhere. `SessionNotFound` for anything but a live session of the caller.
    #[tracing::instrument(skip_all, fields(user = %actor.user_id, session = %session))]
    pub async fn end_session(
        &self,
        actor: &Actor,
        session: SessionId,
        ip: Option<IpAddr>,
    ) -> Result<(), TokenError> {
        actor.require(Capability::OwnCredentials)?;
        let now = self.clock.now();
        let mut tx = self.tenant(actor.account_id, Some(actor.user_id)).await?;
        let live_and_mine = tx.lock_session(session).await?.is_some_and(|stored| {
            stored.user_id == actor.user_id
                && stored.account_id == actor.account_id
                && !stored.revoked
                && stored.expires_at > now
        });
        if !live_and_mine {
            return Err(TokenError::SessionNotFound);
        }
        let event = AuthEvent::new(
            AuthEventKind::SessionEnded,
            now,
            Some((actor.account_id, actor.user_id)),
            true,
        )
        .from_ip(ip)
        .with_detail("session_id", session.to_string());
        tx.revoke_session(session, "ended by its user", now).await?;
        tx.record_event(&event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Opens a unit of work as a tenant.
    pub(crate) async fn tenant(
        &self,
        account: AccountId,
        user: Option<UserId>,
    ) -> Result<Box<dyn TokenTx>, TokenError> {
        Ok(self.store.begin(Access::Tenant { account, user }).await?)
    }
}

pub(crate) fn claims_of(session: &NewSession) -> SessionClaims {
    SessionClaims {
        account_id: session.account_id,
        user_id: session.user_id,
        session_id: session.id,
        scope: session.scope.clone(),
    }
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
