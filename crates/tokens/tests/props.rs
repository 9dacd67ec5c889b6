//! Property tests of the token parsers: arbitrary text and mutated valid tokens or keys never
//! verify and never panic.
#![allow(
    clippy::disallowed_methods,
    reason = "tests start from the real time, or wait for it"
)]

use chrono::{DateTime, Duration, Utc};
use kernel::{AccountId, SessionId, UserId};
use proptest::prelude::*;
use proptest::sample::Index;
use tokens::api_key::{GeneratedApiKey, PresentedApiKey};
use tokens::{KeyRing, SessionClaims, SigningKey, TokenIssuer, TokenKind, TokenSettings};

const ALL_KINDS: &[TokenKind] = &[TokenKind::Access, TokenKind::Mfa, TokenKind::ShortLived];

/// Few cases by default so that CI stays quick; `PROPTEST_CASES` runs more.
fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(256),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

struct Fixture {
    issuer: TokenIssuer,
    now: DateTime<Utc>,
    token: String,
    key: GeneratedApiKey,
}

fn fixture() -> Fixture {
    let signing = SigningKey::generate().unwrap_or_else(|e| panic!("{e}"));
    let issuer = TokenIssuer::new(
        TokenSettings {
            issuer: "https://nudgescribe.test".into(),
            audience: "nudgescribe".into(),
            leeway: Duration::seconds(30),
        },
        KeyRing::new(&signing, &[]),
    );
    let now = Utc::now();
    let session = SessionClaims {
        account_id: AccountId::generate(),
        user_id: UserId::generate(),
        session_id: SessionId::generate(),
        scope: "customers:read".into(),
    };
    let token = issuer
        .sign_for_session(TokenKind::Access, &session, now, Duration::minutes(15))
        .unwrap_or_else(|e| panic!("{e}"));
    let key = GeneratedApiKey::generate().unwrap_or_else(|e| panic!("{e}"));
    Fixture {
        issuer,
        now,
        token,
        key,
    }
}

/// Characters a JWT or an API key is made of, and a few that break them.
fn token_char() -> impl Strategy<Value = char> {
    prop_oneof![
        prop::sample::select(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
                .chars()
                .collect::<Vec<_>>()
        ),
        prop::sample::select(vec!['=', '+', '/', ' ', '\0', 'é', '\u{FEFF}']),
    ]
}

#[derive(Clone, Debug)]
enum Mutation {
    Replace(Index, char),
    Insert(Index, char),
    Remove(Index),
    Truncate(Index),
    SwapSegments,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), token_char()).prop_map(|(i, c)| Mutation::Replace(i, c)),
        (any::<Index>(), token_char()).prop_map(|(i, c)| Mutation::Insert(i, c)),
        any::<Index>().prop_map(Mutation::Remove),
        any::<Index>().prop_map(Mutation::Truncate),
        Just(Mutation::SwapSegments),
    ]
}

fn mutate(text: &str, mutations: &[Mutation]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for mutation in mutations {
        match mutation {
            Mutation::Replace(i, c) if !chars.is_empty() => {
                let at = i.index(chars.len());
                chars[at] = *c;
            }
            Mutation::Insert(i, c) => chars.insert(i.index(chars.len() + 1), *c),
            Mutation::Remove(i) if !chars.is_empty() => {
                chars.remove(i.index(chars.len()));
            }
            Mutation::Truncate(i) => chars.truncate(i.index(chars.len() + 1)),
            Mutation::SwapSegments => {
                let text: String = chars.iter().collect();
                let mut parts: Vec<&str> = text.split('.').collect();
                parts.reverse();
                chars = parts.join(".").chars().collect();
            }
            _ => {}
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_text_never_verifies(text in ".{0,400}") {
        let f = fixture();
        prop_assert!(f.issuer.verify(&text, ALL_KINDS, f.now).is_err());
    }

    #[test]
    fn token_shaped_text_never_verifies(
        parts in prop::collection::vec(prop::collection::vec(token_char(), 0..120), 1..5),
    ) {
        let f = fixture();
        let text = parts
            .iter()
            .map(|p| p.iter().collect::<String>())
            .collect::<Vec<_>>()
            .join(".");
        prop_assert!(f.issuer.verify(&text, ALL_KINDS, f.now).is_err());
    }

    #[test]
    fn a_mutated_token_never_verifies(mutations in prop::collection::vec(mutation(), 1..4)) {
        let f = fixture();
        prop_assert!(f.issuer.verify(&f.token, &[TokenKind::Access], f.now).is_ok());
        let mutated = mutate(&f.token, &mutations);
        prop_assume!(mutated != f.token);
        prop_assert!(
            f.issuer.verify(&mutated, ALL_KINDS, f.now).is_err(),
            "{mutated}"
        );
    }

    #[test]
    fn a_valid_token_of_another_kind_never_stands_in(kind in prop::sample::select(vec![TokenKind::Mfa, TokenKind::ShortLived])) {
        let f = fixture();
        prop_assert!(f.issuer.verify(&f.token, &[kind], f.now).is_err());
    }

    #[test]
    fn arbitrary_text_never_parses_as_a_key_that_matches(text in ".{0,200}") {
        let f = fixture();
        if let Some(presented) = PresentedApiKey::parse(&text) {
            prop_assert!(!presented.matches(&f.key.digest));
        }
    }

    #[test]
    fn a_mutated_api_key_never_matches(mutations in prop::collection::vec(mutation(), 1..4)) {
        let f = fixture();
        let original = PresentedApiKey::parse(&f.key.plaintext);
        prop_assert!(original.is_some_and(|k| k.matches(&f.key.digest) && k.key_id == f.key.key_id));
        let mutated = mutate(&f.key.plaintext, &mutations);
        // Surrounding whitespace is forgiven by design (a key pasted with a newline).
        prop_assume!(mutated.trim() != f.key.plaintext);
        if let Some(presented) = PresentedApiKey::parse(&mutated) {
            prop_assert!(
                !(presented.key_id == f.key.key_id && presented.matches(&f.key.digest)),
                "{mutated}"
            );
        }
    }
}
