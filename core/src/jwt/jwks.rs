//! The JWKS cache: where verification keys come from and how long they are trusted.
//!
//! A [`JwksCache`] holds the whole key set of one source — a JWKS URL, OIDC discovery from an
//! issuer, a local [`KeyProvider`] (for example the embedded authority's own keys) or a static
//! set — parsed once. Its behaviour, with every default in [`JwksConfig`]:
//!
//! - **TTL** from the response's `Cache-Control: max-age`, clamped to
//!   [`min_ttl`, `max_ttl`](JwksConfig::min_ttl) (`no-store`/`no-cache` count as 0, so
//!   `min_ttl`); [`default_ttl`](JwksConfig::default_ttl) when absent and for providers.
//!   Revalidation uses `If-None-Match` when the server sent an `ETag`.
//! - **Refresh-ahead**: once 80 % of the TTL has passed, the next validation (even one answered
//!   from the verified-token cache) starts a refresh in the background (on the caller's tokio
//!   runtime, or the validator's configured one) and keeps using the current keys. If the TTL
//!   ends with no refresh attempted, the next validation waits for one fetch.
//! - **Unknown `kid`** → one refetch, then a [`cooldown`](JwksConfig::cooldown): no kid-driven
//!   fetch starts less than `cooldown` after the previous fetch began, and a `kid` that a fetch
//!   confirmed absent is rejected without any fetch for [`negative_ttl`](JwksConfig::negative_ttl)
//!   (at most 1024 such kids are remembered; kids over 256 bytes never cause a fetch). A flood
//!   of random kids therefore costs at most one fetch per cooldown.
//! - **Unknown `kid` during an outage**: a `kid` missing from the current set is a 401
//!   (`unknown_kid`) only when the source was reached: the refetch it caused succeeded, a fetch
//!   confirmed it absent (negative cache), or the cooldown after a *successful* fetch is running.
//!   When the refetch fails (server down, 5xx, timeout, invalid document) or the cooldown/backoff
//!   follows a *failed* fetch, nothing is known about the `kid`: validation fails with
//!   [`Error::KeysUnavailable`] (503) — tokens of cached keys keep validating meanwhile.
//! - **Single-flight**: one fetch at a time per cache; everyone waiting shares its outcome,
//!   success *and* failure. After a failure, retries back off exponentially from
//!   [`retry_backoff`](JwksConfig::retry_backoff) up to `cooldown`.
//! - **Stale-if-error**: when refreshing fails, the last good set stays in use (without making
//!   callers wait; retries run in the background) until `TTL + stale_if_error` after it was
//!   fetched; after that validation fails with [`Error::KeysUnavailable`] (HTTP 503), never with
//!   a 401-class error. The verified-token cache is not used for stale keys.
//! - **Transport**: `https` only (plain `http` to loopback hosts — `localhost`, `127.0.0.0/8`,
//!   `::1` — is allowed), redirects refused, [`fetch_timeout`](JwksConfig::fetch_timeout) for the
//!   whole exchange, body capped at [`max_body_bytes`](JwksConfig::max_body_bytes), at most
//!   [`max_keys`](JwksConfig::max_keys) keys. `jku`/`x5u` headers of tokens are never followed:
//!   keys come from configuration only.
//! - **Observable**: [`JwksCache::status`] reports fetch times, freshness, cooldown, counts and
//!   the last error.
//!
//! Caches for URLs and discovery are kept in a **process-wide registry** keyed by
//! (issuer, URL, configuration), so building a validator per request cannot multiply fetches.
//!
//! (One file on purpose, a little over 900 lines with its unit tests: the fetch, refresh,
//! cooldown and stale-window rules above share one state machine and read best together.)

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use reqwest::header::{ACCEPT, ETAG, IF_NONE_MATCH};
use serde_json::Value;
use tokio::runtime::Handle;
use url::Url;

use super::keyset::{InvalidKeySet, KeySet};
use super::token::MAX_KID_LEN;
use crate::api::AuthApi;
use crate::error::{Error, Result};
use crate::flight::{SingleFlight, lock};
use crate::model::JwkSet;
use crate::net::{self as http, checked_url};

/// Fraction of the TTL after which a background refresh starts.
const REFRESH_AHEAD: f64 = 0.8;
/// How many unknown kids are remembered at most.
const MAX_NEGATIVE_KIDS: usize = 1024;
/// How long a discovered `jwks_uri` is used before discovery runs again (it also runs again
/// after any failed JWKS fetch).
const DISCOVERY_TTL: Duration = Duration::from_secs(24 * 3600);

