#![allow(
    clippy::disallowed_methods,
    reason = "tests start from the real time, or wait for it"
)]
use std::sync::Arc;

use kernel::{
    AccountId, AccountRole, Actor, CustomerId, ManualClock, PermissionSet, SessionId, UserId,
    WorkspaceId, WorkspaceRole,
};
use serde_json::{Value, json};

use crate::fakes::MemoryCustomerStore;
use crate::models::{
    CustomerFilter, CustomerPatch, Keyset, NewProfileField, PageRequest, ProfileFieldChanges,
};
use crate::{
    CustomerPolicy, CustomerService, CustomersError, ImportFormat, ImportMode, ImportReport,
    RowError,
};

struct World {
    service: CustomerService,
    owner: Actor,
    ws: WorkspaceId,
}

fn actor(
    account: AccountId,
    roles: Vec<AccountRole>,
    ws: Vec<(WorkspaceId, WorkspaceRole)>,
) -> Actor {
    Actor {
        user_id: UserId::generate(),
        account_id: account,
        session_id: SessionId::generate(),
        account_roles: roles,
        workspace_roles: ws,
        scope: PermissionSet::all(),
        credential: kernel::CredentialKind::HumanSession,
    }
}

fn world_with(policy: CustomerPolicy) -> World {
    let store = MemoryCustomerStore::default();
    let account = AccountId::generate();
    let ws = WorkspaceId::generate();
    store.add_workspace(account, ws);
    let clock = Arc::new(ManualClock::at(chrono::Utc::now()));
    World {
        service: CustomerService::new(Arc::new(store), clock, policy),
        owner: actor(account, vec![AccountRole::Owner], vec![]),
        ws,
    }
}

fn world() -> World {
    world_with(CustomerPolicy::default())
}

impl World {
    async fn field(&self, key: &str, kind: &str, required: bool, options: Option<Vec<&str>>) {
        let created = self
            .service
            .create_profile_field(
                &self.owner,
                self.ws,
                NewProfileField {
                    key: key.into(),
                    label: key.into(),
                    kind: kind.into(),
                    required,
                    options: options.map(|o| o.into_iter().map(String::from).collect()),
                },
            )
            .await;
        assert!(created.is_ok(), "{created:?}");
    }

    async fn upload_as(
        &self,
        format: ImportFormat,
        mode: ImportMode,
        body: &str,
        chunk: usize,
    ) -> Result<ImportReport, CustomersError> {
        let mut upload = self
            .service
            .start_upload(&self.owner, self.ws, mode, format)
            .await?;
        for piece in body.as_bytes().chunks(chunk) {
            upload.push(piece).await?;
        }
        upload.finish().await
    }

    async fn upload(&self, body: &str) -> ImportReport {
        let report = self
            .upload_as(ImportFormat::Csv, ImportMode::Upsert, body, 7)
            .await;
        report.unwrap_or_else(|e| panic!("upload failed: {e:?}"))
    }

    async fn all(&self) -> Vec<crate::Customer> {
        self.service
            .customers(&self.owner, self.ws, &CustomerFilter::default(), page(500))
            .await
            .map(|p| p.items)
            .unwrap_or_default()
    }
}

fn page(size: i64) -> PageRequest {
    PageRequest::first(size)
}

fn errors(report: &ImportReport) -> Vec<(u64, &str)> {
    report
        .errors
        .iter()
        .map(|RowError { row, field, .. }| (*row, field.as_str()))
        .collect()
}

#[tokio::test]
async fn each_field_type_is_validated_with_the_files_line_numbers() {
    let w = world();
    w.field("age", "number", false, None).await;
    w.field("vip", "boolean", false, None).await;
    w.field("born", "date", false, None).await;
    w.field("plan", "enum", false, Some(vec!["free", "pro"]))
        .await;
    w.field("nick", "string", false, None).await;
    let csv = "email,phone,age,vip,born,plan,nick\n\
               a@x.io,+14155550100,42,true,2000-01-31,pro,Al\n\
               b@x.io,12345,old,maybe,2000-02-30,gold,Bo\n\
               \n\
               not-an-email,,,,,,\n\
               \"d@x.io\",,1.5,no,,free,\"multi\nline\"\n";
    let report = w.upload(csv).await;
    assert_eq!(
        errors(&report),
        vec![
            (3, "phone"),
            (3, "age"),
            (3, "vip"),
            (3, "born"),
            (3, "plan"),
            (5, "email"),
        ]
    );
    assert_eq!(
        (report.total_rows, report.valid_rows, report.invalid_rows),
        (4, 2, 2)
    );
    assert_eq!((report.created, report.updated), (2, 0));
    let stored = w.all().await;
    assert_eq!(stored[0].attributes.get("age"), Some(&json!(42)));
    assert_eq!(stored[0].attributes.get("born"), Some(&json!("2000-01-31")));
    assert_eq!(
        stored[1].attributes.get("nick"),
        Some(&json!("multi\nline"))
    );
    assert_eq!(stored[0].phone.as_deref(), Some("+14155550100"));
}

