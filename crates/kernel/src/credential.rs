//! What each kind of credential may do: the one rule every inbound adapter and every service
//! asks (docs/security.md, "Credential kinds").
//!
//! | kind | own credentials | account administration | workspace content, `GET /v1/me` |
//! |---|---|---|---|
//! | human session | yes | by the user's roles | by the user's roles |
//! | API-key session | never | permissions named in the key's scopes | key scopes ∩ owner's permissions |
//! | short-lived token | never | never | key scopes ∩ owner's permissions |
//! | MFA-pending token | only completing its sign-in, once | never | never |
//! | refresh token | only the refresh endpoints | never | never |
//!
//! Roles and the token's scope narrow what a kind allows further (see [`crate::Actor`]); they
//! can never widen it.

use crate::rbac::{Permission, PermissionSet};

/// How the caller proved who they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CredentialKind {
    /// A person: password sign-in with MFA satisfied, an accepted invitation, a confirmed reset.
    HumanSession,
    /// An integration: an API key exchanged at `POST /v1/auth`, and that session's refreshes.
    ApiKeySession,
    /// A token a backend fetched with its API key for its frontend (`st+jwt`).
    ShortLived,
    /// Proof of a correct password, waiting for the MFA code.
    MfaPending,
    /// A refresh token.
    Refresh,
}

/// What a route (or a service's use case) asks of its caller's credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Capability {
    /// The caller's own credentials: password, MFA, API keys, sessions.
    OwnCredentials,
    /// Other people's credentials: every API key of the account.
    CredentialAdministration,
    /// Users, roles, workspaces (create, change, delete), the account, the audit trail.
    AccountAdministration,
    /// Customers, groups, profile fields, campaigns, messages, and the caller's own profile.
    WorkspaceContent,
    /// Ending the session the credential belongs to: it only ever takes power away.
    EndOwnSession,
    /// The MFA step of a sign-in.
    CompleteSignIn,
    /// Trading a refresh token for new tokens.
    RefreshSession,
}

/// The content permissions: what workspace content needs.
pub const CONTENT_PERMISSIONS: PermissionSet = PermissionSet::of(&[
    Permission::CustomersRead,
    Permission::CustomersWrite,
    Permission::CampaignsRead,
    Permission::CampaignsWrite,
    Permission::MessagesPublish,
    Permission::MessagesRead,
]);

/// What an API key created without `scopes` covers: the content permissions and `users:read`
/// (least privilege — account administration must be named explicitly).
pub const DEFAULT_KEY_SCOPES: PermissionSet =
    CONTENT_PERMISSIONS.union(PermissionSet::of(&[Permission::UsersRead]));

impl CredentialKind {
    /// Whether a credential of this kind may be used for `capability` at all.
    #[must_use]
    pub const fn permits(self, capability: Capability) -> bool {
        use Capability as C;
        match self {
            Self::HumanSession => matches!(
                capability,
                C::OwnCredentials
                    | C::CredentialAdministration
                    | C::AccountAdministration
                    | C::WorkspaceContent
                    | C::EndOwnSession
            ),
            Self::ApiKeySession => matches!(
                capability,
                C::AccountAdministration | C::WorkspaceContent | C::EndOwnSession
            ),
            Self::ShortLived => matches!(capability, C::WorkspaceContent | C::EndOwnSession),
            Self::MfaPending => matches!(capability, C::CompleteSignIn),
            Self::Refresh => matches!(capability, C::RefreshSession),
        }
    }

    /// The most any credential of this kind can ever be granted, whatever its scope and roles.
    #[must_use]
    pub const fn permission_ceiling(self) -> PermissionSet {
        match self {
            Self::HumanSession => PermissionSet::all(),
            // `api_keys:manage` is an own credential: never through a key.
            Self::ApiKeySession => {
                PermissionSet::all().difference(PermissionSet::of(&[Permission::ApiKeysManage]))
            }
            Self::ShortLived => CONTENT_PERMISSIONS,
            Self::MfaPending | Self::Refresh => PermissionSet::EMPTY,
        }
    }

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::HumanSession => "human_session",
            Self::ApiKeySession => "api_key_session",
            Self::ShortLived => "short_lived",
            Self::MfaPending => "mfa_pending",
            Self::Refresh => "refresh",
        }
    }
}

/// A credential used for something its kind may never do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a {kind} credential cannot be used for this", kind = .0.as_str())]
pub struct CredentialNotAllowed(pub CredentialKind);

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: [CredentialKind; 5] = [
        CredentialKind::HumanSession,
        CredentialKind::ApiKeySession,
        CredentialKind::ShortLived,
        CredentialKind::MfaPending,
        CredentialKind::Refresh,
    ];

    #[test]
    fn own_credentials_are_for_people_only() {
        for kind in KINDS {
            assert_eq!(
                kind.permits(Capability::OwnCredentials),
                kind == CredentialKind::HumanSession,
                "{kind:?}"
            );
            assert_eq!(
                kind.permits(Capability::CredentialAdministration),
                kind == CredentialKind::HumanSession,
                "{kind:?}"
            );
            assert_eq!(
                kind.permission_ceiling()
                    .contains(Permission::ApiKeysManage),
                kind == CredentialKind::HumanSession,
                "{kind:?}"
            );
        }
    }

    #[test]
    fn short_lived_tokens_never_administer() {
        let short = CredentialKind::ShortLived;
        assert!(!short.permits(Capability::AccountAdministration));
        assert!(short.permits(Capability::WorkspaceContent));
        for p in [
            Permission::AccountManage,
            Permission::UsersRead,
            Permission::UsersManage,
            Permission::AuditRead,
        ] {
            assert!(!short.permission_ceiling().contains(p), "{p}");
        }
    }

    #[test]
    fn mfa_and_refresh_tokens_do_only_their_one_thing() {
        for capability in [
            Capability::OwnCredentials,
            Capability::CredentialAdministration,
            Capability::AccountAdministration,
            Capability::WorkspaceContent,
            Capability::EndOwnSession,
        ] {
            assert!(!CredentialKind::MfaPending.permits(capability));
            assert!(!CredentialKind::Refresh.permits(capability));
        }
        assert!(CredentialKind::MfaPending.permits(Capability::CompleteSignIn));
        assert!(!CredentialKind::MfaPending.permits(Capability::RefreshSession));
        assert!(CredentialKind::Refresh.permits(Capability::RefreshSession));
        assert!(!CredentialKind::Refresh.permits(Capability::CompleteSignIn));
    }

    #[test]
    fn unscoped_keys_cover_content_and_reading_users_only() {
        assert!(DEFAULT_KEY_SCOPES.contains(Permission::UsersRead));
        assert!(CONTENT_PERMISSIONS.is_subset_of(DEFAULT_KEY_SCOPES));
        for p in [
            Permission::AccountManage,
            Permission::UsersManage,
            Permission::ApiKeysManage,
            Permission::AuditRead,
        ] {
            assert!(!DEFAULT_KEY_SCOPES.contains(p), "{p}");
        }
    }
}
