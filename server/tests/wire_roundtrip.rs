//! The error wire format, end to end over real HTTP: every [`Error`] variant (and every
//! [`TokenError`], inside [`Error::InvalidToken`]) is answered by a real axum server on loopback
//! through the server's own error path ([`ApiError`]'s `IntoResponse`), and read back by the
//! real remote client ([`RemoteClient`], its transport and its decoder). What comes back must
//! equal what was raised.
//!
//! The list of errors is core's [`every_error`], complete by construction: [`error_index`] is an
//! exhaustive `match` over the variants, so a new variant does not compile until it has an
//! index, and core's unit test (and the check below) fails until `every_error` holds an example.
//!
//! One documented exception: [`Error::Store`] and [`Error::Internal`] keep their detail out of
//! the answer (the server logs it); they come back as the same variant holding the public text
//! "internal error", i.e. as [`Error::public`].

use std::collections::BTreeSet;
use std::sync::Arc;

use authgate_core::remote::{RemoteClient, RemoteOptions};
use authgate_core::wire::error::{ERROR_VARIANTS, error_index, every_error};
use authgate_core::{AuthApi, Error, Secret, TokenError};
use authgate_server::serve::error::ApiError;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;

/// `GET /{index}/keys`: answers error `index` of the list through the server's error path.
/// (`/keys` is what [`RemoteClient::jwks`] fetches; an env URL of `http://…/{index}` makes the
/// remote client ask for error `index`.)
async fn answer(State(errors): State<Arc<Vec<Error>>>, Path(index): Path<usize>) -> ApiError {
    ApiError::from(errors[index].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_survives_server_http_and_remote_client() {
    let errors = every_error();
    let variants: BTreeSet<usize> = errors.iter().map(error_index).collect();
    assert_eq!(
        variants.len(),
        ERROR_VARIANTS,
        "every Error variant has an example"
    );
    let reasons: BTreeSet<&'static str> = errors
        .iter()
        .filter_map(|e| match e {
            Error::InvalidToken(reason) => Some(reason.code()),
            _ => None,
        })
        .collect();
    assert_eq!(
        reasons.len(),
        authgate_core::wire::error::TOKEN_ERROR_VARIANTS,
        "every TokenError has an example"
    );
    assert!(reasons.contains(TokenError::Expired.code()));

    let errors = Arc::new(errors);
    let app = Router::new()
        .route("/{index}/keys", get(answer))
        .with_state(errors.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let mut options = RemoteOptions::default();
    // 503 answers are retried otherwise; the point here is what one answer decodes to.
    options.max_retries = 0;
    for (index, raised) in errors.iter().enumerate() {
        let remote = RemoteClient::new(
            &format!("http://{addr}/{index}"),
            "skc_wire",
            Secret::new("unused: /keys is public"),
            options.clone(),
        )
        .unwrap();
        let got = remote.jwks().await.expect_err("every route answers an error");
        assert_eq!(got, raised.public(), "error {index}: {raised:?}");
        assert_eq!(got.code(), raised.code());
        assert_eq!(got.http_status(), raised.http_status());
        assert_eq!(got.grpc_code(), raised.grpc_code());
    }

    // And on the wire itself: the status is the error's, the body's `code` its gRPC status
    // (NOT_FOUND for a refused API key, while HTTP says 401), the details authgate's.
    let index = errors
        .iter()
        .position(|e| *e == Error::TokenValidationFailed)
        .unwrap();
    let response = reqwest::get(format!("http://{addr}/{index}/keys")).await.unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], authgate_core::error::grpc::NOT_FOUND, "{body}");
    assert_eq!(
        body["details"][0]["error_code"], "token_validation_failed",
        "{body}"
    );
    assert_eq!(
        body["details"][0]["@type"],
        authgate_core::wire::ERROR_INFO_TYPE,
        "{body}"
    );

    server.abort();
}
