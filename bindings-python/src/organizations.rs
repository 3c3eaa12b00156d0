//! `client.organization`: organizations (tenants), the owners of API keys and M2M clients.

use std::sync::Arc;

use authgate_core::model::{CreateOrganization, ListOrganizations, Organization, UpdateOrganization};
use authgate_core::{AuthApi, Error};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

use crate::runtime;
use crate::types::{self, list_response, repr_opt, repr_str, response};

/// An organization: one customer (tenant) of your SaaS.
#[pyclass(name = "Organization", module = "authgate", frozen)]
pub struct PyOrganization(pub Organization);

#[pymethods]
impl PyOrganization {
    /// `org_…`
    #[getter]
    fn id(&self) -> &str {
        &self.0.id
    }

    #[getter]
    fn display_name(&self) -> &str {
        &self.0.display_name
    }

    /// Your own identifier for it, if set.
    #[getter]
    fn external_id(&self) -> Option<&str> {
        self.0.external_id.as_deref()
    }

    #[getter]
    fn create_time<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        types::datetime(py, self.0.create_time)
    }

    #[getter]
    fn update_time<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        types::datetime(py, self.0.update_time)
    }

    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        types::to_plain(py, &self.0)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<PyOrganization>().is_ok_and(|o| o.get().0 == self.0)
    }

    fn __repr__(&self) -> String {
        format!(
            "Organization(id={}, display_name={}, external_id={})",
            repr_str(&self.0.id),
            repr_str(&self.0.display_name),
            repr_opt(self.0.external_id.as_deref())
        )
    }
}

/// Input of `create_organization` (Scalekit's `CreateOrganization` message).
#[pyclass(name = "CreateOrganization", module = "authgate", get_all, set_all)]
pub struct PyCreateOrganization {
    /// Human-readable name (required).
    pub display_name: String,
    /// Optional unique identifier of your own.
    pub external_id: Option<String>,
}

#[pymethods]
impl PyCreateOrganization {
    #[new]
    #[pyo3(signature = (display_name, external_id=None))]
    fn new(display_name: String, external_id: Option<String>) -> Self {
        PyCreateOrganization {
            display_name,
            external_id,
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "CreateOrganization(display_name={}, external_id={})",
            repr_str(&self.display_name),
            repr_opt(self.external_id.as_deref())
        )
    }
}

/// Input of `update_organization` (Scalekit's `UpdateOrganization` message): the fields that
/// are set are the update; `external_id=""` removes the external id.
#[pyclass(name = "UpdateOrganization", module = "authgate", get_all, set_all)]
pub struct PyUpdateOrganization {
    /// New human-readable name.
    pub display_name: Option<String>,
    /// New unique identifier of your own (`""` removes it).
    pub external_id: Option<String>,
}

#[pymethods]
impl PyUpdateOrganization {
    #[new]
    #[pyo3(signature = (display_name=None, external_id=None))]
    fn new(display_name: Option<String>, external_id: Option<String>) -> Self {
        PyUpdateOrganization {
            display_name,
            external_id,
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "UpdateOrganization(display_name={}, external_id={})",
            repr_opt(self.display_name.as_deref()),
            repr_opt(self.external_id.as_deref())
        )
    }
}

/// The update of `update_organization[_by_external_id]`: an `UpdateOrganization` or keywords.
fn update_input(
    method: &str,
    organization: Option<PyRef<'_, PyUpdateOrganization>>,
    display_name: Option<String>,
    external_id: Option<String>,
) -> PyResult<UpdateOrganization> {
    match organization {
        Some(_) if display_name.is_some() || external_id.is_some() => Err(PyTypeError::new_err(format!(
            "{method}: pass either organization=UpdateOrganization(...) or display_name=/external_id=, not both"
        ))),
        Some(org) => Ok(UpdateOrganization {
            display_name: org.display_name.clone(),
            external_id: org.external_id.clone(),
        }),
        None => Ok(UpdateOrganization {
            display_name,
            external_id,
        }),
    }
}

response! {
    /// Result of create / get / update organization (`.organization`).
    "OrganizationResponse" => PyOrganizationResponse { organization: PyOrganization }
}

list_response! {
    /// Result of `list_organizations`.
    "ListOrganizationsResponse" => PyListOrganizationsResponse {
        /// This page (a new list of `Organization` on each access).
        organizations: PyOrganization,
        /// Number of organizations, over all pages.
        total_size,
    }
}

fn response(py: Python<'_>, organization: Organization) -> PyResult<PyOrganizationResponse> {
    Ok(PyOrganizationResponse {
        organization: Py::new(py, PyOrganization(organization))?,
    })
}

/// `client.organization`: create, get, list, update and delete organizations.
#[pyclass(name = "OrganizationService", module = "authgate", frozen)]
pub struct PyOrganizationService {
    api: Arc<dyn AuthApi>,
}

impl PyOrganizationService {
    pub fn new(api: Arc<dyn AuthApi>) -> Self {
        PyOrganizationService { api }
    }

