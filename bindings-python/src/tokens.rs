//! `client.tokens`: opaque API keys (Scalekit's `TokenClient`).

use std::collections::BTreeMap;
use std::sync::Arc;

use authgate_core::authority::limits;
use authgate_core::model::{
    CreateToken, ListTokens, RateLimit, RotateToken, TokenInfo, UpdateToken, ValidateOptions,
};
use authgate_core::{AuthApi, Error, Secret};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyInt};

use crate::runtime;
use crate::types::{self, list_response, repr_opt, repr_str, response};

/// What is known about an API key (Scalekit's `Token` message): returned by create, validate,
/// list and update. Never holds the key itself.
#[pyclass(name = "TokenInfo", module = "authgate", frozen)]
pub struct PyTokenInfo(pub TokenInfo);

#[pymethods]
impl PyTokenInfo {
    /// `apit_…`: the stable id for list/update/invalidate. Not a credential.
    #[getter]
    fn token_id(&self) -> &str {
        &self.0.token_id
    }

    /// `org_…`
    #[getter]
    fn organization_id(&self) -> &str {
        &self.0.organization_id
    }

    /// The organization's external id (`""` when it has none).
    #[getter]
    fn organization_external_id(&self) -> &str {
        &self.0.organization_external_id
    }

    /// `usr_…` for user-scoped keys, `None` for organization-scoped keys.
    #[getter]
    fn user_id(&self) -> Option<&str> {
        self.0.user_id.as_deref()
    }

    /// The user's external id, for user-scoped keys.
    #[getter]
    fn user_external_id(&self) -> Option<&str> {
        self.0.user_external_id.as_deref()
    }

    /// Caller-defined claims, as a new `dict[str, str]`.
    #[getter]
    fn custom_claims<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        types::str_map(py, &self.0.custom_claims)
    }

    /// When the key stops validating (aware UTC `datetime`), `None` = never.
    #[getter]
    fn expiry<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        types::opt_datetime(py, self.0.expiry)
    }

    /// When the key was created (aware UTC `datetime`).
    #[getter]
    fn created_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        types::datetime(py, self.0.created_at)
    }

    /// Free text.
    #[getter]
    fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    /// The last four characters of the key, for display.
    #[getter]
    fn token_suffix(&self) -> &str {
        &self.0.token_suffix
    }

    /// The user's email, for user-scoped keys.
    #[getter]
    fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }

    /// The user's roles in the organization, for user-scoped keys.
    #[getter]
    fn roles(&self) -> Vec<String> {
        self.0.roles.clone()
    }

    /// When the key was revoked (aware UTC `datetime`); only on revoked keys, which only
    /// `list_tokens(include_revoked=True)` returns.
    #[getter]
    fn revoked_at<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        types::opt_datetime(py, self.0.revoked_at)
    }

    /// The `apit_…` id of the key this one replaced by `rotate_token`, if any.
    #[getter]
    fn rotated_from(&self) -> Option<&str> {
        self.0.rotated_from.as_deref()
    }

    /// The last successful validation (aware UTC `datetime`), written at most every few seconds
    /// (5 s by default) per process; `None` until then.
    #[getter]
    fn last_used_time<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        types::opt_datetime(py, self.0.last_used_time)
    }

    /// The `apit_…` id of the key that replaced this one by `rotate_token`, if any (this key's
    /// `expiry` is then the end of its grace period).
    #[getter]
    fn rotated_to(&self) -> Option<&str> {
        self.0.rotated_to.as_deref()
    }

    /// The networks the key may be used from (canonical `addr/prefix` strings, a new list on
    /// each access); `None` = any address. (authgate extension.)
    #[getter]
    fn allowed_cidrs(&self) -> Option<Vec<String>> {
        self.0.allowed_cidrs.clone()
    }

    /// How often the key may be used (a `RateLimit`); `None` = no limit. (authgate extension.)
    #[getter]
    fn rate_limit(&self) -> Option<PyRateLimit> {
        self.0.rate_limit.map(PyRateLimit)
    }

    /// Plain data (`dict`), e.g. for a JSON response. Timestamps are RFC 3339 strings.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        types::to_plain(py, &self.0)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<PyTokenInfo>().is_ok_and(|o| o.get().0 == self.0)
    }

    fn __repr__(&self) -> String {
        format!(
            "TokenInfo(token_id={}, organization_id={}, user_id={}, description={}, token_suffix={})",
            repr_str(&self.0.token_id),
            repr_str(&self.0.organization_id),
            repr_opt(self.0.user_id.as_deref()),
            repr_opt(self.0.description.as_deref()),
            repr_str(&self.0.token_suffix),
        )
    }
}

