//! Geographic verification over HTTP: a real MaxMind-format database, client IPs through a
//! trusted proxy, a snapshot with each sign-in, one warning email per new country.
#![allow(
    clippy::disallowed_methods,
    reason = "tests start from the real time, or wait for it"
)]

use nudgescribe_e2e::smtp::SmtpSink;
use nudgescribe_e2e::{TestApp, TestResult, spawn_app_with};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[derive(serde::Serialize)]
struct Record {
    country: Country,
}

#[derive(serde::Serialize)]
struct Country {
    iso_code: &'static str,
}

/// A two-network database: 198.51.100.0/24 is US, 203.0.113.0/24 is AU.
fn write_database() -> Result<std::path::PathBuf, Box<dyn std::error::Error + Send + Sync>> {
    use maxminddb_writer::Database;
    use maxminddb_writer::paths::IpAddrWithMask;
    let mut db = Database::default();
    db.metadata.binary_format_major_version = 2;
    db.metadata.database_type = "Test-Country".into();
    let us = db.insert_value(Record {
        country: Country { iso_code: "US" },
    })?;
    let au = db.insert_value(Record {
        country: Country { iso_code: "AU" },
    })?;
    db.insert_node("198.51.100.0/24".parse::<IpAddrWithMask>()?, us);
    db.insert_node("203.0.113.0/24".parse::<IpAddrWithMask>()?, au);
    let path = std::env::temp_dir().join(format!("nudgescribe-geo-{}.mmdb", uuid::Uuid::now_v7()));
    let mut file = std::fs::File::create(&path)?;
    db.write_to(&mut file)?;
    Ok(path)
}

async fn login_via(
    app: &TestApp,
    password: &str,
    forwarded_for: &str,
) -> Result<StatusCode, nudgescribe_e2e::Error> {
    Ok(app
        .client
        .post(app.url("/v1/auth/login"))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({"email": "ada@example.com", "password": password}))
        .send()
        .await?
        .status())
}

#[tokio::test]
async fn a_sign_in_from_a_new_country_through_a_trusted_proxy_warns_once() -> TestResult {
    let database = write_database()?;
    let (sink, url) = SmtpSink::start().await?;
    let app = spawn_app_with(|settings| {
        settings.geoip.database = Some(database.clone());
        settings.server.trusted_proxies = "127.0.0.1".into();
        settings.email.smtp_url = Some(url.into());
    })
    .await?;
    let signed = app.signup("ada@example.com").await?;
    assert_eq!(
        login_via(&app, &signed.password, "198.51.100.7").await?,
        StatusCode::OK
    );
    assert_eq!(
        login_via(&app, &signed.password, "6.6.6.6, 203.0.113.9").await?,
        StatusCode::OK
    );
    assert_eq!(
        login_via(&app, &signed.password, "203.0.113.10").await?,
        StatusCode::OK
    );

    let warning = sink
        .wait_for("new country")
        .await
        .ok_or("a warning email")?;
    assert!(
        warning.contains("AU") && warning.contains("203.0.113.9"),
        "{warning}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let warnings = sink
        .messages()
        .iter()
        .filter(|m| m.contains("new country"))
        .count();
    assert_eq!(warnings, 1, "exactly one warning");

    let tokens = app.login("ada@example.com", &signed.password).await?;
    let events: Value = app
        .get_authed(
            "/v1/audit-events?event=login_succeeded",
            tokens["access_token"].as_str().unwrap_or_default(),
        )
        .await?
        .json()
        .await?;
    let snapshots: Vec<(Option<&str>, Option<&str>)> = events["items"]
        .as_array()
        .ok_or("items")?
        .iter()
        .map(|e| (e["ip"].as_str(), e["country"].as_str()))
        .collect();
    assert!(
        snapshots.contains(&(Some("198.51.100.7"), Some("US"))),
        "{snapshots:?}"
    );
    assert!(
        snapshots.contains(&(Some("203.0.113.9"), Some("AU"))),
        "the spoofed hop is ignored: {snapshots:?}"
    );
    assert!(
        snapshots.contains(&(Some("127.0.0.1"), None)),
        "no database entry: unknown"
    );
    std::fs::remove_file(database)?;
    Ok(())
}

#[tokio::test]
async fn an_untrusted_peers_forwarded_for_is_ignored() -> TestResult {
    let database = write_database()?;
    let app = spawn_app_with(|settings| settings.geoip.database = Some(database.clone())).await?;
    let signed = app.signup("ada@example.com").await?;
    assert_eq!(
        login_via(&app, &signed.password, "203.0.113.9").await?,
        StatusCode::OK
    );
    let events = app.audit_events().await?;
    let login = events
        .iter()
        .find(|e| e.0 == "login_succeeded")
        .ok_or("a sign-in event")?;
    assert_eq!(login.3.as_deref(), Some("127.0.0.1"));
    std::fs::remove_file(database)?;
    Ok(())
}
