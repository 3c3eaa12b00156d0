//! `JwtValidator`, `VerifiedToken` and `TokenValidationOptions`: JWT access-token validation
//! against cached JWKS (any issuer), with scope checks.
//!
//! Validation runs on the calling thread, GIL held, when the keys are cached (the common case:
//! tens of microseconds of CPU, less on a verified-token cache hit). Only a key fetch releases
//! the GIL and waits on the runtime.

use std::time::Duration;

use authgate_core::jwt::{
    Algorithm, Claims, FixedClock, JwksConfig, JwtValidator, KeySource, Requirement, ScopeMatch,
    SyncValidation, ValidatorConfig,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use crate::errors;
use crate::runtime;
use crate::types::{self, repr_opt, repr_opt_list};

/// The requirement of a validator method's arguments: `required_scopes` (all, or any with
/// `any=True`) and, with `organization=True`, an organization's token.
pub fn requirement(required_scopes: Option<Vec<String>>, any: bool, organization: bool) -> Requirement {
    Requirement {
        scopes: required_scopes.unwrap_or_default(),
        mode: if any { ScopeMatch::Any } else { ScopeMatch::All },
        organization,
    }
}

/// Verifies `token` with `validator`, then checks `requirement`. Synchronous on cached keys; a
/// key fetch releases the GIL.
pub fn validate(
    py: Python<'_>,
    validator: &JwtValidator,
    token: &str,
    requirement: &Requirement,
) -> PyResult<Claims> {
    match try_validate(validator, token, requirement)? {
        Some(claims) => Ok(claims),
        None => runtime::block_on(py, async {
            let claims = validator.validate(token).await?;
            claims.check(requirement)?;
            Ok(claims)
        }),
    }
}

/// Like [`validate`] but never blocks: `None` when keys must be fetched first.
pub fn try_validate(
    validator: &JwtValidator,
    token: &str,
    requirement: &Requirement,
) -> PyResult<Option<Claims>> {
    // Inside the runtime's context so a due refresh-ahead can start in the background.
    let outcome = {
        let _context = runtime::enter()?;
        validator.try_validate(token)
    };
    match outcome {
        SyncValidation::Done(result) => result
            .and_then(|claims| claims.check(requirement).map(|()| claims))
            .map(Some)
            .map_err(errors::to_py),
        SyncValidation::NeedsFetch => Ok(None),
    }
}

/// The claims as a new `dict` (what `json.loads` of the payload would give).
pub fn claims_dict<'py>(py: Python<'py>, claims: &Claims) -> PyResult<Bound<'py, PyDict>> {
    types::json_object(py, claims.as_map())
}

/// A verified access token: its claims and what authgate derived from them.
#[pyclass(name = "VerifiedToken", module = "authgate", frozen)]
pub struct PyVerifiedToken(pub Claims);

#[pymethods]
impl PyVerifiedToken {
    /// Every claim, as a new `dict`.
    #[getter]
    fn claims<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        claims_dict(py, &self.0)
    }

    /// The granted scopes: the union of the configured scope claims (`scopes`, `scope`, `scp`,
    /// `permissions` by default), each a space-separated string or a list, in order, deduplicated.
    #[getter]
    fn scopes(&self) -> Vec<String> {
        self.0.scopes().to_vec()
    }

    /// `sub`: for client-credentials tokens, the M2M client id.
    #[getter]
    fn subject(&self) -> Option<&str> {
        self.0.subject()
    }

    /// `client_id`.
    #[getter]
    fn client_id(&self) -> Option<&str> {
        self.0.client_id()
    }

    /// `oid`: the organization of an M2M client.
    #[getter]
    fn organization_id(&self) -> Option<&str> {
        self.0.organization_id()
    }

    /// `iss`.
    #[getter]
    fn issuer(&self) -> Option<&str> {
        self.0.issuer()
    }

    /// `aud`, always as a list.
    #[getter]
    fn audiences(&self) -> Vec<String> {
        self.0.audiences().into_iter().map(str::to_owned).collect()
    }

    /// `exp`, Unix seconds.
    #[getter]
    fn expires_at(&self) -> i64 {
        self.0.expires_at()
    }

    /// `jti`.
    #[getter]
    fn token_id(&self) -> Option<&str> {
        self.0.jwt_id()
    }

    /// Whether `scope` is granted.
    fn has_scope(&self, scope: &str) -> bool {
        self.0.has_scope(scope)
    }

    /// One claim, or `default`.
    #[pyo3(signature = (name, default=None))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        match self.0.get(name) {
            Some(value) => types::json(py, value),
            None => Ok(default.unwrap_or_else(|| py.None().into_bound(py))),
        }
    }

    fn __getitem__<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        match self.0.get(name) {
            Some(value) => types::json(py, value),
            None => Err(pyo3::exceptions::PyKeyError::new_err(name.to_owned())),
        }
    }

    fn __contains__(&self, name: &str) -> bool {
        self.0.get(name).is_some()
    }

    fn __repr__(&self) -> String {
        format!(
            "VerifiedToken(subject={}, organization_id={}, scopes={}, expires_at={})",
            repr_opt(self.0.subject()),
            repr_opt(self.0.organization_id()),
            types::repr_list(self.0.scopes()),
            self.0.expires_at()
        )
    }
}

