//! Customers of a workspace: records, CSV/JSON import and validation, groups, custom profile
//! fields.
//!
//! The rules live here and are tested on in-memory fakes ([`fakes`]); storage is behind the
//! ports of [`ports`]. An upload is parsed and validated as its bytes arrive ([`import`]), so a
//! file is never held whole in memory.

pub mod csv_rows;
pub mod error;
pub mod fakes;
pub mod fields;
pub mod import;
pub mod json_rows;
pub mod models;
pub mod ports;
pub mod service;
pub mod values;

#[cfg(test)]
mod import_props;
#[cfg(test)]
mod service_tests;

pub use error::{CustomersError, FieldError, RowError};
pub use import::{ImportFormat, ImportMode, ImportReport, Upload};
pub use models::{
    Customer, CustomerChanges, CustomerFilter, CustomerPatch, FieldKind, Group, GroupChanges,
    NewProfileField, Page, PageRequest, ProfileField, ProfileFieldChanges,
};
pub use ports::{BeginImportError, CustomerStore, ImportApplied, ImportRow, ImportSink};
pub use service::{CustomerPolicy, CustomerService};
