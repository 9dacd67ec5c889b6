//! Client authentication: an API key exchanged for a session's tokens, or for a short-lived
//! token a backend hands to its frontend; both limited per address and per key from it.

use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use kernel::{
    AccountRole, AuthEvent, AuthEventKind, DEFAULT_KEY_SCOPES, Permission, PermissionSet, Roles,
    SessionId, Verdict,
};

use crate::TokenError;
use crate::api_key::{ApiKey, PresentedApiKey};
use crate::claims::TokenKind;
use crate::issuer::IssuedTokens;
use crate::ports::{Access, StoredApiKey, TokenTx};
use crate::service::{TokenService, claims_of};
use crate::session::{NewSession, SessionKind};

pub const SHORT_LIVED_DEFAULT_MINUTES: i64 = 60;
pub const SHORT_LIVED_MAX_MINUTES: i64 = 1440;

/// A key's last use is noted at most this often: an integration exchanging every second does
/// not rewrite its key's row every second.
const LAST_USE_GRANULARITY: Duration = Duration::minutes(1);

/// A key that passed every check, and what its owner may do right now.
struct VerifiedKey {
    key: ApiKey,
    owner_roles: Roles,
}

impl TokenService {
    /// Exchanges an API key for tokens, narrowed to `requested` scopes if given (which must
    /// lie within the key's scopes and its owner's permissions, else 403).
    #[tracing::instrument(skip_all)]
    pub async fn exchange_api_key(
        &self,
        presented: &str,
        requested: Option<&[String]>,
        ip: Option<IpAddr>,
    ) -> Result<IssuedTokens, TokenError> {
        let requested = requested.map(parse_scopes).transpose()?;
        self.limit_client_auth(presented, ip).await?;
        let (mut tx, verified) = self.verify_key(presented, ip).await?;
        let key = &verified.key;
        let allowed = key_allowance(&verified);
        let scope = match requested {
            Some(requested) if !requested.is_subset_of(allowed) => {
                let event = self
                    .key_event(AuthEventKind::TokenExchangeFailed, key, false, ip)
                    .because("scope beyond the key's or owner's permissions");
                tx.record_event(&event).await?;
                tx.commit().await?;
                return Err(TokenError::Forbidden(
                    "the requested scopes exceed what this key and its owner may do",
                ));
            }
            Some(requested) => requested,
            None => allowed,
        };
        let event = self.key_event(AuthEventKind::TokenExchanged, key, true, ip);
        let tokens = self
            .open_session(
                &mut *tx,
                SessionKind::ApiKey,
                key.account_id,
                key.user_id,
                scope,
                Some(key.key_id),
                &event,
            )
            .await?;
        self.note_key_used(&mut *tx, key).await?;
        tx.commit().await?;
        Ok(tokens)
    }

    /// A short-lived token (`st+jwt`, no refresh token) for a backend to hand to its frontend.
    /// Returns the token and its lifetime in seconds.
    #[tracing::instrument(skip_all)]
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
        let (mut tx, verified) = self.verify_key(presented, ip).await?;
        let key = &verified.key;
        let now = self.clock.now();
        let ttl = Duration::minutes(expiry_minutes);
        let scope = key_allowance(&verified)
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
        tx.insert_session(&session).await?;
        tx.record_event(&event).await?;
        self.note_key_used(&mut *tx, key).await?;
        tx.commit().await?;
        Ok((token, ttl.num_seconds()))
    }

    /// Notes the key's use, coalesced to once per [`LAST_USE_GRANULARITY`].
    async fn note_key_used(&self, tx: &mut dyn TokenTx, key: &ApiKey) -> Result<(), TokenError> {
        let now = self.clock.now();
        if key
            .last_used_at
            .is_none_or(|last| last < now - LAST_USE_GRANULARITY)
        {
            tx.set_api_key_last_used(key.key_id, now).await?;
        }
        Ok(())
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

    /// Checks a presented key — well-formed, existing, not deleted, secret matching, owner a
    /// developer — in a unit of work that goes on as the key's tenant for the caller to finish.
    /// Every failure is audited (and committed) and answers alike.
    async fn verify_key(
        &self,
        presented: &str,
        ip: Option<IpAddr>,
    ) -> Result<(Box<dyn TokenTx>, VerifiedKey), TokenError> {
        let now = self.clock.now();
        let Some(parsed) = PresentedApiKey::parse(presented) else {
            self.audit
                .record(&failed_exchange(now, None, ip, "malformed api key"))
                .await?;
            return Err(TokenError::Invalid("malformed api key"));
        };
        let mut tx = self.store.begin(Access::ApiKey(parsed.key_id)).await?;
        let found = tx.api_key(parsed.key_id).await?;
        let Some(StoredApiKey {
            key,
            secret_digest,
            deleted: false,
        }) = found
        else {
            let mut event = failed_exchange(now, None, ip, "unknown api key");
            event.client_id = Some(parsed.key_id);
            tx.record_event(&event).await?;
            tx.commit().await?;
            return Err(TokenError::Invalid("unknown api key"));
        };
        tx.become_tenant(key.account_id, Some(key.user_id)).await?;
        let owner_roles = tx.roles(key.user_id).await?;
        let refusal = if !parsed.matches(&secret_digest) {
            Some("wrong api key secret")
        } else if !owner_roles.account.contains(&AccountRole::Developer) {
            Some("the key's owner is no longer a developer")
        } else {
            None
        };
        if let Some(reason) = refusal {
            tx.record_event(&failed_exchange(now, Some(&key), ip, reason))
                .await?;
            tx.commit().await?;
            return Err(TokenError::Invalid("api key not usable"));
        }
        Ok((tx, VerifiedKey { key, owner_roles }))
    }

    pub(crate) fn key_event(
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

fn failed_exchange(
    at: DateTime<Utc>,
    key: Option<&ApiKey>,
    ip: Option<IpAddr>,
    reason: &'static str,
) -> AuthEvent {
    let mut event = AuthEvent::new(
        AuthEventKind::TokenExchangeFailed,
        at,
        key.map(|k| (k.account_id, k.user_id)),
        false,
    )
    .from_ip(ip)
    .because(reason);
    event.client_id = key.map(|k| k.key_id);
    event
}

/// Everything the roles allow anywhere: account-wide, plus each workspace role's.
pub(crate) fn all_permissions(roles: &Roles) -> PermissionSet {
    roles
        .workspaces
        .iter()
        .fold(roles.account_permissions(), |set, (_, role)| {
            set.union(role.permissions())
        })
}

/// What a key may be exchanged for: its scopes (the defaults for a key made before keys named
/// them) within its owner's permissions, within what any key session may do.
fn key_allowance(verified: &VerifiedKey) -> PermissionSet {
    let owner = all_permissions(&verified.owner_roles);
    verified
        .key
        .scopes
        .unwrap_or(DEFAULT_KEY_SCOPES)
        .intersection(owner)
        .intersection(kernel::CredentialKind::ApiKeySession.permission_ceiling())
}

pub(crate) fn parse_scopes(requested: &[String]) -> Result<PermissionSet, TokenError> {
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
