//! The ways a store (any adapter behind a repository port) can fail, as the domain sees them.

/// Errors a repository port may return. Adapters map their own failures onto these at the
/// seam, so domain services never see SQL or driver types.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken; carries the name of the rule (constraint) that was.
    #[error("duplicate: {0}")]
    Duplicate(String),
    /// The object does not exist, or belongs to another tenant: the two are indistinguishable.
    #[error("not found")]
    NotFound,
    /// The store cannot be reached right now (pool exhausted, database down); worth a retry.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Anything else; the message is for logs, never for clients.
    #[error("store failure: {0}")]
    Other(String),
}
