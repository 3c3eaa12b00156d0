//! The public, unauthenticated routes: JWKS, discovery, health and metrics.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::serve::error::ApiError;
use crate::serve::state::AppState;

/// How long clients may cache the JWKS. Short, so a retired key disappears quickly. A rotated-in
/// key is served here, pending, for the activation delay (60 s by default, no less than this
/// max-age) before it signs, so validators that refresh only when this expires know it in time.
const JWKS_CACHE_CONTROL: HeaderValue = HeaderValue::from_static("public, max-age=60");

/// `GET /keys` and `GET /.well-known/jwks.json`: the published signing keys.
pub async fn jwks(State(state): State<AppState>) -> Result<Response, ApiError> {
    let set = state.api.jwks().await?;
    let mut response = crate::serve::json::response(StatusCode::OK, &set);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, JWKS_CACHE_CONTROL);
    Ok(response)
}

/// The discovery document (OpenID Connect Discovery 1.0 / RFC 8414 metadata). The three OIDC
/// "required" members (`response_types_supported`, `subject_types_supported`,
/// `id_token_signing_alg_values_supported`) are included so strict parsers accept it; the
/// server issues access tokens only (RS256).
#[derive(Debug, Serialize)]
pub struct Discovery {
    issuer: String,
    token_endpoint: String,
    jwks_uri: String,
    grant_types_supported: [&'static str; 1],
    token_endpoint_auth_methods_supported: [&'static str; 2],
    response_types_supported: [&'static str; 1],
    subject_types_supported: [&'static str; 1],
    id_token_signing_alg_values_supported: [&'static str; 1],
}

impl Discovery {
    /// The document for an issuer URL (no trailing slash).
    pub fn new(issuer: &str) -> Self {
        Discovery {
            issuer: issuer.to_owned(),
            token_endpoint: format!("{issuer}/oauth/token"),
            jwks_uri: format!("{issuer}/keys"),
            grant_types_supported: ["client_credentials"],
            token_endpoint_auth_methods_supported: ["client_secret_post", "client_secret_basic"],
            response_types_supported: ["token"],
            subject_types_supported: ["public"],
            id_token_signing_alg_values_supported: ["RS256"],
        }
    }
}

/// `GET /.well-known/openid-configuration` and `/.well-known/oauth-authorization-server`.
pub async fn discovery(State(state): State<AppState>) -> Response {
    let mut response = Response::new(Body::from(state.discovery.clone()));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}

/// `GET /healthz`: liveness, `{"status":"ok"}` while the process serves requests. It does not
/// look at the store (a store outage is not cured by restarting the server): see `/readyz`.
pub async fn healthz() -> Response {
    crate::serve::json::response(StatusCode::OK, &serde_json::json!({"status": "ok"}))
}

/// `GET /readyz`: readiness, `{"status":"ready"}` when the store answers, takes a write and (on
/// SQLite) is still the file opened at start; otherwise 503 `unavailable` with `Retry-After`,
/// within [`crate::serve::state::READINESS_TIMEOUT`] whatever the store does.
///
/// `validation_cache` is the state of the validation cache: on PostgreSQL its listener's (`live`,
/// `stale`, `connecting`), `exact` on SQLite (checked against the file before every answer), or
/// `disabled` when turned off. It does not affect readiness: without a live listener validations
/// read the database, slower but exact.
pub async fn readyz(State(state): State<AppState>) -> Result<Response, ApiError> {
    state.health().await?;
    let cache = state.authority.validation_cache_stats().listener;
    Ok(crate::serve::json::response(
        StatusCode::OK,
        &serde_json::json!({"status": "ready", "validation_cache": cache.as_str()}),
    ))
}

/// `GET /metrics`: Prometheus text format; a 404 on the main listener when `--metrics-listen`
/// serves it elsewhere.
pub async fn metrics(State(state): State<AppState>, uri: axum::http::Uri) -> Response {
    if state.metrics_elsewhere {
        return not_found(uri).await.into_response();
    }
    metrics_text(&state)
}

/// `GET /metrics` on the `--metrics-listen` listener.
pub async fn metrics_only(State(state): State<AppState>) -> Response {
    metrics_text(&state)
}

fn metrics_text(state: &AppState) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        {
            let mut text = state.metrics.render();
            crate::serve::metrics::render_cache(&mut text, &state.authority.validation_cache_stats());
            text
        },
    )
        .into_response()
}

/// Fallback for unknown paths: a 404 in the API's error body.
pub async fn not_found(uri: axum::http::Uri) -> ApiError {
    let path: String = uri.path().chars().take(200).collect();
    ApiError::from(authgate_core::Error::not_found("route", path))
}

/// Fallback for a known path with another method: 405 in the API's error body.
pub async fn method_not_allowed() -> ApiError {
    ApiError::bad_request(
        StatusCode::METHOD_NOT_ALLOWED,
        "method",
        "this route does not accept the method",
    )
}
