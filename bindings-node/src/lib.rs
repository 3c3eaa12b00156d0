//! # authgate-node
//!
//! The native half of the `authgate` npm package. It translates between JavaScript and
//! [`authgate_core`] and nothing more: every rule (validation, storage, signing, JWT checks) lives
//! in the core. The JavaScript half (`index.js`, `express.js`) wraps these classes into the
//! Scalekit-compatible surface and turns native errors into the exception classes.
//!
//! One file per concept:
//!
//! - [`client`]: `NativeClient`, the remote (`authgate serve` / Scalekit) or embedded backend.
//! - [`token`]: API keys (`scalekit.token`).
//! - [`m2m`]: M2M clients and their secrets (`scalekit.m2m`).
//! - [`organization`]: organizations and users (`scalekit.organization`, `scalekit.user`).
//! - [`audit`]: the audit log (`scalekit.audit`).
//! - [`jwt`]: `JwtValidator`, synchronous verification on the calling thread.
//! - [`oauth`]: `ClientCredentials`, the client-credentials token fetcher.
//! - [`policy`]: the request policy of the Express middleware (bearer rule, answers).
//! - [`errors`]: the one mapping from [`authgate_core::Error`] to a JavaScript error.
//!
//! Network and store work runs on napi's tokio runtime and returns Promises; CPU-bound JWT
//! verification stays on the calling thread.

#![deny(missing_docs)]

pub mod audit;
pub mod client;
pub mod errors;
pub mod jwt;
pub mod m2m;
pub mod oauth;
pub mod organization;
pub mod policy;
pub mod token;

use chrono::{DateTime, Utc};
use napi_derive::napi;
use time::OffsetDateTime;

/// The package version (Cargo is the one source of it).
#[napi(js_name = "nativeVersion")]
pub fn native_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// A core timestamp as a JavaScript `Date`.
pub(crate) fn to_date(t: OffsetDateTime) -> DateTime<Utc> {
    let nanos = t.unix_timestamp_nanos();
    let secs = nanos.div_euclid(1_000_000_000) as i64;
    let sub = nanos.rem_euclid(1_000_000_000) as u32;
    DateTime::from_timestamp(secs, sub).unwrap_or_default()
}
