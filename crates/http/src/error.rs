//! Every error a client can see, mapped to its status and stable code in one place.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use campaigns::{CampaignError, CampaignStatus};
use customers::CustomersError;
use identity::IdentityError;
use serde::Serialize;
use utoipa::ToSchema;

use crate::observe::current_request_id;

/// One invalid field of a request.
#[derive(Clone, Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, for people.
    #[schema(example = "invalid email or password")]
    pub error: String,
    /// What went wrong, for programs: stable across releases.
    #[schema(example = "invalid_credentials")]
    pub code: &'static str,
    /// Quote it when reporting a problem; the server's logs carry the same id.
    pub request_id: String,
    /// On validation errors: each invalid field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<FieldProblem>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("the request has invalid fields")]
    Validation(Vec<FieldProblem>),
    #[error("authentication required")]
    Unauthenticated,
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error("invalid or already used code")]
    InvalidCode,
    #[error("you are not allowed to do this")]
    Forbidden,
    /// The credential's kind may never be used for this (docs/security.md, "Credential kinds").
    #[error("{0}; see the credential kinds in the security documentation")]
    CredentialNotAllowed(kernel::CredentialNotAllowed),
    /// The caller must verify their email address first.
    #[error(
        "verify your email address first: a code was emailed at sign-up (POST /v1/me/email/verify/resend sends another)"
    )]
    EmailUnverified,
    /// A password too easy to guess, with the field it came in.
    #[error("the password is too easy to guess")]
    WeakPassword(Vec<FieldProblem>),
    #[error("{0}")]
    ForbiddenBecause(&'static str),
    #[error("{0}")]
    NotFound(&'static str),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(&'static str),
    #[error("{0}")]
    ConflictWith(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("too many requests; retry after {retry_after_secs} seconds")]
    RateLimited { retry_after_secs: u64 },
    #[error("the service is temporarily unavailable, try again shortly")]
    Unavailable(String),
    /// Stored data failed its integrity check (a sealed message that does not open). The
    /// message is logged, never sent.
    #[error("stored data failed its integrity check; nothing of it was returned")]
    Integrity(String),
    /// The message is logged, never sent.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Validation(_) => "validation_failed",
            Self::Unauthenticated => "unauthenticated",
            Self::InvalidCredentials => "invalid_credentials",
            Self::InvalidCode => "invalid_code",
            Self::Forbidden | Self::ForbiddenBecause(_) => "forbidden",
            Self::CredentialNotAllowed(_) => "credential_not_allowed",
            Self::EmailUnverified => "email_unverified",
            Self::WeakPassword(_) => "weak_password",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict(_) | Self::ConflictWith(_) => "conflict",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unavailable(_) => "unavailable",
            Self::Integrity(_) => "message_integrity_error",
            Self::Internal(_) => "internal_error",
        }
    }
}

impl ApiError {
    /// The error for a bare status produced outside our handlers (actix-web's own answers).
    #[must_use]
    pub fn for_status(status: StatusCode) -> Self {
        match status.as_u16() {
            401 => Self::Unauthenticated,
            403 => Self::Forbidden,
            404 => Self::NotFound("no such resource"),
            405 => Self::MethodNotAllowed,
            413 => Self::PayloadTooLarge("the request is too large".into()),
            415 => Self::UnsupportedMediaType("unsupported content type".into()),
            503 => Self::Unavailable(format!("status {status}")),
            400..=499 => Self::BadRequest(
                status
                    .canonical_reason()
                    .unwrap_or("bad request")
                    .to_lowercase(),
            ),
            _ => Self::Internal(format!("status {status} without a body")),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) | Self::Validation(_) | Self::WeakPassword(_) => {
                StatusCode::BAD_REQUEST
            }
            Self::Unauthenticated | Self::InvalidCredentials | Self::InvalidCode => {
                StatusCode::UNAUTHORIZED
            }
            Self::Forbidden
            | Self::ForbiddenBecause(_)
            | Self::CredentialNotAllowed(_)
            | Self::EmailUnverified => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) | Self::ConflictWith(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) | Self::Integrity(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let request_id = current_request_id();
        match self {
            Self::Internal(detail) => {
                tracing::error!(%request_id, detail = %detail, "internal error");
            }
            Self::Integrity(detail) => {
                tracing::error!(%request_id, detail = %detail, "stored data failed its integrity check");
            }
            Self::Unavailable(detail) => {
                tracing::warn!(%request_id, detail = %detail, "service unavailable");
            }
            _ => {}
        }
        let body = ErrorBody {
            error: self.to_string(),
            code: self.code(),
            request_id,
            fields: match self {
                Self::Validation(fields) | Self::WeakPassword(fields) => Some(fields.clone()),
                _ => None,
            },
        };
        let mut response = HttpResponse::build(self.status_code());
        if matches!(self, Self::Unauthenticated | Self::InvalidCredentials) {
            response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        match self {
            Self::Unavailable(_) => {
                response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("1")));
            }
            Self::RateLimited { retry_after_secs } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            _ => {}
        }
        response.json(body)
    }
}

