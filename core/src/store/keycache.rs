//! The validation cache: API-key lookups by digest answered from memory, kept exact by the
//! database (PostgreSQL notifications, issue #14; SQLite's data version).
//!
//! # What is cached
//!
//! The [`StoredKey`] found for a digest (the whole record: `revoked_ms` and `expiry` included, so
//! a rotated key's end of grace and an expiry take effect from memory, with no notification), and
//! for a well-formed digest that matches no key, the fact that it matches none (a negative
//! entry). Both maps are bounded ([`KEY_CAPACITY`], [`NEGATIVE_CAPACITY`]: negative entries can
//! never push out positive ones) and evict with the CLOCK algorithm; an entry is also refreshed
//! from the database once it is [`ENTRY_TTL`] old. Keys are digests, never a plain key.
//!
//! A lookup that misses reads the database, then fills the entry only if no invalidation
//! happened since it started (an epoch counter, changed under the same lock as the maps): an
//! answer read before a change was seen can never be stored after the cache dropped it.
//!
//! Writes made through this process flush the cache when they return (see `SqlStore`; on SQLite
//! also inside the write, before its connection goes back to the pool), so a process always sees
//! its own changes at once.
//!
//! # SQLite: checked on every lookup
//!
//! Before the cache answers, the store asks SQLite for the file's *data version* (`PRAGMA
//! data_version`, on a connection of its pool), which changes whenever another connection, in
//! this process or another one, committed since that connection last looked. A change, or a
//! connection that never looked before, flushes the whole cache ([`KeyCache::exact`]). So the
//! cache answers exactly what the database would at that instant; a lookup then costs SQLite's
//! read lock (about 2 µs) instead of the key query and its decoding.
//!
//! # PostgreSQL: notifications
//!
//! Triggers (migration 0007) `NOTIFY authgate_keys` in the writing transaction of every change
//! that can alter a validation's answer: a key's insert, update, revocation, rotation or
//! deletion (`k:<hex digest>`), a change of the key's user, membership or organization (the
//! digests of their keys), and bulk changes (`flush`). One task per store LISTENs on a
//! connection of its own and drops what each message names.
//!
//! ## Fail safe
//!
//! The cache answers only while it is *trusted*:
//!
//! - the listener is subscribed, and has flushed everything it held since it subscribed;
//! - a ping (`p:<nonce>:<sent>`, sent every quarter of the maximum staleness through the store's
//!   pool) sent at most `max_staleness` ago has come back through the listener. PostgreSQL
//!   delivers notifications in commit order, so by then every change committed before the ping
//!   was sent has been handled. A stalled listener, a backlog, a stopped runtime or a silent
//!   network partition therefore stop the cache from answering `max_staleness` after the last
//!   confirmed ping at the latest: every lookup then reads the database.
//!
//! A lost connection (an error, `pg_terminate_backend`, a server restart) makes the cache
//! untrusted at once and flushes it; the task reconnects with a backoff, LISTENs again, and the
//! cache is trusted again (after a second flush) once a ping sent after the new LISTEN comes
//! back. A listener through which no ping came back for 10 s (or four times the staleness bound)
//! reconnects.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};

use super::StoredKey;

/// The notification channel.
pub(crate) const CHANNEL: &str = "authgate_keys";
/// The `application_name` of the listening connection (visible in `pg_stat_activity`).
pub const LISTENER_APPLICATION_NAME: &str = "authgate-cache-listener";
/// Most keys held.
pub const KEY_CAPACITY: usize = 50_000;
/// Most negative entries (well-formed digests of no key) held.
pub const NEGATIVE_CAPACITY: usize = 10_000;
/// Age at which an entry is read again from the database (a bound on how old the bookkeeping
/// fields of a cached answer, such as `last_used_time`, can be).
pub const ENTRY_TTL: Duration = Duration::from_secs(60);
/// A subscribed listener through which no ping came back for this long (or four times the
/// staleness bound, if longer) is assumed dead (a silent network failure) and reconnects.
const RECONNECT_AFTER_SILENCE: Duration = Duration::from_secs(10);
/// Longest wait between two attempts to reconnect the listener.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// What the cache answered.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // returned and matched at once; boxing would cost a hit an allocation
pub(crate) enum Cached {
    /// A key has this digest.
    Key(StoredKey),
    /// No key has this digest.
    NoKey,
    /// Not held, or the cache is not trusted now: ask the database.
    Miss,
}

