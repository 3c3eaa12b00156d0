//! What authgate puts on the wire, written once for the server and the remote client.
//!
//! - [`error`]: the description of an [`Error`](crate::Error) every transport answers with
//!   (stable code, HTTP status, gRPC status, message, `ErrorInfo` details), its Scalekit REST
//!   body, and the way back ([`Error::from_wire`](crate::Error::from_wire),
//!   [`decode_response`]).
//! - [`envelope`]: the JSON request and response envelopes of the REST API that are not model
//!   types themselves (`{"token": …}`, `{"token_info": …}`, `{"organization": …}`, …).

pub mod envelope;
pub mod error;

pub use error::{
    ERROR_INFO_TYPE, ErrorBody, ErrorInfo, ErrorStatus, FieldViolation, OAuthErrorBody, RequestInfo,
    ResourceInfo, ValidationErrorInfo, decode_response,
};
