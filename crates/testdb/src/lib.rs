//! A fresh, migrated Postgres database for every test.
//!
//! The first test of a run migrates a template database (named after a hash of `migrations/`,
//! so an edited migration makes a new one) under an advisory lock that serialises every test
//! process of the run; each test then gets `CREATE DATABASE … TEMPLATE` — a file copy, not a
//! re-migration — and the database is dropped when the [`TestDatabase`] is. Leftovers of
//! crashed runs and templates of other migration sets, each unused for two hours, are swept
//! while the lock is held (not at once: another checkout on the same machine — a branch with a
//! new migration — may be testing with its own template right now).
//!
//! The server to use comes from `DATABASE_URL` (any database on it; default
//! `postgres://postgres@127.0.0.1:5432/postgres`). Everything needed — roles, template — is
//! created here, so `cargo test -p <any crate>` works on its own.
#![allow(
    clippy::disallowed_methods,
    reason = "a harness: it measures and waits on real time"
)]

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use diesel::sql_types::{BigInt, Bool, Text};
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};
use tokio::sync::OnceCell;

const DEFAULT_SERVER: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const TEST_PREFIX: &str = "nudgescribe_test_";
const TEMPLATE_PREFIX: &str = "nudgescribe_template_";
const LEFTOVER_AGE: Duration = Duration::from_secs(2 * 60 * 60);
/// `pg_advisory_lock` key that serialises template preparation across test processes.
const TEMPLATE_LOCK: i64 = 7_346_235_002;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

static TEMPLATE: OnceCell<String> = OnceCell::const_new();

/// A database of its own for one test, dropped (with any connections still open) on drop.
#[derive(Debug)]
pub struct TestDatabase {
    url: String,
    name: String,
}

impl TestDatabase {
    /// A new database, cloned from the template that `migrations` produce.
    pub async fn new(migrations: EmbeddedMigrations) -> Result<Self, Error> {
        let server = server_url();
        let template = TEMPLATE
            .get_or_try_init(|| prepare_template(server.clone(), migrations))
            .await?
            .clone();
        let name = format!(
            "{TEST_PREFIX}{}_{}",
            unix_now(),
            uuid::Uuid::now_v7().simple()
        );
        let mut admin = AsyncPgConnection::establish(&maintenance_url(&server)?).await?;
        let create = format!("CREATE DATABASE {name} TEMPLATE {template}");
        // A template being copied by another test at the same instant answers "being accessed
        // by other users"; a short retry gets through.
        let mut attempt = 0;
        loop {
            match diesel::sql_query(&create).execute(&mut admin).await {
                Ok(_) => break,
                Err(error) if attempt < 50 && error.to_string().contains("being accessed") => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(20 * attempt)).await;
                }
                Err(error) => return Err(error.into()),
            }
        }
        Ok(Self {
            url: with_database(&server, &name)?,
            name,
        })
    }

    /// The URL of this test's database.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop may run inside a runtime; do the blocking work on a thread of its own.
        // A failure leaves the database to the next run's sweep; a destructor can do no more.
        let _ = std::thread::spawn(move || -> Result<(), Error> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let mut admin =
                    AsyncPgConnection::establish(&maintenance_url(&server_url())?).await?;
                diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await?;
                Ok(())
            })
        })
        .join();
    }
}

