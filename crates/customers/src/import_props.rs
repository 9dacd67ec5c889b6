//! Property tests of the streaming importer: arbitrary bytes, cut into arbitrary chunks, never
//! panic and give the same records, report or error as the same bytes in one piece.
#![allow(
    clippy::disallowed_methods,
    reason = "tests start from the real time, or wait for it"
)]

use std::sync::Arc;

use kernel::{
    AccountId, AccountRole, Actor, ManualClock, PermissionSet, SessionId, UserId, WorkspaceId,
};
use proptest::prelude::*;
use proptest::sample::Index;

use crate::csv_rows::{CsvRows, Record, RecordTooLong};
use crate::fakes::MemoryCustomerStore;
use crate::json_rows::{ArrayError, JsonRows};
use crate::models::NewProfileField;
use crate::{CustomerPolicy, CustomerService, ImportFormat, ImportMode};

/// Few cases by default so that CI stays quick; `PROPTEST_CASES` runs more.
fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(96),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// `data` cut at the given points (in any order, repeats allowed: empty chunks too).
fn chunks<'a>(data: &'a [u8], cuts: &[Index]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c.index(data.len() + 1)).collect();
    points.sort_unstable();
    let mut pieces = Vec::new();
    let mut start = 0;
    for point in points {
        pieces.push(&data[start..point]);
        start = point;
    }
    pieces.push(&data[start..]);
    pieces
}

/// Bytes that look like CSV often enough to reach deep into the parser: quotes, separators,
/// line ends, a BOM, a NUL, invalid UTF-8 and a few field names.
fn csv_like() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b",".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\xef\xbb\xbf".to_vec()),
        Just(b"\0".to_vec()),
        Just(b"\xff".to_vec()),
        Just(b"email".to_vec()),
        Just(b"external_id".to_vec()),
        Just(b"first_name".to_vec()),
        Just(b"phone".to_vec()),
        Just(b"score".to_vec()),
        Just(b"a@x.io".to_vec()),
        Just(b"+14155550123".to_vec()),
        Just(b"12.5".to_vec()),
        "[a-zA-Z0-9 ]{0,6}".prop_map(String::into_bytes),
    ];
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        prop::collection::vec(token.clone(), 0..60).prop_map(|t| t.concat()),
        prop::collection::vec(token, 0..60).prop_map(|t| {
            let mut data = b"email,external_id,first_name,score\n".to_vec();
            data.extend(t.concat());
            data
        }),
    ]
}

fn json_like() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b"[".to_vec()),
        Just(b"]".to_vec()),
        Just(b"{".to_vec()),
        Just(b"}".to_vec()),
        Just(b",".to_vec()),
        Just(b":".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"\\".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\"email\"".to_vec()),
        Just(b"\"first_name\"".to_vec()),
        Just(b"\"score\"".to_vec()),
        Just(b"\"a@x.io\"".to_vec()),
        Just(b"null".to_vec()),
        Just(b"1e999".to_vec()),
        Just(b"\xff".to_vec()),
        "[a-z0-9]{0,4}".prop_map(String::into_bytes),
    ];
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        prop::collection::vec(token.clone(), 0..60).prop_map(|t| t.concat()),
        prop::collection::vec(token, 0..60).prop_map(|t| {
            let mut data = b"[{\"email\": \"b@x.io\"},".to_vec();
            data.extend(t.concat());
            data
        }),
    ]
}

#[derive(Debug, PartialEq)]
struct Row {
    line: u64,
    balanced: bool,
    fields: Vec<Vec<u8>>,
}

fn csv_records(pieces: &[&[u8]], limit: usize) -> Result<Vec<Row>, RecordTooLong> {
    let mut rows = Vec::new();
    let mut parser = CsvRows::new(limit);
    let mut collect = |r: &Record<'_>| -> Result<(), RecordTooLong> {
        rows.push(Row {
            line: r.line,
            balanced: r.quotes_balanced,
            fields: r.fields().map(<[u8]>::to_vec).collect(),
        });
        Ok(())
    };
    for piece in pieces {
        parser.feed(piece, &mut collect)?;
    }
    parser.finish(&mut collect)?;
    Ok(rows)
}

