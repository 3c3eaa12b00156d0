//! `POST /oauth/token`: the OAuth 2.0 client-credentials grant (RFC 6749 §4.4).
//!
//! Client authentication by `client_secret_post` (form fields) or `client_secret_basic` (HTTP
//! Basic, RFC 6749 §2.3.1: id and secret form-urlencoded before base64), never both. Errors are
//! RFC 6749 §5.2 bodies; every answer carries `Cache-Control: no-store`.

use authgate_core::model::AccessTokenResponse;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

use crate::serve::error::{OAuthError, no_store};
use crate::serve::limiter::Peer;
use crate::serve::state::AppState;

/// Longest accepted `client_id` / `client_secret` / `scope` value; longer input is refused before
/// any store access.
pub(crate) const MAX_PARAM_LEN: usize = 4096;

/// The parameters of a token request that the grant uses. Unknown parameters are ignored
/// (RFC 6749 §3.2); empty values count as absent (§3.1); repeated ones are errors (§3.2).
#[derive(Default)]
struct Params {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
}

impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Params")
            .field("grant_type", &self.grant_type)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("scope", &self.scope)
            .finish()
    }
}

fn parse_form(body: &[u8]) -> Result<Params, OAuthError> {
    let mut params = Params::default();
    for (name, value) in url::form_urlencoded::parse(body) {
        let slot = match name.as_ref() {
            "grant_type" => &mut params.grant_type,
            "client_id" => &mut params.client_id,
            "client_secret" => &mut params.client_secret,
            "scope" => &mut params.scope,
            _ => continue,
        };
        if slot.is_some() {
            return Err(OAuthError::invalid_request(format!(
                "parameter {name} is repeated"
            )));
        }
        if value.len() > MAX_PARAM_LEN {
            return Err(OAuthError::invalid_request(format!(
                "parameter {name} is too long"
            )));
        }
        if !value.is_empty() {
            *slot = Some(value.into_owned());
        }
    }
    Ok(params)
}

/// Credentials from `Authorization: Basic …`; `None` when the header is absent or carries a
/// `Bearer` token. A bearer token is not client authentication (RFC 6749 §2.3): the official
/// Scalekit SDKs send their own `Authorization: Bearer …` on the token request together with
/// `client_secret_post`, so it is ignored here. Any other scheme is an `invalid_request`.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| OAuthError::invalid_client())?;
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Err(OAuthError::invalid_client());
    };
    if scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_request(
            "the token endpoint accepts HTTP Basic or client_secret_post client authentication",
        ));
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| OAuthError::invalid_client())?;
    let decoded = String::from_utf8(decoded).map_err(|_| OAuthError::invalid_client())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(OAuthError::invalid_client)?;
    // RFC 6749 §2.3.1: both parts are application/x-www-form-urlencoded before encoding.
    let unescape = |part: &str| -> String {
        url::form_urlencoded::parse(format!("v={part}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let (id, secret) = (unescape(id), unescape(secret));
    if id.is_empty() || secret.is_empty() || id.len() > MAX_PARAM_LEN || secret.len() > MAX_PARAM_LEN {
        return Err(OAuthError::invalid_client());
    }
    Ok(Some((id, secret)))
}

/// Splits a `scope` parameter into scope tokens (RFC 6749 §3.3 syntax).
fn parse_scope(scope: &str) -> Result<Vec<String>, OAuthError> {
    let valid = |s: &str| {
        s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
    };
    let mut scopes: Vec<String> = Vec::new();
    for s in scope.split(' ').filter(|s| !s.is_empty()) {
        if !valid(s) {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                "scope contains characters outside the RFC 6749 scope syntax",
            ));
        }
        if !scopes.iter().any(|x| x == s) {
            scopes.push(s.to_owned());
        }
    }
    Ok(scopes)
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

/// `POST /oauth/token`
pub async fn token(
    State(state): State<AppState>,
    peer: Option<Extension<Peer>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let source = state.limiter.source(peer.as_deref(), &headers);
    match issue(&state, source, &headers, body).await {
        Ok(token) => {
            state.metrics.token_request("issued");
            let mut response = crate::serve::json::response(StatusCode::OK, &token);
            no_store(response.headers_mut());
            response
        }
        Err(err) => {
            state.metrics.token_request(err.error());
            err.into_response()
        }
    }
}

async fn issue(
    state: &AppState,
    source: Option<std::net::IpAddr>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<AccessTokenResponse, OAuthError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            OAuthError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request",
                "the request body exceeds the size limit",
            )
            .closing()
        } else {
            OAuthError::invalid_request("the request body could not be read")
        }
    })?;
    if !is_form(headers) {
        return Err(OAuthError::invalid_request(
            "the request body must be application/x-www-form-urlencoded",
        ));
    }
    let params = parse_form(&body)?;
    match params.grant_type.as_deref() {
        None => return Err(OAuthError::invalid_request("missing grant_type")),
        Some("client_credentials") => {}
        Some(_) => {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only the client_credentials grant is supported",
            ));
        }
    }
    let (client_id, client_secret) = match (
        basic_credentials(headers)?,
        params.client_id,
        params.client_secret,
    ) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err(OAuthError::invalid_request(
                "use exactly one client authentication method (HTTP Basic or form parameters)",
            ));
        }
        (Some(credentials), None, None) => credentials,
        (None, Some(id), Some(secret)) => (id, secret),
        (None, _, _) => {
            failed_authentication(state, None, source);
            return Err(OAuthError::invalid_client());
        }
    };
    // Brute-force limits: refused before the secret is looked at, the right one included.
    if let Some(retry_after) = state.limiter.blocked(Some(&client_id), source) {
        state.metrics.auth_rate_limited();
        return Err(OAuthError::rate_limited(retry_after));
    }
    // A scope parameter of only spaces requests nothing in particular: the client's defaults.
    let scopes = params
        .scope
        .as_deref()
        .map(parse_scope)
        .transpose()?
        .filter(|s| !s.is_empty());
    let token = match state
        .api
        .issue_client_token(&client_id, &client_secret, scopes)
        .await
    {
        Ok(token) => token,
        Err(authgate_core::Error::InvalidClient) => {
            failed_authentication(state, Some(&client_id), source);
            return Err(OAuthError::invalid_client());
        }
        Err(err) => return Err(OAuthError::from(err)),
    };
    tracing::info!(%client_id, scope = %token.scope, expires_in = token.expires_in, "access token issued");
    Ok(token)
}

