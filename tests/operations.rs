//! Health, metrics, the OpenAPI document and the interactive docs; error shape for unknown routes.

use nudgescribe_e2e::{TestResult, expect_error, spawn_app};
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn health_endpoints_answer() -> TestResult {
    let app = spawn_app().await?;
    let live: Value = app
        .client
        .get(app.url("/health/live"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(live["status"], "ok");
    let ready = app.client.get(app.url("/health/ready")).send().await?;
    assert_eq!(ready.status(), StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn metrics_are_prometheus_text() -> TestResult {
    let app = spawn_app().await?;
    app.client.get(app.url("/health/live")).send().await?;
    let response = app.client.get(app.url("/metrics")).send().await?;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await?;
    assert!(text.contains("http_requests_total"), "{text}");
    assert!(text.contains("route=\"/health/live\""), "{text}");
    Ok(())
}

#[tokio::test]
async fn the_openapi_document_lists_every_endpoint() -> TestResult {
    let app = spawn_app().await?;
    let doc: Value = app
        .client
        .get(app.url("/v1/openapi.json"))
        .send()
        .await?
        .json()
        .await?;
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    let paths = doc["paths"].as_object().ok_or("paths")?;
    for (path, method) in [
        ("/v1/signup", "post"),
        ("/v1/auth/login", "post"),
        ("/v1/me", "get"),
        ("/.well-known/jwks.json", "get"),
        ("/health/live", "get"),
        ("/health/ready", "get"),
        ("/metrics", "get"),
        ("/v1/auth", "post"),
        ("/v1/auth", "get"),
        ("/v1/auth", "trace"),
        ("/v1/auth/refresh", "post"),
        ("/v1/auth/token", "get"),
        ("/v1/auth/logout", "post"),
        ("/v1/auth/keys", "get"),
        ("/v1/auth/keys", "post"),
        ("/v1/auth/keys/{key_id}", "delete"),
        ("/v1/users", "get"),
        ("/v1/users/{user_id}/roles", "put"),
        ("/v1/users/{user_id}", "delete"),
        ("/v1/users", "post"),
        ("/v1/invitations/accept", "post"),
        ("/v1/me/password", "post"),
        ("/v1/auth/login/mfa", "post"),
        ("/v1/me/mfa/totp/setup", "post"),
        ("/v1/me/mfa/totp/activate", "post"),
        ("/v1/me/mfa/totp", "delete"),
        ("/v1/auth/password-reset", "post"),
        ("/v1/auth/password-reset/confirm", "post"),
        ("/v1/audit-events", "get"),
        ("/v1/workspaces", "get"),
        ("/v1/workspaces", "post"),
        ("/v1/workspaces/{workspace_id}", "get"),
        ("/v1/workspaces/{workspace_id}", "patch"),
        ("/v1/workspaces/{workspace_id}", "delete"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path}"
        );
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    Ok(())
}

#[tokio::test]
async fn the_docs_are_served_from_the_binary() -> TestResult {
    let app = spawn_app().await?;
    let page = app.client.get(app.url("/docs/")).send().await?;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await?;
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(!html.contains("https://"), "no CDN: {html}");
    let bundle = app
        .client
        .get(app.url("/docs/swagger-ui-bundle.js"))
        .send()
        .await?;
    assert_eq!(bundle.status(), StatusCode::OK);
    let config = app
        .client
        .get(app.url("/docs/swagger-initializer.js"))
        .send()
        .await?
        .text()
        .await?;
    assert!(config.contains("/v1/openapi.json"), "{config}");
    Ok(())
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json_errors() -> TestResult {
    let app = spawn_app().await?;
    let missing = app.client.get(app.url("/v1/nothing-here")).send().await?;
    expect_error(missing, StatusCode::NOT_FOUND, "not_found").await?;
    let wrong_method = app.client.delete(app.url("/v1/me")).send().await?;
    let status = wrong_method.status();
    assert!(
        status == StatusCode::METHOD_NOT_ALLOWED || status == StatusCode::NOT_FOUND,
        "{status}"
    );
    Ok(())
}

#[tokio::test]
async fn a_callers_request_id_is_echoed() -> TestResult {
    let app = spawn_app().await?;
    let response = app
        .client
        .get(app.url("/v1/me"))
        .header("x-request-id", "trace-abc-123")
        .send()
        .await?;
    let body = expect_error(response, StatusCode::UNAUTHORIZED, "unauthenticated").await?;
    assert_eq!(body["request_id"], "trace-abc-123");
    let injected = app
        .client
        .get(app.url("/health/live"))
        .header("x-request-id", "bad id with spaces")
        .send()
        .await?;
    let id = injected
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_ne!(id, "bad id with spaces");
    assert!(uuid::Uuid::parse_str(&id).is_ok());
    Ok(())
}