#[tokio::test]
async fn malformed_rows_are_reported_per_row_never_as_a_failure() {
    let w = world();
    let mut csv =
        b"email,first_name\na@x.io,Ann\nb@x.io\nc@x.io,Cy,extra\nd@x.io,D\"an\ne@x.io,".to_vec();
    csv.extend_from_slice(&[0xff, 0xfe, b'\n']);
    csv.extend_from_slice(b"f@x.io,\"unclosed\n");
    let mut upload = w
        .service
        .start_upload(&w.owner, w.ws, ImportMode::Upsert, ImportFormat::Csv)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    for piece in csv.chunks(5) {
        assert!(upload.push(piece).await.is_ok());
    }
    let report = upload.finish().await.unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        errors(&report),
        vec![
            (3, "row"),
            (4, "row"),
            (5, "row"),
            (6, "first_name"),
            (7, "row")
        ]
    );
    assert_eq!(report.created, 1);
}

#[tokio::test]
async fn unknown_and_read_only_columns_refuse_the_upload() {
    let w = world();
    let refused = w
        .upload_as(
            ImportFormat::Csv,
            ImportMode::Upsert,
            "email,shoe_size,id\na@x.io,4,1\n",
            64,
        )
        .await;
    match refused {
        Err(CustomersError::UnknownColumns { columns, more, .. }) => {
            assert_eq!(columns, vec!["shoe_size", "id"]);
            assert_eq!(more, 0);
        }
        other => panic!("{other:?}"),
    }
    let json = w
        .upload_as(
            ImportFormat::Json,
            ImportMode::Upsert,
            r#"[{"email": "a@x.io", "zip": 1}]"#,
            64,
        )
        .await;
    assert!(
        matches!(json, Err(CustomersError::UnknownColumns { columns, more: 0, .. }) if columns == vec!["zip"])
    );
    assert!(w.all().await.is_empty());
    let keyless = w
        .upload_as(
            ImportFormat::Csv,
            ImportMode::Upsert,
            "first_name\nAda\n",
            64,
        )
        .await;
    assert!(matches!(keyless, Err(CustomersError::BadUpload(_))));
    let empty = w
        .upload_as(ImportFormat::Csv, ImportMode::Upsert, "", 64)
        .await;
    assert!(matches!(empty, Err(CustomersError::BadUpload(_))));
}

#[tokio::test]
async fn duplicate_keys_in_one_file_are_errors_on_the_later_rows() {
    let w = world();
    let report = w
        .upload("external_id,email\nx1,a@x.io\nx1,b@x.io\nx2,A@X.io\nx3,c@x.io\n")
        .await;
    assert_eq!(errors(&report), vec![(3, "external_id"), (4, "email")]);
    assert!(report.errors[0].message.contains("row 2"));
    assert_eq!(report.created, 2);
}

#[tokio::test]
async fn upserts_by_external_id_else_email_and_reuploads_change_nothing() {
    let w = world();
    w.field("tier", "string", false, None).await;
    let file = "external_id,email,first_name,tier\nx1,a@x.io,Ann,gold\n,b@x.io,Bob,\nx3,c@x.io,Cy,silver\n";
    let first = w.upload(file).await;
    assert_eq!(
        (first.created, first.updated, first.invalid_rows),
        (3, 0, 0)
    );
    let before = w.all().await;
    let again = w.upload(file).await;
    assert_eq!((again.created, again.updated), (0, 3));
    assert_eq!(
        w.all().await,
        before,
        "a second upload of the same file changes nothing"
    );

    // By external id (email changes), by email (name changes), and a new one.
    let change = w
        .upload("external_id,email,first_name\nx1,ann@x.io,Ann\n,b@x.io,Robert\nx9,z@x.io,Zed\n")
        .await;
    assert_eq!((change.created, change.updated), (1, 2));
    let after = w.all().await;
    assert_eq!(after[0].email.as_deref(), Some("ann@x.io"));
    assert_eq!(
        after[0].attributes.get("tier"),
        Some(&json!("gold")),
        "absent columns are kept"
    );
    assert_eq!(after[1].first_name.as_deref(), Some("Robert"));
    assert_eq!(after.len(), 4);
}