fn server_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_SERVER.to_owned())
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `url` with its database name replaced.
fn with_database(url: &str, database: &str) -> Result<String, Error> {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").ok_or("DATABASE_URL has no scheme")? + 3;
    let authority = base[scheme_end..].split('/').next().unwrap_or_default();
    let mut out = format!("{}{authority}/{database}", &base[..scheme_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    Ok(out)
}

fn maintenance_url(server: &str) -> Result<String, Error> {
    with_database(server, "postgres")
}

/// A name that changes whenever any file under `migrations/` does.
fn template_name() -> Result<String, Error> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    let mut files = Vec::new();
    let mut pending = vec![dir];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut hasher = DefaultHasher::new();
    for file in files {
        file.file_name().hash(&mut hasher);
        std::fs::read(&file)?.hash(&mut hasher);
    }
    Ok(format!("{TEMPLATE_PREFIX}{:016x}", hasher.finish()))
}

#[derive(diesel::QueryableByName)]
struct Named {
    #[diesel(sql_type = Text)]
    datname: String,
    #[diesel(sql_type = Bool)]
    datistemplate: bool,
    /// For templates: when a run last used it (unix seconds), kept as the database's comment.
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    last_used: Option<String>,
}

async fn prepare_template(server: String, migrations: EmbeddedMigrations) -> Result<String, Error> {
    let template = template_name()?;
    let mut admin = AsyncPgConnection::establish(&maintenance_url(&server)?).await?;
    diesel::sql_query("SELECT pg_advisory_lock($1)")
        .bind::<BigInt, _>(TEMPLATE_LOCK)
        .execute(&mut admin)
        .await?;
    let prepared = prepare_locked(&mut admin, &server, &template, migrations).await;
    diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<BigInt, _>(TEMPLATE_LOCK)
        .execute(&mut admin)
        .await?;
    prepared.map(|()| template)
}

async fn prepare_locked(
    admin: &mut AsyncPgConnection,
    server: &str,
    template: &str,
    migrations: EmbeddedMigrations,
) -> Result<(), Error> {
    let databases = diesel::sql_query(
        "SELECT datname, datistemplate, shobj_description(oid, 'pg_database') AS last_used \
         FROM pg_database WHERE datname LIKE 'nudgescribe\\_test\\_%' OR datname LIKE 'nudgescribe\\_template\\_%'",
    )
    .load::<Named>(admin)
    .await?;
    sweep(admin, &databases, template).await?;
    let mark_used = format!("COMMENT ON DATABASE {template} IS '{}'", unix_now());
    if databases
        .iter()
        .any(|d| d.datname == template && d.datistemplate)
    {
        diesel::sql_query(mark_used).execute(admin).await?;
        return Ok(());
    }
    // A template left half-made by a crashed run is rebuilt from scratch.
    diesel::sql_query(format!("DROP DATABASE IF EXISTS {template} WITH (FORCE)"))
        .execute(admin)
        .await?;
    diesel::sql_query(format!("CREATE DATABASE {template}"))
        .execute(admin)
        .await?;
    let url = with_database(server, template)?;
    tokio::task::spawn_blocking(move || -> Result<(), Error> {
        let mut conn =
            <AsyncConnectionWrapper<AsyncPgConnection> as diesel::Connection>::establish(&url)?;
        conn.run_pending_migrations(migrations)?;
        Ok(())
    })
    .await??;
    diesel::sql_query(format!("ALTER DATABASE {template} WITH IS_TEMPLATE true"))
        .execute(admin)
        .await?;
    diesel::sql_query(mark_used).execute(admin).await?;
    Ok(())
}

/// Drops test databases older than [`LEFTOVER_AGE`], and templates of other migration sets unused
/// for as long.
async fn sweep(
    admin: &mut AsyncPgConnection,
    databases: &[Named],
    current_template: &str,
) -> Result<(), Error> {
    let cutoff = unix_now().saturating_sub(LEFTOVER_AGE.as_secs());
    for database in databases {
        let name = &database.datname;
        let stale = is_stale(database, current_template, cutoff);
        if !stale {
            continue;
        }
        if database.datistemplate {
            diesel::sql_query(format!("ALTER DATABASE {name} WITH IS_TEMPLATE false"))
                .execute(admin)
                .await?;
        }
        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(admin)
            .await?;
    }
    Ok(())
}

/// Whether a test database was made, or a template of another migration set last used, before
/// `cutoff` (unix seconds).
fn is_stale(database: &Named, current_template: &str, cutoff: u64) -> bool {
    let name = &database.datname;
    if let Some(rest) = name.strip_prefix(TEST_PREFIX) {
        return rest
            .split('_')
            .next()
            .and_then(|secs| secs.parse::<u64>().ok())
            .is_some_and(|created| created < cutoff);
    }
    // A template without the mark predates it (or was left half-made): outdated.
    name != current_template
        && database
            .last_used
            .as_deref()
            .and_then(|secs| secs.parse::<u64>().ok())
            .is_none_or(|used| used < cutoff)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(name: &str, last_used: Option<&str>) -> Named {
        Named {
            datname: name.to_owned(),
            datistemplate: true,
            last_used: last_used.map(str::to_owned),
        }
    }

    #[test]
    fn another_checkouts_template_is_kept_until_it_has_gone_unused_for_long() {
        let current = "nudgescribe_template_aaaa";
        let cutoff = 1_000;
        assert!(!is_stale(&template(current, None), current, cutoff));
        assert!(!is_stale(
            &template("nudgescribe_template_bbbb", Some("1500")),
            current,
            cutoff
        ));
        assert!(is_stale(
            &template("nudgescribe_template_bbbb", Some("900")),
            current,
            cutoff
        ));
        assert!(is_stale(
            &template("nudgescribe_template_bbbb", None),
            current,
            cutoff
        ));
        let test_db = |name: &str| Named {
            datistemplate: false,
            ..template(name, None)
        };
        assert!(is_stale(
            &test_db(&format!("{TEST_PREFIX}900_1")),
            current,
            cutoff
        ));
        assert!(!is_stale(
            &test_db(&format!("{TEST_PREFIX}1500_1")),
            current,
            cutoff
        ));
    }

    #[test]
    fn replaces_the_database_name() -> Result<(), Error> {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1")?,
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            with_database("postgres://u:p@h?sslmode=disable", "t1")?,
            "postgres://u:p@h/t1?sslmode=disable"
        );
        Ok(())
    }

    #[test]
    fn the_template_name_is_stable() -> Result<(), Error> {
        assert_eq!(template_name()?, template_name()?);
        Ok(())
    }
}
