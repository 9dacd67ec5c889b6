//! Every item of a list, as a stream: page after page, by cursor where the list has one (a
//! deep page costs the server what the first does), else by page number.

use std::future::Future;

use futures_util::stream::{self, BoxStream, StreamExt as _, TryStreamExt as _};

use crate::error::Error;
use crate::types::{Page, PageRequest};

/// Where the next page starts.
enum Next {
    First,
    Cursor(String),
    Number(i64),
    Done,
}

/// A stream of every item of a list: `fetch` is called for each page, with the page to get.
/// Ends after the last page or at the first error (which it yields).
///
/// The first page is asked for by number; if its answer carries a `next_cursor`, the rest
/// follow by cursor until an answer carries none; otherwise by number up to `total_pages`.
pub fn every_item<T, F, Fut>(page_size: i64, fetch: F) -> BoxStream<'static, Result<T, Error>>
where
    T: Send + 'static,
    F: FnMut(PageRequest) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Page<T>, Error>> + Send + 'static,
{
    stream::try_unfold((Next::First, fetch), move |(next, mut fetch)| async move {
        let (request, by_number) = match next {
            Next::Done => return Ok(None),
            Next::First => (PageRequest::number(1, page_size), Some(1)),
            Next::Cursor(cursor) => (PageRequest::after(cursor, page_size), None),
            Next::Number(number) => (PageRequest::number(number, page_size), Some(number)),
        };
        let page = fetch(request).await?;
        let next = match (page.next_cursor, by_number) {
            _ if page.items.is_empty() => Next::Done,
            (Some(cursor), _) => Next::Cursor(cursor),
            // A page after a cursor that names no next one is the last. (Its `page` field
            // says nothing about where it is.)
            (None, None) => Next::Done,
            // A list that pages by number only (users, workspaces, profile fields).
            (None, Some(number)) if number < page.total_pages => Next::Number(number + 1),
            (None, Some(_)) => Next::Done,
        };
        let items = stream::iter(page.items.into_iter().map(Ok::<T, Error>));
        Ok::<_, Error>(Some((items, (next, fetch))))
    })
    .try_flatten()
    .boxed()
}

#[cfg(test)]
mod tests {
    use futures_util::TryStreamExt as _;

    use super::*;

    /// A list of `total` numbers served as the server does: `page` is 1 on a cursor request,
    /// and `next_cursor` only on a full page (and never, for a number-only list).
    fn serve(total: i64, with_cursor: bool, request: &PageRequest) -> Page<i64> {
        let size = request.page_size.unwrap_or(50);
        let start = match &request.cursor {
            Some(cursor) => cursor.parse::<i64>().unwrap_or(total),
            None => (request.page.unwrap_or(1) - 1) * size,
        };
        let items: Vec<i64> = (start..total.min(start + size)).collect();
        let full = i64::try_from(items.len()).unwrap_or(0) == size;
        Page {
            next_cursor: items
                .last()
                .filter(|_| full && with_cursor)
                .map(|last| (last + 1).to_string()),
            items,
            page: if request.cursor.is_some() {
                1
            } else {
                request.page.unwrap_or(1)
            },
            page_size: size,
            total_items: total,
            total_pages: (total + size - 1) / size,
        }
    }

    async fn all(total: i64, with_cursor: bool, page_size: i64) -> Result<Vec<i64>, Error> {
        every_item(page_size, move |request| async move {
            Ok(serve(total, with_cursor, &request))
        })
        .try_collect()
        .await
    }

    #[tokio::test]
    async fn streams_every_item_once_by_cursor_or_by_number() -> Result<(), Error> {
        for with_cursor in [true, false] {
            for (total, size) in [(0, 10), (25, 10), (30, 10), (3, 500), (1, 1)] {
                let items = all(total, with_cursor, size).await?;
                assert_eq!(items, (0..total).collect::<Vec<_>>(), "{total} by {size}");
            }
        }
        Ok(())
    }
}
