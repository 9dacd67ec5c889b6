//! The customers adapter on real Postgres, driven through the domain service.
#![allow(
    clippy::disallowed_methods,
    reason = "tests start from the real time, or wait for it"
)]

mod support;

use std::sync::Arc;

use customers::models::{
    CustomerFilter, Keyset, NewProfileField, PageRequest, ProfileFieldChanges,
};
use customers::values::{Admits, fits};
use customers::{
    CustomerPolicy, CustomerService, CustomerStore, CustomersError, FieldKind, ImportFormat,
    ImportMode, ImportReport, ProfileField,
};
use diesel_async::RunQueryDsl as _;
use identity::ports::AccountStore;
use kernel::{AccountRole, Actor, PermissionSet, ProfileFieldId, SessionId, WorkspaceId};
use postgres::{Db, PgCustomerStore, PgIdentityStore};
use serde_json::json;
use support::{TestResult, database, new_account, signup_event};

struct Tenant {
    service: CustomerService,
    store: PgCustomerStore,
    owner: Actor,
    ws: WorkspaceId,
}

async fn tenant(db: &Db, email: &str) -> Result<Tenant, Box<dyn std::error::Error + Send + Sync>> {
    let identity = PgIdentityStore::new(db.clone(), Default::default());
    let new = new_account(email);
    identity.create_account(&new, &signup_event(&new)).await?;
    let store = PgCustomerStore::new(db.clone());
    Ok(Tenant {
        service: CustomerService::new(
            Arc::new(store.clone()),
            Arc::new(platform_clock()),
            CustomerPolicy::default(),
        ),
        store,
        owner: Actor {
            user_id: new.owner.id,
            account_id: new.account.id,
            session_id: SessionId::generate(),
            account_roles: vec![AccountRole::Owner],
            workspace_roles: Vec::new(),
            scope: PermissionSet::all(),
            credential: kernel::CredentialKind::HumanSession,
        },
        ws: new.workspace.id,
    })
}

fn platform_clock() -> kernel::ManualClock {
    kernel::ManualClock::at(chrono::Utc::now())
}

impl Tenant {
    async fn upload(&self, mode: ImportMode, body: &str) -> Result<ImportReport, CustomersError> {
        let mut upload = self
            .service
            .start_upload(&self.owner, self.ws, mode, ImportFormat::Csv)
            .await?;
        for chunk in body.as_bytes().chunks(8 * 1024) {
            upload.push(chunk).await?;
        }
        upload.finish().await
    }

    async fn field(&self, key: &str, kind: &str, options: Option<Vec<&str>>) -> ProfileField {
        self.service
            .create_profile_field(
                &self.owner,
                self.ws,
                NewProfileField {
                    key: key.into(),
                    label: key.into(),
                    kind: kind.into(),
                    required: false,
                    options: options.map(|o| o.into_iter().map(String::from).collect()),
                },
            )
            .await
            .unwrap_or_else(|e| panic!("{e:?}"))
    }

    async fn all(&self) -> Vec<customers::Customer> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .service
                .customers(
                    &self.owner,
                    self.ws,
                    &CustomerFilter::default(),
                    PageRequest {
                        after,
                        ..PageRequest::first(500)
                    },
                )
                .await
                .unwrap_or_else(|e| panic!("{e:?}"));
            let Some(last) = page.items.last() else {
                return all;
            };
            after = Some(Keyset::new(last.created_at, last.id.as_uuid()));
            all.extend(page.items);
        }
    }
}

fn rows(count: usize) -> String {
    let mut csv = String::from("external_id,email,first_name,tier,score\n");
    for i in 0..count {
        csv.push_str(&format!("ext-{i},user{i}@example.com,Name{i},gold,{i}\n"));
    }
    csv
}

#[tokio::test]
async fn ten_thousand_rows_upsert_once_and_reupload_changes_nothing() -> TestResult {
    let (_database, db) = database().await?;
    let t = tenant(&db, "bulk@example.com").await;
    let t = t?;
    t.field("tier", "enum", Some(vec!["gold", "silver"])).await;
    t.field("score", "number", None).await;
    let file = rows(10_000);
    let first = t.upload(ImportMode::Upsert, &file).await?;
    assert_eq!(
        (first.created, first.updated, first.invalid_rows),
        (10_000, 0, 0)
    );
    let before = t.all().await;
    assert_eq!(before.len(), 10_000);
    assert_eq!(before[9_999].attributes.get("score"), Some(&json!(9999)));
    assert_eq!(
        before[0].external_id.as_deref(),
        Some("ext-0"),
        "file order is list order"
    );

    let second = t.upload(ImportMode::Upsert, &file).await?;
    assert_eq!((second.created, second.updated), (0, 10_000));
    assert_eq!(
        t.all().await,
        before,
        "nothing changed, not even updated_at"
    );
    Ok(())
}

