//! Shared code of the JWT, JWKS and OAuth integration tests.
#![allow(dead_code)]

pub mod server;
pub mod sign;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

#[allow(unused_imports)]
pub use server::{Gate, Recorded, Reply, TestServer};
pub use sign::TestKey;

pub const ISSUER: &str = "https://auth.authgate.test";
pub const AUDIENCE: &str = "https://api.authgate.test";

/// The committed test keys (`tests/vectors/keys.json`).
pub fn keys() -> &'static BTreeMap<String, TestKey> {
    static KEYS: OnceLock<BTreeMap<String, TestKey>> = OnceLock::new();
    KEYS.get_or_init(sign::load_keys)
}

pub fn key(name: &str) -> &'static TestKey {
    &keys()[name]
}

/// A JWK Set of `(key name, kid)` pairs.
pub fn jwks(entries: &[(&str, &str)]) -> Value {
    let keys: Vec<Value> = entries
        .iter()
        .map(|(k, kid)| key(k).public_jwk(Some(kid), None))
        .collect();
    json!({ "keys": keys })
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// Standard claims valid for an hour.
pub fn claims() -> Value {
    json!({
        "iss": ISSUER,
        "sub": "m2morg_1",
        "client_id": "m2morg_1",
        "oid": "org_1",
        "aud": [AUDIENCE],
        "scopes": ["read", "write"],
        "iat": now(),
        "exp": now() + 3600,
    })
}

/// An RS256 token signed by `key_name` with `kid`.
pub fn rs256(key_name: &str, kid: &str) -> String {
    sign::sign(key(key_name), "RS256", Some(kid), json!({}), &claims())
}

/// Serves `jwks` at `path` with `Cache-Control: max-age=300`.
pub fn serve_jwks(server: &TestServer, path: &str, jwks: &Value) {
    server.set(
        path,
        Reply::json(200, jwks).header("cache-control", "max-age=300"),
    );
}

/// `n` calls at once, each on its own task; their results, in order.
pub async fn concurrently<T, F>(n: usize, call: impl Fn() -> F) -> Vec<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let tasks: Vec<_> = (0..n).map(|_| tokio::spawn(call())).collect();
    let mut results = Vec::with_capacity(n);
    for task in tasks {
        results.push(task.await.expect("task"));
    }
    results
}

/// A multi-threaded runtime with one worker, for the synchronous (blocking) paths.
pub fn one_worker_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Polls `cond` every 10 ms for up to `within`.
pub async fn eventually(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if cond() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
