//! Credential containment, swept: every operation of the OpenAPI document is called with every
//! kind of credential (a human session, a human session that passed MFA, API-key sessions with
//! three different scopes, a short-lived frontend token, a refresh token and an MFA-pending
//! token sent as `Authorization: Bearer`), and the answer's status class is compared with what
//! the capability table of the containment contract predicts.
//!
//! The oracle ([`OPERATIONS`], [`predict`]) is written from the contract, never read from the
//! server: each operation has a route class (public, logout, own credentials, credential
//! administration, account administration with its permission, workspace content with its
//! permission) and a recipe for a request that is valid, so that an allowed call really
//! succeeds. An operation of the document that the table does not classify fails the sweep (and
//! so does a classified operation that the document lacks).
//!
//! Destructive operations get a fresh target per call (made by a separate owner session), and
//! operations that end sessions or change the caller's credentials run with freshly minted
//! credentials; everything they could have revoked is minted again afterwards.
#![allow(
    clippy::disallowed_methods,
    reason = "tests start from the real time, or wait for it"
)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use base64::Engine as _;
use nudgescribe_e2e::smtp::{SmtpSink, code_in};
use nudgescribe_e2e::totp::{base32, now, totp};
use nudgescribe_e2e::{Error, TestApp, TestResult, spawn_app_with};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// The oracle
// ---------------------------------------------------------------------------------------------

/// The eight kinds of credential the sweep calls every operation with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Kind {
    /// Password sign-in of D, the key owner (account owner with the developer role).
    Human,
    /// Password and TOTP sign-in of a second user of the account (admin and developer).
    HumanMfa,
    /// `POST /v1/auth` with a key of D created without scopes.
    KeyUnscoped,
    /// ... with a key created with `scopes: ["customers:read"]`.
    KeyCustomersRead,
    /// ... with a key created with `scopes: ["customers:read", "users:read", "users:manage"]`.
    KeyUsersManage,
    /// `GET /v1/auth/token` with the unscoped key.
    ShortLived,
    /// A refresh token as `Authorization: Bearer`.
    RefreshAsBearer,
    /// The `mfa_token` of the MFA user's password step as `Authorization: Bearer`.
    MfaTokenAsBearer,
}

const KINDS: [Kind; 8] = [
    Kind::Human,
    Kind::HumanMfa,
    Kind::KeyUnscoped,
    Kind::KeyCustomersRead,
    Kind::KeyUsersManage,
    Kind::ShortLived,
    Kind::RefreshAsBearer,
    Kind::MfaTokenAsBearer,
];

impl Kind {
    const fn name(self) -> &'static str {
        match self {
            Self::Human => "human",
            Self::HumanMfa => "human_mfa",
            Self::KeyUnscoped => "key_unscoped",
            Self::KeyCustomersRead => "key_customers_read",
            Self::KeyUsersManage => "key_users_manage",
            Self::ShortLived => "short_lived",
            Self::RefreshAsBearer => "refresh_as_bearer",
            Self::MfaTokenAsBearer => "mfa_token_as_bearer",
        }
    }

    /// A human session (MFA satisfied where it is on).
    const fn is_human(self) -> bool {
        matches!(self, Self::Human | Self::HumanMfa)
    }

    /// A credential that is not an access token at all: 401 on every protected route.
    const fn is_not_an_access_token(self) -> bool {
        matches!(self, Self::RefreshAsBearer | Self::MfaTokenAsBearer)
    }

    /// What the credential may use: its scope ∩ its user's permissions. D (owner and
    /// developer) and the MFA user (admin and developer) hold every permission; a key without
    /// scopes covers the content permissions and `users:read`; the short-lived token carries
    /// the unscoped key's scope (its kind keeps it to content anyway).
    fn permissions(self) -> &'static [&'static str] {
        match self {
            Self::Human | Self::HumanMfa => ALL_PERMISSIONS,
            Self::KeyUnscoped | Self::ShortLived => DEFAULT_KEY_SCOPES,
            Self::KeyCustomersRead => &["customers:read"],
            Self::KeyUsersManage => &["customers:read", "users:read", "users:manage"],
            Self::RefreshAsBearer | Self::MfaTokenAsBearer => &[],
        }
    }
}

const ALL_PERMISSIONS: &[&str] = &[
    "account:manage",
    "users:read",
    "users:manage",
    "api_keys:manage",
    "audit:read",
    "customers:read",
    "customers:write",
    "campaigns:read",
    "campaigns:write",
    "messages:publish",
    "messages:read",
];

const DEFAULT_KEY_SCOPES: &[&str] = &[
    "customers:read",
    "customers:write",
    "campaigns:read",
    "campaigns:write",
    "messages:publish",
    "messages:read",
    "users:read",
];

