//! Uploads: bytes in, validated rows out to an [`ImportSink`], a report at the end.
//!
//! A CSV file's first row names the columns (the built-in fields and profile field keys); each
//! later row is checked on its own, and a row's number is the file line it starts on. A JSON
//! upload is an array of objects keyed the same way; a row's number is its 1-based position.
//! An empty cell (or `null`) clears phone, names and attributes on update; `external_id` and
//! `email` are the upsert keys and are never cleared by an upload.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::time::Duration;

use kernel::{AccountId, CustomerId, WorkspaceId};
use serde_json::{Map, Value};

use crate::csv_rows::{CsvRows, Record, RecordTooLong};
use crate::error::{CustomersError, RowError};
use crate::fields;
use crate::json_rows::{ArrayError, JsonRows};
use crate::models::ProfileField;
use crate::ports::{CustomerStore, ImportRow, ImportSink, sets};
use crate::values::{Cell, typed_value};

/// At most this many errors are listed in a report (all are counted).
pub const MAX_REPORTED_ERRORS: usize = 1000;
/// Longest single row (CSV record or JSON element) accepted.
pub const MAX_ROW_BYTES: usize = 1 << 20;
/// Rows handed to the sink at a time.
const BATCH_ROWS: usize = 2000;
/// At most this many unknown columns (CSV) or keys (JSON) are named in the error; the rest are
/// counted.
pub const MAX_REPORTED_UNKNOWN: usize = 100;
/// A JSON upload counts at most this many distinct unknown keys (as 64-bit hashes); past it the
/// error says "at least".
pub const MAX_COUNTED_UNKNOWN: usize = 100_000;
/// A column or key name quoted in an error is cut to this many characters.
pub const MAX_NAME_CHARS: usize = 64;
/// A row error's message is cut to this many characters, so a report's size is bounded
/// (at most [`MAX_REPORTED_ERRORS`] × (name + message)).
pub const MAX_MESSAGE_CHARS: usize = 256;

