//! TOTP multi-factor authentication (RFC 6238: SHA-1, 6 digits, 30 s steps, ±1 step of skew):
//! setup, activation with recovery codes, the sign-in step, and turning it off. Secrets are
//! sealed under the master key and never leave this module in clear except at setup; each
//! accepted code moves the user's last step forward, so a code never works twice.

use kernel::seal::random_bytes;
use kernel::{Actor, AuthEvent, AuthEventKind, Capability, UserId};
use totp_rs::{Builder, Secret, Totp};

use crate::codes;
use crate::error::IdentityError;
use crate::models::{LoginOutcome, LoginStep, MfaRecord, TotpSetup, User};
use crate::ports::MfaTx;
use crate::service::IdentityService;
use crate::sign_in_guard::Failure;

const ISSUER: &str = "NudgeScribe";
const RECOVERY_CODES: usize = 10;
/// How long the password step's proof waits for the code.
pub(crate) const MFA_TOKEN_SECONDS: i64 = 300;

fn associated_data(user: UserId) -> Vec<u8> {
    format!("nudgescribe/totp/{user}").into_bytes()
}

/// The TOTP of a raw secret, as RFC 6238 and every authenticator app compute it.
pub(crate) fn totp(secret: &[u8], account_name: &str) -> Result<Totp, IdentityError> {
    Builder::new()
        .with_secret(Secret::from(secret.to_vec()))
        .with_digits(6)
        .with_step_duration(30)
        .with_skew(1)
        .with_issuer(Some(ISSUER))
        .with_account_name(account_name)
        .build()
        .map_err(|e| IdentityError::Internal(format!("totp: {e}")))
}

/// The step a code matches at `unix_time` (±1 step), if any.
pub(crate) fn matching_step(totp: &Totp, code: &str, unix_time: i64) -> Option<i64> {
    let time = u64::try_from(unix_time).ok()?;
    totp.check(code.trim(), time)
        .and_then(|step| i64::try_from(step).ok())
}

impl IdentityService {
    fn open_secret(&self, user: UserId, sealed: &[u8]) -> Result<Vec<u8>, IdentityError> {
        self.secrets()
            .open(sealed, &associated_data(user))
            .map_err(|e| IdentityError::Internal(format!("totp secret: {e}")))
    }

    /// Starts TOTP setup: a new secret (160 bits), shown this once with its `otpauth://` URL.
    /// Activation with a code from the app turns it on. Refused while TOTP is enabled.
    #[tracing::instrument(skip_all, fields(user_id = %actor.user_id))]
    pub async fn setup_totp(&self, actor: &Actor) -> Result<TotpSetup, IdentityError> {
        actor.require(Capability::OwnCredentials)?;
        let (user, _) = self
            .accounts()
            .profile(actor.account_id, actor.user_id)
            .await?;
        let secret = random_bytes::<20>().map_err(|e| IdentityError::Internal(e.to_string()))?;
        let sealed = self
            .secrets()
            .seal(&secret, &associated_data(user.id))
            .map_err(|e| IdentityError::Internal(e.to_string()))?;
        let mut tx = self
            .mfa_store()
            .begin_mfa(actor.account_id, actor.user_id)
            .await?;
        if tx.totp().await?.is_some_and(|r| r.enabled) {
            tx.commit().await?;
            return Err(IdentityError::Conflict(
                "TOTP is already enabled; disable it first",
            ));
        }
        tx.save_pending(&sealed).await?;
        tx.commit().await?;
        let totp = totp(&secret, user.email.as_str())?;
        Ok(TotpSetup {
            secret: Secret::from(secret.to_vec()).to_base32(),
            otpauth_url: totp
                .to_url()
                .map_err(|e| IdentityError::Internal(format!("totp url: {e}")))?,
        })
    }

