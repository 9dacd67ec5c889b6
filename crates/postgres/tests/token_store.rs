//! Sessions, refresh rotation, API keys and the revocation-aware cache on real Postgres: the
//! token service's rules over `PgTokenStore`, and what the store itself must guarantee
//! (atomic units of work, row locks, every instance hearing of a revocation).

#![allow(
    clippy::disallowed_methods,
    reason = "tests on real Postgres start from the real time and wait for other instances"
)]

mod support;

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{Duration, SubsecRound as _, Utc};
use identity::ports::{AccountStore as _, MembershipStore as _};
use kernel::Clock as _;
use kernel::{
    AccountId, AccountRole, Actor, AuthEvent, AuthEventKind, CredentialKind, ManualClock,
    PermissionSet, RateLimit, Roles, SessionId,
};
use postgres::{
    Db, InvalidationBus, PgAuditLog, PgIdentityStore, PgRateLimiter, PgTokenStore, SessionCache,
};
use support::{TestResult, database, new_account, signup_event};
use tokens::ports::TokenStore as _;
use tokens::{
    IssuedTokens, KeyRing, SessionKind, SigningKey, TokenError, TokenIssuer, TokenPolicy,
    TokenService, TokenSettings,
};

struct Instance {
    service: TokenService,
    store: Arc<PgTokenStore>,
}

/// A token service on `db` with its own session cache, as one server instance has.
fn instance(
    db: &Db,
    issuer: &Arc<TokenIssuer>,
    clock: &Arc<ManualClock>,
    session_max: Duration,
) -> Instance {
    instance_with_cache(
        db,
        issuer,
        clock,
        session_max,
        Arc::new(SessionCache::default()),
    )
}

fn instance_with_cache(
    db: &Db,
    issuer: &Arc<TokenIssuer>,
    clock: &Arc<ManualClock>,
    session_max: Duration,
    cache: Arc<SessionCache>,
) -> Instance {
    let store = Arc::new(PgTokenStore::new(db.clone(), cache));
    let service = TokenService::new(
        issuer.clone(),
        store.clone(),
        Arc::new(PgAuditLog::new(db.clone())),
        Arc::new(PgRateLimiter::new(db.clone())),
        clock.clone(),
        TokenPolicy {
            access_ttl: Duration::minutes(15),
            refresh_ttl: Duration::days(15).min(session_max),
            session_max,
            refresh_overlap: Duration::zero(),
            client_auth_per_key: RateLimit::per_minute(1000),
            client_auth_per_ip: RateLimit::per_minute(1000),
            ipv6_prefix: 64,
        },
    );
    Instance { service, store }
}

fn issuer() -> Result<Arc<TokenIssuer>, TokenError> {
    let key = SigningKey::generate()?;
    Ok(Arc::new(TokenIssuer::new(
        TokenSettings {
            issuer: "test".into(),
            audience: "test".into(),
            leeway: Duration::seconds(0),
        },
        KeyRing::new(&key, &[]),
    )))
}

fn clock() -> Arc<ManualClock> {
    // As precise as Postgres keeps time, so that what is read back compares equal.
    Arc::new(ManualClock::at(Utc::now().trunc_subsecs(6)))
}

struct Fixture {
    _database: testdb::TestDatabase,
    db: Db,
    identity: PgIdentityStore,
    issuer: Arc<TokenIssuer>,
    clock: Arc<ManualClock>,
    new: identity::models::NewAccount,
}

async fn fixture() -> Result<Fixture, Box<dyn std::error::Error + Send + Sync>> {
    let (database, db) = database().await?;
    let identity = PgIdentityStore::new(db.clone(), Default::default());
    let new = new_account("ada@example.com");
    identity.create_account(&new, &signup_event(&new)).await?;
    Ok(Fixture {
        _database: database,
        db,
        identity,
        issuer: issuer()?,
        clock: clock(),
        new,
    })
}

impl Fixture {
    fn instance(&self) -> Instance {
        instance(&self.db, &self.issuer, &self.clock, Duration::days(15))
    }

