//! The threads passwords are hashed on. bcrypt is slow on purpose; on tokio's blocking pool
//! a burst of logins would take every core from the requests around it. These threads run at
//! a lower CPU priority (nice 10, where the kernel allows it): they get every cycle nobody
//! else wants, and yield the core to request handlers and Postgres the moment those need it.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use identity::ports::HashError;

/// How much lower than the server's other threads hashing runs.
const NICENESS: i32 = 10;

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of low-priority threads; they exit when the last handle is dropped.
#[derive(Clone, Debug)]
pub struct HashingThreads {
    jobs: Sender<Job>,
}

impl HashingThreads {
    /// One thread per core: hashing may use the whole machine when nothing else runs.
    pub fn start() -> Result<Self, HashError> {
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let (jobs, queue) = channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..threads {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("password-hash-{n}"))
                .spawn(move || work(&queue))
                .map_err(|e| HashError(format!("starting a hashing thread: {e}")))?;
        }
        Ok(Self { jobs })
    }

    /// Runs `work` on a hashing thread and waits for it without blocking the caller's thread.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let (done, result) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                // The caller may have gone (request cancelled); nothing then waits for this.
                let _ = done.send(work());
            }))
            .map_err(|_| HashError("the hashing threads have stopped".into()))?;
        result
            .await
            .map_err(|_| HashError("a hashing job failed".into()))
    }
}

fn work(queue: &Mutex<Receiver<Job>>) {
    // Linux keeps the nice value per thread. Where lowering it is refused, hashing still works
    // at normal priority.
    if let Err(e) = rustix::process::nice(NICENESS) {
        tracing::warn!(error = %e, "could not lower the priority of a password-hashing thread");
    }
    loop {
        let next = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok(job) = next else { return };
        // A panicking job must not take the thread with it; its caller sees the dropped reply.
        let _ = catch_unwind(AssertUnwindSafe(job));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_on_lower_priority_threads_and_a_panic_does_not_stop_them()
    -> Result<(), HashError> {
        let threads = HashingThreads::start()?;
        let (name, niceness) = threads
            .run(|| {
                (
                    std::thread::current().name().map(str::to_owned),
                    rustix::process::getpriority_process(None),
                )
            })
            .await?;
        assert!(name.is_some_and(|n| n.starts_with("password-hash-")));
        // getpriority(PRIO_PROCESS, 0) reads the calling thread's nice value on Linux.
        assert_eq!(niceness.ok(), Some(NICENESS));
        assert!(threads.run(|| panic!("boom")).await.is_err());
        for _ in 0..8 {
            assert_eq!(threads.run(|| 2 + 2).await?, 4);
        }
        Ok(())
    }
}
