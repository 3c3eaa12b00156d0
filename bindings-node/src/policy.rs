//! The core's request policy ([`authgate_core::policy`]) for the Express middleware: the bearer
//! rule and the HTTP answer to a rejected request, so that it answers exactly as the server and
//! the Flask / FastAPI adapters do.

use std::collections::BTreeMap;

use authgate_core::policy::{self, Answer, AnswerOptions, Rejection};
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
    /// 401, 403 or 503.
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
