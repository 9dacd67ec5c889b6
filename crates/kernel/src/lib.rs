//! The vocabulary every NudgeScribe domain shares: identifiers, tenancy, the [`Actor`] that
//! carries who is asking, the role → permission table, a [`Clock`] port, the error kinds a store
//! may answer with, and the one way secrets are sealed at rest.
//!
//! This crate knows nothing of HTTP, SQL or any runtime.

pub mod actor;
pub mod audit;
pub mod clock;
pub mod credential;
pub mod email;
pub mod error;
pub mod ids;
pub mod mail;
pub mod outbox;
pub mod paging;
pub mod rate_limit;
pub mod rbac;
pub mod seal;
pub mod text;
pub mod validation;

pub use actor::{Actor, Roles};
pub use audit::{AuditLog, AuthEvent, AuthEventKind, OPERATOR};
pub use clock::{Clock, ManualClock};
pub use credential::{
    CONTENT_PERMISSIONS, Capability, CredentialKind, CredentialNotAllowed, DEFAULT_KEY_SCOPES,
};
pub use email::{EmailAddress, InvalidEmail};
pub use error::StoreError;
pub use ids::{AccountId, CustomerId, GroupId, ProfileFieldId, SessionId, UserId, WorkspaceId};
pub use mail::{MailError, Mailer, OutgoingEmail, SealedEmail};
pub use outbox::{Outbox, OutboxDelivery, OutboxSettings, PendingEmail};
pub use paging::{Keyset, Page, PageRequest};
pub use rate_limit::{RateLimit, RateLimiter, Verdict, address_bucket};
pub use rbac::{AccountRole, Permission, PermissionSet, WorkspaceRole};
pub use seal::{SealError, SealingKey};
pub use validation::FieldError;
