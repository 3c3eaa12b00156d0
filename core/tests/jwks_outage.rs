//! A JWKS outage (issue #12, item 6): a token whose `kid` is not cached while the key set cannot
//! be fetched is keys-unavailable (503), never `unknown_kid` (401); an unknown `kid` in a set
//! that WAS fetched stays `unknown_kid`.
//!
//! The key server is a real loopback HTTP listener that answers each request on its own
//! connection (`Connection: close`) and can be stopped for real (its listening socket closed),
//! made to answer 5xx, or made to accept and never answer. Time is injected ([`ManualClock`]):
//! the cooldown and backoff are advanced, never slept through.

mod support;

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use authgate_core::jwt::{JwksConfig, JwtValidator, KeySource, ManualClock, SyncValidation, ValidatorConfig};
use authgate_core::{Error, Result, TokenError};
use support::{AUDIENCE, ISSUER, jwks, rs256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// What the key server does with a request.
#[derive(Clone)]
enum Mode {
    /// 200 with this body.
    Keys(String),
    /// This status, empty body.
    Status(u16),
    /// Reads the request and never answers.
    Silent,
}

/// A key server that can really go down.
struct KeyServer {
    addr: std::net::SocketAddr,
    mode: Arc<Mutex<Mode>>,
    hits: Arc<AtomicUsize>,
    task: Option<JoinHandle<()>>,
}

impl KeyServer {
    async fn start(mode: Mode) -> KeyServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mode = Arc::new(Mutex::new(mode));
        let hits = Arc::new(AtomicUsize::new(0));
        let (m, h) = (mode.clone(), hits.clone());
        let task = tokio::spawn(async move {
            let mut silent = Vec::new();
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    continue;
                };
                let mut buf = vec![0u8; 8192];
                let mut read = 0;
                while !buf[..read].windows(4).any(|w| w == b"\r\n\r\n") && read < buf.len() {
                    match stream.read(&mut buf[read..]).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => read += n,
                    }
                }
                h.fetch_add(1, Ordering::SeqCst);
                let mode = m.lock().unwrap().clone();
                let (status, body) = match mode {
                    Mode::Keys(body) => (200, body),
                    Mode::Status(status) => (status, String::new()),
                    Mode::Silent => {
                        // Keep the connection open, unanswered, until the server stops.
                        silent.push(stream);
                        continue;
                    }
                };
                let head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                     cache-control: max-age=300\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(body.as_bytes()).await;
                let _ = stream.shutdown().await;
            }
        });
        KeyServer {
            addr,
            mode,
            hits,
            task: Some(task),
        }
    }

    fn url(&self) -> String {
        format!("http://{}/keys", self.addr)
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// Stops the server: the listening socket is closed (connections are refused).
    async fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for KeyServer {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

fn keys_a() -> Mode {
    Mode::Keys(jwks(&[("rsa-a", "a")]).to_string())
}

/// Short cooldown and backoff on a manual clock; the fetch timeout (real time) short enough
/// for the silent-server case.
fn config(url: String) -> (JwtValidator, ManualClock) {
    let clock = ManualClock::new();
    let mut jwks = JwksConfig::default();
    jwks.cooldown = Duration::from_millis(300);
    jwks.negative_ttl = Duration::from_millis(300);
    jwks.retry_backoff = Duration::from_millis(100);
    jwks.fetch_timeout = Duration::from_millis(500);
    jwks.dangerous_clock = Some(clock.clone());
    let mut c = ValidatorConfig::new(KeySource::JwksUrl(url))
        .with_issuer(ISSUER)
        .with_audience(AUDIENCE);
    c.jwks = jwks;
    c.token_cache_capacity = 0;
    (JwtValidator::new(c).expect("validator"), clock)
}

fn is_unknown_kid(r: &Result<impl std::fmt::Debug>) -> bool {
    matches!(r, Err(Error::InvalidToken(TokenError::UnknownKeyId)))
}

fn is_unavailable(r: &Result<impl std::fmt::Debug>) -> bool {
    matches!(r, Err(e @ Error::KeysUnavailable(_)) if e.http_status() == 503)
}

/// Loads `a`, then takes the server down with `outage`; returns the validator and its clock.
async fn loaded_then(server: &mut KeyServer, outage: Option<Mode>) -> (JwtValidator, ManualClock) {
    let (v, clock) = config(server.url());
    v.validate(&rs256("rsa-a", "a")).await.expect("valid while up");
    match outage {
        Some(mode) => server.set(mode),
        None => server.stop().await,
    }
    clock.advance(Duration::from_millis(300)); // past the cooldown: the unknown kid may refetch
    (v, clock)
}

#[tokio::test]
async fn server_down_makes_an_unknown_kid_keys_unavailable() {
    let mut server = KeyServer::start(keys_a()).await;
    let (v, clock) = loaded_then(&mut server, None).await;
    let new_key = rs256("rsa-b", "b");

    let r = v.validate(&new_key).await;
    assert!(is_unavailable(&r), "refetch refused by a stopped server: {r:?}");
    // The cached key keeps working meanwhile.
    v.validate(&rs256("rsa-a", "a"))
        .await
        .expect("cached key still valid");
    // Within the backoff after the failed fetch: no fetch, still unavailable (async and sync).
    let r = v.validate(&new_key).await;
    assert!(is_unavailable(&r), "backoff after a failed fetch: {r:?}");
    match v.try_validate(&new_key) {
        SyncValidation::Done(r) => assert!(is_unavailable(&r), "{r:?}"),
        SyncValidation::NeedsFetch => panic!("no fetch may start within the backoff"),
    }
    // The cooldown elapses again: another attempt, still down, still unavailable.
    clock.advance(Duration::from_millis(300));
    assert!(is_unavailable(&v.validate(&new_key).await));
    assert_eq!(v.status().consecutive_failures, 2);
}

#[tokio::test]
async fn server_errors_make_an_unknown_kid_keys_unavailable_until_a_fetch_succeeds() {
    let mut server = KeyServer::start(keys_a()).await;
    let (v, clock) = loaded_then(&mut server, Some(Mode::Status(500))).await;
    let new_key = rs256("rsa-b", "b");
    assert!(is_unavailable(&v.validate(&new_key).await));
    assert_eq!(server.hits(), 2);

    // Recovery with a set that still lacks `b`: now the kid is known to be absent.
    server.set(keys_a());
    clock.advance(Duration::from_millis(300));
    let r = v.validate(&new_key).await;
    assert!(is_unknown_kid(&r), "the set was fetched and lacks the kid: {r:?}");
    assert_eq!(server.hits(), 3);
    // Negative cache and cooldown after a successful fetch: unknown_kid, no fetch.
    assert!(is_unknown_kid(&v.validate(&new_key).await));
    assert!(is_unknown_kid(&v.validate(&rs256("rsa-b", "c")).await));
    assert_eq!(server.hits(), 3);

    // And once the key is published, it validates.
    server.set(Mode::Keys(jwks(&[("rsa-a", "a"), ("rsa-b", "b")]).to_string()));
    clock.advance(Duration::from_millis(300));
    v.validate(&new_key).await.expect("published key");
}

#[tokio::test]
async fn a_server_that_never_answers_makes_an_unknown_kid_keys_unavailable() {
    let mut server = KeyServer::start(keys_a()).await;
    let (v, _clock) = loaded_then(&mut server, Some(Mode::Silent)).await;
    let r = v.validate(&rs256("rsa-b", "b")).await;
    assert!(is_unavailable(&r), "fetch timeout: {r:?}");
    assert!(v.status().last_error.unwrap_or_default().contains("timed out"));
}

#[tokio::test]
async fn an_unknown_kid_of_a_reachable_set_stays_unknown_kid() {
    let server = KeyServer::start(keys_a()).await;
    let (v, clock) = config(server.url());
    v.validate(&rs256("rsa-a", "a")).await.expect("valid");
    // Within the cooldown after a successful fetch: no fetch, unknown_kid.
    assert!(is_unknown_kid(&v.validate(&rs256("rsa-b", "b")).await));
    // After it: the refetch succeeds and lacks the kid.
    clock.advance(Duration::from_millis(300));
    assert!(is_unknown_kid(&v.validate(&rs256("rsa-b", "b")).await));
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn a_cold_cache_with_the_server_down_is_keys_unavailable() {
    let mut server = KeyServer::start(keys_a()).await;
    let url = server.url();
    server.stop().await;
    let (v, _clock) = config(url);
    assert!(is_unavailable(&v.validate(&rs256("rsa-a", "a")).await));
    assert!(is_unavailable(&v.validate(&rs256("rsa-b", "b")).await));
}
