//! The core's request policy ([`authgate_core::policy`]) for the Flask and FastAPI adapters:
//! the bearer rule and the HTTP answer to a rejected request, so that they answer exactly as the
//! server and the Express middleware do.

use std::collections::BTreeMap;

use authgate_core::policy::{self, Answer, AnswerOptions, Rejection};
use pyo3::prelude::*;

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

/// A token or an answer.
#[derive(IntoPyObject)]
pub enum Either {
    /// The request's bearer token.
    Token(String),
    /// The answer refusing the request.
    Answer(PyAnswer),
}