    async fn sign_in(&self, instance: &Instance) -> Result<(IssuedTokens, Actor), TokenError> {
        let event = AuthEvent::new(
            AuthEventKind::LoginSucceeded,
            self.clock.now(),
            Some((self.new.account.id, self.new.owner.id)),
            true,
        )
        .from_ip("203.0.113.5".parse().ok());
        let mut event = event;
        event.country = Some("NL".to_owned());
        let tokens = instance
            .service
            .start_session(
                SessionKind::Login,
                self.new.account.id,
                self.new.owner.id,
                PermissionSet::all(),
                None,
                event,
            )
            .await?;
        let actor = instance.service.authenticate(&tokens.access_token).await?;
        Ok((tokens, actor))
    }

    /// The owner's roles become `owner` and `roles` (the store writes exactly what it is given).
    async fn set_account_roles(&self, roles: &[AccountRole]) -> TestResult {
        let mut account = vec![AccountRole::Owner];
        account.extend_from_slice(roles);
        self.identity
            .set_roles(
                self.new.account.id,
                self.new.owner.id,
                &Roles {
                    account,
                    workspaces: Vec::new(),
                },
            )
            .await?;
        Ok(())
    }

    /// The account's owner as an administrator acting from a person's session.
    fn administrator(&self, account: AccountId) -> Actor {
        Actor {
            user_id: self.new.owner.id,
            account_id: account,
            session_id: SessionId::generate(),
            account_roles: vec![AccountRole::Owner],
            workspace_roles: Vec::new(),
            scope: PermissionSet::all(),
            credential: CredentialKind::HumanSession,
        }
    }
}

#[tokio::test]
async fn a_live_session_yields_roles_and_a_revoked_one_nothing() -> TestResult {
    let f = fixture().await?;
    let one = f.instance();
    let (tokens, actor) = f.sign_in(&one).await?;
    assert_eq!(actor.account_roles, vec![AccountRole::Owner]);
    assert_eq!(actor.credential, CredentialKind::HumanSession);

    let standing = one
        .store
        .session_standing(f.new.account.id, f.new.owner.id, actor.session_id)
        .await?
        .ok_or("the session is found")?;
    assert_eq!(standing.kind, SessionKind::Login);
    assert!(!standing.revoked);
    assert_eq!(standing.expires_at, f.clock.now() + Duration::days(15));
    let other = new_account("eve@example.com");
    assert!(
        one.store
            .session_standing(other.account.id, f.new.owner.id, actor.session_id)
            .await?
            .is_none(),
        "another account sees no such session"
    );

    one.service.logout(&actor, None).await?;
    assert!(
        one.service
            .authenticate(&tokens.access_token)
            .await
            .is_err()
    );
    assert!(
        one.store
            .session_standing(f.new.account.id, f.new.owner.id, actor.session_id)
            .await?
            .is_some_and(|s| s.revoked)
    );
    Ok(())
}

#[tokio::test]
async fn rotation_retires_the_token_and_reuse_revokes_the_session() -> TestResult {
    let f = fixture().await?;
    let one = f.instance();
    let (first, actor) = f.sign_in(&one).await?;

    let second = one.service.refresh(&first.refresh_token, None).await?;
    let rotated = one.service.authenticate(&second.access_token).await?;
    assert_eq!(rotated.session_id, actor.session_id);
    assert_eq!(rotated.account_roles, vec![AccountRole::Owner]);

    let reused = one.service.refresh(&first.refresh_token, None).await;
    assert!(matches!(
        reused,
        Err(TokenError::Invalid("refresh token reused"))
    ));
    assert!(
        one.service
            .authenticate(&second.access_token)
            .await
            .is_err()
    );
    assert!(
        one.service
            .refresh(&second.refresh_token, None)
            .await
            .is_err(),
        "the whole session is gone"
    );
    assert!(
        one.service.refresh("never-issued", None).await.is_err(),
        "an unknown token"
    );
    Ok(())
}

