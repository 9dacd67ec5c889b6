//! Refresh rotation: a refresh token is good for one use; its successor stands for the
//! session from then on, and a retired token presented again is theft that ends the session.

use std::net::IpAddr;

use kernel::{AuthEvent, AuthEventKind};

use crate::TokenError;
use crate::claims::TokenKind;
use crate::issuer::{IssuedTokens, SessionClaims};
use crate::ports::{Access, NewRefreshToken, SessionStanding};
use crate::refresh::RefreshToken;
use crate::service::{TokenService, is_live};

/// A session's last sighting from the same address is noted at most this often.
const SEEN_GRANULARITY: chrono::Duration = chrono::Duration::minutes(1);

impl TokenService {
    /// Trades a refresh token for a new access token and a new refresh token, in one unit of
    /// work. A retired token presented again (outside the overlap window) is theft: the whole
    /// session is revoked, everywhere.
    #[tracing::instrument(skip_all)]
    pub async fn refresh(
        &self,
        presented: &str,
        ip: Option<IpAddr>,
    ) -> Result<IssuedTokens, TokenError> {
        let now = self.clock.now();
        let digest = RefreshToken::digest_of(presented.trim());
        let unusable = || {
            AuthEvent::new(AuthEventKind::TokenRefreshFailed, now, None, false)
                .from_ip(ip)
                .because("unknown, expired or revoked refresh token")
        };
        let mut tx = self.store.begin(Access::RefreshToken(&digest)).await?;
        let Some(found) = tx.refresh_token(&digest).await? else {
            tx.record_event(&unusable()).await?;
            tx.commit().await?;
            return Err(TokenError::Invalid("refresh token not usable"));
        };
        tx.become_tenant(found.account_id, None).await?;
        // Locking the session serialises concurrent rotations: the second sees the first's
        // use of the token and counts as reuse.
        let (session, token) = tx
            .lock_session_then_token(found.session_id, &digest)
            .await?;
        let usable = match (&session, &token) {
            (Some(session), Some(token)) => {
                !session.revoked && session.expires_at > now && token.expires_at > now
            }
            _ => false,
        };
        let (true, Some(session), Some(token)) = (usable, session, token) else {
            // The event names no account, as for a token never seen: it is written apart. The
            // unit of work wrote nothing; ending it (rather than dropping it) hands its
            // connection back, so refused tokens cost no reconnection.
            tx.commit().await?;
            self.audit.record(&unusable()).await?;
            return Err(TokenError::Invalid("refresh token not usable"));
        };
        let who = Some((session.account_id, session.user_id));
        if token
            .used_at
            .is_some_and(|used| now - used >= self.policy.refresh_overlap)
        {
            tx.revoke_session(session.id, "refresh token reuse", now)
                .await?;
            let event = AuthEvent::new(AuthEventKind::RefreshTokenReused, now, who, false)
                .from_ip(ip)
                .because("a retired refresh token was presented; session revoked");
            tx.record_event(&event).await?;
            tx.commit().await?;
            return Err(TokenError::Invalid("refresh token reused"));
        }
        let roles = tx.roles(session.user_id).await?;
        let api_key_live = match session.api_key_id {
            Some(key) => Some(tx.api_key(key).await?.is_some_and(|k| !k.deleted)),
            None => None,
        };
        let standing = SessionStanding {
            kind: session.kind,
            revoked: false,
            expires_at: session.expires_at,
            api_key_live,
            roles,
        };
        if !is_live(&standing, now) {
            let mut event = AuthEvent::new(AuthEventKind::TokenRefreshFailed, now, who, false)
                .from_ip(ip)
                .because("the session's API key was deleted or its owner is no longer a developer");
            event.client_id = session.api_key_id;
            tx.revoke_session(session.id, "api key revoked", now)
                .await?;
            tx.record_event(&event).await?;
            tx.commit().await?;
            return Err(TokenError::Invalid("api key no longer valid"));
        }
        // A token retried within the overlap window keeps its first use's time, so the window
        // never slides.
        tx.mark_refresh_token_used(&digest, token.used_at.unwrap_or(now))
            .await?;
        let successor = RefreshToken::generate()?;
        // The successor never outlives its session, whose end never moves.
        let remaining = session.expires_at - now;
        let successor_expires_at = (now + self.policy.refresh_ttl).min(session.expires_at);
        tx.insert_refresh_token(&NewRefreshToken {
            digest: successor.digest,
            account_id: session.account_id,
            session_id: session.id,
            created_at: now,
            expires_at: successor_expires_at,
        })
        .await?;
        // Where a session is seen is noted when it moves, and else once a minute at most: a
        // client refreshing in a loop does not rewrite its session's row every time.
        if ip != session.last_seen_ip || now - session.last_seen_at >= SEEN_GRANULARITY {
            tx.note_session_seen(session.id, now, ip).await?;
        }
        let mut event = AuthEvent::new(AuthEventKind::TokenRefreshed, now, who, true).from_ip(ip);
        event.client_id = session.api_key_id;
        tx.record_event(&event).await?;
        let claims = SessionClaims {
            account_id: session.account_id,
            user_id: session.user_id,
            session_id: session.id,
            scope: session.scope.clone(),
        };
        // The session's end bounds everything it issues.
        let access_ttl = self.policy.access_ttl.min(remaining);
        let access_token =
            self.issuer
                .sign_for_session(TokenKind::Access, &claims, now, access_ttl)?;
        tx.commit().await?;
        Ok(IssuedTokens {
            access_token,
            refresh_token: successor.secret,
            expires_in: access_ttl.num_seconds(),
            refresh_expires_in: self.policy.refresh_ttl.min(remaining).num_seconds(),
            scope: session.scope,
        })
    }
}
