//! The one mapping from [`authgate_core::Error`] to a JavaScript error.
//!
//! Every failure leaves the native layer as a plain JavaScript `Error` named
//! `AuthgateNativeError` whose properties carry everything the JavaScript layer needs to pick the
//! exception class (`index.js`, `toScalekitError`):
//!
//! | property | value |
//! |---|---|
//! | `code` | the core's stable snake_case code (`token_validation_failed`, `not_found`, …) |
//! | `httpStatus` | the HTTP status the error is answered with |
//! | `grpcStatus` | the matching gRPC status code (Scalekit's error model) |
//! | `errorCode` | the server's own code for remote errors, else `code` |
//! | `field` | for `invalid_argument`: the offending field |
//! | `missingScopes` | for `insufficient_scope`: the required scopes the token lacks |
//! | `retryAfter` | for `rate_limited`: seconds until the key's window ends |
//! | `validationFailure` | `true` when the credential itself was rejected (401/403 class) |
//! | `wwwAuthenticate` | the core's RFC 6750 challenge for it, when it has one |
//!
//! Messages come from the core's `Display`, which never contains a secret.

use std::future::Future;

use authgate_core::Error as CoreError;
use napi::bindgen_prelude::{JsObjectValue, JsValue, PromiseRaw, ToNapiValue};
use napi::{Env, Result};

/// The `name` of every error thrown by the native layer.
pub const NATIVE_ERROR_NAME: &str = "AuthgateNativeError";

/// Variant-specific properties, read with one exhaustive `match`.
struct Extras {
    error_code: Option<String>,
    field: Option<String>,
    missing_scopes: Option<Vec<String>>,
    /// An API key or JWT was rejected, scopes included (`ScalekitValidateTokenFailureException`).
    validation_failure: bool,
    /// Seconds to wait, for `rate_limited`.
    retry_after: Option<u64>,
}

fn extras(err: &CoreError) -> Extras {
    let none = Extras {
        error_code: None,
        field: None,
        missing_scopes: None,
        validation_failure: false,
        retry_after: None,
    };
    match err {
        CoreError::InvalidArgument { field, .. } => Extras {
            field: Some(field.clone()),
            ..none
        },
        CoreError::InsufficientScope { missing } => Extras {
            missing_scopes: Some(missing.clone()),
            validation_failure: true,
            ..none
        },
        CoreError::TokenValidationFailed | CoreError::InvalidToken(_) => Extras {
            validation_failure: true,
            ..none
        },
        CoreError::RateLimited { retry_after } => Extras {
            retry_after: Some(*retry_after),
            ..none
        },
        CoreError::Server { error_code, .. } => Extras {
            error_code: Some(error_code.clone()),
            ..none
        },
        CoreError::OAuth { error, .. } => Extras {
            error_code: Some(error.clone()),
            ..none
        },
        CoreError::NotFound { .. }
        | CoreError::AlreadyExists { .. }
        | CoreError::FailedPrecondition(_)
        | CoreError::KeysUnavailable(_)
        | CoreError::InvalidClient
        | CoreError::InvalidScope(_)
        | CoreError::Unauthenticated(_)
        | CoreError::PermissionDenied(_)
        | CoreError::ResourceExhausted(_)
        | CoreError::Unavailable(_)
        | CoreError::Timeout(_)
        | CoreError::Store(_)
        | CoreError::Internal(_) => none,
        // `Error` is `#[non_exhaustive]`: a variant added later still carries its code and
        // statuses, which is all the JavaScript layer needs.
        _ => none,
    }
}

/// Builds the JavaScript error for a core error. Needs the calling thread's `Env`.
pub fn to_js(env: &Env, err: CoreError) -> napi::Error {
    match build(env, &err) {
        Ok(js) => js,
        // Creating an object only fails when the VM is unusable; keep the code at least.
        Err(_) => napi::Error::new(napi::Status::GenericFailure, format!("{}: {err}", err.code())),
    }
}

fn build(env: &Env, err: &CoreError) -> Result<napi::Error> {
    let mut obj = env.create_error(napi::Error::from_reason(err.to_string()))?;
    let extras = extras(err);
    obj.set_named_property("name", NATIVE_ERROR_NAME)?;
    obj.set_named_property("code", err.code())?;
    obj.set_named_property("httpStatus", u32::from(err.http_status()))?;
    obj.set_named_property("grpcStatus", err.grpc_code())?;
    obj.set_named_property(
        "errorCode",
        extras.error_code.unwrap_or_else(|| err.code().to_owned()),
    )?;
    if let Some(field) = extras.field {
        obj.set_named_property("field", field)?;
    }
    obj.set_named_property("validationFailure", extras.validation_failure)?;
    if let Some(challenge) = authgate_core::jwt::www_authenticate(err, None) {
        obj.set_named_property("wwwAuthenticate", challenge)?;
    }
    if let Some(missing) = extras.missing_scopes {
        obj.set_named_property("missingScopes", missing)?;
    }
    if let Some(seconds) = extras.retry_after {
        obj.set_named_property("retryAfter", seconds as f64)?;
    }
    Ok(napi::Error::from(obj.to_unknown()))
}

/// Converts a core result on the JavaScript thread, mapping the error.
pub fn sync<T>(env: &Env, result: authgate_core::Result<T>) -> Result<T> {
    result.map_err(|e| to_js(env, e))
}

/// Runs `fut` on napi's tokio runtime and returns a Promise of its converted value; a core error
/// rejects the Promise with the error built by [`to_js`].
pub fn spawn<'env, T, F>(env: &'env Env, fut: F) -> Result<PromiseRaw<'env, T>>
where
    T: ToNapiValue + Send + 'static,
    F: Future<Output = authgate_core::Result<T>> + Send + 'static,
{
    env.spawn_future_with_callback(async move { Ok(fut.await) }, |env, result| match result {
        Ok(value) => Ok(value),
        Err(err) => Err(to_js(env, err)),
    })
}