/// Options of the client's JWT methods (the official SDK's `TokenValidationOptions`).
#[pyclass(name = "TokenValidationOptions", module = "authgate")]
pub struct PyTokenValidationOptions {
    /// Required `iss`. Default: the client's environment URL (remote) or issuer (embedded).
    #[pyo3(get, set)]
    pub issuer: Option<String>,
    /// Accepted audiences: `aud` must hold at least one.
    pub audience: Option<Vec<String>>,
    /// Scopes the token must all carry.
    pub required_scopes: Option<Vec<String>>,
}

#[pymethods]
impl PyTokenValidationOptions {
    #[new]
    #[pyo3(signature = (issuer=None, audience=None, required_scopes=None))]
    fn new(
        issuer: Option<String>,
        audience: Option<Bound<'_, PyAny>>,
        required_scopes: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        Ok(PyTokenValidationOptions {
            issuer,
            audience: types::opt_str_list(audience.as_ref(), "audience")?,
            required_scopes: types::opt_str_list(required_scopes.as_ref(), "required_scopes")?,
        })
    }

    /// Accepted audiences.
    #[getter]
    fn get_audience(&self) -> Option<Vec<String>> {
        self.audience.clone()
    }

    #[setter]
    fn set_audience(&mut self, value: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        self.audience = types::opt_str_list(value.as_ref(), "audience")?;
        Ok(())
    }

    /// Scopes the token must all carry.
    #[getter]
    fn get_required_scopes(&self) -> Option<Vec<String>> {
        self.required_scopes.clone()
    }

    #[setter]
    fn set_required_scopes(&mut self, value: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        self.required_scopes = types::opt_str_list(value.as_ref(), "required_scopes")?;
        Ok(())
    }

    fn __repr__(&self) -> String {
        format!(
            "TokenValidationOptions(issuer={}, audience={}, required_scopes={})",
            repr_opt(self.issuer.as_deref()),
            repr_opt_list(self.audience.as_deref()),
            repr_opt_list(self.required_scopes.as_deref())
        )
    }
}

fn seconds(value: f64, field: &str) -> PyResult<Duration> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| PyValueError::new_err(format!("{field}: expected a non-negative number of seconds")))
}

fn jwks_json(py: Python<'_>, jwks: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = jwks.cast::<PyString>() {
        return Ok(s.to_cow()?.into_owned());
    }
    if jwks.cast::<PyDict>().is_ok() {
        return py.import("json")?.call_method1("dumps", (jwks,))?.extract();
    }
    Err(PyTypeError::new_err(
        "jwks: expected a JWK Set as a dict or a JSON string",
    ))
}

/// Verifies JWT access tokens from any issuer against its JWKS, then checks scopes.
///
/// Keys come from `jwks_url`, from OpenID Connect discovery on `issuer` (when `jwks_url` is not
/// given), or from a fixed `jwks` document. Validators for the same URL, issuer and settings
/// share one key cache in the process.
#[pyclass(name = "JwtValidator", module = "authgate", frozen)]
pub struct PyJwtValidator {
    pub inner: JwtValidator,
    source: String,
}

