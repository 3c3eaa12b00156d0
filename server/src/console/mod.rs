//! The admin console: a browser UI served by `authgate serve` under `/console` (on by default,
//! `--no-console` turns it off).
//!
//! - **Assets** ([`assets`]): one HTML page, one script and one stylesheet, embedded in the
//!   binary (no CDN, no front-end build). The page is a small single-page application that
//!   calls the management API (`/api/v1/…`) itself.
//! - **Sign-in** (`POST /console/api/session`): environment credentials (`skc_…` id and
//!   secret), checked exactly as the token endpoint checks them — the same brute-force limits
//!   ([`crate::serve::limiter`]) counted under the same keys, the same revoked-credential rule
//!   (the authority's client-credentials grant) — then a server-side session ([`session`]).
//!   The browser holds only an opaque id in the cookie [`COOKIE`]: `HttpOnly`,
//!   `SameSite=Strict`, `Path=/`, `Secure` when the server runs TLS.
//! - **Management calls**: a request to `/api/v1/…` that carries no `Authorization` header but
//!   the session cookie is authenticated by the session, inside the one admin-authentication
//!   path ([`crate::serve::auth::Admin`]); the handlers are the API's own. A session whose
//!   environment credential has been revoked ends at its next request.
//! - **CSRF**: every state-changing request authenticated by a session (any method but `GET`,
//!   `HEAD`, `OPTIONS`) must carry the session's token in `X-CSRF-Token`, and must not come from
//!   another origin: an `Origin` header has to name this server (scheme and `Host`), a
//!   `Sec-Fetch-Site` header has to be `same-origin`. Sign-in checks the origin too (against
//!   login CSRF) and takes only a JSON body, which no cross-origin form can send.
//! - **Headers**: a strict Content-Security-Policy with no inline script or style
//!   ([`CSP`]), `frame-ancestors 'none'` and `X-Frame-Options: DENY`, `nosniff`, no referrer,
//!   `Cache-Control: no-store` on the page and the session answers.
//!
//! Sessions are held in memory, per node: behind a load balancer, pin console traffic to one
//! node, and a restart signs everyone out.

pub mod assets;
pub mod handlers;
pub mod session;

use authgate_core::Error;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, Uri, header};
use axum::response::Response;

use crate::serve::error::ApiError;
use crate::serve::limiter::Peer;
use crate::serve::metrics::AdminAuth;
use crate::serve::state::AppState;
use session::{SessionEnd, SessionInfo, SessionLimits, Sessions, tokens_equal};

/// The session cookie.
pub const COOKIE: &str = "authgate_console";

/// The request header that carries the session's CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The Content-Security-Policy of every console answer: only this origin's script, style, images
/// and API; no inline script or style, no plugins, no framing, no form submissions, no `<base>`.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                       connect-src 'self'; form-action 'none'; frame-ancestors 'none'; \
                       base-uri 'none'";

/// How the server is reached, for the `Secure` cookie attribute and the origin check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Plain HTTP.
    Plain,
    /// TLS only.
    Tls,
    /// TLS, with plaintext accepted on the same port (`--tls-allow-plaintext`).
    TlsOrPlain,
}

/// The console's state: its sessions and how it is reached.
#[derive(Debug)]
pub struct Console {
    sessions: Sessions,
    transport: Transport,
}

impl Console {
    /// A console with no session yet.
    pub fn new(limits: SessionLimits, transport: Transport) -> Self {
        Console {
            sessions: Sessions::new(limits),
            transport,
        }
    }

    /// The session table.
    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    /// The `Set-Cookie` value that starts a session.
    fn cookie(&self, session_id: &str) -> HeaderValue {
        let secure = if self.transport == Transport::Plain {
            ""
        } else {
            "; Secure"
        };
        let max_age = self.sessions.limits().lifetime.as_secs();
        HeaderValue::from_str(&format!(
            "{COOKIE}={session_id}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
        ))
        .expect("a session id is base64url")
    }

    /// The `Set-Cookie` value that ends a session in the browser.
    fn clear_cookie(&self) -> HeaderValue {
        let secure = if self.transport == Transport::Plain {
            ""
        } else {
            "; Secure"
        };
        HeaderValue::from_str(&format!(
            "{COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{secure}"
        ))
        .expect("ASCII")
    }

