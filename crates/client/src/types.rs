//! Request and response bodies of the API, as the server sends and accepts them (`snake_case`
//! JSON, RFC 3339 times, UUID ids). Responses tolerate fields this version does not know, so a
//! newer server does not break an older client.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

// ---------------------------------------------------------------------------------------------
// Lists

/// One page of a list: `?page=&page_size=` or `?cursor=`.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// 1-based page number.
    pub page: i64,
    /// Items per page (1..=500).
    pub page_size: i64,
    /// Items of the whole list (with the same filters).
    pub total_items: i64,
    /// Pages of `page_size` in the whole list.
    pub total_pages: i64,
    /// Continues the list after this page (keyset: a deep page costs what the first does);
    /// `None` on the last page, and on lists that page by number only.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// What the "pages" twin of a list answers: how many items and pages for a page size.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct PageCount {
    /// The page size counted for.
    pub page_size: i64,
    /// Items of the list.
    pub total_items: i64,
    /// Pages of `page_size`.
    pub total_pages: i64,
}

/// Which page of a list to fetch: by number (`page`) or after a cursor (`cursor`).
#[derive(Clone, Debug, Default, Serialize)]
pub struct PageRequest {
    /// 1-based page number (default 1); ignored with a cursor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<i64>,
    /// Items per page, 1..=500 (default 50).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_size: Option<i64>,
    /// `next_cursor` of the previous page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

impl PageRequest {
    /// Page `page` of `page_size` items.
    #[must_use]
    pub fn number(page: i64, page_size: i64) -> Self {
        Self {
            page: Some(page),
            page_size: Some(page_size),
            cursor: None,
        }
    }

