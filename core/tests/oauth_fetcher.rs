//! The client-credentials fetcher against a token endpoint on loopback: single-flight,
//! refresh-ahead, forced refresh, error mapping, shared failures with backoff, the request
//! format of both client authentication methods, and secrecy.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use authgate_core::Error;
use authgate_core::jwt::ManualClock;
use authgate_core::oauth::{ClientAuthMethod, TokenFetcher, TokenFetcherConfig};
use base64::Engine;
use serde_json::json;
use support::{Gate, Reply, TestServer, concurrently, eventually, one_worker_runtime};

const PATH: &str = "/oauth/token";
const SECRET: &str = "sk_test_s3cr3t:with/odd+chars";

/// How long an awaited event may take before the test fails (generous: a loaded machine).
const DEADLINE: Duration = Duration::from_secs(30);

/// Short backoffs, on a manual clock of its own (see [`clock`]): the tests advance it instead of
/// sleeping.
fn config(server: &TestServer) -> TokenFetcherConfig {
    let mut c = TokenFetcherConfig::new(server.url(PATH), "m2morg_1", SECRET);
    c.retry_backoff = Duration::from_millis(100);
    c.max_backoff = Duration::from_millis(400);
    c.timeout = Duration::from_secs(10);
    c.dangerous_clock = Some(ManualClock::new());
    c
}

/// The manual clock a [`config`] runs on.
fn clock(c: &TokenFetcherConfig) -> ManualClock {
    c.dangerous_clock.clone().expect("a manual clock")
}

/// The access token `fetcher` hands out now.
async fn token(fetcher: &TokenFetcher) -> String {
    fetcher
        .get_token()
        .await
        .expect("token")
        .access_token
        .into_inner()
}

/// Answers `tok-1`, `tok-2`, … with the given lifetime.
fn issue_tokens(server: &TestServer, expires_in: u64, delay: Duration) -> Arc<AtomicUsize> {
    let counter = Arc::new(AtomicUsize::new(0));
    let n = counter.clone();
    server.handle(PATH, move |_| {
        let i = n.fetch_add(1, Ordering::SeqCst) + 1;
        Reply::json(
            200,
            &json!({"access_token": format!("tok-{i}"), "token_type": "Bearer", "expires_in": expires_in, "scope": "a b"}),
        )
        .delay(delay)
    });
    counter
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_concurrent_callers_make_one_request() {
    let server = TestServer::start().await;
    issue_tokens(&server, 3600, Duration::from_millis(100));
    let fetcher = TokenFetcher::new(config(&server)).expect("fetcher");
    let results = concurrently(100, || {
        let f = fetcher.clone();
        async move { f.get_token().await }
    })
    .await;
    for r in results {
        let token = r.expect("token");
        assert_eq!(token.access_token.expose(), "tok-1");
        assert_eq!(token.scopes(), ["a", "b"]);
        assert_eq!(token.lifetime, Duration::from_secs(3600));
        assert!(token.expires_in() > Duration::from_secs(3590));
    }
    assert_eq!(server.hits(PATH), 1);
    // Cached afterwards.
    assert_eq!(token(&fetcher).await, "tok-1");
    assert_eq!(fetcher.status().requests, 1);
}

#[tokio::test]
async fn client_secret_post_request_format() {
    let server = TestServer::start().await;
    issue_tokens(&server, 3600, Duration::ZERO);
    let mut c = config(&server);
    c.scopes = vec!["orders:read".into(), "orders:write".into()];
    c.extra_params = vec![("audience".into(), "https://api.test".into())];
    TokenFetcher::new(c)
        .expect("fetcher")
        .get_token()
        .await
        .expect("token");
    let req = &server.requests(PATH)[0];
    assert_eq!(req.method, "POST");
    assert_eq!(
        req.headers.get("content-type").map(String::as_str),
        Some("application/x-www-form-urlencoded")
    );
    assert!(!req.headers.contains_key("authorization"));
    let form = req.form();
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["client_id"], "m2morg_1");
    assert_eq!(form["client_secret"], SECRET);
    assert_eq!(form["scope"], "orders:read orders:write");
    assert_eq!(form["audience"], "https://api.test");
}

