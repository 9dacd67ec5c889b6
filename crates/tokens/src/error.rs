use kernel::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The token is malformed, forged, expired, of the wrong kind or for someone else. Why is
    /// logged, never told: every case is a 401.
    #[error("invalid token: {0}")]
    Invalid(&'static str),
    /// Authenticated, but this is not allowed (a missing role, a scope beyond the owner's).
    #[error("{0}")]
    Forbidden(&'static str),
    /// This kind of credential may never do this (the capability rule).
    #[error(transparent)]
    CredentialNotAllowed(#[from] kernel::CredentialNotAllowed),
    /// No such API key of the caller (or of the account, for an administrator).
    #[error("API key not found")]
    NotFound,
    /// No such live session of the caller.
    #[error("session not found")]
    SessionNotFound,
    /// Too many attempts; try again after this many seconds.
    #[error("too many requests")]
    RateLimited { retry_after_secs: u64 },
    /// Invalid input, by field.
    #[error("the request has invalid fields")]
    Validation(Vec<(&'static str, String)>),
    #[error("signing key: {0}")]
    Key(String),
    #[error("could not sign a token: {0}")]
    Signing(String),
    #[error(transparent)]
    Seal(#[from] kernel::SealError),
    #[error(transparent)]
    Store(#[from] StoreError),
}
