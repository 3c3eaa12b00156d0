//! The error wire format: one transport-neutral description of an [`Error`], its Scalekit REST
//! body, and the way back.
//!
//! An error crosses a wire as an [`ErrorStatus`]: a stable code, an HTTP status, a gRPC status, a
//! message and one [`ErrorInfo`]. REST answers it as Scalekit's grpc-gateway body
//! ([`ErrorBody`]):
//!
//! ```json
//! {"code": 5, "message": "organization not found: org_1",
//!  "details": [{"@type": "type.googleapis.com/scalekit.v1.errdetails.ErrorInfo",
//!               "error_code": "not_found",
//!               "resource_info": {"resource_type": "organization", "resource_name": "org_1"},
//!               "request_info": {"request_id": "…"}}]}
//! ```
//!
//! and gRPC answers the same parts as `google.rpc.Status{code, message, details: [ErrorInfo]}`.
//!
//! The [`ErrorInfo`] carries every value an error variant holds as structured data, so
//! [`Error::from_wire`] rebuilds an *equal* error from it and never reads the message text
//! (rewording a message changes nothing on the way back):
//!
//! | variant | structured fields |
//! |---|---|
//! | [`Error::InvalidArgument`] | `validation_error_info.field_violations[0]` `{field, description}` |
//! | [`Error::NotFound`] | `resource_info` `{resource_type, resource_name}` |
//! | [`Error::AlreadyExists`] | `resource_info` `{resource_type, description}` |
//! | one-text variants (`FailedPrecondition`, `Unauthenticated`, …) | `metadata.detail` |
//! | [`Error::InsufficientScope`] | `metadata.missing_scopes` (a JSON array) |
//! | [`Error::InvalidToken`] | `error_code` = the [`TokenError`] code, `metadata.claim` |
//! | [`Error::OAuth`] | `metadata` `oauth_error`, `oauth_description`, `http_status` |
//! | [`Error::Server`] | `metadata` `server_error_code`, `http_status`, `detail` |
//!
//! One exception: [`Error::Store`] and [`Error::Internal`] keep their detail out of the answer
//! (it describes the server's internals, and is logged there); on the wire they say
//! [`INTERNAL_MESSAGE`] and come back as the same variant holding that public text
//! ([`Error::public`]).
//!
//! Bodies that are not authgate's (Scalekit itself, a proxy, RFC 6749 token-endpoint errors)
//! are decoded by [`decode_response`], from the `error_code`, the gRPC `code`, then the HTTP
//! status.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, TokenError, grpc, grpc_code_for_http};

/// The `@type` of the error details, as Scalekit sends it.
pub const ERROR_INFO_TYPE: &str = "type.googleapis.com/scalekit.v1.errdetails.ErrorInfo";

/// The public message of [`Error::Store`] and [`Error::Internal`] answers.
pub const INTERNAL_MESSAGE: &str = "internal error";

/// The keys of [`ErrorInfo::metadata`] authgate writes.
pub mod meta {
    /// The free text of a variant that holds one (`FailedPrecondition`, `Unauthenticated`, …).
    pub const DETAIL: &str = "detail";
    /// The scopes an [`InsufficientScope`](crate::Error::InsufficientScope) lacks, as a JSON array.
    pub const MISSING_SCOPES: &str = "missing_scopes";
    /// The claim of a [`TokenError::InvalidClaimType`](crate::TokenError::InvalidClaimType).
    pub const CLAIM: &str = "claim";
    /// The RFC 6749 `error` of an [`Error::OAuth`](crate::Error::OAuth).
    pub const OAUTH_ERROR: &str = "oauth_error";
    /// The RFC 6749 `error_description` of an [`Error::OAuth`](crate::Error::OAuth), if any.
    pub const OAUTH_DESCRIPTION: &str = "oauth_description";
    /// The HTTP status an [`Error::OAuth`](crate::Error::OAuth) or
    /// [`Error::Server`](crate::Error::Server) holds, in decimal.
    pub const HTTP_STATUS: &str = "http_status";
    /// The upstream code an [`Error::Server`](crate::Error::Server) holds.
    pub const SERVER_ERROR_CODE: &str = "server_error_code";
    /// The seconds of an [`Error::RateLimited`](crate::Error::RateLimited), in decimal.
    pub const RETRY_AFTER: &str = "retry_after";
}