#[tokio::test]
async fn client_secret_basic_request_format() {
    let server = TestServer::start().await;
    issue_tokens(&server, 3600, Duration::ZERO);
    let mut c = config(&server);
    c.auth_method = ClientAuthMethod::ClientSecretBasic;
    let token = TokenFetcher::new(c)
        .expect("fetcher")
        .get_token()
        .await
        .expect("token");
    assert_eq!(token.scope, "a b");
    let req = &server.requests(PATH)[0];
    let form = req.form();
    assert!(!form.contains_key("client_secret") && !form.contains_key("scope"));
    let auth = req.headers["authorization"]
        .strip_prefix("Basic ")
        .expect("Basic");
    let decoded = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(auth)
            .expect("b64"),
    )
    .expect("utf8");
    // RFC 6749 §2.3.1: id and secret are form-urlencoded before the Basic encoding.
    assert_eq!(decoded, "m2morg_1:sk_test_s3cr3t%3Awith%2Fodd%2Bchars");
}

#[tokio::test]
async fn refreshes_ahead_of_expiry_in_the_background() {
    let server = TestServer::start().await;
    // A 100 s token; refresh at 30 % (30 s); never handed out in its last 10 s.
    let issued = issue_tokens(&server, 100, Duration::ZERO);
    let mut c = config(&server);
    c.refresh_ratio = 0.3;
    c.refresh_jitter = 0.0;
    let time = clock(&c);
    let fetcher = TokenFetcher::new(c).expect("fetcher");
    assert_eq!(token(&fetcher).await, "tok-1");
    time.advance(Duration::from_millis(29_999));
    assert_eq!(token(&fetcher).await, "tok-1");
    assert_eq!(server.hits(PATH), 1, "before the refresh point");
    // Past it: the cached token is handed out while the refresh runs behind; its reply is held,
    // so a call that waited for it could not return.
    time.advance(Duration::from_millis(1));
    let gate = Gate::new();
    let (n, held) = (issued.clone(), gate.clone());
    server.handle(PATH, move |_| {
        let i = n.fetch_add(1, Ordering::SeqCst) + 1;
        Reply::json(
            200,
            &json!({"access_token": format!("tok-{i}"), "expires_in": 100}),
        )
        .held(&held)
    });
    assert_eq!(token(&fetcher).await, "tok-1");
    assert!(
        eventually(DEADLINE, || server.hits(PATH) == 2).await,
        "the refresh was sent"
    );
    assert!(fetcher.status().fetching, "the refresh is still in flight");
    assert_eq!(
        token(&fetcher).await,
        "tok-1",
        "served from cache while refreshing"
    );
    gate.open();
    assert!(eventually(DEADLINE, || !fetcher.status().fetching).await);
    assert_eq!(token(&fetcher).await, "tok-2");
    assert_eq!(server.hits(PATH), 2);
}

#[tokio::test]
async fn an_almost_expired_token_is_not_handed_out() {
    let server = TestServer::start().await;
    issue_tokens(&server, 1, Duration::ZERO);
    let mut c = config(&server);
    c.refresh_ratio = 1.0;
    c.refresh_jitter = 0.0;
    let time = clock(&c);
    let fetcher = TokenFetcher::new(c).expect("fetcher");
    assert_eq!(token(&fetcher).await, "tok-1");
    // The margin is capped at half the lifetime: usable for 0.5 s.
    time.advance(Duration::from_millis(499));
    assert!(fetcher.cached().is_some());
    time.advance(Duration::from_millis(1));
    assert!(fetcher.cached().is_none());
    assert_eq!(token(&fetcher).await, "tok-2");
}