#[tokio::test]
async fn conflicts_with_stored_customers_are_row_errors_and_validate_writes_nothing() -> TestResult
{
    let (_database, db) = database().await?;
    let t = tenant(&db, "conflict@example.com").await?;
    t.upload(
        ImportMode::Upsert,
        "external_id,email\nx1,a@x.io\nx2,b@x.io\n,c@x.io\n",
    )
    .await?;
    // x1 takes b's email; d is new; c (no external id) is linked to x3 by email.
    let file = "external_id,email,first_name\nx1,b@x.io,Ann\nx4,d@x.io,Dee\nx3,c@x.io,Cy\n";
    let checked = t.upload(ImportMode::Validate, file).await?;
    assert_eq!((checked.valid_rows, checked.invalid_rows), (2, 1));
    assert_eq!((checked.created, checked.updated), (0, 0));
    assert_eq!(t.all().await.len(), 3, "validate writes nothing");

    let applied = t.upload(ImportMode::Upsert, file).await?;
    assert_eq!(
        applied
            .errors
            .iter()
            .map(|e| (e.row, e.field.as_str()))
            .collect::<Vec<_>>(),
        vec![(2, "email")]
    );
    assert_eq!((applied.created, applied.updated), (1, 1));
    let all = t.all().await;
    assert_eq!(all.len(), 4);
    let c = all.iter().find(|c| c.email.as_deref() == Some("c@x.io"));
    assert_eq!(c.and_then(|c| c.external_id.as_deref()), Some("x3"));
    Ok(())
}

#[tokio::test]
async fn another_tenant_sees_none_of_it() -> TestResult {
    let (_database, db) = database().await?;
    let a = tenant(&db, "a@example.com").await?;
    let b = tenant(&db, "b@example.com").await?;
    a.upload(ImportMode::Upsert, "email\none@x.io\n").await?;
    let customer = a.all().await.remove(0);
    let stolen = b
        .store
        .begin(b.owner.account_id)
        .await?
        .customer(a.ws, customer.id)
        .await;
    assert!(matches!(stolen, Err(kernel::StoreError::NotFound)));
    let mut tx = b.store.begin(b.owner.account_id).await?;
    let none = tx.delete_customers(a.ws, &[customer.id]).await?;
    tx.commit().await?;
    assert_eq!(none, 0);
    let listed = b
        .service
        .count_customers(&b.owner, a.ws, &CustomerFilter::default())
        .await;
    assert!(matches!(listed, Err(CustomersError::NotFound)));
    assert_eq!(a.all().await.len(), 1);
    Ok(())
}

#[tokio::test]
async fn the_sql_fit_rule_agrees_with_the_domains() -> TestResult {
    let (_database, db) = database().await?;
    let t = tenant(&db, "fit@example.com").await?;
    let values = [
        json!("text"),
        json!("2024-02-29"),
        json!("2023-02-29"),
        json!("gold"),
        json!(12),
        json!(1.5),
        json!(true),
        json!(null),
        json!("x".repeat(1001)),
    ];
    let kinds = [
        FieldKind::String,
        FieldKind::Number,
        FieldKind::Boolean,
        FieldKind::Date,
        FieldKind::Enum(vec!["gold".into(), "silver".into()]),
    ];
    // One customer per value in one workspace, then count misfits per kind.
    let mut conn = db.system().await?;
    for (i, value) in values.iter().enumerate() {
        diesel::sql_query(
            "INSERT INTO customers (id, account_id, workspace_id, email, attributes) \
             VALUES (gen_random_uuid(), $1, $2, $3, jsonb_build_object('k', $4::jsonb))",
        )
        .bind::<diesel::sql_types::Uuid, _>(t.owner.account_id.as_uuid())
        .bind::<diesel::sql_types::Uuid, _>(t.ws.as_uuid())
        .bind::<diesel::sql_types::Text, _>(format!("v{i}@x.io"))
        .bind::<diesel::sql_types::Jsonb, _>(value)
        .execute(conn.conn())
        .await?;
    }
    conn.commit().await?;
    for kind in kinds {
        let field = ProfileField {
            id: ProfileFieldId::generate(),
            workspace_id: t.ws,
            key: "k".into(),
            label: "k".into(),
            kind: kind.clone(),
            required: false,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        };
        let expected = values.iter().filter(|v| !fits(&kind, v)).count() as i64;
        let counted = t
            .store
            .begin(t.owner.account_id)
            .await?
            .count_misfits(
                field.workspace_id,
                &field.key,
                &Admits::of(&field.kind),
                field.required,
            )
            .await?;
        assert_eq!(counted, expected, "{kind:?}");
    }
    Ok(())
}

