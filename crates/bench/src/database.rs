//! The databases the bench makes for itself, and the `copy` baseline (`psql \copy`).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use diesel_async::{AsyncConnection as _, AsyncPgConnection, SimpleAsyncConnection as _};

use crate::error::BenchError;

/// Drops and creates `name` on the server at `postgres` (a URL without a database).
pub async fn recreate(postgres: &str, name: &str) -> Result<(), BenchError> {
    let mut admin = connect(&format!("{postgres}/postgres")).await?;
    // Two statements: a multi-statement string would run as one transaction, which
    // DROP/CREATE DATABASE refuse.
    for statement in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        admin
            .batch_execute(&statement)
            .await
            .map_err(|e| BenchError::Database(e.to_string()))?;
    }
    Ok(())
}

pub async fn connect(url: &str) -> Result<AsyncPgConnection, BenchError> {
    AsyncPgConnection::establish(url)
        .await
        .map_err(|e| BenchError::Database(format!("{url}: {e}")))
}

pub async fn execute(url: &str, sql: &str) -> Result<(), BenchError> {
    connect(url)
        .await?
        .batch_execute(sql)
        .await
        .map_err(|e| BenchError::Database(e.to_string()))
}

/// `psql \copy` of `csv` (with a header line) into a fresh bare table of `columns` text columns.
pub fn copy_baseline(url: &str, csv: &Path, columns: &[&str]) -> Result<Duration, BenchError> {
    let table = "bench_copy";
    let definition = columns
        .iter()
        .map(|c| format!("{c} text"))
        .collect::<Vec<_>>()
        .join(", ");
    psql(
        url,
        &format!("DROP TABLE IF EXISTS {table}; CREATE TABLE {table} ({definition})"),
    )?;
    let started = Instant::now();
    psql(
        url,
        &format!("\\copy {table} FROM '{}' CSV HEADER", csv.display()),
    )?;
    let took = started.elapsed();
    psql(url, &format!("DROP TABLE {table}"))?;
    Ok(took)
}

fn psql(url: &str, command: &str) -> Result<(), BenchError> {
    let output = Command::new("psql")
        .args([url, "-qX", "-v", "ON_ERROR_STOP=1", "-c", command])
        .output()
        .map_err(BenchError::io(
            "running psql (is the PostgreSQL client installed?)",
        ))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(BenchError::Database(format!(
            "psql {command}: {}",
            String::from_utf8_lossy(&output.stderr)
        )))
    }
}
