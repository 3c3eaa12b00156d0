//! `authgate serve` start-up: options, store, environment credentials, the admin-token
//! validator, the listener, and the run until SIGTERM/ctrl-c.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use authgate_core::authority::limits::{ENVIRONMENT_ID_MAX, ENVIRONMENT_SECRET_LEN};
use authgate_core::authority::{Authority, AuthorityConfig};
use authgate_core::jwt::{JwtValidator, KeySource, ValidatorConfig};
use authgate_core::keys::ENVIRONMENT_CLIENT_ID_PREFIX;
use authgate_core::{AuthApi, Error, Result, Secret};
use axum::body::Bytes;
use tokio::net::TcpListener;

use super::handlers::meta::Discovery;
use super::listener::Transport;
use super::metrics::Metrics;
use super::state::{AdminTokenVerifier, AppState, HealthCheck, Limits, Shared};
use super::tls::Tls;
use super::{listener, logging, router};

/// The stdout line that announces the bound address (tests and scripts read it).
pub const LISTENING: &str = "authgate listening on ";

/// Options of `authgate serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (`host:port`; port 0 picks a free port, printed at start-up).
    #[arg(long, env = "AUTHGATE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,

    /// Largest accepted request body, in bytes.
    #[arg(long, env = "AUTHGATE_MAX_BODY_BYTES", default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,

    /// Time limit of one request, in seconds (504 past it).
    #[arg(long, env = "AUTHGATE_REQUEST_TIMEOUT", default_value_t = 15)]
    pub request_timeout: u64,

    /// Serve TLS with this PEM certificate chain (with --tls-key). ALPN h2 and http/1.1;
    /// the certificate and key are re-read on SIGHUP without dropping connections.
    #[arg(long, env = "AUTHGATE_TLS_CERT", requires = "tls_key", value_name = "PEM")]
    pub tls_cert: Option<std::path::PathBuf>,

    /// The PEM private key of --tls-cert.
    #[arg(long, env = "AUTHGATE_TLS_KEY", requires = "tls_cert", value_name = "PEM")]
    pub tls_key: Option<std::path::PathBuf>,

    /// With TLS, also accept plaintext HTTP/1.1 and h2c on the same port (local development).
    #[arg(long, env = "AUTHGATE_TLS_ALLOW_PLAINTEXT", requires = "tls_cert")]
    pub tls_allow_plaintext: bool,
}

/// Verifies environment access tokens with the JWT engine against the authority's own keys
/// (cached JWKS, verified-token cache).
#[derive(Debug)]
struct JwtAdminVerifier(JwtValidator);

#[async_trait::async_trait]
impl AdminTokenVerifier for JwtAdminVerifier {
    async fn verify(&self, token: &str) -> Result<String> {
        let claims = self.0.validate(token).await?;
        claims
            .client_id()
            .or_else(|| claims.subject())
            .map(str::to_owned)
            .ok_or_else(|| Error::Unauthenticated("access token names no client".into()))
    }
}

#[derive(Debug)]
struct StoreHealth(Arc<Authority>);

#[async_trait::async_trait]
impl HealthCheck for StoreHealth {
    async fn check(&self) -> Result<()> {
        self.0.ping().await
    }
}

