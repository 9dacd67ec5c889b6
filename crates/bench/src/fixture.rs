//! The data the workloads run on, made reproducibly over the API: an owner with the developer
//! role and one API key per load worker, users to log in, a workspace of uploaded customers
//! (the `customers.csv` the bench writes), and a campaign to publish into.

use std::io::Write as _;
use std::path::Path;

use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl as _;
use futures_util::StreamExt as _;
use reqwest::Method;
use serde_json::{Value, json};

use crate::api::{Api, text};
use crate::database;
use crate::error::BenchError;

/// The header of the bench's CSV: the built-in fields and five custom ones.
pub const CSV_COLUMNS: &[&str] = &[
    "external_id",
    "email",
    "phone",
    "first_name",
    "last_name",
    "age",
    "vip",
    "born",
    "plan",
    "nick",
];

/// The five custom profile fields the CSV fills.
const PROFILE_FIELDS: &[&str] = &[
    r#"{"key":"age","label":"Age","type":"number"}"#,
    r#"{"key":"vip","label":"VIP","type":"boolean"}"#,
    r#"{"key":"born","label":"Born","type":"date"}"#,
    r#"{"key":"plan","label":"Plan","type":"enum","options":["free","pro"]}"#,
    r#"{"key":"nick","label":"Nick","type":"string"}"#,
];

/// Writes `rows` valid, distinct customers to `path`.
pub fn write_csv(path: &Path, rows: u64) -> Result<(), BenchError> {
    let file = std::fs::File::create(path).map_err(BenchError::io(path.display().to_string()))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let write = |out: &mut std::io::BufWriter<std::fs::File>, line: std::fmt::Arguments<'_>| {
        out.write_fmt(line)
            .map_err(BenchError::io(path.display().to_string()))
    };
    write(&mut out, format_args!("{}\n", CSV_COLUMNS.join(",")))?;
    for i in 0..rows {
        write(
            &mut out,
            format_args!(
                "ext-{i},user{i}@example.com,+1415{:07},First{i},Last{i},{},{},19{:02}-{:02}-{:02},{},nick {i}\n",
                i % 10_000_000,
                i % 90,
                i % 2 == 1,
                50 + i % 50,
                1 + i % 12,
                1 + i % 28,
                if i % 3 == 0 { "free" } else { "pro" },
            ),
        )?;
    }
    out.flush()
        .map_err(BenchError::io(path.display().to_string()))
}

/// Who the workloads act as.
pub struct Identities {
    pub owner_token: String,
    /// One per load worker, so no two workers contend on one key's row.
    pub api_keys: Vec<String>,
    /// Accounts to log in as (password [`crate::api::PASSWORD`]).
    pub login_emails: Vec<String>,
}

impl Identities {
    pub async fn create(api: &Api, keys: usize, logins: usize) -> Result<Self, BenchError> {
        let owner = "owner@bench.example";
        let (owner_id, _) = api.signup(owner).await?;
        let owner_token = api.login(owner).await?;
        api.call(
            api.request(
                Method::PUT,
                &format!("/v1/users/{owner_id}/roles"),
                Some(&owner_token),
            )
            .json(&json!({"account_roles": ["developer"], "workspace_roles": []})),
        )
        .await?;
        let mut api_keys = Vec::with_capacity(keys);
        for n in 0..keys {
            let created = api
                .post(
                    "/v1/auth/keys",
                    Some(&owner_token),
                    &json!({"name": format!("worker {n}")}),
                )
                .await?;
            api_keys.push(text(&created["api_key"])?);
        }
        let login_emails: Vec<String> = (0..logins)
            .map(|n| format!("login{n}@bench.example"))
            .collect();
        {
            // A few at a time: the server turns a flood of new passwords away (503) rather
            // than queue it, and the fixture is no load test.
            let mut signups =
                futures_util::stream::iter(login_emails.iter().map(|email| api.signup(email)))
                    .buffer_unordered(4);
            while let Some(signed) = signups.next().await {
                signed?;
            }
        }
        Ok(Self {
            owner_token,
            api_keys,
            login_emails,
        })
    }
}

/// A new workspace with the CSV's profile fields, ready for an upload.
pub async fn upload_workspace(
    api: &Api,
    owner_token: &str,
    name: &str,
) -> Result<String, BenchError> {
    let workspace = api
        .post("/v1/workspaces", Some(owner_token), &json!({"name": name}))
        .await?;
    let id = text(&workspace["id"])?;
    for field in PROFILE_FIELDS {
        let field: Value =
            serde_json::from_str(field).map_err(|e| BenchError::Answer(e.to_string()))?;
        api.post(
            &format!("/v1/workspaces/{id}/profile-fields"),
            Some(owner_token),
            &field,
        )
        .await?;
    }
    Ok(id)
}

/// What the read, list and message workloads need from the uploaded workspace.
pub struct Content {
    pub workspace: String,
    /// A sample of customer ids to read and to publish to.
    pub customer_ids: Vec<String>,
    /// The `next_cursor` that leads to page `deep_page` of 50.
    pub deep_cursor: String,
    pub deep_page: u64,
    pub campaign: String,
}

impl Content {
    pub async fn create(
        api: &Api,
        database_url: &str,
        token: &str,
        workspace: &str,
        rows: u64,
    ) -> Result<Self, BenchError> {
        let mut customer_ids = Vec::new();
        let mut cursor: Option<String> = None;
        while customer_ids.len() < 1000 {
            let mut path = format!("/v1/workspaces/{workspace}/customers?page_size=500");
            if let Some(cursor) = &cursor {
                path.push_str("&cursor=");
                path.push_str(cursor);
            }
            let page = api.get(&path, token).await?;
            for item in page["items"].as_array().into_iter().flatten() {
                customer_ids.push(text(&item["id"])?);
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        if customer_ids.is_empty() {
            return Err(BenchError::Answer(
                "the uploaded workspace has no customers".into(),
            ));
        }
        let deep_page = (rows / 50).clamp(1, 10_000);
        let deep_cursor = cursor_before_page(database_url, workspace, deep_page).await?;
        let campaign = api
            .post(
                &format!("/v1/workspaces/{workspace}/campaigns"),
                Some(token),
                &json!({"name": "Bench", "channel": "email", "group_ids": []}),
            )
            .await?;
        Ok(Self {
            workspace: workspace.to_owned(),
            customer_ids,
            deep_cursor,
            deep_page,
            campaign: text(&campaign["id"])?,
        })
    }
}

#[derive(diesel::QueryableByName)]
struct Key {
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = SqlUuid)]
    id: uuid::Uuid,
}

/// The cursor the server would hand out at the end of page `page - 1` of 50: read off the
/// database (walking there over the API would take a thousand requests).
async fn cursor_before_page(
    database_url: &str,
    workspace: &str,
    page: u64,
) -> Result<String, BenchError> {
    let skip = i64::try_from((page.max(2) - 1) * 50).unwrap_or(i64::MAX);
    let workspace =
        uuid::Uuid::parse_str(workspace).map_err(|e| BenchError::Answer(e.to_string()))?;
    let mut conn = database::connect(database_url).await?;
    let key: Key = diesel::sql_query(
        "SELECT created_at, id FROM customers WHERE workspace_id = $1 \
         ORDER BY created_at, id OFFSET $2 LIMIT 1",
    )
    .bind::<SqlUuid, _>(workspace)
    .bind::<BigInt, _>(skip - 1)
    .get_result(&mut conn)
    .await
    .map_err(|e| BenchError::Database(e.to_string()))?;
    Ok(http::paging::encode_cursor(key.created_at, key.id))
}
