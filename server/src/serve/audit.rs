//! The server's part of the audit log ([`authgate_core::audit`]): every request runs in an
//! audit scope carrying its source address (the middleware), an authenticated management call
//! names its environment client as the actor ([`crate::serve::auth`], [`crate::grpc::auth`]),
//! refused management authentications are recorded off the request path, and old events are
//! pruned by a background task (`--audit-retention-days`).

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use authgate_core::audit;
use authgate_core::authority::Authority;

/// Most refused-authentication events being written at once; beyond it (a flood of bad
/// credentials), further ones are dropped with a warning rather than queue without bound. The
/// brute-force limits block a repeating address long before this.
pub const MAX_PENDING_REFUSALS: usize = 256;
/// How often the retention task prunes (it also prunes at start).
pub const PRUNE_INTERVAL: Duration = Duration::from_secs(3600);

static PENDING: AtomicUsize = AtomicUsize::new(0);

/// Names the authenticated caller of the current request as the actor of its management actions.
pub fn authenticated(client_id: &str) {
    audit::set_actor(client_id);
}

/// Records a refused management authentication from `source` without delaying the answer:
/// the write runs on a task of its own. `client_id` is the caller of a valid but not allowed
/// credential (an M2M client's token), `code` the error code of the refusal.
pub fn refused(
    authority: &Arc<Authority>,
    source: Option<IpAddr>,
    client_id: Option<&str>,
    code: &'static str,
) {
    if PENDING.fetch_add(1, Ordering::AcqRel) >= MAX_PENDING_REFUSALS {
        PENDING.fetch_sub(1, Ordering::AcqRel);
        tracing::warn!(source = ?source, code, "audit: refused authentication not recorded (too many pending writes)");
        return;
    }
    let authority = authority.clone();
    let client_id = client_id.map(str::to_owned);
    tokio::spawn(async move {
        let result = authority
            .record_refused_authentication(source, client_id.as_deref(), code)
            .await;
        PENDING.fetch_sub(1, Ordering::AcqRel);
        if let Err(err) = result {
            tracing::warn!(error = %err, code, "audit: could not record a refused authentication");
        }
    });
}

/// Prunes audit events older than `days` now and every [`PRUNE_INTERVAL`], off the request
/// path, until the process ends. A failed pass is logged and retried at the next interval.
pub fn spawn_retention(authority: Arc<Authority>, days: u64) -> tokio::task::JoinHandle<()> {
    let retention = Duration::from_secs(days.saturating_mul(86_400));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PRUNE_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(err) = authority.prune_audit_events(retention).await {
                tracing::warn!(error = %err, "audit: pruning old events failed; retrying later");
            }
        }
    })
}
