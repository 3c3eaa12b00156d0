//! Shared server state.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use authgate_core::authority::Authority;
use authgate_core::{AuthApi, Result};
use axum::body::Bytes;

use super::credentials::CredentialGate;
use super::limiter::AuthLimiter;
use super::metrics::Metrics;

/// Verifies environment access tokens for the management routes.
#[async_trait::async_trait]
pub trait AdminTokenVerifier: Send + Sync + std::fmt::Debug {
    /// Verifies `token` and returns the `client_id` it was issued to.
    async fn verify(&self, token: &str) -> Result<String>;
}

/// The longest `/readyz` waits for the store before answering 503.
pub const READINESS_TIMEOUT: Duration = Duration::from_secs(2);

/// Checks that the store is ready (`/readyz`).
#[async_trait::async_trait]
pub trait HealthCheck: Send + Sync + std::fmt::Debug {
    /// `Ok` when the store is the one opened, answers and takes a write.
    async fn check(&self) -> Result<()>;
}

/// Limits and timeouts of the HTTP server.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest accepted request body. Default 64 KiB (a token request with 20 claims is ~6 KiB).
    pub max_body_bytes: usize,
    /// Time a request may take, from the end of its headers to its response. Default 15 s;
    /// past it the server answers 504 `deadline_exceeded`.
    pub request_timeout: Duration,
    /// Time a client may take to send a request's headers (also the idle keep-alive limit).
    /// Default 30 s.
    pub header_read_timeout: Duration,
    /// Open connections beyond this wait to be accepted. Default 10 000.
    pub max_connections: usize,
    /// Open connections from one address (IPv6: one /64) beyond this are closed at once.
    /// Default 1 000; 0: no cap.
    pub max_connections_per_address: usize,
    /// How long shutdown waits for in-flight requests after SIGTERM/ctrl-c. Default 10 s.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 64 * 1024,
            request_timeout: Duration::from_secs(15),
            header_read_timeout: Duration::from_secs(30),
            max_connections: 10_000,
            max_connections_per_address: 1_000,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// What every handler shares. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Shared>);

/// The contents of [`AppState`].
#[derive(Debug)]
pub struct Shared {
    /// The authority behind the API.
    pub api: Arc<dyn AuthApi>,
    /// The same authority, for what is not in [`AuthApi`] (environment credentials).
    pub authority: Arc<Authority>,
    /// Which environment credentials are live (shared with the admin-token verifier).
    pub credentials: Arc<CredentialGate>,
    /// Brute-force limits of client and management authentication.
    pub limiter: Arc<AuthLimiter>,
    /// Verifies environment access tokens.
    pub admin: Arc<dyn AdminTokenVerifier>,
    /// Checks the store for `/readyz`.
    pub health: Arc<dyn HealthCheck>,
    /// Request metrics.
    pub metrics: Metrics,
    /// The discovery document, serialized once.
    pub discovery: Bytes,
    /// Limits and timeouts.
    pub config: Limits,
    /// The admin console (`None` with `--no-console`).
    pub console: Option<Arc<crate::console::Console>>,
    /// `/metrics` is served on its own listener (`--metrics-listen`), not on the main one.
    pub metrics_elsewhere: bool,
}

impl AppState {
    /// Wraps the shared state.
    pub fn new(shared: Shared) -> Self {
        AppState(Arc::new(shared))
    }

    /// Verifies an environment access token, returning its `client_id`.
    pub async fn verify_admin_token(&self, token: &str) -> Result<String> {
        self.admin.verify(token).await
    }

    /// Checks the store, within [`READINESS_TIMEOUT`].
    pub async fn health(&self) -> Result<()> {
        match tokio::time::timeout(READINESS_TIMEOUT, self.health.check()).await {
            Ok(result) => result,
            Err(_) => Err(authgate_core::Error::Unavailable(format!(
                "the store did not answer within {} s",
                READINESS_TIMEOUT.as_secs()
            ))),
        }
    }
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}
