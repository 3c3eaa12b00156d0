//! Last-use bookkeeping off the request path: API keys' `last_used_time` and, in the server,
//! client secrets' (see [`AuthorityConfig::defer_bookkeeping`](super::AuthorityConfig::defer_bookkeeping)).
//!
//! A use is noted in memory — one short mutex hold, no I/O — and a background task writes the
//! latest use of every key and secret noted since the last flush, in one transaction, every
//! [`AuthorityConfig::usage_flush_interval`](super::AuthorityConfig::usage_flush_interval)
//! (5 s by default). So validations never wait on a write, and a key validated 10,000 times in
//! an interval costs one row update. A flush never moves a time backwards, so processes sharing
//! a store converge on the latest use any of them saw.
//!
//! **Precision**: the stored time is the last use noted before the latest flush: at most one
//! interval behind (plus the time the write waits for the store's lock). Uses noted since the
//! last flush are lost if the process dies without [`Authority::flush_usage`]; `authgate serve`
//! flushes on shutdown. The task runs on the tokio runtime current when the authority is opened
//! (the server's, the bindings' own); an authority opened outside any tokio runtime writes only
//! when `flush_usage` is called.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Weak};
use std::time::Duration;

use super::{Authority, Inner};
use crate::audit;
use crate::model::{AuditOutcome, TokenInfo};
use crate::store::{AuditRecord, ClientKind};

/// Uses noted since the last flush: the latest time (Unix ms) of each.
#[derive(Debug, Default)]
pub(super) struct Usage {
    pending: Mutex<Pending>,
    /// Row updates written by flushes, over the authority's life.
    writes: AtomicU64,
    /// One flush at a time.
    flushing: tokio::sync::Mutex<()>,
}

#[derive(Debug, Default)]
struct Pending {
    keys: HashMap<String, i64>,
    secrets: HashMap<(ClientKind, String), i64>,
    /// Audit events of keys refused for their caller's address.
    refusals: Vec<AuditRecord>,
    /// Refusals not recorded because [`audit::MAX_DEFERRED_REFUSALS`] were waiting.
    refusals_dropped: u64,
}

impl Usage {
    /// Notes a use of key `id` at `at_ms`.
    pub(super) fn note_key(&self, id: &str, at_ms: i64) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        match pending.keys.get_mut(id) {
            Some(t) => *t = (*t).max(at_ms),
            None => {
                pending.keys.insert(id.to_owned(), at_ms);
            }
        }
    }

    /// Notes a use of a client secret at `at_ms`; dropped when too many secrets wait already
    /// (the next use after the flush records it).
    pub(super) fn note_secret(&self, kind: ClientKind, id: String, at_ms: i64) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let n = pending.secrets.len();
        match pending.secrets.get_mut(&(kind, id.clone())) {
            Some(t) => *t = (*t).max(at_ms),
            None if n < super::MAX_DEFERRED_TOUCHES => {
                pending.secrets.insert((kind, id), at_ms);
            }
            None => {}
        }
    }

    fn note_refusal(&self, event: AuditRecord) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if pending.refusals.len() < audit::MAX_DEFERRED_REFUSALS {
            pending.refusals.push(event);
        } else {
            pending.refusals_dropped += 1;
        }
    }

    fn take(&self) -> Pending {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Authority {
    /// Writes every use noted since the last flush now (the background task does it every
    /// [`usage_flush_interval`](super::AuthorityConfig::usage_flush_interval)). Bookkeeping
    /// only: a failed write is logged and its uses dropped. Call it before a process exits to
    /// keep the last interval's uses.
    pub async fn flush_usage(&self) {
        let usage = &self.inner.usage;
        let _one = usage.flushing.lock().await;
        let pending = usage.take();
        if !pending.keys.is_empty() {
            let n = pending.keys.len() as u64;
            let uses: Vec<(String, i64)> = pending.keys.into_iter().collect();
            match self.store().touch_api_keys(uses).await {
                Ok(()) => {
                    usage.writes.fetch_add(n, Ordering::Relaxed);
                }
                Err(e) => tracing::warn!(error = %e, keys = n, "could not record the last use of API keys"),
            }
        }
        if pending.refusals_dropped > 0 {
            tracing::warn!(
                dropped = pending.refusals_dropped,
                "API keys refused for their caller's address: more than the audit log records per flush"
            );
        }
        for event in pending.refusals {
            if let Err(e) = self.store().insert_audit_event(event).await {
                tracing::warn!(error = %e, "could not record an address refusal in the audit log");
            }
        }
        for ((kind, id), at_ms) in pending.secrets {
            let stale_before = at_ms - super::grant::LAST_USED_GRANULARITY_MS;
            self.touch_secret(kind, id, at_ms, stale_before).await;
            usage.writes.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// How many `last_used_time` row updates flushes have written since this authority was
    /// opened (shared by its clones): what the coalescing saves is visible here.
    pub fn usage_writes(&self) -> u64 {
        self.inner.usage.writes.load(Ordering::Relaxed)
    }

    pub(super) fn note_key_use(&self, id: &str, at_ms: i64) {
        self.inner.usage.note_key(id, at_ms);
    }

    /// Notes, for the audit log, that key `info` was presented from `client_ip` (or without an
    /// address) outside its networks.
    pub(super) fn note_address_refusal(
        &self,
        info: &TokenInfo,
        client_ip: Option<std::net::IpAddr>,
        at_ms: i64,
    ) {
        let mut event = self.audit(
            audit::API_KEY_VALIDATE,
            Some(&info.organization_id),
            &[&info.token_id],
        );
        event.time_ms = at_ms;
        event.source_address = client_ip.map(|ip| ip.to_string());
        event.outcome = AuditOutcome::Failure;
        event.error_code = Some(audit::ADDRESS_NOT_ALLOWED);
        self.inner.usage.note_refusal(event);
    }
}

/// Starts the flush task on the current tokio runtime, if there is one. It holds the authority
/// weakly and ends once the last clone is dropped.
pub(super) fn start_flusher(inner: Weak<Inner>, every: Duration) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(inner) = inner.upgrade() else { return };
            Authority { inner }.flush_usage().await;
        }
    });
}
