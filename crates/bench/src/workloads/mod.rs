//! Each workload of performance.md as load-generator workers, and the run that measures them
//! all, baselines included.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::Method;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};

use crate::api::{Api, PASSWORD, text};
use crate::baseline;
use crate::database;
use crate::figures::{RunFigures, Runs};
use crate::fixture::{self, Content, Identities};
use crate::load::{Call, Outcome, Repeat, closed_loop, open_loop};
use crate::process::Served;

/// What to run, and how hard.
pub struct Plan {
    pub server: PathBuf,
    pub postgres: String,
    pub work: PathBuf,
    pub runs: usize,
    pub duration: Duration,
    pub concurrency: usize,
    /// Publish and retrieve move 1,000 and 500 messages a request; fewer in flight suffice.
    pub batch_concurrency: usize,
    pub rows: u64,
    pub bcrypt_cost: u32,
    /// How long the bcrypt baseline hashes.
    pub bcrypt_time: Duration,
    /// Requests per second of #3 while measuring its p99 idle and under login load.
    pub probe_rate: f64,
    pub app_port: u16,
    pub baseline_port: u16,
    pub pool_size: usize,
    /// Only these groups of workloads (`baselines`, `tokens`, `reads`, `logins`, `messages`,
    /// `half-peak`); all when empty. The upload always runs: the others read what it wrote.
    pub only: Vec<String>,
}

const APP_DATABASE: &str = "nudgescribe_bench";
const BASELINE_DATABASE: &str = "nudgescribe_bench_baseline";
const LOGIN_ACCOUNTS: usize = 16;
const MESSAGES_PER_BATCH: u64 = 1000;
const MESSAGES_PER_PAGE: u64 = 500;

impl Plan {
    fn includes(&self, group: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|g| g == group)
    }

    fn app_database_url(&self) -> String {
        format!("{}/{APP_DATABASE}", self.postgres)
    }

    fn app_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.server);
        command
            .args(args)
            .env("DATABASE_URL", self.app_database_url())
            .env("NUDGESCRIBE__SERVER__PORT", self.app_port.to_string())
            .env("NUDGESCRIBE__LOG__LEVEL", "warn")
            .env(
                "NUDGESCRIBE__DATABASE__MAX_CONNECTIONS",
                self.pool_size.to_string(),
            )
            .env(
                "NUDGESCRIBE__AUTH__BCRYPT_COST",
                self.bcrypt_cost.to_string(),
            )
            .env(
                "NUDGESCRIBE__KEYS__MASTER_KEY_FILE",
                self.work.join("master.key"),
            )
            .env(
                "NUDGESCRIBE__KEYS__MESSAGE_MASTER_KEY_FILE",
                self.work.join("message-master.keys"),
            )
            .env(
                "NUDGESCRIBE__CUSTOMERS__MAX_UPLOAD_BYTES",
                (8_u64 << 30).to_string(),
            )
            // The bench measures throughput, not abuse resistance: limits out of the way.
            .env(
                "NUDGESCRIBE__RATE_LIMITS__SIGNIN_PER_IP_PER_MINUTE",
                "100000000",
            )
            .env(
                "NUDGESCRIBE__RATE_LIMITS__CLIENT_AUTH_PER_KEY_PER_MINUTE",
                "100000000",
            )
            .env(
                "NUDGESCRIBE__RATE_LIMITS__CLIENT_AUTH_PER_IP_PER_MINUTE",
                "100000000",
            )
            .env(
                "NUDGESCRIBE__RATE_LIMITS__SIGNUP_PER_IP_PER_HOUR",
                "100000000",
            );
        command
    }

    async fn start_app(&self, run: usize) -> Result<Served> {
        Served::start(
            self.app_command(&["serve"]),
            self.app_port,
            "/health/ready",
            &self.work.join(format!("server-{run}.log")),
        )
        .await
    }
}

type Result<T> = std::result::Result<T, crate::error::BenchError>;

