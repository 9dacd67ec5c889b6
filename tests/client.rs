//! The Rust client SDK (`nudgescribe-client`) against the real server: its operations against
//! the OpenAPI document, typed responses, token renewal under concurrency, refresh-token
//! rotation, the 401 retry, errors, cursor streams, CSV uploads, the integrator example, and
//! the credential management a person's sign-in may do and a key may not.
#![allow(
    clippy::disallowed_methods,
    reason = "tests start from the real time, or wait for it"
)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::TryStreamExt as _;
use nudgescribe_client::types::{
    CampaignChanges, CampaignFilter, CampaignSearch, CampaignSearchPages, CampaignStatus, Channel,
    CreateApiKeyRequest, CustomerChanges, CustomerFilter, CustomerUpdate, GroupChanges,
    LoginResponse, MessagePagesQuery, MessageQuery, NewCampaign, NewGroup, NewMessage,
    NewProfileField, PageRequest, ProfileFieldChanges, SessionKind, SignupRequest, UploadMode,
};
use nudgescribe_client::{Client, Error, ErrorCode, SourcedToken, StatusCode, endpoints};
use nudgescribe_e2e::{TestApp, TestResult, spawn_app, spawn_app_with};
use serde_json::{Value, json};
use uuid::Uuid;

#[path = "../crates/client/examples/integrator.rs"]
#[allow(dead_code)]
mod integrator;

/// A developer with an API key, and their default workspace.
struct Integration {
    api_key: String,
    workspace_id: Uuid,
    access_token: String,
}

async fn integration(app: &TestApp, email: &str) -> Result<Integration, nudgescribe_e2e::Error> {
    let dev = app.developer(email).await?;
    let (_, api_key) = app
        .create_key(&dev.access_token, json!({"name": "sdk"}))
        .await?;
    let workspace_id = dev.signed.body["workspace"]["id"]
        .as_str()
        .ok_or("workspace id")?
        .parse()?;
    Ok(Integration {
        api_key,
        workspace_id,
        access_token: dev.access_token,
    })
}

async fn count_events(app: &TestApp, name: &str) -> Result<usize, nudgescribe_e2e::Error> {
    Ok(app
        .audit_events()
        .await?
        .iter()
        .filter(|e| e.0 == name)
        .count())
}

fn csv_of(customers: usize, offset: usize) -> String {
    let mut csv = String::from("external_id,email,first_name,last_name\n");
    for i in offset..offset + customers {
        csv.push_str(&format!("c-{i},c{i}@example.com,First{i},Last{i}\n"));
    }
    csv
}

