//! `ScalekitClient`: one API over a remote environment or an embedded authority.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use authgate_core::jwt::JwtValidator;
use authgate_core::setup::{self, Client, LocalSettings, RemoteSettings};
use authgate_core::{AuthApi, Error, Secret};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::audit::PyAuditService;
use crate::errors::{self, ScalekitValidateTokenFailureException};
use crate::jwt::{self, PyJwtValidator, PyTokenValidationOptions};
use crate::m2m::PyM2MClientService;
use crate::organizations::PyOrganizationService;
use crate::runtime;
use crate::tokens::PyTokenService;
use crate::types::{self, repr_str};
use crate::users::PyUserService;

/// The `x-sdk-version` this package sends.
const SDK_VERSION: &str = concat!("Authgate-Python/", env!("CARGO_PKG_VERSION"));

/// At most this many (issuer, audience) combinations keep a validator (and its verified-token
/// cache); further combinations get a fresh validator per call, sharing the same keys.
const MAX_VALIDATORS: usize = 32;

/// What `repr` shows of the client's origin.
enum Origin {
    /// The environment's client id.
    Remote { client_id: String },
    /// The database URL, password redacted.
    Embedded { database: String },
}

/// (issuer, audiences) of a validator.
type ValidatorKey = (String, Vec<String>);

/// The client's JWT validation: the keys of its set-up, one validator per (issuer, audiences).
struct Jwt {
    setup: Client,
    validators: Mutex<HashMap<ValidatorKey, Py<PyJwtValidator>>>,
}

impl Jwt {
    fn new(setup: Client) -> Self {
        Jwt {
            setup,
            validators: Mutex::new(HashMap::new()),
        }
    }

    fn validator(
        &self,
        py: Python<'_>,
        issuer: Option<String>,
        audiences: Vec<String>,
    ) -> PyResult<Py<PyJwtValidator>> {
        let key = (
            self.setup
                .validator_issuer(issuer.as_deref())
                .map_err(errors::to_py)?,
            audiences,
        );
        // The lock is never held across anything that may run Python code (allocation can run
        // finalizers, which can switch threads): another thread waiting for it with the GIL
        // would deadlock. Cloning a `Py` only increments a reference count.
        let lock = || self.validators.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(validator) = lock().get(&key) {
            return Ok(validator.clone_ref(py));
        }
        let config = self
            .setup
            .validator_config(Some(&key.0), key.1.clone())
            .map_err(errors::to_py)?;
        let inner = JwtValidator::new(config).map_err(errors::to_py)?;
        let validator = Py::new(py, PyJwtValidator::wrap(inner, self.setup.key_source.clone()))?;
        let existing = {
            let mut validators = lock();
            match validators.get(&key) {
                Some(existing) => Some(existing.clone_ref(py)),
                None => {
                    if validators.len() < MAX_VALIDATORS {
                        validators.insert(key, validator.clone_ref(py));
                    }
                    None
                }
            }
        };
        // Another thread built one first: use it (ours is dropped here, outside the lock).
        if let Some(existing) = existing {
            return Ok(existing);
        }
        Ok(validator)
    }
}

/// The authgate client, a drop-in for the official `scalekit.ScalekitClient`.
///
/// `ScalekitClient(env_url, client_id, client_secret)` talks to an environment over HTTP
/// (authenticating lazily, on the first call); `ScalekitClient.local(database_url)` runs the
/// authority in this process. The same surface is offered in both modes.
#[pyclass(name = "ScalekitClient", module = "authgate", frozen)]
pub struct PyScalekitClient {
    api: Arc<dyn AuthApi>,
    origin: Origin,
    env_url: String,
    jwt: Jwt,
    tokens: Py<PyTokenService>,
    m2m_client: Py<PyM2MClientService>,
    organization: Py<PyOrganizationService>,
    users: Py<PyUserService>,
    audit: Py<PyAuditService>,
}