/// The Scalekit REST error body: `{"code": <gRPC status>, "message", "details": [ErrorInfo]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The gRPC status code ([`Error::grpc_code`]).
    pub code: i32,
    /// The message.
    pub message: String,
    /// One [`ErrorInfo`] (authgate always sends exactly one).
    pub details: Vec<ErrorInfo>,
}

/// `scalekit.v1.errdetails.ErrorInfo`: the structured details of an error.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ErrorInfo {
    /// Always [`ERROR_INFO_TYPE`] in what authgate writes.
    #[serde(rename = "@type")]
    pub type_url: String,
    /// The stable code ([`Error::code`]).
    pub error_code: String,
    /// The offending field of an invalid argument.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation_error_info: Option<ValidationErrorInfo>,
    /// The resource a not-found or already-exists error is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_info: Option<ResourceInfo>,
    /// The request this answers (the server's `x-request-id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_info: Option<RequestInfo>,
    /// Other structured values, by the keys of [`meta`].
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

/// `validation_error_info`: the fields of the request that are wrong.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ValidationErrorInfo {
    /// One violation per field.
    pub field_violations: Vec<FieldViolation>,
}

/// One wrong field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FieldViolation {
    /// The field, as named on the wire.
    pub field: String,
    /// What is wrong with it.
    pub description: String,
}

/// `resource_info`: the resource an error is about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourceInfo {
    /// The kind of resource (`organization`, `token`, …).
    pub resource_type: String,
    /// Its identifier, when known.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub resource_name: String,
    /// What happened to it (the collision of an already-exists error).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// `request_info`: which request failed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RequestInfo {
    /// The request id.
    pub request_id: String,
}

/// One error as every transport answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorStatus {
    /// The HTTP status of a REST answer ([`Error::http_status`]).
    pub http_status: u16,
    /// The gRPC status code ([`Error::grpc_code`]): the `code` of the REST body and the status
    /// of a gRPC answer.
    pub grpc_code: i32,
    /// The message ([`Error`]'s `Display`, or [`INTERNAL_MESSAGE`]).
    pub message: String,
    /// The structured details.
    pub info: ErrorInfo,
}

impl ErrorStatus {
    /// The description of `err`. Store and internal details are left out (see the module docs).
    pub fn new(err: &Error) -> Self {
        let err = err.public();
        let message = match &err {
            Error::Store(_) | Error::Internal(_) => INTERNAL_MESSAGE.to_owned(),
            other => other.to_string(),
        };
        ErrorStatus {
            http_status: err.http_status(),
            grpc_code: err.grpc_code(),
            message,
            info: info_of(&err),
        }
    }

    /// Sets the request id of the details.
    pub fn with_request_id(mut self, request_id: Option<String>) -> Self {
        self.info.request_info = request_id.map(|request_id| RequestInfo { request_id });
        self
    }

    /// The REST body.
    pub fn into_body(self) -> ErrorBody {
        ErrorBody {
            code: self.grpc_code,
            message: self.message,
            details: vec![self.info],
        }
    }
}

impl From<&Error> for ErrorStatus {
    fn from(err: &Error) -> Self {
        ErrorStatus::new(err)
    }
}

fn text(map: &mut BTreeMap<String, String>, key: &str, value: impl Into<String>) {
    map.insert(key.to_owned(), value.into());
}