impl PyJwtValidator {
    pub fn wrap(inner: JwtValidator, source: String) -> Self {
        PyJwtValidator { inner, source }
    }
}

#[pymethods]
impl PyJwtValidator {
    #[new]
    #[pyo3(signature = (
        issuer=None,
        jwks_url=None,
        *,
        jwks=None,
        audience=None,
        algorithms=None,
        leeway=60.0,
        max_token_size=8192,
        typ=None,
        scope_claims=None,
        required_scopes=None,
        scope_match="all",
        token_cache_size=10_000,
        jwks_cache_ttl=300.0,
        jwks_fetch_timeout=5.0,
        dangerous_allow_insecure_http=false,
        dangerous_fixed_time=None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        issuer: Option<String>,
        jwks_url: Option<String>,
        jwks: Option<Bound<'_, PyAny>>,
        audience: Option<Bound<'_, PyAny>>,
        algorithms: Option<Bound<'_, PyAny>>,
        leeway: f64,
        max_token_size: usize,
        typ: Option<String>,
        scope_claims: Option<Bound<'_, PyAny>>,
        required_scopes: Option<Bound<'_, PyAny>>,
        scope_match: &str,
        token_cache_size: usize,
        jwks_cache_ttl: f64,
        jwks_fetch_timeout: f64,
        dangerous_allow_insecure_http: bool,
        dangerous_fixed_time: Option<i64>,
    ) -> PyResult<Self> {
        let (keys, source) = match (jwks, jwks_url) {
            (Some(_), Some(_)) => {
                return Err(PyTypeError::new_err(
                    "JwtValidator: give jwks_url or jwks, not both",
                ));
            }
            (Some(jwks), None) => (
                KeySource::StaticJson(jwks_json(py, &jwks)?),
                "static JWKS".to_owned(),
            ),
            (None, Some(url)) => (KeySource::JwksUrl(url.clone()), url),
            (None, None) => match &issuer {
                Some(issuer) => (KeySource::Discovery, format!("discovery from {issuer}")),
                None => {
                    return Err(PyTypeError::new_err(
                        "JwtValidator: give jwks_url, jwks, or an issuer to discover the keys from",
                    ));
                }
            },
        };
        let mut config = ValidatorConfig::new(keys);
        config.issuer = issuer;
        config.audiences = types::opt_str_list(audience.as_ref(), "audience")?.unwrap_or_default();
        if let Some(names) = types::opt_str_list(algorithms.as_ref(), "algorithms")? {
            config.algorithms = names
                .iter()
                .map(|name| {
                    Algorithm::from_name(name).ok_or_else(|| {
                        errors::invalid("algorithms", &format!("unsupported algorithm {name:?}"))
                    })
                })
                .collect::<PyResult<_>>()?;
        }
        config.leeway = seconds(leeway, "leeway")?;
        config.max_token_size = max_token_size;
        config.required_typ = typ;
        if let Some(claims) = types::opt_str_list(scope_claims.as_ref(), "scope_claims")? {
            config.scope_claims = claims;
        }
        config.required_scopes =
            types::opt_str_list(required_scopes.as_ref(), "required_scopes")?.unwrap_or_default();
        config.scope_match = match scope_match {
            "all" => ScopeMatch::All,
            "any" => ScopeMatch::Any,
            _ => return Err(errors::invalid("scope_match", "expected \"all\" or \"any\"")),
        };
        config.token_cache_capacity = token_cache_size;
        let mut jwks_config = JwksConfig::default();
        jwks_config.default_ttl = seconds(jwks_cache_ttl, "jwks_cache_ttl")?;
        jwks_config.fetch_timeout = seconds(jwks_fetch_timeout, "jwks_fetch_timeout")?;
        jwks_config.dangerous_allow_insecure_http = dangerous_allow_insecure_http;
        config.jwks = jwks_config;
        if let Some(now) = dangerous_fixed_time {
            config.clock = std::sync::Arc::new(FixedClock::new(now));
        }
        let inner = JwtValidator::new(config).map_err(errors::to_py)?;
        Ok(PyJwtValidator::wrap(inner, source))
    }

    /// Verifies `token` and returns its claims as a `dict`. Raises
    /// `ScalekitValidateTokenFailureException` (401), `ScalekitInsufficientScopeException`
    /// (403) when `required_scopes` are not all (or, with `any=True`, none) granted or, with
    /// `organization=True`, when the token is not an organization's (the environment's admin
    /// token: no `oid`), or
    /// `ScalekitKeysUnavailableException` (503).
    #[pyo3(signature = (token, required_scopes=None, *, any=false, organization=false))]
    fn validate<'py>(
        &self,
        py: Python<'py>,
        token: &str,
        required_scopes: Option<Vec<String>>,
        any: bool,
        organization: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        let claims = validate(
            py,
            &self.inner,
            token,
            &requirement(required_scopes, any, organization),
        )?;
        claims_dict(py, &claims)
    }

    /// Like `validate`, but returns a `VerifiedToken` (claims plus the derived scopes, subject,
    /// organization…).
    #[pyo3(signature = (token, required_scopes=None, *, any=false, organization=false))]
    fn verify(
        &self,
        py: Python<'_>,
        token: &str,
        required_scopes: Option<Vec<String>>,
        any: bool,
        organization: bool,
    ) -> PyResult<PyVerifiedToken> {
        validate(
            py,
            &self.inner,
            token,
            &requirement(required_scopes, any, organization),
        )
        .map(PyVerifiedToken)
    }

    /// Like `validate`, but never blocks: returns `None` when the keys must be fetched first
    /// (call `validate` from a worker thread then). For async frameworks.
    #[pyo3(signature = (token, required_scopes=None, *, any=false, organization=false))]
    fn try_validate<'py>(
        &self,
        py: Python<'py>,
        token: &str,
        required_scopes: Option<Vec<String>>,
        any: bool,
        organization: bool,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        try_validate(
            &self.inner,
            token,
            &requirement(required_scopes, any, organization),
        )?
        .map(|claims| claims_dict(py, &claims))
        .transpose()
    }

    /// Like `verify`, but never blocks: `None` when the keys must be fetched first.
    #[pyo3(signature = (token, required_scopes=None, *, any=false, organization=false))]
    fn try_verify(
        &self,
        token: &str,
        required_scopes: Option<Vec<String>>,
        any: bool,
        organization: bool,
    ) -> PyResult<Option<PyVerifiedToken>> {
        Ok(try_validate(
            &self.inner,
            token,
            &requirement(required_scopes, any, organization),
        )?
        .map(PyVerifiedToken))
    }

    /// Fetches the keys now (e.g. at startup, to fail fast); raises
    /// `ScalekitKeysUnavailableException` when they cannot be obtained.
    fn refresh(&self, py: Python<'_>) -> PyResult<()> {
        let inner = &self.inner;
        runtime::block_on(py, inner.refresh())
    }

    /// Empties the verified-token cache.
    fn clear_token_cache(&self) {
        self.inner.clear_token_cache();
    }

    /// The state of the key cache, as a `dict` (source, key ids, freshness, fetch counters,
    /// last error), for health checks and metrics.
    fn key_status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let status = self.inner.status();
        let dict = PyDict::new(py);
        dict.set_item("source", &status.source)?;
        dict.set_item("key_count", status.key_count)?;
        dict.set_item("kids", PyList::new(py, &status.kids)?)?;
        dict.set_item("rejected_keys", status.rejected_keys)?;
        dict.set_item("fresh", status.fresh)?;
        dict.set_item("stale", status.stale)?;
        dict.set_item("cooling_down", status.cooling_down)?;
        dict.set_item("fetching", status.fetching)?;
        dict.set_item("fetch_count", status.fetch_count)?;
        dict.set_item("failure_count", status.failure_count)?;
        dict.set_item("consecutive_failures", status.consecutive_failures)?;
        dict.set_item("last_error", status.last_error.as_deref())?;
        dict.set_item("expires_in", status.expires_in.map(|d| d.as_secs_f64()))?;
        Ok(dict)
    }

    /// The required issuer, if any.
    #[getter]
    fn issuer(&self) -> Option<&str> {
        self.inner.issuer()
    }

    fn __repr__(&self) -> String {
        format!(
            "JwtValidator(issuer={}, keys={})",
            repr_opt(self.inner.issuer()),
            types::repr_str(&self.source)
        )
    }
}
