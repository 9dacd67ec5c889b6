//! What the customers domain works with.

use chrono::{DateTime, Utc};
use kernel::{CustomerId, GroupId, ProfileFieldId, WorkspaceId};
use serde_json::{Map, Value};

/// The type of a custom profile field, and so of the attribute values it admits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldKind {
    String,
    Number,
    Boolean,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// One of a fixed list of strings.
    Enum(Vec<String>),
}

impl FieldKind {
    #[must_use]
    pub const fn name(&self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Number => "number",
            Self::Boolean => "boolean",
            Self::Date => "date",
            Self::Enum(_) => "enum",
        }
    }

    /// Builds a kind from its name and the options (only `enum` takes options).
    pub fn parse(name: &str, options: Option<Vec<String>>) -> Result<Self, String> {
        let options = options.unwrap_or_default();
        let kind = match name {
            "string" => Self::String,
            "number" => Self::Number,
            "boolean" => Self::Boolean,
            "date" => Self::Date,
            "enum" => {
                if options.is_empty() {
                    return Err("an enum field needs at least one option".into());
                }
                if options
                    .iter()
                    .any(|o| o.is_empty() || o.chars().count() > 200)
                {
                    return Err("options must be 1 to 200 characters".into());
                }
                if !options.iter().all(|o| kernel::text::is_single_line(o)) {
                    return Err("options must not contain control characters".into());
                }
                let mut seen = std::collections::HashSet::new();
                if !options.iter().all(|o| seen.insert(o)) {
                    return Err("options must be distinct".into());
                }
                return Ok(Self::Enum(options));
            }
            other => {
                return Err(format!(
                    "unknown type `{other}` (string, number, boolean, date or enum)"
                ));
            }
        };
        if options.is_empty() {
            Ok(kind)
        } else {
            Err("only enum fields take options".into())
        }
    }

    #[must_use]
    pub fn options(&self) -> &[String] {
        match self {
            Self::Enum(options) => options,
            _ => &[],
        }
    }
}

/// A custom profile field of a workspace: the schema of `attributes[key]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileField {
    pub id: ProfileFieldId,
    pub workspace_id: WorkspaceId,
    pub key: String,
    pub label: String,
    pub kind: FieldKind,
    pub required: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A field to create, as a client asks for it.
#[derive(Clone, Debug)]
pub struct NewProfileField {
    pub key: String,
    pub label: String,
    pub kind: String,
    pub required: bool,
    pub options: Option<Vec<String>>,
}

/// Changes to a field; `None` keeps what is there.
#[derive(Clone, Debug, Default)]
pub struct ProfileFieldChanges {
    pub label: Option<String>,
    pub kind: Option<String>,
    pub required: Option<bool>,
    pub options: Option<Vec<String>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Customer {
    pub id: CustomerId,
    pub workspace_id: WorkspaceId,
    pub external_id: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub attributes: Map<String, Value>,
    pub group_ids: Vec<GroupId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A partial update as a client sends it: an absent field is kept, `Some(None)` (JSON `null`)
/// clears it; in `attributes`, `null` removes the key and other values are merged in.
#[derive(Clone, Debug, Default)]
pub struct CustomerPatch {
    pub external_id: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub first_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    pub attributes: Option<Map<String, Value>>,
}

/// A validated update, ready for the store: the new values of the fields it names.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CustomerChanges {
    pub external_id: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub first_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    /// Attribute values to set (typed and checked).
    pub set_attributes: Map<String, Value>,
    /// Attribute keys to remove.
    pub remove_attributes: Vec<String>,
}

/// Which customers a list or a page count covers.
#[derive(Clone, Debug, Default)]
pub struct CustomerFilter {
    pub group_id: Option<GroupId>,
    /// A prefix of the email, the external id, the first name, "first last", or the last name
    /// (case-insensitive except for external ids).
    pub search: Option<String>,
}

pub use kernel::{Keyset, Page, PageRequest};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub id: GroupId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub description: String,
    pub member_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Changes to a group; `None` keeps what is there.
#[derive(Clone, Debug, Default)]
pub struct GroupChanges {
    pub name: Option<String>,
    pub description: Option<String>,
}
