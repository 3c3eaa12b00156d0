//! Users and memberships: `/api/v1/users[/{id} | :external/{external_id}]` and
//! `/api/v1/memberships/organizations/{organization_id}/users[/{id} | :external/{external_id}]`
//! (Scalekit's REST twins of UserService; a user is named by `usr_…` id or by external id).

use authgate_core::model::{ListUsersResponse, MembershipInput, UpdateUser, UserRef};
use authgate_core::wire::envelope::{Empty, MembershipBody, UserBody};
use axum::extract::State;

use super::orgs::PageQuery;
use crate::serve::auth::Admin;
use crate::serve::error::ApiError;
use crate::serve::json::{Created, Json, Path, Query, Reply};
use crate::serve::state::AppState;

fn roles(body: MembershipBody) -> MembershipInput {
    MembershipInput {
        roles: body.roles.into_iter().map(|r| r.name).collect(),
    }
}

/// `GET /api/v1/users?page_size=&page_token=`: every user of the environment.
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    Query(page): Query<PageQuery>,
) -> Result<Reply<ListUsersResponse>, ApiError> {
    Ok(Reply(
        state.api.list_users(page.page_size, page.page_token).await?,
    ))
}

async fn get(state: AppState, user: UserRef) -> Result<Reply<UserBody>, ApiError> {
    let user = state.api.get_user(&user).await?;
    Ok(Reply(UserBody { user }))
}

async fn update(state: AppState, user: UserRef, input: UpdateUser) -> Result<Reply<UserBody>, ApiError> {
    let user = state.api.update_user(&user, input).await?;
    tracing::info!(user_id = %user.id, "user updated");
    Ok(Reply(UserBody { user }))
}

async fn delete(state: AppState, user: UserRef) -> Result<Reply<Empty>, ApiError> {
    state.api.delete_user(&user).await?;
    tracing::info!(user = %user, "user deleted");
    Ok(Reply(Empty {}))
}

/// `GET /api/v1/users/{id}` → `{user}`.
pub async fn get_by_id(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<Reply<UserBody>, ApiError> {
    get(state, UserRef::Id(id)).await
}

/// `GET /api/v1/users:external/{external_id}` → `{user}`.
pub async fn get_by_external_id(
    State(state): State<AppState>,
    _admin: Admin,
    Path(external_id): Path<String>,
) -> Result<Reply<UserBody>, ApiError> {
    get(state, UserRef::ExternalId(external_id)).await
}

/// `PATCH /api/v1/users/{id}` — `{external_id}` → `{user}`.
pub async fn update_by_id(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
    Json(input): Json<UpdateUser>,
) -> Result<Reply<UserBody>, ApiError> {
    update(state, UserRef::Id(id), input).await
}

/// `PATCH /api/v1/users:external/{external_id}` — `{external_id}` → `{user}`.
pub async fn update_by_external_id(
    State(state): State<AppState>,
    _admin: Admin,
    Path(external_id): Path<String>,
    Json(input): Json<UpdateUser>,
) -> Result<Reply<UserBody>, ApiError> {
    update(state, UserRef::ExternalId(external_id), input).await
}

/// `DELETE /api/v1/users/{id}` → `{}`: with the user's memberships and API keys.
pub async fn delete_by_id(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<Reply<Empty>, ApiError> {
    delete(state, UserRef::Id(id)).await
}

/// `DELETE /api/v1/users:external/{external_id}` → `{}`.
pub async fn delete_by_external_id(
    State(state): State<AppState>,
    _admin: Admin,
    Path(external_id): Path<String>,
) -> Result<Reply<Empty>, ApiError> {
    delete(state, UserRef::ExternalId(external_id)).await
}

/// `POST /api/v1/memberships/organizations/{organization_id}/users/{id}` — `{roles}` → `{user}` (201).
pub async fn create_membership(
    State(state): State<AppState>,
    _admin: Admin,
    Path((organization_id, id)): Path<(String, String)>,
    Json(body): Json<MembershipBody>,
) -> Result<Created<UserBody>, ApiError> {
    membership_create(state, organization_id, UserRef::Id(id), body).await
}

/// `POST /api/v1/memberships/organizations/{organization_id}/users:external/{external_id}`.
pub async fn create_membership_by_external_id(
    State(state): State<AppState>,
    _admin: Admin,
    Path((organization_id, external_id)): Path<(String, String)>,
    Json(body): Json<MembershipBody>,
) -> Result<Created<UserBody>, ApiError> {
    membership_create(state, organization_id, UserRef::ExternalId(external_id), body).await
}

async fn membership_create(
    state: AppState,
    organization_id: String,
    user: UserRef,
    body: MembershipBody,
) -> Result<Created<UserBody>, ApiError> {
    let user = state
        .api
        .create_membership(&organization_id, &user, roles(body))
        .await?;
    tracing::info!(user_id = %user.id, %organization_id, "membership created");
    Ok(Created(UserBody { user }))
}

/// `PATCH /api/v1/memberships/organizations/{organization_id}/users/{id}` — `{roles}` → `{user}`.
pub async fn update_membership(
    State(state): State<AppState>,
    _admin: Admin,
    Path((organization_id, id)): Path<(String, String)>,
    Json(body): Json<MembershipBody>,
) -> Result<Reply<UserBody>, ApiError> {
    membership_update(state, organization_id, UserRef::Id(id), body).await
}

/// `PATCH /api/v1/memberships/organizations/{organization_id}/users:external/{external_id}`.
pub async fn update_membership_by_external_id(
    State(state): State<AppState>,
    _admin: Admin,
    Path((organization_id, external_id)): Path<(String, String)>,
    Json(body): Json<MembershipBody>,
) -> Result<Reply<UserBody>, ApiError> {
    membership_update(state, organization_id, UserRef::ExternalId(external_id), body).await
}

async fn membership_update(
    state: AppState,
    organization_id: String,
    user: UserRef,
    body: MembershipBody,
) -> Result<Reply<UserBody>, ApiError> {
    let user = state
        .api
        .update_membership(&organization_id, &user, roles(body))
        .await?;
    tracing::info!(user_id = %user.id, %organization_id, "membership updated");
    Ok(Reply(UserBody { user }))
}

/// `DELETE /api/v1/memberships/organizations/{organization_id}/users/{id}` → `{}`: with the
/// user's API keys in that organization.
pub async fn delete_membership(
    State(state): State<AppState>,
    _admin: Admin,
    Path((organization_id, id)): Path<(String, String)>,
) -> Result<Reply<Empty>, ApiError> {
    membership_delete(state, organization_id, UserRef::Id(id)).await
}

/// `DELETE /api/v1/memberships/organizations/{organization_id}/users:external/{external_id}`.
pub async fn delete_membership_by_external_id(
    State(state): State<AppState>,
    _admin: Admin,
    Path((organization_id, external_id)): Path<(String, String)>,
) -> Result<Reply<Empty>, ApiError> {
    membership_delete(state, organization_id, UserRef::ExternalId(external_id)).await
}

async fn membership_delete(
    state: AppState,
    organization_id: String,
    user: UserRef,
) -> Result<Reply<Empty>, ApiError> {
    state.api.delete_membership(&organization_id, &user).await?;
    tracing::info!(user = %user, %organization_id, "membership deleted");
    Ok(Reply(Empty {}))
}
