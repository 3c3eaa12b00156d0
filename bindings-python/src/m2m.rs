//! `client.m2m_client`: organization M2M clients for the client-credentials grant
//! (Scalekit's `M2MClient` service and `OrganizationClient` / `M2MClient` messages).

use std::sync::Arc;

use authgate_core::model::{ClientSecret, CustomClaim, M2MClient, OrganizationClient, SecretStatus};
use authgate_core::{AuthApi, Secret};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use crate::runtime;
use crate::types::{self, list_response, repr_list, repr_opt, repr_opt_list, repr_str, response};

/// A custom claim of an M2M client: copied into the `custom_claims` object of its tokens.
#[pyclass(name = "CustomClaim", module = "authgate", frozen)]
#[derive(Clone)]
pub struct PyCustomClaim(pub CustomClaim);

#[pymethods]
impl PyCustomClaim {
    #[new]
    fn new(key: String, value: String) -> Self {
        PyCustomClaim(CustomClaim { key, value })
    }

    /// Claim name.
    #[getter]
    fn key(&self) -> &str {
        &self.0.key
    }

    /// Claim value.
    #[getter]
    fn value(&self) -> &str {
        &self.0.value
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        if let Ok(other) = other.cast::<PyCustomClaim>() {
            return other.get().0 == self.0;
        }
        // Equal to the `{"key": …, "value": …}` dict it may have been written as.
        parse_claim(other).is_ok_and(|c| c == self.0)
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (&self.0.key, &self.0.value).hash(&mut h);
        h.finish()
    }

    fn __repr__(&self) -> String {
        format!(
            "CustomClaim(key={}, value={})",
            repr_str(&self.0.key),
            repr_str(&self.0.value)
        )
    }
}

fn parse_claim(item: &Bound<'_, PyAny>) -> PyResult<CustomClaim> {
    if let Ok(claim) = item.cast::<PyCustomClaim>() {
        return Ok(claim.get().0.clone());
    }
    if let Ok(dict) = item.cast::<PyDict>() {
        let field = |name: &str| -> PyResult<String> {
            dict.get_item(name)?
                .ok_or_else(|| PyTypeError::new_err(format!("custom_claims: each claim needs a {name:?}")))?
                .extract()
        };
        if dict.len() == 2 {
            return Ok(CustomClaim {
                key: field("key")?,
                value: field("value")?,
            });
        }
    }
    Err(PyTypeError::new_err(
        "custom_claims: expected CustomClaim(key, value) or {\"key\": …, \"value\": …} items, or a dict of str to str",
    ))
}

/// `custom_claims` as a list of `CustomClaim` / `{"key", "value"}` dicts, or a `{name: value}` dict.
fn parse_claims(value: &Bound<'_, PyAny>) -> PyResult<Vec<CustomClaim>> {
    if let Ok(dict) = value.cast::<PyDict>() {
        let is_single_claim = dict.len() == 2 && dict.contains("key")? && dict.contains("value")?;
        if !is_single_claim {
            return dict
                .iter()
                .map(|(k, v)| {
                    Ok(CustomClaim {
                        key: k.extract()?,
                        value: v.extract()?,
                    })
                })
                .collect();
        }
    }
    if value.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(
            "custom_claims: expected a list of claims, not a string",
        ));
    }
    value
        .try_iter()
        .map_err(|_| PyTypeError::new_err("custom_claims: expected a list of claims"))?
        .map(|item| parse_claim(&item?))
        .collect()
}

fn claims_list<'py>(py: Python<'py>, claims: &[CustomClaim]) -> PyResult<Bound<'py, PyList>> {
    PyList::new(py, claims.iter().map(|c| PyCustomClaim(c.clone())))
}

/// The settings of an M2M client (Scalekit's `OrganizationClient` message), the input of
/// `create_organization_client` and `update_organization_client`. On update, attributes left
/// `None` keep their current value and `custom_claims` is replaced when given.
#[pyclass(name = "OrganizationClient", module = "authgate")]
pub struct PyOrganizationClient(pub OrganizationClient);

#[pymethods]
impl PyOrganizationClient {
    #[new]
    #[pyo3(signature = (name=None, description=None, scopes=None, audience=None, custom_claims=None, expiry=None))]
    fn new(
        name: Option<String>,
        description: Option<String>,
        scopes: Option<Bound<'_, PyAny>>,
        audience: Option<Bound<'_, PyAny>>,
        custom_claims: Option<Bound<'_, PyAny>>,
        expiry: Option<i64>,
    ) -> PyResult<Self> {
        let mut this = PyOrganizationClient(OrganizationClient::default());
        this.0.name = name;
        this.0.description = description;
        this.set_scopes(scopes)?;
        this.set_audience(audience)?;
        this.set_custom_claims(custom_claims)?;
        this.0.expiry = expiry;
        Ok(this)
    }