/// The route classes of the contract's capability table.
#[derive(Clone, Copy, Debug)]
enum Class {
    /// Independent of any bearer.
    Public,
    /// `POST /v1/auth/logout`: every access-token kind, for its own session.
    Logout,
    /// Password, MFA, API keys, sessions of the caller: human sessions only.
    OwnCredentials,
    /// Every API key of the account: human sessions with `users:manage`.
    CredentialAdministration,
    /// Users, roles, workspace changes, audit: humans by role, key sessions by scope, never a
    /// short-lived token.
    AccountAdministration(&'static str),
    /// Workspace content and `GET /v1/me`: humans by role, key sessions and short-lived tokens
    /// by scope. `None`: no permission beyond being signed in.
    Content(Option<&'static str>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// 2xx.
    Success,
    /// Exactly this status with this `code`.
    Denied(u16, &'static str),
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Success => f.write_str("2xx"),
            Self::Denied(status, code) => write!(f, "{status} {code}"),
        }
    }
}

const NOT_ALLOWED: Expect = Expect::Denied(403, "credential_not_allowed");
const FORBIDDEN: Expect = Expect::Denied(403, "forbidden");
const UNAUTHENTICATED: Expect = Expect::Denied(401, "unauthenticated");

/// What the contract says `kind` gets from a route of `class`.
fn predict(class: Class, kind: Kind) -> Expect {
    let holds = |permission: &str| kind.permissions().contains(&permission);
    match class {
        Class::Public => Expect::Success,
        _ if kind.is_not_an_access_token() => UNAUTHENTICATED,
        Class::Logout => Expect::Success,
        Class::OwnCredentials if kind.is_human() => Expect::Success,
        Class::OwnCredentials => NOT_ALLOWED,
        Class::CredentialAdministration if !kind.is_human() => NOT_ALLOWED,
        Class::CredentialAdministration if holds("users:manage") => Expect::Success,
        Class::CredentialAdministration => FORBIDDEN,
        Class::AccountAdministration(_) if kind == Kind::ShortLived => NOT_ALLOWED,
        Class::AccountAdministration(permission) if holds(permission) => Expect::Success,
        Class::AccountAdministration(_) => FORBIDDEN,
        Class::Content(None) => Expect::Success,
        Class::Content(Some(permission)) if holds(permission) => Expect::Success,
        Class::Content(Some(_)) => FORBIDDEN,
    }
}

/// How to build a valid request for an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Recipe {
    /// No body; the path (and query) with the fixture's ids.
    Plain,
    /// A JSON body template (placeholders: `{ws}`, `{customer}`, `{group}`, `{n}` unique).
    Json(&'static str),
    /// A CSV body (`content-type: text/csv`), with `{n}`.
    Csv(&'static str),
    // Flows of their own (see `perform`).
    Signup,
    Login,
    LoginMfa,
    ResetRequest,
    ResetConfirm,
    AcceptInvitation,
    Exchange,
    Reauthenticate,
    RefreshPost,
    ShortLivedToken,
    ChangePassword,
    TotpSetup,
    TotpActivate,
    TotpDisable,
    Logout,
    DeleteOwnKey,
    DeleteOwnSession,
    VerifyEmail,
}

impl Recipe {
    /// Changes the caller's own credentials or ends its session: runs with freshly minted
    /// credentials, and everything is minted again afterwards.
    const fn disruptive(self) -> bool {
        matches!(
            self,
            Self::ChangePassword
                | Self::TotpSetup
                | Self::TotpActivate
                | Self::TotpDisable
                | Self::Logout
        )
    }
}

/// A target that a destructive operation gets afresh for every call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fresh {
    Nothing,
    Workspace,
    Customer,
    Group,
    /// A new group with the shared customer in it.
    GroupWithMember,
    Field,
    Campaign,
    /// An invited user of the account.
    Member,
    /// A new API key of D.
    AccountKey,
}

struct Op {
    method: &'static str,
    path: &'static str,
    query: &'static str,
    class: Class,
    recipe: Recipe,
    fresh: Fresh,
}

const fn op(method: &'static str, path: &'static str, class: Class, recipe: Recipe) -> Op {
    Op {
        method,
        path,
        query: "",
        class,
        recipe,
        fresh: Fresh::Nothing,
    }
}

const fn fresh(
    method: &'static str,
    path: &'static str,
    class: Class,
    recipe: Recipe,
    fresh: Fresh,
) -> Op {
    Op {
        method,
        path,
        query: "",
        class,
        recipe,
        fresh,
    }
}

const fn query(method: &'static str, path: &'static str, query: &'static str, class: Class) -> Op {
    Op {
        method,
        path,
        query,
        class,
        recipe: Recipe::Plain,
        fresh: Fresh::Nothing,
    }
}

use Class::{
    AccountAdministration as Admin, Content, CredentialAdministration, Logout as LogoutClass,
    OwnCredentials as Own, Public,
};
use Recipe::{Json, Plain};

const CR: Class = Content(Some("customers:read"));
const CW: Class = Content(Some("customers:write"));
const KR: Class = Content(Some("campaigns:read"));
const KW: Class = Content(Some("campaigns:write"));

/// Every operation the contract knows, by (method, OpenAPI path template).
#[rustfmt::skip]
const OPERATIONS: &[Op] = &[
    // Public: independent of any bearer.
    op("post", "/v1/signup", Public, Recipe::Signup),
    op("post", "/v1/auth/login", Public, Recipe::Login),
    op("post", "/v1/auth/login/mfa", Public, Recipe::LoginMfa),
    op("post", "/v1/auth/password-reset", Public, Recipe::ResetRequest),
    op("post", "/v1/auth/password-reset/confirm", Public, Recipe::ResetConfirm),
    op("post", "/v1/invitations/accept", Public, Recipe::AcceptInvitation),
    op("post", "/v1/auth", Public, Recipe::Exchange),
    op("get", "/v1/auth", Public, Recipe::Reauthenticate),
    op("trace", "/v1/auth", Public, Recipe::Reauthenticate),
    op("post", "/v1/auth/refresh", Public, Recipe::RefreshPost),
    op("get", "/v1/auth/token", Public, Recipe::ShortLivedToken),
    op("get", "/.well-known/jwks.json", Public, Plain),
    op("get", "/health/live", Public, Plain),
    op("get", "/health/ready", Public, Plain),
    op("get", "/metrics", Public, Plain),
    // Logout.
    op("post", "/v1/auth/logout", LogoutClass, Recipe::Logout),
    // Own credentials.
    op("post", "/v1/me/password", Own, Recipe::ChangePassword),
    op("post", "/v1/me/mfa/totp/setup", Own, Recipe::TotpSetup),
    op("post", "/v1/me/mfa/totp/activate", Own, Recipe::TotpActivate),
    op("delete", "/v1/me/mfa/totp", Own, Recipe::TotpDisable),
    op("post", "/v1/auth/keys", Own, Json(r#"{"name": "Sweep key {n}"}"#)),
    op("get", "/v1/auth/keys", Own, Plain),
    op("delete", "/v1/auth/keys/{key_id}", Own, Recipe::DeleteOwnKey),
    op("get", "/v1/me/sessions", Own, Plain),
    op("delete", "/v1/me/sessions/{session_id}", Own, Recipe::DeleteOwnSession),
    op("post", "/v1/me/email/verify", Own, Recipe::VerifyEmail),
    // Verified callers: 202 and nothing sent.
    op("post", "/v1/me/email/verify/resend", Own, Plain),
    // Credential administration.
    op("get", "/v1/account/api-keys", CredentialAdministration, Plain),
    fresh("delete", "/v1/account/api-keys/{key_id}", CredentialAdministration, Plain, Fresh::AccountKey),
    // Account administration.
    op("get", "/v1/users", Admin("users:read"), Plain),
    // Roles within the reach of the `users:manage` key (an integration never grants more than
    // its own scopes: tests/containment.rs holds that apart).
    op("post", "/v1/users", Admin("users:manage"), Json(r#"{"email": "invitee-{n}@example.com", "full_name": "Invitee {n}", "account_roles": ["member"], "workspace_roles": []}"#)),
    fresh("put", "/v1/users/{user_id}/roles", Admin("users:manage"), Json(r#"{"account_roles": ["member"], "workspace_roles": []}"#), Fresh::Member),
    fresh("delete", "/v1/users/{user_id}", Admin("users:manage"), Plain, Fresh::Member),
    op("post", "/v1/workspaces", Admin("account:manage"), Json(r#"{"name": "Sweep workspace {n}"}"#)),
    fresh("patch", "/v1/workspaces/{workspace_id}", Admin("account:manage"), Json(r#"{"name": "Renamed workspace {n}"}"#), Fresh::Workspace),
    fresh("delete", "/v1/workspaces/{workspace_id}", Admin("account:manage"), Plain, Fresh::Workspace),
    op("get", "/v1/audit-events", Admin("audit:read"), Plain),
    // Workspace content, and the caller's own profile.
    op("get", "/v1/me", Content(None), Plain),
    op("get", "/v1/workspaces", Content(None), Plain),
    op("get", "/v1/workspaces/{workspace_id}", Content(None), Plain),
    op("post", "/v1/campaigns/search", KR, Json(r#"{"page": 1, "page_size": 50}"#)),
    op("post", "/v1/campaigns/search/pages", KR, Json(r#"{"page_size": 50}"#)),
    op("post", "/v1/workspaces/{workspace_id}/campaigns", KW, Json(r#"{"name": "Sweep campaign {n}", "channel": "email", "group_ids": ["{group}"]}"#)),
    op("get", "/v1/workspaces/{workspace_id}/campaigns", KR, Plain),
    query("get", "/v1/workspaces/{workspace_id}/campaigns/pages", "?page_size=50", KR),
    op("get", "/v1/workspaces/{workspace_id}/campaigns/{campaign_id}", KR, Plain),
    op("patch", "/v1/workspaces/{workspace_id}/campaigns/{campaign_id}", KW, Json(r#"{"description": "Changed {n}"}"#)),
    fresh("delete", "/v1/workspaces/{workspace_id}/campaigns/{campaign_id}", KW, Plain, Fresh::Campaign),
    op("post", "/v1/workspaces/{workspace_id}/campaigns/{campaign_id}/messages/publish", Content(Some("messages:publish")), Json(r#"{"messages": [{"customer_id": "{customer}", "subject": "Hello {n}", "body": "Sweep message {n}"}]}"#)),
    op("post", "/v1/workspaces/{workspace_id}/campaigns/{campaign_id}/messages/retrieve", Content(Some("messages:read")), Json(r#"{"page": 1, "page_size": 10}"#)),
    op("post", "/v1/workspaces/{workspace_id}/campaigns/{campaign_id}/messages/pages", Content(Some("messages:read")), Json(r#"{"page_size": 10}"#)),
    op("post", "/v1/workspaces/{workspace_id}/customers/upload", CW, Recipe::Csv("external_id,email,first_name\nupload-{n},upload-{n}@example.com,Uploaded\n")),
    op("get", "/v1/workspaces/{workspace_id}/customers", CR, Plain),
    query("get", "/v1/workspaces/{workspace_id}/customers/pages", "?page_size=50", CR),
    op("patch", "/v1/workspaces/{workspace_id}/customers", CW, Json(r#"{"customers": [{"id": "{customer}", "last_name": "Changed {n}"}]}"#)),
    fresh("post", "/v1/workspaces/{workspace_id}/customers/bulk-delete", CW, Json(r#"{"ids": ["{customer}"]}"#), Fresh::Customer),
    op("get", "/v1/workspaces/{workspace_id}/customers/{customer_id}", CR, Plain),
    op("patch", "/v1/workspaces/{workspace_id}/customers/{customer_id}", CW, Json(r#"{"last_name": "Changed {n}"}"#)),
    fresh("delete", "/v1/workspaces/{workspace_id}/customers/{customer_id}", CW, Plain, Fresh::Customer),
    op("post", "/v1/workspaces/{workspace_id}/customer-groups", CW, Json(r#"{"name": "Sweep group {n}", "description": "Made by the sweep"}"#)),
    op("get", "/v1/workspaces/{workspace_id}/customer-groups", CR, Plain),
    op("get", "/v1/workspaces/{workspace_id}/customer-groups/{group_id}", CR, Plain),
    op("patch", "/v1/workspaces/{workspace_id}/customer-groups/{group_id}", CW, Json(r#"{"description": "Changed {n}"}"#)),
    fresh("delete", "/v1/workspaces/{workspace_id}/customer-groups/{group_id}", CW, Plain, Fresh::Group),
    fresh("post", "/v1/workspaces/{workspace_id}/customer-groups/{group_id}/members", CW, Json(r#"{"customer_ids": ["{customer}"]}"#), Fresh::Group),
    fresh("post", "/v1/workspaces/{workspace_id}/customer-groups/{group_id}/members/remove", CW, Json(r#"{"customer_ids": ["{customer}"]}"#), Fresh::GroupWithMember),
    op("post", "/v1/workspaces/{workspace_id}/profile-fields", CW, Json(r#"{"key": "sweep_field_{n}", "label": "Sweep field {n}", "type": "string"}"#)),
    op("get", "/v1/workspaces/{workspace_id}/profile-fields", CR, Plain),
    op("patch", "/v1/workspaces/{workspace_id}/profile-fields/{field_id}", CW, Json(r#"{"label": "Changed {n}"}"#)),
    fresh("delete", "/v1/workspaces/{workspace_id}/profile-fields/{field_id}", CW, Plain, Fresh::Field),
];

/// Public operations that the contract names but the OpenAPI document does not list (the
/// document and the interactive docs serve themselves): swept too, and not required in the
/// document (if it lists them one day, they are classified already).
#[rustfmt::skip]
const SELF_SERVED: &[Op] = &[
    op("get", "/v1/openapi.json", Public, Plain),
    op("get", "/docs", Public, Plain),
];

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

enum Body {
    None,
    Json(Value),
    Csv(String),
}

struct Outcome {
    status: StatusCode,
    body: String,
}

impl Outcome {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    fn field(&self, name: &str) -> Result<String, Error> {
        self.json()[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("no `{name}` in {} {}", self.status, self.body).into())
    }

    /// This outcome, or an error describing it unless its status is `want`.
    fn expect(self, want: StatusCode, what: &str) -> Result<Self, Error> {
        if self.status == want {
            Ok(self)
        } else {
            Err(format!(
                "{what}: want {want}, got {} {}",
                self.status,
                short(&self.body)
            )
            .into())
        }
    }
}

fn short(text: &str) -> String {
    let one_line = text.replace('\n', " ");
    match one_line.char_indices().nth(160) {
        Some((at, _)) => format!("{}…", &one_line[..at]),
        None => one_line,
    }
}

async fn send(
    app: &TestApp,
    method: &Method,
    path: &str,
    bearer: Option<&str>,
    headers: &[(&str, &str)],
    body: Body,
) -> Result<Outcome, Error> {
    let mut request = app.client.request(method.clone(), app.url(path));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request = match body {
        Body::None => request,
        Body::Json(value) => request.json(&value),
        Body::Csv(text) => request.header("content-type", "text/csv").body(text),
    };
    let response = request.send().await?;
    let status = response.status();
    Ok(Outcome {
        status,
        body: response.text().await?,
    })
}

/// The `sid` claim of an access token.
fn session_of(access_token: &str) -> Result<String, Error> {
    let payload = access_token.split('.').nth(1).ok_or("not a JWT")?;
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload)?)?;
    Ok(claims["sid"].as_str().ok_or("no sid claim")?.to_owned())
}

// ---------------------------------------------------------------------------------------------
// The fixture
// ---------------------------------------------------------------------------------------------

const PASSWORD: &str = "correct horse battery";

/// A user of D's account (admin and developer) with TOTP on.
struct MfaUser {
    email: String,
    password: String,
    secret: Vec<u8>,
    /// Unused recovery codes: each signs in (or proves the factor) once.
    codes: Vec<String>,
}

/// Whose credentials a call is made with.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Who {
    D,
    Mfa,
}

struct Fixture {
    app: TestApp,
    sink: SmtpSink,
    counter: u64,
    d_email: String,
    d_password: String,
    /// D's keys: unscoped, customers:read, users:manage.
    keys: BTreeMap<Kind, String>,
    ws: String,
    customer: String,
    group: String,
    field: String,
    campaign: String,
    /// Customers made for destructive calls, not yet used.
    spare_customers: Vec<String>,
    /// A session of D that is none of the tested credentials, for making targets.
    owner: Option<String>,
    mfa: Option<MfaUser>,
    /// The eight credentials for operations that change nothing of them.
    shared: Option<BTreeMap<Kind, String>>,
}

fn created(outcome: Outcome, what: &str) -> Result<Outcome, Error> {
    if outcome.status.is_success() {
        Ok(outcome)
    } else {
        Err(format!("{what}: {} {}", outcome.status, short(&outcome.body)).into())
    }
}

impl Fixture {
    async fn new() -> Result<Self, Error> {
        let (sink, smtp_url) = SmtpSink::start().await?;
        let app = spawn_app_with(|settings| {
            settings.email.smtp_url = Some(smtp_url.into());
            settings.rate_limits.client_auth_per_key_per_minute = 100_000;
            settings.rate_limits.client_auth_per_ip_per_minute = 100_000;
            settings.rate_limits.signin_per_ip_per_minute = 100_000;
            settings.rate_limits.mfa_per_user_per_minute = 100_000;
            settings.rate_limits.password_reset_per_email = 100_000;
            settings.rate_limits.email_verification_per_user_per_hour = 100_000;
        })
        .await?;
        let d_email = "owner-d@example.com".to_owned();
        let developer = app.developer(&d_email).await?;
        let ws = developer.signed.body["workspace"]["id"]
            .as_str()
            .ok_or("default workspace")?
            .to_owned();
        let mut fixture = Self {
            app,
            sink,
            counter: 0,
            d_email,
            d_password: developer.signed.password.clone(),
            keys: BTreeMap::new(),
            ws,
            customer: String::new(),
            group: String::new(),
            field: String::new(),
            campaign: String::new(),
            spare_customers: Vec::new(),
            owner: Some(developer.access_token.clone()),
            mfa: None,
            shared: None,
        };
        for (kind, body) in [
            (Kind::KeyUnscoped, json!({"name": "Unscoped"})),
            (
                Kind::KeyCustomersRead,
                json!({"name": "Customers read", "scopes": ["customers:read"]}),
            ),
            (
                Kind::KeyUsersManage,
                json!({"name": "Users manage", "scopes": ["customers:read", "users:read", "users:manage"]}),
            ),
        ] {
            let (_, key) = fixture
                .app
                .create_key(&developer.access_token, body)
                .await?;
            fixture.keys.insert(kind, key);
        }
        fixture.field = fixture.new_field().await?;
        fixture.group = fixture.new_group().await?;
        fixture.customer = fixture.new_customer().await?;
        let owner = fixture.owner().await?;
        let ws = fixture.ws.clone();
        let (group, customer) = (fixture.group.clone(), fixture.customer.clone());
        fixture
            .call(
                Method::POST,
                &format!("/v1/workspaces/{ws}/customer-groups/{group}/members"),
                &owner,
                json!({"customer_ids": [customer]}),
            )
            .await
            .and_then(|o| created(o, "group membership"))?;
        fixture.campaign = fixture.new_campaign().await?;
        let campaign = fixture.campaign.clone();
        fixture
            .call(
                Method::POST,
                &format!("/v1/workspaces/{ws}/campaigns/{campaign}/messages/publish"),
                &owner,
                json!({"messages": [{"customer_id": customer, "subject": "First", "body": "First message"}]}),
            )
            .await
            .and_then(|o| created(o, "publish"))?;
        Ok(fixture)
    }

    fn next(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Value,
    ) -> Result<Outcome, Error> {
        send(&self.app, &method, path, Some(token), &[], Body::Json(body)).await
    }

    /// A call with the shared credential of `kind` as its bearer.
    async fn as_kind(
        &mut self,
        kind: Kind,
        method: &Method,
        path: &str,
        body: Body,
    ) -> Result<Outcome, Error> {
        let bearer = self.shared(kind).await?;
        send(&self.app, method, path, Some(&bearer), &[], body).await
    }

    /// A session of D for making targets (not one of the tested credentials).
    async fn owner(&mut self) -> Result<String, Error> {
        if let Some(token) = &self.owner {
            return Ok(token.clone());
        }
        let token = self.login_d().await?.0;
        self.owner = Some(token.clone());
        Ok(token)
    }

    /// Forgets every session that the last call may have ended.
    fn invalidate(&mut self) {
        self.owner = None;
        self.shared = None;
    }

    /// D's password sign-in: (access token, refresh token).
    async fn login_d(&self) -> Result<(String, String), Error> {
        let signed_in = send(
            &self.app,
            &Method::POST,
            "/v1/auth/login",
            None,
            &[],
            Body::Json(json!({"email": self.d_email, "password": self.d_password})),
        )
        .await?
        .expect(StatusCode::OK, "D's sign-in")?;
        Ok((
            signed_in.field("access_token")?,
            signed_in.field("refresh_token")?,
        ))
    }

    /// `POST /v1/auth` with one of D's keys: (access token, refresh token).
    async fn exchange(&self, kind: Kind) -> Result<(String, String), Error> {
        let key = self.keys.get(&kind).ok_or("no such key")?;
        let exchanged = send(
            &self.app,
            &Method::POST,
            "/v1/auth",
            None,
            &[],
            Body::Json(json!({"api_key": key})),
        )
        .await?
        .expect(StatusCode::OK, "key exchange")?;
        Ok((
            exchanged.field("access_token")?,
            exchanged.field("refresh_token")?,
        ))
    }

    async fn short_lived(&self) -> Result<String, Error> {
        let key = self.keys.get(&Kind::KeyUnscoped).ok_or("no key")?;
        send(
            &self.app,
            &Method::GET,
            "/v1/auth/token",
            None,
            &[("apiKey", key.as_str())],
            Body::None,
        )
        .await?
        .expect(StatusCode::OK, "short-lived token")?
        .field("token")
    }

    /// The code of an email for `address` containing `marker` that arrived after the first
    /// `before` messages (an older one to the same address may carry a replaced code).
    async fn new_emailed_code(
        &self,
        before: usize,
        address: &str,
        marker: &str,
    ) -> Result<String, Error> {
        for _ in 0..200 {
            let found = self
                .sink
                .messages()
                .into_iter()
                .skip(before)
                .find(|m| m.contains(address) && m.contains(marker));
            if let Some(message) = found {
                return Ok(code_in(&message).ok_or("no Code: line")?);
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        Err(format!("no new email for {address}").into())
    }

    /// Takes `email`'s verification back, so that a verification can be tried again.
    async fn unverify(&self, email: &str) -> Result<(), Error> {
        use diesel_async::RunQueryDsl as _;
        let db =
            postgres::Db::connect(self.app.database.url(), &postgres::PoolSettings::default())?;
        let mut tx = db.system().await?;
        diesel::sql_query("UPDATE users SET email_verified_at = NULL WHERE email = $1")
            .bind::<diesel::sql_types::Text, _>(email)
            .execute(tx.conn())
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The latest email carrying a code for `address`, whose text contains `marker`; its code.
    async fn emailed_code(&self, address: &str, marker: &str) -> Result<String, Error> {
        for _ in 0..200 {
            let found = self
                .sink
                .messages()
                .into_iter()
                .rev()
                .find(|m| m.contains(address) && m.contains(marker));
            if let Some(message) = found {
                return Ok(code_in(&message).ok_or("no Code: line")?);
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        Err(format!("no email for {address}").into())
    }

    /// Invites a new user into D's account; returns (user id, email).
    async fn invite(&mut self, roles: &[&str]) -> Result<(String, String), Error> {
        let n = self.next();
        let email = format!("member-{n}@example.com");
        let owner = self.owner().await?;
        let invited = self
            .call(
                Method::POST,
                "/v1/users",
                &owner,
                json!({"email": email, "full_name": format!("Member {n}"), "account_roles": roles, "workspace_roles": []}),
            )
            .await?
            .expect(StatusCode::CREATED, "invitation")?;
        Ok((invited.field("id")?, email))
    }

    /// A new admin and developer of D's account, signed up by invitation, with TOTP on.
    async fn new_mfa_user(&mut self) -> Result<MfaUser, Error> {
        let (_, email) = self.invite(&["admin", "developer"]).await?;
        let code = self.emailed_code(&email, "invited").await?;
        let accepted = send(
            &self.app,
            &Method::POST,
            "/v1/invitations/accept",
            None,
            &[],
            Body::Json(json!({"email": email, "code": code, "password": PASSWORD})),
        )
        .await?
        .expect(StatusCode::OK, "accepting the MFA user's invitation")?;
        let token = accepted.field("access_token")?;
        let secret = self
            .call(Method::POST, "/v1/me/mfa/totp/setup", &token, json!({}))
            .await?
            .expect(StatusCode::OK, "the MFA user's TOTP setup")?
            .field("secret")?;
        let secret = base32(&secret);
        let codes = self
            .call(
                Method::POST,
                "/v1/me/mfa/totp/activate",
                &token,
                json!({"code": totp(&secret, now())}),
            )
            .await?
            .expect(StatusCode::OK, "the MFA user's TOTP activation")?
            .json()["recovery_codes"]
            .as_array()
            .ok_or("recovery codes")?
            .iter()
            .filter_map(|c| c.as_str().map(str::to_owned))
            .collect();
        Ok(MfaUser {
            email,
            password: PASSWORD.to_owned(),
            secret,
            codes,
        })
    }

    /// The current MFA user, made anew when there is none or its recovery codes run low.
    async fn mfa_user(&mut self) -> Result<&mut MfaUser, Error> {
        if self.mfa.as_ref().is_none_or(|m| m.codes.len() < 3) {
            let user = self.new_mfa_user().await?;
            self.mfa = Some(user);
        }
        self.mfa.as_mut().ok_or_else(|| "no MFA user".into())
    }

    /// The MFA user's password step: its `mfa_token`.
    async fn mfa_token(&mut self) -> Result<String, Error> {
        let user = self.mfa_user().await?;
        let body = json!({"email": user.email, "password": user.password});
        let step = send(
            &self.app,
            &Method::POST,
            "/v1/auth/login",
            None,
            &[],
            Body::Json(body),
        )
        .await?
        .expect(StatusCode::OK, "the MFA user's password step")?;
        if step.json()["mfa_required"] != true {
            return Err(format!("no MFA step: {}", short(&step.body)).into());
        }
        step.field("mfa_token")
    }

    /// A recovery code of the MFA user (used up by whoever takes it).
    async fn recovery_code(&mut self) -> Result<String, Error> {
        self.mfa_user()
            .await?
            .codes
            .pop()
            .ok_or_else(|| "no recovery code".into())
    }

    /// A full sign-in of the MFA user, password then a recovery code.
    async fn login_mfa_user(&mut self) -> Result<String, Error> {
        let mfa_token = self.mfa_token().await?;
        let code = self.recovery_code().await?;
        send(
            &self.app,
            &Method::POST,
            "/v1/auth/login/mfa",
            None,
            &[],
            Body::Json(json!({"mfa_token": mfa_token, "code": code})),
        )
        .await?
        .expect(StatusCode::OK, "the MFA user's MFA step")?
        .field("access_token")
    }

    /// A new credential of `kind`.
    async fn mint(&mut self, kind: Kind) -> Result<String, Error> {
        Ok(match kind {
            Kind::Human => self.login_d().await?.0,
            Kind::HumanMfa => self.login_mfa_user().await?,
            Kind::KeyUnscoped | Kind::KeyCustomersRead | Kind::KeyUsersManage => {
                self.exchange(kind).await?.0
            }
            Kind::ShortLived => self.short_lived().await?,
            Kind::RefreshAsBearer => self.exchange(Kind::KeyUnscoped).await?.1,
            Kind::MfaTokenAsBearer => self.mfa_token().await?,
        })
    }

    /// The shared credential of `kind` (all eight minted together when needed).
    async fn shared(&mut self, kind: Kind) -> Result<String, Error> {
        if self.shared.is_none() {
            let mut all = BTreeMap::new();
            for kind in KINDS {
                all.insert(kind, self.mint(kind).await?);
            }
            self.shared = Some(all);
        }
        self.shared
            .as_ref()
            .and_then(|all| all.get(&kind))
            .cloned()
            .ok_or_else(|| "no shared credential".into())
    }

    fn in_ws(&self, rest: &str) -> String {
        format!("/v1/workspaces/{}{rest}", self.ws)
    }

    async fn new_workspace(&mut self) -> Result<String, Error> {
        let n = self.next();
        let owner = self.owner().await?;
        self.call(
            Method::POST,
            "/v1/workspaces",
            &owner,
            json!({"name": format!("Target workspace {n}")}),
        )
        .await?
        .expect(StatusCode::CREATED, "workspace")?
        .field("id")
    }

    async fn new_field(&mut self) -> Result<String, Error> {
        let n = self.next();
        let owner = self.owner().await?;
        let path = self.in_ws("/profile-fields");
        self.call(
            Method::POST,
            &path,
            &owner,
            json!({"key": format!("target_field_{n}"), "label": format!("Target field {n}"), "type": "string"}),
        )
        .await
        .and_then(|o| created(o, "profile field"))?
        .field("id")
    }

    async fn new_group(&mut self) -> Result<String, Error> {
        let n = self.next();
        let owner = self.owner().await?;
        let path = self.in_ws("/customer-groups");
        self.call(
            Method::POST,
            &path,
            &owner,
            json!({"name": format!("Target group {n}"), "description": "A target"}),
        )
        .await
        .and_then(|o| created(o, "customer group"))?
        .field("id")
    }

    async fn new_campaign(&mut self) -> Result<String, Error> {
        let n = self.next();
        let owner = self.owner().await?;
        let path = self.in_ws("/campaigns");
        let group = self.group.clone();
        self.call(
            Method::POST,
            &path,
            &owner,
            json!({"name": format!("Target campaign {n}"), "channel": "email", "group_ids": [group]}),
        )
        .await
        .and_then(|o| created(o, "campaign"))?
        .field("id")
    }

    /// A customer of the workspace that nothing else uses (made 40 at a time).
    async fn new_customer(&mut self) -> Result<String, Error> {
        if let Some(id) = self.spare_customers.pop() {
            return Ok(id);
        }
        let batch = self.next();
        let owner = self.owner().await?;
        let rows: Vec<Value> = (0..40)
            .map(|i| json!({"external_id": format!("target-{batch}-{i}"), "email": format!("target-{batch}-{i}@example.com"), "first_name": "Target"}))
            .collect();
        let path = self.in_ws("/customers/upload");
        self.call(Method::POST, &path, &owner, Value::Array(rows))
            .await
            .and_then(|o| created(o, "customer upload"))?;
        let listed = send(
            &self.app,
            &Method::GET,
            &self.in_ws(&format!("/customers?page_size=100&search=target-{batch}-")),
            Some(&owner),
            &[],
            Body::None,
        )
        .await?
        .expect(StatusCode::OK, "customer list")?;
        let prefix = format!("target-{batch}-");
        self.spare_customers = listed.json()["items"]
            .as_array()
            .ok_or("customer items")?
            .iter()
            .filter(|c| {
                c["external_id"]
                    .as_str()
                    .is_some_and(|e| e.starts_with(&prefix))
            })
            .filter_map(|c| c["id"].as_str().map(str::to_owned))
            .collect();
        self.spare_customers
            .pop()
            .ok_or_else(|| format!("the uploaded customers are not listed: {}", listed.body).into())
    }

    /// A new API key of D (plaintext not needed): its id.
    async fn new_d_key(&mut self) -> Result<String, Error> {
        let n = self.next();
        let owner = self.owner().await?;
        self.call(
            Method::POST,
            "/v1/auth/keys",
            &owner,
            json!({"name": format!("Target key {n}")}),
        )
        .await?
        .expect(StatusCode::CREATED, "D's key")?
        .field("key_id")
    }
}

// ---------------------------------------------------------------------------------------------
// One call
// ---------------------------------------------------------------------------------------------

/// Fills `{name}` placeholders.
fn fill(template: &str, values: &BTreeMap<&'static str, String>) -> String {
    values
        .iter()
        .fold(template.to_owned(), |text, (name, value)| {
            text.replace(&format!("{{{name}}}"), value)
        })
}

/// Calls `op` with a credential of `kind`; an `Err` is a step around the call that failed.
async fn perform(fx: &mut Fixture, op: &Op, kind: Kind) -> Result<Outcome, Error> {
    let method = Method::from_bytes(op.method.to_uppercase().as_bytes())?;
    let who = if matches!(kind, Kind::HumanMfa | Kind::MfaTokenAsBearer) {
        Who::Mfa
    } else {
        Who::D
    };
    match op.recipe {
        Recipe::Plain | Recipe::Json(_) | Recipe::Csv(_) => plain(fx, op, &method, kind).await,
        Recipe::Signup => {
            let n = fx.next();
            let body = json!({"email": format!("signup-{n}@example.com"), "password": PASSWORD,
                              "full_name": "Grace Hopper", "account_name": format!("Signed up {n}")});
            fx.as_kind(kind, &method, op.path, Body::Json(body)).await
        }
        Recipe::Login => {
            let body = json!({"email": fx.d_email, "password": fx.d_password});
            fx.as_kind(kind, &method, op.path, Body::Json(body)).await
        }
        Recipe::LoginMfa => {
            let mfa_token = fx.mfa_token().await?;
            let code = fx.recovery_code().await?;
            let body = json!({"mfa_token": mfa_token, "code": code});
            fx.as_kind(kind, &method, op.path, Body::Json(body)).await
        }
        Recipe::ResetRequest => {
            // An address that belongs to nobody: the answer is the same 202 either way.
            let n = fx.next();
            let body = json!({"email": format!("nobody-{n}@example.com")});
            fx.as_kind(kind, &method, op.path, Body::Json(body)).await
        }
        Recipe::ResetConfirm => {
            // A user of its own (a reset ends every session of its user), whose emailed code
            // is read from the SMTP sink.
            let n = fx.next();
            let email = format!("reset-{n}@example.com");
            fx.app.signup(&email).await?;
            send(
                &fx.app,
                &Method::POST,
                "/v1/auth/password-reset",
                None,
                &[],
                Body::Json(json!({"email": email})),
            )
            .await?
            .expect(StatusCode::ACCEPTED, "reset request")?;
            let code = fx.emailed_code(&email, "Reset your").await?;
            let body =
                json!({"email": email, "code": code, "new_password": format!("{PASSWORD} {n}")});
            fx.as_kind(kind, &method, op.path, Body::Json(body)).await
        }
        Recipe::AcceptInvitation => {
            let (_, email) = fx.invite(&["member"]).await?;
            let code = fx.emailed_code(&email, "invited").await?;
            let body = json!({"email": email, "code": code, "password": PASSWORD});
            fx.as_kind(kind, &method, op.path, Body::Json(body)).await
        }
        Recipe::Exchange => {
            let key = fx.keys.get(&Kind::KeyUnscoped).cloned().ok_or("key")?;
            let body = json!({"api_key": key});
            fx.as_kind(kind, &method, op.path, Body::Json(body)).await
        }
        Recipe::Reauthenticate => {
            // The operation's own credential is a refresh token in `Authorization: Bearer`, so
            // that header cannot also carry the kind's credential: every kind gets a fresh
            // refresh token there (the kind makes no difference to this operation).
            let (_, refresh) = fx.exchange(Kind::KeyUnscoped).await?;
            send(&fx.app, &method, op.path, Some(&refresh), &[], Body::None).await
        }
        Recipe::RefreshPost => {
            let (_, refresh) = fx.exchange(Kind::KeyUnscoped).await?;
            let body = json!({"refresh_token": refresh});
            fx.as_kind(kind, &method, op.path, Body::Json(body)).await
        }
        Recipe::ShortLivedToken => {
            let key = fx.keys.get(&Kind::KeyUnscoped).cloned().ok_or("key")?;
            let bearer = fx.shared(kind).await?;
            send(
                &fx.app,
                &method,
                &format!("{}?expiryMins=5", op.path),
                Some(&bearer),
                &[("apiKey", key.as_str())],
                Body::None,
            )
            .await
        }
        Recipe::Logout => {
            let token = fx.mint(kind).await?;
            send(&fx.app, &method, op.path, Some(&token), &[], Body::None).await
        }
        Recipe::ChangePassword => change_password(fx, &method, op.path, kind, who).await,
        Recipe::TotpSetup => totp_setup(fx, &method, op.path, kind).await,
        Recipe::TotpActivate => totp_activate(fx, &method, op.path, kind).await,
        Recipe::TotpDisable => totp_disable(fx, &method, op.path, kind).await,
        Recipe::DeleteOwnKey => {
            // A new key of the caller's own user.
            let key_id = if kind == Kind::HumanMfa {
                let token = fx.shared(kind).await?;
                let n = fx.next();
                fx.call(
                    Method::POST,
                    "/v1/auth/keys",
                    &token,
                    json!({"name": format!("MFA user's key {n}")}),
                )
                .await?
                .expect(StatusCode::CREATED, "the MFA user's key")?
                .field("key_id")?
            } else {
                fx.new_d_key().await?
            };
            let path = op.path.replace("{key_id}", &key_id);
            fx.as_kind(kind, &method, &path, Body::None).await
        }
        Recipe::DeleteOwnSession => {
            // Another live session of the caller's own user.
            let other = if who == Who::Mfa {
                fx.login_mfa_user().await?
            } else {
                fx.login_d().await?.0
            };
            let session = session_of(&other)?;
            let path = op.path.replace("{session_id}", &session);
            fx.as_kind(kind, &method, &path, Body::None).await
        }
        Recipe::VerifyEmail => {
            // A person's own user, unverified again, with a code just emailed; any other kind
            // is refused before its code is looked at.
            let code = if kind.is_human() {
                let email = match who {
                    Who::D => fx.d_email.clone(),
                    Who::Mfa => fx.mfa_user().await?.email.clone(),
                };
                fx.unverify(&email).await?;
                let token = fx.shared(kind).await?;
                let before = fx.sink.messages().len();
                send(
                    &fx.app,
                    &Method::POST,
                    "/v1/me/email/verify/resend",
                    Some(&token),
                    &[],
                    Body::None,
                )
                .await?
                .expect(StatusCode::ACCEPTED, "verification resent")?;
                fx.new_emailed_code(before, &email, "Verify your").await?
            } else {
                "not-a-code".to_owned()
            };
            let body = json!({"code": code});
            fx.as_kind(kind, &method, op.path, Body::Json(body)).await
        }
    }
}

/// An operation described by its path, query and body template alone.
async fn plain(fx: &mut Fixture, op: &Op, method: &Method, kind: Kind) -> Result<Outcome, Error> {
    let n = fx.next();
    let mut values = BTreeMap::from([
        ("workspace_id", fx.ws.clone()),
        ("ws", fx.ws.clone()),
        ("customer_id", fx.customer.clone()),
        ("customer", fx.customer.clone()),
        ("group_id", fx.group.clone()),
        ("group", fx.group.clone()),
        ("field_id", fx.field.clone()),
        ("campaign_id", fx.campaign.clone()),
        ("n", n.to_string()),
    ]);
    match op.fresh {
        Fresh::Nothing => {}
        Fresh::Workspace => {
            values.insert("workspace_id", fx.new_workspace().await?);
        }
        Fresh::Customer => {
            let customer = fx.new_customer().await?;
            values.insert("customer_id", customer.clone());
            values.insert("customer", customer);
        }
        Fresh::Group => {
            values.insert("group_id", fx.new_group().await?);
        }
        Fresh::GroupWithMember => {
            let group = fx.new_group().await?;
            let owner = fx.owner().await?;
            let path = fx.in_ws(&format!("/customer-groups/{group}/members"));
            let customer = fx.customer.clone();
            fx.call(
                Method::POST,
                &path,
                &owner,
                json!({"customer_ids": [customer]}),
            )
            .await
            .and_then(|o| created(o, "group membership"))?;
            values.insert("group_id", group);
        }
        Fresh::Field => {
            values.insert("field_id", fx.new_field().await?);
        }
        Fresh::Campaign => {
            values.insert("campaign_id", fx.new_campaign().await?);
        }
        Fresh::Member => {
            values.insert("user_id", fx.invite(&["member"]).await?.0);
        }
        Fresh::AccountKey => {
            values.insert("key_id", fx.new_d_key().await?);
        }
    }
    let path = format!("{}{}", fill(op.path, &values), op.query);
    let body = match op.recipe {
        Recipe::Json(template) => Body::Json(serde_json::from_str(&fill(template, &values))?),
        Recipe::Csv(template) => Body::Csv(fill(template, &values)),
        _ => Body::None,
    };
    fx.as_kind(kind, method, &path, body).await
}

/// `POST /v1/me/password` with a fresh credential; the caller's user's password is tracked.
async fn change_password(
    fx: &mut Fixture,
    method: &Method,
    path: &str,
    kind: Kind,
    who: Who,
) -> Result<Outcome, Error> {
    let token = fx.mint(kind).await?;
    let n = fx.next();
    let new_password = format!("{PASSWORD} {n}");
    let current = match who {
        Who::D => fx.d_password.clone(),
        Who::Mfa => fx.mfa_user().await?.password.clone(),
    };
    let body = json!({"current_password": current, "new_password": new_password});
    let outcome = send(&fx.app, method, path, Some(&token), &[], Body::Json(body)).await?;
    if outcome.status.is_success() {
        match who {
            Who::D => fx.d_password = new_password,
            Who::Mfa => fx.mfa_user().await?.password = new_password,
        }
    }
    Ok(outcome)
}

/// TOTP setup and activation with `token`; the recovery codes.
async fn enable_totp(fx: &Fixture, token: &str) -> Result<Vec<String>, Error> {
    let secret = fx
        .call(Method::POST, "/v1/me/mfa/totp/setup", token, json!({}))
        .await?
        .expect(StatusCode::OK, "TOTP setup (before the call)")?
        .field("secret")?;
    let activated = fx
        .call(
            Method::POST,
            "/v1/me/mfa/totp/activate",
            token,
            json!({"code": totp(&base32(&secret), now())}),
        )
        .await?
        .expect(StatusCode::OK, "TOTP activation (before the call)")?;
    Ok(activated.json()["recovery_codes"]
        .as_array()
        .ok_or("recovery codes")?
        .iter()
        .filter_map(|c| c.as_str().map(str::to_owned))
        .collect())
}

/// Turns D's TOTP off again with `token` (a session of D) and a recovery code; a 409 (it is
/// off already) is fine.
async fn disable_d_totp(fx: &Fixture, token: &str, code: &str) -> Result<(), Error> {
    let outcome = send(
        &fx.app,
        &Method::DELETE,
        "/v1/me/mfa/totp",
        Some(token),
        &[],
        Body::Json(json!({"code": code})),
    )
    .await?;
    if outcome.status.is_success() || outcome.status == StatusCode::CONFLICT {
        Ok(())
    } else {
        Err(format!(
            "turning D's TOTP off after the call: {} {}",
            outcome.status,
            short(&outcome.body)
        )
        .into())
    }
}

/// `POST /v1/me/mfa/totp/setup`. A user with TOTP on gets a 409 from setup, so the MFA user
/// first turns it off (and is retired afterwards).
async fn totp_setup(
    fx: &mut Fixture,
    method: &Method,
    path: &str,
    kind: Kind,
) -> Result<Outcome, Error> {
    let token = fx.mint(kind).await?;
    if kind == Kind::HumanMfa {
        let code = fx.recovery_code().await?;
        fx.call(
            Method::DELETE,
            "/v1/me/mfa/totp",
            &token,
            json!({"code": code}),
        )
        .await?
        .expect(StatusCode::NO_CONTENT, "the MFA user turning TOTP off")?;
        fx.mfa = None;
    }
    send(
        &fx.app,
        method,
        path,
        Some(&token),
        &[],
        Body::Json(json!({})),
    )
    .await
}

/// Starts a TOTP setup with `token`; the secret.
async fn start_totp_setup(fx: &Fixture, token: &str) -> Result<Vec<u8>, Error> {
    let secret = fx
        .call(Method::POST, "/v1/me/mfa/totp/setup", token, json!({}))
        .await?
        .expect(StatusCode::OK, "TOTP setup (before the call)")?
        .field("secret")?;
    Ok(base32(&secret))
}

/// `POST /v1/me/mfa/totp/activate` with a pending setup of the caller's user and a valid code.
async fn totp_activate(
    fx: &mut Fixture,
    method: &Method,
    path: &str,
    kind: Kind,
) -> Result<Outcome, Error> {
    match kind {
        Kind::Human => {
            let token = fx.mint(kind).await?;
            let secret = start_totp_setup(fx, &token).await?;
            let body = json!({"code": totp(&secret, now())});
            let outcome = send(&fx.app, method, path, Some(&token), &[], Body::Json(body)).await?;
            if let Some(code) = outcome.json()["recovery_codes"][0].as_str() {
                disable_d_totp(fx, &token, code).await?;
            }
            Ok(outcome)
        }
        Kind::HumanMfa => {
            let token = fx.mint(kind).await?;
            let code = fx.recovery_code().await?;
            fx.call(
                Method::DELETE,
                "/v1/me/mfa/totp",
                &token,
                json!({"code": code}),
            )
            .await?
            .expect(StatusCode::NO_CONTENT, "the MFA user turning TOTP off")?;
            fx.mfa = None;
            let secret = start_totp_setup(fx, &token).await?;
            let body = json!({"code": totp(&secret, now())});
            send(&fx.app, method, path, Some(&token), &[], Body::Json(body)).await
        }
        Kind::MfaTokenAsBearer => {
            // Refused before anything else is looked at (the MFA user's TOTP is on already).
            let token = fx.mint(kind).await?;
            let secret = fx.mfa_user().await?.secret.clone();
            let body = json!({"code": totp(&secret, now())});
            send(&fx.app, method, path, Some(&token), &[], Body::Json(body)).await
        }
        _ => {
            // D's credentials: a pending setup of D (made by a separate session of D).
            let (human, _) = fx.login_d().await?;
            let secret = start_totp_setup(fx, &human).await?;
            let token = fx.mint(kind).await?;
            let body = json!({"code": totp(&secret, now())});
            let outcome = send(&fx.app, method, path, Some(&token), &[], Body::Json(body)).await?;
            if let Some(codes) = outcome.json()["recovery_codes"].as_array() {
                // Allowed against the contract: turn D's TOTP off again.
                let codes: Vec<&str> = codes.iter().filter_map(Value::as_str).collect();
                restore_d(fx, &codes).await?;
            }
            Ok(outcome)
        }
    }
}

/// Signs D in with MFA (a recovery code) and turns TOTP off (another).
async fn restore_d(fx: &Fixture, codes: &[&str]) -> Result<(), Error> {
    let step = send(
        &fx.app,
        &Method::POST,
        "/v1/auth/login",
        None,
        &[],
        Body::Json(json!({"email": fx.d_email, "password": fx.d_password})),
    )
    .await?
    .expect(StatusCode::OK, "D's password step")?;
    let mfa_token = step.field("mfa_token")?;
    let (first, second) = match codes {
        [first, second, ..] => (*first, *second),
        _ => return Err("too few recovery codes".into()),
    };
    let token = send(
        &fx.app,
        &Method::POST,
        "/v1/auth/login/mfa",
        None,
        &[],
        Body::Json(json!({"mfa_token": mfa_token, "code": first})),
    )
    .await?
    .expect(StatusCode::OK, "D's MFA step")?
    .field("access_token")?;
    disable_d_totp(fx, &token, second).await
}

/// `DELETE /v1/me/mfa/totp` by a user with TOTP on, with a recovery code.
async fn totp_disable(
    fx: &mut Fixture,
    method: &Method,
    path: &str,
    kind: Kind,
) -> Result<Outcome, Error> {
    match kind {
        Kind::Human => {
            // D turns TOTP on with the very session under test (which continues), then off.
            let token = fx.mint(kind).await?;
            let codes = enable_totp(fx, &token).await?;
            let code = codes.first().ok_or("recovery codes")?;
            let body = json!({"code": code});
            let outcome = send(&fx.app, method, path, Some(&token), &[], Body::Json(body)).await?;
            if !outcome.status.is_success() {
                disable_d_totp(fx, &token, codes.get(1).ok_or("codes")?).await?;
            }
            Ok(outcome)
        }
        Kind::HumanMfa | Kind::MfaTokenAsBearer => {
            let token = fx.mint(kind).await?;
            let code = fx.recovery_code().await?;
            let body = json!({"code": code});
            let outcome = send(&fx.app, method, path, Some(&token), &[], Body::Json(body)).await?;
            if outcome.status.is_success() {
                fx.mfa = None;
            }
            Ok(outcome)
        }
        _ => {
            // D's credentials: D turns TOTP on first (with a separate session, which ends
            // the others: the credential is minted afterwards), and off again after the call.
            let (human, _) = fx.login_d().await?;
            let codes = enable_totp(fx, &human).await?;
            let token = fx.mint(kind).await?;
            let code = codes.first().ok_or("recovery codes")?;
            let body = json!({"code": code});
            let outcome = send(&fx.app, method, path, Some(&token), &[], Body::Json(body)).await?;
            disable_d_totp(fx, &human, codes.get(1).ok_or("codes")?).await?;
            Ok(outcome)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The sweep
// ---------------------------------------------------------------------------------------------

/// Whether a successful answer carries what the operation promises (public operations must
/// work exactly as if no bearer had been sent: tokens where tokens are due).
fn body_is_valid(op: &Op, outcome: &Outcome) -> bool {
    let body = outcome.json();
    let has = |name: &str| body[name].as_str().is_some_and(|v| !v.is_empty());
    match op.recipe {
        Recipe::Login
        | Recipe::LoginMfa
        | Recipe::ResetConfirm
        | Recipe::AcceptInvitation
        | Recipe::Exchange
        | Recipe::Reauthenticate
        | Recipe::RefreshPost => has("access_token") && has("refresh_token"),
        Recipe::ShortLivedToken => has("token"),
        Recipe::Signup => body["user"]["id"].is_string(),
        Recipe::ResetRequest | Recipe::Logout => has("message"),
        _ if op.path == "/v1/openapi.json" => body["paths"].is_object(),
        _ if op.path == "/.well-known/jwks.json" => body["keys"].is_array(),
        _ => true,
    }
}

/// Whether `outcome` is what `expect` says.
fn matches_expectation(op: &Op, expect: Expect, outcome: &Outcome) -> bool {
    match expect {
        Expect::Success => outcome.status.is_success() && body_is_valid(op, outcome),
        Expect::Denied(status, code) => {
            outcome.status.as_u16() == status && outcome.json()["code"] == code
        }
    }
}

#[tokio::test]
async fn every_operation_answers_every_credential_kind_as_the_contract_says() -> TestResult {
    let started = std::time::Instant::now();
    let mut fx = Fixture::new().await?;

    // The document and the table list the same operations.
    let doc = send(
        &fx.app,
        &Method::GET,
        "/v1/openapi.json",
        None,
        &[],
        Body::None,
    )
    .await?
    .expect(StatusCode::OK, "the OpenAPI document")?
    .json();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().ok_or("paths")? {
        for method in item.as_object().ok_or("path item")?.keys() {
            if [
                "get", "put", "post", "delete", "options", "head", "patch", "trace",
            ]
            .contains(&method.as_str())
            {
                documented.insert((method.clone(), path.clone()));
            }
        }
    }
    let mut classified = BTreeSet::new();
    let mut duplicates = Vec::new();
    for op in OPERATIONS {
        if !classified.insert((op.method.to_owned(), op.path.to_owned())) {
            duplicates.push(format!("{} {}", op.method, op.path));
        }
    }
    assert!(duplicates.is_empty(), "classified twice: {duplicates:?}");
    let self_served: BTreeSet<(String, String)> = SELF_SERVED
        .iter()
        .map(|op| (op.method.to_owned(), op.path.to_owned()))
        .collect();
    let unclassified: Vec<String> = documented
        .iter()
        .filter(|operation| !classified.contains(*operation) && !self_served.contains(*operation))
        .map(|(m, p)| format!("{} {p}", m.to_uppercase()))
        .collect();
    let undocumented: Vec<String> = classified
        .difference(&documented)
        .map(|(m, p)| format!("{} {p}", m.to_uppercase()))
        .collect();

    // `SWEEP_VERBOSE=1` prints every call's answer.
    let verbose = std::env::var_os("SWEEP_VERBOSE").is_some();
    let mut mismatches: Vec<[String; 5]> = Vec::new();
    let mut calls = 0;
    let swept = OPERATIONS
        .iter()
        .filter(|op| documented.contains(&(op.method.to_owned(), op.path.to_owned())))
        .chain(
            SELF_SERVED
                .iter()
                .filter(|op| !classified.contains(&(op.method.to_owned(), op.path.to_owned()))),
        );
    for op in swept {
        for kind in KINDS {
            let expect = predict(op.class, kind);
            if op.recipe.disruptive() {
                fx.invalidate();
            }
            calls += 1;
            let result = perform(&mut fx, op, kind).await;
            if op.recipe.disruptive() {
                fx.invalidate();
            }
            let operation = format!("{} {}", op.method.to_uppercase(), op.path);
            if verbose {
                match &result {
                    Ok(outcome) => eprintln!(
                        "{operation} {} expect {expect}: {} {}",
                        kind.name(),
                        outcome.status.as_u16(),
                        short(&outcome.body)
                    ),
                    Err(error) => eprintln!("{operation} {} step failed: {error}", kind.name()),
                }
            }
            match result {
                Ok(outcome) if matches_expectation(op, expect, &outcome) => {}
                Ok(outcome) => mismatches.push([
                    operation,
                    kind.name().to_owned(),
                    expect.to_string(),
                    outcome.status.as_u16().to_string(),
                    short(&outcome.body),
                ]),
                Err(error) => {
                    // A step around the call failed: report it, and start the next call
                    // from freshly minted credentials.
                    fx.invalidate();
                    mismatches.push([
                        operation,
                        kind.name().to_owned(),
                        expect.to_string(),
                        "step failed".to_owned(),
                        short(&error.to_string()),
                    ]);
                }
            }
        }
    }

    let mut report = String::new();
    if !mismatches.is_empty() {
        let headers = ["operation", "kind", "expected", "got"];
        let width = |i: usize| {
            mismatches
                .iter()
                .map(|row| row[i].chars().count())
                .chain([headers[i].len()])
                .max()
                .unwrap_or(0)
        };
        let (w0, w1, w2, w3) = (width(0), width(1), width(2), width(3));
        report.push_str(&format!(
            "{:w0$}  {:w1$}  {:w2$}  {:w3$}  body\n",
            headers[0], headers[1], headers[2], headers[3]
        ));
        for [operation, kind, expected, got, body] in &mismatches {
            report.push_str(&format!(
                "{operation:w0$}  {kind:w1$}  {expected:w2$}  {got:w3$}  {body}\n"
            ));
        }
    }
    let by_kind: HashMap<&str, usize> =
        mismatches
            .iter()
            .fold(HashMap::new(), |mut counts, [_, kind, ..]| {
                *counts.entry(kind.as_str()).or_default() += 1;
                counts
            });
    eprintln!(
        "credential sweep: {} documented operations, {calls} calls, {} mismatches {by_kind:?}, {:.1} s\n{report}",
        documented.len(),
        mismatches.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        unclassified.is_empty(),
        "operations of the OpenAPI document that the sweep's table does not classify \
         (add them to OPERATIONS with their route class): {unclassified:?}"
    );
    assert!(
        undocumented.is_empty(),
        "operations in the sweep's table that the OpenAPI document lacks: {undocumented:?}"
    );
    assert!(
        mismatches.is_empty(),
        "{} calls answered against the contract:\n{report}",
        mismatches.len()
    );
    Ok(())
}

#[test]
fn the_oracle_follows_the_contracts_table() {
    // Spot checks of `predict` against the contract's table, row by row.
    assert_eq!(predict(Class::OwnCredentials, Kind::Human), Expect::Success);
    assert_eq!(
        predict(Class::OwnCredentials, Kind::KeyUnscoped),
        NOT_ALLOWED
    );
    assert_eq!(
        predict(Class::OwnCredentials, Kind::ShortLived),
        NOT_ALLOWED
    );
    assert_eq!(
        predict(Class::OwnCredentials, Kind::RefreshAsBearer),
        UNAUTHENTICATED
    );
    assert_eq!(
        predict(Class::CredentialAdministration, Kind::KeyUsersManage),
        NOT_ALLOWED
    );
    assert_eq!(
        predict(
            Class::AccountAdministration("users:manage"),
            Kind::KeyUsersManage
        ),
        Expect::Success
    );
    assert_eq!(
        predict(
            Class::AccountAdministration("users:manage"),
            Kind::KeyUnscoped
        ),
        FORBIDDEN
    );
    assert_eq!(
        predict(
            Class::AccountAdministration("users:read"),
            Kind::KeyUnscoped
        ),
        Expect::Success
    );
    assert_eq!(
        predict(Class::AccountAdministration("users:read"), Kind::ShortLived),
        NOT_ALLOWED
    );
    assert_eq!(
        predict(
            Class::Content(Some("customers:write")),
            Kind::KeyCustomersRead
        ),
        FORBIDDEN
    );
    assert_eq!(
        predict(Class::Content(Some("messages:read")), Kind::ShortLived),
        Expect::Success
    );
    assert_eq!(
        predict(Class::Content(None), Kind::MfaTokenAsBearer),
        UNAUTHENTICATED
    );
    assert_eq!(predict(Class::Logout, Kind::ShortLived), Expect::Success);
    assert_eq!(
        predict(Class::Public, Kind::RefreshAsBearer),
        Expect::Success
    );
}
