//! The client: construction, credentials, and sending a request with a fresh token (renewed
//! ahead of expiry, and once more if the server refuses it).

use std::sync::Arc;
use std::time::Duration;

use reqwest::{RequestBuilder, Response, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::auth::{ApiKey, Credentials, Current, Lease, TokenCache, TokenSource};
use crate::endpoints::{self, Endpoint};
use crate::error::{self, Error};
use crate::types::Tokens;

/// A NudgeScribe API client.
///
/// Cheap to clone (an `Arc` inside) and safe to share between tasks: every clone shares one
/// connection pool and one cached access token, renewed by exactly one task at a time.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    /// Without a trailing slash.
    base: String,
    tokens: TokenCache,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.inner.base)
            .finish_non_exhaustive()
    }
}

/// How a request is sent.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Auth {
    /// With the client's access token.
    Bearer,
    /// Without credentials (public endpoints).
    Public,
}

fn normalise_base(base_url: &str) -> Result<String, Error> {
    let base = base_url.trim().trim_end_matches('/');
    if base.starts_with("http://") || base.starts_with("https://") {
        Ok(base.to_owned())
    } else {
        Err(Error::InvalidBaseUrl(base_url.to_owned()))
    }
}

impl Client {
    fn build(
        base_url: &str,
        http: Option<reqwest::Client>,
        credentials: Credentials,
    ) -> Result<Self, Error> {
        Ok(Self {
            inner: Arc::new(Inner {
                http: http.unwrap_or_default(),
                base: normalise_base(base_url)?,
                tokens: TokenCache::new(credentials),
            }),
        })
    }

    /// A client without credentials, for the public endpoints: signup, login, key exchange,
    /// password reset, invitations, the JWKS.
    ///
    /// # Errors
    /// [`Error::InvalidBaseUrl`] unless `base_url` is an `http(s)://` URL.
    pub fn new(base_url: &str) -> Result<Self, Error> {
        Self::build(base_url, None, Credentials::None)
    }

    /// A client for an integration: exchanges `api_key` for tokens at once (so a wrong key
    /// fails here), then keeps a valid access token by itself — refreshing shortly before it
    /// expires, always with the newest refresh token (each is retired by the server as it is
    /// used), and exchanging the key again if the refresh token is refused (its session was
    /// revoked, or it expired).
    ///
    /// That fallback is what keeps a long-running integration going: a session ends at most
    /// the server's refresh TTL (15 days by default) after it began — refreshes never extend
    /// it — and the refresh after its end is refused, so the client starts a new session from
    /// the key. Only a key that no longer works (deleted, revoked by an administrator, its
    /// owner removed or no longer a developer) stops the client, with 401.
    ///
    /// A key's session can use the workspace content and, if the key's scopes name them, the
    /// account-administration permissions; it can never manage credentials (password, MFA,
    /// API keys, sessions): those calls answer 403 `credential_not_allowed`.
    ///
    /// # Errors
    /// [`Error::Api`] when the key is refused (401), or the server cannot be reached.
    pub async fn with_api_key(base_url: &str, api_key: impl Into<String>) -> Result<Self, Error> {
        Self::with_api_key_and(base_url, api_key, None, None).await
    }

    /// [`Client::with_api_key`], with the tokens narrowed to `scopes` (within the key's own) and
    /// an HTTP client of your own (timeouts, proxies, TLS), if given.
    ///
    /// # Errors
    /// As [`Client::with_api_key`]; 403 for scopes beyond the key's.
    pub async fn with_api_key_and(
        base_url: &str,
        api_key: impl Into<String>,
        scopes: Option<Vec<String>>,
        http: Option<reqwest::Client>,
    ) -> Result<Self, Error> {
        let client = Self::build(
            base_url,
            http,
            Credentials::Session {
                api_key: Some(ApiKey {
                    key: api_key.into(),
                    scopes,
                }),
            },
        )?;
        client.token().await?;
        Ok(client)
    }

    /// A client on the tokens of a sign-in (`login`, `login_mfa`, invitation, password
    /// reset): refreshed with the refresh token like an API key's, but with no key to fall
    /// back on — once the session ends (logout, revocation, or its absolute end: the refresh
    /// TTL after the sign-in, however often it was refreshed), calls fail with 401 and the
    /// person must sign in again.
    ///
    /// This is the only kind of client that may manage credentials: change the password, set
    /// up MFA, create and delete API keys, list and end sessions, and (with `users:manage`)
    /// see and revoke every key of the account.
    ///
    /// # Errors
    /// [`Error::InvalidBaseUrl`].
    pub fn with_tokens(base_url: &str, tokens: &Tokens) -> Result<Self, Error> {
        let client = Self::build(base_url, None, Credentials::Session { api_key: None })?;
        client
            .inner
            .tokens
            .install(TokenCache::session_tokens(tokens, 1));
        Ok(client)
    }

