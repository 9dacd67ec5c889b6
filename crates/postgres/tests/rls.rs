//! Row-level security, proved with queries that "forget" their tenant filter.

mod support;

use diesel::QueryableByName;
use diesel::sql_types::{Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use identity::ports::AccountStore;
use postgres::{Lookup, PgIdentityStore};
use support::{TestResult, database, new_account, signup_event};

/// Tables that hold no tenant's data and are never visible to the request roles.
const GLOBAL_TABLES: &[&str] = &[
    "__diesel_schema_migrations",
    "rate_limit_hits",
    "signing_keys",
];

#[derive(QueryableByName, Debug)]
struct TableSecurity {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    enabled: bool,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    forced: bool,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    policies: i64,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    has_account_id: bool,
}

#[tokio::test]
async fn every_tenant_table_forces_row_level_security() -> TestResult {
    let (_database, db) = database().await?;
    let mut tx = db.system().await?;
    let tables = diesel::sql_query(
        "SELECT c.relname::text AS table_name, c.relrowsecurity AS enabled, \
                c.relforcerowsecurity AS forced, \
                (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies, \
                EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid \
                        AND a.attname = 'account_id' AND NOT a.attisdropped) AS has_account_id \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1",
    )
    .load::<TableSecurity>(tx.conn())
    .await?;
    tx.commit().await?;
    assert!(tables.len() >= 8, "the schema has its tables: {tables:?}");
    for table in tables
        .iter()
        .filter(|t| !GLOBAL_TABLES.contains(&t.table_name.as_str()))
    {
        assert!(
            table.enabled && table.forced && table.policies > 0 && table.has_account_id,
            "tenant table without forced RLS, a policy and account_id: {table:?}"
        );
    }
    Ok(())
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = SqlUuid)]
    id: uuid::Uuid,
}

#[tokio::test]
async fn a_query_without_a_tenant_filter_sees_only_its_tenant() -> TestResult {
    let (_database, db) = database().await?;
    let store = PgIdentityStore::new(db.clone(), Default::default());
    let a = new_account("a@example.com");
    let b = new_account("b@example.com");
    store.create_account(&a, &signup_event(&a)).await?;
    store.create_account(&b, &signup_event(&b)).await?;

    let mut tx = db.tenant(a.account.id, Some(a.owner.id)).await?;
    for table in [
        "users",
        "accounts",
        "workspaces",
        "account_roles",
        "auth_events",
    ] {
        let column = if table == "account_roles" {
            "user_id"
        } else {
            "id"
        };
        let ids = diesel::sql_query(format!("SELECT {column} AS id FROM {table}"))
            .load::<Id>(tx.conn())
            .await?;
        assert!(!ids.is_empty(), "{table}: sees its own rows");
        for id in ids {
            assert!(
                [
                    a.owner.id.as_uuid(),
                    a.account.id.as_uuid(),
                    a.workspace.id.as_uuid()
                ]
                .contains(&id.id)
                    || table == "auth_events",
                "{table}: saw {} of another tenant",
                id.id
            );
        }
    }
    let events = diesel::sql_query("SELECT user_id AS id FROM auth_events")
        .load::<Id>(tx.conn())
        .await?;
    assert!(events.iter().all(|e| e.id == a.owner.id.as_uuid()));
    tx.commit().await?;
    Ok(())
}