/// The structured details of an error already made [`public`](Error::public).
fn info_of(err: &Error) -> ErrorInfo {
    let mut info = ErrorInfo {
        type_url: ERROR_INFO_TYPE.to_owned(),
        error_code: err.code().to_owned(),
        ..ErrorInfo::default()
    };
    let m = &mut info.metadata;
    match err {
        Error::InvalidArgument { field, message } => {
            info.validation_error_info = Some(ValidationErrorInfo {
                field_violations: vec![FieldViolation {
                    field: field.clone(),
                    description: message.clone(),
                }],
            });
        }
        Error::NotFound { resource, id } => {
            info.resource_info = Some(ResourceInfo {
                resource_type: (*resource).to_owned(),
                resource_name: id.clone(),
                description: String::new(),
            });
        }
        Error::AlreadyExists { resource, message } => {
            info.resource_info = Some(ResourceInfo {
                resource_type: (*resource).to_owned(),
                resource_name: String::new(),
                description: message.clone(),
            });
        }
        Error::FailedPrecondition(detail)
        | Error::KeysUnavailable(detail)
        | Error::InvalidScope(detail)
        | Error::Unauthenticated(detail)
        | Error::PermissionDenied(detail)
        | Error::ResourceExhausted(detail)
        | Error::Unavailable(detail)
        | Error::Timeout(detail)
        | Error::Store(detail)
        | Error::Internal(detail) => text(m, meta::DETAIL, detail.as_str()),
        Error::InsufficientScope { missing } => {
            let list = serde_json::to_string(missing).unwrap_or_else(|_| "[]".to_owned());
            text(m, meta::MISSING_SCOPES, list);
        }
        Error::InvalidToken(TokenError::InvalidClaimType(claim)) => text(m, meta::CLAIM, *claim),
        Error::OAuth {
            error,
            description,
            status,
        } => {
            text(m, meta::OAUTH_ERROR, error.as_str());
            if let Some(description) = description {
                text(m, meta::OAUTH_DESCRIPTION, description.as_str());
            }
            text(m, meta::HTTP_STATUS, status.to_string());
        }
        Error::Server {
            http_status,
            error_code,
            message,
        } => {
            text(m, meta::SERVER_ERROR_CODE, error_code.as_str());
            text(m, meta::HTTP_STATUS, http_status.to_string());
            text(m, meta::DETAIL, message.as_str());
        }
        Error::RateLimited { retry_after } => text(m, meta::RETRY_AFTER, retry_after.to_string()),
        Error::TokenValidationFailed | Error::InvalidToken(_) | Error::InvalidClient => {}
    }
    info
}

impl Error {
    /// This error as it may be shown outside the process: [`Error::Store`] and
    /// [`Error::Internal`] with their detail replaced by [`INTERNAL_MESSAGE`], every other
    /// error unchanged. What [`ErrorStatus::new`] describes and [`Error::from_wire`] rebuilds.
    pub fn public(&self) -> Error {
        match self {
            Error::Store(_) => Error::Store(INTERNAL_MESSAGE.to_owned()),
            Error::Internal(_) => Error::Internal(INTERNAL_MESSAGE.to_owned()),
            other => other.clone(),
        }
    }

    /// This error's transport-neutral description ([`ErrorStatus::new`]).
    pub fn to_wire(&self) -> ErrorStatus {
        ErrorStatus::new(self)
    }

    /// Rebuilds the error an authgate [`ErrorInfo`] describes, from its structured fields
    /// alone. `None` when `info.error_code` is not one of authgate's codes ([`Error::code`],
    /// [`TokenError::code`]).
    pub fn from_wire(info: &ErrorInfo) -> Option<Error> {
        Error::from_code(&info.error_code, info)
    }

