//! Campaigns and their messages over HTTP: CRUD and status rules, publishing into encrypted
//! storage and reading back, limits, tenancy, the account-wide search, master-key rotation.

use diesel::sql_types::{Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use nudgescribe_e2e::smtp::{SmtpSink, code_in};
use nudgescribe_e2e::{Error, TestApp, TestResult, expect_error, spawn_app, spawn_app_with};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

struct Owner {
    token: String,
    workspace: String,
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
    })
}

async fn call(
    app: &TestApp,
    method: Method,
    token: &str,
    path: &str,
    body: Option<Value>,
) -> Result<Response, Error> {
    let mut request = app.client.request(method, app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    Ok(request.send().await?)
}

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> Result<Response, Error> {
    call(app, Method::POST, token, path, Some(body)).await
}

async fn json_of(response: Response, status: StatusCode) -> Result<Value, Error> {
    let got = response.status();
    let body: Value = response.json().await?;
    assert_eq!(got, status, "{body}");
    Ok(body)
}

/// Customers arrive by CSV upload (the customers issue); here they are written straight into
/// their table as the server's own database role.
async fn add_customer(app: &TestApp, workspace: &str) -> Result<String, Error> {
    let id = uuid::Uuid::now_v7();
    let db = postgres::Db::connect(app.database.url(), &postgres::PoolSettings::default())?;
    let mut tx = db.system().await?;
    diesel::sql_query(
        "INSERT INTO customers (id, account_id, workspace_id, email) \
         SELECT $1, account_id, id, $2 FROM workspaces WHERE id = $3",
    )
    .bind::<SqlUuid, _>(id)
    .bind::<Text, _>(format!("{id}@example.com"))
    .bind::<SqlUuid, _>(uuid::Uuid::parse_str(workspace)?)
    .execute(tx.conn())
    .await?;
    tx.commit().await?;
    Ok(id.to_string())
}

async fn sql(app: &TestApp, statement: &str) -> TestResult {
    let db = postgres::Db::connect(app.database.url(), &postgres::PoolSettings::default())?;
    let mut tx = db.system().await?;
    diesel::sql_query(statement).execute(tx.conn()).await?;
    tx.commit().await?;
    Ok(())
}

async fn create_campaign(app: &TestApp, owner: &Owner, name: &str) -> Result<Value, Error> {
    let response = post(
        app,
        &owner.token,
        &format!("/v1/workspaces/{}/campaigns", owner.workspace),
        json!({"name": name, "description": "Seasonal", "channel": "email", "group_ids": []}),
    )
    .await?;
    json_of(response, StatusCode::CREATED).await
}

fn campaign_path(workspace: &str, campaign: &Value) -> String {
    format!(
        "/v1/workspaces/{workspace}/campaigns/{}",
        campaign["id"].as_str().unwrap_or_default()
    )
}

fn messages_for(customers: &[String], n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let customer = &customers[i % customers.len()];
            if i % 2 == 0 {
                json!({
                    "customer_id": customer,
                    "subject": format!("Hello {i}"),
                    "body": format!("Plaintext body {i}: ünïcödé ✓"),
                    "metadata": {"template": "spring", "i": i, "nested": {"ok": true}},
                })
            } else {
                json!({"customer_id": customer, "body": format!("Plaintext body {i}")})
            }
        })
        .collect()
}