/// Tuning of a [`JwksCache`]. Every field has a documented default ([`JwksConfig::default`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct JwksConfig {
    /// TTL when the response has no `Cache-Control: max-age`, and for key providers.
    /// Default: 5 minutes.
    pub default_ttl: Duration,
    /// Lower bound of a `max-age` TTL. Default: 1 minute.
    pub min_ttl: Duration,
    /// Upper bound of a `max-age` TTL. Default: 24 hours.
    pub max_ttl: Duration,
    /// Minimum time between the start of one fetch and a fetch caused by an unknown `kid`; also
    /// the cap of the retry backoff. Default: 30 seconds.
    pub cooldown: Duration,
    /// How long a `kid` that a fetch confirmed absent is rejected without fetching.
    /// Default: 30 seconds.
    pub negative_ttl: Duration,
    /// How long past its TTL the last good key set keeps being used while refreshing fails.
    /// Default: 1 hour. Zero disables stale use.
    pub stale_if_error: Duration,
    /// First retry delay after a failed fetch; doubles with each consecutive failure, capped at
    /// `cooldown`. Default: 1 second.
    pub retry_backoff: Duration,
    /// Timeout of one fetch (connect, request and body). Default: 5 seconds.
    pub fetch_timeout: Duration,
    /// Largest accepted response body. Default: 256 KiB.
    pub max_body_bytes: usize,
    /// Most keys accepted in one set (a larger set is refused as a whole). Default: 100.
    pub max_keys: usize,
    /// Allows plain `http` to non-loopback hosts. **Dangerous**: anyone on the path can then
    /// substitute keys. Default: `false`.
    pub dangerous_allow_insecure_http: bool,
    /// **For tests only**: the clock the TTLs, refresh-ahead point, cooldown, negative cache,
    /// retry backoff and stale window are measured with, so that a test advances it instead of
    /// sleeping. `None` (the default): the system's monotonic clock. The fetch timeout always
    /// runs on real time.
    pub dangerous_clock: Option<super::ManualClock>,
}

impl Default for JwksConfig {
    fn default() -> Self {
        JwksConfig {
            default_ttl: Duration::from_secs(300),
            min_ttl: Duration::from_secs(60),
            max_ttl: Duration::from_secs(24 * 3600),
            cooldown: Duration::from_secs(30),
            negative_ttl: Duration::from_secs(30),
            stale_if_error: Duration::from_secs(3600),
            retry_backoff: Duration::from_secs(1),
            fetch_timeout: Duration::from_secs(5),
            max_body_bytes: 256 * 1024,
            max_keys: 100,
            dangerous_allow_insecure_http: false,
            dangerous_clock: None,
        }
    }
}

impl JwksConfig {
    /// The tuning for keys read from a local store rather than over HTTP: an
    /// [`Authority`](crate::authority::Authority)'s own keys through [`KeySource::api`], as
    /// `authgate serve` verifies its management tokens and the bindings' embedded mode verifies
    /// access tokens. The defaults, except:
    ///
    /// - [`default_ttl`](Self::default_ttl) **60 s**: the set is read again every minute, so a
    ///   retired key stops validating within a minute. (Being no longer than the default
    ///   signing-key activation delay, it also means a pending key is known before it signs.)
    /// - [`cooldown`](Self::cooldown) **100 ms**: after an immediate rotation (an emergency,
    ///   `signing-keys rotate --now`, possibly on another node) the new key is accepted on its
    ///   first token rather than up to 30 s later. A fetch is one small indexed read of the
    ///   store, so a flood of unknown kids costs at most ten reads a second.
    ///
    /// [`negative_ttl`](Self::negative_ttl) keeps its default (30 s): a key is in the store
    /// before any token carries its `kid`, so a `kid` that a fetch did not find is bogus.
    pub fn for_local_store() -> JwksConfig {
        JwksConfig {
            default_ttl: Duration::from_secs(60),
            cooldown: Duration::from_millis(100),
            ..JwksConfig::default()
        }
    }

    fn ttl_for(&self, max_age: Option<Duration>) -> Duration {
        match max_age {
            Some(age) => age.clamp(self.min_ttl, self.max_ttl.max(self.min_ttl)),
            None => self.default_ttl,
        }
    }

    fn backoff(&self, consecutive_failures: u32) -> Duration {
        let doublings = consecutive_failures.saturating_sub(1).min(20);
        self.retry_backoff
            .saturating_mul(1u32 << doublings)
            .min(self.cooldown.max(self.retry_backoff))
    }

