//! Organizations and their users: `scalekit.organization` and `scalekit.user`.

use std::sync::Arc;

use authgate_core::AuthApi;
use authgate_core::model::{
    CreateOrganization, CreateUser, ListOrganizations, ListUsersResponse, MembershipInput, Organization,
    UpdateOrganization, UpdateUser, User, UserRef,
};
use chrono::{DateTime, Utc};
use napi::bindgen_prelude::PromiseRaw;
use napi::{Env, Result};
use napi_derive::napi;

use crate::errors::spawn;
use crate::to_date;
use crate::token::JsEmpty;

/// An organization: one customer (tenant).
#[napi(object, js_name = "Organization")]
#[derive(Debug)]
pub struct JsOrganization {
    /// `org_…`
    pub id: String,
    /// Human-readable name.
    pub display_name: String,
    /// The caller's own identifier, when set.
    pub external_id: Option<String>,
    /// When it was created.
    pub create_time: DateTime<Utc>,
    /// When it was last changed.
    pub update_time: DateTime<Utc>,
}

impl From<Organization> for JsOrganization {
    fn from(o: Organization) -> Self {
        JsOrganization {
            id: o.id,
            display_name: o.display_name,
            external_id: o.external_id,
            create_time: to_date(o.create_time),
            update_time: to_date(o.update_time),
        }
    }
}

/// Options of `createOrganization`.
#[napi(object, js_name = "CreateOrganizationOptions")]
#[derive(Debug)]
pub struct JsCreateOrganizationOptions {
    /// A unique identifier of your own.
    pub external_id: Option<String>,
}

/// Result of create/get organization.
#[napi(object, js_name = "OrganizationResponse")]
#[derive(Debug)]
pub struct JsOrganizationResponse {
    /// The organization.
    pub organization: JsOrganization,
}

/// Options of `listOrganization`.
#[napi(object, js_name = "ListOrganizationsOptions")]
#[derive(Debug)]
pub struct JsListOrganizationsOptions {
    /// Page size (1–100, default 10).
    pub page_size: Option<u32>,
    /// Token of the page to read.
    pub page_token: Option<String>,
    /// Only the organization with this external id.
    pub external_id: Option<String>,
}

/// Result of `listOrganization`.
#[napi(object, js_name = "ListOrganizationsResponse")]
#[derive(Debug)]
pub struct JsListOrganizationsResponse {
    /// Token of the next page; empty on the last one.
    pub next_page_token: String,
    /// Number of organizations, over all pages.
    pub total_size: u32,
    /// This page.
    pub organizations: Vec<JsOrganization>,
    /// Token of the previous page; empty on the first one.
    pub prev_page_token: String,
}

/// A role held through a membership.
#[napi(object, js_name = "Role")]
#[derive(Debug)]
pub struct JsRole {
    /// The role name.
    pub name: String,
}

/// A user's membership in one organization.
#[napi(object, js_name = "OrganizationMembership")]
#[derive(Debug)]
pub struct JsMembership {
    /// `org_…`
    pub organization_id: String,
    /// Roles held in that organization.
    pub roles: Vec<JsRole>,
}

/// A user of the environment.
#[napi(object, js_name = "User")]
#[derive(Debug)]
pub struct JsUser {
    /// `usr_…`
    pub id: String,
    /// Email address.
    pub email: String,
    /// The caller's own identifier, when set.
    pub external_id: Option<String>,
    /// Organizations the user belongs to.
    pub memberships: Vec<JsMembership>,
    /// When it was created.
    pub create_time: DateTime<Utc>,
    /// When it was last changed.
    pub update_time: DateTime<Utc>,
}

impl From<User> for JsUser {
    fn from(u: User) -> Self {
        JsUser {
            id: u.id,
            email: u.email,
            external_id: u.external_id,
            memberships: u
                .memberships
                .into_iter()
                .map(|m| JsMembership {
                    organization_id: m.organization_id,
                    roles: m.roles.into_iter().map(|r| JsRole { name: r.name }).collect(),
                })
                .collect(),
            create_time: to_date(u.create_time),
            update_time: to_date(u.update_time),
        }
    }
}

