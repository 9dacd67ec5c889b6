//! Typed identifiers: a `UserId` can never be passed where an `AccountId` is expected.

#[doc(hidden)]
pub use uuid::{self, Uuid};

/// Declares a typed identifier: a UUID v7 newtype with `generate`, `from_uuid`, `as_uuid`,
/// conversions, `Display` and `FromStr`. Every domain declares its own ids with it.
#[macro_export]
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name($crate::ids::Uuid);

        impl $name {
            /// A new, time-ordered (UUID v7) identifier.
            #[must_use]
            pub fn generate() -> Self {
                Self($crate::ids::Uuid::now_v7())
            }

            #[must_use]
            pub const fn from_uuid(uuid: $crate::ids::Uuid) -> Self {
                Self(uuid)
            }

            #[must_use]
            pub const fn as_uuid(&self) -> $crate::ids::Uuid {
                self.0
            }
        }

        impl From<$crate::ids::Uuid> for $name {
            fn from(uuid: $crate::ids::Uuid) -> Self {
                Self(uuid)
            }
        }

        impl From<$name> for $crate::ids::Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::ids::uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $crate::ids::Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// A company: the tenant boundary.
    AccountId
);
id_type!(
    /// A workspace inside an account.
    WorkspaceId
);
id_type!(
    /// A member of an account's staff.
    UserId
);
id_type!(
    /// One login or key exchange; every token it produced carries it as `sid`.
    SessionId
);
id_type!(
    /// A customer of a workspace (the people campaigns are sent to).
    CustomerId
);
id_type!(
    /// A named group of a workspace's customers.
    GroupId
);
id_type!(
    /// A custom profile field of a workspace.
    ProfileFieldId
);
