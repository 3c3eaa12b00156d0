//! Client-credentials token fetcher (RFC 6749 §4.4) with caching, refresh-ahead and
//! single-flight.
//!
//! [`TokenFetcher`] obtains an access token from a token endpoint with a client id and secret,
//! hands the same token to every caller while it is fresh, and replaces it ahead of expiry:
//!
//! - **Refresh-ahead**: once about 80 % of the token's lifetime has passed (±5 % random jitter,
//!   so a fleet of processes does not refresh in lockstep), the next [`get_token`] starts a
//!   refresh in the background and still returns the current token. A token is never handed out
//!   when less than [`expiry_margin`](TokenFetcherConfig::expiry_margin) of its life is left.
//! - **Single-flight**: at most one request is in flight; every caller waiting for a token
//!   shares its outcome, success or failure.
//! - **Bounded backoff**: after a failure, no new request is sent for
//!   [`retry_backoff`](TokenFetcherConfig::retry_backoff), doubling per consecutive failure up to
//!   [`max_backoff`](TokenFetcherConfig::max_backoff); callers without a usable token get the
//!   failure at once during that time.
//! - **Forced refresh**: after an API answered 401, [`invalidate_token`] (or [`invalidate`])
//!   drops the token so the next call fetches a new one.
//! - **Errors**: RFC 6749 §5.2 bodies become typed errors — `invalid_client` →
//!   [`Error::InvalidClient`], `invalid_scope` → [`Error::InvalidScope`], anything else →
//!   [`Error::OAuth`] with the server's `error`, `error_description` and status. Network
//!   failures are [`Error::Unavailable`], timeouts [`Error::Timeout`].
//! - **Transport**: `https` (plain `http` only to loopback hosts), no redirects, timeout, body
//!   cap. The client secret and tokens never appear in `Debug` output, logs or errors.
//!
//! ```no_run
//! use authgate_core::oauth::{TokenFetcher, TokenFetcherConfig};
//!
//! # async fn run() -> authgate_core::Result<()> {
//! let mut config = TokenFetcherConfig::new("https://auth.example.com/oauth/token", "m2morg_1", "secret");
//! config.scopes = vec!["orders:read".into()];
//! let fetcher = TokenFetcher::new(config)?;
//! let token = fetcher.get_token().await?;
//! let header = format!("Bearer {}", token.access_token.expose());
//! # let _ = header; Ok(()) }
//! ```
//!
//! [`get_token`]: TokenFetcher::get_token
//! [`invalidate_token`]: TokenFetcher::invalidate_token
//! [`invalidate`]: TokenFetcher::invalidate

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::{ACCEPT, AUTHORIZATION};
use serde::Deserialize;
use serde_json::Value;
use tokio::runtime::Handle;
use url::Url;

use crate::error::{Error, Result};
use crate::flight::{SingleFlight, lock};
use crate::model::Secret;
use crate::net::{self as http, Failure, checked_url};

/// How the client authenticates to the token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ClientAuthMethod {
    /// `client_id` and `client_secret` in the form body (what Scalekit's SDKs do). The default.
    #[default]
    ClientSecretPost,
    /// HTTP Basic with the form-urlencoded id and secret.
    ClientSecretBasic,
}