    /// The error with stable code `code`, its values read from `info` (see the module docs for
    /// which field holds what). Missing values read as empty; `None` for a code that is not
    /// authgate's.
    pub fn from_code(code: &str, info: &ErrorInfo) -> Option<Error> {
        let detail = || info.metadata.get(meta::DETAIL).cloned().unwrap_or_default();
        let kind = || {
            info.resource_info
                .as_ref()
                .map_or("resource", |r| resource_kind(&r.resource_type))
        };
        let status = |fallback: u16| {
            info.metadata
                .get(meta::HTTP_STATUS)
                .and_then(|s| s.parse().ok())
                .unwrap_or(fallback)
        };
        Some(match code {
            "invalid_argument" => {
                let violation = info
                    .validation_error_info
                    .as_ref()
                    .and_then(|v| v.field_violations.first());
                match violation {
                    Some(v) => Error::invalid(v.field.clone(), v.description.clone()),
                    None => Error::invalid("request", detail()),
                }
            }
            "not_found" => Error::NotFound {
                resource: kind(),
                id: info
                    .resource_info
                    .as_ref()
                    .map(|r| r.resource_name.clone())
                    .unwrap_or_default(),
            },
            "already_exists" => Error::AlreadyExists {
                resource: kind(),
                message: info
                    .resource_info
                    .as_ref()
                    .map(|r| r.description.clone())
                    .unwrap_or_default(),
            },
            "failed_precondition" => Error::FailedPrecondition(detail()),
            "token_validation_failed" => Error::TokenValidationFailed,
            "insufficient_scope" => Error::InsufficientScope {
                missing: info
                    .metadata
                    .get(meta::MISSING_SCOPES)
                    .and_then(|list| serde_json::from_str(list).ok())
                    .unwrap_or_default(),
            },
            "keys_unavailable" => Error::KeysUnavailable(detail()),
            "invalid_client" => Error::InvalidClient,
            "invalid_scope" => Error::InvalidScope(detail()),
            "oauth_error" => Error::OAuth {
                error: info.metadata.get(meta::OAUTH_ERROR).cloned().unwrap_or_default(),
                description: info.metadata.get(meta::OAUTH_DESCRIPTION).cloned(),
                status: status(400),
            },
            "unauthenticated" => Error::Unauthenticated(detail()),
            "permission_denied" => Error::PermissionDenied(detail()),
            "resource_exhausted" => Error::ResourceExhausted(detail()),
            "rate_limited" => Error::RateLimited {
                retry_after: info
                    .metadata
                    .get(meta::RETRY_AFTER)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(1),
            },
            "unavailable" => Error::Unavailable(detail()),
            "deadline_exceeded" => Error::Timeout(detail()),
            "store_error" => Error::Store(INTERNAL_MESSAGE.to_owned()),
            "server_error" => Error::Server {
                http_status: status(500),
                error_code: info
                    .metadata
                    .get(meta::SERVER_ERROR_CODE)
                    .cloned()
                    .unwrap_or_default(),
                message: detail(),
            },
            "internal" => Error::Internal(INTERNAL_MESSAGE.to_owned()),
            other => {
                let claim = info.metadata.get(meta::CLAIM).map(String::as_str);
                Error::InvalidToken(TokenError::from_code(other, claim)?)
            }
        })
    }
}

impl TokenError {
    /// The reason with stable code `code`; `claim` names the claim of an
    /// [`InvalidClaimType`](TokenError::InvalidClaimType) (a registered claim, else `claim`).
    pub fn from_code(code: &str, claim: Option<&str>) -> Option<TokenError> {
        Some(match code {
            "token_malformed" => TokenError::Malformed,
            "token_too_large" => TokenError::TooLarge,
            "algorithm_not_allowed" => TokenError::AlgorithmNotAllowed,
            "unknown_kid" => TokenError::UnknownKeyId,
            "invalid_signature" => TokenError::InvalidSignature,
            "unsupported_crit" => TokenError::UnsupportedCritical,
            "invalid_typ" => TokenError::InvalidType,
            "missing_exp" => TokenError::MissingExpiry,
            "invalid_claim_type" => TokenError::InvalidClaimType(
                claim
                    .and_then(|c| crate::error::REGISTERED_CLAIMS.iter().find(|k| **k == c))
                    .copied()
                    .unwrap_or("claim"),
            ),
            "token_expired" => TokenError::Expired,
            "token_not_yet_valid" => TokenError::NotYetValid,
            "invalid_issuer" => TokenError::InvalidIssuer,
            "invalid_audience" => TokenError::InvalidAudience,
            _ => return None,
        })
    }
}

/// The resource kind `name` names ([`crate::error::RESOURCE_KINDS`]), else `resource`.
fn resource_kind(name: &str) -> &'static str {
    crate::error::RESOURCE_KINDS
        .iter()
        .find(|k| **k == name)
        .copied()
        .unwrap_or("resource")
}

// --- decoding any error response ---------------------------------------------------------------

/// An RFC 6749 §5.2 token-endpoint error body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthErrorBody {
    /// The `error` code (`invalid_client`, `invalid_scope`, …).
    pub error: String,
    /// The `error_description`, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

/// What [`decode_response`] read from an error response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The error.
    pub error: Error,
    /// True when the body was authgate's own (its `error_code` is one of authgate's codes), so
    /// the error is exactly the one the server raised.
    pub authgate: bool,
}

