//! The elements of a top-level JSON array from bytes as they arrive, one at a time, so an
//! upload of a million objects never sits in memory whole.

/// Why the bytes are not a JSON array of elements this reader can split.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ArrayError {
    #[error("a JSON upload must be an array of objects")]
    NotAnArray,
    #[error("the JSON array is not closed")]
    Unclosed,
    #[error("unexpected data after the JSON array")]
    TrailingData,
    #[error("element {index} of the array is longer than {limit} bytes")]
    ElementTooLong { index: u64, limit: usize },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    BeforeArray,
    BeforeElement,
    InElement,
    AfterArray,
}

/// A push splitter: [`JsonRows::feed`] takes chunks in order and hands out each complete
/// element's bytes with its 1-based position; [`JsonRows::finish`] checks the array closed.
pub struct JsonRows {
    state: State,
    element: Vec<u8>,
    depth: usize,
    in_string: bool,
    escaped: bool,
    index: u64,
    max_element_bytes: usize,
}

impl JsonRows {
    #[must_use]
    pub fn new(max_element_bytes: usize) -> Self {
        Self {
            state: State::BeforeArray,
            element: Vec::new(),
            depth: 0,
            in_string: false,
            escaped: false,
            index: 0,
            max_element_bytes,
        }
    }

    pub fn feed<E: From<ArrayError>>(
        &mut self,
        chunk: &[u8],
        on_element: &mut impl FnMut(u64, &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        for &byte in chunk {
            match self.state {
                State::BeforeArray => match byte {
                    b'[' => self.state = State::BeforeElement,
                    // A UTF-8 byte order mark, then whitespace, may precede the array.
                    0xEF | 0xBB | 0xBF => {}
                    b if b.is_ascii_whitespace() => {}
                    _ => return Err(ArrayError::NotAnArray.into()),
                },
                State::BeforeElement => match byte {
                    b if b.is_ascii_whitespace() => {}
                    b']' if self.index == 0 => self.state = State::AfterArray,
                    _ => {
                        self.state = State::InElement;
                        self.index += 1;
                        self.element.clear();
                        self.take(byte, on_element)?;
                    }
                },
                State::InElement => self.take(byte, on_element)?,
                State::AfterArray => {
                    if !byte.is_ascii_whitespace() {
                        return Err(ArrayError::TrailingData.into());
                    }
                }
            }
        }
        Ok(())
    }

    pub fn finish(&self) -> Result<(), ArrayError> {
        if self.state == State::AfterArray {
            Ok(())
        } else if self.state == State::BeforeArray {
            Err(ArrayError::NotAnArray)
        } else {
            Err(ArrayError::Unclosed)
        }
    }

    fn take<E: From<ArrayError>>(
        &mut self,
        byte: u8,
        on_element: &mut impl FnMut(u64, &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if byte == b'\\' {
                self.escaped = true;
            } else if byte == b'"' {
                self.in_string = false;
            }
        } else {
            match byte {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' if self.depth > 0 => self.depth -= 1,
                b',' | b']' if self.depth == 0 => {
                    on_element(self.index, self.element.trim_ascii())?;
                    self.element.clear();
                    self.state = if byte == b',' {
                        State::BeforeElement
                    } else {
                        State::AfterArray
                    };
                    return Ok(());
                }
                _ => {}
            }
        }
        if self.element.len() >= self.max_element_bytes {
            return Err(ArrayError::ElementTooLong {
                index: self.index,
                limit: self.max_element_bytes,
            }
            .into());
        }
        self.element.push(byte);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl From<ArrayError> for String {
        fn from(e: ArrayError) -> Self {
            e.to_string()
        }
    }

    fn split(data: &[u8], chunk: usize) -> Result<Vec<(u64, String)>, String> {
        let mut out = Vec::new();
        let mut rows = JsonRows::new(256);
        let mut collect = |i: u64, bytes: &[u8]| -> Result<(), String> {
            out.push((i, String::from_utf8_lossy(bytes).into_owned()));
            Ok(())
        };
        for piece in data.chunks(chunk) {
            rows.feed(piece, &mut collect)?;
        }
        rows.finish()?;
        Ok(out)
    }

    #[test]
    fn elements_split_whatever_the_chunking() {
        let data = br#" [ {"a": "x,]}\"\\", "b": [1, {"c": 2}]} , {"d": null},7 ] "#;
        let whole = split(data, data.len());
        assert_eq!(
            whole,
            Ok(vec![
                (1, r#"{"a": "x,]}\"\\", "b": [1, {"c": 2}]}"#.to_owned()),
                (2, r#"{"d": null}"#.to_owned()),
                (3, "7".to_owned()),
            ])
        );
        for chunk in [1, 2, 5, 13] {
            assert_eq!(split(data, chunk), whole, "{chunk}");
        }
    }

    #[test]
    fn structure_errors_are_named() {
        assert_eq!(split(b"[]", 1), Ok(vec![]));
        assert_eq!(
            split(br#"{"a": 1}"#, 4),
            Err(ArrayError::NotAnArray.to_string())
        );
        assert_eq!(
            split(br#"[{"a": 1}"#, 4),
            Err(ArrayError::Unclosed.to_string())
        );
        assert_eq!(
            split(br#"[1] x"#, 4),
            Err(ArrayError::TrailingData.to_string())
        );
        assert_eq!(split(b"", 4), Err(ArrayError::NotAnArray.to_string()));
        let long = format!("[\"{}\"]", "x".repeat(300));
        assert!(split(long.as_bytes(), 64).is_err());
    }
}
