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
pub fn every_item<T, F, Fut>(page_size: i64, fetch: F) -> BoxStream<'static, Result<T, Error>>
where
    T: Send + 'static,
    F: FnMut(PageRequest) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Page<T>, Error>> + Send + 'static,
{
    stream::try_unfold((Next::First, fetch), move |(next, mut fetch)| async move {
        let request = match next {
            Next::Done => return Ok(None),
            Next::First => PageRequest::number(1, page_size),
            Next::Cursor(cursor) => PageRequest::after(cursor, page_size),
            Next::Number(page) => PageRequest::number(page, page_size),
        };
        let page = fetch(request).await?;
        let next = match page.next_cursor {
            _ if page.items.is_empty() => Next::Done,
            Some(cursor) => Next::Cursor(cursor),
            None if page.page < page.total_pages => Next::Number(page.page + 1),
            None => Next::Done,
        };
        let items = stream::iter(page.items.into_iter().map(Ok::<T, Error>));
        Ok::<_, Error>(Some((items, (next, fetch))))
    })
    .try_flatten()
    .boxed()
}