    /// The schemes this server answers on.
    fn schemes(&self) -> &'static [&'static str] {
        match self.transport {
            Transport::Plain => &["http"],
            Transport::Tls => &["https"],
            Transport::TlsOrPlain => &["https", "http"],
        }
    }
}

/// The console session id of the request's `Cookie` header(s), if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

/// Whether `method` changes nothing (no CSRF token needed).
fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn cross_site(why: &str) -> ApiError {
    ApiError::from(Error::PermissionDenied(format!(
        "cross-site request refused: {why}"
    )))
}

/// Refuses a request another origin made: `Sec-Fetch-Site` other than `same-origin` (or `none`,
/// typed by the user), or an `Origin` that is not this server's scheme and `Host`. Requests
/// without either header (not from a browser) pass; they still need the CSRF token.
pub(crate) fn check_same_origin(console: &Console, headers: &HeaderMap, uri: &Uri) -> Result<(), ApiError> {
    if let Some(site) = headers.get("sec-fetch-site") {
        let site = site.to_str().unwrap_or("");
        if !site.eq_ignore_ascii_case("same-origin") && !site.eq_ignore_ascii_case("none") {
            return Err(cross_site("the request comes from another site or origin"));
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| uri.authority().map(|a| a.as_str()));
        let matches = host.is_some_and(|host| {
            console.schemes().iter().any(|scheme| {
                origin
                    .strip_prefix(scheme)
                    .and_then(|rest| rest.strip_prefix("://"))
                    .is_some_and(|o| o.eq_ignore_ascii_case(host))
            })
        });
        if !matches {
            return Err(cross_site("the Origin header is not this server"));
        }
    }
    Ok(())
}

/// The CSRF rule of a state-changing request of `session`: same origin, and the session's
/// token in [`CSRF_HEADER`].
fn check_csrf(console: &Console, parts: &Parts, session: &SessionInfo) -> Result<(), ApiError> {
    check_same_origin(console, &parts.headers, &parts.uri)?;
    let sent = parts
        .headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if sent.is_empty() {
        return Err(cross_site("the X-CSRF-Token header is missing"));
    }
    if !tokens_equal(sent, &session.csrf_token) {
        return Err(cross_site("the X-CSRF-Token header does not match the session"));
    }
    Ok(())
}

/// Authenticates a request by its console session: the session must be live, a state-changing
/// request must pass the CSRF rule, and the environment credential that signed in must still be
/// live. `touch` restarts the idle clock (after every check passed). Counted in the
/// management-authentication metrics and, for an unknown session, by the brute-force limits.
pub(crate) async fn authenticate(
    state: &AppState,
    parts: &Parts,
    session_id: &str,
    touch: bool,
) -> Result<SessionInfo, ApiError> {
    let console = state
        .console
        .as_deref()
        .ok_or_else(|| ApiError::from(Error::Unauthenticated("the console is disabled".into())))?;
    let source = state
        .limiter
        .source(parts.extensions.get::<Peer>(), &parts.headers);
    if let Some(retry_after) = state.limiter.blocked(None, source) {
        state.metrics.auth_rate_limited();
        return Err(ApiError::rate_limited(retry_after));
    }
    let session = match console.sessions.get(session_id, false) {
        Ok(session) => session,
        Err(end) => {
            state.metrics.admin_auth(AdminAuth::Invalid);
            if end == SessionEnd::Unknown {
                let limited = state.limiter.failed(None, source);
                tracing::warn!(source = ?source, limit_reached = limited, "unknown console session");
            }
            return Err(ApiError::from(Error::Unauthenticated(end.describe().into())));
        }
    };
    if !is_safe(&parts.method)
        && let Err(err) = check_csrf(console, parts, &session)
    {
        state.metrics.admin_auth(AdminAuth::Forbidden);
        tracing::warn!(client_id = %session.client_id, source = ?source, "console request refused by the CSRF rule");
        return Err(err);
    }
    match state
        .credentials
        .check(&state.authority, &session.client_id)
        .await
    {
        Ok(()) => {}
        Err(Error::Unauthenticated(_)) => {
            let ended = console.sessions.remove_client(&session.client_id);
            state.metrics.admin_auth(AdminAuth::Invalid);
            tracing::warn!(client_id = %session.client_id, sessions = ended, "console sessions ended: the environment credential is revoked");
            return Err(ApiError::from(Error::Unauthenticated(
                "the environment credential of this console session is revoked".into(),
            )));
        }
        Err(err) => {
            state.metrics.admin_auth(AdminAuth::Unavailable);
            return Err(ApiError::from(err));
        }
    }
    if touch {
        // Restart the idle clock; a session that ended meanwhile (sign-out) stays ended.
        console
            .sessions
            .get(session_id, true)
            .map_err(|end| ApiError::from(Error::Unauthenticated(end.describe().into())))?;
    }
    state.metrics.admin_auth(AdminAuth::Ok);
    tracing::Span::current().record("client_id", session.client_id.as_str());
    Ok(session)
}

