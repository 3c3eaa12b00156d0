//! API keys: `/api/v1/tokens`, `/api/v1/tokens:validate`, `:invalidate`, `:update`, and the
//! authgate extension `:rotate`.

use authgate_core::authority::limits;
use authgate_core::model::{
    CreateToken, CreateTokenResponse, ListTokens, RotateToken, UpdateToken, ValidateOptions,
};
use authgate_core::wire::envelope::{Empty, TokenInfoBody, TokenRef, ValidateRequest};
use authgate_core::{Error, keys};
use axum::extract::State;

use crate::serve::auth::Admin;
use crate::serve::error::ApiError;
use crate::serve::json::{Created, Json, Query, Reply};
use crate::serve::metrics::Validation;
use crate::serve::state::AppState;

/// `POST /api/v1/tokens` — body: the `CreateToken` object → `{token, token_id, token_info}` (201).
pub async fn create(
    State(state): State<AppState>,
    _admin: Admin,
    Json(input): Json<CreateToken>,
) -> Result<Created<CreateTokenResponse>, ApiError> {
    let created = state.api.create_token(input).await?;
    tracing::info!(
        token_id = %created.token_id,
        organization_id = %created.token_info.organization_id,
        user_id = created.token_info.user_id.as_deref(),
        "api key created"
    );
    Ok(Created(created))
}

/// `GET /api/v1/tokens?organization_id=&user_id=&page_size=&page_token=&include_revoked=`
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    Query(input): Query<ListTokens>,
) -> Result<Reply<authgate_core::model::ListTokensResponse>, ApiError> {
    Ok(Reply(state.api.list_tokens(input).await?))
}

/// `POST /api/v1/tokens:validate` — `{token, client_ip?}` → `{token_info}`; a refused key is a 401
/// `token_validation_failed`, whatever the reason (a key used from outside its `allowed_cidrs`
/// included); a key over its `rate_limit` is a 429 `rate_limited` with `Retry-After`.
///
/// Like Scalekit's, this admin-authenticated endpoint also accepts a key's `apit_…` id and then
/// answers the info of that key while it is live (an administrative lookup; the packages'
/// request-path validation never accepts an id).
pub async fn validate(
    State(state): State<AppState>,
    _admin: Admin,
    Json(input): Json<ValidateRequest>,
) -> Result<Reply<TokenInfoBody>, ApiError> {
    let token = input.token.expose();
    let options = ValidateOptions {
        client_ip: input.client_ip.as_deref().map(limits::client_ip).transpose()?,
    };
    let result = if token.starts_with("apit_") {
        state.api.lookup_token(token).await
    } else {
        state.api.validate_token_with(token, &options).await
    };
    match result {
        Ok(token_info) => {
            state.metrics.validation(Validation::Valid);
            Ok(Reply(TokenInfoBody { token_info }))
        }
        Err(err) => {
            state.metrics.validation(if err.is_validation_failure() {
                Validation::Invalid
            } else if let Error::RateLimited { .. } = err {
                Validation::RateLimited
            } else {
                Validation::Error
            });
            Err(err.into())
        }
    }
}

/// `POST /api/v1/tokens:invalidate` — `{token}` (key or `apit_…` id) → `{}`. Idempotent.
pub async fn invalidate(
    State(state): State<AppState>,
    _admin: Admin,
    Json(input): Json<TokenRef>,
) -> Result<Reply<Empty>, ApiError> {
    state.api.invalidate_token(input.token.expose()).await?;
    // An `apit_…` id is safe to log; a key is not.
    if keys::is_id(input.token.expose(), keys::TOKEN_ID_PREFIX, keys::MAX_ID_LEN) {
        tracing::info!(token_id = input.token.expose(), "api key invalidated");
    } else {
        tracing::info!("api key invalidated (by key)");
    }
    Ok(Reply(Empty {}))
}

/// `POST /api/v1/tokens:update` — `{token, custom_claims?, description?}` → `{token_info}`.
pub async fn update(
    State(state): State<AppState>,
    _admin: Admin,
    Json(input): Json<UpdateToken>,
) -> Result<Reply<TokenInfoBody>, ApiError> {
    let token_info = state.api.update_token(input).await?;
    tracing::info!(token_id = %token_info.token_id, "api key updated");
    Ok(Reply(TokenInfoBody { token_info }))
}

/// `POST /api/v1/tokens:rotate` (authgate extension) — `{token | token_id, grace_period_seconds?}`
/// → `{token, token_id, token_info}` (201): the new key; the old one validates until the end of
/// the grace period (its `expiry`), then is revoked.
pub async fn rotate(
    State(state): State<AppState>,
    _admin: Admin,
    Json(input): Json<RotateToken>,
) -> Result<Created<CreateTokenResponse>, ApiError> {
    let rotated = state.api.rotate_token(input).await?;
    tracing::info!(
        token_id = %rotated.token_id,
        rotated_from = rotated.token_info.rotated_from.as_deref(),
        organization_id = %rotated.token_info.organization_id,
        "api key rotated"
    );
    Ok(Created(rotated))
}
