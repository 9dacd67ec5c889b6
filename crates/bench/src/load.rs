//! The load generator: a fixed number of workers for a fixed time (closed loop, for peak
//! throughput), or a fixed arrival rate (open loop, for latency at a given load). In the open
//! loop each request's latency counts from the moment it was due, not from when a worker got
//! round to sending it, so a stalled server shows up in the tail instead of hiding in it.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::error::BenchError;

/// One worker's request loop body. `call` sends one request and returns how many items it
/// carried (1 for most workloads; the batch size for publish and retrieve).
pub trait Call: Send + 'static {
    fn call(&mut self) -> impl Future<Output = Result<u64, BenchError>> + Send;
}

/// What a load run saw.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub requests: u64,
    pub items: u64,
    pub errors: u64,
    pub elapsed: Duration,
    /// Microseconds.
    pub latency: Histogram<u64>,
    /// The first error seen, to tell a broken workload from a slow one.
    pub first_error: Option<String>,
}

impl Outcome {
    fn empty() -> Result<Self, BenchError> {
        Ok(Self {
            requests: 0,
            items: 0,
            errors: 0,
            elapsed: Duration::ZERO,
            latency: new_histogram()?,
            first_error: None,
        })
    }

    fn absorb(&mut self, other: Self) -> Result<(), BenchError> {
        self.requests += other.requests;
        self.items += other.items;
        self.errors += other.errors;
        self.latency
            .add(&other.latency)
            .map_err(|e| BenchError::Measure(e.to_string()))?;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        Ok(())
    }

    /// Successful items per second.
    #[must_use]
    pub fn items_per_sec(&self) -> f64 {
        self.items as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    /// Latency at quantile `q` (0..=1), in milliseconds.
    #[must_use]
    pub fn latency_ms(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }
}

fn new_histogram() -> Result<Histogram<u64>, BenchError> {
    // 1 µs to 10 minutes at three significant digits.
    Histogram::new_with_bounds(1, 600_000_000, 3).map_err(|e| BenchError::Measure(e.to_string()))
}

fn record(outcome: &mut Outcome, result: Result<u64, BenchError>, took: Duration) {
    outcome.requests += 1;
    match result {
        Ok(items) => outcome.items += items,
        Err(e) => {
            outcome.errors += 1;
            if outcome.first_error.is_none() {
                outcome.first_error = Some(e.to_string());
            }
        }
    }
    let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX).max(1);
    outcome.latency.saturating_record(micros);
}

/// Every worker sends its next request as soon as the previous one is answered, for `duration`.
pub async fn closed_loop<C: Call>(
    workers: Vec<C>,
    duration: Duration,
) -> Result<Outcome, BenchError> {
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = workers
        .into_iter()
        .map(|mut worker| {
            tokio::spawn(async move {
                let mut outcome = Outcome::empty()?;
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    let result = worker.call().await;
                    record(&mut outcome, result, sent.elapsed());
                }
                Ok::<_, BenchError>(outcome)
            })
        })
        .collect();
    gather(tasks, start).await
}

/// Requests fall due at `rate` per second for `duration`; each worker takes the next one due,
/// waits for its time, and sends it. Enough workers must be given to keep up with the rate.
pub async fn open_loop<C: Call>(
    workers: Vec<C>,
    rate: f64,
    duration: Duration,
) -> Result<Outcome, BenchError> {
    if rate.is_nan() || rate <= 0.0 {
        return Err(BenchError::Measure(format!(
            "rate must be positive, not {rate}"
        )));
    }
    let start = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / rate);
    let next_slot = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = workers
        .into_iter()
        .map(|mut worker| {
            let next_slot = Arc::clone(&next_slot);
            tokio::spawn(async move {
                let mut outcome = Outcome::empty()?;
                loop {
                    let slot = next_slot.fetch_add(1, Ordering::Relaxed);
                    let due = start + interval.mul_f64(slot as f64);
                    if due >= start + duration {
                        break;
                    }
                    tokio::time::sleep_until(due.into()).await;
                    let result = worker.call().await;
                    record(&mut outcome, result, due.elapsed());
                }
                Ok::<_, BenchError>(outcome)
            })
        })
        .collect();
    gather(tasks, start).await
}

async fn gather(
    tasks: Vec<tokio::task::JoinHandle<Result<Outcome, BenchError>>>,
    start: Instant,
) -> Result<Outcome, BenchError> {
    let mut total = Outcome::empty()?;
    for task in tasks {
        let outcome = task
            .await
            .map_err(|e| BenchError::Measure(format!("a load worker failed: {e}")))??;
        total.absorb(outcome)?;
    }
    total.elapsed = start.elapsed();
    Ok(total)
}

/// A request sent again and again, answered with a 2xx.
pub struct Repeat<F> {
    build: F,
    items: u64,
}

impl<F> Repeat<F>
where
    F: FnMut() -> reqwest::RequestBuilder + Send + 'static,
{
    pub fn new(build: F) -> Self {
        Self { build, items: 1 }
    }

    /// Counts `items` per successful request (batch workloads).
    pub fn counting(build: F, items: u64) -> Self {
        Self { build, items }
    }
}

impl<F> Call for Repeat<F>
where
    F: FnMut() -> reqwest::RequestBuilder + Send + 'static,
{
    async fn call(&mut self) -> Result<u64, BenchError> {
        let response = (self.build)().send().await?;
        let status = response.status();
        // Read the whole body: the server's work includes writing it.
        let body = response.bytes().await?;
        if status.is_success() {
            Ok(self.items)
        } else {
            Err(BenchError::Status(
                status.as_u16(),
                String::from_utf8_lossy(&body).chars().take(200).collect(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Sleepy(Duration);

    impl Call for Sleepy {
        async fn call(&mut self) -> Result<u64, BenchError> {
            tokio::time::sleep(self.0).await;
            Ok(2)
        }
    }

    #[tokio::test]
    async fn the_closed_loop_counts_items_and_latency() -> Result<(), BenchError> {
        let workers = (0..4).map(|_| Sleepy(Duration::from_millis(5))).collect();
        let outcome = closed_loop(workers, Duration::from_millis(200)).await?;
        assert!(outcome.requests >= 4 * 10, "{}", outcome.requests);
        assert_eq!(outcome.items, outcome.requests * 2);
        assert!(outcome.latency_ms(0.5) >= 5.0);
        Ok(())
    }

    #[tokio::test]
    async fn the_open_loop_keeps_its_rate_and_charges_waiting_to_latency() -> Result<(), BenchError>
    {
        // One worker, a request due every 10 ms, each taking 30 ms: the queue grows, and so
        // must the recorded latency (from each request's due time).
        let outcome = open_loop(
            vec![Sleepy(Duration::from_millis(30))],
            100.0,
            Duration::from_millis(300),
        )
        .await?;
        assert!(outcome.requests <= 30);
        assert!(
            outcome.latency_ms(1.0) > 60.0,
            "{}",
            outcome.latency_ms(1.0)
        );
        Ok(())
    }
}
