//! The audit log: `GET /api/v1/audit-events`. Admin-only; Scalekit has no such route, the name
//! is authgate's own.

use authgate_core::model::{ListAuditEvents, ListAuditEventsResponse};
use axum::extract::State;

use crate::serve::auth::Admin;
use crate::serve::error::ApiError;
use crate::serve::json::{Query, Reply};
use crate::serve::state::AppState;

/// `GET /api/v1/audit-events?organization_id=&actor=&action=&start_time=&end_time=&page_size=&page_token=`
/// → `{events, total_size, next_page_token, prev_page_token}`, oldest first. Times are RFC 3339.
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    Query(input): Query<ListAuditEvents>,
) -> Result<Reply<ListAuditEventsResponse>, ApiError> {
    Ok(Reply(state.api.list_audit_events(input).await?))
}
