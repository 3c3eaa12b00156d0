//! The one error type of authgate.
//!
//! Every failure in the core, the server and both bindings is an [`Error`]. Each variant has a
//! stable snake_case [`code`](Error::code) that the HTTP layer puts in `details[].error_code` and
//! the bindings expose as `.code`, and maps to one HTTP status and one gRPC status code
//! ([`http_status`](Error::http_status), [`grpc_code`](Error::grpc_code)), so a failure reads the
//! same in every language and every mode (embedded, server, remote). How an error crosses a wire
//! and is rebuilt on the other side, equal, is [`wire::error`](crate::wire::error).
//!
//! Messages never contain a secret: no API key, client secret, access token or pepper is ever
//! formatted into an error.

use std::fmt;

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in authgate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A request argument is missing, malformed or out of range. Nothing was changed.
    #[error("invalid {field}: {message}")]
    InvalidArgument {
        /// The offending field, as named on the wire (`organization_id`, `custom_claims`, …).
        field: String,
        /// What is wrong with it.
        message: String,
    },

    /// The named resource does not exist (or is not visible to the caller).
    #[error("{resource} not found: {id}")]
    NotFound {
        /// The kind of resource (`organization`, `user`, `token`, `client`, `secret`, …).
        resource: &'static str,
        /// The identifier that was looked up. Never a secret: lookups by key say `<redacted>`.
        id: String,
    },

    /// A resource with the same unique identity already exists.
    #[error("{resource} already exists: {message}")]
    AlreadyExists {
        /// The kind of resource.
        resource: &'static str,
        /// Which unique property collided.
        message: String,
    },

    /// The operation is valid but the system is not in a state that allows it
    /// (for example removing the last secret of a client, or opening a store with another pepper).
    #[error("failed precondition: {0}")]
    FailedPrecondition(String),

    /// An API key did not validate. Deliberately one error for unknown, malformed, expired and
    /// revoked keys, and for a bare `apit_…` id presented as a key: no oracle about which.
    #[error("token validation failed")]
    TokenValidationFailed,

    /// A JWT access token was rejected; the [`TokenError`] says why.
    #[error("invalid access token: {0}")]
    InvalidToken(TokenError),

    /// The token is valid but lacks scopes the operation requires (HTTP 403).
    #[error("token missing required scopes: {}", .missing.join(", "))]
    InsufficientScope {
        /// The required scopes the token does not carry.
        missing: Vec<String>,
    },

    /// The keys needed to verify a token could not be obtained (JWKS unreachable past the stale
    /// window). Callers answer 503, never 401.
    #[error("signing keys unavailable: {0}")]
    KeysUnavailable(String),

    /// Client authentication failed at the token endpoint (unknown client or wrong secret).
    #[error("client authentication failed")]
    InvalidClient,

    /// The requested scope is invalid, unknown, or exceeds what the client was granted.
    #[error("invalid scope: {0}")]
    InvalidScope(String),

    /// An OAuth 2.0 error returned by a token endpoint (RFC 6749 §5.2) that has no closer variant.
    #[error("oauth error {error}{}", .description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    OAuth {
        /// The `error` field, e.g. `unsupported_grant_type`.
        error: String,
        /// The `error_description` field, if any.
        description: Option<String>,
        /// The HTTP status the endpoint answered with.
        status: u16,
    },

    /// The caller is not authenticated to the service (missing, invalid or expired credentials).
    #[error("unauthenticated: {0}")]
    Unauthenticated(String),

    /// The caller is authenticated but not allowed to perform the operation.
    #[error("permission denied: {0}")]
    PermissionDenied(String),

    /// Too many requests.
    #[error("resource exhausted: {0}")]
    ResourceExhausted(String),

    /// A valid API key used more often than its `rate_limit` allows (an authgate extension):
    /// HTTP 429 with `Retry-After`. Not a verdict on the key, and not counted as a failure.
    #[error("rate limit of the API key exceeded; retry after {retry_after} s")]
    RateLimited {
        /// Seconds until the key's current window ends.
        retry_after: u64,
    },

    /// A remote service or the store is unreachable or overloaded; retrying later may succeed.
    #[error("unavailable: {0}")]
    Unavailable(String),

    /// An operation did not complete in time.
    #[error("deadline exceeded: {0}")]
    Timeout(String),

    /// The database failed in a way that is not the caller's fault.
    #[error("store error: {0}")]
    Store(String),

    /// A remote server answered with an error this client has no closer variant for.
    #[error("server error {http_status} ({error_code}): {message}")]
    Server {
        /// The HTTP status code.
        http_status: u16,
        /// The server's error code (`details[].error_code`, or the gRPC status name).
        error_code: String,
        /// The server's message.
        message: String,
    },

    /// A bug or an unexpected condition inside authgate.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Why a JWT access token was rejected. Each reason has a stable [`code`](TokenError::code).