#[tokio::test]
async fn the_client_and_the_openapi_document_name_the_same_operations() -> TestResult {
    let app = spawn_app().await?;
    let document: Value = app
        .client
        .get(app.url("/v1/openapi.json"))
        .send()
        .await?
        .json()
        .await?;
    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().ok_or("paths")? {
        for method in [
            "get", "put", "post", "delete", "patch", "trace", "head", "options",
        ] {
            if item.get(method).is_some() {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let used: BTreeSet<_> = endpoints::ALL
        .iter()
        .map(|e| (e.method.to_owned(), e.path.to_owned()))
        .collect();
    let excluded: BTreeSet<_> = endpoints::EXCLUDED
        .iter()
        .map(|(e, _)| (e.method.to_owned(), e.path.to_owned()))
        .collect();

    let unknown: Vec<_> = used.difference(&documented).collect();
    assert!(
        unknown.is_empty(),
        "the client calls operations the server does not document: {unknown:?}"
    );
    let uncovered: Vec<_> = documented
        .iter()
        .filter(|op| !used.contains(*op) && !excluded.contains(*op))
        .collect();
    assert!(
        uncovered.is_empty(),
        "documented operations neither in the client nor excluded with a reason: {uncovered:?}"
    );
    let stale: Vec<_> = excluded.difference(&documented).collect();
    assert!(
        stale.is_empty(),
        "exclusions the server no longer has: {stale:?}"
    );
    Ok(())
}

#[tokio::test]
async fn every_typed_response_reads_a_real_answer() -> TestResult {
    let app = spawn_app().await?;
    let public = Client::new(&app.address)?;
    let signed = public
        .signup(&SignupRequest {
            email: "ada@example.com".into(),
            password: "correct horse battery".into(),
            full_name: "Ada Lovelace".into(),
            account_name: "Analytical".into(),
        })
        .await?;
    let LoginResponse::Tokens(tokens) = public
        .login("ada@example.com", "correct horse battery")
        .await?
    else {
        return Err("no MFA was set up".into());
    };
    assert_eq!(tokens.user.as_ref().map(|u| u.id), Some(signed.user.id));
    let owner = Client::with_tokens(&app.address, &tokens)?;
    let me = owner.me().await?;
    assert_eq!(me.account.id, signed.account.id);
    assert!(me.account_roles.contains(&"owner".to_owned()));

    owner
        .set_roles(
            signed.user.id,
            &nudgescribe_client::types::RoleAssignment {
                account_roles: vec!["developer".into()],
                workspace_roles: vec![],
            },
        )
        .await?;
    let users = owner.users(&PageRequest::default()).await?;
    assert_eq!(users.items.len(), 1);
    let created = owner
        .create_api_key(&CreateApiKeyRequest {
            name: "sdk".into(),
            scopes: None,
        })
        .await?;
    assert_eq!(owner.api_keys().await?.len(), 1);
    let keys = public.jwks().await?;
    assert!(!keys.keys.is_empty());
    let short = public.short_lived_token(&created.api_key, Some(5)).await?;
    assert!(short.expires_in <= 300);
    let exchanged = public.exchange_api_key(&created.api_key, None).await?;
    let by_header = public
        .refresh_tokens_by_header(&exchanged.refresh_token)
        .await?;
    public.refresh_tokens(&by_header.refresh_token).await?;

    let extra = owner.create_workspace("Newsletter").await?;
    owner.rename_workspace(extra.id, "Letters").await?;
    assert_eq!(owner.workspace(extra.id).await?.name, "Letters");
    let all: Vec<_> = owner.workspaces_stream(1).try_collect().await?;
    assert_eq!(all.len(), 2);
    owner.delete_workspace(extra.id).await?;

    let ws = signed.workspace.id;
    let client = Client::with_api_key(&app.address, created.api_key.clone()).await?;
    let field = client
        .create_profile_field(
            ws,
            &NewProfileField {
                key: "tier".into(),
                label: "Tier".into(),
                kind: "enum".into(),
                required: false,
                options: Some(vec!["gold".into(), "silver".into()]),
            },
        )
        .await?;
    client
        .update_profile_field(
            ws,
            field.id,
            &ProfileFieldChanges {
                label: Some("Loyalty tier".into()),
                ..ProfileFieldChanges::default()
            },
        )
        .await?;
    assert_eq!(
        client
            .profile_fields(ws, &PageRequest::default())
            .await?
            .items
            .len(),
        1
    );
    let report = client
        .upload_json(
            ws,
            &[
                json!({"email": "x@example.com", "tier": "gold"}),
                json!({"email": "y@example.com"}),
            ],
            UploadMode::Upsert,
        )
        .await?;
    assert_eq!(report.created, 2);
    let customers = client
        .customers(ws, &CustomerFilter::default(), &PageRequest::default())
        .await?;
    assert_eq!(customers.total_items, 2);
    let x = customers
        .items
        .iter()
        .find(|c| c.email.as_deref() == Some("x@example.com"))
        .ok_or("x")?
        .clone();
    let y = customers
        .items
        .iter()
        .find(|c| c.email.as_deref() == Some("y@example.com"))
        .ok_or("y")?
        .clone();
    assert_eq!(x.attributes.get("tier"), Some(&json!("gold")));
    let changed = client
        .update_customer(
            ws,
            x.id,
            &CustomerChanges {
                first_name: Some(Some("Xavier".into())),
                ..CustomerChanges::default()
            },
        )
        .await?;
    assert_eq!(changed.first_name.as_deref(), Some("Xavier"));
    assert_eq!(
        client.customer(ws, x.id).await?.first_name.as_deref(),
        Some("Xavier")
    );
    let bulk = client
        .update_customers(
            ws,
            &[CustomerUpdate {
                id: y.id,
                changes: CustomerChanges {
                    last_name: Some(Some("Young".into())),
                    ..CustomerChanges::default()
                },
            }],
        )
        .await?;
    assert_eq!(bulk.updated, 1);
    let pages = client
        .customer_pages(ws, &CustomerFilter::default(), Some(1))
        .await?;
    assert_eq!(pages.total_pages, 2);

    let group = client
        .create_group(
            ws,
            &NewGroup {
                name: "VIP".into(),
                description: None,
            },
        )
        .await?;
    let ids: Vec<Uuid> = customers.items.iter().map(|c| c.id).collect();
    assert_eq!(client.add_group_members(ws, group.id, &ids).await?.added, 2);
    assert_eq!(client.group(ws, group.id).await?.member_count, 2);
    assert_eq!(
        client
            .remove_group_members(ws, group.id, &ids[..1])
            .await?
            .removed,
        1
    );
    client
        .update_group(
            ws,
            group.id,
            &GroupChanges {
                description: Some("the best".into()),
                ..GroupChanges::default()
            },
        )
        .await?;
    assert_eq!(
        client
            .groups(ws, &PageRequest::default())
            .await?
            .items
            .len(),
        1
    );

    let campaign = client
        .create_campaign(
            ws,
            &NewCampaign {
                name: "Spring".into(),
                description: None,
                channel: Channel::InApp,
                group_ids: vec![group.id],
            },
        )
        .await?;
    assert_eq!(campaign.status, CampaignStatus::Draft);
    let active = client
        .update_campaign(
            ws,
            campaign.id,
            &CampaignChanges {
                status: Some(CampaignStatus::Active),
                ..CampaignChanges::default()
            },
        )
        .await?;
    assert_eq!(active.status, CampaignStatus::Active);
    let published = client
        .publish_messages(
            ws,
            campaign.id,
            &ids.iter()
                .map(|id| NewMessage {
                    customer_id: *id,
                    subject: None,
                    body: "hi".into(),
                    metadata: Some(json!({"n": 1})),
                })
                .collect::<Vec<_>>(),
        )
        .await?;
    assert_eq!(published.published, 2);
    let messages = client
        .retrieve_messages(ws, campaign.id, &MessageQuery::default())
        .await?;
    assert_eq!(messages.items.len(), 2);
    assert_eq!(messages.items[0].metadata, Some(json!({"n": 1})));
    let message_pages = client
        .message_pages(ws, campaign.id, &MessagePagesQuery::default())
        .await?;
    assert_eq!(message_pages.total_items, 2);
    assert_eq!(client.campaign(ws, campaign.id).await?.message_count, 2);
    let listed = client
        .campaigns(ws, &CampaignFilter::default(), &PageRequest::default())
        .await?;
    assert_eq!(listed.items.len(), 1);
    assert_eq!(client.campaign_pages(ws, None).await?.total_items, 1);
    let found = client.search_campaigns(&CampaignSearch::default()).await?;
    assert_eq!(found.items[0].id, campaign.id);
    let counted = client
        .search_campaign_pages(&CampaignSearchPages::default())
        .await?;
    assert_eq!(counted.total_items, 1);
    client.delete_campaign(ws, campaign.id).await?;

    assert_eq!(client.delete_customers(ws, &ids[1..]).await?.deleted, 1);
    client.delete_customer(ws, ids[0]).await?;
    client.delete_group(ws, group.id).await?;
    client.delete_profile_field(ws, field.id).await?;

    let events: Vec<_> = owner
        .audit_events_stream(Default::default(), 5)
        .try_collect()
        .await?;
    assert!(events.iter().any(|e| e.event == "signup"));
    owner.delete_api_key(created.key_id).await?;
    owner.logout().await?;
    Ok(())
}

#[tokio::test]
async fn a_hundred_tasks_on_an_expiring_token_make_exactly_one_refresh() -> TestResult {
    // Access tokens live 5 s: the client renews after 4.5 s (a tenth of the lifetime early).
    let app = spawn_app_with(|s| s.auth.access_ttl_secs = 5).await?;
    let setup = integration(&app, "ada@example.com").await?;
    let client = Client::with_api_key(&app.address, setup.api_key.clone()).await?;
    client.me().await?;
    tokio::time::sleep(Duration::from_millis(4700)).await;

    let start = Arc::new(tokio::sync::Barrier::new(100));
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let client = client.clone();
        let start = start.clone();
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            client.me().await.map(|me| me.user.id)
        }));
    }
    for task in tasks {
        task.await??;
    }
    assert_eq!(count_events(&app, "token_exchanged").await?, 1);
    assert_eq!(
        count_events(&app, "token_refreshed").await?,
        1,
        "one refresh for a hundred tasks"
    );
    assert_eq!(count_events(&app, "refresh_token_reused").await?, 0);
    Ok(())
}

