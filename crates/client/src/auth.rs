//! Credentials: where the client's access tokens come from, and the one cached token every
//! clone of a [`Client`](crate::Client) shares.
//!
//! The cache is a `tokio::sync::RwLock` around the current token and a generation number.
//! Requests take the read lock just long enough to copy the token. A token that is due for
//! renewal (or that the server refused) is renewed under the write lock, and whoever gets the
//! write lock first checks the generation again: if another task renewed meanwhile, it uses
//! that token. So however many tasks find the token stale at once, exactly one renewal goes to
//! the server and the others wait for it.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::sync::RwLock;
use tokio::time::Instant;

use crate::error::Error;
use crate::types::Tokens;

/// A token handed to the client by a [`TokenSource`].
#[derive(Clone)]
pub struct SourcedToken {
    /// An access token (or a short-lived `st+jwt` from `GET /v1/auth/token`).
    pub token: String,
    /// How long it stays valid; the client asks the source again shortly before. `None`:
    /// until the server refuses it (401), then the source is asked again.
    pub expires_in: Option<Duration>,
}

impl SourcedToken {
    /// A token valid for `expires_in`.
    #[must_use]
    pub fn new(token: impl Into<String>, expires_in: Option<Duration>) -> Self {
        Self {
            token: token.into(),
            expires_in,
        }
    }
}

impl From<crate::types::ShortLivedToken> for SourcedToken {
    fn from(short: crate::types::ShortLivedToken) -> Self {
        Self {
            token: short.token,
            expires_in: Some(crate::client::seconds(short.expires_in)),
        }
    }
}

impl std::fmt::Debug for SourcedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourcedToken")
            .field("token", &"..")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// The future a [`TokenSource`] returns.
pub type TokenFuture<'a> = Pin<Box<dyn Future<Output = Result<SourcedToken, Error>> + Send + 'a>>;

/// Somewhere fresh access tokens come from — the Nudge SDK's `registerRefreshToken`: typically
/// the integrator's own backend, which holds the API key and hands out short-lived tokens
/// (`GET /v1/auth/token`), so that the API key never reaches the frontend.
///
/// The client calls it for its first token, shortly before a token's `expires_in` runs out,
/// and once when the server refuses a token (401). Calls never overlap: while one is in
/// flight, every request waits for its token.
///
/// Any `Fn() -> impl Future<Output = Result<SourcedToken, Error>>` closure is a source:
///
/// ```no_run
/// # async fn example() -> Result<(), nudgescribe_client::Error> {
/// use std::time::Duration;
/// use nudgescribe_client::{Client, Error, SourcedToken};
///
/// let client = Client::with_token_source("https://api.example.com", || async {
///     // Ask your backend, which calls GET /v1/auth/token with its API key.
///     let token: String = fetch_from_my_backend().await.map_err(Error::TokenSource)?;
///     Ok(SourcedToken::new(token, Some(Duration::from_secs(3600))))
/// })?;
/// let me = client.me().await?;
/// # Ok(()) }
/// # async fn fetch_from_my_backend() -> Result<String, String> { Ok(String::new()) }
/// ```
pub trait TokenSource: Send + Sync + 'static {
    /// A fresh token.
    fn token(&self) -> TokenFuture<'_>;
}

impl<F, Fut> TokenSource for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<SourcedToken, Error>> + Send + 'static,
{
    fn token(&self) -> TokenFuture<'_> {
        Box::pin(self())
    }
}

/// How the client gets its tokens.
pub(crate) enum Credentials {
    /// No credentials: only the public endpoints work.
    None,
    /// A session from a key exchange or a login: renewed with its refresh token, and — when
    /// the refresh token is refused and an API key is known — by exchanging the key again.
    Session { api_key: Option<ApiKey> },
    /// Tokens from the integrator's own source.
    Source(Box<dyn TokenSource>),
}

/// An API key and the scopes to exchange it for.
pub(crate) struct ApiKey {
    pub key: String,
    pub scopes: Option<Vec<String>>,
}

/// The token in use.
pub(crate) struct Current {
    pub access: String,
    /// Only for sessions. Always the newest: the server retires each one as it is used.
    pub refresh: Option<String>,
    /// When to renew ahead of expiry; `None`: only when refused.
    pub renew_at: Option<Instant>,
    /// Bumped at every renewal, so that a task holding an older token can tell.
    pub generation: u64,
}

impl Current {
    fn is_fresh(&self, now: Instant) -> bool {
        self.renew_at.is_none_or(|at| now < at)
    }
}

/// The shared token state.
pub(crate) struct TokenCache {
    pub credentials: Credentials,
    pub current: RwLock<Option<Current>>,
}

/// A token for one request, and the generation it belongs to.
pub(crate) struct Lease {
    pub access: String,
    pub generation: u64,
}

/// Renew a token this long before it expires: a tenth of its lifetime, at most a minute, so a
/// request never leaves with a token that runs out on the way.
pub(crate) fn renew_at(now: Instant, lifetime: Duration) -> Instant {
    let margin = (lifetime / 10).min(Duration::from_secs(60));
    now + lifetime.saturating_sub(margin)
}

impl TokenCache {
    pub(crate) fn new(credentials: Credentials) -> Self {
        Self {
            credentials,
            current: RwLock::new(None),
        }
    }

    /// Sets the first token of a client that was just built (no one else holds the lock yet).
    pub(crate) fn install(&self, current: Current) {
        if let Ok(mut guard) = self.current.try_write() {
            *guard = Some(current);
        }
    }

    /// Installs tokens from an exchange, refresh or login.
    #[allow(
        clippy::disallowed_methods,
        reason = "the SDK renews tokens by real time"
    )]
    pub(crate) fn session_tokens(tokens: &Tokens, generation: u64) -> Current {
        let lifetime = Duration::from_secs(u64::try_from(tokens.expires_in).unwrap_or(0));
        Current {
            access: tokens.access_token.clone(),
            refresh: Some(tokens.refresh_token.clone()),
            renew_at: Some(renew_at(Instant::now(), lifetime)),
            generation,
        }
    }

    /// The current token if it is fresh, without waiting for a renewal.
    #[allow(
        clippy::disallowed_methods,
        reason = "the SDK renews tokens by real time"
    )]
    pub(crate) async fn fresh(&self) -> Option<Lease> {
        let guard = self.current.read().await;
        guard
            .as_ref()
            .filter(|c| c.is_fresh(Instant::now()))
            .map(|c| Lease {
                access: c.access.clone(),
                generation: c.generation,
            })
    }
}