///
/// Signature and key problems deliberately come first in validation: no claim is looked at
/// before the signature has been verified.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// Not three base64url segments, bad base64, or a header/payload that is not a JSON object.
    Malformed,
    /// The token is larger than the configured maximum; it was rejected before any decoding.
    TooLarge,
    /// `alg` is `none`, symmetric where keys are asymmetric, outside the allowlist, or does not
    /// match the type of the selected key.
    AlgorithmNotAllowed,
    /// No published key has the token's `kid` (after one refetch), or the token has no `kid`
    /// and more than one key could match.
    UnknownKeyId,
    /// The signature does not verify.
    InvalidSignature,
    /// The header lists a `crit` extension this validator does not understand.
    UnsupportedCritical,
    /// `typ` does not match the required token type.
    InvalidType,
    /// `exp` is absent.
    MissingExpiry,
    /// A registered claim has the wrong JSON type (for example a string `exp`).
    InvalidClaimType(&'static str),
    /// `exp` is in the past (beyond the leeway).
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    NotYetValid,
    /// `iss` does not equal the configured issuer.
    InvalidIssuer,
    /// `aud` holds none of the configured audiences.
    InvalidAudience,
}

impl TokenError {
    /// The stable snake_case code of this reason.
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::Malformed => "token_malformed",
            TokenError::TooLarge => "token_too_large",
            TokenError::AlgorithmNotAllowed => "algorithm_not_allowed",
            TokenError::UnknownKeyId => "unknown_kid",
            TokenError::InvalidSignature => "invalid_signature",
            TokenError::UnsupportedCritical => "unsupported_crit",
            TokenError::InvalidType => "invalid_typ",
            TokenError::MissingExpiry => "missing_exp",
            TokenError::InvalidClaimType(_) => "invalid_claim_type",
            TokenError::Expired => "token_expired",
            TokenError::NotYetValid => "token_not_yet_valid",
            TokenError::InvalidIssuer => "invalid_issuer",
            TokenError::InvalidAudience => "invalid_audience",
        }
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            TokenError::Malformed => "malformed token",
            TokenError::TooLarge => "token exceeds the maximum size",
            TokenError::AlgorithmNotAllowed => "signing algorithm not allowed",
            TokenError::UnknownKeyId => "no matching signing key",
            TokenError::InvalidSignature => "signature does not verify",
            TokenError::UnsupportedCritical => "unsupported critical header extension",
            TokenError::InvalidType => "unexpected token type",
            TokenError::MissingExpiry => "token has no exp claim",
            TokenError::InvalidClaimType(claim) => return write!(f, "claim {claim} has the wrong type"),
            TokenError::Expired => "token expired",
            TokenError::NotYetValid => "token not yet valid",
            TokenError::InvalidIssuer => "issuer mismatch",
            TokenError::InvalidAudience => "audience mismatch",
        };
        f.write_str(text)
    }
}

/// gRPC status codes, as used in the Scalekit REST error body (`{"code": <grpc code>, …}`).
#[allow(missing_docs)]
pub mod grpc {
    pub const OK: i32 = 0;
    pub const CANCELLED: i32 = 1;
    pub const UNKNOWN: i32 = 2;
    pub const INVALID_ARGUMENT: i32 = 3;
    pub const DEADLINE_EXCEEDED: i32 = 4;
    pub const NOT_FOUND: i32 = 5;
    pub const ALREADY_EXISTS: i32 = 6;
    pub const PERMISSION_DENIED: i32 = 7;
    pub const RESOURCE_EXHAUSTED: i32 = 8;
    pub const FAILED_PRECONDITION: i32 = 9;
    pub const ABORTED: i32 = 10;
    pub const OUT_OF_RANGE: i32 = 11;
    pub const UNIMPLEMENTED: i32 = 12;
    pub const INTERNAL: i32 = 13;
    pub const UNAVAILABLE: i32 = 14;
    pub const DATA_LOSS: i32 = 15;
    pub const UNAUTHENTICATED: i32 = 16;

    /// The canonical names, indexed by code.
    const NAMES: [&str; 17] = [
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ];

