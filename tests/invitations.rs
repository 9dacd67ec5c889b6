//! Invitations end to end: the code travels by real SMTP, is single-use, and expires.
#![allow(
    clippy::disallowed_methods,
    reason = "tests start from the real time, or wait for it"
)]

use nudgescribe_e2e::smtp::{SmtpSink, code_in};
use nudgescribe_e2e::{TestApp, TestResult, expect_error, spawn_app_with};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn app_with_smtp(
    invitation_ttl_secs: i64,
) -> Result<(TestApp, SmtpSink), nudgescribe_e2e::Error> {
    let (sink, url) = SmtpSink::start().await?;
    let app = spawn_app_with(|settings| {
        settings.email.smtp_url = Some(url.into());
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
        &json!({"email": email, "code": code, "password": "river stone own kettle"}),
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
        email.contains("Subject: You are invited to NudgeScribe"),
        "{email}"
    );
    // The inviting account's name is in the text, defanged: never a link or an address.
    assert!(email.contains("Account of ada[at]example[.]com"), "{email}");
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
    app.login("bob@example.com", "river stone own kettle")
        .await?;

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

#[tokio::test]
async fn removing_a_user_ends_their_sessions_and_a_role_change_applies_at_once() -> TestResult {
    let (app, sink) = app_with_smtp(3600).await?;
    let token = owner_token(&app).await?;
    let created = app
        .client
        .post(app.url("/v1/users"))
        .bearer_auth(&token)
        .json(&json!({"email": "bob@example.com", "full_name": "Bob", "account_roles": ["member"]}))
        .send()
        .await?;
    let bob: Value = created.json().await?;
    let bob_id = bob["id"].as_str().ok_or("id")?.to_owned();
    let email = sink.wait_for("bob@example.com").await.ok_or("email")?;
    let accepted: Value = accept(&app, "bob@example.com", &code_in(&email).ok_or("code")?)
        .await?
        .json()
        .await?;
    let bob_token = accepted["access_token"].as_str().ok_or("token")?.to_owned();

    // A member may not create workspaces; made admin, the same token may, at once.
    let create = |t: String| {
        app.client
            .post(app.url("/v1/workspaces"))
            .bearer_auth(t)
            .json(&json!({"name": "Bob's"}))
            .send()
    };
    expect_error(
        create(bob_token.clone()).await?,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await?;
    app.set_account_roles(&token, &bob_id, &["admin"]).await?;
    assert_eq!(
        create(bob_token.clone()).await?.status(),
        StatusCode::CREATED
    );

    let removed = app
        .client
        .delete(app.url(&format!("/v1/users/{bob_id}")))
        .bearer_auth(&token)
        .send()
        .await?;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    let after = app.get_authed("/v1/me", &bob_token).await?;
    expect_error(after, StatusCode::UNAUTHORIZED, "unauthenticated").await?;
    let refresh = app
        .post_json(
            "/v1/auth/refresh",
            &json!({"refresh_token": accepted["refresh_token"]}),
        )
        .await?;
    expect_error(refresh, StatusCode::UNAUTHORIZED, "unauthenticated").await?;
    let login = app
        .post_json(
            "/v1/auth/login",
            &json!({"email": "bob@example.com", "password": "river stone own kettle"}),
        )
        .await?;
    expect_error(login, StatusCode::UNAUTHORIZED, "invalid_credentials").await?;
    Ok(())
}

#[tokio::test]
async fn a_removed_users_api_key_stops_at_exchange_and_refresh() -> TestResult {
    let (app, sink) = app_with_smtp(3600).await?;
    let token = owner_token(&app).await?;
    let bob: Value = invite(&app, &token, "bob@example.com")
        .await?
        .json()
        .await?;
    let email = sink.wait_for("bob@example.com").await.ok_or("email")?;
    let accepted: Value = accept(&app, "bob@example.com", &code_in(&email).ok_or("code")?)
        .await?
        .json()
        .await?;
    let bob_token = accepted["access_token"].as_str().ok_or("token")?;
    let (_, key) = app.create_key(bob_token, json!({"name": "bob's"})).await?;
    let exchanged: Value = app.exchange(&key, None).await?.json().await?;

    let removed = app
        .client
        .delete(app.url(&format!(
            "/v1/users/{}",
            bob["id"].as_str().unwrap_or_default()
        )))
        .bearer_auth(&token)
        .send()
        .await?;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    expect_error(
        app.exchange(&key, None).await?,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await?;
    let refresh = app
        .post_json(
            "/v1/auth/refresh",
            &json!({"refresh_token": exchanged["refresh_token"]}),
        )
        .await?;
    expect_error(refresh, StatusCode::UNAUTHORIZED, "unauthenticated").await?;
    let access = app
        .get_authed(
            "/v1/me",
            exchanged["access_token"].as_str().unwrap_or_default(),
        )
        .await?;
    expect_error(access, StatusCode::UNAUTHORIZED, "unauthenticated").await?;
    Ok(())
}