#[tokio::test]
async fn an_email_of_another_customer_is_a_row_error() {
    let w = world();
    w.upload("external_id,email\nx1,a@x.io\nx2,b@x.io\n").await;
    let report = w.upload("external_id,email\nx1,b@x.io\nx3,c@x.io\n").await;
    assert_eq!(errors(&report), vec![(2, "email")]);
    assert_eq!(
        (report.created, report.updated, report.invalid_rows),
        (1, 0, 1)
    );
}

#[tokio::test]
async fn validate_mode_reports_the_same_and_writes_nothing() {
    let w = world();
    let file = "email,phone\na@x.io,+441234567890\nb@x.io,nope\n";
    let report = w
        .upload_as(ImportFormat::Csv, ImportMode::Validate, file, 3)
        .await
        .unwrap_or_default();
    assert_eq!((report.valid_rows, report.invalid_rows), (1, 1));
    assert_eq!((report.created, report.updated), (0, 0));
    assert!(w.all().await.is_empty());
}

#[tokio::test]
async fn json_arrays_give_what_csv_gives() {
    let csv_world = world();
    let json_world = world();
    for w in [&csv_world, &json_world] {
        w.field("age", "number", true, None).await;
    }
    let csv = "email,first_name,age\na@x.io,Ann,30\nb@x.io,,\nc@x.io,Cy,x\n";
    let json = r#"[{"email": "a@x.io", "first_name": "Ann", "age": 30},
                   {"email": "b@x.io", "first_name": null},
                   {"email": "c@x.io", "first_name": "Cy", "age": "x"}]"#;
    let from_csv = csv_world.upload(csv).await;
    let from_json = json_world
        .upload_as(ImportFormat::Json, ImportMode::Upsert, json, 11)
        .await
        .unwrap_or_default();
    assert_eq!(
        (from_csv.created, from_csv.invalid_rows),
        (from_json.created, from_json.invalid_rows)
    );
    assert_eq!(errors(&from_csv), vec![(3, "age"), (4, "age")]);
    assert_eq!(errors(&from_json), vec![(2, "age"), (3, "age")]);
}

#[tokio::test]
async fn a_required_field_without_a_column_refuses_the_file() {
    let w = world();
    w.field("age", "number", true, None).await;
    let refused = w
        .upload_as(ImportFormat::Csv, ImportMode::Upsert, "email\na@x.io\n", 64)
        .await;
    assert!(matches!(refused, Err(CustomersError::BadUpload(m)) if m.contains("age")));
}

#[tokio::test]
async fn errors_are_counted_all_but_listed_up_to_the_cap() {
    let w = world();
    let mut csv = String::from("email\n");
    for _ in 0..1500 {
        csv.push_str("nope\n");
    }
    let report = w.upload(&csv).await;
    assert_eq!(report.invalid_rows, 1500);
    assert_eq!(report.errors.len(), 1000);
    assert!(report.errors_truncated);
}

#[tokio::test]
async fn the_size_limit_stops_an_upload() {
    let w = world_with(CustomerPolicy {
        max_upload_bytes: 16,
        ..CustomerPolicy::default()
    });
    let result = w
        .upload_as(
            ImportFormat::Csv,
            ImportMode::Upsert,
            "email\na@x.io\nb@x.io\nc@x.io\n",
            4,
        )
        .await;
    assert!(matches!(
        result,
        Err(CustomersError::TooLarge { limit_bytes: 16 })
    ));
}

#[tokio::test]
async fn field_type_changes_are_refused_while_values_would_not_fit() {
    let w = world();
    w.field("since", "string", false, None).await;
    w.upload("email,since\na@x.io,2020-01-01\nb@x.io,\n").await;
    let fields = w
        .service
        .profile_fields(&w.owner, w.ws)
        .await
        .unwrap_or_default();
    let id = fields[0].id;
    let change = |kind: &str| ProfileFieldChanges {
        kind: Some(kind.into()),
        ..ProfileFieldChanges::default()
    };
    let to_date = w
        .service
        .update_profile_field(&w.owner, w.ws, id, change("date"))
        .await;
    assert!(to_date.is_ok(), "every stored value is a date: {to_date:?}");
    let to_number = w
        .service
        .update_profile_field(&w.owner, w.ws, id, change("number"))
        .await;
    assert!(matches!(to_number, Err(CustomersError::Conflict(_))));
    let required = ProfileFieldChanges {
        required: Some(true),
        ..ProfileFieldChanges::default()
    };
    let made_required = w
        .service
        .update_profile_field(&w.owner, w.ws, id, required)
        .await;
    assert!(
        matches!(made_required, Err(CustomersError::Conflict(_))),
        "b has no value"
    );

    assert!(
        w.service
            .delete_profile_field(&w.owner, w.ws, id)
            .await
            .is_ok()
    );
    assert!(w.all().await.iter().all(|c| c.attributes.is_empty()));
}

