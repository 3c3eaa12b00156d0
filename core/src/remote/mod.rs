//! HTTP client of a Scalekit-compatible environment: `authgate serve`, or Scalekit itself.
//!
//! [`RemoteClient`] implements [`AuthApi`](crate::AuthApi) over the REST/JSON surface (`/api/v1/…`, `/oauth/token`,
//! `/keys`), so the bindings can put it or an embedded
//! [`Authority`](crate::authority::Authority) behind one API.
//!
//! - **Authentication**: lazily, with the environment credentials (`skc_…` id and secret) at
//!   `{env_url}/oauth/token`, through the client-credentials [`TokenFetcher`] (cached token,
//!   refresh-ahead, single-flight). On a 401 that says the access token was refused, that token
//!   is dropped and the call retried once.
//! - **Deadline**: every call, token fetch and JWKS read ends within
//!   [`RemoteOptions::timeout`] (5 s by default), retries included, with [`Error::Timeout`]
//!   when the environment does not answer in time; [`RemoteClient::check`] proves the
//!   credentials at start-up.
//! - **Retries**: only idempotent calls (reads, validate, invalidate, update, delete), only on 503
//!   / unavailable, connection failures and timeouts, at most [`RemoteOptions::max_retries`] times
//!   with exponential backoff and jitter (a `Retry-After` of up to 5 s is honoured). A connection
//!   that could not be opened is retried for any call: nothing was sent.
//! - **Errors**: error bodies are mapped back to [`Error`] variants by
//!   [`wire::decode_response`](crate::wire::decode_response): authgate's own bodies exactly
//!   (from their structured details, never from message text), others from the gRPC `code`,
//!   then the HTTP status.
//! - **Transport safety**: `https` is required except for loopback hosts (or with
//!   [`RemoteOptions::dangerous_allow_insecure_http`]); redirects are never followed; response
//!   bodies are capped at 8 MiB; every request has a timeout.
//!
//! ```no_run
//! # async fn demo() -> authgate_core::Result<()> {
//! use authgate_core::remote::{RemoteClient, RemoteOptions};
//! use authgate_core::{AuthApi, Secret};
//!
//! let client = RemoteClient::new(
//!     "http://127.0.0.1:8080",
//!     "skc_123",
//!     Secret::new("the environment client secret"),
//!     RemoteOptions::default(),
//! )?;
//! let info = client.validate_token("agk_…").await?;
//! println!("key of {}", info.organization_id);
//! # Ok(()) }
//! ```
//!
//! Layout: `remote/mod.rs` holds the client and its options; `transport.rs` sends one call with
//! the retry rules above; `errors.rs` decides what an error answer means for a call (the body
//! itself is decoded by [`wire`](crate::wire)); `api.rs` is the `AuthApi` implementation, one
//! method per operation, with the envelopes of [`wire::envelope`](crate::wire::envelope).

mod api;
mod errors;
mod transport;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{self, HeaderMap, HeaderValue};
use url::Url;

use crate::error::{Error, Result};
use crate::model::Secret;
use crate::net::is_loopback;
use crate::oauth::{TokenFetcher, TokenFetcherConfig};

pub use errors::error_from_response;
/// The SDK name sent in `x-sdk-version` and `user-agent`.
pub const SDK_NAME: &str = "Authgate-Rust";

/// The `x-api-version` sent on every call (the Scalekit API version this client was written for).
pub const API_VERSION: &str = "20260513";

