//! Which passwords are refused as too easy to guess (ASVS 5.0 V6.2.4, V6.2.11): those among
//! the 10,000 most common, and those built on the user's own email address.
//!
//! "Most common" is zxcvbn's: its password frequency list (30,000 entries, most common first)
//! and its guess model. A password zxcvbn cracks in at most [`MOST_COMMON`] guesses is refused;
//! a whole password found at rank *r* of the list costs at most *r* guesses, so every one of
//! the list's first 10,000 entries is refused, and so is anything as guessable (a keyboard run,
//! a repeated character, a common word on its own).

use kernel::EmailAddress;

/// How many of the most common passwords are refused.
pub const MOST_COMMON: u64 = 10_000;
/// Local parts shorter than this are too short to be a meaningful part of a password.
const MIN_LOCAL_PART_CHARS: usize = 3;

/// Why a password is refused, for the person choosing it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Weakness {
    Common,
    ContainsEmail,
}

impl Weakness {
    #[must_use]
    pub const fn message(self) -> &'static str {
        match self {
            Self::Common => {
                "is one of the most common passwords (or as easy to guess); choose another"
            }
            Self::ContainsEmail => "must not contain your email address or its name part",
        }
    }
}

/// What is wrong with `password` for the owner of `email`, if anything.
#[must_use]
pub fn weakness(password: &str, email: &EmailAddress) -> Option<Weakness> {
    let lowered = password.to_lowercase();
    let local = email.local_part().to_lowercase();
    if local.chars().count() >= MIN_LOCAL_PART_CHARS && lowered.contains(&local) {
        return Some(Weakness::ContainsEmail);
    }
    if zxcvbn::zxcvbn(password, &[]).guesses() <= MOST_COMMON {
        return Some(Weakness::Common);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(raw: &str) -> EmailAddress {
        EmailAddress::parse(raw).unwrap_or_else(|_| panic!("{raw} is a valid address"))
    }

    #[test]
    fn the_most_common_passwords_are_refused() {
        let ada = email("ada@example.com");
        for common in [
            "password",
            "12345678",
            "qwertyuiop",
            "iloveyou",
            "sunshine",
            "football",
            "Password",
            "1q2w3e4r",
            "aaaaaaaa",
            "abcdefgh",
        ] {
            assert_eq!(weakness(common, &ada), Some(Weakness::Common), "{common}");
        }
    }

    #[test]
    fn passwords_built_on_the_email_are_refused() {
        let marguerite = email("Marguerite.Duras@example.com");
        assert_eq!(
            weakness("marguerite.duras-2024!", &marguerite),
            Some(Weakness::ContainsEmail)
        );
        assert_eq!(
            weakness("MARGUERITE.DURAS", &marguerite),
            Some(Weakness::ContainsEmail)
        );
        // A local part too short to mean anything is not looked for.
        assert_eq!(
            weakness("correct horse battery", &email("or@example.com")),
            None
        );
    }

    #[test]
    fn ordinary_passphrases_pass() {
        let ada = email("ada@example.com");
        for fine in [
            "correct horse battery",
            "correct horse",
            "a fresh password",
            "Tr0ub4dor&3-staple",
            "lantern orbit 42 velvet",
        ] {
            assert_eq!(weakness(fine, &ada), None, "{fine}");
        }
    }
}
