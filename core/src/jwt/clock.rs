//! The source of "now" for time-based claim checks.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Where the validator reads the current time for `exp`, `nbf` and the verified-token cache.
///
/// Production code uses [`SystemClock`] (the default). [`FixedClock`] and [`ManualClock`] exist
/// **for testing**: shared test vectors pin "now" so that their tokens never expire. JWKS timing
/// (TTL, cooldown, stale window) uses the monotonic clock and is not affected, unless
/// [`JwksConfig::dangerous_clock`](super::JwksConfig::dangerous_clock) is set.
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

/// The process's monotonic reference point (taken on first use): monotonic readings are kept as
/// milliseconds since it. A [`ManualClock`] never reads earlier than it.
pub(crate) fn monotonic_base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

/// A clock that moves only when told to, for both the wall-clock time (it is a [`Clock`]) and the
/// monotonic time that the JWKS cache (TTL, cooldown, negative cache, retry backoff, stale
/// window) and the [`TokenFetcher`](crate::oauth::TokenFetcher) (refresh point, expiry margin,
/// retry backoff) measure their delays with. **For tests only**: set as
/// [`JwksConfig::dangerous_clock`](super::JwksConfig::dangerous_clock) or
/// [`TokenFetcherConfig::dangerous_clock`](crate::oauth::TokenFetcherConfig::dangerous_clock),
/// it lets a test step over a 30-second cooldown with [`ManualClock::advance`] instead of
/// sleeping through it. Timeouts of network I/O keep using real time.
///
/// Cheap to clone (clones share one reading); compares and hashes by identity.
#[derive(Clone)]
pub struct ManualClock(Arc<ManualInner>);

struct ManualInner {
    start: Instant,
    start_unix: f64,
    elapsed_nanos: AtomicU64,
}

impl ManualClock {
    /// A clock reading the current wall-clock and monotonic times, standing still from now on.
    pub fn new() -> ManualClock {
        monotonic_base();
        ManualClock(Arc::new(ManualInner {
            start: Instant::now(),
            start_unix: SystemClock.now_unix(),
            elapsed_nanos: AtomicU64::new(0),
        }))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.0.elapsed_nanos.fetch_add(nanos, Ordering::AcqRel);
    }

    /// How far the clock has been moved since it was created.
    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.0.elapsed_nanos.load(Ordering::Acquire))
    }

    /// The current monotonic reading.
    pub fn instant(&self) -> Instant {
        self.0.start + self.elapsed()
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

impl Clock for ManualClock {
    fn now_unix(&self) -> f64 {
        self.0.start_unix + self.elapsed().as_secs_f64()
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ManualClock").field(&self.elapsed()).finish()
    }
}

impl PartialEq for ManualClock {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for ManualClock {}

impl Hash for ManualClock {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (Arc::as_ptr(&self.0) as usize).hash(state);
    }
}

/// The monotonic time from `clock`, or the system's.
pub(crate) fn monotonic_now(clock: Option<&ManualClock>) -> Instant {
    clock.map_or_else(Instant::now, ManualClock::instant)
}
