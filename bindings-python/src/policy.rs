//! The core's request policy ([`authgate_core::policy`]) for the Flask and FastAPI adapters:
//! the bearer rule and the HTTP answer to a rejected request, so that they answer exactly as the
//! server and the Express middleware do.

use std::collections::BTreeMap;

use authgate_core::policy::network;
use authgate_core::policy::{self, Answer, AnswerOptions, Rejection};
use pyo3::prelude::*;

use crate::errors;

/// `(status, body, headers)`: what a web adapter answers.
type PyAnswer = (
    u16,
    BTreeMap<&'static str, &'static str>,
    BTreeMap<&'static str, String>,
);

fn to_py(answer: Answer) -> PyAnswer {
    let body = BTreeMap::from([("error", answer.message)]);
    let headers = answer.headers().into_iter().collect();
    (answer.status, body, headers)
}

/// The bearer token of an `Authorization` header value, or the answer refusing the request:
/// `(status, body, headers)` with the `WWW-Authenticate` challenge of `realm`.
#[pyfunction]
#[pyo3(signature = (authorization, realm="api"))]
pub fn check_bearer(authorization: Option<&str>, realm: Option<&str>) -> Either {
    match policy::bearer(authorization) {
        Ok(token) => Either::Token(token.to_owned()),
        Err(rejection) => Either::Answer(to_py(policy::answer(
            &rejection,
            &AnswerOptions::with_realm(realm),
        ))),
    }
}

/// The answer to a credential check that failed with the error `code` (an authgate exception's
/// `.code`), its HTTP status and, for `insufficient_scope`, the missing scopes; `None` when the
/// error is no verdict on the credential (a fault: let it propagate).
#[pyfunction]
#[pyo3(signature = (code, http_status=None, missing_scopes=Vec::new(), realm="api", retry_after=None))]
pub fn http_answer(
    code: &str,
    http_status: Option<u16>,
    missing_scopes: Vec<String>,
    realm: Option<&str>,
    retry_after: Option<u64>,
) -> Option<PyAnswer> {
    let rejection = Rejection::from_code(code, http_status, &missing_scopes, retry_after)?;
    Some(to_py(policy::answer(
        &rejection,
        &AnswerOptions::with_realm(realm),
    )))
}

/// Parses a list of networks (`10.0.0.0/8`, `2001:db8::/32`, or a bare address) by the core's
/// rule and returns them in canonical `addr/prefix` form; the first entry that is not a network
/// is a `ScalekitBadRequestException` naming `field`. The adapters check their
/// `trusted_proxies` with it when they are configured.
#[pyfunction]
#[pyo3(signature = (networks, field="trusted_proxies"))]
pub fn parse_networks(networks: Vec<String>, field: &str) -> PyResult<Vec<String>> {
    let parsed = network::parse_networks(&networks).map_err(|m| errors::invalid(field, &m))?;
    Ok(parsed.iter().map(ToString::to_string).collect())
}

/// The address a request comes from, by the core's rule (`policy::network::client_address`):
/// `peer` (the connection's address) unless it is one of `trusted_proxies`, then the nearest
/// `X-Forwarded-For` entry (`forwarded_for`: the header's values in the order received) that is
/// not a trusted proxy. `None` when `peer` is missing or not an IP address (e.g. a Unix socket
/// or a test client). Invalid `trusted_proxies` entries are a `ScalekitBadRequestException`.
#[pyfunction]
#[pyo3(signature = (peer, forwarded_for=Vec::new(), trusted_proxies=Vec::new()))]
pub fn client_address(
    peer: Option<&str>,
    forwarded_for: Vec<String>,
    trusted_proxies: Vec<String>,
) -> PyResult<Option<String>> {
    let trusted =
        network::parse_networks(&trusted_proxies).map_err(|m| errors::invalid("trusted_proxies", &m))?;
    let Some(peer) = peer.and_then(|p| network::parse_ip(p).ok()) else {
        return Ok(None);
    };
    let source = network::client_address(peer, forwarded_for.iter().map(String::as_str), &trusted);
    Ok(Some(source.to_string()))
}

/// A token or an answer.
#[derive(IntoPyObject)]
pub enum Either {
    /// The request's bearer token.
    Token(String),
    /// The answer refusing the request.
    Answer(PyAnswer),
}