    /// Display name (required on create).
    #[getter]
    fn get_name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }

    #[setter]
    fn set_name(&mut self, value: Option<String>) {
        self.0.name = value;
    }

    /// Free text.
    #[getter]
    fn get_description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    #[setter]
    fn set_description(&mut self, value: Option<String>) {
        self.0.description = value;
    }

    /// Scopes the client may request (`resource:action`).
    #[getter]
    fn get_scopes(&self) -> Option<Vec<String>> {
        self.0.scopes.clone()
    }

    #[setter]
    fn set_scopes(&mut self, value: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        self.0.scopes = types::opt_str_list(value.as_ref(), "scopes")?;
        Ok(())
    }

    /// Audiences put in the `aud` claim of its tokens.
    #[getter]
    fn get_audience(&self) -> Option<Vec<String>> {
        self.0.audience.clone()
    }

    #[setter]
    fn set_audience(&mut self, value: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        self.0.audience = types::opt_str_list(value.as_ref(), "audience")?;
        Ok(())
    }

    /// Claims copied into the `custom_claims` object of its tokens.
    #[getter]
    fn get_custom_claims<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyList>>> {
        self.0
            .custom_claims
            .as_deref()
            .map(|c| claims_list(py, c))
            .transpose()
    }

    #[setter]
    fn set_custom_claims(&mut self, value: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        self.0.custom_claims = value
            .filter(|v| !v.is_none())
            .map(|v| parse_claims(&v))
            .transpose()?;
        Ok(())
    }

    /// Access-token lifetime in seconds (the server's default is 3600).
    #[getter]
    fn get_expiry(&self) -> Option<i64> {
        self.0.expiry
    }

    #[setter]
    fn set_expiry(&mut self, value: Option<i64>) {
        self.0.expiry = value;
    }

    fn __repr__(&self) -> String {
        format!(
            "OrganizationClient(name={}, scopes={}, audience={}, expiry={})",
            repr_opt(self.0.name.as_deref()),
            repr_opt_list(self.0.scopes.as_deref()),
            repr_opt_list(self.0.audience.as_deref()),
            self.0.expiry.map_or_else(|| "None".to_owned(), |e| e.to_string())
        )
    }
}

/// Metadata of a client secret (the plain secret is only in create responses).
#[pyclass(name = "ClientSecret", module = "authgate", frozen)]
pub struct PyClientSecret(pub ClientSecret);

#[pymethods]
impl PyClientSecret {
    /// `sks_…`
    #[getter]
    fn id(&self) -> &str {
        &self.0.id
    }

    #[getter]
    fn create_time<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        types::datetime(py, self.0.create_time)
    }

    #[getter]
    fn update_time<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        types::datetime(py, self.0.update_time)
    }

    /// The last four characters of the plain secret.
    #[getter]
    fn secret_suffix(&self) -> &str {
        &self.0.secret_suffix
    }

    #[getter]
    fn created_by(&self) -> Option<&str> {
        self.0.created_by.as_deref()
    }

    /// `"ACTIVE"` or `"INACTIVE"`.
    #[getter]
    fn status(&self) -> &'static str {
        match self.0.status {
            SecretStatus::Active => "ACTIVE",
            SecretStatus::Inactive => "INACTIVE",
        }
    }

    #[getter]
    fn expire_time<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        types::opt_datetime(py, self.0.expire_time)
    }

    #[getter]
    fn last_used_time<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        types::opt_datetime(py, self.0.last_used_time)
    }

    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        types::to_plain(py, &self.0)
    }

    fn __repr__(&self) -> String {
        format!(
            "ClientSecret(id={}, secret_suffix={}, status='{}')",
            repr_str(&self.0.id),
            repr_str(&self.0.secret_suffix),
            self.status()
        )
    }
}

/// An organization's M2M client (Scalekit's `M2MClient` message).
#[pyclass(name = "M2MClient", module = "authgate", frozen)]
pub struct PyM2MClient(pub M2MClient);

#[pymethods]
impl PyM2MClient {
    /// `m2morg_…`: the OAuth `client_id`, also the `sub` of its tokens.
    #[getter]
    fn client_id(&self) -> &str {
        &self.0.client_id
    }

