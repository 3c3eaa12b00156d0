//! `JwtValidator`: JWT access-token verification against cached keys.
//!
//! Verification runs **synchronously on the calling thread** whenever the keys are cached (an
//! async hop costs as much as an RS256 verify): [`JsJwtValidator::try_validate`] answers the
//! claims, or `undefined` when keys must be fetched first, which
//! [`JsJwtValidator::validate`] does on napi's tokio runtime. The JavaScript layer combines the
//! two into `validate()` (a Promise settled from the sync path when it can) and
//! `validateSync()`.

use std::sync::Arc;
use std::time::Duration;

use authgate_core::Error as CoreError;
use authgate_core::jwt::{
    Algorithm, Claims, FixedClock, JwtValidator, KeySource, Requirement, ScopeMatch, SyncValidation,
    ValidatorConfig,
};
use authgate_core::setup::Client;
use napi::bindgen_prelude::{Either, PromiseRaw, block_on, within_runtime_if_available};
use napi::{Env, Result};
use napi_derive::napi;
use serde_json::Value;

use crate::errors::{spawn, sync};

/// Options of a `JwtValidator`. Every field is optional; defaults in brackets.
#[napi(object, js_name = "JwtValidatorOptions")]
#[derive(Debug, Default)]
pub struct JsValidatorOptions {
    /// A fixed JWK Set (object or JSON text), never refetched: for keys you hold yourself.
    #[napi(ts_type = "{ keys: object[] } | string")]
    pub jwks: Option<Value>,
    /// The JWK Set URL (`https`, or `http` to loopback). Without it, keys are found by OpenID
    /// Connect discovery from `issuer`.
    pub jwks_url: Option<String>,
    /// The required `iss`, compared exactly [not checked when `jwksUrl` is given without it].
    pub issuer: Option<String>,
    /// Accepted audiences: `aud` must hold one of them [not checked].
    pub audience: Option<Either<String, Vec<String>>>,
    /// Accepted algorithms [RS256, PS256, ES256, EdDSA]; symmetric algorithms are refused.
    pub algorithms: Option<Vec<String>>,
    /// Clock skew tolerated on `exp`/`nbf`, in seconds [60].
    pub leeway: Option<f64>,
    /// Alias of `leeway` (jose's name).
    pub clock_tolerance: Option<f64>,
    /// Largest accepted token in bytes [8192].
    pub max_token_size: Option<u32>,
    /// Required header `typ`, e.g. `at+jwt` [not checked].
    pub typ: Option<String>,
    /// Claims scopes are read from [`scopes`, `scope`, `scp`, `permissions`].
    pub scope_claims: Option<Vec<String>>,
    /// Scopes every token must carry [none].
    pub required_scopes: Option<Vec<String>>,
    /// `requiredScopes` match: `"all"` or `"any"` [all].
    #[napi(ts_type = "'all' | 'any'")]
    pub scope_match: Option<String>,
    /// Capacity of the verified-token cache; 0 disables it [10000].
    pub token_cache_size: Option<u32>,
    /// JWKS TTL when the response has no `Cache-Control: max-age`, in seconds [300].
    pub jwks_ttl: Option<f64>,
    /// Minimum time between fetches for unknown `kid`s, in seconds [30].
    pub jwks_cooldown: Option<f64>,
    /// How long expired keys keep being used while the JWKS endpoint fails, in seconds [3600].
    pub jwks_stale_if_error: Option<f64>,
    /// Timeout of one JWKS fetch, in seconds [5].
    pub jwks_fetch_timeout: Option<f64>,
    /// Allow plain `http` JWKS URLs to non-loopback hosts [false]. Dangerous.
    pub dangerous_allow_insecure_http: Option<bool>,
    /// Validate as if the time were this (Unix seconds) instead of the system clock [off].
    /// For tests only: a frozen clock accepts expired tokens.
    pub dangerous_now: Option<f64>,
}

