//! Sessions, refresh rotation, API keys and the revocation-aware cache on real Postgres.
#![allow(
    clippy::disallowed_methods,
    reason = "tests start from the real time, or wait for it"
)]

mod support;

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use identity::ports::IdentityStore;
use kernel::{AccountRole, AuthEvent, AuthEventKind, PermissionSet, SessionId, StoreError};
use postgres::{PgApiKeyStore, PgIdentityStore, PgSessionStore, SessionCache};
use support::{TestResult, database, new_account, signup_event};
use tokens::ports::{ApiKeyStore, NewApiKey, RefreshRotation, Rotation, SessionStore};
use tokens::{ApiKey, NewSession, RefreshToken, SessionKind};

fn session(new: &identity::models::NewAccount, refresh: &RefreshToken) -> NewSession {
    // As precise as Postgres keeps it, so that what is read back compares equal.
    let now = chrono::SubsecRound::trunc_subsecs(Utc::now(), 6);
    NewSession {
        id: SessionId::generate(),
        account_id: new.account.id,
        user_id: new.owner.id,
        kind: SessionKind::Login,
        scope: PermissionSet::all().to_scope_string(),
        api_key_id: None,
        created_at: now,
        expires_at: now + Duration::days(15),
        refresh_token_digest: Some(refresh.digest),
        refresh_expires_at: now + Duration::days(15),
        ip: Some(
            "203.0.113.5"
                .parse()
                .unwrap_or(std::net::Ipv4Addr::LOCALHOST.into()),
        ),
        country: Some("NL".to_owned()),
    }
}

fn event(new: &identity::models::NewAccount) -> AuthEvent {
    AuthEvent::new(
        AuthEventKind::LoginSucceeded,
        Utc::now(),
        Some((new.account.id, new.owner.id)),
        true,
    )
}

fn rotation(presented: &RefreshToken, successor: &RefreshToken) -> RefreshRotation {
    let now = Utc::now();
    RefreshRotation {
        presented: presented.digest,
        successor: successor.digest,
        now,
        successor_expires_at: now + Duration::days(15),
        overlap: Duration::zero(),
        ip: None,
    }
}

#[tokio::test]
async fn a_live_session_yields_roles_and_a_revoked_one_nothing() -> TestResult {
    let (_database, db) = database().await?;
    let identity = PgIdentityStore::new(db.clone(), Default::default());
    let sessions = PgSessionStore::new(db.clone(), Arc::new(SessionCache::default()));
    let new = new_account("ada@example.com");
    identity.create_account(&new, &signup_event(&new)).await?;
    let refresh = RefreshToken::generate()?;
    let s = session(&new, &refresh);
    sessions.start_session(&s, &event(&new)).await?;

    let now = Utc::now();
    let roles = sessions
        .live_session(new.account.id, new.owner.id, s.id, now)
        .await?
        .ok_or("the session is live")?;
    assert_eq!(roles.roles.account, vec![AccountRole::Owner]);
    assert_eq!(roles.kind, SessionKind::Login);
    let later = s.expires_at + Duration::seconds(1);
    assert!(
        sessions
            .live_session(new.account.id, new.owner.id, s.id, later)
            .await?
            .is_none()
    );
    let other = new_account("eve@example.com");
    assert!(
        sessions
            .live_session(other.account.id, new.owner.id, s.id, now)
            .await?
            .is_none()
    );

    sessions
        .revoke_session(new.account.id, s.id, "logout", &event(&new))
        .await?;
    assert!(
        sessions
            .live_session(new.account.id, new.owner.id, s.id, now)
            .await?
            .is_none()
    );
    Ok(())
}

