//! The sign-in lockout, the one place its rule lives: `max_failed_signins` wrong passwords in
//! a row — or as many wrong second-factor codes — lock the account for `lockout`, and the
//! count starts again; a success clears its count (a correct password also lifts the lock).
//! The counters are read and written through a [`SignInGuardTx`], a unit of work that holds
//! them, so failures counted on several instances at once all count.

use kernel::{AccountId, AuthEvent, UserId};

use crate::error::IdentityError;
use crate::models::{FailedSignin, SignInFailures};
use crate::ports::SignInGuardTx;
use crate::service::IdentityService;

/// Which counter a failure goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// A wrong password (at sign-in or as a fresh proof).
    Password,
    /// A wrong or reused second-factor code.
    Code,
}

impl IdentityService {
    /// Counts one failure in `failures` at `now`: the lockout rule.
    pub(crate) fn count_failure(
        &self,
        failures: &mut SignInFailures,
        failure: Failure,
        now: chrono::DateTime<chrono::Utc>,
    ) -> FailedSignin {
        let policy = self.policy();
        let count = match failure {
            Failure::Password => &mut failures.signins,
            Failure::Code => &mut failures.validations,
        };
        *count += 1;
        if *count >= policy.max_failed_signins {
            *count = 0;
            failures.locked_until = Some(now + policy.lockout);
            FailedSignin {
                attempts: policy.max_failed_signins,
                locked_until: failures.locked_until,
            }
        } else {
            FailedSignin {
                attempts: *count,
                locked_until: None,
            }
        }
    }

    /// Counts one failure in the unit of work `tx`, and records the events `audit` makes of
    /// the outcome with it. The caller commits.
    pub(crate) async fn failure_in(
        &self,
        tx: &mut dyn SignInGuardTx,
        failure: Failure,
        audit: impl FnOnce(FailedSignin) -> Vec<AuthEvent> + Send,
    ) -> Result<FailedSignin, IdentityError> {
        let mut failures = tx.failures().await?;
        let counted = self.count_failure(&mut failures, failure, self.now());
        tx.set_failures(&failures).await?;
        for event in audit(counted) {
            tx.record(&event).await?;
        }
        Ok(counted)
    }

    /// Counts one failure of the user in a unit of work of its own.
    pub(crate) async fn record_failure(
        &self,
        account: AccountId,
        user: UserId,
        failure: Failure,
        audit: impl FnOnce(FailedSignin) -> Vec<AuthEvent> + Send,
    ) -> Result<FailedSignin, IdentityError> {
        let mut tx = self.guard().begin_guard(account, user).await?;
        let counted = self.failure_in(tx.as_mut(), failure, audit).await?;
        tx.commit().await?;
        Ok(counted)
    }

    /// A success: clears the counter of `failure` in `tx` (a password also lifts the lock).
    pub(crate) async fn success_in(
        &self,
        tx: &mut dyn SignInGuardTx,
        failure: Failure,
    ) -> Result<(), IdentityError> {
        let mut failures = tx.failures().await?;
        match failure {
            Failure::Password => {
                failures.signins = 0;
                failures.locked_until = None;
            }
            Failure::Code => failures.validations = 0,
        }
        Ok(tx.set_failures(&failures).await?)
    }

    /// [`IdentityService::success_in`] in a unit of work of its own.
    pub(crate) async fn record_success(
        &self,
        account: AccountId,
        user: UserId,
        failure: Failure,
    ) -> Result<(), IdentityError> {
        let mut tx = self.guard().begin_guard(account, user).await?;
        self.success_in(tx.as_mut(), failure).await?;
        Ok(tx.commit().await?)
    }
}
