//! `client.users`: users and their memberships (roles show up in user-scoped keys' `roles`).

use std::sync::Arc;

use authgate_core::AuthApi;
use authgate_core::model::{CreateUser, Membership, Role, User};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use crate::runtime;
use crate::types::{self, list_response, repr_list, repr_opt, repr_str, response};

/// A role held through a membership.
#[pyclass(name = "Role", module = "authgate", frozen)]
pub struct PyRole(pub Role);

#[pymethods]
impl PyRole {
    #[new]
    fn new(name: String) -> Self {
        PyRole(Role { name })
    }

    /// The role name, e.g. `"admin"`.
    #[getter]
    fn name(&self) -> &str {
        &self.0.name
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<PyRole>().is_ok_and(|o| o.get().0 == self.0)
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.0.name.hash(&mut h);
        h.finish()
    }

    fn __repr__(&self) -> String {
        format!("Role(name={})", repr_str(&self.0.name))
    }
}

fn role_name(item: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = item.cast::<PyString>() {
        return Ok(s.to_cow()?.into_owned());
    }
    if let Ok(role) = item.cast::<PyRole>() {
        return Ok(role.get().0.name.clone());
    }
    if let Ok(dict) = item.cast::<PyDict>()
        && let Some(name) = dict.get_item("name")?
    {
        return name.extract();
    }
    Err(PyTypeError::new_err(
        "roles: expected role names, Role(name=...) or {\"name\": ...} items",
    ))
}

/// The membership part of `CreateUser` (Scalekit's `CreateMembership` message).
#[pyclass(name = "CreateMembership", module = "authgate")]
pub struct PyCreateMembership {
    roles: Vec<String>,
}

#[pymethods]
impl PyCreateMembership {
    /// `roles`: role names, `Role(name=...)` objects or `{"name": ...}` dicts.
    #[new]
    #[pyo3(signature = (roles=None))]
    fn new(roles: Option<Bound<'_, PyAny>>) -> PyResult<Self> {
        let mut this = PyCreateMembership { roles: Vec::new() };
        this.set_roles(roles)?;
        Ok(this)
    }

    /// Role names in the organization.
    #[getter]
    fn get_roles(&self) -> Vec<String> {
        self.roles.clone()
    }

    #[setter]
    fn set_roles(&mut self, roles: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        self.roles = match roles.filter(|r| !r.is_none()) {
            None => Vec::new(),
            Some(roles) => roles
                .try_iter()
                .map_err(|_| PyTypeError::new_err("roles: expected a list"))?
                .map(|item| role_name(&item?))
                .collect::<PyResult<_>>()?,
        };
        Ok(())
    }

    fn __repr__(&self) -> String {
        format!("CreateMembership(roles={})", repr_list(&self.roles))
    }
}

/// Input of `create_user_and_membership` (Scalekit's `CreateUser` message).
#[pyclass(name = "CreateUser", module = "authgate")]
pub struct PyCreateUser {
    /// Email address (required; a user with this email is reused).
    #[pyo3(get, set)]
    email: String,
    /// Optional identifier of your own.
    #[pyo3(get, set)]
    external_id: Option<String>,
    /// The user's membership in the organization (its roles).
    #[pyo3(get, set)]
    membership: Option<Py<PyCreateMembership>>,
}

#[pymethods]
impl PyCreateUser {
    #[new]
    #[pyo3(signature = (email, external_id=None, membership=None))]
    fn new(email: String, external_id: Option<String>, membership: Option<Py<PyCreateMembership>>) -> Self {
        PyCreateUser {
            email,
            external_id,
            membership,
        }
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "CreateUser(email={}, external_id={}, membership={})",
            repr_str(&self.email),
            repr_opt(self.external_id.as_deref()),
            self.membership
                .as_ref()
                .map_or_else(|| "None".to_owned(), |m| m.borrow(py).__repr__())
        )
    }
}

/// A user's membership in one organization.
#[pyclass(name = "Membership", module = "authgate", frozen)]
pub struct PyMembership(pub Membership);

