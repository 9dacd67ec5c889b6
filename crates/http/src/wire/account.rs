//! The caller's own credentials (password, reset, TOTP and recovery codes) and the account's
//! audit trail.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// `POST /v1/me/password`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    /// 8 to 72 bytes.
    pub new_password: String,
}

/// One event of the audit trail.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventBody {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    #[schema(example = "login_failed")]
    pub event: String,
    pub user_id: Option<Uuid>,
    /// The API key involved, by id.
    pub client_id: Option<Uuid>,
    pub ip: Option<String>,
    pub country: Option<String>,
    pub success: bool,
    /// Why, who acted when not the user (`by`: `operator` for operator commands), and the
    /// user's failure counters at the time.
    pub detail: serde_json::Value,
}

impl From<identity::models::AuditRecord> for AuditEventBody {
    fn from(record: identity::models::AuditRecord) -> Self {
        Self {
            id: record.id,
            at: record.at,
            event: record.event,
            user_id: record.user_id.map(|u| u.as_uuid()),
            client_id: record.client_id,
            ip: record.ip.map(|ip| ip.to_string()),
            country: record.country,
            success: record.success,
            detail: serde_json::json!({
                "reason": record.reason,
                "by": record.by,
                "failed_signin_attempts": record.failed_signin_attempts,
                "failed_validation_attempts": record.failed_validation_attempts,
            }),
        }
    }
}

/// `POST /v1/auth/password-reset`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetRequest {
    pub email: String,
}

/// `POST /v1/auth/password-reset/confirm`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetConfirmRequest {
    pub email: String,
    /// The code from the reset email (`Code: …`).
    pub code: String,
    /// 8 to 72 bytes.
    pub new_password: String,
}

/// A TOTP code (activate, disable).
#[derive(Debug, Deserialize, ToSchema)]
pub struct CodeRequest {
    #[schema(example = "123456")]
    pub code: String,
}

/// TOTP setup, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct TotpSetupBody {
    /// Base32, for typing into an authenticator app.
    pub secret: String,
    /// `otpauth://totp/…` (RFC 6238, SHA1, 6 digits, 30 s), for a QR code.
    pub otpauth_url: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodesBody {
    /// Ten one-time codes that stand in for a TOTP code; shown this once.
    pub recovery_codes: Vec<String>,
}
