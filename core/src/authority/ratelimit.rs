//! Per-key rate limits (an authgate extension): at most `limit` successful validations of a key
//! per fixed window of `window_seconds`, windows aligned to the Unix epoch, so every process
//! sharing a store agrees on where a window starts.
//!
//! **One process** (a server on SQLite, an embedded authority): the count is in memory, exact.
//! Processes on one SQLite file each count on their own: N processes allow up to N × `limit`.
//!
//! **Several processes on PostgreSQL**: the window's budget lives in the database
//! (`authgate_rate_windows`), and each process *leases* part of it — [`lease_size`]
//! validations at a time, taken in one short transaction — then counts them down in memory. So a
//! validation writes to the database once per lease, never once per request, and the leases
//! granted never add up to more than `limit`: the processes together never exceed it. What a
//! process leased and did not use by the end of the window is lost, so under an uneven load the
//! keys may be held a little *below* their limit (by at most one lease per process per window).
//!
//! A validation over the limit fails with [`Error::RateLimited`](crate::Error::RateLimited),
//! `retry_after` being the seconds left in the window. Only valid keys are counted: an unknown,
//! revoked, expired or refused-by-address key never touches a budget.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::model::RateLimit;

/// Most keys whose windows are held at once; past it, ended windows are dropped first.
const MAX_TRACKED: usize = 100_000;
/// A lease is about this fraction of the limit (1/`LEASE_PARTS`), so a busy key costs about
/// `LEASE_PARTS` writes per window per process.
const LEASE_PARTS: u64 = 20;
/// Largest lease, so one process cannot hold much of a large budget unused.
const MAX_LEASE: u64 = 1_000;

/// Validations taken per lease for a key with this limit.
pub(crate) fn lease_size(limit: u64) -> u64 {
    (limit / LEASE_PARTS).clamp(1, MAX_LEASE)
}

/// Where the window of `rate` containing `now_ms` starts (Unix ms).
pub(crate) fn window_start(rate: RateLimit, now_ms: i64) -> i64 {
    let len = window_ms(rate);
    now_ms - now_ms.rem_euclid(len)
}

fn window_ms(rate: RateLimit) -> i64 {
    i64::try_from(rate.window_seconds.saturating_mul(1000))
        .unwrap_or(i64::MAX)
        .max(1)
}

/// Seconds from `now_ms` to the end of the window starting at `start_ms` (at least 1).
fn retry_after(rate: RateLimit, start_ms: i64, now_ms: i64) -> u64 {
    let left = start_ms.saturating_add(window_ms(rate)) - now_ms;
    u64::try_from(left.max(1)).unwrap_or(1).div_ceil(1000)
}

/// What a validation of a rate-limited key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Counted: the key validates.
    Allow,
    /// Over the limit: retry after this many seconds.
    Deny(u64),
    /// This process's lease is used up: take `want` more from the store's budget for the window
    /// starting at `start_ms`, then call [`RateLimiter::leased`].
    Lease { start_ms: i64, want: u64 },
}

#[derive(Debug)]
struct Window {
    /// The limit this window was counted against: a changed limit lifts `spent`.
    limit: u64,
    start_ms: i64,
    end_ms: i64,
    /// Validations counted in this window by this process.
    used: u64,
    /// Validations this process may count in this window.
    leased: u64,
    /// The shared budget is spent: no further lease will be granted in this window.
    spent: bool,
}

/// The windows of the keys this process has seen validating.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    /// Budgets are leased from the store (PostgreSQL) rather than held whole in memory.
    shared: bool,
    windows: Mutex<HashMap<String, Window>>,
}

impl RateLimiter {
    pub(crate) fn new(shared: bool) -> Self {
        RateLimiter {
            shared,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one validation of key `id` at `now_ms` against `rate`.
    pub(crate) fn take(&self, id: &str, rate: RateLimit, now_ms: i64) -> Decision {
        let start_ms = window_start(rate, now_ms);
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if !windows.contains_key(id) && windows.len() >= MAX_TRACKED {
            windows.retain(|_, w| w.end_ms > now_ms);
        }
        let w = match windows.get_mut(id) {
            Some(w) => w,
            None => windows.entry(id.to_owned()).or_insert(Window {
                limit: rate.limit,
                start_ms,
                end_ms: start_ms,
                used: 0,
                leased: 0,
                spent: false,
            }),
        };
        if w.start_ms != start_ms || w.end_ms == w.start_ms {
            *w = Window {
                limit: rate.limit,
                start_ms,
                end_ms: start_ms.saturating_add(window_ms(rate)),
                used: 0,
                leased: 0,
                spent: false,
            };
        }
        if w.limit != rate.limit {
            // The key's limit was updated: the store's budget is checked against the new one.
            w.limit = rate.limit;
            w.spent = false;
        }
        if !self.shared {
            // The whole budget is this process's (and follows an updated limit at once).
            w.leased = rate.limit;
        }
        if w.used < w.leased.min(rate.limit) {
            w.used += 1;
            return Decision::Allow;
        }
        if !self.shared || w.spent {
            return Decision::Deny(retry_after(rate, start_ms, now_ms));
        }
        Decision::Lease {
            start_ms,
            want: lease_size(rate.limit),
        }
    }

    /// Records a lease of `granted` of the `want` validations asked for the window starting at
    /// `start_ms`, and counts the validation that asked for it.
    pub(crate) fn leased(
        &self,
        id: &str,
        rate: RateLimit,
        start_ms: i64,
        want: u64,
        granted: u64,
        now_ms: i64,
    ) -> Decision {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let Some(w) = windows.get_mut(id).filter(|w| w.start_ms == start_ms) else {
            // The window ended while the lease was taken: what it granted is lost.
            return Decision::Deny(retry_after(rate, start_ms, now_ms));
        };
        w.leased = w.leased.saturating_add(granted);
        if granted < want {
            w.spent = true;
        }
        if w.used < w.leased {
            w.used += 1;
            Decision::Allow
        } else {
            Decision::Deny(retry_after(rate, start_ms, now_ms))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: RateLimit = RateLimit {
        limit: 3,
        window_seconds: 10,
    };

    #[test]
    fn exact_in_one_process() {
        let l = RateLimiter::new(false);
        let t = 1_000_000_000_000;
        for _ in 0..3 {
            assert_eq!(l.take("k", RATE, t), Decision::Allow);
        }
        assert_eq!(l.take("k", RATE, t + 2_500), Decision::Deny(8));
        assert_eq!(l.take("other", RATE, t), Decision::Allow);
        // The next window starts afresh.
        assert_eq!(l.take("k", RATE, t + 10_000), Decision::Allow);
    }

    #[test]
    fn shared_budgets_are_leased() {
        let l = RateLimiter::new(true);
        let t = 1_000_000_000_000;
        let Decision::Lease { start_ms, want } = l.take("k", RATE, t) else {
            panic!("expected a lease")
        };
        assert_eq!((start_ms, want), (t, 1));
        assert_eq!(l.leased("k", RATE, start_ms, want, 1, t), Decision::Allow);
        assert!(matches!(l.take("k", RATE, t), Decision::Lease { .. }));
        // The store had nothing left: denied until the window ends, without asking again.
        assert_eq!(l.leased("k", RATE, start_ms, 1, 0, t), Decision::Deny(10));
        assert_eq!(l.take("k", RATE, t + 1), Decision::Deny(10));
    }

    #[test]
    fn lease_sizes() {
        assert_eq!(lease_size(1), 1);
        assert_eq!(lease_size(100), 5);
        assert_eq!(lease_size(1_000_000_000), MAX_LEASE);
    }
}
