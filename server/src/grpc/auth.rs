//! Authentication of gRPC calls: `authorization: Bearer <environment access token>` metadata,
//! with the same rules as the REST management API ([`crate::serve::auth`]).
//!
//! The official Python SDK sends the `authorization` entry twice (the token of its construction,
//! never refreshed, and the current one): the call is accepted when any value is a valid
//! environment token. No value at all is `UNAUTHENTICATED` (the Node SDK's first call carries
//! none and fetches a token on that answer). A valid token of an M2M client is
//! `PERMISSION_DENIED`.

use authgate_core::Error;
use authgate_core::keys::ENVIRONMENT_CLIENT_ID_PREFIX;
use tonic::Status;
use tonic::metadata::MetadataMap;

use super::status::from_error;
use crate::serve::audit;
use crate::serve::metrics::AdminAuth;
use crate::serve::state::AppState;

/// Longest bearer token looked at; longer ones are refused unread.
const MAX_TOKEN_LEN: usize = 8 * 1024;
/// Most `authorization` entries looked at in one call.
const MAX_VALUES: usize = 4;

/// The bearer token of one `authorization` value.
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Checks the call's `authorization` metadata; returns the environment client id.
pub async fn authorize(state: &AppState, metadata: &MetadataMap) -> Result<String, Status> {
    let tokens: Vec<&str> = metadata
        .get_all("authorization")
        .iter()
        .take(MAX_VALUES)
        .filter_map(|v| v.to_str().ok())
        .filter_map(bearer)
        .collect();
    let source = authgate_core::audit::source();
    if tokens.is_empty() {
        state.metrics.admin_auth(AdminAuth::Missing);
        audit::refused(&state.authority, source, None, "unauthenticated");
        return Err(from_error(Error::Unauthenticated(
            "missing bearer access token in the authorization metadata".into(),
        )));
    }
    // The last value is the freshest (the Python SDK appends the current token): try it first.
    let mut forbidden = None;
    let mut unavailable = None;
    let mut invalid = None;
    for token in tokens.iter().rev() {
        if token.len() > MAX_TOKEN_LEN {
            invalid.get_or_insert(Error::InvalidToken(authgate_core::TokenError::TooLarge));
            continue;
        }
        match state.verify_admin_token(token).await {
            Ok(client_id) if client_id.starts_with(ENVIRONMENT_CLIENT_ID_PREFIX) => {
                state.metrics.admin_auth(AdminAuth::Ok);
                tracing::Span::current().record("client_id", client_id.as_str());
                audit::authenticated(&client_id);
                return Ok(client_id);
            }
            Ok(client_id) => forbidden = Some(client_id),
            Err(err @ (Error::KeysUnavailable(_) | Error::Unavailable(_) | Error::Store(_))) => {
                unavailable.get_or_insert(err);
            }
            Err(err) => {
                invalid.get_or_insert(err);
            }
        }
    }
    if let Some(client_id) = forbidden {
        state.metrics.admin_auth(AdminAuth::Forbidden);
        audit::refused(&state.authority, source, Some(&client_id), "permission_denied");
        return Err(from_error(Error::PermissionDenied(
            "the management API requires an environment access token (skc_ credentials); \
             M2M client tokens are refused"
                .into(),
        )));
    }
    if let Some(err) = unavailable {
        state.metrics.admin_auth(AdminAuth::Unavailable);
        return Err(from_error(err));
    }
    state.metrics.admin_auth(AdminAuth::Invalid);
    audit::refused(&state.authority, source, None, "unauthenticated");
    let message = match invalid {
        Some(Error::InvalidToken(why)) => format!("invalid access token: {why}"),
        Some(other) => format!("invalid access token: {}", other.code()),
        None => "invalid access token".to_owned(),
    };
    Err(from_error(Error::Unauthenticated(message)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_values() {
        assert_eq!(bearer("Bearer a.b.c"), Some("a.b.c"));
        assert_eq!(bearer("bearer  a "), Some("a"));
        assert_eq!(bearer("Basic a"), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("Bearer"), None);
    }
}