/// Any error body, read leniently: Scalekit's (`code` may be a number or a status name), RFC
/// 6749's, or something else.
#[derive(Deserialize, Default)]
#[serde(default)]
struct AnyBody {
    code: Option<serde_json::Value>,
    message: Option<String>,
    details: Vec<serde_json::Value>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Rebuilds the [`Error`] of an HTTP error response (`http_status`, `body`): authgate's own
/// bodies exactly ([`Error::from_wire`]); RFC 6749 bodies as [`Error::InvalidClient`],
/// [`Error::InvalidScope`] or [`Error::OAuth`]; anything else from its gRPC `code` (number or
/// name), else its HTTP status, with its `message` (or the start of the body) as the text.
pub fn decode_response(http_status: u16, body: &[u8]) -> Decoded {
    let any: AnyBody = serde_json::from_slice(body).unwrap_or_default();
    let info: Option<ErrorInfo> = any.details.iter().find_map(|d| {
        serde_json::from_value::<ErrorInfo>(d.clone())
            .ok()
            .filter(|info| !info.error_code.is_empty())
    });
    if let Some(error) = info.as_ref().and_then(Error::from_wire) {
        return Decoded {
            error,
            authgate: true,
        };
    }
    let foreign = |error| Decoded {
        error,
        authgate: false,
    };

    // RFC 6749 token-endpoint errors.
    if let (Some(error), None) = (&any.error, &any.code) {
        let description = any.error_description.clone();
        return foreign(match error.as_str() {
            "invalid_client" => Error::InvalidClient,
            "invalid_scope" => Error::InvalidScope(description.unwrap_or_default()),
            _ => Error::OAuth {
                error: error.clone(),
                description,
                status: http_status,
            },
        });
    }

    let message = any.message.clone().unwrap_or_else(|| {
        let text = String::from_utf8_lossy(&body[..body.len().min(512)])
            .trim()
            .to_owned();
        if text.is_empty() {
            reason_phrase(http_status).to_owned()
        } else {
            text
        }
    });
    let grpc_code = match &any.code {
        Some(serde_json::Value::Number(n)) => n.as_i64().and_then(|n| i32::try_from(n).ok()),
        Some(serde_json::Value::String(s)) => grpc::from_name(s).or_else(|| s.parse().ok()),
        _ => None,
    }
    .unwrap_or_else(|| grpc_code_for_http(http_status));

    foreign(match grpc_code {
        grpc::INVALID_ARGUMENT | grpc::OUT_OF_RANGE => Error::invalid("request", message),
        grpc::NOT_FOUND => Error::not_found("resource", message),
        grpc::ALREADY_EXISTS => Error::AlreadyExists {
            resource: "resource",
            message,
        },
        grpc::FAILED_PRECONDITION => Error::FailedPrecondition(message),
        grpc::UNAUTHENTICATED => Error::Unauthenticated(message),
        grpc::PERMISSION_DENIED => Error::PermissionDenied(message),
        grpc::RESOURCE_EXHAUSTED => Error::ResourceExhausted(message),
        grpc::UNAVAILABLE => Error::Unavailable(message),
        grpc::DEADLINE_EXCEEDED => Error::Timeout(message),
        _ => Error::Server {
            http_status,
            error_code: info.map(|i| i.error_code).unwrap_or_else(|| {
                grpc::name(grpc_code).map_or_else(|| "unknown".to_owned(), str::to_ascii_lowercase)
            }),
            message,
        },
    })
}

/// A short text for an HTTP status without a body.
fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "error",
    }
}

// --- every error, for round-trip tests -----------------------------------------------------------

/// One example of every [`TokenError`] variant. Complete by construction: see
/// [`token_error_index`].
pub fn every_token_error() -> Vec<TokenError> {
    vec![
        TokenError::Malformed,
        TokenError::TooLarge,
        TokenError::AlgorithmNotAllowed,
        TokenError::UnknownKeyId,
        TokenError::InvalidSignature,
        TokenError::UnsupportedCritical,
        TokenError::InvalidType,
        TokenError::MissingExpiry,
        TokenError::InvalidClaimType("exp"),
        TokenError::Expired,
        TokenError::NotYetValid,
        TokenError::InvalidIssuer,
        TokenError::InvalidAudience,
    ]
}

/// How many [`TokenError`] variants there are.
pub const TOKEN_ERROR_VARIANTS: usize = 13;

