//! The client API over HTTP: API keys, exchange, scopes, refresh rotation and reuse, logout,
//! short-lived tokens, revocation, and JWKS verification by an independent implementation.
#![allow(
    clippy::disallowed_methods,
    reason = "tests start from the real time, or wait for it"
)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use nudgescribe_e2e::{TestApp, TestResult, expect_error, spawn_app, spawn_app_with};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn tokens_of(
    response: reqwest::Response,
) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
    assert_eq!(response.status(), StatusCode::OK);
    Ok(response.json().await?)
}

fn field<'a>(value: &'a Value, name: &str) -> &'a str {
    value[name].as_str().unwrap_or_default()
}

async fn me_status(
    app: &TestApp,
    token: &str,
) -> Result<StatusCode, Box<dyn std::error::Error + Send + Sync>> {
    Ok(app.get_authed("/v1/me", token).await?.status())
}

#[tokio::test]
async fn only_developers_create_keys_and_a_key_is_shown_once() -> TestResult {
    let app = spawn_app().await?;
    let signed = app.signup("ada@example.com").await?;
    let tokens = app.login("ada@example.com", &signed.password).await?;
    let token = field(&tokens, "access_token");
    let refused = app
        .client
        .post(app.url("/v1/auth/keys"))
        .bearer_auth(token)
        .json(&json!({"name": "ci"}))
        .send()
        .await?;
    expect_error(refused, StatusCode::FORBIDDEN, "forbidden").await?;

    let user_id = field(&signed.body["user"], "id").to_owned();
    app.set_account_roles(token, &user_id, &["developer"])
        .await?;
    let response = app
        .client
        .post(app.url("/v1/auth/keys"))
        .bearer_auth(token)
        .json(&json!({"name": "CRM sync", "scopes": ["customers:read"]}))
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await?;
    let key_id = field(&created, "key_id");
    assert!(
        field(&created, "api_key").starts_with(&format!("ns_live_{}", key_id.replace('-', "")))
    );
    assert_eq!(created["scopes"], json!(["customers:read"]));
    assert_eq!(created["name"], "CRM sync");

    let listed: Value = app.get_authed("/v1/auth/keys", token).await?.json().await?;
    let listed = listed.as_array().ok_or("a list")?;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["key_id"], created["key_id"]);
    assert!(listed[0].get("api_key").is_none(), "never the secret again");
    assert!(listed[0]["last_used_at"].is_null());
    Ok(())
}

