//! Campaigns and their per-customer messages, published into encrypted storage and retrieved.
//! The domain lands with the campaigns issue; the crate exists so the workspace has its final
//! shape and the dependency rules are checked from the start.
