//! The token model on in-memory fakes: exchange, scopes, refresh rotation and reuse, revocation.
#![allow(
    clippy::disallowed_methods,
    reason = "tests start from the real time, or wait for it"
)]

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use kernel::{ManualClock, WorkspaceId, WorkspaceRole};

use super::*;
use crate::issuer::TokenSettings;
use crate::keys::{KeyRing, SigningKey};
use crate::testing::{MemoryRateLimiter, MemoryTokenStore as Memory};
use kernel::{AccountRole, Permission, Roles};

struct Harness {
    service: TokenService,
    store: Arc<Memory>,
    clock: Arc<ManualClock>,
    account: AccountId,
    user: UserId,
    workspace: WorkspaceId,
}

fn harness(overlap_secs: i64) -> Harness {
    let store = Arc::new(Memory::default());
    let start = Utc
        .with_ymd_and_hms(2026, 11, 23, 9, 0, 0)
        .single()
        .unwrap_or_else(Utc::now);
    let clock = Arc::new(ManualClock::at(start));
    let key = SigningKey::generate().unwrap_or_else(|e| panic!("{e}"));
    let issuer = Arc::new(TokenIssuer::new(
        TokenSettings {
            issuer: "test".into(),
            audience: "test".into(),
            leeway: Duration::seconds(30),
        },
        KeyRing::new(&key, &[]),
    ));
    let service = TokenService::new(
        issuer,
        store.clone(),
        store.clone(),
        Arc::new(MemoryRateLimiter::default()),
        clock.clone(),
        TokenPolicy {
            access_ttl: Duration::days(14),
            refresh_ttl: Duration::days(15),
            session_max: Duration::days(15),
            refresh_overlap: Duration::seconds(overlap_secs),
            client_auth_per_key: RateLimit::per_minute(5),
            client_auth_per_ip: RateLimit::per_minute(8),
            ipv6_prefix: 64,
        },
    );
    let (account, user, workspace) = (
        AccountId::generate(),
        UserId::generate(),
        WorkspaceId::generate(),
    );
    store.set_roles(
        user,
        Roles {
            account: vec![AccountRole::Developer],
            workspaces: vec![(workspace, WorkspaceRole::Viewer)],
        },
    );
    Harness {
        service,
        store,
        clock,
        account,
        user,
        workspace,
    }
}

impl Harness {
    async fn login(&self) -> Result<(IssuedTokens, Actor), TokenError> {
        let event = AuthEvent::new(
            AuthEventKind::LoginSucceeded,
            self.clock.now(),
            Some((self.account, self.user)),
            true,
        );
        let tokens = self
            .service
            .start_session(
                SessionKind::Login,
                self.account,
                self.user,
                PermissionSet::all(),
                None,
                event,
            )
            .await?;
        let actor = self.service.authenticate(&tokens.access_token).await?;
        Ok((tokens, actor))
    }

    async fn new_key(&self, scopes: Option<&[String]>) -> Result<String, TokenError> {
        let (_, actor) = self.login().await?;
        Ok(self
            .service
            .create_api_key(&actor, "integration", scopes, None)
            .await?
            .1)
    }

    fn set_roles(&self, roles: Roles) {
        self.store.set_roles(self.user, roles);
    }
}

