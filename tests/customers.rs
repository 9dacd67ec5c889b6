//! Customers over HTTP: uploads (raw CSV, multipart, JSON), validation reports, lists and
//! pages, updates and deletes, groups, profile fields, limits and tenancy.

use nudgescribe_e2e::{Error, TestApp, TestResult, expect_error, spawn_app, spawn_app_with};
use reqwest::multipart::{Form, Part};
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

impl Owner {
    fn path(&self, rest: &str) -> String {
        format!("/v1/workspaces/{}{rest}", self.workspace)
    }

    async fn call(
        &self,
        app: &TestApp,
        method: Method,
        rest: &str,
        body: Option<Value>,
    ) -> Result<Response, Error> {
        let mut request = app
            .client
            .request(method, app.url(&self.path(rest)))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        Ok(request.send().await?)
    }

    async fn csv(&self, app: &TestApp, mode: &str, csv: &str) -> Result<Response, Error> {
        Ok(app
            .client
            .post(app.url(&self.path(&format!("/customers/upload?mode={mode}"))))
            .bearer_auth(&self.token)
            .header("content-type", "text/csv")
            .body(csv.to_owned())
            .send()
            .await?)
    }

    async fn field(&self, app: &TestApp, body: Value) -> Result<Value, Error> {
        json_of(
            self.call(app, Method::POST, "/profile-fields", Some(body))
                .await?,
            StatusCode::CREATED,
        )
        .await
    }

    async fn list(&self, app: &TestApp, query: &str) -> Result<Value, Error> {
        json_of(
            self.call(app, Method::GET, &format!("/customers{query}"), None)
                .await?,
            StatusCode::OK,
        )
        .await
    }
}

async fn json_of(response: Response, status: StatusCode) -> Result<Value, Error> {
    let got = response.status();
    let body: Value = response.json().await?;
    assert_eq!(got, status, "{body}");
    Ok(body)
}

fn counts(report: &Value) -> (i64, i64, i64, i64, i64) {
    let n = |k: &str| report[k].as_i64().unwrap_or(-1);
    (
        n("total_rows"),
        n("valid_rows"),
        n("invalid_rows"),
        n("created"),
        n("updated"),
    )
}

