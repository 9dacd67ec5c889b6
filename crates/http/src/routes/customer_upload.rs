//! `POST …/customers/upload`: a CSV (`text/csv` body or multipart `file`) or a JSON array,
//! parsed, checked and written as it streams in.
//!
//! The parsing and checking run on tokio's blocking threads, a quarter of a MiB at a time, never
//! on the actix worker: a pathological file (a header of 150,000 columns, 25 MB of unknown keys)
//! costs an upload slot and a blocking thread, not every other request of the worker. The
//! worker only moves bytes and writes checked rows. A body that sends nothing for the policy's
//! `upload_body_idle` ends the upload with 400, nothing written and its connection released.

use actix_multipart::Multipart;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, post, web};
use customers::{ImportFormat, ImportMode, ImportReport, Upload};
use std::time::Duration;

use futures_util::{Stream, StreamExt as _};
use kernel::WorkspaceId;
use uuid::Uuid;

use crate::auth::WorkspaceContent;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use crate::wire::{UploadMode, UploadParams, UploadReportBody};

/// Upload customers (`customers:write`). The body is `text/csv`, `application/json` (an array
/// of objects), or `multipart/form-data` with the file in a part named `file`. The first CSV
/// row names the columns: `external_id`, `email`, `phone`, `first_name`, `last_name` and the
/// workspace's profile field keys. Rows are upserted by `external_id`, else `email`, all in one
/// transaction: a failed upload writes nothing.
#[utoipa::path(
    tag = "customers",
    security(("bearer" = [])),
    params(("workspace_id" = Uuid, Path), UploadParams),
    request_body(
        content(
            (String = "text/csv"),
            (Vec<Object> = "application/json"),
            (String = "multipart/form-data"),
        ),
        description = "The file; see docs/api.md for the CSV format",
    ),
    responses(
        (status = 200, body = UploadReportBody),
        (status = 400, description = "Unknown columns, no header, a file that cannot be read, or a body that sent nothing for `NUDGESCRIBE__CUSTOMERS__BODY_IDLE_SECS`", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Another upload into this workspace is in progress", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody),
        (status = 503, description = "As many uploads as this instance allows are in progress; retry after `Retry-After` seconds", body = ErrorBody),
    )
)]
#[post("/v1/workspaces/{workspace_id}/customers/upload")]
pub async fn upload(
    state: web::Data<AppState>,
    WorkspaceContent(actor): WorkspaceContent,
    workspace: web::Path<Uuid>,
    params: web::Query<UploadParams>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<web::Json<UploadReportBody>, ApiError> {
    let mode = match params.mode.unwrap_or_default() {
        UploadMode::Validate => ImportMode::Validate,
        UploadMode::Upsert => ImportMode::Upsert,
    };
    let ws = WorkspaceId::from_uuid(workspace.into_inner());
    let media = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let idle = state.customers.policy().upload_body_idle;
    let report = match media.as_str() {
        "text/csv" | "application/csv" => {
            let upload = state
                .customers
                .start_upload(&actor, ws, mode, ImportFormat::Csv)
                .await?;
            feed(upload, payload).await?
        }
        "application/json" => {
            let upload = state
                .customers
                .start_upload(&actor, ws, mode, ImportFormat::Json)
                .await?;
            feed(upload, payload).await?
        }
        "multipart/form-data" => {
            let mut parts = Multipart::new(request.headers(), payload);
            loop {
                let Some(part) = next_within(idle, &mut parts).await? else {
                    return Err(ApiError::BadRequest(
                        "the form has no part named `file`".into(),
                    ));
                };
                let part = part.map_err(|e| ApiError::BadRequest(format!("bad form: {e}")))?;
                if part.name() != Some("file") {
                    continue;
                }
                let is_json = part
                    .content_type()
                    .is_some_and(|m| m.essence_str() == "application/json")
                    || part
                        .content_disposition()
                        .and_then(|d| d.get_filename())
                        .is_some_and(|f| f.to_ascii_lowercase().ends_with(".json"));
                let format = if is_json {
                    ImportFormat::Json
                } else {
                    ImportFormat::Csv
                };
                let upload = state
                    .customers
                    .start_upload(&actor, ws, mode, format)
                    .await?;
                break feed(upload, part).await?;
            }
        }
        _ => {
            return Err(ApiError::UnsupportedMediaType(
                "upload text/csv, application/json, or multipart/form-data with a `file` part"
                    .into(),
            ));
        }
    };
    Ok(web::Json(report.into()))
}

/// Bytes gathered before they are handed to a blocking thread to be checked: large enough
/// that the hand-over costs little, small enough that the buffer does not matter.
const CHECK_BYTES: usize = 256 * 1024;

/// The body's next item, unless it sends nothing for `idle`.
#[allow(
    clippy::disallowed_methods,
    reason = "an upload's idle timeout is real time"
)]
async fn next_within<S: Stream + Unpin>(
    idle: Duration,
    body: &mut S,
) -> Result<Option<S::Item>, ApiError> {
    tokio::time::timeout(idle, body.next()).await.map_err(|_| {
        ApiError::BadRequest(format!(
            "the upload sent nothing for {} seconds and was abandoned; nothing was written",
            idle.as_secs()
        ))
    })
}

/// Checks `bytes` on a blocking thread, not on this worker.
async fn check_off_worker(mut session: Upload, bytes: Vec<u8>) -> Result<Upload, ApiError> {
    let (session, checked) = tokio::task::spawn_blocking(move || {
        let checked = session.check(&bytes);
        (session, checked)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("upload check: {e}")))?;
    checked?;
    Ok(session)
}

/// Streams the body into the upload; nothing is written unless every chunk arrived. The import
/// begins (a slot, a connection) with the first bytes, not before.
async fn feed<S, B, E>(mut session: Upload, mut body: S) -> Result<ImportReport, ApiError>
where
    S: Stream<Item = Result<B, E>> + Unpin,
    B: AsRef<[u8]>,
    E: std::fmt::Display,
{
    let idle = session.body_idle();
    let mut pending: Vec<u8> = Vec::new();
    while let Some(chunk) = next_within(idle, &mut body).await? {
        let chunk =
            chunk.map_err(|e| ApiError::BadRequest(format!("the upload was cut short: {e}")))?;
        let chunk = chunk.as_ref();
        if chunk.is_empty() {
            continue;
        }
        session.open().await?;
        pending.extend_from_slice(chunk);
        if pending.len() >= CHECK_BYTES {
            session = check_off_worker(session, std::mem::take(&mut pending)).await?;
            session.write_ready().await?;
        }
    }
    if !pending.is_empty() {
        session = check_off_worker(session, pending).await?;
    }
    let (mut session, ended) = tokio::task::spawn_blocking(move || {
        let ended = session.check_end();
        (session, ended)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("upload check: {e}")))?;
    ended?;
    session.write_ready().await?;
    Ok(session.finish().await?)
}