#[tokio::test]
async fn rotation_never_presents_a_retired_refresh_token() -> TestResult {
    let app = spawn_app().await?;
    let setup = integration(&app, "ada@example.com").await?;
    let client = Client::with_api_key(&app.address, setup.api_key.clone()).await?;
    let mut retired = Vec::new();
    for _ in 0..3 {
        retired.push(client.refresh_token().await.ok_or("a refresh token")?);
        client.expire_token().await;
        client.me().await?;
    }
    let newest = client.refresh_token().await.ok_or("a refresh token")?;
    assert!(
        !retired.contains(&newest),
        "the client keeps the newest one"
    );
    assert_eq!(count_events(&app, "token_refreshed").await?, 3);
    assert_eq!(
        count_events(&app, "refresh_token_reused").await?,
        0,
        "the client never presented a retired token"
    );

    // Someone replays a retired token: refused, and the server revokes the session ...
    let public = Client::new(&app.address)?;
    let replay = public
        .refresh_tokens(&retired[0])
        .await
        .err()
        .ok_or("a retired refresh token is refused")?;
    assert_eq!(replay.status(), Some(StatusCode::UNAUTHORIZED));
    assert_eq!(count_events(&app, "refresh_token_reused").await?, 1);
    // ... and the client goes on: its refresh token is refused too, so it exchanges its key.
    client.me().await?;
    assert_eq!(count_events(&app, "token_exchanged").await?, 2);
    Ok(())
}