#[tokio::test]
async fn type_changes_and_field_deletion_follow_the_stored_values() -> TestResult {
    let (_database, db) = database().await?;
    let t = tenant(&db, "fields@example.com").await?;
    let since = t.field("since", "string", None).await;
    t.upload(
        ImportMode::Upsert,
        "email,since\na@x.io,2020-01-01\nb@x.io,soon\n",
    )
    .await?;
    let to_date = ProfileFieldChanges {
        kind: Some("date".into()),
        ..ProfileFieldChanges::default()
    };
    let refused = t
        .service
        .update_profile_field(&t.owner, t.ws, since.id, to_date)
        .await;
    assert!(
        matches!(refused, Err(CustomersError::Conflict(_))),
        "{refused:?}"
    );
    t.service
        .delete_profile_field(&t.owner, t.ws, since.id)
        .await?;
    assert!(t.all().await.iter().all(|c| c.attributes.is_empty()));
    Ok(())
}

#[tokio::test]
async fn cursor_paging_sees_every_customer_once_while_rows_arrive() -> TestResult {
    let (_database, db) = database().await?;
    let t = tenant(&db, "paging@example.com").await?;
    t.field("tier", "string", None).await;
    t.field("score", "number", None).await;
    t.upload(ImportMode::Upsert, &rows(1_000)).await?;
    let existing: std::collections::BTreeSet<_> = t.all().await.iter().map(|c| c.id).collect();
    let mut seen = Vec::new();
    let mut after = None;
    let mut round = 0;
    loop {
        let page = t
            .service
            .customers(
                &t.owner,
                t.ws,
                &CustomerFilter::default(),
                PageRequest {
                    after,
                    ..PageRequest::first(50)
                },
            )
            .await?;
        let Some(last) = page.items.last() else { break };
        after = Some(Keyset::new(last.created_at, last.id.as_uuid()));
        seen.extend(page.items.iter().map(|c| c.id));
        // New customers arrive between the first pages.
        round += 1;
        if round <= 10 {
            let arriving = format!("email\nnew{round}@example.com\n");
            t.upload(ImportMode::Upsert, &arriving).await?;
        }
    }
    let unique: std::collections::BTreeSet<_> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "no customer twice");
    assert!(
        existing.is_subset(&unique),
        "every customer that existed is seen"
    );
    Ok(())
}

#[tokio::test]
async fn search_and_groups_filter_lists() -> TestResult {
    let (_database, db) = database().await?;
    let t = tenant(&db, "search@example.com").await?;
    t.upload(
        ImportMode::Upsert,
        "external_id,email,first_name,last_name\nAB-1,ada@x.io,Ada,Lovelace\nAB-2,alan@x.io,Alan,Turing\nZZ-3,grace@x.io,Grace,Hopper\n",
    )
    .await?;
    let count = |search: &str| {
        let filter = CustomerFilter {
            group_id: None,
            search: Some(search.into()),
        };
        let service = &t.service;
        let owner = &t.owner;
        let ws = t.ws;
        async move { service.count_customers(owner, ws, &filter).await }
    };
    assert_eq!(count("a").await?, 2, "email or first name prefix");
    assert_eq!(count("AB-").await?, 2, "external id prefix");
    assert_eq!(count("grace h").await?, 1, "first and last name");
    assert_eq!(count("turing").await?, 1, "last name");
    assert_eq!(count("%").await?, 0, "LIKE wildcards are literal");

    let group = t
        .service
        .create_group(&t.owner, t.ws, "Pioneers", None)
        .await?;
    let ids: Vec<_> = t.all().await.iter().take(2).map(|c| c.id).collect();
    t.service
        .add_group_members(&t.owner, t.ws, group.id, &ids)
        .await?;
    let in_group = CustomerFilter {
        group_id: Some(group.id),
        search: None,
    };
    assert_eq!(
        t.service.count_customers(&t.owner, t.ws, &in_group).await?,
        2
    );
    let listed = t.service.group(&t.owner, t.ws, group.id).await?;
    assert_eq!(listed.member_count, 2);
    let first = t
        .store
        .begin(t.owner.account_id)
        .await?
        .customer(t.ws, ids[0])
        .await?;
    assert_eq!(first.group_ids, vec![group.id]);
    t.service.delete_group(&t.owner, t.ws, group.id).await?;
    assert_eq!(
        t.all().await.len(),
        3,
        "deleting a group keeps its customers"
    );
    Ok(())
}