    fn validate(&self) -> Result<()> {
        const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);
        for (name, value) in [
            ("jwks.default_ttl", self.default_ttl),
            ("jwks.min_ttl", self.min_ttl),
            ("jwks.max_ttl", self.max_ttl),
            ("jwks.cooldown", self.cooldown),
            ("jwks.negative_ttl", self.negative_ttl),
            ("jwks.stale_if_error", self.stale_if_error),
            ("jwks.retry_backoff", self.retry_backoff),
            ("jwks.fetch_timeout", self.fetch_timeout),
        ] {
            if value > YEAR {
                return Err(Error::invalid(name, "must not exceed one year"));
            }
        }
        if self.fetch_timeout.is_zero() {
            return Err(Error::invalid("jwks.fetch_timeout", "must be greater than zero"));
        }
        if self.max_keys == 0 || self.max_body_bytes == 0 {
            return Err(Error::invalid(
                "jwks",
                "max_keys and max_body_bytes must be greater than zero",
            ));
        }
        Ok(())
    }
}

/// A local source of verification keys, asked through the same cache, refetch, cooldown and
/// stale-window machinery as a JWKS URL (so a key rotated by another node sharing the store is
/// picked up on the first unknown `kid`).
#[async_trait]
pub trait KeyProvider: Send + Sync + fmt::Debug {
    /// The current public keys.
    async fn jwks(&self) -> Result<JwkSet>;
}

/// A [`KeyProvider`] over any [`AuthApi`]: the embedded authority's own keys, or a remote
/// environment's keys fetched through its client.
#[derive(Debug, Clone)]
pub struct AuthApiKeys(pub Arc<dyn AuthApi>);

#[async_trait]
impl KeyProvider for AuthApiKeys {
    async fn jwks(&self) -> Result<JwkSet> {
        self.0.jwks().await
    }
}

/// Where a validator's keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// A JWK Set URL (`https`, or `http` to a loopback host).
    JwksUrl(String),
    /// OpenID Connect discovery from the validator's issuer:
    /// `{issuer}/.well-known/openid-configuration`, whose `issuer` must equal the configured one
    /// exactly, then its `jwks_uri`.
    Discovery,
    /// A local provider, for example [`AuthApiKeys`] over the embedded authority.
    Provider(Arc<dyn KeyProvider>),
    /// A fixed key set, never refetched (tests, the CLI with a JWKS file).
    Static(JwkSet),
    /// A fixed key set given as a JWK Set JSON document (every JWK member honoured, including
    /// `key_ops`), never refetched.
    StaticJson(String),
    /// An existing cache, shared with other validators.
    Cache(JwksCache),
}

impl KeySource {
    /// [`KeySource::Provider`] over an [`AuthApi`].
    pub fn api(api: Arc<dyn AuthApi>) -> KeySource {
        KeySource::Provider(Arc::new(AuthApiKeys(api)))
    }
}

enum Origin {
    Url(Url),
    Discovery {
        issuer: String,
        discovery_url: Url,
        jwks_uri: Mutex<Option<(Url, Instant)>>,
    },
    Provider(Arc<dyn KeyProvider>),
    Static,
}

impl Origin {
    fn describe(&self) -> String {
        match self {
            Origin::Url(url) => url.to_string(),
            Origin::Discovery { discovery_url, .. } => discovery_url.to_string(),
            Origin::Provider(p) => format!("provider {p:?}"),
            Origin::Static => "static key set".to_owned(),
        }
    }
}

/// One installed key set and its timing.
#[derive(Debug)]
pub(crate) struct Snapshot {
    pub keys: Arc<KeySet>,
    refresh_at: Instant,
    expires_at: Instant,
    stale_until: Instant,
    etag: Option<String>,
}

#[derive(Debug, Default)]
struct State {
    last_attempt: Option<Instant>,
    last_attempt_wall: Option<SystemTime>,
    last_success_wall: Option<SystemTime>,
    /// When the last failed attempt ended and why; cleared by a success.
    failure: Option<(Instant, Error)>,
    last_error: Option<String>,
    consecutive_failures: u32,
    fetch_count: u64,
    failure_count: u64,
    negative: HashMap<String, Instant>,
}

struct Inner {
    origin: Origin,
    config: JwksConfig,
    snapshot: RwLock<Option<Arc<Snapshot>>>,
    state: Mutex<State>,
    flight: SingleFlight<()>,
    generation: AtomicU64,
    /// Milliseconds since [`base`] of the current keys' refresh-ahead point and TTL end (0 when
    /// none), for the verified-token cache's lock-free check.
    refresh_at_ms: AtomicU64,
    expires_at_ms: AtomicU64,
}

fn millis_since_base(t: Instant) -> u64 {
    t.saturating_duration_since(super::clock::monotonic_base())
        .as_millis()
        .min(u64::MAX as u128) as u64
}

/// A cached, self-refreshing key set. Cheap to clone (shared).
#[derive(Clone)]
pub struct JwksCache(Arc<Inner>);

