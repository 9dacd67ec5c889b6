use kernel::StoreError;

/// One invalid field of a request, named as the client sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

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
    /// The upload names columns that are neither customer fields nor profile fields.
    #[error("unknown columns: {}", .0.join(", "))]
    UnknownColumns(Vec<String>),
    /// The upload cannot be read at all (no header, not a JSON array, a runaway row).
    #[error("{0}")]
    BadUpload(String),
    #[error("the upload is larger than {limit_bytes} bytes")]
    TooLarge { limit_bytes: u64 },
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

impl CustomersError {
    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }
}

impl From<StoreError> for CustomersError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Self::NotFound,
            StoreError::Unavailable(why) => Self::Unavailable(why),
            StoreError::Duplicate(rule) => Self::Conflict(duplicate_message(&rule)),
            StoreError::Other(why) => Self::Internal(why),
        }
    }
}

/// What a broken uniqueness rule means to a client.
fn duplicate_message(rule: &str) -> String {
    match rule {
        "customers_email_key" => "another customer of this workspace has this email".into(),
        "customers_external_id_key" => {
            "another customer of this workspace has this external_id".into()
        }
        "profile_fields_key_key" => "a profile field with this key already exists".into(),
        "customer_groups_name_key" => "a group with this name already exists".into(),
        _ => "this already exists".into(),
    }
}
