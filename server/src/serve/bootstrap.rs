//! `authgate serve` start-up: options, store, environment credentials, the admin-token
//! validator, the listener, and the run until SIGTERM/ctrl-c.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use authgate_core::authority::limits::{ENVIRONMENT_ID_MAX, ENVIRONMENT_SECRET_LEN};
use authgate_core::authority::{Authority, AuthorityConfig};
use authgate_core::jwt::{JwtValidator, KeySource, ValidatorConfig};
use authgate_core::keys::ENVIRONMENT_CLIENT_ID_PREFIX;
use authgate_core::setup::master_key::{self, PostgresWithoutKey};
use authgate_core::{AuthApi, Error, Result, Secret};
use axum::body::Bytes;
use tokio::net::TcpListener;

use super::credentials::{CredentialGate, DEFAULT_RECHECK};
use super::handlers::meta::Discovery;
use super::limiter::{AuthLimiter, AuthLimits, Clock, IpNet};
use super::listener::Transport;
use super::metrics::Metrics;
use super::state::{AdminTokenVerifier, AppState, HealthCheck, Limits, Shared};
use super::tls::Tls;
use super::{listener, logging, router};

/// The stdout line that announces the bound address (tests and scripts read it).
pub const LISTENING: &str = "authgate listening on ";
/// The stdout line that announces the `--metrics-listen` address.
pub const METRICS_LISTENING: &str = "authgate metrics listening on ";

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

    /// Seconds a "this environment credential is live" answer is reused before the store is
    /// asked again. Revocations through this server apply at once; revocations by another
    /// process (the CLI, another node) within this many seconds. 0: ask on every request.
    #[arg(
        long,
        env = "AUTHGATE_ENV_CREDENTIAL_RECHECK",
        default_value_t = DEFAULT_RECHECK.as_secs(),
        value_name = "SECONDS"
    )]
    pub env_credential_recheck: u64,

    /// Failed client authentications of one client id (at /oauth/token) per window before
    /// that id is answered 429 until the window ends, right secret included. 0: no limit.
    /// Counted per node.
    #[arg(
        long,
        env = "AUTHGATE_AUTH_FAILURES_PER_CLIENT",
        default_value_t = 10,
        value_name = "N"
    )]
    pub auth_failures_per_client: u32,

    /// Failed authentications (token endpoint and management API) from one source address
    /// (IPv6: one /64) per window before it is answered 429 until the window ends. 0: no limit.
    /// Counted per node.
    #[arg(
        long,
        env = "AUTHGATE_AUTH_FAILURES_PER_ADDRESS",
        default_value_t = 300,
        value_name = "N"
    )]
    pub auth_failures_per_address: u32,

    /// The window of the two limits above, in seconds.
    #[arg(
        long,
        env = "AUTHGATE_AUTH_FAILURE_WINDOW",
        default_value_t = 60,
        value_name = "SECONDS"
    )]
    pub auth_failure_window: u64,

    /// Proxies (addresses or networks, comma-separated, e.g. 10.0.0.0/8,::1) whose
    /// X-Forwarded-For header names the client address the limits count. From any other peer
    /// the header is ignored. Default: none (the TCP peer counts).
    #[arg(
        long,
        env = "AUTHGATE_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_name = "CIDR,…"
    )]
    pub trusted_proxies: Vec<IpNet>,

    /// Open connections from one source address (IPv6: one /64) beyond which new ones are
    /// closed at once, so one client cannot hold every connection. 0: no cap. Per node.
    #[arg(
        long,
        env = "AUTHGATE_MAX_CONNECTIONS_PER_ADDRESS",
        default_value_t = 1000,
        value_name = "N"
    )]
    pub max_connections_per_address: usize,

    /// Serve /metrics on this address (`host:port`) only, on a listener of its own, and not on
    /// --listen: bind it to an internal interface. Default: /metrics on the main listener.
    #[arg(long, env = "AUTHGATE_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<String>,

    /// Delete audit events older than this many days (1–36500), at start and then hourly, off
    /// the request path. Default: keep every event.
    #[arg(long, env = "AUTHGATE_AUDIT_RETENTION_DAYS", value_name = "DAYS")]
    pub audit_retention_days: Option<u64>,

    /// Development only: on PostgreSQL, start without AUTHGATE_MASTER_KEY (signing keys then
    /// stored in plain text). Without it, the server refuses to start there.
    #[arg(long, env = "AUTHGATE_INSECURE_DEV")]
    pub insecure_dev: bool,

    /// Do not serve the admin console (`/console`, and session-cookie authentication of the
    /// management API). Default: served.
    #[arg(long, env = "AUTHGATE_NO_CONSOLE")]
    pub no_console: bool,

    /// Seconds an admin-console session may stay unused before it ends.
    #[arg(
        long,
        env = "AUTHGATE_CONSOLE_IDLE_TIMEOUT",
        default_value_t = crate::console::session::DEFAULT_IDLE.as_secs(),
        value_name = "SECONDS"
    )]
    pub console_idle_timeout: u64,

    /// Seconds after sign-in an admin-console session ends, however busy.
    #[arg(
        long,
        env = "AUTHGATE_CONSOLE_SESSION_LIFETIME",
        default_value_t = crate::console::session::DEFAULT_LIFETIME.as_secs(),
        value_name = "SECONDS"
    )]
    pub console_session_lifetime: u64,

    /// TESTS ONLY, DANGEROUS: read the brute-force limits' clock (whole seconds) from this file
    /// on every use instead of the system's monotonic clock.
    #[arg(long, hide = true, value_name = "FILE")]
    pub dangerous_test_clock_file: Option<std::path::PathBuf>,
}

