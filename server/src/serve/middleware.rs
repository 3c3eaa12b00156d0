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
    let handler = AssertUnwindSafe(request_id::scope(id.clone(), next.run(req))).catch_unwind();
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
