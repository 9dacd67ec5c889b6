//! The list conventions of api.md: `page`/`page_size` (1..=500), or `cursor` to continue by
//! keyset; answers carry `total_items`, `total_pages` and the `next_cursor`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use kernel::Keyset;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::ApiError;

pub const DEFAULT_PAGE_SIZE: i64 = 50;
pub const MAX_PAGE_SIZE: i64 = 500;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// 1-based page number (default 1).
    pub page: Option<i64>,
    /// Items per page, 1..=500 (default 50).
    pub page_size: Option<i64>,
    /// `next_cursor` of the previous page: continues after it (deep pages cost the same).
    pub cursor: Option<String>,
}

pub use kernel::PageRequest;

/// The query of a "pages" twin: how many pages a list has at this size.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PagesParams {
    /// Items per page, 1..=500 (default 50).
    pub page_size: Option<i64>,
}

impl PageParams {
    pub fn resolve(&self) -> Result<PageRequest, ApiError> {
        let page = self.page.unwrap_or(1);
        let page_size = self.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        if page < 1 {
            return Err(ApiError::BadRequest("page must be 1 or more".into()));
        }
        if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
            return Err(ApiError::BadRequest(format!(
                "page_size must be between 1 and {MAX_PAGE_SIZE}"
            )));
        }
        let after = self.cursor.as_deref().map(decode_cursor).transpose()?;
        Ok(PageRequest {
            after,
            ..PageRequest::number(page, page_size)
        })
    }
}

/// The page size of a "pages" twin: 1..=500, default 50, checked like a list's.
pub fn page_size_only(page_size: Option<i64>) -> Result<i64, ApiError> {
    let params = PageParams {
        page: None,
        page_size,
        cursor: None,
    };
    Ok(params.resolve()?.page_size)
}

/// A cursor for the position after the item at (`at`, `id`).
#[must_use]
pub fn encode_cursor(at: DateTime<Utc>, id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{id}", at.to_rfc3339()))
}

fn decode_cursor(cursor: &str) -> Result<Keyset, ApiError> {
    let bad = || ApiError::BadRequest("cursor is not one this server gave out".into());
    let text =
        String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?).map_err(|_| bad())?;
    let (at, id) = text.split_once('|').ok_or_else(bad)?;
    Ok(Keyset::new(
        DateTime::parse_from_rfc3339(at)
            .map_err(|_| bad())?
            .with_timezone(&Utc),
        Uuid::parse_str(id).map_err(|_| bad())?,
    ))
}

/// A page of a list, as every list endpoint answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paged<T: Serialize> {
    pub items: Vec<T>,
    pub page: i64,
    pub page_size: i64,
    pub total_items: i64,
    pub total_pages: i64,
    /// Pass as `cursor` for the next page; absent on the last one.
    pub next_cursor: Option<String>,
}

impl<T: Serialize> Paged<T> {
    #[must_use]
    pub fn new(
        items: Vec<T>,
        request: &PageRequest,
        total_items: i64,
        next_cursor: Option<String>,
    ) -> Self {
        let full = i64::try_from(items.len()).unwrap_or(i64::MAX) == request.page_size;
        Self {
            page: request.page,
            page_size: request.page_size,
            total_pages: (total_items + request.page_size - 1) / request.page_size,
            total_items,
            next_cursor: next_cursor.filter(|_| full),
            items,
        }
    }
}

impl<T: Serialize> Paged<T> {
    /// One page of a short list held whole (an account's users or workspaces), by number.
    pub fn of_all(all: Vec<T>, request: &PageRequest) -> Result<Self, ApiError> {
        if request.after.is_some() {
            return Err(ApiError::BadRequest(
                "this list pages by `page`, not by cursor".into(),
            ));
        }
        let total_items = i64::try_from(all.len()).unwrap_or(i64::MAX);
        let start = usize::try_from(request.offset).unwrap_or(usize::MAX);
        let take = usize::try_from(request.page_size).unwrap_or(0);
        let items = all.into_iter().skip(start).take(take).collect();
        Ok(Self::new(items, request, total_items, None))
    }
}

/// How many pages a list has at a page size (the "pages" twin of every list).
#[derive(Debug, Serialize, ToSchema)]
pub struct PagesBody {
    pub page_size: i64,
    pub total_items: i64,
    pub total_pages: i64,
}

impl PagesBody {
    #[must_use]
    pub fn new(page_size: i64, total_items: i64) -> Self {
        Self {
            page_size,
            total_items,
            total_pages: (total_items + page_size - 1) / page_size,
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::disallowed_methods,
    reason = "tests start from the real time, or wait for it"
)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_forgeries_are_refused() {
        let at = Utc::now();
        let id = Uuid::now_v7();
        let params = PageParams {
            page: None,
            page_size: None,
            cursor: Some(encode_cursor(at, id)),
        };
        let resolved = params.resolve().map(|r| r.after).ok().flatten();
        assert_eq!(resolved.map(|key| key.id), Some(id));
        let forged = PageParams {
            page: None,
            page_size: None,
            cursor: Some("bm9wZQ".into()),
        };
        assert!(forged.resolve().is_err());
    }

    #[test]
    fn page_bounds_are_enforced() {
        for (page, size) in [(0, 10), (-1, 10), (1, 0), (1, 501)] {
            let params = PageParams {
                page: Some(page),
                page_size: Some(size),
                cursor: None,
            };
            assert!(params.resolve().is_err(), "{page} {size}");
        }
    }
}
