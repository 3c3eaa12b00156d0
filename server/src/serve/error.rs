//! Error responses.
//!
//! The REST API answers every failure with Scalekit's error body (grpc-gateway style), written
//! by core's wire module ([`authgate_core::wire::error`], which documents the format and which
//! structured field holds what):
//!
//! ```json
//! {"code": 5, "message": "organization not found: org_1",
//!  "details": [{"@type": "type.googleapis.com/scalekit.v1.errdetails.ErrorInfo",
//!               "error_code": "not_found",
//!               "resource_info": {"resource_type": "organization", "resource_name": "org_1"},
//!               "request_info": {"request_id": "…"}}]}
//! ```
//!
//! This file adds what only HTTP has: the status override of request-shape errors (413, 415,
//! 405), `WWW-Authenticate` challenges, `Connection: close`, and the request id.
//!
//! The token endpoint answers with RFC 6749 §5.2 bodies instead (`{"error", "error_description"}`),
//! see [`OAuthError`].

use std::borrow::Cow;

use authgate_core::Error;
use authgate_core::policy::{self, AnswerOptions, Rejection};
use authgate_core::wire::{ErrorStatus, OAuthErrorBody};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::request_id;

pub use authgate_core::wire::ERROR_INFO_TYPE;

/// The `realm` of the server's `WWW-Authenticate` challenges.
pub const REALM: &str = "authgate";

/// How the server answers a rejected credential: the core's request policy with its realm.
fn policy_options() -> AnswerOptions {
    AnswerOptions::with_realm(Some(REALM))
}

/// An error answered with the Scalekit REST error body.
#[derive(Debug)]
pub struct ApiError {
    error: Error,
    /// The HTTP status, when it is not the error's own (413, 415, 405 for request-shape errors).
    status: Option<StatusCode>,
    challenge: Option<HeaderValue>,
    retry_after: Option<u32>,
    close: bool,
}

impl ApiError {
    /// An invalid-argument error about the request itself (body, query, path), answered with
    /// `status` (400, 405, 413 or 415). The stable code stays `invalid_argument`.
    pub fn bad_request(status: StatusCode, field: &str, message: impl Into<String>) -> Self {
        ApiError {
            status: Some(status),
            ..ApiError::from(Error::invalid(field, message))
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

    /// 429 `resource_exhausted` with `Retry-After`: too many failed authentications from this
    /// source ([`crate::serve::limiter`]).
    pub fn rate_limited(retry_after: u64) -> Self {
        ApiError {
            retry_after: Some(u32::try_from(retry_after).unwrap_or(u32::MAX)),
            ..ApiError::from(Error::ResourceExhausted(
                "too many failed authentications from this address; retry after the Retry-After delay".into(),
            ))
        }
    }

    /// The core error this answers.
    pub fn error(&self) -> &Error {
        &self.error
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        if matches!(error, Error::Store(_) | Error::Internal(_)) {
            // The detail stays in the server log (it never holds a secret, but it describes the
            // server's internals); the answer says "internal error".
            tracing::error!(%error, code = error.code(), "request failed");
        }
        let challenge = match &error {
            // A request without credentials: the bare challenge (RFC 6750 §3.1).
            Error::Unauthenticated(_) => policy::answer(&Rejection::Missing, &policy_options())
                .www_authenticate
                .and_then(|v| HeaderValue::from_str(&v).ok()),
            _ => None,
        };
        // A store or key-set outage is temporary: say when to try again.
        let retry_after = match &error {
            Error::Unavailable(_) | Error::KeysUnavailable(_) => {
                policy::answer(&Rejection::Unavailable, &policy_options()).retry_after
            }
            // A key over its rate limit: the seconds left in its window.
            Error::RateLimited { retry_after } => Some(u32::try_from(*retry_after).unwrap_or(u32::MAX)),
            _ => None,
        };
        if let Error::Unavailable(_) = &error {
            tracing::warn!(%error, "request refused: unavailable");
        }
        ApiError {
            error,
            status: None,
            challenge,
            retry_after,
            close: false,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let wire = ErrorStatus::new(&self.error).with_request_id(request_id::current());
        let status = self.status.unwrap_or_else(|| {
            StatusCode::from_u16(wire.http_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        });
        let mut response = super::json::response(status, &wire.into_body());
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
        response.extensions_mut().insert(ErrorCode(self.error.code()));
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
    retry_after: Option<u64>,
}

impl OAuthError {
    /// 429 `slow_down` with `Retry-After`: the client id or the source address failed to
    /// authenticate too often (the brute-force limits, [`crate::serve::limiter`]).
    pub fn rate_limited(retry_after: u64) -> Self {
        OAuthError {
            retry_after: Some(retry_after),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "slow_down",
                "too many failed client authentications; retry after the Retry-After delay",
            )
        }
    }

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
            retry_after: None,
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
                OAuthError {
                    retry_after: policy::answer(&Rejection::Unavailable, &policy_options())
                        .retry_after
                        .map(u64::from),
                    ..OAuthError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "temporarily_unavailable",
                        "the service is temporarily unavailable",
                    )
                }
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

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut response = super::json::response(
            self.status,
            &OAuthErrorBody {
                error: self.error.to_owned(),
                error_description: Some(self.description.into_owned()),
            },
        );
        let headers = response.headers_mut();
        no_store(headers);
        if self.close {
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
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
