//! The source of "now" for time-based claim checks.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Where the validator reads the current time for `exp`, `nbf` and the verified-token cache.
///
/// Production code uses [`SystemClock`] (the default). [`FixedClock`] exists **for testing**:
/// shared test vectors pin "now" so that their tokens never expire. JWKS timing (TTL, cooldown,
/// stale window) always uses the monotonic clock and is not affected.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Seconds since the Unix epoch (fractional).
    fn now_unix(&self) -> f64;
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix(&self) -> f64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0)
    }
}

/// A clock standing still at a given Unix time until told otherwise. **For tests only.**
#[derive(Debug, Default)]
pub struct FixedClock(AtomicI64);

impl FixedClock {
    /// A clock reading `unix_seconds`.
    pub fn new(unix_seconds: i64) -> Self {
        FixedClock(AtomicI64::new(unix_seconds))
    }

    /// Moves the clock to `unix_seconds`.
    pub fn set(&self, unix_seconds: i64) {
        self.0.store(unix_seconds, Ordering::Relaxed);
    }

    /// Moves the clock forward by `seconds` (backward when negative).
    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::Relaxed);
    }
}

impl Clock for FixedClock {
    fn now_unix(&self) -> f64 {
        self.0.load(Ordering::Relaxed) as f64
    }
}