/// Configuration of a [`TokenFetcher`]. Built with [`TokenFetcherConfig::new`] (all defaults),
/// then adjusted field by field.
#[derive(Clone)]
#[non_exhaustive]
pub struct TokenFetcherConfig {
    /// The token endpoint (`https`, or `http` to a loopback host).
    pub token_url: String,
    /// The client id.
    pub client_id: String,
    /// The client secret.
    pub client_secret: Secret,
    /// How the secret is sent. Default: [`ClientAuthMethod::ClientSecretPost`].
    pub auth_method: ClientAuthMethod,
    /// Scopes to request (sent space-separated as `scope`; omitted when empty, so the server
    /// grants the client's default scopes). Default: none.
    pub scopes: Vec<String>,
    /// Extra form parameters, e.g. `audience` or `resource` (RFC 8707). Default: none.
    pub extra_params: Vec<(String, String)>,
    /// Fraction of the lifetime after which a refresh starts. Default: 0.8.
    pub refresh_ratio: f64,
    /// Random spread around `refresh_ratio` (±). Default: 0.05.
    pub refresh_jitter: f64,
    /// A token with less than this left is not handed out (capped at half its lifetime).
    /// Default: 10 seconds.
    pub expiry_margin: Duration,
    /// Lifetime assumed when the response has no `expires_in`. Default: 5 minutes.
    pub default_lifetime: Duration,
    /// Timeout of one token request. Default: 10 seconds.
    pub timeout: Duration,
    /// Delay after a first failure before the next request; doubles per consecutive failure.
    /// Default: 1 second.
    pub retry_backoff: Duration,
    /// Cap of the backoff. Default: 30 seconds.
    pub max_backoff: Duration,
    /// Largest accepted response body. Default: 64 KiB.
    pub max_body_bytes: usize,
    /// Runtime for background refreshes and [`TokenFetcher::get_token_blocking`]. Default:
    /// `None` (the async methods use the runtime they run on).
    pub runtime: Option<Handle>,
    /// Allows plain `http` to non-loopback hosts. **Dangerous**: the secret travels in clear.
    /// Default: `false`.
    pub dangerous_allow_insecure_http: bool,
    /// **For tests only**: the clock the refresh point, the expiry margin and the retry backoff
    /// are measured with, so that a test advances it instead of sleeping. `None` (the default):
    /// the system's monotonic clock. The request timeout always runs on real time.
    pub dangerous_clock: Option<crate::jwt::ManualClock>,
}

impl fmt::Debug for TokenFetcherConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenFetcherConfig")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("auth_method", &self.auth_method)
            .field("scopes", &self.scopes)
            .field("refresh_ratio", &self.refresh_ratio)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl TokenFetcherConfig {
    /// A configuration with every default.
    pub fn new(
        token_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<Secret>,
    ) -> TokenFetcherConfig {
        TokenFetcherConfig {
            token_url: token_url.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            auth_method: ClientAuthMethod::ClientSecretPost,
            scopes: Vec::new(),
            extra_params: Vec::new(),
            refresh_ratio: 0.8,
            refresh_jitter: 0.05,
            expiry_margin: Duration::from_secs(10),
            default_lifetime: Duration::from_secs(300),
            timeout: Duration::from_secs(10),
            retry_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            max_body_bytes: 64 * 1024,
            runtime: None,
            dangerous_allow_insecure_http: false,
            dangerous_clock: None,
        }
    }
}

/// An access token obtained from the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    /// The token itself. Send it as `Authorization: Bearer …`.
    pub access_token: Secret,
    /// The token type (`Bearer`).
    pub token_type: String,
    /// When it expires (request time + `expires_in`).
    pub expires_at: SystemTime,
    /// The lifetime the server announced (`expires_in`, or the configured default).
    pub lifetime: Duration,
    /// The granted scope, space-separated (RFC 6749 §5.1: the requested scope when absent).
    pub scope: String,
}

impl AccessToken {
    /// The granted scopes.
    pub fn scopes(&self) -> Vec<&str> {
        self.scope.split_ascii_whitespace().collect()
    }

    /// Time left until expiry (zero once expired).
    pub fn expires_in(&self) -> Duration {
        self.expires_at
            .duration_since(SystemTime::now())
            .unwrap_or_default()
    }
}

/// A point-in-time view of a [`TokenFetcher`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenFetcherStatus {
    /// Token requests sent so far.
    pub requests: u64,
    /// Requests that failed.
    pub failures: u64,
    /// Failures since the last success.
    pub consecutive_failures: u32,
    /// A token is cached and may be handed out.
    pub has_token: bool,
    /// A request is in flight.
    pub fetching: bool,
    /// The most recent failure, even if a later request succeeded.
    pub last_error: Option<String>,
}

struct Cached {
    token: AccessToken,
    refresh_at: Instant,
    usable_until: Instant,
}

#[derive(Default)]
struct State {
    cached: Option<Cached>,
    failure: Option<(Instant, Error)>,
    consecutive_failures: u32,
    requests: u64,
    failures: u64,
    last_error: Option<String>,
}

struct Inner {
    config: TokenFetcherConfig,
    url: Url,
    state: Mutex<State>,
    flight: SingleFlight<AccessToken>,
}

/// Fetches and caches client-credentials access tokens; see the [module docs](self).
/// Cheap to clone (shared).
#[derive(Clone)]
pub struct TokenFetcher(Arc<Inner>);