/// A per-key rate limit (an authgate extension): at most `limit` successful validations per
/// fixed window of `window_seconds` (windows aligned to the Unix epoch). Over it, validation
/// raises `ScalekitRateLimitedException` (`.retry_after`: seconds left in the window).
///
/// Where a rate limit is an argument, a `dict` `{"limit": …, "window_seconds": …}` is accepted
/// too.
#[pyclass(name = "RateLimit", module = "authgate", frozen)]
#[derive(Clone)]
pub struct PyRateLimit(pub RateLimit);

#[pymethods]
impl PyRateLimit {
    /// `limit`: validations per window (1–1,000,000,000); `window_seconds`: 1–86,400. Out of
    /// range is a `ScalekitBadRequestException` (`invalid_argument`).
    #[new]
    fn new(limit: &Bound<'_, PyAny>, window_seconds: &Bound<'_, PyAny>) -> PyResult<Self> {
        let rate = RateLimit {
            limit: whole(limit, "rate_limit.limit")?,
            window_seconds: whole(window_seconds, "rate_limit.window_seconds")?,
        };
        limits::rate_limit(&rate).map_err(crate::errors::to_py)?;
        Ok(PyRateLimit(rate))
    }

    /// Validations allowed per window.
    #[getter]
    fn limit(&self) -> u64 {
        self.0.limit
    }

    /// The window length in seconds.
    #[getter]
    fn window_seconds(&self) -> u64 {
        self.0.window_seconds
    }

    /// `{"limit": …, "window_seconds": …}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        types::to_plain(py, &self.0)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<PyRateLimit>().is_ok_and(|o| o.get().0 == self.0)
    }

    fn __hash__(&self) -> u64 {
        self.0
            .limit
            .wrapping_mul(86_401)
            .wrapping_add(self.0.window_seconds)
    }

    fn __repr__(&self) -> String {
        format!(
            "RateLimit(limit={}, window_seconds={})",
            self.0.limit, self.0.window_seconds
        )
    }
}

/// A non-negative whole number (`int`, not `bool`) for `field`.
fn whole(value: &Bound<'_, PyAny>, field: &str) -> PyResult<u64> {
    if value.is_instance_of::<PyBool>() || !value.is_instance_of::<PyInt>() {
        return Err(PyTypeError::new_err(format!(
            "{field}: expected an int, got {}",
            value.get_type().name()?
        )));
    }
    // Negative or huge: out of range, said by the core's own range check.
    Ok(value.extract::<u64>().unwrap_or(u64::MAX))
}

