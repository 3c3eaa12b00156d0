//! `ClientCredentials`: the API client's side of the client-credentials grant — fetches access
//! tokens, caches them, refreshes them ahead of expiry, one request at a time.

use std::time::{Duration, UNIX_EPOCH};

use authgate_core::Secret;
use authgate_core::oauth::{AccessToken, ClientAuthMethod, TokenFetcher, TokenFetcherConfig};
use pyo3::prelude::*;

use crate::errors;
use crate::runtime;
use crate::types::{self, repr_str};

/// An access token obtained from a token endpoint.
#[pyclass(name = "AccessToken", module = "authgate", frozen)]
pub struct PyAccessToken(AccessToken);

#[pymethods]
impl PyAccessToken {
    /// The token. Send it as `Authorization: Bearer …`.
    #[getter]
    fn access_token(&self) -> &str {
        self.0.access_token.expose()
    }

    /// `Bearer`.
    #[getter]
    fn token_type(&self) -> &str {
        &self.0.token_type
    }

    /// Granted scopes, space-separated.
    #[getter]
    fn scope(&self) -> &str {
        &self.0.scope
    }

    /// Granted scopes, as a list.
    #[getter]
    fn scopes(&self) -> Vec<String> {
        self.0.scopes().into_iter().map(str::to_owned).collect()
    }

    /// Seconds left before it expires.
    #[getter]
    fn expires_in(&self) -> f64 {
        self.0.expires_in().as_secs_f64()
    }

    /// When it expires (aware UTC `datetime`).
    #[getter]
    fn expires_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let since_epoch = self.0.expires_at.duration_since(UNIX_EPOCH).unwrap_or_default();
        let at = time::OffsetDateTime::from_unix_timestamp_nanos(since_epoch.as_nanos() as i128)
            .map_err(|e| errors::internal(e.to_string()))?;
        types::datetime(py, at)
    }

    fn __repr__(&self) -> String {
        format!(
            "AccessToken(access_token=<redacted>, token_type={}, scope={}, expires_in={:.0})",
            repr_str(&self.0.token_type),
            repr_str(&self.0.scope),
            self.expires_in()
        )
    }
}

/// Fetches client-credentials access tokens from `token_url` for an API client, caches them and
/// refreshes them ahead of expiry (about 80 % into their lifetime). Share one per process.
///
/// ```python
/// creds = ClientCredentials(f"{env_url}/oauth/token", client_id, client_secret, scopes=["deploy:applications"])
/// requests.post(url, headers={"Authorization": creds.authorization_header()})
/// ```
#[pyclass(name = "ClientCredentials", module = "authgate", frozen)]
pub struct PyClientCredentials {
    fetcher: TokenFetcher,
    token_url: String,
    client_id: String,
}

impl PyClientCredentials {
    fn token(&self, py: Python<'_>) -> PyResult<AccessToken> {
        let fetcher = &self.fetcher;
        runtime::block_on(py, fetcher.get_token())
    }
}

#[pymethods]
impl PyClientCredentials {
    #[new]
    #[pyo3(signature = (
        token_url,
        client_id,
        client_secret,
        *,
        scopes=None,
        audience=None,
        auth_method="client_secret_post",
        timeout=10.0,
        dangerous_allow_insecure_http=false,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        token_url: String,
        client_id: String,
        client_secret: String,
        scopes: Option<Bound<'_, PyAny>>,
        audience: Option<String>,
        auth_method: &str,
        timeout: f64,
        dangerous_allow_insecure_http: bool,
    ) -> PyResult<Self> {
        let mut config =
            TokenFetcherConfig::new(token_url.clone(), client_id.clone(), Secret::new(client_secret));
        config.scopes = types::opt_str_list(scopes.as_ref(), "scopes")?.unwrap_or_default();
        if let Some(audience) = audience {
            config.extra_params.push(("audience".to_owned(), audience));
        }
        config.auth_method = match auth_method {
            "client_secret_post" => ClientAuthMethod::ClientSecretPost,
            "client_secret_basic" => ClientAuthMethod::ClientSecretBasic,
            _ => {
                return Err(errors::invalid(
                    "auth_method",
                    "expected \"client_secret_post\" or \"client_secret_basic\"",
                ));
            }
        };
        config.timeout = Duration::try_from_secs_f64(timeout)
            .map_err(|_| errors::invalid("timeout", "expected a positive number of seconds"))?;
        config.dangerous_allow_insecure_http = dangerous_allow_insecure_http;
        let fetcher = TokenFetcher::new(config).map_err(errors::to_py)?;
        Ok(PyClientCredentials {
            fetcher,
            token_url,
            client_id,
        })
    }

    /// A valid access token string: the cached one while fresh, otherwise a new one.
    fn get_token(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.token(py)?.access_token.into_inner())
    }

    /// Like `get_token`, with the token's type, scopes and expiry.
    fn get_access_token(&self, py: Python<'_>) -> PyResult<PyAccessToken> {
        Ok(PyAccessToken(self.token(py)?))
    }

    /// `"Bearer <token>"`, for an `Authorization` header.
    fn authorization_header(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!("Bearer {}", self.token(py)?.access_token.expose()))
    }

    /// Drops the cached token (after an API answered 401 with it), so the next call fetches a
    /// new one. With `access_token`, only if that is the cached token.
    #[pyo3(signature = (access_token=None))]
    fn invalidate(&self, access_token: Option<&str>) {
        match access_token {
            Some(token) => self.fetcher.invalidate_token(token),
            None => self.fetcher.invalidate(),
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "ClientCredentials(token_url={}, client_id={})",
            repr_str(&self.token_url),
            repr_str(&self.client_id)
        )
    }
}
