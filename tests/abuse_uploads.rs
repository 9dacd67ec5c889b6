//! Customer uploads bounded in time, memory and connections, over HTTP against the real server:
//! a pathological CSV header, a JSON body of unknown keys, uploads that send nothing, more
//! uploads than the instance allows, and a second upload into a workspace that is importing.
//!
//! The tests of this file run one at a time (`SERIAL`): one of them measures the process's
//! memory and another the server's latency, which a neighbour would disturb.
#![allow(
    clippy::disallowed_methods,
    reason = "tests start from the real time, or wait for it"
)]

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use diesel::sql_types::BigInt;
use nudgescribe_e2e::{Error, TestApp, TestResult, expect_error, spawn_app_with};
use reqwest::StatusCode;
use serde_json::Value;

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Largest error body any of these uploads may answer with.
const MAX_ERROR_BODY: usize = 64 * 1024;

struct Owner {
    token: String,
    workspace: String,
}

async fn owner(app: &TestApp, email: &str) -> Result<Owner, Error> {
    let signed = app.signup(email).await?;
    let tokens = app.login(email, &signed.password).await?;
    Ok(Owner {
        token: tokens["access_token"].as_str().ok_or("token")?.to_owned(),
        workspace: signed.body["workspace"]["id"]
            .as_str()
            .ok_or("workspace")?
            .to_owned(),
    })
}

impl Owner {
    fn upload_path(&self) -> String {
        format!("/v1/workspaces/{}/customers/upload", self.workspace)
    }

    async fn upload(
        &self,
        app: &TestApp,
        content_type: &str,
        body: impl Into<reqwest::Body>,
        timeout: Duration,
    ) -> Result<reqwest::Response, Error> {
        Ok(app
            .client
            .post(app.url(&self.upload_path()))
            .bearer_auth(&self.token)
            .header("content-type", content_type)
            .body(body)
            .timeout(timeout)
            .send()
            .await?)
    }
}

/// Postgres backends connected to the test's database: all of them, and the uploads' own.
struct Backends {
    db: postgres::Db,
}

#[derive(diesel::QueryableByName, Debug, Clone, Copy, PartialEq, Eq)]
struct Counts {
    #[diesel(sql_type = BigInt)]
    total: i64,
    #[diesel(sql_type = BigInt)]
    imports: i64,
}

impl Backends {
    fn new(app: &TestApp) -> Result<Self, Error> {
        let settings = postgres::PoolSettings {
            max_connections: 1,
            ..postgres::PoolSettings::default()
        };
        Ok(Self {
            db: postgres::Db::connect(app.database.url(), &settings)?,
        })
    }

