//! Environment credentials (the `skc_…` clients of the management API):
//! `/api/v1/environment/credentials[/{client_id}:revoke]`. Admin-only, like every `/api/v1` route.
//! Scalekit has no such routes; the names are authgate's own.

use authgate_core::Error;
use authgate_core::authority::EnvironmentCredential;
use axum::extract::State;
use serde::Serialize;

use crate::serve::auth::Admin;
use crate::serve::error::ApiError;
use crate::serve::json::{Created, NoBody, Path, Reply};
use crate::serve::state::AppState;

/// `{credentials}`
#[derive(Debug, Serialize)]
pub struct ListResponse {
    credentials: Vec<EnvironmentCredential>,
}

/// `{credential, plain_secret}`
#[derive(Debug, Serialize)]
pub struct CreateResponse {
    credential: EnvironmentCredential,
    plain_secret: String,
}

/// `{credential}`
#[derive(Debug, Serialize)]
pub struct CredentialBody {
    credential: EnvironmentCredential,
}

/// `GET /api/v1/environment/credentials` → `{credentials}` (revoked ones included, oldest first).
pub async fn list(State(state): State<AppState>, _admin: Admin) -> Result<Reply<ListResponse>, ApiError> {
    let credentials = state.authority.list_environment_clients().await?;
    Ok(Reply(ListResponse { credentials }))
}

/// `POST /api/v1/environment/credentials` (no body, or `{}`) → `{credential, plain_secret}` (201).
pub async fn create(
    State(state): State<AppState>,
    admin: Admin,
    _body: NoBody,
) -> Result<Created<CreateResponse>, ApiError> {
    let (credential, secret) = state.authority.create_environment_credential().await?;
    tracing::info!(client_id = %credential.client_id, by = %admin.client_id, "environment credential created");
    Ok(Created(CreateResponse {
        credential,
        plain_secret: secret.expose().to_owned(),
    }))
}

/// `POST /api/v1/environment/credentials/{client_id}:revoke` (no body, or `{}`) → `{credential}`.
/// Revoking a revoked credential is `Ok`; the last live one is `failed_precondition`.
pub async fn revoke(
    State(state): State<AppState>,
    admin: Admin,
    Path(target): Path<String>,
    _body: NoBody,
) -> Result<Reply<CredentialBody>, ApiError> {
    let Some(client_id) = target.strip_suffix(":revoke") else {
        return Err(ApiError::from(Error::not_found("route", target)));
    };
    let credential = state.authority.revoke_environment_client(client_id).await;
    // Forget the cached answer whatever the outcome: a revocation that failed half-way must not
    // leave a stale "live" behind either.
    state.credentials.forget(client_id);
    let credential = credential?;
    tracing::info!(client_id = %credential.client_id, by = %admin.client_id, "environment credential revoked");
    Ok(Reply(CredentialBody { credential }))
}
