//! `authgate serve`: the Scalekit-compatible HTTP server.
//!
//! Routes (see [`router`]): the OAuth token endpoint and JWKS/discovery (public), the management
//! API under `/api/v1` (environment access token required, or a console session), `/healthz`,
//! `/metrics`, and the admin console under `/console` ([`crate::console`], off with `--no-console`).
//!
//! Layout: [`handlers`] hold one module per resource; [`json`] the strict extractors; [`auth`]
//! the management-token check; [`error`] the two error bodies; [`middleware`] request ids,
//! timeouts, metrics and the access log in one function; [`listener`] the accept loop and
//! graceful shutdown; [`tls`] the TLS configuration (SIGHUP reload) and `authgate dev-cert`.
//! The gRPC services of the official SDKs are mounted on the same router ([`crate::grpc`]).

pub mod audit;
pub mod auth;
pub mod bootstrap;
pub mod credentials;
pub mod error;
pub mod handlers;
pub mod json;
pub mod limiter;
pub mod listener;
pub mod logging;
pub mod metrics;
pub mod middleware;
pub mod request_id;
pub mod router;
pub mod state;
pub mod tls;

pub use bootstrap::{ServeArgs, run};
