use diesel::result::{DatabaseErrorKind, Error as DieselError};
use kernel::StoreError;

/// Everything that can go wrong in this adapter. Leaves the crate as a [`StoreError`].
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot reach the database at {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("no database connection available: {0}")]
    Pool(String),
    #[error(transparent)]
    Query(#[from] DieselError),
    #[error("migration failed: {0}")]
    Migration(String),
    /// A stored value the domain cannot accept (an unknown role, a malformed key).
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("invalid database URL `{0}`")]
    BadUrl(String),
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for DbError {
    fn from(error: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        Self::Pool(error.to_string())
    }
}

impl From<DbError> for StoreError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::Query(DieselError::NotFound) => Self::NotFound,
            DbError::Query(DieselError::DatabaseError(
                DatabaseErrorKind::UniqueViolation,
                info,
            )) => Self::Duplicate(info.constraint_name().unwrap_or("unique").to_owned()),
            // A reference to something that does not exist — or is another tenant's.
            DbError::Query(DieselError::DatabaseError(
                DatabaseErrorKind::ForeignKeyViolation,
                _,
            )) => Self::NotFound,
            DbError::Query(DieselError::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                info,
            )) => Self::Unavailable(info.message().to_owned()),
            DbError::Connect { .. } | DbError::Pool(_) => Self::Unavailable(error.to_string()),
            other => Self::Other(other.to_string()),
        }
    }
}

/// Runs a unit of work written against [`DbError`] and hands its result to the domain.
pub(crate) async fn store<T>(
    work: impl Future<Output = Result<T, DbError>>,
) -> Result<T, StoreError> {
    work.await.map_err(StoreError::from)
}
