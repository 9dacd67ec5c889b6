//! A Rust client for the NudgeScribe REST API.
//!
//! - **Typed calls** for every operation of the API ([`Client`]'s methods; request and
//!   response bodies in [`types`]), checked against the server's OpenAPI document by the
//!   server's test suite, so the two cannot drift apart ([`endpoints::ALL`] lists them).
//! - **Credentials that look after themselves.** [`Client::with_api_key`] exchanges an API key
//!   for tokens, renews the access token shortly before it expires with the newest refresh
//!   token (refresh tokens rotate: each use retires the one presented, and presenting a
//!   retired one again revokes the session), falls back to exchanging the key again when the
//!   refresh token is refused, and repeats a request once if the server refuses its token
//!   (401). [`Client::with_token_source`] takes tokens from a source of your own instead — a
//!   frontend asking its backend for short-lived tokens.
//! - **Safe to share**: a [`Client`] is an `Arc` inside; clone it into as many tasks as you
//!   like. They share one token, and when it is due, exactly one of them renews it while the
//!   others wait for the result.
//! - **Streams** of every item of a list, page after page by cursor
//!   ([`Client::customers_stream`], [`Client::messages_stream`], …).
//! - **Uploads** of customer CSV files from a path, a stream of chunks, or any `AsyncRead`,
//!   streamed rather than read into memory ([`Client::upload_csv_file`]).
//! - **Errors** as one enum, [`Error`]: the server's answers carry its stable `code`, message,
//!   HTTP status and `request_id` ([`ApiError`]); transport failures are apart.
//!
//! # Example
//!
//! ```no_run
//! use futures_util::TryStreamExt as _;
//! use nudgescribe_client::types::{Channel, CustomerFilter, NewCampaign, NewMessage, UploadMode};
//! use nudgescribe_client::{Client, Error};
//!
//! # async fn example(workspace_id: uuid::Uuid) -> Result<(), Error> {
//! let client = Client::with_api_key("http://127.0.0.1:8080", "ns_live_…").await?;
//!
//! // Customers from a CSV file, streamed.
//! let report = client
//!     .upload_csv_file(workspace_id, "customers.csv", UploadMode::Upsert)
//!     .await?;
//! println!("{} created, {} updated, {} invalid", report.created, report.updated, report.invalid_rows);
//!
//! // Every customer, 500 at a time by cursor.
//! let customers: Vec<_> = client
//!     .customers_stream(workspace_id, CustomerFilter::default(), 500)
//!     .try_collect()
//!     .await?;
//!
//! // A campaign and a message for each customer.
//! let campaign = client
//!     .create_campaign(
//!         workspace_id,
//!         &NewCampaign {
//!             name: "Welcome".into(),
//!             description: None,
//!             channel: Channel::Email,
//!             group_ids: vec![],
//!         },
//!     )
//!     .await?;
//! let messages: Vec<NewMessage> = customers
//!     .iter()
//!     .map(|c| NewMessage {
//!         customer_id: c.id,
//!         subject: Some("Hello".into()),
//!         body: format!("Welcome, {}!", c.first_name.as_deref().unwrap_or("friend")),
//!         metadata: None,
//!     })
//!     .collect();
//! client.publish_messages(workspace_id, campaign.id, &messages).await?;
//!
//! // Errors carry the server's code and request id.
//! match client.customer(workspace_id, uuid::Uuid::nil()).await {
//!     Err(Error::Api(e)) if e.code == "not_found" => println!("no such customer ({:?})", e.request_id),
//!     other => println!("{other:?}"),
//! }
//! # Ok(()) }
//! ```
//!
//! # Tokens in more detail
//!
//! | Client made with | First token | Renewed | When the server refuses it (401) |
//! |---|---|---|---|
//! | [`Client::with_api_key`] | key exchange, at construction | refresh token, a tenth of the lifetime (at most a minute) before expiry; when the refresh is refused (the session ended or was revoked), exchange the key again | renew (refresh, else exchange the key again), repeat the request once |
//! | [`Client::with_tokens`] | the given tokens (a login) | refresh token, likewise | refresh, repeat once; once the session ends, 401 |
//! | [`Client::with_token_source`] | the source, on the first call | the source, before the given expiry | the source again, repeat once |
//! | [`Client::new`] | none: public endpoints only | | |
//!
//! Streamed uploads ([`Client::upload_csv_stream`], [`Client::upload_csv_reader`]) cannot be
//! repeated, so a 401 on them is returned as it is; uploads from a path are re-read. A 401 that
//! is about the request rather than the token (`invalid_code`, `invalid_credentials`) is never
//! repeated either.
//!
//! A session ends at most the server's refresh TTL (15 days by default) after it began:
//! refreshes rotate its tokens but never extend it, and the refresh after its end is refused.
//! A [`Client::with_api_key`] client then exchanges its key again by itself, so a long-running
//! integration carries on; a [`Client::with_tokens`] client answers 401 until the person
//! signs in again.
//!
//! # What each credential may do
//!
//! - **A person's sign-in** ([`Client::with_tokens`]): everything their roles allow, and the
//!   only credential that manages credentials — password, MFA, API keys
//!   ([`Client::create_api_key`], [`Client::api_keys`], [`Client::delete_api_key`]),
//!   sessions ([`Client::sessions`], [`Client::end_session`]) and, with `users:manage`, every
//!   key of the account ([`Client::account_api_keys`], [`Client::delete_account_api_key`]).
//! - **An API key's session** ([`Client::with_api_key`]): what the key's scopes name, within
//!   its owner's permissions. A key created without `scopes` covers the content permissions
//!   (`customers:read`, `customers:write`, `campaigns:read`, `campaigns:write`,
//!   `messages:publish`, `messages:read`) and `users:read`; account administration
//!   (`users:manage`, `account:manage`, `audit:read`) must be named in
//!   [`CreateApiKeyRequest::scopes`](types::CreateApiKeyRequest::scopes).
//! - **A short-lived token** ([`Client::with_token_source`]): the workspace content (and
//!   `GET /v1/me`) within the key's scopes.
//!
//! Credential management with an API key's session or a short-lived token answers 403 with
//! the code `credential_not_allowed` ([`ErrorCode::CredentialNotAllowed`]), whatever the
//! scopes; a missing permission is 403 `forbidden`.
//!
//! # TLS
//!
//! The client uses `reqwest` without a TLS backend of its own choosing: for `https://` URLs,
//! enable a TLS feature of `reqwest` in your own `Cargo.toml` (e.g. `reqwest = { version =
//! "0.13", features = ["rustls"] }`; Cargo unifies the features), or pass a configured
//! `reqwest::Client` to [`Client::with_api_key_and`].

#![warn(missing_docs)]

mod auth;
mod campaigns;
mod client;
mod customers;
pub mod endpoints;
mod error;
mod identity;
mod paging;
pub mod types;

pub use auth::{SourcedToken, TokenFuture, TokenSource};
pub use client::Client;
pub use error::{ApiError, Error, ErrorCode, FieldError};
pub use paging::every_item;
pub use reqwest::StatusCode;