/// Options of `createUserAndMembership`.
#[napi(object, js_name = "CreateUserAndMembershipOptions")]
#[derive(Debug)]
pub struct JsCreateUserOptions {
    /// Email address (required).
    pub email: String,
    /// An identifier of your own.
    pub external_id: Option<String>,
    /// Role names in the organization.
    pub roles: Option<Vec<String>>,
}

/// Result of `createUserAndMembership`.
#[napi(object, js_name = "CreateUserAndMembershipResponse")]
#[derive(Debug)]
pub struct JsCreateUserResponse {
    /// The user (created, or found by email) with the new membership.
    pub user: JsUser,
}

/// Options of `updateOrganization`: the fields present are the update (at least one);
/// `externalId: ""` removes the external id.
#[napi(object, js_name = "UpdateOrganizationOptions")]
#[derive(Debug)]
pub struct JsUpdateOrganizationOptions {
    /// New human-readable name.
    pub display_name: Option<String>,
    /// New unique identifier of your own (`""` removes it).
    pub external_id: Option<String>,
}

/// Options of `updateUser`: the fields present are the update (at least one);
/// `externalId: ""` removes the external id.
#[napi(object, js_name = "UpdateUserOptions")]
#[derive(Debug)]
pub struct JsUpdateUserOptions {
    /// New identifier of your own (unique among users; `""` removes it).
    pub external_id: Option<String>,
}

/// Options of `createMembership` and `updateMembership`.
#[napi(object, js_name = "MembershipOptions")]
#[derive(Debug)]
pub struct JsMembershipOptions {
    /// Role names in the organization (on update they replace the current ones).
    pub roles: Option<Vec<String>>,
}

/// Options of `listUsers` and `listOrganizationUsers`.
#[napi(object, js_name = "ListUsersOptions")]
#[derive(Debug)]
pub struct JsListUsersOptions {
    /// Page size (1–100, default 10).
    pub page_size: Option<u32>,
    /// Token of the page to read.
    pub page_token: Option<String>,
}

/// Result of `listUsers` and `listOrganizationUsers`.
#[napi(object, js_name = "ListUsersResponse")]
#[derive(Debug)]
pub struct JsListUsersResponse {
    /// Token of the next page; empty on the last one.
    pub next_page_token: String,
    /// Number of users, over all pages.
    pub total_size: u32,
    /// This page.
    pub users: Vec<JsUser>,
    /// Token of the previous page; empty on the first one.
    pub prev_page_token: String,
}

impl From<ListUsersResponse> for JsListUsersResponse {
    fn from(r: ListUsersResponse) -> Self {
        JsListUsersResponse {
            next_page_token: r.next_page_token,
            total_size: r.total_size,
            users: r.users.into_iter().map(Into::into).collect(),
            prev_page_token: r.prev_page_token,
        }
    }
}

/// Result of get / update user and create / update membership.
#[napi(object, js_name = "UserResponse")]
#[derive(Debug)]
pub struct JsUserResponse {
    /// The user, with their memberships.
    pub user: JsUser,
}

/// A user named by `usr_…` id, or by external id when `external` is true.
fn user_ref(user: String, external: Option<bool>) -> UserRef {
    if external == Some(true) {
        UserRef::ExternalId(user)
    } else {
        UserRef::Id(user)
    }
}

fn membership_input(options: Option<JsMembershipOptions>) -> MembershipInput {
    MembershipInput {
        roles: options.and_then(|o| o.roles).unwrap_or_default(),
    }
}

/// `scalekit.organization`: organizations.
#[napi(js_name = "NativeOrganizationClient")]
#[derive(Debug)]
pub struct JsOrganizationClient {
    pub(crate) api: Arc<dyn AuthApi>,
}

