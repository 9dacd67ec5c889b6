//! The built-in customer fields: their names and what each admits.

use kernel::EmailAddress;

/// Columns an upload may carry besides the workspace's profile field keys.
pub const WRITABLE: [&str; 5] = ["external_id", "email", "phone", "first_name", "last_name"];
/// Fields the server sets: never uploaded, never a profile field key.
pub const READ_ONLY: [&str; 5] = ["id", "attributes", "group_ids", "created_at", "updated_at"];

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_EXTERNAL_ID_CHARS: usize = 255;

/// Whether `name` is a built-in field (so cannot be a profile field key).
#[must_use]
pub fn is_built_in(name: &str) -> bool {
    WRITABLE.contains(&name) || READ_ONLY.contains(&name)
}

/// Whether `key` is a valid profile field key: snake_case, starting with a letter, ≤ 63 chars.
#[must_use]
pub fn is_valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some('a'..='z'))
        && key.len() <= 63
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
}

pub fn external_id(raw: &str) -> Result<String, String> {
    let value = raw.trim();
    if value.chars().count() > MAX_EXTERNAL_ID_CHARS {
        return Err(format!(
            "must be at most {MAX_EXTERNAL_ID_CHARS} characters"
        ));
    }
    if value.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(value.to_owned())
}

pub fn email(raw: &str) -> Result<String, String> {
    EmailAddress::parse(raw)
        .map(|email| email.as_str().to_owned())
        .map_err(|e| e.to_string())
}

/// An E.164 number: `+`, a country code that does not start with 0, at most 15 digits in all.
/// Spaces, dots, hyphens and parentheses people write between digits are dropped first.
pub fn phone(raw: &str) -> Result<String, String> {
    let compact: String = raw
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')'))
        .collect();
    let digits = compact.strip_prefix('+').unwrap_or("");
    let valid = (2..=15).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit())
        && !digits.starts_with('0');
    if valid {
        Ok(compact)
    } else {
        Err("must be an E.164 phone number, like +14155550123".into())
    }
}

pub fn name(raw: &str) -> Result<String, String> {
    let value = raw.trim();
    if value.chars().count() > MAX_NAME_CHARS {
        return Err(format!("must be at most {MAX_NAME_CHARS} characters"));
    }
    if value.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_e164() {
        assert_eq!(phone("+1 (415) 555-0123"), Ok("+14155550123".into()));
        assert_eq!(phone("+447911123456"), Ok("+447911123456".into()));
        for bad in [
            "4155550123",
            "+0123456",
            "+1",
            "+1234567890123456",
            "+1-800-FLOWERS",
            "",
        ] {
            assert!(phone(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails_are_normalised() {
        assert_eq!(email("  Ada@Example.COM "), Ok("ada@example.com".into()));
        assert!(email("not-an-email").is_err());
    }

    #[test]
    fn keys_are_snake_case_and_not_built_in() {
        assert!(is_valid_key("loyalty_tier2"));
        for bad in ["Tier", "2tier", "tier-2", "", "tier two"] {
            assert!(!is_valid_key(bad), "{bad}");
        }
        assert!(is_built_in("email") && is_built_in("group_ids"));
    }

    #[test]
    fn names_and_external_ids_are_bounded() {
        assert_eq!(name("  Ada "), Ok("Ada".into()));
        assert!(name(&"x".repeat(201)).is_err());
        assert!(external_id("a\u{0}b").is_err());
        assert!(external_id(&"x".repeat(256)).is_err());
    }
}
