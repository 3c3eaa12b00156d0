//! The request policy shared by every HTTP surface: the server's management routes, the Flask
//! and FastAPI adapters and the Express middleware.
//!
//! Two rules, written once:
//!
//! 1. **Which credential a request carries** ([`bearer`]): `Authorization: Bearer <token>`, the
//!    scheme case-insensitive, exactly one token in the RFC 6750 `token68` character set, at
//!    most [`MAX_BEARER_LEN`] bytes. No header, another scheme or an empty token is
//!    [`Rejection::Missing`]; anything else malformed is [`Rejection::Invalid`].
//! 2. **How a rejected request is answered** ([`answer`]): a [`Rejection`] and the
//!    [`AnswerOptions`] (realm, `Retry-After`) give the status, the JSON body
//!    (`{"error": "<message>"}`), the RFC 6750 `WWW-Authenticate` challenge and `Retry-After`.
//!
//! | rejection | status | body `error` | headers |
//! |---|---|---|---|
//! | [`Missing`](Rejection::Missing) | 401 | [`MISSING`] | `WWW-Authenticate: Bearer realm="…"` |
//! | [`Invalid`](Rejection::Invalid) | 401 | [`INVALID`] | `… error="invalid_token", error_description="…"` |
//! | [`Forbidden`](Rejection::Forbidden) | 403 | [`FORBIDDEN`] | `… error="insufficient_scope", …, scope="<missing>"` |
//! | [`Unavailable`](Rejection::Unavailable) | 503 | [`UNAVAILABLE`] | `Retry-After: 5` (no challenge: no verdict on the token) |
//! | [`RateLimited`](Rejection::RateLimited) | 429 | [`RATE_LIMITED`] | `Retry-After: <seconds left in the key's window>` (no challenge) |
//!
//! An error that is none of these (a store failure, a misconfigured client) is no verdict on the
//! request's credential: [`Rejection::from_error`] returns `None` and the caller lets it surface
//! as a fault (500). The bindings reach the same table through [`Rejection::from_code`], from
//! the stable code their exceptions carry.
//!
//! The vectors in `tests/vectors/middleware.json` pin every answer; the Rust, Python (Flask,
//! FastAPI) and Node (Express 4 and 5) suites all run them.

mod bearer;
mod challenge;
pub mod network;

pub use bearer::{MAX_BEARER_LEN, bearer};
pub use challenge::www_authenticate;

use crate::error::{Error, TokenError};

/// Body `error` of a request without bearer credentials.
pub const MISSING: &str = "Missing authorization token";
/// Body `error` of a request whose credential was rejected.
pub const INVALID: &str = "Invalid or expired token";
/// Body `error` of a valid token that may not use the route.
pub const FORBIDDEN: &str = "Insufficient permissions";
/// Body `error` when the credential could not be checked (keys or key service unreachable).
pub const UNAVAILABLE: &str = "Authentication service unavailable";
/// Body `error` of a valid API key over its rate limit.
pub const RATE_LIMITED: &str = "Rate limit exceeded";

/// The realm the bindings' middleware uses unless told otherwise.
pub const DEFAULT_REALM: &str = "api";
/// Seconds a client is told to wait after a 503, unless told otherwise.
pub const DEFAULT_RETRY_AFTER: u32 = 5;

/// Why a request's credential did not let it through.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// No bearer credentials: no `Authorization` header, another scheme, or `Bearer` alone.
    Missing,
    /// The credential was rejected: an API key that does not validate (`None`) or a JWT and
    /// why ([`TokenError`]), a malformed bearer token included.
    Invalid(Option<TokenError>),
    /// A valid token that may not use the route; `missing` lists the scopes it lacks (empty when
    /// the refusal is not about scopes).
    Forbidden {
        /// The required scopes the token does not carry.
        missing: Vec<String>,
    },
    /// The credential could not be checked (keys, the key service or the store unreachable):
    /// no verdict on it.
    Unavailable,
    /// A valid API key over its `rate_limit`: come back after `retry_after` seconds.
    RateLimited {
        /// Seconds until the key's window ends.
        retry_after: u64,
    },
}