    /// The page after `cursor`.
    #[must_use]
    pub fn after(cursor: impl Into<String>, page_size: i64) -> Self {
        Self {
            page: None,
            page_size: Some(page_size),
            cursor: Some(cursor.into()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Identity

/// `POST /v1/signup`.
#[derive(Clone, Debug, Serialize)]
pub struct SignupRequest {
    /// The owner's email (also their sign-in).
    pub email: String,
    /// 8 to 72 bytes.
    pub password: String,
    /// The owner's name.
    pub full_name: String,
    /// The company's name.
    pub account_name: String,
}

/// A user, as the API shows them.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct User {
    /// The user's id.
    pub id: Uuid,
    /// The account the user belongs to.
    pub account_id: Uuid,
    /// Lower-cased email.
    pub email: String,
    /// The user's name.
    pub full_name: String,
    /// When the user was created.
    pub created_at: DateTime<Utc>,
}

/// An account (a company, a tenant).
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Account {
    /// The account's id.
    pub id: Uuid,
    /// The account's name.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A workspace of an account.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Workspace {
    /// The workspace's id.
    pub id: Uuid,
    /// Its account.
    pub account_id: Uuid,
    /// Its name.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// `POST /v1/signup` → 201.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct SignupResponse {
    /// The new owner.
    pub user: User,
    /// The new account.
    pub account: Account,
    /// Its default workspace.
    pub workspace: Workspace,
}

/// Tokens, as every sign-in, exchange and refresh returns them.
#[derive(Clone, Deserialize, Serialize)]
pub struct Tokens {
    /// EdDSA-signed JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Opaque; rotates on every use (the old one is retired at once).
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Seconds until the refresh token expires — never beyond the session's end (a session
    /// ends at most the refresh TTL after it began; refreshes do not extend it).
    pub refresh_expires_in: i64,
    /// Space-separated permissions the tokens carry.
    pub scope: String,
    /// The user, after a login (not after a key exchange or refresh).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
}

impl std::fmt::Debug for Tokens {
    // Tokens are credentials: never in a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("access_token", &"..")
            .field("refresh_token", &"..")
            .field("expires_in", &self.expires_in)
            .field("refresh_expires_in", &self.refresh_expires_in)
            .field("scope", &self.scope)
            .field("user", &self.user)
            .finish()
    }
}

/// `POST /v1/auth/login`: the tokens, or — with MFA on — the token for the MFA step.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(untagged)]
pub enum LoginResponse {
    /// With MFA on: send a code with [`MfaRequired::mfa_token`] to `POST /v1/auth/login/mfa`.
    /// (Listed first: its `mfa_required` field tells it apart.)
    MfaRequired(MfaRequired),
    /// Signed in.
    Tokens(Tokens),
}

/// The first factor passed; the second is due.
#[derive(Clone, Deserialize, Serialize)]
pub struct MfaRequired {
    /// Always `true`.
    pub mfa_required: bool,
    /// Proof of the password step, for `POST /v1/auth/login/mfa`.
    pub mfa_token: String,
    /// Seconds the MFA token stays valid.
    pub expires_in: i64,
}

impl std::fmt::Debug for MfaRequired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaRequired")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// A workspace role held by a user.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct WorkspaceRole {
    /// The workspace.
    pub workspace_id: Uuid,
    /// `manager`, `editor` or `viewer`.
    pub role: String,
}

/// `GET /v1/me`.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Me {
    /// The caller.
    pub user: User,
    /// The caller's account.
    pub account: Account,
    /// `owner`, `admin`, `developer`, `member`.
    pub account_roles: Vec<String>,
    /// Roles per workspace.
    pub workspace_roles: Vec<WorkspaceRole>,
    /// Effective account-wide permissions.
    pub permissions: Vec<String>,
    /// Whether TOTP is on.
    pub mfa_enabled: bool,
}

/// A user of the account with their roles (`GET /v1/users`).
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Member {
    /// The user's id.
    pub id: Uuid,
    /// Their account.
    pub account_id: Uuid,
    /// Their email.
    pub email: String,
    /// Their name.
    pub full_name: String,
    /// When they were created.
    pub created_at: DateTime<Utc>,
    /// Account roles.
    pub account_roles: Vec<String>,
    /// Workspace roles.
    pub workspace_roles: Vec<WorkspaceRole>,
}

/// A workspace role to assign.
#[derive(Clone, Debug, Serialize)]
pub struct WorkspaceRoleRequest {
    /// The workspace.
    pub workspace_id: Uuid,
    /// `manager`, `editor` or `viewer`.
    pub role: String,
}

/// `POST /v1/users`: invite a user (an invitation code is emailed).
#[derive(Clone, Debug, Serialize)]
pub struct InviteRequest {
    /// Their email.
    pub email: String,
    /// Their name.
    pub full_name: String,
    /// `admin`, `developer`, `member`.
    pub account_roles: Vec<String>,
    /// Roles per workspace.
    pub workspace_roles: Vec<WorkspaceRoleRequest>,
}

/// `PUT /v1/users/{user_id}/roles`.
#[derive(Clone, Debug, Serialize)]
pub struct RoleAssignment {
    /// `admin`, `developer`, `member` (owners keep `owner`).
    pub account_roles: Vec<String>,
    /// Roles per workspace.
    pub workspace_roles: Vec<WorkspaceRoleRequest>,
}

/// `POST /v1/me/mfa/totp/setup`: shown once.
#[derive(Clone, Deserialize, Serialize)]
pub struct TotpSetup {
    /// Base32, for typing into an authenticator app.
    pub secret: String,
    /// `otpauth://totp/…`, for a QR code.
    pub otpauth_url: String,
}

impl std::fmt::Debug for TotpSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSetup { .. }")
    }
}

/// `POST /v1/me/mfa/totp/activate`: ten one-time codes, shown once.
#[derive(Clone, Deserialize, Serialize)]
pub struct RecoveryCodes {
    /// Each stands in for a TOTP code once.
    pub recovery_codes: Vec<String>,
}

impl std::fmt::Debug for RecoveryCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryCodes { .. }")
    }
}

/// `{"message": …}` answers (logout).
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct MessageResponse {
    /// What happened.
    pub message: String,
}

/// One event of the audit trail.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct AuditEvent {
    /// The event's id.
    pub id: Uuid,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// `login_succeeded`, `token_refreshed`, …
    pub event: String,
    /// The user concerned.
    pub user_id: Option<Uuid>,
    /// The API key involved.
    pub client_id: Option<Uuid>,
    /// The client's IP.
    pub ip: Option<String>,
    /// ISO country of the IP, when known.
    pub country: Option<String>,
    /// Whether the attempt succeeded.
    pub success: bool,
    /// Why, and the user's failure counters at the time.
    pub detail: Value,
}

/// Filters of `GET /v1/audit-events`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct AuditQuery {
    /// Only events of this name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// Only events about this user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Uuid>,
}

// ---------------------------------------------------------------------------------------------
// API keys and client tokens

