//! What can go wrong talking to NudgeScribe.

use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;

/// Everything a call can fail with.
///
/// An answer from the server (4xx, 5xx) is [`Error::Api`], carrying the stable `code`, the
/// message, the HTTP status and the `request_id` to quote when reporting a problem. Anything
/// that kept an answer from arriving is [`Error::Transport`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with an error (api.md's `{error, code, request_id, fields?}`).
    #[error("{0}")]
    Api(Box<ApiError>),
    /// No answer: connection refused, reset, timed out, or the request could not be built.
    #[error("transport error: {0}")]
    Transport(#[from] reqwest::Error),
    /// A successful answer whose body is not what this client expects (a client built for
    /// another version of the API, or a proxy in between answering for the server).
    #[error("unexpected response body (status {status}): {reason}")]
    Decode {
        /// The status of the response.
        status: StatusCode,
        /// What did not fit.
        reason: String,
    },
    /// A request body could not be encoded as JSON (a map with non-string keys, say).
    #[error("encoding the request body: {0}")]
    Encode(String),
    /// The base URL given to the constructor is not an `http(s)://` URL.
    #[error("invalid base URL `{0}`: it must start with http:// or https://")]
    InvalidBaseUrl(String),
    /// Reading a file to upload failed.
    #[error("reading the upload: {0}")]
    Io(#[from] std::io::Error),
    /// A custom [`TokenSource`](crate::TokenSource) could not provide a token.
    #[error("token source: {0}")]
    TokenSource(String),
    /// The call needs credentials, and the client was built without any
    /// ([`Client::new`](crate::Client::new)).
    #[error("this call needs credentials: build the client with an API key or a token source")]
    NoCredentials,
}

impl Error {
    /// The HTTP status, when the server answered.
    #[must_use]
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Api(api) => Some(api.status),
            Self::Decode { status, .. } => Some(*status),
            Self::Transport(e) => e.status(),
            _ => None,
        }
    }

    /// The server's stable error code (`not_found`, `validation_failed`, …), when it answered.
    #[must_use]
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api(api) => Some(&api.code),
            _ => None,
        }
    }

    /// The id of the request the server failed, to quote when reporting a problem.
    #[must_use]
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::Api(api) => api.request_id.as_deref(),
            _ => None,
        }
    }

    /// The server's error details, when it answered with an error.
    #[must_use]
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Self::Api(api) => Some(api),
            _ => None,
        }
    }

    /// Whether the server refused the credentials (401).
    #[must_use]
    pub fn is_unauthenticated(&self) -> bool {
        self.status() == Some(StatusCode::UNAUTHORIZED)
    }

    /// Whether this is a 401 about the bearer token (missing, expired, revoked) rather than
    /// about something in the request body — a wrong TOTP code (`invalid_code`) or password
    /// (`invalid_credentials`) — which a new token would not change.
    pub(crate) fn refuses_the_token(&self) -> bool {
        self.is_unauthenticated()
            && !matches!(self.code(), Some("invalid_code" | "invalid_credentials"))
    }
}

/// An error answer of the server.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message} (request id {})", .request_id.as_deref().unwrap_or("none"))]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// Stable, for programs: `bad_request`, `validation_failed`, `weak_password`,
    /// `unauthenticated`, `invalid_credentials`, `invalid_code`, `forbidden`,
    /// `credential_not_allowed`, `not_found`, `conflict`, `payload_too_large`,
    /// `unsupported_media_type`, `rate_limited`, `unavailable`, `internal_error`, …
    /// (`http_<status>` when the body was not the server's error shape).
    pub code: String,
    /// For people (the `error` field of the body).
    pub message: String,
    /// The server's id of the request (also in its logs); `None` only when the body did not
    /// carry one.
    pub request_id: Option<String>,
    /// On `validation_failed`: each invalid field.
    pub fields: Vec<FieldError>,
    /// On 429 and 503: how long the server asks to wait (`Retry-After`).
    pub retry_after: Option<Duration>,
}

impl ApiError {
    /// The code as a typed value.
    #[must_use]
    pub fn kind(&self) -> ErrorCode {
        ErrorCode::parse(&self.code)
    }
}