#[napi]
impl JsOrganizationClient {
    /// Creates an organization.
    #[napi(ts_return_type = "Promise<OrganizationResponse>")]
    pub fn create_organization<'env>(
        &self,
        env: &'env Env,
        name: String,
        options: Option<JsCreateOrganizationOptions>,
    ) -> Result<PromiseRaw<'env, JsOrganizationResponse>> {
        let api = self.api.clone();
        let input = CreateOrganization {
            display_name: name,
            external_id: options.and_then(|o| o.external_id),
        };
        spawn(env, async move {
            let organization = api.create_organization(input).await?;
            Ok(JsOrganizationResponse {
                organization: organization.into(),
            })
        })
    }

    /// Gets an organization by id.
    #[napi(ts_return_type = "Promise<OrganizationResponse>")]
    pub fn get_organization<'env>(
        &self,
        env: &'env Env,
        id: String,
    ) -> Result<PromiseRaw<'env, JsOrganizationResponse>> {
        let api = self.api.clone();
        spawn(env, async move {
            let organization = api.get_organization(&id).await?;
            Ok(JsOrganizationResponse {
                organization: organization.into(),
            })
        })
    }

    /// Lists organizations, oldest first.
    #[napi(ts_return_type = "Promise<ListOrganizationsResponse>")]
    pub fn list_organization<'env>(
        &self,
        env: &'env Env,
        options: Option<JsListOrganizationsOptions>,
    ) -> Result<PromiseRaw<'env, JsListOrganizationsResponse>> {
        let api = self.api.clone();
        let input = options.map_or_else(ListOrganizations::default, |o| ListOrganizations {
            page_size: o.page_size,
            page_token: o.page_token,
            external_id: o.external_id,
        });
        spawn(env, async move {
            let r = api.list_organizations(input).await?;
            Ok(JsListOrganizationsResponse {
                next_page_token: r.next_page_token,
                total_size: r.total_size,
                organizations: r.organizations.into_iter().map(Into::into).collect(),
                prev_page_token: r.prev_page_token,
            })
        })
    }

    /// Updates an organization: the fields present are the update.
    #[napi(ts_return_type = "Promise<OrganizationResponse>")]
    pub fn update_organization<'env>(
        &self,
        env: &'env Env,
        id: String,
        organization: JsUpdateOrganizationOptions,
    ) -> Result<PromiseRaw<'env, JsOrganizationResponse>> {
        let api = self.api.clone();
        let input = UpdateOrganization {
            display_name: organization.display_name,
            external_id: organization.external_id,
        };
        spawn(env, async move {
            let organization = api.update_organization(&id, input).await?;
            Ok(JsOrganizationResponse {
                organization: organization.into(),
            })
        })
    }

    /// Deletes an organization with its keys, clients and memberships.
    #[napi(ts_return_type = "Promise<Empty>")]
    pub fn delete_organization<'env>(&self, env: &'env Env, id: String) -> Result<PromiseRaw<'env, JsEmpty>> {
        let api = self.api.clone();
        spawn(env, async move {
            api.delete_organization(&id).await?;
            Ok(JsEmpty::default())
        })
    }
}

/// `scalekit.user`: users and their memberships.
#[napi(js_name = "NativeUserClient")]
#[derive(Debug)]
pub struct JsUserClient {
    pub(crate) api: Arc<dyn AuthApi>,
}