#[tokio::test]
async fn an_api_key_exchanges_for_working_tokens_and_is_audited() -> TestResult {
    let app = spawn_app().await?;
    let dev = app.developer("ada@example.com").await?;
    let (key_id, key) = app
        .create_key(&dev.access_token, json!({"name": "ci"}))
        .await?;
    let tokens = tokens_of(app.exchange(&key, None).await?).await?;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 14 * 24 * 3600);
    assert_eq!(tokens["refresh_expires_in"], 15 * 24 * 3600);
    assert!(tokens.get("user").is_none());
    assert_eq!(
        me_status(&app, field(&tokens, "access_token")).await?,
        StatusCode::OK
    );

    let listed: Value = app
        .get_authed("/v1/auth/keys", &dev.access_token)
        .await?
        .json()
        .await?;
    assert!(
        listed[0]["last_used_at"].is_string(),
        "exchange marks the key used"
    );

    let mut wrong = key.clone();
    wrong.replace_range(wrong.len() - 4.., "AAAA");
    expect_error(
        app.exchange(&wrong, None).await?,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await?;
    expect_error(
        app.exchange("garbage", None).await?,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await?;

    let events = app.audit_events().await?;
    let exchanges: Vec<_> = events
        .iter()
        .filter(|e| e.0.starts_with("token_exchange"))
        .collect();
    assert_eq!(exchanges.len(), 3, "{events:?}");
    assert!(exchanges[0].1 && exchanges[0].2.as_deref() == Some(key_id.as_str()));
    assert_eq!(exchanges[0].3.as_deref(), Some("127.0.0.1"));
    assert!(
        !exchanges[1].1 && exchanges[1].2.as_deref() == Some(key_id.as_str()),
        "failed, with the key id"
    );
    assert!(!exchanges[2].1 && exchanges[2].2.is_none());
    Ok(())
}

#[tokio::test]
async fn scopes_narrow_and_never_widen() -> TestResult {
    let app = spawn_app().await?;
    let dev = app.developer("ada@example.com").await?;
    let (_, key) = app
        .create_key(&dev.access_token, json!({"name": "ci"}))
        .await?;
    let narrow = tokens_of(app.exchange(&key, Some(&["customers:read"])).await?).await?;
    assert_eq!(narrow["scope"], "customers:read");
    // A key narrowed at creation never exchanges for more.
    let (_, limited) = app
        .create_key(
            &dev.access_token,
            json!({"name": "ro", "scopes": ["customers:read"]}),
        )
        .await?;
    let beyond = app.exchange(&limited, Some(&["customers:write"])).await?;
    expect_error(beyond, StatusCode::FORBIDDEN, "forbidden").await?;
    let unknown = app.exchange(&key, Some(&["root"])).await?;
    expect_error(unknown, StatusCode::BAD_REQUEST, "validation_failed").await?;

    // A key made without scopes covers the content permissions and `users:read`: never the
    // administration its owner could do, never keys.
    let full = tokens_of(app.exchange(&key, None).await?).await?;
    let scope: Vec<&str> = field(&full, "scope").split(' ').collect();
    assert!(
        scope.contains(&"users:read") && scope.contains(&"customers:write"),
        "{full}"
    );
    assert!(
        !scope.contains(&"users:manage") && !scope.contains(&"api_keys:manage"),
        "{full}"
    );
    Ok(())
}

#[tokio::test]
async fn refresh_rotates_by_every_route_and_reuse_revokes_the_session() -> TestResult {
    let app = spawn_app().await?;
    let dev = app.developer("ada@example.com").await?;
    let (_, key) = app
        .create_key(&dev.access_token, json!({"name": "ci"}))
        .await?;
    let first = tokens_of(app.exchange(&key, None).await?).await?;

    let second = tokens_of(
        app.post_json(
            "/v1/auth/refresh",
            &json!({"refresh_token": first["refresh_token"]}),
        )
        .await?,
    )
    .await?;
    let third = tokens_of(
        app.client
            .get(app.url("/v1/auth"))
            .bearer_auth(field(&second, "refresh_token"))
            .send()
            .await?,
    )
    .await?;
    let fourth = tokens_of(
        app.client
            .request(Method::TRACE, app.url("/v1/auth"))
            .header("x-refresh-token", field(&third, "refresh_token"))
            .send()
            .await?,
    )
    .await?;
    let all = [&first, &second, &third, &fourth];
    for (i, a) in all.iter().enumerate() {
        for b in &all[i + 1..] {
            assert_ne!(a["refresh_token"], b["refresh_token"]);
        }
    }
    assert_eq!(
        me_status(&app, field(&fourth, "access_token")).await?,
        StatusCode::OK
    );

    // The second token again: theft. The whole session dies, the newest tokens with it.
    let reused = app
        .post_json(
            "/v1/auth/refresh",
            &json!({"refresh_token": second["refresh_token"]}),
        )
        .await?;
    expect_error(reused, StatusCode::UNAUTHORIZED, "unauthenticated").await?;
    assert_eq!(
        me_status(&app, field(&fourth, "access_token")).await?,
        StatusCode::UNAUTHORIZED
    );
    let latest = app
        .post_json(
            "/v1/auth/refresh",
            &json!({"refresh_token": fourth["refresh_token"]}),
        )
        .await?;
    expect_error(latest, StatusCode::UNAUTHORIZED, "unauthenticated").await?;
    let events = app.audit_events().await?;
    assert!(events.iter().any(|e| e.0 == "refresh_token_reused"));
    Ok(())
}

#[tokio::test]
async fn refresh_and_access_tokens_never_stand_in_for_each_other() -> TestResult {
    let app = spawn_app().await?;
    let signed = app.signup("ada@example.com").await?;
    let tokens = app.login("ada@example.com", &signed.password).await?;
    assert_eq!(
        me_status(&app, field(&tokens, "refresh_token")).await?,
        StatusCode::UNAUTHORIZED
    );
    let as_refresh = app
        .post_json(
            "/v1/auth/refresh",
            &json!({"refresh_token": tokens["access_token"]}),
        )
        .await?;
    expect_error(as_refresh, StatusCode::UNAUTHORIZED, "unauthenticated").await?;
    let no_token = app.client.get(app.url("/v1/auth")).send().await?;
    expect_error(no_token, StatusCode::UNAUTHORIZED, "unauthenticated").await?;
    Ok(())
}

#[tokio::test]
async fn logout_ends_the_session_at_once() -> TestResult {
    let app = spawn_app().await?;
    let signed = app.signup("ada@example.com").await?;
    let tokens = app.login("ada@example.com", &signed.password).await?;
    let token = field(&tokens, "access_token");
    assert_eq!(me_status(&app, token).await?, StatusCode::OK);
    let response = app
        .client
        .post(app.url("/v1/auth/logout"))
        .bearer_auth(token)
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await?;
    assert_eq!(body, json!({"message": "Successfully logged out"}));
    assert_eq!(me_status(&app, token).await?, StatusCode::UNAUTHORIZED);
    let refresh = app
        .post_json(
            "/v1/auth/refresh",
            &json!({"refresh_token": tokens["refresh_token"]}),
        )
        .await?;
    expect_error(refresh, StatusCode::UNAUTHORIZED, "unauthenticated").await?;
    // Another session of the same user is untouched.
    let other = app.login("ada@example.com", &signed.password).await?;
    assert_eq!(
        me_status(&app, field(&other, "access_token")).await?,
        StatusCode::OK
    );
    Ok(())
}

#[tokio::test]
async fn short_lived_tokens_serve_the_content_api_but_not_credential_management() -> TestResult {
    let app = spawn_app().await?;
    let dev = app.developer("ada@example.com").await?;
    let (_, key) = app
        .create_key(&dev.access_token, json!({"name": "frontend"}))
        .await?;
    let get = |query: &'static str| {
        app.client
            .get(app.url(&format!("/v1/auth/token{query}")))
            .header("apiKey", key.as_str())
            .send()
    };
    let body: Value = get("").await?.json().await?;
    let token = field(&body, "token").to_owned();
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD.decode(token.split('.').nth(1).unwrap_or_default())?,
    )?;
    assert_eq!(
        claims["exp"].as_i64().unwrap_or_default() - claims["iat"].as_i64().unwrap_or_default(),
        3600
    );
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap_or_default())?,
    )?;
    assert_eq!(
        (header["alg"].as_str(), header["typ"].as_str()),
        (Some("EdDSA"), Some("st+jwt"))
    );
    assert!(header["kid"].is_string());

    let five: Value = get("?expiryMins=5").await?.json().await?;
    assert_eq!(five["expires_in"], 300);
    assert_eq!(me_status(&app, &token).await?, StatusCode::OK);
    let keys = app.get_authed("/v1/auth/keys", &token).await?;
    expect_error(keys, StatusCode::FORBIDDEN, "credential_not_allowed").await?;
    let as_refresh = app
        .post_json("/v1/auth/refresh", &json!({"refresh_token": token}))
        .await?;
    expect_error(as_refresh, StatusCode::UNAUTHORIZED, "unauthenticated").await?;

    for bad in [
        "?expiryMins=0",
        "?expiryMins=1441",
        "?expiryMins=abc",
        "?expiryMins=-1",
    ] {
        let response = get(bad).await?;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    let no_key = app.client.get(app.url("/v1/auth/token")).send().await?;
    expect_error(no_key, StatusCode::UNAUTHORIZED, "unauthenticated").await?;
    Ok(())
}