#[tokio::test]
async fn invalidate_forces_a_refresh() {
    let server = TestServer::start().await;
    issue_tokens(&server, 3600, Duration::ZERO);
    let fetcher = TokenFetcher::new(config(&server)).expect("fetcher");
    let first = fetcher.get_token().await.expect("token");
    // A stale 401 for a token that is no longer current changes nothing…
    fetcher.invalidate_token("tok-0");
    assert_eq!(fetcher.get_token().await.expect("token"), first);
    // …the rejected current token is dropped once, however many callers report it.
    fetcher.invalidate_token("tok-1");
    let second = fetcher.get_token().await.expect("token");
    assert_eq!(second.access_token.expose(), "tok-2");
    fetcher.invalidate_token("tok-1");
    assert_eq!(fetcher.get_token().await.expect("token"), second);
    fetcher.invalidate();
    assert_eq!(token(&fetcher).await, "tok-3");
    assert_eq!(server.hits(PATH), 3);
}

async fn error_for(reply: Reply) -> Error {
    let server = TestServer::start().await;
    server.set(PATH, reply);
    TokenFetcher::new(config(&server))
        .expect("fetcher")
        .get_token()
        .await
        .expect_err("must fail")
}

#[tokio::test]
async fn oauth_errors_map_to_typed_errors() {
    let e = error_for(Reply::json(
        401,
        &json!({"error": "invalid_client", "error_description": "bad secret"}),
    ))
    .await;
    assert_eq!(e, Error::InvalidClient);
    assert_eq!(e.http_status(), 401);

    let e = error_for(Reply::json(
        400,
        &json!({"error": "invalid_scope", "error_description": "admin is not granted"}),
    ))
    .await;
    assert_eq!(e, Error::InvalidScope("admin is not granted".into()));

    let e = error_for(Reply::json(400, &json!({"error": "unauthorized_client"}))).await;
    assert_eq!(
        e,
        Error::OAuth {
            error: "unauthorized_client".into(),
            description: None,
            status: 400
        }
    );
    assert_eq!(e.code(), "oauth_error");

    let e = error_for(Reply::json(
        400,
        &json!({"error": "unsupported_grant_type", "error_description": "no"}),
    ))
    .await;
    assert!(matches!(e, Error::OAuth { ref error, status: 400, .. } if error == "unsupported_grant_type"));

    assert!(matches!(
        error_for(Reply::status(503)).await,
        Error::Unavailable(_)
    ));
    assert!(matches!(
        error_for(Reply::status(429)).await,
        Error::Unavailable(_)
    ));
    let e = error_for(Reply::status(302).header("location", "https://elsewhere.test/token")).await;
    assert!(
        matches!(e, Error::Server { ref error_code, .. } if error_code == "redirect_refused"),
        "{e:?}"
    );
    let e = error_for(Reply::status(200)).await;
    assert!(
        matches!(e, Error::Server { ref error_code, .. } if error_code == "invalid_token_response"),
        "{e:?}"
    );
    let e = error_for(Reply::json(
        200,
        &json!({"access_token": "t", "token_type": "mac"}),
    ))
    .await;
    assert!(
        matches!(e, Error::Server { ref error_code, .. } if error_code == "invalid_token_response"),
        "{e:?}"
    );
}

