//! Organizations and their users: `/api/v1/organizations[/{organization_id}[/users]]`.

use authgate_core::model::{
    CreateOrganization, ListOrganizations, ListOrganizationsResponse, ListUsersResponse, UpdateOrganization,
};
use authgate_core::wire::envelope::{CreateUserBody, Empty, OrganizationBody, UserBody};
use axum::extract::State;
use serde::Deserialize;

use crate::serve::auth::Admin;
use crate::serve::error::ApiError;
use crate::serve::json::{Created, Json, Path, Query, Reply};
use crate::serve::state::AppState;

/// `?page_size=&page_token=` of the list routes that take nothing else.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Page size.
    #[serde(
        default,
        alias = "pageSize",
        deserialize_with = "authgate_core::model::de::opt_u32"
    )]
    pub page_size: Option<u32>,
    /// Opaque page token.
    #[serde(default, alias = "pageToken")]
    pub page_token: Option<String>,
}

/// `POST /api/v1/organizations` — `{display_name, external_id?}` → `{organization}` (201).
pub async fn create(
    State(state): State<AppState>,
    _admin: Admin,
    Json(input): Json<CreateOrganization>,
) -> Result<Created<OrganizationBody>, ApiError> {
    let organization = state.api.create_organization(input).await?;
    tracing::info!(organization_id = %organization.id, "organization created");
    Ok(Created(OrganizationBody { organization }))
}

/// `GET /api/v1/organizations?page_size=&page_token=&external_id=`
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    Query(input): Query<ListOrganizations>,
) -> Result<Reply<ListOrganizationsResponse>, ApiError> {
    Ok(Reply(state.api.list_organizations(input).await?))
}

/// `GET /api/v1/organizations/{organization_id}` → `{organization}`.
pub async fn get(
    State(state): State<AppState>,
    _admin: Admin,
    Path(organization_id): Path<String>,
) -> Result<Reply<OrganizationBody>, ApiError> {
    let organization = state.api.get_organization(&organization_id).await?;
    Ok(Reply(OrganizationBody { organization }))
}

/// `PATCH /api/v1/organizations/{organization_id}` — `{display_name?, external_id?}` →
/// `{organization}`: the fields present are the update.
pub async fn update(
    State(state): State<AppState>,
    _admin: Admin,
    Path(organization_id): Path<String>,
    Json(input): Json<UpdateOrganization>,
) -> Result<Reply<OrganizationBody>, ApiError> {
    let organization = state.api.update_organization(&organization_id, input).await?;
    tracing::info!(%organization_id, "organization updated");
    Ok(Reply(OrganizationBody { organization }))
}

/// `DELETE /api/v1/organizations/{organization_id}` → `{}`.
pub async fn delete(
    State(state): State<AppState>,
    _admin: Admin,
    Path(organization_id): Path<String>,
) -> Result<Reply<Empty>, ApiError> {
    state.api.delete_organization(&organization_id).await?;
    tracing::info!(%organization_id, "organization deleted");
    Ok(Reply(Empty {}))
}

/// `POST /api/v1/organizations/{organization_id}/users` → `{user}` (201).
pub async fn create_user(
    State(state): State<AppState>,
    _admin: Admin,
    Path(organization_id): Path<String>,
    Json(body): Json<CreateUserBody>,
) -> Result<Created<UserBody>, ApiError> {
    let user = state
        .api
        .create_user_and_membership(&organization_id, body.into())
        .await?;
    tracing::info!(user_id = %user.id, %organization_id, "user and membership created");
    Ok(Created(UserBody { user }))
}

/// `GET /api/v1/organizations/{organization_id}/users?page_size=&page_token=`
pub async fn list_users(
    State(state): State<AppState>,
    _admin: Admin,
    Path(organization_id): Path<String>,
    Query(page): Query<PageQuery>,
) -> Result<Reply<ListUsersResponse>, ApiError> {
    let users = state
        .api
        .list_organization_users(&organization_id, page.page_size, page.page_token)
        .await?;
    Ok(Reply(users))
}