#[tokio::test]
async fn concurrent_uses_of_one_token_rotate_once() -> TestResult {
    let f = fixture().await?;
    let one = f.instance();
    let (first, _) = f.sign_in(&one).await?;
    let (ra, rb) = tokio::join!(
        one.service.refresh(&first.refresh_token, None),
        one.service.refresh(&first.refresh_token, None),
    );
    assert_eq!([ra.is_ok(), rb.is_ok()].iter().filter(|ok| **ok).count(), 1);
    Ok(())
}

#[tokio::test]
async fn keys_are_found_by_id_and_deleting_one_revokes_its_sessions() -> TestResult {
    let f = fixture().await?;
    let one = f.instance();
    let (_, owner) = f.sign_in(&one).await?;
    // Not a developer (yet): no key is stored.
    let refused = one
        .service
        .create_api_key(&owner, "early", None, None)
        .await;
    assert!(matches!(refused, Err(TokenError::Forbidden(_))));
    let administrator = f.administrator(f.new.account.id);
    assert!(
        one.service
            .account_api_keys(&administrator)
            .await?
            .is_empty()
    );

    f.set_account_roles(&[AccountRole::Developer]).await?;
    let (_, developer) = f.sign_in(&one).await?;
    let scopes = ["customers:read".to_owned()];
    let (key, plaintext) = one
        .service
        .create_api_key(&developer, "ci", Some(&scopes), None)
        .await?;
    assert_eq!(
        key.scopes,
        Some(PermissionSet::of(&[kernel::Permission::CustomersRead]))
    );
    let exchanged = one.service.exchange_api_key(&plaintext, None, None).await?;
    assert_eq!(exchanged.scope, "customers:read");
    let listed = one.service.api_keys(&developer).await?;
    assert!(
        listed[0].last_used_at.is_some(),
        "the exchange marks the key used"
    );

    one.service
        .delete_api_key(&developer, key.key_id, None)
        .await?;
    assert!(
        one.service
            .exchange_api_key(&plaintext, None, None)
            .await
            .is_err()
    );
    assert!(one.service.api_keys(&developer).await?.is_empty());
    assert!(
        one.service
            .authenticate(&exchanged.access_token)
            .await
            .is_err()
    );
    let again = one
        .service
        .delete_api_key(&developer, key.key_id, None)
        .await;
    assert!(matches!(again, Err(TokenError::NotFound)));
    Ok(())
}