    /// The organization with this external id (the list filter), or `NotFound`.
    fn by_external_id(&self, py: Python<'_>, external_id: String) -> PyResult<Organization> {
        if external_id.is_empty() {
            return Err(crate::errors::to_py(Error::invalid(
                "external_id",
                "must not be empty",
            )));
        }
        let input = ListOrganizations {
            page_size: Some(1),
            page_token: None,
            external_id: Some(external_id.clone()),
        };
        let api = &self.api;
        let page = runtime::block_on(py, api.list_organizations(input))?;
        page.organizations
            .into_iter()
            .next()
            .ok_or_else(|| crate::errors::to_py(Error::not_found("organization", external_id)))
    }
}

#[pymethods]
impl PyOrganizationService {
    /// Creates an organization: `create_organization(organization=CreateOrganization(...))` as in
    /// the official SDK, or `create_organization(display_name=..., external_id=...)`.
    #[pyo3(signature = (organization=None, *, display_name=None, external_id=None))]
    fn create_organization(
        &self,
        py: Python<'_>,
        organization: Option<PyRef<'_, PyCreateOrganization>>,
        display_name: Option<String>,
        external_id: Option<String>,
    ) -> PyResult<PyOrganizationResponse> {
        let input = match (organization, display_name) {
            (Some(org), None) if external_id.is_none() => CreateOrganization {
                display_name: org.display_name.clone(),
                external_id: org.external_id.clone(),
            },
            (None, Some(display_name)) => CreateOrganization {
                display_name,
                external_id,
            },
            (Some(_), _) => {
                return Err(PyTypeError::new_err(
                    "create_organization: pass either organization=CreateOrganization(...) or display_name=/external_id=, not both",
                ));
            }
            (None, None) => {
                return Err(PyTypeError::new_err(
                    "create_organization: display_name is required",
                ));
            }
        };
        let api = &self.api;
        let organization = runtime::block_on(py, api.create_organization(input))?;
        response(py, organization)
    }

    fn get_organization(&self, py: Python<'_>, organization_id: String) -> PyResult<PyOrganizationResponse> {
        let api = &self.api;
        let organization = runtime::block_on(py, api.get_organization(&organization_id))?;
        response(py, organization)
    }

    /// The organization with this external id (`ScalekitNotFoundException` when there is none).
    fn get_organization_by_external_id(
        &self,
        py: Python<'_>,
        external_id: String,
    ) -> PyResult<PyOrganizationResponse> {
        let organization = self.by_external_id(py, external_id)?;
        response(py, organization)
    }

    /// Updates an organization: `update_organization(organization_id,
    /// UpdateOrganization(display_name=..., external_id=...))` as in the official SDK, or with
    /// `display_name=` / `external_id=` keywords. The fields given are the update (at least one);
    /// `external_id=""` removes the external id.
    #[pyo3(signature = (organization_id, organization=None, *, display_name=None, external_id=None))]
    fn update_organization(
        &self,
        py: Python<'_>,
        organization_id: String,
        organization: Option<PyRef<'_, PyUpdateOrganization>>,
        display_name: Option<String>,
        external_id: Option<String>,
    ) -> PyResult<PyOrganizationResponse> {
        let input = update_input("update_organization", organization, display_name, external_id)?;
        let api = &self.api;
        let organization = runtime::block_on(py, api.update_organization(&organization_id, input))?;
        response(py, organization)
    }

    /// `update_organization` for the organization with this external id.
    #[pyo3(signature = (external_id, organization=None, *, display_name=None, new_external_id=None))]
    fn update_organization_by_external_id(
        &self,
        py: Python<'_>,
        external_id: String,
        organization: Option<PyRef<'_, PyUpdateOrganization>>,
        display_name: Option<String>,
        new_external_id: Option<String>,
    ) -> PyResult<PyOrganizationResponse> {
        let input = update_input(
            "update_organization_by_external_id",
            organization,
            display_name,
            new_external_id,
        )?;
        let id = self.by_external_id(py, external_id)?.id;
        let api = &self.api;
        let organization = runtime::block_on(py, api.update_organization(&id, input))?;
        response(py, organization)
    }

    #[pyo3(signature = (page_size=None, page_token=None))]
    fn list_organizations(
        &self,
        py: Python<'_>,
        page_size: Option<u32>,
        page_token: Option<String>,
    ) -> PyResult<PyListOrganizationsResponse> {
        let input = ListOrganizations {
            page_size,
            page_token: page_token.filter(|t| !t.is_empty()),
            external_id: None,
        };
        let api = &self.api;
        let page = runtime::block_on(py, api.list_organizations(input))?;
        PyListOrganizationsResponse::new(
            py,
            page.organizations.into_iter().map(PyOrganization),
            page.total_size,
            page.next_page_token,
            page.prev_page_token,
        )
    }

    /// Deletes an organization with its API keys, M2M clients and memberships.
    fn delete_organization(&self, py: Python<'_>, organization_id: String) -> PyResult<()> {
        let api = &self.api;
        runtime::block_on(py, api.delete_organization(&organization_id))
    }

    fn __repr__(&self) -> String {
        "OrganizationService()".to_owned()
    }
}
