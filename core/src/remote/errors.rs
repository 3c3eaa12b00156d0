//! What an error answer means for a call of the remote client.
//!
//! Decoding the body is the wire module's job ([`decode_response`]); this file holds the two
//! decisions that depend on the call: whether a 401 refused this client's own access token (so a
//! fresh one may help), and how a foreign refusal of `tokens:validate` reads.

use reqwest::StatusCode;

use crate::error::Error;
use crate::wire::decode_response;

/// Rebuilds an [`Error`] from an error response: authgate's bodies exactly, Scalekit's and RFC
/// 6749 bodies as the closest variant, anything else from the status (see
/// [`decode_response`]).
pub fn error_from_response(status: StatusCode, body: &[u8]) -> Error {
    decode_response(status.as_u16(), body).error
}

/// [`error_from_response`], and whether the body was authgate's own.
pub(super) fn decode_error_body(status: StatusCode, body: &[u8]) -> (Error, bool) {
    let decoded = decode_response(status.as_u16(), body);
    (decoded.error, decoded.authgate)
}

/// True when a 401 means "your access token was refused" (so a fresh token may help), not
/// "the API key you asked about is invalid".
pub(super) fn refused_credentials(error: &Error) -> bool {
    matches!(error, Error::Unauthenticated(_) | Error::InvalidToken(_))
}

/// The answer to a failed `tokens:validate`, when it is a refusal of the key.
///
/// A Scalekit environment answers an invalid API key with `NOT_FOUND`, `INVALID_ARGUMENT`,
/// `PERMISSION_DENIED` or `UNAUTHENTICATED`; the official SDKs treat them all as a validation
/// failure, and so does this client. An authgate server says `token_validation_failed` itself
/// (`ours`), and its other errors (for example a refused environment token) keep their meaning.
pub(super) fn validation_refusal(error: &Error, ours: bool) -> Option<Error> {
    let refusal = !ours
        && matches!(
            error,
            Error::NotFound { .. }
                | Error::InvalidArgument { .. }
                | Error::PermissionDenied(_)
                | Error::Unauthenticated(_)
        );
    refusal.then_some(Error::TokenValidationFailed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(status: u16, body: serde_json::Value) -> (Error, bool) {
        decode_error_body(StatusCode::from_u16(status).unwrap(), body.to_string().as_bytes())
    }

    #[test]
    fn tells_authgate_bodies_from_foreign_ones() {
        let ours = serde_json::json!({"code": 16, "message": "unauthenticated: expired",
            "details": [{"error_code": "unauthenticated", "metadata": {"detail": "expired"}}]});
        let foreign = serde_json::json!({"code": 5, "message": "token not found",
            "details": [{"error_code": "NOT_FOUND"}]});
        assert!(decode(401, ours).1);
        assert!(!decode(404, foreign).1);
        assert!(!decode_error_body(StatusCode::BAD_GATEWAY, b"oops").1);
    }

    #[test]
    fn foreign_refusals_of_validate_are_validation_failures() {
        // What Scalekit answers for an unknown, malformed or revoked key.
        for (status, body) in [
            (404, serde_json::json!({"code": 5, "message": "token not found"})),
            (
                400,
                serde_json::json!({"code": "INVALID_ARGUMENT", "message": "bad token"}),
            ),
            (403, serde_json::json!({"code": 7, "message": "denied"})),
            (401, serde_json::json!({"code": 16, "message": "token invalid"})),
        ] {
            let (error, ours) = decode(status, body);
            assert_eq!(
                validation_refusal(&error, ours),
                Some(Error::TokenValidationFailed)
            );
        }
        // An authgate server's own answers keep their meaning: its refusal of a key is already
        // `token_validation_failed` (now gRPC NOT_FOUND, still HTTP 401) …
        let key = Error::TokenValidationFailed.to_wire().into_body();
        let (error, ours) = decode(401, serde_json::to_value(key).unwrap());
        assert_eq!((error.clone(), ours), (Error::TokenValidationFailed, true));
        assert_eq!(validation_refusal(&error, ours), None);
        // … and a refused environment token is not a refusal of the key.
        let caller = Error::Unauthenticated("invalid access token: token_expired".into());
        let (error, ours) = decode(401, serde_json::to_value(caller.to_wire().into_body()).unwrap());
        assert!(ours && refused_credentials(&error));
        assert_eq!(validation_refusal(&error, ours), None);
        // Unavailability is never a refusal.
        let (error, ours) = decode(503, serde_json::json!({"code": 14, "message": "down"}));
        assert_eq!(validation_refusal(&error, ours), None);
    }
}
