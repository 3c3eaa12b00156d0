//! JWKS cache behaviour against a real HTTP server on loopback: fetch counting, kid-miss
//! refetch, cooldown, negative cache, single-flight, timeouts, stale window, redirects, limits,
//! discovery, refresh-ahead, ETag revalidation, cache flushing and the synchronous path.
//!
//! Time is injected: every cache runs on a [`ManualClock`] that a test advances past a TTL,
//! cooldown or backoff, and events (a fetch happened) are awaited with a deadline; no test
//! sleeps through a window or asserts how long something took.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use authgate_core::jwt::{
    JwksCache, JwksConfig, JwtValidator, KeyProvider, KeySource, ManualClock, SyncValidation, ValidatorConfig,
};
use authgate_core::model::JwkSet;
use authgate_core::{Error, Result, TokenError};
use serde_json::json;
use support::{
    AUDIENCE, Gate, ISSUER, Reply, TestServer, concurrently, eventually, jwks, one_worker_runtime, rs256,
    serve_jwks,
};

const PATH: &str = "/keys";

/// How long an awaited event may take before the test fails (generous: a loaded machine).
const DEADLINE: Duration = Duration::from_secs(30);

/// Short timings, on a manual clock of its own (see [`clock`]).
fn fast() -> JwksConfig {
    let mut c = JwksConfig::default();
    c.min_ttl = Duration::ZERO;
    c.cooldown = Duration::from_millis(300);
    c.negative_ttl = Duration::from_millis(300);
    c.retry_backoff = Duration::from_millis(100);
    c.fetch_timeout = Duration::from_secs(10);
    c.dangerous_clock = Some(ManualClock::new());
    c
}

/// The manual clock a [`fast`] configuration runs on.
fn clock(c: &JwksConfig) -> ManualClock {
    c.dangerous_clock.clone().expect("a manual clock")
}

fn config(source: KeySource, jwks: JwksConfig) -> ValidatorConfig {
    let mut c = ValidatorConfig::new(source)
        .with_issuer(ISSUER)
        .with_audience(AUDIENCE);
    c.jwks = jwks;
    // Off so that every validation goes through the key cache (the fetch counts are the point).
    c.token_cache_capacity = 0;
    c
}

fn validator(server: &TestServer, jwks: JwksConfig) -> JwtValidator {
    JwtValidator::new(config(KeySource::JwksUrl(server.url(PATH)), jwks)).expect("validator")
}

fn is_unknown_kid(r: &Result<impl std::fmt::Debug>) -> bool {
    matches!(r, Err(Error::InvalidToken(TokenError::UnknownKeyId)))
}

