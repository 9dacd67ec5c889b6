//! Password reset: a code by email (the request answers alike for any address), then the code
//! with a new password; every session of the user ends and a new one starts.

use kernel::{AuthEvent, AuthEventKind, EmailAddress, OutgoingEmail};

use crate::codes;
use crate::error::IdentityError;
use crate::models::{CodeKind, LoginStep, NewCode, Password, ResetConfirmation};
use crate::service::{IdentityService, field, strong_password};
use crate::sign_in_guard::Failure;

impl IdentityService {
    /// Emails a reset code if the address belongs to a user; answers the same either way.
    /// Limited per address (whether or not it exists, so the limit reveals nothing).
    #[tracing::instrument(skip_all)]
    pub async fn request_password_reset(
        &self,
        email: &str,
        ip: Option<std::net::IpAddr>,
    ) -> Result<(), IdentityError> {
        let email = EmailAddress::parse(email)
            .map_err(|e| IdentityError::Validation(vec![field("email", e.to_string())]))?;
        let now = self.now();
        let bucket = format!("reset:email:{email}");
        self.limit(&bucket, self.policy().reset_per_email).await?;
        let Some(credentials) = self.accounts().find_credentials(&email).await? else {
            let event = AuthEvent::new(AuthEventKind::PasswordResetRequested, now, None, false)
                .from_ip(ip)
                .because("unknown email");
            return self.audit(&event).await;
        };
        let user = credentials.user;
        let code = codes::new_code()?;
        let expires_at = now + self.policy().reset_ttl;
        let message = OutgoingEmail {
            to: email,
            subject: "Reset your NudgeScribe password".into(),
            body: format!(
                "Hello {name},\n\nSomeone asked to reset your NudgeScribe password. \
                 To choose a new one, use this code (valid until {until}):\n\n\
                 Code: {code}\n\nIf it was not you, ignore this email: your password stays as it is.\n",
                name = kernel::text::inert_name(&user.full_name),
                until = expires_at.format("%Y-%m-%d %H:%M UTC"),
            ),
        };
        let event = AuthEvent::new(
            AuthEventKind::PasswordResetRequested,
            now,
            Some((user.account_id, user.id)),
            true,
        )
        .from_ip(ip);
        let reset = NewCode::for_user(CodeKind::PasswordReset, &user, &code, now, expires_at);
        self.codes()
            .issue(&reset, &self.seal_email(&message)?, Some(&event))
            .await?;
        Ok(())
    }

    /// Sets a new password with a reset code; every session of the user is revoked, and a new
    /// one is started.
    #[tracing::instrument(skip_all)]
    pub async fn confirm_password_reset(
        &self,
        input: ResetConfirmation,
    ) -> Result<LoginStep, IdentityError> {
        let mut errors = Vec::new();
        let email = EmailAddress::parse(&input.email)
            .map_err(|e| errors.push(field("email", e.to_string())))
            .ok();
        let password = Password::parse(input.new_password)
            .map_err(|e| errors.push(field("new_password", e)))
            .ok();
        if input.code.trim().is_empty() {
            errors.push(field("code", "must not be empty".into()));
        }
        let (Some(email), Some(password), true) = (email, password, errors.is_empty()) else {
            return Err(IdentityError::Validation(errors));
        };
        strong_password("new_password", &password, &email)?;
        let now = self.now();
        let Some((mut tx, user)) = self
            .redeem_with_password(CodeKind::PasswordReset, &email, &input.code, &password, now)
            .await?
        else {
            return Err(IdentityError::InvalidResetCode);
        };
        // A reset lifts a sign-in lock, as a correct password would.
        self.success_in(tx.as_mut(), Failure::Password).await?;
        // The code went to this address: it is proven.
        tx.mark_email_verified(now).await?;
        tx.record(
            &AuthEvent::new(
                AuthEventKind::PasswordReset,
                now,
                Some((user.account_id, user.id)),
                true,
            )
            .from_ip(input.ip),
        )
        .await?;
        tx.commit().await?;
        self.token_service()
            .revoke_all_sessions(user.account_id, user.id, "password reset")
            .await?;
        // A reset proves the mailbox, not the second factor: MFA still applies.
        let mfa_enabled = self
            .mfa_store()
            .mfa(user.account_id, user.id)
            .await?
            .is_some_and(|m| m.enabled);
        self.after_first_factor(user, mfa_enabled, input.ip, Some("password reset"))
            .await
    }
}