impl fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwksCache")
            .field("source", &self.0.origin.describe())
            .field("generation", &self.generation())
            .finish_non_exhaustive()
    }
}

/// A point-in-time view of a [`JwksCache`], for metrics, health checks and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct JwksStatus {
    /// The URL, discovery document or provider the keys come from.
    pub source: String,
    /// Usable verification keys in the current set.
    pub key_count: usize,
    /// Their `kid`s.
    pub kids: Vec<String>,
    /// Keys of the set that were refused (unsupported type or curve, RSA under 2048 bits…).
    pub rejected_keys: usize,
    /// Keys are loaded and within their TTL.
    pub fresh: bool,
    /// Keys are past their TTL but still used (stale-if-error window).
    pub stale: bool,
    /// A fetch for an unknown `kid` would be refused right now.
    pub cooling_down: bool,
    /// A fetch is running.
    pub fetching: bool,
    /// Fetches started so far (successful or not).
    pub fetch_count: u64,
    /// Fetches that failed.
    pub failure_count: u64,
    /// Failures since the last success.
    pub consecutive_failures: u32,
    /// When the last fetch started.
    pub last_fetch: Option<SystemTime>,
    /// When the last successful fetch started.
    pub last_success: Option<SystemTime>,
    /// The most recent failure, even if a later fetch succeeded.
    pub last_error: Option<String>,
    /// Time left until the keys pass their TTL (`None` when not fresh).
    pub expires_in: Option<Duration>,
    /// Incremented whenever a `kid` disappears or changes its key (verified-token caches flush).
    pub generation: u64,
    /// Unknown `kid`s currently remembered.
    pub negative_kids: usize,
}

/// What [`JwksCache::current`] found.
pub(crate) enum Current {
    /// Use these keys.
    Keys(Arc<Snapshot>),
    /// Fetch first (or join the running fetch), then ask again without fetching.
    Fetch,
    /// No usable keys: fail with this error.
    Fail(Error),
}

type Registry = Mutex<HashMap<(String, Option<String>, JwksConfig), JwksCache>>;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

enum Fetched {
    Keys {
        set: KeySet,
        ttl: Duration,
        etag: Option<String>,
    },
    NotModified {
        ttl: Duration,
    },
}

impl JwksCache {
    fn with_origin(origin: Origin, config: JwksConfig) -> JwksCache {
        JwksCache(Arc::new(Inner {
            origin,
            config,
            snapshot: RwLock::new(None),
            state: Mutex::new(State::default()),
            flight: SingleFlight::default(),
            generation: AtomicU64::new(0),
            refresh_at_ms: AtomicU64::new(0),
            expires_at_ms: AtomicU64::new(0),
        }))
    }

    /// A new, unshared cache of the JWK Set at `url`.
    pub fn from_url(url: &str, config: JwksConfig) -> Result<JwksCache> {
        config.validate()?;
        let url = checked_url(url, "jwks_url", config.dangerous_allow_insecure_http)?;
        Ok(JwksCache::with_origin(Origin::Url(url), config))
    }

    /// A new, unshared cache using OpenID Connect discovery from `issuer`.
    pub fn from_discovery(issuer: &str, config: JwksConfig) -> Result<JwksCache> {
        config.validate()?;
        let discovery = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        checked_url(issuer, "issuer", config.dangerous_allow_insecure_http)?;
        let discovery_url = checked_url(&discovery, "issuer", config.dangerous_allow_insecure_http)?;
        Ok(JwksCache::with_origin(
            Origin::Discovery {
                issuer: issuer.to_owned(),
                discovery_url,
                jwks_uri: Mutex::new(None),
            },
            config,
        ))
    }

    /// A new cache asking `provider` for keys.
    pub fn from_provider(provider: Arc<dyn KeyProvider>, config: JwksConfig) -> Result<JwksCache> {
        config.validate()?;
        Ok(JwksCache::with_origin(Origin::Provider(provider), config))
    }

    /// A cache holding `set` forever (an unknown `kid` is rejected without any fetch).
    pub fn from_static(set: &JwkSet, config: JwksConfig) -> Result<JwksCache> {
        config.validate()?;
        let keys =
            KeySet::from_model(set, config.max_keys).map_err(|InvalidKeySet(m)| Error::invalid("jwks", m))?;
        Ok(JwksCache::fixed(keys, config))
    }

    fn fixed(keys: KeySet, config: JwksConfig) -> JwksCache {
        let cache = JwksCache::with_origin(Origin::Static, config);
        let forever = cache.now() + Duration::from_secs(100 * 365 * 24 * 3600);
        cache.install_snapshot(Snapshot {
            keys: Arc::new(keys),
            refresh_at: forever,
            expires_at: forever,
            stale_until: forever,
            etag: None,
        });
        cache
    }