/// `POST /v1/auth/keys`.
#[derive(Clone, Debug, Serialize)]
pub struct CreateApiKeyRequest {
    /// A name to recognise the key by.
    pub name: String,
    /// What the key may ever be exchanged for (always within its owner's permissions).
    ///
    /// `None`: the content permissions only — `customers:read`, `customers:write`,
    /// `campaigns:read`, `campaigns:write`, `messages:publish`, `messages:read` — and
    /// `users:read`. Account administration (`users:manage`, `account:manage`, `audit:read`)
    /// works for a key only when named here. `api_keys:manage` is never a key's: managing
    /// credentials (password, MFA, API keys, sessions) is for a person's sign-in only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
}

/// `POST /v1/auth/keys` → 201: the key, shown this once.
#[derive(Clone, Deserialize, Serialize)]
pub struct CreatedApiKey {
    /// The key's id.
    pub key_id: Uuid,
    /// `ns_live_…`: keep it secret; the server keeps only a digest.
    pub api_key: String,
    /// Its name.
    pub name: String,
    /// Its scopes: those asked for, or the defaults (see [`CreateApiKeyRequest::scopes`]).
    pub scopes: Option<Vec<String>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for CreatedApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedApiKey")
            .field("key_id", &self.key_id)
            .field("api_key", &"..")
            .field("name", &self.name)
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// `GET /v1/auth/keys`: a key, never its secret.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct ApiKey {
    /// The key's id.
    pub key_id: Uuid,
    /// Its name.
    pub name: String,
    /// Its scopes; `None` only for a key made before keys named them, which covers the
    /// defaults (see [`CreateApiKeyRequest::scopes`]).
    pub scopes: Option<Vec<String>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last exchanged (coalesced to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
}

/// `GET /v1/account/api-keys`: a key of the account with its owner, never its secret.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct AccountApiKey {
    /// The key's id.
    pub key_id: Uuid,
    /// Its name.
    pub name: String,
    /// Its scopes, as in [`ApiKey::scopes`].
    pub scopes: Option<Vec<String>>,
    /// The user who owns it.
    pub user_id: Uuid,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last exchanged (coalesced to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
}

/// How a session began.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    /// A person's sign-in (password, invitation, password reset).
    Login,
    /// An API key exchanged for tokens (`POST /v1/auth`).
    ApiKey,
    /// A short-lived token for a frontend (`GET /v1/auth/token`).
    ShortLived,
    /// A kind this version of the client does not know (a newer server).
    #[serde(other)]
    Other,
}

/// `GET /v1/me/sessions`: one of the caller's live sessions.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Session {
    /// The session's id, for [`Client::end_session`](crate::Client::end_session).
    pub id: Uuid,
    /// How it began.
    pub kind: SessionKind,
    /// When it began.
    pub created_at: DateTime<Utc>,
    /// When its tokens were last issued: its start or its latest refresh.
    pub last_seen_at: DateTime<Utc>,
    /// The address it was last seen from, when known.
    pub ip: Option<String>,
    /// The country of its start, where the server's GeoIP database knows it.
    pub country: Option<String>,
    /// The API key it came from, by name (for `api_key` and `short_lived` sessions).
    pub key_name: Option<String>,
    /// When it ends for good: refreshes never move this.
    pub expires_at: DateTime<Utc>,
    /// Whether this is the session of the token that asked.
    pub current: bool,
}

/// `GET /v1/auth/token`: a short-lived access token for a frontend, without a refresh token.
#[derive(Clone, Deserialize, Serialize)]
pub struct ShortLivedToken {
    /// An EdDSA JWT (`typ: st+jwt`).
    pub token: String,
    /// Seconds until it expires.
    pub expires_in: i64,
}

impl std::fmt::Debug for ShortLivedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShortLivedToken")
            .field("token", &"..")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// One public key of `GET /.well-known/jwks.json`.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Jwk {
    /// `OKP`.
    pub kty: String,
    /// `Ed25519`.
    pub crv: String,
    /// The public key, base64url.
    pub x: String,
    /// The key id, as in a token's `kid` header.
    pub kid: String,
    /// `EdDSA`.
    pub alg: String,
    /// `sig`.
    #[serde(rename = "use")]
    pub use_: String,
}

/// `GET /.well-known/jwks.json`.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct JwkSet {
    /// Every key that verifies a token still valid.
    pub keys: Vec<Jwk>,
}

// ---------------------------------------------------------------------------------------------
// Customers

/// A customer of a workspace.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Customer {
    /// The customer's id.
    pub id: Uuid,
    /// The integrator's own id for the customer (upsert key when given).
    pub external_id: Option<String>,
    /// Lower-cased email (upsert key when there is no external id).
    pub email: Option<String>,
    /// E.164.
    pub phone: Option<String>,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Custom profile field values by key.
    pub attributes: BTreeMap<String, Value>,
    /// Groups the customer is in.
    pub group_ids: Vec<Uuid>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// Filters of the customer list.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CustomerFilter {
    /// Only members of this group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<Uuid>,
    /// A prefix of the email, external id, first name, "first last" or last name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search: Option<String>,
}