    /// A client whose tokens come from `source` (see [`TokenSource`]): the client asks it for
    /// the first token on the first call, again shortly before each token expires, and once
    /// when the server refuses a token.
    ///
    /// Short-lived tokens reach the workspace content only (within the key's scopes): account
    /// administration and credential management answer 403 `credential_not_allowed`.
    ///
    /// # Errors
    /// [`Error::InvalidBaseUrl`].
    pub fn with_token_source(base_url: &str, source: impl TokenSource) -> Result<Self, Error> {
        Self::build(base_url, None, Credentials::Source(Box::new(source)))
    }

    /// The base URL the client talks to, without a trailing slash.
    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.inner.base
    }

    /// A valid access token, renewed first if it is due (exactly one renewal at a time).
    ///
    /// Handy to hand a token to something else (a frontend, a websocket); the client's own
    /// calls do this by themselves.
    ///
    /// # Errors
    /// What the renewal failed with; [`Error::NoCredentials`] for a client without any.
    pub async fn token(&self) -> Result<String, Error> {
        Ok(self.lease().await?.access)
    }

    /// The newest refresh token of the client's session, if it has one. The client rotates it
    /// by itself; this is for keeping it across restarts (then [`Client::with_tokens`]).
    pub async fn refresh_token(&self) -> Option<String> {
        self.inner
            .tokens
            .current
            .read()
            .await
            .as_ref()
            .and_then(|c| c.refresh.clone())
    }

    /// Forgets the cached access token, so that the next call renews it (with the refresh
    /// token, the API key, or the token source). For example after the key owner's roles
    /// changed, to get tokens with the new permissions at once.
    #[allow(
        clippy::disallowed_methods,
        reason = "the SDK renews tokens by real time"
    )]
    pub async fn expire_token(&self) {
        if let Some(current) = self.inner.tokens.current.write().await.as_mut() {
            current.renew_at = Some(tokio::time::Instant::now());
        }
    }

    async fn lease(&self) -> Result<Lease, Error> {
        if let Some(lease) = self.inner.tokens.fresh().await {
            return Ok(lease);
        }
        self.renew(None).await
    }

    /// Renews the token under the write lock — unless, by the time the lock is ours, another
    /// task already did: then its token serves. `refused` is the generation the server just
    /// refused, if that is why we are here.
    #[allow(
        clippy::disallowed_methods,
        reason = "the SDK renews tokens by real time"
    )]
    async fn renew(&self, refused: Option<u64>) -> Result<Lease, Error> {
        let mut guard = self.inner.tokens.current.write().await;
        if let Some(current) = guard.as_ref() {
            let still_good = match refused {
                Some(generation) => current.generation != generation,
                None => current
                    .renew_at
                    .is_none_or(|at| tokio::time::Instant::now() < at),
            };
            if still_good {
                return Ok(Lease {
                    access: current.access.clone(),
                    generation: current.generation,
                });
            }
        }
        let generation = guard.as_ref().map_or(1, |c| c.generation + 1);
        let mut refresh = guard.as_ref().and_then(|c| c.refresh.clone());
        let next = match &self.inner.tokens.credentials {
            Credentials::None => return Err(Error::NoCredentials),
            Credentials::Source(source) => {
                let sourced = source.token().await?;
                Current {
                    access: sourced.token,
                    refresh: None,
                    renew_at: sourced.expires_in.map(|lifetime| {
                        crate::auth::renew_at(tokio::time::Instant::now(), lifetime)
                    }),
                    generation,
                }
            }
            Credentials::Session { api_key } => {
                let tokens = self.renew_session(&mut refresh, api_key.as_ref()).await;
                match tokens {
                    Ok(tokens) => TokenCache::session_tokens(&tokens, generation),
                    Err(error) => {
                        // `refresh` is gone if the server refused it: it is spent, and is
                        // never presented again.
                        if let Some(current) = guard.as_mut() {
                            current.refresh = refresh;
                        }
                        return Err(error);
                    }
                }
            }
        };
        let lease = Lease {
            access: next.access.clone(),
            generation: next.generation,
        };
        *guard = Some(next);
        Ok(lease)
    }

    /// Refresh when there is a refresh token; exchange the API key when there is none, or when
    /// the refresh token is refused (401: revoked, expired, or reused).
    /// A refresh token the server refuses is taken out of `refresh`. One whose answer was
    /// lost (a transport error) stays: the server may or may not have retired it, and trying
    /// it again is the only way to tell.
    async fn renew_session(
        &self,
        refresh: &mut Option<String>,
        api_key: Option<&ApiKey>,
    ) -> Result<Tokens, Error> {
        if let Some(token) = refresh.as_deref() {
            match self.refresh_tokens(token).await {
                Ok(tokens) => return Ok(tokens),
                Err(error) if error.is_unauthenticated() => {
                    *refresh = None;
                    if api_key.is_none() {
                        return Err(error);
                    }
                }
                Err(error) => return Err(error),
            }
        }
        match api_key {
            Some(key) => self.exchange_api_key(&key.key, key.scopes.clone()).await,
            None => Err(Error::NoCredentials),
        }
    }

    /// Sends a request built by `build` without credentials.
    async fn execute_public<F>(&self, build: F) -> Result<Response, Error>
    where
        F: Fn(&reqwest::Client, &str) -> Result<Option<RequestBuilder>, Error>,
    {
        let request = build(&self.inner.http, &self.inner.base)?
            .ok_or_else(|| Error::Io(std::io::Error::other("the request body was already sent")))?;
        checked(request.send().await?).await
    }

    /// Sends a request built by `build` — with the client's access token unless `auth` is
    /// [`Auth::Public`] — and, if the server refuses the token (401 other than `invalid_code`
    /// or `invalid_credentials`), renews it and sends the request once more. `build` is called once per attempt; it answers `None` when the
    /// request cannot be sent twice (a streamed body), and then the 401 is the answer.
    pub(crate) async fn execute<F>(&self, auth: Auth, build: F) -> Result<Response, Error>
    where
        F: Fn(&reqwest::Client, &str) -> Result<Option<RequestBuilder>, Error>,
    {
        if auth == Auth::Public {
            return self.execute_public(build).await;
        }
        let http = &self.inner.http;
        let base = &self.inner.base;
        let first = build(http, base)?
            .ok_or_else(|| Error::Io(std::io::Error::other("the request body was already sent")))?;
        let lease = self.lease().await?;
        let response = first.bearer_auth(&lease.access).send().await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return checked(response).await;
        }
        let refused = error::from_response(response).await;
        if !refused.refuses_the_token() {
            // A wrong code or password in the body: a new token would not change the answer,
            // and sending it again would count one more failed attempt against the user.
            return Err(refused);
        }
        let Some(again) = build(http, base)? else {
            return Err(refused);
        };
        let renewed = Box::pin(self.renew(Some(lease.generation))).await?;
        checked(again.bearer_auth(&renewed.access).send().await?).await
    }

    /// A JSON call: `query` as the query string, `body` as the JSON body; the answer decoded.
    pub(crate) async fn call<Q, B, T>(
        &self,
        auth: Auth,
        endpoint: &Endpoint,
        args: &[&(dyn std::fmt::Display + Sync)],
        query: Option<&Q>,
        body: Option<&B>,
    ) -> Result<T, Error>
    where
        Q: Serialize + ?Sized,
        B: Serialize + ?Sized,
        T: DeserializeOwned,
    {
        let response = self.send(auth, endpoint, args, query, body).await?;
        decode(response).await
    }

    /// A call answered by 204 No Content.
    pub(crate) async fn call_empty<B>(
        &self,
        endpoint: &Endpoint,
        args: &[&(dyn std::fmt::Display + Sync)],
        body: Option<&B>,
    ) -> Result<(), Error>
    where
        B: Serialize + ?Sized,
    {
        self.send(Auth::Bearer, endpoint, args, None::<&()>, body)
            .await?;
        Ok(())
    }

    async fn send<Q, B>(
        &self,
        auth: Auth,
        endpoint: &Endpoint,
        args: &[&(dyn std::fmt::Display + Sync)],
        query: Option<&Q>,
        body: Option<&B>,
    ) -> Result<Response, Error>
    where
        Q: Serialize + ?Sized,
        B: Serialize + ?Sized,
    {
        let path = endpoint.fill(args);
        // Serialised once; each attempt sends the same bytes.
        let body = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| Error::Encode(e.to_string()))?;
        self.execute(auth, |http, base| {
            let mut request = http.request(endpoint.method(), format!("{base}{path}"));
            if let Some(query) = query {
                request = request.query(query);
            }
            if let Some(body) = &body {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            Ok(Some(request))
        })
        .await
    }

    /// A JSON `POST` without credentials, answered with JSON. The renewal path uses only this,
    /// so it never waits on the token it is renewing.
    async fn post_public<B: Serialize, T: DeserializeOwned>(
        &self,
        endpoint: &Endpoint,
        body: &B,
    ) -> Result<T, Error> {
        let body = serde_json::to_vec(body).map_err(|e| Error::Encode(e.to_string()))?;
        let response = self
            .execute_public(|http, base| {
                Ok(Some(
                    http.request(endpoint.method(), format!("{base}{}", endpoint.path))
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(body.clone()),
                ))
            })
            .await?;
        decode(response).await
    }

    /// `POST /v1/auth`: exchanges an API key for tokens (access 14 days, refresh 15 days by
    /// default), starting a session that ends at most the refresh TTL later — refreshing does
    /// not extend it; exchange the key again then. A client made with
    /// [`Client::with_api_key`] does all this by itself.
    ///
    /// Without `scopes` the tokens carry all the key allows (within its owner's permissions).
    ///
    /// # Errors
    /// 401 for a wrong, deleted or orphaned key (or one disabled because its owner lost the
    /// developer role); 403 for scopes beyond the key's; 429 over the rate limit.
    pub async fn exchange_api_key(
        &self,
        api_key: &str,
        scopes: Option<Vec<String>>,
    ) -> Result<Tokens, Error> {
        #[derive(Serialize)]
        struct Exchange<'a> {
            api_key: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            scopes: Option<Vec<String>>,
        }
        self.post_public(&endpoints::EXCHANGE_API_KEY, &Exchange { api_key, scopes })
            .await
    }

    /// `POST /v1/auth/refresh`: new access **and** refresh tokens; the presented refresh token
    /// is retired (presenting it again revokes the whole session). The session keeps its end:
    /// `expires_in` and `refresh_expires_in` never reach past it. The client's own tokens are
    /// refreshed by itself; this is for tokens kept elsewhere.
    ///
    /// # Errors
    /// 401 for an unknown, expired, revoked or already used refresh token, and once the
    /// session has reached its end (sign in, or exchange the API key, again).
    pub async fn refresh_tokens(&self, refresh_token: &str) -> Result<Tokens, Error> {
        #[derive(Serialize)]
        struct Refresh<'a> {
            refresh_token: &'a str,
        }
        self.post_public(&endpoints::REFRESH, &Refresh { refresh_token })
            .await
    }

    /// `GET /v1/auth` with the refresh token in `Authorization: Bearer`: the same rotation as
    /// [`Client::refresh_tokens`], for callers that keep the token in a header.
    ///
    /// # Errors
    /// As [`Client::refresh_tokens`].
    pub async fn refresh_tokens_by_header(&self, refresh_token: &str) -> Result<Tokens, Error> {
        let endpoint = endpoints::REFRESH_BY_HEADER;
        let token = refresh_token.to_owned();
        let response = self
            .execute_public(|http, base| {
                Ok(Some(
                    http.request(endpoint.method(), format!("{base}{}", endpoint.path))
                        .bearer_auth(&token),
                ))
            })
            .await?;
        decode(response).await
    }

    /// `GET /v1/auth/token`: a short-lived access token (`expiry_mins` 1..=1440, default 60)
    /// for a frontend, without a refresh token. Meant for the integrator's backend, which keeps
    /// the API key; the frontend's client gets the token through a [`TokenSource`].
    ///
    /// # Errors
    /// 401 for a bad key; 400 for `expiry_mins` out of range; 429 over the rate limit.
    pub async fn short_lived_token(
        &self,
        api_key: &str,
        expiry_mins: Option<u32>,
    ) -> Result<crate::types::ShortLivedToken, Error> {
        let endpoint = endpoints::SHORT_LIVED_TOKEN;
        let key = api_key.to_owned();
        let response = self
            .execute_public(|http, base| {
                let mut request = http
                    .request(endpoint.method(), format!("{base}{}", endpoint.path))
                    .header("apiKey", &key);
                if let Some(minutes) = expiry_mins {
                    request = request.query(&[("expiryMins", minutes)]);
                }
                Ok(Some(request))
            })
            .await?;
        decode(response).await
    }
}

/// The response if it is a success, else its error.
async fn checked(response: Response) -> Result<Response, Error> {
    if response.status().is_success() {
        Ok(response)
    } else {
        Err(error::from_response(response).await)
    }
}

/// The body of a successful response, decoded.
pub(crate) async fn decode<T: DeserializeOwned>(response: Response) -> Result<T, Error> {
    let status = response.status();
    let bytes = response.bytes().await?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Decode {
        status,
        reason: e.to_string(),
    })
}

/// How long a source's token is valid, from `expires_in` seconds.
#[must_use]
pub(crate) fn seconds(expires_in: i64) -> Duration {
    Duration::from_secs(u64::try_from(expires_in).unwrap_or(0))
}