fn seconds(field: &str, v: f64) -> authgate_core::Result<Duration> {
    if !v.is_finite() || !(0.0..=1.0e9).contains(&v) {
        return Err(CoreError::invalid(
            field,
            "must be a non-negative number of seconds",
        ));
    }
    Ok(Duration::from_secs_f64(v))
}

fn scope_match(any: Option<bool>) -> ScopeMatch {
    if any == Some(true) {
        ScopeMatch::Any
    } else {
        ScopeMatch::All
    }
}

/// Applies `o` to `config` (everything but the key source).
fn configure(mut config: ValidatorConfig, o: JsValidatorOptions) -> authgate_core::Result<ValidatorConfig> {
    if let Some(issuer) = o.issuer {
        config.issuer = Some(issuer);
    }
    match o.audience {
        Some(Either::A(one)) => config.audiences = vec![one],
        Some(Either::B(many)) => config.audiences = many,
        None => {}
    }
    if let Some(names) = o.algorithms {
        config.algorithms = names
            .iter()
            .map(|n| {
                Algorithm::from_name(n)
                    .ok_or_else(|| CoreError::invalid("algorithms", format!("unsupported algorithm {n:?}")))
            })
            .collect::<authgate_core::Result<_>>()?;
    }
    if let Some(l) = o.leeway.or(o.clock_tolerance) {
        config.leeway = seconds("leeway", l)?;
    }
    if let Some(size) = o.max_token_size {
        config.max_token_size = size as usize;
    }
    config.required_typ = o.typ.or(config.required_typ);
    if let Some(claims) = o.scope_claims {
        config.scope_claims = claims;
    }
    if let Some(scopes) = o.required_scopes {
        config.required_scopes = scopes;
    }
    match o.scope_match.as_deref() {
        None | Some("all") => {}
        Some("any") => config.scope_match = ScopeMatch::Any,
        Some(_) => return Err(CoreError::invalid("scopeMatch", "must be \"all\" or \"any\"")),
    }
    if let Some(n) = o.token_cache_size {
        config.token_cache_capacity = n as usize;
    }
    if let Some(v) = o.jwks_ttl {
        config.jwks.default_ttl = seconds("jwksTtl", v)?;
    }
    if let Some(v) = o.jwks_cooldown {
        config.jwks.cooldown = seconds("jwksCooldown", v)?;
    }
    if let Some(v) = o.jwks_stale_if_error {
        config.jwks.stale_if_error = seconds("jwksStaleIfError", v)?;
    }
    if let Some(v) = o.jwks_fetch_timeout {
        config.jwks.fetch_timeout = seconds("jwksFetchTimeout", v)?;
    }
    if let Some(b) = o.dangerous_allow_insecure_http {
        config.jwks.dangerous_allow_insecure_http = b;
    }
    if let Some(now) = o.dangerous_now {
        if !now.is_finite() || now.fract() != 0.0 {
            return Err(CoreError::invalid("dangerousNow", "must be whole Unix seconds"));
        }
        config.clock = Arc::new(FixedClock::new(now as i64));
    }
    // Background refresh-ahead and blocking fetches run on napi's runtime.
    config.runtime = Some(within_runtime_if_available(tokio::runtime::Handle::current));
    Ok(config)
}

/// Verified claims as JSON text. The JavaScript layer turns it into an object with `JSON.parse`,
/// which is several times cheaper than building the object property by property through N-API.
fn claims_json(claims: &Claims) -> authgate_core::Result<String> {
    serde_json::to_string(claims.as_map())
        .map_err(|e| CoreError::Internal(format!("claims serialization: {e}")))
}

/// A JWT validator for one issuer. Share one per issuer: keys and verified tokens are cached.
#[napi(js_name = "NativeJwtValidator")]
#[derive(Debug)]
pub struct JsJwtValidator {
    inner: JwtValidator,
}

