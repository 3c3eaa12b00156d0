//! Remote-client deadlines (issue #12, item 8): against a real TCP listener that accepts
//! connections and never answers, every kind of call — API-key validation, the environment token
//! fetch (`check`), the JWKS — fails with a typed error instead of hanging; a closed port is
//! `unavailable`; refused credentials are a typed `oauth_error`.
//!
//! No wall-clock window is asserted: the tests only require that each call returns at all well
//! before the old 30 s worst case (an event with a generous bound), and with which error.

mod support;

use std::time::Duration;

use authgate_core::jwt::JwtValidator;
use authgate_core::setup::{Client, RemoteSettings};
use authgate_core::{Error, Secret};
use serde_json::json;
use support::{Reply, TestServer};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Far above any deadline used here, below the old 3 × 10 s: "the call returned at all".
const RETURNS_BEFORE: Duration = Duration::from_secs(29);

/// Accepts every connection and keeps it open without a byte of answer.
struct Silent {
    url: String,
    task: JoinHandle<()>,
}

impl Silent {
    async fn start() -> Silent {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                held.push(stream);
            }
        });
        Silent { url, task }
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn client(url: &str, timeout: f64, retries: u32) -> Client {
    let settings = RemoteSettings {
        timeout,
        retries,
        ..RemoteSettings::default()
    };
    Client::remote(
        url,
        "skc_deadline".into(),
        Secret::new("s".repeat(32)),
        settings,
        "Authgate-Test/0",
        "Rust",
    )
    .expect("client")
}

async fn returns<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(RETURNS_BEFORE, f)
        .await
        .unwrap_or_else(|_| panic!("{what} hung past {RETURNS_BEFORE:?}"))
}

fn is_timeout<T: std::fmt::Debug>(r: &authgate_core::Result<T>) -> bool {
    matches!(r, Err(e @ Error::Timeout(_)) if e.code() == "deadline_exceeded")
}

#[tokio::test]
async fn a_silent_environment_fails_every_call_with_deadline_exceeded() {
    let silent = Silent::start().await;
    let c = client(&silent.url, 1.5, 2);

    let r = returns("validate_token", c.api.validate_token("agk_whatever")).await;
    assert!(is_timeout(&r), "API-key validation: {r:?}");
    let message = r.unwrap_err().to_string();
    assert!(message.contains("timeout"), "{message}");
    assert!(!message.contains(&"s".repeat(32)), "no secret in errors");

    let r = returns("check", c.check()).await;
    assert!(is_timeout(&r), "check (environment token): {r:?}");

    let r = returns("jwks", c.api.jwks()).await;
    assert!(is_timeout(&r), "JWKS through the API: {r:?}");
}

#[tokio::test]
async fn a_silent_key_server_makes_token_validation_keys_unavailable() {
    let silent = Silent::start().await;
    let c = client(&silent.url, 1.0, 0);
    let validator = JwtValidator::new(c.validator_config(None, Vec::new()).unwrap()).unwrap();
    let token = support::rs256("rsa-a", "a");
    let r = returns("validate", validator.validate(&token)).await;
    assert!(matches!(r, Err(Error::KeysUnavailable(_))), "{r:?}");
    let status = validator.status();
    assert!(
        status.last_error.unwrap_or_default().contains("timed out"),
        "the fetch timed out (fetch_timeout follows the client's timeout)"
    );
    assert_eq!(validator.keys().config().fetch_timeout, Duration::from_secs(1));
}

#[tokio::test]
async fn a_closed_port_is_unavailable() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = client(&format!("http://127.0.0.1:{port}"), 2.0, 1);
    let r = returns("check", c.check()).await;
    assert!(
        matches!(&r, Err(Error::Unavailable(_)) | Err(Error::Timeout(_))),
        "{r:?}"
    );
    assert_eq!(r.unwrap_err().http_status() / 100, 5);
}

#[tokio::test]
async fn check_reports_refused_credentials_as_a_typed_error() {
    let server = TestServer::start().await;
    server.set(
        "/oauth/token",
        Reply::json(
            401,
            &json!({"error": "invalid_client", "error_description": "client authentication failed"}),
        ),
    );
    let c = client(&server.base(), 5.0, 2);
    let err = returns("check", c.check()).await.unwrap_err();
    assert!(matches!(err, Error::InvalidClient), "{err:?}");
    assert_eq!((err.code(), err.http_status()), ("invalid_client", 401));

    // And a good answer passes.
    server.set(
        "/oauth/token",
        Reply::json(
            200,
            &json!({"access_token": "at", "token_type": "Bearer", "expires_in": 3600}),
        ),
    );
    let c = client(&server.base(), 5.0, 2);
    returns("check", c.check()).await.expect("credentials accepted");
}
