//! The one place where [`authgate_core::Error`] becomes a Python exception.
//!
//! The exception classes are defined in Python (`python/authgate/errors.py`, so they carry
//! attributes and mirror the official SDK's hierarchy) and imported here; the mapping is one
//! `match` over every variant.

use authgate_core::Error;
use pyo3::PyErr;

pyo3::import_exception!(authgate.errors, ScalekitException);
pyo3::import_exception!(authgate.errors, ScalekitValidateTokenFailureException);
pyo3::import_exception!(authgate.errors, ScalekitInsufficientScopeException);
pyo3::import_exception!(authgate.errors, ScalekitBadRequestException);
pyo3::import_exception!(authgate.errors, ScalekitUnauthorizedException);
pyo3::import_exception!(authgate.errors, ScalekitForbiddenException);
pyo3::import_exception!(authgate.errors, ScalekitNotFoundException);
pyo3::import_exception!(authgate.errors, ScalekitConflictException);
pyo3::import_exception!(authgate.errors, ScalekitTooManyRequestsException);
pyo3::import_exception!(authgate.errors, ScalekitRateLimitedException);
pyo3::import_exception!(authgate.errors, ScalekitCancelledException);
pyo3::import_exception!(authgate.errors, ScalekitInternalServerException);
pyo3::import_exception!(authgate.errors, ScalekitNotImplementedException);
pyo3::import_exception!(authgate.errors, ScalekitServiceUnavailableException);
pyo3::import_exception!(authgate.errors, ScalekitKeysUnavailableException);
pyo3::import_exception!(authgate.errors, ScalekitGatewayTimeoutException);
pyo3::import_exception!(authgate.errors, ScalekitUnknownException);

/// The arguments of `ScalekitServerException(message, code, http_status, grpc_status, error_code)`.
type ServerArgs = (String, &'static str, u16, i32, String);

/// The constructor of one `ScalekitServerException` subclass.
type ServerClass = fn(ServerArgs) -> PyErr;

/// The exception class for a service error with HTTP status `status`.
fn for_status(status: u16) -> ServerClass {
    match status {
        400 => ScalekitBadRequestException::new_err,
        401 => ScalekitUnauthorizedException::new_err,
        403 => ScalekitForbiddenException::new_err,
        404 => ScalekitNotFoundException::new_err,
        409 => ScalekitConflictException::new_err,
        429 => ScalekitTooManyRequestsException::new_err,
        499 => ScalekitCancelledException::new_err,
        501 => ScalekitNotImplementedException::new_err,
        503 => ScalekitServiceUnavailableException::new_err,
        504 => ScalekitGatewayTimeoutException::new_err,
        500..=599 => ScalekitInternalServerException::new_err,
        _ => ScalekitUnknownException::new_err,
    }
}

/// A `class` exception for `err`, with the server's own `error_code` when it gave one.
fn server(class: ServerClass, err: &Error, error_code: Option<String>) -> PyErr {
    class((
        err.to_string(),
        err.code(),
        err.http_status(),
        err.grpc_code(),
        error_code.unwrap_or_else(|| err.code().to_owned()),
    ))
}

/// Maps a core error to the Python exception users catch.
pub fn to_py(err: Error) -> PyErr {
    let class: ServerClass = match &err {
        // The credential itself was rejected: 401 in web handlers.
        Error::TokenValidationFailed | Error::InvalidToken(_) => {
            return ScalekitValidateTokenFailureException::new_err((
                err.to_string(),
                err.code(),
                challenge(&err),
            ));
        }
        // Verified, but not authorised: 403 in web handlers.
        Error::InsufficientScope { missing } => {
            return ScalekitInsufficientScopeException::new_err((
                err.to_string(),
                err.code(),
                missing.clone(),
                challenge(&err),
            ));
        }
        // A valid key over its rate limit: 429 with `Retry-After`, not a verdict on the key.
        Error::RateLimited { retry_after } => {
            return ScalekitRateLimitedException::new_err((
                err.to_string(),
                err.code(),
                err.http_status(),
                err.grpc_code(),
                err.code(),
                *retry_after,
            ));
        }
        // Keys unreachable: 503, never a verdict on the token.
        Error::KeysUnavailable(_) => ScalekitKeysUnavailableException::new_err,
        Error::InvalidArgument { .. } | Error::FailedPrecondition(_) | Error::InvalidScope(_) => {
            ScalekitBadRequestException::new_err
        }
        Error::NotFound { .. } => ScalekitNotFoundException::new_err,
        Error::AlreadyExists { .. } => ScalekitConflictException::new_err,
        Error::InvalidClient | Error::Unauthenticated(_) => ScalekitUnauthorizedException::new_err,
        Error::PermissionDenied(_) => ScalekitForbiddenException::new_err,
        Error::ResourceExhausted(_) => ScalekitTooManyRequestsException::new_err,
        Error::Unavailable(_) => ScalekitServiceUnavailableException::new_err,
        Error::Timeout(_) => ScalekitGatewayTimeoutException::new_err,
        Error::Store(_) | Error::Internal(_) => ScalekitInternalServerException::new_err,
        Error::OAuth { status, error, .. } => {
            return server(for_status(*status), &err, Some(error.clone()));
        }
        Error::Server {
            http_status,
            error_code,
            ..
        } => {
            return server(for_status(*http_status), &err, Some(error_code.clone()));
        }
        // `Error` is `#[non_exhaustive]`: a variant added later maps by its HTTP status.
        _ => for_status(err.http_status()),
    };
    server(class, &err, None)
}

/// The RFC 6750 challenge for a rejected credential, without a realm (the web adapters add
/// theirs): the same text the server and the Node middleware send.
fn challenge(err: &Error) -> Option<String> {
    authgate_core::jwt::www_authenticate(err, None)
}

/// A `ScalekitException` for a failure inside the binding itself.
pub fn internal(message: String) -> PyErr {
    ScalekitException::new_err((message, "internal"))
}

/// A `ScalekitBadRequestException` for an argument the binding checks itself.
pub fn invalid(field: &str, message: &str) -> PyErr {
    to_py(Error::invalid(field, message))
}
