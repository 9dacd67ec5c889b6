//! The outbox: a message enqueued with its change is delivered at least once, retried with
//! backoff, redelivered when its worker died mid-delivery, and never again once delivered.
#![allow(
    clippy::disallowed_methods,
    reason = "a test of claims that lapse in real time"
)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{SubsecRound as _, Utc};
use identity::models::{CodeKind, Member, NewCode};
use identity::ports::{AccountStore, MembershipStore};
use kernel::{
    Clock, EmailAddress, MailError, Mailer, OutboxDelivery, OutboxSettings, OutgoingEmail, Roles,
    SealingKey, UserId,
};
use postgres::{Db, PgIdentityStore, PgOutbox};
use support::{TestResult, database, new_account, signup_event};
use uuid::Uuid;

/// Records what it is asked to send; fails the first `fail_first` attempts (temporarily), or
/// hangs forever (a worker that dies mid-delivery).
#[derive(Default)]
struct FakeMailer {
    sent: Mutex<Vec<Uuid>>,
    fail_first: Mutex<u32>,
    hang: bool,
}

#[async_trait]
impl Mailer for FakeMailer {
    async fn send(&self, id: Uuid, _email: &OutgoingEmail) -> Result<(), MailError> {
        if self.hang {
            std::future::pending::<()>().await;
        }
        let mut fail = self
            .fail_first
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *fail > 0 {
            *fail -= 1;
            return Err(MailError {
                message: "451 try again later".into(),
                permanent: false,
            });
        }
        self.sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(id);
        Ok(())
    }
}

