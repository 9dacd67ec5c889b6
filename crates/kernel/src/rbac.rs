//! Roles and the permissions they grant, written down once.
//!
//! | role | level | permissions |
//! |---|---|---|
//! | `owner` | account | every permission but `api_keys:manage`, in every workspace |
//! | `admin` | account | the same as `owner`; an account keeps at least one owner |
//! | `developer` | account | `api_keys:manage`, `users:read` |
//! | `member` | account | none of its own; workspace roles give the rest |
//! | `manager` | workspace | `customers:*`, `campaigns:*`, `messages:publish`, `messages:read` |
//! | `editor` | workspace | `customers:*`, `campaigns:*`, `messages:publish`, `messages:read` |
//! | `viewer` | workspace | `customers:read`, `campaigns:read` |
//!
//! `api_keys:manage` comes only with the developer role: an owner or admin who wants API keys
//! gives themselves that role (the "User Role screen").

use std::fmt;
use std::str::FromStr;

/// One thing an actor may do. Also the OAuth-style scopes of API tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Permission {
    AccountManage,
    UsersRead,
    UsersManage,
    ApiKeysManage,
    AuditRead,
    CustomersRead,
    CustomersWrite,
    CampaignsRead,
    CampaignsWrite,
    MessagesPublish,
    MessagesRead,
}

impl Permission {
    pub const ALL: [Self; 11] = [
        Self::AccountManage,
        Self::UsersRead,
        Self::UsersManage,
        Self::ApiKeysManage,
        Self::AuditRead,
        Self::CustomersRead,
        Self::CustomersWrite,
        Self::CampaignsRead,
        Self::CampaignsWrite,
        Self::MessagesPublish,
        Self::MessagesRead,
    ];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AccountManage => "account:manage",
            Self::UsersRead => "users:read",
            Self::UsersManage => "users:manage",
            Self::ApiKeysManage => "api_keys:manage",
            Self::AuditRead => "audit:read",
            Self::CustomersRead => "customers:read",
            Self::CustomersWrite => "customers:write",
            Self::CampaignsRead => "campaigns:read",
            Self::CampaignsWrite => "campaigns:write",
            Self::MessagesPublish => "messages:publish",
            Self::MessagesRead => "messages:read",
        }
    }

    const fn bit(self) -> u16 {
        1 << (self as u8)
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown permission `{0}`")]
pub struct UnknownPermission(pub String);

impl FromStr for Permission {
    type Err = UnknownPermission;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownPermission(s.to_owned()))
    }
}

/// A set of permissions, as a bit set: copying and intersecting it costs nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PermissionSet(u16);

impl PermissionSet {
    pub const EMPTY: Self = Self(0);

    #[must_use]
    pub const fn all() -> Self {
        let mut bits = 0;
        let mut i = 0;
        while i < Permission::ALL.len() {
            bits |= Permission::ALL[i].bit();
            i += 1;
        }
        Self(bits)
    }

    #[must_use]
    pub const fn of(permissions: &[Permission]) -> Self {
        let mut bits = 0;
        let mut i = 0;
        while i < permissions.len() {
            bits |= permissions[i].bit();
            i += 1;
        }
        Self(bits)
    }

    #[must_use]
    pub const fn contains(self, permission: Permission) -> bool {
        self.0 & permission.bit() != 0
    }

    #[must_use]
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    #[must_use]
    pub const fn intersection(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }

    /// The permissions of `self` that are not in `other`.
    #[must_use]
    pub const fn difference(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }

    #[must_use]
    pub const fn is_subset_of(self, other: Self) -> bool {
        self.0 & !other.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL
            .into_iter()
            .filter(move |p| self.contains(*p))
    }

    /// The space-separated form used in token `scope` claims.
    #[must_use]
    pub fn to_scope_string(self) -> String {
        self.iter()
            .map(Permission::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Parses a space-separated scope string.
    pub fn parse_scope(scope: &str) -> Result<Self, UnknownPermission> {
        scope
            .split_whitespace()
            .map(str::parse)
            .try_fold(Self::EMPTY, |set, p: Result<Permission, _>| {
                p.map(|p| set.union(Self::of(&[p])))
            })
    }
}

impl FromIterator<Permission> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        iter.into_iter()
            .fold(Self::EMPTY, |set, p| set.union(Self::of(&[p])))
    }
}