/// One invalid field of a request.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct FieldError {
    /// The field, e.g. `email` or `attributes.tier`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// The server's stable error codes (docs/api.md, "Conventions").
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorCode {
    /// 400: the request could not be read.
    BadRequest,
    /// 400: fields are invalid ([`ApiError::fields`] lists them).
    ValidationFailed,
    /// 400: a password that is too common, or contains the email's local part (signup,
    /// invitation, password reset and change).
    WeakPassword,
    /// 401: missing, invalid, expired or revoked credentials.
    Unauthenticated,
    /// 401: wrong email or password.
    InvalidCredentials,
    /// 401: a wrong TOTP or recovery code.
    InvalidCode,
    /// 403: authenticated, but not allowed.
    Forbidden,
    /// 403: this kind of credential may never make the call, whatever its permissions —
    /// managing credentials (password, MFA, API keys, sessions) with an API key's session or
    /// a short-lived token. Sign in as a person ([`Client::with_tokens`](crate::Client::with_tokens)).
    CredentialNotAllowed,
    /// 403: the caller must verify their email address first
    /// ([`Client::verify_email`](crate::Client::verify_email)).
    EmailUnverified,
    /// 404: no such object (or another tenant's).
    NotFound,
    /// 405.
    MethodNotAllowed,
    /// 409: a duplicate, or a state that does not allow the change.
    Conflict,
    /// 413.
    PayloadTooLarge,
    /// 415.
    UnsupportedMediaType,
    /// 429: see [`ApiError::retry_after`].
    RateLimited,
    /// 503: see [`ApiError::retry_after`].
    Unavailable,
    /// 500.
    InternalError,
    /// Any other code (a newer server, or a proxy's answer).
    Other(String),
}

impl ErrorCode {
    fn parse(code: &str) -> Self {
        match code {
            "bad_request" => Self::BadRequest,
            "validation_failed" => Self::ValidationFailed,
            "weak_password" => Self::WeakPassword,
            "unauthenticated" => Self::Unauthenticated,
            "invalid_credentials" => Self::InvalidCredentials,
            "invalid_code" => Self::InvalidCode,
            "forbidden" => Self::Forbidden,
            "credential_not_allowed" => Self::CredentialNotAllowed,
            "email_unverified" => Self::EmailUnverified,
            "not_found" => Self::NotFound,
            "method_not_allowed" => Self::MethodNotAllowed,
            "conflict" => Self::Conflict,
            "payload_too_large" => Self::PayloadTooLarge,
            "unsupported_media_type" => Self::UnsupportedMediaType,
            "rate_limited" => Self::RateLimited,
            "unavailable" => Self::Unavailable,
            "internal_error" => Self::InternalError,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// The error body as the server sends it.
#[derive(Deserialize)]
struct ErrorBody {
    error: String,
    code: String,
    request_id: Option<String>,
    #[serde(default)]
    fields: Vec<FieldError>,
}

/// Reads an error response into [`Error::Api`]; a body of another shape still gives an
/// `ApiError`, with code `http_<status>` and the body's start as the message.
pub(crate) async fn from_response(response: reqwest::Response) -> Error {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let header_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = match response.bytes().await {
        Ok(bytes) => bytes,
        Err(e) => return Error::Transport(e),
    };
    let api = match serde_json::from_slice::<ErrorBody>(&bytes) {
        Ok(body) => ApiError {
            status,
            code: body.code,
            message: body.error,
            request_id: body.request_id.or(header_id),
            fields: body.fields,
            retry_after,
        },
        Err(_) => ApiError {
            status,
            code: format!("http_{}", status.as_u16()),
            message: String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned(),
            request_id: header_id,
            fields: Vec::new(),
            retry_after,
        },
    };
    Error::Api(Box::new(api))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_credential_codes() {
        assert_eq!(
            ErrorCode::parse("credential_not_allowed"),
            ErrorCode::CredentialNotAllowed
        );
        assert_eq!(ErrorCode::parse("weak_password"), ErrorCode::WeakPassword);
        assert_eq!(ErrorCode::parse("invalid_code"), ErrorCode::InvalidCode);
        assert_eq!(
            ErrorCode::parse("something_new"),
            ErrorCode::Other("something_new".into())
        );
    }

    fn api(status: StatusCode, code: &str) -> Error {
        Error::Api(Box::new(ApiError {
            status,
            code: code.into(),
            message: String::new(),
            request_id: None,
            fields: Vec::new(),
            retry_after: None,
        }))
    }

    #[test]
    fn only_a_refused_token_is_worth_a_new_one() {
        assert!(api(StatusCode::UNAUTHORIZED, "unauthenticated").refuses_the_token());
        assert!(api(StatusCode::UNAUTHORIZED, "http_401").refuses_the_token());
        assert!(!api(StatusCode::UNAUTHORIZED, "invalid_code").refuses_the_token());
        assert!(!api(StatusCode::UNAUTHORIZED, "invalid_credentials").refuses_the_token());
        assert!(!api(StatusCode::FORBIDDEN, "credential_not_allowed").refuses_the_token());
    }
}
