//! `ScalekitClient`: one API over a remote environment or an embedded authority.

use std::sync::Arc;

use authgate_core::remote::{RemoteClient, RemoteOptions};
use authgate_core::{AuthApi, Secret};
use pyo3::prelude::*;

use crate::errors;
use crate::m2m::PyM2MClientService;
use crate::organizations::PyOrganizationService;
use crate::runtime;
use crate::tokens::PyTokenService;
use crate::types::repr_str;
use crate::users::PyUserService;

/// Where the client's operations go.
enum Mode {
    /// A Scalekit-compatible environment over HTTPS (`authgate serve`, or Scalekit).
    Remote {
        client_id: String,
        client_secret: Secret,
    },
}

/// The authgate client, a drop-in for the official `scalekit.ScalekitClient`.
///
/// `ScalekitClient(env_url, client_id, client_secret)` talks to an environment over HTTP
/// (authenticating lazily, on the first call). The same surface is offered in every mode.
#[pyclass(name = "ScalekitClient", module = "authgate", frozen)]
pub struct PyScalekitClient {
    api: Arc<dyn AuthApi>,
    mode: Mode,
    env_url: String,
    tokens: Py<PyTokenService>,
    m2m_client: Py<PyM2MClientService>,
    organization: Py<PyOrganizationService>,
    users: Py<PyUserService>,
}

impl PyScalekitClient {
    fn build(py: Python<'_>, api: Arc<dyn AuthApi>, mode: Mode, env_url: String) -> PyResult<Self> {
        Ok(PyScalekitClient {
            tokens: Py::new(py, PyTokenService::new(api.clone()))?,
            m2m_client: Py::new(py, PyM2MClientService::new(api.clone()))?,
            organization: Py::new(py, PyOrganizationService::new(api.clone()))?,
            users: Py::new(py, PyUserService::new(api.clone()))?,
            api,
            mode,
            env_url,
        })
    }
}

#[pymethods]
impl PyScalekitClient {
    /// A client of the environment at `env_url`, authenticating with its API credentials.
    /// Nothing is sent until the first call.
    #[new]
    fn new(py: Python<'_>, env_url: &str, client_id: String, client_secret: String) -> PyResult<Self> {
        let mut options = RemoteOptions::default();
        options.sdk_version = Some(format!("Authgate-Python/{}", env!("CARGO_PKG_VERSION")));
        let secret = Secret::new(client_secret);
        let remote =
            RemoteClient::new(env_url, client_id.clone(), secret.clone(), options).map_err(errors::to_py)?;
        let env_url = remote.env_url().to_owned();
        let mode = Mode::Remote {
            client_id,
            client_secret: secret,
        };
        PyScalekitClient::build(py, Arc::new(remote), mode, env_url)
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

    /// The environment URL (remote) or the issuer (embedded), without a trailing slash.
    #[getter]
    fn env_url(&self) -> &str {
        &self.env_url
    }

    /// `"remote"` or `"embedded"`.
    #[getter]
    fn mode(&self) -> &'static str {
        match self.mode {
            Mode::Remote { .. } => "remote",
        }
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

    /// An access token for the client's own credentials (remote mode).
    fn get_client_access_token(&self, py: Python<'_>) -> PyResult<String> {
        match &self.mode {
            Mode::Remote {
                client_id,
                client_secret,
            } => {
                let api = &self.api;
                let token = runtime::block_on(
                    py,
                    api.issue_client_token(client_id, client_secret.expose(), None),
                )?;
                Ok(token.access_token.into_inner())
            }
        }
    }

    fn __repr__(&self) -> String {
        match &self.mode {
            Mode::Remote { client_id, .. } => format!(
                "ScalekitClient(env_url={}, client_id={})",
                repr_str(&self.env_url),
                repr_str(client_id)
            ),
        }
    }
}