    /// A cache holding the JWK Set JSON document `json` forever.
    pub fn from_static_json(json: &[u8], config: JwksConfig) -> Result<JwksCache> {
        config.validate()?;
        let keys =
            KeySet::from_json(json, config.max_keys).map_err(|InvalidKeySet(m)| Error::invalid("jwks", m))?;
        Ok(JwksCache::fixed(keys, config))
    }

    /// The process-wide cache of the JWK Set at `url` for `issuer` with this configuration,
    /// created on first use. Every validator configured alike shares it.
    pub fn shared_url(issuer: Option<&str>, url: &str, config: JwksConfig) -> Result<JwksCache> {
        let key = (format!("url:{url}"), issuer.map(str::to_owned), config.clone());
        if let Some(cache) = lock(registry()).get(&key) {
            return Ok(cache.clone());
        }
        let cache = JwksCache::from_url(url, config)?;
        Ok(lock(registry()).entry(key).or_insert(cache).clone())
    }

    /// The process-wide cache using discovery from `issuer` with this configuration.
    pub fn shared_discovery(issuer: &str, config: JwksConfig) -> Result<JwksCache> {
        let key = ("discovery".to_owned(), Some(issuer.to_owned()), config.clone());
        if let Some(cache) = lock(registry()).get(&key) {
            return Ok(cache.clone());
        }
        let cache = JwksCache::from_discovery(issuer, config)?;
        Ok(lock(registry()).entry(key).or_insert(cache).clone())
    }

    /// The configuration.
    pub fn config(&self) -> &JwksConfig {
        &self.0.config
    }

    /// The monotonic time the cache measures its delays with.
    fn now(&self) -> Instant {
        super::clock::monotonic_now(self.0.config.dangerous_clock.as_ref())
    }

    /// Incremented whenever a `kid` disappears from the set or its key changes.
    pub fn generation(&self) -> u64 {
        self.0.generation.load(Ordering::Acquire)
    }

    /// Whether a token verified earlier with these keys may be answered from the verified-token
    /// cache: only while the keys are within their TTL. Past the refresh-ahead point this starts
    /// the background refresh, so that traffic served from the cache still keeps keys current.
    pub(crate) fn cache_hit_allowed(&self, bg: Option<&Handle>) -> bool {
        let now = millis_since_base(self.now());
        if now < self.0.refresh_at_ms.load(Ordering::Acquire) {
            return true;
        }
        if now < self.0.expires_at_ms.load(Ordering::Acquire) {
            // Spawns the refresh-ahead when due; the keys themselves are not needed here.
            drop(self.current(false, bg));
            return true;
        }
        false
    }

    /// Fetches now (joining a running fetch), ignoring the cooldown; resolves when done.
    ///
    /// Useful at startup to fail fast on a wrong URL, or after an out-of-band rotation notice.
    /// Must be called within a tokio runtime.
    pub async fn refresh(&self) -> Result<()> {
        if matches!(self.0.origin, Origin::Static) {
            return Ok(());
        }
        self.fetch(&Handle::current()).await
    }

    /// A snapshot of the cache's state.
    pub fn status(&self) -> JwksStatus {
        let now = self.now();
        let snapshot = self.snapshot();
        let state = lock(&self.0.state);
        let fresh = snapshot.as_ref().is_some_and(|s| now < s.expires_at);
        JwksStatus {
            source: self.0.origin.describe(),
            key_count: snapshot.as_ref().map_or(0, |s| s.keys.len()),
            kids: snapshot.as_ref().map_or_else(Vec::new, |s| s.keys.kids()),
            rejected_keys: snapshot.as_ref().map_or(0, |s| s.keys.rejected().len()),
            fresh,
            stale: !fresh && snapshot.as_ref().is_some_and(|s| now < s.stale_until),
            cooling_down: !matches!(self.0.origin, Origin::Static)
                && state
                    .last_attempt
                    .is_some_and(|t| now < t + self.0.config.cooldown),
            fetching: self.0.flight.is_running(),
            fetch_count: state.fetch_count,
            failure_count: state.failure_count,
            consecutive_failures: state.consecutive_failures,
            last_fetch: state.last_attempt_wall,
            last_success: state.last_success_wall,
            last_error: state.last_error.clone(),
            expires_in: snapshot
                .as_ref()
                .filter(|_| fresh)
                .map(|s| s.expires_at.saturating_duration_since(now)),
            generation: self.generation(),
            negative_kids: state.negative.values().filter(|&&until| now < until).count(),
        }
    }

    fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.0.snapshot.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn backoff_elapsed(&self, state: &State, now: Instant) -> bool {
        match &state.failure {
            None => true,
            Some((at, _)) => now >= *at + self.0.config.backoff(state.consecutive_failures),
        }
    }

