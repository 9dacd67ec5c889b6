//! An upload's rows, one at a time: the CSV header or the JSON keys mapped to fields, each row
//! checked on its own (types, required fields, an upsert key, duplicates of earlier rows), and
//! the tally of the report.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};

use kernel::CustomerId;
use serde_json::{Map, Value};

use super::{
    MAX_COUNTED_UNKNOWN, MAX_MESSAGE_CHARS, MAX_NAME_CHARS, MAX_REPORTED_ERRORS,
    MAX_REPORTED_UNKNOWN, clip,
};
use crate::csv_rows::{Record, RecordTooLong};
use crate::error::{CustomersError, RowError};
use crate::fields;
use crate::json_rows::ArrayError;
use crate::models::ProfileField;
use crate::ports::{ImportRow, sets};
use crate::values::{Cell, typed_value};

/// Where a value of a row goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Target {
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
pub(super) fn target_of(name: &str, schema_index: &HashMap<String, usize>) -> Target {
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
pub(super) struct UnknownNames {
    pub(super) listed: Vec<String>,
    /// Distinct names seen (JSON keys repeat from object to object), as keyed hashes; at most
    /// [`MAX_COUNTED_UNKNOWN`] of them.
    pub(super) seen: HashSet<u64>,
    pub(super) hasher: RandomState,
    pub(super) more: u64,
    /// Counting stopped at [`MAX_COUNTED_UNKNOWN`]: `more` is a lower bound.
    pub(super) saturated: bool,
}

impl UnknownNames {
    pub(super) fn new() -> Self {
        Self {
            listed: Vec::new(),
            seen: HashSet::new(),
            hasher: RandomState::new(),
            more: 0,
            saturated: false,
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.listed.is_empty()
    }

    /// A name known to be new (a CSV header has no name twice by the time it is checked).
    pub(super) fn add_distinct(&mut self, name: &str) {
        if self.listed.len() < MAX_REPORTED_UNKNOWN {
            self.listed.push(clip(name, MAX_NAME_CHARS));
        } else {
            self.more += 1;
        }
    }

    /// A name that may have been seen before.
    pub(super) fn add(&mut self, name: &str) {
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

    pub(super) fn into_error(self) -> CustomersError {
        CustomersError::UnknownColumns {
            columns: self.listed,
            more: self.more,
            more_at_least: self.saturated,
        }
    }
}

/// Checks rows one by one and keeps the tally.
pub(super) struct Rows {
    pub(super) schema: Vec<ProfileField>,
    /// Each profile field's key → its index in `schema`.
    pub(super) schema_index: HashMap<String, usize>,
    /// CSV: the header's columns, once read.
    pub(super) columns: Option<Vec<(String, Target)>>,
    /// JSON: keys seen that are not columns (the upload is refused at the end; rows are no
    /// longer checked once one is seen).
    pub(super) unknown: UnknownNames,
    /// Upsert keys seen in earlier valid rows, as 64-bit keyed hashes (row number kept for the
    /// message); a collision would only misreport one row as a duplicate.
    pub(super) seen_external_ids: HashMap<u64, u64>,
    pub(super) seen_emails: HashMap<u64, u64>,
    pub(super) hasher: RandomState,
    pub(super) total: u64,
    pub(super) invalid: u64,
    pub(super) error_count: u64,
    pub(super) errors: Vec<RowError>,
    pub(super) ready: Vec<ImportRow>,
}

/// Accumulates one row's values and errors.
pub(super) struct RowBuilder {
    row: ImportRow,
    errors: Vec<(String, String)>,
}

impl RowBuilder {
    pub(super) fn new(row: u64) -> Self {
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
    pub(super) fn new(schema: Vec<ProfileField>) -> Self {
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

    pub(super) fn record_error(&mut self, row: u64, field: &str, message: impl Into<String>) {
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
    pub(super) fn header(&mut self, record: &Record<'_>) -> Result<(), CustomersError> {
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

    pub(super) fn csv_record(&mut self, record: &Record<'_>) -> Result<(), CustomersError> {
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

    pub(super) fn json_element(&mut self, index: u64, bytes: &[u8]) {
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