/// `text`, cut to `max_chars` characters (marked with `…` when cut).
#[must_use]
pub fn clip(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        None => text.to_owned(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportFormat {
    Csv,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportMode {
    /// Check every row; write nothing.
    Validate,
    /// Check every row and write the valid ones.
    Upsert,
}

/// The answer to an upload.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub total_rows: u64,
    pub valid_rows: u64,
    pub invalid_rows: u64,
    pub created: u64,
    pub updated: u64,
    /// The first [`MAX_REPORTED_ERRORS`] errors, by row.
    pub errors: Vec<RowError>,
    pub errors_truncated: bool,
}

/// Where a value of a row goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    ExternalId,
    Email,
    Phone,
    FirstName,
    LastName,
    /// The profile field at this index of the schema.
    Attribute(usize),
    /// A name that is none of the above.
    Unknown,
}

/// One hash lookup per name: a header of 100,000 columns costs 100,000 lookups, not
/// 100,000 × the number of profile fields.
fn target_of(name: &str, schema_index: &HashMap<String, usize>) -> Target {
    match name {
        "external_id" => Target::ExternalId,
        "email" => Target::Email,
        "phone" => Target::Phone,
        "first_name" => Target::FirstName,
        "last_name" => Target::LastName,
        _ => schema_index
            .get(name)
            .map_or(Target::Unknown, |i| Target::Attribute(*i)),
    }
}

/// Unknown names of an upload, in memory bounded whatever the upload: the first
/// [`MAX_REPORTED_UNKNOWN`] (cut to [`MAX_NAME_CHARS`]), and a count of the rest.
struct UnknownNames {
    listed: Vec<String>,
    /// Distinct names seen (JSON keys repeat from object to object), as keyed hashes; at most
    /// [`MAX_COUNTED_UNKNOWN`] of them.
    seen: HashSet<u64>,
    hasher: RandomState,
    more: u64,
    /// Counting stopped at [`MAX_COUNTED_UNKNOWN`]: `more` is a lower bound.
    saturated: bool,
}

impl UnknownNames {
    fn new() -> Self {
        Self {
            listed: Vec::new(),
            seen: HashSet::new(),
            hasher: RandomState::new(),
            more: 0,
            saturated: false,
        }
    }

    fn is_empty(&self) -> bool {
        self.listed.is_empty()
    }

    /// A name known to be new (a CSV header has no name twice by the time it is checked).
    fn add_distinct(&mut self, name: &str) {
        if self.listed.len() < MAX_REPORTED_UNKNOWN {
            self.listed.push(clip(name, MAX_NAME_CHARS));
        } else {
            self.more += 1;
        }
    }

    /// A name that may have been seen before.
    fn add(&mut self, name: &str) {
        if self.saturated {
            return;
        }
        let hash = self.hasher.hash_one(name);
        if self.seen.contains(&hash) {
            return;
        }
        if self.seen.len() >= MAX_COUNTED_UNKNOWN {
            self.saturated = true;
            return;
        }
        self.seen.insert(hash);
        self.add_distinct(name);
    }

    fn into_error(self) -> CustomersError {
        CustomersError::UnknownColumns {
            columns: self.listed,
            more: self.more,
            more_at_least: self.saturated,
        }
    }
}

/// Checks rows one by one and keeps the tally.
struct Rows {
    schema: Vec<ProfileField>,
    /// Each profile field's key → its index in `schema`.
    schema_index: HashMap<String, usize>,
    /// CSV: the header's columns, once read.
    columns: Option<Vec<(String, Target)>>,
    /// JSON: keys seen that are not columns (the upload is refused at the end; rows are no
    /// longer checked once one is seen).
    unknown: UnknownNames,
    /// Upsert keys seen in earlier valid rows, as 64-bit keyed hashes (row number kept for the
    /// message); a collision would only misreport one row as a duplicate.
    seen_external_ids: HashMap<u64, u64>,
    seen_emails: HashMap<u64, u64>,
    hasher: RandomState,
    total: u64,
    invalid: u64,
    error_count: u64,
    errors: Vec<RowError>,
    ready: Vec<ImportRow>,
}

/// Accumulates one row's values and errors.
struct RowBuilder {
    row: ImportRow,
    errors: Vec<(String, String)>,
}

impl RowBuilder {
    fn new(row: u64) -> Self {
        Self {
            row: ImportRow {
                row,
                id: CustomerId::generate(),
                external_id: None,
                email: None,
                phone: None,
                first_name: None,
                last_name: None,
                sets: 0,
                attributes: Map::new(),
                cleared: Vec::new(),
            },
            errors: Vec::new(),
        }
    }

    fn error(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push((field.to_owned(), message.into()));
    }

    /// Sets one value; `None` is an empty cell or `null`.
    fn set(&mut self, name: &str, target: Target, schema: &[ProfileField], cell: Option<Cell<'_>>) {
        let text = |cell: Cell<'_>| match cell {
            Cell::Text(text) => Ok(text.to_owned()),
            Cell::Json(Value::String(text)) => Ok(text.clone()),
            Cell::Json(_) => Err("must be a string".to_owned()),
        };
        let parsed = |check: fn(&str) -> Result<String, String>| {
            cell.map(|c| text(c).and_then(|t| check(&t))).transpose()
        };
        let row = &mut self.row;
        let outcome = match target {
            Target::ExternalId => parsed(fields::external_id).map(|v| row.external_id = v),
            Target::Email => parsed(fields::email).map(|v| row.email = v),
            Target::Phone => parsed(fields::phone).map(|v| {
                row.phone = v;
                row.sets |= sets::PHONE;
            }),
            Target::FirstName => parsed(fields::name).map(|v| {
                row.first_name = v;
                row.sets |= sets::FIRST_NAME;
            }),
            Target::LastName => parsed(fields::name).map(|v| {
                row.last_name = v;
                row.sets |= sets::LAST_NAME;
            }),
            Target::Attribute(index) => {
                let Some(field) = schema.get(index) else {
                    return;
                };
                match cell {
                    None => {
                        if field.required {
                            Err("is required".to_owned())
                        } else {
                            row.cleared.push(field.key.clone());
                            Ok(())
                        }
                    }
                    Some(cell) => typed_value(&field.kind, cell).map(|value| {
                        row.attributes.insert(field.key.clone(), value);
                    }),
                }
            }
            Target::Unknown => Ok(()),
        };
        if let Err(message) = outcome {
            self.error(name, message);
        }
    }
}

impl Rows {
    fn new(schema: Vec<ProfileField>) -> Self {
        let schema_index = schema
            .iter()
            .enumerate()
            .map(|(i, f)| (f.key.clone(), i))
            .collect();
        Self {
            schema,
            schema_index,
            columns: None,
            unknown: UnknownNames::new(),
            seen_external_ids: HashMap::new(),
            seen_emails: HashMap::new(),
            hasher: RandomState::new(),
            total: 0,
            invalid: 0,
            error_count: 0,
            errors: Vec::new(),
            ready: Vec::new(),
        }
    }