use Permission as P;

const CONTENT: PermissionSet = crate::credential::CONTENT_PERMISSIONS;

const ACCOUNT_ADMINISTRATION: PermissionSet =
    PermissionSet::of(&[P::AccountManage, P::UsersRead, P::UsersManage, P::AuditRead])
        .union(CONTENT);

/// A role a user holds in their account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AccountRole {
    Owner,
    Admin,
    Developer,
    Member,
}

impl AccountRole {
    pub const ALL: [Self; 4] = [Self::Owner, Self::Admin, Self::Developer, Self::Member];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Developer => "developer",
            Self::Member => "member",
        }
    }

    /// What this role allows account-wide (in every workspace, for content permissions).
    #[must_use]
    pub const fn permissions(self) -> PermissionSet {
        match self {
            Self::Owner | Self::Admin => ACCOUNT_ADMINISTRATION,
            Self::Developer => PermissionSet::of(&[P::ApiKeysManage, P::UsersRead]),
            Self::Member => PermissionSet::EMPTY,
        }
    }
}

/// A role a user holds in one workspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WorkspaceRole {
    Manager,
    Editor,
    Viewer,
}

impl WorkspaceRole {
    pub const ALL: [Self; 3] = [Self::Manager, Self::Editor, Self::Viewer];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Manager => "manager",
            Self::Editor => "editor",
            Self::Viewer => "viewer",
        }
    }

    /// What this role allows inside its workspace.
    #[must_use]
    pub const fn permissions(self) -> PermissionSet {
        match self {
            Self::Manager | Self::Editor => CONTENT,
            Self::Viewer => PermissionSet::of(&[P::CustomersRead, P::CampaignsRead]),
        }
    }
}

macro_rules! role_text {
    ($role:ident, $what:literal) => {
        impl fmt::Display for $role {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $role {
            type Err = UnknownRole;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .into_iter()
                    .find(|r| r.as_str() == s)
                    .ok_or_else(|| UnknownRole(format!(concat!("unknown ", $what, " `{}`"), s)))
            }
        }
    };
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UnknownRole(pub String);

role_text!(AccountRole, "account role");
role_text!(WorkspaceRole, "workspace role");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_names_round_trip() {
        for p in Permission::ALL {
            assert_eq!(p.as_str().parse::<Permission>(), Ok(p));
        }
        assert!("everything".parse::<Permission>().is_err());
    }

    #[test]
    fn scope_strings_round_trip() {
        let set = PermissionSet::of(&[P::CustomersRead, P::MessagesRead]);
        assert_eq!(set.to_scope_string(), "customers:read messages:read");
        assert_eq!(
            PermissionSet::parse_scope("messages:read  customers:read"),
            Ok(set)
        );
        assert!(PermissionSet::parse_scope("customers:read root").is_err());
    }

    #[test]
    fn owner_has_everything_but_api_keys() {
        let owner = AccountRole::Owner.permissions();
        for p in Permission::ALL {
            assert_eq!(owner.contains(p), p != P::ApiKeysManage, "{p}");
        }
    }

    #[test]
    fn only_developers_manage_api_keys() {
        for role in AccountRole::ALL {
            assert_eq!(
                role.permissions().contains(P::ApiKeysManage),
                role == AccountRole::Developer
            );
        }
        for role in WorkspaceRole::ALL {
            assert!(!role.permissions().contains(P::ApiKeysManage));
        }
    }

    #[test]
    fn viewers_only_read() {
        let viewer = WorkspaceRole::Viewer.permissions();
        assert!(viewer.contains(P::CustomersRead));
        assert!(!viewer.contains(P::CustomersWrite));
        assert!(!viewer.contains(P::MessagesPublish));
    }

    #[test]
    fn subset_and_intersection() {
        let a = PermissionSet::of(&[P::UsersRead]);
        let b = PermissionSet::of(&[P::UsersRead, P::AuditRead]);
        assert!(a.is_subset_of(b));
        assert!(!b.is_subset_of(a));
        assert_eq!(a.intersection(b), a);
    }
}
