//! The operator commands of the `nudgescribe` binary (`admin …`, `keys rotate`), run as the
//! binary runs them — `app::admin` on the server's settings, against its real database — with
//! their effects checked over HTTP and in the audit trail.

use nudgescribe_e2e::totp::{base32, now, totp};
use nudgescribe_e2e::{TestApp, TestResult, expect_error, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The audit rows of `event` and their details.
async fn details_of(app: &TestApp, event: &str) -> Result<Vec<Value>, nudgescribe_e2e::Error> {
    Ok(app
        .audit_details()
        .await?
        .into_iter()
        .filter(|(name, _)| name == event)
        .map(|(_, detail)| detail)
        .collect())
}

#[tokio::test]
async fn create_account_makes_an_owner_who_signs_in_and_is_audited_as_the_operators() -> TestResult
{
    let app = spawn_app().await?;
    let created = app::admin::create_account(
        &app.settings,
        "ops@example.com",
        "Olive Ops",
        "Operated Ltd",
        app::admin::PasswordSource::Given("correct horse battery".into()),
    )
    .await?;
    assert!(created.generated_password.is_none());
    assert_eq!(created.outcome.workspace.name, "Default");
    let tokens = app
        .login("ops@example.com", "correct horse battery")
        .await?;
    let me: Value = app
        .get_authed("/v1/me", tokens["access_token"].as_str().ok_or("token")?)
        .await?
        .json()
        .await?;
    assert_eq!(me["account_roles"], json!(["owner"]));
    assert_eq!(me["account"]["name"], "Operated Ltd");
    let signups = details_of(&app, "signup").await?;
    assert_eq!(signups, vec![json!({"by": "operator"})]);

    // Without a password given, one is generated, returned once, and works.
    let generated = app::admin::create_account(
        &app.settings,
        "gen@example.com",
        "Gene Rated",
        "Generated Ltd",
        app::admin::PasswordSource::Generated(app::admin::generate_password()?),
    )
    .await?;
    let password = generated.generated_password.ok_or("a generated password")?;
    assert!(password.len() >= 24);
    app.login("gen@example.com", &password).await?;

    // An operator's account gets no weaker password than a self-made one.
    for weak in ["password", "qwertyuiop", "weakling-ops-2024"] {
        let refused = app::admin::create_account(
            &app.settings,
            "weakling@example.com",
            "Weak Ling",
            "Weak Ltd",
            app::admin::PasswordSource::Given(weak.into()),
        )
        .await;
        let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("weak_password"), "{weak}: {message}");
    }

    // A taken email is refused, and nothing else is made.
    let taken = app::admin::create_account(
        &app.settings,
        "ops@example.com",
        "Again",
        "Again Ltd",
        app::admin::PasswordSource::Given("correct horse battery".into()),
    )
    .await;
    assert!(taken.is_err());
    assert_eq!(details_of(&app, "signup").await?.len(), 2);
    Ok(())
}

#[tokio::test]
async fn reset_mfa_lets_the_user_sign_in_with_the_password_and_enrol_again() -> TestResult {
    let app = spawn_app().await?;
    let signed = app.signup("ada@example.com").await?;
    let tokens = app.login("ada@example.com", &signed.password).await?;
    let token = tokens["access_token"].as_str().ok_or("token")?.to_owned();
    let setup: Value = app
        .client
        .post(app.url("/v1/me/mfa/totp/setup"))
        .bearer_auth(&token)
        .send()
        .await?
        .json()
        .await?;
    let secret = base32(setup["secret"].as_str().ok_or("secret")?);
    let activated = app
        .client
        .post(app.url("/v1/me/mfa/totp/activate"))
        .bearer_auth(&token)
        .json(&json!({"code": totp(&secret, now())}))
        .send()
        .await?;
    assert_eq!(activated.status(), StatusCode::OK);
    let step: Value = app
        .post_json(
            "/v1/auth/login",
            &json!({"email": "ada@example.com", "password": signed.password}),
        )
        .await?
        .json()
        .await?;
    assert_eq!(step["mfa_required"], true);

    let (user, outcome) = app::admin::reset_mfa(&app.settings, "ada@example.com").await?;
    assert_eq!(outcome, identity::MfaReset::Cleared);
    assert_eq!(user.email.as_str(), "ada@example.com");
    let tokens = app.login("ada@example.com", &signed.password).await?;
    assert!(
        tokens["access_token"].is_string(),
        "no MFA step any more: {tokens}"
    );
    let token = tokens["access_token"].as_str().ok_or("token")?.to_owned();
    let me: Value = app.get_authed("/v1/me", &token).await?.json().await?;
    assert_eq!(me["mfa_enabled"], false);
    // Enrolling again starts from scratch.
    let again = app
        .client
        .post(app.url("/v1/me/mfa/totp/setup"))
        .bearer_auth(&token)
        .send()
        .await?;
    assert_eq!(again.status(), StatusCode::OK);

    let disabled = details_of(&app, "mfa_disabled").await?;
    assert_eq!(
        disabled,
        vec![json!({"by": "operator", "reason": "reset by an operator"})]
    );
    // Resetting a user without MFA changes nothing, and says so (audited all the same).
    let fresh = app.signup("bob@example.com").await?;
    let (_, outcome) = app::admin::reset_mfa(&app.settings, &fresh.email).await?;
    assert_eq!(outcome, identity::MfaReset::WasOff);
    assert!(
        app::admin::reset_mfa(&app.settings, "nobody@example.com")
            .await
            .is_err()
    );
    Ok(())
}