/// The state of the listener, as `/metrics` and `/readyz` report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerState {
    /// The cache is off (maximum staleness 0, or no tokio runtime at open).
    Disabled,
    /// Not subscribed: connecting, or reconnecting after a loss. Reads go to the database.
    Connecting,
    /// Subscribed and confirmed within the staleness bound: the cache answers.
    Live,
    /// Subscribed but no ping confirmed within the bound yet (just subscribed, or stalled).
    /// Reads go to the database.
    Stale,
    /// SQLite: no listener; every lookup checks the file's data version first, so the cache
    /// always answers.
    Exact,
}

impl ListenerState {
    /// `disabled`, `connecting`, `live`, `stale` or `exact`.
    pub fn as_str(self) -> &'static str {
        match self {
            ListenerState::Disabled => "disabled",
            ListenerState::Connecting => "connecting",
            ListenerState::Live => "live",
            ListenerState::Stale => "stale",
            ListenerState::Exact => "exact",
        }
    }
}

/// Counters of a validation cache, since the store was opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheStats {
    /// The listener's state now.
    pub listener: ListenerState,
    /// Lookups answered with a key from memory.
    pub hits: u64,
    /// Lookups answered "no such key" from memory.
    pub negative_hits: u64,
    /// Lookups that read the database while the cache was trusted.
    pub misses: u64,
    /// Lookups that read the database because the cache was not trusted.
    pub untrusted: u64,
    /// Entries dropped by a notification naming their digest.
    pub invalidations: u64,
    /// Times the whole cache was dropped (a `flush` message, a lost connection, a write of this
    /// process, a change of the SQLite file's data version).
    pub flushes: u64,
    /// Times the listener (re)subscribed.
    pub subscriptions: u64,
    /// Keys held now.
    pub keys: u64,
    /// Negative entries held now.
    pub negative: u64,
}

// ---------------------------------------------------------------------------------------------
// A bounded map with CLOCK eviction
// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
struct Slot<V> {
    digest: [u8; 32],
    value: V,
    filled: Instant,
    referenced: bool,
}

/// At most `capacity` entries; when full, an insert evicts the first entry the clock hand finds
/// unreferenced since it last passed (a hit sets the reference bit).
#[derive(Debug)]
struct Clock<V> {
    capacity: usize,
    index: HashMap<[u8; 32], usize>,
    slots: Vec<Option<Slot<V>>>,
    free: Vec<usize>,
    hand: usize,
}

impl<V: Clone> Clock<V> {
    fn new(capacity: usize) -> Self {
        Clock {
            capacity,
            index: HashMap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            hand: 0,
        }
    }

    fn len(&self) -> usize {
        self.index.len()
    }

    /// The value for `digest` if held and younger than `ttl`.
    fn get(&mut self, digest: &[u8; 32], now: Instant, ttl: Duration) -> Option<V> {
        let i = *self.index.get(digest)?;
        let slot = self.slots[i].as_mut()?;
        if now.saturating_duration_since(slot.filled) >= ttl {
            return None;
        }
        slot.referenced = true;
        Some(slot.value.clone())
    }

    fn insert(&mut self, digest: [u8; 32], value: V, now: Instant) {
        if self.capacity == 0 {
            return;
        }
        let slot = Slot {
            digest,
            value,
            filled: now,
            referenced: false,
        };
        if let Some(&i) = self.index.get(&digest) {
            self.slots[i] = Some(slot);
            return;
        }
        let i = if let Some(i) = self.free.pop() {
            i
        } else if self.slots.len() < self.capacity {
            self.slots.push(None);
            self.slots.len() - 1
        } else {
            self.evict()
        };
        self.slots[i] = Some(slot);
        self.index.insert(digest, i);
    }

