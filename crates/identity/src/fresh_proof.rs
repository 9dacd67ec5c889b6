//! Sensitive changes need fresh proof: a password change asks for the current password, MFA
//! activation and deactivation for a code. Those proofs are guessed at like sign-ins are, so
//! they are limited and counted like sign-ins: the MFA step's per-user limit (`mfa_per_user`,
//! a budget of its own so that turning MFA on does not spend the next sign-in's), and every
//! wrong answer counts toward the user's lockout.

use kernel::{Actor, AuthEvent, AuthEventKind};

use crate::error::IdentityError;
use crate::models::Credentials;
use crate::ports::SignInGuardTx;
use crate::service::IdentityService;
use crate::sign_in_guard::Failure;

impl IdentityService {
    /// Admits one attempt at a fresh proof by the actor: within the per-user limit, and not
    /// while the account's sign-in is locked. Returns the user's credentials.
    pub(crate) async fn admit_proof(&self, actor: &Actor) -> Result<Credentials, IdentityError> {
        let now = self.now();
        let bucket = format!("proof:user:{}", actor.user_id);
        self.limit(&bucket, self.policy().mfa_per_user).await?;
        let (user, _) = self
            .accounts()
            .profile(actor.account_id, actor.user_id)
            .await?;
        let credentials = self
            .accounts()
            .find_credentials(&user.email)
            .await?
            .ok_or(IdentityError::NotFound)?;
        if let Some(until) = credentials.locked_until.filter(|until| *until > now) {
            let retry_after_secs = u64::try_from((until - now).num_seconds().max(1)).unwrap_or(1);
            return Err(IdentityError::RateLimited { retry_after_secs });
        }
        Ok(credentials)
    }

    /// Counts a wrong answer toward the user's lockout, and audits it (and a lockout it caused),
    /// in a unit of work of its own.
    pub(crate) async fn proof_failed(
        &self,
        actor: &Actor,
        proof: Failure,
        event: AuthEventKind,
        ip: Option<std::net::IpAddr>,
    ) -> Result<(), IdentityError> {
        let mut tx = self
            .guard()
            .begin_guard(actor.account_id, actor.user_id)
            .await?;
        self.proof_failed_in(tx.as_mut(), actor, proof, event, ip)
            .await?;
        Ok(tx.commit().await?)
    }

    /// [`IdentityService::proof_failed`] in the unit of work `tx`; the caller commits.
    pub(crate) async fn proof_failed_in(
        &self,
        tx: &mut dyn SignInGuardTx,
        actor: &Actor,
        proof: Failure,
        event: AuthEventKind,
        ip: Option<std::net::IpAddr>,
    ) -> Result<(), IdentityError> {
        let now = self.now();
        let who = Some((actor.account_id, actor.user_id));
        self.failure_in(tx, proof, |counted| {
            let mut failed =
                AuthEvent::new(event, now, who, false)
                    .from_ip(ip)
                    .because(match proof {
                        Failure::Password => "wrong current password",
                        Failure::Code => "wrong or reused code",
                    });
            match proof {
                Failure::Password => failed.failed_signin_attempts = counted.attempts,
                Failure::Code => failed.failed_validation_attempts = counted.attempts,
            }
            let mut events = vec![failed];
            if counted.locked_until.is_some() {
                events.push(
                    AuthEvent::new(AuthEventKind::AccountLocked, now, who, false)
                        .from_ip(ip)
                        .because(match proof {
                            Failure::Password => "too many wrong passwords at a sensitive change",
                            Failure::Code => "too many wrong codes at a sensitive change",
                        }),
                );
            }
            events
        })
        .await?;
        Ok(())
    }
}
