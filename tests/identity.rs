//! The walking slice over HTTP: signup → login → me, exactly as api.md says.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use nudgescribe_e2e::{TestResult, expect_error, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn signup_creates_an_owned_account_with_a_default_workspace() -> TestResult {
    let app = spawn_app().await?;
    let signed = app.signup(" Ada@Example.COM ").await?;
    let body = &signed.body;
    assert_eq!(body["user"]["email"], "ada@example.com");
    assert_eq!(body["user"]["full_name"], "Ada Lovelace");
    assert_eq!(body["user"]["account_id"], body["account"]["id"]);
    assert_eq!(body["workspace"]["account_id"], body["account"]["id"]);
    assert!(body["user"].get("password_hash").is_none());
    let id = body["user"]["id"].as_str().ok_or("user id")?;
    assert_eq!(uuid::Uuid::parse_str(id)?.get_version_num(), 7);
    Ok(())
}

#[tokio::test]
async fn signup_refuses_a_taken_email_with_409() -> TestResult {
    let app = spawn_app().await?;
    app.signup("ada@example.com").await?;
    let again = app
        .post_json(
            "/v1/signup",
            &json!({"email": "ADA@example.com", "password": "another password", "full_name": "A", "account_name": "B"}),
        )
        .await?;
    expect_error(again, StatusCode::CONFLICT, "conflict").await?;
    Ok(())
}

#[tokio::test]
async fn signup_names_every_invalid_field() -> TestResult {
    let app = spawn_app().await?;
    let response = app
        .post_json(
            "/v1/signup",
            &json!({"email": "not-an-email", "password": "x".repeat(73), "full_name": "", "account_name": "Acme"}),
        )
        .await?;
    let body = expect_error(response, StatusCode::BAD_REQUEST, "validation_failed").await?;
    let fields: Vec<&str> = body["fields"]
        .as_array()
        .ok_or("fields")?
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    assert_eq!(fields, ["email", "password", "full_name"]);

    for password in ["1234567", &"x".repeat(73)] {
        let response = app
            .post_json(
                "/v1/signup",
                &json!({"email": "ok@example.com", "password": password, "full_name": "A", "account_name": "B"}),
            )
            .await?;
        expect_error(response, StatusCode::BAD_REQUEST, "validation_failed").await?;
    }
    Ok(())
}

#[tokio::test]
async fn malformed_bodies_are_clear_json_errors() -> TestResult {
    let app = spawn_app().await?;
    let client = &app.client;
    let broken = client
        .post(app.url("/v1/signup"))
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await?;
    let body = expect_error(broken, StatusCode::BAD_REQUEST, "bad_request").await?;
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("not valid JSON"),
        "{body}"
    );

    let wrong_type = app.post_json("/v1/signup", &json!({"email": 5})).await?;
    let body = expect_error(wrong_type, StatusCode::BAD_REQUEST, "bad_request").await?;
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("expected a string"),
        "{body}"
    );

    let missing = app
        .post_json("/v1/auth/login", &json!({"email": "a@example.com"}))
        .await?;
    let body = expect_error(missing, StatusCode::BAD_REQUEST, "bad_request").await?;
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("password"),
        "{body}"
    );

    let form = client
        .post(app.url("/v1/auth/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=a")
        .send()
        .await?;
    expect_error(
        form,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await?;

    let huge = client
        .post(app.url("/v1/auth/login"))
        .header("content-type", "application/json")
        .body(format!(
            "{{\"email\": \"{}\"}}",
            "a".repeat(2 * 1024 * 1024)
        ))
        .send()
        .await?;
    expect_error(huge, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await?;
    Ok(())
}

#[tokio::test]
async fn login_returns_tokens_and_the_user() -> TestResult {
    let app = spawn_app().await?;
    let signed = app.signup("ada@example.com").await?;
    let tokens = app.login("ADA@example.com", &signed.password).await?;
    assert_eq!(tokens["token_type"], "Bearer");
    assert!(tokens["expires_in"].as_i64().is_some_and(|s| s > 0));
    assert!(tokens["refresh_expires_in"].as_i64() > tokens["expires_in"].as_i64());
    assert!(
        tokens["refresh_token"]
            .as_str()
            .is_some_and(|t| t.len() >= 43)
    );
    assert!(
        tokens["scope"]
            .as_str()
            .is_some_and(|s| s.contains("customers:read"))
    );
    assert_eq!(tokens["user"]["id"], signed.body["user"]["id"]);

    // An EdDSA JWT whose kid the JWKS publishes, with the claims api.md lists.
    let access = tokens["access_token"].as_str().ok_or("access token")?;
    let parts: Vec<&str> = access.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0])?)?;
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1])?)?;
    assert_eq!(header["alg"], "EdDSA");
    for claim in [
        "iss", "aud", "sub", "acc", "sid", "scope", "iat", "exp", "jti",
    ] {
        assert!(claims.get(claim).is_some(), "claim {claim} in {claims}");
    }
    assert_eq!(claims["sub"], signed.body["user"]["id"]);
    assert_eq!(claims["acc"], signed.body["account"]["id"]);
    let jwks: Value = app
        .client
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await?
        .json()
        .await?;
    let published = jwks["keys"].as_array().ok_or("keys")?;
    let key = published
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .ok_or("kid published")?;
    assert_eq!(
        (
            key["kty"].as_str(),
            key["crv"].as_str(),
            key["alg"].as_str()
        ),
        (Some("OKP"), Some("Ed25519"), Some("EdDSA"))
    );
    assert!(key.get("d").is_none(), "no private part");
    Ok(())
}

