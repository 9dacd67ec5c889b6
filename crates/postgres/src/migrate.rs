//! The embedded migrations, and creating the database when it is missing.

use diesel::sql_types::Text;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::error::DbError;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// Applies every pending migration; returns the versions applied.
pub async fn run_migrations(url: &str) -> Result<Vec<String>, DbError> {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || {
        // The sync harness drives the async connection on this blocking thread.
        let mut conn =
            <AsyncConnectionWrapper<AsyncPgConnection> as diesel::Connection>::establish(&url)
                .map_err(|e| connect_error(&url, &e))?;
        let applied = conn
            .run_pending_migrations(MIGRATIONS)
            .map_err(|e| DbError::Migration(e.to_string()))?;
        Ok(applied.iter().map(ToString::to_string).collect())
    })
    .await
    .map_err(|e| DbError::Migration(e.to_string()))?
}

/// Creates the database named by `url` if it does not exist yet. Returns whether it did.
pub async fn ensure_database(url: &str) -> Result<bool, DbError> {
    let (maintenance_url, name) = split_database(url)?;
    let mut conn = AsyncPgConnection::establish(&maintenance_url)
        .await
        .map_err(|e| connect_error(url, &e))?;
    #[derive(diesel::QueryableByName)]
    struct Exists {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        exists: bool,
    }
    let found =
        diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
            .bind::<Text, _>(&name)
            .get_result::<Exists>(&mut conn)
            .await?;
    if found.exists {
        return Ok(false);
    }
    let create = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
    match diesel::sql_query(create).execute(&mut conn).await {
        Ok(_) => Ok(true),
        // Another instance created it in the meantime.
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(false),
        Err(other) => Err(other.into()),
    }
}

/// Splits `postgres://…/name?…` into the URL of the `postgres` maintenance database and `name`.
pub fn split_database(url: &str) -> Result<(String, String), DbError> {
    let bad = || DbError::BadUrl(redact(url));
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").ok_or_else(bad)? + 3;
    let (authority, name) = base[scheme_end..].split_once('/').ok_or_else(bad)?;
    if name.is_empty() || name.contains('/') {
        return Err(bad());
    }
    let mut maintenance = format!("{}{authority}/postgres", &base[..scheme_end]);
    if let Some(query) = query {
        maintenance.push('?');
        maintenance.push_str(query);
    }
    Ok((maintenance, name.to_owned()))
}

/// The URL without its password, for messages.
#[must_use]
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

fn connect_error(url: &str, error: &diesel::ConnectionError) -> DbError {
    DbError::Connect {
        url: redact(url),
        reason: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_the_database_name_off() -> Result<(), DbError> {
        assert_eq!(
            split_database("postgres://postgres@127.0.0.1:5432/nudgescribe")?,
            (
                "postgres://postgres@127.0.0.1:5432/postgres".into(),
                "nudgescribe".into()
            )
        );
        assert_eq!(
            split_database("postgres://u:p@h/db?sslmode=disable")?,
            (
                "postgres://u:p@h/postgres?sslmode=disable".into(),
                "db".into()
            )
        );
        assert!(split_database("postgres://h").is_err());
        assert!(split_database("nonsense").is_err());
        Ok(())
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }
}