#[tokio::test]
async fn network_failures_and_timeouts() {
    // A port with nothing listening.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let c = TokenFetcherConfig::new(format!("http://{closed}/oauth/token"), "id", "secret");
    let e = TokenFetcher::new(c)
        .expect("fetcher")
        .get_token()
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Unavailable(_)), "{e:?}");

    // A reply that never comes (held until the end): only the timeout ends the wait.
    let server = TestServer::start().await;
    let gate = Gate::new();
    server.set(
        PATH,
        Reply::json(200, &json!({"access_token": "never", "expires_in": 3600})).held(&gate),
    );
    let mut c = config(&server);
    c.timeout = Duration::from_millis(200);
    let e = TokenFetcher::new(c)
        .expect("fetcher")
        .get_token()
        .await
        .unwrap_err();
    gate.open();
    assert!(matches!(e, Error::Timeout(_)), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_shared_and_retries_back_off() {
    let server = TestServer::start().await;
    // The failing reply is held until the 50 callers wait on the one request.
    let gate = Gate::new();
    server.set(
        PATH,
        Reply::json(401, &json!({"error": "invalid_client"})).held(&gate),
    );
    let c = config(&server);
    let time = clock(&c);
    let fetcher = TokenFetcher::new(c).expect("fetcher");
    let callers = concurrently(50, || {
        let f = fetcher.clone();
        async move { f.get_token().await }
    });
    let opener = async {
        assert!(
            eventually(DEADLINE, || server.hits(PATH) == 1).await,
            "the request was sent"
        );
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        gate.open();
    };
    let (results, ()) = tokio::join!(callers, opener);
    for r in results {
        assert_eq!(r, Err(Error::InvalidClient));
    }
    assert_eq!(server.hits(PATH), 1);
    // Inside the backoff: the same error at once, no request.
    assert_eq!(fetcher.get_token().await, Err(Error::InvalidClient));
    assert_eq!(server.hits(PATH), 1);
    // Backoff doubles: 100 ms after the first failure, 200 ms after the second.
    time.advance(Duration::from_millis(99));
    assert_eq!(fetcher.get_token().await, Err(Error::InvalidClient));
    assert_eq!(server.hits(PATH), 1, "1 ms before the end of the first backoff");
    time.advance(Duration::from_millis(1));
    assert_eq!(fetcher.get_token().await, Err(Error::InvalidClient));
    assert_eq!(server.hits(PATH), 2);
    time.advance(Duration::from_millis(199));
    assert_eq!(fetcher.get_token().await, Err(Error::InvalidClient));
    assert_eq!(server.hits(PATH), 2, "second backoff is 200 ms");
    let status = fetcher.status();
    assert_eq!((status.failures, status.consecutive_failures), (2, 2));
    // Recovery.
    issue_tokens(&server, 3600, Duration::ZERO);
    time.advance(Duration::from_millis(1));
    assert_eq!(token(&fetcher).await, "tok-1");
    assert_eq!(fetcher.status().consecutive_failures, 0);
}

#[tokio::test]
async fn secrets_never_show_in_debug_output() {
    let server = TestServer::start().await;
    issue_tokens(&server, 3600, Duration::ZERO);
    let c = config(&server);
    let debug_config = format!("{c:?}");
    let fetcher = TokenFetcher::new(c).expect("fetcher");
    let token = fetcher.get_token().await.expect("token");
    for text in [debug_config, format!("{fetcher:?}"), format!("{token:?}")] {
        assert!(!text.contains(SECRET) && !text.contains("s3cr3t"), "{text}");
        assert!(!text.contains("tok-1"), "{text}");
    }
    let e = error_for(Reply::json(400, &json!({"error": "invalid_request"}))).await;
    assert!(!e.to_string().contains("s3cr3t"));
}

#[test]
fn configuration_is_checked() {
    let new = |url: &str, id: &str, secret: &str| TokenFetcher::new(TokenFetcherConfig::new(url, id, secret));
    assert_eq!(
        new("http://idp.example.com/token", "id", "s").unwrap_err().code(),
        "invalid_argument"
    );
    assert!(new("https://idp.example.com/token", "id", "s").is_ok());
    assert!(new("http://127.0.0.1:9/token", "id", "s").is_ok());
    assert_eq!(
        new("https://idp.example.com/token", "", "s").unwrap_err().code(),
        "invalid_argument"
    );
    assert_eq!(
        new("https://idp.example.com/token", "id", "").unwrap_err().code(),
        "invalid_argument"
    );
    let mut c = TokenFetcherConfig::new("https://idp.example.com/token", "id", "s");
    c.scopes = vec!["two words".into()];
    assert_eq!(TokenFetcher::new(c).unwrap_err().code(), "invalid_argument");
}

#[test]
fn blocking_callers_get_cached_tokens_without_a_runtime() {
    let rt = one_worker_runtime();
    let server = rt.block_on(TestServer::start());
    let _counter = rt.block_on(async { issue_tokens(&server, 3600, Duration::ZERO) });
    let mut c = config(&server);
    c.runtime = Some(rt.handle().clone());
    let fetcher = TokenFetcher::new(c).expect("fetcher");
    assert_eq!(
        fetcher.get_token_blocking().expect("token").access_token.expose(),
        "tok-1"
    );
    assert_eq!(
        fetcher.get_token_blocking().expect("token").access_token.expose(),
        "tok-1"
    );
    assert_eq!(server.hits(PATH), 1);
}
