//! Uploads: bytes in, validated rows out to an [`ImportSink`], a report at the end.
//!
//! A CSV file's first row names the columns (the built-in fields and profile field keys); each
//! later row is checked on its own, and a row's number is the file line it starts on. A JSON
//! upload is an array of objects keyed the same way; a row's number is its 1-based position.
//! An empty cell (or `null`) clears phone, names and attributes on update; `external_id` and
//! `email` are the upsert keys and are never cleared by an upload.

use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasher, RandomState};

use kernel::CustomerId;
use serde_json::{Map, Value};

use crate::csv_rows::{CsvRows, Record, RecordTooLong};
use crate::error::{CustomersError, RowError};
use crate::fields;
use crate::json_rows::{ArrayError, JsonRows};
use crate::models::ProfileField;
use crate::ports::{ImportRow, ImportSink, sets};
use crate::values::{Cell, typed_value};

/// At most this many errors are listed in a report (all are counted).
pub const MAX_REPORTED_ERRORS: usize = 1000;
/// Longest single row (CSV record or JSON element) accepted.
pub const MAX_ROW_BYTES: usize = 1 << 20;
/// Rows handed to the sink at a time.
const BATCH_ROWS: usize = 2000;

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

fn target_of(name: &str, schema: &[ProfileField]) -> Target {
    match name {
        "external_id" => Target::ExternalId,
        "email" => Target::Email,
        "phone" => Target::Phone,
        "first_name" => Target::FirstName,
        "last_name" => Target::LastName,
        _ => schema
            .iter()
            .position(|f| f.key == name)
            .map_or(Target::Unknown, Target::Attribute),
    }
}

/// Checks rows one by one and keeps the tally.
struct Rows {
    schema: Vec<ProfileField>,
    /// CSV: the header's columns, once read.
    columns: Option<Vec<(String, Target)>>,
    /// JSON: keys seen that are not columns (the upload is refused at the end).
    unknown: BTreeSet<String>,
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
        Self {
            schema,
            columns: None,
            unknown: BTreeSet::new(),
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
                field: field.to_owned(),
                message: message.into(),
            });
        }
    }

    fn reject(&mut self, row: u64, field: &str, message: impl Into<String>) {
        self.invalid += 1;
        self.record_error(row, field, message);
    }

    /// The CSV header: every column must be known, none twice, and required fields present.
    fn header(&mut self, record: &Record<'_>) -> Result<(), CustomersError> {
        let mut columns: Vec<(String, Target)> = Vec::with_capacity(record.len());
        let mut unknown = Vec::new();
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
            if columns.iter().any(|(seen, _)| *seen == name) {
                return Err(CustomersError::BadUpload(format!(
                    "column `{name}` appears twice in the header"
                )));
            }
            let target = target_of(&name, &self.schema);
            if target == Target::Unknown {
                unknown.push(name.clone());
            }
            columns.push((name, target));
        }
        if !unknown.is_empty() {
            return Err(CustomersError::UnknownColumns(unknown));
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
        let mut builder = RowBuilder::new(index);
        let mut has_attribute = vec![false; self.schema.len()];
        for (key, value) in &object {
            let target = target_of(key, &self.schema);
            if target == Target::Unknown {
                self.unknown.insert(key.clone());
                continue;
            }
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

/// One upload in progress. Feed it the body with [`Upload::push`] as it arrives, then
/// [`Upload::finish`]. Dropping it unfinished writes nothing.
pub struct Upload {
    parser: Parser,
    rows: Rows,
    sink: Box<dyn ImportSink>,
    mode: ImportMode,
    received: u64,
    limit_bytes: u64,
}

impl Upload {
    pub(crate) fn new(
        format: ImportFormat,
        mode: ImportMode,
        schema: Vec<ProfileField>,
        sink: Box<dyn ImportSink>,
        limit_bytes: u64,
    ) -> Self {
        let parser = match format {
            ImportFormat::Csv => Parser::Csv(Box::new(CsvRows::new(MAX_ROW_BYTES))),
            ImportFormat::Json => Parser::Json(JsonRows::new(MAX_ROW_BYTES)),
        };
        Self {
            parser,
            rows: Rows::new(schema),
            sink,
            mode,
            received: 0,
            limit_bytes,
        }
    }

    /// Parses and checks the next piece of the body; valid rows go to the sink in batches.
    pub async fn push(&mut self, chunk: &[u8]) -> Result<(), CustomersError> {
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
        if self.rows.ready.len() >= BATCH_ROWS {
            self.flush().await?;
        }
        Ok(())
    }

    /// Ends the body: the last rows are checked, and the valid ones applied (in upsert mode)
    /// all at once.
    pub async fn finish(mut self) -> Result<ImportReport, CustomersError> {
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
            return Err(CustomersError::UnknownColumns(
                std::mem::take(&mut self.rows.unknown).into_iter().collect(),
            ));
        }
        self.flush().await?;
        let applied = self.sink.finish(self.mode == ImportMode::Upsert).await?;
        let mut rows = self.rows;
        rows.invalid += applied.rejected.len() as u64;
        rows.error_count += applied.rejected.len() as u64;
        let mut errors = rows.errors;
        errors.extend(applied.rejected);
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
            self.sink.write(&self.rows.ready).await?;
            self.rows.ready.clear();
        }
        Ok(())
    }
}
