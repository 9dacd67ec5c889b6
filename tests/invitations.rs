//! Invitations end to end: the code travels by real SMTP, is single-use, and expires.

use nudgescribe_e2e::smtp::{SmtpSink, code_in};
use nudgescribe_e2e::{TestApp, TestResult, expect_error, spawn_app_with};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn app_with_smtp(
    invitation_ttl_secs: i64,
) -> Result<(TestApp, SmtpSink), nudgescribe_e2e::Error> {
    let (sink, url) = SmtpSink::start().await?;
    let app = spawn_app_with(|settings| {
        settings.email.smtp_url = Some(url);
        settings.auth.invitation_ttl_secs = invitation_ttl_secs;
    })
    .await?;
    Ok((app, sink))
}

async fn owner_token(app: &TestApp) -> Result<String, nudgescribe_e2e::Error> {
    let signed = app.signup("ada@example.com").await?;
    let tokens = app.login("ada@example.com", &signed.password).await?;
    Ok(tokens["access_token"].as_str().ok_or("token")?.to_owned())
}

async fn invite(
    app: &TestApp,
    token: &str,
    email: &str,
) -> Result<reqwest::Response, nudgescribe_e2e::Error> {
    Ok(app
        .client
        .post(app.url("/v1/users"))
        .bearer_auth(token)
        .json(&json!({"email": email, "full_name": "Bob Builder", "account_roles": ["developer"]}))
        .send()
        .await?)
}

async fn accept(
    app: &TestApp,
    email: &str,
    code: &str,
) -> Result<reqwest::Response, nudgescribe_e2e::Error> {
    app.post_json(
        "/v1/invitations/accept",
        &json!({"email": email, "code": code, "password": "bobs own password"}),
    )
    .await
}

#[tokio::test]
async fn an_invitation_arrives_by_smtp_and_its_code_works_once() -> TestResult {
    let (app, sink) = app_with_smtp(7 * 24 * 3600).await?;
    let token = owner_token(&app).await?;
    let response = invite(&app, &token, "bob@example.com").await?;
    assert_eq!(response.status(), StatusCode::CREATED);
    let member: Value = response.json().await?;
    assert_eq!(member["email"], "bob@example.com");
    assert_eq!(member["account_roles"], json!(["developer"]));

    let email = sink
        .wait_for("bob@example.com")
        .await
        .ok_or("the invitation email arrived")?;
    assert!(
        email.contains("Subject: You are invited to Account of ada@example.com"),
        "{email}"
    );
    let code = code_in(&email).ok_or("a Code: line")?;

    expect_error(
        accept(&app, "bob@example.com", "00000000000000000000").await?,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await?;
    let accepted = accept(&app, "bob@example.com", &code).await?;
    assert_eq!(accepted.status(), StatusCode::OK);
    let tokens: Value = accepted.json().await?;
    assert_eq!(tokens["user"]["id"], member["id"]);
    let me: Value = app
        .get_authed(
            "/v1/me",
            tokens["access_token"].as_str().unwrap_or_default(),
        )
        .await?
        .json()
        .await?;
    assert_eq!(me["account_roles"], json!(["developer"]));

    expect_error(
        accept(&app, "bob@example.com", &code).await?,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await?;
    app.login("bob@example.com", "bobs own password").await?;

    // Before accepting, an invited user cannot sign in at all.
    let second = invite(&app, &token, "carl@example.com").await?;
    assert_eq!(second.status(), StatusCode::CREATED);
    let no_password = app
        .post_json(
            "/v1/auth/login",
            &json!({"email": "carl@example.com", "password": "anything at all"}),
        )
        .await?;
    expect_error(no_password, StatusCode::UNAUTHORIZED, "invalid_credentials").await?;
    Ok(())
}

#[tokio::test]
async fn an_expired_invitation_code_is_refused() -> TestResult {
    let (app, sink) = app_with_smtp(1).await?;
    let token = owner_token(&app).await?;
    assert_eq!(
        invite(&app, &token, "bob@example.com").await?.status(),
        StatusCode::CREATED
    );
    let email = sink
        .wait_for("bob@example.com")
        .await
        .ok_or("the invitation email arrived")?;
    let code = code_in(&email).ok_or("a Code: line")?;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    expect_error(
        accept(&app, "bob@example.com", &code).await?,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn invitations_need_users_manage_and_a_free_email() -> TestResult {
    let (app, sink) = app_with_smtp(3600).await?;
    let token = owner_token(&app).await?;
    expect_error(
        invite(&app, &token, "ada@example.com").await?,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await?;
    expect_error(
        invite(&app, &token, "not-an-email").await?,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    )
    .await?;

    assert_eq!(
        invite(&app, &token, "bob@example.com").await?.status(),
        StatusCode::CREATED
    );
    let email = sink.wait_for("bob@example.com").await.ok_or("email")?;
    let code = code_in(&email).ok_or("code")?;
    let bob: Value = accept(&app, "bob@example.com", &code).await?.json().await?;
    let bob_token = bob["access_token"].as_str().ok_or("token")?;
    expect_error(
        invite(&app, bob_token, "carl@example.com").await?,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await?;
    Ok(())
}
