//! TOTP MFA over HTTP, checked with an independent RFC 6238 implementation (HMAC-SHA1 from
//! aws-lc-rs, not the server's totp-rs): setup, activation, the sign-in step, no replay,
//! single-use recovery codes.

use nudgescribe_e2e::totp::{base32, now, totp};
use nudgescribe_e2e::{TestApp, TestResult, expect_error, spawn_app_with};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[test]
fn the_independent_implementation_matches_rfc_6238() {
    assert_eq!(totp(b"12345678901234567890", 59), "287082");
    assert_eq!(totp(b"12345678901234567890", 1_111_111_109), "081804");
}

async fn post(
    app: &TestApp,
    path: &str,
    token: &str,
    body: Value,
) -> Result<reqwest::Response, nudgescribe_e2e::Error> {
    Ok(app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?)
}

async fn mfa_login(app: &TestApp, password: &str) -> Result<String, nudgescribe_e2e::Error> {
    let step: Value = app
        .post_json(
            "/v1/auth/login",
            &json!({"email": "ada@example.com", "password": password}),
        )
        .await?
        .json()
        .await?;
    assert_eq!(step["mfa_required"], true, "{step}");
    assert!(
        step.get("access_token").is_none(),
        "no tokens before the second factor"
    );
    assert_eq!(step["expires_in"], 300);
    Ok(step["mfa_token"].as_str().ok_or("mfa_token")?.to_owned())
}

#[tokio::test]
async fn totp_guards_sign_in_and_no_code_works_twice() -> TestResult {
    let app = spawn_app_with(|settings| settings.rate_limits.mfa_per_user_per_minute = 100).await?;
    let signed = app.signup("ada@example.com").await?;
    let tokens = app.login("ada@example.com", &signed.password).await?;
    let token = tokens["access_token"].as_str().ok_or("token")?.to_owned();

    let setup: Value = post(&app, "/v1/me/mfa/totp/setup", &token, json!({}))
        .await?
        .json()
        .await?;
    let url = setup["otpauth_url"].as_str().ok_or("url")?;
    assert!(
        url.starts_with("otpauth://totp/") && url.contains("issuer=NudgeScribe"),
        "{url}"
    );
    let secret = base32(setup["secret"].as_str().ok_or("secret")?);
    assert_eq!(secret.len(), 20, "160-bit secret");

    let wrong = post(
        &app,
        "/v1/me/mfa/totp/activate",
        &token,
        json!({"code": "000000"}),
    )
    .await?;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    // One instant for the whole test, so that a step boundary passing mid-test changes nothing.
    let t0 = now();
    let activated: Value = post(
        &app,
        "/v1/me/mfa/totp/activate",
        &token,
        json!({"code": totp(&secret, t0)}),
    )
    .await?
    .json()
    .await?;
    let recovery: Vec<String> = activated["recovery_codes"]
        .as_array()
        .ok_or("recovery codes")?
        .iter()
        .filter_map(|c| c.as_str().map(str::to_owned))
        .collect();
    assert_eq!(recovery.len(), 10);
    let me: Value = app.get_authed("/v1/me", &token).await?.json().await?;
    assert_eq!(me["mfa_enabled"], true);

    // The code used for activation cannot sign in (no replay) ...
    let mfa_token = mfa_login(&app, &signed.password).await?;
    let replay = app
        .post_json(
            "/v1/auth/login/mfa",
            &json!({"mfa_token": mfa_token, "code": totp(&secret, t0)}),
        )
        .await?;
    expect_error(replay, StatusCode::UNAUTHORIZED, "invalid_code").await?;
    // ... the next step's code can, once.
    let next = totp(&secret, t0 + 30);
    let done = app
        .post_json(
            "/v1/auth/login/mfa",
            &json!({"mfa_token": mfa_token, "code": next}),
        )
        .await?;
    assert_eq!(done.status(), StatusCode::OK);
    let signed_in: Value = done.json().await?;
    assert!(signed_in["access_token"].is_string());
    let mfa_token = mfa_login(&app, &signed.password).await?;
    let again = app
        .post_json(
            "/v1/auth/login/mfa",
            &json!({"mfa_token": mfa_token, "code": next}),
        )
        .await?;
    expect_error(again, StatusCode::UNAUTHORIZED, "invalid_code").await?;

    // A recovery code works once.
    let mfa_token = mfa_login(&app, &signed.password).await?;
    let by_recovery = app
        .post_json(
            "/v1/auth/login/mfa",
            &json!({"mfa_token": mfa_token, "code": recovery[0]}),
        )
        .await?;
    assert_eq!(by_recovery.status(), StatusCode::OK);
    let mfa_token = mfa_login(&app, &signed.password).await?;
    let reused = app
        .post_json(
            "/v1/auth/login/mfa",
            &json!({"mfa_token": mfa_token, "code": recovery[0]}),
        )
        .await?;
    expect_error(reused, StatusCode::UNAUTHORIZED, "invalid_code").await?;

    // An access token is no MFA token.
    let forged = app
        .post_json(
            "/v1/auth/login/mfa",
            &json!({"mfa_token": token, "code": recovery[1]}),
        )
        .await?;
    expect_error(forged, StatusCode::UNAUTHORIZED, "invalid_credentials").await?;

    // Turning it off needs a code; then a password alone signs in again.
    let off = app
        .client
        .delete(app.url("/v1/me/mfa/totp"))
        .bearer_auth(&token)
        .json(&json!({"code": recovery[2]}))
        .send()
        .await?;
    assert_eq!(off.status(), StatusCode::NO_CONTENT);
    app.login("ada@example.com", &signed.password).await?;
    let events = app.audit_events().await?;
    assert!(
        events.iter().any(|e| e.0 == "mfa_enabled") && events.iter().any(|e| e.0 == "mfa_failed")
    );
    Ok(())
}

#[tokio::test]
async fn mfa_codes_are_limited_to_three_a_minute_per_user() -> TestResult {
    let app = spawn_app_with(|_| {}).await?;
    let signed = app.signup("ada@example.com").await?;
    let tokens = app.login("ada@example.com", &signed.password).await?;
    let token = tokens["access_token"].as_str().ok_or("token")?.to_owned();
    let setup: Value = post(&app, "/v1/me/mfa/totp/setup", &token, json!({}))
        .await?
        .json()
        .await?;
    let secret = base32(setup["secret"].as_str().ok_or("secret")?);
    let t0 = now();
    post(
        &app,
        "/v1/me/mfa/totp/activate",
        &token,
        json!({"code": totp(&secret, t0)}),
    )
    .await?;
    nudgescribe_e2e::early_in_a_minute().await;
    let mfa_token = mfa_login(&app, &signed.password).await?;
    for _ in 0..3 {
        let wrong = app
            .post_json(
                "/v1/auth/login/mfa",
                &json!({"mfa_token": mfa_token, "code": "000000"}),
            )
            .await?;
        expect_error(wrong, StatusCode::UNAUTHORIZED, "invalid_code").await?;
    }
    let limited = app
        .post_json(
            "/v1/auth/login/mfa",
            &json!({"mfa_token": mfa_token, "code": totp(&secret, t0 + 30)}),
        )
        .await?;
    expect_error(limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await?;
    Ok(())
}
