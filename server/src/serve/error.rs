//! Error responses.
//!
//! The REST API answers every failure with Scalekit's error body (grpc-gateway style):
//!
//! ```json
//! {"code": 5, "message": "organization not found: org_1",
//!  "details": [{"@type": "type.googleapis.com/scalekit.v1.errdetails.ErrorInfo",
//!               "error_code": "not_found",
//!               "resource_info": {"resource_type": "organization", "resource_name": "org_1"},
//!               "request_info": {"request_id": "…"}}]}
//! ```
//!
//! `code` is the gRPC status, the HTTP status matches it, and `details[0].error_code` is the
//! stable authgate code ([`Error::code`]). Invalid arguments carry
//! `validation_error_info.field_violations`, so a client can rebuild the exact core error.
//!
//! The token endpoint answers with RFC 6749 §5.2 bodies instead (`{"error", "error_description"}`),
//! see [`OAuthError`].

use std::borrow::Cow;

use authgate_core::Error;
use authgate_core::error::grpc;
use authgate_core::policy::{self, AnswerOptions, Rejection};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::request_id;

/// The `@type` of the error details, as Scalekit sends it.
pub const ERROR_INFO_TYPE: &str = "type.googleapis.com/scalekit.v1.errdetails.ErrorInfo";

/// The `realm` of the server's `WWW-Authenticate` challenges.
pub const REALM: &str = "authgate";

/// How the server answers a rejected credential: the core's request policy with its realm.
fn policy_options() -> AnswerOptions {
    AnswerOptions::with_realm(Some(REALM))
}

/// An error answered with the Scalekit REST error body.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    grpc: i32,
    code: &'static str,
    message: Cow<'static, str>,
    field: Option<String>,
    resource: Option<(&'static str, String)>,
    challenge: Option<HeaderValue>,
    retry_after: Option<u32>,
    close: bool,
}

impl ApiError {
    /// An invalid-argument error about the request itself (body, query, path), answered with
    /// `status` (400, 413 or 415). The stable code stays `invalid_argument`.
    pub fn bad_request(status: StatusCode, field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        ApiError {
            status,
            grpc: grpc::INVALID_ARGUMENT,
            code: "invalid_argument",
            message: format!("invalid {field}: {message}").into(),
            field: Some(field.to_owned()),
            resource: None,
            challenge: None,
            retry_after: None,
            close: false,
        }
    }

    /// Answers with `Connection: close`: for errors raised before the request body was read
    /// (413, 415), so the client does not reuse a connection that still carries unread bytes.
    pub fn closing(mut self) -> Self {
        self.close = true;
        self
    }

    /// Adds the headers the core's request policy answers `rejection` with
    /// ([`policy::answer`]): the RFC 6750 `WWW-Authenticate` challenge (the same text as the
    /// bindings' middleware, realm `authgate`, never the token) and `Retry-After` for a 503.
    /// The body stays the Scalekit error body of the error.
    pub fn with_rejection(mut self, rejection: &Rejection) -> Self {
        let answer = policy::answer(rejection, &policy_options());
        self.challenge = answer
            .www_authenticate
            .and_then(|v| HeaderValue::from_str(&v).ok());
        self.retry_after = answer.retry_after;
        self
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        let status = StatusCode::from_u16(err.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let (field, resource) = match &err {
            Error::InvalidArgument { field, .. } => (Some(field.clone()), None),
            Error::NotFound { resource, id } => (None, Some((*resource, id.clone()))),
            Error::AlreadyExists { resource, .. } => (None, Some((*resource, String::new()))),
            _ => (None, None),
        };
        let message: Cow<'static, str> = match &err {
            // Details of store and internal failures stay in the server log (they never hold a
            // secret, but they describe the server's internals).
            Error::Store(_) | Error::Internal(_) => {
                tracing::error!(error = %err, code = err.code(), "request failed");
                Cow::Borrowed("internal error")
            }
            other => Cow::Owned(other.to_string()),
        };
        // A request without credentials: the bare challenge (RFC 6750 §3.1).
        let challenge = match &err {
            Error::Unauthenticated(_) => policy::answer(&Rejection::Missing, &policy_options())
                .www_authenticate
                .and_then(|v| HeaderValue::from_str(&v).ok()),
            _ => None,
        };
        ApiError {
            status,
            grpc: err.grpc_code(),
            code: err.code(),
            message,
            field,
            resource,
            challenge,
            retry_after: None,
            close: false,
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    code: i32,
    message: &'a str,
    details: [Detail<'a>; 1],
}

#[derive(Serialize)]
struct Detail<'a> {
    #[serde(rename = "@type")]
    type_: &'static str,
    error_code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    validation_error_info: Option<ValidationInfo<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_info: Option<ResourceInfo<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_info: Option<RequestInfo>,
}

#[derive(Serialize)]
struct ValidationInfo<'a> {
    field_violations: [FieldViolation<'a>; 1],
}

#[derive(Serialize)]
struct FieldViolation<'a> {
    field: &'a str,
    description: &'a str,
}

#[derive(Serialize)]
struct ResourceInfo<'a> {
    resource_type: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    resource_name: &'a str,
}

