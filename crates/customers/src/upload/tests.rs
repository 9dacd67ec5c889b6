#![allow(
    clippy::disallowed_methods,
    reason = "tests: fixed rows get the real time, and the linear-time checks measure it"
)]
use super::*;
use crate::models::FieldKind;

fn field(key: &str) -> ProfileField {
    ProfileField {
        id: kernel::ProfileFieldId::generate(),
        workspace_id: WorkspaceId::generate(),
        key: key.into(),
        label: key.into(),
        kind: FieldKind::String,
        required: false,
        created_at: chrono::Utc::now(),
        updated_at: chrono::Utc::now(),
    }
}

fn header(rows: &mut Rows, text: &str) -> Result<(), CustomersError> {
    // Room for a header longer than an upload admits: the check itself is under test.
    let mut parser = CsvRows::new(8 << 20);
    let mut outcome = Ok(());
    let mut on_record = |r: &Record<'_>| {
        outcome = rows.header(r);
        Ok::<(), CustomersError>(())
    };
    parser.feed(text.as_bytes(), &mut on_record)?;
    parser.finish(&mut on_record)?;
    outcome
}

#[test]
fn a_huge_header_is_checked_in_linear_time() {
    // 200,000 distinct unknown columns: pairwise that is 2·10¹⁰ comparisons (minutes);
    // with a set, well under a second even unoptimised.
    let names: Vec<String> = (0..200_000).map(|i| format!("c{i}")).collect();
    let mut rows = Rows::new(vec![field("tier")]);
    let started = std::time::Instant::now();
    let outcome = header(&mut rows, &names.join(","));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    match outcome {
        Err(CustomersError::UnknownColumns {
            columns,
            more,
            more_at_least,
        }) => {
            assert_eq!(columns.len(), MAX_REPORTED_UNKNOWN);
            assert_eq!(columns.first().map(String::as_str), Some("c0"));
            assert_eq!(more, 200_000 - MAX_REPORTED_UNKNOWN as u64);
            assert!(!more_at_least);
        }
        other => panic!("{other:?}"),
    }

    // The same size with one name twice, at the far end: still found, still fast.
    let mut twice = names.clone();
    twice.push("C17".into());
    let mut rows = Rows::new(Vec::new());
    let started = std::time::Instant::now();
    let outcome = header(&mut rows, &twice.join(","));
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(
        matches!(&outcome, Err(CustomersError::BadUpload(m)) if m.contains("`c17` appears twice")),
        "{outcome:?}"
    );
}

#[test]
fn duplicates_are_found_wherever_they_are_and_names_are_cut() {
    let mut rows = Rows::new(Vec::new());
    let long = "x".repeat(10_000);
    let outcome = header(&mut rows, &format!("email,{long},phone,{long}"));
    let Err(CustomersError::BadUpload(message)) = outcome else {
        panic!("{outcome:?}");
    };
    assert!(message.len() < 200, "{message}");
    let mut rows = Rows::new(Vec::new());
    assert!(header(&mut rows, "email,phone,first_name").is_ok());
}

#[test]
fn json_unknown_keys_are_capped_and_counted() {
    let mut rows = Rows::new(vec![field("tier")]);
    // 3,000 objects of 100 keys each: 300,000 distinct unknown keys, every one repeated.
    for pass in 0..2 {
        for object in 0..3_000_u64 {
            let keys: Vec<String> = (0..100)
                .map(|k| format!("\"k{object}_{k}_{}\": 1", "y".repeat(80)))
                .collect();
            let element = format!("{{\"email\": \"a@x.io\", {}}}", keys.join(","));
            rows.json_element(object + 1 + pass * 3_000, element.as_bytes());
        }
    }
    assert!(rows.unknown.seen.len() <= MAX_COUNTED_UNKNOWN);
    assert!(
        rows.ready.is_empty(),
        "rows are not kept once the upload is refused"
    );
    match std::mem::replace(&mut rows.unknown, UnknownNames::new()).into_error() {
        CustomersError::UnknownColumns {
            columns,
            more,
            more_at_least,
        } => {
            assert_eq!(columns.len(), MAX_REPORTED_UNKNOWN);
            assert!(
                columns
                    .iter()
                    .all(|c| c.chars().count() <= MAX_NAME_CHARS + 1)
            );
            assert_eq!(more, (MAX_COUNTED_UNKNOWN - MAX_REPORTED_UNKNOWN) as u64);
            assert!(more_at_least);
        }
        other => panic!("{other:?}"),
    }

    // Below the cap the count is exact, and repeated keys count once.
    let mut rows = Rows::new(Vec::new());
    for i in 0..150_u64 {
        let element = format!("{{\"email\": \"a@x.io\", \"zip\": 1, \"u{i}\": 2}}");
        rows.json_element(i + 1, element.as_bytes());
    }
    let CustomersError::UnknownColumns {
        columns,
        more,
        more_at_least,
    } = rows.unknown.into_error()
    else {
        panic!("not unknown columns");
    };
    assert!(columns.iter().any(|c| c == "zip"), "{columns:?}");
    assert_eq!((columns.len(), more, more_at_least), (100, 51, false));
}

#[test]
fn row_errors_are_cut_to_a_bounded_size() {
    let mut rows = Rows::new(Vec::new());
    rows.record_error(1, &"f".repeat(5_000), "m".repeat(100_000));
    let error = &rows.errors[0];
    assert!(error.field.chars().count() <= MAX_NAME_CHARS + 1);
    assert!(error.message.chars().count() <= MAX_MESSAGE_CHARS + 1);
    assert_eq!(clip("héllo", 2), "hé…");
    assert_eq!(clip("héllo", 5), "héllo");
}
