//! Rules for free text that is kept: PostgreSQL's `text` and `jsonb` cannot hold NUL (a value
//! with one fails in the database, too late to be the caller's 400), and control characters
//! in a one-line value are never meant.

/// Whether `text` may be kept as a one-line value (a name, a label, a search): no control
/// characters at all.
#[must_use]
pub fn is_single_line(text: &str) -> bool {
    !text.chars().any(char::is_control)
}

/// Whether `text` may be kept as free text (a description, a custom attribute): line breaks
/// and tabs, but no other control character.
#[must_use]
pub fn is_multi_line(text: &str) -> bool {
    !text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_is_never_text_and_line_breaks_only_in_free_text() {
        for bad in ["\0", "a\0b", "\u{7f}", "\u{1b}[31m"] {
            assert!(!is_single_line(bad), "{bad:?}");
            assert!(!is_multi_line(bad), "{bad:?}");
        }
        assert!(is_multi_line("two\r\nlines\tand a tab"));
        assert!(!is_single_line("two\nlines"));
        assert!(is_single_line("Ünïcode ✓ 😀"));
    }
}