/// A partial change to a customer: `None` leaves a field as it is, `Some(None)` clears it.
/// `attributes` merge; an attribute set to `null` is removed.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CustomerChanges {
    /// New external id (`Some(None)` clears it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<Option<String>>,
    /// New email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<Option<String>>,
    /// New phone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<Option<String>>,
    /// New first name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<Option<String>>,
    /// New last name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<Option<String>>,
    /// Attributes to set (or, as `null`, remove).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<BTreeMap<String, Value>>,
}

/// One item of a bulk update.
#[derive(Clone, Debug, Serialize)]
pub struct CustomerUpdate {
    /// The customer.
    pub id: Uuid,
    /// Its changes.
    #[serde(flatten)]
    pub changes: CustomerChanges,
}

#[derive(Serialize)]
pub(crate) struct BulkUpdateRequest<'a> {
    pub customers: &'a [CustomerUpdate],
}

/// `PATCH /customers` (bulk): what was applied.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct BulkUpdateReport {
    /// Customers updated.
    pub updated: u64,
    /// Items not applied, each with why.
    pub errors: Vec<BulkItemError>,
}

/// An item of a bulk update that was not applied.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct BulkItemError {
    /// Its position in the request.
    pub index: usize,
    /// The customer.
    pub id: Uuid,
    /// The field at fault, if one.
    pub field: Option<String>,
    /// Why.
    pub message: String,
}

#[derive(Serialize)]
pub(crate) struct IdsRequest<'a> {
    pub ids: &'a [Uuid],
}

/// `POST /customers/bulk-delete`.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct BulkDeleteReport {
    /// Customers deleted (ids not found are skipped).
    pub deleted: u64,
}

/// How an upload is applied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadMode {
    /// Check and write (the default).
    #[default]
    Upsert,
    /// Check only.
    Validate,
}

/// The report of a customer upload.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct UploadReport {
    /// Rows read.
    pub total_rows: u64,
    /// Rows that passed the checks.
    pub valid_rows: u64,
    /// Rows that did not.
    pub invalid_rows: u64,
    /// Customers created (0 in validate mode).
    pub created: u64,
    /// Customers matched and updated (0 in validate mode).
    pub updated: u64,
    /// The first 1,000 errors.
    pub errors: Vec<RowError>,
    /// Whether there were more.
    pub errors_truncated: bool,
}

/// A row of an upload that failed its checks.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct RowError {
    /// The row's line (the header is line 1).
    pub row: u64,
    /// The field at fault.
    pub field: String,
    /// Why.
    pub message: String,
}

/// A customer group.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Group {
    /// The group's id.
    pub id: Uuid,
    /// Its workspace.
    pub workspace_id: Uuid,
    /// Its name (unique in the workspace).
    pub name: String,
    /// Its description.
    pub description: String,
    /// Customers in it.
    pub member_count: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// `POST /customer-groups`.
#[derive(Clone, Debug, Serialize)]
pub struct NewGroup {
    /// Unique in the workspace.
    pub name: String,
    /// Optional description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `PATCH /customer-groups/{id}`: fields left `None` stay.
#[derive(Clone, Debug, Default, Serialize)]
pub struct GroupChanges {
    /// New name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Serialize)]
pub(crate) struct MembersRequest<'a> {
    pub customer_ids: &'a [Uuid],
}

/// `POST …/members`.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct MembersAdded {
    /// Customers that were not members before.
    pub added: u64,
}

/// `POST …/members/remove`.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct MembersRemoved {
    /// Customers that were members.
    pub removed: u64,
}

/// A custom profile field of a workspace.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct ProfileField {
    /// The field's id.
    pub id: Uuid,
    /// snake_case key, as in CSV headers and `attributes`.
    pub key: String,
    /// For people.
    pub label: String,
    /// `string`, `number`, `boolean`, `date`, `enum`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Whether every customer must have it.
    pub required: bool,
    /// The values of an `enum`.
    pub options: Vec<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// `POST /profile-fields`.
#[derive(Clone, Debug, Serialize)]
pub struct NewProfileField {
    /// snake_case, unique in the workspace.
    pub key: String,
    /// For people.
    pub label: String,
    /// `string`, `number`, `boolean`, `date`, `enum`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Whether every customer must have it.
    pub required: bool,
    /// Only (and always) for `enum`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<String>>,
}