/// A `rate_limit` argument: a `RateLimit`, or a `dict` with exactly `limit` and
/// `window_seconds`. Ranges are checked by the core, as for every other caller.
fn extract_rate_limit(value: &Bound<'_, PyAny>) -> PyResult<RateLimit> {
    if let Ok(rate) = value.cast::<PyRateLimit>() {
        return Ok(rate.get().0);
    }
    let Ok(dict) = value.cast::<PyDict>() else {
        return Err(PyTypeError::new_err(format!(
            "rate_limit: expected a RateLimit or a dict {{\"limit\": int, \"window_seconds\": int}}, got {}",
            value.get_type().name()?
        )));
    };
    for key in dict.keys() {
        let name: String = key.extract().unwrap_or_default();
        if name != "limit" && name != "window_seconds" {
            return Err(crate::errors::invalid(
                "rate_limit",
                &format!("unknown field {key}; expected limit and window_seconds"),
            ));
        }
    }
    let field = |name: &str| -> PyResult<u64> {
        match dict.get_item(name)? {
            Some(v) => whole(&v, &format!("rate_limit.{name}")),
            None => Err(crate::errors::invalid(
                "rate_limit",
                &format!("{name} is required"),
            )),
        }
    };
    Ok(RateLimit {
        limit: field("limit")?,
        window_seconds: field("window_seconds")?,
    })
}

/// The `client_ip` of a validation (core rule: an IPv4 or IPv6 address, no port).
fn validate_options(client_ip: Option<&str>) -> PyResult<ValidateOptions> {
    let client_ip = client_ip
        .map(limits::client_ip)
        .transpose()
        .map_err(crate::errors::to_py)?;
    Ok(ValidateOptions { client_ip })
}

/// `allowed_cidrs=` / `rate_limit=` of `update_token` with their `remove_…` flags: `Some(None)`
/// removes; giving a value and its removal together is refused.
fn replace_or_remove<T>(value: Option<T>, remove: bool, field: &str) -> PyResult<Option<Option<T>>> {
    match (value, remove) {
        (Some(_), true) => Err(crate::errors::to_py(Error::invalid(
            field,
            format!("give {field} or remove_{field}, not both"),
        ))),
        (Some(v), false) => Ok(Some(Some(v))),
        (None, true) => Ok(Some(None)),
        (None, false) => Ok(None),
    }
}

fn token_info(py: Python<'_>, info: TokenInfo) -> PyResult<Py<PyTokenInfo>> {
    Py::new(py, PyTokenInfo(info))
}

/// Result of `create_token`: the plain key (`.token`, shown once), `.token_id`, `.token_info`.
#[pyclass(name = "CreateTokenResponse", module = "authgate", frozen)]
pub struct PyCreateTokenResponse {
    token: Secret,
    token_id: String,
    token_info: Py<PyTokenInfo>,
}

#[pymethods]
impl PyCreateTokenResponse {
    /// The plain API key. Show it to its owner once: it cannot be retrieved again.
    #[getter]
    fn token(&self) -> &str {
        self.token.expose()
    }

    /// `apit_…`: keep this, not the key, for list/update/invalidate.
    #[getter]
    fn token_id(&self) -> &str {
        &self.token_id
    }

    /// The key's metadata.
    #[getter]
    fn token_info(&self, py: Python<'_>) -> Py<PyTokenInfo> {
        self.token_info.clone_ref(py)
    }

    fn __getitem__(slf: Bound<'_, Self>, index: isize) -> PyResult<Bound<'_, Self>> {
        types::response_item(slf, index)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "CreateTokenResponse(token=<redacted>, token_id={}, token_info={})",
            repr_str(&self.token_id),
            self.token_info.bind(py).get().__repr__()
        )
    }
}

response! {
    /// Result of `validate_token` (`.token_info`).
    "ValidateTokenResponse" => PyValidateTokenResponse {
        /// The organization / user context of the key.
        token_info: PyTokenInfo
    }
}

response! {
    /// Result of `update_token` (`.token_info`).
    "UpdateTokenResponse" => PyUpdateTokenResponse {
        /// The key's metadata after the update.
        token_info: PyTokenInfo
    }
}

list_response! {
    /// Result of `list_tokens`: one page of `.tokens`, `.total_count`, `.next_page_token`
    /// (`""` on the last page) and `.prev_page_token`.
    "ListTokensResponse" => PyListTokensResponse {
        /// This page (a new list of `TokenInfo` on each access).
        tokens: PyTokenInfo,
        /// Number of keys matching, over all pages.
        total_count,
    }
}