#[tokio::test]
async fn rotation_retires_the_token_and_reuse_revokes_the_session() -> TestResult {
    let (_database, db) = database().await?;
    let identity = PgIdentityStore::new(db.clone(), Default::default());
    let sessions = PgSessionStore::new(db.clone(), Arc::new(SessionCache::default()));
    let new = new_account("ada@example.com");
    identity.create_account(&new, &signup_event(&new)).await?;
    let first = RefreshToken::generate()?;
    let s = session(&new, &first);
    sessions.start_session(&s, &event(&new)).await?;

    let second = RefreshToken::generate()?;
    let Rotation::Rotated(grant) = sessions
        .rotate_refresh_token(&rotation(&first, &second))
        .await?
    else {
        panic!("the current token rotates");
    };
    assert_eq!(grant.session_id, s.id);
    assert_eq!(grant.roles.account, vec![AccountRole::Owner]);

    let third = RefreshToken::generate()?;
    let reused = sessions
        .rotate_refresh_token(&rotation(&first, &third))
        .await?;
    assert!(matches!(reused, Rotation::Reused { session_id, .. } if session_id == s.id));
    assert!(
        sessions
            .live_session(new.account.id, new.owner.id, s.id, Utc::now())
            .await?
            .is_none()
    );
    let after = sessions
        .rotate_refresh_token(&rotation(&second, &third))
        .await?;
    assert!(
        matches!(after, Rotation::Invalid),
        "the whole session is gone"
    );

    let unknown = RefreshToken::generate()?;
    assert!(matches!(
        sessions
            .rotate_refresh_token(&rotation(&unknown, &third))
            .await?,
        Rotation::Invalid
    ));
    Ok(())
}

#[tokio::test]
async fn concurrent_uses_of_one_token_rotate_once() -> TestResult {
    let (_database, db) = database().await?;
    let identity = PgIdentityStore::new(db.clone(), Default::default());
    let sessions = PgSessionStore::new(db.clone(), Arc::new(SessionCache::default()));
    let new = new_account("ada@example.com");
    identity.create_account(&new, &signup_event(&new)).await?;
    let first = RefreshToken::generate()?;
    sessions
        .start_session(&session(&new, &first), &event(&new))
        .await?;
    let (a, b) = (RefreshToken::generate()?, RefreshToken::generate()?);
    let (to_a, to_b) = (rotation(&first, &a), rotation(&first, &b));
    let (ra, rb) = tokio::join!(
        sessions.rotate_refresh_token(&to_a),
        sessions.rotate_refresh_token(&to_b),
    );
    let rotated = [ra?, rb?]
        .iter()
        .filter(|r| matches!(r, Rotation::Rotated(_)))
        .count();
    assert_eq!(rotated, 1);
    Ok(())
}

#[tokio::test]
async fn keys_are_found_by_id_and_deleting_one_revokes_its_sessions() -> TestResult {
    let (_database, db) = database().await?;
    let identity = PgIdentityStore::new(db.clone(), Default::default());
    let sessions = PgSessionStore::new(db.clone(), Arc::new(SessionCache::default()));
    let keys = PgApiKeyStore::new(db.clone(), Default::default());
    let new = new_account("ada@example.com");
    identity.create_account(&new, &signup_event(&new)).await?;
    let key = ApiKey {
        key_id: uuid::Uuid::now_v7(),
        account_id: new.account.id,
        user_id: new.owner.id,
        name: "early".into(),
        scopes: None,
        created_at: Utc::now(),
        last_used_at: None,
    };
    // Not a developer (yet): no key is stored.
    let refused = keys
        .create_api_key(
            &NewApiKey {
                key,
                secret_digest: [7; 32],
            },
            &event(&new),
        )
        .await;
    assert!(matches!(refused, Err(StoreError::NotFound)));
    assert!(keys.account_api_keys(new.account.id).await?.is_empty());
    make_developer(&identity, &new).await?;
    let key = ApiKey {
        key_id: uuid::Uuid::now_v7(),
        account_id: new.account.id,
        user_id: new.owner.id,
        name: "ci".into(),
        scopes: Some(PermissionSet::of(&[kernel::Permission::CustomersRead])),
        created_at: Utc::now(),
        last_used_at: None,
    };
    keys.create_api_key(
        &NewApiKey {
            key: key.clone(),
            secret_digest: [7; 32],
        },
        &event(&new),
    )
    .await?;
    let found = keys
        .key_credentials(key.key_id)
        .await?
        .ok_or("found by id")?;
    assert_eq!(found.key.scopes, key.scopes);
    assert_eq!(found.secret_digest, vec![7; 32]);
    assert!(found.owner_roles.account.contains(&AccountRole::Developer));

    let refresh = RefreshToken::generate()?;
    let mut s = session(&new, &refresh);
    s.kind = SessionKind::ApiKey;
    s.api_key_id = Some(key.key_id);
    sessions.start_session(&s, &event(&new)).await?;
    let listed = keys.api_keys(new.account.id, new.owner.id).await?;
    assert!(
        listed[0].last_used_at.is_some(),
        "the exchange marks the key used"
    );

    keys.delete_api_key(
        new.account.id,
        Some(new.owner.id),
        key.key_id,
        "deleted by its owner",
        &event(&new),
    )
    .await?;
    assert!(keys.key_credentials(key.key_id).await?.is_none());
    assert!(
        keys.api_keys(new.account.id, new.owner.id)
            .await?
            .is_empty()
    );
    assert!(
        sessions
            .live_session(new.account.id, new.owner.id, s.id, Utc::now())
            .await?
            .is_none()
    );
    let again = keys
        .delete_api_key(
            new.account.id,
            Some(new.owner.id),
            key.key_id,
            "deleted by its owner",
            &event(&new),
        )
        .await;
    assert!(matches!(again, Err(StoreError::NotFound)));
    Ok(())
}

