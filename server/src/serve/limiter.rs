//! Brute-force limits: failed client authentications at `/oauth/token` and failed management
//! authentications, counted per client id and per source address in fixed windows. Once a key
//! (a client id or an address) has failed [`AuthLimits::per_client`] /
//! [`AuthLimits::per_address`] times in the current window, its requests are answered 429 with
//! `Retry-After` (the seconds left in the window) *before* any secret is looked at, until the
//! window ends — the right secret included, so guessing cannot continue at any rate.
//!
//! The counts are per node (in this process's memory): with N nodes behind a balancer an
//! attacker gets at most N times the limit. Memory is bounded: at most [`MAX_TRACKED`] keys per
//! kind; when full, expired windows are dropped first, and keys that still do not fit are not
//! counted (the address limit still applies to them). IPv6 addresses are counted per /64, the
//! block one subscriber usually holds.
//!
//! Which address counts: [`network::client_address`] with [`AuthLimits::trusted_proxies`]
//! (`--trusted-proxies`), the rule the adapters and API-key allowlists follow too.
//!
//! Time: windows are measured on a monotonic clock, or — for tests only — on a clock read from
//! a file (`--dangerous-test-clock-file`, whole seconds), which tests advance instead of sleeping.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;

/// Most keys of one kind (client ids, addresses) counted at once.
pub const MAX_TRACKED: usize = 100_000;

/// The remote address of a connection, put in every request's extensions by the listener.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

pub use authgate_core::policy::network::IpNet;
use authgate_core::policy::network::{self, canonical};

/// The key an address is counted under: IPv4 as is, IPv6 by its /64.
pub(crate) fn address_key(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & (u128::MAX << 64);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
        v4 => v4,
    }
}

/// The limits (flags `--auth-failures-per-client`, `--auth-failures-per-address`,
/// `--auth-failure-window`, `--trusted-proxies`).
#[derive(Debug, Clone)]
pub struct AuthLimits {
    /// Failed authentications of one client id per window; 0 = no limit.
    pub per_client: u32,
    /// Failed authentications from one address per window; 0 = no limit.
    pub per_address: u32,
    /// The window.
    pub window: Duration,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
}

/// Where time comes from.
#[derive(Debug)]
pub enum Clock {
    /// A monotonic clock.
    Monotonic(Instant),
    /// Whole seconds read from a file on every call: for tests only.
    DangerousFile(PathBuf),
}

