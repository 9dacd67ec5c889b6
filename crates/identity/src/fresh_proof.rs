//! Sensitive changes need fresh proof: a password change asks for the current password, MFA
//! activation and deactivation for a code. Those proofs are guessed at like sign-ins are, so
//! they are limited and counted like sign-ins: the MFA step's per-user limit (`mfa_per_user`,
//! a budget of its own so that turning MFA on does not spend the next sign-in's), and every
//! wrong answer counts toward the user's lockout.

use kernel::{Actor, AuthEvent, AuthEventKind};

use crate::error::IdentityError;
use crate::models::Credentials;
use crate::service::IdentityService;

/// What a wrong answer was: it is counted with the sign-in failures of the same kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Proof {
    Password,
    Code,
}

impl IdentityService {
    /// Admits one attempt at a fresh proof by the actor: within the per-user limit, and not
    /// while the account's sign-in is locked. Returns the user's credentials.
    pub(crate) async fn admit_proof(&self, actor: &Actor) -> Result<Credentials, IdentityError> {
        let now = self.now();
        let bucket = format!("proof:user:{}", actor.user_id);
        self.limit(&bucket, self.policy().mfa_per_user).await?;
        let (user, _) = self
            .store()
            .profile(actor.account_id, actor.user_id)
            .await?;
        let credentials = self
            .store()
            .find_credentials(&user.email)
            .await?
            .ok_or(IdentityError::NotFound)?;
        if let Some(until) = credentials.locked_until.filter(|until| *until > now) {
            let retry_after_secs = u64::try_from((until - now).num_seconds().max(1)).unwrap_or(1);
            return Err(IdentityError::RateLimited { retry_after_secs });
        }
        Ok(credentials)
    }

    /// Counts a wrong answer toward the user's lockout, and audits it (and a lockout it caused).
    pub(crate) async fn proof_failed(
        &self,
        actor: &Actor,
        proof: Proof,
        event: AuthEventKind,
        ip: Option<std::net::IpAddr>,
    ) -> Result<(), IdentityError> {
        let now = self.now();
        let policy = self.policy();
        let (account, user) = (actor.account_id, actor.user_id);
        let counted = match proof {
            Proof::Password => {
                self.store()
                    .record_failed_signin(
                        account,
                        user,
                        now,
                        policy.max_failed_signins,
                        policy.lockout,
                    )
                    .await?
            }
            Proof::Code => {
                self.store()
                    .record_failed_validation(
                        account,
                        user,
                        now,
                        policy.max_failed_signins,
                        policy.lockout,
                    )
                    .await?
            }
        };
        let mut failed = AuthEvent::new(event, now, Some((account, user)), false)
            .from_ip(ip)
            .because(match proof {
                Proof::Password => "wrong current password",
                Proof::Code => "wrong or reused code",
            });
        match proof {
            Proof::Password => failed.failed_signin_attempts = counted.attempts,
            Proof::Code => failed.failed_validation_attempts = counted.attempts,
        }
        self.store().record_event(&failed).await?;
        if counted.locked_until.is_some() {
            let locked = AuthEvent::new(
                AuthEventKind::AccountLocked,
                now,
                Some((account, user)),
                false,
            )
            .from_ip(ip)
            .because(match proof {
                Proof::Password => "too many wrong passwords at a sensitive change",
                Proof::Code => "too many wrong codes at a sensitive change",
            });
            self.store().record_event(&locked).await?;
        }
        Ok(())
    }
}