    /// Frees a slot (the map is full, so every slot holds an entry) and returns it.
    fn evict(&mut self) -> usize {
        loop {
            let i = self.hand;
            self.hand = (self.hand + 1) % self.slots.len();
            match &mut self.slots[i] {
                Some(s) if s.referenced => s.referenced = false,
                Some(s) => {
                    self.index.remove(&s.digest);
                    self.slots[i] = None;
                    return i;
                }
                None => return i,
            }
        }
    }

    fn remove(&mut self, digest: &[u8; 32]) -> bool {
        match self.index.remove(digest) {
            Some(i) => {
                self.slots[i] = None;
                self.free.push(i);
                true
            }
            None => false,
        }
    }

    fn clear(&mut self) {
        self.index.clear();
        self.slots.clear();
        self.free.clear();
        self.hand = 0;
    }
}

// ---------------------------------------------------------------------------------------------
// The cache
// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
struct Maps {
    keys: Clock<Arc<StoredKey>>,
    negative: Clock<()>,
}

#[derive(Debug, Default)]
struct Counters {
    hits: AtomicU64,
    negative_hits: AtomicU64,
    misses: AtomicU64,
    untrusted: AtomicU64,
    invalidations: AtomicU64,
    flushes: AtomicU64,
    subscriptions: AtomicU64,
}

/// The validation cache of one PostgreSQL store (see the module docs).
#[derive(Debug)]
pub(crate) struct KeyCache {
    /// SQLite's: always trusted, kept exact by its store (see the module docs).
    exact: bool,
    max_staleness: Duration,
    /// Origin of the nanosecond clock below (monotonic).
    base: Instant,
    /// Tells this process's pings from other processes'.
    nonce: String,
    /// The cache answers while `nanos() < trusted_until`; 0: untrusted.
    trusted_until: AtomicU64,
    /// The listener is subscribed (LISTEN done, connection not lost since).
    subscribed: AtomicBool,
    /// Changes under the `maps` lock at every invalidation and flush; a fill stores its answer
    /// only if the epoch is the one it read before asking the database.
    epoch: AtomicU64,
    maps: Mutex<Maps>,
    /// The send time of the latest ping confirmed (nanos; 0 before the first).
    confirmed: tokio::sync::watch::Sender<u64>,
    /// Asks the listener to drop its connection and subscribe again.
    restart: Arc<tokio::sync::Notify>,
    /// When the current subscription's LISTEN completed (nanos).
    subscribed_at: AtomicU64,
    /// Dropped with the cache: ends its tasks.
    _shutdown: tokio::sync::watch::Sender<()>,
    stats: Counters,
}

/// The epoch a lookup read before asking the database (see [`KeyCache::fill`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket(u64);

impl KeyCache {
    /// Starts the cache of the store with `pool` and its tasks on the current tokio runtime:
    /// `None` when `max_staleness` is zero or there is no runtime (the store then reads the
    /// database for every lookup).
    pub(crate) fn start(
        max_staleness: Duration,
        pool: &PgPool,
        options: &PgConnectOptions,
    ) -> Option<Arc<KeyCache>> {
        if max_staleness.is_zero() {
            return None;
        }
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let cache = Arc::new(KeyCache::new(max_staleness)?);
        let listener_options = options.clone().application_name(LISTENER_APPLICATION_NAME);
        runtime.spawn(listen(
            Arc::downgrade(&cache),
            cache.restart.clone(),
            cache._shutdown.subscribe(),
            listener_options,
        ));
        runtime.spawn(ping(
            Arc::downgrade(&cache),
            cache._shutdown.subscribe(),
            pool.clone(),
        ));
        Some(cache)
    }

