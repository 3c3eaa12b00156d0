//! Management-route authentication: `Authorization: Bearer <environment access token>`.
//!
//! The token must be a JWT issued by this server's `/oauth/token` to environment credentials
//! (`skc_…`), verified against the authority's own signing keys. Verification goes first,
//! authorisation second: a missing or invalid token is a 401 with a `WWW-Authenticate: Bearer`
//! challenge; a valid token of an M2M client (`m2morg_…`) is a 403. The bearer rule and the
//! challenges are the core's request policy ([`authgate_core::policy`]), shared with the Flask,
//! FastAPI and Express middleware; the body stays the Scalekit error body.
//!
//! A request without an `Authorization` header that carries the admin console's session cookie
//! is authenticated by that session instead ([`crate::console::authenticate`]: a live session,
//! the CSRF rule for state-changing methods, a live environment credential).

use authgate_core::keys::ENVIRONMENT_CLIENT_ID_PREFIX;
use authgate_core::policy::{self, Rejection};
use authgate_core::{Error, TokenError};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use std::net::IpAddr;

use super::audit;
use super::error::ApiError;
use super::limiter::Peer;
use super::metrics::AdminAuth;
use super::state::AppState;

/// A request authenticated with an environment access token. Extracting it performs the check.
#[derive(Debug)]
pub struct Admin {
    /// The environment client (`skc_…`) the token was issued to.
    pub client_id: String,
}

/// The bearer token of the `Authorization` header, by the core's one rule ([`policy::bearer`]).
/// A header that is not visible ASCII is a malformed credential.
pub fn bearer(headers: &HeaderMap) -> Result<&str, Rejection> {
    match headers.get(header::AUTHORIZATION) {
        None => policy::bearer(None),
        Some(value) => match value.to_str() {
            Ok(text) => policy::bearer(Some(text)),
            Err(_) => Err(Rejection::Invalid(Some(TokenError::Malformed))),
        },
    }
}

/// The 401 of a rejected access token: `unauthenticated` in the body, the core's challenge for
/// `rejection` in `WWW-Authenticate`.
fn rejected(rejection: Rejection) -> ApiError {
    let message = match &rejection {
        Rejection::Missing => "missing bearer access token".to_owned(),
        Rejection::Invalid(Some(why)) => format!("invalid access token: {why}"),
        _ => "invalid access token: token_validation_failed".to_owned(),
    };
    ApiError::from(Error::Unauthenticated(message)).with_rejection(&rejection)
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // Brute-force limits: an address that failed too often is refused before any check.
        let source = state
            .limiter
            .source(parts.extensions.get::<Peer>(), &parts.headers);
        if let Some(retry_after) = state.limiter.blocked(None, source) {
            state.metrics.auth_rate_limited();
            audit::refused(&state.authority, source, None, RESOURCE_EXHAUSTED);
            return Err(ApiError::rate_limited(retry_after));
        }
        if !parts.headers.contains_key(header::AUTHORIZATION)
            && state.console.is_some()
            && let Some(session_id) = crate::console::session_cookie(&parts.headers)
        {
            let session_id = session_id.to_owned();
            let session = match crate::console::authenticate(state, parts, &session_id, true).await {
                Ok(session) => session,
                Err(err) => {
                    // An ended session and a refused CSRF check are refused authentications too.
                    let code = match err.error() {
                        Error::PermissionDenied(_) => PERMISSION_DENIED,
                        Error::ResourceExhausted(_) => RESOURCE_EXHAUSTED,
                        _ => UNAUTHENTICATED,
                    };
                    audit::refused(&state.authority, source, None, code);
                    return Err(err);
                }
            };
            audit::authenticated(&session.client_id);
            tracing::Span::current().record("client_id", session.client_id.as_str());
            return Ok(Admin {
                client_id: session.client_id,
            });
        }
        let token = match bearer(&parts.headers) {
            Ok(token) => token,
            Err(rejection) => {
                state.metrics.admin_auth(match rejection {
                    Rejection::Missing => AdminAuth::Missing,
                    _ => AdminAuth::Invalid,
                });
                audit::refused(&state.authority, source, None, UNAUTHENTICATED);
                return Err(rejected(rejection));
            }
        };
        let client_id = match state.verify_admin_token(token).await {
            Ok(client_id) => client_id,
            Err(err @ (Error::KeysUnavailable(_) | Error::Unavailable(_) | Error::Store(_))) => {
                state.metrics.admin_auth(AdminAuth::Unavailable);
                return Err(ApiError::from(err).with_rejection(&Rejection::Unavailable));
            }
            Err(err) => {
                state.metrics.admin_auth(AdminAuth::Invalid);
                failed_admin_authentication(state, source);
                audit::refused(&state.authority, source, None, UNAUTHENTICATED);
                let reason = match err {
                    Error::InvalidToken(why) => Some(why),
                    _ => None,
                };
                return Err(rejected(Rejection::Invalid(reason)));
            }
        };
        if !client_id.starts_with(ENVIRONMENT_CLIENT_ID_PREFIX) {
            state.metrics.admin_auth(AdminAuth::Forbidden);
            audit::refused(&state.authority, source, Some(&client_id), PERMISSION_DENIED);
            return Err(ApiError::from(Error::PermissionDenied(
                "the management API requires an environment access token (skc_ credentials); \
                 M2M client tokens are refused"
                    .into(),
            ))
            .with_rejection(&Rejection::Forbidden { missing: Vec::new() }));
        }
        state.metrics.admin_auth(AdminAuth::Ok);
        audit::authenticated(&client_id);
        let admin = Admin { client_id };
        tracing::Span::current().record("client_id", admin.client_id.as_str());
        Ok(admin)
    }
}

/// Error codes of refused authentications, as the audit log records them.
const UNAUTHENTICATED: &str = "unauthenticated";
const PERMISSION_DENIED: &str = "permission_denied";
const RESOURCE_EXHAUSTED: &str = "resource_exhausted";

/// A management request with an invalid (or revoked) token: counted by the brute-force limits
/// of its address and logged at warn.
fn failed_admin_authentication(state: &AppState, source: Option<IpAddr>) {
    let limited = state.limiter.failed(None, source);
    tracing::warn!(source = ?source, limit_reached = limited, "management authentication failed");
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn bearer_parsing() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), Err(Rejection::Missing));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer abc.def"));
        assert_eq!(bearer(&h), Ok("abc.def"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("bearer  abc "));
        assert_eq!(bearer(&h), Ok("abc"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), Err(Rejection::Missing));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer(&h), Err(Rejection::Missing));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer a\"b"));
        assert_eq!(bearer(&h), Err(Rejection::Invalid(Some(TokenError::Malformed))));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_bytes(b"Bearer \xff").unwrap(),
        );
        assert_eq!(bearer(&h), Err(Rejection::Invalid(Some(TokenError::Malformed))));
    }
}
