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
            // The server going away under a query (a restart, a failover, too many clients):
            // the caller may retry shortly, so a 503 rather than a 500.
            DbError::Query(DieselError::DatabaseError(DatabaseErrorKind::Unknown, info))
                if is_server_going_away(info.message()) =>
            {
                Self::Unavailable(info.message().to_owned())
            }
            DbError::Connect { .. } | DbError::Pool(_) => Self::Unavailable(error.to_string()),
            other => Self::Other(other.to_string()),
        }
    }
}

/// Whether a SQLSTATE says the database is unavailable rather than the query wrong: connection
/// exceptions (class 08), operator intervention such as a shutdown or a crash restart (57P01
/// to 57P05; not 57014, a cancelled statement), and too many connections (53300).
pub(crate) fn is_unavailable_state(code: &str) -> bool {
    code.starts_with("08") || code.starts_with("57P") || code == "53300"
}

/// diesel-async passes on the server's message but not its SQLSTATE for errors it has no kind
/// for; these are the messages of the SQLSTATEs of [`is_unavailable_state`] that reach a query
/// (PostgreSQL's own English texts, as `lc_messages` is by default).
fn is_server_going_away(message: &str) -> bool {
    const GOING_AWAY: &[&str] = &[
        "terminating connection due to administrator command",
        "terminating connection due to unexpected postmaster exit",
        "terminating connection because of crash of another server process",
        "terminating connection due to conflict with recovery",
        "the database system is shutting down",
        "the database system is starting up",
        "the database system is in recovery mode",
        "sorry, too many clients already",
        "server closed the connection unexpectedly",
    ];
    GOING_AWAY.iter().any(|text| message.starts_with(text))
}

/// Runs a unit of work written against [`DbError`] and hands its result to the domain.
pub(crate) async fn store<T>(
    work: impl Future<Output = Result<T, DbError>>,
) -> Result<T, StoreError> {
    work.await.map_err(StoreError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Message(&'static str);

    impl diesel::result::DatabaseErrorInformation for Message {
        fn message(&self) -> &str {
            self.0
        }
        fn details(&self) -> Option<&str> {
            None
        }
        fn hint(&self) -> Option<&str> {
            None
        }
        fn table_name(&self) -> Option<&str> {
            None
        }
        fn column_name(&self) -> Option<&str> {
            None
        }
        fn constraint_name(&self) -> Option<&str> {
            None
        }
        fn statement_position(&self) -> Option<i32> {
            None
        }
    }

    fn unknown(message: &'static str) -> StoreError {
        DbError::Query(DieselError::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new(Message(message)),
        ))
        .into()
    }

    #[test]
    fn a_server_going_away_is_unavailable_and_a_bad_query_is_not() {
        // Found by scripts/reliability/fault-injection.sh: a Postgres restart under load
        // answered the queries it cut short with a 500.
        assert!(matches!(
            unknown("terminating connection due to administrator command"),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            unknown("the database system is starting up"),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            unknown("syntax error at or near \"SELEC\""),
            StoreError::Other(_)
        ));
        assert!(is_unavailable_state("57P01") && is_unavailable_state("08006"));
        assert!(!is_unavailable_state("57014") && !is_unavailable_state("23505"));
    }
}
