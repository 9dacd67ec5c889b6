//! Email addresses, parsed at the edge so an invalid one cannot exist past it.

use std::fmt;

/// A syntactically valid email address, trimmed and lower-cased (the form it is stored and
/// compared in).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("is not a valid email address")]
pub struct InvalidEmail;

impl EmailAddress {
    /// Parses and normalises an address: one `@`, a non-empty local part of at most 64 bytes,
    /// a dotted domain of letters, digits and hyphens, 254 bytes in all, no whitespace.
    pub fn parse(raw: &str) -> Result<Self, InvalidEmail> {
        let normalised = raw.trim().to_lowercase();
        if normalised.len() > 254 {
            return Err(InvalidEmail);
        }
        let (local, domain) = normalised.split_once('@').ok_or(InvalidEmail)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if local_ok && domain_ok {
            Ok(Self(normalised))
        } else {
            Err(InvalidEmail)
        }
    }

    #[must_use]
    pub fn local_part(&self) -> &str {
        self.as_str()
            .split_once('@')
            .map_or(self.as_str(), |(local, _)| local)
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_whitespace() {
        let email = EmailAddress::parse("  Ada.Lovelace@Example.COM ").map(|e| e.0);
        assert_eq!(email, Ok("ada.lovelace@example.com".to_owned()));
    }

    #[test]
    fn refuses_malformed_addresses() {
        for raw in [
            "",
            "ada",
            "@example.com",
            "ada@",
            "ada@example",
            "ada@@example.com",
            "ada lovelace@example.com",
            "ada@exa mple.com",
            ".ada@example.com",
            "ada..l@example.com",
            "ada@-example.com",
            "ada@example..com",
        ] {
            assert_eq!(EmailAddress::parse(raw), Err(InvalidEmail), "{raw:?}");
        }
    }

    #[test]
    fn refuses_overlong_addresses() {
        let raw = format!("{}@example.com", "a".repeat(65));
        assert_eq!(EmailAddress::parse(&raw), Err(InvalidEmail));
    }
}