/// `client.tokens`: create, validate, list, update and invalidate API keys.
#[pyclass(name = "TokenService", module = "authgate", frozen)]
pub struct PyTokenService {
    api: Arc<dyn AuthApi>,
}

impl PyTokenService {
    pub fn new(api: Arc<dyn AuthApi>) -> Self {
        PyTokenService { api }
    }
}

#[pymethods]
impl PyTokenService {
    /// Creates an API key for an organization (or, with `user_id`, for one of its members).
    /// `allowed_cidrs` restricts it to networks (`["10.0.0.0/8", "2001:db8::/32"]`, 1–50
    /// entries); `rate_limit` (a `RateLimit` or `{"limit", "window_seconds"}`) limits how often
    /// it validates. Both are authgate extensions.
    #[pyo3(signature = (organization_id, user_id=None, custom_claims=None, expiry=None, description=None, allowed_cidrs=None, rate_limit=None))]
    #[allow(clippy::too_many_arguments)]
    fn create_token(
        &self,
        py: Python<'_>,
        organization_id: String,
        user_id: Option<String>,
        custom_claims: Option<BTreeMap<String, String>>,
        expiry: Option<Bound<'_, PyAny>>,
        description: Option<String>,
        allowed_cidrs: Option<Vec<String>>,
        rate_limit: Option<Bound<'_, PyAny>>,
    ) -> PyResult<PyCreateTokenResponse> {
        let expiry = expiry.map(|e| types::extract_instant(&e, "expiry")).transpose()?;
        let rate_limit = rate_limit.map(|r| extract_rate_limit(&r)).transpose()?;
        let input = CreateToken {
            organization_id,
            user_id,
            custom_claims: custom_claims.unwrap_or_default(),
            expiry,
            description,
            allowed_cidrs,
            rate_limit,
        };
        let api = &self.api;
        let created = runtime::block_on(py, api.create_token(input))?;
        Ok(PyCreateTokenResponse {
            token: created.token,
            token_id: created.token_id,
            token_info: token_info(py, created.token_info)?,
        })
    }

    /// Validates a plain API key; raises `ScalekitValidateTokenFailureException` when it is
    /// unknown, malformed, expired or revoked (one error for all, by design).
    ///
    /// `client_ip` is the caller's address (the web adapters pass the request's): a key with
    /// `allowed_cidrs` validates only from inside them, and without an address it fails like an
    /// invalid key. A key over its `rate_limit` raises `ScalekitRateLimitedException`
    /// (`.retry_after`). A malformed `client_ip` is a `ScalekitBadRequestException`.
    ///
    /// Embedded on SQLite (and for any malformed key) this runs on the calling thread without
    /// releasing the GIL: a few microseconds, less than the hop to the runtime would cost.
    #[pyo3(signature = (token, client_ip=None))]
    fn validate_token(
        &self,
        py: Python<'_>,
        token: &str,
        client_ip: Option<&str>,
    ) -> PyResult<PyValidateTokenResponse> {
        let api = &self.api;
        let options = validate_options(client_ip)?;
        let info = match api.validate_token_now_with(token, &options) {
            Some(result) => result.map_err(crate::errors::to_py)?,
            None => runtime::block_on(py, api.validate_token_with(token, &options))?,
        };
        Ok(PyValidateTokenResponse {
            token_info: token_info(py, info)?,
        })
    }

