//! The service: its policy, and the unit of work every use case runs in. The use cases are by
//! area — [`crate::customers`], [`crate::groups`], [`crate::profile_fields`],
//! [`crate::upload`] — each taking the [`kernel::Actor`] and checking its workspace
//! permission first (`access.rs`).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use kernel::{Actor, Clock};

pub use crate::customers::{BulkItemError, validate_patch};
use crate::error::{CustomersError, FieldError};
use crate::ports::{CustomerStore, CustomersTx};

/// Limits the service enforces.
#[derive(Clone, Debug)]
pub struct CustomerPolicy {
    /// Largest upload body, in bytes.
    pub max_upload_bytes: u64,
    /// Most items in one bulk update, bulk delete or membership change.
    pub max_bulk_items: usize,
    /// How long an upload's body may send nothing before the upload is abandoned (enforced by
    /// whoever reads the body; see [`crate::Upload::body_idle`]).
    pub upload_body_idle: std::time::Duration,
}

impl Default for CustomerPolicy {
    fn default() -> Self {
        Self {
            max_upload_bytes: 512 * 1024 * 1024,
            max_bulk_items: 10_000,
            upload_body_idle: std::time::Duration::from_secs(30),
        }
    }
}

pub struct CustomerService {
    pub(crate) store: Arc<dyn CustomerStore>,
    clock: Arc<dyn Clock>,
    pub(crate) policy: CustomerPolicy,
}

impl CustomerService {
    pub fn new(
        store: Arc<dyn CustomerStore>,
        clock: Arc<dyn Clock>,
        policy: CustomerPolicy,
    ) -> Self {
        Self {
            store,
            clock,
            policy,
        }
    }

    #[must_use]
    pub fn policy(&self) -> &CustomerPolicy {
        &self.policy
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Opens the actor's unit of work.
    pub(crate) async fn begin(
        &self,
        actor: &Actor,
    ) -> Result<Box<dyn CustomersTx>, CustomersError> {
        Ok(self.store.begin(actor.account_id).await?)
    }

    pub(crate) fn check_bulk_size(&self, count: usize, what: &str) -> Result<(), CustomersError> {
        if count == 0 {
            return Err(CustomersError::invalid(what, "must not be empty"));
        }
        if count > self.policy.max_bulk_items {
            return Err(CustomersError::invalid(
                what,
                format!("at most {} items per request", self.policy.max_bulk_items),
            ));
        }
        Ok(())
    }
}

/// Ends a unit of work as its use case came out: committed when it succeeded, rolled back
/// when it did not.
pub(crate) async fn end<T>(
    tx: Box<dyn CustomersTx>,
    outcome: Result<T, CustomersError>,
) -> Result<T, CustomersError> {
    match outcome {
        Ok(value) => {
            tx.commit().await?;
            Ok(value)
        }
        Err(error) => {
            tx.rollback().await;
            Err(error)
        }
    }
}

/// Whether a text may span lines (tabs and line breaks allowed) or not.
#[derive(Clone, Copy)]
pub(crate) enum Lines {
    One,
    Many,
}

/// `raw` trimmed, when it has `min` to `max` characters and no control characters `lines`
/// does not allow; otherwise `None`, with the reason in `errors`.
pub(crate) fn bounded_text(
    field: &str,
    raw: &str,
    min: usize,
    max: usize,
    lines: Lines,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let value = raw.trim();
    let length = value.chars().count();
    if length < min || length > max {
        errors.push(FieldError::new(
            field,
            format!("must be {min} to {max} characters"),
        ));
        return None;
    }
    let (allowed, rule) = match lines {
        Lines::One => (
            kernel::text::is_single_line(value),
            "must not contain control characters",
        ),
        Lines::Many => (
            kernel::text::is_multi_line(value),
            "must not contain control characters other than line breaks and tabs",
        ),
    };
    if !allowed {
        errors.push(FieldError::new(field, rule));
        return None;
    }
    Some(value.to_owned())
}
