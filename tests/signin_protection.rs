//! Sign-in protection over HTTP: the per-IP limit, lockout after repeated failures, password
//! change, and the audit trail that records all of it.

use nudgescribe_e2e::{TestResult, expect_error, spawn_app, spawn_app_with};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn sign_in_is_limited_to_five_a_minute_per_ip() -> TestResult {
    let app = spawn_app_with(|settings| settings.rate_limits.signin_per_ip_per_minute = 5).await?;
    let signed = app.signup("ada@example.com").await?;
    nudgescribe_e2e::early_in_a_minute().await;
    for _ in 0..5 {
        app.login("ada@example.com", &signed.password).await?;
    }
    let limited = app
        .post_json(
            "/v1/auth/login",
            &json!({"email": "ada@example.com", "password": signed.password}),
        )
        .await?;
    assert!(limited.headers().get("retry-after").is_some());
    expect_error(limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await?;
    Ok(())
}

#[tokio::test]
async fn five_failures_lock_the_account_without_saying_so() -> TestResult {
    let app = spawn_app().await?;
    let signed = app.signup("ada@example.com").await?;
    let attempt = |password: String| {
        app.client
            .post(app.url("/v1/auth/login"))
            .json(&json!({"email": "ada@example.com", "password": password}))
            .send()
    };
    for _ in 0..5 {
        expect_error(
            attempt("wrong password".into()).await?,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        )
        .await?;
    }
    let locked = expect_error(
        attempt(signed.password.clone()).await?,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await?;
    let unknown = app
        .post_json(
            "/v1/auth/login",
            &json!({"email": "nobody@example.com", "password": "whatever1"}),
        )
        .await?;
    let unknown = expect_error(unknown, StatusCode::UNAUTHORIZED, "invalid_credentials").await?;
    assert_eq!(
        locked["error"], unknown["error"],
        "a lock looks like any failure"
    );

    let events = app.audit_events().await?;
    assert_eq!(
        events.iter().filter(|e| e.0 == "account_locked").count(),
        1,
        "{events:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_password_change_needs_the_current_password_and_ends_other_sessions() -> TestResult {
    let app = spawn_app().await?;
    let signed = app.signup("ada@example.com").await?;
    let this = app.login("ada@example.com", &signed.password).await?;
    let other = app.login("ada@example.com", &signed.password).await?;
    let token = this["access_token"].as_str().ok_or("token")?;
    let change = |current: &str, new: &str| {
        app.client
            .post(app.url("/v1/me/password"))
            .bearer_auth(token)
            .json(&json!({"current_password": current, "new_password": new}))
            .send()
    };
    expect_error(
        change("wrong one", "a brand new password").await?,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    )
    .await?;
    expect_error(
        change(&signed.password, "short").await?,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    )
    .await?;
    assert_eq!(
        change(&signed.password, "a brand new password")
            .await?
            .status(),
        StatusCode::NO_CONTENT
    );

    assert_eq!(
        app.get_authed("/v1/me", token).await?.status(),
        StatusCode::OK,
        "this session goes on"
    );
    let ended = app
        .get_authed("/v1/me", other["access_token"].as_str().unwrap_or_default())
        .await?;
    expect_error(ended, StatusCode::UNAUTHORIZED, "unauthenticated").await?;
    app.login("ada@example.com", "a brand new password").await?;
    Ok(())
}

#[tokio::test]
async fn the_audit_trail_is_listed_filtered_and_paged() -> TestResult {
    let app = spawn_app().await?;
    let signed = app.signup("ada@example.com").await?;
    for _ in 0..3 {
        let _ = app
            .post_json(
                "/v1/auth/login",
                &json!({"email": "ada@example.com", "password": "wrong password"}),
            )
            .await?;
    }
    let tokens = app.login("ada@example.com", &signed.password).await?;
    let token = tokens["access_token"].as_str().ok_or("token")?;

    let all: Value = app
        .get_authed("/v1/audit-events?page_size=2", token)
        .await?
        .json()
        .await?;
    assert_eq!(all["total_items"], 5, "{all}");
    assert_eq!(all["total_pages"], 3);
    assert_eq!(all["items"][0]["event"], "login_succeeded", "newest first");
    assert_eq!(all["items"][0]["ip"], "127.0.0.1");
    let cursor = all["next_cursor"].as_str().ok_or("a next cursor")?;
    let next: Value = app
        .get_authed(
            &format!("/v1/audit-events?page_size=2&cursor={cursor}"),
            token,
        )
        .await?
        .json()
        .await?;
    assert_eq!(next["items"][0]["event"], "login_failed");
    assert_ne!(next["items"][0]["id"], all["items"][1]["id"]);

    let failed: Value = app
        .get_authed("/v1/audit-events?event=login_failed", token)
        .await?
        .json()
        .await?;
    assert_eq!(failed["total_items"], 3);
    assert_eq!(failed["items"][0]["detail"]["failed_signin_attempts"], 3);
    assert_eq!(failed["items"][0]["detail"]["reason"], "wrong password");

    for bad in [
        "?event=nonsense",
        "?page=0",
        "?page_size=501",
        "?cursor=forged",
    ] {
        let response = app
            .get_authed(&format!("/v1/audit-events{bad}"), token)
            .await?;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    Ok(())
}

#[tokio::test]
async fn a_password_reset_by_smtp_ends_every_session_and_answers_alike_for_anyone() -> TestResult {
    use nudgescribe_e2e::smtp::{SmtpSink, code_in};
    let (sink, url) = SmtpSink::start().await?;
    let app = spawn_app_with(|settings| settings.email.smtp_url = Some(url.into())).await?;
    let signed = app.signup("ada@example.com").await?;
    let before = app.login("ada@example.com", &signed.password).await?;

    nudgescribe_e2e::early_in_a_minute().await;
    let unknown = app
        .post_json(
            "/v1/auth/password-reset",
            &json!({"email": "nobody@example.com"}),
        )
        .await?;
    let known = app
        .post_json(
            "/v1/auth/password-reset",
            &json!({"email": "ada@example.com"}),
        )
        .await?;
    assert_eq!(unknown.status(), StatusCode::ACCEPTED);
    assert_eq!(known.status(), StatusCode::ACCEPTED);
    let (unknown, known): (Value, Value) = (unknown.json().await?, known.json().await?);
    assert_eq!(
        unknown, known,
        "the same answer whether or not the address exists"
    );
    let again = app
        .post_json(
            "/v1/auth/password-reset",
            &json!({"email": "ada@example.com"}),
        )
        .await?;
    expect_error(again, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await?;

    let email = sink
        .wait_for_all(&["To: ada@example.com", "Subject: Reset your"])
        .await
        .ok_or("the reset email")?;
    let code = code_in(&email).ok_or("a Code: line")?;
    let confirm = |code: String| {
        app.client
            .post(app.url("/v1/auth/password-reset/confirm"))
            .json(&json!({"email": "ada@example.com", "code": code, "new_password": "a fresh password"}))
            .send()
    };
    expect_error(
        confirm("00000000000000000000".into()).await?,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await?;
    let done = confirm(code.clone()).await?;
    assert_eq!(done.status(), StatusCode::OK);
    let tokens: Value = done.json().await?;
    assert_eq!(
        app.get_authed(
            "/v1/me",
            tokens["access_token"].as_str().unwrap_or_default()
        )
        .await?
        .status(),
        StatusCode::OK
    );
    let old = app
        .get_authed(
            "/v1/me",
            before["access_token"].as_str().unwrap_or_default(),
        )
        .await?;
    expect_error(old, StatusCode::UNAUTHORIZED, "unauthenticated").await?;
    expect_error(confirm(code).await?, StatusCode::BAD_REQUEST, "bad_request").await?;
    app.login("ada@example.com", "a fresh password").await?;
    assert!(
        sink.messages()
            .iter()
            .all(|m| !m.contains("nobody@example.com")),
        "no email to unknown addresses"
    );
    Ok(())
}