impl Rejection {
    /// The rejection an authentication error stands for, or `None` when the error is no verdict
    /// on the request's credential (a fault to surface as such).
    pub fn from_error(error: &Error) -> Option<Rejection> {
        match error {
            Error::TokenValidationFailed => Some(Rejection::Invalid(None)),
            Error::InvalidToken(reason) => Some(Rejection::Invalid(Some(reason.clone()))),
            Error::InsufficientScope { missing } => Some(Rejection::Forbidden {
                missing: missing.clone(),
            }),
            Error::KeysUnavailable(_) | Error::Unavailable(_) | Error::Timeout(_) => {
                Some(Rejection::Unavailable)
            }
            Error::RateLimited { retry_after } => Some(Rejection::RateLimited {
                retry_after: *retry_after,
            }),
            Error::Server { http_status, .. }
            | Error::OAuth {
                status: http_status, ..
            } if unavailable_status(*http_status) => Some(Rejection::Unavailable),
            _ => None,
        }
    }

    /// [`from_error`](Self::from_error) for an error known by its stable code ([`Error::code`])
    /// and HTTP status, as the bindings' exceptions carry them; `missing_scopes` for
    /// `insufficient_scope`, `retry_after` for `rate_limited`. Gives the same answer as
    /// `from_error` on the original error.
    pub fn from_code(
        code: &str,
        http_status: Option<u16>,
        missing_scopes: &[String],
        retry_after: Option<u64>,
    ) -> Option<Rejection> {
        match code {
            "rate_limited" => Some(Rejection::RateLimited {
                retry_after: retry_after.unwrap_or(1),
            }),
            "token_validation_failed" => Some(Rejection::Invalid(None)),
            "insufficient_scope" => Some(Rejection::Forbidden {
                missing: missing_scopes.to_vec(),
            }),
            "keys_unavailable" | "unavailable" | "deadline_exceeded" => Some(Rejection::Unavailable),
            _ => match TokenError::from_code(code, None) {
                Some(reason) => Some(Rejection::Invalid(Some(reason))),
                None if code == "server_error" || code == "oauth_error" => http_status
                    .filter(|s| unavailable_status(*s))
                    .map(|_| Rejection::Unavailable),
                None => None,
            },
        }
    }

    /// The error this rejection answers for, as [`www_authenticate`] takes it.
    fn as_error(&self) -> Option<Error> {
        match self {
            Rejection::Missing => Some(Error::Unauthenticated(MISSING.into())),
            Rejection::Invalid(None) => Some(Error::TokenValidationFailed),
            Rejection::Invalid(Some(reason)) => Some(Error::InvalidToken(reason.clone())),
            Rejection::Forbidden { missing } => Some(Error::InsufficientScope {
                missing: missing.clone(),
            }),
            Rejection::Unavailable | Rejection::RateLimited { .. } => None,
        }
    }
}

/// 503 and 504 from a remote service: it could not answer, which says nothing of the token.
fn unavailable_status(status: u16) -> bool {
    status == 503 || status == 504
}

/// How a surface answers: the `realm` of its challenges and the `Retry-After` of its 503s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerOptions {
    /// `realm` of every `WWW-Authenticate` challenge (RFC 6750 §3); `None`: no realm.
    /// Default [`DEFAULT_REALM`] (`"api"`); the server uses `"authgate"`.
    pub realm: Option<String>,
    /// `Retry-After` seconds of a 503. Default [`DEFAULT_RETRY_AFTER`].
    pub retry_after: u32,
}

impl Default for AnswerOptions {
    fn default() -> Self {
        AnswerOptions {
            realm: Some(DEFAULT_REALM.to_owned()),
            retry_after: DEFAULT_RETRY_AFTER,
        }
    }
}

impl AnswerOptions {
    /// Options with this realm (`None` or an empty realm: no realm) and the default `Retry-After`.
    pub fn with_realm(realm: Option<&str>) -> Self {
        AnswerOptions {
            realm: realm.filter(|r| !r.is_empty()).map(str::to_owned),
            ..AnswerOptions::default()
        }
    }
}

/// The HTTP answer to a rejected request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// 401, 403, 429 or 503.
    pub status: u16,
    /// The body's `error` message ([`MISSING`], [`INVALID`], [`FORBIDDEN`], [`UNAVAILABLE`]).
    pub message: &'static str,
    /// The `WWW-Authenticate` challenge (401 and 403).
    pub www_authenticate: Option<String>,
    /// The `Retry-After` seconds (429, 503).
    pub retry_after: Option<u32>,
}