    fn record_error(&mut self, row: u64, field: &str, message: impl Into<String>) {
        self.error_count += 1;
        if self.errors.len() < MAX_REPORTED_ERRORS {
            self.errors.push(RowError {
                row,
                field: clip(field, MAX_NAME_CHARS),
                message: clip(&message.into(), MAX_MESSAGE_CHARS),
            });
        }
    }

    fn reject(&mut self, row: u64, field: &str, message: impl Into<String>) {
        self.invalid += 1;
        self.record_error(row, field, message);
    }

    /// The CSV header: every column must be known, none twice, and required fields present.
    /// Linear in the number of columns (a set of the names, one lookup each), whatever the
    /// header holds.
    fn header(&mut self, record: &Record<'_>) -> Result<(), CustomersError> {
        let mut names: Vec<String> = Vec::with_capacity(record.len());
        for (index, raw) in record.fields().enumerate() {
            let raw = if index == 0 {
                raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw)
            } else {
                raw
            };
            let name = std::str::from_utf8(raw)
                .map_err(|_| CustomersError::BadUpload("the header row is not valid UTF-8".into()))?
                .trim()
                .to_ascii_lowercase();
            names.push(name);
        }
        let mut seen: HashSet<&str> = HashSet::with_capacity(names.len());
        for name in &names {
            if !seen.insert(name) {
                return Err(CustomersError::BadUpload(format!(
                    "column `{}` appears twice in the header",
                    clip(name, MAX_NAME_CHARS)
                )));
            }
        }
        drop(seen);
        let mut unknown = UnknownNames::new();
        let mut columns: Vec<(String, Target)> = Vec::with_capacity(names.len());
        for name in names {
            let target = target_of(&name, &self.schema_index);
            if target == Target::Unknown {
                unknown.add_distinct(&name);
            }
            columns.push((name, target));
        }
        if !unknown.is_empty() {
            return Err(unknown.into_error());
        }
        let has = |t: Target| columns.iter().any(|(_, c)| *c == t);
        if !has(Target::ExternalId) && !has(Target::Email) {
            return Err(CustomersError::BadUpload(
                "the header needs an `external_id` or an `email` column".into(),
            ));
        }
        let missing: Vec<&str> = self
            .schema
            .iter()
            .enumerate()
            .filter(|(i, f)| f.required && !has(Target::Attribute(*i)))
            .map(|(_, f)| f.key.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(CustomersError::BadUpload(format!(
                "required profile fields have no column: {}",
                missing.join(", ")
            )));
        }
        self.columns = Some(columns);
        Ok(())
    }

    fn csv_record(&mut self, record: &Record<'_>) -> Result<(), CustomersError> {
        if record.is_blank() {
            return Ok(());
        }
        let Some(columns) = self.columns.take() else {
            return self.header(record);
        };
        self.total += 1;
        let line = record.line;
        if !record.quotes_balanced {
            self.reject(line, "row", "unbalanced quotes");
        } else if record.len() != columns.len() {
            self.reject(
                line,
                "row",
                format!(
                    "has {} fields; the header has {}",
                    record.len(),
                    columns.len()
                ),
            );
        } else {
            let mut builder = RowBuilder::new(line);
            for ((name, target), raw) in columns.iter().zip(record.fields()) {
                match std::str::from_utf8(raw) {
                    Err(_) => builder.error(name, "is not valid UTF-8"),
                    Ok(text) => {
                        let cell = (!text.trim().is_empty()).then_some(Cell::Text(text));
                        builder.set(name, *target, &self.schema, cell);
                    }
                }
            }
            self.finish_row(builder);
        }
        self.columns = Some(columns);
        Ok(())
    }

    fn json_element(&mut self, index: u64, bytes: &[u8]) {
        self.total += 1;
        let object = match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(object)) => object,
            Ok(_) => return self.reject(index, "row", "must be a JSON object"),
            Err(e) => return self.reject(index, "row", format!("is not valid JSON: {e}")),
        };
        // An unknown key refuses the whole upload: from the first one on, rows are only
        // scanned for more unknown keys (counted in bounded memory), no longer checked.
        for key in object.keys() {
            if target_of(key, &self.schema_index) == Target::Unknown {
                self.unknown.add(key);
            }
        }
        if !self.unknown.is_empty() {
            return;
        }
        let mut builder = RowBuilder::new(index);
        let mut has_attribute = vec![false; self.schema.len()];
        for (key, value) in &object {
            let target = target_of(key, &self.schema_index);
            if let Target::Attribute(i) = target
                && let Some(seen) = has_attribute.get_mut(i)
            {
                *seen = !value.is_null();
            }
            let cell = (!value.is_null()).then_some(Cell::Json(value));
            builder.set(key, target, &self.schema, cell);
        }
        for (field, present) in self.schema.iter().zip(&has_attribute) {
            if field.required && !present && !object.contains_key(&field.key) {
                builder.error(&field.key, "is required");
            }
        }
        self.finish_row(builder);
    }

    /// Row-level rules, then the row is either ready or rejected with all its errors.
    fn finish_row(&mut self, mut builder: RowBuilder) {
        let row = builder.row.row;
        let key_errors = builder
            .errors
            .iter()
            .any(|(field, _)| field == "external_id" || field == "email");
        if builder.row.external_id.is_none() && builder.row.email.is_none() && !key_errors {
            builder.error("external_id", "a row needs an external_id or an email");
        }
        if builder.errors.is_empty() {
            self.check_duplicates(&mut builder);
        }
        if builder.errors.is_empty() {
            self.remember_keys(&builder.row);
            self.ready.push(builder.row);
            return;
        }
        self.invalid += 1;
        for (field, message) in builder.errors {
            self.record_error(row, &field, message);
        }
    }

    fn check_duplicates(&self, builder: &mut RowBuilder) {
        if let Some(id) = &builder.row.external_id
            && let Some(first) = self.seen_external_ids.get(&self.hasher.hash_one(id))
        {
            builder.error("external_id", format!("duplicates row {first}"));
        }
        if let Some(email) = &builder.row.email
            && let Some(first) = self.seen_emails.get(&self.hasher.hash_one(email))
        {
            builder.error("email", format!("duplicates row {first}"));
        }
    }

    fn remember_keys(&mut self, row: &ImportRow) {
        if let Some(id) = &row.external_id {
            self.seen_external_ids
                .insert(self.hasher.hash_one(id), row.row);
        }
        if let Some(email) = &row.email {
            self.seen_emails
                .insert(self.hasher.hash_one(email), row.row);
        }
    }
}