#[tokio::test]
async fn patches_merge_attributes_and_null_removes() {
    let w = world();
    w.field("a", "number", false, None).await;
    w.field("b", "string", false, None).await;
    w.upload("email,a,b\nx@x.io,1,keep\n").await;
    let id = w.all().await[0].id;
    let patch = CustomerPatch {
        first_name: Some(Some("Xi".into())),
        attributes: serde_json::from_value(json!({"a": null, "b": "new"})).ok(),
        ..CustomerPatch::default()
    };
    let updated = w.service.update_customer(&w.owner, w.ws, id, patch).await;
    let updated = updated.unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(updated.first_name.as_deref(), Some("Xi"));
    assert_eq!(Value::Object(updated.attributes), json!({"b": "new"}));

    let bad = CustomerPatch {
        phone: Some(Some("555".into())),
        attributes: serde_json::from_value(json!({"nope": 1})).ok(),
        ..CustomerPatch::default()
    };
    match w.service.update_customer(&w.owner, w.ws, id, bad).await {
        Err(CustomersError::Validation(fields)) => {
            let named: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
            assert_eq!(named, vec!["phone", "attributes.nope"]);
        }
        other => panic!("{other:?}"),
    }
    let keyless = CustomerPatch {
        email: Some(None),
        ..CustomerPatch::default()
    };
    assert!(matches!(
        w.service.update_customer(&w.owner, w.ws, id, keyless).await,
        Err(CustomersError::Validation(_))
    ));
}

#[tokio::test]
async fn groups_keep_member_counts_and_deleting_one_keeps_its_customers() {
    let w = world();
    w.upload("email\na@x.io\nb@x.io\n").await;
    let ids: Vec<CustomerId> = w.all().await.iter().map(|c| c.id).collect();
    let group = w
        .service
        .create_group(&w.owner, w.ws, "VIP", Some("best"))
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        w.service
            .add_group_members(&w.owner, w.ws, group.id, &ids)
            .await
            .ok(),
        Some(2)
    );
    assert_eq!(
        w.service
            .add_group_members(&w.owner, w.ws, group.id, &ids)
            .await
            .ok(),
        Some(0)
    );
    let stranger = [CustomerId::generate()];
    assert!(matches!(
        w.service
            .add_group_members(&w.owner, w.ws, group.id, &stranger)
            .await,
        Err(CustomersError::Validation(_))
    ));
    let listed = w
        .service
        .groups(&w.owner, w.ws, page(10))
        .await
        .map(|p| p.items);
    assert_eq!(listed.ok().map(|g| g[0].member_count), Some(2));
    let in_group = CustomerFilter {
        group_id: Some(group.id),
        search: None,
    };
    let count = w
        .service
        .count_customers(&w.owner, w.ws, &in_group)
        .await
        .ok();
    assert_eq!(count, Some(2));
    assert_eq!(w.all().await[0].group_ids, vec![group.id]);
    assert_eq!(
        w.service
            .remove_group_members(&w.owner, w.ws, group.id, &ids[..1])
            .await
            .ok(),
        Some(1)
    );
    assert!(
        w.service
            .delete_group(&w.owner, w.ws, group.id)
            .await
            .is_ok()
    );
    assert_eq!(w.all().await.len(), 2);
    assert!(w.all().await.iter().all(|c| c.group_ids.is_empty()));
}

#[tokio::test]
async fn viewers_read_editors_write_and_strangers_see_nothing() {
    let w = world();
    let viewer = actor(
        w.owner.account_id,
        vec![AccountRole::Member],
        vec![(w.ws, WorkspaceRole::Viewer)],
    );
    let editor = actor(
        w.owner.account_id,
        vec![AccountRole::Member],
        vec![(w.ws, WorkspaceRole::Editor)],
    );
    let outsider = actor(w.owner.account_id, vec![AccountRole::Member], vec![]);
    let other_account = actor(AccountId::generate(), vec![AccountRole::Owner], vec![]);
    let filter = CustomerFilter::default();
    assert!(
        w.service
            .count_customers(&viewer, w.ws, &filter)
            .await
            .is_ok()
    );
    assert!(matches!(
        w.service.create_group(&viewer, w.ws, "G", None).await,
        Err(CustomersError::Forbidden(_))
    ));
    assert!(
        w.service
            .create_group(&editor, w.ws, "G", None)
            .await
            .is_ok()
    );
    for stranger in [&outsider, &other_account] {
        assert!(matches!(
            w.service.count_customers(stranger, w.ws, &filter).await,
            Err(CustomersError::NotFound)
        ));
    }
    assert!(matches!(
        w.service
            .count_customers(&w.owner, WorkspaceId::generate(), &filter)
            .await,
        Err(CustomersError::NotFound)
    ));
}