impl Answer {
    /// The JSON body the middleware answers with: `{"error": message}`.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({ "error": self.message })
    }

    /// The response headers, in order: `WWW-Authenticate` and/or `Retry-After`.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::with_capacity(1);
        if let Some(challenge) = &self.www_authenticate {
            out.push(("WWW-Authenticate", challenge.clone()));
        }
        if let Some(seconds) = self.retry_after {
            out.push(("Retry-After", seconds.to_string()));
        }
        out
    }
}

/// The answer to a request rejected with `rejection` (see the [module docs](self)).
pub fn answer(rejection: &Rejection, options: &AnswerOptions) -> Answer {
    let realm = options.realm.as_deref();
    let challenge = rejection.as_error().and_then(|e| www_authenticate(&e, realm));
    match rejection {
        Rejection::Missing => Answer {
            status: 401,
            message: MISSING,
            www_authenticate: challenge,
            retry_after: None,
        },
        Rejection::Invalid(_) => Answer {
            status: 401,
            message: INVALID,
            www_authenticate: challenge,
            retry_after: None,
        },
        Rejection::Forbidden { .. } => Answer {
            status: 403,
            message: FORBIDDEN,
            www_authenticate: challenge,
            retry_after: None,
        },
        Rejection::Unavailable => Answer {
            status: 503,
            message: UNAVAILABLE,
            www_authenticate: None,
            retry_after: Some(options.retry_after),
        },
        Rejection::RateLimited { retry_after } => Answer {
            status: 429,
            message: RATE_LIMITED,
            www_authenticate: None,
            retry_after: Some(u32::try_from(*retry_after).unwrap_or(u32::MAX)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant (the wire module's examples), plus the status-dependent answers of
    /// errors relayed from a remote service.
    fn every_error() -> Vec<Error> {
        let mut all = crate::wire::error::every_error();
        all.extend([
            Error::OAuth {
                error: "temporarily_unavailable".into(),
                description: None,
                status: 503,
            },
            Error::Server {
                http_status: 504,
                error_code: "x".into(),
                message: "x".into(),
            },
            Error::Server {
                http_status: 500,
                error_code: "x".into(),
                message: "x".into(),
            },
        ]);
        all
    }

    #[test]
    fn from_code_agrees_with_from_error() {
        for err in every_error() {
            let missing = match &err {
                Error::InsufficientScope { missing } => missing.clone(),
                _ => Vec::new(),
            };
            let retry_after = match &err {
                Error::RateLimited { retry_after } => Some(*retry_after),
                _ => None,
            };
            let by_code = Rejection::from_code(err.code(), Some(err.http_status()), &missing, retry_after);
            let direct = Rejection::from_error(&err);
            // InvalidClaimType carries the claim name, which a code cannot: compare answers.
            let options = AnswerOptions::default();
            assert_eq!(
                by_code.as_ref().map(|r| answer(r, &options)),
                direct.as_ref().map(|r| answer(r, &options)),
                "{err:?}"
            );
        }
    }

    #[test]
    fn token_codes_round_trip() {
        for err in every_error() {
            if let Error::InvalidToken(reason) = err {
                assert_eq!(
                    TokenError::from_code(reason.code(), None).map(|e| e.code()),
                    Some(reason.code())
                );
            }
        }
    }

    #[test]
    fn answers() {
        let options = AnswerOptions::default();
        let a = answer(&Rejection::Missing, &options);
        assert_eq!((a.status, a.message), (401, MISSING));
        assert_eq!(
            a.headers(),
            vec![("WWW-Authenticate", r#"Bearer realm="api""#.to_owned())]
        );
        let a = answer(&Rejection::Unavailable, &options);
        assert_eq!(a.status, 503);
        assert_eq!(a.headers(), vec![("Retry-After", "5".to_owned())]);
        assert_eq!(a.body(), serde_json::json!({"error": UNAVAILABLE}));
        let a = answer(
            &Rejection::Forbidden {
                missing: vec!["admin".into()],
            },
            &AnswerOptions::with_realm(None),
        );
        assert_eq!(
            a.www_authenticate.as_deref(),
            Some(
                r#"Bearer error="insufficient_scope", error_description="the token lacks required scopes", scope="admin""#
            )
        );
        let a = answer(&Rejection::Forbidden { missing: vec![] }, &options);
        assert_eq!(
            a.www_authenticate.as_deref(),
            Some(
                r#"Bearer realm="api", error="insufficient_scope", error_description="the token may not use this resource""#
            )
        );
    }
}
