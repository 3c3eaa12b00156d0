//! RFC 6750 `WWW-Authenticate` challenges for bearer-token errors, so that the server and both
//! bindings' middleware answer identically.

use crate::error::{Error, TokenError};

/// The `WWW-Authenticate` value for a request rejected with `error`, or `None` when the answer
/// carries no bearer challenge (for example 503 [`Error::KeysUnavailable`]).
///
/// - [`Error::Unauthenticated`] (no credentials): `Bearer realm="…"` without an error code
///   (RFC 6750 §3.1).
/// - [`Error::InvalidToken`] and [`Error::TokenValidationFailed`]: `error="invalid_token"` with
///   a short description (never the token).
/// - [`Error::InsufficientScope`]: `error="insufficient_scope"` and `scope` listing the missing
///   scopes (answered with 403); without missing scopes (a token refused for another reason)
///   no `scope`.
///
/// Characters not allowed in a quoted parameter are dropped from the realm and scopes.
pub fn www_authenticate(error: &Error, realm: Option<&str>) -> Option<String> {
    let mut params: Vec<(&str, String)> = Vec::new();
    if let Some(realm) = realm {
        params.push(("realm", realm.to_owned()));
    }
    match error {
        Error::Unauthenticated(_) => {}
        Error::TokenValidationFailed => {
            params.push(("error", "invalid_token".into()));
            params.push(("error_description", "token validation failed".into()));
        }
        Error::InvalidToken(reason) => {
            params.push(("error", "invalid_token".into()));
            params.push(("error_description", describe(reason)));
        }
        Error::InsufficientScope { missing } if missing.is_empty() => {
            params.push(("error", "insufficient_scope".into()));
            params.push(("error_description", "the token may not use this resource".into()));
        }
        Error::InsufficientScope { missing } => {
            params.push(("error", "insufficient_scope".into()));
            params.push(("error_description", "the token lacks required scopes".into()));
            params.push(("scope", missing.join(" ")));
        }
        _ => return None,
    }
    let mut out = String::from("Bearer");
    for (i, (name, value)) in params.iter().enumerate() {
        let value: String = value
            .chars()
            .filter(|c| matches!(*c, ' ' | '!' | '#'..='[' | ']'..='~'))
            .collect();
        out.push_str(if i == 0 { " " } else { ", " });
        out.push_str(name);
        out.push_str("=\"");
        out.push_str(&value);
        out.push('"');
    }
    Some(out)
}

/// The `error_description` of a rejected JWT: a function of its code alone (the claim named by
/// [`TokenError::InvalidClaimType`] is left out), so that an answer rebuilt from a code by a
/// binding is the same as the server's.
fn describe(reason: &TokenError) -> String {
    match reason {
        TokenError::InvalidClaimType(_) => "a registered claim has the wrong type".to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::TokenError;

    #[test]
    fn challenges() {
        assert_eq!(
            www_authenticate(&Error::Unauthenticated("missing".into()), Some("api")),
            Some(r#"Bearer realm="api""#.into())
        );
        assert_eq!(
            www_authenticate(&Error::Unauthenticated("x".into()), None),
            Some("Bearer".into())
        );
        assert_eq!(
            www_authenticate(&TokenError::Expired.into(), Some("api")),
            Some(r#"Bearer realm="api", error="invalid_token", error_description="token expired""#.into())
        );
        assert_eq!(
            www_authenticate(
                &Error::InsufficientScope {
                    missing: vec!["orders:write".into(), "bad\"quote".into()]
                },
                None
            ),
            Some(
                r#"Bearer error="insufficient_scope", error_description="the token lacks required scopes", scope="orders:write badquote""#
                    .into()
            )
        );
        assert_eq!(
            www_authenticate(&Error::KeysUnavailable("down".into()), Some("api")),
            None
        );
    }
}