#[tokio::test]
async fn a_revocation_on_one_instance_reaches_another_instances_cache() -> TestResult {
    let f = fixture().await?;
    // Two "instances": separate pools, separate caches, each listening on its own bus.
    let url = f._database.url().to_owned();
    let (cache_a, cache_b) = (
        Arc::new(SessionCache::default()),
        Arc::new(SessionCache::default()),
    );
    let listener_a =
        tokio::spawn(Arc::new(InvalidationBus::new(cache_a.clone())).listen(url.clone()));
    let listener_b =
        tokio::spawn(Arc::new(InvalidationBus::new(cache_b.clone())).listen(url.clone()));
    let db_b = Db::connect(&url, &postgres::PoolSettings::default())?;
    let a = instance_with_cache(&f.db, &f.issuer, &f.clock, Duration::days(15), cache_a);
    let b = instance_with_cache(&db_b, &f.issuer, &f.clock, Duration::days(15), cache_b);
    let (tokens, actor) = f.sign_in(&a).await?;
    tokio::time::sleep(StdDuration::from_millis(300)).await;

    // B caches the live session ...
    assert!(b.service.authenticate(&tokens.access_token).await.is_ok());
    assert!(b.service.authenticate(&tokens.access_token).await.is_ok());
    // ... A revokes it, and B refuses it within a second.
    a.service.logout(&actor, None).await?;
    let mut refused = false;
    for _ in 0..20 {
        if b.service.authenticate(&tokens.access_token).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    assert!(
        refused,
        "instance B still accepts a session instance A revoked"
    );
    listener_a.abort();
    listener_b.abort();
    Ok(())
}

/// A busy bucket is claimed a lease at a time: two instances together never let more than the
/// limit through, and refuse at most one lease each too early.
#[tokio::test]
async fn leased_limits_hold_across_instances() -> TestResult {
    use kernel::rate_limit::lease_size;
    use kernel::{RateLimiter, Verdict};
    let (database, db) = database().await?;
    let other = Db::connect(database.url(), &postgres::PoolSettings::default())?;
    let (a, b) = (PgRateLimiter::new(db), PgRateLimiter::new(other));
    let limit = RateLimit::per_minute(1000);
    let now = Utc::now();
    let mut allowed = 0;
    for i in 0..1300 {
        let limiter = if i % 3 == 0 { &a } else { &b };
        if limiter.hit("client-auth:key:k", limit, now).await? == Verdict::Allowed {
            allowed += 1;
        }
    }
    assert!(allowed <= 1000, "{allowed} let through");
    assert!(
        allowed + 2 * lease_size(limit) >= 1000,
        "{allowed} let through"
    );
    Ok(())
}

#[tokio::test]
async fn rate_limits_count_across_instances() -> TestResult {
    use kernel::{RateLimiter, Verdict};
    let (database, db) = database().await?;
    let other = Db::connect(database.url(), &postgres::PoolSettings::default())?;
    let (a, b) = (PgRateLimiter::new(db), PgRateLimiter::new(other));
    let limit = RateLimit::per_minute(3);
    let now = Utc::now();
    for limiter in [&a, &b, &a] {
        assert_eq!(
            limiter.hit("client-auth:ip:10.0.0.1", limit, now).await?,
            Verdict::Allowed
        );
    }
    assert!(matches!(
        b.hit("client-auth:ip:10.0.0.1", limit, now).await?,
        Verdict::Limited { retry_after_secs } if (1..=60).contains(&retry_after_secs)
    ));
    assert_eq!(
        a.hit("client-auth:ip:10.0.0.2", limit, now).await?,
        Verdict::Allowed,
        "buckets are apart"
    );
    let next_window = now + Duration::minutes(1);
    assert_eq!(
        a.hit("client-auth:ip:10.0.0.1", limit, next_window).await?,
        Verdict::Allowed
    );
    assert!(
        a.sweep(next_window + Duration::hours(2), Duration::hours(1))
            .await?
            >= 2
    );
    Ok(())
}

#[tokio::test]
async fn rotation_never_extends_the_session_and_notes_where_it_was_seen() -> TestResult {
    let f = fixture().await?;
    let short = instance(&f.db, &f.issuer, &f.clock, Duration::hours(1));
    let started = f.clock.now();
    let (first, actor) = f.sign_in(&short).await?;

    f.clock.advance(Duration::minutes(10));
    let seen_from = "198.51.100.4".parse()?;
    let second = short
        .service
        .refresh(&first.refresh_token, Some(seen_from))
        .await?;
    assert_eq!(
        second.refresh_expires_in,
        (Duration::minutes(50)).num_seconds(),
        "the session's end did not move"
    );
    let listed = short.service.sessions(&actor).await?;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].expires_at, started + Duration::hours(1));
    assert_eq!(listed[0].ip, Some(seen_from));
    assert_eq!(listed[0].country.as_deref(), Some("NL"));
    assert!(listed[0].last_seen_at > started);

    // The successor dies with its session.
    f.clock.advance(Duration::minutes(51));
    assert!(
        short
            .service
            .refresh(&second.refresh_token, None)
            .await
            .is_err()
    );
    Ok(())
}

#[tokio::test]
async fn an_mfa_token_is_redeemed_once() -> TestResult {
    let f = fixture().await?;
    let one = f.instance();
    let token =
        one.service
            .mint_mfa_token(f.new.account.id, f.new.owner.id, Duration::minutes(5))?;
    let ticket = one.service.verify_mfa_token(&token)?;
    let (a, b) = tokio::join!(
        one.service.redeem_mfa_ticket(&ticket),
        one.service.redeem_mfa_ticket(&ticket),
    );
    assert!(
        a.is_ok() ^ b.is_ok(),
        "exactly one of two concurrent redemptions wins"
    );
    assert!(one.service.redeem_mfa_ticket(&ticket).await.is_err());
    Ok(())
}

