//! Prometheus metrics, lock-free: a fixed table of atomic counters and histograms indexed by route
//! template, method and status, so recording costs a few relaxed atomic adds per request.
//!
//! Exposed at `GET /metrics` (text format 0.0.4):
//!
//! - `authgate_http_requests_total{route, method, status}`
//! - `authgate_http_request_duration_seconds{route}` (histogram)
//! - `authgate_http_requests_in_flight`
//! - `authgate_api_key_validations_total{outcome="valid"|"invalid"|"error"|"rate_limited"}`
//! - `authgate_token_requests_total{outcome="issued"|<RFC 6749 error code>}`
//! - `authgate_admin_auth_total{outcome="ok"|"missing"|"invalid"|"forbidden"|"unavailable"}`
//! - `authgate_client_auth_failures_total` (failed client authentications at `/oauth/token`)
//! - `authgate_auth_rate_limited_total` (requests refused 429 by the brute-force limits)
//! - `authgate_build_info{version}`
//! - `authgate_validation_cache_lookups_total{outcome="hit"|"negative_hit"|"miss"|"untrusted"}`,
//!   `authgate_validation_cache_invalidations_total`, `authgate_validation_cache_flushes_total`,
//!   `authgate_validation_cache_subscriptions_total`, `authgate_validation_cache_entries{kind}`
//!   and `authgate_validation_cache_listener{state}` (1 for the current state): the validation
//!   cache ([`authgate_core::store::keycache`]); `state="exact"` on SQLite, `"disabled"` when off

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use authgate_core::store::keycache::{CacheStats, ListenerState};
use axum::http::Method;

/// Route templates, as registered in the router. `unmatched` collects 404s outside them.
pub const ROUTES: &[&str] = &[
    "/oauth/token",
    "/keys",
    "/.well-known/jwks.json",
    "/.well-known/openid-configuration",
    "/.well-known/oauth-authorization-server",
    "/api/v1/tokens",
    "/api/v1/tokens:validate",
    "/api/v1/tokens:invalidate",
    "/api/v1/tokens:update",
    "/api/v1/tokens:rotate",
    "/api/v1/organizations",
    "/api/v1/organizations/{organization_id}",
    "/api/v1/organizations/{organization_id}/users",
    "/api/v1/organizations/{organization_id}/clients",
    "/api/v1/organizations/{organization_id}/clients/{client_id}",
    "/api/v1/organizations/{organization_id}/clients/{client_id}/secrets",
    "/api/v1/organizations/{organization_id}/clients/{client_id}/secrets/{secret_id}",
    "/api/v1/environment/credentials",
    "/api/v1/environment/credentials/{target}",
    "/api/v1/environment/signing-keys",
    "/api/v1/environment/signing-keys:rotate",
    "/api/v1/environment/signing-keys/{target}",
    // The admin console (`crate::console`).
    "/console",
    "/console/assets/{file}",
    "/console/api/session",
    "/console/api/stats",
    // The gRPC services of the official SDKs (`crate::grpc::SERVICES`), one series per service.
    "/scalekit.v1.tokens.ApiTokenService/{method}",
    "/scalekit.v1.organizations.OrganizationService/{method}",
    "/scalekit.v1.users.UserService/{method}",
    "/scalekit.v1.clients.ClientService/{method}",
    "/healthz",
    "/readyz",
    "/metrics",
    "unmatched",
];

/// Index of the `unmatched` pseudo-route.
pub const UNMATCHED: usize = ROUTES.len() - 1;

const METHODS: &[&str] = &[
    "GET", "POST", "PATCH", "DELETE", "PUT", "HEAD", "OPTIONS", "other",
];

/// Status codes with their own series; anything else is counted in its class (`2xx`, …).
const STATUSES: &[u16] = &[
    200, 201, 204, 304, 400, 401, 403, 404, 405, 408, 409, 413, 415, 429, 500, 502, 503, 504,
];
const CLASSES: &[&str] = &["1xx", "2xx", "3xx", "4xx", "5xx"];
const STATUS_SLOTS: usize = STATUSES.len() + CLASSES.len();

/// Histogram bucket upper bounds, in seconds.
const BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// API-key validation outcomes.
#[derive(Debug, Clone, Copy)]
pub enum Validation {
    /// The key validated.
    Valid = 0,
    /// The key was refused (unknown, expired, revoked, malformed).
    Invalid = 1,
    /// The check failed for another reason (store error, bad request).
    Error = 2,
    /// A valid key over its rate limit (429; not a refusal of the key).
    RateLimited = 3,
}
const VALIDATION_LABELS: &[&str] = &["valid", "invalid", "error", "rate_limited"];