/// Runs every workload `plan.runs` times; progress goes to stderr.
pub async fn run(plan: &Plan) -> Result<Runs> {
    let postgres = plan.postgres.as_str();
    database::recreate(postgres, APP_DATABASE).await?;
    database::recreate(postgres, BASELINE_DATABASE).await?;
    let baseline_url = format!("{postgres}/{BASELINE_DATABASE}");
    baseline::prepare(&baseline_url).await?;
    let migrated = plan
        .app_command(&["migrate"])
        .status()
        .map_err(crate::error::BenchError::io("running migrate"))?;
    if !migrated.success() {
        return Err(crate::error::BenchError::Process(format!(
            "migrate: {migrated}"
        )));
    }
    let csv = plan.work.join("customers.csv");
    fixture::write_csv(&csv, plan.rows)?;
    progress(format_args!(
        "wrote {} customers to {}",
        plan.rows,
        csv.display()
    ));

    let exe = std::env::current_exe().map_err(crate::error::BenchError::io("current exe"))?;
    let mut baseline_command = Command::new(exe);
    baseline_command.args([
        "baseline-server",
        "--database-url",
        &baseline_url,
        "--port",
        &plan.baseline_port.to_string(),
        "--pool-size",
        &plan.pool_size.to_string(),
    ]);
    let baseline_server = Served::start(
        baseline_command,
        plan.baseline_port,
        "/hello",
        &plan.work.join("baseline.log"),
    )
    .await?;
    let baseline_api = Api::new(&baseline_server.base, plan.concurrency)?;

    let mut runs = Runs::default();
    let mut identities: Option<Identities> = None;
    let mut content: Option<Content> = None;
    for run in 1..=plan.runs {
        progress(format_args!("run {run} of {}", plan.runs));
        let mut figures = RunFigures::default();
        // A fresh server each run, on the migrated database: performance.md #9.
        let server = plan.start_app(run).await?;
        figures.set("ready", server.time_to_ready.as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_secs(1)).await;
        figures.set("idle-rss", server.rss_kib()? as f64 / 1024.0);
        let api = Api::new(&server.base, plan.concurrency)?;
        if identities.is_none() {
            identities = Some(Identities::create(&api, plan.concurrency, LOGIN_ACCOUNTS).await?);
        }
        let ids = identities
            .as_ref()
            .ok_or_else(|| crate::error::BenchError::Measure("no identities".into()))?;

        let workspace = upload(plan, &api, ids, &server, run, &csv, &mut figures).await?;
        if content.is_none() {
            content = Some(
                Content::create(
                    &api,
                    &plan.app_database_url(),
                    &ids.owner_token,
                    &workspace,
                    plan.rows,
                )
                .await?,
            );
        }
        let content = content
            .as_ref()
            .ok_or_else(|| crate::error::BenchError::Measure("no content".into()))?;

        if plan.includes("baselines") {
            baselines(plan, &baseline_api, &mut figures).await?;
        }
        if plan.includes("tokens") || plan.includes("half-peak") {
            tokens(plan, &api, ids, &mut figures).await?;
        }
        if plan.includes("reads") || plan.includes("half-peak") {
            reads(plan, &api, ids, content, &mut figures).await?;
        }
        if plan.includes("logins") {
            logins(plan, &api, ids, content, &mut figures).await?;
        }
        // Before the messages: #10's latencies are then of a quiet database, not of the
        // checkpoint that a million message inserts bring on.
        if plan.includes("half-peak") {
            half_peak(plan, &api, ids, content, &mut figures).await?;
        }
        if plan.includes("messages") {
            messages(plan, &api, ids, content, &mut figures).await?;
        }
        figures.set("run-peak-rss", server.peak_rss_kib()? as f64 / 1024.0);
        runs.0.push(figures);
    }
    drop(baseline_server);
    Ok(runs)
}

fn progress(message: std::fmt::Arguments<'_>) {
    eprintln!("[bench] {message}");
}

/// Records a closed-loop outcome as `name` (per second), `name-p50`, `name-p99`.
fn note(figures: &mut RunFigures, name: &str, outcome: &Outcome) {
    figures.set(name, outcome.items_per_sec());
    figures.set(format!("{name}-p50"), outcome.latency_ms(0.5));
    figures.set(format!("{name}-p99"), outcome.latency_ms(0.99));
    note_errors(figures, name, outcome);
    progress(format_args!(
        "{name}: {:.0}/s, p50 {:.2} ms, p99 {:.2} ms, {} errors",
        outcome.items_per_sec(),
        outcome.latency_ms(0.5),
        outcome.latency_ms(0.99),
        outcome.errors
    ));
}