impl JsJwtValidator {
    /// The validator of a client's tokens, by the core's set-up rules: the client's shared keys
    /// (`{envUrl}/keys` when remote, the store when embedded), `iss` the client's issuer unless
    /// `o.issuer` says otherwise. Other options given explicitly still apply.
    pub(crate) fn for_client(client: &Client, mut o: JsValidatorOptions) -> authgate_core::Result<Self> {
        let config = client.validator_config(o.issuer.as_deref(), Vec::new())?;
        o.issuer = None;
        Self::build(config, o)
    }

    fn build(config: ValidatorConfig, o: JsValidatorOptions) -> authgate_core::Result<Self> {
        let inner = JwtValidator::new(configure(config, o)?)?;
        Ok(JsJwtValidator { inner })
    }

    /// Verifies on this thread, blocking on napi's runtime only for a key fetch.
    fn verify_blocking(&self, token: &str) -> authgate_core::Result<Claims> {
        match self.inner.try_validate(token) {
            SyncValidation::Done(result) => result,
            SyncValidation::NeedsFetch => block_on(self.inner.validate(token)),
        }
    }

    /// Checks the requirement of a method's arguments: `scopes` (all, or any with `any`) and, with
    /// `organization`, an organization's token ([`Claims::check`]).
    fn authorise(
        claims: Claims,
        scopes: Option<Vec<String>>,
        any: Option<bool>,
        organization: Option<bool>,
    ) -> authgate_core::Result<String> {
        claims.check(&Requirement {
            scopes: scopes.unwrap_or_default(),
            mode: scope_match(any),
            organization: organization == Some(true),
        })?;
        claims_json(&claims)
    }
}

#[napi]
impl JsJwtValidator {
    /// A validator from options: a fixed `jwks`, a `jwksUrl`, or discovery from `issuer`.
    #[napi(constructor)]
    pub fn new(env: Env, mut options: JsValidatorOptions) -> Result<Self> {
        let source = match (options.jwks.take(), &options.jwks_url, &options.issuer) {
            (Some(Value::String(text)), _, _) => Ok(ValidatorConfig::new(KeySource::StaticJson(text))),
            (Some(set), _, _) => Ok(ValidatorConfig::new(KeySource::StaticJson(set.to_string()))),
            (None, Some(url), _) => Ok(ValidatorConfig::jwks_url(url.clone())),
            (None, None, Some(issuer)) => Ok(ValidatorConfig::discovery(issuer.clone())),
            (None, None, None) => Err(CoreError::invalid(
                "jwksUrl",
                "one of jwks, jwksUrl or issuer is required",
            )),
        };
        sync(&env, source.and_then(|config| Self::build(config, options)))
    }

    /// Verifies `token` on this thread when its key is cached; `null` when keys must be fetched
    /// first (call `validate`). Then checks `scopes` (all, or any with `any = true`). The claims
    /// come back as JSON text (see [`claims_json`]).
    #[napi(ts_return_type = "string | undefined | null")]
    pub fn try_validate(
        &self,
        env: Env,
        token: String,
        scopes: Option<Vec<String>>,
        any: Option<bool>,
        organization: Option<bool>,
    ) -> Result<Option<String>> {
        match self.inner.try_validate(&token) {
            SyncValidation::Done(result) => sync(
                &env,
                result.and_then(|c| Self::authorise(c, scopes, any, organization)),
            )
            .map(Some),
            SyncValidation::NeedsFetch => Ok(None),
        }
    }

    /// Verifies `token` on this thread, blocking on a key fetch only when the keys are not cached
    /// (call `refresh()` at startup to avoid that). Then checks `scopes`.
    #[napi(ts_return_type = "string")]
    pub fn validate_sync(
        &self,
        env: Env,
        token: String,
        scopes: Option<Vec<String>>,
        any: Option<bool>,
        organization: Option<bool>,
    ) -> Result<String> {
        let result = self.verify_blocking(&token);
        sync(
            &env,
            result.and_then(|c| Self::authorise(c, scopes, any, organization)),
        )
    }