#[tokio::test]
async fn writing_a_row_for_another_tenant_is_refused() -> TestResult {
    let (_database, db) = database().await?;
    let store = PgIdentityStore::new(db.clone(), Default::default());
    let a = new_account("a@example.com");
    let b = new_account("b@example.com");
    store.create_account(&a, &signup_event(&a)).await?;
    store.create_account(&b, &signup_event(&b)).await?;

    let mut tx = db.tenant(a.account.id, Some(a.owner.id)).await?;
    let insert = diesel::sql_query(
        "INSERT INTO users (id, account_id, email, full_name) VALUES ($1, $2, 'x@example.com', 'X')",
    )
    .bind::<SqlUuid, _>(uuid::Uuid::now_v7())
    .bind::<SqlUuid, _>(b.account.id.as_uuid())
    .execute(tx.conn())
    .await;
    let error = insert.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        error.contains("row-level security"),
        "refused by policy: {error}"
    );
    drop(tx);

    // Updates and deletes of the other tenant's rows touch nothing.
    let mut tx = db.tenant(a.account.id, Some(a.owner.id)).await?;
    let updated = diesel::sql_query("UPDATE users SET full_name = 'Mallory' WHERE id = $1")
        .bind::<SqlUuid, _>(b.owner.id.as_uuid())
        .execute(tx.conn())
        .await?;
    let deleted = diesel::sql_query("DELETE FROM workspaces WHERE account_id = $1")
        .bind::<SqlUuid, _>(b.account.id.as_uuid())
        .execute(tx.conn())
        .await?;
    tx.commit().await?;
    assert_eq!((updated, deleted), (0, 0));
    Ok(())
}

#[tokio::test]
async fn the_audit_trail_is_append_only() -> TestResult {
    let (_database, db) = database().await?;
    let store = PgIdentityStore::new(db.clone(), Default::default());
    let a = new_account("a@example.com");
    store.create_account(&a, &signup_event(&a)).await?;
    for statement in [
        "UPDATE auth_events SET success = false",
        "DELETE FROM auth_events",
    ] {
        let mut tx = db.tenant(a.account.id, Some(a.owner.id)).await?;
        let error = diesel::sql_query(statement)
            .execute(tx.conn())
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("permission denied"), "{statement}: {error}");
    }
    Ok(())
}

#[tokio::test]
async fn the_anonymous_path_sees_only_the_user_it_names() -> TestResult {
    let (_database, db) = database().await?;
    let store = PgIdentityStore::new(db.clone(), Default::default());
    let a = new_account("a@example.com");
    let b = new_account("b@example.com");
    store.create_account(&a, &signup_event(&a)).await?;
    store.create_account(&b, &signup_event(&b)).await?;

    let mut tx = db.anonymous(Lookup::UserByEmail(&a.owner.email)).await?;
    let users = diesel::sql_query("SELECT id FROM users")
        .load::<Id>(tx.conn())
        .await?;
    assert_eq!(
        users.iter().map(|u| u.id).collect::<Vec<_>>(),
        vec![a.owner.id.as_uuid()]
    );
    let accounts = diesel::sql_query("SELECT id FROM accounts")
        .load::<Id>(tx.conn())
        .await;
    assert!(accounts.is_err(), "no access to other tables");
    drop(tx);

    let mut tx = db.anonymous(Lookup::Nothing).await?;
    let users = diesel::sql_query("SELECT id FROM users")
        .load::<Id>(tx.conn())
        .await?;
    assert!(users.is_empty());
    tx.commit().await?;
    Ok(())
}

#[tokio::test]
async fn tenant_settings_do_not_leak_to_the_next_transaction() -> TestResult {
    let (database, _) = database().await?;
    let single = postgres::PoolSettings {
        max_connections: 1,
        ..postgres::PoolSettings::default()
    };
    let db = postgres::Db::connect(database.url(), &single)?;
    let store = PgIdentityStore::new(db.clone(), Default::default());
    let a = new_account("a@example.com");
    store.create_account(&a, &signup_event(&a)).await?;

    #[derive(QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
        account: Option<String>,
        #[diesel(sql_type = Text)]
        role: String,
    }
    // One connection in the pool: the next unit of work runs on the same one.
    let tx = db.tenant(a.account.id, Some(a.owner.id)).await?;
    tx.commit().await?;
    let mut tx = db.system().await?;
    let setting = diesel::sql_query(
        "SELECT NULLIF(current_setting('app.account_id', true), '') AS account, current_user::text AS role",
    )
    .get_result::<Setting>(tx.conn())
    .await?;
    tx.commit().await?;
    assert_eq!(setting.account, None);
    assert_ne!(setting.role, "access_user");
    Ok(())
}
