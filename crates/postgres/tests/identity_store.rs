//! The identity store on real Postgres: each port contract in `identity::ports`.

mod support;

use chrono::{Duration, Utc};
use identity::ports::IdentityStore;
use identity::{AuthEvent, AuthEventKind};
use kernel::{AccountRole, PermissionSet, StoreError};
use postgres::PgIdentityStore;
use support::{TestResult, database, new_account, signup_event};
use tokens::{KeyRing, SessionKind, SigningKey, TokenIssuer, TokenSettings};

fn issuer() -> Result<TokenIssuer, tokens::TokenError> {
    let settings = TokenSettings {
        issuer: "test".into(),
        audience: "test".into(),
        access_ttl: Duration::minutes(15),
        refresh_ttl: Duration::days(15),
        leeway: Duration::seconds(30),
    };
    Ok(TokenIssuer::new(
        settings,
        KeyRing::new(&SigningKey::generate()?, &[]),
    ))
}

fn login_event(new: &identity::models::NewAccount) -> AuthEvent {
    AuthEvent {
        kind: AuthEventKind::LoginSucceeded,
        ip: Some("203.0.113.7".parse().unwrap_or_else(|e| panic!("{e}"))),
        ..signup_event(new)
    }
}

#[tokio::test]
async fn a_taken_email_is_a_duplicate_across_accounts() -> TestResult {
    let (_database, db) = database().await?;
    let store = PgIdentityStore::new(db);
    let first = new_account("ada@example.com");
    store.create_account(&first, &signup_event(&first)).await?;
    let second = new_account("ada@example.com");
    let result = store.create_account(&second, &signup_event(&second)).await;
    assert!(
        matches!(&result, Err(StoreError::Duplicate(name)) if name == "users_email_key"),
        "{result:?}"
    );
    // Nothing of the refused account was written.
    let found = store.find_credentials(&second.owner.email).await?;
    assert_eq!(found.map(|c| c.user.id), Some(first.owner.id));
    Ok(())
}

#[tokio::test]
async fn credentials_are_found_by_email_only() -> TestResult {
    let (_database, db) = database().await?;
    let store = PgIdentityStore::new(db);
    let new = new_account("ada@example.com");
    store.create_account(&new, &signup_event(&new)).await?;
    let found = store.find_credentials(&new.owner.email).await?;
    let found = found.ok_or("the user is found")?;
    assert_eq!(found.user, new.owner);
    assert_eq!(
        found.password_hash.as_deref(),
        Some(new.password_hash.as_str())
    );
    let missing = kernel::EmailAddress::parse("bob@example.com")?;
    assert!(store.find_credentials(&missing).await?.is_none());
    Ok(())
}

#[tokio::test]
async fn a_live_session_yields_roles_and_a_revoked_one_nothing() -> TestResult {
    let (_database, db) = database().await?;
    let store = PgIdentityStore::new(db.clone());
    let new = new_account("ada@example.com");
    store.create_account(&new, &signup_event(&new)).await?;
    let now = Utc::now();
    let (session, _) = issuer()?.start_session(
        SessionKind::Login,
        new.account.id,
        new.owner.id,
        PermissionSet::all(),
        now,
    )?;
    store.start_session(&session, &login_event(&new)).await?;

    let roles = store
        .live_session_roles(new.account.id, new.owner.id, session.id, now)
        .await?
        .ok_or("the session is live")?;
    assert_eq!(roles.account, vec![AccountRole::Owner]);

    // Past its expiry the session is dead.
    let later = session.expires_at + Duration::seconds(1);
    assert!(
        store
            .live_session_roles(new.account.id, new.owner.id, session.id, later)
            .await?
            .is_none()
    );

    // Revoked, it is dead at once.
    let mut tx = db.tenant(new.account.id, Some(new.owner.id)).await?;
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query("UPDATE sessions SET revoked_at = now()"),
        tx.conn(),
    )
    .await?;
    tx.commit().await?;
    assert!(
        store
            .live_session_roles(new.account.id, new.owner.id, session.id, now)
            .await?
            .is_none()
    );
    Ok(())
}

#[tokio::test]
async fn another_accounts_session_or_profile_is_not_found() -> TestResult {
    let (_database, db) = database().await?;
    let store = PgIdentityStore::new(db);
    let a = new_account("a@example.com");
    let b = new_account("b@example.com");
    store.create_account(&a, &signup_event(&a)).await?;
    store.create_account(&b, &signup_event(&b)).await?;
    let now = Utc::now();
    let (session, _) = issuer()?.start_session(
        SessionKind::Login,
        b.account.id,
        b.owner.id,
        PermissionSet::all(),
        now,
    )?;
    store.start_session(&session, &login_event(&b)).await?;

    // Claims naming account A with B's user and session find nothing.
    assert!(
        store
            .live_session_roles(a.account.id, b.owner.id, session.id, now)
            .await?
            .is_none()
    );
    assert!(matches!(
        store.profile(a.account.id, b.owner.id).await,
        Err(StoreError::NotFound)
    ));
    let (user, account) = store.profile(b.account.id, b.owner.id).await?;
    assert_eq!((user.id, account.id), (b.owner.id, b.account.id));
    Ok(())
}

#[tokio::test]
async fn events_of_unknown_users_are_recorded_outside_every_account() -> TestResult {
    let (_database, db) = database().await?;
    let store = PgIdentityStore::new(db.clone());
    let event = AuthEvent {
        id: uuid::Uuid::now_v7(),
        account_id: None,
        at: Utc::now(),
        kind: AuthEventKind::LoginFailed,
        user_id: None,
        ip: None,
        success: false,
        reason: Some("unknown email"),
    };
    store.record_event(&event).await?;
    let mut tx = db.system().await?;
    let count: i64 = diesel_async::RunQueryDsl::get_result(
        diesel::QueryDsl::count(postgres::schema::auth_events::table),
        tx.conn(),
    )
    .await?;
    tx.commit().await?;
    assert_eq!(count, 1);
    Ok(())
}
