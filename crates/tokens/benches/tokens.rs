//! Signing and verifying access tokens: the per-request cost of authentication.

use std::hint::black_box;

use chrono::{Duration, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use kernel::{AccountId, PermissionSet, UserId};
use tokens::{
    KeyRing, RefreshToken, SessionKind, SigningKey, TokenIssuer, TokenKind, TokenSettings,
};

fn issuer() -> TokenIssuer {
    let key = SigningKey::generate().unwrap_or_else(|e| panic!("{e}"));
    TokenIssuer::new(
        TokenSettings {
            issuer: "bench".into(),
            audience: "bench".into(),
            access_ttl: Duration::days(14),
            refresh_ttl: Duration::days(15),
            leeway: Duration::seconds(30),
        },
        KeyRing::new(&key, &[]),
    )
}

fn tokens(c: &mut Criterion) {
    let issuer = issuer();
    let now = Utc::now();
    let start = || {
        issuer
            .start_session(
                SessionKind::ApiKey,
                AccountId::generate(),
                UserId::generate(),
                PermissionSet::all(),
                now,
            )
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let (_, issued) = start();

    c.bench_function("start_session (sign access + mint refresh)", |b| {
        b.iter(|| black_box(start()));
    });
    c.bench_function("verify access token", |b| {
        b.iter(|| {
            black_box(
                issuer
                    .verify(black_box(&issued.access_token), TokenKind::Access, now)
                    .unwrap_or_else(|e| panic!("{e}")),
            )
        });
    });
    c.bench_function("refresh token digest", |b| {
        b.iter(|| black_box(RefreshToken::digest_of(black_box(&issued.refresh_token))));
    });
}

criterion_group!(benches, tokens);
criterion_main!(benches);
