//! The route table.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};

use super::handlers::{audit, clients, credentials, meta, oauth, orgs, signing_keys, tokens, users};
use super::middleware;
use super::state::AppState;
use crate::console::handlers as console;

/// All routes of `authgate serve`, with the observing middleware and the body limit.
///
/// Paths follow Scalekit's REST surface. The custom methods (`/api/v1/tokens:validate`, …) are
/// literal routes: in axum 0.8 a `:` inside a segment is an ordinary character. The gRPC services
/// of the official SDKs share the table (`/<package>.<Service>/{method}`, [`crate::grpc::mount`]).
pub fn router(state: AppState) -> Router {
    let org = "/api/v1/organizations/{organization_id}";
    let client = "/api/v1/organizations/{organization_id}/clients/{client_id}";
    let rest = Router::new()
        // OAuth and keys (public)
        .route("/oauth/token", post(oauth::token))
        .route("/keys", get(meta::jwks))
        .route("/.well-known/jwks.json", get(meta::jwks))
        .route("/.well-known/openid-configuration", get(meta::discovery))
        .route("/.well-known/oauth-authorization-server", get(meta::discovery))
        // API keys
        .route("/api/v1/tokens", post(tokens::create).get(tokens::list))
        .route("/api/v1/tokens:validate", post(tokens::validate))
        .route("/api/v1/tokens:invalidate", post(tokens::invalidate))
        .route("/api/v1/tokens:update", post(tokens::update))
        .route("/api/v1/tokens:rotate", post(tokens::rotate))
        // organizations and users
        .route("/api/v1/organizations", post(orgs::create).get(orgs::list))
        .route(org, get(orgs::get).patch(orgs::update).delete(orgs::delete))
        .route(
            &format!("{org}/users"),
            post(orgs::create_user).get(orgs::list_users),
        )
        // users and memberships (by usr_… id or by external id)
        .route("/api/v1/users", get(users::list))
        .route(
            "/api/v1/users/{id}",
            get(users::get_by_id)
                .patch(users::update_by_id)
                .delete(users::delete_by_id),
        )
        .route(
            "/api/v1/users:external/{external_id}",
            get(users::get_by_external_id)
                .patch(users::update_by_external_id)
                .delete(users::delete_by_external_id),
        )
        .route(
            "/api/v1/memberships/organizations/{organization_id}/users/{id}",
            post(users::create_membership)
                .patch(users::update_membership)
                .delete(users::delete_membership),
        )
        .route(
            "/api/v1/memberships/organizations/{organization_id}/users:external/{external_id}",
            post(users::create_membership_by_external_id)
                .patch(users::update_membership_by_external_id)
                .delete(users::delete_membership_by_external_id),
        )
        // M2M clients
        .route(
            &format!("{org}/clients"),
            post(clients::create).get(clients::list),
        )
        .route(
            client,
            get(clients::get).patch(clients::update).delete(clients::delete),
        )
        .route(&format!("{client}/secrets"), post(clients::add_secret))
        .route(
            &format!("{client}/secrets/{{secret_id}}"),
            axum::routing::delete(clients::remove_secret),
        )
        // environment credentials (authgate's own routes; Scalekit has none)
        .route(
            "/api/v1/environment/credentials",
            get(credentials::list).post(credentials::create),
        )
        .route(
            "/api/v1/environment/credentials/{target}",
            post(credentials::revoke),
        )
        // signing keys (authgate's own routes, as `authgate signing-keys`)
        .route("/api/v1/environment/signing-keys", get(signing_keys::list))
        .route(
            "/api/v1/environment/signing-keys:rotate",
            post(signing_keys::rotate),
        )
        .route(
            "/api/v1/environment/signing-keys/{target}",
            post(signing_keys::retire),
        )
        // the admin console (`crate::console`; 404 with `--no-console`)
        .route("/console", get(console::page))
        .route("/console/assets/{file}", get(console::asset))
        .route(
            "/console/api/session",
            get(console::session)
                .post(console::sign_in)
                .delete(console::sign_out),
        )
        .route("/console/api/stats", get(console::stats))
        // the audit log (authgate's own route)
        .route("/api/v1/audit-events", get(audit::list))
        // operations
        .route("/healthz", get(meta::healthz))
        .route("/readyz", get(meta::readyz))
        .route("/metrics", get(meta::metrics));
    // gRPC (the official Scalekit SDKs) on the same routes table, behind the same middleware.
    crate::grpc::mount(rest, &state)
        .fallback(meta::not_found)
        .method_not_allowed_fallback(meta::method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        // HTTP/1 bodies are read before any handler, so early answers keep the connection usable.
        .layer(from_fn_with_state(state.clone(), middleware::read_body_first))
        // gRPC calls authenticate inside the services: their failures count here.
        .layer(from_fn_with_state(state.clone(), middleware::grpc_auth_limits))
        .layer(from_fn_with_state(state.clone(), middleware::observe))
        // Outermost: answers to gRPC requests stay gRPC (see `crate::grpc::http`).
        .layer(from_fn(crate::grpc::http::adapt))
        .with_state(state)
}

/// The router of the `--metrics-listen` listener: `/metrics` only (everything else 404).
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(meta::metrics_only))
        .fallback(meta::not_found)
        .with_state(state)
}