#[tokio::test]
async fn a_refused_token_is_renewed_and_the_request_sent_once_more() -> TestResult {
    let app = spawn_app().await?;
    let setup = integration(&app, "ada@example.com").await?;
    let client = Client::with_api_key(&app.address, setup.api_key.clone()).await?;
    // The session ends under the client's feet: its cached token is now refused (401).
    client.logout().await?;
    let me = client.me().await?;
    assert!(me.account_roles.contains(&"developer".to_owned()));
    assert_eq!(
        count_events(&app, "token_exchanged").await?,
        2,
        "refresh refused (session revoked), so the key was exchanged again"
    );

    // A token source: asked again once on a 401, never more.
    let public = Client::new(&app.address)?;
    let calls = Arc::new(AtomicUsize::new(0));
    let source_calls = calls.clone();
    let key = setup.api_key.clone();
    let sourced = Client::with_token_source(&app.address, move || {
        let calls = source_calls.clone();
        let public = public.clone();
        let key = key.clone();
        async move {
            // The first token is garbage: the server refuses it, the client asks again.
            if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                return Ok::<_, Error>(SourcedToken::new("not-a-token", None));
            }
            Ok(SourcedToken::from(
                public.short_lived_token(&key, Some(5)).await?,
            ))
        }
    })?;
    sourced.me().await?;
    sourced.me().await?;
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    let refused = Arc::new(AtomicUsize::new(0));
    let counter = refused.clone();
    let hopeless = Client::with_token_source(&app.address, move || {
        counter.fetch_add(1, Ordering::SeqCst);
        async { Ok::<_, Error>(SourcedToken::new("still-not-a-token", None)) }
    })?;
    let error = hopeless.me().await.err().ok_or("refused")?;
    assert!(error.is_unauthenticated());
    assert_eq!(refused.load(Ordering::SeqCst), 2, "retried exactly once");
    Ok(())
}