fn is_unavailable(r: &Result<impl std::fmt::Debug>) -> bool {
    matches!(r, Err(Error::KeysUnavailable(_)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_concurrent_validations_on_a_cold_cache_make_one_fetch() {
    let server = TestServer::start().await;
    server.set(
        PATH,
        Reply::json(200, &jwks(&[("rsa-a", "a")])).delay(Duration::from_millis(150)),
    );
    let v = validator(&server, fast());
    let token = rs256("rsa-a", "a");
    let results = concurrently(100, || {
        let (v, token) = (v.clone(), token.clone());
        async move { v.validate(&token).await }
    })
    .await;
    for r in results {
        assert_eq!(r.expect("valid").subject(), Some("m2morg_1"));
    }
    assert_eq!(server.hits(PATH), 1);
    let status = v.status();
    assert_eq!(status.fetch_count, 1);
    assert_eq!(status.key_count, 1);
    assert!(status.fresh && !status.stale && !status.fetching);
    assert_eq!(status.kids, ["a"]);
}

#[tokio::test]
async fn validators_configured_alike_share_one_cache() {
    let server = TestServer::start().await;
    serve_jwks(&server, PATH, &jwks(&[("rsa-a", "a")]));
    let token = rs256("rsa-a", "a");
    let cfg = fast();
    for _ in 0..5 {
        // The anti-pattern of building a validator per request costs no extra fetch.
        validator(&server, cfg.clone())
            .validate(&token)
            .await
            .expect("valid");
    }
    assert_eq!(server.hits(PATH), 1);
}

#[tokio::test]
async fn unknown_kid_refetches_once_then_cools_down() {
    let server = TestServer::start().await;
    serve_jwks(&server, PATH, &jwks(&[("rsa-a", "a")]));
    let cfg = fast();
    let time = clock(&cfg);
    let v = validator(&server, cfg);
    let (ta, tb, tc) = (rs256("rsa-a", "a"), rs256("rsa-b", "b"), rs256("rsa-b", "c"));
    v.validate(&ta).await.expect("valid");
    assert_eq!(server.hits(PATH), 1);

    // Unknown kid right after a fetch: within the cooldown, no refetch.
    assert!(is_unknown_kid(&v.validate(&tb).await));
    assert_eq!(server.hits(PATH), 1);
    assert!(v.status().cooling_down);
    time.advance(Duration::from_millis(299));
    assert!(is_unknown_kid(&v.validate(&tb).await));
    assert_eq!(server.hits(PATH), 1, "1 ms before the end of the cooldown");
    assert!(v.status().cooling_down);

    // After the cooldown: exactly one refetch, still unknown.
    time.advance(Duration::from_millis(1));
    assert!(!v.status().cooling_down);
    assert!(is_unknown_kid(&v.validate(&tb).await));
    assert_eq!(server.hits(PATH), 2);
    // And a second unknown kid right away does not fetch again.
    assert!(is_unknown_kid(&v.validate(&tc).await));
    assert_eq!(server.hits(PATH), 2);
}

#[tokio::test]
async fn a_key_rotated_in_is_picked_up_on_the_first_unknown_kid() {
    let server = TestServer::start().await;
    serve_jwks(&server, PATH, &jwks(&[("rsa-a", "a")]));
    let mut cfg = fast();
    cfg.cooldown = Duration::from_millis(50);
    let time = clock(&cfg);
    let v = validator(&server, cfg);
    v.validate(&rs256("rsa-a", "a")).await.expect("valid");
    serve_jwks(&server, PATH, &jwks(&[("rsa-b", "b"), ("rsa-a", "a")]));
    time.advance(Duration::from_millis(50));
    v.validate(&rs256("rsa-b", "b"))
        .await
        .expect("new key valid after one refetch");
    v.validate(&rs256("rsa-a", "a"))
        .await
        .expect("old key still published");
    assert_eq!(server.hits(PATH), 2);
}

#[tokio::test]
async fn negative_cache_remembers_confirmed_unknown_kids() {
    let server = TestServer::start().await;
    serve_jwks(&server, PATH, &jwks(&[("rsa-a", "a")]));
    let mut cfg = fast();
    cfg.cooldown = Duration::from_millis(50);
    cfg.negative_ttl = Duration::from_secs(30);
    let time = clock(&cfg);
    let v = validator(&server, cfg);
    v.validate(&rs256("rsa-a", "a")).await.expect("valid");
    time.advance(Duration::from_millis(50));
    assert!(is_unknown_kid(&v.validate(&rs256("rsa-b", "ghost")).await));
    assert_eq!(server.hits(PATH), 2);
    assert_eq!(v.status().negative_kids, 1);
    // Past the cooldown, the same kid still causes no fetch…
    time.advance(Duration::from_millis(50));
    for _ in 0..10 {
        assert!(is_unknown_kid(&v.validate(&rs256("rsa-b", "ghost")).await));
    }
    assert_eq!(server.hits(PATH), 2);
    // …while another unknown kid does.
    assert!(is_unknown_kid(&v.validate(&rs256("rsa-b", "other")).await));
    assert_eq!(server.hits(PATH), 3);
    // Once the negative TTL is over, the first kid may cause a fetch again.
    time.advance(Duration::from_secs(30));
    assert!(is_unknown_kid(&v.validate(&rs256("rsa-b", "ghost")).await));
    assert_eq!(server.hits(PATH), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_random_kids_costs_at_most_one_fetch_per_cooldown() {
    let server = TestServer::start().await;
    serve_jwks(&server, PATH, &jwks(&[("rsa-a", "a")]));
    let mut cfg = fast();
    cfg.cooldown = Duration::from_secs(30);
    let v = validator(&server, cfg);
    v.validate(&rs256("rsa-a", "a")).await.expect("valid");
    let tokens: Vec<String> = (0..200).map(|i| rs256("rsa-b", &format!("random-{i}"))).collect();
    let tasks: Vec<_> = tokens
        .into_iter()
        .map(|t| {
            let v = v.clone();
            tokio::spawn(async move { v.validate(&t).await })
        })
        .collect();
    for t in tasks {
        assert!(is_unknown_kid(&t.await.expect("task")));
    }
    assert_eq!(
        server.hits(PATH),
        1,
        "the initial fetch only: every kid arrived within the cooldown"
    );
}

#[tokio::test]
async fn fetch_timeout_gives_keys_unavailable() {
    let server = TestServer::start().await;
    // The reply never comes (the gate is opened only at the end): only the timeout ends the wait.
    let gate = Gate::new();
    server.set(PATH, Reply::json(200, &jwks(&[("rsa-a", "a")])).held(&gate));
    let mut cfg = fast();
    cfg.fetch_timeout = Duration::from_millis(200);
    let v = validator(&server, cfg);
    let r = v.validate(&rs256("rsa-a", "a")).await;
    gate.open();
    assert!(is_unavailable(&r), "{r:?}");
    assert_eq!(r.unwrap_err().http_status(), 503);
    let status = v.status();
    assert!(
        status
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("timed out"),
        "{status:?}"
    );
    assert_eq!(status.failure_count, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_shared_and_retries_back_off() {
    let server = TestServer::start().await;
    // The failing reply is held until all 50 callers wait on the one fetch.
    let gate = Gate::new();
    server.set(PATH, Reply::status(500).held(&gate));
    let cfg = fast();
    let time = clock(&cfg);
    let v = validator(&server, cfg);
    let token = rs256("rsa-a", "a");
    let callers = concurrently(50, || {
        let (v, t) = (v.clone(), token.clone());
        async move { v.validate(&t).await }
    });
    let opener = async {
        assert!(
            eventually(DEADLINE, || server.hits(PATH) == 1).await,
            "the fetch started"
        );
        // Every caller joins the fetch in flight; give them the runtime's turns, then answer.
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        gate.open();
    };
    let (results, ()) = tokio::join!(callers, opener);
    for r in results {
        assert!(is_unavailable(&r), "{r:?}");
    }
    assert_eq!(server.hits(PATH), 1, "one failed fetch shared by 50 callers");
    // Within the backoff: the failure is answered at once, without a request.
    assert!(is_unavailable(&v.validate(&token).await));
    assert_eq!(server.hits(PATH), 1);
    time.advance(Duration::from_millis(99));
    assert!(is_unavailable(&v.validate(&token).await));
    assert_eq!(server.hits(PATH), 1, "1 ms before the end of the backoff");
    // After it: one retry, which succeeds.
    serve_jwks(&server, PATH, &jwks(&[("rsa-a", "a")]));
    time.advance(Duration::from_millis(1));
    v.validate(&token).await.expect("valid after recovery");
    assert_eq!(server.hits(PATH), 2);
    assert_eq!(v.status().consecutive_failures, 0);
}

#[tokio::test]
async fn stale_keys_serve_during_an_outage_then_keys_unavailable() {
    let server = TestServer::start().await;
    // No Cache-Control: default_ttl applies.
    server.set(PATH, Reply::json(200, &jwks(&[("rsa-a", "a")])));
    let mut cfg = fast();
    cfg.default_ttl = Duration::from_millis(300);
    cfg.stale_if_error = Duration::from_millis(1000);
    cfg.retry_backoff = Duration::from_millis(50);
    let time = clock(&cfg);
    let v = validator(&server, cfg);
    let token = rs256("rsa-a", "a");
    v.validate(&token).await.expect("valid");
    server.set(PATH, Reply::status(503));

    // Past the TTL: the refresh fails, the last good keys are used.
    time.advance(Duration::from_millis(300));
    v.validate(&token).await.expect("stale keys still used");
    let status = v.status();
    assert!(status.stale && !status.fresh, "{status:?}");
    assert!(status.failure_count >= 1);

    // Past TTL + stale window: 503-class error, never a 401.
    time.advance(Duration::from_millis(1000));
    let r = v.validate(&token).await;
    assert!(is_unavailable(&r), "{r:?}");
    let status = v.status();
    assert!(!status.stale && !status.fresh);

    // Recovery once the retry backoff (capped at the cooldown) has passed.
    server.set(PATH, Reply::json(200, &jwks(&[("rsa-a", "a")])));
    time.advance(Duration::from_millis(300));
    v.validate(&token).await.expect("valid again");
    assert!(v.status().fresh);
}

#[tokio::test]
async fn redirects_are_refused() {
    let server = TestServer::start().await;
    serve_jwks(&server, "/elsewhere", &jwks(&[("rsa-a", "a")]));
    server.set(
        PATH,
        Reply::status(302).header("location", &server.url("/elsewhere")),
    );
    let v = validator(&server, fast());
    let r = v.validate(&rs256("rsa-a", "a")).await;
    assert!(is_unavailable(&r), "{r:?}");
    assert!(r.unwrap_err().to_string().contains("redirect"));
    assert_eq!(server.hits("/elsewhere"), 0);
}

#[tokio::test]
async fn oversize_bodies_and_too_many_keys_are_refused() {
    let server = TestServer::start().await;
    let big = json!({"keys": [], "padding": "x".repeat(4096)});
    server.set(PATH, Reply::json(200, &big));
    let mut cfg = fast();
    cfg.max_body_bytes = 1024;
    let v = validator(&server, cfg);
    let r = v.validate(&rs256("rsa-a", "a")).await;
    assert!(is_unavailable(&r), "{r:?}");
    assert!(
        v.status()
            .last_error
            .unwrap_or_default()
            .contains("exceeds 1024 bytes")
    );

    server.set(
        "/many",
        Reply::json(200, &jwks(&[("rsa-a", "a"), ("rsa-b", "b"), ("ec-p256", "c")])),
    );
    let mut cfg = fast();
    cfg.max_keys = 2;
    let v = JwtValidator::new(config(KeySource::JwksUrl(server.url("/many")), cfg)).expect("validator");
    let r = v.validate(&rs256("rsa-a", "a")).await;
    assert!(is_unavailable(&r), "{r:?}");
    assert!(
        v.status()
            .last_error
            .unwrap_or_default()
            .contains("more than the limit")
    );
}

#[tokio::test]
async fn non_200_and_invalid_documents_are_fetch_failures() {
    let server = TestServer::start().await;
    server.set(PATH, Reply::status(404));
    let r = validator(&server, fast()).validate(&rs256("rsa-a", "a")).await;
    assert!(is_unavailable(&r) && r.unwrap_err().to_string().contains("404"));
    server.set("/notjson", Reply::status(200));
    let v = JwtValidator::new(config(KeySource::JwksUrl(server.url("/notjson")), fast())).expect("validator");
    assert!(is_unavailable(&v.validate(&rs256("rsa-a", "a")).await));
}

#[tokio::test]
async fn https_is_required_except_for_loopback() {
    for url in [
        "http://idp.example.com/keys",
        "http://10.1.2.3/keys",
        "ftp://idp.example.com/keys",
    ] {
        let e = JwtValidator::new(config(KeySource::JwksUrl(url.into()), fast())).unwrap_err();
        assert_eq!(e.code(), "invalid_argument", "{url}");
    }
    for url in [
        "https://idp.example.com/keys",
        "http://127.0.0.1:1/keys",
        "http://localhost:1/keys",
        "http://[::1]:1/keys",
    ] {
        assert!(
            JwtValidator::new(config(KeySource::JwksUrl(url.into()), fast())).is_ok(),
            "{url}"
        );
    }
    let mut cfg = fast();
    cfg.dangerous_allow_insecure_http = true;
    assert!(
        JwtValidator::new(config(
            KeySource::JwksUrl("http://idp.example.com/keys".into()),
            cfg
        ))
        .is_ok()
    );
}

#[tokio::test]
async fn cache_control_max_age_sets_the_ttl_within_bounds() {
    let server = TestServer::start().await;
    server.set(
        PATH,
        Reply::json(200, &jwks(&[("rsa-a", "a")])).header("cache-control", "public, max-age=120"),
    );
    let v = validator(&server, fast());
    v.validate(&rs256("rsa-a", "a")).await.expect("valid");
    // On a clock standing still, exactly the max-age.
    assert_eq!(v.status().expires_in, Some(Duration::from_secs(120)));

    server.set(
        "/long",
        Reply::json(200, &jwks(&[("rsa-a", "a")])).header("cache-control", "max-age=9999999"),
    );
    let v = JwtValidator::new(config(KeySource::JwksUrl(server.url("/long")), fast())).expect("validator");
    v.refresh().await.expect("refresh");
    assert_eq!(
        v.status().expires_in,
        Some(Duration::from_secs(24 * 3600)),
        "capped at max_ttl"
    );
}

#[tokio::test]
async fn refresh_ahead_replaces_keys_in_the_background() {
    let server = TestServer::start().await;
    server.set(PATH, Reply::json(200, &jwks(&[("rsa-a", "a")])));
    let mut cfg = fast();
    cfg.default_ttl = Duration::from_millis(500);
    let time = clock(&cfg);
    let v = validator(&server, cfg);
    let token = rs256("rsa-a", "a");
    v.validate(&token).await.expect("valid");
    // Before 80 % of the TTL: no refresh.
    time.advance(Duration::from_millis(399));
    v.validate(&token).await.expect("valid");
    assert_eq!(server.hits(PATH), 1);
    // Past 80 % of the TTL, but not expired: served from cache, refresh starts behind. The
    // refresh's reply is held, so a validation that waited for it could not return.
    time.advance(Duration::from_millis(1));
    let gate = Gate::new();
    server.set(PATH, Reply::json(200, &jwks(&[("rsa-a", "a")])).held(&gate));
    v.validate(&token).await.expect("valid");
    assert!(
        eventually(DEADLINE, || server.hits(PATH) == 2).await,
        "the refresh was sent"
    );
    assert!(v.status().fetching, "the refresh is still in flight");
    gate.open();
    assert!(eventually(DEADLINE, || !v.status().fetching).await);
    assert_eq!(
        v.status().expires_in,
        Some(Duration::from_millis(500)),
        "fresh again"
    );
}

#[tokio::test]
async fn etag_revalidation_keeps_the_keys_on_304() {
    let server = TestServer::start().await;
    let body = jwks(&[("rsa-a", "a")]);
    server.handle(PATH, move |req| {
        if req.headers.get("if-none-match").map(String::as_str) == Some("\"v1\"") {
            Reply::status(304).header("etag", "\"v1\"")
        } else {
            Reply::json(200, &body).header("etag", "\"v1\"")
        }
    });
    let v = validator(&server, fast());
    v.refresh().await.expect("first fetch");
    v.refresh().await.expect("revalidation");
    let requests = server.requests(PATH);
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[1].headers.get("if-none-match").map(String::as_str),
        Some("\"v1\"")
    );
    v.validate(&rs256("rsa-a", "a")).await.expect("keys kept on 304");
    assert_eq!(v.status().generation, 0);
}

#[tokio::test]
async fn removing_a_kid_flushes_the_verified_token_cache() {
    let server = TestServer::start().await;
    serve_jwks(&server, PATH, &jwks(&[("rsa-a", "a"), ("rsa-b", "b")]));
    let mut c = config(KeySource::JwksUrl(server.url(PATH)), fast());
    c.token_cache_capacity = 100;
    let v = JwtValidator::new(c).expect("validator");
    let (ta, tb) = (rs256("rsa-a", "a"), rs256("rsa-b", "b"));
    v.validate(&ta).await.expect("valid");
    v.validate(&tb).await.expect("valid");
    let gen0 = v.status().generation;

    // Adding a key changes nothing.
    serve_jwks(
        &server,
        PATH,
        &jwks(&[("rsa-a", "a"), ("rsa-b", "b"), ("ec-p256", "c")]),
    );
    v.refresh().await.expect("refresh");
    assert_eq!(v.status().generation, gen0);

    // Retiring a key: its tokens stop validating at once, cached or not.
    serve_jwks(&server, PATH, &jwks(&[("rsa-b", "b")]));
    v.refresh().await.expect("refresh");
    assert_eq!(v.status().generation, gen0 + 1);
    assert!(is_unknown_kid(&v.validate(&ta).await));
    v.validate(&tb).await.expect("the other key still validates");
}

#[tokio::test]
async fn cache_hits_still_refresh_keys_and_notice_a_retired_kid() {
    let server = TestServer::start().await;
    server.set(PATH, Reply::json(200, &jwks(&[("rsa-a", "a"), ("rsa-b", "b")])));
    let mut cfg = fast();
    cfg.default_ttl = Duration::from_millis(300);
    cfg.cooldown = Duration::from_millis(50);
    let time = clock(&cfg);
    let mut c = config(KeySource::JwksUrl(server.url(PATH)), cfg);
    c.token_cache_capacity = 100;
    let v = JwtValidator::new(c).expect("validator");
    let token = rs256("rsa-a", "a");
    v.validate(&token).await.expect("valid");
    server.set(PATH, Reply::json(200, &jwks(&[("rsa-b", "b")])));
    // Only cache hits from here on; past the refresh-ahead point (80 % of the TTL) the first one
    // starts the refresh that retires "a", and once it is in, the token stops validating.
    v.validate(&token).await.expect("a cache hit");
    assert_eq!(server.hits(PATH), 1);
    time.advance(Duration::from_millis(240));
    v.validate(&token)
        .await
        .expect("still a cache hit, the refresh runs behind it");
    assert!(
        eventually(DEADLINE, || server.hits(PATH) == 2 && !v.status().fetching).await,
        "the cache hit drove a refresh"
    );
    assert_eq!(
        v.validate(&token).await,
        Err(Error::InvalidToken(TokenError::UnknownKeyId))
    );
}

#[tokio::test]
async fn overlong_kids_are_unknown_without_a_fetch() {
    let server = TestServer::start().await;
    serve_jwks(&server, PATH, &jwks(&[("rsa-a", "a")]));
    let mut cfg = fast();
    cfg.cooldown = Duration::ZERO;
    let v = validator(&server, cfg);
    v.validate(&rs256("rsa-a", "a")).await.expect("valid");
    let long_kid = "k".repeat(300);
    assert!(is_unknown_kid(&v.validate(&rs256("rsa-b", &long_kid)).await));
    assert_eq!(server.hits(PATH), 1);
}

#[tokio::test]
async fn discovery_finds_the_jwks_and_pins_the_issuer() {
    let server = TestServer::start().await;
    let issuer = server.base();
    server.set(
        "/.well-known/openid-configuration",
        Reply::json(
            200,
            &json!({"issuer": issuer, "jwks_uri": server.url("/oauth/jwks")}),
        ),
    );
    serve_jwks(&server, "/oauth/jwks", &jwks(&[("rsa-a", "a")]));
    let mut c = ValidatorConfig::discovery(issuer.clone());
    c.jwks = fast();
    let v = JwtValidator::new(c).expect("validator");
    let mut claims = support::claims();
    claims["iss"] = json!(issuer);
    claims.as_object_mut().expect("object").remove("aud");
    let token = support::sign::sign(support::key("rsa-a"), "RS256", Some("a"), json!({}), &claims);
    v.validate(&token).await.expect("valid via discovery");
    assert_eq!(server.hits("/oauth/jwks"), 1);

    // A discovery document naming another issuer is refused.
    let other = TestServer::start().await;
    other.set(
        "/.well-known/openid-configuration",
        Reply::json(
            200,
            &json!({"issuer": "https://evil.test", "jwks_uri": other.url("/oauth/jwks")}),
        ),
    );
    serve_jwks(&other, "/oauth/jwks", &jwks(&[("rsa-a", "a")]));
    let mut c = ValidatorConfig::discovery(other.base());
    c.jwks = fast();
    let v = JwtValidator::new(c).expect("validator");
    let r = v.validate(&token).await;
    assert!(is_unavailable(&r), "{r:?}");
    assert!(
        r.unwrap_err()
            .to_string()
            .contains("does not equal the configured issuer")
    );
    assert_eq!(other.hits("/oauth/jwks"), 0);

    assert_eq!(
        JwtValidator::new(ValidatorConfig::new(KeySource::Discovery))
            .unwrap_err()
            .code(),
        "invalid_argument"
    );
}

/// A provider standing for a store shared by several nodes: another node rotates keys.
#[derive(Debug)]
struct SharedStoreKeys {
    calls: AtomicUsize,
    set: std::sync::Mutex<JwkSet>,
}

#[async_trait]
impl KeyProvider for SharedStoreKeys {
    async fn jwks(&self) -> Result<JwkSet> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(self.set.lock().expect("set").clone())
    }
}

fn model_set(entries: &[(&str, &str)]) -> JwkSet {
    serde_json::from_value::<JwkSet>(jwks(entries)).expect("JwkSet")
}

#[tokio::test]
async fn local_provider_gets_the_same_refetch_machinery() {
    let provider = Arc::new(SharedStoreKeys {
        calls: AtomicUsize::new(0),
        set: std::sync::Mutex::new(model_set(&[("rsa-a", "a")])),
    });
    let mut cfg = fast();
    cfg.cooldown = Duration::from_millis(50);
    let time = clock(&cfg);
    let v = JwtValidator::new(config(KeySource::Provider(provider.clone()), cfg)).expect("validator");
    v.validate(&rs256("rsa-a", "a")).await.expect("valid");
    *provider.set.lock().expect("set") = model_set(&[("rsa-b", "b"), ("rsa-a", "a")]);
    time.advance(Duration::from_millis(50));
    v.validate(&rs256("rsa-b", "b"))
        .await
        .expect("key rotated elsewhere is picked up");
    assert_eq!(provider.calls.load(Ordering::SeqCst), 2);
}

#[derive(Debug)]
struct BrokenStore;

#[async_trait]
impl KeyProvider for BrokenStore {
    async fn jwks(&self) -> Result<JwkSet> {
        Err(Error::Store("connection refused".into()))
    }
}

#[tokio::test]
async fn a_failing_provider_means_keys_unavailable() {
    let v = JwtValidator::new(config(KeySource::Provider(Arc::new(BrokenStore)), fast())).expect("validator");
    let e = v.validate(&rs256("rsa-a", "a")).await.unwrap_err();
    assert_eq!((e.code(), e.http_status()), ("keys_unavailable", 503));
    assert!(e.to_string().contains("connection refused"), "{e}");
}

#[test]
fn synchronous_callers_validate_on_their_thread_and_block_only_to_fetch() {
    let rt = one_worker_runtime();
    let server = rt.block_on(TestServer::start());
    serve_jwks(&server, PATH, &jwks(&[("rsa-a", "a")]));
    let mut c = config(KeySource::JwksUrl(server.url(PATH)), fast());
    c.runtime = Some(rt.handle().clone());
    let v = JwtValidator::new(c).expect("validator");
    let token = rs256("rsa-a", "a");

    assert!(matches!(v.try_validate(&token), SyncValidation::NeedsFetch));
    assert_eq!(server.hits(PATH), 0, "try_validate never does I/O");
    let claims = v.validate_blocking(&token).expect("valid");
    assert_eq!(claims.organization_id(), Some("org_1"));
    match v.try_validate(&token) {
        SyncValidation::Done(r) => assert!(r.is_ok()),
        SyncValidation::NeedsFetch => panic!("keys are cached"),
    }
    assert_eq!(server.hits(PATH), 1);

    // Without a runtime handle, blocking is refused with a clear error rather than a hidden runtime.
    let other = JwksCache::from_url(&server.url("/other"), fast()).expect("cache");
    let mut c = config(KeySource::Cache(other), fast());
    c.runtime = None;
    let v = JwtValidator::new(c).expect("validator");
    assert!(
        v.validate_blocking(&token)
            .unwrap_err()
            .to_string()
            .contains("runtime")
    );
}
