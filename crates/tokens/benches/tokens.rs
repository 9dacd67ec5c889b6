//! Signing and verifying access tokens, and checking API keys: the per-request cost of
//! authentication.
#![allow(
    clippy::disallowed_methods,
    reason = "a harness: it measures and waits on real time"
)]

use std::hint::black_box;

use chrono::{Duration, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use kernel::{AccountId, SessionId, UserId};
use tokens::api_key::{GeneratedApiKey, PresentedApiKey};
use tokens::{
    KeyRing, RefreshToken, SessionClaims, SigningKey, TokenIssuer, TokenKind, TokenSettings,
};

fn issuer() -> TokenIssuer {
    let key = SigningKey::generate().unwrap_or_else(|e| panic!("{e}"));
    TokenIssuer::new(
        TokenSettings {
            issuer: "bench".into(),
            audience: "bench".into(),
            leeway: Duration::seconds(30),
        },
        KeyRing::new(&key, &[]),
    )
}

fn tokens(c: &mut Criterion) {
    let issuer = issuer();
    let now = Utc::now();
    let session = SessionClaims {
        account_id: AccountId::generate(),
        user_id: UserId::generate(),
        session_id: SessionId::generate(),
        scope: "customers:read customers:write campaigns:read messages:read".into(),
    };
    let sign = || {
        issuer
            .sign_for_session(TokenKind::Access, &session, now, Duration::days(14))
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let token = sign();
    let refresh = RefreshToken::generate().unwrap_or_else(|e| panic!("{e}"));

    c.bench_function("sign access token", |b| b.iter(|| black_box(sign())));
    c.bench_function("verify access token", |b| {
        b.iter(|| {
            black_box(
                issuer
                    .verify(black_box(&token), &[TokenKind::Access], now)
                    .unwrap_or_else(|e| panic!("{e}")),
            )
        });
    });
    c.bench_function("mint refresh token", |b| {
        b.iter(|| black_box(RefreshToken::generate().unwrap_or_else(|e| panic!("{e}"))));
    });
    c.bench_function("refresh token digest", |b| {
        b.iter(|| black_box(RefreshToken::digest_of(black_box(&refresh.secret))));
    });
    let key = GeneratedApiKey::generate().unwrap_or_else(|e| panic!("{e}"));
    c.bench_function("API key parse and digest check", |b| {
        b.iter(|| {
            let presented = PresentedApiKey::parse(black_box(&key.plaintext))
                .unwrap_or_else(|| panic!("a generated key parses"));
            black_box(presented.matches(black_box(&key.digest)))
        });
    });
}

criterion_group!(benches, tokens);
criterion_main!(benches);