    /// The cache of a SQLite store: no tasks, always trusted. The store keeps it exact by
    /// flushing it whenever the file's data version shows a change, before every lookup.
    pub(crate) fn exact() -> Option<Arc<KeyCache>> {
        let mut cache = KeyCache::new(Duration::ZERO)?;
        cache.exact = true;
        cache.trusted_until = AtomicU64::new(u64::MAX);
        Some(Arc::new(cache))
    }

    /// A cache without its tasks (untrusted until a ping comes back through [`KeyCache::handle`]).
    fn new(max_staleness: Duration) -> Option<KeyCache> {
        let mut nonce = [0u8; 8];
        aws_lc_rs::rand::fill(&mut nonce).ok()?;
        let (shutdown, _) = tokio::sync::watch::channel(());
        Some(KeyCache {
            exact: false,
            max_staleness,
            base: Instant::now(),
            nonce: nonce.iter().map(|b| format!("{b:02x}")).collect(),
            trusted_until: AtomicU64::new(0),
            subscribed: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            maps: Mutex::new(Maps {
                keys: Clock::new(KEY_CAPACITY),
                negative: Clock::new(NEGATIVE_CAPACITY),
            }),
            confirmed: tokio::sync::watch::channel(0).0,
            restart: Arc::new(tokio::sync::Notify::new()),
            subscribed_at: AtomicU64::new(0),
            _shutdown: shutdown,
            stats: Counters::default(),
        })
    }

    fn nanos(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }

