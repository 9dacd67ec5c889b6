//! Abuse resistance over HTTP, against the real server: bounded metric labels, sign-up and
//! invitation floods, email verification, codes at rest, client addresses (IPv6 networks,
//! IPv4-mapped addresses), the hashing queue's bound, and the security headers. Every loop is
//! bounded in count and time. (Uploads: `abuse_uploads.rs`; tenant-safe references:
//! `crates/postgres/tests/tenant_references.rs`.)
#![allow(
    clippy::disallowed_methods,
    reason = "tests start from the real time, or wait for it"
)]

use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use nudgescribe_e2e::smtp::{SmtpSink, code_in};
use nudgescribe_e2e::{Error, TestApp, TestResult, expect_error, spawn_app_with};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

async fn signup_from(app: &TestApp, email: &str, from: &str) -> Result<reqwest::Response, Error> {
    Ok(app
        .client
        .post(app.url("/v1/signup"))
        .header("x-forwarded-for", from)
        .json(
            &json!({"email": email, "password": PASSWORD, "full_name": "Flood",
                      "account_name": "Flood Ltd"}),
        )
        .send()
        .await?)
}

async fn login_from(app: &TestApp, email: &str, from: &str) -> Result<reqwest::Response, Error> {
    Ok(app
        .client
        .post(app.url("/v1/auth/login"))
        .header("x-forwarded-for", from)
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await?)
}

fn token_of(body: &Value) -> Result<String, Error> {
    Ok(body["access_token"]
        .as_str()
        .ok_or("access token")?
        .to_owned())
}