#[tokio::test]
async fn errors_carry_the_code_the_status_and_the_request_id() -> TestResult {
    let app = spawn_app().await?;
    let setup = integration(&app, "ada@example.com").await?;
    let client = Client::with_api_key(&app.address, setup.api_key.clone()).await?;

    let missing = client
        .customer(setup.workspace_id, Uuid::now_v7())
        .await
        .err()
        .ok_or("no such customer")?;
    let Error::Api(api) = &missing else {
        return Err(format!("an API error, not {missing:?}").into());
    };
    assert_eq!(api.status, StatusCode::NOT_FOUND);
    assert_eq!(api.code, "not_found");
    assert_eq!(api.kind(), ErrorCode::NotFound);
    assert!(!api.message.is_empty());
    assert!(api.request_id.as_deref().is_some_and(|id| !id.is_empty()));
    assert_eq!(missing.code(), Some("not_found"));

    let invalid = client
        .create_profile_field(
            setup.workspace_id,
            &NewProfileField {
                key: "Not A Key".into(),
                label: "x".into(),
                kind: "string".into(),
                required: false,
                options: None,
            },
        )
        .await
        .err()
        .ok_or("an invalid key")?;
    let api = invalid.api().ok_or("an API error")?;
    assert_eq!(api.kind(), ErrorCode::ValidationFailed);
    assert!(api.fields.iter().any(|f| f.field == "key"), "{api:?}");

    let bad_key = Client::with_api_key(&app.address, "ns_live_nope").await;
    assert_eq!(
        bad_key
            .err()
            .and_then(|e| e.code().map(str::to_owned))
            .as_deref(),
        Some("unauthenticated")
    );

    let anonymous = Client::new(&app.address)?;
    assert!(matches!(anonymous.me().await, Err(Error::NoCredentials)));

    // Nothing listens on port 9 of localhost: a transport error, no status.
    let nowhere = Client::new("http://127.0.0.1:9")?;
    let transport = nowhere.jwks().await.err().ok_or("unreachable")?;
    assert!(matches!(transport, Error::Transport(_)), "{transport:?}");
    assert_eq!(transport.status(), None);
    assert!(matches!(
        Client::new("ftp://example.com"),
        Err(Error::InvalidBaseUrl(_))
    ));
    Ok(())
}

#[tokio::test]
async fn streams_every_customer_by_cursor() -> TestResult {
    let app = spawn_app().await?;
    let setup = integration(&app, "ada@example.com").await?;
    let client = Client::with_api_key(&app.address, setup.api_key.clone()).await?;
    let csv = csv_of(1234, 0);
    let report = client
        .upload_csv_stream(
            setup.workspace_id,
            futures_util::stream::iter(vec![Ok::<_, std::io::Error>(csv.into_bytes())]),
            UploadMode::Upsert,
        )
        .await?;
    assert_eq!(report.created, 1234);

    let streamed: Vec<_> = client
        .customers_stream(setup.workspace_id, CustomerFilter::default(), 100)
        .try_collect()
        .await?;
    let ids: BTreeSet<_> = streamed.iter().map(|c| c.id).collect();
    assert_eq!(streamed.len(), 1234);
    assert_eq!(ids.len(), 1234, "no customer twice");
    let searched: Vec<_> = client
        .customers_stream(
            setup.workspace_id,
            CustomerFilter {
                search: Some("c12".into()),
                ..CustomerFilter::default()
            },
            7,
        )
        .try_collect()
        .await?;
    // c12, c120..c129, c1200..c1233
    assert_eq!(searched.len(), 1 + 10 + 34);
    Ok(())
}

#[tokio::test]
async fn uploads_csv_from_a_path_a_stream_and_a_reader() -> TestResult {
    let app = spawn_app().await?;
    let setup = integration(&app, "ada@example.com").await?;
    let client = Client::with_api_key(&app.address, setup.api_key.clone()).await?;
    let ws = setup.workspace_id;

    let path = std::env::temp_dir().join(format!("sdk-upload-{}.csv", Uuid::now_v7()));
    std::fs::write(&path, csv_of(50, 0))?;
    let validated = client
        .upload_csv_file(ws, &path, UploadMode::Validate)
        .await?;
    assert_eq!((validated.valid_rows, validated.created), (50, 0));
    let from_path = client
        .upload_csv_file(ws, &path, UploadMode::Upsert)
        .await?;
    assert_eq!((from_path.total_rows, from_path.created), (50, 50));

    // In small chunks that cut rows in half: the server reassembles them.
    let body = csv_of(30, 40);
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        body.as_bytes().chunks(17).map(|c| Ok(c.to_vec())).collect();
    let from_stream = client
        .upload_csv_stream(ws, futures_util::stream::iter(chunks), UploadMode::Upsert)
        .await?;
    assert_eq!((from_stream.created, from_stream.updated), (20, 10));

    let file = tokio::fs::File::open(&path).await?;
    let from_reader = client
        .upload_csv_reader(ws, file, UploadMode::Upsert)
        .await?;
    assert_eq!((from_reader.created, from_reader.updated), (0, 50));
    std::fs::remove_file(&path)?;

    let bad = client
        .upload_csv_stream(
            ws,
            futures_util::stream::iter(vec![Ok::<_, std::io::Error>(b"nope\n1\n".to_vec())]),
            UploadMode::Upsert,
        )
        .await
        .err()
        .ok_or("an unknown column")?;
    assert_eq!(bad.status(), Some(StatusCode::BAD_REQUEST));
    assert!(matches!(
        client
            .upload_csv_file(ws, "/nonexistent/file.csv", UploadMode::Upsert)
            .await,
        Err(Error::Io(_))
    ));
    Ok(())
}

