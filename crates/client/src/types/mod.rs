//! Request and response bodies of the API, as the server sends and accepts them (`snake_case`
//! JSON, RFC 3339 times, UUID ids). Responses tolerate fields this version does not know, so a
//! newer server does not break an older client.

use serde::{Deserialize, Serialize};

// ---------------------------------------------------------------------------------------------
// Lists

/// One page of a list: `?page=&page_size=` or `?cursor=`.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// 1-based page number.
    pub page: i64,
    /// Items per page (1..=500).
    pub page_size: i64,
    /// Items of the whole list (with the same filters).
    pub total_items: i64,
    /// Pages of `page_size` in the whole list.
    pub total_pages: i64,
    /// Continues the list after this page (keyset: a deep page costs what the first does);
    /// `None` on the last page, and on lists that page by number only.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// What the "pages" twin of a list answers: how many items and pages for a page size.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct PageCount {
    /// The page size counted for.
    pub page_size: i64,
    /// Items of the list.
    pub total_items: i64,
    /// Pages of `page_size`.
    pub total_pages: i64,
}

/// Which page of a list to fetch: by number (`page`) or after a cursor (`cursor`).
#[derive(Clone, Debug, Default, Serialize)]
pub struct PageRequest {
    /// 1-based page number (default 1); ignored with a cursor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<i64>,
    /// Items per page, 1..=500 (default 50).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_size: Option<i64>,
    /// `next_cursor` of the previous page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

impl PageRequest {
    /// Page `page` of `page_size` items.
    #[must_use]
    pub fn number(page: i64, page_size: i64) -> Self {
        Self {
            page: Some(page),
            page_size: Some(page_size),
            cursor: None,
        }
    }

    /// The page after `cursor`.
    #[must_use]
    pub fn after(cursor: impl Into<String>, page_size: i64) -> Self {
        Self {
            page: None,
            page_size: Some(page_size),
            cursor: Some(cursor.into()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Small request bodies

#[derive(Serialize)]
pub(crate) struct NameRequest<'a> {
    pub name: &'a str,
}

#[derive(Serialize)]
pub(crate) struct CodeRequest<'a> {
    pub code: &'a str,
}

#[derive(Serialize)]
pub(crate) struct PageSizeQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_size: Option<i64>,
}

mod campaigns;
mod credentials;
mod customers;
mod identity;

pub use campaigns::*;
pub use credentials::*;
pub use customers::*;
pub use identity::*;
