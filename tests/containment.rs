//! Credential containment over HTTP (issue 15): each test is an attack that worked against the
//! old server — a stolen API key or frontend token reaching the owner's own credentials or the
//! account's administration, a demoted developer's key coming back to life, an MFA token used
//! twice, sessions that never end, a key id locked out by strangers, weak passwords — and
//! checks the contract of /tmp/spec/containment.md instead.
#![allow(
    clippy::disallowed_methods,
    reason = "tests start from the real time, or wait for it"
)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::future::join_all;
use nudgescribe_e2e::smtp::{SmtpSink, code_in};
use nudgescribe_e2e::totp::{base32, now, totp};
use nudgescribe_e2e::{Error, TestApp, TestResult, expect_error, spawn_app, spawn_app_with};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

const NOT_ALLOWED: &str = "credential_not_allowed";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn text(value: &Value, name: &str) -> Result<String, Error> {
    Ok(value[name]
        .as_str()
        .ok_or_else(|| format!("no string `{name}` in {value}"))?
        .to_owned())
}

async fn post(app: &TestApp, path: &str, token: &str, body: &Value) -> Result<Response, Error> {
    Ok(app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await?)
}

async fn put(app: &TestApp, path: &str, token: &str, body: &Value) -> Result<Response, Error> {
    Ok(app
        .client
        .put(app.url(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await?)
}

async fn delete(app: &TestApp, path: &str, token: &str) -> Result<Response, Error> {
    Ok(app
        .client
        .delete(app.url(path))
        .bearer_auth(token)
        .send()
        .await?)
}

async fn delete_with(
    app: &TestApp,
    path: &str,
    token: &str,
    body: &Value,
) -> Result<Response, Error> {
    Ok(app
        .client
        .delete(app.url(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await?)
}

async fn me_status(app: &TestApp, token: &str) -> Result<StatusCode, Error> {
    Ok(app.get_authed("/v1/me", token).await?.status())
}

/// The body of a 200 answer (panics with the body otherwise).
async fn ok_json(response: Response) -> Result<Value, Error> {
    let status = response.status();
    let body = response.text().await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    Ok(serde_json::from_str(&body)?)
}

/// `POST /v1/auth` with a key; the token response.
async fn key_session(app: &TestApp, api_key: &str) -> Result<Value, Error> {
    ok_json(app.exchange(api_key, None).await?).await
}

/// `GET /v1/auth/token` with a key; the short-lived token.
async fn short_lived(app: &TestApp, api_key: &str) -> Result<String, Error> {
    let response = app
        .client
        .get(app.url("/v1/auth/token"))
        .header("apiKey", api_key)
        .send()
        .await?;
    text(&ok_json(response).await?, "token")
}

async fn refresh(app: &TestApp, refresh_token: &str) -> Result<Response, Error> {
    app.post_json("/v1/auth/refresh", &json!({"refresh_token": refresh_token}))
        .await
}

/// Rate limits count in one-minute windows aligned to the clock: waits (at most `needed_secs`)
/// until at least `needed_secs` of the current window remain.
async fn with_a_window_of(needed_secs: u64) {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let into_minute = since_epoch.as_millis() % 60_000;
    let latest = u128::from(60_u64.saturating_sub(needed_secs)) * 1000;
    if into_minute > latest {
        let wait = u64::try_from(60_000 - into_minute).unwrap_or(0) + 100;
        tokio::time::sleep(Duration::from_millis(wait)).await;
    }
}

/// An app whose emails go to an SMTP sink.
async fn app_with_smtp(
    adjust: impl FnOnce(&mut app::Settings),
) -> Result<(TestApp, SmtpSink), Error> {
    let (sink, url) = SmtpSink::start().await?;
    let app = spawn_app_with(|settings| {
        settings.email.smtp_url = Some(url.into());
        adjust(settings);
    })
    .await?;
    Ok((app, sink))
}

/// An invitation sent by `inviter`; returns the invitee's user id and the emailed code.
async fn invite(
    app: &TestApp,
    sink: &SmtpSink,
    inviter: &str,
    email: &str,
    account_roles: &[&str],
) -> Result<(String, String), Error> {
    let response = post(
        app,
        "/v1/users",
        inviter,
        &json!({"email": email, "full_name": "Invited Person", "account_roles": account_roles}),
    )
    .await?;
    let status = response.status();
    let body = response.text().await?;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let member: Value = serde_json::from_str(&body)?;
    let message = sink
        .wait_for(&format!("To: {email}"))
        .await
        .ok_or("the invitation email arrived")?;
    Ok((
        text(&member, "id")?,
        code_in(&message).ok_or("a Code: line")?,
    ))
}

/// Invites and accepts (with a strong password); returns the user id and a human access token.
async fn member(
    app: &TestApp,
    sink: &SmtpSink,
    inviter: &str,
    email: &str,
    account_roles: &[&str],
) -> Result<(String, String), Error> {
    let (id, code) = invite(app, sink, inviter, email, account_roles).await?;
    let accepted = app
        .post_json(
            "/v1/invitations/accept",
            &json!({"email": email, "code": code, "password": "violet tram at midnight"}),
        )
        .await?;
    let tokens = ok_json(accepted).await?;
    Ok((id, text(&tokens, "access_token")?))
}

/// Sets up and activates TOTP for the caller; returns the secret, the instant whose code was
/// used, and the recovery codes.
async fn enable_totp(app: &TestApp, token: &str) -> Result<(Vec<u8>, u64, Vec<String>), Error> {
    let setup = ok_json(post(app, "/v1/me/mfa/totp/setup", token, &json!({})).await?).await?;
    let secret = base32(&text(&setup, "secret")?);
    let t0 = now();
    let activated = ok_json(
        post(
            app,
            "/v1/me/mfa/totp/activate",
            token,
            &json!({"code": totp(&secret, t0)}),
        )
        .await?,
    )
    .await?;
    let recovery: Vec<String> = activated["recovery_codes"]
        .as_array()
        .ok_or("recovery codes")?
        .iter()
        .filter_map(|c| c.as_str().map(str::to_owned))
        .collect();
    assert_eq!(recovery.len(), 10);
    Ok((secret, t0, recovery))
}

/// The first sign-in step with MFA on; returns the mfa_token.
async fn mfa_step(app: &TestApp, email: &str, password: &str) -> Result<String, Error> {
    let step = ok_json(
        app.post_json(
            "/v1/auth/login",
            &json!({"email": email, "password": password}),
        )
        .await?,
    )
    .await?;
    assert_eq!(step["mfa_required"], true, "{step}");
    text(&step, "mfa_token")
}

fn validation_fields(body: &Value) -> Vec<String> {
    body["fields"]
        .as_array()
        .map(|fields| {
            fields
                .iter()
                .filter_map(|f| f["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// 1. A key session cannot enrol MFA on its owner's account
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_key_session_cannot_enrol_totp_on_its_owners_account() -> TestResult {
    let app = spawn_app_with(|s| s.rate_limits.mfa_per_user_per_minute = 100).await?;
    let owner = app.developer("ada@example.com").await?;
    let (_, key) = app
        .create_key(
            &owner.access_token,
            json!({"name": "crm", "scopes": ["customers:read"]}),
        )
        .await?;
    let stolen = key_session(&app, &key).await?;
    let token = text(&stolen, "access_token")?;
    assert_eq!(me_status(&app, &token).await?, StatusCode::OK);

    // The attack: set up TOTP with the stolen token, activate it with the attacker's code.
    let setup = post(&app, "/v1/me/mfa/totp/setup", &token, &json!({})).await?;
    expect_error(setup, StatusCode::FORBIDDEN, NOT_ALLOWED).await?;
    // Even a valid code (of a secret the owner set up) does not let the key session activate.
    let human_setup = ok_json(
        post(
            &app,
            "/v1/me/mfa/totp/setup",
            &owner.access_token,
            &json!({}),
        )
        .await?,
    )
    .await?;
    let secret = base32(&text(&human_setup, "secret")?);
    let activate = post(
        &app,
        "/v1/me/mfa/totp/activate",
        &token,
        &json!({"code": totp(&secret, now())}),
    )
    .await?;
    expect_error(activate, StatusCode::FORBIDDEN, NOT_ALLOWED).await?;
    let disable = delete_with(
        &app,
        "/v1/me/mfa/totp",
        &token,
        &json!({"code": totp(&secret, now())}),
    )
    .await?;
    expect_error(disable, StatusCode::FORBIDDEN, NOT_ALLOWED).await?;
    // A refresh token as Bearer is no credential at all.
    let as_bearer = post(
        &app,
        "/v1/me/mfa/totp/setup",
        &text(&stolen, "refresh_token")?,
        &json!({}),
    )
    .await?;
    expect_error(as_bearer, StatusCode::UNAUTHORIZED, "unauthenticated").await?;

    // The owner is not locked behind someone else's second factor.
    let me = ok_json(app.get_authed("/v1/me", &owner.access_token).await?).await?;
    assert_eq!(me["mfa_enabled"], false, "{me}");
    let tokens = app.login("ada@example.com", &owner.signed.password).await?;
    assert!(tokens["access_token"].is_string(), "{tokens}");
    assert!(
        tokens.get("mfa_required").is_none_or(|m| m != true),
        "{tokens}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 2. Password changes: human-only, limited per user, counted toward the lockout
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_key_session_cannot_change_its_owners_password() -> TestResult {
    let app = spawn_app().await?;
    let owner = app.developer("ada@example.com").await?;
    let (_, key) = app
        .create_key(
            &owner.access_token,
            json!({"name": "crm", "scopes": ["customers:read"]}),
        )
        .await?;
    let token = text(&key_session(&app, &key).await?, "access_token")?;
    let change = post(
        &app,
        "/v1/me/password",
        &token,
        &json!({"current_password": owner.signed.password, "new_password": "the attacker's own password"}),
    )
    .await?;
    expect_error(change, StatusCode::FORBIDDEN, NOT_ALLOWED).await?;
    // The old password still signs in; the attacker's does not.
    app.login("ada@example.com", &owner.signed.password).await?;
    let theirs = app
        .post_json(
            "/v1/auth/login",
            &json!({"email": "ada@example.com", "password": "the attacker's own password"}),
        )
        .await?;
    expect_error(theirs, StatusCode::UNAUTHORIZED, "invalid_credentials").await?;
    Ok(())
}

#[tokio::test]
async fn guessing_the_current_password_is_limited_per_user() -> TestResult {
    let app = spawn_app().await?;
    let signed = app.signup("ada@example.com").await?;
    let tokens = app.login("ada@example.com", &signed.password).await?;
    let token = text(&tokens, "access_token")?;
    with_a_window_of(6).await;
    for guess in 0..8 {
        let response = post(
            &app,
            "/v1/me/password",
            &token,
            &json!({"current_password": format!("guess number {guess}"), "new_password": "a brand new password"}),
        )
        .await?;
        if guess < 3 {
            let body = expect_error(response, StatusCode::BAD_REQUEST, "validation_failed").await?;
            assert!(
                validation_fields(&body)
                    .iter()
                    .any(|f| f == "current_password"),
                "{body}"
            );
        } else {
            assert!(
                response.headers().get("retry-after").is_some(),
                "guess {guess}: Retry-After"
            );
            expect_error(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await?;
        }
    }
    Ok(())
}

#[tokio::test]
async fn wrong_current_passwords_count_toward_the_lockout() -> TestResult {
    let app = spawn_app_with(|s| s.rate_limits.mfa_per_user_per_minute = 100).await?;
    let signed = app.signup("ada@example.com").await?;
    let tokens = app.login("ada@example.com", &signed.password).await?;
    let token = text(&tokens, "access_token")?;
    for guess in 0..5 {
        let response = post(
            &app,
            "/v1/me/password",
            &token,
            &json!({"current_password": format!("guess number {guess}"), "new_password": "a brand new password"}),
        )
        .await?;
        expect_error(response, StatusCode::BAD_REQUEST, "validation_failed").await?;
    }
    // Five wrong secrets lock the account: the right password no longer signs in ...
    let login = app
        .post_json(
            "/v1/auth/login",
            &json!({"email": "ada@example.com", "password": signed.password}),
        )
        .await?;
    expect_error(login, StatusCode::UNAUTHORIZED, "invalid_credentials").await?;
    // ... and, while locked, a password change (even with the right password) is refused.
    let change = post(
        &app,
        "/v1/me/password",
        &token,
        &json!({"current_password": signed.password, "new_password": "a brand new password"}),
    )
    .await?;
    expect_error(change, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await?;
    let events = app.audit_details().await?;
    assert!(
        events.iter().any(|(event, _)| event == "account_locked"),
        "the lockout is audited: {events:?}"
    );
    Ok(())
}

#[tokio::test]
async fn wrong_codes_at_mfa_activation_are_limited_and_count_toward_the_lockout() -> TestResult {
    // Per-user limit (default 3 a minute): the 4th attempt is refused, even with the right code.
    let app = spawn_app().await?;
    let signed = app.signup("ada@example.com").await?;
    let token = text(
        &app.login("ada@example.com", &signed.password).await?,
        "access_token",
    )?;
    let setup = ok_json(post(&app, "/v1/me/mfa/totp/setup", &token, &json!({})).await?).await?;
    let secret = base32(&text(&setup, "secret")?);
    with_a_window_of(6).await;
    for _ in 0..3 {
        let wrong = post(
            &app,
            "/v1/me/mfa/totp/activate",
            &token,
            &json!({"code": "000000"}),
        )
        .await?;
        expect_error(wrong, StatusCode::UNAUTHORIZED, "invalid_code").await?;
    }
    let limited = post(
        &app,
        "/v1/me/mfa/totp/activate",
        &token,
        &json!({"code": totp(&secret, now())}),
    )
    .await?;
    expect_error(limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await?;

    // With the limit raised, five wrong codes lock the account's sign-in.
    let app = spawn_app_with(|s| s.rate_limits.mfa_per_user_per_minute = 100).await?;
    let signed = app.signup("ada@example.com").await?;
    let token = text(
        &app.login("ada@example.com", &signed.password).await?,
        "access_token",
    )?;
    ok_json(post(&app, "/v1/me/mfa/totp/setup", &token, &json!({})).await?).await?;
    for _ in 0..5 {
        let wrong = post(
            &app,
            "/v1/me/mfa/totp/activate",
            &token,
            &json!({"code": "000000"}),
        )
        .await?;
        expect_error(wrong, StatusCode::UNAUTHORIZED, "invalid_code").await?;
    }
    let login = app
        .post_json(
            "/v1/auth/login",
            &json!({"email": "ada@example.com", "password": signed.password}),
        )
        .await?;
    expect_error(login, StatusCode::UNAUTHORIZED, "invalid_credentials").await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 3. Keys manage no keys; an unscoped key covers content and users:read only
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_key_session_cannot_list_delete_or_mint_keys() -> TestResult {
    let app = spawn_app().await?;
    let owner = app.developer("ada@example.com").await?;
    let (_, key) = app
        .create_key(&owner.access_token, json!({"name": "ci"}))
        .await?;
    let (other_id, other_key) = app
        .create_key(&owner.access_token, json!({"name": "billing"}))
        .await?;
    let token = text(&key_session(&app, &key).await?, "access_token")?;

    let listed = app.get_authed("/v1/auth/keys", &token).await?;
    expect_error(listed, StatusCode::FORBIDDEN, NOT_ALLOWED).await?;
    let deleted = delete(&app, &format!("/v1/auth/keys/{other_id}"), &token).await?;
    expect_error(deleted, StatusCode::FORBIDDEN, NOT_ALLOWED).await?;
    let minted = post(
        &app,
        "/v1/auth/keys",
        &token,
        &json!({"name": "persistence"}),
    )
    .await?;
    expect_error(minted, StatusCode::FORBIDDEN, NOT_ALLOWED).await?;
    let sessions = app.get_authed("/v1/me/sessions", &token).await?;
    expect_error(sessions, StatusCode::FORBIDDEN, NOT_ALLOWED).await?;

    // Nothing changed: the other key still works, and no third key exists.
    key_session(&app, &other_key).await?;
    let keys = ok_json(app.get_authed("/v1/auth/keys", &owner.access_token).await?).await?;
    assert_eq!(keys.as_array().map(Vec::len), Some(2), "{keys}");
    Ok(())
}

#[tokio::test]
async fn an_unscoped_key_covers_content_and_users_read_only() -> TestResult {
    let app = spawn_app().await?;
    let owner = app.developer("ada@example.com").await?;
    let (_, key) = app
        .create_key(&owner.access_token, json!({"name": "ci"}))
        .await?;
    let tokens = key_session(&app, &key).await?;
    let scope: BTreeSet<String> = text(&tokens, "scope")?
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let expected: BTreeSet<String> = [
        "customers:read",
        "customers:write",
        "campaigns:read",
        "campaigns:write",
        "messages:publish",
        "messages:read",
        "users:read",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(scope, expected);
    let token = text(&tokens, "access_token")?;

    let invite = post(
        &app,
        "/v1/users",
        &token,
        &json!({"email": "mallory@example.com", "full_name": "Mallory", "account_roles": ["admin"]}),
    )
    .await?;
    expect_error(invite, StatusCode::FORBIDDEN, "forbidden").await?;
    let users = app.get_authed("/v1/users", &token).await?;
    let users = ok_json(users).await?.to_string();
    assert!(!users.contains("mallory@example.com"), "{users}");
    let minted = post(
        &app,
        "/v1/auth/keys",
        &token,
        &json!({"name": "persistence"}),
    )
    .await?;
    expect_error(minted, StatusCode::FORBIDDEN, NOT_ALLOWED).await?;

    // A key whose scopes name users:manage may use it (its owner may).
    let (_, admin_key) = app
        .create_key(
            &owner.access_token,
            json!({"name": "provisioning", "scopes": ["customers:read", "users:manage"]}),
        )
        .await?;
    let admin_token = text(&key_session(&app, &admin_key).await?, "access_token")?;
    let provisioned = post(
        &app,
        "/v1/users",
        &admin_token,
        &json!({"email": "newhire@example.com", "full_name": "New Hire", "account_roles": ["member"]}),
    )
    .await?;
    let status = provisioned.status();
    assert_eq!(status, StatusCode::CREATED, "{}", provisioned.text().await?);
    // Still no keys of its own.
    let keys = app.get_authed("/v1/auth/keys", &admin_token).await?;
    expect_error(keys, StatusCode::FORBIDDEN, NOT_ALLOWED).await?;
    // Nor a person more powerful than itself: no admin, no developer, no promotion, and the
    // owner's roles out of its reach.
    for roles in [json!(["admin"]), json!(["developer"])] {
        let escalated = post(
            &app,
            "/v1/users",
            &admin_token,
            &json!({"email": "mallory@example.com", "full_name": "Mallory", "account_roles": roles}),
        )
        .await?;
        expect_error(escalated, StatusCode::FORBIDDEN, "forbidden").await?;
    }
    let users = ok_json(app.get_authed("/v1/users", &owner.access_token).await?).await?;
    let hire = users["items"]
        .as_array()
        .and_then(|all| all.iter().find(|u| u["email"] == "newhire@example.com"))
        .and_then(|u| u["id"].as_str())
        .map(str::to_owned);
    let hire = hire.ok_or("the new hire's id")?;
    let promoted = put(
        &app,
        &format!("/v1/users/{hire}/roles"),
        &admin_token,
        &json!({"account_roles": ["admin"], "workspace_roles": []}),
    )
    .await?;
    expect_error(promoted, StatusCode::FORBIDDEN, "forbidden").await?;
    let demoted = put(
        &app,
        &format!("/v1/users/{}/roles", owner.user_id),
        &admin_token,
        &json!({"account_roles": ["member"], "workspace_roles": []}),
    )
    .await?;
    expect_error(demoted, StatusCode::FORBIDDEN, "forbidden").await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 4. A short-lived frontend token reads content and administers nothing
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_short_lived_token_administers_nothing_but_reads_content() -> TestResult {
    let app = spawn_app().await?;
    let owner = app.developer("ada@example.com").await?;
    let workspace = text(&owner.signed.body["workspace"], "id")?;
    let doomed = post(
        &app,
        "/v1/workspaces",
        &owner.access_token,
        &json!({"name": "Doomed"}),
    )
    .await?;
    assert_eq!(doomed.status(), StatusCode::CREATED);
    let doomed = text(&doomed.json().await?, "id")?;
    // Even a key whose scopes name the administrative permissions gives a frontend token none.
    let (_, key) = app
        .create_key(
            &owner.access_token,
            json!({"name": "frontend", "scopes": ["customers:read", "users:manage", "account:manage", "audit:read"]}),
        )
        .await?;
    let token = short_lived(&app, &key).await?;

    let invite = post(
        &app,
        "/v1/users",
        &token,
        &json!({"email": "mallory@example.com", "full_name": "Mallory", "account_roles": ["admin"]}),
    )
    .await?;
    expect_error(invite, StatusCode::FORBIDDEN, NOT_ALLOWED).await?;
    let roles = put(
        &app,
        &format!("/v1/users/{}/roles", owner.user_id),
        &token,
        &json!({"account_roles": ["admin"], "workspace_roles": []}),
    )
    .await?;
    expect_error(roles, StatusCode::FORBIDDEN, NOT_ALLOWED).await?;
    let dropped = delete(&app, &format!("/v1/workspaces/{doomed}"), &token).await?;
    expect_error(dropped, StatusCode::FORBIDDEN, NOT_ALLOWED).await?;
    let audit = app.get_authed("/v1/audit-events", &token).await?;
    expect_error(audit, StatusCode::FORBIDDEN, NOT_ALLOWED).await?;
    let created = post(&app, "/v1/workspaces", &token, &json!({"name": "Theirs"})).await?;
    expect_error(created, StatusCode::FORBIDDEN, NOT_ALLOWED).await?;
    let keys = app.get_authed("/v1/auth/keys", &token).await?;
    expect_error(keys, StatusCode::FORBIDDEN, NOT_ALLOWED).await?;

    // What it is for still works.
    let customers = app
        .get_authed(&format!("/v1/workspaces/{workspace}/customers"), &token)
        .await?;
    assert_eq!(customers.status(), StatusCode::OK);

    // And nothing changed.
    let users = ok_json(app.get_authed("/v1/users", &owner.access_token).await?).await?;
    assert!(
        !users.to_string().contains("mallory@example.com"),
        "{users}"
    );
    let me = ok_json(app.get_authed("/v1/me", &owner.access_token).await?).await?;
    assert!(
        !me["account_roles"].to_string().contains("admin"),
        "roles unchanged: {me}"
    );
    let still = app
        .get_authed(&format!("/v1/workspaces/{doomed}"), &owner.access_token)
        .await?;
    assert_eq!(still.status(), StatusCode::OK);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 5. A demoted developer's keys stay dead after the role comes back
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_demoted_developers_keys_stay_dead_after_the_role_comes_back() -> TestResult {
    let (app, sink) = app_with_smtp(|_| {}).await?;
    let signed = app.signup("ada@example.com").await?;
    let owner = text(
        &app.login("ada@example.com", &signed.password).await?,
        "access_token",
    )?;
    let (bob_id, bob) = member(&app, &sink, &owner, "bob@example.com", &["developer"]).await?;
    let (old_key_id, old_key) = app.create_key(&bob, json!({"name": "ci"})).await?;
    let session = key_session(&app, &old_key).await?;
    let frontend = short_lived(&app, &old_key).await?;
    assert_eq!(
        me_status(&app, &text(&session, "access_token")?).await?,
        StatusCode::OK
    );

    app.set_account_roles(&owner, &bob_id, &["member"]).await?;
    app.set_account_roles(&owner, &bob_id, &["developer"])
        .await?;

    let old_access = app
        .get_authed("/v1/me", &text(&session, "access_token")?)
        .await?;
    expect_error(old_access, StatusCode::UNAUTHORIZED, "unauthenticated").await?;
    let old_refresh = refresh(&app, &text(&session, "refresh_token")?).await?;
    expect_error(old_refresh, StatusCode::UNAUTHORIZED, "unauthenticated").await?;
    assert_eq!(me_status(&app, &frontend).await?, StatusCode::UNAUTHORIZED);
    let again = app.exchange(&old_key, None).await?;
    expect_error(again, StatusCode::UNAUTHORIZED, "unauthenticated").await?;
    let frontend_again = app
        .client
        .get(app.url("/v1/auth/token"))
        .header("apiKey", old_key.as_str())
        .send()
        .await?;
    assert_eq!(frontend_again.status(), StatusCode::UNAUTHORIZED);

    // Bob's own sign-in goes on; the old key is gone from his list; a new key works.
    let listed = ok_json(app.get_authed("/v1/auth/keys", &bob).await?).await?;
    let listed = listed.as_array().ok_or("a list")?;
    assert!(
        listed.iter().all(|k| k["key_id"] != old_key_id.as_str()),
        "{listed:?}"
    );
    let (_, new_key) = app.create_key(&bob, json!({"name": "ci 2"})).await?;
    let fresh = key_session(&app, &new_key).await?;
    assert_eq!(
        me_status(&app, &text(&fresh, "access_token")?).await?,
        StatusCode::OK
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 6. Sessions: an MFA token works once, MFA changes end other sessions, sessions end, and
//    users and owners can see and end them
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_mfa_token_works_once() -> TestResult {
    let app = spawn_app_with(|s| s.rate_limits.mfa_per_user_per_minute = 100).await?;
    let signed = app.signup("ada@example.com").await?;
    let token = text(
        &app.login("ada@example.com", &signed.password).await?,
        "access_token",
    )?;
    let (_, _, recovery) = enable_totp(&app, &token).await?;

    let mfa_token = mfa_step(&app, "ada@example.com", &signed.password).await?;
    // Not a bearer credential.
    let as_bearer = app.get_authed("/v1/me", &mfa_token).await?;
    expect_error(as_bearer, StatusCode::UNAUTHORIZED, "unauthenticated").await?;
    let first = app
        .post_json(
            "/v1/auth/login/mfa",
            &json!({"mfa_token": mfa_token, "code": recovery[0]}),
        )
        .await?;
    let first = ok_json(first).await?;
    assert_eq!(
        me_status(&app, &text(&first, "access_token")?).await?,
        StatusCode::OK
    );
    // Another valid code with the same mfa_token: no second session.
    let second = app
        .post_json(
            "/v1/auth/login/mfa",
            &json!({"mfa_token": mfa_token, "code": recovery[1]}),
        )
        .await?;
    let status = second.status();
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{}", second.text().await?);
    Ok(())
}

#[tokio::test]
async fn turning_mfa_on_or_off_ends_the_users_other_sessions() -> TestResult {
    let app = spawn_app_with(|s| s.rate_limits.mfa_per_user_per_minute = 100).await?;
    let signed = app.signup("ada@example.com").await?;
    let this = app.login("ada@example.com", &signed.password).await?;
    let other = app.login("ada@example.com", &signed.password).await?;
    let token = text(&this, "access_token")?;
    assert_eq!(
        me_status(&app, &text(&other, "access_token")?).await?,
        StatusCode::OK
    );

    let (_, _, recovery) = enable_totp(&app, &token).await?;
    let ended = app
        .get_authed("/v1/me", &text(&other, "access_token")?)
        .await?;
    expect_error(ended, StatusCode::UNAUTHORIZED, "unauthenticated").await?;
    let ended = refresh(&app, &text(&other, "refresh_token")?).await?;
    expect_error(ended, StatusCode::UNAUTHORIZED, "unauthenticated").await?;
    assert_eq!(
        me_status(&app, &token).await?,
        StatusCode::OK,
        "this one goes on"
    );

    // A second session, signed in with the second factor; then MFA off from the first.
    let mfa_token = mfa_step(&app, "ada@example.com", &signed.password).await?;
    let second = ok_json(
        app.post_json(
            "/v1/auth/login/mfa",
            &json!({"mfa_token": mfa_token, "code": recovery[0]}),
        )
        .await?,
    )
    .await?;
    let second_token = text(&second, "access_token")?;
    assert_eq!(me_status(&app, &second_token).await?, StatusCode::OK);
    let off = delete_with(
        &app,
        "/v1/me/mfa/totp",
        &token,
        &json!({"code": recovery[1]}),
    )
    .await?;
    assert_eq!(off.status(), StatusCode::NO_CONTENT);
    let ended = app.get_authed("/v1/me", &second_token).await?;
    expect_error(ended, StatusCode::UNAUTHORIZED, "unauthenticated").await?;
    let ended = refresh(&app, &text(&second, "refresh_token")?).await?;
    expect_error(ended, StatusCode::UNAUTHORIZED, "unauthenticated").await?;
    assert_eq!(
        me_status(&app, &token).await?,
        StatusCode::OK,
        "this one goes on"
    );
    Ok(())
}

#[tokio::test]
async fn refresh_rotation_never_extends_a_session() -> TestResult {
    const SESSION_SECS: f64 = 6.0;
    let app = spawn_app_with(|s| {
        s.auth.refresh_ttl_secs = 6;
        s.auth.access_ttl_secs = 3;
    })
    .await?;
    let signed = app.signup("ada@example.com").await?;
    let mut tokens = app.login("ada@example.com", &signed.password).await?;
    // The session began at the latest when the login answered.
    let began_at_latest = Instant::now();
    assert!(
        tokens["refresh_expires_in"]
            .as_i64()
            .is_some_and(|s| s <= 6),
        "{tokens}"
    );

    for _ in 0..2 {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let asked = Instant::now();
        let next = ok_json(refresh(&app, &text(&tokens, "refresh_token")?).await?).await?;
        // What is left of the session when the server saw the request, at most (one second of
        // rounding allowed).
        let left = SESSION_SECS - asked.duration_since(began_at_latest).as_secs_f64();
        let bound = left.ceil() + 1.0;
        let refresh_left = next["refresh_expires_in"]
            .as_f64()
            .ok_or("refresh_expires_in")?;
        let access_left = next["expires_in"].as_f64().ok_or("expires_in")?;
        assert!(
            refresh_left <= bound,
            "refresh_expires_in {refresh_left} > the session's remaining ~{left:.1}s: {next}"
        );
        assert!(
            access_left <= bound,
            "expires_in {access_left} > the session's remaining ~{left:.1}s: {next}"
        );
        tokens = next;
    }

    // Past the session's end (it began before the login answered), refresh is refused.
    let end = began_at_latest + Duration::from_millis(6_500);
    tokio::time::sleep(end.saturating_duration_since(Instant::now())).await;
    let late = refresh(&app, &text(&tokens, "refresh_token")?).await?;
    expect_error(late, StatusCode::UNAUTHORIZED, "unauthenticated").await?;
    Ok(())
}

#[tokio::test]
async fn a_user_lists_and_ends_their_own_sessions() -> TestResult {
    let app = spawn_app().await?;
    let ada = app.developer("ada@example.com").await?;
    let other = app.login("ada@example.com", &ada.signed.password).await?;
    let other_token = text(&other, "access_token")?;
    let (_, key) = app
        .create_key(&ada.access_token, json!({"name": "ci"}))
        .await?;
    key_session(&app, &key).await?;
    short_lived(&app, &key).await?;

    let listed = ok_json(app.get_authed("/v1/me/sessions", &ada.access_token).await?).await?;
    let sessions = listed.as_array().ok_or("a list")?;
    for session in sessions {
        assert!(session["id"].is_string(), "{session}");
        assert!(session["created_at"].is_string(), "{session}");
        assert!(session["current"].is_boolean(), "{session}");
    }
    let kinds: BTreeSet<&str> = sessions.iter().filter_map(|s| s["kind"].as_str()).collect();
    assert_eq!(
        kinds,
        BTreeSet::from(["api_key", "login", "short_lived"]),
        "{listed}"
    );
    let current: Vec<&Value> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1, "{listed}");
    assert_eq!(current[0]["kind"], "login");
    assert!(
        sessions
            .iter()
            .any(|s| s["kind"] == "api_key" && s["key_name"] == "ci"),
        "{listed}"
    );
    let others: Vec<&Value> = sessions
        .iter()
        .filter(|s| s["kind"] == "login" && s["current"] == false)
        .collect();
    assert_eq!(others.len(), 1, "{listed}");
    let other_id = text(others[0], "id")?;

    // Another account's user cannot end it.
    let eve = app.signup("eve@example.com").await?;
    let eve_token = text(
        &app.login("eve@example.com", &eve.password).await?,
        "access_token",
    )?;
    let foreign = delete(&app, &format!("/v1/me/sessions/{other_id}"), &eve_token).await?;
    expect_error(foreign, StatusCode::NOT_FOUND, "not_found").await?;
    assert_eq!(me_status(&app, &other_token).await?, StatusCode::OK);
    let eve_sessions = ok_json(app.get_authed("/v1/me/sessions", &eve_token).await?).await?;
    assert!(
        !eve_sessions.to_string().contains(&other_id),
        "only the caller's sessions: {eve_sessions}"
    );

    let ended = delete(
        &app,
        &format!("/v1/me/sessions/{other_id}"),
        &ada.access_token,
    )
    .await?;
    assert_eq!(ended.status(), StatusCode::NO_CONTENT);
    let gone = app.get_authed("/v1/me", &other_token).await?;
    expect_error(gone, StatusCode::UNAUTHORIZED, "unauthenticated").await?;
    let gone = refresh(&app, &text(&other, "refresh_token")?).await?;
    expect_error(gone, StatusCode::UNAUTHORIZED, "unauthenticated").await?;
    assert_eq!(me_status(&app, &ada.access_token).await?, StatusCode::OK);

    let again = delete(
        &app,
        &format!("/v1/me/sessions/{other_id}"),
        &ada.access_token,
    )
    .await?;
    expect_error(again, StatusCode::NOT_FOUND, "not_found").await?;
    let unknown = delete(
        &app,
        &format!("/v1/me/sessions/{}", uuid::Uuid::now_v7()),
        &ada.access_token,
    )
    .await?;
    expect_error(unknown, StatusCode::NOT_FOUND, "not_found").await?;
    let listed = ok_json(app.get_authed("/v1/me/sessions", &ada.access_token).await?).await?;
    assert!(!listed.to_string().contains(&other_id), "{listed}");
    Ok(())
}

#[tokio::test]
async fn an_owner_lists_and_revokes_any_key_of_the_account() -> TestResult {
    let (app, sink) = app_with_smtp(|_| {}).await?;
    let signed = app.signup("ada@example.com").await?;
    let owner = text(
        &app.login("ada@example.com", &signed.password).await?,
        "access_token",
    )?;
    let (bob_id, bob) = member(&app, &sink, &owner, "bob@example.com", &["developer"]).await?;
    let (_, carl) = member(&app, &sink, &owner, "carl@example.com", &["member"]).await?;
    let (key_id, key) = app.create_key(&bob, json!({"name": "bob's ci"})).await?;
    let session = key_session(&app, &key).await?;

    let listed = ok_json(app.get_authed("/v1/account/api-keys", &owner).await?).await?;
    let listed = listed.as_array().ok_or("a list")?;
    let found = listed
        .iter()
        .find(|k| k["key_id"] == key_id.as_str())
        .ok_or("bob's key is listed")?;
    assert_eq!(found["user_id"], bob_id.as_str(), "{found}");
    assert_eq!(found["name"], "bob's ci", "{found}");
    assert!(found["created_at"].is_string(), "{found}");
    assert!(found.get("api_key").is_none(), "never the secret: {found}");
    assert!(
        !Value::Array(listed.clone()).to_string().contains(&key),
        "never the secret"
    );

    // Neither a plain member nor a developer administers the account's keys.
    for token in [&carl, &bob] {
        let refused = app.get_authed("/v1/account/api-keys", token).await?;
        expect_error(refused, StatusCode::FORBIDDEN, "forbidden").await?;
        let refused = delete(&app, &format!("/v1/account/api-keys/{key_id}"), token).await?;
        expect_error(refused, StatusCode::FORBIDDEN, "forbidden").await?;
    }
    // Nor does a key session, whatever its scopes.
    let session_token = text(&session, "access_token")?;
    let refused = app
        .get_authed("/v1/account/api-keys", &session_token)
        .await?;
    expect_error(refused, StatusCode::FORBIDDEN, NOT_ALLOWED).await?;
    // Another account's owner cannot see or revoke it.
    let eve = app.signup("eve@example.com").await?;
    let eve_token = text(
        &app.login("eve@example.com", &eve.password).await?,
        "access_token",
    )?;
    let eve_list = ok_json(app.get_authed("/v1/account/api-keys", &eve_token).await?).await?;
    assert!(!eve_list.to_string().contains(&key_id), "{eve_list}");
    let foreign = delete(&app, &format!("/v1/account/api-keys/{key_id}"), &eve_token).await?;
    expect_error(foreign, StatusCode::NOT_FOUND, "not_found").await?;
    assert_eq!(me_status(&app, &session_token).await?, StatusCode::OK);

    let revoked = delete(&app, &format!("/v1/account/api-keys/{key_id}"), &owner).await?;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let dead = app.get_authed("/v1/me", &session_token).await?;
    expect_error(dead, StatusCode::UNAUTHORIZED, "unauthenticated").await?;
    let dead = refresh(&app, &text(&session, "refresh_token")?).await?;
    expect_error(dead, StatusCode::UNAUTHORIZED, "unauthenticated").await?;
    let dead = app.exchange(&key, None).await?;
    expect_error(dead, StatusCode::UNAUTHORIZED, "unauthenticated").await?;
    let again = delete(&app, &format!("/v1/account/api-keys/{key_id}"), &owner).await?;
    expect_error(again, StatusCode::NOT_FOUND, "not_found").await?;
    let listed = ok_json(app.get_authed("/v1/account/api-keys", &owner).await?).await?;
    assert!(!listed.to_string().contains(&key_id), "{listed}");
    let events = app.audit_events().await?;
    assert!(
        events.iter().any(|e| e.0 == "api_key_deleted"),
        "{events:?}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 7. Wrong secrets from one address do not lock a key out everywhere
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn wrong_secrets_from_one_address_do_not_lock_the_key_out_elsewhere() -> TestResult {
    const ATTACKER: &str = "203.0.113.7";
    const GENUINE: &str = "198.51.100.9";
    let app = spawn_app_with(|s| s.server.trusted_proxies = "127.0.0.1".into()).await?;
    let victim = app.developer("ada@example.com").await?;
    let (key_id, key) = app
        .create_key(&victim.access_token, json!({"name": "ci"}))
        .await?;
    // Same key id, wrong secret (43 base64url characters, as the real ones).
    let forged = format!("ns_live_{}_{}", key_id.replace('-', ""), "A".repeat(43));
    assert_eq!(forged.len(), key.len());
    let from = |address: &'static str, api_key: String| {
        app.client
            .post(app.url("/v1/auth"))
            .header("x-forwarded-for", address)
            .json(&json!({"api_key": api_key}))
            .send()
    };

    with_a_window_of(10).await;
    let mut statuses = Vec::with_capacity(305);
    for batch in 0..(305 / 25 + 1) {
        let size = (305 - batch * 25).min(25);
        let answers = join_all((0..size).map(|_| from(ATTACKER, forged.clone()))).await;
        for answer in answers {
            statuses.push(answer?.status());
        }
    }
    assert_eq!(statuses.len(), 305);
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::UNAUTHORIZED || *s == StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(limited > 0, "the attacker's address is limited eventually");
    let attacker_again = from(ATTACKER, forged.clone()).await?;
    assert_eq!(attacker_again.status(), StatusCode::TOO_MANY_REQUESTS);

    // The owner's service, elsewhere, is not locked out of its own key.
    let genuine = from(GENUINE, key.clone()).await?;
    let status = genuine.status();
    assert_eq!(status, StatusCode::OK, "{}", genuine.text().await?);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 8. Weak passwords are refused wherever a password is chosen
// ---------------------------------------------------------------------------------------------

const WEAK_FOR_MARGUERITE: [&str; 6] = [
    "password",
    "12345678",
    "qwertyuiop",
    "iloveyou",
    "marguerite-2024!",
    "2024-MargueRITE!",
];

#[tokio::test]
async fn weak_passwords_are_refused_at_signup() -> TestResult {
    let app = spawn_app().await?;
    for weak in WEAK_FOR_MARGUERITE {
        let response = app
            .post_json(
                "/v1/signup",
                &json!({"email": "marguerite@example.com", "password": weak, "full_name": "Marguerite", "account_name": "Fleurs"}),
            )
            .await?;
        let body = expect_error(response, StatusCode::BAD_REQUEST, "weak_password").await?;
        // (Common words such as "password" may well appear in the message itself.)
        assert!(
            !weak.contains('-') || !body.to_string().contains(weak),
            "the password is not echoed: {body}"
        );
    }
    let strong = app
        .post_json(
            "/v1/signup",
            &json!({"email": "marguerite@example.com", "password": "violet tram at midnight", "full_name": "Marguerite", "account_name": "Fleurs"}),
        )
        .await?;
    assert_eq!(strong.status(), StatusCode::CREATED);
    app.login("marguerite@example.com", "violet tram at midnight")
        .await?;
    // The support's password stays acceptable.
    app.signup("ada@example.com").await?;
    Ok(())
}

#[tokio::test]
async fn weak_passwords_are_refused_at_password_change() -> TestResult {
    let app = spawn_app_with(|s| s.rate_limits.mfa_per_user_per_minute = 100).await?;
    let signed = app.signup("marguerite@example.com").await?;
    let token = text(
        &app.login("marguerite@example.com", &signed.password)
            .await?,
        "access_token",
    )?;
    for weak in WEAK_FOR_MARGUERITE {
        let response = post(
            &app,
            "/v1/me/password",
            &token,
            &json!({"current_password": signed.password, "new_password": weak}),
        )
        .await?;
        expect_error(response, StatusCode::BAD_REQUEST, "weak_password").await?;
    }
    app.login("marguerite@example.com", &signed.password)
        .await?;
    let strong = post(
        &app,
        "/v1/me/password",
        &token,
        &json!({"current_password": signed.password, "new_password": "violet tram at midnight"}),
    )
    .await?;
    assert_eq!(strong.status(), StatusCode::NO_CONTENT);
    app.login("marguerite@example.com", "violet tram at midnight")
        .await?;
    Ok(())
}

#[tokio::test]
async fn weak_passwords_are_refused_at_reset_confirm() -> TestResult {
    let (app, sink) = app_with_smtp(|_| {}).await?;
    app.signup("marguerite@example.com").await?;
    let requested = app
        .post_json(
            "/v1/auth/password-reset",
            &json!({"email": "marguerite@example.com"}),
        )
        .await?;
    assert_eq!(requested.status(), StatusCode::ACCEPTED);
    let email = sink
        .wait_for_all(&["To: marguerite@example.com", "Subject: Reset your"])
        .await
        .ok_or("the reset email")?;
    let code = code_in(&email).ok_or("a Code: line")?;
    let confirm = |password: &str| {
        app.client
            .post(app.url("/v1/auth/password-reset/confirm"))
            .json(
                &json!({"email": "marguerite@example.com", "code": code, "new_password": password}),
            )
            .send()
    };
    for weak in WEAK_FOR_MARGUERITE {
        expect_error(
            confirm(weak).await?,
            StatusCode::BAD_REQUEST,
            "weak_password",
        )
        .await?;
    }
    let strong = confirm("violet tram at midnight").await?;
    assert_eq!(strong.status(), StatusCode::OK);
    app.login("marguerite@example.com", "violet tram at midnight")
        .await?;
    Ok(())
}

#[tokio::test]
async fn weak_passwords_are_refused_at_invitation_accept() -> TestResult {
    let (app, sink) = app_with_smtp(|_| {}).await?;
    let signed = app.signup("ada@example.com").await?;
    let owner = text(
        &app.login("ada@example.com", &signed.password).await?,
        "access_token",
    )?;
    let (_, code) = invite(&app, &sink, &owner, "marguerite@example.com", &["member"]).await?;
    let accept = |password: &str| {
        app.client
            .post(app.url("/v1/invitations/accept"))
            .json(&json!({"email": "marguerite@example.com", "code": code, "password": password}))
            .send()
    };
    for weak in WEAK_FOR_MARGUERITE {
        expect_error(
            accept(weak).await?,
            StatusCode::BAD_REQUEST,
            "weak_password",
        )
        .await?;
    }
    let strong = accept("violet tram at midnight").await?;
    assert_eq!(strong.status(), StatusCode::OK);
    app.login("marguerite@example.com", "violet tram at midnight")
        .await?;
    Ok(())
}
