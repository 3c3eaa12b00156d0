//! Request ids: taken from `x-request-id` when the caller sends a sane one, generated otherwise,
//! echoed on the response, attached to the request's log span and to error bodies.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{HeaderMap, HeaderName, HeaderValue};

/// The header carrying the request id, in and out.
pub static HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest accepted incoming request id.
const MAX_LEN: usize = 128;

tokio::task_local! {
    static CURRENT: HeaderValue;
}

/// Runs `fut` with `id` as the current request id (read by [`current`]).
pub async fn scope<F: Future>(id: HeaderValue, fut: F) -> F::Output {
    CURRENT.scope(id, fut).await
}

/// The id of the request being handled, if any.
pub fn current() -> Option<String> {
    CURRENT
        .try_with(|id| id.to_str().ok().map(str::to_owned))
        .ok()
        .flatten()
}

/// The caller's request id when it is 1–128 characters of `[A-Za-z0-9._:-]`, else a new one.
pub fn from_headers(headers: &HeaderMap) -> HeaderValue {
    if let Some(value) = headers.get(&HEADER) {
        let bytes = value.as_bytes();
        if !bytes.is_empty()
            && bytes.len() <= MAX_LEN
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
        {
            return value.clone();
        }
    }
    generate()
}

/// A new id: 64 random bits fixed at start-up plus a counter, as 32 hex digits. Unique per
/// process run, cheap (no syscall, no lock).
pub fn generate() -> HeaderValue {
    static PREFIX: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(random_u64);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let text = format!("{prefix:016x}{n:016x}");
    HeaderValue::from_str(&text).expect("hex digits are a valid header value")
}

fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is seeded from the OS RNG; mixing in the time and pid gives distinct
    // prefixes across restarts. Request ids need uniqueness, not secrecy.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.write_u32(std::process::id());
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_sane_ids_and_replaces_others() {
        let mut h = HeaderMap::new();
        h.insert(&HEADER, HeaderValue::from_static("abc-123_x.y:z"));
        assert_eq!(from_headers(&h), "abc-123_x.y:z");
        h.insert(&HEADER, HeaderValue::from_static("bad id with spaces"));
        assert_ne!(from_headers(&h), "bad id with spaces");
        h.insert(&HEADER, HeaderValue::from_str(&"a".repeat(200)).unwrap());
        assert_eq!(from_headers(&h).len(), 32);
        let (a, b) = (generate(), generate());
        assert_ne!(a, b);
    }
}