    fn unavailable(&self, state: &State) -> Error {
        let source = self.0.origin.describe();
        match &state.failure {
            Some((_, Error::KeysUnavailable(m))) => Error::KeysUnavailable(m.clone()),
            Some((_, e)) => Error::KeysUnavailable(format!("{source}: {e}")),
            None if self.snapshot().is_some() => {
                Error::KeysUnavailable(format!("keys from {source} expired beyond the stale window"))
            }
            None => Error::KeysUnavailable(format!("keys from {source} are not loaded")),
        }
    }

    /// The keys to use now, or what to do instead. `bg` is where a background refresh may be
    /// spawned (refresh-ahead, retries while serving stale keys).
    pub(crate) fn current(&self, allow_fetch: bool, bg: Option<&Handle>) -> Current {
        let now = self.now();
        let snapshot = self.snapshot();
        if let Some(s) = &snapshot
            && now < s.refresh_at
        {
            return Current::Keys(s.clone());
        }
        if matches!(self.0.origin, Origin::Static) {
            return match snapshot {
                Some(s) => Current::Keys(s),
                None => Current::Fail(Error::KeysUnavailable("no static keys".into())),
            };
        }
        let state = lock(&self.0.state);
        let running = self.0.flight.is_running();
        let may_start = running || self.backoff_elapsed(&state, now);
        match snapshot {
            // Fresh, past the refresh-ahead point.
            Some(s) if now < s.expires_at => {
                drop(state);
                if let Some(handle) = bg
                    && !running
                    && may_start
                {
                    self.fetch_in_background(handle);
                }
                Current::Keys(s)
            }
            // Expired, inside the stale-if-error window.
            Some(s) if now < s.stale_until => {
                let failed_since_refresh_point =
                    state.failure.as_ref().is_some_and(|(at, _)| *at >= s.refresh_at);
                drop(state);
                if allow_fetch && may_start && (!failed_since_refresh_point || bg.is_none()) {
                    // Nothing has been tried since the keys aged: wait for a refresh.
                    return Current::Fetch;
                }
                if let Some(handle) = bg
                    && !running
                    && may_start
                {
                    self.fetch_in_background(handle);
                }
                Current::Keys(s)
            }
            // Never loaded, or beyond the stale window.
            _ => {
                if allow_fetch && may_start {
                    Current::Fetch
                } else {
                    Current::Fail(self.unavailable(&state))
                }
            }
        }
    }

    /// Whether an unknown `kid` (or, for `None`, a kid-less token matching no key) may cause a
    /// fetch now.
    pub(crate) fn may_refetch_for(&self, kid: Option<&str>) -> bool {
        if matches!(self.0.origin, Origin::Static) || kid.is_some_and(|k| k.len() > MAX_KID_LEN) {
            return false;
        }
        let now = self.now();
        let state = lock(&self.0.state);
        if let Some(kid) = kid
            && state.negative.get(kid).is_some_and(|&until| now < until)
        {
            return false;
        }
        if self.0.flight.is_running() {
            return true;
        }
        let cooled = state
            .last_attempt
            .is_none_or(|t| now >= t + self.0.config.cooldown);
        cooled && self.backoff_elapsed(&state, now)
    }

    /// The error for a token whose `kid` (or, for `None`, whose algorithm) no key of the current
    /// set matches, when no fetch will be made for it now: `unknown_kid` when the source was
    /// reached (the kid is confirmed absent, or the last fetch succeeded), keys-unavailable
    /// when the last fetch failed and the kid may well be in the set that could not be read.
    pub(crate) fn unknown_key_error(&self, kid: Option<&str>) -> Error {
        let unknown = Error::InvalidToken(crate::error::TokenError::UnknownKeyId);
        if matches!(self.0.origin, Origin::Static) || kid.is_some_and(|k| k.len() > MAX_KID_LEN) {
            return unknown;
        }
        let now = self.now();
        let state = lock(&self.0.state);
        if let Some(kid) = kid
            && state.negative.get(kid).is_some_and(|&until| now < until)
        {
            return unknown;
        }
        if state.failure.is_some() {
            return self.unavailable(&state);
        }
        unknown
    }

    /// Remembers that a fetch confirmed `kid` absent.
    pub(crate) fn confirm_absent(&self, kid: Option<&str>) {
        let Some(kid) = kid.filter(|k| k.len() <= MAX_KID_LEN) else {
            return;
        };
        if matches!(self.0.origin, Origin::Static) || self.0.config.negative_ttl.is_zero() {
            return;
        }
        let now = self.now();
        let mut state = lock(&self.0.state);
        if state.negative.len() >= MAX_NEGATIVE_KIDS {
            state.negative.retain(|_, until| now < *until);
        }
        if state.negative.len() < MAX_NEGATIVE_KIDS {
            state
                .negative
                .insert(kid.to_owned(), now + self.0.config.negative_ttl);
        }
    }

