//! The HTTP client behind JWKS, discovery and token-endpoint requests (used by [`jwt`](crate::jwt)
//! and [`oauth`](crate::oauth)), and the loopback check the remote client shares.
//!
//! One process-wide `reqwest` client that never follows redirects (a redirect is an error: it
//! would let whoever controls the first URL choose where keys or secrets come from and go),
//! keeps no idle connections (these requests are rare, and a pooled connection must not outlive
//! the tokio runtime that opened it), and reads bodies under a byte cap.

use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use url::Url;

use crate::error::{Error, Result};

/// The `User-Agent` of every request.
pub(crate) const USER_AGENT: &str = concat!("authgate/", env!("CARGO_PKG_VERSION"));

pub(crate) fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(0)
            .user_agent(USER_AGENT)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new())
    })
}

/// Whether `url` names a loopback host: `localhost`, `127.0.0.0/8` or `::1`.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Parses `raw` and enforces the transport policy: `https`, or plain `http` to a loopback host
/// (or anywhere when `allow_insecure_http` — a `dangerous_` switch — is set). No credentials in
/// the URL, no fragment.
pub(crate) fn checked_url(raw: &str, field: &str, allow_insecure_http: bool) -> Result<Url> {
    let url = Url::parse(raw).map_err(|e| Error::invalid(field, format!("{raw:?} is not a URL: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_insecure_http || is_loopback(&url) => {}
        "http" => {
            return Err(Error::invalid(
                field,
                format!("{raw:?} must use https (plain http is only allowed to loopback hosts)"),
            ));
        }
        other => return Err(Error::invalid(field, format!("unsupported URL scheme {other:?}"))),
    }
    if url.host().is_none() {
        return Err(Error::invalid(field, format!("{raw:?} has no host")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::invalid(field, "the URL must not carry credentials"));
    }
    if url.fragment().is_some() {
        return Err(Error::invalid(field, "the URL must not have a fragment"));
    }
    Ok(url)
}

/// A response read in full.
#[derive(Debug)]
pub(crate) struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// Why a request failed before a complete response was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The whole exchange took longer than the timeout.
    Timeout,
    /// Connection refused, reset, DNS, TLS…
    Network(String),
    /// The body exceeds the cap.
    TooLarge,
}

impl Failure {
    pub(crate) fn describe(&self, timeout: Duration, cap: usize) -> String {
        match self {
            Failure::Timeout => format!("timed out after {timeout:?}"),
            Failure::Network(e) => e.clone(),
            Failure::TooLarge => format!("response body exceeds {cap} bytes"),
        }
    }
}

fn failure(e: reqwest::Error) -> Failure {
    if e.is_timeout() {
        return Failure::Timeout;
    }
    // The chain carries the useful part ("connection refused", "invalid peer certificate"…).
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    Failure::Network(text)
}

/// Sends `request` (which must already carry its timeout) and reads the body, refusing bodies
/// over `cap` bytes both from `Content-Length` and while streaming.
pub(crate) async fn send(request: reqwest::RequestBuilder, cap: usize) -> Result<Response, Failure> {
    let mut response = request.send().await.map_err(failure)?;
    if response.content_length().is_some_and(|len| len > cap as u64) {
        return Err(Failure::TooLarge);
    }
    let status = response.status().as_u16();
    let headers = std::mem::take(response.headers_mut());
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(failure)? {
        if body.len() + chunk.len() > cap {
            return Err(Failure::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// `max-age` from `Cache-Control`, or `Some(0)` for `no-store`/`no-cache`; `None` when absent.
pub(crate) fn cache_max_age(headers: &HeaderMap) -> Option<Duration> {
    let mut max_age = None;
    for value in headers.get_all(reqwest::header::CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',') {
            let directive = directive.trim();
            let (name, arg) = match directive.split_once('=') {
                Some((n, a)) => (n.trim(), Some(a.trim().trim_matches('"'))),
                None => (directive, None),
            };
            if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
                return Some(Duration::ZERO);
            }
            if name.eq_ignore_ascii_case("max-age")
                && let Some(secs) = arg.and_then(|a| a.parse::<u64>().ok())
            {
                max_age = Some(Duration::from_secs(secs));
            }
        }
    }
    max_age
}

/// A header value from a string we produced (never fails for ASCII without control characters).
pub(crate) fn header_value(value: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_policy() {
        assert!(checked_url("https://idp.example/keys", "u", false).is_ok());
        assert!(checked_url("http://127.0.0.1:8080/keys", "u", false).is_ok());
        assert!(checked_url("http://127.9.9.9/keys", "u", false).is_ok());
        assert!(checked_url("http://[::1]:80/keys", "u", false).is_ok());
        assert!(checked_url("http://localhost/keys", "u", false).is_ok());
        assert!(checked_url("http://LOCALHOST/keys", "u", false).is_ok());
        let e = checked_url("http://idp.example/keys", "jwks_url", false).unwrap_err();
        assert_eq!(e.code(), "invalid_argument");
        assert!(e.to_string().contains("https"), "{e}");
        assert!(checked_url("http://idp.example/keys", "u", true).is_ok());
        assert!(checked_url("http://localhost.evil.example/keys", "u", false).is_err());
        assert!(checked_url("http://10.0.0.1/keys", "u", false).is_err());
        assert!(checked_url("ftp://idp.example/keys", "u", false).is_err());
        assert!(checked_url("https://user:pw@idp.example/keys", "u", false).is_err());
        assert!(checked_url("https://idp.example/keys#x", "u", false).is_err());
        assert!(checked_url("not a url", "u", false).is_err());
    }

    #[test]
    fn cache_control_parsing() {
        assert_eq!(cache_max_age(&HeaderMap::new()), None);
        for (value, max_age) in [
            ("public, max-age=600", Some(600)),
            ("max-age=\"30\", must-revalidate", Some(30)),
            ("no-store", Some(0)),
            ("max-age=abc", None),
        ] {
            let mut h = HeaderMap::new();
            h.insert("cache-control", HeaderValue::from_static(value));
            assert_eq!(cache_max_age(&h), max_age.map(Duration::from_secs), "{value}");
        }
    }
}