/// The issuer to use: `--issuer` (trailing `/` dropped), else `<scheme>://<bound address>`
/// (`https` with TLS; `127.0.0.1` standing in for an unspecified address).
fn issuer_for(configured: Option<&str>, bound: SocketAddr, scheme: &str) -> Result<String> {
    if let Some(issuer) = configured {
        let issuer = issuer.trim().trim_end_matches('/');
        let url = url::Url::parse(issuer).map_err(|e| Error::invalid("issuer", e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(Error::invalid("issuer", "must be an http(s) URL"));
        }
        return Ok(issuer.to_owned());
    }
    let mut addr = bound;
    if addr.ip().is_unspecified() {
        tracing::warn!("listening on an unspecified address; set --issuer to the URL clients use");
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    Ok(format!("{scheme}://{addr}"))
}

/// Environment credentials: registers the provisioned ones, or creates and prints a pair on an
/// empty store.
async fn provision(authority: &Authority) -> Result<()> {
    let id = std::env::var("AUTHGATE_CLIENT_ID").ok().filter(|v| !v.is_empty());
    let secret = std::env::var("AUTHGATE_CLIENT_SECRET")
        .ok()
        .filter(|v| !v.is_empty());
    match (id, secret) {
        (Some(id), Some(secret)) => {
            // Checked here too (the authority checks them again) to name the variables.
            if !id.starts_with(ENVIRONMENT_CLIENT_ID_PREFIX) || id.len() > ENVIRONMENT_ID_MAX {
                return Err(Error::invalid(
                    "AUTHGATE_CLIENT_ID",
                    format!(
                        "must start with {ENVIRONMENT_CLIENT_ID_PREFIX} (at most {ENVIRONMENT_ID_MAX} characters)"
                    ),
                ));
            }
            let min_secret_len = ENVIRONMENT_SECRET_LEN.0;
            if secret.chars().count() < min_secret_len {
                return Err(Error::invalid(
                    "AUTHGATE_CLIENT_SECRET",
                    format!("must be at least {min_secret_len} characters"),
                ));
            }
            // An upsert: the environment is the source of truth, so a changed secret re-keys it.
            authority
                .register_environment_client(&id, &Secret::new(secret))
                .await?;
            tracing::info!(client_id = %id, "environment credentials registered");
            Ok(())
        }
        (Some(_), None) | (None, Some(_)) => Err(Error::invalid(
            "AUTHGATE_CLIENT_ID",
            "AUTHGATE_CLIENT_ID and AUTHGATE_CLIENT_SECRET go together",
        )),
        (None, None) => {
            if authority.has_environment_clients().await? {
                return Ok(());
            }
            let (id, secret) = authority.create_environment_client().await?;
            tracing::info!(client_id = %id, "environment credentials created (printed once on stdout)");
            println!("authgate: created environment credentials; they are shown once, store them now:");
            println!("AUTHGATE_CLIENT_ID={id}");
            println!("AUTHGATE_CLIENT_SECRET={}", secret.expose());
            Ok(())
        }
    }
}

/// Runs `authgate serve` until SIGTERM or ctrl-c. `issuer` is the global `--issuer` when it was
/// given explicitly (flag or `AUTHGATE_ISSUER`); otherwise it is `http://<bound address>`.
pub async fn run(database: &str, issuer: Option<&str>, args: ServeArgs) -> Result<()> {
    logging::init();
    let listener = TcpListener::bind(&args.listen)
        .await
        .map_err(|e| Error::invalid("listen", format!("cannot listen on {}: {e}", args.listen)))?;
    let bound = listener
        .local_addr()
        .map_err(|e| Error::Internal(format!("local address: {e}")))?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            let tls = Arc::new(Tls::new(cert.clone(), key.clone())?);
            tls.reload_on_sighup()?;
            Some(tls)
        }
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let issuer = issuer_for(issuer, bound, scheme)?;

    let config = AuthorityConfig::from_env(issuer.clone())?;
    let authority = Arc::new(Authority::open(database, config).await?);
    provision(&authority).await?;

    let api: Arc<dyn AuthApi> = authority.clone();
    // Environment tokens are verified with the JWT engine against the authority's own keys
    // and cached once verified, so the check costs about a microsecond per request. The keys
    // come from the local store, tuned as for every embedded client (`setup::store_keys`):
    // re-read every minute, so a retired key stops being accepted within a minute; an unknown
    // kid looked up again after 100 ms, so even an immediate rotation (CLI, another node) is
    // accepted at once.
    let keys = authgate_core::setup::store_keys(api.clone())?;
    let validator =
        JwtValidator::new(ValidatorConfig::new(KeySource::Cache(keys)).with_issuer(issuer.clone()))?;
    let limits = Limits {
        max_body_bytes: args.max_body_bytes,
        request_timeout: Duration::from_secs(args.request_timeout.max(1)),
        ..Limits::default()
    };
    let discovery = serde_json::to_vec(&Discovery::new(&issuer))
        .map_err(|e| Error::Internal(format!("discovery document: {e}")))?;
    let state = AppState::new(Shared {
        api: api.clone(),
        admin: Arc::new(JwtAdminVerifier(validator)),
        health: Arc::new(StoreHealth(authority.clone())),
        metrics: Metrics::new(),
        discovery: Bytes::from(discovery),
        config: limits.clone(),
    });

    tracing::info!(address = %bound, %issuer, "listening");
    println!("{LISTENING}{scheme}://{bound} (issuer {issuer})");
    let transport = match tls {
        None => Transport::Plain,
        Some(tls) if args.tls_allow_plaintext => Transport::TlsOrPlain(tls),
        Some(tls) => Transport::Tls(tls),
    };
    listener::serve(
        listener,
        router::router(state),
        &limits,
        transport,
        listener::shutdown_signal(),
    )
    .await;
    tracing::info!("stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_defaults_and_normalisation() {
        let bound: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(issuer_for(None, bound, "http").unwrap(), "http://127.0.0.1:8080");
        assert_eq!(
            issuer_for(None, bound, "https").unwrap(),
            "https://127.0.0.1:8080"
        );
        let any: SocketAddr = "0.0.0.0:9000".parse().unwrap();
        assert_eq!(issuer_for(None, any, "http").unwrap(), "http://127.0.0.1:9000");
        assert_eq!(
            issuer_for(Some("https://auth.example.com/"), bound, "http").unwrap(),
            "https://auth.example.com"
        );
        assert!(issuer_for(Some("ftp://x"), bound, "http").is_err());
        assert!(issuer_for(Some("not a url"), bound, "http").is_err());
    }
}
