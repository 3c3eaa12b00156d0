//! [`JwtValidator`]: verifies JWT access tokens against cached keys, then checks scopes.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::Handle;

use super::algorithm::{Algorithm, DEFAULT_ALGORITHMS};
use super::cache::{TokenCache, digest_token};
use super::claims::{Claims, DEFAULT_SCOPE_CLAIMS, ScopeMatch};
use super::clock::{Clock, SystemClock};
use super::jwks::{Current, JwksCache, JwksConfig, JwksStatus, KeySource};
use super::keyset::Selection;
use super::token::{self, ClaimRules};
use crate::error::{Error, Result, TokenError};

/// Everything a [`JwtValidator`] is configured with. Built with [`ValidatorConfig::new`] (all
/// defaults), then adjusted field by field — a CLI can fill it straight from its flags.
#[derive(Clone)]
#[non_exhaustive]
pub struct ValidatorConfig {
    /// Where the verification keys come from.
    pub keys: KeySource,
    /// The required `iss`, compared exactly. Default: `None` (not checked) — the bindings always
    /// set it; [`KeySource::Discovery`] requires it.
    pub issuer: Option<String>,
    /// When non-empty, `aud` (string or array) must contain at least one of these.
    /// Default: empty (not checked).
    pub audiences: Vec<String>,
    /// Accepted algorithms, each bound to its key type. Default: [`DEFAULT_ALGORITHMS`]
    /// (RS256, PS256, ES256, EdDSA). Symmetric algorithms and `none` cannot be listed.
    pub algorithms: Vec<Algorithm>,
    /// Clock skew tolerated on `exp` and `nbf`. Default: 60 seconds.
    pub leeway: Duration,
    /// Largest accepted token, in bytes, checked before any decoding. Default: 8192.
    pub max_token_size: usize,
    /// When set, the header `typ` must match (case-insensitive, `application/` prefix ignored),
    /// e.g. `"at+jwt"` for RFC 9068 tokens. Default: `None`.
    pub required_typ: Option<String>,
    /// Claims the scopes are read from. Default: [`DEFAULT_SCOPE_CLAIMS`]
    /// (`scopes`, `scope`, `scp`, `permissions`).
    pub scope_claims: Vec<String>,
    /// Scopes every token must carry, checked after verification. Default: none.
    /// Per-route checks use [`Claims::require_all`] / [`Claims::require_any`] instead.
    pub required_scopes: Vec<String>,
    /// How `required_scopes` is matched. Default: [`ScopeMatch::All`].
    pub scope_match: ScopeMatch,
    /// Capacity of the verified-token cache; 0 disables it. Default: 10 000 tokens.
    pub token_cache_capacity: usize,
    /// JWKS cache tuning (TTL, cooldown, stale window, timeouts, limits).
    pub jwks: JwksConfig,
    /// The tokio runtime used for background refreshes and by
    /// [`validate_blocking`](JwtValidator::validate_blocking). Default: `None` — the async
    /// methods use the runtime they are polled on; synchronous callers that want background
    /// refresh-ahead or `validate_blocking` must provide one.
    pub runtime: Option<Handle>,
    /// The source of "now" for `exp`/`nbf` and the token cache. Default: the system clock.
    /// **For testing** ([`FixedClock`](super::FixedClock)).
    pub clock: Arc<dyn Clock>,
}

