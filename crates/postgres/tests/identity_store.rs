//! The identity store on real Postgres: each port contract in `identity::ports`.
#![allow(
    clippy::disallowed_methods,
    reason = "tests start from the real time, or wait for it"
)]

mod support;

use chrono::{SubsecRound as _, Utc};
use identity::models::{CodeKind, NewCode, SignInFailures};
use identity::ports::{AccountStore, PendingCodes, SignInGuard};
use kernel::{AuditLog, AuthEvent, AuthEventKind, StoreError, UserId};
use postgres::{PgAuditLog, PgIdentityStore};
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
    let audit = PgAuditLog::new(db.clone());
    let event = AuthEvent::new(AuthEventKind::LoginFailed, Utc::now(), None, false)
        .because("unknown email");
    audit.record(&event).await?;
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

fn code_for(new: &identity::models::NewAccount, kind: CodeKind, digest: u8) -> NewCode {
    let now = Utc::now().trunc_subsecs(6);
    NewCode {
        kind,
        user_id: new.owner.id,
        account_id: new.account.id,
        code_digest: [digest; 32],
        created_at: now,
        expires_at: now + chrono::Duration::minutes(15),
    }
}

fn sealed_email(
    to: &kernel::EmailAddress,
) -> Result<kernel::SealedEmail, Box<dyn std::error::Error + Send + Sync>> {
    let key = kernel::SealingKey::from_bytes(&[7; 32])?;
    Ok(kernel::OutgoingEmail {
        to: to.clone(),
        subject: "A code".into(),
        body: "Code: 1234".into(),
    }
    .seal(&key)?)
}

#[tokio::test]
async fn every_kind_of_code_is_stored_found_and_used_in_one_shape() -> TestResult {
    let (_database, db) = database().await?;
    let store = PgIdentityStore::new(db, Default::default());
    let new = new_account("ada@example.com");
    store.create_account(&new, &signup_event(&new)).await?;
    let (account, user) = (new.account.id, new.owner.id);
    for kind in [
        CodeKind::Invitation,
        CodeKind::PasswordReset,
        CodeKind::EmailVerification,
    ] {
        let code = code_for(&new, kind, 1);
        store
            .issue(&code, &sealed_email(&new.owner.email)?, None)
            .await?;
        // A second code replaces the first.
        let code = code_for(&new, kind, 2);
        store
            .issue(&code, &sealed_email(&new.owner.email)?, None)
            .await?;
        let found = store.find(kind, &new.owner.email).await?;
        if kind == CodeKind::EmailVerification {
            assert!(
                found.is_none(),
                "a verification code is not found anonymously"
            );
        } else {
            let found = found.ok_or("no code found")?;
            assert_eq!(found.code_digest, vec![2; 32]);
            assert_eq!(found.user.id, user);
            assert!(!found.used);
        }
        let mut tx = store.begin_redemption(kind, account, user).await?;
        let held = tx.code().await?.ok_or("no code held")?;
        assert_eq!((held.code_digest, held.used), (vec![2; 32], false));
        assert_eq!(held.expires_at, code.expires_at);
        tx.mark_used(Utc::now()).await?;
        tx.commit().await?;
        let mut tx = store.begin_redemption(kind, account, user).await?;
        let after = tx.code().await?;
        tx.commit().await?;
        match kind {
            CodeKind::EmailVerification => assert!(after.is_none(), "used up"),
            _ => assert!(after.is_some_and(|c| c.used), "{kind:?} marked used"),
        }
    }
    Ok(())
}

#[tokio::test]
async fn the_sign_in_counters_are_kept_only_when_committed() -> TestResult {
    let (_database, db) = database().await?;
    let store = PgIdentityStore::new(db, Default::default());
    let new = new_account("ada@example.com");
    store.create_account(&new, &signup_event(&new)).await?;
    let (account, user) = (new.account.id, new.owner.id);
    let locked_until = Some(Utc::now().trunc_subsecs(6));
    let mut tx = store.begin_guard(account, user).await?;
    assert_eq!(tx.failures().await?, SignInFailures::default());
    tx.set_failures(&SignInFailures {
        signins: 3,
        validations: 1,
        locked_until,
    })
    .await?;
    drop(tx);
    let found = store
        .find_credentials(&new.owner.email)
        .await?
        .ok_or("no user")?;
    assert_eq!(found.failed_signin_attempts, 0, "dropped: rolled back");
    let mut tx = store.begin_guard(account, user).await?;
    tx.set_failures(&SignInFailures {
        signins: 3,
        validations: 1,
        locked_until,
    })
    .await?;
    tx.commit().await?;
    let found = store
        .find_credentials(&new.owner.email)
        .await?
        .ok_or("no user")?;
    assert_eq!(
        (found.failed_signin_attempts, found.locked_until),
        (3, locked_until)
    );
    let mut tx = store.begin_guard(account, UserId::generate()).await?;
    assert!(matches!(tx.failures().await, Err(StoreError::NotFound)));
    Ok(())
}
