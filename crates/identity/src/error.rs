pub use kernel::FieldError;
use kernel::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    #[error("an account with this email already exists")]
    EmailTaken,
    /// Wrong email or wrong password: deliberately not saying which.
    #[error("invalid email or password")]
    InvalidCredentials,
    /// The invitation code is wrong, already used, or expired (deliberately not saying which).
    #[error("the invitation code is invalid, used or expired")]
    InvalidInvitation,
    /// The reset code is wrong, already used, or expired (deliberately not saying which).
    #[error("the reset code is invalid, used or expired")]
    InvalidResetCode,
    /// The email verification code is wrong, used or expired.
    #[error("the verification code is invalid, used or expired")]
    InvalidVerificationCode,
    /// The caller has not verified their email address, which this needs.
    #[error("verify your email address first (a code was emailed at sign-up)")]
    EmailUnverified,
    /// The MFA code is wrong or was used already.
    #[error("invalid or already used code")]
    InvalidMfaCode,
    /// Too many attempts; try again after this many seconds.
    #[error("too many requests")]
    RateLimited { retry_after_secs: u64 },
    /// A password that is too easy to guess (common, or built on the email address).
    #[error("the password is too easy to guess")]
    WeakPassword(FieldError),
    /// Signed in, but not allowed to do this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// This kind of credential may never do this (the capability rule).
    #[error(transparent)]
    CredentialNotAllowed(#[from] kernel::CredentialNotAllowed),
    #[error("not found")]
    NotFound,
    /// The change would break a rule of the account (e.g. its last owner).
    #[error("{0}")]
    Conflict(&'static str),
    #[error("the service is temporarily unavailable")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
    /// A failure of the tokens domain this service called (a session could not be started).
    #[error(transparent)]
    Tokens(#[from] tokens::TokenError),
}

impl From<crate::ports::HashError> for IdentityError {
    fn from(error: crate::ports::HashError) -> Self {
        match error {
            crate::ports::HashError::Busy => {
                Self::Unavailable("password hashing is busy; try again shortly".into())
            }
            crate::ports::HashError::Failed(why) => Self::Internal(why),
        }
    }
}

impl From<StoreError> for IdentityError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Self::NotFound,
            StoreError::Unavailable(why) => Self::Unavailable(why),
            StoreError::Duplicate(what) => Self::Internal(format!("unexpected duplicate: {what}")),
            StoreError::Other(why) => Self::Internal(why),
        }
    }
}