fn json_elements(pieces: &[&[u8]], limit: usize) -> Result<Vec<(u64, Vec<u8>)>, ArrayError> {
    let mut out = Vec::new();
    let mut rows = JsonRows::new(limit);
    let mut collect = |i: u64, bytes: &[u8]| -> Result<(), ArrayError> {
        out.push((i, bytes.to_vec()));
        Ok(())
    };
    for piece in pieces {
        rows.feed(piece, &mut collect)?;
    }
    rows.finish()?;
    Ok(out)
}

/// A whole upload through the service, on a fresh in-memory store with one number field;
/// the report, or the error, as text.
fn upload(format: ImportFormat, pieces: &[&[u8]]) -> String {
    let runtime = match tokio::runtime::Builder::new_current_thread().build() {
        Ok(runtime) => runtime,
        Err(e) => return format!("no runtime: {e}"),
    };
    runtime.block_on(async {
        let store = MemoryCustomerStore::default();
        let account = AccountId::generate();
        let ws = WorkspaceId::generate();
        store.add_workspace(account, ws);
        let clock = Arc::new(ManualClock::at(chrono::Utc::now()));
        let service = CustomerService::new(Arc::new(store), clock, CustomerPolicy::default());
        let owner = Actor {
            user_id: UserId::generate(),
            account_id: account,
            session_id: SessionId::generate(),
            account_roles: vec![AccountRole::Owner],
            workspace_roles: vec![],
            scope: PermissionSet::all(),
            credential: kernel::CredentialKind::HumanSession,
        };
        let field = NewProfileField {
            key: "score".into(),
            label: "Score".into(),
            kind: "number".into(),
            required: false,
            options: None,
        };
        if let Err(e) = service.create_profile_field(&owner, ws, field).await {
            return format!("setup: {e:?}");
        }
        let mut session = match service
            .start_upload(&owner, ws, ImportMode::Upsert, format)
            .await
        {
            Ok(session) => session,
            Err(e) => return format!("start: {e:?}"),
        };
        for piece in pieces {
            if let Err(e) = session.push(piece).await {
                return format!("error: {e:?}");
            }
        }
        match session.finish().await {
            Ok(report) => format!("{report:?}"),
            Err(e) => format!("error: {e:?}"),
        }
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn csv_records_do_not_depend_on_chunking(
        data in csv_like(),
        cuts in prop::collection::vec(any::<Index>(), 0..12),
        limit in prop_oneof![Just(16usize), Just(1024usize)],
    ) {
        let whole = csv_records(&[&data], limit);
        prop_assert_eq!(csv_records(&chunks(&data, &cuts), limit), whole);
    }

    #[test]
    fn json_elements_do_not_depend_on_chunking(
        data in json_like(),
        cuts in prop::collection::vec(any::<Index>(), 0..12),
        limit in prop_oneof![Just(16usize), Just(1024usize)],
    ) {
        let whole = json_elements(&[&data], limit);
        prop_assert_eq!(json_elements(&chunks(&data, &cuts), limit), whole);
    }

    #[test]
    fn a_csv_upload_reports_the_same_however_it_arrives(
        data in csv_like(),
        cuts in prop::collection::vec(any::<Index>(), 0..8),
    ) {
        let whole = upload(ImportFormat::Csv, &[&data]);
        prop_assert!(!whole.starts_with("setup") && !whole.starts_with("start"), "{}", whole);
        prop_assert_eq!(upload(ImportFormat::Csv, &chunks(&data, &cuts)), whole);
    }

    #[test]
    fn a_json_upload_reports_the_same_however_it_arrives(
        data in json_like(),
        cuts in prop::collection::vec(any::<Index>(), 0..8),
    ) {
        let whole = upload(ImportFormat::Json, &[&data]);
        prop_assert!(!whole.starts_with("setup") && !whole.starts_with("start"), "{}", whole);
        prop_assert_eq!(upload(ImportFormat::Json, &chunks(&data, &cuts)), whole);
    }
}
