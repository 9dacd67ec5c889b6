//! The permission matrix: every role (and none, and no token) × every protected endpoint, with
//! the status each must get — from one table. Every operation of the OpenAPI document must
//! have a row here or be listed as public, so a new endpoint without a row fails this test.

use std::collections::BTreeSet;

use nudgescribe_e2e::smtp::{SmtpSink, code_in};
use nudgescribe_e2e::{Error, TestApp, TestResult, spawn_app_with};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Operations anyone may call (their own credentials are checked in their own tests).
const PUBLIC: &[(&str, &str)] = &[
    ("post", "/v1/signup"),
    ("post", "/v1/auth/login"),
    ("post", "/v1/invitations/accept"),
    ("post", "/v1/auth/password-reset"),
    ("post", "/v1/auth/password-reset/confirm"),
    ("post", "/v1/auth/login/mfa"),
    ("post", "/v1/auth"),
    ("get", "/v1/auth"),
    ("trace", "/v1/auth"),
    ("post", "/v1/auth/refresh"),
    ("get", "/v1/auth/token"),
    ("get", "/.well-known/jwks.json"),
    ("get", "/health/live"),
    ("get", "/health/ready"),
    ("get", "/metrics"),
];

/// Who calls: account roles, and a workspace role on the default workspace.
const CALLERS: &[(&str, &[&str], Option<&str>)] = &[
    ("owner", &[], None),
    ("admin", &["admin"], None),
    ("developer", &["developer"], None),
    ("member", &["member"], None),
    ("viewer", &["member"], Some("viewer")),
    ("no role", &[], None),
];