#[tokio::test]
async fn random_methods_leave_the_metrics_small() -> TestResult {
    let app = spawn_app_with(|_| {}).await?;
    let started = Instant::now();
    let requests = futures_util::stream::iter(0..20_000_u32)
        .map(|n| {
            let app = &app;
            async move {
                let method = Method::from_bytes(format!("M{n:05}X").as_bytes())?;
                let answer = app
                    .client
                    .request(method, app.url(&format!("/nowhere/{n}")))
                    .send()
                    .await?;
                Ok::<_, Error>(answer.status())
            }
        })
        .buffer_unordered(64);
    let answered: Vec<_> = requests.collect().await;
    for status in answered {
        assert!(status?.is_client_error());
    }
    assert!(started.elapsed() < Duration::from_secs(120));
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        metrics.len() < 100_000,
        "/metrics is {} bytes",
        metrics.len()
    );
    assert!(metrics.contains(r#"method="other""#), "{metrics}");
    assert!(!metrics.contains("M00042X"));
    assert!(metrics.contains(r#"route="unmatched""#));
    Ok(())
}

#[tokio::test]
async fn sign_ups_are_limited_per_address_and_per_ipv6_network() -> TestResult {
    let app = spawn_app_with(|s| {
        s.server.trusted_proxies = "127.0.0.1".into();
        s.rate_limits.signup_per_ip_per_hour = 3;
    })
    .await?;
    for n in 0..3 {
        let created = signup_from(&app, &format!("flood{n}@example.com"), "203.0.113.50").await?;
        assert_eq!(created.status(), StatusCode::CREATED);
    }
    let limited = signup_from(&app, "flood3@example.com", "203.0.113.50").await?;
    assert!(limited.headers().contains_key("retry-after"));
    expect_error(limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await?;
    // The same address, IPv4-mapped: the same client.
    let mapped = signup_from(&app, "flood4@example.com", "::ffff:203.0.113.50").await?;
    expect_error(mapped, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await?;
    // Another address is not affected.
    let other = signup_from(&app, "fine@example.com", "203.0.113.51").await?;
    assert_eq!(other.status(), StatusCode::CREATED);
    // Addresses of one IPv6 /64 count together.
    let mut statuses = Vec::new();
    for n in 0..4 {
        let from = format!("2001:db8:7:9::{:x}", 0x100 + n);
        statuses.push(
            signup_from(&app, &format!("v6-{n}@example.com"), &from)
                .await?
                .status(),
        );
    }
    assert_eq!(
        statuses,
        vec![
            StatusCode::CREATED,
            StatusCode::CREATED,
            StatusCode::CREATED,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    Ok(())
}

#[tokio::test]
async fn sign_ins_from_one_ipv6_network_or_a_mapped_address_count_together() -> TestResult {
    let app = spawn_app_with(|s| {
        s.server.trusted_proxies = "127.0.0.1".into();
        s.rate_limits.signin_per_ip_per_minute = 5;
    })
    .await?;
    app.signup("ada@example.com").await?;
    nudgescribe_e2e::early_in_a_minute().await;
    let mut statuses = Vec::new();
    for n in 0..10 {
        let from = format!("2001:db8:1:2::{:x}", n + 1);
        statuses.push(login_from(&app, "ada@example.com", &from).await?.status());
    }
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
            .count(),
        5,
        "{statuses:?}"
    );
    // Another /64 is another client.
    let other = login_from(&app, "ada@example.com", "2001:db8:1:3::1").await?;
    assert_eq!(other.status(), StatusCode::OK);
    // 1.2.3.4 and ::ffff:1.2.3.4 are one client.
    for _ in 0..5 {
        login_from(&app, "ada@example.com", "198.51.100.20").await?;
    }
    let mapped = login_from(&app, "ada@example.com", "::ffff:198.51.100.20").await?;
    expect_error(mapped, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await?;
    Ok(())
}

#[tokio::test]
async fn an_unverified_owner_cannot_invite_and_invitations_are_limited() -> TestResult {
    let (sink, smtp_url) = SmtpSink::start().await?;
    let app = spawn_app_with(|s| {
        s.email.smtp_url = Some(smtp_url.into());
        s.rate_limits.invitations_per_account_per_hour = 2;
    })
    .await?;
    let created = app
        .post_json(
            "/v1/signup",
            &json!({"email": "eve@example.com", "password": PASSWORD, "full_name": "Eve",
                    "account_name": "URGENT verify your bank account at http://evil.example/login"}),
        )
        .await?;
    assert_eq!(created.status(), StatusCode::CREATED);
    let token = token_of(&app.login("eve@example.com", PASSWORD).await?)?;
    let me: Value = app.get_authed("/v1/me", &token).await?.json().await?;
    assert_eq!(me["email_verified"], false);
    let invite = |email: &str| {
        app.client
            .post(app.url("/v1/users"))
            .bearer_auth(&token)
            .json(
                &json!({"email": email, "full_name": "Victim", "account_roles": ["member"],
                          "workspace_roles": []}),
            )
            .send()
    };
    expect_error(
        invite("victim0@example.org").await?,
        StatusCode::FORBIDDEN,
        "email_unverified",
    )
    .await?;
    assert!(
        !sink.messages().iter().any(|m| m.contains("victim0")),
        "nothing was sent"
    );

    // The code from the sign-up email verifies the address; a wrong one does not.
    let mail = sink
        .wait_for_all(&["To: eve@example.com", "Subject: Verify your"])
        .await
        .ok_or("the verification email")?;
    let code = code_in(&mail).ok_or("a Code: line")?;
    let verify = |code: String| {
        app.client
            .post(app.url("/v1/me/email/verify"))
            .bearer_auth(&token)
            .json(&json!({"code": code}))
            .send()
    };
    expect_error(
        verify("not-the-code".into()).await?,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await?;
    assert_eq!(verify(code).await?.status(), StatusCode::NO_CONTENT);
    let me: Value = app.get_authed("/v1/me", &token).await?.json().await?;
    assert_eq!(me["email_verified"], true);
    let resent = app
        .client
        .post(app.url("/v1/me/email/verify/resend"))
        .bearer_auth(&token)
        .send()
        .await?;
    assert_eq!(resent.status(), StatusCode::ACCEPTED);

    // Verified: invitations go out — as many as the account's limit allows.
    assert_eq!(
        invite("victim1@example.org").await?.status(),
        StatusCode::CREATED
    );
    assert_eq!(
        invite("victim2@example.org").await?.status(),
        StatusCode::CREATED
    );
    let limited = invite("victim3@example.org").await?;
    assert!(limited.headers().contains_key("retry-after"));
    expect_error(limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await?;

    // The account's self-chosen name reaches the invitee as inert text, never a link.
    let invitation = sink
        .wait_for("To: victim1@example.org")
        .await
        .ok_or("the invitation")?;
    assert!(!invitation.contains("http://evil.example"), "{invitation}");
    assert!(!invitation.contains("evil.example/"), "{invitation}");
    Ok(())
}

/// Every row of the database, as `pg_dump` writes it.
fn dump(app: &TestApp) -> Result<String, Error> {
    let output = std::process::Command::new("pg_dump")
        .args(["--data-only", "--no-owner", app.database.url()])
        .output()?;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8(output.stdout)?)
}

#[tokio::test]
async fn no_code_is_kept_in_clear_pending_or_delivered() -> TestResult {
    // No mail server at all: every email stays pending, retried.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")?;
    let dead_url = format!("smtp://127.0.0.1:{}", closed.local_addr()?.port());
    drop(closed);
    let app = spawn_app_with(|s| s.email.smtp_url = Some(dead_url.into())).await?;
    let owner = app.signup("ada@example.com").await?;
    let token = token_of(&app.login("ada@example.com", &owner.password).await?)?;
    let invited = app
        .client
        .post(app.url("/v1/users"))
        .bearer_auth(&token)
        .json(
            &json!({"email": "bob@example.com", "full_name": "Bob", "account_roles": ["member"],
                      "workspace_roles": []}),
        )
        .send()
        .await?;
    assert_eq!(invited.status(), StatusCode::CREATED);
    let reset = app
        .post_json(
            "/v1/auth/password-reset",
            &json!({"email": "ada@example.com"}),
        )
        .await?;
    assert_eq!(reset.status(), StatusCode::ACCEPTED);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pending = dump(&app)?;
    assert!(
        pending.contains("Bob") || pending.contains("bob@example.com"),
        "the dump holds the data"
    );
    assert!(!pending.contains("Code:"), "a code in clear while pending");

    // Delivered: the sealed body goes too.
    let (sink, smtp_url) = SmtpSink::start().await?;
    let app = spawn_app_with(|s| s.email.smtp_url = Some(smtp_url.into())).await?;
    let owner = app.signup("ada@example.com").await?;
    let token = token_of(&app.login("ada@example.com", &owner.password).await?)?;
    let invited = app
        .client
        .post(app.url("/v1/users"))
        .bearer_auth(&token)
        .json(
            &json!({"email": "bob@example.com", "full_name": "Bob", "account_roles": ["member"],
                      "workspace_roles": []}),
        )
        .send()
        .await?;
    assert_eq!(invited.status(), StatusCode::CREATED);
    let mail = sink
        .wait_for("To: bob@example.com")
        .await
        .ok_or("the invitation")?;
    let code = code_in(&mail).ok_or("a Code: line")?;
    // The worker marks it delivered right after the hand-off.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let delivered = dump(&app)?;
    assert!(!delivered.contains("Code:"));
    assert!(!delivered.contains(&code));
    Ok(())
}

#[tokio::test]
async fn a_flood_of_new_passwords_is_turned_away_quickly_and_sign_in_goes_on() -> TestResult {
    let app = spawn_app_with(|s| {
        s.server.trusted_proxies = "127.0.0.1".into();
        s.server.workers = 2;
        s.auth.bcrypt_cost = 10;
    })
    .await?;
    app.signup("ada@example.com").await?;
    let started = Instant::now();
    let flood = futures_util::stream::iter(0..64_u32)
        .map(|n| {
            let app = &app;
            async move {
                let answer = signup_from(
                    app,
                    &format!("flood{n}@example.com"),
                    &format!("198.51.100.{}", n + 1),
                )
                .await?;
                Ok::<_, Error>((
                    answer.status(),
                    answer.headers().contains_key("retry-after"),
                ))
            }
        })
        .buffer_unordered(64)
        .collect::<Vec<_>>();
    let sign_in = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        Ok::<_, Error>(
            login_from(&app, "ada@example.com", "203.0.113.1")
                .await?
                .status(),
        )
    };
    let (answers, signed_in) = tokio::join!(flood, sign_in);
    assert_eq!(
        signed_in?,
        StatusCode::OK,
        "a sign-in during the flood is served"
    );
    let mut busy = 0;
    for answer in answers {
        let (status, retry_after) = answer?;
        match status {
            StatusCode::CREATED => {}
            StatusCode::SERVICE_UNAVAILABLE => {
                assert!(retry_after);
                busy += 1;
            }
            other => return Err(format!("unexpected {other}").into()),
        }
    }
    assert!(busy > 0, "the queue's bound turned some away");
    assert!(started.elapsed() < Duration::from_secs(60));
    Ok(())
}

#[tokio::test]
async fn every_response_carries_the_security_headers() -> TestResult {
    let app = spawn_app_with(|_| {}).await?;
    let owner = app.signup("ada@example.com").await?;
    let header = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let live = app.client.get(app.url("/health/live")).send().await?;
    assert_eq!(
        header(&live, "x-content-type-options").as_deref(),
        Some("nosniff")
    );
    assert_eq!(
        header(&live, "referrer-policy").as_deref(),
        Some("no-referrer")
    );

    let login = app
        .post_json(
            "/v1/auth/login",
            &json!({"email": "ada@example.com", "password": owner.password}),
        )
        .await?;
    assert_eq!(header(&login, "cache-control").as_deref(), Some("no-store"));
    assert_eq!(
        header(&login, "x-content-type-options").as_deref(),
        Some("nosniff")
    );
    let token = token_of(&login.json().await?)?;
    let me = app.get_authed("/v1/me", &token).await?;
    assert_eq!(header(&me, "cache-control").as_deref(), Some("no-store"));
    let refused = app.get_authed("/v1/me", "not-a-token").await?;
    assert_eq!(
        header(&refused, "cache-control").as_deref(),
        Some("no-store")
    );
    assert_eq!(
        header(&refused, "x-content-type-options").as_deref(),
        Some("nosniff")
    );

    let docs = app.client.get(app.url("/docs/")).send().await?;
    let policy = header(&docs, "content-security-policy").ok_or("a CSP on /docs")?;
    assert!(policy.contains("default-src 'none'"), "{policy}");
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(!policy.contains("unsafe-eval"), "{policy}");
    Ok(())
}
