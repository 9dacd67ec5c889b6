//! Customers of a workspace: records, CSV/JSON import and validation, groups, custom profile
//! fields. The domain lands with the customers issue; the crate exists so the workspace has its
//! final shape and the dependency rules are checked from the start.
