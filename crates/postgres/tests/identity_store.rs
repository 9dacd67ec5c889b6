//! The identity store on real Postgres: each port contract in `identity::ports`.
#![allow(
    clippy::disallowed_methods,
    reason = "tests start from the real time, or wait for it"
)]

mod support;

use chrono::Utc;
use identity::ports::IdentityStore;
use kernel::{AuthEvent, AuthEventKind, StoreError};
use postgres::PgIdentityStore;
use support::{TestResult, database, new_account, signup_event};

#[tokio::test]
async fn a_taken_email_is_a_duplicate_across_accounts() -> TestResult {
    let (_database, db) = database().await?;
    let store = PgIdentityStore::new(db, Default::default());
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
    let store = PgIdentityStore::new(db, Default::default());
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
async fn another_accounts_profile_is_not_found() -> TestResult {
    let (_database, db) = database().await?;
    let store = PgIdentityStore::new(db, Default::default());
    let a = new_account("a@example.com");
    let b = new_account("b@example.com");
    store.create_account(&a, &signup_event(&a)).await?;
    store.create_account(&b, &signup_event(&b)).await?;
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
    let store = PgIdentityStore::new(db.clone(), Default::default());
    let event = AuthEvent::new(AuthEventKind::LoginFailed, Utc::now(), None, false)
        .because("unknown email");
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