#[tokio::test]
async fn published_messages_come_back_exactly_as_sent() -> TestResult {
    let app = spawn_app().await?;
    let ada = owner(&app, "ada@example.com").await?;
    let campaign = create_campaign(&app, &ada, "Spring sale").await?;
    assert_eq!(campaign["status"], "draft");
    assert_eq!(campaign["channel"], "email");
    assert_eq!(campaign["message_count"], 0);
    let path = campaign_path(&ada.workspace, &campaign);
    let customers = vec![
        add_customer(&app, &ada.workspace).await?,
        add_customer(&app, &ada.workspace).await?,
    ];
    let sent = messages_for(&customers, 5);
    let published = json_of(
        post(
            &app,
            &ada.token,
            &format!("{path}/messages/publish"),
            json!({"messages": sent}),
        )
        .await?,
        StatusCode::CREATED,
    )
    .await?;
    assert_eq!(published["published"], 5);
    let ids: Vec<&str> = published["message_ids"]
        .as_array()
        .ok_or("ids")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(ids.len(), 5);

    let page = json_of(
        post(
            &app,
            &ada.token,
            &format!("{path}/messages/retrieve"),
            json!({"page": 1, "page_size": 50}),
        )
        .await?,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(page["total_items"], 5);
    assert_eq!(page["total_pages"], 1);
    assert_eq!(page["page"], 1);
    assert!(page["next_cursor"].is_null());
    let items = page["items"].as_array().ok_or("items")?;
    assert_eq!(items.len(), 5);
    for (id, input) in ids.iter().zip(&sent) {
        let item = items
            .iter()
            .find(|m| m["id"] == *id)
            .ok_or("every published message comes back")?;
        assert_eq!(item["customer_id"], input["customer_id"]);
        assert_eq!(item["body"], input["body"]);
        assert_eq!(item["subject"], input["subject"]);
        assert_eq!(item["metadata"], input["metadata"]);
        assert_eq!(item["campaign_id"], campaign["id"]);
        assert!(item["created_at"].is_string());
    }

    let shown = json_of(
        call(&app, Method::GET, &ada.token, &path, None).await?,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(shown["message_count"], 5);
    let pages = json_of(
        post(
            &app,
            &ada.token,
            &format!("{path}/messages/pages"),
            json!({"page_size": 2}),
        )
        .await?,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(
        pages,
        json!({"page_size": 2, "total_items": 5, "total_pages": 3})
    );
    let one_customer = json_of(
        post(
            &app,
            &ada.token,
            &format!("{path}/messages/pages"),
            json!({"page_size": 2, "customer_ids": [customers[0]]}),
        )
        .await?,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(one_customer["total_items"], 3);
    Ok(())
}

#[tokio::test]
async fn retrieval_pages_continue_by_cursor_and_filter() -> TestResult {
    let app = spawn_app().await?;
    let ada = owner(&app, "ada@example.com").await?;
    let campaign = create_campaign(&app, &ada, "Paged").await?;
    let path = campaign_path(&ada.workspace, &campaign);
    let customers = vec![
        add_customer(&app, &ada.workspace).await?,
        add_customer(&app, &ada.workspace).await?,
    ];
    let published = json_of(
        post(
            &app,
            &ada.token,
            &format!("{path}/messages/publish"),
            json!({"messages": messages_for(&customers, 7)}),
        )
        .await?,
        StatusCode::CREATED,
    )
    .await?;
    let mut seen = Vec::new();
    let mut body = json!({"page_size": 3});
    loop {
        let page = json_of(
            post(
                &app,
                &ada.token,
                &format!("{path}/messages/retrieve"),
                body.clone(),
            )
            .await?,
            StatusCode::OK,
        )
        .await?;
        seen.extend(
            page["items"]
                .as_array()
                .ok_or("items")?
                .iter()
                .map(|m| m["id"].clone()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => body = json!({"page_size": 3, "cursor": cursor}),
            None => break,
        }
    }
    assert_eq!(Value::Array(seen), published["message_ids"]);

    let picked = json_of(
        post(
            &app,
            &ada.token,
            &format!("{path}/messages/retrieve"),
            json!({"page_size": 10, "customer_ids": [customers[1]], "message_ids": [published["message_ids"][1], published["message_ids"][2]]}),
        )
        .await?,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(picked["total_items"], 1);
    assert_eq!(picked["items"][0]["id"], published["message_ids"][1]);

    let bad = post(
        &app,
        &ada.token,
        &format!("{path}/messages/retrieve"),
        json!({"page_size": 501}),
    )
    .await?;
    expect_error(bad, StatusCode::BAD_REQUEST, "bad_request").await?;
    Ok(())
}

#[tokio::test]
async fn more_than_a_thousand_messages_is_413_naming_the_limit() -> TestResult {
    let app = spawn_app().await?;
    let ada = owner(&app, "ada@example.com").await?;
    let campaign = create_campaign(&app, &ada, "Big").await?;
    let path = campaign_path(&ada.workspace, &campaign);
    let customer = add_customer(&app, &ada.workspace).await?;
    let batch: Vec<Value> = (0..1001)
        .map(|i| json!({"customer_id": customer, "body": format!("m{i}")}))
        .collect();
    let refused = post(
        &app,
        &ada.token,
        &format!("{path}/messages/publish"),
        json!({"messages": batch}),
    )
    .await?;
    let body = expect_error(refused, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await?;
    assert!(
        body["error"].as_str().is_some_and(|e| e.contains("1000")),
        "{body}"
    );

    let batch: Vec<Value> = (0..1000)
        .map(|i| json!({"customer_id": customer, "subject": "s", "body": format!("message number {i} {}", "x".repeat(500))}))
        .collect();
    let accepted = post(
        &app,
        &ada.token,
        &format!("{path}/messages/publish"),
        json!({"messages": batch}),
    )
    .await?;
    assert_eq!(
        json_of(accepted, StatusCode::CREATED).await?["published"],
        1000
    );
    Ok(())
}

#[tokio::test]
async fn a_batch_naming_a_stranger_is_refused_and_nothing_is_written() -> TestResult {
    let app = spawn_app().await?;
    let ada = owner(&app, "ada@example.com").await?;
    let bob = owner(&app, "bob@example.com").await?;
    let campaign = create_campaign(&app, &ada, "Strict").await?;
    let path = campaign_path(&ada.workspace, &campaign);
    let ours = add_customer(&app, &ada.workspace).await?;
    let theirs = add_customer(&app, &bob.workspace).await?;
    let nobody = uuid::Uuid::now_v7().to_string();
    let refused = post(
        &app,
        &ada.token,
        &format!("{path}/messages/publish"),
        json!({"messages": [
            {"customer_id": ours, "body": "fine"},
            {"customer_id": theirs, "body": "another account's customer"},
            {"customer_id": nobody, "body": "nobody"},
        ]}),
    )
    .await?;
    let body = expect_error(refused, StatusCode::BAD_REQUEST, "validation_failed").await?;
    let fields: Vec<&str> = body["fields"]
        .as_array()
        .ok_or("fields")?
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    assert_eq!(
        fields,
        vec!["messages[1].customer_id", "messages[2].customer_id"]
    );
    let page = json_of(
        post(
            &app,
            &ada.token,
            &format!("{path}/messages/retrieve"),
            json!({}),
        )
        .await?,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(page["total_items"], 0);
    let shown = json_of(
        call(&app, Method::GET, &ada.token, &path, None).await?,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(shown["message_count"], 0);

    // Malformed bodies are 400s, never 500s.
    for bad in [
        json!({"messages": [{"customer_id": "not-a-uuid", "body": "x"}]}),
        json!({"messages": [{"customer_id": ours}]}),
        json!({"messages": "nope"}),
        json!({"messages": []}),
        json!({"messages": [{"customer_id": ours, "body": "x", "metadata": [1, 2]}]}),
    ] {
        let response = post(
            &app,
            &ada.token,
            &format!("{path}/messages/publish"),
            bad.clone(),
        )
        .await?;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    Ok(())
}

#[tokio::test]
async fn status_follows_the_lifecycle_and_gates_publishing() -> TestResult {
    let app = spawn_app().await?;
    let ada = owner(&app, "ada@example.com").await?;
    let campaign = create_campaign(&app, &ada, "Lifecycle").await?;
    let path = campaign_path(&ada.workspace, &campaign);
    let customer = add_customer(&app, &ada.workspace).await?;
    let set = |status: &'static str| {
        call(
            &app,
            Method::PATCH,
            &ada.token,
            &path,
            Some(json!({"status": status})),
        )
    };
    let publish_path = format!("{path}/messages/publish");
    let publish = || {
        post(
            &app,
            &ada.token,
            &publish_path,
            json!({"messages": [{"customer_id": customer, "body": "hi"}]}),
        )
    };

    let refused = expect_error(set("completed").await?, StatusCode::CONFLICT, "conflict").await?;
    assert!(
        refused["error"]
            .as_str()
            .is_some_and(|e| e.contains("active")),
        "{refused}"
    );
    assert_eq!(
        publish().await?.status(),
        StatusCode::CREATED,
        "drafts take messages"
    );
    assert_eq!(
        json_of(set("active").await?, StatusCode::OK).await?["status"],
        "active"
    );
    let refused = expect_error(set("draft").await?, StatusCode::CONFLICT, "conflict").await?;
    let message = refused["error"].as_str().unwrap_or_default();
    assert!(
        message.contains("paused") && message.contains("completed"),
        "{message}"
    );
    assert_eq!(publish().await?.status(), StatusCode::CREATED);
    assert_eq!(
        json_of(set("paused").await?, StatusCode::OK).await?["status"],
        "paused"
    );
    expect_error(publish().await?, StatusCode::CONFLICT, "conflict").await?;
    expect_error(set("completed").await?, StatusCode::CONFLICT, "conflict").await?;
    assert_eq!(
        json_of(set("active").await?, StatusCode::OK).await?["status"],
        "active"
    );
    assert_eq!(
        json_of(set("completed").await?, StatusCode::OK).await?["status"],
        "completed"
    );
    expect_error(publish().await?, StatusCode::CONFLICT, "conflict").await?;
    for to in ["draft", "active", "paused"] {
        let refused = expect_error(set(to).await?, StatusCode::CONFLICT, "conflict").await?;
        assert!(
            refused["error"]
                .as_str()
                .is_some_and(|e| e.contains("completed"))
        );
    }
    let bogus = call(
        &app,
        Method::PATCH,
        &ada.token,
        &path,
        Some(json!({"status": "archived"})),
    )
    .await?;
    expect_error(bogus, StatusCode::BAD_REQUEST, "bad_request").await?;

    // Other fields change partially; the messages stay until the campaign goes.
    let renamed = json_of(
        call(
            &app,
            Method::PATCH,
            &ada.token,
            &path,
            Some(json!({"name": "Renamed"})),
        )
        .await?,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(
        (renamed["name"].as_str(), renamed["description"].as_str()),
        (Some("Renamed"), Some("Seasonal"))
    );
    assert_eq!(renamed["message_count"], 2);
    assert_eq!(
        call(&app, Method::DELETE, &ada.token, &path, None)
            .await?
            .status(),
        StatusCode::NO_CONTENT
    );
    expect_error(
        call(&app, Method::GET, &ada.token, &path, None).await?,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn lists_page_newest_first_with_a_pages_twin() -> TestResult {
    let app = spawn_app().await?;
    let ada = owner(&app, "ada@example.com").await?;
    for n in 0..3 {
        create_campaign(&app, &ada, &format!("c{n}")).await?;
    }
    let base = format!("/v1/workspaces/{}/campaigns", ada.workspace);
    let first = json_of(
        call(
            &app,
            Method::GET,
            &ada.token,
            &format!("{base}?page_size=2"),
            None,
        )
        .await?,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(first["total_items"], 3);
    assert_eq!(first["total_pages"], 2);
    assert_eq!(first["items"][0]["name"], "c2");
    let cursor = first["next_cursor"].as_str().ok_or("cursor")?;
    let next = json_of(
        call(
            &app,
            Method::GET,
            &ada.token,
            &format!("{base}?page_size=2&cursor={cursor}"),
            None,
        )
        .await?,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(next["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(next["items"][0]["name"], "c0");
    let pages = json_of(
        call(
            &app,
            Method::GET,
            &ada.token,
            &format!("{base}/pages?page_size=2"),
            None,
        )
        .await?,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(
        pages,
        json!({"page_size": 2, "total_items": 3, "total_pages": 2})
    );
    let drafts = json_of(
        call(
            &app,
            Method::GET,
            &ada.token,
            &format!("{base}?status=active"),
            None,
        )
        .await?,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(drafts["total_items"], 0);
    Ok(())
}

#[tokio::test]
async fn other_workspaces_and_accounts_answer_404() -> TestResult {
    let app = spawn_app().await?;
    let ada = owner(&app, "ada@example.com").await?;
    let bob = owner(&app, "bob@example.com").await?;
    let campaign = create_campaign(&app, &ada, "Private").await?;
    let customer = add_customer(&app, &ada.workspace).await?;
    let path = campaign_path(&ada.workspace, &campaign);
    post(
        &app,
        &ada.token,
        &format!("{path}/messages/publish"),
        json!({"messages": [{"customer_id": customer, "body": "secret"}]}),
    )
    .await?;

    // Bob, naming Ada's workspace and campaign.
    for (method, suffix, body) in [
        (Method::GET, "", None),
        (Method::PATCH, "", Some(json!({"name": "Mine now"}))),
        (Method::DELETE, "", None),
        (Method::POST, "/messages/retrieve", Some(json!({}))),
        (Method::POST, "/messages/pages", Some(json!({}))),
        (
            Method::POST,
            "/messages/publish",
            Some(json!({"messages": [{"customer_id": customer, "body": "x"}]})),
        ),
    ] {
        let response = call(
            &app,
            method.clone(),
            &bob.token,
            &format!("{path}{suffix}"),
            body,
        )
        .await?;
        expect_error(response, StatusCode::NOT_FOUND, "not_found").await?;
    }
    let list = call(
        &app,
        Method::GET,
        &bob.token,
        &format!("/v1/workspaces/{}/campaigns", ada.workspace),
        None,
    )
    .await?;
    expect_error(list, StatusCode::NOT_FOUND, "not_found").await?;
    let create = post(
        &app,
        &bob.token,
        &format!("/v1/workspaces/{}/campaigns", ada.workspace),
        json!({"name": "x", "channel": "sms"}),
    )
    .await?;
    expect_error(create, StatusCode::NOT_FOUND, "not_found").await?;
    // Ada's campaign, asked for under Bob's workspace path.
    let crossed = call(
        &app,
        Method::GET,
        &bob.token,
        &campaign_path(&bob.workspace, &campaign),
        None,
    )
    .await?;
    expect_error(crossed, StatusCode::NOT_FOUND, "not_found").await?;
    // And nothing of Ada's in Bob's search.
    let found = json_of(
        post(
            &app,
            &bob.token,
            "/v1/campaigns/search",
            json!({"page": 1, "page_size": 50}),
        )
        .await?,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(found["total_items"], 0);

    // Ada's data is as it was.
    let shown = json_of(
        call(&app, Method::GET, &ada.token, &path, None).await?,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(shown["name"], "Private");
    assert_eq!(shown["message_count"], 1);
    Ok(())
}

async fn invite(
    app: &TestApp,
    sink: &SmtpSink,
    owner: &Owner,
    email: &str,
    workspace_roles: Value,
) -> Result<String, Error> {
    let response = post(
        app,
        &owner.token,
        "/v1/users",
        json!({"email": email, "full_name": "Member", "account_roles": ["member"], "workspace_roles": workspace_roles}),
    )
    .await?;
    json_of(response, StatusCode::CREATED).await?;
    let message = sink
        .wait_for(&format!("To: {email}"))
        .await
        .ok_or("invitation")?;
    let code = code_in(&message).ok_or("code")?;
    let tokens: Value = app
        .post_json(
            "/v1/invitations/accept",
            &json!({"email": email, "code": code, "password": "member password"}),
        )
        .await?
        .json()
        .await?;
    Ok(tokens["access_token"].as_str().ok_or("token")?.to_owned())
}

#[tokio::test]
async fn search_finds_what_the_caller_may_read_and_viewers_cannot_publish() -> TestResult {
    let (sink, url) = SmtpSink::start().await?;
    let app = spawn_app_with(|settings| settings.email.smtp_url = Some(url.into())).await?;
    let ada = owner(&app, "ada@example.com").await?;
    let second: Value = json_of(
        post(
            &app,
            &ada.token,
            "/v1/workspaces",
            json!({"name": "Second"}),
        )
        .await?,
        StatusCode::CREATED,
    )
    .await?;
    let second_id = second["id"].as_str().ok_or("id")?.to_owned();
    let in_default = create_campaign(&app, &ada, "In default").await?;
    let in_second = json_of(
        post(
            &app,
            &ada.token,
            &format!("/v1/workspaces/{second_id}/campaigns"),
            json!({"name": "In second", "channel": "push", "group_ids": []}),
        )
        .await?,
        StatusCode::CREATED,
    )
    .await?;
    call(
        &app,
        Method::PATCH,
        &ada.token,
        &campaign_path(&ada.workspace, &in_default),
        Some(json!({"status": "active"})),
    )
    .await?;

    let viewer = invite(
        &app,
        &sink,
        &ada,
        "viewer@example.com",
        json!([{"workspace_id": ada.workspace, "role": "viewer"}]),
    )
    .await?;
    let ids = |page: &Value| -> Vec<Value> {
        page["items"]
            .as_array()
            .map(|items| items.iter().map(|c| c["id"].clone()).collect())
            .unwrap_or_default()
    };

    let all = json_of(
        post(
            &app,
            &ada.token,
            "/v1/campaigns/search",
            json!({"page": 1, "page_size": 50}),
        )
        .await?,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(
        ids(&all),
        vec![in_second["id"].clone(), in_default["id"].clone()]
    );
    let active = json_of(
        post(
            &app,
            &ada.token,
            "/v1/campaigns/search",
            json!({"status": "active", "page": 1, "page_size": 50}),
        )
        .await?,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(ids(&active), vec![in_default["id"].clone()]);
    let narrowed = json_of(
        post(
            &app,
            &ada.token,
            "/v1/campaigns/search",
            json!({"workspace_ids": [second_id], "page": 1, "page_size": 50}),
        )
        .await?,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(ids(&narrowed), vec![in_second["id"].clone()]);

    let seen = json_of(
        post(
            &app,
            &viewer,
            "/v1/campaigns/search",
            json!({"page": 1, "page_size": 50}),
        )
        .await?,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(
        ids(&seen),
        vec![in_default["id"].clone()],
        "only the workspace the viewer reads"
    );
    assert_eq!(seen["total_items"], 1);
    let asked_for_more = json_of(
        post(
            &app,
            &viewer,
            "/v1/campaigns/search",
            json!({"workspace_ids": [second_id], "page": 1, "page_size": 50}),
        )
        .await?,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(asked_for_more["total_items"], 0);
    let pages = json_of(
        post(
            &app,
            &viewer,
            "/v1/campaigns/search/pages",
            json!({"page_size": 1}),
        )
        .await?,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(
        pages,
        json!({"page_size": 1, "total_items": 1, "total_pages": 1})
    );

    // The viewer reads campaigns, but neither publishes nor reads messages; the second
    // workspace, where they hold no role, does not exist for them.
    let customer = add_customer(&app, &ada.workspace).await?;
    let path = campaign_path(&ada.workspace, &in_default);
    json_of(
        call(&app, Method::GET, &viewer, &path, None).await?,
        StatusCode::OK,
    )
    .await?;
    let publish = post(
        &app,
        &viewer,
        &format!("{path}/messages/publish"),
        json!({"messages": [{"customer_id": customer, "body": "x"}]}),
    )
    .await?;
    expect_error(publish, StatusCode::FORBIDDEN, "forbidden").await?;
    let read = post(
        &app,
        &viewer,
        &format!("{path}/messages/retrieve"),
        json!({}),
    )
    .await?;
    expect_error(read, StatusCode::FORBIDDEN, "forbidden").await?;
    let elsewhere = call(
        &app,
        Method::GET,
        &viewer,
        &campaign_path(&second_id, &in_second),
        None,
    )
    .await?;
    expect_error(elsewhere, StatusCode::NOT_FOUND, "not_found").await?;

    let nobody = invite(&app, &sink, &ada, "nobody@example.com", json!([])).await?;
    let refused = post(
        &app,
        &nobody,
        "/v1/campaigns/search",
        json!({"page": 1, "page_size": 50}),
    )
    .await?;
    expect_error(refused, StatusCode::FORBIDDEN, "forbidden").await?;
    Ok(())
}

#[tokio::test]
async fn a_tampered_message_is_a_500_that_leaks_nothing() -> TestResult {
    let app = spawn_app().await?;
    let ada = owner(&app, "ada@example.com").await?;
    let campaign = create_campaign(&app, &ada, "Tampered").await?;
    let path = campaign_path(&ada.workspace, &campaign);
    let customer = add_customer(&app, &ada.workspace).await?;
    post(
        &app,
        &ada.token,
        &format!("{path}/messages/publish"),
        json!({"messages": [{"customer_id": customer, "body": "very secret words"}]}),
    )
    .await?;
    sql(
        &app,
        "UPDATE campaign_messages SET sealed = set_byte(sealed, 30, get_byte(sealed, 30) # 1)",
    )
    .await?;
    let response = post(
        &app,
        &ada.token,
        &format!("{path}/messages/retrieve"),
        json!({}),
    )
    .await?;
    let body = expect_error(
        response,
        StatusCode::INTERNAL_SERVER_ERROR,
        "message_integrity_error",
    )
    .await?;
    let text = body.to_string();
    assert!(
        !text.contains("secret") && !text.contains(&customer),
        "{text}"
    );
    Ok(())
}

#[tokio::test]
async fn rotating_the_master_key_keeps_every_message_readable_on_a_running_server() -> TestResult {
    let dir = std::env::temp_dir().join(format!("ns-e2e-keys-{}", uuid::Uuid::now_v7().simple()));
    let key_file = dir.join("message-master.keys");
    let file = key_file.clone();
    let app = spawn_app_with(move |settings| {
        settings.keys.message_master_keys = None;
        settings.keys.message_master_key_file = file;
    })
    .await?;
    let ada = owner(&app, "ada@example.com").await?;
    let campaign = create_campaign(&app, &ada, "Rotated").await?;
    let path = campaign_path(&ada.workspace, &campaign);
    let customer = add_customer(&app, &ada.workspace).await?;
    let sent = messages_for(std::slice::from_ref(&customer), 3);
    json_of(
        post(
            &app,
            &ada.token,
            &format!("{path}/messages/publish"),
            json!({"messages": sent}),
        )
        .await?,
        StatusCode::CREATED,
    )
    .await?;
    let before = json_of(
        post(
            &app,
            &ada.token,
            &format!("{path}/messages/retrieve"),
            json!({}),
        )
        .await?,
        StatusCode::OK,
    )
    .await?;

    // The operator command, against the running server's database and key file.
    let rotation = app::admin::rotate_message_master_key(&app.settings, false).await?;
    let new_key = rotation.generated.ok_or("a key was generated")?;
    assert_eq!(rotation.outcome.master_key_id, new_key);
    assert_eq!(rotation.outcome.rewrapped, 1);
    assert!(rotation.outcome.failed.is_empty());
    let status = app::admin::message_master_keys(&app.settings).await?;
    assert!(
        status[0].starts_with(&new_key) && status[0].contains("1 workspace data keys"),
        "{status:?}"
    );

    // The server, started before the rotation, still reads everything.
    let after = json_of(
        post(
            &app,
            &ada.token,
            &format!("{path}/messages/retrieve"),
            json!({}),
        )
        .await?,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(after["items"], before["items"]);
    // And keeps publishing.
    json_of(
        post(
            &app,
            &ada.token,
            &format!("{path}/messages/publish"),
            json!({"messages": messages_for(&[customer], 1)}),
        )
        .await?,
        StatusCode::CREATED,
    )
    .await?;
    // Running it again finds nothing left to do.
    let again = app::admin::rotate_message_master_key(&app.settings, true).await?;
    assert_eq!((again.generated, again.outcome.rewrapped), (None, 0));
    std::fs::remove_dir_all(dir)?;
    Ok(())
}