#[tokio::test]
async fn a_deleted_key_stops_at_exchange_refresh_and_use() -> TestResult {
    let app = spawn_app().await?;
    let dev = app.developer("ada@example.com").await?;
    let (key_id, key) = app
        .create_key(&dev.access_token, json!({"name": "ci"}))
        .await?;
    let tokens = tokens_of(app.exchange(&key, None).await?).await?;
    let deleted = app
        .client
        .delete(app.url(&format!("/v1/auth/keys/{key_id}")))
        .bearer_auth(&dev.access_token)
        .send()
        .await?;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    expect_error(
        app.exchange(&key, None).await?,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await?;
    assert_eq!(
        me_status(&app, field(&tokens, "access_token")).await?,
        StatusCode::UNAUTHORIZED
    );
    let refresh = app
        .post_json(
            "/v1/auth/refresh",
            &json!({"refresh_token": tokens["refresh_token"]}),
        )
        .await?;
    expect_error(refresh, StatusCode::UNAUTHORIZED, "unauthenticated").await?;

    let again = app
        .client
        .delete(app.url(&format!("/v1/auth/keys/{key_id}")))
        .bearer_auth(&dev.access_token)
        .send()
        .await?;
    let body = expect_error(again, StatusCode::NOT_FOUND, "not_found").await?;
    assert_eq!(body["error"], "API key not found");
    Ok(())
}

#[tokio::test]
async fn another_users_key_cannot_be_deleted() -> TestResult {
    let app = spawn_app().await?;
    let ada = app.developer("ada@example.com").await?;
    let bob = app.developer("bob@example.com").await?;
    let (key_id, key) = app
        .create_key(&ada.access_token, json!({"name": "ci"}))
        .await?;
    let response = app
        .client
        .delete(app.url(&format!("/v1/auth/keys/{key_id}")))
        .bearer_auth(&bob.access_token)
        .send()
        .await?;
    let body = expect_error(response, StatusCode::NOT_FOUND, "not_found").await?;
    assert_eq!(body["error"], "API key not found");
    assert_eq!(app.exchange(&key, None).await?.status(), StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn a_demoted_developers_key_stops_at_exchange_refresh_and_use() -> TestResult {
    let app = spawn_app().await?;
    let dev = app.developer("ada@example.com").await?;
    let (_, key) = app
        .create_key(&dev.access_token, json!({"name": "ci"}))
        .await?;
    let tokens = tokens_of(app.exchange(&key, None).await?).await?;
    app.set_account_roles(&dev.access_token, &dev.user_id, &[])
        .await?;
    expect_error(
        app.exchange(&key, None).await?,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await?;
    assert_eq!(
        me_status(&app, field(&tokens, "access_token")).await?,
        StatusCode::UNAUTHORIZED
    );
    let refresh = app
        .post_json(
            "/v1/auth/refresh",
            &json!({"refresh_token": tokens["refresh_token"]}),
        )
        .await?;
    expect_error(refresh, StatusCode::UNAUTHORIZED, "unauthenticated").await?;
    // The owner's own login session is unaffected.
    assert_eq!(me_status(&app, &dev.access_token).await?, StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn the_jwks_verifies_tokens_with_an_independent_implementation() -> TestResult {
    let app = spawn_app().await?;
    let signed = app.signup("ada@example.com").await?;
    let tokens = app.login("ada@example.com", &signed.password).await?;
    let token = field(&tokens, "access_token");
    let jwks: Value = app
        .client
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await?
        .json()
        .await?;

    let parts: Vec<&str> = token.split('.').collect();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0])?)?;
    let jwk = jwks["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["kid"] == header["kid"]))
        .ok_or("the kid is published")?;
    assert_eq!(
        (
            jwk["kty"].as_str(),
            jwk["crv"].as_str(),
            jwk["use"].as_str()
        ),
        (Some("OKP"), Some("Ed25519"), Some("sig"))
    );
    let x: [u8; 32] = URL_SAFE_NO_PAD
        .decode(field(jwk, "x"))?
        .try_into()
        .map_err(|_| "32-byte key")?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(&x)?;
    let signature = ed25519_dalek::Signature::from_slice(&URL_SAFE_NO_PAD.decode(parts[2])?)?;
    key.verify_strict(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)?;

    let mut forged = URL_SAFE_NO_PAD.decode(parts[1])?;
    forged.push(b' ');
    let forged = format!("{}.{}", parts[0], URL_SAFE_NO_PAD.encode(forged));
    assert!(key.verify_strict(forged.as_bytes(), &signature).is_err());
    Ok(())
}

#[tokio::test]
async fn client_authentication_is_rate_limited_with_retry_after() -> TestResult {
    let app = spawn_app_with(|settings| {
        settings.rate_limits.client_auth_per_ip_per_minute = 3;
    })
    .await?;
    let dev = app.developer("ada@example.com").await?;
    let (_, key) = app
        .create_key(&dev.access_token, json!({"name": "ci"}))
        .await?;
    nudgescribe_e2e::early_in_a_minute().await;
    for _ in 0..3 {
        assert_ne!(
            app.exchange(&key, None).await?.status(),
            StatusCode::TOO_MANY_REQUESTS
        );
    }
    let limited = app.exchange(&key, None).await?;
    let retry_after: u64 = limited
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or("Retry-After")?;
    assert!((1..=60).contains(&retry_after));
    expect_error(limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await?;
    let short = app
        .client
        .get(app.url("/v1/auth/token"))
        .header("apiKey", key.as_str())
        .send()
        .await?;
    assert_eq!(
        short.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the same budget covers /v1/auth/token"
    );
    Ok(())
}

fn kid_of(token: &str) -> Option<String> {
    let header = URL_SAFE_NO_PAD.decode(token.split('.').next()?).ok()?;
    let header: Value = serde_json::from_slice(&header).ok()?;
    header["kid"].as_str().map(str::to_owned)
}

#[tokio::test]
async fn a_key_rotation_takes_over_without_downtime() -> TestResult {
    let app = spawn_app().await?;
    let signed = app.signup("ada@example.com").await?;
    let before = app.login("ada@example.com", &signed.password).await?;
    let old_kid = kid_of(field(&before, "access_token")).ok_or("kid")?;

    let rotated =
        app::admin::rotate_signing_key(&app.settings, std::time::Duration::from_secs(3)).await?;
    // The running server hears of the new key and publishes it before signing with it.
    let started = std::time::Instant::now();
    loop {
        let jwks: Value = app
            .client
            .get(app.url("/.well-known/jwks.json"))
            .send()
            .await?
            .json()
            .await?;
        if jwks["keys"]
            .as_array()
            .is_some_and(|k| k.iter().any(|k| k["kid"] == rotated.kid.as_str()))
        {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "the new key was not published"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let pending = app.login("ada@example.com", &signed.password).await?;
    assert_eq!(
        kid_of(field(&pending, "access_token")),
        Some(old_kid.clone()),
        "not before activation"
    );

    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    let after = app.login("ada@example.com", &signed.password).await?;
    assert_eq!(
        kid_of(field(&after, "access_token")),
        Some(rotated.kid.clone())
    );
    // Tokens of both keys work: nobody was logged out by the rotation.
    assert_eq!(
        me_status(&app, field(&before, "access_token")).await?,
        StatusCode::OK
    );
    assert_eq!(
        me_status(&app, field(&after, "access_token")).await?,
        StatusCode::OK
    );
    let listed = app::admin::describe(
        &app::admin::signing_keys(&app.settings).await?,
        chrono::Utc::now(),
    );
    assert!(
        listed
            .iter()
            .any(|l| l.starts_with(&rotated.kid) && l.contains("signing")),
        "{listed:?}"
    );
    assert!(
        listed
            .iter()
            .any(|l| l.starts_with(&old_kid) && l.contains("verifying")),
        "{listed:?}"
    );
    Ok(())
}