/// Outcomes of the management-route authentication.
#[derive(Debug, Clone, Copy)]
pub enum AdminAuth {
    /// An environment token was accepted.
    Ok = 0,
    /// No bearer token.
    Missing = 1,
    /// The token did not verify.
    Invalid = 2,
    /// A valid token that is not an environment token.
    Forbidden = 3,
    /// Keys could not be read.
    Unavailable = 4,
}
const ADMIN_LABELS: &[&str] = &["ok", "missing", "invalid", "forbidden", "unavailable"];

const TOKEN_LABELS: &[&str] = &[
    "issued",
    "invalid_request",
    "invalid_client",
    "invalid_scope",
    "unsupported_grant_type",
    "unauthorized_client",
    "temporarily_unavailable",
    "server_error",
];

struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Histogram {
    fn new() -> Self {
        Histogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            sum_nanos: AtomicU64::new(0),
        }
    }

    fn observe(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|&b| secs <= b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(
            u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }
}

/// The counters the console's dashboard charts (`GET /console/api/stats`), read at one moment.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Snapshot {
    /// API-key validations that succeeded.
    pub validations_valid: u64,
    /// API-key validations that were refused (unknown, expired, revoked, malformed key).
    pub validations_invalid: u64,
    /// API-key validations that failed for another reason.
    pub validations_error: u64,
    /// Validations of valid keys over their rate limit (answered 429).
    pub validations_rate_limited: u64,
    /// Access tokens issued by the token endpoint.
    pub tokens_issued: u64,
    /// Token requests refused (any RFC 6749 error).
    pub tokens_refused: u64,
    /// Failed client authentications (token endpoint and console sign-in).
    pub client_auth_failures: u64,
    /// Failed management authentications (invalid, forbidden).
    pub admin_auth_failures: u64,
    /// Requests refused by the brute-force limits.
    pub rate_limited: u64,
    /// Requests being served.
    pub in_flight: i64,
}

/// All the server's metrics.
pub struct Metrics {
    requests: Box<[AtomicU64]>,
    latency: Box<[Histogram]>,
    in_flight: AtomicI64,
    validations: [AtomicU64; 4],
    admin: [AtomicU64; 5],
    token: [AtomicU64; TOKEN_LABELS.len()],
    client_auth_failures: AtomicU64,
    rate_limited: AtomicU64,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn status_slot(status: u16) -> usize {
    match STATUSES.iter().position(|&s| s == status) {
        Some(i) => i,
        None => STATUSES.len() + usize::from((status / 100).clamp(1, 5) - 1),
    }
}

fn method_slot(method: &Method) -> usize {
    match *method {
        Method::GET => 0,
        Method::POST => 1,
        Method::PATCH => 2,
        Method::DELETE => 3,
        Method::PUT => 4,
        Method::HEAD => 5,
        Method::OPTIONS => 6,
        _ => 7,
    }
}

impl Metrics {
    /// Empty metrics.
    pub fn new() -> Self {
        Metrics {
            requests: (0..ROUTES.len() * METHODS.len() * STATUS_SLOTS)
                .map(|_| AtomicU64::new(0))
                .collect(),
            latency: (0..ROUTES.len()).map(|_| Histogram::new()).collect(),
            in_flight: AtomicI64::new(0),
            validations: std::array::from_fn(|_| AtomicU64::new(0)),
            admin: std::array::from_fn(|_| AtomicU64::new(0)),
            token: std::array::from_fn(|_| AtomicU64::new(0)),
            client_auth_failures: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
        }
    }

    /// The index of a route template in [`ROUTES`] ([`UNMATCHED`] when unknown).
    pub fn route_index(template: Option<&str>) -> usize {
        template
            .and_then(|t| ROUTES[..UNMATCHED].iter().position(|r| *r == t))
            .unwrap_or(UNMATCHED)
    }

    /// A request started.
    pub fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    /// A request ended without a response (the client went away).
    pub fn request_abandoned(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    /// A request finished.
    pub fn request_finished(&self, route: usize, method: &Method, status: u16, elapsed: Duration) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        let i = (route * METHODS.len() + method_slot(method)) * STATUS_SLOTS + status_slot(status);
        self.requests[i].fetch_add(1, Ordering::Relaxed);
        self.latency[route].observe(elapsed);
    }

