//! Adapters for what the operating system, the network and local data files provide: the wall
//! clock, CPU-bound password hashing on low-priority threads of its own, email delivery over SMTP, and IP
//! geolocation from a MaxMind-format database.

mod geo;
mod hashing;
mod mail;

pub use geo::{GeoError, MaxMindLocator, UnknownLocations};
pub use hashing::{HashingThreads, Priority};
pub use mail::{LogMailer, SmtpMailer};

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound as _, Utc};
use identity::ports::{HashError, PasswordHasher};
use kernel::Clock;

/// The real clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    /// Microsecond precision: what Postgres stores, so a value read back equals the one written.
    #[allow(
        clippy::disallowed_methods,
        reason = "the clock adapter: the server's one wall-clock read"
    )]
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}

/// bcrypt's accepted cost range.
const MIN_COST: u32 = 4;
const MAX_COST: u32 = 31;
/// bcrypt reads 72 bytes of password. Longer ones are refused rather than silently truncated
/// (`bcrypt::non_truncating_*` would also refuse exactly 72, which bcrypt handles whole).
const MAX_PASSWORD_BYTES: usize = 72;

/// bcrypt at a configured cost, run on [`HashingThreads`] so it never stalls a worker nor
/// crowds out other requests.
#[derive(Clone, Debug)]
pub struct BcryptHasher {
    cost: u32,
    threads: HashingThreads,
}

impl BcryptHasher {
    /// `cost` must lie in bcrypt's range (4..=31).
    pub fn new(cost: u32) -> Result<Self, HashError> {
        if (MIN_COST..=MAX_COST).contains(&cost) {
            Ok(Self {
                cost,
                threads: HashingThreads::start()?,
            })
        } else {
            Err(HashError::Failed(format!(
                "bcrypt cost must be between {} and {}, not {cost}",
                MIN_COST, MAX_COST
            )))
        }
    }
}

#[async_trait]
impl PasswordHasher for BcryptHasher {
    async fn hash(&self, password: &str) -> Result<String, HashError> {
        let (password, cost) = (password.to_owned(), self.cost);
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(HashError::Failed(format!(
                "bcrypt would ignore bytes past {MAX_PASSWORD_BYTES}"
            )));
        }
        self.threads
            .run(Priority::NewHash, move || {
                bcrypt::hash(password, cost).map_err(|e| HashError::Failed(e.to_string()))
            })
            .await?
    }

    async fn verify(&self, candidate: &str, hash: &str) -> Result<bool, HashError> {
        if candidate.len() > MAX_PASSWORD_BYTES {
            return Ok(false);
        }
        let (candidate, hash) = (candidate.to_owned(), hash.to_owned());
        self.threads
            .run(Priority::SignIn, move || {
                bcrypt::verify(candidate, &hash).unwrap_or(false)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_carry_the_cost() -> Result<(), HashError> {
        let hasher = BcryptHasher::new(4)?;
        let hash = hasher.hash("correct horse").await?;
        assert!(hash.starts_with("$2b$04$"));
        assert!(hasher.verify("correct horse", &hash).await?);
        assert!(!hasher.verify("correct horsf", &hash).await?);
        assert!(!hasher.verify("correct horse", "not a hash").await?);
        Ok(())
    }

    #[tokio::test]
    async fn refuses_passwords_bcrypt_would_truncate() -> Result<(), HashError> {
        let hasher = BcryptHasher::new(4)?;
        assert!(hasher.hash(&"a".repeat(73)).await.is_err());
        let hash = hasher.hash(&"a".repeat(72)).await?;
        assert!(!hasher.verify(&"a".repeat(73), &hash).await?);
        Ok(())
    }

    #[test]
    fn refuses_costs_out_of_range() {
        assert!(BcryptHasher::new(3).is_err());
        assert!(BcryptHasher::new(32).is_err());
        assert!(BcryptHasher::new(12).is_ok());
    }
}