    /// The canonical name of a code (`NOT_FOUND`), `None` outside 0..=16.
    pub fn name(code: i32) -> Option<&'static str> {
        usize::try_from(code).ok().and_then(|i| NAMES.get(i)).copied()
    }

    /// The code of a canonical name, case-insensitively.
    pub fn from_name(name: &str) -> Option<i32> {
        NAMES
            .iter()
            .position(|n| n.eq_ignore_ascii_case(name))
            .and_then(|i| i32::try_from(i).ok())
    }
}

/// The resource kinds of [`Error::NotFound`] and [`Error::AlreadyExists`]. Listed so that an
/// error read back from the wire keeps its kind (the field is a `&'static str`); any other name
/// reads back as `resource`.
pub const RESOURCE_KINDS: &[&str] = &[
    "organization",
    "user",
    "membership",
    "token",
    "client",
    "secret",
    "signing_key",
    "environment_client",
    "route",
    "record",
    "resource",
];

/// The registered claims a [`TokenError::InvalidClaimType`] can name (the ones whose JSON type
/// validation checks). Any other name reads back from the wire as `claim`.
pub const REGISTERED_CLAIMS: &[&str] = &["exp", "nbf", "iat", "iss", "sub", "jti", "aud", "claim"];

impl Error {
    /// The stable snake_case code of this error, shared by the HTTP API and both bindings.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidArgument { .. } => "invalid_argument",
            Error::NotFound { .. } => "not_found",
            Error::AlreadyExists { .. } => "already_exists",
            Error::FailedPrecondition(_) => "failed_precondition",
            Error::TokenValidationFailed => "token_validation_failed",
            Error::InvalidToken(reason) => reason.code(),
            Error::InsufficientScope { .. } => "insufficient_scope",
            Error::KeysUnavailable(_) => "keys_unavailable",
            Error::InvalidClient => "invalid_client",
            Error::InvalidScope(_) => "invalid_scope",
            Error::OAuth { .. } => "oauth_error",
            Error::Unauthenticated(_) => "unauthenticated",
            Error::PermissionDenied(_) => "permission_denied",
            Error::ResourceExhausted(_) => "resource_exhausted",
            Error::RateLimited { .. } => "rate_limited",
            Error::Unavailable(_) => "unavailable",
            Error::Timeout(_) => "deadline_exceeded",
            Error::Store(_) => "store_error",
            Error::Server { .. } => "server_error",
            Error::Internal(_) => "internal",
        }
    }

    /// The HTTP status this error is answered with.
    pub fn http_status(&self) -> u16 {
        match self {
            Error::InvalidArgument { .. } | Error::FailedPrecondition(_) => 400,
            Error::InvalidScope(_) => 400,
            Error::NotFound { .. } => 404,
            Error::AlreadyExists { .. } => 409,
            Error::TokenValidationFailed | Error::InvalidToken(_) => 401,
            Error::InvalidClient | Error::Unauthenticated(_) => 401,
            Error::InsufficientScope { .. } | Error::PermissionDenied(_) => 403,
            Error::ResourceExhausted(_) | Error::RateLimited { .. } => 429,
            Error::KeysUnavailable(_) | Error::Unavailable(_) => 503,
            Error::Timeout(_) => 504,
            Error::OAuth { status, .. } => *status,
            Error::Server { http_status, .. } => *http_status,
            Error::Store(_) | Error::Internal(_) => 500,
        }
    }

    /// The gRPC status code this error corresponds to (the `code` of a Scalekit REST error body,
    /// the status of a gRPC answer).
    ///
    /// [`Error::TokenValidationFailed`] (an unknown, malformed, expired or revoked API key) is
    /// `NOT_FOUND`, not `UNAUTHENTICATED`, although its HTTP status is 401: the official Scalekit
    /// SDKs answer `UNAUTHENTICATED` by fetching a new environment token and retrying the call
    /// (up to 3 times), which for a bad key only repeats the refusal, and they map `NOT_FOUND`
    /// from `ValidateToken` to their validation-failure exception, as they do
    /// `UNAUTHENTICATED`. `UNAUTHENTICATED` stays the answer to a refused *caller*
    /// ([`Error::Unauthenticated`], [`Error::InvalidClient`], [`Error::InvalidToken`]).
    pub fn grpc_code(&self) -> i32 {
        match self {
            Error::InvalidArgument { .. } | Error::InvalidScope(_) => grpc::INVALID_ARGUMENT,
            Error::FailedPrecondition(_) => grpc::FAILED_PRECONDITION,
            Error::NotFound { .. } => grpc::NOT_FOUND,
            Error::AlreadyExists { .. } => grpc::ALREADY_EXISTS,
            Error::TokenValidationFailed => grpc::NOT_FOUND,
            Error::InvalidToken(_) => grpc::UNAUTHENTICATED,
            Error::InvalidClient | Error::Unauthenticated(_) => grpc::UNAUTHENTICATED,
            Error::InsufficientScope { .. } | Error::PermissionDenied(_) => grpc::PERMISSION_DENIED,
            Error::ResourceExhausted(_) | Error::RateLimited { .. } => grpc::RESOURCE_EXHAUSTED,
            Error::KeysUnavailable(_) | Error::Unavailable(_) => grpc::UNAVAILABLE,
            Error::Timeout(_) => grpc::DEADLINE_EXCEEDED,
            Error::OAuth { status, .. }
            | Error::Server {
                http_status: status, ..
            } => grpc_code_for_http(*status),
            Error::Store(_) | Error::Internal(_) => grpc::INTERNAL,
        }
    }

    /// True for the errors an API-key or JWT check answers with 401: the credential itself was
    /// rejected ([`Error::TokenValidationFailed`] and every [`Error::InvalidToken`]).
    pub fn is_validation_failure(&self) -> bool {
        matches!(self, Error::TokenValidationFailed | Error::InvalidToken(_))
    }

    /// Shorthand for [`Error::InvalidArgument`].
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidArgument {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Shorthand for [`Error::NotFound`]. `resource` is one of [`RESOURCE_KINDS`].
    pub fn not_found(resource: &'static str, id: impl Into<String>) -> Self {
        debug_assert!(
            RESOURCE_KINDS.contains(&resource),
            "resource kind {resource} is missing from RESOURCE_KINDS"
        );
        Error::NotFound {
            resource,
            id: id.into(),
        }
    }
}

