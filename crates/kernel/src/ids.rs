//! Typed identifiers: a `UserId` can never be passed where an `AccountId` is expected.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered (UUID v7) identifier.
            #[must_use]
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            #[must_use]
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            #[must_use]
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
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