impl fmt::Debug for ValidatorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValidatorConfig")
            .field("keys", &self.keys)
            .field("issuer", &self.issuer)
            .field("audiences", &self.audiences)
            .field("algorithms", &self.algorithms)
            .field("leeway", &self.leeway)
            .field("max_token_size", &self.max_token_size)
            .field("required_typ", &self.required_typ)
            .field("scope_claims", &self.scope_claims)
            .field("required_scopes", &self.required_scopes)
            .field("scope_match", &self.scope_match)
            .field("token_cache_capacity", &self.token_cache_capacity)
            .field("jwks", &self.jwks)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl ValidatorConfig {
    /// A configuration with every default and the given key source.
    pub fn new(keys: KeySource) -> ValidatorConfig {
        ValidatorConfig {
            keys,
            issuer: None,
            audiences: Vec::new(),
            algorithms: DEFAULT_ALGORITHMS.to_vec(),
            leeway: Duration::from_secs(60),
            max_token_size: 8192,
            required_typ: None,
            scope_claims: DEFAULT_SCOPE_CLAIMS.iter().map(|s| (*s).to_owned()).collect(),
            required_scopes: Vec::new(),
            scope_match: ScopeMatch::All,
            token_cache_capacity: 10_000,
            jwks: JwksConfig::default(),
            runtime: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// Keys from a JWK Set URL.
    pub fn jwks_url(url: impl Into<String>) -> ValidatorConfig {
        ValidatorConfig::new(KeySource::JwksUrl(url.into()))
    }

    /// Keys by OpenID Connect discovery from `issuer`, which is also the required `iss`.
    pub fn discovery(issuer: impl Into<String>) -> ValidatorConfig {
        let mut config = ValidatorConfig::new(KeySource::Discovery);
        config.issuer = Some(issuer.into());
        config
    }

    /// Sets the required issuer.
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Adds an accepted audience.
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }
}

/// The outcome of [`JwtValidator::try_validate`].
#[derive(Debug)]
#[must_use]
pub enum SyncValidation {
    /// Validation finished (successfully or not) on the calling thread.
    Done(Result<Claims>),
    /// Keys must be fetched first: call [`JwtValidator::validate`] (async) or
    /// [`JwtValidator::validate_blocking`].
    NeedsFetch,
}

/// Verifies JWT access tokens. Cheap to clone; share one per issuer.
///
/// Validation order — verify first, authorise second:
/// size → structure → header (`alg` in the allowlist, no `crit`) → base64url of every segment →
/// key (by `kid`, bound to the algorithm) → signature → `typ` → payload JSON → claim types →
/// `exp` → `nbf` → `iss` → `aud` → required scopes (`tests/vectors/README.md` has the details). Keys are parsed once per JWK by aws-lc-rs (see the [module docs](super)).
#[derive(Clone)]
pub struct JwtValidator(Arc<Inner>);

struct Inner {
    keys: JwksCache,
    issuer: Option<String>,
    audiences: Vec<String>,
    algorithms: Vec<Algorithm>,
    leeway: f64,
    max_token_size: usize,
    required_typ: Option<String>,
    scope_claims: Vec<String>,
    required_scopes: Vec<String>,
    scope_match: ScopeMatch,
    token_cache: Option<TokenCache>,
    runtime: Option<Handle>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for JwtValidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtValidator")
            .field("keys", &self.0.keys)
            .field("issuer", &self.0.issuer)
            .field("audiences", &self.0.audiences)
            .field("algorithms", &self.0.algorithms)
            .finish_non_exhaustive()
    }
}

enum Step {
    Done(Result<Claims>),
    Fetch,
}

/// Which attempt of a validation this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// May ask for a fetch.
    First,
    /// After a successful fetch: an unknown `kid` is now confirmed absent.
    AfterFetch,
    /// After a failed fetch: use what is there, conclude nothing about kids.
    AfterFailedFetch,
}

