//! Management-route authentication: `Authorization: Bearer <environment access token>`.
//!
//! The token must be a JWT issued by this server's `/oauth/token` to environment credentials
//! (`skc_…`), verified against the authority's own signing keys. Verification goes first,
//! authorisation second: a missing or invalid token is a 401 with a `WWW-Authenticate: Bearer`
//! challenge; a valid token of an M2M client (`m2morg_…`) is a 403.

use authgate_core::Error;
use authgate_core::keys::ENVIRONMENT_CLIENT_ID_PREFIX;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};

use super::error::{ApiError, CHALLENGE_BEARER, CHALLENGE_INSUFFICIENT};
use super::metrics::AdminAuth;
use super::state::AppState;

/// Longest bearer token looked at; longer ones are refused unread.
const MAX_TOKEN_LEN: usize = 8 * 1024;

/// A request authenticated with an environment access token. Extracting it performs the check.
#[derive(Debug)]
pub struct Admin {
    /// The environment client (`skc_…`) the token was issued to.
    pub client_id: String,
}

/// The bearer token of the `Authorization` header, if any (RFC 6750 §2.1).
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty()).then_some(token)
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(token) = bearer(&parts.headers) else {
            state.metrics.admin_auth(AdminAuth::Missing);
            return Err(
                ApiError::from(Error::Unauthenticated("missing bearer access token".into()))
                    .with_challenge(CHALLENGE_BEARER),
            );
        };
        let rejected = |reason: Error| {
            let message = match &reason {
                Error::InvalidToken(why) => format!("invalid access token: {why}"),
                other => format!("invalid access token: {}", other.code()),
            };
            ApiError::from(Error::Unauthenticated(message)).with_token_challenge(&reason)
        };
        if token.len() > MAX_TOKEN_LEN {
            state.metrics.admin_auth(AdminAuth::Invalid);
            return Err(rejected(Error::InvalidToken(authgate_core::TokenError::TooLarge)));
        }
        let client_id = match state.verify_admin_token(token).await {
            Ok(client_id) => client_id,
            Err(err @ (Error::KeysUnavailable(_) | Error::Unavailable(_) | Error::Store(_))) => {
                state.metrics.admin_auth(AdminAuth::Unavailable);
                return Err(err.into());
            }
            Err(err) => {
                state.metrics.admin_auth(AdminAuth::Invalid);
                let reason = match err {
                    e @ Error::InvalidToken(_) => e,
                    _ => Error::TokenValidationFailed,
                };
                return Err(rejected(reason));
            }
        };
        if !client_id.starts_with(ENVIRONMENT_CLIENT_ID_PREFIX) {
            state.metrics.admin_auth(AdminAuth::Forbidden);
            return Err(ApiError::from(Error::PermissionDenied(
                "the management API requires an environment access token (skc_ credentials); \
                 M2M client tokens are refused"
                    .into(),
            ))
            .with_challenge(CHALLENGE_INSUFFICIENT));
        }
        state.metrics.admin_auth(AdminAuth::Ok);
        let admin = Admin { client_id };
        tracing::Span::current().record("client_id", admin.client_id.as_str());
        Ok(admin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn bearer_parsing() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer abc.def"));
        assert_eq!(bearer(&h), Some("abc.def"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("bearer  abc "));
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer(&h), None);
    }
}
