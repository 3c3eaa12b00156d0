//! The audit log on the authority: the event of each management action (written by the store
//! in the action's transaction), refused authentications, listing and retention.

use std::net::IpAddr;
use std::time::Duration;

use super::paging::scope;
use super::{Authority, limits, now};
use crate::audit::{self, ADMIN_AUTHENTICATE};
use crate::error::{Error, Result};
use crate::keys;
use crate::model::{AuditOutcome, ListAuditEvents, ListAuditEventsResponse};
use crate::store::{AuditFilter, AuditRecord, unix_ms};

/// Id prefix of audit events.
pub const AUDIT_EVENT_ID_PREFIX: &str = "aud_";
/// Default page size of [`AuthApi::list_audit_events`](crate::AuthApi::list_audit_events).
pub const AUDIT_PAGE_SIZE: (u32, u32, u32) = (1, 100, 50);
/// Events deleted per transaction by [`Authority::prune_audit_events`].
const PRUNE_BATCH: u32 = 1_000;
/// Longest retention accepted: 100 years.
pub const MAX_AUDIT_RETENTION_DAYS: u64 = 36_500;

impl Authority {
    /// The event of `action`, about to run, on `targets` in `organization_id`: the actor and
    /// address of the current [`audit::scope`], else the configured actor.
    pub(super) fn audit(
        &self,
        action: &'static str,
        organization_id: Option<&str>,
        targets: &[&str],
    ) -> AuditRecord {
        debug_assert!(audit::is_action(action), "unlisted audit action {action}");
        let (actor, source) = audit::current();
        AuditRecord {
            id: keys::new_id(AUDIT_EVENT_ID_PREFIX),
            time_ms: unix_ms(now()),
            actor: actor.unwrap_or_else(|| self.inner.config.audit_actor.clone()),
            action,
            organization_id: organization_id.map(str::to_owned),
            target_ids: targets.iter().map(|t| (*t).to_owned()).collect(),
            source_address: source.map(|ip| ip.to_string()),
            outcome: AuditOutcome::Success,
            error_code: None,
        }
    }

    /// Records a refused management authentication (`admin.authenticate`, outcome `failure`)
    /// from `source` with the error code it was refused with. The actor is `client_id` when the
    /// credential was valid but not allowed (an M2M client's token on the management API), else
    /// [`audit::UNAUTHENTICATED`]. Nothing of the presented credential is recorded.
    ///
    /// Takes its values explicitly (not from the [`audit::scope`]) so a server can record off
    /// the request path.
    pub async fn record_refused_authentication(
        &self,
        source: Option<IpAddr>,
        client_id: Option<&str>,
        error_code: &'static str,
    ) -> Result<()> {
        let mut event = self.audit(ADMIN_AUTHENTICATE, None, &[]);
        event.actor = audit::clip(client_id.unwrap_or(audit::UNAUTHENTICATED).to_owned());
        event.source_address = source.map(|ip| ip.to_string());
        event.outcome = AuditOutcome::Failure;
        event.error_code = Some(error_code);
        self.store().insert_audit_event(event).await
    }

    /// Deletes the audit events older than `retention` (in batches of short transactions, so
    /// other writers are never held up long) and records the pruning itself (`audit.prune`)
    /// when it deleted any. Returns how many it deleted. `retention` is 1 day to 100 years.
    pub async fn prune_audit_events(&self, retention: Duration) -> Result<u64> {
        let days = retention.as_secs() / 86_400;
        if retention < Duration::from_secs(86_400) || days > MAX_AUDIT_RETENTION_DAYS {
            return Err(Error::invalid(
                "audit_retention_days",
                format!("must be 1–{MAX_AUDIT_RETENTION_DAYS} days"),
            ));
        }
        let before_ms = unix_ms(now()).saturating_sub(retention.as_millis() as i64);
        let mut deleted = 0;
        loop {
            let n = self.store().prune_audit_events(before_ms, PRUNE_BATCH).await?;
            deleted += n;
            if n < u64::from(PRUNE_BATCH) {
                break;
            }
        }
        if deleted > 0 {
            self.store()
                .insert_audit_event(self.audit("audit.prune", None, &[]))
                .await?;
            tracing::info!(deleted, retention_days = days, "audit events pruned");
        }
        Ok(deleted)
    }

    pub(super) async fn list_audit(&self, input: ListAuditEvents) -> Result<ListAuditEventsResponse> {
        let size = limits::page_size(input.page_size, AUDIT_PAGE_SIZE)?;
        let organization_id = limits::non_empty(input.organization_id);
        if let Some(org) = &organization_id {
            limits::org_id(org)?;
        }
        let actor = limits::non_empty(input.actor);
        if actor.as_ref().is_some_and(|a| a.len() > audit::MAX_ACTOR_LEN) {
            return Err(Error::invalid(
                "actor",
                format!("at most {} bytes", audit::MAX_ACTOR_LEN),
            ));
        }
        let action = limits::non_empty(input.action);
        if let Some(a) = &action
            && !audit::is_action(a)
        {
            return Err(Error::invalid(
                "action",
                format!("unknown action {a:?}; one of: {}", audit::ACTIONS.join(", ")),
            ));
        }
        let start_ms = input.start_time.map(unix_ms);
        let end_ms = input.end_time.map(unix_ms);
        if let (Some(s), Some(e)) = (start_ms, end_ms)
            && e <= s
        {
            return Err(Error::invalid("end_time", "must be after start_time"));
        }
        let (start_text, end_text) = (start_ms.map(|v| v.to_string()), end_ms.map(|v| v.to_string()));
        let scope = scope(
            "audit-events",
            &[
                organization_id.as_deref(),
                actor.as_deref(),
                action.as_deref(),
                start_text.as_deref(),
                end_text.as_deref(),
            ],
        );
        let cursor = self.cursor(&scope, input.page_token.as_deref())?;
        let filter = AuditFilter {
            organization_id,
            actor,
            action,
            start_ms,
            end_ms,
        };
        let page = self.store().list_audit_events(filter, cursor, size).await?;
        let (next_page_token, prev_page_token) = self.page_tokens(&scope, &page);
        Ok(ListAuditEventsResponse {
            events: page.items.into_iter().map(|(_, e)| e).collect(),
            total_size: page.total as u32,
            next_page_token,
            prev_page_token,
        })
    }
}
