//! Core errors as gRPC statuses, the way the official SDKs read them.
//!
//! The status carries `grpc-status-details-bin`: a `google.rpc.Status` whose code and message
//! equal the call's (Python's `rpc_status.from_call` refuses the details otherwise) and whose one
//! detail is a `scalekit.v1.errdetails.ErrorInfo` with the stable authgate code in `error_code`.

use authgate_core::Error;
use authgate_core::error::grpc;
use authgate_core::wire::ErrorStatus;
use prost::Message;
use tonic::{Code, Status};

use super::pb::errdetails::{
    ErrorInfo, RequestInfo, ResourceInfo, ValidationErrorInfo, validation_error_info,
};
use crate::serve::request_id;

/// `type_url` of the one detail.
pub const ERROR_INFO_TYPE_URL: &str = "type.googleapis.com/scalekit.v1.errdetails.ErrorInfo";

/// `google.rpc.Status` (google/rpc/status.proto), the value of `grpc-status-details-bin`.
#[derive(Clone, PartialEq, Message)]
pub struct RpcStatus {
    /// The gRPC status code.
    #[prost(int32, tag = "1")]
    pub code: i32,
    /// The status message.
    #[prost(string, tag = "2")]
    pub message: String,
    /// The details (here: one `ErrorInfo`).
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<prost_types::Any>,
}

/// A status with the given code and message and an `ErrorInfo` detail with `error_code`.
pub fn status(code: i32, message: String, error_code: &str, info: ErrorInfo) -> Status {
    let info = ErrorInfo {
        error_code: error_code.to_owned(),
        request_info: info.request_info.or_else(|| {
            request_id::current().map(|request_id| RequestInfo {
                request_id,
                serving_data: String::new(),
            })
        }),
        ..info
    };
    let details = RpcStatus {
        code,
        message: message.clone(),
        details: vec![prost_types::Any {
            type_url: ERROR_INFO_TYPE_URL.to_owned(),
            value: info.encode_to_vec(),
        }],
    };
    Status::with_details(Code::from_i32(code), message, details.encode_to_vec().into())
}

/// The status answering a core error: the code, message and details of the core's
/// transport-neutral description ([`ErrorStatus`]), the one the REST body is written from.
pub fn from_error(err: Error) -> Status {
    if matches!(err, Error::Store(_) | Error::Internal(_)) {
        // Described in the server log only; the answer says "internal error".
        tracing::error!(error = %err, code = err.code(), "grpc call failed");
    }
    let wire = ErrorStatus::new(&err);
    let info = ErrorInfo {
        validation_error_info: wire.info.validation_error_info.map(|v| ValidationErrorInfo {
            field_violations: v
                .field_violations
                .into_iter()
                .map(|f| validation_error_info::FieldViolation {
                    field: f.field,
                    description: f.description,
                    constraint: String::new(),
                })
                .collect(),
        }),
        // Scalekit's ResourceInfo has no type field: the kind leads the description.
        resource_info: wire.info.resource_info.map(|r| ResourceInfo {
            resource_name: r.resource_name,
            description: if r.description.is_empty() {
                r.resource_type
            } else {
                format!("{}: {}", r.resource_type, r.description)
            },
            ..ResourceInfo::default()
        }),
        ..ErrorInfo::default()
    };
    status(wire.grpc_code, wire.message, err.code(), info)
}

/// `INVALID_ARGUMENT` about one field of the request.
pub fn invalid(field: &str, message: impl Into<String>) -> Status {
    from_error(Error::invalid(field, message.into()))
}

/// `UNIMPLEMENTED` for a method of a served service that authgate does not offer.
pub fn unimplemented(method: &str) -> Status {
    status(
        grpc::UNIMPLEMENTED,
        format!("{method} is not implemented by authgate"),
        "unimplemented",
        ErrorInfo::default(),
    )
}

/// The `google.rpc.Status` in a status's details, if any.
#[cfg(test)]
pub fn details_of(status: &Status) -> Option<RpcStatus> {
    RpcStatus::decode(status.details()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_key_is_not_found_with_matching_details() {
        let s = from_error(Error::TokenValidationFailed);
        assert_eq!(s.code(), Code::NotFound);
        let details = details_of(&s).unwrap();
        assert_eq!(details.code, grpc::NOT_FOUND);
        assert_eq!(details.message, s.message());
        assert_eq!(details.details[0].type_url, ERROR_INFO_TYPE_URL);
        let info = ErrorInfo::decode(&*details.details[0].value).unwrap();
        assert_eq!(info.error_code, "token_validation_failed");
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let s = from_error(Error::Store("disk full at /var/lib/x".into()));
        assert_eq!(s.code(), Code::Internal);
        assert_eq!(s.message(), "internal error");
    }

    #[test]
    fn invalid_argument_names_the_field() {
        let s = invalid("organization_id", "is required");
        assert_eq!(s.code(), Code::InvalidArgument);
        let details = details_of(&s).unwrap();
        let info = ErrorInfo::decode(&*details.details[0].value).unwrap();
        assert_eq!(
            info.validation_error_info.unwrap().field_violations[0].field,
            "organization_id"
        );
    }
}