#[pymethods]
impl PyMembership {
    #[getter]
    fn organization_id(&self) -> &str {
        &self.0.organization_id
    }

    #[getter]
    fn roles<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, self.0.roles.iter().map(|r| PyRole(r.clone())))
    }

    fn __repr__(&self) -> String {
        let roles: Vec<String> = self.0.roles.iter().map(|r| r.name.clone()).collect();
        format!(
            "Membership(organization_id={}, roles={})",
            repr_str(&self.0.organization_id),
            repr_list(&roles)
        )
    }
}

/// A user of the environment.
#[pyclass(name = "User", module = "authgate", frozen)]
pub struct PyUser(pub User);

#[pymethods]
impl PyUser {
    /// `usr_…`
    #[getter]
    fn id(&self) -> &str {
        &self.0.id
    }

    #[getter]
    fn email(&self) -> &str {
        &self.0.email
    }

    #[getter]
    fn external_id(&self) -> Option<&str> {
        self.0.external_id.as_deref()
    }

    #[getter]
    fn memberships<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, self.0.memberships.iter().map(|m| PyMembership(m.clone())))
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

    fn __repr__(&self) -> String {
        format!(
            "User(id={}, email={}, external_id={})",
            repr_str(&self.0.id),
            repr_str(&self.0.email),
            repr_opt(self.0.external_id.as_deref())
        )
    }
}

response! {
    /// Result of `create_user_and_membership` (`.user`).
    "CreateUserAndMembershipResponse" => PyCreateUserAndMembershipResponse { user: PyUser }
}

list_response! {
    /// Result of `list_organization_users`.
    "ListOrganizationUsersResponse" => PyListOrganizationUsersResponse {
        /// This page (a new list of `User` on each access).
        users: PyUser,
        /// Number of users matching, over all pages.
        total_size,
    }
}

/// `client.users`: add users to organizations (with roles).
#[pyclass(name = "UserService", module = "authgate", frozen)]
pub struct PyUserService {
    api: Arc<dyn AuthApi>,
}

impl PyUserService {
    pub fn new(api: Arc<dyn AuthApi>) -> Self {
        PyUserService { api }
    }
}

#[pymethods]
impl PyUserService {
    /// Creates a user (or reuses the one with that email) and makes them a member of the
    /// organization with `user.membership.roles`. `send_invitation_email` is accepted for
    /// compatibility; authgate sends no email.
    #[pyo3(signature = (organization_id, user, send_invitation_email=true))]
    fn create_user_and_membership(
        &self,
        py: Python<'_>,
        organization_id: String,
        user: PyRef<'_, PyCreateUser>,
        send_invitation_email: bool,
    ) -> PyResult<PyCreateUserAndMembershipResponse> {
        let _ = send_invitation_email;
        let input = CreateUser {
            email: user.email.clone(),
            external_id: user.external_id.clone(),
            roles: user
                .membership
                .as_ref()
                .map(|m| m.borrow(py).roles.clone())
                .unwrap_or_default(),
        };
        drop(user);
        let api = &self.api;
        let created = runtime::block_on(py, api.create_user_and_membership(&organization_id, input))?;
        Ok(PyCreateUserAndMembershipResponse {
            user: Py::new(py, PyUser(created))?,
        })
    }

    #[pyo3(signature = (organization_id, page_size=None, page_token=None))]
    fn list_organization_users(
        &self,
        py: Python<'_>,
        organization_id: String,
        page_size: Option<u32>,
        page_token: Option<String>,
    ) -> PyResult<PyListOrganizationUsersResponse> {
        let api = &self.api;
        let page = runtime::block_on(
            py,
            api.list_organization_users(&organization_id, page_size, page_token.filter(|t| !t.is_empty())),
        )?;
        PyListOrganizationUsersResponse::new(
            py,
            page.users.into_iter().map(PyUser),
            page.total_size,
            page.next_page_token,
            page.prev_page_token,
        )
    }

    fn __repr__(&self) -> String {
        "UserService()".to_owned()
    }
}
