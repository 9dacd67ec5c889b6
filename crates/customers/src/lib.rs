//! Customers of a workspace: records, CSV/JSON import and validation, groups, custom profile
//! fields.
//!
//! The rules live here, in the use cases of each area ([`customers`], [`groups`],
//! [`profile_fields`], [`upload`]), and are tested on in-memory fakes ([`fakes`]) that hold no
//! rule of their own; storage is behind the ports of [`ports`], one unit of work per use case.
//! An upload is parsed and validated as its bytes arrive ([`upload`]), so a file is never held
//! whole in memory.

mod access;
pub mod csv_rows;
pub mod customers;
pub mod error;
pub mod fakes;
pub mod fields;
pub mod groups;
pub mod json_rows;
pub mod models;
pub mod ports;
pub mod profile_fields;
pub mod service;
pub mod upload;
pub mod values;

#[cfg(test)]
mod import_props;
#[cfg(test)]
mod service_tests;

pub use error::{CustomersError, FieldError, RowError};
pub use models::{
    Customer, CustomerChanges, CustomerFilter, CustomerPatch, FieldKind, Group, GroupChanges,
    Keyset, NewProfileField, Page, PageRequest, ProfileField, ProfileFieldChanges,
};
pub use ports::{
    BeginImportError, CustomerRecords, CustomerStore, CustomersTx, GroupRecords, ImportApplied,
    ImportRow, ImportSink, OpenImport, ProfileFieldRecords, UniqueKey, WriteError,
};
pub use service::{BulkItemError, CustomerPolicy, CustomerService};
pub use upload::{ImportFormat, ImportMode, ImportReport, Upload};