/// A failed client authentication: logged at warn with the client id (never the secret), counted
/// in `/metrics` and by the brute-force limits.
pub(crate) fn failed_authentication(
    state: &AppState,
    client_id: Option<&str>,
    source: Option<std::net::IpAddr>,
) {
    state.metrics.client_auth_failed();
    let limited = state.limiter.failed(client_id, source);
    // The id is attacker-chosen text: logged quoted and cut short.
    let shown: String = client_id.unwrap_or("").chars().take(80).collect();
    tracing::warn!(
        client_id = ?shown,
        source = ?source,
        limit_reached = limited,
        "client authentication failed"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn form_rules() {
        let p =
            parse_form(b"grant_type=client_credentials&client_id=a&client_secret=&x=1&scope=a+b").unwrap();
        assert_eq!(p.grant_type.as_deref(), Some("client_credentials"));
        assert_eq!(p.client_secret, None);
        assert_eq!(p.scope.as_deref(), Some("a b"));
        assert!(parse_form(b"grant_type=a&grant_type=b").is_err());
        assert!(!format!("{:?}", parse_form(b"client_secret=s3cr3t").unwrap()).contains("s3cr3t"));
    }

    #[test]
    fn basic_auth_is_form_decoded() {
        let mut h = HeaderMap::new();
        let raw = base64::engine::general_purpose::STANDARD.encode("m2morg_1:a%2Bb%3Ac");
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {raw}")).unwrap(),
        );
        assert_eq!(
            basic_credentials(&h).unwrap(),
            Some(("m2morg_1".to_owned(), "a+b:c".to_owned()))
        );
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic !!!"));
        assert_eq!(basic_credentials(&h).unwrap_err().error(), "invalid_client");
        // A bearer token (the official SDKs send one) is not client authentication: ignored.
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        assert_eq!(basic_credentials(&h).unwrap(), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Digest x"));
        assert_eq!(basic_credentials(&h).unwrap_err().error(), "invalid_request");
    }

    #[test]
    fn scope_syntax() {
        assert_eq!(parse_scope("a:b  c a:b").unwrap(), vec!["a:b", "c"]);
        assert!(parse_scope("a\"b").is_err());
        assert!(parse_scope("").unwrap().is_empty());
    }
}
