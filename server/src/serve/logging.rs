//! Structured logs on stderr (stdout carries only what the operator must read: the bound address
//! and, once, newly created environment credentials).
//!
//! - `AUTHGATE_LOG` (or `RUST_LOG`): an env-filter directive, default `info`. Each request runs in
//!   an `info` span carrying its `request_id`, method and route template; the per-request access
//!   line is at `debug` (5xx answers at `warn`), so `AUTHGATE_LOG=debug` shows every request.
//! - `AUTHGATE_LOG_FORMAT=json`: one JSON object per line, with the span fields.
//!
//! No log line ever contains an API key, client secret, access token or pepper: handlers log ids
//! only, request bodies and `Authorization` headers are never logged, and error messages (which
//! the core guarantees to be secret-free) are logged only for 5xx answers.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber (a no-op if one is already installed).
pub fn init() {
    let filter = EnvFilter::try_from_env("AUTHGATE_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("AUTHGATE_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    } else {
        builder.with_ansi(std::io::stderr().is_terminal()).try_init()
    };
}