impl FakeMailer {
    fn sent(&self) -> Vec<Uuid> {
        self.sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

fn test_key() -> kernel::SealingKey {
    kernel::SealingKey::from_bytes(&[5; 32]).unwrap_or_else(|e| panic!("{e}"))
}

/// The real clock: claims lapse while the test waits.
struct WallClock;

impl Clock for WallClock {
    fn now(&self) -> chrono::DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}

/// The delivery rule on the Postgres outbox, as the server runs it.
fn worker(
    db: Db,
    mailer: Arc<dyn Mailer>,
    key: Arc<SealingKey>,
    settings: OutboxSettings,
) -> OutboxDelivery {
    OutboxDelivery::new(
        Arc::new(PgOutbox::new(db)),
        mailer,
        key,
        Arc::new(WallClock),
        settings,
    )
}

fn quick() -> OutboxSettings {
    OutboxSettings {
        claim_for: Duration::from_millis(300),
        max_attempts: 5,
        base_backoff: Duration::ZERO,
        poll_every: Duration::from_millis(50),
        batch: 10,
    }
}

async fn enqueue_invitation(
    store: &PgIdentityStore,
    account: &identity::models::NewAccount,
) -> TestResult {
    let now = Utc::now().trunc_subsecs(6);
    let user = identity::User {
        id: UserId::generate(),
        account_id: account.account.id,
        email: EmailAddress::parse("bob@example.com")?,
        full_name: "Bob".into(),
        created_at: now,
    };
    let invitation = NewCode {
        kind: CodeKind::Invitation,
        user_id: user.id,
        account_id: account.account.id,
        code_digest: [1; 32],
        created_at: now,
        expires_at: now + chrono::Duration::days(7),
    };
    let email = OutgoingEmail {
        to: user.email.clone(),
        subject: "Invitation".into(),
        body: "Code: 1234".into(),
    }
    .seal(&test_key())?;
    store
        .create_invited_member(
            &Member {
                user,
                roles: Roles::default(),
            },
            &invitation,
            &email,
        )
        .await?;
    Ok(())
}

#[tokio::test]
async fn a_message_is_delivered_once_and_its_body_dropped() -> TestResult {
    let (_database, db) = database().await?;
    let store = PgIdentityStore::new(db.clone(), Default::default());
    let account = new_account("ada@example.com");
    store
        .create_account(&account, &signup_event(&account))
        .await?;
    enqueue_invitation(&store, &account).await?;

    let mailer = Arc::new(FakeMailer::default());
    let worker = worker(db.clone(), mailer.clone(), Arc::new(test_key()), quick());
    assert_eq!(worker.deliver_due().await?, 1);
    assert_eq!(
        worker.deliver_due().await?,
        0,
        "nothing is sent twice once delivered"
    );
    assert_eq!(mailer.sent().len(), 1);

    let (body, sealed) = stored_body(&db).await?;
    assert!(
        body.is_empty() && sealed.is_none(),
        "the code does not linger after delivery"
    );
    Ok(())
}

/// The one outbox row's clear and sealed body, as the database owner sees them.
async fn stored_body(
    db: &postgres::Db,
) -> Result<(String, Option<Vec<u8>>), Box<dyn std::error::Error + Send + Sync>> {
    let mut tx = db.system().await?;
    let stored = diesel_async::RunQueryDsl::get_result(
        diesel::QueryDsl::select(
            postgres::schema::email_outbox::table,
            (
                postgres::schema::email_outbox::body,
                postgres::schema::email_outbox::body_sealed,
            ),
        ),
        tx.conn(),
    )
    .await?;
    tx.commit().await?;
    Ok(stored)
}

#[tokio::test]
async fn a_code_is_sealed_while_pending_and_gone_once_delivery_is_given_up() -> TestResult {
    let (_database, db) = database().await?;
    let store = PgIdentityStore::new(db.clone(), Default::default());
    let account = new_account("ada@example.com");
    store
        .create_account(&account, &signup_event(&account))
        .await?;
    enqueue_invitation(&store, &account).await?;
    let (body, sealed) = stored_body(&db).await?;
    assert!(!body.contains("Code"), "pending: no code in clear");
    let sealed = sealed.ok_or("the body is sealed")?;
    assert!(!String::from_utf8_lossy(&sealed).contains("Code"));

    let mailer = Arc::new(FakeMailer {
        fail_first: Mutex::new(100),
        ..FakeMailer::default()
    });
    let worker = worker(db.clone(), mailer.clone(), Arc::new(test_key()), quick());
    for _ in 0..quick().max_attempts {
        assert_eq!(worker.deliver_due().await?, 0);
    }
    let (body, sealed) = stored_body(&db).await?;
    assert!(
        body.is_empty() && sealed.is_none(),
        "given up on: the code is gone"
    );
    assert!(mailer.sent().is_empty());
    Ok(())
}

#[tokio::test]
async fn temporary_failures_are_retried() -> TestResult {
    let (_database, db) = database().await?;
    let store = PgIdentityStore::new(db.clone(), Default::default());
    let account = new_account("ada@example.com");
    store
        .create_account(&account, &signup_event(&account))
        .await?;
    enqueue_invitation(&store, &account).await?;

    let mailer = Arc::new(FakeMailer {
        fail_first: Mutex::new(2),
        ..FakeMailer::default()
    });
    let worker = worker(db.clone(), mailer.clone(), Arc::new(test_key()), quick());
    assert_eq!(worker.deliver_due().await?, 0);
    assert_eq!(worker.deliver_due().await?, 0);
    assert_eq!(
        worker.deliver_due().await?,
        1,
        "the third attempt gets through"
    );
    assert_eq!(mailer.sent().len(), 1);
    Ok(())
}

#[tokio::test]
async fn a_worker_killed_mid_delivery_is_taken_over_after_its_claim_lapses() -> TestResult {
    let (_database, db) = database().await?;
    let store = PgIdentityStore::new(db.clone(), Default::default());
    let account = new_account("ada@example.com");
    store
        .create_account(&account, &signup_event(&account))
        .await?;
    enqueue_invitation(&store, &account).await?;

    // The first worker claims the message and dies while talking to the SMTP server.
    let settings = OutboxSettings {
        claim_for: Duration::from_secs(1),
        ..quick()
    };
    let stuck = worker(
        db.clone(),
        Arc::new(FakeMailer {
            hang: true,
            ..FakeMailer::default()
        }),
        Arc::new(test_key()),
        settings.clone(),
    );
    let dying = tokio::spawn(async move { stuck.deliver_due().await });
    // Wait until it holds the message (a loaded machine may be slow to start it).
    let mut claimed = false;
    for _ in 0..100 {
        let mut tx = db.system().await?;
        let held: i64 = diesel_async::RunQueryDsl::get_result(
            diesel::QueryDsl::count(diesel::QueryDsl::filter(
                postgres::schema::email_outbox::table,
                diesel::ExpressionMethods::is_not_null(
                    postgres::schema::email_outbox::claimed_until,
                ),
            )),
            tx.conn(),
        )
        .await?;
        tx.commit().await?;
        if held > 0 {
            claimed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(claimed, "the first worker claimed the message");
    dying.abort();

    // A restarted worker leaves it alone while the claim holds, then delivers it once.
    let mailer = Arc::new(FakeMailer::default());
    let restarted = worker(db.clone(), mailer.clone(), Arc::new(test_key()), settings);
    assert_eq!(
        restarted.deliver_due().await?,
        0,
        "still claimed by the dead worker"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(restarted.deliver_due().await?, 1);
    assert_eq!(restarted.deliver_due().await?, 0);
    assert_eq!(mailer.sent().len(), 1);
    Ok(())
}