impl PyScalekitClient {
    fn build(py: Python<'_>, setup: Client, origin: Origin) -> PyResult<Self> {
        let api = setup.api.clone();
        Ok(PyScalekitClient {
            tokens: Py::new(py, PyTokenService::new(api.clone()))?,
            m2m_client: Py::new(py, PyM2MClientService::new(api.clone()))?,
            organization: Py::new(py, PyOrganizationService::new(api.clone()))?,
            users: Py::new(py, PyUserService::new(api.clone()))?,
            audit: Py::new(py, PyAuditService::new(api.clone()))?,
            env_url: setup.issuer.clone(),
            jwt: Jwt::new(setup),
            api,
            origin,
        })
    }

    /// The validator for these options, and the scopes they require.
    fn resolve(
        &self,
        py: Python<'_>,
        options: Option<PyRef<'_, PyTokenValidationOptions>>,
        audience: Option<Bound<'_, PyAny>>,
    ) -> PyResult<(Py<PyJwtValidator>, Vec<String>)> {
        let (issuer, mut audiences, required) = match &options {
            Some(o) => (
                o.issuer.clone().filter(|i| !i.is_empty()),
                o.audience.clone().unwrap_or_default(),
                o.required_scopes.clone().unwrap_or_default(),
            ),
            None => (None, Vec::new(), Vec::new()),
        };
        if audiences.is_empty() {
            audiences = types::opt_str_list(audience.as_ref(), "audience")?.unwrap_or_default();
        }
        Ok((self.jwt.validator(py, issuer, audiences)?, required))
    }

    fn claims<'py>(
        &self,
        py: Python<'py>,
        token: &str,
        options: Option<PyRef<'_, PyTokenValidationOptions>>,
        audience: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let (validator, required) = self.resolve(py, options, audience)?;
        let claims = jwt::validate(
            py,
            &validator.get().inner,
            token,
            &jwt::requirement(Some(required), false, false),
        )?;
        jwt::claims_dict(py, &claims)
    }
}

