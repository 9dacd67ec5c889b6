//! The processes under test: started, waited on until ready, measured, stopped.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::BenchError;

/// A child process serving HTTP on `base`; killed when dropped.
pub struct Served {
    child: Child,
    pub base: String,
    /// From `spawn` to the first successful answer of the readiness path.
    pub time_to_ready: Duration,
}

impl Served {
    /// Starts `program` and polls `ready_path` until it answers 2xx (within 60 s).
    pub async fn start(
        mut command: Command,
        port: u16,
        ready_path: &str,
        log: &Path,
    ) -> Result<Self, BenchError> {
        let log_file =
            std::fs::File::create(log).map_err(BenchError::io(log.display().to_string()))?;
        let log_err = log_file
            .try_clone()
            .map_err(BenchError::io(log.display().to_string()))?;
        let started = Instant::now();
        let child = command
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            .spawn()
            .map_err(BenchError::io(format!("starting {command:?}")))?;
        let base = format!("http://127.0.0.1:{port}");
        let mut served = Self {
            child,
            base,
            time_to_ready: Duration::ZERO,
        };
        let probe = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let url = format!("{}{ready_path}", served.base);
        while started.elapsed() < Duration::from_secs(60) {
            if let Ok(response) = probe.get(&url).send().await
                && response.status().is_success()
            {
                served.time_to_ready = started.elapsed();
                return Ok(served);
            }
            if let Ok(Some(status)) = served.child.try_wait() {
                return Err(BenchError::Process(format!(
                    "exited with {status} before it was ready; see {}",
                    log.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        Err(BenchError::Process(format!(
            "not ready after 60 s; see {}",
            log.display()
        )))
    }

    /// Resident memory now, in KiB.
    pub fn rss_kib(&self) -> Result<u64, BenchError> {
        status_field(self.child.id(), "VmRSS")
    }

    /// The most resident memory it has had, in KiB.
    pub fn peak_rss_kib(&self) -> Result<u64, BenchError> {
        status_field(self.child.id(), "VmHWM")
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        // Already exited is fine: there is nothing else to do with a child being dropped.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn status_field(pid: u32, field: &str) -> Result<u64, BenchError> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).map_err(BenchError::io(path))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| BenchError::Measure(format!("no {field} in /proc/{pid}/status")))
}
