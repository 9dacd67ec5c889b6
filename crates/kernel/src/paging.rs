//! Paging: what every list is asked for and answers with.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// One page of a list and the size of the whole list (what `total_items` reports).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total_items: i64,
}

impl<T> Page<T> {
    /// The same page with every item converted.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            total_items: self.total_items,
        }
    }
}

/// Where a keyset page starts: after the item with this `(created_at, id)`, in the list's own
/// order (so deep pages cost what the first one does). Keys order by `created_at`, then `id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Keyset {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

impl Keyset {
    #[must_use]
    pub const fn new(created_at: DateTime<Utc>, id: Uuid) -> Self {
        Self { created_at, id }
    }
}

/// What a list is asked for: one page by number, or, when `after` is given, the page after a
/// keyset cursor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    /// 1-based; what the answer reports back (a keyset page reports the number it was given).
    pub page: i64,
    pub page_size: i64,
    /// Rows skipped before the page: `(page - 1) * page_size`, unused when `after` is given.
    pub offset: i64,
    pub after: Option<Keyset>,
}

impl PageRequest {
    /// The first `page_size` items.
    #[must_use]
    pub fn first(page_size: i64) -> Self {
        Self::number(1, page_size)
    }

    /// Page `page` (1-based) of `page_size` items.
    #[must_use]
    pub fn number(page: i64, page_size: i64) -> Self {
        Self {
            page,
            page_size,
            offset: (page - 1).saturating_mul(page_size),
            after: None,
        }
    }

    /// The `page_size` items after `key`.
    #[must_use]
    pub fn after(key: Keyset, page_size: i64) -> Self {
        Self {
            after: Some(key),
            ..Self::first(page_size)
        }
    }
}
