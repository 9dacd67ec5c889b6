//! Uploads: bytes in, validated rows out to an [`ImportSink`], a report at the end.
//!
//! A CSV file's first row names the columns (the built-in fields and profile field keys); each
//! later row is checked on its own, and a row's number is the file line it starts on. A JSON
//! upload is an array of objects keyed the same way; a row's number is its 1-based position.
//! An empty cell (or `null`) clears phone, names and attributes on update; `external_id` and
//! `email` are the upsert keys and are never cleared by an upload.

use std::sync::Arc;
use std::time::Duration;

use kernel::{AccountId, Actor, WorkspaceId};

use crate::access::{WRITE, require, workspace_exists};
use crate::csv_rows::CsvRows;
use crate::error::{CustomersError, RowError};
use crate::json_rows::JsonRows;
use crate::ports::{CustomerStore, ImportSink};
use crate::service::{CustomerService, end};

pub mod matching;
mod rows;

#[cfg(test)]
use crate::csv_rows::Record;
#[cfg(test)]
use crate::models::ProfileField;
use rows::{Rows, UnknownNames};

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

impl CustomerService {
    /// Starts an upload into the workspace; see [`Upload`]. Nothing is held yet: the import
    /// (a slot, and in Postgres a connection and the workspace's import lock) begins with
    /// [`Upload::open`], when the first bytes of the body arrive.
    #[tracing::instrument(skip_all, fields(workspace_id = %ws))]
    pub async fn start_upload(
        &self,
        actor: &Actor,
        ws: WorkspaceId,
        mode: ImportMode,
        format: ImportFormat,
    ) -> Result<Upload, CustomersError> {
        require(actor, ws, WRITE)?;
        let mut tx = self.begin(actor).await?;
        let outcome = workspace_exists(&mut *tx, ws).await;
        end(tx, outcome).await?;
        Ok(Upload::new(
            format,
            mode,
            (self.store.clone(), actor.account_id, ws),
            self.policy.max_upload_bytes,
            self.policy.upload_body_idle,
        ))
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
    /// The rows are checked against the workspace's profile fields as the import's own
    /// transaction reads them when it begins ([`Upload::open`]).
    pub(crate) fn new(
        format: ImportFormat,
        mode: ImportMode,
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
            rows: Rows::new(Vec::new()),
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
    #[tracing::instrument(skip_all)]
    pub async fn open(&mut self) -> Result<(), CustomersError> {
        if let Sink::Unopened { store, account, ws } = &self.sink {
            let open = store.begin_import(*account, *ws).await?;
            // Nothing has been checked yet: the bytes are checked once the import is open.
            self.rows = Rows::new(open.schema);
            self.sink = Sink::Open(open.sink);
        }
        Ok(())
    }

    /// Parses and checks the next piece of the body (CPU only, no I/O): valid rows wait for
    /// [`Upload::write_ready`].
    pub fn check(&mut self, chunk: &[u8]) -> Result<(), CustomersError> {
        if !chunk.is_empty() && !self.is_open() {
            return Err(CustomersError::Internal(
                "an upload's bytes are checked once it is open".into(),
            ));
        }
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
    #[tracing::instrument(skip_all)]
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
    #[tracing::instrument(skip_all)]
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
mod tests;
