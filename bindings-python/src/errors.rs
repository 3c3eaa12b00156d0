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
pyo3::import_exception!(authgate.errors, ScalekitCancelledException);
pyo3::import_exception!(authgate.errors, ScalekitInternalServerException);
pyo3::import_exception!(authgate.errors, ScalekitNotImplementedException);
pyo3::import_exception!(authgate.errors, ScalekitServiceUnavailableException);
pyo3::import_exception!(authgate.errors, ScalekitKeysUnavailableException);
pyo3::import_exception!(authgate.errors, ScalekitGatewayTimeoutException);
pyo3::import_exception!(authgate.errors, ScalekitUnknownException);

/// The exception class for a service error with HTTP status `status`.
#[derive(Clone, Copy)]
enum ServerKind {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    TooManyRequests,
    Cancelled,
    Internal,
    NotImplemented,
    Unavailable,
    KeysUnavailable,
    GatewayTimeout,
    Unknown,
}

impl ServerKind {
    fn for_status(status: u16) -> ServerKind {
        match status {
            400 => ServerKind::BadRequest,
            401 => ServerKind::Unauthorized,
            403 => ServerKind::Forbidden,
            404 => ServerKind::NotFound,
            409 => ServerKind::Conflict,
            429 => ServerKind::TooManyRequests,
            499 => ServerKind::Cancelled,
            501 => ServerKind::NotImplemented,
            503 => ServerKind::Unavailable,
            504 => ServerKind::GatewayTimeout,
            500..=599 => ServerKind::Internal,
            _ => ServerKind::Unknown,
        }
    }
}

/// `ScalekitServerException(message, code, http_status, grpc_status, error_code)`.
fn server(kind: ServerKind, err: &Error, error_code: Option<String>) -> PyErr {
    let args = (
        err.to_string(),
        err.code(),
        err.http_status(),
        err.grpc_code(),
        error_code.unwrap_or_else(|| err.code().to_owned()),
    );
    match kind {
        ServerKind::BadRequest => ScalekitBadRequestException::new_err(args),
        ServerKind::Unauthorized => ScalekitUnauthorizedException::new_err(args),
        ServerKind::Forbidden => ScalekitForbiddenException::new_err(args),
        ServerKind::NotFound => ScalekitNotFoundException::new_err(args),
        ServerKind::Conflict => ScalekitConflictException::new_err(args),
        ServerKind::TooManyRequests => ScalekitTooManyRequestsException::new_err(args),
        ServerKind::Cancelled => ScalekitCancelledException::new_err(args),
        ServerKind::Internal => ScalekitInternalServerException::new_err(args),
        ServerKind::NotImplemented => ScalekitNotImplementedException::new_err(args),
        ServerKind::Unavailable => ScalekitServiceUnavailableException::new_err(args),
        ServerKind::KeysUnavailable => ScalekitKeysUnavailableException::new_err(args),
        ServerKind::GatewayTimeout => ScalekitGatewayTimeoutException::new_err(args),
        ServerKind::Unknown => ScalekitUnknownException::new_err(args),
    }
}

/// Maps a core error to the Python exception users catch.
pub fn to_py(err: Error) -> PyErr {
    let kind = match &err {
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
        // Keys unreachable: 503, never a verdict on the token.
        Error::KeysUnavailable(_) => ServerKind::KeysUnavailable,
        Error::InvalidArgument { .. } | Error::FailedPrecondition(_) | Error::InvalidScope(_) => {
            ServerKind::BadRequest
        }
        Error::NotFound { .. } => ServerKind::NotFound,
        Error::AlreadyExists { .. } => ServerKind::Conflict,
        Error::InvalidClient | Error::Unauthenticated(_) => ServerKind::Unauthorized,
        Error::PermissionDenied(_) => ServerKind::Forbidden,
        Error::ResourceExhausted(_) => ServerKind::TooManyRequests,
        Error::Unavailable(_) => ServerKind::Unavailable,
        Error::Timeout(_) => ServerKind::GatewayTimeout,
        Error::Store(_) | Error::Internal(_) => ServerKind::Internal,
        Error::OAuth { status, error, .. } => {
            return server(ServerKind::for_status(*status), &err, Some(error.clone()));
        }
        Error::Server {
            http_status,
            error_code,
            ..
        } => {
            return server(
                ServerKind::for_status(*http_status),
                &err,
                Some(error_code.clone()),
            );
        }
        // `Error` is `#[non_exhaustive]`: a variant added later maps by its HTTP status.
        _ => ServerKind::for_status(err.http_status()),
    };
    server(kind, &err, None)
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
