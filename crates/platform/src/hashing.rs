//! The threads passwords are hashed on. bcrypt is slow on purpose; on tokio's blocking pool
//! a burst of logins would take every core from the requests around it. These threads run at
//! a lower CPU priority (nice 10, where the kernel allows it): they get every cycle nobody
//! else wants, and yield the core to request handlers and Postgres the moment those need it.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use identity::ports::HashError;

/// How much lower than the server's other threads hashing runs.
const NICENESS: i32 = 10;
/// New hashes (sign-up, password change, reset, invitation) waiting per thread before more are
/// refused: a flood of sign-ups is answered "busy" at once instead of queueing behind itself.
const QUEUED_NEW_HASHES_PER_THREAD: usize = 4;

type Job = Box<dyn FnOnce() + Send>;

/// Two queues: sign-in checks first, new hashes (bounded) when no sign-in waits.
#[derive(Default)]
struct Queues {
    sign_in: VecDeque<Job>,
    new_hashes: VecDeque<Job>,
    closed: bool,
}

struct Shared {
    queues: Mutex<Queues>,
    ready: Condvar,
    new_hash_bound: usize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queues> {
        self.queues
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Closes the queues when the last handle goes, so the threads exit.
struct Handle(Arc<Shared>);

impl Drop for Handle {
    fn drop(&mut self) {
        self.0.lock().closed = true;
        self.0.ready.notify_all();
    }
}

/// A fixed set of low-priority threads; they exit when the last handle is dropped.
#[derive(Clone)]
pub struct HashingThreads {
    handle: Arc<Handle>,
}

impl std::fmt::Debug for HashingThreads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashingThreads")
            .field("new_hash_bound", &self.handle.0.new_hash_bound)
            .finish_non_exhaustive()
    }
}

/// Which queue a job goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    /// Checking a password at sign-in: never refused, served first.
    SignIn,
    /// Hashing a new password: refused as busy when too many already wait.
    NewHash,
}

impl HashingThreads {
    /// One thread per core.
    pub fn start() -> Result<Self, HashError> {
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        Self::with_threads(threads, threads * QUEUED_NEW_HASHES_PER_THREAD)
    }

    fn with_threads(threads: usize, new_hash_bound: usize) -> Result<Self, HashError> {
        let shared = Arc::new(Shared {
            queues: Mutex::new(Queues::default()),
            ready: Condvar::new(),
            new_hash_bound,
        });
        for n in 0..threads {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name(format!("password-hash-{n}"))
                .spawn(move || work(&shared))
                .map_err(|e| HashError::Failed(format!("starting a hashing thread: {e}")))?;
        }
        Ok(Self {
            handle: Arc::new(Handle(shared)),
        })
    }

    /// Runs `work` on a hashing thread and waits for its result.
    pub async fn run<T: Send + 'static>(
        &self,
        priority: Priority,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(work());
        });
        {
            let shared = &self.handle.0;
            let mut queues = shared.lock();
            match priority {
                Priority::SignIn => queues.sign_in.push_back(job),
                Priority::NewHash if queues.new_hashes.len() >= shared.new_hash_bound => {
                    return Err(HashError::Busy);
                }
                Priority::NewHash => queues.new_hashes.push_back(job),
            }
            shared.ready.notify_one();
        }
        result
            .await
            .map_err(|_| HashError::Failed("a hashing job failed".into()))
    }
}

fn work(shared: &Shared) {
    if let Err(e) = rustix::process::nice(NICENESS) {
        tracing::warn!(error = %e, "could not lower the priority of a password-hashing thread");
    }
    loop {
        let job = {
            let mut queues = shared.lock();
            loop {
                if let Some(job) = queues.sign_in.pop_front() {
                    break job;
                }
                if let Some(job) = queues.new_hashes.pop_front() {
                    break job;
                }
                if queues.closed {
                    return;
                }
                queues = shared
                    .ready
                    .wait(queues)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
        };
        let _ = catch_unwind(AssertUnwindSafe(job));
    }
}

#[cfg(test)]
#[allow(
    clippy::disallowed_methods,
    reason = "tests start from the real time, or wait for it"
)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_on_lower_priority_threads_and_a_panic_does_not_stop_them()
    -> Result<(), HashError> {
        let threads = HashingThreads::start()?;
        let (name, niceness) = threads
            .run(Priority::SignIn, || {
                (
                    std::thread::current().name().map(str::to_owned),
                    rustix::process::getpriority_process(None),
                )
            })
            .await?;
        assert!(name.is_some_and(|n| n.starts_with("password-hash-")));
        // getpriority(PRIO_PROCESS, 0) reads the calling thread's nice value on Linux.
        assert_eq!(niceness.ok(), Some(NICENESS));
        assert!(
            threads
                .run(Priority::SignIn, || panic!("boom"))
                .await
                .is_err()
        );
        for _ in 0..8 {
            assert_eq!(threads.run(Priority::NewHash, || 2 + 2).await?, 4);
        }
        Ok(())
    }

    #[tokio::test]
    async fn new_hashes_beyond_the_bound_are_refused_and_sign_ins_go_first() -> Result<(), HashError>
    {
        let threads = HashingThreads::with_threads(1, 2)?;
        // Hold the one thread until released.
        let (release, held) = std::sync::mpsc::channel::<()>();
        let blocker = threads.run(Priority::NewHash, move || {
            let _ = held.recv();
        });
        let order = Arc::new(Mutex::new(Vec::new()));
        let job = |name: &'static str| {
            let order = Arc::clone(&order);
            move || {
                order
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(name);
            }
        };
        let (blocked, queued) = tokio::join!(blocker, async {
            // Let the blocker reach the thread, then queue behind it.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            let first = threads.run(Priority::NewHash, job("new 1"));
            let second = threads.run(Priority::NewHash, job("new 2"));
            let refused = threads.run(Priority::NewHash, job("new 3"));
            let sign_in = threads.run(Priority::SignIn, job("sign-in"));
            let release_later = async {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                let _ = release.send(());
            };
            let (a, b, c, d, ()) = tokio::join!(first, second, refused, sign_in, release_later);
            (a, b, c, d)
        });
        blocked?;
        let (first, second, refused, sign_in) = queued;
        assert!(matches!(refused, Err(HashError::Busy)));
        first?;
        second?;
        sign_in?;
        let order = order
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        assert_eq!(order, vec!["sign-in", "new 1", "new 2"]);
        Ok(())
    }
}
