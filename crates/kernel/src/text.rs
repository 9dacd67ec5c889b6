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

/// A name chosen by a user, as it may appear in an email the platform sends: quoted, and with
/// anything a mail client would turn into a link (`scheme://`, `www.`, `@`, dots between
/// letters) defanged, so that a self-chosen account name cannot put a clickable link or a
/// plausible address into the platform's mail.
#[must_use]
pub fn inert_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 8);
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let between_letters = i > 0
            && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric())
            && chars[i - 1].is_alphanumeric();
        match c {
            '.' if between_letters => out.push_str("[.]"),
            ':' if chars.get(i + 1) == Some(&'/') => out.push_str("[:]"),
            '@' => out.push_str("[at]"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    format!("\"{out}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_emails_never_become_links() {
        let name = inert_name("URGENT verify your bank account at http://evil.example/login");
        assert!(!name.contains("://"), "{name}");
        assert!(!name.contains("evil.example"), "{name}");
        assert!(name.contains("evil[.]example"), "{name}");
        assert_eq!(inert_name("Ada Lovelace"), "\"Ada Lovelace\"");
        assert!(!inert_name("mail me: bob@evil.example").contains('@'));
        assert_eq!(inert_name("Dr. Who"), "\"Dr. Who\"");
    }

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
