//! Two `nudgescribe` processes on one database: a logout on one is refused by the other within
//! a second (revocations travel over Postgres LISTEN/NOTIFY, not token expiry).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use testdb::TestDatabase;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// A server process, killed when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn start(
    database_url: &str,
    master_key: &str,
) -> Result<Server, Box<dyn std::error::Error + Send + Sync>> {
    start_with(database_url, master_key, &[])
}

fn start_with(
    database_url: &str,
    master_key: &str,
    extra_env: &[(&str, &str)],
) -> Result<Server, Box<dyn std::error::Error + Send + Sync>> {
    let port = free_port()?;
    let child = Command::new(env!("CARGO_BIN_EXE_nudgescribe"))
        .arg("serve")
        .env("DATABASE_URL", database_url)
        .env("NUDGESCRIBE__SERVER__PORT", port.to_string())
        .env("NUDGESCRIBE__SERVER__WORKERS", "1")
        .env("NUDGESCRIBE__AUTH__BCRYPT_COST", "4")
        .env("NUDGESCRIBE__KEYS__MASTER_KEY", master_key)
        .env("NUDGESCRIBE__LOG__LEVEL", "warn")
        .envs(extra_env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    Ok(Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    })
}

async fn wait_ready(client: &reqwest::Client, server: &Server) -> TestResult {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = client
            .get(format!("{}/health/ready", server.base))
            .send()
            .await
            .is_ok_and(|response| response.status() == StatusCode::OK);
        if ready {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err("the server did not become ready".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_logout_on_one_instance_is_refused_by_the_other_within_a_second() -> TestResult {
    let database = TestDatabase::new(postgres::MIGRATIONS).await?;
    let master_key = kernel::SealingKey::generate_base64()?;
    let a = start(database.url(), &master_key)?;
    let b = start(database.url(), &master_key)?;
    let client = reqwest::Client::new();
    wait_ready(&client, &a).await?;
    wait_ready(&client, &b).await?;

    let signup = client
        .post(format!("{}/v1/signup", a.base))
        .json(&json!({"email": "ada@example.com", "password": "correct horse", "full_name": "Ada", "account_name": "AE"}))
        .send()
        .await?;
    assert_eq!(signup.status(), StatusCode::CREATED);
    let tokens: Value = client
        .post(format!("{}/v1/auth/login", a.base))
        .json(&json!({"email": "ada@example.com", "password": "correct horse"}))
        .send()
        .await?
        .json()
        .await?;
    let token = tokens["access_token"].as_str().ok_or("access token")?;

    // Both instances accept the token (and B now holds the session in its cache).
    for server in [&a, &b, &b] {
        let me = client
            .get(format!("{}/v1/me", server.base))
            .bearer_auth(token)
            .send()
            .await?;
        assert_eq!(me.status(), StatusCode::OK);
    }

    let logout = client
        .post(format!("{}/v1/auth/logout", a.base))
        .bearer_auth(token)
        .send()
        .await?;
    assert_eq!(logout.status(), StatusCode::OK);
    let started = Instant::now();
    loop {
        let me = client
            .get(format!("{}/v1/me", b.base))
            .bearer_auth(token)
            .send()
            .await?;
        if me.status() == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "instance B still accepted the token {:?} after the logout on A",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// Rate limits count in one-minute windows aligned to the clock: wait for a fresh one when
/// the current one is nearly over.
async fn early_in_a_minute() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let into_minute = now.as_millis() % 60_000;
    if into_minute > 40_000 {
        let wait = u64::try_from(60_000 - into_minute).unwrap_or(0) + 100;
        tokio::time::sleep(Duration::from_millis(wait)).await;
    }
}

#[tokio::test]
async fn the_sign_in_limit_counts_across_instances() -> TestResult {
    let database = TestDatabase::new(postgres::MIGRATIONS).await?;
    let master_key = kernel::SealingKey::generate_base64()?;
    let limit = [("NUDGESCRIBE__RATE_LIMITS__SIGNIN_PER_IP_PER_MINUTE", "4")];
    let a = start_with(database.url(), &master_key, &limit)?;
    let b = start_with(database.url(), &master_key, &limit)?;
    let client = reqwest::Client::new();
    wait_ready(&client, &a).await?;
    wait_ready(&client, &b).await?;
    let signup = client
        .post(format!("{}/v1/signup", a.base))
        .json(&json!({"email": "ada@example.com", "password": "correct horse", "full_name": "Ada", "account_name": "AE"}))
        .send()
        .await?;
    assert_eq!(signup.status(), StatusCode::CREATED);
    early_in_a_minute().await;
    let login = |server: &Server| {
        client
            .post(format!("{}/v1/auth/login", server.base))
            .json(&json!({"email": "ada@example.com", "password": "correct horse"}))
            .send()
    };
    for server in [&a, &b, &a, &b] {
        assert_eq!(login(server).await?.status(), StatusCode::OK);
    }
    assert_eq!(login(&a).await?.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(login(&b).await?.status(), StatusCode::TOO_MANY_REQUESTS);
    Ok(())
}