#[tokio::test]
async fn a_revocation_on_one_instance_reaches_another_instances_cache() -> TestResult {
    let (database, db) = database().await?;
    let identity = PgIdentityStore::new(db.clone(), Default::default());
    // Two "instances": separate pools, separate caches, each listening.
    let cache_a = Arc::new(SessionCache::default());
    let cache_b = Arc::new(SessionCache::default());
    let listener_a = tokio::spawn(cache_a.clone().listen(database.url().to_owned()));
    let listener_b = tokio::spawn(cache_b.clone().listen(database.url().to_owned()));
    let db_b = postgres::Db::connect(database.url(), &postgres::PoolSettings::default())?;
    let a = PgSessionStore::new(db.clone(), cache_a);
    let b = PgSessionStore::new(db_b, cache_b);

    let new = new_account("ada@example.com");
    identity.create_account(&new, &signup_event(&new)).await?;
    let s = session(&new, &RefreshToken::generate()?);
    a.start_session(&s, &event(&new)).await?;
    tokio::time::sleep(StdDuration::from_millis(300)).await;

    // B caches the live session ...
    let now = Utc::now();
    assert!(
        b.live_session(new.account.id, new.owner.id, s.id, now)
            .await?
            .is_some()
    );
    assert!(
        b.live_session(new.account.id, new.owner.id, s.id, now)
            .await?
            .is_some()
    );
    // ... A revokes it, and B refuses it within a second.
    a.revoke_session(new.account.id, s.id, "logout", &event(&new))
        .await?;
    let mut refused = false;
    for _ in 0..20 {
        if b.live_session(new.account.id, new.owner.id, s.id, now)
            .await?
            .is_none()
        {
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

#[tokio::test]
async fn rate_limits_count_across_instances() -> TestResult {
    use kernel::{RateLimit, RateLimiter, Verdict};
    let (database, db) = database().await?;
    let other = postgres::Db::connect(database.url(), &postgres::PoolSettings::default())?;
    let (a, b) = (
        postgres::PgRateLimiter::new(db),
        postgres::PgRateLimiter::new(other),
    );
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
    let (_database, db) = database().await?;
    let identity = PgIdentityStore::new(db.clone(), Default::default());
    let sessions = PgSessionStore::new(db.clone(), Arc::new(SessionCache::default()));
    let new = new_account("ada@example.com");
    identity.create_account(&new, &signup_event(&new)).await?;
    let first = RefreshToken::generate()?;
    let mut s = session(&new, &first);
    s.expires_at = s.created_at + Duration::hours(1);
    s.refresh_expires_at = s.expires_at;
    sessions.start_session(&s, &event(&new)).await?;

    let second = RefreshToken::generate()?;
    let mut turn = rotation(&first, &second);
    turn.ip = Some("198.51.100.4".parse()?);
    let Rotation::Rotated(grant) = sessions.rotate_refresh_token(&turn).await? else {
        panic!("the current token rotates");
    };
    assert_eq!(
        grant.expires_at, s.expires_at,
        "the session's end did not move"
    );
    let listed = sessions
        .user_sessions(new.account.id, new.owner.id, Utc::now())
        .await?;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].expires_at, s.expires_at);
    assert_eq!(listed[0].ip, turn.ip);
    assert_eq!(listed[0].country.as_deref(), Some("NL"));
    assert!(listed[0].last_seen_at >= s.created_at);

    // The successor dies with its session, though it asked for 15 days.
    let third = RefreshToken::generate()?;
    let mut late = rotation(&second, &third);
    late.now = s.expires_at + Duration::seconds(1);
    assert!(matches!(
        sessions.rotate_refresh_token(&late).await?,
        Rotation::Invalid
    ));
    Ok(())
}

#[tokio::test]
async fn an_mfa_token_is_redeemed_once() -> TestResult {
    let (_database, db) = database().await?;
    let identity = PgIdentityStore::new(db.clone(), Default::default());
    let sessions = PgSessionStore::new(db.clone(), Arc::new(SessionCache::default()));
    let new = new_account("ada@example.com");
    identity.create_account(&new, &signup_event(&new)).await?;
    let token = uuid::Uuid::now_v7();
    let expires = Utc::now() + Duration::minutes(5);
    let (a, b) = tokio::join!(
        sessions.redeem_mfa_token(new.account.id, new.owner.id, token, expires),
        sessions.redeem_mfa_token(new.account.id, new.owner.id, token, expires),
    );
    assert!(a? ^ b?, "exactly one of two concurrent redemptions wins");
    assert!(
        !sessions
            .redeem_mfa_token(new.account.id, new.owner.id, token, expires)
            .await?
    );
    Ok(())
}

#[tokio::test]
async fn an_administrator_deletes_any_key_and_a_demotion_deletes_them_all() -> TestResult {
    let (_database, db) = database().await?;
    let identity = PgIdentityStore::new(db.clone(), Default::default());
    let cache = Arc::new(SessionCache::default());
    let sessions = PgSessionStore::new(db.clone(), cache.clone());
    let keys = PgApiKeyStore::new(db.clone(), cache);
    let new = new_account("ada@example.com");
    identity.create_account(&new, &signup_event(&new)).await?;
    make_developer(&identity, &new).await?;
    let mut made = Vec::new();
    for name in ["ci", "billing", "crm"] {
        let key = ApiKey {
            key_id: uuid::Uuid::now_v7(),
            account_id: new.account.id,
            user_id: new.owner.id,
            name: name.to_owned(),
            scopes: None,
            created_at: Utc::now(),
            last_used_at: None,
        };
        keys.create_api_key(
            &NewApiKey {
                key: key.clone(),
                secret_digest: [9; 32],
            },
            &event(&new),
        )
        .await?;
        let refresh = RefreshToken::generate()?;
        let mut s = session(&new, &refresh);
        s.kind = SessionKind::ApiKey;
        s.api_key_id = Some(key.key_id);
        sessions.start_session(&s, &event(&new)).await?;
        made.push((key, s));
    }
    assert_eq!(keys.account_api_keys(new.account.id).await?.len(), 3);
    let other = new_account("eve@example.com");
    identity
        .create_account(&other, &signup_event(&other))
        .await?;
    assert!(keys.account_api_keys(other.account.id).await?.is_empty());

    // Another account's administrator cannot reach the key; this one's can.
    let (first, first_session) = &made[0];
    let foreign = keys
        .delete_api_key(
            other.account.id,
            None,
            first.key_id,
            "deleted by an account administrator",
            &event(&other),
        )
        .await;
    assert!(matches!(foreign, Err(StoreError::NotFound)));
    keys.delete_api_key(
        new.account.id,
        None,
        first.key_id,
        "deleted by an account administrator",
        &event(&new),
    )
    .await?;
    assert!(
        sessions
            .live_session(new.account.id, new.owner.id, first_session.id, Utc::now())
            .await?
            .is_none()
    );

    let disabled = keys
        .delete_user_api_keys(
            new.account.id,
            new.owner.id,
            "the owner lost the developer role",
            &event(&new),
        )
        .await?;
    assert_eq!(disabled, 2);
    assert!(keys.account_api_keys(new.account.id).await?.is_empty());
    for (key, s) in &made[1..] {
        assert!(keys.key_credentials(key.key_id).await?.is_none());
        assert!(
            sessions
                .live_session(new.account.id, new.owner.id, s.id, Utc::now())
                .await?
                .is_none()
        );
    }
    assert_eq!(
        keys.delete_user_api_keys(new.account.id, new.owner.id, "again", &event(&new))
            .await?,
        0
    );
    Ok(())
}

async fn make_developer(
    identity: &PgIdentityStore,
    new: &identity::models::NewAccount,
) -> TestResult {
    identity
        .set_roles(
            new.account.id,
            new.owner.id,
            &kernel::Roles {
                account: vec![AccountRole::Developer],
                workspaces: Vec::new(),
            },
        )
        .await?;
    Ok(())
}
