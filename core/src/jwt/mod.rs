//! JWT access-token validation against cached JWKS, scope checks and the verified-token cache.
//!
//! The entry point is [`JwtValidator`], configured with a [`ValidatorConfig`]:
//!
//! ```no_run
//! use authgate_core::jwt::{JwtValidator, ValidatorConfig};
//!
//! # async fn run(token: &str) -> authgate_core::Result<()> {
//! let validator = JwtValidator::new(
//!     ValidatorConfig::jwks_url("https://auth.example.com/keys")
//!         .with_issuer("https://auth.example.com")
//!         .with_audience("https://api.example.com"),
//! )?;
//! let claims = validator.validate(token).await?; // verify first…
//! claims.require_all(&["orders:read"])?; // …authorise second
//! println!("{:?} from {:?}", claims.subject(), claims.organization_id());
//! # Ok(()) }
//! ```
//!
//! # Security defaults
//!
//! - Algorithms: RS256, PS256, ES256 and EdDSA ([`DEFAULT_ALGORITHMS`]), each bound to its key
//!   type (RSA keys of 2048–8192 bits, EC keys on the algorithm's curve, OKP Ed25519). `none` and
//!   `HS*` cannot be configured, and `oct` keys in a JWK Set are ignored, so algorithm
//!   confusion is impossible by construction. A JWK's own `alg`, `use` and `key_ops` restrict it.
//! - Tokens over 8 KiB are refused before any base64 or JSON work; duplicate JSON members are
//!   refused; unknown `crit` extensions are refused; `jku`, `x5u`, `jwk` and `x5c` headers are
//!   never followed.
//! - `exp` is required; `exp`, `nbf`, `iat` must be numbers and `iss`, `sub`, `jti`, `aud` strings
//!   (or an array of strings for `aud`), whether or not they are otherwise checked; leeway 60 s.
//! - `iss` is compared exactly when configured; `aud` must hold a configured audience when
//!   audiences are configured; an optional required `typ` (e.g. `at+jwt`).
//! - Nothing of the payload is read before the signature verifies, and scopes are checked only
//!   after the whole token is valid. Key unavailability is [`Error::KeysUnavailable`]
//!   (HTTP 503), never a 401.
//!
//! # Crypto: aws-lc-rs with keys parsed once
//!
//! Signatures are verified with aws-lc-rs's [`ParsedPublicKey`]: each JWK is parsed into an
//! aws-lc key object when its set is installed (RSA keys usable with several algorithms get one
//! per algorithm, on first use) and reused for every token. `jsonwebtoken`'s verifier rebuilds
//! the public key from its components on every call, which costs a few microseconds per RSA
//! verification; it is used here only as the benchmark baseline and to sign test tokens.
//!
//! # Performance
//!
//! Validation is synchronous CPU work; only key fetching is async. [`JwtValidator::try_validate`]
//! verifies on the calling thread when keys are cached (what the Python and Node bindings call),
//! [`JwtValidator::validate`] is the async path that fetches as needed, and
//! [`JwtValidator::validate_blocking`] blocks on a runtime handle the caller supplies. Core never
//! creates a runtime. A verified-token cache (10 000 entries by default) keyed by the SHA-256 of
//! the whole token answers repeated tokens in about a microsecond, most of it the hash (no
//! plain token is kept in memory); entries never outlive `exp`, are flushed when a `kid` is
//! removed or changes, and are only used while the keys are within their TTL.
//!
//! Key caching, refetching and the stale window are described in [`jwks`]. For HTTP answers,
//! [`www_authenticate`] builds the RFC 6750 challenge of an error (401 and 403 alike).
//!
//! [`ParsedPublicKey`]: aws_lc_rs::signature::ParsedPublicKey
//! [`Error::KeysUnavailable`]: crate::Error::KeysUnavailable

mod algorithm;
mod cache;
mod claims;
mod clock;
pub mod jwks;
mod keyset;
mod token;
mod validator;

pub use crate::policy::www_authenticate;
pub use algorithm::{Algorithm, DEFAULT_ALGORITHMS};
pub use claims::{Claims, DEFAULT_SCOPE_CLAIMS, Requirement, ScopeMatch};
pub(crate) use clock::monotonic_now as clock_monotonic_now;
pub use clock::{Clock, FixedClock, ManualClock, SystemClock};
pub use jwks::{AuthApiKeys, JwksCache, JwksConfig, JwksStatus, KeyProvider, KeySource};
pub use validator::{JwtValidator, SyncValidation, ValidatorConfig};

#[cfg(test)]
mod tests {
    use super::*;

    fn shareable<T: Send + Sync + Clone + 'static>() {}

    #[test]
    fn public_types_can_be_shared_across_threads() {
        shareable::<JwtValidator>();
        shareable::<JwksCache>();
        shareable::<Claims>();
        shareable::<ValidatorConfig>();
        shareable::<crate::oauth::TokenFetcher>();
    }
}
