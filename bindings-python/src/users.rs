//! `client.users`: users and their memberships (roles show up in user-scoped keys' `roles`).

use std::sync::Arc;

use authgate_core::AuthApi;
use authgate_core::model::{CreateUser, Membership, MembershipInput, Role, UpdateUser, User, UserRef};
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

/// Role names from a list of names, `Role`s or `{"name": ...}` dicts (`None`: no roles).
fn role_names(roles: Option<Bound<'_, PyAny>>) -> PyResult<Vec<String>> {
    match roles.filter(|r| !r.is_none()) {
        None => Ok(Vec::new()),
        Some(roles) => roles
            .try_iter()
            .map_err(|_| PyTypeError::new_err("roles: expected a list"))?
            .map(|item| role_name(&item?))
            .collect(),
    }
}

/// The membership part of `CreateUser`, and the input of `create_membership` (Scalekit's
/// `CreateMembership` message).
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
        self.roles = role_names(roles)?;
        Ok(())
    }

    fn __repr__(&self) -> String {
        format!("CreateMembership(roles={})", repr_list(&self.roles))
    }
}

/// Input of `update_membership` (Scalekit's `UpdateMembership` message): the roles replace the
/// current ones (an empty list removes them all).
#[pyclass(name = "UpdateMembership", module = "authgate")]
pub struct PyUpdateMembership {
    roles: Vec<String>,
}

#[pymethods]
impl PyUpdateMembership {
    /// `roles`: role names, `Role(name=...)` objects or `{"name": ...}` dicts.
    #[new]
    #[pyo3(signature = (roles=None))]
    fn new(roles: Option<Bound<'_, PyAny>>) -> PyResult<Self> {
        Ok(PyUpdateMembership {
            roles: role_names(roles)?,
        })
    }

    /// Role names in the organization.
    #[getter]
    fn get_roles(&self) -> Vec<String> {
        self.roles.clone()
    }

    #[setter]
    fn set_roles(&mut self, roles: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        self.roles = role_names(roles)?;
        Ok(())
    }

    fn __repr__(&self) -> String {
        format!("UpdateMembership(roles={})", repr_list(&self.roles))
    }
}

/// Input of `update_user` (Scalekit's `UpdateUser` message): the fields that are set are the
/// update; `external_id=""` removes the external id.
#[pyclass(name = "UpdateUser", module = "authgate", get_all, set_all)]
pub struct PyUpdateUser {
    /// New identifier of your own (unique among users; `""` removes it).
    pub external_id: Option<String>,
}

#[pymethods]
impl PyUpdateUser {
    #[new]
    #[pyo3(signature = (external_id=None))]
    fn new(external_id: Option<String>) -> Self {
        PyUpdateUser { external_id }
    }