fn scopes(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn only_developers_create_keys() -> Result<(), TokenError> {
    let h = harness(0);
    let (_, mut actor) = h.login().await?;
    actor.account_roles = vec![AccountRole::Owner];
    assert!(matches!(
        h.service.create_api_key(&actor, "k", None, None).await,
        Err(TokenError::Forbidden(_))
    ));
    actor.account_roles = vec![AccountRole::Developer];
    assert!(
        h.service
            .create_api_key(&actor, "k", None, None)
            .await
            .is_ok()
    );
    Ok(())
}

#[tokio::test]
async fn an_unscoped_key_exchanges_for_content_and_reading_users_only() -> Result<(), TokenError> {
    let h = harness(0);
    h.set_roles(Roles {
        account: vec![AccountRole::Owner, AccountRole::Developer],
        workspaces: vec![(h.workspace, WorkspaceRole::Viewer)],
    });
    let key = h.new_key(None).await?;
    let tokens = h.service.exchange_api_key(&key, None, None).await?;
    let actor = h.service.authenticate(&tokens.access_token).await?;
    assert_eq!(actor.user_id, h.user);
    assert_eq!(actor.credential, kernel::CredentialKind::ApiKeySession);
    assert_eq!(actor.scope, kernel::DEFAULT_KEY_SCOPES);
    assert!(actor.can(Permission::UsersRead));
    for admin in [
        Permission::ApiKeysManage,
        Permission::UsersManage,
        Permission::AccountManage,
        Permission::AuditRead,
    ] {
        assert!(!actor.can(admin), "{admin}: an owner's unscoped key");
    }
    Ok(())
}

#[tokio::test]
async fn an_exchanged_key_yields_tokens_scoped_to_its_owner() -> Result<(), TokenError> {
    let h = harness(0);
    let key = h.new_key(None).await?;
    let tokens = h.service.exchange_api_key(&key, None, None).await?;
    let actor = h.service.authenticate(&tokens.access_token).await?;
    assert_eq!(actor.user_id, h.user);
    assert!(!actor.scope.contains(Permission::ApiKeysManage));
    assert!(
        actor.scope.contains(Permission::CustomersRead),
        "from the workspace role"
    );
    assert!(!actor.scope.contains(Permission::UsersManage));
    assert!(actor.can_in_workspace(h.workspace, Permission::CustomersRead));
    assert_eq!(
        h.store.events().last(),
        Some(&AuthEventKind::TokenExchanged)
    );
    Ok(())
}

#[tokio::test]
async fn requested_scopes_beyond_the_owner_are_forbidden() -> Result<(), TokenError> {
    let h = harness(0);
    let key = h.new_key(None).await?;
    let narrow = h
        .service
        .exchange_api_key(&key, Some(&scopes(&["customers:read"])), None)
        .await?;
    assert_eq!(narrow.scope, "customers:read");
    let beyond = h
        .service
        .exchange_api_key(&key, Some(&scopes(&["users:manage"])), None)
        .await;
    assert!(matches!(beyond, Err(TokenError::Forbidden(_))));
    let unknown = h
        .service
        .exchange_api_key(&key, Some(&scopes(&["root"])), None)
        .await;
    assert!(matches!(unknown, Err(TokenError::Validation(_))));
    Ok(())
}

#[tokio::test]
async fn a_narrowed_key_never_exchanges_for_more() -> Result<(), TokenError> {
    let h = harness(0);
    let key = h.new_key(Some(&scopes(&["customers:read"]))).await?;
    let tokens = h.service.exchange_api_key(&key, None, None).await?;
    assert_eq!(tokens.scope, "customers:read");
    let more = h
        .service
        .exchange_api_key(&key, Some(&scopes(&["api_keys:manage"])), None)
        .await;
    assert!(matches!(more, Err(TokenError::Forbidden(_))));
    Ok(())
}

#[tokio::test]
async fn wrong_malformed_and_unknown_keys_are_refused_and_audited() -> Result<(), TokenError> {
    let h = harness(0);
    let key = h.new_key(None).await?;
    let mut wrong = key.clone();
    wrong.pop();
    wrong.push(if key.ends_with('A') { 'B' } else { 'A' });
    for bad in [
        wrong.as_str(),
        "nonsense",
        "ns_live_0123456789abcdef0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        assert!(
            matches!(
                h.service.exchange_api_key(bad, None, None).await,
                Err(TokenError::Invalid(_))
            ),
            "{bad}"
        );
    }
    let failures = h
        .store
        .events()
        .iter()
        .filter(|k| **k == AuthEventKind::TokenExchangeFailed)
        .count();
    assert_eq!(failures, 3);
    Ok(())
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_session() -> Result<(), TokenError> {
    let h = harness(0);
    let key = h.new_key(None).await?;
    let first = h.service.exchange_api_key(&key, None, None).await?;
    let second = h.service.refresh(&first.refresh_token, None).await?;
    assert_ne!(second.refresh_token, first.refresh_token);
    assert!(h.service.authenticate(&second.access_token).await.is_ok());

    // The retired token again: theft. The session dies, with every token of it.
    let reused = h.service.refresh(&first.refresh_token, None).await;
    assert!(matches!(
        reused,
        Err(TokenError::Invalid("refresh token reused"))
    ));
    assert!(h.service.authenticate(&second.access_token).await.is_err());
    assert!(
        h.service
            .refresh(&second.refresh_token, None)
            .await
            .is_err()
    );
    assert!(
        h.store
            .events()
            .contains(&AuthEventKind::RefreshTokenReused)
    );
    Ok(())
}

#[tokio::test]
async fn an_overlap_window_forgives_an_immediate_retry() -> Result<(), TokenError> {
    let h = harness(10);
    let key = h.new_key(None).await?;
    let first = h.service.exchange_api_key(&key, None, None).await?;
    h.service.refresh(&first.refresh_token, None).await?;
    h.clock.advance(Duration::seconds(5));
    assert!(
        h.service.refresh(&first.refresh_token, None).await.is_ok(),
        "within the window"
    );
    h.clock.advance(Duration::seconds(10));
    assert!(
        h.service.refresh(&first.refresh_token, None).await.is_err(),
        "past the window"
    );
    Ok(())
}

#[tokio::test]
async fn deleting_a_key_stops_exchange_refresh_and_its_access_tokens() -> Result<(), TokenError> {
    let h = harness(0);
    let key = h.new_key(None).await?;
    let tokens = h.service.exchange_api_key(&key, None, None).await?;
    let (_, actor) = h.login().await?;
    let key_id = h
        .service
        .api_keys(&actor)
        .await?
        .first()
        .map(|k| k.key_id)
        .ok_or(TokenError::NotFound)?;
    h.service.delete_api_key(&actor, key_id, None).await?;
    assert!(h.service.exchange_api_key(&key, None, None).await.is_err());
    assert!(
        h.service
            .refresh(&tokens.refresh_token, None)
            .await
            .is_err()
    );
    assert!(h.service.authenticate(&tokens.access_token).await.is_err());
    assert!(matches!(
        h.service.delete_api_key(&actor, key_id, None).await,
        Err(TokenError::NotFound)
    ));
    Ok(())
}

#[tokio::test]
async fn a_demoted_developers_key_stops_at_exchange_and_refresh() -> Result<(), TokenError> {
    let h = harness(0);
    let key = h.new_key(None).await?;
    let tokens = h.service.exchange_api_key(&key, None, None).await?;
    h.set_roles(Roles {
        account: vec![AccountRole::Member],
        workspaces: Vec::new(),
    });
    assert!(h.service.exchange_api_key(&key, None, None).await.is_err());
    assert!(
        h.service
            .refresh(&tokens.refresh_token, None)
            .await
            .is_err()
    );
    assert!(h.service.authenticate(&tokens.access_token).await.is_err());
    Ok(())
}

#[tokio::test]
async fn a_removed_users_key_stops_at_exchange_and_refresh() -> Result<(), TokenError> {
    let h = harness(0);
    let key = h.new_key(None).await?;
    let tokens = h.service.exchange_api_key(&key, None, None).await?;
    h.store.remove_user(h.user);
    assert!(h.service.exchange_api_key(&key, None, None).await.is_err());
    assert!(
        h.service
            .refresh(&tokens.refresh_token, None)
            .await
            .is_err()
    );
    Ok(())
}

#[tokio::test]
async fn logout_revokes_access_and_refresh() -> Result<(), TokenError> {
    let h = harness(0);
    let (tokens, actor) = h.login().await?;
    h.service.logout(&actor, None).await?;
    assert!(h.service.authenticate(&tokens.access_token).await.is_err());
    assert!(
        h.service
            .refresh(&tokens.refresh_token, None)
            .await
            .is_err()
    );
    Ok(())
}

#[tokio::test]
async fn short_lived_tokens_are_their_own_kind() -> Result<(), TokenError> {
    let h = harness(0);
    let key = h.new_key(None).await?;
    let (token, expires_in) = h.service.short_lived_token(&key, 60, None).await?;
    assert_eq!(expires_in, 3600);
    let actor = h.service.authenticate(&token).await?;
    assert_eq!(actor.credential, kernel::CredentialKind::ShortLived);
    assert!(matches!(
        h.service.api_keys(&actor).await,
        Err(TokenError::CredentialNotAllowed(_))
    ));
    for bad in [0, -5, 1441] {
        assert!(matches!(
            h.service.short_lived_token(&key, bad, None).await,
            Err(TokenError::Validation(_))
        ));
    }
    h.clock.advance(Duration::minutes(61));
    assert!(h.service.authenticate(&token).await.is_err());
    Ok(())
}

#[tokio::test]
async fn client_auth_is_limited_per_key_and_per_ip() -> Result<(), TokenError> {
    let h = harness(0);
    let key = h.new_key(None).await?;
    let ip: Option<IpAddr> = "203.0.113.9".parse().ok();
    for _ in 0..5 {
        h.service.exchange_api_key(&key, None, ip).await?;
    }
    assert!(matches!(
        h.service.exchange_api_key(&key, None, ip).await,
        Err(TokenError::RateLimited { retry_after_secs }) if (1..=60).contains(&retry_after_secs)
    ));
    // The IP's own budget (8) is spent by any attempt, valid or not.
    let other = h.new_key(None).await?;
    h.service.exchange_api_key(&other, None, ip).await?;
    assert!(matches!(
        h.service.exchange_api_key("garbage", None, ip).await,
        Err(TokenError::Invalid(_))
    ));
    assert!(matches!(
        h.service.exchange_api_key("garbage", None, ip).await,
        Err(TokenError::RateLimited { .. })
    ));
    h.clock.advance(Duration::minutes(1));
    assert!(
        h.service.exchange_api_key(&key, None, ip).await.is_ok(),
        "a new window"
    );
    Ok(())
}

#[tokio::test]
async fn only_a_persons_session_manages_credentials() -> Result<(), TokenError> {
    let h = harness(0);
    let key = h.new_key(None).await?;
    let exchanged = h.service.exchange_api_key(&key, None, None).await?;
    let by_key = h.service.authenticate(&exchanged.access_token).await?;
    let (short, _) = h.service.short_lived_token(&key, 5, None).await?;
    let by_frontend = h.service.authenticate(&short).await?;
    for actor in [&by_key, &by_frontend] {
        assert!(matches!(
            h.service
                .create_api_key(actor, "backdoor", None, None)
                .await,
            Err(TokenError::CredentialNotAllowed(_))
        ));
        assert!(matches!(
            h.service.api_keys(actor).await,
            Err(TokenError::CredentialNotAllowed(_))
        ));
        assert!(matches!(
            h.service
                .delete_api_key(actor, uuid::Uuid::now_v7(), None)
                .await,
            Err(TokenError::CredentialNotAllowed(_))
        ));
        assert!(matches!(
            h.service.sessions(actor).await,
            Err(TokenError::CredentialNotAllowed(_))
        ));
        assert!(matches!(
            h.service.account_api_keys(actor).await,
            Err(TokenError::CredentialNotAllowed(_))
        ));
    }
    // Nor can a key be made to carry `api_keys:manage`.
    let (_, person) = h.login().await?;
    assert!(matches!(
        h.service
            .create_api_key(&person, "k", Some(&scopes(&["api_keys:manage"])), None)
            .await,
        Err(TokenError::Forbidden(_))
    ));
    Ok(())
}

#[tokio::test]
async fn refresh_never_extends_a_session() -> Result<(), TokenError> {
    let h = harness(0);
    let key = h.new_key(None).await?;
    let mut tokens = h.service.exchange_api_key(&key, None, None).await?;
    assert_eq!(tokens.refresh_expires_in, Duration::days(15).num_seconds());
    for day in 1..=14 {
        h.clock.advance(Duration::days(1));
        tokens = h.service.refresh(&tokens.refresh_token, None).await?;
        let left = Duration::days(15 - day).num_seconds();
        assert_eq!(tokens.refresh_expires_in, left, "day {day}");
        assert!(tokens.expires_in <= left, "day {day}");
    }
    h.clock.advance(Duration::days(1));
    assert!(
        h.service
            .refresh(&tokens.refresh_token, None)
            .await
            .is_err()
    );
    assert!(h.service.authenticate(&tokens.access_token).await.is_err());
    Ok(())
}

#[tokio::test]
async fn an_mfa_token_is_redeemed_once() -> Result<(), TokenError> {
    let h = harness(0);
    let token = h
        .service
        .mint_mfa_token(h.account, h.user, Duration::minutes(5))?;
    let ticket = h.service.verify_mfa_token(&token)?;
    assert_eq!(ticket.user_id, h.user);
    h.service.redeem_mfa_ticket(&ticket).await?;
    let again = h.service.verify_mfa_token(&token)?;
    assert!(matches!(
        h.service.redeem_mfa_ticket(&again).await,
        Err(TokenError::Invalid(_))
    ));
    // An MFA token is no bearer token.
    assert!(h.service.authenticate(&token).await.is_err());
    Ok(())
}

#[tokio::test]
async fn wrong_secrets_naming_a_key_do_not_lock_out_its_holder_elsewhere() -> Result<(), TokenError>
{
    let h = harness(0);
    let key = h.new_key(None).await?;
    let mut wrong = key.clone();
    wrong.pop();
    wrong.push(if key.ends_with('A') { 'B' } else { 'A' });
    let attacker: Option<IpAddr> = "203.0.113.66".parse().ok();
    let holder: Option<IpAddr> = "198.51.100.7".parse().ok();
    let mut limited = false;
    for _ in 0..10 {
        limited |= matches!(
            h.service.exchange_api_key(&wrong, None, attacker).await,
            Err(TokenError::RateLimited { .. })
        );
    }
    assert!(limited, "the attacker's address is limited");
    assert!(h.service.exchange_api_key(&key, None, holder).await.is_ok());
    Ok(())
}

#[tokio::test]
async fn administrators_see_and_revoke_every_key_of_the_account() -> Result<(), TokenError> {
    let h = harness(0);
    let key = h.new_key(None).await?;
    let exchanged = h.service.exchange_api_key(&key, None, None).await?;
    let (_, mut admin) = h.login().await?;
    // A developer alone (no users:manage) may not.
    assert!(matches!(
        h.service.account_api_keys(&admin).await,
        Err(TokenError::Forbidden(_))
    ));
    admin.account_roles = vec![AccountRole::Admin];
    let listed = h.service.account_api_keys(&admin).await?;
    assert_eq!(listed.len(), 1);
    h.service
        .revoke_account_api_key(&admin, listed[0].key_id, None)
        .await?;
    assert!(
        h.service
            .authenticate(&exchanged.access_token)
            .await
            .is_err()
    );
    assert!(h.service.exchange_api_key(&key, None, None).await.is_err());
    assert!(matches!(
        h.service
            .revoke_account_api_key(&admin, listed[0].key_id, None)
            .await,
        Err(TokenError::NotFound)
    ));
    Ok(())
}

#[tokio::test]
async fn a_person_lists_and_ends_their_sessions() -> Result<(), TokenError> {
    let h = harness(0);
    let (_, me) = h.login().await?;
    let (other, _) = h.login().await?;
    let key = h.new_key(None).await?;
    h.service.exchange_api_key(&key, None, None).await?;
    let listed = h.service.sessions(&me).await?;
    // Two sign-ins, the one `new_key` made, and the key exchange.
    assert_eq!(listed.len(), 4);
    let other_actor_session = h
        .service
        .authenticate(&other.access_token)
        .await?
        .session_id;
    h.service
        .end_session(&me, other_actor_session, None)
        .await?;
    assert!(h.service.authenticate(&other.access_token).await.is_err());
    assert!(matches!(
        h.service.end_session(&me, other_actor_session, None).await,
        Err(TokenError::SessionNotFound)
    ));
    Ok(())
}

#[tokio::test]
async fn disabled_keys_stay_disabled() -> Result<(), TokenError> {
    let h = harness(0);
    let key = h.new_key(None).await?;
    let tokens = h.service.exchange_api_key(&key, None, None).await?;
    assert_eq!(
        h.service
            .disable_user_api_keys(h.account, h.user, "the owner lost the developer role")
            .await?,
        1
    );
    // The role was never lost in this harness: the keys stay dead all the same.
    assert!(h.service.exchange_api_key(&key, None, None).await.is_err());
    assert!(
        h.service
            .refresh(&tokens.refresh_token, None)
            .await
            .is_err()
    );
    assert!(h.service.authenticate(&tokens.access_token).await.is_err());
    Ok(())
}

/// When and where the actor's own session was last seen, as listed.
async fn seen(
    h: &Harness,
    me: &Actor,
) -> Result<Option<(DateTime<Utc>, Option<std::net::IpAddr>)>, TokenError> {
    Ok(h.service
        .sessions(me)
        .await?
        .into_iter()
        .find(|s| s.id == me.session_id)
        .map(|s| (s.last_seen_at, s.ip)))
}

#[tokio::test]
async fn a_session_is_noted_seen_when_it_moves_and_else_once_a_minute() -> Result<(), TokenError> {
    let h = harness(0);
    let (tokens, me) = h.login().await?;
    let home: std::net::IpAddr = [203, 0, 113, 9].into();
    h.clock.advance(Duration::seconds(5));
    let mut tokens = h.service.refresh(&tokens.refresh_token, Some(home)).await?;
    let first = h.clock.now();
    assert_eq!(
        seen(&h, &me).await?,
        Some((first, Some(home))),
        "a new address"
    );

    h.clock.advance(Duration::seconds(30));
    tokens = h.service.refresh(&tokens.refresh_token, Some(home)).await?;
    assert_eq!(
        seen(&h, &me).await?,
        Some((first, Some(home))),
        "same place, too soon"
    );

    h.clock.advance(Duration::seconds(31));
    h.service.refresh(&tokens.refresh_token, Some(home)).await?;
    assert_eq!(
        seen(&h, &me).await?,
        Some((h.clock.now(), Some(home))),
        "a minute on"
    );
    Ok(())
}