    /// Lists an organization's live keys (optionally one user's), oldest first, one page at a
    /// time; with `include_revoked=True`, revoked keys too (each with its `revoked_at`); with
    /// `unused_since` (a `datetime` or Unix seconds), only keys not used since.
    #[pyo3(signature = (organization_id, user_id=None, page_size=None, page_token=None, include_revoked=false, unused_since=None))]
    #[allow(clippy::too_many_arguments)]
    fn list_tokens(
        &self,
        py: Python<'_>,
        organization_id: String,
        user_id: Option<String>,
        page_size: Option<u32>,
        page_token: Option<String>,
        include_revoked: bool,
        unused_since: Option<Bound<'_, PyAny>>,
    ) -> PyResult<PyListTokensResponse> {
        let unused_since = unused_since
            .map(|t| types::extract_instant(&t, "unused_since"))
            .transpose()?;
        let input = ListTokens {
            unused_since,
            organization_id,
            user_id,
            page_size,
            page_token: page_token.filter(|t| !t.is_empty()),
            include_revoked,
        };
        let api = &self.api;
        let page = runtime::block_on(py, api.list_tokens(input))?;
        PyListTokensResponse::new(
            py,
            page.tokens.into_iter().map(PyTokenInfo),
            page.total_count,
            page.next_page_token,
            page.prev_page_token,
        )
    }

    /// Replaces the custom claims (when given) and/or the description (when given; `""` clears
    /// it) of a key, addressed by the key or its `apit_…` id. `allowed_cidrs` / `rate_limit`
    /// replace the key's networks / rate limit; `remove_allowed_cidrs=True` /
    /// `remove_rate_limit=True` remove them (a value and its removal together are refused).
    #[pyo3(signature = (token, custom_claims=None, description=None, allowed_cidrs=None, rate_limit=None, remove_allowed_cidrs=false, remove_rate_limit=false))]
    #[allow(clippy::too_many_arguments)]
    fn update_token(
        &self,
        py: Python<'_>,
        token: String,
        custom_claims: Option<BTreeMap<String, String>>,
        description: Option<String>,
        allowed_cidrs: Option<Vec<String>>,
        rate_limit: Option<Bound<'_, PyAny>>,
        remove_allowed_cidrs: bool,
        remove_rate_limit: bool,
    ) -> PyResult<PyUpdateTokenResponse> {
        let rate_limit = rate_limit.map(|r| extract_rate_limit(&r)).transpose()?;
        let input = UpdateToken {
            token,
            custom_claims,
            description,
            allowed_cidrs: replace_or_remove(allowed_cidrs, remove_allowed_cidrs, "allowed_cidrs")?,
            rate_limit: replace_or_remove(rate_limit, remove_rate_limit, "rate_limit")?,
        };
        let api = &self.api;
        let info = runtime::block_on(py, api.update_token(input))?;
        Ok(PyUpdateTokenResponse {
            token_info: token_info(py, info)?,
        })
    }

    /// Rotates a key (by the key or its `apit_…` id): a new key with the same organization,
    /// user, claims, description, expiry and settings (`.token_info.rotated_from` names the old
    /// one). The old key keeps validating for `grace_period_seconds` (default 86400; 0 = revoked
    /// at once), then is revoked. `rate_limit` gives the new key another rate limit (default:
    /// the old key's). Returns a `CreateTokenResponse` holding the new plain key.
    #[pyo3(signature = (token, grace_period_seconds=None, rate_limit=None))]
    fn rotate_token(
        &self,
        py: Python<'_>,
        token: String,
        grace_period_seconds: Option<i64>,
        rate_limit: Option<Bound<'_, PyAny>>,
    ) -> PyResult<PyCreateTokenResponse> {
        let rate_limit = rate_limit.map(|r| extract_rate_limit(&r)).transpose()?;
        let input = RotateToken {
            token,
            grace_period_seconds,
            rate_limit,
        };
        let api = &self.api;
        let rotated = runtime::block_on(py, api.rotate_token(input))?;
        Ok(PyCreateTokenResponse {
            token: rotated.token,
            token_id: rotated.token_id,
            token_info: token_info(py, rotated.token_info)?,
        })
    }

    /// Revokes a key, by the key or its `apit_…` id. Idempotent and effective at once.
    fn invalidate_token(&self, py: Python<'_>, token: &str) -> PyResult<()> {
        let api = &self.api;
        runtime::block_on(py, api.invalidate_token(token))
    }

    fn __repr__(&self) -> String {
        "TokenService()".to_owned()
    }
}