#[napi]
impl JsUserClient {
    /// Creates a user (or reuses the one with that email) and adds them to the organization.
    #[napi(ts_return_type = "Promise<CreateUserAndMembershipResponse>")]
    pub fn create_user_and_membership<'env>(
        &self,
        env: &'env Env,
        organization_id: String,
        options: JsCreateUserOptions,
    ) -> Result<PromiseRaw<'env, JsCreateUserResponse>> {
        let api = self.api.clone();
        let input = CreateUser {
            email: options.email,
            external_id: options.external_id,
            roles: options.roles.unwrap_or_default(),
        };
        spawn(env, async move {
            let user = api.create_user_and_membership(&organization_id, input).await?;
            Ok(JsCreateUserResponse { user: user.into() })
        })
    }

    /// Lists the members of an organization.
    #[napi(ts_return_type = "Promise<ListUsersResponse>")]
    pub fn list_organization_users<'env>(
        &self,
        env: &'env Env,
        organization_id: String,
        options: Option<JsListUsersOptions>,
    ) -> Result<PromiseRaw<'env, JsListUsersResponse>> {
        let api = self.api.clone();
        let (size, token) = options.map_or((None, None), |o| (o.page_size, o.page_token));
        spawn(env, async move {
            let page = api
                .list_organization_users(&organization_id, size, token.filter(|t| !t.is_empty()))
                .await?;
            Ok(page.into())
        })
    }

    /// Lists every user of the environment, oldest first.
    #[napi(ts_return_type = "Promise<ListUsersResponse>")]
    pub fn list_users<'env>(
        &self,
        env: &'env Env,
        options: Option<JsListUsersOptions>,
    ) -> Result<PromiseRaw<'env, JsListUsersResponse>> {
        let api = self.api.clone();
        let (size, token) = options.map_or((None, None), |o| (o.page_size, o.page_token));
        spawn(env, async move {
            let page = api.list_users(size, token.filter(|t| !t.is_empty())).await?;
            Ok(page.into())
        })
    }

    /// Gets a user by `usr_…` id (or by external id when `external` is true).
    #[napi(ts_return_type = "Promise<UserResponse>")]
    pub fn get_user<'env>(
        &self,
        env: &'env Env,
        user: String,
        external: Option<bool>,
    ) -> Result<PromiseRaw<'env, JsUserResponse>> {
        let api = self.api.clone();
        let by = user_ref(user, external);
        spawn(env, async move {
            let user = api.get_user(&by).await?;
            Ok(JsUserResponse { user: user.into() })
        })
    }

    /// Updates a user: the fields present are the update.
    #[napi(ts_return_type = "Promise<UserResponse>")]
    pub fn update_user<'env>(
        &self,
        env: &'env Env,
        user: String,
        external: Option<bool>,
        options: JsUpdateUserOptions,
    ) -> Result<PromiseRaw<'env, JsUserResponse>> {
        let api = self.api.clone();
        let by = user_ref(user, external);
        let input = UpdateUser {
            external_id: options.external_id,
        };
        spawn(env, async move {
            let user = api.update_user(&by, input).await?;
            Ok(JsUserResponse { user: user.into() })
        })
    }

    /// Deletes a user with their memberships and API keys.
    #[napi(ts_return_type = "Promise<Empty>")]
    pub fn delete_user<'env>(
        &self,
        env: &'env Env,
        user: String,
        external: Option<bool>,
    ) -> Result<PromiseRaw<'env, JsEmpty>> {
        let api = self.api.clone();
        let by = user_ref(user, external);
        spawn(env, async move {
            api.delete_user(&by).await?;
            Ok(JsEmpty::default())
        })
    }

    /// Adds an existing user to an organization with roles.
    #[napi(ts_return_type = "Promise<UserResponse>")]
    pub fn create_membership<'env>(
        &self,
        env: &'env Env,
        organization_id: String,
        user: String,
        external: Option<bool>,
        options: Option<JsMembershipOptions>,
    ) -> Result<PromiseRaw<'env, JsUserResponse>> {
        let api = self.api.clone();
        let by = user_ref(user, external);
        let input = membership_input(options);
        spawn(env, async move {
            let user = api.create_membership(&organization_id, &by, input).await?;
            Ok(JsUserResponse { user: user.into() })
        })
    }

    /// Replaces the roles of a user's membership.
    #[napi(ts_return_type = "Promise<UserResponse>")]
    pub fn update_membership<'env>(
        &self,
        env: &'env Env,
        organization_id: String,
        user: String,
        external: Option<bool>,
        options: Option<JsMembershipOptions>,
    ) -> Result<PromiseRaw<'env, JsUserResponse>> {
        let api = self.api.clone();
        let by = user_ref(user, external);
        let input = membership_input(options);
        spawn(env, async move {
            let user = api.update_membership(&organization_id, &by, input).await?;
            Ok(JsUserResponse { user: user.into() })
        })
    }

    /// Removes a user from an organization, with their API keys there.
    #[napi(ts_return_type = "Promise<Empty>")]
    pub fn delete_membership<'env>(
        &self,
        env: &'env Env,
        organization_id: String,
        user: String,
        external: Option<bool>,
    ) -> Result<PromiseRaw<'env, JsEmpty>> {
        let api = self.api.clone();
        let by = user_ref(user, external);
        spawn(env, async move {
            api.delete_membership(&organization_id, &by).await?;
            Ok(JsEmpty::default())
        })
    }
}