#[tokio::test]
#[allow(
    clippy::disallowed_methods,
    reason = "the bus's delivery is waited for in real time"
)]
async fn revoke_sessions_ends_every_token_of_the_user_at_once() -> TestResult {
    let app = spawn_app().await?;
    let dev = app.developer("ada@example.com").await?;
    let second = app.login("ada@example.com", &dev.signed.password).await?;
    let (_, key) = app
        .create_key(&dev.access_token, json!({"name": "ci"}))
        .await?;
    let exchanged: Value = app.exchange(&key, None).await?.json().await?;
    let other = app.signup("bob@example.com").await?;
    let bob = app.login("bob@example.com", &other.password).await?;

    let user = app::admin::revoke_sessions(&app.settings, "ada@example.com").await?;
    assert_eq!(user.email.as_str(), "ada@example.com");

    // The operator's process tells the server over the bus: every instance within a second.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    for access in [
        dev.access_token.as_str(),
        second["access_token"].as_str().ok_or("access")?,
        exchanged["access_token"].as_str().ok_or("access")?,
    ] {
        let mut answer = app.get_authed("/v1/me", access).await?;
        while answer.status() == StatusCode::OK && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            answer = app.get_authed("/v1/me", access).await?;
        }
        expect_error(answer, StatusCode::UNAUTHORIZED, "unauthenticated").await?;
    }
    for refresh in [
        second["refresh_token"].as_str().ok_or("refresh")?,
        exchanged["refresh_token"].as_str().ok_or("refresh")?,
    ] {
        expect_error(
            app.post_json("/v1/auth/refresh", &json!({"refresh_token": refresh}))
                .await?,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        )
        .await?;
    }
    // Someone else's session goes on; the user signs in again, and the key still exchanges.
    let bob_me = app
        .get_authed("/v1/me", bob["access_token"].as_str().ok_or("access")?)
        .await?;
    assert_eq!(bob_me.status(), StatusCode::OK);
    app.login("ada@example.com", &dev.signed.password).await?;
    assert_eq!(app.exchange(&key, None).await?.status(), StatusCode::OK);

    assert_eq!(
        details_of(&app, "sessions_revoked").await?,
        vec![json!({"by": "operator"})]
    );
    assert!(
        app::admin::revoke_sessions(&app.settings, "nobody@example.com")
            .await
            .is_err()
    );
    Ok(())
}

#[tokio::test]
async fn keys_rotate_is_audited_with_the_new_key() -> TestResult {
    let app = spawn_app().await?;
    let key =
        app::admin::rotate_signing_key(&app.settings, std::time::Duration::from_secs(5)).await?;
    let rotations = details_of(&app, "signing_key_rotated").await?;
    assert_eq!(rotations.len(), 1);
    assert_eq!(rotations[0]["by"], "operator");
    assert_eq!(rotations[0]["kid"], key.kid.as_str());
    assert_eq!(
        rotations[0]["activates_at"],
        key.activates_at.to_rfc3339().as_str()
    );

    let keys = app::admin::signing_keys(&app.settings).await?;
    assert_eq!(keys.len(), 2);
    assert_eq!(
        details_of(&app, "signing_keys_listed").await?,
        vec![json!({"by": "operator", "keys": "2"})]
    );
    Ok(())
}