impl fmt::Debug for TokenFetcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenFetcher")
            .field("token_url", &self.0.config.token_url)
            .field("client_id", &self.0.config.client_id)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    expires_in: Option<Value>,
    #[serde(default)]
    scope: Option<String>,
}

#[derive(Deserialize)]
struct ErrorResponse {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// A uniformly distributed number in `[0, 1)` (jitter; not security-relevant).
pub(crate) fn random_unit() -> f64 {
    let mut bytes = [0u8; 8];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

enum Next {
    Token(AccessToken),
    Wait(crate::flight::Flight<AccessToken>),
    Fail(Error),
}

impl TokenFetcher {
    /// Builds a fetcher. Fails with [`Error::InvalidArgument`] on a bad configuration. No
    /// request is sent until the first [`get_token`](Self::get_token).
    pub fn new(config: TokenFetcherConfig) -> Result<TokenFetcher> {
        let url = checked_url(
            &config.token_url,
            "token_url",
            config.dangerous_allow_insecure_http,
        )?;
        if config.client_id.is_empty() {
            return Err(Error::invalid("client_id", "must not be empty"));
        }
        if config.client_secret.expose().is_empty() {
            return Err(Error::invalid("client_secret", "must not be empty"));
        }
        if !(0.0..=1.0).contains(&config.refresh_ratio) || !(0.0..=0.5).contains(&config.refresh_jitter) {
            return Err(Error::invalid(
                "refresh_ratio",
                "refresh_ratio must be within [0, 1] and refresh_jitter within [0, 0.5]",
            ));
        }
        const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);
        if config.timeout.is_zero() || config.timeout > YEAR {
            return Err(Error::invalid(
                "timeout",
                "must be greater than zero and at most a year",
            ));
        }
        if [
            config.expiry_margin,
            config.default_lifetime,
            config.retry_backoff,
            config.max_backoff,
        ]
        .iter()
        .any(|d| *d > YEAR)
        {
            return Err(Error::invalid(
                "token_fetcher",
                "durations must not exceed one year",
            ));
        }
        if config.default_lifetime.is_zero() {
            return Err(Error::invalid("default_lifetime", "must be greater than zero"));
        }
        if let Some(bad) = config
            .scopes
            .iter()
            .find(|s| s.is_empty() || s.contains(char::is_whitespace))
        {
            return Err(Error::invalid("scopes", format!("invalid scope {bad:?}")));
        }
        Ok(TokenFetcher(Arc::new(Inner {
            config,
            url,
            state: Mutex::new(State::default()),
            flight: SingleFlight::default(),
        })))
    }

    /// A valid access token: the cached one while fresh, otherwise a new one (one request
    /// shared by all concurrent callers).
    pub async fn get_token(&self) -> Result<AccessToken> {
        let handle = self.0.config.runtime.clone().unwrap_or_else(Handle::current);
        match self.next(&handle) {
            Next::Token(token) => Ok(token),
            Next::Fail(e) => Err(e),
            Next::Wait(flight) => flight.await,
        }
    }

    /// [`get_token`](Self::get_token) for synchronous callers: returns the cached token without
    /// any runtime, otherwise blocks on [`TokenFetcherConfig::runtime`]. Must not be called from
    /// inside an async runtime.
    pub fn get_token_blocking(&self) -> Result<AccessToken> {
        let bg = self.0.config.runtime.as_ref();
        if let Some(token) = self.usable_cached(bg) {
            return Ok(token);
        }
        if Handle::try_current().is_ok() {
            return Err(Error::Internal(
                "get_token_blocking called inside an async runtime; use get_token().await".into(),
            ));
        }
        let handle = bg.ok_or_else(|| {
            Error::Internal("get_token_blocking needs TokenFetcherConfig::runtime to fetch a token".into())
        })?;
        handle.block_on(self.get_token())
    }

    /// The monotonic time the fetcher measures its delays with.
    fn now(&self) -> Instant {
        crate::jwt::clock_monotonic_now(self.0.config.dangerous_clock.as_ref())
    }

    /// The cached token if it may still be handed out, without any I/O.
    pub fn cached(&self) -> Option<AccessToken> {
        let now = self.now();
        let state = lock(&self.0.state);
        state
            .cached
            .as_ref()
            .filter(|c| now < c.usable_until)
            .map(|c| c.token.clone())
    }

    /// Drops the cached token so that the next call fetches a new one (e.g. after a 401).
    pub fn invalidate(&self) {
        lock(&self.0.state).cached = None;
    }

    /// Drops the cached token only if it is `access_token` — the one an API just rejected — so
    /// that many concurrent 401s cause one refresh, not one each.
    pub fn invalidate_token(&self, access_token: &str) {
        let mut state = lock(&self.0.state);
        if state
            .cached
            .as_ref()
            .is_some_and(|c| c.token.access_token.expose() == access_token)
        {
            state.cached = None;
        }
    }

    /// Counters and state, for metrics and tests.
    pub fn status(&self) -> TokenFetcherStatus {
        let now = self.now();
        let state = lock(&self.0.state);
        TokenFetcherStatus {
            requests: state.requests,
            failures: state.failures,
            consecutive_failures: state.consecutive_failures,
            has_token: state.cached.as_ref().is_some_and(|c| now < c.usable_until),
            fetching: self.0.flight.is_running(),
            last_error: state.last_error.clone(),
        }
    }

    fn backoff_elapsed(&self, state: &State, now: Instant) -> bool {
        let Some((at, _)) = &state.failure else {
            return true;
        };
        let doublings = state.consecutive_failures.saturating_sub(1).min(20);
        let delay = self
            .0
            .config
            .retry_backoff
            .saturating_mul(1u32 << doublings)
            .min(self.0.config.max_backoff);
        now >= *at + delay
    }

    fn usable_cached(&self, bg: Option<&Handle>) -> Option<AccessToken> {
        let now = self.now();
        let state = lock(&self.0.state);
        let cached = state.cached.as_ref().filter(|c| now < c.usable_until)?;
        let token = cached.token.clone();
        let refresh =
            now >= cached.refresh_at && !self.0.flight.is_running() && self.backoff_elapsed(&state, now);
        drop(state);
        if refresh && let Some(handle) = bg {
            drop(self.start(handle)); // runs on its own
        }
        Some(token)
    }

    fn next(&self, handle: &Handle) -> Next {
        if let Some(token) = self.usable_cached(Some(handle)) {
            return Next::Token(token);
        }
        {
            let state = lock(&self.0.state);
            if !self.0.flight.is_running()
                && !self.backoff_elapsed(&state, self.now())
                && let Some((_, e)) = &state.failure
            {
                return Next::Fail(e.clone());
            }
        }
        Next::Wait(self.start(handle))
    }

    fn start(&self, handle: &Handle) -> crate::flight::Flight<AccessToken> {
        let (flight, _) = self.0.flight.join_or_start(handle, || {
            lock(&self.0.state).requests += 1;
            let fetcher = self.clone();
            async move { fetcher.request().await }
        });
        flight
    }

    async fn request(&self) -> Result<AccessToken> {
        let sent = self.now();
        let sent_wall = SystemTime::now();
        match self.send().await {
            Ok((token_response, status)) => match self.accept(token_response, status, sent, sent_wall) {
                Ok(token) => Ok(token),
                Err(e) => self.fail(e),
            },
            Err(e) => self.fail(e),
        }
    }

    fn fail(&self, error: Error) -> Result<AccessToken> {
        tracing::warn!(token_url = %self.0.config.token_url, error = %error, "token request failed");
        let mut state = lock(&self.0.state);
        state.failure = Some((self.now(), error.clone()));
        state.consecutive_failures = state.consecutive_failures.saturating_add(1);
        state.failures += 1;
        state.last_error = Some(error.to_string());
        Err(error)
    }

    fn accept(
        &self,
        response: TokenResponse,
        status: u16,
        sent: Instant,
        sent_wall: SystemTime,
    ) -> Result<AccessToken> {
        let config = &self.0.config;
        let invalid = |message: String| Error::Server {
            http_status: status,
            error_code: "invalid_token_response".into(),
            message,
        };
        if response.access_token.is_empty() {
            return Err(invalid("empty access_token".into()));
        }
        let token_type = response.token_type.unwrap_or_else(|| "Bearer".to_owned());
        if !token_type.eq_ignore_ascii_case("bearer") {
            return Err(invalid(format!("unsupported token_type {token_type:?}")));
        }
        let lifetime = match response.expires_in {
            None | Some(Value::Null) => config.default_lifetime,
            Some(Value::Number(n)) => n
                .as_f64()
                .filter(|v| v.is_finite())
                .map(|v| Duration::from_secs_f64(v.clamp(1.0, 10.0 * 365.0 * 86400.0)))
                .ok_or_else(|| invalid("expires_in is not a valid number".into()))?,
            Some(Value::String(s)) => s
                .trim()
                .parse::<u64>()
                .map(|v| Duration::from_secs(v.clamp(1, 10 * 365 * 86400)))
                .map_err(|_| invalid("expires_in is not a number".into()))?,
            Some(_) => return Err(invalid("expires_in is not a number".into())),
        };
        let ratio =
            (config.refresh_ratio + config.refresh_jitter * (2.0 * random_unit() - 1.0)).clamp(0.0, 1.0);
        let margin = config.expiry_margin.min(lifetime / 2);
        let token = AccessToken {
            access_token: Secret::new(response.access_token),
            token_type,
            expires_at: sent_wall + lifetime,
            lifetime,
            scope: response.scope.unwrap_or_else(|| config.scopes.join(" ")),
        };
        let mut state = lock(&self.0.state);
        state.cached = Some(Cached {
            token: token.clone(),
            refresh_at: sent + lifetime.mul_f64(ratio),
            usable_until: sent + lifetime - margin,
        });
        state.failure = None;
        state.consecutive_failures = 0;
        Ok(token)
    }

    async fn send(&self) -> Result<(TokenResponse, u16)> {
        let config = &self.0.config;
        let mut form: Vec<(&str, &str)> = vec![("grant_type", "client_credentials")];
        let scope = config.scopes.join(" ");
        if !scope.is_empty() {
            form.push(("scope", &scope));
        }
        for (name, value) in &config.extra_params {
            form.push((name, value));
        }
        let mut request = http::client()
            .post(self.0.url.clone())
            .timeout(config.timeout)
            .header(ACCEPT, "application/json");
        match config.auth_method {
            ClientAuthMethod::ClientSecretPost => {
                form.push(("client_id", &config.client_id));
                form.push(("client_secret", config.client_secret.expose()));
            }
            ClientAuthMethod::ClientSecretBasic => {
                let encode = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
                let credentials = format!(
                    "{}:{}",
                    encode(&config.client_id),
                    encode(config.client_secret.expose())
                );
                let mut value = reqwest::header::HeaderValue::from_str(&format!(
                    "Basic {}",
                    STANDARD.encode(credentials)
                ))
                .map_err(|_| Error::invalid("client_secret", "cannot be sent in a header"))?;
                value.set_sensitive(true);
                request = request.header(AUTHORIZATION, value);
            }
        }
        let request = request.form(&form);
        let url = &config.token_url;
        let response = http::send(request, config.max_body_bytes)
            .await
            .map_err(|f| match f {
                Failure::Timeout => Error::Timeout(format!(
                    "token request to {url} timed out after {:?}",
                    config.timeout
                )),
                Failure::Network(e) => Error::Unavailable(format!("token request to {url} failed: {e}")),
                Failure::TooLarge => Error::Server {
                    http_status: 0,
                    error_code: "response_too_large".into(),
                    message: format!("token endpoint response exceeds {} bytes", config.max_body_bytes),
                },
            })?;
        let status = response.status;
        if (200..300).contains(&status) {
            let parsed: TokenResponse =
                serde_json::from_slice(&response.body).map_err(|e| Error::Server {
                    http_status: status,
                    error_code: "invalid_token_response".into(),
                    message: format!("token endpoint answered with an unreadable body: {e}"),
                })?;
            return Ok((parsed, status));
        }
        if let Ok(oauth) = serde_json::from_slice::<ErrorResponse>(&response.body) {
            return Err(match oauth.error.as_str() {
                "invalid_client" => Error::InvalidClient,
                "invalid_scope" => Error::InvalidScope(oauth.error_description.unwrap_or(oauth.error)),
                _ => Error::OAuth {
                    error: oauth.error,
                    description: oauth.error_description,
                    status,
                },
            });
        }
        Err(match status {
            300..=399 => Error::Server {
                http_status: status,
                error_code: "redirect_refused".into(),
                message: format!("token endpoint {url} answered with a redirect, which is not followed"),
            },
            429 | 500..=599 => Error::Unavailable(format!("token endpoint {url} answered HTTP {status}")),
            _ => Error::Server {
                http_status: status,
                error_code: "token_endpoint_error".into(),
                message: format!("token endpoint {url} answered HTTP {status} without an OAuth error"),
            },
        })
    }
}
