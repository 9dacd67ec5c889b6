//! CSV parsing and row validation: the per-row cost of an upload before any database work.
#![allow(
    clippy::disallowed_methods,
    reason = "a harness: it measures and waits on real time"
)]

use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use customers::fakes::MemoryCustomerStore;
use customers::{CustomerPolicy, CustomerService, ImportFormat, ImportMode, NewProfileField};
use kernel::{
    AccountId, AccountRole, Actor, ManualClock, PermissionSet, SessionId, UserId, WorkspaceId,
};

const ROWS: usize = 10_000;

fn csv() -> String {
    let mut csv =
        String::from("external_id,email,phone,first_name,last_name,age,vip,born,plan,nick\n");
    for i in 0..ROWS {
        csv.push_str(&format!(
            "ext-{i},user{i}@example.com,+1415555{:04},First{i},Last{i},{},true,1990-01-{:02},pro,nick {i}\n",
            i % 10_000,
            i % 90,
            i % 28 + 1
        ));
    }
    csv
}

fn validate(c: &mut Criterion) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() else {
        return;
    };
    let store = MemoryCustomerStore::default();
    let account = AccountId::generate();
    let ws = WorkspaceId::generate();
    store.add_workspace(account, ws);
    let service = CustomerService::new(
        Arc::new(store),
        Arc::new(ManualClock::at(chrono::Utc::now())),
        CustomerPolicy::default(),
    );
    let owner = Actor {
        user_id: UserId::generate(),
        account_id: account,
        session_id: SessionId::generate(),
        account_roles: vec![AccountRole::Owner],
        workspace_roles: Vec::new(),
        scope: PermissionSet::all(),
        credential: kernel::CredentialKind::HumanSession,
    };
    runtime.block_on(async {
        for (key, kind, options) in [
            ("age", "number", None),
            ("vip", "boolean", None),
            ("born", "date", None),
            (
                "plan",
                "enum",
                Some(vec!["free".to_owned(), "pro".to_owned()]),
            ),
            ("nick", "string", None),
        ] {
            let field = NewProfileField {
                key: key.into(),
                label: key.into(),
                kind: kind.into(),
                required: false,
                options,
            };
            let _ = service.create_profile_field(&owner, ws, field).await;
        }
    });
    let body = csv();
    let mut group = c.benchmark_group("import");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.bench_function("csv_validate_10k_rows_5_fields", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let Ok(mut upload) = service
                    .start_upload(&owner, ws, ImportMode::Validate, ImportFormat::Csv)
                    .await
                else {
                    return;
                };
                for chunk in body.as_bytes().chunks(64 * 1024) {
                    let _ = upload.push(chunk).await;
                }
                let _ = upload.finish().await;
            });
        });
    });
    group.finish();
}

criterion_group!(benches, validate);
criterion_main!(benches);
