//! Tenant isolation, swept: two accounts with data in every tenant table; every operation of
//! the OpenAPI document is called by one tenant with the other's ids (in the path, in the
//! body, in the query) and must answer 404/403 — never the other's data, never a change to
//! it. An operation that is neither swept nor excluded (with its reason) fails the sweep, so a
//! new endpoint is covered or consciously left out. Then the database itself: every tenant
//! table, enumerated from the schema, is read and written as one tenant aiming at the other.

use std::collections::{BTreeMap, BTreeSet};

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl as _;
use nudgescribe_e2e::totp::{base32, now, totp};
use nudgescribe_e2e::{Error, TestApp, TestResult, spawn_app};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Operations with a tenant object to aim at: (method, OpenAPI path, query, body). `{ws}`,
/// `{customer}`, `{group}`, `{field}`, `{campaign}`, `{message}`, `{user}`, `{key}` stand for
/// the ids of whichever tenant a probe aims at; path parameters are filled the same way.
type Swept = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
);
#[rustfmt::skip]
const SWEPT: &[Swept] = &[
    ("get", "/v1/workspaces/{workspace_id}", "", None),
    ("patch", "/v1/workspaces/{workspace_id}", "", Some(r#"{"name": "Hijacked"}"#)),
    ("delete", "/v1/workspaces/{workspace_id}", "", None),
    ("put", "/v1/users/{user_id}/roles", "", Some(r#"{"account_roles": ["admin"], "workspace_roles": [{"workspace_id": "{ws}", "role": "manager"}]}"#)),
    ("delete", "/v1/users/{user_id}", "", None),
    ("post", "/v1/users", "", Some(r#"{"email": "hijack-invite@example.com", "full_name": "Hijack", "account_roles": [], "workspace_roles": [{"workspace_id": "{ws}", "role": "manager"}]}"#)),
    ("get", "/v1/audit-events", "?user_id={user}", None),
    ("delete", "/v1/auth/keys/{key_id}", "", None),
    ("delete", "/v1/account/api-keys/{key_id}", "", None),
    ("delete", "/v1/me/sessions/{session_id}", "", None),
    ("post", "/v1/campaigns/search", "", Some(r#"{"workspace_ids": ["{ws}"], "page": 1, "page_size": 50}"#)),
    ("post", "/v1/campaigns/search/pages", "", Some(r#"{"workspace_ids": ["{ws}"], "page_size": 50}"#)),
    ("post", "/v1/workspaces/{workspace_id}/campaigns", "", Some(r#"{"name": "Hijack", "channel": "email", "group_ids": ["{group}"]}"#)),
    ("get", "/v1/workspaces/{workspace_id}/campaigns", "", None),
    ("get", "/v1/workspaces/{workspace_id}/campaigns/pages", "", None),
    ("get", "/v1/workspaces/{workspace_id}/campaigns/{campaign_id}", "", None),
    ("patch", "/v1/workspaces/{workspace_id}/campaigns/{campaign_id}", "", Some(r#"{"name": "Hijacked", "group_ids": ["{group}"]}"#)),
    ("delete", "/v1/workspaces/{workspace_id}/campaigns/{campaign_id}", "", None),
    ("post", "/v1/workspaces/{workspace_id}/campaigns/{campaign_id}/messages/publish", "", Some(r#"{"messages": [{"customer_id": "{customer}", "body": "Hijack"}]}"#)),
    ("post", "/v1/workspaces/{workspace_id}/campaigns/{campaign_id}/messages/retrieve", "", Some(r#"{"page": 1, "page_size": 50, "customer_ids": ["{customer}"], "message_ids": ["{message}"]}"#)),
    ("post", "/v1/workspaces/{workspace_id}/campaigns/{campaign_id}/messages/pages", "", Some(r#"{"page_size": 50, "customer_ids": ["{customer}"]}"#)),
    ("post", "/v1/workspaces/{workspace_id}/customers/upload", "", Some(r#"[{"external_id": "{customer}", "first_name": "Hijacked"}]"#)),
    ("get", "/v1/workspaces/{workspace_id}/customers", "?group_id={group}", None),
    ("get", "/v1/workspaces/{workspace_id}/customers/pages", "?group_id={group}", None),
    ("patch", "/v1/workspaces/{workspace_id}/customers", "", Some(r#"{"customers": [{"id": "{customer}", "first_name": "Hijacked"}]}"#)),
    ("post", "/v1/workspaces/{workspace_id}/customers/bulk-delete", "", Some(r#"{"ids": ["{customer}"]}"#)),
    ("get", "/v1/workspaces/{workspace_id}/customers/{customer_id}", "", None),
    ("patch", "/v1/workspaces/{workspace_id}/customers/{customer_id}", "", Some(r#"{"first_name": "Hijacked"}"#)),
    ("delete", "/v1/workspaces/{workspace_id}/customers/{customer_id}", "", None),
    ("post", "/v1/workspaces/{workspace_id}/customer-groups", "", Some(r#"{"name": "Hijack group"}"#)),
    ("get", "/v1/workspaces/{workspace_id}/customer-groups", "", None),
    ("get", "/v1/workspaces/{workspace_id}/customer-groups/{group_id}", "", None),
    ("patch", "/v1/workspaces/{workspace_id}/customer-groups/{group_id}", "", Some(r#"{"name": "Hijacked"}"#)),
    ("delete", "/v1/workspaces/{workspace_id}/customer-groups/{group_id}", "", None),
    ("post", "/v1/workspaces/{workspace_id}/customer-groups/{group_id}/members", "", Some(r#"{"customer_ids": ["{customer}"]}"#)),
    ("post", "/v1/workspaces/{workspace_id}/customer-groups/{group_id}/members/remove", "", Some(r#"{"customer_ids": ["{customer}"]}"#)),
    ("post", "/v1/workspaces/{workspace_id}/profile-fields", "", Some(r#"{"key": "hijack_field", "label": "Hijack", "type": "string"}"#)),
    ("get", "/v1/workspaces/{workspace_id}/profile-fields", "", None),
    ("patch", "/v1/workspaces/{workspace_id}/profile-fields/{field_id}", "", Some(r#"{"label": "Hijacked"}"#)),
    ("delete", "/v1/workspaces/{workspace_id}/profile-fields/{field_id}", "", None),
];

/// Operations with no other tenant's object to name, and why.
const EXCLUDED: &[(&str, &str, &str)] = &[
    ("get", "/v1/me", "the caller's own record"),
    ("post", "/v1/me/password", "the caller's own password"),
    ("post", "/v1/me/mfa/totp/setup", "the caller's own MFA"),
    ("post", "/v1/me/mfa/totp/activate", "the caller's own MFA"),
    ("delete", "/v1/me/mfa/totp", "the caller's own MFA"),
    ("post", "/v1/me/email/verify", "the caller's own address"),
    (
        "post",
        "/v1/me/email/verify/resend",
        "the caller's own address",
    ),
    (
        "get",
        "/v1/users",
        "the caller's account only; checked for foreign rows below",
    ),
    (
        "get",
        "/v1/workspaces",
        "the caller's account only; checked for foreign rows below",
    ),
    ("post", "/v1/workspaces", "creates in the caller's account"),
    (
        "get",
        "/v1/auth/keys",
        "the caller's keys; checked for foreign rows below",
    ),
    ("post", "/v1/auth/keys", "creates for the caller"),
    (
        "get",
        "/v1/account/api-keys",
        "the caller's account only; checked for foreign rows below",
    ),
    (
        "get",
        "/v1/me/sessions",
        "the caller's own sessions; checked for foreign rows below",
    ),
    ("post", "/v1/auth/logout", "ends the caller's own session"),
    ("post", "/v1/signup", "public: no tenant yet"),
    ("post", "/v1/auth/login", "public: credentials, no ids"),
    ("post", "/v1/auth/login/mfa", "public: an MFA token, no ids"),
    ("post", "/v1/invitations/accept", "public: an emailed code"),
    ("post", "/v1/auth/password-reset", "public: an email"),
    (
        "post",
        "/v1/auth/password-reset/confirm",
        "public: an emailed code",
    ),
    ("post", "/v1/auth", "public: an API key secret"),
    ("get", "/v1/auth", "a refresh token"),
    ("trace", "/v1/auth", "a refresh token"),
    ("post", "/v1/auth/refresh", "a refresh token"),
    ("get", "/v1/auth/token", "an API key secret"),
    ("get", "/.well-known/jwks.json", "public keys"),
    ("get", "/health/live", "no data"),
    ("get", "/health/ready", "no data"),
    ("get", "/metrics", "no tenant data"),
];

/// A tenant with data in every table it can have data in.
struct Tenant {
    /// Every string of its data carries this, so that a leak is found by a text search.
    marker: String,
    token: String,
    account: String,
    owner: String,
    ids: BTreeMap<&'static str, String>,
}

async fn send(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Result<(StatusCode, Value), Error> {
    let mut request = app.client.request(method, app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await?;
    let status = response.status();
    let text = response.text().await?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

async fn created(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Value,
) -> Result<Value, Error> {
    let (status, body) = send(app, token, method, path, Some(body)).await?;
    assert!(status.is_success(), "{path}: {status} {body}");
    Ok(body)
}

fn id_of(value: &Value, key: &str) -> Result<String, Error> {
    Ok(value[key]
        .as_str()
        .ok_or_else(|| format!("no {key} in {value}"))?
        .to_owned())
}

async fn tenant(app: &TestApp, marker: &str) -> Result<Tenant, Error> {
    let email = format!("{marker}@example.com");
    let developer = app.developer(&email).await?;
    let token = developer.access_token.clone();
    let signed = &developer.signed.body;
    let account = signed["account"]["id"]
        .as_str()
        .ok_or("account")?
        .to_owned();
    let t = token.as_str();
    let capital = format!("{}{}", &marker[..1].to_uppercase(), &marker[1..]);

    let workspace = created(
        app,
        t,
        Method::POST,
        "/v1/workspaces",
        json!({"name": format!("{capital} workspace")}),
    )
    .await?;
    let ws = id_of(&workspace, "id")?;
    let in_ws = |rest: &str| format!("/v1/workspaces/{ws}{rest}");
    let field = created(
        app,
        t,
        Method::POST,
        &in_ws("/profile-fields"),
        json!({"key": format!("{marker}_field"), "label": format!("{capital} field"), "type": "string"}),
    )
    .await?;
    let report = created(
        app,
        t,
        Method::POST,
        &in_ws("/customers/upload"),
        json!([{
            "external_id": format!("{marker}-ext"),
            "email": format!("{marker}-customer@example.com"),
            "first_name": format!("{capital}First"),
            format!("{marker}_field"): format!("{capital}Attribute"),
        }]),
    )
    .await?;
    assert_eq!(report["created"], 1, "{report}");
    let (_, customers) = send(app, t, Method::GET, &in_ws("/customers"), None).await?;
    let customer = id_of(&customers["items"][0], "id")?;
    let group = created(
        app,
        t,
        Method::POST,
        &in_ws("/customer-groups"),
        json!({"name": format!("{capital} group"), "description": format!("{capital} description")}),
    )
    .await?;
    let group = id_of(&group, "id")?;
    created(
        app,
        t,
        Method::POST,
        &in_ws(&format!("/customer-groups/{group}/members")),
        json!({"customer_ids": [customer]}),
    )
    .await?;
    let campaign = created(
        app,
        t,
        Method::POST,
        &in_ws("/campaigns"),
        json!({"name": format!("{capital} campaign"), "channel": "email", "group_ids": [group]}),
    )
    .await?;
    let campaign = id_of(&campaign, "id")?;
    let published = created(
        app,
        t,
        Method::POST,
        &in_ws(&format!("/campaigns/{campaign}/messages/publish")),
        json!({"messages": [{"customer_id": customer, "subject": format!("{capital} subject"), "body": format!("{capital} secret body"), "metadata": {"m": marker}}]}),
    )
    .await?;
    let message = published["message_ids"][0]
        .as_str()
        .ok_or("message id")?
        .to_owned();
    created(
        app,
        t,
        Method::POST,
        &in_ws(&format!("/campaigns/{campaign}/messages/retrieve")),
        json!({"page": 1, "page_size": 10}),
    )
    .await?;
    let (key, api_key) = app
        .create_key(t, json!({"name": format!("{capital} key")}))
        .await?;
    assert_eq!(app.exchange(&api_key, None).await?.status(), StatusCode::OK);
    let invited = created(
        app,
        t,
        Method::POST,
        "/v1/users",
        json!({"email": format!("{marker}-member@example.com"), "full_name": format!("{capital} Member"),
               "account_roles": ["member"], "workspace_roles": [{"workspace_id": ws, "role": "viewer"}]}),
    )
    .await?;
    let member = id_of(&invited, "id")?;
    let (status, _) = send(
        app,
        t,
        Method::POST,
        "/v1/auth/password-reset",
        Some(json!({"email": email})),
    )
    .await?;
    assert_eq!(status, StatusCode::ACCEPTED);
    // MFA last: from now on a password alone no longer signs this owner in.
    let setup = created(app, t, Method::POST, "/v1/me/mfa/totp/setup", json!({})).await?;
    let secret = base32(setup["secret"].as_str().ok_or("secret")?);
    created(
        app,
        t,
        Method::POST,
        "/v1/me/mfa/totp/activate",
        json!({"code": totp(&secret, now())}),
    )
    .await?;
    // A second sign-in, through the MFA step (which redeems its token): a session to aim at.
    let step = app
        .post_json(
            "/v1/auth/login",
            &json!({"email": email, "password": developer.signed.password}),
        )
        .await?
        .json::<Value>()
        .await?;
    let second = app
        .post_json(
            "/v1/auth/login/mfa",
            &json!({"mfa_token": step["mfa_token"], "code": totp(&secret, now() + 30)}),
        )
        .await?;
    assert_eq!(second.status(), StatusCode::OK);
    let (_, sessions) = send(app, t, Method::GET, "/v1/me/sessions", None).await?;
    let session = sessions
        .as_array()
        .and_then(|all| all.iter().find(|s| s["current"] == false))
        .ok_or_else(|| format!("no second session in {sessions}"))?;
    let session = id_of(session, "id")?;

    let ids = BTreeMap::from([
        ("ws", ws),
        ("customer", customer),
        ("group", group),
        ("field", id_of(&field, "id")?),
        ("campaign", campaign),
        ("message", message),
        ("user", member),
        ("key", key),
        ("session", session),
    ]);
    Ok(Tenant {
        marker: marker.to_owned(),
        token,
        account,
        owner: developer.user_id,
        ids,
    })
}

/// Fills path parameters and placeholders with `path_ids` in the path, `body_ids` elsewhere.
fn fill(text: &str, ids: &BTreeMap<&'static str, String>) -> String {
    let mut filled = text.to_owned();
    for (name, parameter) in [
        ("ws", "workspace_id"),
        ("customer", "customer_id"),
        ("group", "group_id"),
        ("field", "field_id"),
        ("campaign", "campaign_id"),
        ("message", "message_id"),
        ("user", "user_id"),
        ("key", "key_id"),
        ("session", "session_id"),
    ] {
        let id = ids.get(name).map_or("", String::as_str);
        filled = filled
            .replace(&format!("{{{name}}}"), id)
            .replace(&format!("{{{parameter}}}"), id);
    }
    filled
}

/// What the victim sees of its own data, to compare before and after the sweep.
async fn snapshot(app: &TestApp, victim: &Tenant) -> Result<Vec<Value>, Error> {
    let ws = &victim.ids["ws"];
    let campaign = &victim.ids["campaign"];
    let mut seen = Vec::new();
    for path in [
        "/v1/users".to_owned(),
        "/v1/workspaces".to_owned(),
        "/v1/auth/keys".to_owned(),
        format!("/v1/workspaces/{ws}"),
        format!("/v1/workspaces/{ws}/customers"),
        format!("/v1/workspaces/{ws}/customer-groups"),
        format!("/v1/workspaces/{ws}/profile-fields"),
        format!("/v1/workspaces/{ws}/campaigns"),
    ] {
        let (status, body) = send(app, &victim.token, Method::GET, &path, None).await?;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        seen.push(body);
    }
    let (status, body) = send(
        app,
        &victim.token,
        Method::POST,
        &format!("/v1/workspaces/{ws}/campaigns/{campaign}/messages/retrieve"),
        Some(json!({"page": 1, "page_size": 50})),
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    seen.push(body);
    Ok(seen)
}

#[tokio::test]
async fn no_operation_reaches_another_tenants_data() -> TestResult {
    let app = spawn_app().await?;
    let victim = tenant(&app, "victim").await?;
    let prober = tenant(&app, "prober").await?;

    // Every documented operation is swept or excluded with a reason.
    let (_, doc) = send(&app, &prober.token, Method::GET, "/v1/openapi.json", None).await?;
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().ok_or("paths")? {
        for method in item.as_object().ok_or("operations")?.keys() {
            documented.insert((method.clone(), path.clone()));
        }
    }
    let listed: BTreeSet<(String, String)> = SWEPT
        .iter()
        .map(|(m, p, _, _)| ((*m).to_owned(), (*p).to_owned()))
        .chain(
            EXCLUDED
                .iter()
                .map(|(m, p, _)| ((*m).to_owned(), (*p).to_owned())),
        )
        .collect();
    let unswept: Vec<_> = documented.difference(&listed).collect();
    assert!(
        unswept.is_empty(),
        "operations neither swept nor excluded: {unswept:?}"
    );
    let stale: Vec<_> = listed.difference(&documented).collect();
    assert!(
        stale.is_empty(),
        "listed operations that are not documented: {stale:?}"
    );

    let before = snapshot(&app, &victim).await?;
    let victim_ids: Vec<&String> = victim.ids.values().collect();
    let leaked = |body: &Value| {
        body.to_string()
            .to_lowercase()
            .contains(&victim.marker.to_lowercase())
    };
    let mut failures = Vec::new();
    let mut probes = 0;
    for (method, path, query, body) in SWEPT {
        let method = Method::from_bytes(method.to_uppercase().as_bytes())?;
        let aims_in_path = path.contains('{');
        // The victim's ids everywhere; then (for nested paths) the prober's workspace with the
        // victim's objects; then the prober's own path with the victim's ids in body and query.
        let mut mixed = prober.ids.clone();
        for name in [
            "customer", "group", "field", "campaign", "message", "user", "key", "session",
        ] {
            mixed.insert(name, victim.ids[name].clone());
        }
        let mut variants = vec![];
        if aims_in_path {
            variants.push(("victim's ids", fill(path, &victim.ids), true));
            if path.matches('{').count() > 1 {
                variants.push(("own workspace, victim's objects", fill(path, &mixed), true));
            }
        }
        if body.is_some() || !query.is_empty() {
            variants.push((
                "victim's ids in body and query only",
                fill(path, &prober.ids),
                false,
            ));
        }
        for (how, concrete, must_refuse) in variants {
            probes += 1;
            let target = format!("{concrete}{}", fill(query, &victim.ids));
            let payload = body
                .map(|b| serde_json::from_str::<Value>(&fill(b, &victim.ids)))
                .transpose()?;
            let (status, answer) =
                send(&app, &prober.token, method.clone(), &target, payload).await?;
            let what = format!("{method} {target} ({how})");
            if status.is_server_error() {
                failures.push(format!("{what}: {status} {answer}"));
            }
            if must_refuse && status != StatusCode::NOT_FOUND && status != StatusCode::FORBIDDEN {
                failures.push(format!("{what}: {status}, want 404 or 403: {answer}"));
            }
            if leaked(&answer) {
                failures.push(format!("{what}: the victim's data in the answer: {answer}"));
            }
            // A success that names a victim's id (outside the per-item errors that echo the
            // request) has linked it to the prober's data.
            let mut linked = answer.clone();
            if let Some(object) = linked.as_object_mut() {
                object.remove("errors");
            }
            if status.is_success()
                && victim_ids
                    .iter()
                    .any(|id| linked.to_string().contains(id.as_str()))
            {
                failures.push(format!("{what}: {status} names the victim's ids: {answer}"));
            }
        }
    }
    // The lists that take no id show only the prober's own rows.
    for path in [
        "/v1/users",
        "/v1/workspaces",
        "/v1/auth/keys",
        "/v1/account/api-keys",
        "/v1/me/sessions",
        "/v1/audit-events",
        "/v1/me",
    ] {
        let (status, answer) = send(&app, &prober.token, Method::GET, path, None).await?;
        assert_eq!(status, StatusCode::OK, "{path}");
        if leaked(&answer) {
            failures.push(format!(
                "GET {path}: the victim's data in the answer: {answer}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{probes} probes; failures:\n{}",
        failures.join("\n")
    );
    assert_eq!(
        before,
        snapshot(&app, &victim).await?,
        "the victim's data changed"
    );
    Ok(())
}

#[derive(QueryableByName, Debug)]
struct TenantTable {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Tenant tables that the two-tenant fixture leaves empty, and why.
const UNFILLED: &[(&str, &str)] = &[];

#[tokio::test]
async fn every_tenant_table_hides_and_guards_the_other_tenants_rows() -> TestResult {
    let app = spawn_app().await?;
    let victim = tenant(&app, "victim").await?;
    let prober = tenant(&app, "prober").await?;
    let db = postgres::Db::connect(app.database.url(), &postgres::PoolSettings::default())?;
    let account = |t: &Tenant| -> Result<uuid::Uuid, Error> { Ok(t.account.parse()?) };
    let (victim_account, prober_account) = (account(&victim)?, account(&prober)?);
    let prober_tenant = kernel::AccountId::from_uuid(prober_account);
    let prober_user = kernel::UserId::from_uuid(prober.owner.parse()?);

    let mut tx = db.system().await?;
    let tables = diesel::sql_query(
        "SELECT c.relname::text AS name FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') \
           AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid \
                       AND a.attname = 'account_id' AND NOT a.attisdropped) \
         ORDER BY 1",
    )
    .load::<TenantTable>(tx.conn())
    .await?;
    tx.commit().await?;
    assert!(tables.len() >= 15, "{tables:?}");

    let mut failures = Vec::new();
    for TenantTable { name } in &tables {
        let count =
            |sql: String, account: uuid::Uuid| diesel::sql_query(sql).bind::<SqlUuid, _>(account);
        let mut tx = db.system().await?;
        let victim_rows = count(
            format!("SELECT count(*) AS n FROM {name} WHERE account_id = $1"),
            victim_account,
        )
        .get_result::<Count>(tx.conn())
        .await?
        .n;
        let prober_rows = count(
            format!("SELECT count(*) AS n FROM {name} WHERE account_id = $1"),
            prober_account,
        )
        .get_result::<Count>(tx.conn())
        .await?
        .n;
        tx.commit().await?;
        if victim_rows == 0 && !UNFILLED.iter().any(|(t, _)| t == name) {
            failures.push(format!(
                "{name}: the fixture left it empty, so it proves nothing"
            ));
        }

        // Read without a tenant filter: exactly the prober's rows.
        let mut tx = db.tenant(prober_tenant, Some(prober_user)).await?;
        let seen = diesel::sql_query(format!("SELECT count(*) AS n FROM {name}"))
            .get_result::<Count>(tx.conn())
            .await?
            .n;
        let foreign = count(
            format!("SELECT count(*) AS n FROM {name} WHERE account_id = $1"),
            victim_account,
        )
        .get_result::<Count>(tx.conn())
        .await?
        .n;
        drop(tx);
        if foreign != 0 || seen > prober_rows {
            failures.push(format!(
                "{name}: the prober saw {seen} rows ({foreign} of the victim's; it owns {prober_rows})"
            ));
        }

        // Write aimed at the victim: nothing touched (or refused outright). The update sets a
        // plain column to itself (`account_id` may be generated, as on `accounts`).
        let mut tx = db.system().await?;
        let column = diesel::sql_query(
            "SELECT attname::text AS name FROM pg_attribute \
             WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped \
               AND attgenerated = '' AND attidentity = '' ORDER BY attnum LIMIT 1",
        )
        .bind::<Text, _>(name)
        .get_result::<TenantTable>(tx.conn())
        .await?
        .name;
        tx.commit().await?;
        for statement in [
            format!("UPDATE {name} SET {column} = {column} WHERE account_id = $1"),
            format!("DELETE FROM {name} WHERE account_id = $1"),
        ] {
            let mut tx = db.tenant(prober_tenant, Some(prober_user)).await?;
            match count(statement.clone(), victim_account)
                .execute(tx.conn())
                .await
            {
                Ok(0) => {}
                Ok(n) => failures.push(format!("{statement}: touched {n} of the victim's rows")),
                Err(e) if e.to_string().contains("permission denied") => {}
                Err(e) => failures.push(format!("{statement}: {e}")),
            }
            // Rolled back: the probe leaves nothing behind either way.
            drop(tx);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    Ok(())
}
