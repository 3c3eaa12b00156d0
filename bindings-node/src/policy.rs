//! The core's request policy ([`authgate_core::policy`]) for the Express middleware: the bearer
//! rule and the HTTP answer to a rejected request, so that it answers exactly as the server and
//! the Flask / FastAPI adapters do.

use std::collections::BTreeMap;

use authgate_core::policy::network;
use authgate_core::policy::{self, Answer, AnswerOptions, Rejection};
use napi::{Env, Result};
use napi_derive::napi;

/// The body of a refusal: `{ error: message }`.
#[napi(object, js_name = "NativeAnswerBody")]
#[derive(Debug)]
pub struct JsAnswerBody {
    /// The message (`Missing authorization token`, `Invalid or expired token`, …).
    pub error: String,
}

/// What the middleware answers a rejected request with.
#[napi(object, js_name = "NativeHttpAnswer")]
#[derive(Debug)]
pub struct JsHttpAnswer {
    /// 401, 403, 429 or 503.
    pub status: u32,
    /// The JSON body.
    pub body: JsAnswerBody,
    /// `WWW-Authenticate` and/or `Retry-After`.
    pub headers: BTreeMap<String, String>,
}

/// The outcome of the bearer rule: the token, or the answer refusing the request.
#[napi(object, js_name = "NativeBearerCheck")]
#[derive(Debug)]
pub struct JsBearerCheck {
    /// The request's bearer token.
    pub token: Option<String>,
    /// The answer refusing the request (no credentials, malformed or oversize token).
    pub answer: Option<JsHttpAnswer>,
}

fn to_js(answer: Answer) -> JsHttpAnswer {
    JsHttpAnswer {
        status: u32::from(answer.status),
        headers: answer
            .headers()
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect(),
        body: JsAnswerBody {
            error: answer.message.to_owned(),
        },
    }
}

fn options(realm: Option<String>) -> AnswerOptions {
    AnswerOptions::with_realm(realm.as_deref())
}

/// The bearer token of an `Authorization` header value (RFC 6750, the core's one rule), or the
/// answer refusing the request with the challenge of `realm` (none when absent or empty).
#[napi(js_name = "checkBearer")]
pub fn check_bearer(authorization: Option<String>, realm: Option<String>) -> JsBearerCheck {
    match policy::bearer(authorization.as_deref()) {
        Ok(token) => JsBearerCheck {
            token: Some(token.to_owned()),
            answer: None,
        },
        Err(rejection) => JsBearerCheck {
            token: None,
            answer: Some(to_js(policy::answer(&rejection, &options(realm)))),
        },
    }
}

/// The answer to a credential check that failed with the error `code` (an authgate error's
/// `.code`), its HTTP status and, for `insufficient_scope`, the missing scopes; `null` when the
/// error is no verdict on the credential (a fault for `next(err)`).
#[napi(js_name = "httpAnswer")]
pub fn http_answer(
    code: String,
    http_status: Option<u32>,
    missing_scopes: Option<Vec<String>>,
    realm: Option<String>,
    retry_after: Option<u32>,
) -> Option<JsHttpAnswer> {
    let status = http_status.and_then(|s| u16::try_from(s).ok());
    let rejection = Rejection::from_code(
        &code,
        status,
        &missing_scopes.unwrap_or_default(),
        retry_after.map(u64::from),
    )?;
    Some(to_js(policy::answer(&rejection, &options(realm))))
}

/// Parses a list of networks (`10.0.0.0/8`, `2001:db8::/32`, or a bare address) by the core's
/// rule and returns them in canonical `addr/prefix` form; the first entry that is not a network
/// throws an `invalid_argument` error naming `field` (default `trustedProxies`). The Express
/// middleware checks its `trustedProxies` with it when it is configured.
#[napi(js_name = "parseNetworks")]
pub fn parse_networks(env: &Env, networks: Vec<String>, field: Option<String>) -> Result<Vec<String>> {
    let field = field.unwrap_or_else(|| "trustedProxies".to_owned());
    let parsed = network::parse_networks(&networks).map_err(|m| authgate_core::Error::invalid(&field, m));
    crate::errors::sync(env, parsed).map(|nets| nets.iter().map(ToString::to_string).collect())
}

/// The address a request comes from, by the core's rule (`policy::network::client_address`):
/// `peer` (the socket's remote address) unless it is one of `trustedProxies`, then the nearest
/// `X-Forwarded-For` entry (`forwardedFor`: the header's values in order) that is not a trusted
/// proxy. `null` when `peer` is missing or not an IP address. Invalid `trustedProxies` entries
/// throw an `invalid_argument` error.
#[napi(js_name = "clientAddress")]
pub fn client_address(
    env: &Env,
    peer: Option<String>,
    forwarded_for: Option<Vec<String>>,
    trusted_proxies: Option<Vec<String>>,
) -> Result<Option<String>> {
    let trusted = network::parse_networks(&trusted_proxies.unwrap_or_default())
        .map_err(|m| authgate_core::Error::invalid("trustedProxies", m));
    let trusted = crate::errors::sync(env, trusted)?;
    let Some(peer) = peer.as_deref().and_then(|p| network::parse_ip(p).ok()) else {
        return Ok(None);
    };
    let header = forwarded_for.unwrap_or_default();
    let source = network::client_address(peer, header.iter().map(String::as_str), &trusted);
    Ok(Some(source.to_string()))
}
