//! The token model on in-memory fakes: exchange, scopes, refresh rotation and reuse, revocation.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use kernel::{ManualClock, WorkspaceId, WorkspaceRole};

use super::*;
use crate::issuer::TokenSettings;
use crate::keys::{KeyRing, SigningKey};
use crate::testing::{MemoryRateLimiter, MemoryTokenStore as Memory};

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
            refresh_overlap: Duration::seconds(overlap_secs),
            client_auth_per_key: RateLimit::per_minute(5),
            client_auth_per_ip: RateLimit::per_minute(8),
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
        let actor = self
            .service
            .authenticate(&tokens.access_token, Accept::AccessOnly)
            .await?;
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
async fn an_exchanged_key_yields_tokens_scoped_to_its_owner() -> Result<(), TokenError> {
    let h = harness(0);
    let key = h.new_key(None).await?;
    let tokens = h.service.exchange_api_key(&key, None, None).await?;
    let actor = h
        .service
        .authenticate(&tokens.access_token, Accept::AccessOnly)
        .await?;
    assert_eq!(actor.user_id, h.user);
    assert!(actor.scope.contains(Permission::ApiKeysManage));
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
    assert!(
        h.service
            .authenticate(&second.access_token, Accept::AccessOnly)
            .await
            .is_ok()
    );

    // The retired token again: theft. The session dies, with every token of it.
    let reused = h.service.refresh(&first.refresh_token, None).await;
    assert!(matches!(
        reused,
        Err(TokenError::Invalid("refresh token reused"))
    ));
    assert!(
        h.service
            .authenticate(&second.access_token, Accept::AccessOnly)
            .await
            .is_err()
    );
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
    assert!(
        h.service
            .authenticate(&tokens.access_token, Accept::AccessOnly)
            .await
            .is_err()
    );
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
    assert!(
        h.service
            .authenticate(&tokens.access_token, Accept::AccessOnly)
            .await
            .is_err()
    );
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
    assert!(
        h.service
            .authenticate(&tokens.access_token, Accept::AccessOnly)
            .await
            .is_err()
    );
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
    assert!(
        h.service
            .authenticate(&token, Accept::AccessOrShortLived)
            .await
            .is_ok()
    );
    assert!(
        h.service
            .authenticate(&token, Accept::AccessOnly)
            .await
            .is_err()
    );
    for bad in [0, -5, 1441] {
        assert!(matches!(
            h.service.short_lived_token(&key, bad, None).await,
            Err(TokenError::Validation(_))
        ));
    }
    h.clock.advance(Duration::minutes(61));
    assert!(
        h.service
            .authenticate(&token, Accept::AccessOrShortLived)
            .await
            .is_err()
    );
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