impl JwtValidator {
    /// Builds a validator. Fails with [`Error::InvalidArgument`] on a bad configuration (a
    /// non-https JWKS URL to a non-loopback host, discovery without an issuer, no algorithms…).
    ///
    /// JWKS URL and discovery sources use the process-wide cache registry; no network access
    /// happens here (keys are fetched on first use, or with [`refresh`](Self::refresh)).
    pub fn new(config: ValidatorConfig) -> Result<JwtValidator> {
        if config.algorithms.is_empty() {
            return Err(Error::invalid("algorithms", "at least one algorithm is required"));
        }
        if config.max_token_size == 0 {
            return Err(Error::invalid("max_token_size", "must be greater than zero"));
        }
        if config.issuer.as_deref().is_some_and(str::is_empty) {
            return Err(Error::invalid("issuer", "must not be empty"));
        }
        let keys = match config.keys {
            KeySource::JwksUrl(url) => JwksCache::shared_url(config.issuer.as_deref(), &url, config.jwks)?,
            KeySource::Discovery => {
                let issuer = config
                    .issuer
                    .as_deref()
                    .ok_or_else(|| Error::invalid("issuer", "discovery needs the issuer"))?;
                JwksCache::shared_discovery(issuer, config.jwks)?
            }
            KeySource::Provider(provider) => JwksCache::from_provider(provider, config.jwks)?,
            KeySource::Static(set) => JwksCache::from_static(&set, config.jwks)?,
            KeySource::StaticJson(json) => JwksCache::from_static_json(json.as_bytes(), config.jwks)?,
            KeySource::Cache(cache) => cache,
        };
        let mut algorithms = config.algorithms;
        algorithms.sort();
        algorithms.dedup();
        Ok(JwtValidator(Arc::new(Inner {
            keys,
            issuer: config.issuer,
            audiences: config.audiences,
            algorithms,
            leeway: config.leeway.as_secs_f64(),
            max_token_size: config.max_token_size,
            required_typ: config.required_typ,
            scope_claims: config.scope_claims,
            required_scopes: config.required_scopes,
            scope_match: config.scope_match,
            token_cache: (config.token_cache_capacity > 0)
                .then(|| TokenCache::new(config.token_cache_capacity)),
            runtime: config.runtime,
            clock: config.clock,
        })))
    }

    /// Validates `token`, fetching keys when needed (joining any fetch already running).
    pub async fn validate(&self, token: &str) -> Result<Claims> {
        let handle = self.0.runtime.clone().unwrap_or_else(Handle::current);
        match self.step(token, Pass::First, Some(&handle)) {
            Step::Done(result) => result,
            Step::Fetch => {
                // The outcome is read back from the cache: a failure leaves stale keys or an
                // error that `step` reports.
                let pass = match self.0.keys.fetch(&handle).await {
                    Ok(()) => Pass::AfterFetch,
                    Err(_) => Pass::AfterFailedFetch,
                };
                match self.step(token, pass, Some(&handle)) {
                    Step::Done(result) => result,
                    Step::Fetch => Err(Error::Internal("key fetch requested twice".into())),
                }
            }
        }
    }

    /// Validates on the calling thread when the needed keys are cached; otherwise says a fetch
    /// is needed. Never blocks. Background refreshes are spawned on the configured runtime (or
    /// the current one, if the caller is inside one).
    pub fn try_validate(&self, token: &str) -> SyncValidation {
        let current = match &self.0.runtime {
            Some(_) => None,
            None => Handle::try_current().ok(),
        };
        let bg = self.0.runtime.as_ref().or(current.as_ref());
        match self.step(token, Pass::First, bg) {
            Step::Done(result) => SyncValidation::Done(result),
            Step::Fetch => SyncValidation::NeedsFetch,
        }
    }

    /// Validates on the calling thread, blocking on the configured runtime only when keys must
    /// be fetched. Must not be called from inside an async runtime (use
    /// [`validate`](Self::validate) there); needs [`ValidatorConfig::runtime`].
    pub fn validate_blocking(&self, token: &str) -> Result<Claims> {
        match self.try_validate(token) {
            SyncValidation::Done(result) => result,
            SyncValidation::NeedsFetch => {
                let handle = self.blocking_handle()?;
                handle.block_on(self.validate(token))
            }
        }
    }

    fn blocking_handle(&self) -> Result<&Handle> {
        if Handle::try_current().is_ok() {
            return Err(Error::Internal(
                "validate_blocking called inside an async runtime; use validate().await".into(),
            ));
        }
        self.0.runtime.as_ref().ok_or_else(|| {
            Error::Internal("validate_blocking needs ValidatorConfig::runtime to fetch keys".into())
        })
    }

    /// Fetches the keys now (ignoring the cooldown), e.g. at startup to fail fast.
    pub async fn refresh(&self) -> Result<()> {
        self.0.keys.refresh().await
    }