    fn fetch_in_background(&self, handle: &Handle) {
        // The task runs on its own; nobody needs to wait for it.
        drop(self.start_fetch(handle));
    }

    /// Joins the running fetch or starts one on `handle`, and waits for it.
    pub(crate) async fn fetch(&self, handle: &Handle) -> Result<()> {
        self.start_fetch(handle).await
    }

    fn start_fetch(&self, handle: &Handle) -> crate::flight::Flight<()> {
        let (flight, _) = self.0.flight.join_or_start(handle, || {
            {
                let mut state = lock(&self.0.state);
                state.last_attempt = Some(self.now());
                state.last_attempt_wall = Some(SystemTime::now());
                state.fetch_count += 1;
            }
            let cache = self.clone();
            async move { cache.run_fetch().await }
        });
        flight
    }

    async fn run_fetch(&self) -> Result<()> {
        let started = SystemTime::now();
        let etag = self.snapshot().and_then(|s| s.etag.clone());
        match self.fetch_keys(etag.as_deref()).await {
            Ok(fetched) => {
                let now = self.now();
                let (keys, ttl, etag) = match fetched {
                    Fetched::Keys { set, ttl, etag } => (Arc::new(set), ttl, etag),
                    Fetched::NotModified { ttl } => match self.snapshot() {
                        Some(s) => (s.keys.clone(), ttl, etag),
                        None => {
                            return self.record_failure(Error::KeysUnavailable(
                                "304 Not Modified without cached keys".into(),
                            ));
                        }
                    },
                };
                self.install_snapshot(Snapshot {
                    keys,
                    refresh_at: now + ttl.mul_f64(REFRESH_AHEAD),
                    expires_at: now + ttl,
                    stale_until: now + ttl + self.0.config.stale_if_error,
                    etag,
                });
                let mut state = lock(&self.0.state);
                state.failure = None;
                state.consecutive_failures = 0;
                state.last_success_wall = Some(started);
                state.negative.clear();
                Ok(())
            }
            Err(e) => self.record_failure(e),
        }
    }

    fn record_failure(&self, error: Error) -> Result<()> {
        tracing::warn!(source = %self.0.origin.describe(), error = %error, "JWKS fetch failed");
        let mut state = lock(&self.0.state);
        state.failure = Some((self.now(), error.clone()));
        state.last_error = Some(error.to_string());
        state.consecutive_failures = state.consecutive_failures.saturating_add(1);
        state.failure_count += 1;
        Err(error)
    }

    fn install_snapshot(&self, snapshot: Snapshot) {
        let refresh_at = millis_since_base(snapshot.refresh_at);
        let expires_at = millis_since_base(snapshot.expires_at).max(1);
        let mut slot = self.0.snapshot.write().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = slot.as_ref()
            && !Arc::ptr_eq(&old.keys, &snapshot.keys)
            && old.keys.invalidated_by(&snapshot.keys)
        {
            self.0.generation.fetch_add(1, Ordering::AcqRel);
        }
        *slot = Some(Arc::new(snapshot));
        self.0.refresh_at_ms.store(refresh_at, Ordering::Release);
        self.0.expires_at_ms.store(expires_at, Ordering::Release);
    }

    async fn fetch_keys(&self, etag: Option<&str>) -> Result<Fetched> {
        let config = &self.0.config;
        match &self.0.origin {
            Origin::Url(url) => self.fetch_jwks(url, etag).await,
            Origin::Discovery {
                issuer,
                discovery_url,
                jwks_uri,
            } => {
                let known = lock(jwks_uri).clone();
                let previous_failed = lock(&self.0.state).failure.is_some();
                let uri = match known {
                    Some((uri, at))
                        if !previous_failed && self.now().saturating_duration_since(at) < DISCOVERY_TTL =>
                    {
                        uri
                    }
                    _ => {
                        let uri = self.discover(issuer, discovery_url).await?;
                        *lock(jwks_uri) = Some((uri.clone(), self.now()));
                        uri
                    }
                };
                self.fetch_jwks(&uri, etag).await
            }
            Origin::Provider(provider) => {
                let set = tokio::time::timeout(config.fetch_timeout, provider.jwks())
                    .await
                    .map_err(|_| {
                        Error::KeysUnavailable(format!(
                            "key provider timed out after {:?}",
                            config.fetch_timeout
                        ))
                    })?
                    .map_err(|e| Error::KeysUnavailable(format!("key provider failed: {e}")))?;
                let set = KeySet::from_model(&set, config.max_keys)
                    .map_err(|InvalidKeySet(m)| Error::KeysUnavailable(format!("key provider: {m}")))?;
                Ok(Fetched::Keys {
                    set,
                    ttl: config.default_ttl,
                    etag: None,
                })
            }
            Origin::Static => Err(Error::Internal("static key sets are never fetched".into())),
        }
    }