#[pymethods]
impl PyScalekitClient {
    /// A client of the environment at `env_url`, authenticating with its API credentials.
    /// Nothing is sent until the first call (or [`check`](Self::check)). Options (defaults in
    /// `tests/vectors/client_options.json`, the same as Node's; durations in seconds):
    /// `timeout` (5.0: the deadline of one call, retries and the environment token included;
    /// also bounds each JWKS fetch), `connect_timeout` (2.0), `retries` (2),
    /// `dangerous_allow_insecure_http` (False).
    #[new]
    #[pyo3(signature = (
        env_url,
        client_id,
        client_secret,
        *,
        timeout=None,
        connect_timeout=None,
        retries=None,
        dangerous_allow_insecure_http=None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        env_url: &str,
        client_id: String,
        client_secret: String,
        timeout: Option<f64>,
        connect_timeout: Option<f64>,
        retries: Option<u32>,
        dangerous_allow_insecure_http: Option<bool>,
    ) -> PyResult<Self> {
        let defaults = RemoteSettings::default();
        let settings = RemoteSettings {
            timeout: timeout.unwrap_or(defaults.timeout),
            connect_timeout: connect_timeout.unwrap_or(defaults.connect_timeout),
            retries: retries.unwrap_or(defaults.retries),
            dangerous_allow_insecure_http: dangerous_allow_insecure_http
                .unwrap_or(defaults.dangerous_allow_insecure_http),
        };
        let runtime = format!("Python {}.{}", py.version_info().major, py.version_info().minor);
        let setup = Client::remote(
            env_url,
            client_id.clone(),
            Secret::new(client_secret),
            settings,
            SDK_VERSION,
            &runtime,
        )
        .map_err(errors::to_py)?;
        PyScalekitClient::build(py, setup, Origin::Remote { client_id })
    }

    /// An embedded client: the authority runs in this process on `database_url`
    /// (`sqlite:///path/to/file.db`, or `postgres://…` to share a store with other nodes).
    /// `issuer` is the `iss` of the access tokens it issues and requires (default:
    /// `AUTHGATE_ISSUER`, else `http://localhost`); `key_pepper` and `master_key` default to
    /// `AUTHGATE_KEY_PEPPER` and `AUTHGATE_MASTER_KEY`, as read by `authgate serve`.
    #[staticmethod]
    #[pyo3(signature = (database_url, issuer=None, *, key_pepper=None, master_key=None))]
    fn local(
        py: Python<'_>,
        database_url: String,
        issuer: Option<String>,
        key_pepper: Option<String>,
        master_key: Option<String>,
    ) -> PyResult<Self> {
        let settings = LocalSettings {
            issuer,
            key_pepper: key_pepper.map(Secret::new),
            master_key: master_key.map(Secret::new),
        };
        let url = database_url.clone();
        let setup = runtime::block_on(py, async move { Client::embedded(&url, &settings).await })?;
        let origin = Origin::Embedded {
            database: setup::redact_database_url(&database_url),
        };
        PyScalekitClient::build(py, setup, origin)
    }

    /// API keys: `create_token`, `validate_token`, `list_tokens`, `update_token`, `invalidate_token`.
    #[getter]
    fn tokens(&self, py: Python<'_>) -> Py<PyTokenService> {
        self.tokens.clone_ref(py)
    }

    /// M2M clients of organizations (client credentials).
    #[getter]
    fn m2m_client(&self, py: Python<'_>) -> Py<PyM2MClientService> {
        self.m2m_client.clone_ref(py)
    }

    /// Organizations.
    #[getter]
    fn organization(&self, py: Python<'_>) -> Py<PyOrganizationService> {
        self.organization.clone_ref(py)
    }

    /// Users and memberships.
    #[getter]
    fn users(&self, py: Python<'_>) -> Py<PyUserService> {
        self.users.clone_ref(py)
    }

    /// The audit log (an authgate extension).
    #[getter]
    fn audit(&self, py: Python<'_>) -> Py<PyAuditService> {
        self.audit.clone_ref(py)
    }

    /// The environment URL (remote) or the issuer (embedded), without a trailing slash: the
    /// `iss` access tokens must carry.
    #[getter]
    fn env_url(&self) -> &str {
        &self.env_url
    }

    /// `"remote"` or `"embedded"` (the same names in Node).
    #[getter]
    fn mode(&self) -> &'static str {
        self.jwt.setup.mode.name()
    }

    /// The remote options in effect (`timeout`, `connect_timeout`, `retries`,
    /// `dangerous_allow_insecure_http`); `None` for an embedded client.
    #[getter]
    fn options<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(s) = &self.jwt.setup.settings else {
            return Ok(None);
        };
        let dict = PyDict::new(py);
        dict.set_item("timeout", s.timeout)?;
        dict.set_item("connect_timeout", s.connect_timeout)?;
        dict.set_item("retries", s.retries)?;
        dict.set_item("dangerous_allow_insecure_http", s.dangerous_allow_insecure_http)?;
        Ok(Some(dict))
    }

    /// Verifies a JWT access token and returns its claims (`dict`). The issuer must be the
    /// environment's (or `options.issuer`); with `options.audience` or `audience=`, `aud` must
    /// hold one of them; `options.required_scopes` must all be granted.
    #[pyo3(signature = (token, options=None, audience=None))]
    fn validate_access_token_and_get_claims<'py>(
        &self,
        py: Python<'py>,
        token: &str,
        options: Option<PyRef<'_, PyTokenValidationOptions>>,
        audience: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        self.claims(py, token, options, audience)
    }

    /// Same as `validate_access_token_and_get_claims` (the official SDK's name for the JWT check;
    /// API keys are validated by `client.tokens.validate_token`).
    #[pyo3(signature = (token, options=None, audience=None))]
    fn validate_token<'py>(
        &self,
        py: Python<'py>,
        token: &str,
        options: Option<PyRef<'_, PyTokenValidationOptions>>,
        audience: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        self.claims(py, token, options, audience)
    }

    /// `True` when the access token validates, `False` when it is rejected (including missing
    /// scopes). Raises when the keys cannot be obtained: that is no verdict on the token.
    #[pyo3(signature = (token, options=None, audience=None))]
    fn validate_access_token(
        &self,
        py: Python<'_>,
        token: &str,
        options: Option<PyRef<'_, PyTokenValidationOptions>>,
        audience: Option<Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        match self.claims(py, token, options, audience) {
            Ok(_) => Ok(true),
            Err(e) if e.is_instance_of::<ScalekitValidateTokenFailureException>(py) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Verifies the access token, then checks that it carries every scope in `required_scopes`
    /// (raising `ScalekitInsufficientScopeException`, a `ScalekitValidateTokenFailureException`,
    /// naming the missing ones). Returns `True`.
    fn verify_scopes(&self, py: Python<'_>, token: &str, required_scopes: Vec<String>) -> PyResult<bool> {
        let validator = self.jwt.validator(py, None, Vec::new())?;
        jwt::validate(
            py,
            &validator.get().inner,
            token,
            &jwt::requirement(Some(required_scopes), false, false),
        )?;
        Ok(true)
    }

    /// The `JwtValidator` this client uses for an issuer (default: the environment's) and
    /// audience; the Flask and FastAPI adapters use it.
    #[pyo3(signature = (issuer=None, audience=None))]
    fn jwt_validator(
        &self,
        py: Python<'_>,
        issuer: Option<String>,
        audience: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyJwtValidator>> {
        let audiences = types::opt_str_list(audience.as_ref(), "audience")?.unwrap_or_default();
        self.jwt.validator(py, issuer, audiences)
    }

    /// The client-credentials grant: an access token for `client_id` / `client_secret`,
    /// with `scopes` (default: all the client's scopes).
    #[pyo3(signature = (client_id, client_secret, scopes=None))]
    fn generate_client_token(
        &self,
        py: Python<'_>,
        client_id: String,
        client_secret: String,
        scopes: Option<Vec<String>>,
    ) -> PyResult<String> {
        let api = &self.api;
        let token = runtime::block_on(py, api.issue_client_token(&client_id, &client_secret, scopes))?;
        Ok(token.access_token.into_inner())
    }

    /// An access token for the client's own environment credentials (remote mode; an embedded
    /// client has no credentials of its own).
    fn get_client_access_token(&self, py: Python<'_>) -> PyResult<String> {
        match &self.jwt.setup.credentials {
            Some(credentials) => {
                let api = &self.api;
                let token = runtime::block_on(
                    py,
                    api.issue_client_token(&credentials.client_id, credentials.client_secret.expose(), None),
                )?;
                Ok(token.access_token.into_inner())
            }
            None => Err(errors::to_py(Error::FailedPrecondition(
                "an embedded client has no client credentials; use generate_client_token(client_id, client_secret)"
                    .into(),
            ))),
        }
    }

    /// Checks that the client can work; meant for start-up. Remote: fetches an environment
    /// access token with the credentials, within `timeout` (refused credentials raise
    /// `ScalekitUnauthorizedException` with code `invalid_client`; an unreachable environment
    /// `ScalekitServiceUnavailableException`; no answer in time
    /// `ScalekitGatewayTimeoutException`). Embedded: reads the signing keys from the store.
    fn check(&self, py: Python<'_>) -> PyResult<()> {
        let setup = self.jwt.setup.clone();
        runtime::block_on(py, async move { setup.check().await })
    }

    fn __repr__(&self) -> String {
        match &self.origin {
            Origin::Remote { client_id } => format!(
                "ScalekitClient(env_url={}, client_id={})",
                repr_str(&self.env_url),
                repr_str(client_id)
            ),
            Origin::Embedded { database } => format!(
                "ScalekitClient.local({}, issuer={})",
                repr_str(database),
                repr_str(&self.env_url)
            ),
        }
    }
}