    /// Its secrets (metadata only).
    #[getter]
    fn secrets<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, self.0.secrets.iter().map(|s| PyClientSecret(s.clone())))
    }

    #[getter]
    fn name(&self) -> &str {
        &self.0.name
    }

    #[getter]
    fn description(&self) -> &str {
        &self.0.description
    }

    #[getter]
    fn organization_id(&self) -> &str {
        &self.0.organization_id
    }

    #[getter]
    fn create_time<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        types::datetime(py, self.0.create_time)
    }

    #[getter]
    fn update_time<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        types::datetime(py, self.0.update_time)
    }

    #[getter]
    fn scopes(&self) -> Vec<String> {
        self.0.scopes.clone()
    }

    #[getter]
    fn audience(&self) -> Vec<String> {
        self.0.audience.clone()
    }

    #[getter]
    fn custom_claims<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        claims_list(py, &self.0.custom_claims)
    }

    /// Access-token lifetime in seconds.
    #[getter]
    fn expiry(&self) -> i64 {
        self.0.expiry
    }

    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        types::to_plain(py, &self.0)
    }

    fn __repr__(&self) -> String {
        format!(
            "M2MClient(client_id={}, name={}, organization_id={}, scopes={})",
            repr_str(&self.0.client_id),
            repr_str(&self.0.name),
            repr_str(&self.0.organization_id),
            repr_list(&self.0.scopes)
        )
    }
}

/// Result of `create_organization_client`: `.client` and its first `.plain_secret` (shown once).
#[pyclass(name = "CreateOrganizationClientResponse", module = "authgate", frozen)]
pub struct PyCreateOrganizationClientResponse {
    client: Py<PyM2MClient>,
    plain_secret: Secret,
}

#[pymethods]
impl PyCreateOrganizationClientResponse {
    #[getter]
    fn client(&self, py: Python<'_>) -> Py<PyM2MClient> {
        self.client.clone_ref(py)
    }

    /// The client secret. Hand it over once: it cannot be retrieved again.
    #[getter]
    fn plain_secret(&self) -> &str {
        self.plain_secret.expose()
    }

    fn __getitem__(slf: Bound<'_, Self>, index: isize) -> PyResult<Bound<'_, Self>> {
        types::response_item(slf, index)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "CreateOrganizationClientResponse(client={}, plain_secret=<redacted>)",
            self.client.bind(py).get().__repr__()
        )
    }
}

response! {
    /// Result of get / update organization client (`.client`).
    "OrganizationClientResponse" => PyOrganizationClientResponse { client: PyM2MClient }
}

/// Result of `add_organization_client_secret`: `.plain_secret` (shown once) and `.secret`.
#[pyclass(name = "CreateOrganizationClientSecretResponse", module = "authgate", frozen)]
pub struct PyCreateOrganizationClientSecretResponse {
    plain_secret: Secret,
    secret: Py<PyClientSecret>,
}

#[pymethods]
impl PyCreateOrganizationClientSecretResponse {
    /// The new secret. Hand it over once.
    #[getter]
    fn plain_secret(&self) -> &str {
        self.plain_secret.expose()
    }

    #[getter]
    fn secret(&self, py: Python<'_>) -> Py<PyClientSecret> {
        self.secret.clone_ref(py)
    }

    fn __getitem__(slf: Bound<'_, Self>, index: isize) -> PyResult<Bound<'_, Self>> {
        types::response_item(slf, index)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "CreateOrganizationClientSecretResponse(plain_secret=<redacted>, secret={})",
            self.secret.bind(py).get().__repr__()
        )
    }
}

list_response! {
    /// Result of `list_organization_clients`.
    "ListOrganizationClientsResponse" => PyListOrganizationClientsResponse {
        /// This page (a new list of `M2MClient` on each access).
        clients: PyM2MClient,
        /// Number of clients of the organization.
        total_size,
    }
}

/// `m2m_client=` accepts an `OrganizationClient` or a dict of its fields.
fn client_input(value: &Bound<'_, PyAny>) -> PyResult<OrganizationClient> {
    if let Ok(client) = value.cast::<PyOrganizationClient>() {
        return Ok(client.borrow().0.clone());
    }
    if let Ok(dict) = value.cast::<PyDict>() {
        let get = |name: &str| dict.get_item(name);
        for key in dict.keys() {
            let key: String = key.extract()?;
            if ![
                "name",
                "description",
                "scopes",
                "audience",
                "custom_claims",
                "expiry",
            ]
            .contains(&key.as_str())
            {
                return Err(PyTypeError::new_err(format!("m2m_client: unknown field {key:?}")));
            }
        }
        let client = PyOrganizationClient::new(
            get("name")?.map(|v| v.extract()).transpose()?,
            get("description")?.map(|v| v.extract()).transpose()?,
            get("scopes")?,
            get("audience")?,
            get("custom_claims")?,
            get("expiry")?.map(|v| v.extract()).transpose()?,
        )?;
        return Ok(client.0);
    }
    Err(PyTypeError::new_err("m2m_client: expected an OrganizationClient"))
}