fn rows_and_fields(report: &Value) -> Vec<(i64, String)> {
    report["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    (
                        e["row"].as_i64().unwrap_or(-1),
                        e["field"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

const FILE: &str = "external_id,email,phone,first_name,last_name,tier,joined\n\
c-1,ada@example.com,+14155550101,Ada,Lovelace,gold,2020-01-31\n\
c-2,alan@example.com,not-a-phone,Alan,Turing,gold,2020-02-30\n\
c-3,grace@example.com,,Grace,Hopper,platinum,\n\
c-4,,+447911123456,Nameless,,silver,2021-12-01\n";

async fn with_fields(app: &TestApp, o: &Owner) -> TestResult {
    o.field(
        app,
        json!({"key": "tier", "label": "Tier", "type": "enum", "options": ["gold", "silver"]}),
    )
    .await?;
    o.field(
        app,
        json!({"key": "joined", "label": "Joined", "type": "date"}),
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn a_csv_upload_reports_each_bad_row_by_line_and_writes_the_rest() -> TestResult {
    let app = spawn_app().await?;
    let o = owner(&app, "upload@example.com").await?;
    with_fields(&app, &o).await?;
    let checked = json_of(o.csv(&app, "validate", FILE).await?, StatusCode::OK).await?;
    assert_eq!(counts(&checked), (4, 2, 2, 0, 0));
    assert_eq!(
        o.list(&app, "").await?["total_items"],
        0,
        "validate writes nothing"
    );

    let report = json_of(o.csv(&app, "upsert", FILE).await?, StatusCode::OK).await?;
    assert_eq!(counts(&report), (4, 2, 2, 2, 0));
    assert_eq!(
        rows_and_fields(&report),
        vec![
            (3, "phone".into()),
            (3, "joined".into()),
            (4, "tier".into())
        ]
    );
    assert_eq!(report["errors_truncated"], false);

    let list = o.list(&app, "").await?;
    assert_eq!(list["total_items"], 2);
    let ada = &list["items"][0];
    assert_eq!(ada["email"], "ada@example.com");
    assert_eq!(
        ada["attributes"],
        json!({"tier": "gold", "joined": "2020-01-31"})
    );
    assert_eq!(ada["group_ids"], json!([]));

    let again = json_of(o.csv(&app, "upsert", FILE).await?, StatusCode::OK).await?;
    assert_eq!(
        counts(&again),
        (4, 2, 2, 0, 2),
        "a re-upload creates nothing"
    );
    assert_eq!(
        o.list(&app, "").await?["items"],
        list["items"],
        "and changes nothing"
    );
    Ok(())
}

#[tokio::test]
async fn multipart_json_and_raw_csv_uploads_agree() -> TestResult {
    let app = spawn_app().await?;
    let raw = owner(&app, "raw@example.com").await?;
    let form = owner(&app, "form@example.com").await?;
    let json_owner = owner(&app, "json@example.com").await?;
    for o in [&raw, &form, &json_owner] {
        with_fields(&app, o).await?;
    }
    let from_raw = json_of(raw.csv(&app, "upsert", FILE).await?, StatusCode::OK).await?;
    let part = Part::bytes(FILE.as_bytes().to_vec())
        .file_name("customers.csv")
        .mime_str("text/csv")?;
    let response = app
        .client
        .post(app.url(&form.path("/customers/upload")))
        .bearer_auth(&form.token)
        .multipart(Form::new().text("note", "ignored").part("file", part))
        .send()
        .await?;
    let from_form = json_of(response, StatusCode::OK).await?;
    assert_eq!(from_raw, from_form);

    let array = json!([
        {"external_id": "c-1", "email": "ada@example.com", "tier": "gold", "joined": "2020-01-31"},
        {"external_id": "c-2", "email": "alan@example.com", "phone": "not-a-phone"},
        {"external_id": "c-3", "email": "grace@example.com", "tier": 7},
    ]);
    let from_json = json_of(
        json_owner
            .call(&app, Method::POST, "/customers/upload", Some(array))
            .await?,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(counts(&from_json), (3, 1, 2, 1, 0));
    assert_eq!(
        rows_and_fields(&from_json),
        vec![(2, "phone".into()), (3, "tier".into())]
    );
    Ok(())
}

#[tokio::test]
async fn bad_uploads_are_clear_4xx_answers() -> TestResult {
    let app = spawn_app_with(|s| s.customers.max_upload_bytes = 2_000).await?;
    let o = owner(&app, "bad@example.com").await?;
    let unknown = o.csv(&app, "upsert", "email,shoe_size\na@x.io,9\n").await?;
    let body = expect_error(unknown, StatusCode::BAD_REQUEST, "validation_failed").await?;
    assert_eq!(body["fields"][0]["field"], "shoe_size");

    let big = format!("email\n{}", "someone@example.com\n".repeat(200));
    expect_error(
        o.csv(&app, "upsert", &big).await?,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await?;
    assert_eq!(
        o.list(&app, "").await?["total_items"],
        0,
        "nothing of it was written"
    );

    let xml = app
        .client
        .post(app.url(&o.path("/customers/upload")))
        .bearer_auth(&o.token)
        .header("content-type", "application/xml")
        .body("<customers/>")
        .send()
        .await?;
    expect_error(
        xml,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await?;
    let not_an_array = o
        .call(
            &app,
            Method::POST,
            "/customers/upload",
            Some(json!({"email": "a@x.io"})),
        )
        .await?;
    expect_error(not_an_array, StatusCode::BAD_REQUEST, "bad_request").await?;
    let mut broken = b"email,first_name\nok@x.io,Ok\nbad@x.io,".to_vec();
    broken.extend_from_slice(&[0xC3, 0x28, b'\n']);
    broken.extend_from_slice(b"q@x.io,\"unclosed\n");
    let response = app
        .client
        .post(app.url(&o.path("/customers/upload")))
        .bearer_auth(&o.token)
        .header("content-type", "text/csv")
        .body(broken)
        .send()
        .await?;
    let report = json_of(response, StatusCode::OK).await?;
    assert_eq!(
        rows_and_fields(&report),
        vec![(3, "first_name".into()), (4, "row".into())]
    );
    let bad_mode = o.csv(&app, "sometimes", "email\n").await?;
    expect_error(bad_mode, StatusCode::BAD_REQUEST, "bad_request").await?;
    Ok(())
}

#[tokio::test]
async fn ten_thousand_rows_page_by_number_and_by_cursor() -> TestResult {
    let app = spawn_app().await?;
    let o = owner(&app, "many@example.com").await?;
    let mut csv = String::from("external_id,email,first_name\n");
    for i in 0..10_000 {
        csv.push_str(&format!("id-{i:05},user{i}@example.com,User{i}\n"));
    }
    let report = json_of(o.csv(&app, "upsert", &csv).await?, StatusCode::OK).await?;
    assert_eq!(counts(&report), (10_000, 10_000, 0, 10_000, 0));

    let pages = json_of(
        o.call(&app, Method::GET, "/customers/pages?page_size=500", None)
            .await?,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(
        pages,
        json!({"page_size": 500, "total_items": 10_000, "total_pages": 20})
    );

    let mut seen = std::collections::HashSet::new();
    let mut query = "?page_size=500".to_owned();
    loop {
        let page = o.list(&app, &query).await?;
        for item in page["items"].as_array().ok_or("items")? {
            assert!(seen.insert(item["id"].as_str().unwrap_or("").to_owned()));
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("?page_size=500&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 10_000);
    let third = o.list(&app, "?page=3&page_size=2").await?;
    assert_eq!(third["items"][0]["external_id"], "id-00004");
    let found = o.list(&app, "?search=user999").await?;
    assert_eq!(found["total_items"], 11, "user999 and user9990..user9999");
    Ok(())
}

#[tokio::test]
async fn customers_are_read_changed_and_deleted_one_by_one_and_in_bulk() -> TestResult {
    let app = spawn_app().await?;
    let o = owner(&app, "crud@example.com").await?;
    with_fields(&app, &o).await?;
    o.csv(&app, "upsert", FILE).await?;
    let items = o.list(&app, "").await?["items"].clone();
    let ada = items[0]["id"].as_str().ok_or("id")?.to_owned();
    let nameless = items[1]["id"].as_str().ok_or("id")?.to_owned();

    let patched = json_of(
        o.call(
            &app,
            Method::PATCH,
            &format!("/customers/{ada}"),
            Some(json!({"first_name": "Augusta", "phone": null, "attributes": {"joined": null, "tier": "silver"}})),
        )
        .await?,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(patched["first_name"], "Augusta");
    assert_eq!(patched["phone"], Value::Null);
    assert_eq!(patched["last_name"], "Lovelace");
    assert_eq!(patched["attributes"], json!({"tier": "silver"}));

    let bad = o
        .call(
            &app,
            Method::PATCH,
            &format!("/customers/{ada}"),
            Some(json!({"attributes": {"tier": "bronze"}})),
        )
        .await?;
    let body = expect_error(bad, StatusCode::BAD_REQUEST, "validation_failed").await?;
    assert_eq!(body["fields"][0]["field"], "attributes.tier");
    let taken = o
        .call(
            &app,
            Method::PATCH,
            &format!("/customers/{ada}"),
            Some(json!({"external_id": "c-4"})),
        )
        .await?;
    expect_error(taken, StatusCode::CONFLICT, "conflict").await?;

    let nobody = uuid::Uuid::now_v7();
    let bulk = json_of(
        o.call(
            &app,
            Method::PATCH,
            "/customers",
            Some(json!({"customers": [
                {"id": nameless, "last_name": "Doe"},
                {"id": nobody, "first_name": "X"},
                {"id": ada, "phone": "12"},
            ]})),
        )
        .await?,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(bulk["updated"], 1);
    let failed: Vec<i64> = bulk["errors"]
        .as_array()
        .ok_or("errors")?
        .iter()
        .map(|e| e["index"].as_i64().unwrap_or(-1))
        .collect();
    assert_eq!(failed, vec![1, 2]);

    let removed = o
        .call(&app, Method::DELETE, &format!("/customers/{ada}"), None)
        .await?;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    let gone = o
        .call(&app, Method::GET, &format!("/customers/{ada}"), None)
        .await?;
    expect_error(gone, StatusCode::NOT_FOUND, "not_found").await?;
    let deleted = json_of(
        o.call(
            &app,
            Method::POST,
            "/customers/bulk-delete",
            Some(json!({"ids": [nameless, nobody]})),
        )
        .await?,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(deleted["deleted"], 1);
    assert_eq!(o.list(&app, "").await?["total_items"], 0);
    Ok(())
}

#[tokio::test]
async fn groups_count_members_filter_lists_and_leave_customers_when_deleted() -> TestResult {
    let app = spawn_app().await?;
    let o = owner(&app, "groups@example.com").await?;
    o.csv(&app, "upsert", "email\na@x.io\nb@x.io\nc@x.io\n")
        .await?;
    let ids: Vec<String> = o.list(&app, "").await?["items"]
        .as_array()
        .ok_or("items")?
        .iter()
        .filter_map(|c| c["id"].as_str().map(String::from))
        .collect();
    let group = json_of(
        o.call(
            &app,
            Method::POST,
            "/customer-groups",
            Some(json!({"name": "VIP", "description": "best"})),
        )
        .await?,
        StatusCode::CREATED,
    )
    .await?;
    let gid = group["id"].as_str().ok_or("id")?.to_owned();
    let twin = o
        .call(
            &app,
            Method::POST,
            "/customer-groups",
            Some(json!({"name": "VIP"})),
        )
        .await?;
    expect_error(twin, StatusCode::CONFLICT, "conflict").await?;
    let added = json_of(
        o.call(
            &app,
            Method::POST,
            &format!("/customer-groups/{gid}/members"),
            Some(json!({"customer_ids": &ids[..2]})),
        )
        .await?,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(added["added"], 2);
    let stranger = o
        .call(
            &app,
            Method::POST,
            &format!("/customer-groups/{gid}/members"),
            Some(json!({"customer_ids": [uuid::Uuid::now_v7()]})),
        )
        .await?;
    expect_error(stranger, StatusCode::BAD_REQUEST, "validation_failed").await?;
    let listed = json_of(
        o.call(&app, Method::GET, "/customer-groups", None).await?,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(listed["items"][0]["member_count"], 2);
    o.call(
        &app,
        Method::POST,
        "/customer-groups",
        Some(json!({"name": "Later"})),
    )
    .await?;
    let first = json_of(
        o.call(&app, Method::GET, "/customer-groups?page_size=1", None)
            .await?,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(
        (
            first["items"][0]["name"].as_str(),
            first["total_items"].as_i64()
        ),
        (Some("VIP"), Some(2))
    );
    let cursor = first["next_cursor"].as_str().ok_or("cursor")?;
    let next = json_of(
        o.call(
            &app,
            Method::GET,
            &format!("/customer-groups?page_size=1&cursor={cursor}"),
            None,
        )
        .await?,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(
        next["items"][0]["name"], "Later",
        "the cursor continues after VIP"
    );
    let members = o.list(&app, &format!("?group_id={gid}")).await?;
    assert_eq!(members["total_items"], 2);
    assert_eq!(members["items"][0]["group_ids"], json!([gid]));
    let removed = json_of(
        o.call(
            &app,
            Method::POST,
            &format!("/customer-groups/{gid}/members/remove"),
            Some(json!({"customer_ids": &ids[..1]})),
        )
        .await?,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(removed["removed"], 1);
    let renamed = json_of(
        o.call(
            &app,
            Method::PATCH,
            &format!("/customer-groups/{gid}"),
            Some(json!({"name": "VVIP"})),
        )
        .await?,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(
        (renamed["name"].as_str(), renamed["member_count"].as_i64()),
        (Some("VVIP"), Some(1))
    );
    let deleted = o
        .call(
            &app,
            Method::DELETE,
            &format!("/customer-groups/{gid}"),
            None,
        )
        .await?;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let after = o.list(&app, "").await?;
    assert_eq!(after["total_items"], 3, "the customers stay");
    assert!(
        after["items"]
            .as_array()
            .ok_or("items")?
            .iter()
            .all(|c| c["group_ids"] == json!([]))
    );
    Ok(())
}

#[tokio::test]
async fn profile_fields_refuse_changes_that_stored_values_would_not_fit() -> TestResult {
    let app = spawn_app().await?;
    let o = owner(&app, "fields@example.com").await?;
    let field = o
        .field(
            &app,
            json!({"key": "score", "label": "Score", "type": "string"}),
        )
        .await?;
    let id = field["id"].as_str().ok_or("id")?.to_owned();
    for (body, code) in [
        (
            json!({"key": "Score", "label": "x", "type": "string"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"key": "email", "label": "x", "type": "string"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"key": "plan", "label": "x", "type": "enum"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"key": "score", "label": "x", "type": "number"}),
            StatusCode::CONFLICT,
        ),
    ] {
        let response = o
            .call(&app, Method::POST, "/profile-fields", Some(body.clone()))
            .await?;
        assert_eq!(response.status(), code, "{body}");
    }
    o.csv(&app, "upsert", "email,score\na@x.io,12\nb@x.io,high\n")
        .await?;
    let to_number = o
        .call(
            &app,
            Method::PATCH,
            &format!("/profile-fields/{id}"),
            Some(json!({"type": "number"})),
        )
        .await?;
    expect_error(to_number, StatusCode::CONFLICT, "conflict").await?;
    let relabelled = json_of(
        o.call(
            &app,
            Method::PATCH,
            &format!("/profile-fields/{id}"),
            Some(json!({"label": "Points"})),
        )
        .await?,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(
        (relabelled["label"].as_str(), relabelled["type"].as_str()),
        (Some("Points"), Some("string"))
    );
    let deleted = o
        .call(&app, Method::DELETE, &format!("/profile-fields/{id}"), None)
        .await?;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let customers = o.list(&app, "").await?;
    assert!(
        customers["items"]
            .as_array()
            .ok_or("items")?
            .iter()
            .all(|c| c["attributes"] == json!({}))
    );
    Ok(())
}

#[tokio::test]
async fn another_accounts_customers_groups_and_fields_answer_404() -> TestResult {
    let app = spawn_app().await?;
    let a = owner(&app, "alice@example.com").await?;
    let b = owner(&app, "bob@example.com").await?;
    a.csv(&app, "upsert", "email\nsecret@x.io\n").await?;
    let customer = a.list(&app, "").await?["items"][0]["id"]
        .as_str()
        .ok_or("id")?
        .to_owned();
    let group = json_of(
        a.call(
            &app,
            Method::POST,
            "/customer-groups",
            Some(json!({"name": "G"})),
        )
        .await?,
        StatusCode::CREATED,
    )
    .await?["id"]
        .as_str()
        .ok_or("id")?
        .to_owned();
    let field = a
        .field(&app, json!({"key": "k", "label": "K", "type": "string"}))
        .await?["id"]
        .as_str()
        .ok_or("id")?
        .to_owned();
    // Bob, with his own token, names Alice's workspace and objects.
    let mallory = Owner {
        token: b.token.clone(),
        workspace: a.workspace.clone(),
    };
    let probes = [
        (Method::GET, "/customers".to_owned(), None),
        (Method::GET, "/customers/pages".to_owned(), None),
        (Method::GET, format!("/customers/{customer}"), None),
        (
            Method::PATCH,
            format!("/customers/{customer}"),
            Some(json!({"first_name": "X"})),
        ),
        (Method::DELETE, format!("/customers/{customer}"), None),
        (
            Method::POST,
            "/customers/bulk-delete".to_owned(),
            Some(json!({"ids": [customer]})),
        ),
        (
            Method::POST,
            "/customers/upload".to_owned(),
            Some(json!([{"email": "x@x.io"}])),
        ),
        (Method::GET, format!("/customer-groups/{group}"), None),
        (Method::DELETE, format!("/customer-groups/{group}"), None),
        (
            Method::POST,
            format!("/customer-groups/{group}/members"),
            Some(json!({"customer_ids": [customer]})),
        ),
        (Method::GET, "/profile-fields".to_owned(), None),
        (Method::DELETE, format!("/profile-fields/{field}"), None),
    ];
    for (method, path, body) in probes {
        let response = mallory.call(&app, method.clone(), &path, body).await?;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{method} {path}");
    }
    // Bob's own workspace with Alice's ids.
    let in_own = b
        .call(&app, Method::GET, &format!("/customers/{customer}"), None)
        .await?;
    assert_eq!(in_own.status(), StatusCode::NOT_FOUND);
    let bulk = json_of(
        b.call(
            &app,
            Method::POST,
            "/customers/bulk-delete",
            Some(json!({"ids": [customer]})),
        )
        .await?,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(bulk["deleted"], 0);
    assert_eq!(
        a.list(&app, "").await?["total_items"],
        1,
        "nothing of Alice's changed"
    );
    Ok(())
}