#[tokio::test]
async fn the_integrator_example_runs_against_a_fresh_server() -> TestResult {
    let app = spawn_app().await?;
    let setup = integration(&app, "ada@example.com").await?;
    let summary = integrator::run(&integrator::Config {
        base_url: app.address.clone(),
        api_key: setup.api_key.clone(),
        workspace_id: None,
        csv: None,
    })
    .await?;
    assert_eq!(summary.workspace_id, setup.workspace_id);
    assert_eq!(summary.uploaded_rows, 3);
    assert_eq!(summary.customers, 3);
    assert_eq!(summary.published, 3);
    assert_eq!(summary.retrieved, 3);
    assert!(!setup.access_token.is_empty());
    Ok(())
}

#[tokio::test]
async fn a_signed_in_client_refreshes_and_stops_cleanly_when_its_session_ends() -> TestResult {
    let app = spawn_app().await?;
    let signed = app.signup("ada@example.com").await?;
    let public = Client::new(&app.address)?;
    let LoginResponse::Tokens(tokens) = public.login(&signed.email, &signed.password).await? else {
        return Err("no MFA was set up".into());
    };
    let client = Client::with_tokens(&app.address, &tokens)?;
    client.expire_token().await;
    client.me().await?;
    assert_eq!(count_events(&app, "token_refreshed").await?, 1);
    assert_ne!(
        client.refresh_token().await,
        Some(tokens.refresh_token.clone())
    );

    client.logout().await?;
    let ended = client.me().await.err().ok_or("the session has ended")?;
    assert!(ended.is_unauthenticated(), "{ended:?}");
    assert_eq!(
        client.refresh_token().await,
        None,
        "a refused refresh token is dropped, never presented again"
    );
    assert!(client.me().await.is_err());
    assert_eq!(count_events(&app, "refresh_token_reused").await?, 0);
    Ok(())
}

/// The 403 a key session or a short-lived token gets for credential management.
fn not_allowed<T: std::fmt::Debug>(result: Result<T, Error>) -> TestResult {
    let error = result.err().ok_or("refused")?;
    let api = error
        .api()
        .ok_or_else(|| format!("an API error, not {error:?}"))?;
    assert_eq!(api.status, StatusCode::FORBIDDEN, "{api:?}");
    assert_eq!(api.kind(), ErrorCode::CredentialNotAllowed, "{api:?}");
    Ok(())
}