impl From<IdentityError> for ApiError {
    fn from(error: IdentityError) -> Self {
        match error {
            IdentityError::Validation(fields) => Self::Validation(
                fields
                    .into_iter()
                    .map(|f| FieldProblem {
                        field: f.field.to_owned(),
                        message: f.message,
                    })
                    .collect(),
            ),
            IdentityError::EmailTaken => {
                Self::Conflict("an account with this email already exists")
            }
            IdentityError::InvalidCredentials => Self::InvalidCredentials,
            IdentityError::NotFound => Self::NotFound("not found"),
            IdentityError::Forbidden(why) => Self::ForbiddenBecause(why),
            IdentityError::CredentialNotAllowed(denied) => Self::CredentialNotAllowed(denied),
            IdentityError::WeakPassword(f) => Self::WeakPassword(vec![FieldProblem {
                field: f.field.to_owned(),
                message: f.message,
            }]),
            IdentityError::Conflict(why) => Self::Conflict(why),
            IdentityError::RateLimited { retry_after_secs } => {
                Self::RateLimited { retry_after_secs }
            }
            IdentityError::InvalidMfaCode => Self::InvalidCode,
            IdentityError::InvalidVerificationCode => {
                Self::BadRequest("the verification code is invalid, used or expired".into())
            }
            IdentityError::EmailUnverified => Self::EmailUnverified,
            IdentityError::InvalidResetCode => {
                Self::BadRequest("the reset code is invalid, used or expired".into())
            }
            IdentityError::InvalidInvitation => {
                Self::BadRequest("the invitation code is invalid, used or expired".into())
            }
            IdentityError::Unavailable(why) => Self::Unavailable(why),
            IdentityError::Internal(why) => Self::Internal(why),
            IdentityError::Tokens(error) => error.into(),
        }
    }
}

