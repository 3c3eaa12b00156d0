//! `authgate serve`: the Scalekit-compatible HTTP server.
//!
//! Routes (see [`router`]): the OAuth token endpoint and JWKS/discovery (public), the management
//! API under `/api/v1` (environment access token required), `/healthz` and `/metrics`.
//!
//! Layout: [`handlers`] hold one module per resource; [`json`] the strict extractors; [`auth`]
//! the management-token check; [`error`] the two error bodies; [`middleware`] request ids,
//! timeouts, metrics and the access log in one function; [`listener`] the accept loop and
//! graceful shutdown.

pub mod auth;
pub mod bootstrap;
pub mod error;
pub mod handlers;
pub mod json;
pub mod listener;
pub mod logging;
pub mod metrics;
pub mod middleware;
pub mod request_id;
pub mod router;
pub mod state;

pub use bootstrap::ServeArgs;

/// Entry point of `authgate serve`: builds the runtime, runs the server, and maps a start-up
/// failure to a non-zero exit with the error code on stderr.
pub fn main(database: &str, args: ServeArgs) -> std::process::ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(bootstrap::run(database, args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(code = err.code(), error = %err, "authgate serve failed");
            eprintln!("error ({}): {err}", err.code());
            std::process::ExitCode::FAILURE
        }
    }
}