/// The position of `reason`'s variant in [`every_token_error`]. The `match` has no wildcard, so
/// a new variant does not compile until it is given the next index (and
/// [`TOKEN_ERROR_VARIANTS`] raised); the tests then fail until [`every_token_error`] lists it.
pub fn token_error_index(reason: &TokenError) -> usize {
    match reason {
        TokenError::Malformed => 0,
        TokenError::TooLarge => 1,
        TokenError::AlgorithmNotAllowed => 2,
        TokenError::UnknownKeyId => 3,
        TokenError::InvalidSignature => 4,
        TokenError::UnsupportedCritical => 5,
        TokenError::InvalidType => 6,
        TokenError::MissingExpiry => 7,
        TokenError::InvalidClaimType(_) => 8,
        TokenError::Expired => 9,
        TokenError::NotYetValid => 10,
        TokenError::InvalidIssuer => 11,
        TokenError::InvalidAudience => 12,
    }
}

/// One example of every [`Error`] variant, with [`Error::InvalidToken`] once per
/// [`TokenError`] (from [`every_token_error`]), holding values a lossy encoding would change
/// (separators, punctuation, empty and absent options). Complete by construction: see
/// [`error_index`].
pub fn every_error() -> Vec<Error> {
    let mut all = vec![
        Error::invalid("custom_claims", "key \"a: b\" is reserved; use another"),
        Error::not_found("organization", "org_1: with, punctuation"),
        Error::AlreadyExists {
            resource: "organization",
            message: "external_id ext: 1 is taken".into(),
        },
        Error::FailedPrecondition("failed precondition: the last secret".into()),
        Error::TokenValidationFailed,
        Error::InsufficientScope {
            missing: vec!["orders:read".into(), "a, b".into(), String::new()],
        },
        Error::KeysUnavailable("jwks: connection refused".into()),
        Error::InvalidClient,
        Error::InvalidScope("unknown scope x:y".into()),
        Error::OAuth {
            error: "unsupported_grant_type".into(),
            description: Some("only client_credentials: sorry".into()),
            status: 400,
        },
        Error::OAuth {
            error: "slow_down".into(),
            description: None,
            status: 429,
        },
        Error::Unauthenticated("missing bearer access token".into()),
        Error::PermissionDenied("M2M client tokens are refused".into()),
        Error::ResourceExhausted("rate limit: 10/s".into()),
        Error::RateLimited { retry_after: 17 },
        Error::Unavailable("store: pool timed out".into()),
        Error::Timeout("request took longer than 15 s".into()),
        Error::Store("UNIQUE constraint failed: secret table".into()),
        Error::Server {
            http_status: 502,
            error_code: "bad_gateway".into(),
            message: "upstream: <html>".into(),
        },
        Error::Internal("bug: invariant broken".into()),
    ];
    all.extend(every_token_error().into_iter().map(Error::InvalidToken));
    all
}

/// How many [`Error`] variants there are.
pub const ERROR_VARIANTS: usize = 20;