/// Verifies environment access tokens with the JWT engine against the authority's own keys
/// (cached JWKS, verified-token cache), then checks that the environment credential they were
/// issued to is still live ([`CredentialGate`]).
#[derive(Debug)]
struct JwtAdminVerifier {
    validator: JwtValidator,
    authority: Arc<Authority>,
    credentials: Arc<CredentialGate>,
}

#[async_trait::async_trait]
impl AdminTokenVerifier for JwtAdminVerifier {
    async fn verify(&self, token: &str) -> Result<String> {
        let claims = self.validator.validate(token).await?;
        let client_id = claims
            .client_id()
            .or_else(|| claims.subject())
            .map(str::to_owned)
            .ok_or_else(|| Error::Unauthenticated("access token names no client".into()))?;
        // M2M tokens are refused by the caller (403); only environment tokens need a live client.
        if client_id.starts_with(ENVIRONMENT_CLIENT_ID_PREFIX) {
            self.credentials.check(&self.authority, &client_id).await?;
        }
        Ok(client_id)
    }
}

#[derive(Debug)]
struct StoreHealth(Arc<Authority>);

#[async_trait::async_trait]
impl HealthCheck for StoreHealth {
    async fn check(&self) -> Result<()> {
        self.0.ready().await
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
            // The environment is the source of truth: a changed secret re-keys the id, and the
            // credentials it replaces are revoked (their tokens are refused from now on).
            let revoked = authority
                .provision_environment_client(&id, &Secret::new(secret))
                .await?;
            tracing::info!(client_id = %id, "environment credentials registered (the live pair)");
            for old in &revoked {
                tracing::warn!(client_id = %old, replaced_by = %id, "environment credential revoked: replaced by AUTHGATE_CLIENT_ID");
            }
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

    let mut config = AuthorityConfig::from_env(issuer.clone())?;
    // `last_used_time` writes never delay a grant (a held SQLite write lock, a busy store).
    config.defer_bookkeeping = true;
    // What the server does on its own (registering its credential); requests name their caller.
    config.audit_actor = authgate_core::audit::SERVER.to_owned();
    if let Some(days) = args.audit_retention_days
        && !(1..=authgate_core::authority::audit::MAX_AUDIT_RETENTION_DAYS).contains(&days)
    {
        return Err(Error::invalid(
            "audit_retention_days",
            format!(
                "must be 1–{} days",
                authgate_core::authority::audit::MAX_AUDIT_RETENTION_DAYS
            ),
        ));
    }
    let pepper_missing = config.key_pepper.is_none();
    let postgres = if args.insecure_dev {
        PostgresWithoutKey::PlainText
    } else {
        PostgresWithoutKey::Refuse
    };
    let master_key::Opened {
        authority,
        source,
        sealed,
    } = master_key::open_authority(database, config, postgres).await?;
    match source {
        master_key::Source::Given => {}
        master_key::Source::File { path, created: true } => tracing::warn!(
            path = %path.display(),
            "AUTHGATE_MASTER_KEY is not set: created a master key file for the signing keys; \
             back it up with the database (without it the signing keys cannot be decrypted)"
        ),
        master_key::Source::File { path, created: false } => tracing::info!(
            path = %path.display(),
            "signing keys encrypted with the master key file next to the database"
        ),
        master_key::Source::None => tracing::warn!(
            "--insecure-dev: AUTHGATE_MASTER_KEY is not set, signing keys are stored in plain text"
        ),
    }
    if pepper_missing {
        tracing::warn!(
            "AUTHGATE_KEY_PEPPER is not set: API keys and client secrets are digested with plain \
             SHA-256; a stolen database allows offline guessing of weak provisioned secrets. Set a \
             pepper (at least 32 characters) when creating a store"
        );
    }
    let authority = Arc::new(authority);
    if !sealed.is_empty() {
        tracing::warn!(kids = ?sealed, "signing keys stored in plain text were encrypted with the master key");
    }
    provision(&authority).await?;
    let retention_task = args.audit_retention_days.map(|days| {
        tracing::info!(
            retention_days = days,
            "audit events older than the retention are pruned hourly"
        );
        super::audit::spawn_retention(authority.clone(), days)
    });

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
    let credentials = Arc::new(CredentialGate::new(Duration::from_secs(
        args.env_credential_recheck,
    )));
    let limits = Limits {
        max_body_bytes: args.max_body_bytes,
        request_timeout: Duration::from_secs(args.request_timeout.max(1)),
        max_connections_per_address: args.max_connections_per_address,
        ..Limits::default()
    };
    let clock = match &args.dangerous_test_clock_file {
        Some(path) => {
            tracing::warn!(path = %path.display(), "DANGEROUS: the brute-force limits run on a test clock read from a file");
            Clock::DangerousFile(path.clone())
        }
        None => Clock::Monotonic(std::time::Instant::now()),
    };
    if args.auth_failure_window == 0 {
        return Err(Error::invalid("auth_failure_window", "must be at least 1 second"));
    }
    let auth_limits = AuthLimits {
        per_client: args.auth_failures_per_client,
        per_address: args.auth_failures_per_address,
        window: Duration::from_secs(args.auth_failure_window),
        trusted_proxies: args.trusted_proxies.clone(),
    };
    tracing::info!(
        per_client = auth_limits.per_client,
        per_address = auth_limits.per_address,
        window_seconds = args.auth_failure_window,
        trusted_proxies = auth_limits.trusted_proxies.len(),
        "brute-force limits (per node)"
    );
    let limiter = Arc::new(AuthLimiter::new(auth_limits, clock));
    if args.console_idle_timeout == 0 || args.console_session_lifetime == 0 {
        return Err(Error::invalid(
            "console_idle_timeout",
            "the console's idle timeout and session lifetime must be at least 1 second",
        ));
    }
    let console = if args.no_console {
        tracing::info!("admin console disabled (--no-console)");
        None
    } else {
        let transport = match (&tls, args.tls_allow_plaintext) {
            (None, _) => crate::console::Transport::Plain,
            (Some(_), false) => crate::console::Transport::Tls,
            (Some(_), true) => crate::console::Transport::TlsOrPlain,
        };
        let limits = crate::console::session::SessionLimits {
            idle: Duration::from_secs(args.console_idle_timeout),
            lifetime: Duration::from_secs(args.console_session_lifetime),
            ..Default::default()
        };
        tracing::info!(
            idle_seconds = args.console_idle_timeout,
            lifetime_seconds = args.console_session_lifetime,
            "admin console at /console"
        );
        Some(Arc::new(crate::console::Console::new(limits, transport)))
    };
    let discovery = serde_json::to_vec(&Discovery::new(&issuer))
        .map_err(|e| Error::Internal(format!("discovery document: {e}")))?;
    let state = AppState::new(Shared {
        api: api.clone(),
        authority: authority.clone(),
        credentials: credentials.clone(),
        limiter,
        admin: Arc::new(JwtAdminVerifier {
            validator,
            authority: authority.clone(),
            credentials,
        }),
        health: Arc::new(StoreHealth(authority.clone())),
        metrics: Metrics::new(),
        discovery: Bytes::from(discovery),
        config: limits.clone(),
        console,
        metrics_elsewhere: args.metrics_listen.is_some(),
    });
    let metrics_task = match &args.metrics_listen {
        Some(address) => {
            let metrics_listener = TcpListener::bind(address)
                .await
                .map_err(|e| Error::invalid("metrics_listen", format!("cannot listen on {address}: {e}")))?;
            let metrics_bound = metrics_listener
                .local_addr()
                .map_err(|e| Error::Internal(format!("local address: {e}")))?;
            tracing::info!(address = %metrics_bound, "metrics listening (only /metrics; not on the main listener)");
            println!("{METRICS_LISTENING}http://{metrics_bound}");
            let router = router::metrics_router(state.clone());
            let limits = limits.clone();
            Some(tokio::spawn(async move {
                listener::serve(
                    metrics_listener,
                    router,
                    &limits,
                    Transport::Plain,
                    listener::shutdown_signal(),
                )
                .await;
            }))
        }
        None => None,
    };

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
    if let Some(task) = metrics_task {
        task.abort();
    }
    if let Some(task) = retention_task {
        task.abort();
    }
    // The last interval's key and secret uses, noted in memory, are written before exiting.
    authority.flush_usage().await;
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