#[derive(Serialize)]
struct RequestInfo {
    request_id: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let description = match &self.field {
            // "invalid {field}: {message}" → the message part.
            Some(field) => self
                .message
                .strip_prefix("invalid ")
                .and_then(|m| m.strip_prefix(field.as_str()))
                .and_then(|m| m.strip_prefix(": "))
                .unwrap_or(&self.message),
            None => "",
        };
        let body = Body {
            code: self.grpc,
            message: &self.message,
            details: [Detail {
                type_: ERROR_INFO_TYPE,
                error_code: self.code,
                validation_error_info: self.field.as_deref().map(|field| ValidationInfo {
                    field_violations: [FieldViolation { field, description }],
                }),
                resource_info: self.resource.as_ref().map(|(kind, name)| ResourceInfo {
                    resource_type: kind,
                    resource_name: name,
                }),
                request_info: request_id::current().map(|request_id| RequestInfo { request_id }),
            }],
        };
        let mut response = super::json::response(self.status, &body);
        if let Some(challenge) = self.challenge {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
        }
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.close {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response.extensions_mut().insert(ErrorCode(self.code));
        response
    }
}

/// The stable error code of an error response, left in the response extensions for the access
/// log and the metrics.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);

/// An RFC 6749 §5.2 error of the token endpoint.
#[derive(Debug)]
pub struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: Cow<'static, str>,
    basic_challenge: bool,
    close: bool,
}

impl OAuthError {
    /// `invalid_request` (400): a parameter is missing, repeated or malformed.
    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// `invalid_client` (401, with a `WWW-Authenticate: Basic` challenge).
    pub fn invalid_client() -> Self {
        OAuthError {
            basic_challenge: true,
            ..Self::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication failed",
            )
        }
    }

    /// An error with the given status and `error` code.
    pub fn new(status: StatusCode, error: &'static str, description: impl Into<Cow<'static, str>>) -> Self {
        OAuthError {
            status,
            error,
            description: description.into(),
            basic_challenge: false,
            close: false,
        }
    }

    /// Answers with `Connection: close` (the body was not read).
    pub fn closing(mut self) -> Self {
        self.close = true;
        self
    }

    /// The `error` code (for metrics).
    pub fn error(&self) -> &'static str {
        self.error
    }
}

impl From<Error> for OAuthError {
    fn from(err: Error) -> Self {
        match err {
            Error::InvalidClient => OAuthError::invalid_client(),
            Error::InvalidScope(message) => OAuthError::new(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                format!("invalid scope: {message}"),
            ),
            e @ Error::InvalidArgument { .. } => OAuthError::invalid_request(e.to_string()),
            e @ (Error::Unavailable(_) | Error::KeysUnavailable(_) | Error::Timeout(_)) => {
                tracing::warn!(error = %e, "token endpoint unavailable");
                OAuthError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "the service is temporarily unavailable",
                )
            }
            e => {
                tracing::error!(error = %e, code = e.code(), "token endpoint failed");
                OAuthError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "internal error",
                )
            }
        }
    }
}

/// `Cache-Control: no-store` and `Pragma: no-cache`, on every token-endpoint answer (RFC 6749
/// §5.1, §5.2).
pub fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

#[derive(Serialize)]
struct OAuthBody<'a> {
    error: &'a str,
    error_description: &'a str,
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut response = super::json::response(
            self.status,
            &OAuthBody {
                error: self.error,
                error_description: &self.description,
            },
        );
        let headers = response.headers_mut();
        no_store(headers);
        if self.close {
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if self.basic_challenge {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"authgate\", charset=\"UTF-8\""),
            );
        }
        response.extensions_mut().insert(ErrorCode(self.error));
        response
    }
}
