//! What an operator does from the `nudgescribe` binary, outside any request: create an
//! account, reset a user's MFA, end every session of a user.
//!
//! There is no [`kernel::Actor`] here: whoever runs the binary with the server's database
//! credentials can already do anything, so these take plain inputs. What keeps them honest is
//! the audit trail: each is recorded with `detail.by = "operator"` in the user's account.

use kernel::{AuthEvent, AuthEventKind, EmailAddress};

use crate::error::IdentityError;
use crate::models::{SignupInput, SignupOutcome, User};
use crate::service::{IdentityService, field};
use crate::sign_in_guard::Failure;

/// What resetting a user's MFA found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MfaReset {
    /// TOTP was on (or being set up) and is now off, its recovery codes gone.
    Cleared,
    /// The user had no TOTP; nothing changed.
    WasOff,
}

impl IdentityService {
    /// Creates an account with its owner and default workspace, as signup does, audited as an
    /// operator's act.
    #[tracing::instrument(skip_all)]
    pub async fn operator_create_account(
        &self,
        input: SignupInput,
    ) -> Result<SignupOutcome, IdentityError> {
        self.create_account(input, true).await
    }

    /// Turns the user's TOTP off and deletes their recovery codes, so that they sign in with
    /// their password alone and can enrol again (a lost phone). Any sign-in lock from failed
    /// codes is lifted too. `NotFound` for an unknown email.
    #[tracing::instrument(skip_all)]
    pub async fn operator_reset_mfa(&self, email: &str) -> Result<(User, MfaReset), IdentityError> {
        let user = self.user_by_email(email).await?;
        let who = Some((user.account_id, user.id));
        let event = AuthEvent::new(AuthEventKind::MfaDisabled, self.now(), who, true)
            .by_operator()
            .because("reset by an operator");
        let mut tx = self.mfa_store().begin_mfa(user.account_id, user.id).await?;
        let had_mfa = tx.totp().await?.is_some();
        if had_mfa {
            tx.remove().await?;
        }
        tx.record(&event).await?;
        self.success_in(tx.as_mut(), Failure::Password).await?;
        tx.commit().await?;
        let outcome = if had_mfa {
            MfaReset::Cleared
        } else {
            MfaReset::WasOff
        };
        Ok((user, outcome))
    }

    /// Revokes every session of the user: each access and refresh token they hold stops
    /// working at once, on every instance (the same revocation as logout and password reset).
    /// Their API keys stay; exchanging one starts a new session. `NotFound` for an unknown
    /// email.
    #[tracing::instrument(skip_all)]
    pub async fn operator_revoke_sessions(&self, email: &str) -> Result<User, IdentityError> {
        let user = self.user_by_email(email).await?;
        self.token_service()
            .revoke_all_sessions(user.account_id, user.id, "revoked by an operator")
            .await?;
        let event = AuthEvent::new(
            AuthEventKind::SessionsRevoked,
            self.now(),
            Some((user.account_id, user.id)),
            true,
        )
        .by_operator();
        self.audit(&event).await?;
        Ok(user)
    }

    async fn user_by_email(&self, email: &str) -> Result<User, IdentityError> {
        let email = EmailAddress::parse(email)
            .map_err(|e| IdentityError::Validation(vec![field("email", e.to_string())]))?;
        Ok(self
            .accounts()
            .find_credentials(&email)
            .await?
            .ok_or(IdentityError::NotFound)?
            .user)
    }
}