/// `PATCH /profile-fields/{id}`: fields left `None` stay.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ProfileFieldChanges {
    /// New label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// New type.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// New required flag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
    /// New enum options.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<String>>,
}

// ---------------------------------------------------------------------------------------------
// Campaigns and messages

/// Where a campaign's messages go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Email.
    Email,
    /// SMS.
    Sms,
    /// Push notification.
    Push,
    /// In-app message.
    InApp,
}

/// `draft → active → paused ↔ active → completed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    /// Being prepared.
    Draft,
    /// Running.
    Active,
    /// Stopped for now.
    Paused,
    /// Over.
    Completed,
}

/// A campaign.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Campaign {
    /// The campaign's id.
    pub id: Uuid,
    /// Its workspace.
    pub workspace_id: Uuid,
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// Its channel.
    pub channel: Channel,
    /// Its customer groups.
    pub group_ids: Vec<Uuid>,
    /// Its status.
    pub status: CampaignStatus,
    /// Messages published to it.
    pub message_count: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// `POST /campaigns` (created as `draft`).
#[derive(Clone, Debug, Serialize)]
pub struct NewCampaign {
    /// 1 to 200 characters.
    pub name: String,
    /// Up to 2,000 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its channel.
    pub channel: Channel,
    /// Customer groups of the same workspace.
    pub group_ids: Vec<Uuid>,
}

/// `PATCH /campaigns/{id}`: fields left `None` stay.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CampaignChanges {
    /// New name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// New channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    /// Replaces the groups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_ids: Option<Vec<Uuid>>,
    /// A transition (409 when not allowed from the current status).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<CampaignStatus>,
}

/// Filters of a workspace's campaign list.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CampaignFilter {
    /// Only campaigns in this status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<CampaignStatus>,
}

/// `POST /v1/campaigns/search`: campaigns of every workspace of the account the caller may read.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CampaignSearch {
    /// Only these workspaces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace_ids: Option<Vec<Uuid>>,
    /// Only this status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<CampaignStatus>,
    /// Which page.
    #[serde(flatten)]
    pub page: PageRequest,
}

/// `POST /v1/campaigns/search/pages`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CampaignSearchPages {
    /// Only these workspaces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace_ids: Option<Vec<Uuid>>,
    /// Only this status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<CampaignStatus>,
    /// Page size to count for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_size: Option<i64>,
}

/// One message to publish.
#[derive(Clone, Debug, Serialize)]
pub struct NewMessage {
    /// A customer of the workspace.
    pub customer_id: Uuid,
    /// Optional subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The body.
    pub body: String,
    /// Any JSON object, stored encrypted with the subject and body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
}

#[derive(Serialize)]
pub(crate) struct PublishRequest<'a> {
    pub messages: &'a [NewMessage],
}

/// `POST …/messages/publish` → 201.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Published {
    /// Messages stored.
    pub published: usize,
    /// Their ids, in the order given.
    pub message_ids: Vec<Uuid>,
}

/// `POST …/messages/retrieve`: which messages, which page.
#[derive(Clone, Debug, Default, Serialize)]
pub struct MessageQuery {
    /// Which page.
    #[serde(flatten)]
    pub page: PageRequest,
    /// Only messages for these customers (at most 1,000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_ids: Option<Vec<Uuid>>,
    /// Only these messages (at most 1,000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_ids: Option<Vec<Uuid>>,
}

/// `POST …/messages/pages`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct MessagePagesQuery {
    /// Page size to count for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_size: Option<i64>,
    /// Only messages for these customers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_ids: Option<Vec<Uuid>>,
}

/// A stored message, decrypted.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Message {
    /// The message's id.
    pub id: Uuid,
    /// Its campaign.
    pub campaign_id: Uuid,
    /// Its customer.
    pub customer_id: Uuid,
    /// Its subject.
    pub subject: Option<String>,
    /// Its body.
    pub body: String,
    /// Its metadata.
    pub metadata: Option<Value>,
    /// When it was published.
    pub created_at: DateTime<Utc>,
}

// ---------------------------------------------------------------------------------------------
// Small request bodies

#[derive(Serialize)]
pub(crate) struct NameRequest<'a> {
    pub name: &'a str,
}

#[derive(Serialize)]
pub(crate) struct CodeRequest<'a> {
    pub code: &'a str,
}

#[derive(Serialize)]
pub(crate) struct PageSizeQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_size: Option<i64>,
}