impl Clock {
    fn now(&self) -> u64 {
        match self {
            Clock::Monotonic(start) => start.elapsed().as_secs(),
            Clock::DangerousFile(path) => std::fs::read_to_string(path)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: u64,
    failures: u32,
}

#[derive(Debug)]
struct Counts<K> {
    map: Mutex<HashMap<K, Window>>,
}

impl<K: std::hash::Hash + Eq + Clone> Counts<K> {
    fn new() -> Self {
        Counts {
            map: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds until `key` may try again, when it is over `limit` now.
    fn blocked(&self, key: &K, limit: u32, now: u64, window: u64) -> Option<u64> {
        if limit == 0 {
            return None;
        }
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let w = map.get(key)?;
        let end = w.start + window;
        (now < end && w.failures >= limit).then(|| (end - now).max(1))
    }

    /// Counts a failure of `key`; returns whether the key is now over `limit`.
    fn fail(&self, key: &K, limit: u32, now: u64, window: u64) -> bool {
        if limit == 0 {
            return false;
        }
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if !map.contains_key(key) && map.len() >= MAX_TRACKED {
            map.retain(|_, w| now < w.start + window);
            if map.len() >= MAX_TRACKED {
                return false;
            }
        }
        let w = map.entry(key.clone()).or_insert(Window {
            start: now,
            failures: 0,
        });
        if now >= w.start + window {
            *w = Window {
                start: now,
                failures: 0,
            };
        }
        w.failures = w.failures.saturating_add(1);
        w.failures >= limit
    }
}

/// The failure counters of one node.
#[derive(Debug)]
pub struct AuthLimiter {
    limits: AuthLimits,
    clock: Clock,
    clients: Counts<String>,
    addresses: Counts<IpAddr>,
}

impl AuthLimiter {
    /// Counters with `limits`, timed by `clock`.
    pub fn new(limits: AuthLimits, clock: Clock) -> Self {
        AuthLimiter {
            limits,
            clock,
            clients: Counts::new(),
            addresses: Counts::new(),
        }
    }

    /// The limits.
    pub fn limits(&self) -> &AuthLimits {
        &self.limits
    }

    /// The address a request counts under: the peer, or — from a trusted proxy — the nearest
    /// untrusted `X-Forwarded-For` entry.
    pub fn source(&self, peer: Option<&Peer>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = peer?.0.ip();
        let mut values = Vec::new();
        for value in headers.get_all("x-forwarded-for") {
            match value.to_str() {
                Ok(text) => values.push(text),
                // Not text: a malformed chain, believed no further than the proxy.
                Err(_) => values.push(","),
            }
        }
        Some(network::client_address(
            peer,
            values,
            &self.limits.trusted_proxies,
        ))
    }

    /// Seconds to wait when `client_id` or `address` is over its limit.
    pub fn blocked(&self, client_id: Option<&str>, address: Option<IpAddr>) -> Option<u64> {
        let now = self.clock.now();
        let window = self.limits.window.as_secs().max(1);
        let by_address = address.and_then(|a| {
            self.addresses
                .blocked(&address_key(a), self.limits.per_address, now, window)
        });
        let by_client = client_id.and_then(|c| {
            self.clients
                .blocked(&c.to_owned(), self.limits.per_client, now, window)
        });
        by_address.max(by_client)
    }

    /// Counts a failed authentication; returns whether a limit was just reached.
    pub fn failed(&self, client_id: Option<&str>, address: Option<IpAddr>) -> bool {
        let now = self.clock.now();
        let window = self.limits.window.as_secs().max(1);
        let a = address.is_some_and(|a| {
            self.addresses
                .fail(&address_key(a), self.limits.per_address, now, window)
        });
        // Only well-formed-looking ids are worth a slot; anything else is counted by address.
        let c = client_id.filter(|c| c.len() <= 128).is_some_and(|c| {
            self.clients
                .fail(&c.to_owned(), self.limits.per_client, now, window)
        });
        a || c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn limiter(clock_file: &std::path::Path, trusted: &[&str]) -> AuthLimiter {
        AuthLimiter::new(
            AuthLimits {
                per_client: 3,
                per_address: 5,
                window: Duration::from_secs(60),
                trusted_proxies: trusted.iter().map(|s| s.parse().unwrap()).collect(),
            },
            Clock::DangerousFile(clock_file.to_owned()),
        )
    }

    #[test]
    fn windows_and_keys() {
        let dir = tempfile::tempdir().unwrap();
        let clock = dir.path().join("clock");
        std::fs::write(&clock, "1000").unwrap();
        let l = limiter(&clock, &[]);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(!l.failed(Some("m2morg_1"), Some(a)));
        assert!(!l.failed(Some("m2morg_1"), Some(a)));
        assert_eq!(l.blocked(Some("m2morg_1"), Some(b)), None);
        assert!(l.failed(Some("m2morg_1"), Some(a)));
        // The id is blocked from any address; the address is not yet blocked for other ids.
        assert_eq!(l.blocked(Some("m2morg_1"), Some(b)), Some(60));
        assert_eq!(l.blocked(Some("m2morg_2"), Some(a)), None);
        std::fs::write(&clock, "1030").unwrap();
        assert_eq!(l.blocked(Some("m2morg_1"), None), Some(30));
        std::fs::write(&clock, "1060").unwrap();
        assert_eq!(l.blocked(Some("m2morg_1"), None), None);
        // Five failures from one address, whatever the ids.
        for i in 0..5 {
            l.failed(Some(&format!("m2morg_x{i}")), Some(b));
        }
        assert_eq!(l.blocked(Some("m2morg_new"), Some(b)), Some(60));
        // IPv6 per /64.
        let v6a: IpAddr = "2001:db8::1".parse().unwrap();
        let v6b: IpAddr = "2001:db8::ffff:2".parse().unwrap();
        for _ in 0..5 {
            l.failed(None, Some(v6a));
        }
        assert!(l.blocked(None, Some(v6b)).is_some());
    }

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let dir = tempfile::tempdir().unwrap();
        let l = limiter(&dir.path().join("clock"), &["10.0.0.0/8"]);
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("198.51.100.7, 203.0.113.9, 10.1.2.3"),
        );
        let proxy = Peer("10.0.0.1:4000".parse().unwrap());
        let stranger = Peer("192.0.2.50:4000".parse().unwrap());
        assert_eq!(l.source(Some(&proxy), &h), Some("203.0.113.9".parse().unwrap()));
        assert_eq!(l.source(Some(&stranger), &h), Some("192.0.2.50".parse().unwrap()));
        h.insert("x-forwarded-for", HeaderValue::from_static("junk"));
        assert_eq!(l.source(Some(&proxy), &h), Some("10.0.0.1".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<IpNet>().is_err());
        assert!("::1".parse::<IpNet>().unwrap().contains("::1".parse().unwrap()));
    }
}