/// (method, OpenAPI path, concrete path, body, expected status per caller in CALLERS order,
/// then without a token). `{ws}` is the default workspace, `{target}` a member to change,
/// `{nobody}` an id that exists nowhere, `{campaign}` a campaign of the default workspace.
type Row = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    [u16; 7],
);
#[rustfmt::skip]
const MATRIX: &[Row] = &[
    ("get", "/v1/me", "/v1/me", None, [200, 200, 200, 200, 200, 200, 401]),
    ("get", "/v1/audit-events", "/v1/audit-events", None, [200, 200, 403, 403, 403, 403, 401]),
    ("post", "/v1/me/mfa/totp/activate", "/v1/me/mfa/totp/activate", Some(r#"{"code": "000000"}"#), [409, 409, 409, 409, 409, 409, 401]),
    ("delete", "/v1/me/mfa/totp", "/v1/me/mfa/totp", Some(r#"{"code": "000000"}"#), [409, 409, 409, 409, 409, 409, 401]),
    ("post", "/v1/me/password", "/v1/me/password", Some(r#"{"current_password": "wrong", "new_password": "whatever123"}"#), [400, 400, 400, 400, 400, 400, 401]),
    ("get", "/v1/users", "/v1/users", None, [200, 200, 200, 403, 403, 403, 401]),
    ("post", "/v1/users", "/v1/users", Some(r#"{"email": "{fresh}", "full_name": "New"}"#), [201, 201, 403, 403, 403, 403, 401]),
    ("put", "/v1/users/{user_id}/roles", "/v1/users/{target}/roles", Some(r#"{"account_roles": ["member"]}"#), [200, 200, 403, 403, 403, 403, 401]),
    ("delete", "/v1/users/{user_id}", "/v1/users/{nobody}", None, [404, 404, 403, 403, 403, 403, 401]),
    ("get", "/v1/workspaces", "/v1/workspaces", None, [200, 200, 200, 200, 200, 200, 401]),
    ("post", "/v1/workspaces", "/v1/workspaces", Some(r#"{"name": "Another"}"#), [201, 201, 403, 403, 403, 403, 401]),
    ("get", "/v1/workspaces/{workspace_id}", "/v1/workspaces/{ws}", None, [200, 200, 404, 404, 200, 404, 401]),
    ("patch", "/v1/workspaces/{workspace_id}", "/v1/workspaces/{ws}", Some(r#"{"name": "Default"}"#), [200, 200, 403, 403, 403, 403, 401]),
    ("delete", "/v1/workspaces/{workspace_id}", "/v1/workspaces/{nobody}", None, [404, 404, 403, 403, 403, 403, 401]),
    ("post", "/v1/auth/keys", "/v1/auth/keys", Some(r#"{"name": "k"}"#), [403, 403, 201, 403, 403, 403, 401]),
    ("get", "/v1/auth/keys", "/v1/auth/keys", None, [200, 200, 200, 200, 200, 200, 401]),
    ("delete", "/v1/auth/keys/{key_id}", "/v1/auth/keys/{nobody}", None, [404, 404, 404, 404, 404, 404, 401]),
    ("post", "/v1/me/mfa/totp/setup", "/v1/me/mfa/totp/setup", None, [200, 200, 200, 200, 200, 200, 401]),
    ("get", "/v1/account/api-keys", "/v1/account/api-keys", None, [200, 200, 403, 403, 403, 403, 401]),
    ("delete", "/v1/account/api-keys/{key_id}", "/v1/account/api-keys/{nobody}", None, [404, 404, 403, 403, 403, 403, 401]),
    ("get", "/v1/me/sessions", "/v1/me/sessions", None, [200, 200, 200, 200, 200, 200, 401]),
    ("post", "/v1/me/email/verify", "/v1/me/email/verify", Some(r#"{"code": "not-the-code"}"#), [400, 400, 400, 400, 400, 400, 401]),
    ("post", "/v1/me/email/verify/resend", "/v1/me/email/verify/resend", None, [202, 202, 202, 202, 202, 202, 401]),
    ("delete", "/v1/me/sessions/{session_id}", "/v1/me/sessions/{nobody}", None, [404, 404, 404, 404, 404, 404, 401]),
    ("post", "/v1/workspaces/{workspace_id}/campaigns", "/v1/workspaces/{ws}/campaigns", Some(r#"{"name": "C", "channel": "email", "group_ids": []}"#), [201, 201, 404, 404, 403, 404, 401]),
    ("get", "/v1/workspaces/{workspace_id}/campaigns", "/v1/workspaces/{ws}/campaigns", None, [200, 200, 404, 404, 200, 404, 401]),
    ("get", "/v1/workspaces/{workspace_id}/campaigns/pages", "/v1/workspaces/{ws}/campaigns/pages", None, [200, 200, 404, 404, 200, 404, 401]),
    ("get", "/v1/workspaces/{workspace_id}/campaigns/{campaign_id}", "/v1/workspaces/{ws}/campaigns/{campaign}", None, [200, 200, 404, 404, 200, 404, 401]),
    ("patch", "/v1/workspaces/{workspace_id}/campaigns/{campaign_id}", "/v1/workspaces/{ws}/campaigns/{campaign}", Some(r#"{"name": "C"}"#), [200, 200, 404, 404, 403, 404, 401]),
    ("delete", "/v1/workspaces/{workspace_id}/campaigns/{campaign_id}", "/v1/workspaces/{ws}/campaigns/{nobody}", None, [404, 404, 404, 404, 403, 404, 401]),
    ("post", "/v1/workspaces/{workspace_id}/campaigns/{campaign_id}/messages/publish", "/v1/workspaces/{ws}/campaigns/{campaign}/messages/publish", Some(r#"{"messages": []}"#), [400, 400, 404, 404, 403, 404, 401]),
    ("post", "/v1/workspaces/{workspace_id}/campaigns/{campaign_id}/messages/retrieve", "/v1/workspaces/{ws}/campaigns/{campaign}/messages/retrieve", Some(r#"{"page": 1, "page_size": 10}"#), [200, 200, 404, 404, 403, 404, 401]),
    ("post", "/v1/workspaces/{workspace_id}/campaigns/{campaign_id}/messages/pages", "/v1/workspaces/{ws}/campaigns/{campaign}/messages/pages", Some(r#"{"page_size": 10}"#), [200, 200, 404, 404, 403, 404, 401]),
    ("post", "/v1/campaigns/search", "/v1/campaigns/search", Some(r#"{"page": 1, "page_size": 10}"#), [200, 200, 403, 403, 200, 403, 401]),
    ("post", "/v1/campaigns/search/pages", "/v1/campaigns/search/pages", Some(r#"{"page_size": 10}"#), [200, 200, 403, 403, 200, 403, 401]),
    ("post", "/v1/workspaces/{workspace_id}/customers/upload", "/v1/workspaces/{ws}/customers/upload", Some(r#"[]"#), [200, 200, 404, 404, 403, 404, 401]),
    ("get", "/v1/workspaces/{workspace_id}/customers", "/v1/workspaces/{ws}/customers", None, [200, 200, 404, 404, 200, 404, 401]),
    ("get", "/v1/workspaces/{workspace_id}/customers/pages", "/v1/workspaces/{ws}/customers/pages", None, [200, 200, 404, 404, 200, 404, 401]),
    ("patch", "/v1/workspaces/{workspace_id}/customers", "/v1/workspaces/{ws}/customers", Some(r#"{"customers": [{"id": "00000000-0000-7000-8000-000000000000", "first_name": "X"}]}"#), [200, 200, 404, 404, 403, 404, 401]),
    ("post", "/v1/workspaces/{workspace_id}/customers/bulk-delete", "/v1/workspaces/{ws}/customers/bulk-delete", Some(r#"{"ids": ["00000000-0000-7000-8000-000000000000"]}"#), [200, 200, 404, 404, 403, 404, 401]),
    ("get", "/v1/workspaces/{workspace_id}/customers/{customer_id}", "/v1/workspaces/{ws}/customers/{nobody}", None, [404, 404, 404, 404, 404, 404, 401]),
    ("patch", "/v1/workspaces/{workspace_id}/customers/{customer_id}", "/v1/workspaces/{ws}/customers/{nobody}", Some(r#"{"first_name": "X"}"#), [404, 404, 404, 404, 403, 404, 401]),
    ("delete", "/v1/workspaces/{workspace_id}/customers/{customer_id}", "/v1/workspaces/{ws}/customers/{nobody}", None, [404, 404, 404, 404, 403, 404, 401]),
    ("post", "/v1/workspaces/{workspace_id}/customer-groups", "/v1/workspaces/{ws}/customer-groups", Some(r#"{"name": "{fresh}"}"#), [201, 201, 404, 404, 403, 404, 401]),
    ("get", "/v1/workspaces/{workspace_id}/customer-groups", "/v1/workspaces/{ws}/customer-groups", None, [200, 200, 404, 404, 200, 404, 401]),
    ("get", "/v1/workspaces/{workspace_id}/customer-groups/{group_id}", "/v1/workspaces/{ws}/customer-groups/{nobody}", None, [404, 404, 404, 404, 404, 404, 401]),
    ("patch", "/v1/workspaces/{workspace_id}/customer-groups/{group_id}", "/v1/workspaces/{ws}/customer-groups/{nobody}", Some(r#"{"name": "X"}"#), [404, 404, 404, 404, 403, 404, 401]),
    ("delete", "/v1/workspaces/{workspace_id}/customer-groups/{group_id}", "/v1/workspaces/{ws}/customer-groups/{nobody}", None, [404, 404, 404, 404, 403, 404, 401]),
    ("post", "/v1/workspaces/{workspace_id}/customer-groups/{group_id}/members", "/v1/workspaces/{ws}/customer-groups/{nobody}/members", Some(r#"{"customer_ids": ["00000000-0000-7000-8000-000000000000"]}"#), [404, 404, 404, 404, 403, 404, 401]),
    ("post", "/v1/workspaces/{workspace_id}/customer-groups/{group_id}/members/remove", "/v1/workspaces/{ws}/customer-groups/{nobody}/members/remove", Some(r#"{"customer_ids": ["00000000-0000-7000-8000-000000000000"]}"#), [404, 404, 404, 404, 403, 404, 401]),
    // The owner creates the key; the admin's second attempt finds it taken.
    ("post", "/v1/workspaces/{workspace_id}/profile-fields", "/v1/workspaces/{ws}/profile-fields", Some(r#"{"key": "matrix_field", "label": "M", "type": "string"}"#), [201, 409, 404, 404, 403, 404, 401]),
    ("get", "/v1/workspaces/{workspace_id}/profile-fields", "/v1/workspaces/{ws}/profile-fields", None, [200, 200, 404, 404, 200, 404, 401]),
    ("patch", "/v1/workspaces/{workspace_id}/profile-fields/{field_id}", "/v1/workspaces/{ws}/profile-fields/{nobody}", Some(r#"{"label": "X"}"#), [404, 404, 404, 404, 403, 404, 401]),
    ("delete", "/v1/workspaces/{workspace_id}/profile-fields/{field_id}", "/v1/workspaces/{ws}/profile-fields/{nobody}", None, [404, 404, 404, 404, 403, 404, 401]),
    // Last: it ends the caller's session.
    ("post", "/v1/auth/logout", "/v1/auth/logout", None, [200, 200, 200, 200, 200, 200, 401]),
];

struct Fixture {
    owner: String,
    workspace: String,
    target: String,
    campaign: String,
}

async fn invite_and_accept(
    app: &TestApp,
    sink: &SmtpSink,
    owner: &str,
    email: &str,
    account_roles: &[&str],
    workspace_roles: Value,
) -> Result<(String, String), Error> {
    let response = app
        .client
        .post(app.url("/v1/users"))
        .bearer_auth(owner)
        .json(&json!({"email": email, "full_name": "Caller", "account_roles": account_roles, "workspace_roles": workspace_roles}))
        .send()
        .await?;
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "{}",
        response.text().await?
    );
    let member: Value = response.json().await?;
    let message = sink
        .wait_for(&format!("To: {email}"))
        .await
        .ok_or("invitation email")?;
    let code = code_in(&message).ok_or("code")?;
    let tokens: Value = app
        .post_json(
            "/v1/invitations/accept",
            &json!({"email": email, "code": code, "password": "caller password"}),
        )
        .await?
        .json()
        .await?;
    Ok((
        tokens["access_token"].as_str().ok_or("token")?.to_owned(),
        member["id"].as_str().ok_or("id")?.to_owned(),
    ))
}

async fn fixture(app: &TestApp, sink: &SmtpSink) -> Result<(Fixture, Vec<Option<String>>), Error> {
    let signed = app.signup("owner@example.com").await?;
    let owner_tokens = app.login("owner@example.com", &signed.password).await?;
    let owner = owner_tokens["access_token"]
        .as_str()
        .ok_or("token")?
        .to_owned();
    let workspace = signed.body["workspace"]["id"]
        .as_str()
        .ok_or("ws")?
        .to_owned();
    let (_, target) = invite_and_accept(
        app,
        sink,
        &owner,
        "target@example.com",
        &["member"],
        json!([]),
    )
    .await?;
    let mut tokens = Vec::new();
    for (i, (name, roles, workspace_role)) in CALLERS.iter().enumerate() {
        if *name == "owner" {
            // Its own login, so that the row for logout does not end the owner's fixture token.
            let login = app.login("owner@example.com", &signed.password).await?;
            tokens.push(login["access_token"].as_str().map(str::to_owned));
            continue;
        }
        let workspace_roles = match workspace_role {
            Some(role) => json!([{"workspace_id": workspace, "role": role}]),
            None => json!([]),
        };
        let (token, _) = invite_and_accept(
            app,
            sink,
            &owner,
            &format!("caller{i}@example.com"),
            roles,
            workspace_roles,
        )
        .await?;
        tokens.push(Some(token));
    }
    tokens.push(None);
    let campaign: Value = app
        .client
        .post(app.url(&format!("/v1/workspaces/{workspace}/campaigns")))
        .bearer_auth(&owner)
        .json(&json!({"name": "Fixture", "channel": "email", "group_ids": []}))
        .send()
        .await?
        .json()
        .await?;
    let campaign = campaign["id"].as_str().ok_or("campaign")?.to_owned();
    Ok((
        Fixture {
            owner,
            workspace,
            target,
            campaign,
        },
        tokens,
    ))
}

#[tokio::test]
async fn every_role_gets_exactly_its_permissions_on_every_endpoint() -> TestResult {
    let (sink, url) = SmtpSink::start().await?;
    let app = spawn_app_with(|settings| settings.email.smtp_url = Some(url.into())).await?;

    // Every operation of the OpenAPI document has a row, or is public.
    let doc: Value = app
        .client
        .get(app.url("/v1/openapi.json"))
        .send()
        .await?
        .json()
        .await?;
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().ok_or("paths")? {
        for method in item.as_object().ok_or("operations")?.keys() {
            documented.insert((method.clone(), path.clone()));
        }
    }
    let covered: BTreeSet<(String, String)> = MATRIX
        .iter()
        .map(|row| (row.0.to_owned(), row.1.to_owned()))
        .chain(
            PUBLIC
                .iter()
                .map(|(m, p)| ((*m).to_owned(), (*p).to_owned())),
        )
        .collect();
    let missing: Vec<_> = documented.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "endpoints without a permission row: {missing:?}"
    );

    let (fixture, tokens) = fixture(&app, &sink).await?;
    let nobody = uuid::Uuid::now_v7().to_string();
    let mut mismatches = Vec::new();
    let mut fresh = 0;
    for (method, _, path, body, expected) in MATRIX {
        for (caller, token) in tokens.iter().enumerate() {
            fresh += 1;
            let path = path
                .replace("{ws}", &fixture.workspace)
                .replace("{target}", &fixture.target)
                .replace("{nobody}", &nobody)
                .replace("{campaign}", &fixture.campaign);
            let method = Method::from_bytes(method.to_uppercase().as_bytes())?;
            let mut request = app.client.request(method.clone(), app.url(&path));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            if let Some(body) = body {
                let body = body.replace("{fresh}", &format!("fresh{fresh}@example.com"));
                request = request
                    .header("content-type", "application/json")
                    .body(body);
            }
            let status = request.send().await?.status();
            let want = expected[caller];
            if status.as_u16() != want {
                let who = CALLERS.get(caller).map_or("no token", |c| c.0);
                mismatches.push(format!(
                    "{method} {path} as {who}: got {status}, want {want}"
                ));
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    // The owner's fixture token was never used for a logout.
    assert_eq!(
        app.get_authed("/v1/me", &fixture.owner).await?.status(),
        StatusCode::OK
    );
    Ok(())
}
