//! Signing keys of the environment: `/api/v1/environment/signing-keys[:rotate|/{kid}:retire]`.
//! Admin-only, like every `/api/v1` route; the same operations as `authgate signing-keys`.
//! Scalekit has no such routes; the names are authgate's own.

use std::time::Duration;

use authgate_core::Error;
use authgate_core::model::SigningKeyInfo;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use crate::serve::auth::Admin;
use crate::serve::error::ApiError;
use crate::serve::json::{Json, NoBody, Path, Reply};
use crate::serve::state::AppState;

/// `{signing_keys}`
#[derive(Debug, Serialize)]
pub struct ListResponse {
    signing_keys: Vec<SigningKeyInfo>,
}

/// `{signing_key}`
#[derive(Debug, Serialize)]
pub struct KeyBody {
    signing_key: SigningKeyInfo,
}

/// The body of a rotation: `{}` (the configured activation delay), `{"activate_after": N}`
/// (seconds) or `{"now": true}` (sign with the new key at once).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rotate {
    #[serde(default)]
    activate_after: Option<u64>,
    #[serde(default)]
    now: bool,
}

/// `GET /api/v1/environment/signing-keys` → `{signing_keys}` (metadata only, oldest first).
pub async fn list(State(state): State<AppState>, _admin: Admin) -> Result<Reply<ListResponse>, ApiError> {
    let signing_keys = state.authority.list_signing_keys().await?;
    Ok(Reply(ListResponse { signing_keys }))
}

/// `POST /api/v1/environment/signing-keys:rotate` `{activate_after?, now?}` → `{signing_key}`:
/// the key now pending (or active, with `now` or on a store without an active key). Refusals:
/// `invalid_argument` for both fields or a delay over 30 days, `failed_precondition` while a key
/// is pending (unless `now`, which activates it).
pub async fn rotate(
    State(state): State<AppState>,
    admin: Admin,
    Json(input): Json<Rotate>,
) -> Result<Reply<KeyBody>, ApiError> {
    let delay = match (input.now, input.activate_after) {
        (true, Some(_)) => {
            return Err(ApiError::from(Error::invalid(
                "activate_after",
                "give either now or activate_after, not both",
            )));
        }
        (true, None) => Duration::ZERO,
        (false, Some(seconds)) => Duration::from_secs(seconds),
        (false, None) => state.authority.config().signing_key_activation_delay,
    };
    let signing_key = state.authority.rotate_signing_key(delay).await?;
    tracing::info!(kid = %signing_key.kid, by = %admin.client_id, "signing key rotated");
    Ok(Reply(KeyBody { signing_key }))
}

/// `POST /api/v1/environment/signing-keys/{kid}:retire` (no body, or `{}`) → `{signing_key}`:
/// removes a key that does not sign from the JWKS. The active key is `failed_precondition`.
pub async fn retire(
    State(state): State<AppState>,
    admin: Admin,
    Path(target): Path<String>,
    _body: NoBody,
) -> Result<Reply<KeyBody>, ApiError> {
    let Some(kid) = target.strip_suffix(":retire") else {
        return Err(ApiError::from(Error::not_found("route", target)));
    };
    let signing_key = state.authority.retire_signing_key(kid).await?;
    tracing::info!(kid = %signing_key.kid, by = %admin.client_id, "signing key retired");
    Ok(Reply(KeyBody { signing_key }))
}
