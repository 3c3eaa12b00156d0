//! `client.audit`: the audit log (an authgate extension; Scalekit has no such service).

use std::sync::Arc;

use authgate_core::AuthApi;
use authgate_core::model::{AuditEvent, ListAuditEvents};
use pyo3::prelude::*;

use crate::runtime;
use crate::types::{self, list_response, repr_opt, repr_str};

/// One audit event: who (`actor`) did what (`action`) to what (`target_ids`), in which
/// organization, from where (`source_address`), and whether it happened (`outcome`:
/// `"success"`, or `"failure"` with an `error_code` for a refused management authentication).
/// Never holds a secret, key or token.
#[pyclass(name = "AuditEvent", module = "authgate", frozen)]
pub struct PyAuditEvent(pub AuditEvent);

#[pymethods]
impl PyAuditEvent {
    /// `aud_…`
    #[getter]
    fn id(&self) -> &str {
        &self.0.id
    }

    /// When it was recorded (aware UTC `datetime`, millisecond precision).
    #[getter]
    fn time<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        types::datetime(py, self.0.time)
    }

    /// `skc_…` (a management API caller), `cli:<OS user>`, `embedded`, `server` or
    /// `unauthenticated`.
    #[getter]
    fn actor(&self) -> &str {
        &self.0.actor
    }

    /// `resource.verb`, e.g. `"api_key.revoke"`, `"admin.authenticate"`.
    #[getter]
    fn action(&self) -> &str {
        &self.0.action
    }

    /// `org_…`, when the action concerns an organization.
    #[getter]
    fn organization_id(&self) -> Option<&str> {
        self.0.organization_id.as_deref()
    }

    /// Ids of what the action created, changed or removed (a new list on each access).
    #[getter]
    fn target_ids(&self) -> Vec<String> {
        self.0.target_ids.clone()
    }

    /// The caller's IP address, when known.
    #[getter]
    fn source_address(&self) -> Option<&str> {
        self.0.source_address.as_deref()
    }

    /// `"success"` or `"failure"`.
    #[getter]
    fn outcome(&self) -> &'static str {
        self.0.outcome.as_str()
    }

    /// For a failure, the error code it was refused with.
    #[getter]
    fn error_code(&self) -> Option<&str> {
        self.0.error_code.as_deref()
    }

    /// Plain data (`dict`), e.g. for a JSON response. Timestamps are RFC 3339 strings.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        types::to_plain(py, &self.0)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<PyAuditEvent>().is_ok_and(|o| o.get().0 == self.0)
    }

    fn __repr__(&self) -> String {
        format!(
            "AuditEvent(id={}, actor={}, action={}, organization_id={}, outcome={})",
            repr_str(&self.0.id),
            repr_str(&self.0.actor),
            repr_str(&self.0.action),
            repr_opt(self.0.organization_id.as_deref()),
            repr_str(self.0.outcome.as_str()),
        )
    }
}

list_response! {
    /// Result of `list_events`: one page of `.events` (oldest first), `.total_size`,
    /// `.next_page_token` (`""` on the last page) and `.prev_page_token`.
    "ListAuditEventsResponse" => PyListAuditEventsResponse {
        /// This page (a new list of `AuditEvent` on each access).
        events: PyAuditEvent,
        /// Number of events matching the filters, over all pages.
        total_size,
    }
}

/// `client.audit`: read the audit log.
#[pyclass(name = "AuditService", module = "authgate", frozen)]
pub struct PyAuditService {
    api: Arc<dyn AuthApi>,
}

impl PyAuditService {
    pub fn new(api: Arc<dyn AuthApi>) -> Self {
        PyAuditService { api }
    }
}

#[pymethods]
impl PyAuditService {
    /// Lists audit events, oldest first, one page at a time. Filters combine: `organization_id`,
    /// `actor`, `action` (e.g. `"api_key.revoke"`), `start_time` (inclusive) and `end_time`
    /// (exclusive) as `datetime`s or Unix seconds. A page token is bound to its filters.
    #[pyo3(signature = (organization_id=None, actor=None, action=None, start_time=None, end_time=None, page_size=None, page_token=None))]
    #[allow(clippy::too_many_arguments)]
    fn list_events(
        &self,
        py: Python<'_>,
        organization_id: Option<String>,
        actor: Option<String>,
        action: Option<String>,
        start_time: Option<Bound<'_, PyAny>>,
        end_time: Option<Bound<'_, PyAny>>,
        page_size: Option<u32>,
        page_token: Option<String>,
    ) -> PyResult<PyListAuditEventsResponse> {
        let input = ListAuditEvents {
            organization_id,
            actor,
            action,
            start_time: start_time
                .map(|t| types::extract_instant(&t, "start_time"))
                .transpose()?,
            end_time: end_time
                .map(|t| types::extract_instant(&t, "end_time"))
                .transpose()?,
            page_size,
            page_token: page_token.filter(|t| !t.is_empty()),
        };
        let api = &self.api;
        let page = runtime::block_on(py, api.list_audit_events(input))?;
        PyListAuditEventsResponse::new(
            py,
            page.events.into_iter().map(PyAuditEvent),
            page.total_size,
            page.next_page_token,
            page.prev_page_token,
        )
    }

    fn __repr__(&self) -> String {
        "AuditService()".to_owned()
    }
}
