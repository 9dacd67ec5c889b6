//! Bad input over HTTP: oversized and malformed bodies, wrong media types, deep nesting,
//! invalid UTF-8, huge numbers, odd paging, SQL-ish strings, NUL bytes, forged
//! `X-Forwarded-For`, malformed `Authorization` and bad path ids. Every one must be answered
//! with a 4xx in the api.md error shape (`{error, code, request_id}`), never a 5xx.

use nudgescribe_e2e::{Error, TestApp, TestResult, expect_error, spawn_app, spawn_app_with};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

struct Owner {
    token: String,
    workspace: String,
    user_id: String,
}

async fn owner(app: &TestApp, email: &str) -> Result<Owner, Error> {
    let signed = app.signup(email).await?;
    let tokens = app.login(email, &signed.password).await?;
    Ok(Owner {
        token: tokens["access_token"].as_str().ok_or("token")?.to_owned(),
        workspace: signed.body["workspace"]["id"]
            .as_str()
            .ok_or("workspace")?
            .to_owned(),
        user_id: signed.body["user"]["id"].as_str().ok_or("user")?.to_owned(),
    })
}

/// One odd request and what it was, for the failure message.
struct Probe {
    what: String,
    request: RequestBuilder,
}

/// Sends every probe; collects each answer that is not a 4xx in the error shape. Returns the
/// statuses, in order, for the callers that pin them.
async fn expect_clean_4xx(probes: Vec<Probe>) -> Result<Vec<u16>, Error> {
    let mut failures = Vec::new();
    let mut statuses = Vec::new();
    for probe in probes {
        let response = probe.request.send().await?;
        let status = response.status();
        statuses.push(status.as_u16());
        let header_id = response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await?;
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let shaped = body["error"].as_str().is_some_and(|e| !e.is_empty())
            && body["code"].as_str().is_some_and(|c| !c.is_empty())
            && body["request_id"].as_str().is_some()
            && body["request_id"].as_str().map(str::to_owned) == header_id;
        if !status.is_client_error() || !shaped {
            failures.push(format!("{}: {status} {text}", probe.what));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    Ok(statuses)
}

fn probe(what: impl Into<String>, request: RequestBuilder) -> Probe {
    Probe {
        what: what.into(),
        request,
    }
}

impl Owner {
    fn ws(&self, rest: &str) -> String {
        format!("/v1/workspaces/{}{rest}", self.workspace)
    }

    fn call(&self, app: &TestApp, method: Method, path: &str) -> RequestBuilder {
        app.client
            .request(method, app.url(path))
            .bearer_auth(&self.token)
    }
}

/// Every JSON-taking endpoint of the owner, with a path that exists.
fn json_endpoints(owner: &Owner, campaign: &str) -> Vec<(Method, String)> {
    vec![
        (Method::POST, "/v1/signup".into()),
        (Method::POST, "/v1/auth/login".into()),
        (Method::POST, "/v1/auth/login/mfa".into()),
        (Method::POST, "/v1/auth/password-reset".into()),
        (Method::POST, "/v1/auth/password-reset/confirm".into()),
        (Method::POST, "/v1/invitations/accept".into()),
        (Method::POST, "/v1/auth".into()),
        (Method::POST, "/v1/auth/refresh".into()),
        (Method::POST, "/v1/auth/keys".into()),
        (Method::POST, "/v1/users".into()),
        (Method::PUT, format!("/v1/users/{}/roles", owner.user_id)),
        (Method::POST, "/v1/me/password".into()),
        (Method::POST, "/v1/me/mfa/totp/activate".into()),
        (Method::DELETE, "/v1/me/mfa/totp".into()),
        (Method::POST, "/v1/workspaces".into()),
        (Method::PATCH, owner.ws("")),
        (Method::POST, owner.ws("/campaigns")),
        (Method::PATCH, owner.ws(&format!("/campaigns/{campaign}"))),
        (
            Method::POST,
            owner.ws(&format!("/campaigns/{campaign}/messages/publish")),
        ),
        (
            Method::POST,
            owner.ws(&format!("/campaigns/{campaign}/messages/retrieve")),
        ),
        (
            Method::POST,
            owner.ws(&format!("/campaigns/{campaign}/messages/pages")),
        ),
        (Method::POST, "/v1/campaigns/search".into()),
        (Method::POST, "/v1/campaigns/search/pages".into()),
        (Method::PATCH, owner.ws("/customers")),
        (Method::POST, owner.ws("/customers/bulk-delete")),
        (Method::POST, owner.ws("/customer-groups")),
        (Method::POST, owner.ws("/profile-fields")),
    ]
}

async fn campaign(app: &TestApp, owner: &Owner) -> Result<String, Error> {
    let response = owner
        .call(app, Method::POST, &owner.ws("/campaigns"))
        .json(&json!({"name": "Probe", "channel": "email", "group_ids": []}))
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await?;
    Ok(body["id"].as_str().ok_or("campaign id")?.to_owned())
}

#[tokio::test]
async fn malformed_json_bodies_are_a_clear_400_or_415_everywhere() -> TestResult {
    let app = spawn_app().await?;
    let owner = owner(&app, "bodies@example.com").await?;
    let campaign = campaign(&app, &owner).await?;
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    // Not JSON, or JSON of a shape no request body has: always a 400.
    let refused: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("not json", b"hello".to_vec()),
        ("truncated", br#"{"name": "#.to_vec()),
        ("deeply nested array", deep.into_bytes()),
        ("array", b"[1, 2, 3]".to_vec()),
        ("string", br#""just a string""#.to_vec()),
        ("null", b"null".to_vec()),
        ("trailing garbage", br#"{} {}"#.to_vec()),
        ("invalid utf-8 in a key", b"{\"\xff\xfe\": 1}".to_vec()),
    ];
    // Odd but possibly well-formed for an endpoint whose fields are all optional and that
    // ignores fields it does not know: a 400, or the endpoint's answer — never a 5xx. Deep
    // nesting inside an ignored field is skipped without recursion (no stack to exhaust).
    let tolerated: Vec<(&str, Vec<u8>)> = vec![
        ("deeply nested object", format!("{}1{}", "{\"a\":".repeat(5_000), "}".repeat(5_000)).into_bytes()),
        ("900 KB of nesting in an unknown field", format!("{{\"x\": {}{}}}", "[".repeat(450_000), "]".repeat(450_000)).into_bytes()),
        ("lone surrogate", br#"{"name": "\ud800", "description": "\udfff"}"#.to_vec()),
        ("huge number", format!("{{\"page\": 1{}, \"page_size\": 1e999}}", "0".repeat(400)).into_bytes()),
        ("wrong types", br#"{"name": 1, "email": [], "page": "one", "messages": {}, "customers": 7, "ids": "x", "page_size": true}"#.to_vec()),
        ("duplicate keys", br#"{"name": "a", "name": "b", "page_size": 1, "page_size": 2}"#.to_vec()),
    ];
    let mut probes = Vec::new();
    let mut odd = Vec::new();
    for (method, path) in json_endpoints(&owner, &campaign) {
        for (what, body) in &refused {
            probes.push(probe(
                format!("{method} {path} with {what}"),
                owner
                    .call(&app, method.clone(), &path)
                    .header("content-type", "application/json")
                    .body(body.clone()),
            ));
        }
        for (what, body) in &tolerated {
            odd.push((
                format!("{method} {path} with {what}"),
                owner
                    .call(&app, method.clone(), &path)
                    .header("content-type", "application/json")
                    .body(body.clone()),
            ));
        }
        for content_type in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/xml",
            "image/png",
        ] {
            probes.push(probe(
                format!("{method} {path} as {content_type}"),
                owner
                    .call(&app, method.clone(), &path)
                    .header("content-type", content_type)
                    .body("{}"),
            ));
        }
        probes.push(probe(
            format!("{method} {path} without a content type"),
            owner.call(&app, method.clone(), &path).body("{}"),
        ));
    }
    let mut server_errors = Vec::new();
    for (what, request) in odd {
        let response = request.send().await?;
        if response.status().is_server_error() {
            server_errors.push(format!(
                "{what}: {} {}",
                response.status(),
                response.text().await?
            ));
        }
    }
    assert!(server_errors.is_empty(), "{}", server_errors.join("\n"));
    // The server is still there after all of it.
    assert_eq!(
        app.get_authed("/v1/me", &owner.token).await?.status(),
        StatusCode::OK
    );
    expect_clean_4xx(probes).await?;
    Ok(())
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_and_a_wrong_media_type_415() -> TestResult {
    let app = spawn_app_with(|s| s.server.json_limit_bytes = 64 * 1024).await?;
    let owner = owner(&app, "limits@example.com").await?;
    let big = json!({"name": "x".repeat(128 * 1024), "channel": "email", "group_ids": []});
    let response = owner
        .call(&app, Method::POST, &owner.ws("/campaigns"))
        .json(&big)
        .send()
        .await?;
    expect_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await?;
    let response = owner
        .call(&app, Method::POST, &owner.ws("/campaigns"))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await?;
    expect_error(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await?;
    let response = owner
        .call(&app, Method::POST, &owner.ws("/customers/upload"))
        .header("content-type", "application/pdf")
        .body("%PDF")
        .send()
        .await?;
    expect_error(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn odd_uploads_are_answered_with_a_clear_4xx_or_a_report() -> TestResult {
    let app = spawn_app().await?;
    let owner = owner(&app, "uploads@example.com").await?;
    let upload = |content_type: &str, body: Vec<u8>| {
        owner
            .call(&app, Method::POST, &owner.ws("/customers/upload"))
            .header("content-type", content_type)
            .body(body)
    };
    let deep = format!("[{}{}]", "[".repeat(50_000), "]".repeat(50_000));
    // An element that is not readable is a row error of the report (the rest still counts).
    for (what, body) in [
        ("json nested", deep.into_bytes()),
        ("json invalid utf-8", b"[{\"email\": \"\xff\"}]".to_vec()),
    ] {
        let response = upload("application/json", body).send().await?;
        let status = response.status();
        let report: Value = response.json().await?;
        assert_eq!(status, StatusCode::OK, "{what}: {report}");
        assert_eq!(report["invalid_rows"], 1, "{what}: {report}");
        assert_eq!(report["errors"][0]["field"], "row", "{what}: {report}");
    }
    let probes = vec![
        probe("empty csv", upload("text/csv", Vec::new())),
        probe(
            "csv with invalid utf-8 header",
            upload("text/csv", b"em\xffail\nx@example.com\n".to_vec()),
        ),
        probe(
            "csv with a NUL in the header",
            upload("text/csv", b"em\0ail\nx@example.com\n".to_vec()),
        ),
        probe("json object", upload("application/json", b"{}".to_vec())),
        probe(
            "json not closed",
            upload("application/json", b"[{".to_vec()),
        ),
        probe(
            "multipart without a boundary",
            upload("multipart/form-data", b"--x\r\n".to_vec()),
        ),
        probe(
            "multipart without a file part",
            upload(
                "multipart/form-data; boundary=x",
                b"--x\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nhi\r\n--x--\r\n"
                    .to_vec(),
            ),
        ),
        probe(
            "multipart cut short",
            upload(
                "multipart/form-data; boundary=x",
                b"--x\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nemail\n".to_vec(),
            ),
        ),
        probe(
            "bad mode",
            owner
                .call(
                    &app,
                    Method::POST,
                    &owner.ws("/customers/upload?mode=destroy"),
                )
                .header("content-type", "text/csv")
                .body("email\n"),
        ),
    ];
    expect_clean_4xx(probes).await?;

    // Rows that cannot be stored are row errors of a 200 report, not a failed request.
    let rows = "external_id,email,first_name\n\
                a\0b,nul@example.com,Nul\n\
                x,x@example.com,Ab\0c\n\
                '; DROP TABLE customers; --,sql@example.com,Robert\n";
    let response = upload("text/csv", rows.as_bytes().to_vec()).send().await?;
    let status = response.status();
    let report: Value = response.json().await?;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["valid_rows"], 1, "{report}");
    assert_eq!(report["invalid_rows"], 2, "{report}");
    let response = upload(
        "application/json",
        serde_json::to_vec(&json!([
            {"email": "jnul@example.com", "first_name": "A\u{0}B"},
            {"email": "big@example.com", "external_id": "9".repeat(100_000)},
            {"email": 12, "first_name": ["list"]},
        ]))?,
    )
    .send()
    .await?;
    let status = response.status();
    let report: Value = response.json().await?;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["invalid_rows"], 3, "{report}");
    Ok(())
}

#[tokio::test]
async fn odd_paging_and_query_strings_are_a_clear_400() -> TestResult {
    let app = spawn_app().await?;
    let owner = owner(&app, "paging@example.com").await?;
    let campaign = campaign(&app, &owner).await?;
    let lists = [
        "/v1/audit-events".to_owned(),
        "/v1/users".to_owned(),
        owner.ws("/customers"),
        owner.ws("/customers/pages"),
        owner.ws("/customer-groups"),
        owner.ws("/campaigns"),
        owner.ws("/campaigns/pages"),
    ];
    let queries = [
        "page=0",
        "page=-1",
        "page_size=0",
        "page_size=-5",
        "page_size=501",
        "page_size=99999999999999999999999",
        "page=99999999999999999999999",
        "page=1.5",
        "page=abc",
        "page_size=",
        "cursor=not-a-cursor",
        "cursor=%00%01",
        "cursor=fA",
        "group_id=not-a-uuid",
    ];
    let mut probes = Vec::new();
    for list in &lists {
        for query in queries {
            // A list that ignores a parameter (no `group_id` on users) may answer 200: only
            // those that take it are probed with it.
            if query.starts_with("group_id") && !list.ends_with("/customers") {
                continue;
            }
            if query.starts_with("page=") && list.ends_with("/pages") {
                continue;
            }
            if query.starts_with("cursor") && list.ends_with("/pages") {
                continue;
            }
            probes.push(probe(
                format!("GET {list}?{query}"),
                owner.call(&app, Method::GET, &format!("{list}?{query}")),
            ));
        }
    }
    for body in [
        json!({"page": 0, "page_size": 10}),
        json!({"page": -1, "page_size": 10}),
        json!({"page": 1, "page_size": 0}),
        json!({"page": 1, "page_size": 501}),
        json!({"page": 1, "page_size": -1}),
        json!({"page": 1, "page_size": 1e300}),
        json!({"page": 1, "page_size": 10, "cursor": "garbage"}),
        json!({"page": 1.5, "page_size": 10}),
        json!({"page": 1, "page_size": 10, "customer_ids": ["not-a-uuid"]}),
        json!({"page": 1, "page_size": 10, "status": "exploded"}),
        json!({"page": 1, "page_size": 10, "workspace_ids": [1]}),
    ] {
        for path in [
            owner.ws(&format!("/campaigns/{campaign}/messages/retrieve")),
            "/v1/campaigns/search".to_owned(),
        ] {
            if path.contains("search") && body.get("customer_ids").is_some() {
                continue;
            }
            if path.contains("retrieve")
                && (body.get("status").is_some() || body.get("workspace_ids").is_some())
            {
                continue;
            }
            probes.push(probe(
                format!("POST {path} {body}"),
                owner.call(&app, Method::POST, &path).json(&body),
            ));
        }
    }
    expect_clean_4xx(probes).await?;

    // A huge page is a page past the end, not an overflow.
    for list in &lists {
        if list.ends_with("/pages") {
            continue;
        }
        let path = format!("{list}?page=9223372036854775807&page_size=500");
        let response = owner.call(&app, Method::GET, &path).send().await?;
        let status = response.status();
        let body: Value = response.json().await?;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert_eq!(body["items"], json!([]), "{path}: {body}");
    }
    let response = owner
        .call(&app, Method::POST, "/v1/campaigns/search")
        .json(&json!({"page": i64::MAX, "page_size": 500}))
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn sql_ish_and_nul_strings_are_data_or_a_clear_400_never_a_500() -> TestResult {
    let app = spawn_app().await?;
    let owner = owner(&app, "sqlish@example.com").await?;
    let campaign = campaign(&app, &owner).await?;
    let nasty = [
        "' OR '1'='1",
        "'; DROP TABLE customers; --",
        "\\",
        "%",
        "_",
        "a\\",
        "\u{0}",
        "a\u{0}b",
        "\u{202e}",
        "😀",
        "$1",
        "\"",
    ];
    let mut failures = Vec::new();
    let mut send = async |what: String, request: RequestBuilder| -> Result<(), Error> {
        let response = request.send().await?;
        let status = response.status();
        if status.is_server_error() {
            failures.push(format!("{what}: {status} {}", response.text().await?));
        }
        Ok(())
    };
    for text in nasty {
        let encoded: String = url_encode(text);
        for path in [
            owner.ws(&format!("/customers?search={encoded}")),
            owner.ws(&format!("/customers/pages?search={encoded}")),
            format!("/v1/audit-events?event={encoded}"),
        ] {
            send(format!("GET {path}"), owner.call(&app, Method::GET, &path)).await?;
        }
        let bodies: Vec<(Method, String, Value)> = vec![
            (
                Method::POST,
                owner.ws("/campaigns"),
                json!({"name": text, "description": text, "channel": "email", "group_ids": []}),
            ),
            (
                Method::PATCH,
                owner.ws(&format!("/campaigns/{campaign}")),
                json!({"description": text}),
            ),
            (
                Method::POST,
                owner.ws("/customer-groups"),
                json!({"name": text, "description": text}),
            ),
            (
                Method::POST,
                owner.ws("/profile-fields"),
                json!({"key": text, "label": text, "type": "enum", "options": [text]}),
            ),
            (Method::POST, "/v1/workspaces".into(), json!({"name": text})),
            (Method::PATCH, owner.ws(""), json!({"name": text})),
            (Method::POST, "/v1/auth/keys".into(), json!({"name": text})),
            (
                Method::POST,
                "/v1/users".into(),
                json!({"email": format!("{text}@example.com"), "full_name": text}),
            ),
            (
                Method::POST,
                "/v1/auth/login".into(),
                json!({"email": text, "password": text}),
            ),
            (
                Method::POST,
                "/v1/auth/password-reset".into(),
                json!({"email": text}),
            ),
            (
                Method::POST,
                "/v1/signup".into(),
                json!({"email": "sql@example.com", "password": format!("{text}{text}long enough"), "full_name": text, "account_name": text}),
            ),
            (Method::POST, "/v1/auth".into(), json!({"api_key": text})),
            (
                Method::POST,
                "/v1/auth/refresh".into(),
                json!({"refresh_token": text}),
            ),
        ];
        for (method, path, body) in bodies {
            send(
                format!("{method} {path} {body}"),
                owner.call(&app, method.clone(), &path).json(&body),
            )
            .await?;
        }
    }
    // Strings inside JSON values that end up in jsonb columns.
    let customer: Value = owner
        .call(&app, Method::POST, &owner.ws("/customers/upload"))
        .json(&json!([{"email": "meta@example.com"}]))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(customer["created"], 1, "{customer}");
    let list: Value = owner
        .call(&app, Method::GET, &owner.ws("/customers"))
        .send()
        .await?
        .json()
        .await?;
    let customer_id = list["items"][0]["id"]
        .as_str()
        .ok_or("customer")?
        .to_owned();
    for metadata in [
        json!({"k": "\u{0}"}),
        json!({"\u{0}": 1}),
        json!({"k": 1e308}),
        json!({"k": u64::MAX}),
        json!({"k": -0.0}),
    ] {
        send(
            format!("publish with metadata {metadata}"),
            owner
                .call(
                    &app,
                    Method::POST,
                    &owner.ws(&format!("/campaigns/{campaign}/messages/publish")),
                )
                .json(&json!({"messages": [{"customer_id": customer_id, "subject": "\u{0}", "body": "a\u{0}b", "metadata": metadata}]})),
        )
        .await?;
    }
    // NUL in every other kind of kept text: custom attributes (jsonb), descriptions, labels,
    // enum options, key names.
    app.set_account_roles(&owner.token, &owner.user_id, &["developer"])
        .await?;
    let field = owner
        .call(&app, Method::POST, &owner.ws("/profile-fields"))
        .json(&json!({"key": "notes", "label": "Notes", "type": "string"}))
        .send()
        .await?;
    assert_eq!(field.status(), StatusCode::CREATED);
    let group: Value = owner
        .call(&app, Method::POST, &owner.ws("/customer-groups"))
        .json(&json!({"name": "Nul group"}))
        .send()
        .await?
        .json()
        .await?;
    let group_id = group["id"].as_str().ok_or("group")?.to_owned();
    let mut strict = Vec::new();
    let nul_bodies: Vec<(Method, String, Value)> = vec![
        (
            Method::PATCH,
            owner.ws(&format!("/customers/{customer_id}")),
            json!({"attributes": {"notes": "a\u{0}b"}}),
        ),
        (
            Method::PATCH,
            owner.ws(&format!("/customer-groups/{group_id}")),
            json!({"name": "a\u{0}", "description": "b\u{0}"}),
        ),
        (
            Method::PATCH,
            owner.ws(&format!("/customer-groups/{group_id}")),
            json!({"description": "b\u{0}"}),
        ),
        (
            Method::POST,
            owner.ws("/profile-fields"),
            json!({"key": "nul_label", "label": "a\u{0}", "type": "string"}),
        ),
        (
            Method::POST,
            owner.ws("/profile-fields"),
            json!({"key": "nul_option", "label": "L", "type": "enum", "options": ["a\u{0}"]}),
        ),
        (
            Method::POST,
            owner.ws("/campaigns"),
            json!({"name": "Fine", "description": "a\u{0}", "channel": "email", "group_ids": []}),
        ),
        (
            Method::POST,
            "/v1/auth/keys".into(),
            json!({"name": "a\u{0}b"}),
        ),
    ];
    for (method, path, body) in nul_bodies {
        let response = owner
            .call(&app, method.clone(), &path)
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        let text = response.text().await?;
        if status != StatusCode::BAD_REQUEST {
            strict.push(format!(
                "{method} {path} {body}: {status}, want 400: {text}"
            ));
        }
    }
    // A bulk update reports each item's problem in a 200.
    let response = owner
        .call(&app, Method::PATCH, &owner.ws("/customers"))
        .json(&json!({"customers": [{"id": customer_id, "attributes": {"notes": "\u{0}"}}]}))
        .send()
        .await?;
    let status = response.status();
    let bulk: Value = response.json().await?;
    if status != StatusCode::OK
        || bulk["updated"] != 0
        || !bulk["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("control characters"))
    {
        strict.push(format!("bulk update with a NUL attribute: {status} {bulk}"));
    }
    for (content_type, body) in [
        (
            "text/csv",
            b"email,notes\nnul-csv@example.com,a\0b\n".to_vec(),
        ),
        (
            "application/json",
            br#"[{"email": "nul-json@example.com", "notes": "a\u0000b"}]"#.to_vec(),
        ),
    ] {
        let response = owner
            .call(&app, Method::POST, &owner.ws("/customers/upload"))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await?;
        let status = response.status();
        let text = response.text().await?;
        if status != StatusCode::OK || !text.contains("\"invalid_rows\":1") {
            strict.push(format!(
                "{content_type} upload with a NUL attribute: {status} {text}"
            ));
        }
    }
    send(
        "patch a customer with NUL".into(),
        owner
            .call(
                &app,
                Method::PATCH,
                &owner.ws(&format!("/customers/{customer_id}")),
            )
            .json(&json!({"first_name": "\u{0}", "external_id": "\u{0}"})),
    )
    .await?;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(strict.is_empty(), "{}", strict.join("\n"));

    // The customers are all still there: nothing was injected.
    let response = owner
        .call(
            &app,
            Method::GET,
            &owner.ws("/customers?search=%27%20OR%20%271%27%3D%271"),
        )
        .send()
        .await?;
    let body: Value = response.json().await?;
    assert_eq!(body["items"], json!([]), "{body}");
    Ok(())
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn malformed_authorization_headers_are_401_in_the_error_shape() -> TestResult {
    let app = spawn_app().await?;
    let owner = owner(&app, "authz@example.com").await?;
    let long = format!("Bearer {}", "a".repeat(64 * 1024));
    let values: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"Bearer".to_vec(),
        b"Bearer ".to_vec(),
        b"Bearer    ".to_vec(),
        b"Basic dXNlcjpwYXNz".to_vec(),
        b"Bearer a.b.c".to_vec(),
        b"Bearer ....".to_vec(),
        b"Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.".to_vec(),
        format!("Bearer {}x", owner.token).into_bytes(),
        format!("Bearer {}", owner.token.replace('.', "")).into_bytes(),
        format!("bearer  {} extra", owner.token).into_bytes(),
        format!("Token {}", owner.token).into_bytes(),
        b"Bearer \xff\xfe".to_vec(),
        b"Bearer \xc3\xa9t\xc3\xa9".to_vec(),
        long.into_bytes(),
    ];
    let mut probes = Vec::new();
    for value in values {
        let shown = String::from_utf8_lossy(&value)
            .chars()
            .take(60)
            .collect::<String>();
        let header = reqwest::header::HeaderValue::from_bytes(&value)?;
        for (method, path) in [
            (Method::GET, "/v1/me".to_owned()),
            (Method::GET, owner.ws("/customers")),
            (Method::POST, "/v1/auth/logout".to_owned()),
            (Method::GET, "/v1/auth".to_owned()),
        ] {
            probes.push(probe(
                format!("{method} {path} with Authorization: {shown}"),
                app.client
                    .request(method, app.url(&path))
                    .header("authorization", header.clone()),
            ));
        }
        probes.push(probe(
            format!("GET /v1/auth/token with apiKey: {shown}"),
            app.client
                .get(app.url("/v1/auth/token"))
                .header("apikey", header.clone()),
        ));
    }
    let statuses = expect_clean_4xx(probes).await?;
    // An over-long header may be refused before it is read (431); everything else is a 401.
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 431),
        "{statuses:?}"
    );
    // The owner's session survived every probe.
    assert_eq!(
        app.get_authed("/v1/me", &owner.token).await?.status(),
        StatusCode::OK
    );
    Ok(())
}

#[tokio::test]
async fn forged_forwarded_for_headers_never_break_a_request() -> TestResult {
    let app = spawn_app_with(|s| s.server.trusted_proxies = "127.0.0.1".into()).await?;
    let signed = app.signup("xff@example.com").await?;
    let hops = vec![
        "".to_owned(),
        ",,,,".to_owned(),
        "not-an-ip".to_owned(),
        "999.999.999.999".to_owned(),
        "1.2.3.4, <script>alert(1)</script>".to_owned(),
        "' OR 1=1 --".to_owned(),
        "[::1]:80".to_owned(),
        "::ffff:1.2.3.4".to_owned(),
        "1.2.3.4%eth0".to_owned(),
        "203.0.113.9, 127.0.0.1".to_owned(),
        format!("{}1.2.3.4", "1.1.1.1, ".repeat(2000)),
    ];
    for hop in hops {
        let response = app
            .client
            .post(app.url("/v1/auth/login"))
            .header("x-forwarded-for", hop.as_str())
            .json(&json!({"email": signed.email, "password": signed.password}))
            .send()
            .await?;
        let shown: String = hop.chars().take(60).collect();
        assert!(
            response.status() == StatusCode::OK
                || response.status() == StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "X-Forwarded-For: {shown} → {}",
            response.status()
        );
    }
    // Bytes that are not text in the header.
    let response = app
        .client
        .post(app.url("/v1/auth/login"))
        .header(
            "x-forwarded-for",
            reqwest::header::HeaderValue::from_bytes(b"\xff\xfe1.2.3.4")?,
        )
        .json(&json!({"email": signed.email, "password": signed.password}))
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::OK);
    // Only real addresses (or none) reached the audit trail.
    for (event, _, _, ip) in app.audit_events().await? {
        if let Some(ip) = ip {
            assert!(
                ip.parse::<std::net::IpAddr>().is_ok(),
                "{event} recorded {ip}"
            );
        }
    }
    Ok(())
}

#[tokio::test]
async fn bad_ids_in_paths_are_a_clear_4xx() -> TestResult {
    let app = spawn_app().await?;
    let owner = owner(&app, "paths@example.com").await?;
    let bad_ids = [
        "not-a-uuid",
        "00000000-0000-0000-0000-00000000000",
        "00000000-0000-0000-0000-0000000000000",
        "%00",
        "%FF%FE",
        "..%2F..%2Fetc",
        "'%20OR%201=1",
        "00000000-0000-0000-0000-000000000000",
        "ffffffff-ffff-ffff-ffff-ffffffffffff",
    ];
    let templates = [
        (Method::GET, "/v1/workspaces/{id}"),
        (Method::PATCH, "/v1/workspaces/{id}"),
        (Method::DELETE, "/v1/workspaces/{id}"),
        (Method::PUT, "/v1/users/{id}/roles"),
        (Method::DELETE, "/v1/users/{id}"),
        (Method::DELETE, "/v1/auth/keys/{id}"),
        (Method::GET, "/v1/workspaces/{id}/customers"),
        (Method::GET, "/v1/workspaces/{ws}/customers/{id}"),
        (Method::PATCH, "/v1/workspaces/{ws}/customers/{id}"),
        (Method::DELETE, "/v1/workspaces/{ws}/customers/{id}"),
        (Method::GET, "/v1/workspaces/{ws}/customer-groups/{id}"),
        (
            Method::POST,
            "/v1/workspaces/{ws}/customer-groups/{id}/members",
        ),
        (Method::PATCH, "/v1/workspaces/{ws}/profile-fields/{id}"),
        (Method::GET, "/v1/workspaces/{ws}/campaigns/{id}"),
        (
            Method::POST,
            "/v1/workspaces/{ws}/campaigns/{id}/messages/publish",
        ),
        (
            Method::POST,
            "/v1/workspaces/{ws}/campaigns/{id}/messages/retrieve",
        ),
    ];
    let mut probes = Vec::new();
    for id in bad_ids {
        for (method, template) in &templates {
            let path = template
                .replace("{ws}", &owner.workspace)
                .replace("{id}", id);
            probes.push(probe(
                format!("{method} {path}"),
                owner
                    .call(&app, method.clone(), &path)
                    .json(&json!({"name": "x", "account_roles": [], "messages": [], "customer_ids": [], "page": 1, "page_size": 1})),
            ));
        }
    }
    // Unknown routes and methods answer in the same shape.
    probes.push(probe(
        "unknown path",
        owner.call(&app, Method::GET, "/v1/nothing-here"),
    ));
    probes.push(probe(
        "wrong method",
        owner.call(&app, Method::PUT, "/v1/me"),
    ));
    probes.push(probe(
        "unknown method",
        owner.call(&app, Method::from_bytes(b"BREW")?, "/v1/me"),
    ));
    expect_clean_4xx(probes).await?;
    Ok(())
}

#[tokio::test]
async fn a_response_is_never_a_500_for_a_body_of_the_wrong_shape() -> TestResult {
    // The JSON upload endpoint and publish take arrays of objects: non-objects inside are the
    // caller's problem, reported as such.
    let app = spawn_app().await?;
    let owner = owner(&app, "shapes@example.com").await?;
    let campaign = campaign(&app, &owner).await?;
    let response: Response = owner
        .call(
            &app,
            Method::POST,
            &owner.ws(&format!("/campaigns/{campaign}/messages/publish")),
        )
        .json(&json!({"messages": [1, "two", null, []]}))
        .send()
        .await?;
    expect_error(response, StatusCode::BAD_REQUEST, "bad_request").await?;
    let response = owner
        .call(&app, Method::POST, &owner.ws("/customers/upload"))
        .json(&json!([1, "two", null, [], {"email": "ok@example.com"}]))
        .send()
        .await?;
    let status = response.status();
    let text = response.text().await?;
    assert!(
        status == StatusCode::OK || status == StatusCode::BAD_REQUEST,
        "{status} {text}"
    );
    Ok(())
}

#[tokio::test]
async fn a_known_path_with_a_method_it_does_not_serve_is_405_with_allow() -> TestResult {
    let app = spawn_app().await?;
    let owner = owner(&app, "methods@example.com").await?;
    for (method, path, allow) in [
        (Method::TRACE, "/health/live".to_owned(), "GET"),
        (Method::DELETE, "/v1/me".to_owned(), "GET"),
        (Method::PUT, "/v1/signup".to_owned(), "POST"),
        // Paths that a `{customer_id}` or `{campaign_id}` route would also match.
        (Method::PATCH, owner.ws("/customers/pages"), "GET"),
        (Method::DELETE, owner.ws("/campaigns/pages"), "GET"),
        (Method::GET, owner.ws("/customers/upload"), "POST"),
    ] {
        let response = owner.call(&app, method.clone(), &path).send().await?;
        let allowed = response
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        expect_error(
            response,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        )
        .await?;
        assert_eq!(allowed.as_deref(), Some(allow), "{method} {path}");
    }
    // A path that is documented nowhere stays a 404.
    let response = owner
        .call(&app, Method::GET, "/v1/nowhere/at/all")
        .send()
        .await?;
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await?;
    Ok(())
}

/// Every `$ref` in `value`.
fn references(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("$ref", Value::String(reference)) => found.push(reference.clone()),
                    _ => references(inner, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, found)),
        _ => {}
    }
}

#[tokio::test]
async fn the_document_lists_every_status_the_extractors_answer_with() -> TestResult {
    let app = spawn_app().await?;
    let doc: Value = app
        .client
        .get(app.url("/v1/openapi.json"))
        .send()
        .await?
        .json()
        .await?;
    let mut missing = Vec::new();
    for (path, item) in doc["paths"].as_object().ok_or("paths")? {
        for (method, operation) in item.as_object().ok_or("item")? {
            let responses = &operation["responses"];
            let parameters = operation["parameters"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let mut want = Vec::new();
            if operation.get("requestBody").is_some() {
                want.extend(["400", "413", "415"]);
            }
            if parameters.iter().any(|p| p["in"] == "path") {
                want.extend(["400", "404"]);
            }
            if operation["security"]
                .as_array()
                .is_some_and(|s| !s.is_empty())
            {
                want.push("401");
            }
            for status in want {
                if responses.get(status).is_none() {
                    missing.push(format!("{method} {path}: {status}"));
                }
            }
        }
    }
    assert!(missing.is_empty(), "undocumented: {missing:?}");

    // Every reference resolves, and two types never share one schema name (the logout's
    // `{message}` once resolved to a campaign message).
    let mut found = Vec::new();
    references(&doc, &mut found);
    for reference in found {
        let name = reference.trim_start_matches("#/components/schemas/");
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "{reference} does not resolve"
        );
    }
    let logout = &doc["paths"]["/v1/auth/logout"]["post"]["responses"]["200"]["content"]["application/json"]
        ["schema"]["$ref"];
    let name = logout
        .as_str()
        .ok_or("logout schema")?
        .trim_start_matches("#/components/schemas/");
    assert!(
        doc["components"]["schemas"][name]["properties"]
            .get("message")
            .is_some(),
        "{name}"
    );
    Ok(())
}
