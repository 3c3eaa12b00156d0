//! The gRPC surface of `authgate serve`: the subset of Scalekit's gRPC API that the official
//! SDKs (Python, Node, Go, Java) call, served on the same listener as the REST API.
//!
//! - [`pb`]: the messages and service traits generated from `server/proto` (wire-identical to
//!   the official SDKs' descriptors; `tests/sdk/descriptors.py` checks it field by field).
//! - [`tokens`], [`organizations`], [`users`], [`clients`]: one service each, every method a thin
//!   adapter over the same [`AuthApi`](authgate_core::AuthApi) call as its REST twin.
//! - [`auth`]: the `authorization` metadata check (environment access tokens only, like REST).
//! - [`status`]: the one mapping from core errors to gRPC statuses with Scalekit error details.
//! - [`http`]: the layer that keeps every answer to a gRPC request in gRPC terms (middleware
//!   errors, unknown services) and declares trailers on HTTP/1.1.
//!
//! Methods of the served services that authgate does not implement, and every other service,
//! answer `UNIMPLEMENTED`.

pub mod auth;
pub mod clients;
mod convert;
pub mod http;
pub mod organizations;
pub mod status;
pub mod tokens;
pub mod users;

use axum::Router;

use crate::serve::state::AppState;

/// Generated protobuf messages and service traits (`server/proto`, built by `build.rs`).
#[allow(missing_docs, missing_debug_implementations, clippy::all, clippy::pedantic)]
pub mod pb {
    /// `scalekit.v1.commons`
    pub mod commons {
        tonic::include_proto!("scalekit.v1.commons");
    }
    /// `scalekit.v1.errdetails`
    pub mod errdetails {
        tonic::include_proto!("scalekit.v1.errdetails");
    }
    /// `scalekit.v1.tokens`
    pub mod tokens {
        tonic::include_proto!("scalekit.v1.tokens");
    }
    /// `scalekit.v1.organizations`
    pub mod organizations {
        tonic::include_proto!("scalekit.v1.organizations");
    }
    /// `scalekit.v1.users`
    pub mod users {
        tonic::include_proto!("scalekit.v1.users");
    }
    /// `scalekit.v1.clients`
    pub mod clients {
        tonic::include_proto!("scalekit.v1.clients");
    }
}

/// Path prefixes of the served services (`/<package>.<Service>/`).
pub const SERVICES: [&str; 4] = [
    "scalekit.v1.tokens.ApiTokenService",
    "scalekit.v1.organizations.OrganizationService",
    "scalekit.v1.users.UserService",
    "scalekit.v1.clients.ClientService",
];

/// Adds the gRPC services to the REST router, each under `/<service>/{method}`. Requests reach
/// them through the same middleware as REST (request id, timeout, metrics, access log).
pub fn mount(router: Router<AppState>, state: &AppState) -> Router<AppState> {
    use pb::clients::client_service_server::ClientServiceServer;
    use pb::organizations::organization_service_server::OrganizationServiceServer;
    use pb::tokens::api_token_service_server::ApiTokenServiceServer;
    use pb::users::user_service_server::UserServiceServer;

    let limit = state.config.max_body_bytes;
    let tokens = ApiTokenServiceServer::new(tokens::Tokens(state.clone())).max_decoding_message_size(limit);
    let organizations = OrganizationServiceServer::new(organizations::Organizations(state.clone()))
        .max_decoding_message_size(limit);
    let users = UserServiceServer::new(users::Users(state.clone())).max_decoding_message_size(limit);
    let clients = ClientServiceServer::new(clients::Clients(state.clone())).max_decoding_message_size(limit);
    router
        .route_service(&format!("/{}/{{method}}", SERVICES[0]), tokens)
        .route_service(&format!("/{}/{{method}}", SERVICES[1]), organizations)
        .route_service(&format!("/{}/{{method}}", SERVICES[2]), users)
        .route_service(&format!("/{}/{{method}}", SERVICES[3]), clients)
}

#[cfg(test)]
mod tests {
    use super::SERVICES;
    use crate::serve::metrics::ROUTES;

    #[test]
    fn every_service_has_its_metrics_series() {
        for service in SERVICES {
            let template = format!("/{service}/{{method}}");
            assert!(
                ROUTES.contains(&template.as_str()),
                "{template} is not in metrics::ROUTES"
            );
        }
    }
}