#[tokio::test]
async fn an_administrator_deletes_any_key_and_a_demotion_deletes_them_all() -> TestResult {
    let f = fixture().await?;
    let one = f.instance();
    f.set_account_roles(&[AccountRole::Developer]).await?;
    let (_, developer) = f.sign_in(&one).await?;
    let mut made = Vec::new();
    for name in ["ci", "billing", "crm"] {
        let (key, plaintext) = one
            .service
            .create_api_key(&developer, name, None, None)
            .await?;
        let exchanged = one.service.exchange_api_key(&plaintext, None, None).await?;
        made.push((key, plaintext, exchanged));
    }
    let administrator = f.administrator(f.new.account.id);
    assert_eq!(one.service.account_api_keys(&administrator).await?.len(), 3);
    let other = new_account("eve@example.com");
    f.identity
        .create_account(&other, &signup_event(&other))
        .await?;
    let foreign_administrator = f.administrator(other.account.id);
    assert!(
        one.service
            .account_api_keys(&foreign_administrator)
            .await?
            .is_empty()
    );

    // Another account's administrator cannot reach the key; this one's can.
    let (first, _, first_tokens) = &made[0];
    let foreign = one
        .service
        .revoke_account_api_key(&foreign_administrator, first.key_id, None)
        .await;
    assert!(matches!(foreign, Err(TokenError::NotFound)));
    one.service
        .revoke_account_api_key(&administrator, first.key_id, None)
        .await?;
    assert!(
        one.service
            .authenticate(&first_tokens.access_token)
            .await
            .is_err()
    );

    let disabled = one
        .service
        .disable_user_api_keys(
            f.new.account.id,
            f.new.owner.id,
            "the owner lost the developer role",
        )
        .await?;
    assert_eq!(disabled, 2);
    assert!(
        one.service
            .account_api_keys(&administrator)
            .await?
            .is_empty()
    );
    for (_, plaintext, tokens) in &made[1..] {
        assert!(
            one.service
                .exchange_api_key(plaintext, None, None)
                .await
                .is_err()
        );
        assert!(
            one.service
                .authenticate(&tokens.access_token)
                .await
                .is_err()
        );
    }
    assert_eq!(
        one.service
            .disable_user_api_keys(f.new.account.id, f.new.owner.id, "again")
            .await?,
        0
    );
    Ok(())
}

/// A key the cache holds (from its own account's exchange) is not handed to a unit of work of
/// another account, which row-level security would not show it to.
#[tokio::test]
async fn a_cached_key_stays_within_its_account() -> TestResult {
    use tokens::ports::Access;
    let f = fixture().await?;
    let cache = Arc::new(SessionCache::default());
    let listener = tokio::spawn(
        Arc::new(InvalidationBus::new(cache.clone())).listen(f._database.url().to_owned()),
    );
    let one = instance_with_cache(&f.db, &f.issuer, &f.clock, Duration::days(15), cache);
    // Until the listener is up nothing is cached, and this test would prove nothing.
    tokio::time::sleep(StdDuration::from_millis(300)).await;
    f.set_account_roles(&[AccountRole::Developer]).await?;
    let (_, developer) = f.sign_in(&one).await?;
    let (key, plaintext) = one
        .service
        .create_api_key(&developer, "ci", None, None)
        .await?;
    one.service.exchange_api_key(&plaintext, None, None).await?;
    let other = new_account("bob@example.com");
    f.identity
        .create_account(&other, &signup_event(&other))
        .await?;

    for (account, visible) in [(other.account.id, false), (f.new.account.id, true)] {
        let mut tx = one
            .store
            .begin(Access::Tenant {
                account,
                user: None,
            })
            .await?;
        assert_eq!(
            tx.api_key(key.key_id).await?.is_some(),
            visible,
            "{account}"
        );
        tx.commit().await?;
    }
    listener.abort();
    Ok(())
}
