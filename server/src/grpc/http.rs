//! Keeps every answer to a gRPC request in gRPC terms.
//!
//! gRPC clients read the outcome from `grpc-status`, not from the HTTP status or a JSON body.
//! Requests with `content-type: application/grpc…` that are answered by something other than a
//! gRPC service (the REST fallback for an unknown service, the 405 fallback, the timeout and
//! panic guard of the middleware, a REST route's rejection) get a trailers-only gRPC answer: HTTP
//! 200 with `grpc-status`, `grpc-message` and `grpc-status-details-bin` derived from the REST
//! error (its `code` and `details[0].error_code`).
//!
//! On HTTP/1.1 (connect-go sends gRPC over HTTP/1.1 for `http://` URLs) hyper writes trailers
//! only when the response declares them in a `Trailer:` header (and the request sent
//! `te: trailers`), so gRPC responses with a body get that header here.

use authgate_core::error::grpc;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Version, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::pb::errdetails::ErrorInfo;
use super::status::status;

/// The `Trailer` header of gRPC responses on HTTP/1.1.
const GRPC_TRAILERS: HeaderValue =
    HeaderValue::from_static("grpc-status, grpc-message, grpc-status-details-bin");
/// Largest REST error body read to translate it.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// `content-type: application/grpc` or `application/grpc+…` (not gRPC-Web).
pub fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let v = v.trim();
            v == "application/grpc"
                || v.starts_with("application/grpc+")
                || v.starts_with("application/grpc;")
        })
}

/// The middleware: see the module docs.
pub async fn adapt(req: Request, next: Next) -> Response {
    if !is_grpc(req.headers()) {
        return next.run(req).await;
    }
    let http1 = req.version() < Version::HTTP_2;
    let response = next.run(req).await;
    let mut response = if response.status() == StatusCode::OK && is_grpc(response.headers()) {
        response
    } else {
        translate(response).await
    };
    if http1 && !response.headers().contains_key("grpc-status") {
        response.headers_mut().insert(header::TRAILER, GRPC_TRAILERS);
    }
    response
}

/// The gRPC status code of a non-gRPC answer without a readable error body
/// (the gRPC HTTP-to-status mapping, doc/http-grpc-status-mapping.md).
fn code_for_http(status: StatusCode) -> i32 {
    match status.as_u16() {
        400 => grpc::INTERNAL,
        401 => grpc::UNAUTHENTICATED,
        403 => grpc::PERMISSION_DENIED,
        404 | 405 => grpc::UNIMPLEMENTED,
        429 | 502 | 503 | 504 => grpc::UNAVAILABLE,
        _ => grpc::UNKNOWN,
    }
}

/// A trailers-only gRPC answer for a REST answer.
async fn translate(response: Response) -> Response {
    let (parts, body) = response.into_parts();
    let mut out = if matches!(
        parts.status,
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
    ) {
        // No gRPC service answered: an unknown service or method.
        status(
            grpc::UNIMPLEMENTED,
            "unknown service or method".to_owned(),
            "unimplemented",
            ErrorInfo::default(),
        )
    } else {
        let body = axum::body::to_bytes(body, MAX_ERROR_BODY)
            .await
            .unwrap_or_default();
        let parsed: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
        let code = parsed
            .as_ref()
            .and_then(|v| v.get("code"))
            .and_then(serde_json::Value::as_i64)
            .and_then(|c| i32::try_from(c).ok())
            .filter(|c| (1..=16).contains(c))
            .unwrap_or_else(|| code_for_http(parts.status));
        let message = parsed
            .as_ref()
            .and_then(|v| v.get("message"))
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| parts.status.to_string());
        let error_code = parsed
            .as_ref()
            .and_then(|v| v.pointer("/details/0/error_code"))
            .and_then(serde_json::Value::as_str)
            .unwrap_or("unknown")
            .to_owned();
        status(code, message, &error_code, ErrorInfo::default())
    }
    .into_http::<axum::body::Body>();
    // Keep the request id and connection handling of the original answer.
    for name in [header::CONNECTION] {
        if let Some(v) = parts.headers.get(&name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    out.extensions_mut().extend(parts.extensions);
    out.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_content_types() {
        let mut h = HeaderMap::new();
        assert!(!is_grpc(&h));
        for (v, want) in [
            ("application/grpc", true),
            ("application/grpc+proto", true),
            ("application/grpc-web", false),
            ("application/json", false),
        ] {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(v));
            assert_eq!(is_grpc(&h), want, "{v}");
        }
    }

    #[tokio::test]
    async fn rest_errors_become_trailers_only_grpc_answers() {
        use crate::serve::error::ApiError;
        use authgate_core::Error;

        // The middleware's timeout answer (a JSON 504) keeps its gRPC code and message.
        let timeout = Error::Timeout("the request took too long".into());
        let code = timeout.grpc_code();
        let answer = translate(ApiError::from(timeout).into_response()).await;
        assert_eq!(answer.status(), StatusCode::OK);
        assert_eq!(answer.headers()["grpc-status"], code.to_string().as_str());
        assert!(answer.headers().contains_key("grpc-status-details-bin"));
        // The REST fallback's 404: no such service or method.
        let missing = ApiError::from(Error::not_found("route", "/x.Y/Z")).into_response();
        let answer = translate(missing).await;
        assert_eq!(
            answer.headers()["grpc-status"],
            grpc::UNIMPLEMENTED.to_string().as_str()
        );
    }

    #[test]
    fn http_fallback_codes() {
        assert_eq!(code_for_http(StatusCode::NOT_FOUND), grpc::UNIMPLEMENTED);
        assert_eq!(code_for_http(StatusCode::GATEWAY_TIMEOUT), grpc::UNAVAILABLE);
    }
}