/// Adds the console's security headers to `response`; `no_store` also forbids caching.
pub fn secure_headers(response: &mut Response, no_store: bool) {
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if no_store { "no-store" } else { "no-cache" }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(method: Method, headers: &[(&str, &str)]) -> Parts {
        let mut builder = axum::http::Request::builder()
            .method(method)
            .uri("/api/v1/organizations");
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn cookie_parsing() {
        let mut h = HeaderMap::new();
        assert_eq!(session_cookie(&h), None);
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; authgate_console=xyz; c=d"),
        );
        assert_eq!(session_cookie(&h), Some("xyz"));
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("authgate_consolex=1; authgate_console="),
        );
        assert_eq!(session_cookie(&h), None);
    }

    #[test]
    fn cookie_attributes() {
        let plain = Console::new(SessionLimits::default(), Transport::Plain);
        let c = plain.cookie("abc");
        let c = c.to_str().unwrap();
        assert!(c.starts_with("authgate_console=abc; Path=/; Max-Age=43200"));
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && !c.contains("Secure"));
        let tls = Console::new(SessionLimits::default(), Transport::Tls);
        assert!(tls.cookie("abc").to_str().unwrap().ends_with("; Secure"));
        assert!(tls.clear_cookie().to_str().unwrap().contains("Max-Age=0"));
    }

    #[test]
    fn csrf_rule() {
        let console = Console::new(SessionLimits::default(), Transport::Plain);
        let session = SessionInfo {
            client_id: "skc_1".into(),
            csrf_token: "tok".into(),
            expires_in: 1,
        };
        let host = ("host", "127.0.0.1:8080");
        let ok = parts(
            Method::POST,
            &[host, ("origin", "http://127.0.0.1:8080"), ("x-csrf-token", "tok")],
        );
        assert!(check_csrf(&console, &ok, &session).is_ok());
        // Not from a browser: no Origin, but the token.
        assert!(
            check_csrf(
                &console,
                &parts(Method::POST, &[host, ("x-csrf-token", "tok")]),
                &session
            )
            .is_ok()
        );
        for bad in [
            parts(Method::POST, &[host, ("origin", "http://127.0.0.1:8080")]),
            parts(
                Method::POST,
                &[host, ("origin", "http://127.0.0.1:8080"), ("x-csrf-token", "tox")],
            ),
            parts(
                Method::POST,
                &[host, ("origin", "http://127.0.0.1:9999"), ("x-csrf-token", "tok")],
            ),
            parts(
                Method::POST,
                &[
                    host,
                    ("origin", "https://127.0.0.1:8080"),
                    ("x-csrf-token", "tok"),
                ],
            ),
            parts(Method::POST, &[host, ("origin", "null"), ("x-csrf-token", "tok")]),
            parts(
                Method::DELETE,
                &[host, ("sec-fetch-site", "same-site"), ("x-csrf-token", "tok")],
            ),
            parts(
                Method::PATCH,
                &[("origin", "http://127.0.0.1:8080"), ("x-csrf-token", "tok")],
            ),
        ] {
            let err = check_csrf(&console, &bad, &session).unwrap_err();
            assert_eq!(err.error().code(), "permission_denied");
        }
        let both = Console::new(SessionLimits::default(), Transport::TlsOrPlain);
        for origin in ["http://127.0.0.1:8080", "https://127.0.0.1:8080"] {
            let p = parts(Method::POST, &[host, ("origin", origin), ("x-csrf-token", "tok")]);
            assert!(check_csrf(&both, &p, &session).is_ok());
        }
    }
}
