//! Proving an email address: a code is emailed at sign-up (and on request); until the user
//! sends it back they cannot invite anyone, so a self-made account cannot use the platform's
//! mail to reach strangers. Accepting an invitation or confirming a reset proves the address
//! the code went to.

use kernel::{Actor, Capability, OutgoingEmail, UserId};

use crate::codes;
use crate::error::IdentityError;
use crate::models::{CodeKind, NewCode, User};
use crate::service::IdentityService;

/// Code attempts per user per minute: the codes are 80 random bits, this only keeps the
/// log quiet.
const VERIFY_ATTEMPTS_PER_MINUTE: u32 = 10;

impl IdentityService {
    /// Emails `user` a new verification code (replacing an open one).
    pub(crate) async fn send_verification(&self, user: &User) -> Result<(), IdentityError> {
        let code = codes::new_code()?;
        let expires_at = self.now() + self.policy().verification_ttl;
        let message = OutgoingEmail {
            to: user.email.clone(),
            subject: "Verify your NudgeScribe email address".into(),
            body: format!(
                "Hello {name},\n\nTo verify this email address for NudgeScribe, enter this code \
                 (valid until {until}):\n\nCode: {code}\n\n\
                 If you did not sign up, ignore this email.\n",
                name = kernel::text::inert_name(&user.full_name),
                until = expires_at.format("%Y-%m-%d %H:%M UTC"),
            ),
        };
        let verification = NewCode::for_user(
            CodeKind::EmailVerification,
            user,
            &code,
            self.now(),
            expires_at,
        );
        Ok(self
            .codes()
            .issue(&verification, &self.seal_email(&message)?, None)
            .await?)
    }

    /// Verifies the caller's address with the emailed code (a person's session only).
    #[tracing::instrument(skip_all, fields(user_id = %actor.user_id))]
    pub async fn verify_email(&self, actor: &Actor, code: &str) -> Result<(), IdentityError> {
        actor.require(Capability::OwnCredentials)?;
        let bucket = format!("email-verify:user:{}", actor.user_id);
        self.limit(
            &bucket,
            kernel::RateLimit::per_minute(VERIFY_ATTEMPTS_PER_MINUTE),
        )
        .await?;
        let now = self.now();
        let mut tx = self
            .codes()
            .begin_redemption(CodeKind::EmailVerification, actor.account_id, actor.user_id)
            .await?;
        let verified = self.redeem(tx.as_mut(), code, now).await?;
        if verified {
            tx.mark_email_verified(now).await?;
        }
        tx.commit().await?;
        if verified {
            Ok(())
        } else {
            Err(IdentityError::InvalidVerificationCode)
        }
    }

    /// Emails the caller a new code, unless their address is verified already (then nothing
    /// is sent). Limited per user (`verification_per_user`).
    #[tracing::instrument(skip_all, fields(user_id = %actor.user_id))]
    pub async fn resend_verification(&self, actor: &Actor) -> Result<(), IdentityError> {
        actor.require(Capability::OwnCredentials)?;
        let bucket = format!("email-verify-send:user:{}", actor.user_id);
        self.limit(&bucket, self.policy().verification_per_user)
            .await?;
        if self.email_verified(actor.account_id, actor.user_id).await? {
            return Ok(());
        }
        let (user, _) = self
            .accounts()
            .profile(actor.account_id, actor.user_id)
            .await?;
        self.send_verification(&user).await
    }

    pub(crate) async fn email_verified(
        &self,
        account: kernel::AccountId,
        user: UserId,
    ) -> Result<bool, IdentityError> {
        Ok(self.accounts().email_verified(account, user).await?)
    }
}
