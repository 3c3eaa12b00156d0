//! The audit log: `scalekit.audit` (an authgate extension; Scalekit has no such service).

use std::sync::Arc;

use authgate_core::AuthApi;
use authgate_core::model::{AuditEvent, ListAuditEvents};
use chrono::{DateTime, Utc};
use napi::bindgen_prelude::{Either3, PromiseRaw};
use napi::{Env, Result};
use napi_derive::napi;
use time::OffsetDateTime;

use crate::errors::spawn;
use crate::to_date;
use crate::token::timestamp;

/// One audit event: who (`actor`) did what (`action`) to what (`targetIds`), in which
/// organization, from where, and whether it happened. Never holds a secret, key or token.
#[napi(object, js_name = "AuditEvent")]
#[derive(Debug)]
pub struct JsAuditEvent {
    /// `aud_…`
    pub id: String,
    /// When it was recorded (millisecond precision).
    pub time: DateTime<Utc>,
    /// `skc_…` (a management API caller), `cli:<OS user>`, `embedded`, `server` or
    /// `unauthenticated`.
    pub actor: String,
    /// `resource.verb`, e.g. `api_key.revoke`, `admin.authenticate`.
    pub action: String,
    /// `org_…`, when the action concerns an organization.
    pub organization_id: Option<String>,
    /// Ids of what the action created, changed or removed.
    pub target_ids: Vec<String>,
    /// The caller's IP address, when known.
    pub source_address: Option<String>,
    /// `success` or `failure`.
    #[napi(ts_type = "'success' | 'failure'")]
    pub outcome: String,
    /// For a failure, the error code it was refused with.
    pub error_code: Option<String>,
}

impl From<AuditEvent> for JsAuditEvent {
    fn from(e: AuditEvent) -> Self {
        JsAuditEvent {
            id: e.id,
            time: to_date(e.time),
            actor: e.actor,
            action: e.action,
            organization_id: e.organization_id,
            target_ids: e.target_ids,
            source_address: e.source_address,
            outcome: e.outcome.as_str().to_owned(),
            error_code: e.error_code,
        }
    }
}

/// Options of `listEvents`: every filter is optional and they combine.
#[napi(object, js_name = "ListAuditEventsOptions")]
#[derive(Debug, Default)]
pub struct JsListAuditEventsOptions {
    /// Only events of this organization.
    pub organization_id: Option<String>,
    /// Only events of this actor (exact).
    pub actor: Option<String>,
    /// Only events of this action (e.g. `api_key.revoke`).
    pub action: Option<String>,
    /// Only events at or after this time (`Date`, RFC 3339 string or Unix seconds).
    pub start_time: Option<Either3<DateTime<Utc>, String, f64>>,
    /// Only events before this time.
    pub end_time: Option<Either3<DateTime<Utc>, String, f64>>,
    /// Page size (1–100, default 50).
    pub page_size: Option<u32>,
    /// Token of the page to read (bound to the same filters).
    pub page_token: Option<String>,
}

/// Result of `listEvents`.
#[napi(object, js_name = "ListAuditEventsResponse")]
#[derive(Debug)]
pub struct JsListAuditEventsResponse {
    /// This page, oldest first.
    pub events: Vec<JsAuditEvent>,
    /// Number of events matching the filters, over all pages.
    pub total_size: u32,
    /// Token of the next page; empty on the last one.
    pub next_page_token: String,
    /// Token of the previous page; empty on the first one.
    pub prev_page_token: String,
}

/// A filter time: a `Date` to the millisecond (events are recorded to the millisecond, and a
/// filter built from an event's `time` must keep it); strings and numbers as for other times.
fn instant(field: &str, value: Either3<DateTime<Utc>, String, f64>) -> authgate_core::Result<OffsetDateTime> {
    match value {
        Either3::A(date) => {
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(date.timestamp_millis()) * 1_000_000)
                .map_err(|_| authgate_core::Error::invalid(field, "date out of range"))
        }
        other => timestamp(field, other),
    }
}

/// `scalekit.audit`: read the audit log.
#[napi(js_name = "NativeAuditClient")]
#[derive(Debug)]
pub struct JsAuditClient {
    pub(crate) api: Arc<dyn AuthApi>,
}

#[napi]
impl JsAuditClient {
    /// Lists audit events, oldest first, one page at a time.
    #[napi(ts_return_type = "Promise<ListAuditEventsResponse>")]
    pub fn list_events<'env>(
        &self,
        env: &'env Env,
        options: Option<JsListAuditEventsOptions>,
    ) -> Result<PromiseRaw<'env, JsListAuditEventsResponse>> {
        let api = self.api.clone();
        let o = options.unwrap_or_default();
        spawn(env, async move {
            let input = ListAuditEvents {
                organization_id: o.organization_id,
                actor: o.actor,
                action: o.action,
                start_time: o.start_time.map(|t| instant("startTime", t)).transpose()?,
                end_time: o.end_time.map(|t| instant("endTime", t)).transpose()?,
                page_size: o.page_size,
                page_token: o.page_token.filter(|t| !t.is_empty()),
            };
            let r = api.list_audit_events(input).await?;
            Ok(JsListAuditEventsResponse {
                events: r.events.into_iter().map(Into::into).collect(),
                total_size: r.total_size,
                next_page_token: r.next_page_token,
                prev_page_token: r.prev_page_token,
            })
        })
    }
}