/// Options of a [`RemoteClient`]. Every field has a documented default.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RemoteOptions {
    /// The deadline of one call, everything included: the environment token fetch it may need,
    /// every attempt and the waits between them. A call that has not finished by then fails with
    /// [`Error::Timeout`] (`deadline_exceeded`). Each attempt gets an equal share of it (at
    /// least 1 s), so a server that accepts connections but never answers still leaves time for
    /// a retry. The same bound applies to [`AuthApi::jwks`](crate::AuthApi::jwks) and the token
    /// endpoint. Default 5 s.
    pub timeout: Duration,
    /// Time to open a connection (bounded by the attempt's share of `timeout`). Default 2 s.
    pub connect_timeout: Duration,
    /// Retries of an idempotent call on 503/unavailable, connection failure or timeout.
    /// Default 2 (so at most 3 attempts).
    pub max_retries: u32,
    /// First backoff delay; doubled on each retry (with ±50 % jitter), capped at 2 s.
    /// Default 100 ms.
    pub retry_backoff: Duration,
    /// `user-agent` header. Default `Authgate-Rust/<version> Rust (<os>; <arch>)`.
    pub user_agent: Option<String>,
    /// `x-sdk-version` header. Default `Authgate-Rust/<version>`. The bindings set their own.
    pub sdk_version: Option<String>,
    /// Allow plain `http://` to hosts other than loopback. Default `false`: the client secret
    /// and every API key would cross the network in clear text.
    pub dangerous_allow_insecure_http: bool,
}

impl Default for RemoteOptions {
    fn default() -> Self {
        RemoteOptions {
            timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
            max_retries: 2,
            retry_backoff: Duration::from_millis(100),
            user_agent: None,
            sdk_version: None,
            dangerous_allow_insecure_http: false,
        }
    }
}

/// A client of a Scalekit-compatible environment. Cheap to clone (shared connection pool and
/// token cache).
#[derive(Clone)]
pub struct RemoteClient {
    inner: Arc<Inner>,
}

struct Inner {
    base: Url,
    env_url: String,
    http: reqwest::Client,
    client_id: String,
    /// The environment access token: cached, refreshed ahead of expiry, single-flight.
    auth: TokenFetcher,
    options: RemoteOptions,
}

impl fmt::Debug for RemoteClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteClient")
            .field("env_url", &self.inner.env_url)
            .field("client_id", &self.inner.client_id)
            .finish_non_exhaustive()
    }
}