#[tokio::test]
async fn wrong_password_and_unknown_email_look_the_same() -> TestResult {
    let app = spawn_app().await?;
    app.signup("ada@example.com").await?;
    let wrong = app
        .post_json(
            "/v1/auth/login",
            &json!({"email": "ada@example.com", "password": "wrong password"}),
        )
        .await?;
    let wrong = expect_error(wrong, StatusCode::UNAUTHORIZED, "invalid_credentials").await?;
    let unknown = app
        .post_json(
            "/v1/auth/login",
            &json!({"email": "bob@example.com", "password": "correct horse battery"}),
        )
        .await?;
    let unknown = expect_error(unknown, StatusCode::UNAUTHORIZED, "invalid_credentials").await?;
    assert_eq!(wrong["error"], unknown["error"]);
    Ok(())
}

#[tokio::test]
async fn me_shows_the_caller_with_roles_and_permissions() -> TestResult {
    let app = spawn_app().await?;
    let signed = app.signup("ada@example.com").await?;
    let tokens = app.login("ada@example.com", &signed.password).await?;
    let token = tokens["access_token"].as_str().ok_or("token")?;
    let response = app.get_authed("/v1/me", token).await?;
    assert_eq!(response.status(), StatusCode::OK);
    let me: Value = response.json().await?;
    assert_eq!(me["user"]["id"], signed.body["user"]["id"]);
    assert_eq!(me["account"]["id"], signed.body["account"]["id"]);
    assert_eq!(me["account_roles"], json!(["owner"]));
    assert_eq!(me["workspace_roles"], json!([]));
    assert_eq!(me["mfa_enabled"], false);
    let permissions: Vec<&str> = me["permissions"]
        .as_array()
        .ok_or("permissions")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(permissions.contains(&"users:manage") && permissions.contains(&"messages:read"));
    Ok(())
}

#[tokio::test]
async fn me_refuses_missing_malformed_and_forged_tokens() -> TestResult {
    let app = spawn_app().await?;
    let signed = app.signup("ada@example.com").await?;
    let tokens = app.login("ada@example.com", &signed.password).await?;
    let token = tokens["access_token"].as_str().ok_or("token")?;

    let none = app.client.get(app.url("/v1/me")).send().await?;
    assert_eq!(
        none.headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer")
    );
    expect_error(none, StatusCode::UNAUTHORIZED, "unauthenticated").await?;

    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1])?)?;
    claims["acc"] = json!(uuid::Uuid::now_v7());
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );
    let alg_none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"at+jwt"}"#),
        parts[1]
    );
    for bad in [
        "garbage",
        tampered.as_str(),
        alg_none.as_str(),
        tokens["refresh_token"].as_str().unwrap_or_default(),
    ] {
        let response = app.get_authed("/v1/me", bad).await?;
        expect_error(response, StatusCode::UNAUTHORIZED, "unauthenticated").await?;
    }
    Ok(())
}

#[tokio::test]
async fn each_account_sees_only_itself() -> TestResult {
    let app = spawn_app().await?;
    let ada = app.signup("ada@example.com").await?;
    let bob = app.signup("bob@example.com").await?;
    assert_ne!(ada.body["account"]["id"], bob.body["account"]["id"]);
    let tokens = app.login("bob@example.com", &bob.password).await?;
    let me: Value = app
        .get_authed("/v1/me", tokens["access_token"].as_str().ok_or("token")?)
        .await?
        .json()
        .await?;
    assert_eq!(me["account"]["id"], bob.body["account"]["id"]);
    Ok(())
}