    fn trusted(&self) -> bool {
        self.exact || self.nanos() < self.trusted_until.load(Ordering::Acquire)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Maps> {
        self.maps.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The answer held for `digest`, if the cache is trusted now.
    pub(crate) fn get(&self, digest: &[u8; 32]) -> Cached {
        if !self.trusted() {
            self.stats.untrusted.fetch_add(1, Ordering::Relaxed);
            return Cached::Miss;
        }
        let now = Instant::now();
        let mut maps = self.lock();
        if let Some(key) = maps.keys.get(digest, now, ENTRY_TTL) {
            drop(maps);
            self.stats.hits.fetch_add(1, Ordering::Relaxed);
            return Cached::Key(StoredKey::clone(&key));
        }
        if maps.negative.get(digest, now, ENTRY_TTL).is_some() {
            drop(maps);
            self.stats.negative_hits.fetch_add(1, Ordering::Relaxed);
            return Cached::NoKey;
        }
        drop(maps);
        self.stats.misses.fetch_add(1, Ordering::Relaxed);
        Cached::Miss
    }

    /// Whether [`get`](Self::get) would answer from memory now (counts nothing).
    pub(crate) fn holds(&self, digest: &[u8; 32]) -> bool {
        if !self.trusted() {
            return false;
        }
        let now = Instant::now();
        let mut maps = self.lock();
        maps.keys.get(digest, now, ENTRY_TTL).is_some() || maps.negative.get(digest, now, ENTRY_TTL).is_some()
    }

    /// Taken before asking the database.
    pub(crate) fn ticket(&self) -> Ticket {
        Ticket(self.epoch.load(Ordering::Acquire))
    }

    /// Stores what the database answered for `digest`, unless the cache is not trusted or
    /// anything was invalidated since `ticket` was taken (the answer may predate that change).
    pub(crate) fn fill(&self, digest: [u8; 32], ticket: Ticket, found: Option<&StoredKey>) {
        if !self.trusted() {
            return;
        }
        let mut maps = self.lock();
        if self.epoch.load(Ordering::Acquire) != ticket.0 {
            return;
        }
        let now = Instant::now();
        match found {
            Some(key) => {
                maps.negative.remove(&digest);
                maps.keys.insert(digest, Arc::new(key.clone()), now);
            }
            None => {
                maps.keys.remove(&digest);
                maps.negative.insert(digest, (), now);
            }
        }
    }

    /// Drops what is held for `digest`.
    fn invalidate(&self, digest: &[u8; 32]) {
        let mut maps = self.lock();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        let removed = maps.keys.remove(digest) | maps.negative.remove(digest);
        drop(maps);
        if removed {
            self.stats.invalidations.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Drops everything.
    pub(crate) fn flush(&self) {
        let mut maps = self.lock();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        maps.keys.clear();
        maps.negative.clear();
        drop(maps);
        self.stats.flushes.fetch_add(1, Ordering::Relaxed);
    }

    /// The connection is lost (or being replaced): untrusted at once, then flushed.
    fn lost(&self) {
        self.trusted_until.store(0, Ordering::Release);
        self.subscribed.store(false, Ordering::Release);
        self.flush();
    }

    /// Handles one notification; `subscribed_at` is when this subscription's LISTEN completed,
    /// `first` whether no ping was confirmed on it yet (the first one flushes).
    fn handle(&self, payload: &str, subscribed_at: u64, first: &mut bool) {
        if let Some(hex) = payload.strip_prefix("k:") {
            match unhex32(hex) {
                Some(d) => self.invalidate(&d),
                None => self.flush(),
            }
        } else if let Some(ping) = payload.strip_prefix("p:") {
            let Some((nonce, sent)) = ping.split_once(':') else {
                return;
            };
            if nonce != self.nonce {
                return; // another process's ping
            }
            let Ok(sent) = sent.parse::<u64>() else { return };
            if sent < subscribed_at {
                return; // sent before this subscription: proves nothing about it
            }
            if std::mem::take(first) {
                // Anything filled before this subscription (an answer read while it was being
                // set up) goes; from here every change is heard.
                self.flush();
            }
            let until = sent.saturating_add(self.max_staleness.as_nanos() as u64);
            self.trusted_until.fetch_max(until, Ordering::AcqRel);
            self.confirmed.send_if_modified(|c| {
                let newer = sent > *c;
                if newer {
                    *c = sent;
                }
                newer
            });
        } else {
            // `flush`, or a message this version does not know: the safe reading.
            self.flush();
        }
    }

    /// Waits until every change committed before the call has been handled by the listener (a
    /// ping sent now came back), or, when the listener cannot confirm that within the staleness
    /// bound, flushes (reads then go to the database until it does).
    pub(crate) async fn sync(&self, pool: &PgPool) {
        let sent = self.nanos();
        let mut confirmed = self.confirmed.subscribe();
        let confirmed_in_time = tokio::time::timeout(self.max_staleness, async {
            self.send_ping(pool, sent).await;
            confirmed.wait_for(|c| *c >= sent).await.is_ok()
        })
        .await;
        if !matches!(confirmed_in_time, Ok(true)) {
            self.trusted_until.store(0, Ordering::Release);
            self.flush();
        }
    }

    async fn send_ping(&self, pool: &PgPool, sent: u64) {
        let payload = format!("p:{}:{sent}", self.nonce);
        if let Err(e) = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(payload)
            .execute(pool)
            .await
        {
            tracing::debug!(error = %e, "validation cache: ping not sent");
        }
    }

    pub(crate) fn stats(&self) -> CacheStats {
        let (keys, negative) = {
            let maps = self.lock();
            (maps.keys.len() as u64, maps.negative.len() as u64)
        };
        let listener = if self.exact {
            ListenerState::Exact
        } else if !self.subscribed.load(Ordering::Acquire) {
            ListenerState::Connecting
        } else if self.trusted() {
            ListenerState::Live
        } else {
            ListenerState::Stale
        };
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CacheStats {
            listener,
            hits: n(&self.stats.hits),
            negative_hits: n(&self.stats.negative_hits),
            misses: n(&self.stats.misses),
            untrusted: n(&self.stats.untrusted),
            invalidations: n(&self.stats.invalidations),
            flushes: n(&self.stats.flushes),
            subscriptions: n(&self.stats.subscriptions),
            keys,
            negative,
        }
    }
}

/// The stats of a store without a cache.
pub(crate) fn disabled_stats() -> CacheStats {
    CacheStats {
        listener: ListenerState::Disabled,
        hits: 0,
        negative_hits: 0,
        misses: 0,
        untrusted: 0,
        invalidations: 0,
        flushes: 0,
        subscriptions: 0,
        keys: 0,
        negative: 0,
    }
}

fn unhex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

// ---------------------------------------------------------------------------------------------
// The tasks
// ---------------------------------------------------------------------------------------------

/// The listener: subscribes on a connection of its own (a pool of one, so a broken connection
/// never returns to the store's pool), handles every notification in order, and on any loss
/// makes the cache untrusted and flushes it before subscribing again.
async fn listen(
    cache: Weak<KeyCache>,
    restart: Arc<tokio::sync::Notify>,
    mut shutdown: tokio::sync::watch::Receiver<()>,
    options: PgConnectOptions,
) {
    let mut backoff = Duration::from_millis(20);
    loop {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .max_lifetime(None)
            .idle_timeout(None)
            .acquire_timeout(Duration::from_secs(5))
            .connect_lazy_with(options.clone());
        let subscribed = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            listener.ignore_pool_close_event(true);
            listener.eager_reconnect(false);
            listener.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        let attempt = tokio::select! {
            r = subscribed => r,
            _ = shutdown.changed() => return,
        };
        let mut listener = match attempt {
            Ok(l) => l,
            Err(e) => {
                let Some(c) = cache.upgrade() else { return };
                c.lost();
                tracing::warn!(error = %e, "validation cache: cannot subscribe; validations read the database");
                drop(c);
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.changed() => return,
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        let subscribed_at = {
            let Some(c) = cache.upgrade() else { return };
            let at = c.nanos();
            c.subscribed_at.store(at, Ordering::Release);
            c.subscribed.store(true, Ordering::Release);
            c.stats.subscriptions.fetch_add(1, Ordering::Relaxed);
            tracing::info!("validation cache: listening for invalidations");
            at
        };
        let mut first = true;
        let reason = loop {
            // No strong reference to the cache while waiting: dropping the store ends the task.
            let next = tokio::select! {
                r = listener.try_recv() => r,
                _ = restart.notified() => break "no ping came back".to_owned(),
                _ = shutdown.changed() => return,
            };
            let Some(c) = cache.upgrade() else { return };
            match next {
                Ok(Some(n)) => {
                    c.handle(n.payload(), subscribed_at, &mut first);
                    if !first {
                        backoff = Duration::from_millis(20);
                    }
                }
                Ok(None) => break "connection lost".to_owned(),
                Err(e) => break e.to_string(),
            }
        };
        let Some(c) = cache.upgrade() else { return };
        c.lost();
        tracing::warn!(
            reason,
            "validation cache: listener lost; validations read the database until it is back"
        );
        drop(c);
        drop(listener);
        pool.close().await;
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = shutdown.changed() => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// The pinger: every quarter of the staleness bound, a ping through the store's pool; asks the
/// listener to reconnect when no ping came back for [`RECONNECT_AFTER_SILENCE`] (or four times the bound).
async fn ping(cache: Weak<KeyCache>, mut shutdown: tokio::sync::watch::Receiver<()>, pool: PgPool) {
    let Some(every) = cache.upgrade().map(|c| c.max_staleness / 4) else {
        return;
    };
    let every = every.max(Duration::from_millis(2));
    // The cache is untrusted long before this: reconnecting sooner would only add churn on a
    // busy machine whose pings are slow, not safety.
    let silence = cache.upgrade().map_or(0, |c| {
        (4 * c.max_staleness).max(RECONNECT_AFTER_SILENCE).as_nanos() as u64
    });
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let Some(c) = cache.upgrade() else { return };
        let now = c.nanos();
        let heard = (*c.confirmed.borrow()).max(c.subscribed_at.load(Ordering::Acquire));
        if c.subscribed.load(Ordering::Acquire) && now.saturating_sub(heard) > silence {
            c.restart.notify_one();
        }
        let sent = c.nanos();
        let send = c.send_ping(&pool, sent);
        tokio::select! {
            _ = tokio::time::timeout(every * 2, send) => {}
            _ = shutdown.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(n: u8) -> [u8; 32] {
        [n; 32]
    }

    #[test]
    fn clock_is_bounded_and_keeps_referenced_entries() {
        let now = Instant::now();
        let ttl = Duration::from_secs(60);
        let mut c = Clock::new(3);
        for n in 0..3 {
            c.insert(d(n), n, now);
        }
        assert_eq!(c.get(&d(0), now, ttl), Some(0));
        c.insert(d(3), 3, now);
        assert_eq!(c.len(), 3);
        // 0 was referenced, so 1 (the next unreferenced one) went.
        assert_eq!(c.get(&d(0), now, ttl), Some(0));
        assert_eq!(c.get(&d(1), now, ttl), None);
        assert!(c.remove(&d(3)));
        c.insert(d(4), 4, now);
        assert_eq!(c.len(), 3);
        assert_eq!(c.get(&d(4), now, ttl), Some(4));
        for n in 10..100 {
            c.insert(d(n), n, now);
        }
        assert_eq!(c.len(), 3);
        assert_eq!(c.get(&d(99), now, ttl), Some(99));
        // Too old: not answered.
        assert_eq!(c.get(&d(99), now + ttl, ttl), None);
        c.clear();
        assert_eq!(c.len(), 0);
    }

    fn stored(id: &str) -> StoredKey {
        StoredKey::new(
            crate::model::TokenInfo {
                token_id: id.into(),
                organization_id: "org_1".into(),
                organization_external_id: String::new(),
                user_id: None,
                user_external_id: None,
                custom_claims: Default::default(),
                expiry: None,
                created_at: time::OffsetDateTime::UNIX_EPOCH,
                description: None,
                token_suffix: "abcd".into(),
                email: None,
                roles: Vec::new(),
                revoked_at: None,
                rotated_from: None,
                rotated_to: None,
                last_used_time: None,
                allowed_cidrs: None,
                rate_limit: None,
            },
            None,
        )
    }

    /// A cache whose listener just subscribed and heard its first ping back.
    fn live(max_staleness: Duration) -> (KeyCache, u64, bool) {
        let c = KeyCache::new(max_staleness).unwrap();
        let subscribed_at = c.nanos();
        c.subscribed.store(true, Ordering::Release);
        let mut first = true;
        c.handle(&format!("p:{}:{}", c.nonce, c.nanos()), subscribed_at, &mut first);
        assert!(!first);
        (c, subscribed_at, first)
    }

    fn is_key(c: &Cached) -> bool {
        matches!(c, Cached::Key(_))
    }

    #[test]
    fn answers_only_what_was_filled_while_trusted() {
        let c = KeyCache::new(Duration::from_secs(1)).unwrap();
        // Not subscribed yet: nothing is stored, nothing answered.
        let t = c.ticket();
        c.fill(d(1), t, Some(&stored("apit_1")));
        assert!(matches!(c.get(&d(1)), Cached::Miss));
        assert_eq!(c.stats().listener, ListenerState::Connecting);

        let (c, subscribed_at, mut first) = live(Duration::from_secs(1));
        assert_eq!(c.stats().listener, ListenerState::Live);
        let t = c.ticket();
        c.fill(d(1), t, Some(&stored("apit_1")));
        c.fill(d(2), t, None);
        assert!(is_key(&c.get(&d(1))));
        assert!(matches!(c.get(&d(2)), Cached::NoKey));
        assert!(c.holds(&d(1)) && c.holds(&d(2)) && !c.holds(&d(3)));

        // A notification for a key drops it, positive or negative.
        c.handle(&format!("k:{}", "01".repeat(32)), subscribed_at, &mut first);
        c.handle(&format!("k:{}", "02".repeat(32)), subscribed_at, &mut first);
        assert!(matches!(c.get(&d(1)), Cached::Miss));
        assert!(matches!(c.get(&d(2)), Cached::Miss));
        assert_eq!(c.stats().invalidations, 2);
    }

    #[test]
    fn an_answer_read_before_an_invalidation_is_not_stored() {
        let (c, subscribed_at, mut first) = live(Duration::from_secs(1));
        // The lookup takes its ticket, then reads the database; meanwhile a change to any key
        // is notified and handled; then the answer (perhaps from before the change) arrives.
        let t = c.ticket();
        c.handle(&format!("k:{}", "07".repeat(32)), subscribed_at, &mut first);
        c.fill(d(7), t, Some(&stored("apit_7")));
        assert!(matches!(c.get(&d(7)), Cached::Miss));
        // Same with a flush, or a message this version does not know.
        for msg in ["flush", "something-new", "k:not-hex"] {
            let t = c.ticket();
            c.handle(msg, subscribed_at, &mut first);
            c.fill(d(7), t, Some(&stored("apit_7")));
            assert!(matches!(c.get(&d(7)), Cached::Miss), "{msg}");
        }
        // With no change in between it is stored.
        let t = c.ticket();
        c.fill(d(7), t, Some(&stored("apit_7")));
        assert!(is_key(&c.get(&d(7))));
        // A flush drops everything.
        c.handle("flush", subscribed_at, &mut first);
        assert!(matches!(c.get(&d(7)), Cached::Miss));
    }

    #[test]
    fn a_lost_connection_untrusts_and_flushes_at_once() {
        let (c, _, _) = live(Duration::from_secs(1));
        let t = c.ticket();
        c.fill(d(1), t, Some(&stored("apit_1")));
        let in_flight = c.ticket();
        c.lost();
        assert_eq!(c.stats().listener, ListenerState::Connecting);
        assert!(matches!(c.get(&d(1)), Cached::Miss));
        assert_eq!(c.stats().keys, 0);

        // Subscribed again: nothing is trusted before a ping sent after the new LISTEN returns.
        let subscribed_at = c.nanos();
        c.subscribed.store(true, Ordering::Release);
        let mut first = true;
        c.handle(
            &format!("p:{}:{}", c.nonce, subscribed_at - 1),
            subscribed_at,
            &mut first,
        );
        c.handle(
            &format!("p:ffffffffffffffff:{}", c.nanos()),
            subscribed_at,
            &mut first,
        );
        assert!(first);
        assert_eq!(c.stats().listener, ListenerState::Stale);
        c.fill(d(1), c.ticket(), Some(&stored("apit_1")));
        assert!(matches!(c.get(&d(1)), Cached::Miss));
        // The first ping that counts flushes once more: an answer read before the new LISTEN
        // (ticket from before the loss) is never stored.
        c.handle(&format!("p:{}:{}", c.nonce, c.nanos()), subscribed_at, &mut first);
        assert!(!first);
        assert_eq!(c.stats().listener, ListenerState::Live);
        c.fill(d(1), in_flight, Some(&stored("apit_1")));
        assert!(matches!(c.get(&d(1)), Cached::Miss));
    }

    #[test]
    fn trust_lapses_when_no_ping_comes_back_within_the_bound() {
        let (c, _, _) = live(Duration::from_millis(30));
        c.fill(d(1), c.ticket(), Some(&stored("apit_1")));
        assert!(is_key(&c.get(&d(1))));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(c.stats().listener, ListenerState::Stale);
        assert!(matches!(c.get(&d(1)), Cached::Miss));
        assert!(!c.holds(&d(1)));
        assert!(c.stats().untrusted >= 1);
    }

    #[test]
    fn digests_decode() {
        assert_eq!(unhex32(&"ab".repeat(32)), Some([0xab; 32]));
        assert_eq!(unhex32("ab"), None);
        assert_eq!(unhex32(&"zz".repeat(32)), None);
    }
}
