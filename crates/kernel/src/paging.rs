//! Paging: what every list answers with.

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