impl From<RecordTooLong> for CustomersError {
    fn from(error: RecordTooLong) -> Self {
        Self::BadUpload(error.to_string())
    }
}

impl From<ArrayError> for CustomersError {
    fn from(error: ArrayError) -> Self {
        Self::BadUpload(error.to_string())
    }
}

enum Parser {
    Csv(Box<CsvRows>),
    Json(JsonRows),
}

/// Where an upload's rows go, and whether its import has begun.
enum Sink {
    /// Nothing is held yet: the import begins when the first bytes of the body arrive.
    Unopened {
        store: Arc<dyn CustomerStore>,
        account: AccountId,
        ws: WorkspaceId,
    },
    Open(Box<dyn ImportSink>),
}

/// One upload in progress. Feed it the body with [`Upload::push`] as it arrives, then
/// [`Upload::finish`]. Dropping it unfinished writes nothing.
///
/// `push` is [`Upload::open`] + [`Upload::check`] + [`Upload::write_ready`]; a caller that must
/// keep CPU work off its I/O threads calls them apart and runs `check` (and `check_end`,
/// before `finish`) elsewhere: they do no I/O, and an `Upload` is `Send`.
pub struct Upload {
    parser: Parser,
    rows: Rows,
    sink: Sink,
    mode: ImportMode,
    received: u64,
    limit_bytes: u64,
    body_idle: Duration,
    ended: bool,
}

impl Upload {
    pub(crate) fn new(
        format: ImportFormat,
        mode: ImportMode,
        schema: Vec<ProfileField>,
        target: (Arc<dyn CustomerStore>, AccountId, WorkspaceId),
        limit_bytes: u64,
        body_idle: Duration,
    ) -> Self {
        let parser = match format {
            ImportFormat::Csv => Parser::Csv(Box::new(CsvRows::new(MAX_ROW_BYTES))),
            ImportFormat::Json => Parser::Json(JsonRows::new(MAX_ROW_BYTES)),
        };
        let (store, account, ws) = target;
        Self {
            parser,
            rows: Rows::new(schema),
            sink: Sink::Unopened { store, account, ws },
            mode,
            received: 0,
            limit_bytes,
            body_idle,
            ended: false,
        }
    }

    /// How long the body may send nothing before the upload is abandoned (the policy's
    /// `upload_body_idle`; the caller enforces it, since reading the body is its business).
    #[must_use]
    pub fn body_idle(&self) -> Duration {
        self.body_idle
    }

    /// Whether the import has begun (it holds a slot and, in Postgres, a connection).
    #[must_use]
    pub fn is_open(&self) -> bool {
        matches!(self.sink, Sink::Open(_))
    }