/// Parses and checks an environment URL (scheme, no credentials, query or fragment).
fn parse_env_url(env_url: &str, options: &RemoteOptions) -> Result<Url> {
    let trimmed = env_url.trim().trim_end_matches('/');
    let url = Url::parse(trimmed).map_err(|e| Error::invalid("env_url", format!("not a URL: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) || options.dangerous_allow_insecure_http => {}
        "http" => {
            return Err(Error::invalid(
                "env_url",
                "plain http is only allowed for loopback hosts (set dangerous_allow_insecure_http to override)",
            ));
        }
        other => return Err(Error::invalid("env_url", format!("unsupported scheme {other}"))),
    }
    if url.host().is_none() {
        return Err(Error::invalid("env_url", "missing host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::invalid("env_url", "must not contain credentials"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::invalid("env_url", "must not have a query or fragment"));
    }
    Ok(url)
}

impl RemoteClient {
    /// A client of the environment at `env_url`, authenticating with environment credentials.
    ///
    /// Nothing is sent until the first call (authentication is lazy). Fails only on a bad URL
    /// or client id.
    pub fn new(
        env_url: &str,
        client_id: impl Into<String>,
        client_secret: Secret,
        options: RemoteOptions,
    ) -> Result<Self> {
        let base = parse_env_url(env_url, &options)?;
        let client_id = client_id.into();
        if client_id.trim().is_empty() {
            return Err(Error::invalid("client_id", "required"));
        }
        if client_secret.expose().is_empty() {
            return Err(Error::invalid("client_secret", "required"));
        }
        let version = env!("CARGO_PKG_VERSION");
        let sdk_version = options
            .sdk_version
            .clone()
            .unwrap_or_else(|| format!("{SDK_NAME}/{version}"));
        let user_agent = options.user_agent.clone().unwrap_or_else(|| {
            format!(
                "{SDK_NAME}/{version} Rust ({}; {})",
                std::env::consts::OS,
                std::env::consts::ARCH
            )
        });
        let mut headers = HeaderMap::new();
        let header_value = |field: &str, v: &str| {
            HeaderValue::from_str(v).map_err(|_| Error::invalid(field, "not a valid header value"))
        };
        headers.insert("x-sdk-version", header_value("sdk_version", &sdk_version)?);
        headers.insert("x-api-version", HeaderValue::from_static(API_VERSION));
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        let http = reqwest::Client::builder()
            .user_agent(header_value("user_agent", &user_agent)?)
            .default_headers(headers)
            .connect_timeout(options.connect_timeout.min(options.timeout))
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .build()
            .map_err(|e| Error::Internal(format!("HTTP client: {e}")))?;
        let env_url = base.as_str().trim_end_matches('/').to_owned();
        let mut fetcher =
            TokenFetcherConfig::new(format!("{env_url}/oauth/token"), client_id.clone(), client_secret);
        fetcher.timeout = options.timeout;
        fetcher.dangerous_allow_insecure_http = options.dangerous_allow_insecure_http;
        let auth = TokenFetcher::new(fetcher)?;
        Ok(RemoteClient {
            inner: Arc::new(Inner {
                env_url,
                base,
                http,
                client_id,
                auth,
                options,
            }),
        })
    }

    /// Checks the environment credentials now: fetches an environment access token (or uses
    /// the one cached), within [`RemoteOptions::timeout`]. Meant for start-up, so that a wrong
    /// secret or an unreachable environment is reported once, clearly, rather than as a failure
    /// of the first request that needs the environment.
    ///
    /// Errors: refused credentials are [`Error::InvalidClient`] (`invalid_client`, HTTP 401); an
    /// unreachable environment [`Error::Unavailable`]; no answer in time [`Error::Timeout`].
    pub async fn check(&self) -> Result<()> {
        self.within_deadline(self.access_token()).await.map(drop)
    }

    /// The environment URL (no trailing slash).
    pub fn env_url(&self) -> &str {
        &self.inner.env_url
    }

    /// The environment client id this client authenticates with.
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    fn url(&self, path: &[&str]) -> Url {
        let mut url = self.inner.base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().extend(path);
        }
        url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_url_rules() {
        let o = RemoteOptions::default();
        assert!(parse_env_url("https://acme.scalekit.cloud/", &o).is_ok());
        assert!(parse_env_url("http://127.0.0.1:8080", &o).is_ok());
        assert!(parse_env_url("http://localhost:8080", &o).is_ok());
        assert!(parse_env_url("http://[::1]:8080", &o).is_ok());
        assert!(parse_env_url("http://auth.internal", &o).is_err());
        assert!(parse_env_url("ftp://x", &o).is_err());
        assert!(parse_env_url("https://u:p@x", &o).is_err());
        assert!(parse_env_url("https://x/?a=b", &o).is_err());
        let dangerous = RemoteOptions {
            dangerous_allow_insecure_http: true,
            ..RemoteOptions::default()
        };
        assert!(parse_env_url("http://auth.internal", &dangerous).is_ok());
    }

    #[test]
    fn urls_keep_prefix_and_escape_ids() {
        let c = RemoteClient::new(
            "https://example.com/env/",
            "skc_1",
            Secret::new("s"),
            RemoteOptions::default(),
        )
        .unwrap();
        assert_eq!(c.env_url(), "https://example.com/env");
        assert_eq!(
            c.url(&["api", "v1", "organizations", "a/b?c"]).as_str(),
            "https://example.com/env/api/v1/organizations/a%2Fb%3Fc"
        );
        assert_eq!(
            c.url(&["api", "v1", "tokens:validate"]).as_str(),
            "https://example.com/env/api/v1/tokens:validate"
        );
        assert!(!format!("{c:?}").contains("\"s\""));
    }
}