/// `client.m2m_client`: register and manage an organization's M2M clients and their secrets.
#[pyclass(name = "M2MClientService", module = "authgate", frozen)]
pub struct PyM2MClientService {
    api: Arc<dyn AuthApi>,
}

impl PyM2MClientService {
    pub fn new(api: Arc<dyn AuthApi>) -> Self {
        PyM2MClientService { api }
    }
}

fn m2m(py: Python<'_>, client: M2MClient) -> PyResult<Py<PyM2MClient>> {
    Py::new(py, PyM2MClient(client))
}

#[pymethods]
impl PyM2MClientService {
    /// Registers an M2M client; the response carries its first secret, once.
    fn create_organization_client(
        &self,
        py: Python<'_>,
        organization_id: String,
        m2m_client: Bound<'_, PyAny>,
    ) -> PyResult<PyCreateOrganizationClientResponse> {
        let input = client_input(&m2m_client)?;
        let api = &self.api;
        let created = runtime::block_on(py, api.create_organization_client(&organization_id, input))?;
        Ok(PyCreateOrganizationClientResponse {
            client: m2m(py, created.client)?,
            plain_secret: created.plain_secret,
        })
    }

    fn get_organization_client(
        &self,
        py: Python<'_>,
        organization_id: String,
        client_id: String,
    ) -> PyResult<PyOrganizationClientResponse> {
        let api = &self.api;
        let client = runtime::block_on(py, api.get_organization_client(&organization_id, &client_id))?;
        Ok(PyOrganizationClientResponse {
            client: m2m(py, client)?,
        })
    }

    /// Updates a client: attributes left `None` keep their value; `custom_claims` is replaced.
    fn update_organization_client(
        &self,
        py: Python<'_>,
        organization_id: String,
        client_id: String,
        m2m_client: Bound<'_, PyAny>,
    ) -> PyResult<PyOrganizationClientResponse> {
        let input = client_input(&m2m_client)?;
        let api = &self.api;
        let client = runtime::block_on(
            py,
            api.update_organization_client(&organization_id, &client_id, input),
        )?;
        Ok(PyOrganizationClientResponse {
            client: m2m(py, client)?,
        })
    }

    /// Deletes a client and its secrets.
    fn delete_organization_client(
        &self,
        py: Python<'_>,
        organization_id: String,
        client_id: String,
    ) -> PyResult<()> {
        let api = &self.api;
        runtime::block_on(py, api.delete_organization_client(&organization_id, &client_id))
    }

    #[pyo3(signature = (organization_id, page_size=None, page_token=None))]
    fn list_organization_clients(
        &self,
        py: Python<'_>,
        organization_id: String,
        page_size: Option<u32>,
        page_token: Option<String>,
    ) -> PyResult<PyListOrganizationClientsResponse> {
        let api = &self.api;
        let page = runtime::block_on(
            py,
            api.list_organization_clients(&organization_id, page_size, page_token.filter(|t| !t.is_empty())),
        )?;
        PyListOrganizationClientsResponse::new(
            py,
            page.clients.into_iter().map(PyM2MClient),
            page.total_size,
            page.next_page_token,
            page.prev_page_token,
        )
    }

    /// Adds a secret (for rotation); the response carries it once.
    fn add_organization_client_secret(
        &self,
        py: Python<'_>,
        organization_id: String,
        client_id: String,
    ) -> PyResult<PyCreateOrganizationClientSecretResponse> {
        let api = &self.api;
        let created = runtime::block_on(
            py,
            api.add_organization_client_secret(&organization_id, &client_id),
        )?;
        Ok(PyCreateOrganizationClientSecretResponse {
            plain_secret: created.plain_secret,
            secret: Py::new(py, PyClientSecret(created.secret))?,
        })
    }

    /// Removes a secret. Removing a client's last secret is refused (`ScalekitBadRequestException`).
    fn remove_organization_client_secret(
        &self,
        py: Python<'_>,
        organization_id: String,
        client_id: String,
        secret_id: String,
    ) -> PyResult<()> {
        let api = &self.api;
        runtime::block_on(
            py,
            api.remove_organization_client_secret(&organization_id, &client_id, &secret_id),
        )
    }

    fn __repr__(&self) -> String {
        "M2MClientService()".to_owned()
    }
}