impl From<tokens::TokenError> for ApiError {
    fn from(error: tokens::TokenError) -> Self {
        use tokens::TokenError as E;
        match error {
            E::Invalid(why) => {
                tracing::debug!(reason = why, "credentials refused");
                Self::Unauthenticated
            }
            E::Forbidden(why) => Self::ForbiddenBecause(why),
            E::CredentialNotAllowed(denied) => Self::CredentialNotAllowed(denied),
            E::NotFound => Self::NotFound("API key not found"),
            E::SessionNotFound => Self::NotFound("session not found"),
            E::RateLimited { retry_after_secs } => Self::RateLimited { retry_after_secs },
            E::Validation(fields) => Self::Validation(
                fields
                    .into_iter()
                    .map(|(field, message)| FieldProblem {
                        field: field.to_owned(),
                        message,
                    })
                    .collect(),
            ),
            E::Store(kernel::StoreError::Unavailable(why)) => Self::Unavailable(why),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<kernel::CredentialNotAllowed> for ApiError {
    fn from(denied: kernel::CredentialNotAllowed) -> Self {
        Self::CredentialNotAllowed(denied)
    }
}

impl From<actix_web::error::JsonPayloadError> for ApiError {
    fn from(error: actix_web::error::JsonPayloadError) -> Self {
        use actix_web::error::JsonPayloadError as E;
        match error {
            E::OverflowKnownLength { length, limit } => Self::PayloadTooLarge(format!(
                "the body is {length} bytes; at most {limit} are accepted"
            )),
            E::Overflow { limit } => Self::PayloadTooLarge(format!(
                "the body is larger than the {limit} bytes accepted"
            )),
            E::ContentType => Self::UnsupportedMediaType(
                "the body must be JSON, sent with Content-Type: application/json".into(),
            ),
            E::Deserialize(e) if e.is_data() => {
                Self::BadRequest(format!("the JSON body does not fit this endpoint: {e}"))
            }
            E::Deserialize(e) => Self::BadRequest(format!("the body is not valid JSON: {e}")),
            other => Self::BadRequest(format!("the body could not be read: {other}")),
        }
    }
}

impl From<CampaignError> for ApiError {
    fn from(error: CampaignError) -> Self {
        use CampaignError as E;
        match error {
            E::Validation(fields) => Self::Validation(
                fields
                    .into_iter()
                    .map(|f| FieldProblem {
                        field: f.field,
                        message: f.message,
                    })
                    .collect(),
            ),
            E::Forbidden => Self::Forbidden,
            E::NotFound => Self::NotFound("not found"),
            E::IllegalTransition { from, .. } => Self::Conflict(from.rule()),
            E::NotPublishable(CampaignStatus::Completed) => Self::Conflict(
                "messages can only be published to draft or active campaigns; this one is completed",
            ),
            E::NotPublishable(_) => Self::Conflict(
                "messages can only be published to draft or active campaigns; this one is paused",
            ),
            E::CustomerGone => Self::Conflict(
                "a customer of the batch was deleted meanwhile; nothing was published",
            ),
            error @ E::TooManyMessages { .. } => Self::PayloadTooLarge(error.to_string()),
            error @ E::Unreadable { .. } => Self::Integrity(error.to_string()),
            E::Unavailable(why) => Self::Unavailable(why),
            E::Internal(why) => Self::Internal(why),
        }
    }
}

impl From<CustomersError> for ApiError {
    fn from(error: CustomersError) -> Self {
        use CustomersError as E;
        match error {
            E::Validation(fields) => Self::Validation(
                fields
                    .into_iter()
                    .map(|f| FieldProblem {
                        field: f.field,
                        message: f.message,
                    })
                    .collect(),
            ),
            // At most 100 names (each cut to 64 characters), then one entry with the field
            // `…` saying how many more: the body stays a few KiB whatever the upload.
            E::UnknownColumns {
                columns,
                more,
                more_at_least,
            } => {
                let mut fields: Vec<FieldProblem> = columns
                    .into_iter()
                    .map(|column| FieldProblem {
                        field: column,
                        message: "is not a customer field or a profile field key of this \
                                  workspace"
                            .into(),
                    })
                    .collect();
                if more > 0 {
                    let at_least = if more_at_least { "at least " } else { "" };
                    fields.push(FieldProblem {
                        field: "…".into(),
                        message: format!("{at_least}{more} more unknown names are not listed"),
                    });
                }
                Self::Validation(fields)
            }
            E::BadUpload(why) => Self::BadRequest(why),
            E::TooLarge { limit_bytes } => {
                Self::PayloadTooLarge(format!("an upload may be at most {limit_bytes} bytes"))
            }
            // 503 with `Retry-After`: the client may simply try again.
            error @ E::UploadsBusy => Self::Unavailable(error.to_string()),
            error @ E::ImportInProgress => Self::ConflictWith(error.to_string()),
            E::Forbidden(why) => Self::ForbiddenBecause(why),
            E::NotFound => Self::NotFound("not found"),
            E::Conflict(why) => Self::ConflictWith(why),
            E::Unavailable(why) => Self::Unavailable(why),
            E::Internal(why) => Self::Internal(why),
        }
    }
}