#[tokio::test]
async fn keyset_pages_continue_after_the_cursor() {
    let w = world();
    let mut csv = String::from("email\n");
    for i in 0..25 {
        csv.push_str(&format!("c{i}@x.io\n"));
    }
    w.upload(&csv).await;
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let request = PageRequest {
            after,
            ..PageRequest::first(10)
        };
        let page = w
            .service
            .customers(&w.owner, w.ws, &CustomerFilter::default(), request)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(page.total_items, 25);
        let Some(last) = page.items.last() else { break };
        after = Some(Keyset::new(last.created_at, last.id.as_uuid()));
        seen.extend(page.items.iter().map(|c| c.id));
    }
    assert_eq!(seen.len(), 25);
    let search = CustomerFilter {
        group_id: None,
        search: Some("C1".into()),
    };
    let count = w
        .service
        .count_customers(&w.owner, w.ws, &search)
        .await
        .ok();
    assert_eq!(count, Some(11), "c1 and c10..c19, case-insensitive");
}

#[tokio::test]
async fn an_upload_holds_nothing_until_its_first_bytes_and_never_waits_for_a_slot() {
    let store = MemoryCustomerStore::default();
    let account = AccountId::generate();
    let (ws, other_ws) = (WorkspaceId::generate(), WorkspaceId::generate());
    store.add_workspace(account, ws);
    store.add_workspace(account, other_ws);
    store.limit_imports(2);
    let clock = Arc::new(ManualClock::at(chrono::Utc::now()));
    let service = CustomerService::new(Arc::new(store.clone()), clock, CustomerPolicy::default());
    let owner = actor(account, vec![AccountRole::Owner], vec![]);
    let start = |ws| service.start_upload(&owner, ws, ImportMode::Upsert, ImportFormat::Csv);

    // Started but silent: no slot taken, however many.
    let mut silent = Vec::new();
    for _ in 0..5 {
        silent.push(start(ws).await.unwrap_or_else(|e| panic!("{e:?}")));
    }
    assert_eq!(store.open_imports(), 0);

    // The first bytes take the workspace; a second upload into it is refused at once.
    let mut first = start(ws).await.unwrap_or_else(|e| panic!("{e:?}"));
    assert!(first.push(b"email\n").await.is_ok());
    assert!(first.is_open());
    let mut second = start(ws).await.unwrap_or_else(|e| panic!("{e:?}"));
    assert!(matches!(
        second.push(b"email\n").await,
        Err(CustomersError::ImportInProgress)
    ));

    // Another workspace takes the second slot; a third upload finds none.
    let mut elsewhere = start(other_ws).await.unwrap_or_else(|e| panic!("{e:?}"));
    assert!(elsewhere.push(b"email\n").await.is_ok());
    let mut third = start(ws).await.unwrap_or_else(|e| panic!("{e:?}"));
    assert!(matches!(
        third.push(b"email\n").await,
        Err(CustomersError::UploadsBusy)
    ));

    // Dropped unfinished, an upload frees its slot and its workspace.
    drop(first);
    drop(elsewhere);
    assert_eq!(store.open_imports(), 0);
    let report = async {
        let mut again = start(ws).await?;
        again.push(b"email\na@x.io\n").await?;
        again.finish().await
    }
    .await;
    assert!(
        matches!(report, Ok(ImportReport { created: 1, .. })),
        "{report:?}"
    );
    drop(silent);
}

#[tokio::test]
async fn a_refused_upload_frees_its_workspace() {
    let w = world();
    // An empty file and unknown columns are refused before anything is written.
    let unknown = w
        .upload_as(ImportFormat::Csv, ImportMode::Upsert, "nope\n", 64)
        .await;
    assert!(matches!(
        unknown,
        Err(CustomersError::UnknownColumns { .. })
    ));
    let report = w.upload("email\na@x.io\n").await;
    assert_eq!(report.created, 1);
}
