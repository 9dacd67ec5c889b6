//! Shared fixtures for the adapter's integration tests.
#![allow(
    clippy::disallowed_methods,
    reason = "tests start from the real time, or wait for it"
)]
#![allow(dead_code)]

use chrono::{SubsecRound as _, Utc};
use identity::models::NewAccount;
use identity::{Account, User, Workspace};
use kernel::{AccountId, AuthEvent, AuthEventKind, EmailAddress, UserId, WorkspaceId};
use postgres::{Db, PoolSettings};
use testdb::TestDatabase;

pub type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

pub async fn database() -> Result<(TestDatabase, Db), Box<dyn std::error::Error + Send + Sync>> {
    let database = TestDatabase::new(postgres::MIGRATIONS).await?;
    let db = Db::connect(database.url(), &PoolSettings::default())?;
    Ok((database, db))
}

pub fn new_account(email: &str) -> NewAccount {
    let now = Utc::now().trunc_subsecs(6);
    let account = Account {
        id: AccountId::generate(),
        name: format!("Account of {email}"),
        created_at: now,
    };
    NewAccount {
        owner: User {
            id: UserId::generate(),
            account_id: account.id,
            email: EmailAddress::parse(email).unwrap_or_else(|e| panic!("{email}: {e}")),
            full_name: "Test Owner".into(),
            created_at: now,
        },
        workspace: Workspace {
            id: WorkspaceId::generate(),
            account_id: account.id,
            name: "Default".into(),
            created_at: now,
        },
        password_hash: "$2b$04$notarealhashnotarealhashnotarealhashnotarealhashnot".into(),
        account,
    }
}

pub fn signup_event(new: &NewAccount) -> AuthEvent {
    AuthEvent::new(
        AuthEventKind::Signup,
        Utc::now(),
        Some((new.account.id, new.owner.id)),
        true,
    )
}
