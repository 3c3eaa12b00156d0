//! M2M clients and their secrets: `/api/v1/organizations/{organization_id}/clients[/{client_id}[/secrets[/{secret_id}]]]`.

use authgate_core::model::{
    CreateOrganizationClientResponse, CreateOrganizationClientSecretResponse,
    ListOrganizationClientsResponse, OrganizationClient,
};
use authgate_core::wire::envelope::{ClientBody, Empty};
use axum::extract::State;

use super::orgs::PageQuery;
use crate::serve::auth::Admin;
use crate::serve::error::ApiError;
use crate::serve::json::{Created, Json, NoBody, Path, Query, Reply};
use crate::serve::state::AppState;

/// `POST …/clients` — body: `OrganizationClient` → `{client, plain_secret}` (201).
pub async fn create(
    State(state): State<AppState>,
    _admin: Admin,
    Path(organization_id): Path<String>,
    Json(client): Json<OrganizationClient>,
) -> Result<Created<CreateOrganizationClientResponse>, ApiError> {
    let created = state
        .api
        .create_organization_client(&organization_id, client)
        .await?;
    tracing::info!(client_id = %created.client.client_id, %organization_id, "m2m client created");
    Ok(Created(created))
}

/// `GET …/clients?page_size=&page_token=`
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    Path(organization_id): Path<String>,
    Query(page): Query<PageQuery>,
) -> Result<Reply<ListOrganizationClientsResponse>, ApiError> {
    let clients = state
        .api
        .list_organization_clients(&organization_id, page.page_size, page.page_token)
        .await?;
    Ok(Reply(clients))
}

/// `GET …/clients/{client_id}` → `{client}`.
pub async fn get(
    State(state): State<AppState>,
    _admin: Admin,
    Path((organization_id, client_id)): Path<(String, String)>,
) -> Result<Reply<ClientBody>, ApiError> {
    let client = state
        .api
        .get_organization_client(&organization_id, &client_id)
        .await?;
    Ok(Reply(ClientBody { client }))
}

/// `PATCH …/clients/{client_id}` — body: `OrganizationClient` (absent fields unchanged) → `{client}`.
pub async fn update(
    State(state): State<AppState>,
    _admin: Admin,
    Path((organization_id, client_id)): Path<(String, String)>,
    Json(update): Json<OrganizationClient>,
) -> Result<Reply<ClientBody>, ApiError> {
    let client = state
        .api
        .update_organization_client(&organization_id, &client_id, update)
        .await?;
    tracing::info!(%client_id, %organization_id, "m2m client updated");
    Ok(Reply(ClientBody { client }))
}

/// `DELETE …/clients/{client_id}` → `{}`.
pub async fn delete(
    State(state): State<AppState>,
    _admin: Admin,
    Path((organization_id, client_id)): Path<(String, String)>,
) -> Result<Reply<Empty>, ApiError> {
    state
        .api
        .delete_organization_client(&organization_id, &client_id)
        .await?;
    tracing::info!(%client_id, %organization_id, "m2m client deleted");
    Ok(Reply(Empty {}))
}

/// `POST …/clients/{client_id}/secrets` (no body, or `{}`) → `{plain_secret, secret}` (201).
pub async fn add_secret(
    State(state): State<AppState>,
    _admin: Admin,
    Path((organization_id, client_id)): Path<(String, String)>,
    _body: NoBody,
) -> Result<Created<CreateOrganizationClientSecretResponse>, ApiError> {
    let created = state
        .api
        .add_organization_client_secret(&organization_id, &client_id)
        .await?;
    tracing::info!(secret_id = %created.secret.id, %client_id, "client secret added");
    Ok(Created(created))
}

/// `DELETE …/clients/{client_id}/secrets/{secret_id}` → `{}`.
pub async fn remove_secret(
    State(state): State<AppState>,
    _admin: Admin,
    Path((organization_id, client_id, secret_id)): Path<(String, String, String)>,
) -> Result<Reply<Empty>, ApiError> {
    state
        .api
        .remove_organization_client_secret(&organization_id, &client_id, &secret_id)
        .await?;
    tracing::info!(%secret_id, %client_id, "client secret removed");
    Ok(Reply(Empty {}))
}
