/// Why the server could not start or a command failed; each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error(
        "cannot reach PostgreSQL at {url}: {reason}\n\
         Start PostgreSQL (e.g. `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`), \
         or point DATABASE_URL at a running server."
    )]
    DatabaseUnreachable { url: String, reason: String },
    #[error("database: {0}")]
    Database(#[from] postgres::DbError),
    #[error("keys: {0}")]
    Keys(String),
    #[error("cannot listen on {address}: {reason}")]
    Bind { address: String, reason: String },
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// An operator command refused its input (unknown email, invalid field, taken email).
    #[error("{0}")]
    Operator(String),
}

impl From<identity::IdentityError> for AppError {
    fn from(error: identity::IdentityError) -> Self {
        use identity::IdentityError as E;
        Self::Operator(match error {
            E::NotFound => "no user has that email".to_owned(),
            E::EmailTaken => "a user with that email already exists".to_owned(),
            E::Validation(fields) => fields
                .iter()
                .map(|f| format!("{}: {}", f.field, f.message))
                .collect::<Vec<_>>()
                .join("; "),
            E::WeakPassword(f) => format!("{}: {} (weak_password)", f.field, f.message),
            other => other.to_string(),
        })
    }
}

impl From<config::ConfigError> for AppError {
    fn from(error: config::ConfigError) -> Self {
        Self::Config(error.to_string())
    }
}

impl From<tokens::TokenError> for AppError {
    fn from(error: tokens::TokenError) -> Self {
        Self::Keys(error.to_string())
    }
}

impl From<kernel::SealError> for AppError {
    fn from(error: kernel::SealError) -> Self {
        Self::Keys(error.to_string())
    }
}

impl From<kernel::StoreError> for AppError {
    fn from(error: kernel::StoreError) -> Self {
        Self::Keys(format!("could not load or store signing keys: {error}"))
    }
}
