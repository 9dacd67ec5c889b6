//! TOTP multi-factor authentication (RFC 6238: SHA-1, 6 digits, 30 s steps, ±1 step of skew):
//! setup, activation with recovery codes, the sign-in step, and turning it off. Secrets are
//! sealed under the master key and never leave this module in clear except at setup; each
//! accepted code moves the user's last step forward, so a code never works twice.

use kernel::seal::random_bytes;
use kernel::{Actor, AuthEvent, AuthEventKind, Capability, StoreError, UserId};
use totp_rs::{Builder, Secret, Totp};

use crate::codes;
use crate::error::IdentityError;
use crate::fresh_proof::Proof;
use crate::models::{LoginOutcome, LoginStep, TotpSetup, User};
use crate::service::IdentityService;

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
    /// Activation with a code from the app turns it on.
    pub async fn setup_totp(&self, actor: &Actor) -> Result<TotpSetup, IdentityError> {
        actor.require(Capability::OwnCredentials)?;
        let (user, _) = self
            .store()
            .profile(actor.account_id, actor.user_id)
            .await?;
        let secret = random_bytes::<20>().map_err(|e| IdentityError::Internal(e.to_string()))?;
        let sealed = self
            .secrets()
            .seal(&secret, &associated_data(user.id))
            .map_err(|e| IdentityError::Internal(e.to_string()))?;
        match self
            .store()
            .save_pending_totp(actor.account_id, actor.user_id, &sealed)
            .await
        {
            Err(StoreError::Duplicate(_)) => {
                return Err(IdentityError::Conflict(
                    "TOTP is already enabled; disable it first",
                ));
            }
            other => other?,
        }
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
    pub async fn activate_totp(
        &self,
        actor: &Actor,
        code: &str,
        ip: Option<std::net::IpAddr>,
    ) -> Result<Vec<String>, IdentityError> {
        actor.require(Capability::OwnCredentials)?;
        self.admit_proof(actor).await?;
        let record = self
            .store()
            .mfa(actor.account_id, actor.user_id)
            .await?
            .ok_or(IdentityError::Conflict("start with TOTP setup"))?;
        if record.enabled {
            return Err(IdentityError::Conflict("TOTP is already enabled"));
        }
        let secret = self.open_secret(actor.user_id, &record.secret_sealed)?;
        let Some(step) = matching_step(&totp(&secret, "activation")?, code, self.now().timestamp())
        else {
            self.proof_failed(actor, Proof::Code, AuthEventKind::MfaFailed, ip)
                .await?;
            return Err(IdentityError::InvalidMfaCode);
        };
        let mut recovery = Vec::with_capacity(RECOVERY_CODES);
        for _ in 0..RECOVERY_CODES {
            recovery.push(codes::new_code()?);
        }
        let digests: Vec<[u8; 32]> = recovery.iter().map(|c| codes::digest(c)).collect();
        let event = AuthEvent::new(
            AuthEventKind::MfaEnabled,
            self.now(),
            Some((actor.account_id, actor.user_id)),
            true,
        )
        .from_ip(ip);
        self.store()
            .enable_totp(actor.account_id, actor.user_id, step, &digests, &event)
            .await?;
        self.token_service()
            .revoke_other_sessions(actor, "mfa enabled")
            .await?;
        Ok(recovery)
    }

    /// Turns TOTP off; needs a current code (or a recovery code), a fresh proof like
    /// activation's. Every other session of the user ends.
    pub async fn disable_totp(
        &self,
        actor: &Actor,
        code: &str,
        ip: Option<std::net::IpAddr>,
    ) -> Result<(), IdentityError> {
        actor.require(Capability::OwnCredentials)?;
        self.admit_proof(actor).await?;
        let record = self
            .store()
            .mfa(actor.account_id, actor.user_id)
            .await?
            .filter(|r| r.enabled)
            .ok_or(IdentityError::Conflict("TOTP is not enabled"))?;
        if !self
            .accept_code(actor.account_id, actor.user_id, &record.secret_sealed, code)
            .await?
        {
            self.proof_failed(actor, Proof::Code, AuthEventKind::MfaFailed, ip)
                .await?;
            return Err(IdentityError::InvalidMfaCode);
        }
        let event = AuthEvent::new(
            AuthEventKind::MfaDisabled,
            self.now(),
            Some((actor.account_id, actor.user_id)),
            true,
        )
        .from_ip(ip);
        self.store()
            .disable_totp(actor.account_id, actor.user_id, &event)
            .await?;
        self.token_service()
            .revoke_other_sessions(actor, "mfa disabled")
            .await?;
        Ok(())
    }

    /// Whether `code` is a fresh TOTP code or an unused recovery code of the user; consumes it.
    async fn accept_code(
        &self,
        account: kernel::AccountId,
        user: UserId,
        secret_sealed: &[u8],
        code: &str,
    ) -> Result<bool, IdentityError> {
        let secret = self.open_secret(user, secret_sealed)?;
        if let Some(step) = matching_step(&totp(&secret, "check")?, code, self.now().timestamp()) {
            return Ok(self.store().use_totp_step(account, user, step).await?);
        }
        Ok(self
            .store()
            .use_recovery_code(account, user, &codes::digest(code))
            .await?)
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
        let (profile_user, _) = self.store().profile(account, user).await?;
        let record = self
            .store()
            .mfa(account, user)
            .await?
            .filter(|r| r.enabled)
            .ok_or(IdentityError::InvalidCredentials)?;
        let locked = self
            .store()
            .find_credentials(&profile_user.email)
            .await?
            .and_then(|c| c.locked_until)
            .is_some_and(|until| until > now);
        if !locked
            && self
                .accept_code(account, user, &record.secret_sealed, code)
                .await?
        {
            // One sign-in per token, however many valid codes come with it.
            self.token_service()
                .redeem_mfa_ticket(&ticket)
                .await
                .map_err(|_| IdentityError::InvalidCredentials)?;
            return self
                .sign_in(profile_user, ip, Some("password and TOTP"))
                .await;
        }
        let counted = self
            .store()
            .record_failed_validation(
                account,
                user,
                now,
                self.policy().max_failed_signins,
                self.policy().lockout,
            )
            .await?;
        let mut event = AuthEvent::new(AuthEventKind::MfaFailed, now, Some((account, user)), false)
            .from_ip(ip)
            .because(if locked {
                "account locked"
            } else {
                "wrong or reused code"
            });
        event.failed_validation_attempts = counted.attempts;
        self.store().record_event(&event).await?;
        if counted.locked_until.is_some() {
            let event = AuthEvent::new(
                AuthEventKind::AccountLocked,
                now,
                Some((account, user)),
                false,
            )
            .from_ip(ip)
            .because("too many failed MFA codes");
            self.store().record_event(&event).await?;
        }
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
