//! Property tests of the request bodies: arbitrary JSON (and arbitrary bytes) into every
//! request DTO never panics, and whatever does not fit is a 400 with a message that says why.

use actix_web::ResponseError as _;
use actix_web::error::JsonPayloadError;
use actix_web::http::StatusCode;
use http::client_ip::TrustedProxies;
use http::error::ApiError;
use http::paging::PageParams;
use http::wire;
use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// Few cases by default so that CI stays quick; `PROPTEST_CASES` runs more.
fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(256),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// The field names of the request bodies, so that generated objects often hit real fields.
const KEYS: &[&str] = &[
    "email",
    "password",
    "full_name",
    "account_name",
    "name",
    "description",
    "channel",
    "group_ids",
    "customer_ids",
    "message_ids",
    "workspace_ids",
    "ids",
    "customers",
    "id",
    "first_name",
    "last_name",
    "external_id",
    "phone",
    "attributes",
    "messages",
    "customer_id",
    "subject",
    "body",
    "metadata",
    "page",
    "page_size",
    "cursor",
    "status",
    "key",
    "label",
    "type",
    "required",
    "options",
    "account_roles",
    "workspace_roles",
    "workspace_id",
    "role",
    "api_key",
    "scopes",
    "refresh_token",
    "code",
    "mfa_token",
    "current_password",
    "new_password",
];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,20}".prop_map(Value::String),
        Just(Value::String("00000000-0000-7000-8000-000000000000".into())),
        Just(Value::String("email".into())),
        Just(Value::String("active".into())),
        Just(Value::String("owner".into())),
        Just(Value::String("a@x.io".into())),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..8).prop_map(|pairs| {
                Value::Object(
                    pairs
                        .into_iter()
                        .map(|(k, v)| ((*k).to_owned(), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

/// Deserializes `bytes` as `T` the way the JSON extractor does, and checks the error it
/// would answer with.
fn check<T: DeserializeOwned>(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Err(e) = serde_json::from_slice::<T>(bytes) {
        let error = ApiError::from(JsonPayloadError::Deserialize(e));
        prop_assert_eq!(error.status_code(), StatusCode::BAD_REQUEST);
        prop_assert!(!error.to_string().is_empty());
    }
    Ok(())
}

fn every_body(bytes: &[u8]) -> Result<(), TestCaseError> {
    check::<wire::SignupRequest>(bytes)?;
    check::<wire::LoginRequest>(bytes)?;
    check::<wire::WorkspaceRequest>(bytes)?;
    check::<wire::InviteRequest>(bytes)?;
    check::<wire::AcceptInvitationRequest>(bytes)?;
    check::<wire::RoleAssignmentRequest>(bytes)?;
    check::<wire::ClientAuthRequest>(bytes)?;
    check::<wire::RefreshRequest>(bytes)?;
    check::<wire::CreateApiKeyRequest>(bytes)?;
    check::<wire::ChangePasswordRequest>(bytes)?;
    check::<wire::ResetRequest>(bytes)?;
    check::<wire::ResetConfirmRequest>(bytes)?;
    check::<wire::LoginMfaRequest>(bytes)?;
    check::<wire::CodeRequest>(bytes)?;
    check::<wire::ProfileFieldRequest>(bytes)?;
    check::<wire::ProfileFieldChangeRequest>(bytes)?;
    check::<wire::PublishRequest>(bytes)?;
    check::<wire::RetrieveRequest>(bytes)?;
    check::<wire::MessagePagesRequest>(bytes)?;
    check::<wire::CampaignRequest>(bytes)?;
    check::<wire::CampaignChangeRequest>(bytes)?;
    check::<wire::SearchRequest>(bytes)?;
    check::<wire::SearchPagesRequest>(bytes)?;
    check::<wire::GroupRequest>(bytes)?;
    check::<wire::GroupChangeRequest>(bytes)?;
    check::<wire::MembersRequest>(bytes)?;
    check::<wire::CustomerPatchRequest>(bytes)?;
    check::<wire::BulkPatchRequest>(bytes)?;
    check::<wire::BulkDeleteRequest>(bytes)?;
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_json_into_every_body_is_a_value_or_a_400(value in json()) {
        every_body(value.to_string().as_bytes())?;
    }

    #[test]
    fn arbitrary_bytes_into_every_body_are_a_value_or_a_400(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        every_body(&bytes)?;
    }

    #[test]
    fn odd_paging_is_a_page_or_a_400(
        page in prop::option::of(any::<i64>()),
        page_size in prop::option::of(any::<i64>()),
        cursor in prop::option::of(".{0,60}"),
    ) {
        let params = PageParams { page, page_size, cursor };
        match params.resolve() {
            Ok(request) => {
                prop_assert!(request.page >= 1 && (1..=500).contains(&request.page_size));
                prop_assert!(request.offset >= 0);
            }
            Err(e) => prop_assert_eq!(e.status_code(), StatusCode::BAD_REQUEST),
        }
    }

    #[test]
    fn any_forwarded_for_header_yields_an_address(
        headers in prop::collection::vec(".{0,40}", 0..4),
        peer_is_proxy in any::<bool>(),
    ) {
        let proxies = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8").map_err(|e| TestCaseError::fail(e.to_string()))?;
        let peer: std::net::IpAddr = if peer_is_proxy { [127, 0, 0, 1].into() } else { [192, 0, 2, 1].into() };
        let client = proxies.client_ip(Some(peer), headers.iter().map(String::as_str));
        prop_assert!(client.is_some());
        if !peer_is_proxy {
            prop_assert_eq!(client, Some(peer));
        }
    }
}