    async fn count(&self) -> Result<Counts, Error> {
        use diesel_async::RunQueryDsl as _;
        let mut tx = self.db.system().await?;
        let counts = diesel::sql_query(format!(
            "SELECT count(*) AS total,
                    count(*) FILTER (WHERE application_name = '{}') AS imports
               FROM pg_stat_activity WHERE datname = current_database()",
            postgres::IMPORT_APPLICATION_NAME
        ))
        .get_result::<Counts>(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(counts)
    }

    /// Polls (every 100 ms, at most `within`) until `done` holds; returns the last counts.
    async fn wait_until(
        &self,
        within: Duration,
        done: impl Fn(Counts) -> bool,
    ) -> Result<Counts, Error> {
        let deadline = Instant::now() + within;
        loop {
            let counts = self.count().await?;
            if done(counts) || Instant::now() >= deadline {
                return Ok(counts);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// An upload over a raw socket: the request head with `Content-Length: 1000`, then `first` (the
/// start of the body, maybe nothing) — and then nothing more.
fn stalled_upload(app: &TestApp, owner: &Owner, first: &[u8]) -> Result<TcpStream, Error> {
    let address = app
        .address
        .strip_prefix("http://")
        .ok_or("an http address")?;
    let mut stream = TcpStream::connect(address)?;
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: text/csv\r\nContent-Length: 1000\r\n\r\n",
        owner.upload_path(),
        owner.token
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(first)?;
    stream.flush()?;
    Ok(stream)
}

/// Reads the answer's status line and head from a raw socket, waiting at most `within`.
fn read_answer(mut stream: TcpStream, within: Duration) -> Result<(u16, String), Error> {
    stream.set_read_timeout(Some(within))?;
    let mut received = Vec::new();
    let mut buffer = [0_u8; 4096];
    while !received.windows(4).any(|w| w == b"\r\n\r\n") && received.len() < 65_536 {
        let n = stream.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        received.extend_from_slice(buffer.get(..n).ok_or("read past the buffer")?);
    }
    let text = String::from_utf8_lossy(&received).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("no status line in {text:?}"))?;
    Ok((status, text))
}

/// Answers of stalled uploads, each read on a blocking thread.
async fn answers(streams: Vec<TcpStream>, within: Duration) -> Result<Vec<(u16, String)>, Error> {
    let mut reading = Vec::new();
    for stream in streams {
        reading.push(tokio::task::spawn_blocking(move || {
            read_answer(stream, within).map_err(|e| e.to_string())
        }));
    }
    let mut answers = Vec::new();
    for read in reading {
        answers.push(read.await??);
    }
    Ok(answers)
}

fn rss_kib() -> Result<u64, Error> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .ok_or("no VmRSS")?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .ok_or("no VmRSS value")?
        .parse()?)
}

/// A short base-36 name, so that 150,000 columns fit in one header row (at most 1 MiB).
fn column_name(mut i: u32) -> String {
    let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut name = Vec::new();
    loop {
        name.push(digits[(i % 36) as usize]);
        i /= 36;
        if i == 0 {
            break;
        }
    }
    name.push(b'c');
    name.reverse();
    String::from_utf8_lossy(&name).into_owned()
}

#[tokio::test]
async fn a_header_of_150_000_columns_is_answered_fast_and_small_while_the_server_stays_live()
-> TestResult {
    let _serial = SERIAL.lock().await;
    let app = spawn_app_with(|_| {}).await?;
    let o = owner(&app, "header@example.com").await?;
    let header: Vec<String> = (0..150_000).map(column_name).collect();
    let body = format!("{}\nx\n", header.join(","));
    assert!(body.len() < 1 << 20, "{} bytes", body.len());

    // Probe liveness on another connection for as long as the upload runs.
    let probe = tokio::spawn(slowest_live(
        app.client.clone(),
        app.url("/health/live"),
        Duration::from_millis(1500),
    ));
    // Let the probe make its first connection before the upload starts.
    tokio::time::sleep(Duration::from_millis(50)).await;

    let started = Instant::now();
    let response = o
        .upload(&app, "text/csv", body, Duration::from_secs(20))
        .await?;
    let answered_in = started.elapsed();
    let status = response.status();
    let text = response.text().await?;
    assert!(answered_in < Duration::from_secs(1), "{answered_in:?}");
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.len() <= MAX_ERROR_BODY, "{} bytes", text.len());
    let answer: Value = serde_json::from_str(&text)?;
    let fields = answer["fields"].as_array().ok_or("fields")?;
    assert_eq!(fields.len(), 101, "100 named, then how many more");
    assert_eq!(fields[0]["field"], "c0");
    assert_eq!(fields[100]["field"], "…");
    assert!(
        fields[100]["message"]
            .as_str()
            .is_some_and(|m| m.contains("149900 more")),
        "{}",
        fields[100]
    );

    let slowest = probe.await??;
    assert!(
        slowest < Duration::from_millis(100),
        "/health/live took {slowest:?} during the upload"
    );

    // And the duplicate check, as big: a header of the same size with one name twice at the end.
    let mut twice = header;
    twice.push("C0".into());
    let probe = tokio::spawn(slowest_live(
        app.client.clone(),
        app.url("/health/live"),
        Duration::from_millis(1500),
    ));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    let response = o
        .upload(
            &app,
            "text/csv",
            format!("{}\nx\n", twice.join(",")),
            Duration::from_secs(20),
        )
        .await?;
    let answered_in = started.elapsed();
    let body = expect_error(response, StatusCode::BAD_REQUEST, "bad_request").await?;
    assert!(answered_in < Duration::from_secs(1), "{answered_in:?}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("`c0` appears twice")),
        "{body}"
    );
    let slowest = probe.await??;
    assert!(
        slowest < Duration::from_millis(100),
        "/health/live took {slowest:?} during an upload"
    );
    Ok(())
}

/// The slowest of `/health/live` answers over `span` (probed every 10 ms).
async fn slowest_live(
    client: reqwest::Client,
    url: String,
    span: Duration,
) -> Result<Duration, String> {
    let end = Instant::now() + span;
    let mut slowest = Duration::ZERO;
    for _ in 0..1000 {
        if Instant::now() >= end {
            break;
        }
        let started = Instant::now();
        let live = client
            .get(&url)
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        slowest = slowest.max(started.elapsed());
        if !live.is_ok_and(|r| r.status().is_success()) {
            return Err(format!("/health/live failed after {:?}", started.elapsed()));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(slowest)
}

#[tokio::test]
async fn a_json_upload_of_unknown_keys_costs_bounded_memory_and_a_bounded_answer() -> TestResult {
    let _serial = SERIAL.lock().await;
    let app = spawn_app_with(|_| {}).await?;
    let o = owner(&app, "keys@example.com").await?;
    // 25 MB: objects of 1,000 keys each, every key distinct across the file (about 2 million).
    let mut body = Vec::with_capacity(26 << 20);
    body.push(b'[');
    let mut key = 0_u64;
    while body.len() < 25_000_000 {
        if body.len() > 1 {
            body.push(b',');
        }
        body.extend_from_slice(br#"{"email":"a@x.io""#);
        for _ in 0..1000 {
            key += 1;
            body.extend_from_slice(format!(r#","k{key}":1"#).as_bytes());
        }
        body.push(b'}');
    }
    body.push(b']');

    let before = rss_kib()?;
    let response = o
        .upload(&app, "application/json", body, Duration::from_secs(120))
        .await?;
    let status = response.status();
    let text = response.text().await?;
    let after = rss_kib()?;
    let grown_mib = after.saturating_sub(before) / 1024;
    assert!(grown_mib < 64, "the process grew by {grown_mib} MiB");
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "{}",
        text.get(..500).unwrap_or(&text)
    );
    assert!(text.len() <= MAX_ERROR_BODY, "{} bytes", text.len());
    let answer: Value = serde_json::from_str(&text)?;
    let fields = answer["fields"].as_array().ok_or("fields")?;
    assert_eq!(fields.len(), 101);
    assert!(
        fields[100]["message"]
            .as_str()
            .is_some_and(|m| m.contains("more unknown names")),
        "{}",
        fields[100]
    );
    Ok(())
}

#[tokio::test]
async fn uploads_that_send_nothing_hold_no_connection_and_end_after_the_idle_timeout() -> TestResult
{
    let _serial = SERIAL.lock().await;
    let app = spawn_app_with(|s| s.customers.body_idle_secs = 2).await?;
    let o = owner(&app, "silent@example.com").await?;
    let backends = Backends::new(&app)?;
    let before = backends.count().await?;
    let pools = i64::try_from(app.settings.database.max_connections)?
        + i64::try_from(app.settings.customers.max_concurrent_uploads)?;

    let sent = Instant::now();
    let mut silent = Vec::new();
    for _ in 0..20 {
        silent.push(stalled_upload(&app, &o, b"")?);
    }
    // Give every request time to reach its handler, then count.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let during = backends.count().await?;
    assert_eq!(during.imports, 0, "{during:?}");
    assert!(
        during.total <= before.total + pools,
        "{before:?} → {during:?}"
    );

    let answers = answers(silent, Duration::from_secs(10)).await?;
    let waited = sent.elapsed();
    for (status, text) in &answers {
        assert_eq!(*status, 400, "{text}");
    }
    assert!(waited >= Duration::from_secs(2), "{waited:?}");
    assert!(waited < Duration::from_secs(10), "{waited:?}");
    let after = backends
        .wait_until(Duration::from_secs(5), |c| {
            c.imports == 0 && c.total <= before.total + pools
        })
        .await?;
    assert_eq!(after.imports, 0, "{after:?}");
    assert!(
        after.total <= before.total + pools,
        "{before:?} → {after:?}"
    );
    Ok(())
}

#[tokio::test]
async fn uploads_over_the_limit_are_refused_at_once_and_the_slots_come_back() -> TestResult {
    let _serial = SERIAL.lock().await;
    let app = spawn_app_with(|s| {
        s.customers.max_concurrent_uploads = 4;
        s.customers.body_idle_secs = 2;
    })
    .await?;
    let mut owners = Vec::new();
    for i in 0..5 {
        owners.push(owner(&app, &format!("slots{i}@example.com")).await?);
    }
    let backends = Backends::new(&app)?;
    // Four uploads (into four workspaces) send their first bytes, then stall.
    let mut stalled = Vec::new();
    for o in owners.iter().take(4) {
        stalled.push(stalled_upload(&app, o, b"email\n")?);
    }
    let holding = backends
        .wait_until(Duration::from_secs(5), |c| c.imports == 4)
        .await?;
    assert_eq!(holding.imports, 4, "{holding:?}");

    let fifth = owners.get(4).ok_or("a fifth owner")?;
    let started = Instant::now();
    let refused = fifth
        .upload(&app, "text/csv", "email\na@x.io\n", Duration::from_secs(10))
        .await?;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let retry_after = refused
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    assert!(retry_after.is_some_and(|secs| secs >= 1), "{retry_after:?}");
    expect_error(refused, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await?;
    assert_eq!(
        backends.count().await?.imports,
        4,
        "the refused one held none"
    );

    // The stalled ones end with the idle timeout, and give their slots back.
    for (status, text) in answers(stalled, Duration::from_secs(10)).await? {
        assert_eq!(status, 400, "{text}");
        assert!(text.contains("sent nothing"), "{text}");
    }
    let released = backends
        .wait_until(Duration::from_secs(5), |c| c.imports == 0)
        .await?;
    assert_eq!(released.imports, 0, "{released:?}");
    let accepted = fifth
        .upload(&app, "text/csv", "email\na@x.io\n", Duration::from_secs(10))
        .await?;
    assert_eq!(
        accepted.status(),
        StatusCode::OK,
        "{}",
        accepted.text().await?
    );
    Ok(())
}

#[tokio::test]
async fn a_second_upload_into_an_importing_workspace_is_refused_at_once() -> TestResult {
    let _serial = SERIAL.lock().await;
    let app = spawn_app_with(|s| s.customers.body_idle_secs = 2).await?;
    let o = owner(&app, "busy@example.com").await?;
    let backends = Backends::new(&app)?;
    let first = stalled_upload(&app, &o, b"email\n")?;
    let importing = backends
        .wait_until(Duration::from_secs(5), |c| c.imports == 1)
        .await?;
    assert_eq!(importing.imports, 1, "{importing:?}");

    let started = Instant::now();
    let second = o
        .upload(&app, "text/csv", "email\na@x.io\n", Duration::from_secs(10))
        .await?;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let body = expect_error(second, StatusCode::CONFLICT, "conflict").await?;
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("in progress")),
        "{body}"
    );

    // Once the first is abandoned, the workspace takes uploads again, and nothing of the
    // abandoned one was written.
    let answered = answers(vec![first], Duration::from_secs(10)).await?;
    assert_eq!(answered.first().map(|(status, _)| *status), Some(400));
    backends
        .wait_until(Duration::from_secs(5), |c| c.imports == 0)
        .await?;
    let accepted = o
        .upload(&app, "text/csv", "email\na@x.io\n", Duration::from_secs(10))
        .await?;
    let status = accepted.status();
    let report: Value = accepted.json().await?;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["created"], 1, "{report}");
    Ok(())
}