    /// Turns TOTP on with a code from the app; returns the 10 one-time recovery codes. Every
    /// other session of the user ends: none of them proved the new factor. The code is a fresh
    /// proof (limited and counted, see `fresh_proof`).
    #[tracing::instrument(skip_all, fields(user_id = %actor.user_id))]
    pub async fn activate_totp(
        &self,
        actor: &Actor,
        code: &str,
        ip: Option<std::net::IpAddr>,
    ) -> Result<Vec<String>, IdentityError> {
        actor.require(Capability::OwnCredentials)?;
        self.admit_proof(actor).await?;
        let mut tx = self
            .mfa_store()
            .begin_mfa(actor.account_id, actor.user_id)
            .await?;
        let record = match tx.totp().await? {
            Some(record) if !record.enabled => record,
            found => {
                tx.commit().await?;
                return Err(IdentityError::Conflict(if found.is_some() {
                    "TOTP is already enabled"
                } else {
                    "start with TOTP setup"
                }));
            }
        };
        let secret = self.open_secret(actor.user_id, &record.secret_sealed)?;
        let Some(step) = matching_step(&totp(&secret, "activation")?, code, self.now().timestamp())
        else {
            return Err(self.wrong_code(tx, actor, ip).await?);
        };
        let mut recovery = Vec::with_capacity(RECOVERY_CODES);
        for _ in 0..RECOVERY_CODES {
            recovery.push(codes::new_code()?);
        }
        let digests: Vec<[u8; 32]> = recovery.iter().map(|c| codes::digest(c)).collect();
        let now = self.now();
        tx.enable(now).await?;
        tx.set_last_used_step(step).await?;
        tx.replace_recovery_codes(&digests).await?;
        tx.record(
            &AuthEvent::new(
                AuthEventKind::MfaEnabled,
                now,
                Some((actor.account_id, actor.user_id)),
                true,
            )
            .from_ip(ip),
        )
        .await?;
        tx.commit().await?;
        self.token_service()
            .revoke_other_sessions(actor, "mfa enabled")
            .await?;
        Ok(recovery)
    }

    /// Turns TOTP off; needs a current code (or a recovery code), a fresh proof like
    /// activation's. Every other session of the user ends.
    #[tracing::instrument(skip_all, fields(user_id = %actor.user_id))]
    pub async fn disable_totp(
        &self,
        actor: &Actor,
        code: &str,
        ip: Option<std::net::IpAddr>,
    ) -> Result<(), IdentityError> {
        actor.require(Capability::OwnCredentials)?;
        self.admit_proof(actor).await?;
        let mut tx = self
            .mfa_store()
            .begin_mfa(actor.account_id, actor.user_id)
            .await?;
        let Some(record) = tx.totp().await?.filter(|r| r.enabled) else {
            tx.commit().await?;
            return Err(IdentityError::Conflict("TOTP is not enabled"));
        };
        if !self
            .accept_code(tx.as_mut(), actor.user_id, &record, code)
            .await?
        {
            return Err(self.wrong_code(tx, actor, ip).await?);
        }
        tx.remove().await?;
        tx.record(
            &AuthEvent::new(
                AuthEventKind::MfaDisabled,
                self.now(),
                Some((actor.account_id, actor.user_id)),
                true,
            )
            .from_ip(ip),
        )
        .await?;
        tx.commit().await?;
        self.token_service()
            .revoke_other_sessions(actor, "mfa disabled")
            .await?;
        Ok(())
    }

    /// A wrong code as the fresh proof of a TOTP change: counted toward the lockout in `tx`,
    /// which ends here. Returns the error to answer with.
    async fn wrong_code(
        &self,
        mut tx: Box<dyn MfaTx>,
        actor: &Actor,
        ip: Option<std::net::IpAddr>,
    ) -> Result<IdentityError, IdentityError> {
        self.proof_failed_in(
            tx.as_mut(),
            actor,
            Failure::Code,
            AuthEventKind::MfaFailed,
            ip,
        )
        .await?;
        tx.commit().await?;
        Ok(IdentityError::InvalidMfaCode)
    }

    /// Whether `code` is a fresh TOTP code (a step later than the last accepted one: a code
    /// works once) or an unused recovery code of the user; if so, uses it up in `tx` and clears
    /// the failed-validation count. `record` is the user's enabled TOTP, read in `tx`.
    async fn accept_code(
        &self,
        tx: &mut dyn MfaTx,
        user: UserId,
        record: &MfaRecord,
        code: &str,
    ) -> Result<bool, IdentityError> {
        let secret = self.open_secret(user, &record.secret_sealed)?;
        if let Some(step) = matching_step(&totp(&secret, "check")?, code, self.now().timestamp()) {
            if record.last_used_step.is_some_and(|last| last >= step) {
                return Ok(false);
            }
            tx.set_last_used_step(step).await?;
        } else {
            let digest = codes::digest(code);
            if tx.recovery_code_used(&digest).await? != Some(false) {
                return Ok(false);
            }
            tx.mark_recovery_code_used(&digest, self.now()).await?;
        }
        // A correct second factor clears the failed-validation count.
        self.success_in(tx, Failure::Code).await?;
        Ok(true)
    }