fn note_errors(figures: &mut RunFigures, name: &str, outcome: &Outcome) {
    if outcome.errors > 0 {
        figures.errors.insert(
            name.to_owned(),
            (
                outcome.errors,
                outcome.first_error.clone().unwrap_or_default(),
            ),
        );
    }
}

/// A request body serialised once and sent many times (cloning `Bytes` copies nothing).
fn json_body(value: &Value) -> Bytes {
    // Serialising a `Value` cannot fail.
    Bytes::from(serde_json::to_vec(value).unwrap_or_default())
}

fn post_json(api: &Api, path: &str, token: Option<&str>, body: &Bytes) -> reqwest::RequestBuilder {
    api.request(Method::POST, path, token)
        .header(CONTENT_TYPE, "application/json")
        .body(body.clone())
}

async fn upload(
    plan: &Plan,
    api: &Api,
    ids: &Identities,
    server: &Served,
    run: usize,
    csv: &std::path::Path,
    figures: &mut RunFigures,
) -> Result<String> {
    let workspace =
        fixture::upload_workspace(api, &ids.owner_token, &format!("upload-{run}")).await?;
    let body =
        std::fs::read(csv).map_err(crate::error::BenchError::io(csv.display().to_string()))?;
    let started = std::time::Instant::now();
    let report = api
        .call(
            api.request(
                Method::POST,
                &format!("/v1/workspaces/{workspace}/customers/upload?mode=upsert"),
                Some(&ids.owner_token),
            )
            .header(CONTENT_TYPE, "text/csv")
            .body(body),
        )
        .await?;
    let took = started.elapsed();
    if report["created"].as_u64() != Some(plan.rows) || report["invalid_rows"].as_u64() != Some(0) {
        return Err(crate::error::BenchError::Answer(format!(
            "upload report: {report}"
        )));
    }
    figures.set("upload", plan.rows as f64 / took.as_secs_f64());
    figures.set("upload-peak-rss", server.peak_rss_kib()? as f64 / 1024.0);
    let copy = database::copy_baseline(&plan.app_database_url(), csv, fixture::CSV_COLUMNS)?;
    figures.set("copy", plan.rows as f64 / copy.as_secs_f64());
    progress(format_args!(
        "upload: {:.0} rows/s, copy {:.0} rows/s, peak RSS {:.0} MiB",
        plan.rows as f64 / took.as_secs_f64(),
        plan.rows as f64 / copy.as_secs_f64(),
        server.peak_rss_kib()? as f64 / 1024.0
    ));
    Ok(workspace)
}

async fn baselines(plan: &Plan, api: &Api, figures: &mut RunFigures) -> Result<()> {
    let workers = |make: &dyn Fn(usize) -> Box<dyn FnMut() -> reqwest::RequestBuilder + Send>| {
        (0..plan.concurrency)
            .map(|w| Repeat::new(make(w)))
            .collect::<Vec<_>>()
    };
    let hello = workers(&|_| {
        let api = api.clone();
        Box::new(move || api.request(Method::GET, "/hello", None))
    });
    note(figures, "hello", &closed_loop(hello, plan.duration).await?);
    let read = workers(&|w| {
        let api = api.clone();
        let mut n = (w as u64) << 32;
        Box::new(move || {
            n += 1;
            api.request(
                Method::GET,
                &format!("/db-read/{}", baseline::read_id(n)),
                None,
            )
        })
    });
    note(figures, "db-read", &closed_loop(read, plan.duration).await?);
    let write = workers(&|_| {
        let api = api.clone();
        Box::new(move || api.request(Method::POST, "/db-write", None))
    });
    note(
        figures,
        "db-write",
        &closed_loop(write, plan.duration).await?,
    );
    let bcrypt = baseline::bcrypt_per_sec(plan.bcrypt_cost, plan.bcrypt_time).await?;
    figures.set("bcrypt", bcrypt);
    progress(format_args!(
        "bcrypt (one core, cost {}): {bcrypt:.2}/s",
        plan.bcrypt_cost
    ));
    Ok(())
}

mod latency;
mod messages;
mod reads;
mod tokens;

use latency::*;
use messages::*;
use reads::*;
use tokens::*;
