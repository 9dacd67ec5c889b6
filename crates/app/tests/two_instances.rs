//! Two or three `nudgescribe` processes on one database: a logout, an API key deletion or a role
//! change on one holds on the others at once (revocations travel over Postgres LISTEN/NOTIFY,
//! not token expiry); sign-in rate limits and lockouts count across them.
#![allow(
    clippy::disallowed_methods,
    reason = "tests start from the real time, or wait for it"
)]

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

/// Three instances on one database, an owner (also a developer) signed in on the first.
struct Cluster {
    _database: TestDatabase,
    servers: Vec<Server>,
    client: reqwest::Client,
    owner_token: String,
}

async fn cluster(
    extra_env: &[(&str, &str)],
) -> Result<Cluster, Box<dyn std::error::Error + Send + Sync>> {
    let database = TestDatabase::new(postgres::MIGRATIONS).await?;
    let master_key = kernel::SealingKey::generate_base64()?;
    let servers = (0..3)
        .map(|_| start_with(database.url(), &master_key, extra_env))
        .collect::<Result<Vec<_>, _>>()?;
    let client = reqwest::Client::new();
    for server in &servers {
        wait_ready(&client, server).await?;
    }
    let signup = client
        .post(format!("{}/v1/signup", servers[0].base))
        .json(&json!({"email": "ada@example.com", "password": "correct horse", "full_name": "Ada", "account_name": "AE"}))
        .send()
        .await?;
    assert_eq!(signup.status(), StatusCode::CREATED);
    let signed: Value = signup.json().await?;
    let owner_token = login(&client, &servers[1], "ada@example.com", "correct horse").await?;
    let user_id = signed["user"]["id"].as_str().ok_or("user id")?;
    let roles = client
        .put(format!("{}/v1/users/{user_id}/roles", servers[2].base))
        .bearer_auth(&owner_token)
        .json(&json!({"account_roles": ["developer"], "workspace_roles": []}))
        .send()
        .await?;
    assert_eq!(roles.status(), StatusCode::OK);
    Ok(Cluster {
        _database: database,
        servers,
        client,
        owner_token,
    })
}

async fn login(
    client: &reqwest::Client,
    server: &Server,
    email: &str,
    password: &str,
) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let response = client
        .post(format!("{}/v1/auth/login", server.base))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::OK);
    let tokens: Value = response.json().await?;
    Ok(tokens["access_token"].as_str().ok_or("token")?.to_owned())
}

/// Polls `GET path` with `token` on `server` until it answers `want`; fails if it never does
/// (the bound is generous: it only keeps a broken build from hanging).
async fn until_status(
    client: &reqwest::Client,
    server: &Server,
    path: &str,
    token: &str,
    want: StatusCode,
) -> TestResult {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = client
            .get(format!("{}{path}", server.base))
            .bearer_auth(token)
            .send()
            .await?
            .status();
        if status == want {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("{} {path}: still {status}, want {want}", server.base).into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn deleting_an_api_key_on_one_instance_ends_its_tokens_on_every_other() -> TestResult {
    let c = cluster(&[]).await?;
    let created = c
        .client
        .post(format!("{}/v1/auth/keys", c.servers[0].base))
        .bearer_auth(&c.owner_token)
        .json(&json!({"name": "integration"}))
        .send()
        .await?;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await?;
    let (key_id, api_key) = (
        created["key_id"].as_str().ok_or("key_id")?,
        created["api_key"].as_str().ok_or("api_key")?,
    );
    let exchanged: Value = c
        .client
        .post(format!("{}/v1/auth", c.servers[1].base))
        .json(&json!({"api_key": api_key}))
        .send()
        .await?
        .json()
        .await?;
    let client_token = exchanged["access_token"].as_str().ok_or("client token")?;
    // Every instance has the key's session cached.
    for server in &c.servers {
        until_status(
            &c.client,
            server,
            "/v1/workspaces",
            client_token,
            StatusCode::OK,
        )
        .await?;
    }
    let deleted = c
        .client
        .delete(format!("{}/v1/auth/keys/{key_id}", c.servers[2].base))
        .bearer_auth(&c.owner_token)
        .send()
        .await?;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    for server in &c.servers {
        until_status(
            &c.client,
            server,
            "/v1/workspaces",
            client_token,
            StatusCode::UNAUTHORIZED,
        )
        .await?;
        let again = c
            .client
            .post(format!("{}/v1/auth", server.base))
            .json(&json!({"api_key": api_key}))
            .send()
            .await?;
        assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
    }
    Ok(())
}

/// `POST /v1/auth/keys` as `token` on `server`: 201 while the caller has the developer role.
async fn create_key(
    client: &reqwest::Client,
    server: &Server,
    token: &str,
) -> Result<StatusCode, Box<dyn std::error::Error + Send + Sync>> {
    Ok(client
        .post(format!("{}/v1/auth/keys", server.base))
        .bearer_auth(token)
        .json(&json!({"name": "probe"}))
        .send()
        .await?
        .status())
}

#[tokio::test]
async fn a_role_change_on_one_instance_holds_on_every_other() -> TestResult {
    let c = cluster(&[]).await?;
    // The owner holds the developer role (given on instance 2): every instance lets them
    // create keys, and so caches the session with that role.
    for server in &c.servers {
        assert_eq!(
            create_key(&c.client, server, &c.owner_token).await?,
            StatusCode::CREATED
        );
    }
    let me: Value = c
        .client
        .get(format!("{}/v1/me", c.servers[0].base))
        .bearer_auth(&c.owner_token)
        .send()
        .await?
        .json()
        .await?;
    let user_id = me["user"]["id"].as_str().ok_or("user id")?;
    let roles = c
        .client
        .put(format!("{}/v1/users/{user_id}/roles", c.servers[0].base))
        .bearer_auth(&c.owner_token)
        .json(&json!({"account_roles": [], "workspace_roles": []}))
        .send()
        .await?;
    assert_eq!(roles.status(), StatusCode::OK);
    for server in &c.servers {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let status = create_key(&c.client, server, &c.owner_token).await?;
            if status == StatusCode::FORBIDDEN {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} still lets a former developer create keys: {status}",
                server.base
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Ok(())
}

#[tokio::test]
async fn failed_sign_ins_lock_the_account_across_instances() -> TestResult {
    // The per-IP sign-in limit is lifted, so that only the account's lockout can refuse.
    let c = cluster(&[
        ("NUDGESCRIBE__AUTH__MAX_FAILED_SIGNINS", "5"),
        ("NUDGESCRIBE__RATE_LIMITS__SIGNIN_PER_IP_PER_MINUTE", "1000"),
    ])
    .await?;
    // Five wrong passwords, no instance seeing more than two of them.
    for server in [0, 1, 2, 0, 1] {
        let response = c
            .client
            .post(format!("{}/v1/auth/login", c.servers[server].base))
            .json(&json!({"email": "ada@example.com", "password": "wrong password"}))
            .send()
            .await?;
        assert!(response.status().is_client_error(), "{}", response.status());
    }
    // Now the right password is refused on every instance: the count and the lockout are
    // shared. (A locked account answers exactly like a wrong password, security.md.)
    for server in &c.servers {
        let response = c
            .client
            .post(format!("{}/v1/auth/login", server.base))
            .json(&json!({"email": "ada@example.com", "password": "correct horse"}))
            .send()
            .await?;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{}",
            server.base
        );
    }
    Ok(())
}