/// The position of `err`'s variant among the [`Error`] variants. The `match` has no wildcard
/// (`Error` is `#[non_exhaustive]` only for other crates), so a new variant does not compile
/// until it is given the next index (and [`ERROR_VARIANTS`] raised); the tests then fail until
/// [`every_error`] holds an example of it.
pub fn error_index(err: &Error) -> usize {
    match err {
        Error::InvalidArgument { .. } => 0,
        Error::NotFound { .. } => 1,
        Error::AlreadyExists { .. } => 2,
        Error::FailedPrecondition(_) => 3,
        Error::TokenValidationFailed => 4,
        Error::InvalidToken(_) => 5,
        Error::InsufficientScope { .. } => 6,
        Error::KeysUnavailable(_) => 7,
        Error::InvalidClient => 8,
        Error::InvalidScope(_) => 9,
        Error::OAuth { .. } => 10,
        Error::Unauthenticated(_) => 11,
        Error::PermissionDenied(_) => 12,
        Error::ResourceExhausted(_) => 13,
        Error::Unavailable(_) => 14,
        Error::Timeout(_) => 15,
        Error::Store(_) => 16,
        Error::Server { .. } => 17,
        Error::Internal(_) => 18,
        Error::RateLimited { .. } => 19,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_variant_has_an_example() {
        let errors: BTreeSet<usize> = every_error().iter().map(error_index).collect();
        assert_eq!(errors, (0..ERROR_VARIANTS).collect());
        let reasons: BTreeSet<usize> = every_token_error().iter().map(token_error_index).collect();
        assert_eq!(reasons, (0..TOKEN_ERROR_VARIANTS).collect());
    }

    #[test]
    fn every_error_survives_serialize_then_parse() {
        for err in every_error() {
            let status = err.to_wire();
            assert_eq!(status.http_status, err.http_status(), "{err:?}");
            assert_eq!(status.grpc_code, err.grpc_code(), "{err:?}");
            let bytes = serde_json::to_vec(&status.into_body()).unwrap();
            let decoded = decode_response(err.http_status(), &bytes);
            assert!(decoded.authgate, "{err:?}");
            assert_eq!(decoded.error, err.public(), "{}", String::from_utf8_lossy(&bytes));
        }
    }

    #[test]
    fn rebuilding_never_reads_the_message() {
        for err in every_error() {
            let mut body = err.to_wire().into_body();
            body.message = "reworded".into();
            let bytes = serde_json::to_vec(&body).unwrap();
            assert_eq!(decode_response(err.http_status(), &bytes).error, err.public());
        }
    }

    #[test]
    fn store_and_internal_details_stay_home() {
        for err in [Error::Store("table x".into()), Error::Internal("bug y".into())] {
            let json = serde_json::to_string(&err.to_wire().into_body()).unwrap();
            assert!(!json.contains("table x") && !json.contains("bug y"), "{json}");
            assert!(json.contains(INTERNAL_MESSAGE));
        }
    }

    #[test]
    fn the_body_is_scalekits() {
        let body =
            serde_json::to_value(Error::not_found("organization", "org_1").to_wire().into_body()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"code": 5, "message": "organization not found: org_1",
                "details": [{"@type": ERROR_INFO_TYPE, "error_code": "not_found",
                  "resource_info": {"resource_type": "organization", "resource_name": "org_1"}}]})
        );
        let body = serde_json::to_value(Error::TokenValidationFailed.to_wire().into_body()).unwrap();
        assert_eq!(body["code"], grpc::NOT_FOUND);
    }

    #[test]
    fn maps_foreign_and_oauth_bodies() {
        let err = |status: u16, body: serde_json::Value| decode_response(status, body.to_string().as_bytes());
        let foreign = err(
            404,
            serde_json::json!({"code": 5, "message": "token not found", "details": [{"error_code": "NOT_FOUND"}]}),
        );
        assert!(!foreign.authgate);
        assert_eq!(foreign.error, Error::not_found("resource", "token not found"));
        assert_eq!(
            err(
                401,
                serde_json::json!({"code": "UNAUTHENTICATED", "message": "expired"})
            )
            .error,
            Error::Unauthenticated("expired".into())
        );
        assert_eq!(
            err(
                401,
                serde_json::json!({"error": "invalid_client", "error_description": "bad"})
            )
            .error,
            Error::InvalidClient
        );
        assert_eq!(
            err(
                400,
                serde_json::json!({"error": "invalid_scope", "error_description": "x"})
            )
            .error,
            Error::InvalidScope("x".into())
        );
        assert!(matches!(
            err(400, serde_json::json!({"error": "unsupported_grant_type"})).error,
            Error::OAuth { status: 400, .. }
        ));
        assert!(matches!(
            decode_response(502, b"<html>bad gateway</html>").error,
            Error::Server { http_status: 502, .. }
        ));
        assert!(matches!(decode_response(503, b"").error, Error::Unavailable(_)));
        // A detail of another type first, ours second; a malformed detail is skipped.
        let mixed = serde_json::json!({"code": 5, "message": "x", "details": [
            {"@type": "type.googleapis.com/google.rpc.DebugInfo", "detail": "d"},
            {"metadata": 7},
            {"@type": ERROR_INFO_TYPE, "error_code": "not_found",
             "resource_info": {"resource_type": "token", "resource_name": "apit_1"}}]});
        let decoded = err(404, mixed);
        assert!(decoded.authgate);
        assert_eq!(decoded.error, Error::not_found("token", "apit_1"));
    }
}