    /// The JWKS cache behind this validator.
    pub fn keys(&self) -> &JwksCache {
        &self.0.keys
    }

    /// The JWKS cache's state.
    pub fn status(&self) -> JwksStatus {
        self.0.keys.status()
    }

    /// The issuer this validator requires, if any.
    pub fn issuer(&self) -> Option<&str> {
        self.0.issuer.as_deref()
    }

    /// Empties the verified-token cache.
    pub fn clear_token_cache(&self) {
        if let Some(cache) = &self.0.token_cache {
            cache.clear();
        }
    }

    fn authorise(&self, claims: Claims) -> Result<Claims> {
        claims.require(&self.0.required_scopes, self.0.scope_match)?;
        Ok(claims)
    }

    fn step(&self, token: &str, pass: Pass, bg: Option<&Handle>) -> Step {
        let inner = &*self.0;
        // Size first: nothing is hashed or decoded for an oversize token.
        if token.len() > inner.max_token_size {
            return Step::Done(Err(TokenError::TooLarge.into()));
        }
        let now = inner.clock.now_unix();
        let digest = inner
            .token_cache
            .as_ref()
            .map(|cache| (cache, digest_token(token)));
        if let Some((cache, digest)) = &digest
            && inner.keys.cache_hit_allowed(bg)
            && let Some(claims) = cache.get(digest, now, inner.keys.generation())
        {
            return Step::Done(self.authorise(claims));
        }

        let jws = match token::parse(token, &inner.algorithms) {
            Ok(jws) => jws,
            Err(e) => return Step::Done(Err(e.into())),
        };
        let kid = jws.kid.as_deref();
        // Read the generation before the keys: an entry cached under it can only be flushed too
        // eagerly, never kept too long.
        let generation = inner.keys.generation();
        let snapshot = match inner.keys.current(pass == Pass::First, bg) {
            Current::Keys(s) => s,
            Current::Fetch => return Step::Fetch,
            Current::Fail(e) => return Step::Done(Err(e)),
        };
        let candidates = match snapshot.keys.select(jws.alg, kid) {
            Selection::Keys(candidates) => candidates,
            Selection::NotFound => {
                if pass == Pass::First && inner.keys.may_refetch_for(kid) {
                    return Step::Fetch;
                }
                if pass == Pass::AfterFetch {
                    inner.keys.confirm_absent(kid);
                    return Step::Done(Err(TokenError::UnknownKeyId.into()));
                }
                // No fetch now: unknown only if the source was reached, else keys-unavailable.
                return Step::Done(Err(inner.keys.unknown_key_error(kid)));
            }
            Selection::Ambiguous => return Step::Done(Err(TokenError::UnknownKeyId.into())),
            Selection::Mismatch => return Step::Done(Err(TokenError::AlgorithmNotAllowed.into())),
        };
        let mut verified = Err(TokenError::InvalidSignature);
        for key in candidates {
            verified = key.verify(jws.alg, jws.signing_input, &jws.signature);
            if verified.is_ok() {
                break;
            }
        }
        if let Err(e) = verified {
            return Step::Done(Err(e.into()));
        }

        // Verified: from here on the header and payload are the issuer's.
        if let Some(required) = &inner.required_typ
            && !token::typ_matches(jws.typ.as_deref(), required)
        {
            return Step::Done(Err(TokenError::InvalidType.into()));
        }
        let map = match token::parse_payload(&jws.payload) {
            Ok(map) => map,
            Err(e) => return Step::Done(Err(e.into())),
        };
        let rules = ClaimRules {
            now,
            leeway: inner.leeway,
            issuer: inner.issuer.as_deref(),
            audiences: &inner.audiences,
        };
        let exp = match token::check_claims(&map, &rules) {
            Ok(exp) => exp,
            Err(e) => return Step::Done(Err(e.into())),
        };
        let claims = Claims::new(map, exp, &inner.scope_claims);
        if let Some((cache, digest)) = digest {
            cache.insert(digest, claims.clone(), now, generation);
        }
        Step::Done(self.authorise(claims))
    }
}
