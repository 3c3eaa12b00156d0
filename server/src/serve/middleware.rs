//! The one middleware every route runs through: request id, span, timeout, panic guard, metrics
//! and the access log — a single async function rather than a stack of layers.

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use authgate_core::Error;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::FutureExt;
use tracing::Instrument;

use super::error::{ApiError, ErrorCode};
use super::limiter::Peer;
use super::metrics::{Metrics, ROUTES};
use super::request_id;
use super::state::AppState;

/// Decrements the in-flight gauge even when the request future is dropped (client gone).
struct InFlight<'a>(&'a Metrics);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.request_abandoned();
    }
}

/// Wraps one request: see the module docs.
pub async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = Metrics::route_index(req.extensions().get::<MatchedPath>().map(MatchedPath::as_str));
    let method = req.method().clone();
    let id = request_id::from_headers(req.headers());
    let span = tracing::info_span!(
        "request",
        request_id = id.to_str().unwrap_or_default(),
        method = %method,
        route = ROUTES[route],
        client_id = tracing::field::Empty,
    );

    state.metrics.request_started();
    let guard = InFlight(&state.metrics);
    // The audit scope: management actions of this request are recorded with its source address.
    let source = state
        .limiter
        .source(req.extensions().get::<Peer>(), req.headers());
    let handler = AssertUnwindSafe(request_id::scope(
        id.clone(),
        authgate_core::audit::scope(source, next.run(req)),
    ))
    .catch_unwind();
    let outcome = tokio::time::timeout(state.config.request_timeout, handler)
        .instrument(span.clone())
        .await;
    std::mem::forget(guard);

    let mut response = match outcome {
        Ok(Ok(response)) => response,
        Ok(Err(_panic)) => {
            span.in_scope(|| tracing::error!("handler panicked"));
            ApiError::from(Error::Internal("handler panicked".into())).into_response()
        }
        Err(_elapsed) => ApiError::from(Error::Timeout("the request took too long".into())).into_response(),
    };
    let status = response.status().as_u16();
    let elapsed = start.elapsed();
    state.metrics.request_finished(route, &method, status, elapsed);
    let code = response.extensions().get::<ErrorCode>().map(|c| c.0);
    span.in_scope(|| {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        if status >= 500 {
            tracing::warn!(status, error_code = code, micros, "request failed");
        } else {
            tracing::debug!(status, error_code = code, micros, "request");
        }
    });
    response.headers_mut().insert(&request_id::HEADER, id);
    response
}

/// Most bytes of an oversized request body read and discarded before the 413 is sent.
const DRAIN_LIMIT: usize = 1024 * 1024;

/// Whether the request announces a body.
fn has_body(headers: &axum::http::HeaderMap) -> bool {
    headers.contains_key(axum::http::header::TRANSFER_ENCODING)
        || content_length(headers).is_some_and(|n| n > 0)
}

fn content_length(headers: &axum::http::HeaderMap) -> Option<u64> {
    headers
        .get(axum::http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The 413 of `path`: RFC 6749 body at the token endpoint, the API's error body elsewhere.
/// Always `Connection: close`.
fn too_large(path: &str) -> Response {
    const MESSAGE: &str = "the request body exceeds the size limit";
    if path == "/oauth/token" {
        super::error::OAuthError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            MESSAGE,
        )
        .closing()
        .into_response()
    } else {
        ApiError::bad_request(axum::http::StatusCode::PAYLOAD_TOO_LARGE, "body", MESSAGE)
            .closing()
            .into_response()
    }
}

/// Reads the body of an HTTP/1 request before any handler runs, so that no answer leaves
/// unread bytes on a keep-alive connection: an early 401 or 403 (the token is checked before the
/// body is parsed) then keeps the connection usable for the next request.
///
/// A body over `--max-body-bytes` is answered 413 with `Connection: close` after reading and
/// discarding it (up to [`DRAIN_LIMIT`] bytes), so a client that sends the whole body before
/// reading (Python's `http.client`, `requests`) reads the 413 rather than a reset connection.
/// HTTP/2 (streams end independently) and gRPC requests are passed through untouched.
pub async fn read_body_first(State(state): State<AppState>, req: Request, next: Next) -> Response {
    use futures::StreamExt as _;
    let http1 = matches!(
        req.version(),
        axum::http::Version::HTTP_10 | axum::http::Version::HTTP_11
    );
    let grpc = req
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"));
    if !http1 || grpc || !has_body(req.headers()) {
        return next.run(req).await;
    }
    let max = state.config.max_body_bytes;
    let (parts, body) = req.into_parts();
    let mut stream = body.into_data_stream();
    let mut buf: Vec<u8> = Vec::new();
    let mut read = 0usize;
    let oversized = content_length(&parts.headers).is_some_and(|n| n > max as u64);
    let mut over = oversized;
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            return ApiError::bad_request(
                axum::http::StatusCode::BAD_REQUEST,
                "body",
                "the request body could not be read",
            )
            .closing()
            .into_response();
        };
        read += chunk.len();
        if over || buf.len() + chunk.len() > max {
            over = true;
            buf = Vec::new();
            if read > DRAIN_LIMIT {
                break;
            }
            continue;
        }
        buf.extend_from_slice(&chunk);
    }
    if over {
        return too_large(parts.uri.path());
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(buf)))
        .await
}

/// The brute-force limits on gRPC management calls, which authenticate inside the services
/// ([`crate::grpc::auth`]): a source address over its limit is answered `RESOURCE_EXHAUSTED`
/// before the call runs, and an `UNAUTHENTICATED` answer other than "missing token" counts as
/// a failed authentication of its address (the same counts as the REST management API).
pub async fn grpc_auth_limits(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !crate::grpc::http::is_grpc(req.headers()) {
        return next.run(req).await;
    }
    let source = state
        .limiter
        .source(req.extensions().get::<super::limiter::Peer>(), req.headers());
    if let Some(retry_after) = state.limiter.blocked(None, source) {
        state.metrics.auth_rate_limited();
        // Translated to a trailers-only RESOURCE_EXHAUSTED answer by `crate::grpc::http::adapt`.
        return ApiError::rate_limited(retry_after).into_response();
    }
    let response = next.run(req).await;
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok());
    let unauthenticated = header("grpc-status") == Some("16");
    // The message is percent-encoded ("missing%20bearer…"), after the code's own words.
    let missing = header("grpc-message").is_some_and(|m| m.contains("missing"));
    if unauthenticated && !missing {
        let limited = state.limiter.failed(None, source);
        tracing::warn!(source = ?source, limit_reached = limited, "management authentication failed (gRPC)");
    }
    response
}