#[tokio::test]
async fn an_upload_dropped_midway_writes_nothing() -> TestResult {
    let (_database, db) = database().await?;
    let t = tenant(&db, "dropped@example.com").await?;
    t.field("tier", "string", None).await;
    t.field("score", "number", None).await;
    let mut upload = t
        .service
        .start_upload(&t.owner, t.ws, ImportMode::Upsert, ImportFormat::Csv)
        .await?;
    // Enough rows that batches have already been copied to Postgres.
    upload.push(rows(5_000).as_bytes()).await?;
    drop(upload);
    assert!(
        t.all().await.is_empty(),
        "a connection cut mid-upload rolls back"
    );
    // And the workspace is not left locked for the next upload.
    let next = t.upload(ImportMode::Upsert, &rows(3)).await?;
    assert_eq!(next.created, 3);
    Ok(())
}

#[tokio::test]
async fn list_totals_stay_exact_through_uploads_and_deletions() -> TestResult {
    let (_database, db) = database().await?;
    let t = tenant(&db, "counted@example.com").await?;
    let other = tenant(&db, "other-counted@example.com").await?;
    async fn total(t: &Tenant) -> Result<i64, CustomersError> {
        let everyone = CustomerFilter::default();
        let counted = t.service.count_customers(&t.owner, t.ws, &everyone).await?;
        let first = PageRequest::first(1);
        let listed = t
            .service
            .customers(&t.owner, t.ws, &everyone, first)
            .await?
            .total_items;
        assert_eq!(counted, listed);
        Ok(counted)
    }
    assert_eq!(total(&t).await?, 0, "no counter row yet");
    for tenant in [&t, &other] {
        tenant
            .field("tier", "enum", Some(vec!["gold", "silver"]))
            .await;
        tenant.field("score", "number", None).await;
    }

    t.upload(ImportMode::Upsert, &rows(300)).await?;
    other.upload(ImportMode::Upsert, &rows(7)).await?;
    assert_eq!(total(&t).await?, 300);
    t.upload(ImportMode::Upsert, &rows(350)).await?;
    assert_eq!(
        total(&t).await?,
        350,
        "a re-upload counts only the new rows"
    );
    assert_eq!(total(&other).await?, 7, "each workspace its own count");

    let all = t.all().await;
    t.service.delete_customer(&t.owner, t.ws, all[0].id).await?;
    let ids: Vec<_> = all[1..11].iter().map(|c| c.id).collect();
    assert_eq!(t.service.delete_customers(&t.owner, t.ws, &ids).await?, 10);
    assert_eq!(total(&t).await?, 339);

    // The counter agrees with a real count, and a filtered list is counted, not read off it.
    let mut tx = db.system().await?;
    let real = diesel::sql_query("SELECT count(*) AS count FROM customers WHERE workspace_id = $1")
        .bind::<diesel::sql_types::Uuid, _>(t.ws.as_uuid())
        .get_result::<CountRow>(tx.conn())
        .await?
        .count;
    tx.commit().await?;
    assert_eq!(real, 339);
    let search = CustomerFilter {
        search: Some("ext-34".into()),
        ..CustomerFilter::default()
    };
    assert_eq!(
        t.service.count_customers(&t.owner, t.ws, &search).await?,
        11,
        "ext-34 and ext-340 to ext-349"
    );
    Ok(())
}

#[derive(diesel::QueryableByName)]
struct CountRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    count: i64,
}