/// The gRPC code conventionally paired with an HTTP status (grpc-gateway's mapping).
pub fn grpc_code_for_http(status: u16) -> i32 {
    match status {
        200..=299 => grpc::OK,
        400 => grpc::INVALID_ARGUMENT,
        401 => grpc::UNAUTHENTICATED,
        403 => grpc::PERMISSION_DENIED,
        404 => grpc::NOT_FOUND,
        409 => grpc::ALREADY_EXISTS,
        429 => grpc::RESOURCE_EXHAUSTED,
        499 => grpc::CANCELLED,
        501 => grpc::UNIMPLEMENTED,
        503 => grpc::UNAVAILABLE,
        504 => grpc::DEADLINE_EXCEEDED,
        500..=599 => grpc::INTERNAL,
        _ => grpc::UNKNOWN,
    }
}

impl From<TokenError> for Error {
    fn from(reason: TokenError) -> Self {
        Error::InvalidToken(reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_snake_case() {
        for e in crate::wire::error::every_error() {
            let code = e.code();
            assert!(
                code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{code}"
            );
            assert!((400..600).contains(&e.http_status()), "{code}");
        }
    }

    #[test]
    fn validation_failures_are_401() {
        for e in [
            Error::TokenValidationFailed,
            Error::InvalidToken(TokenError::Malformed),
        ] {
            assert!(e.is_validation_failure());
            assert_eq!(e.http_status(), 401);
        }
        // NOT_FOUND on gRPC: the official SDKs retry UNAUTHENTICATED (see `grpc_code`).
        assert_eq!(Error::TokenValidationFailed.grpc_code(), grpc::NOT_FOUND);
        assert_eq!(
            Error::InvalidToken(TokenError::Malformed).grpc_code(),
            grpc::UNAUTHENTICATED
        );
        assert_eq!(Error::KeysUnavailable("down".into()).http_status(), 503);
        assert_eq!(Error::InsufficientScope { missing: vec![] }.http_status(), 403);
    }

    #[test]
    fn grpc_names() {
        assert_eq!(grpc::name(grpc::NOT_FOUND), Some("NOT_FOUND"));
        assert_eq!(grpc::from_name("unauthenticated"), Some(grpc::UNAUTHENTICATED));
        assert_eq!(grpc::name(17), None);
        assert_eq!(grpc::from_name("nope"), None);
    }

    #[test]
    fn insufficient_scope_message_lists_scopes() {
        let e = Error::InsufficientScope {
            missing: vec!["a:b".into(), "c:d".into()],
        };
        assert_eq!(e.to_string(), "token missing required scopes: a:b, c:d");
    }
}