    async fn get(&self, url: &Url, accept: &str, etag: Option<&str>) -> Result<http::Response> {
        let config = &self.0.config;
        let mut request = http::client()
            .get(url.clone())
            .timeout(config.fetch_timeout)
            .header(ACCEPT, accept);
        if let Some(value) = etag.and_then(http::header_value) {
            request = request.header(IF_NONE_MATCH, value);
        }
        let response = http::send(request, config.max_body_bytes).await.map_err(|f| {
            Error::KeysUnavailable(format!(
                "fetching {url} failed: {}",
                f.describe(config.fetch_timeout, config.max_body_bytes)
            ))
        })?;
        match response.status {
            200 => Ok(response),
            304 if etag.is_some() => Ok(response),
            status @ 300..=399 => Err(Error::KeysUnavailable(format!(
                "fetching {url} failed: redirect (HTTP {status}) refused"
            ))),
            status => Err(Error::KeysUnavailable(format!(
                "fetching {url} failed: HTTP status {status}"
            ))),
        }
    }

    async fn fetch_jwks(&self, url: &Url, etag: Option<&str>) -> Result<Fetched> {
        let config = &self.0.config;
        let response = self
            .get(url, "application/jwk-set+json, application/json", etag)
            .await?;
        let ttl = config.ttl_for(http::cache_max_age(&response.headers));
        if response.status == 304 {
            return Ok(Fetched::NotModified { ttl });
        }
        let set = KeySet::from_json(&response.body, config.max_keys)
            .map_err(|InvalidKeySet(m)| Error::KeysUnavailable(format!("{url}: {m}")))?;
        for rejected in set.rejected() {
            tracing::debug!(%url, kid = ?rejected.kid, reason = rejected.reason, "JWK ignored");
        }
        let etag = response
            .headers
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(Fetched::Keys { set, ttl, etag })
    }

    async fn discover(&self, issuer: &str, discovery_url: &Url) -> Result<Url> {
        let response = self.get(discovery_url, "application/json", None).await?;
        let bad = |m: &str| Error::KeysUnavailable(format!("{discovery_url}: {m}"));
        let doc: Value = serde_json::from_slice(&response.body).map_err(|_| bad("not valid JSON"))?;
        match doc.get("issuer").and_then(Value::as_str) {
            Some(found) if found == issuer => {}
            Some(found) => {
                return Err(bad(&format!(
                    "discovery issuer {found:?} does not equal the configured issuer {issuer:?}"
                )));
            }
            None => return Err(bad("no issuer in the discovery document")),
        }
        let jwks_uri = doc
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("no jwks_uri in the discovery document"))?;
        checked_url(jwks_uri, "jwks_uri", self.0.config.dangerous_allow_insecure_http)
            .map_err(|e| bad(&e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_clamping_and_backoff() {
        let c = JwksConfig::default();
        assert_eq!(c.ttl_for(None), Duration::from_secs(300));
        assert_eq!(c.ttl_for(Some(Duration::ZERO)), Duration::from_secs(60));
        assert_eq!(
            c.ttl_for(Some(Duration::from_secs(900))),
            Duration::from_secs(900)
        );
        assert_eq!(
            c.ttl_for(Some(Duration::from_secs(10 * 86400))),
            Duration::from_secs(86400)
        );
        assert_eq!(c.backoff(1), Duration::from_secs(1));
        assert_eq!(c.backoff(2), Duration::from_secs(2));
        assert_eq!(c.backoff(5), Duration::from_secs(16));
        assert_eq!(c.backoff(6), Duration::from_secs(30));
        assert_eq!(c.backoff(u32::MAX), Duration::from_secs(30));
    }

    #[test]
    fn registry_shares_caches_alike_configured() {
        let a = JwksCache::shared_url(Some("https://i"), "https://i/keys", JwksConfig::default()).unwrap();
        let b = JwksCache::shared_url(Some("https://i"), "https://i/keys", JwksConfig::default()).unwrap();
        let c = JwksCache::shared_url(Some("https://j"), "https://i/keys", JwksConfig::default()).unwrap();
        assert!(Arc::ptr_eq(&a.0, &b.0));
        assert!(!Arc::ptr_eq(&a.0, &c.0));
        assert!(JwksCache::shared_url(None, "http://idp.example/keys", JwksConfig::default()).is_err());
    }
}
