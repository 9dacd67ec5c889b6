//! `nudgescribe-bench`: runs every workload of performance.md against a release server, with
//! the baselines it is judged against, and writes the table to `docs/benchmarks.md`.
//!
//! ```text
//! nudgescribe-bench run --server target/release/nudgescribe --write docs/benchmarks.md
//! nudgescribe-bench run --quick --server target/debug/nudgescribe    # seconds; for CI
//! ```
#![allow(
    clippy::disallowed_methods,
    reason = "a harness: it measures and waits on real time"
)]

mod api;
mod baseline;
mod database;
mod error;
mod figures;
mod fixture;
mod load;
mod process;
mod report;
mod workloads;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::error::BenchError;
use crate::workloads::Plan;

#[derive(Parser)]
#[command(about = "The benchmarks of performance.md")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Prepare the data, start the servers, run every workload and print (or write) the table.
    Run(RunArgs),
    /// The `hello`, `db-read` and `db-write` baselines (started by `run`).
    BaselineServer {
        #[arg(long)]
        database_url: String,
        #[arg(long)]
        port: u16,
        #[arg(long, default_value_t = 16)]
        pool_size: usize,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// A reduced run (1 s per workload, 5,000 customers, one run): checks the bench works.
    #[arg(long)]
    quick: bool,
    /// The `nudgescribe` binary to measure.
    #[arg(long, default_value = "target/release/nudgescribe")]
    server: PathBuf,
    /// PostgreSQL, without a database name; the bench makes its own databases there.
    #[arg(
        long,
        env = "BENCH_POSTGRES",
        default_value = "postgres://postgres@127.0.0.1:5432"
    )]
    postgres: String,
    /// Where the CSV, keys and server logs go.
    #[arg(long, default_value = "target/bench")]
    work: PathBuf,
    /// Splice the table into this markdown file (between the bench markers).
    #[arg(long)]
    write: Option<PathBuf>,
    #[arg(long)]
    runs: Option<usize>,
    /// Seconds per workload.
    #[arg(long)]
    duration: Option<u64>,
    #[arg(long)]
    concurrency: Option<usize>,
    /// Customers in the uploaded CSV.
    #[arg(long)]
    rows: Option<u64>,
    /// The server's database pool size (and the baseline server's).
    #[arg(long, default_value_t = 16)]
    pool_size: usize,
    /// Only these workload groups: baselines, tokens, reads, logins, messages, half-peak
    /// (e.g. to profile one); all by default.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::BaselineServer {
            database_url,
            port,
            pool_size,
        } => baseline::serve(&database_url, port, pool_size),
        Command::Run(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(BenchError::io("a runtime"))
            .and_then(|runtime| runtime.block_on(run(args))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nudgescribe-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: RunArgs) -> Result<(), BenchError> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let quick = args.quick;
    std::fs::create_dir_all(&args.work).map_err(BenchError::io(args.work.display().to_string()))?;
    let work = std::fs::canonicalize(&args.work)
        .map_err(BenchError::io(args.work.display().to_string()))?;
    let concurrency = args.concurrency.unwrap_or(if quick { 8 } else { 64 });
    let plan = Plan {
        server: args.server,
        postgres: args.postgres,
        work,
        runs: args.runs.unwrap_or(if quick { 1 } else { 3 }),
        duration: Duration::from_secs(args.duration.unwrap_or(if quick { 1 } else { 10 })),
        concurrency,
        batch_concurrency: concurrency.min(16),
        rows: args.rows.unwrap_or(if quick { 5_000 } else { 1_000_000 }),
        bcrypt_cost: 12,
        bcrypt_time: Duration::from_secs(if quick { 0 } else { 3 }),
        probe_rate: if quick { 20.0 } else { 50.0 },
        app_port: 18_190,
        baseline_port: 18_191,
        pool_size: args.pool_size,
        only: args.only,
    };
    let runs = workloads::run(&plan).await?;
    let context = report::Context {
        commit: git_commit(),
        date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        cores,
        memory_gib: memory_gib(),
        command: if quick {
            "just bench quick"
        } else {
            "just bench"
        }
        .to_owned(),
        duration_secs: plan.duration.as_secs(),
        concurrency: plan.concurrency,
        batch_concurrency: plan.batch_concurrency,
    };
    let section = report::markdown(&runs, &context);
    std::io::stdout()
        .write_all(section.as_bytes())
        .map_err(BenchError::io("stdout"))?;
    if let Some(path) = args.write {
        let document = std::fs::read_to_string(&path).unwrap_or_else(|_| "# Benchmarks\n".into());
        std::fs::write(&path, report::splice(&document, &section))
            .map_err(BenchError::io(path.display().to_string()))?;
        eprintln!("[bench] wrote {}", path.display());
    }
    Ok(())
}

fn git_commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map_or_else(
            || "unknown".into(),
            |out| String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        )
}

fn memory_gib() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("MemTotal:"))
                .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kib| (kib + (1 << 19)) >> 20)
}