    /// Begins the import, if it has not begun: call it when the first bytes arrive. Never
    /// waits: [`CustomersError::UploadsBusy`] when no slot is free, and
    /// [`CustomersError::ImportInProgress`] when the workspace is importing already.
    pub async fn open(&mut self) -> Result<(), CustomersError> {
        if let Sink::Unopened { store, account, ws } = &self.sink {
            let sink = store.begin_import(*account, *ws).await?;
            self.sink = Sink::Open(sink);
        }
        Ok(())
    }

    /// Parses and checks the next piece of the body (CPU only, no I/O): valid rows wait for
    /// [`Upload::write_ready`].
    pub fn check(&mut self, chunk: &[u8]) -> Result<(), CustomersError> {
        self.received += chunk.len() as u64;
        if self.received > self.limit_bytes {
            return Err(CustomersError::TooLarge {
                limit_bytes: self.limit_bytes,
            });
        }
        let rows = &mut self.rows;
        match &mut self.parser {
            Parser::Csv(parser) => parser.feed(chunk, &mut |r| rows.csv_record(r))?,
            Parser::Json(parser) => parser.feed(chunk, &mut |i, bytes| {
                rows.json_element(i, bytes);
                Ok::<(), CustomersError>(())
            })?,
        }
        Ok(())
    }

    /// Hands the checked rows to the sink once a batch is ready (beginning the import if it
    /// has not begun).
    pub async fn write_ready(&mut self) -> Result<(), CustomersError> {
        if self.rows.ready.len() >= BATCH_ROWS {
            self.flush().await?;
        }
        Ok(())
    }

    /// Parses and checks the next piece of the body; valid rows go to the sink in batches.
    pub async fn push(&mut self, chunk: &[u8]) -> Result<(), CustomersError> {
        if !chunk.is_empty() {
            self.open().await?;
        }
        self.check(chunk)?;
        self.write_ready().await
    }

    /// The end of the body, CPU only: the last rows are checked, and an upload that cannot be
    /// applied (no header, unknown columns, an unclosed array) is refused. [`Upload::finish`]
    /// calls it when it has not been called.
    pub fn check_end(&mut self) -> Result<(), CustomersError> {
        if self.ended {
            return Ok(());
        }
        let rows = &mut self.rows;
        match &mut self.parser {
            Parser::Csv(parser) => {
                parser.finish(&mut |r| rows.csv_record(r))?;
                if rows.columns.is_none() {
                    return Err(CustomersError::BadUpload(
                        "the file is empty: its first row must name the columns".into(),
                    ));
                }
            }
            Parser::Json(parser) => parser.finish()?,
        }
        if !self.rows.unknown.is_empty() {
            let unknown = std::mem::replace(&mut self.rows.unknown, UnknownNames::new());
            return Err(unknown.into_error());
        }
        self.ended = true;
        Ok(())
    }

    /// Ends the body: the last rows are checked, and the valid ones applied (in upsert mode)
    /// all at once.
    pub async fn finish(mut self) -> Result<ImportReport, CustomersError> {
        self.check_end()?;
        self.flush().await?;
        self.open().await?;
        let Sink::Open(sink) = self.sink else {
            return Err(CustomersError::Internal("the import did not begin".into()));
        };
        let applied = sink.finish(self.mode == ImportMode::Upsert).await?;
        let mut rows = self.rows;
        rows.invalid += applied.rejected.len() as u64;
        rows.error_count += applied.rejected.len() as u64;
        let mut errors = rows.errors;
        errors.extend(applied.rejected.into_iter().map(|e| RowError {
            row: e.row,
            field: clip(&e.field, MAX_NAME_CHARS),
            message: clip(&e.message, MAX_MESSAGE_CHARS),
        }));
        errors.sort_by_key(|e| e.row);
        errors.truncate(MAX_REPORTED_ERRORS);
        Ok(ImportReport {
            total_rows: rows.total,
            valid_rows: rows.total - rows.invalid,
            invalid_rows: rows.invalid,
            created: applied.created,
            updated: applied.updated,
            errors_truncated: rows.error_count > errors.len() as u64,
            errors,
        })
    }

    async fn flush(&mut self) -> Result<(), CustomersError> {
        if !self.rows.ready.is_empty() {
            self.open().await?;
            if let Sink::Open(sink) = &mut self.sink {
                sink.write(&self.rows.ready).await?;
            }
            self.rows.ready.clear();
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(
    clippy::disallowed_methods,
    reason = "tests start from the real time, or wait for it"
)]
mod tests {
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
}
