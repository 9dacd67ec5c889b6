//! Identity: accounts, workspaces, users and their roles, passwords, sign-in and the audit
//! trail of authentication events.
//!
//! Services take plain inputs (and an [`kernel::Actor`] where someone is signed in) and answer
//! with domain types or [`IdentityError`]. Storage, hashing and time come through the ports in
//! [`ports`]; this crate knows nothing of HTTP or SQL.

mod codes;
mod email_verification;
pub mod error;
mod fresh_proof;
mod invitations;
mod members;
mod mfa;
pub mod models;
mod operator;
pub mod password_policy;
pub mod ports;
mod reset;
pub mod service;
mod sign_in;
mod sign_in_guard;
mod workspaces;

#[cfg(test)]
mod fakes;

pub use error::{FieldError, IdentityError};
pub use models::{
    AcceptInput, Account, InviteInput, LoginInput, LoginOutcome, Member, Password, Profile,
    RoleAssignment, SignupInput, SignupOutcome, User, Workspace,
};
pub use operator::MfaReset;
pub use service::{IdentityDeps, IdentityPolicy, IdentityService, IdentityStores};