    /// After a correct password (or reset): either the session, or — with MFA on — the proof
    /// that the MFA step must complete.
    pub(crate) async fn after_first_factor(
        &self,
        user: User,
        mfa_enabled: bool,
        ip: Option<std::net::IpAddr>,
        how: Option<&'static str>,
    ) -> Result<LoginStep, IdentityError> {
        if !mfa_enabled {
            return Ok(LoginStep::Complete(self.sign_in(user, ip, how).await?));
        }
        let mfa_token = self.token_service().mint_mfa_token(
            user.account_id,
            user.id,
            chrono::Duration::seconds(MFA_TOKEN_SECONDS),
        )?;
        Ok(LoginStep::MfaRequired {
            mfa_token,
            expires_in: MFA_TOKEN_SECONDS,
        })
    }

    /// The MFA step of sign-in: the token from the password step and a TOTP or recovery code.
    /// Limited per user; failures count towards the same lockout as failed passwords.
    #[tracing::instrument(skip_all)]
    pub async fn login_mfa(
        &self,
        mfa_token: &str,
        code: &str,
        ip: Option<std::net::IpAddr>,
    ) -> Result<LoginOutcome, IdentityError> {
        let ticket = self
            .token_service()
            .verify_mfa_token(mfa_token)
            .map_err(|_| IdentityError::InvalidCredentials)?;
        let (account, user) = (ticket.account_id, ticket.user_id);
        let now = self.now();
        let bucket = format!("mfa:user:{user}");
        self.limit(&bucket, self.policy().mfa_per_user).await?;
        let (profile_user, _) = self.accounts().profile(account, user).await?;
        let mut tx = self.mfa_store().begin_mfa(account, user).await?;
        let Some(record) = tx.totp().await?.filter(|r| r.enabled) else {
            tx.commit().await?;
            return Err(IdentityError::InvalidCredentials);
        };
        let locked = tx
            .failures()
            .await?
            .locked_until
            .is_some_and(|until| until > now);
        if !locked && self.accept_code(tx.as_mut(), user, &record, code).await? {
            tx.commit().await?;
            // One sign-in per token, however many valid codes come with it.
            self.token_service()
                .redeem_mfa_ticket(&ticket)
                .await
                .map_err(|_| IdentityError::InvalidCredentials)?;
            return self
                .sign_in(profile_user, ip, Some("password and TOTP"))
                .await;
        }
        let who = Some((account, user));
        self.failure_in(tx.as_mut(), Failure::Code, |counted| {
            let mut event = AuthEvent::new(AuthEventKind::MfaFailed, now, who, false)
                .from_ip(ip)
                .because(if locked {
                    "account locked"
                } else {
                    "wrong or reused code"
                });
            event.failed_validation_attempts = counted.attempts;
            let mut events = vec![event];
            if counted.locked_until.is_some() {
                events.push(
                    AuthEvent::new(AuthEventKind::AccountLocked, now, who, false)
                        .from_ip(ip)
                        .because("too many failed MFA codes"),
                );
            }
            events
        })
        .await?;
        tx.commit().await?;
        Err(IdentityError::InvalidMfaCode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 seed "12345678901234567890": the 8-digit codes' last six
    /// digits are the 6-digit codes.
    #[test]
    fn rfc_6238_appendix_b_vectors() -> Result<(), IdentityError> {
        let totp = totp(b"12345678901234567890", "rfc")?;
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ] {
            assert_eq!(
                matching_step(&totp, code, time),
                Some(time / 30),
                "t={time}"
            );
        }
        Ok(())
    }

    #[test]
    fn a_code_is_accepted_one_step_either_side_and_no_further() -> Result<(), IdentityError> {
        let totp = totp(b"12345678901234567890", "rfc")?;
        assert_eq!(matching_step(&totp, "287082", 59 + 30), Some(1));
        assert_eq!(matching_step(&totp, "287082", 59 + 60), None);
        assert_eq!(matching_step(&totp, "not a code", 59), None);
        Ok(())
    }
}