#[tokio::test]
async fn a_person_manages_the_accounts_keys_and_their_own_sessions_and_a_key_cannot() -> TestResult
{
    let app = spawn_app().await?;
    // An owner with the developer role; the helper's own sign-in is a second login session.
    let dev = app.developer("ada@example.com").await?;
    let public = Client::new(&app.address)?;
    let LoginResponse::Tokens(tokens) = public
        .login(&dev.signed.email, &dev.signed.password)
        .await?
    else {
        return Err("no MFA was set up".into());
    };
    let person = Client::with_tokens(&app.address, &tokens)?;
    let user_id: Uuid = dev.user_id.parse()?;

    // A key made without scopes: the content permissions and users:read, no administration.
    let created = person
        .create_api_key(&CreateApiKeyRequest {
            name: "sdk".into(),
            scopes: None,
        })
        .await?;
    let scopes = created.scopes.clone().ok_or("the default scopes")?;
    for scope in [
        "customers:read",
        "customers:write",
        "campaigns:read",
        "campaigns:write",
        "messages:publish",
        "messages:read",
        "users:read",
    ] {
        assert!(scopes.iter().any(|s| s == scope), "{scope} in {scopes:?}");
    }
    for scope in [
        "users:manage",
        "account:manage",
        "audit:read",
        "api_keys:manage",
    ] {
        assert!(!scopes.iter().any(|s| s == scope), "{scope} in {scopes:?}");
    }
    let integration = Client::with_api_key(&app.address, created.api_key.clone()).await?;
    integration.me().await?;
    public.short_lived_token(&created.api_key, Some(5)).await?;

    // Every key of the account, with its owner.
    let keys = person.account_api_keys().await?;
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(keys[0].key_id, created.key_id);
    assert_eq!(keys[0].user_id, user_id);
    assert_eq!(keys[0].name, "sdk");

    // The person's live sessions: this one, the helper's sign-in, the key's, the short-lived.
    let sessions = person.sessions().await?;
    let current: Vec<_> = sessions.iter().filter(|s| s.current).collect();
    assert_eq!(current.len(), 1, "{sessions:?}");
    assert_eq!(current[0].kind, SessionKind::Login);
    let other_login = sessions
        .iter()
        .find(|s| s.kind == SessionKind::Login && !s.current)
        .ok_or("the helper's sign-in")?
        .clone();
    let key_session = sessions
        .iter()
        .find(|s| s.kind == SessionKind::ApiKey)
        .ok_or("the key's session")?
        .clone();
    assert_eq!(key_session.key_name.as_deref(), Some("sdk"));
    let short = sessions
        .iter()
        .find(|s| s.kind == SessionKind::ShortLived)
        .ok_or("the short-lived token's session")?;
    assert_eq!(short.key_name.as_deref(), Some("sdk"));
    for session in &sessions {
        assert!(session.created_at <= session.last_seen_at, "{session:?}");
        assert!(session.expires_at > session.last_seen_at, "{session:?}");
    }

    // Ending another session: its tokens stop at once.
    person.end_session(other_login.id).await?;
    let me = app.get_authed("/v1/me", &dev.access_token).await?;
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    assert!(
        person
            .sessions()
            .await?
            .iter()
            .all(|s| s.id != other_login.id)
    );
    let gone = person
        .end_session(other_login.id)
        .await
        .err()
        .ok_or("an ended session is not live")?;
    assert_eq!(gone.code(), Some("not_found"));
    // Ending the key's session: the integration starts a new one from its key.
    person.end_session(key_session.id).await?;
    integration.me().await?;
    assert_eq!(count_events(&app, "token_exchanged").await?, 2);

    // A key's session and a short-lived token never manage credentials.
    not_allowed(integration.sessions().await)?;
    not_allowed(integration.end_session(current[0].id).await)?;
    not_allowed(integration.account_api_keys().await)?;
    not_allowed(integration.delete_account_api_key(created.key_id).await)?;
    not_allowed(integration.api_keys().await)?;
    let key = created.api_key.clone();
    let frontend = Client::with_token_source(&app.address, move || {
        let public = public.clone();
        let key = key.clone();
        async move {
            Ok(SourcedToken::from(
                public.short_lived_token(&key, Some(5)).await?,
            ))
        }
    })?;
    frontend.me().await?;
    not_allowed(frontend.sessions().await)?;
    not_allowed(frontend.account_api_keys().await)?;

    // A wrong TOTP code is a 401 about the code, not the token: answered, never retried.
    let setup = person.setup_totp().await?;
    let secret = nudgescribe_e2e::totp::base32(&setup.secret);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let valid: Vec<_> = [now - 30, now, now + 30]
        .iter()
        .map(|t| nudgescribe_e2e::totp::totp(&secret, *t))
        .collect();
    let wrong = (0..10)
        .map(|d| format!("{d}{d}{d}{d}{d}{d}"))
        .find(|c| !valid.contains(c))
        .ok_or("a wrong code")?;
    let refused = person
        .activate_totp(&wrong)
        .await
        .err()
        .ok_or("wrong code")?;
    assert_eq!(
        refused.api().map(|a| a.kind()),
        Some(ErrorCode::InvalidCode)
    );
    assert_eq!(count_events(&app, "token_refreshed").await?, 0);
    // A weak password is refused with its own code.
    let weak = person
        .change_password(&dev.signed.password, "password")
        .await
        .err()
        .ok_or("a weak password")?;
    assert_eq!(weak.api().map(|a| a.kind()), Some(ErrorCode::WeakPassword));

    // Revoking the key from the account's side: the integration stops at once, for good.
    person.delete_account_api_key(created.key_id).await?;
    let stopped = integration.me().await.err().ok_or("the key is revoked")?;
    assert!(stopped.is_unauthenticated(), "{stopped:?}");
    assert!(person.account_api_keys().await?.is_empty());
    assert!(person.api_keys().await?.is_empty());
    let again = person
        .delete_account_api_key(created.key_id)
        .await
        .err()
        .ok_or("already revoked")?;
    assert_eq!(again.code(), Some("not_found"));
    assert_eq!(count_events(&app, "api_key_deleted").await?, 1);
    person.me().await?;
    Ok(())
}