    fn __repr__(&self) -> String {
        format!(
            "UpdateUser(external_id={})",
            repr_opt(self.external_id.as_deref())
        )
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

response! {
    /// Result of get / update user and create / update membership (`.user`).
    "UserResponse" => PyUserResponse { user: PyUser }
}

list_response! {
    /// Result of `list_users`: every user of the environment.
    "ListUsersResponse" => PyListUsersResponse {
        /// This page (a new list of `User` on each access).
        users: PyUser,
        /// Number of users, over all pages.
        total_size,
    }
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

fn user_response(py: Python<'_>, user: User) -> PyResult<PyUserResponse> {
    Ok(PyUserResponse {
        user: Py::new(py, PyUser(user))?,
    })
}

/// `client.users`: users of the environment and their memberships in organizations (with roles).
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

    /// The user with this `usr_…` id, with their memberships.
    fn get_user(&self, py: Python<'_>, user_id: String) -> PyResult<PyUserResponse> {
        let api = &self.api;
        let user = runtime::block_on(py, api.get_user(&UserRef::Id(user_id)))?;
        user_response(py, user)
    }

    /// The user with this external id.
    fn get_user_by_external_id(&self, py: Python<'_>, external_id: String) -> PyResult<PyUserResponse> {
        let api = &self.api;
        let user = runtime::block_on(py, api.get_user(&UserRef::ExternalId(external_id)))?;
        user_response(py, user)
    }

    /// Every user of the environment, oldest first.
    #[pyo3(signature = (page_size=None, page_token=None))]
    fn list_users(
        &self,
        py: Python<'_>,
        page_size: Option<u32>,
        page_token: Option<String>,
    ) -> PyResult<PyListUsersResponse> {
        let api = &self.api;
        let page = runtime::block_on(
            py,
            api.list_users(page_size, page_token.filter(|t| !t.is_empty())),
        )?;
        PyListUsersResponse::new(
            py,
            page.users.into_iter().map(PyUser),
            page.total_size,
            page.next_page_token,
            page.prev_page_token,
        )
    }

    /// Updates a user: the fields set in `user` are the update (at least one).
    fn update_user(
        &self,
        py: Python<'_>,
        user_id: String,
        user: PyRef<'_, PyUpdateUser>,
    ) -> PyResult<PyUserResponse> {
        let input = UpdateUser {
            external_id: user.external_id.clone(),
        };
        drop(user);
        let api = &self.api;
        let user = runtime::block_on(py, api.update_user(&UserRef::Id(user_id), input))?;
        user_response(py, user)
    }

    /// `update_user` for the user with this external id.
    fn update_user_by_external_id(
        &self,
        py: Python<'_>,
        external_id: String,
        user: PyRef<'_, PyUpdateUser>,
    ) -> PyResult<PyUserResponse> {
        let input = UpdateUser {
            external_id: user.external_id.clone(),
        };
        drop(user);
        let api = &self.api;
        let user = runtime::block_on(py, api.update_user(&UserRef::ExternalId(external_id), input))?;
        user_response(py, user)
    }

    /// Deletes a user with their memberships and API keys (which stop validating at once).
    fn delete_user(&self, py: Python<'_>, user_id: String) -> PyResult<()> {
        let api = &self.api;
        runtime::block_on(py, api.delete_user(&UserRef::Id(user_id)))
    }

    /// `delete_user` for the user with this external id.
    fn delete_user_by_external_id(&self, py: Python<'_>, external_id: String) -> PyResult<()> {
        let api = &self.api;
        runtime::block_on(py, api.delete_user(&UserRef::ExternalId(external_id)))
    }

    /// Makes an existing user a member of the organization with `membership.roles`.
    /// `send_invitation_email` is accepted for compatibility; authgate sends no email.
    #[pyo3(signature = (organization_id, user_id, membership=None, send_invitation_email=true))]
    fn create_membership(
        &self,
        py: Python<'_>,
        organization_id: String,
        user_id: String,
        membership: Option<PyRef<'_, PyCreateMembership>>,
        send_invitation_email: bool,
    ) -> PyResult<PyUserResponse> {
        let _ = send_invitation_email;
        let input = MembershipInput {
            roles: membership.map(|m| m.roles.clone()).unwrap_or_default(),
        };
        let api = &self.api;
        let user = runtime::block_on(
            py,
            api.create_membership(&organization_id, &UserRef::Id(user_id), input),
        )?;
        user_response(py, user)
    }

    /// `create_membership` for the user with this external id.
    #[pyo3(signature = (organization_id, external_id, membership=None, send_invitation_email=true))]
    fn create_membership_by_external_id(
        &self,
        py: Python<'_>,
        organization_id: String,
        external_id: String,
        membership: Option<PyRef<'_, PyCreateMembership>>,
        send_invitation_email: bool,
    ) -> PyResult<PyUserResponse> {
        let _ = send_invitation_email;
        let input = MembershipInput {
            roles: membership.map(|m| m.roles.clone()).unwrap_or_default(),
        };
        let api = &self.api;
        let user = runtime::block_on(
            py,
            api.create_membership(&organization_id, &UserRef::ExternalId(external_id), input),
        )?;
        user_response(py, user)
    }

    /// Replaces the roles of the user's membership in the organization.
    fn update_membership(
        &self,
        py: Python<'_>,
        organization_id: String,
        user_id: String,
        membership: PyRef<'_, PyUpdateMembership>,
    ) -> PyResult<PyUserResponse> {
        let input = MembershipInput {
            roles: membership.roles.clone(),
        };
        drop(membership);
        let api = &self.api;
        let user = runtime::block_on(
            py,
            api.update_membership(&organization_id, &UserRef::Id(user_id), input),
        )?;
        user_response(py, user)
    }

    /// `update_membership` for the user with this external id.
    fn update_membership_by_external_id(
        &self,
        py: Python<'_>,
        organization_id: String,
        external_id: String,
        membership: PyRef<'_, PyUpdateMembership>,
    ) -> PyResult<PyUserResponse> {
        let input = MembershipInput {
            roles: membership.roles.clone(),
        };
        drop(membership);
        let api = &self.api;
        let user = runtime::block_on(
            py,
            api.update_membership(&organization_id, &UserRef::ExternalId(external_id), input),
        )?;
        user_response(py, user)
    }

    /// Removes the user from the organization, with their API keys there (which stop
    /// validating at once). The user remains.
    fn delete_membership(&self, py: Python<'_>, organization_id: String, user_id: String) -> PyResult<()> {
        let api = &self.api;
        runtime::block_on(py, api.delete_membership(&organization_id, &UserRef::Id(user_id)))
    }

    /// `delete_membership` for the user with this external id.
    fn delete_membership_by_external_id(
        &self,
        py: Python<'_>,
        organization_id: String,
        external_id: String,
    ) -> PyResult<()> {
        let api = &self.api;
        runtime::block_on(
            py,
            api.delete_membership(&organization_id, &UserRef::ExternalId(external_id)),
        )
    }

    fn __repr__(&self) -> String {
        "UserService()".to_owned()
    }
}
