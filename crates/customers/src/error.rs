pub use kernel::FieldError;
use kernel::StoreError;

use crate::ports::{UniqueKey, WriteError};

/// One problem with one row of an upload; `row` is the file's line (CSV) or the 1-based
/// position in the array (JSON).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    pub row: u64,
    pub field: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CustomersError {
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    /// The upload names columns (CSV) or keys (JSON) that are neither customer fields nor
    /// profile fields: the first [`crate::upload::MAX_REPORTED_UNKNOWN`] of them (each cut to
    /// [`crate::upload::MAX_NAME_CHARS`] characters), and how many more there were.
    #[error("unknown columns: {}{}", .columns.join(", "), more_text(*.more, *.more_at_least))]
    UnknownColumns {
        columns: Vec<String>,
        /// Distinct unknown names beyond those listed.
        more: u64,
        /// `more` is a lower bound: a JSON upload stops counting distinct keys at
        /// [`crate::upload::MAX_COUNTED_UNKNOWN`].
        more_at_least: bool,
    },
    /// The upload cannot be read at all (no header, not a JSON array, a runaway row).
    #[error("{0}")]
    BadUpload(String),
    #[error("the upload is larger than {limit_bytes} bytes")]
    TooLarge { limit_bytes: u64 },
    /// As many uploads as this instance allows are running; try again shortly.
    #[error("too many uploads are in progress; try again shortly")]
    UploadsBusy,
    /// Another upload into the same workspace is in progress.
    #[error("another upload into this workspace is in progress; try again when it has finished")]
    ImportInProgress,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("not found")]
    NotFound,
    /// A duplicate, or a change that existing data does not allow.
    #[error("{0}")]
    Conflict(String),
    #[error("the service is temporarily unavailable")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

fn more_text(more: u64, at_least: bool) -> String {
    match (more, at_least) {
        (0, false) => String::new(),
        (n, false) => format!(" and {n} more"),
        (n, true) => format!(" and at least {n} more"),
    }
}

impl CustomersError {
    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }
}

impl From<crate::ports::BeginImportError> for CustomersError {
    fn from(error: crate::ports::BeginImportError) -> Self {
        use crate::ports::BeginImportError as E;
        match error {
            E::AtCapacity => Self::UploadsBusy,
            E::WorkspaceBusy => Self::ImportInProgress,
            E::Store(error) => error.into(),
        }
    }
}

impl From<StoreError> for CustomersError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Self::NotFound,
            StoreError::Unavailable(why) => Self::Unavailable(why),
            // A uniqueness rule of no [`UniqueKey`]: the store's own.
            StoreError::Duplicate(_) => Self::Conflict("this already exists".into()),
            StoreError::Other(why) => Self::Internal(why),
        }
    }
}

impl From<WriteError> for CustomersError {
    fn from(error: WriteError) -> Self {
        match error {
            WriteError::Duplicate(key) => Self::duplicate(key),
            WriteError::Store(error) => error.into(),
        }
    }
}

impl CustomersError {
    /// What a broken uniqueness rule means to a client.
    pub(crate) fn duplicate(key: UniqueKey) -> Self {
        Self::Conflict(
            match key {
                UniqueKey::CustomerEmail => "another customer of this workspace has this email",
                UniqueKey::CustomerExternalId => {
                    "another customer of this workspace has this external_id"
                }
                UniqueKey::ProfileFieldKey => "a profile field with this key already exists",
                UniqueKey::GroupName => "a group with this name already exists",
            }
            .into(),
        )
    }
}