    /// Verifies `token` on napi's runtime, fetching keys as needed. Then checks `scopes`.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn validate<'env>(
        &self,
        env: &'env Env,
        token: String,
        scopes: Option<Vec<String>>,
        any: Option<bool>,
        organization: Option<bool>,
    ) -> Result<PromiseRaw<'env, String>> {
        let inner = self.inner.clone();
        spawn(env, async move {
            let claims = inner.validate(&token).await?;
            Self::authorise(claims, scopes, any, organization)
        })
    }

    /// Verifies `token` like `validateSync` and returns the scopes it grants (the union of the
    /// configured scope claims, in order of appearance).
    #[napi]
    pub fn granted_scopes(&self, env: Env, token: String) -> Result<Vec<String>> {
        let result = self.verify_blocking(&token);
        sync(&env, result.map(|c| c.scopes().to_vec()))
    }

    /// Fetches the keys now (ignoring the cooldown), e.g. at startup to fail fast.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn refresh<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ()>> {
        let inner = self.inner.clone();
        spawn(env, async move { inner.refresh().await })
    }

    /// Empties the verified-token cache.
    #[napi]
    pub fn clear_token_cache(&self) {
        self.inner.clear_token_cache();
    }

    /// The JWKS cache's state.
    #[napi(ts_return_type = "JwksStatus")]
    pub fn status(&self) -> JsJwksStatus {
        let s = self.inner.status();
        JsJwksStatus {
            source: s.source,
            key_count: s.key_count as u32,
            kids: s.kids,
            rejected_keys: s.rejected_keys as u32,
            fresh: s.fresh,
            stale: s.stale,
            cooling_down: s.cooling_down,
            fetching: s.fetching,
            fetch_count: s.fetch_count as f64,
            failure_count: s.failure_count as f64,
            consecutive_failures: s.consecutive_failures,
        }
    }

    /// The issuer this validator requires, if any.
    #[napi(getter)]
    pub fn issuer(&self) -> Option<String> {
        self.inner.issuer().map(str::to_owned)
    }
}

/// The state of a validator's JWKS cache.
#[napi(object, js_name = "JwksStatus")]
#[derive(Debug)]
pub struct JsJwksStatus {
    /// Where the keys come from.
    pub source: String,
    /// Usable keys.
    pub key_count: u32,
    /// Their `kid`s.
    pub kids: Vec<String>,
    /// Keys refused (unsupported type, weak RSA…).
    pub rejected_keys: u32,
    /// Loaded and within their TTL.
    pub fresh: bool,
    /// Past their TTL, still used while the endpoint fails.
    pub stale: bool,
    /// A fetch for an unknown `kid` would be refused now.
    pub cooling_down: bool,
    /// A fetch is running.
    pub fetching: bool,
    /// Fetches so far.
    pub fetch_count: f64,
    /// Failed fetches.
    pub failure_count: f64,
    /// Failures since the last success.
    pub consecutive_failures: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_options_are_checked() {
        assert_eq!(seconds("leeway", 1.5).unwrap(), Duration::from_millis(1500));
        for bad in [-1.0, f64::NAN, f64::INFINITY, 2.0e9] {
            assert_eq!(seconds("leeway", bad).unwrap_err().code(), "invalid_argument");
        }
        let base = || ValidatorConfig::jwks_url("https://idp.example.com/keys");
        let bad_match = JsValidatorOptions {
            scope_match: Some("some".into()),
            ..Default::default()
        };
        assert!(configure(base(), bad_match).is_err());
        let bad_alg = JsValidatorOptions {
            algorithms: Some(vec!["HS256".into()]),
            ..Default::default()
        };
        assert!(configure(base(), bad_alg).is_err());
        let ok = JsValidatorOptions {
            audience: Some(Either::A("api".into())),
            clock_tolerance: Some(5.0),
            scope_match: Some("any".into()),
            ..Default::default()
        };
        let config = configure(base(), ok).unwrap();
        assert_eq!(config.audiences, ["api"]);
        assert_eq!(config.leeway, Duration::from_secs(5));
        assert_eq!(config.scope_match, ScopeMatch::Any);
    }
}