    /// Records an API-key validation outcome.
    pub fn validation(&self, outcome: Validation) {
        self.validations[outcome as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Records a management-authentication outcome.
    pub fn admin_auth(&self, outcome: AdminAuth) {
        self.admin[outcome as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a failed client authentication at the token endpoint.
    pub fn client_auth_failed(&self) {
        self.client_auth_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a request refused by the brute-force limits.
    pub fn auth_rate_limited(&self) {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a token-endpoint outcome (`issued` or the RFC 6749 error code).
    pub fn token_request(&self, outcome: &str) {
        let i = TOKEN_LABELS
            .iter()
            .position(|l| *l == outcome)
            .unwrap_or(TOKEN_LABELS.len() - 1);
        self.token[i].fetch_add(1, Ordering::Relaxed);
    }

    /// The dashboard's counters.
    pub fn snapshot(&self) -> Snapshot {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Snapshot {
            validations_valid: load(&self.validations[Validation::Valid as usize]),
            validations_invalid: load(&self.validations[Validation::Invalid as usize]),
            validations_error: load(&self.validations[Validation::Error as usize]),
            validations_rate_limited: load(&self.validations[Validation::RateLimited as usize]),
            tokens_issued: load(&self.token[0]),
            tokens_refused: self.token[1..].iter().map(load).sum(),
            client_auth_failures: load(&self.client_auth_failures),
            admin_auth_failures: load(&self.admin[AdminAuth::Invalid as usize])
                + load(&self.admin[AdminAuth::Forbidden as usize]),
            rate_limited: load(&self.rate_limited),
            in_flight: self.in_flight.load(Ordering::Relaxed),
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(8192);
        let _ = writeln!(out, "# HELP authgate_build_info Build information.");
        let _ = writeln!(out, "# TYPE authgate_build_info gauge");
        let _ = writeln!(
            out,
            "authgate_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );

        let _ = writeln!(
            out,
            "# HELP authgate_http_requests_total HTTP requests by route template, method and status."
        );
        let _ = writeln!(out, "# TYPE authgate_http_requests_total counter");
        for (r, route) in ROUTES.iter().enumerate() {
            for (m, method) in METHODS.iter().enumerate() {
                for slot in 0..STATUS_SLOTS {
                    let n =
                        self.requests[(r * METHODS.len() + m) * STATUS_SLOTS + slot].load(Ordering::Relaxed);
                    if n == 0 {
                        continue;
                    }
                    let status = match STATUSES.get(slot) {
                        Some(s) => s.to_string(),
                        None => CLASSES[slot - STATUSES.len()].to_owned(),
                    };
                    let _ = writeln!(
                        out,
                        "authgate_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {n}"
                    );
                }
            }
        }

        let _ = writeln!(
            out,
            "# HELP authgate_http_requests_in_flight HTTP requests being served."
        );
        let _ = writeln!(out, "# TYPE authgate_http_requests_in_flight gauge");
        let _ = writeln!(
            out,
            "authgate_http_requests_in_flight {}",
            self.in_flight.load(Ordering::Relaxed)
        );

        let _ = writeln!(
            out,
            "# HELP authgate_http_request_duration_seconds HTTP request latency by route template."
        );
        let _ = writeln!(out, "# TYPE authgate_http_request_duration_seconds histogram");
        for (r, route) in ROUTES.iter().enumerate() {
            let h = &self.latency[r];
            let count = h.count.load(Ordering::Relaxed);
            if count == 0 {
                continue;
            }
            let mut cumulative = 0;
            for (i, bound) in BUCKETS.iter().enumerate() {
                cumulative += h.buckets[i].load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "authgate_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "authgate_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {count}"
            );
            let sum = h.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
            let _ = writeln!(
                out,
                "authgate_http_request_duration_seconds_sum{{route=\"{route}\"}} {sum}"
            );
            let _ = writeln!(
                out,
                "authgate_http_request_duration_seconds_count{{route=\"{route}\"}} {count}"
            );
        }

        let counters: [(&str, &str, &[&str], &[AtomicU64]); 3] = [
            (
                "authgate_api_key_validations_total",
                "API-key validations (tokens:validate) by outcome.",
                VALIDATION_LABELS,
                &self.validations,
            ),
            (
                "authgate_token_requests_total",
                "Token endpoint requests by outcome.",
                TOKEN_LABELS,
                &self.token,
            ),
            (
                "authgate_admin_auth_total",
                "Management-route authentications by outcome.",
                ADMIN_LABELS,
                &self.admin,
            ),
        ];
        for (name, help, labels, values) in counters {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            for (label, value) in labels.iter().zip(values) {
                let _ = writeln!(
                    out,
                    "{name}{{outcome=\"{label}\"}} {}",
                    value.load(Ordering::Relaxed)
                );
            }
        }
        for (name, help, value) in [
            (
                "authgate_client_auth_failures_total",
                "Failed client authentications at the token endpoint.",
                &self.client_auth_failures,
            ),
            (
                "authgate_auth_rate_limited_total",
                "Requests refused by the brute-force limits (429).",
                &self.rate_limited,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
        }
        out
    }
}

/// The validation cache's series (appended to [`Metrics::render`] by the `/metrics` handler).
pub fn render_cache(out: &mut String, stats: &CacheStats) {
    let _ = writeln!(
        out,
        "# HELP authgate_validation_cache_lookups_total API-key lookups of the validation cache by outcome \
         (untrusted: the listener could not vouch for the cache, the database answered)."
    );
    let _ = writeln!(out, "# TYPE authgate_validation_cache_lookups_total counter");
    for (outcome, n) in [
        ("hit", stats.hits),
        ("negative_hit", stats.negative_hits),
        ("miss", stats.misses),
        ("untrusted", stats.untrusted),
    ] {
        let _ = writeln!(
            out,
            "authgate_validation_cache_lookups_total{{outcome=\"{outcome}\"}} {n}"
        );
    }
    for (name, help, n) in [
        (
            "authgate_validation_cache_invalidations_total",
            "Cached answers dropped by a PostgreSQL notification naming their key.",
            stats.invalidations,
        ),
        (
            "authgate_validation_cache_flushes_total",
            "Times the whole validation cache was dropped (bulk change, lost listener, local write).",
            stats.flushes,
        ),
        (
            "authgate_validation_cache_subscriptions_total",
            "Times the cache's listener subscribed to PostgreSQL notifications (1 + reconnections).",
            stats.subscriptions,
        ),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} counter");
        let _ = writeln!(out, "{name} {n}");
    }
    let _ = writeln!(
        out,
        "# HELP authgate_validation_cache_entries Entries held by the validation cache."
    );
    let _ = writeln!(out, "# TYPE authgate_validation_cache_entries gauge");
    let _ = writeln!(
        out,
        "authgate_validation_cache_entries{{kind=\"key\"}} {}",
        stats.keys
    );
    let _ = writeln!(
        out,
        "authgate_validation_cache_entries{{kind=\"negative\"}} {}",
        stats.negative
    );
    let _ = writeln!(
        out,
        "# HELP authgate_validation_cache_listener State of the validation cache's listener (1: current)."
    );
    let _ = writeln!(out, "# TYPE authgate_validation_cache_listener gauge");
    for state in [
        ListenerState::Disabled,
        ListenerState::Connecting,
        ListenerState::Live,
        ListenerState::Stale,
        ListenerState::Exact,
    ] {
        let _ = writeln!(
            out,
            "authgate_validation_cache_listener{{state=\"{}\"}} {}",
            state.as_str(),
            u8::from(state == stats.listener)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_renders() {
        let m = Metrics::new();
        let r = Metrics::route_index(Some("/api/v1/tokens:validate"));
        assert_eq!(ROUTES[r], "/api/v1/tokens:validate");
        assert_eq!(Metrics::route_index(Some("/nope")), UNMATCHED);
        m.request_started();
        m.request_finished(r, &Method::POST, 200, Duration::from_micros(300));
        m.request_started();
        m.request_finished(UNMATCHED, &Method::GET, 418, Duration::from_millis(3));
        m.validation(Validation::Valid);
        m.validation(Validation::RateLimited);
        m.token_request("invalid_client");
        let snapshot = m.snapshot();
        assert_eq!(
            (snapshot.validations_valid, snapshot.validations_rate_limited),
            (1, 1)
        );
        let text = m.render();
        assert!(text.contains(
            "authgate_http_requests_total{route=\"/api/v1/tokens:validate\",method=\"POST\",status=\"200\"} 1"
        ));
        assert!(text.contains("route=\"unmatched\",method=\"GET\",status=\"4xx\"} 1"));
        assert!(text.contains(
            "authgate_http_request_duration_seconds_bucket{route=\"/api/v1/tokens:validate\",le=\"0.0005\"} 1"
        ));
        assert!(text.contains("authgate_http_request_duration_seconds_bucket{route=\"/api/v1/tokens:validate\",le=\"0.00025\"} 0"));
        assert!(text.contains("authgate_api_key_validations_total{outcome=\"valid\"} 1"));
        assert!(text.contains("authgate_token_requests_total{outcome=\"invalid_client\"} 1"));
        assert!(text.contains("authgate_http_requests_in_flight 0"));
    }

    #[test]
    fn renders_the_cache() {
        let mut text = String::new();
        let stats = CacheStats {
            listener: ListenerState::Live,
            hits: 7,
            negative_hits: 1,
            misses: 2,
            untrusted: 3,
            invalidations: 4,
            flushes: 5,
            subscriptions: 1,
            keys: 9,
            negative: 1,
        };
        render_cache(&mut text, &stats);
        assert!(text.contains("authgate_validation_cache_lookups_total{outcome=\"hit\"} 7"));
        assert!(text.contains("authgate_validation_cache_lookups_total{outcome=\"untrusted\"} 3"));
        assert!(text.contains("authgate_validation_cache_invalidations_total 4"));
        assert!(text.contains("authgate_validation_cache_entries{kind=\"key\"} 9"));
        assert!(text.contains("authgate_validation_cache_listener{state=\"live\"} 1"));
        assert!(text.contains("authgate_validation_cache_listener{state=\"stale\"} 0"));
    }
}
