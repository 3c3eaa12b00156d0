//! The audit log: which actions are recorded, who is named as their actor, and the request scope
//! through which a server tells the core who is acting and from where.
//!
//! Every management action of the [`Authority`](crate::authority::Authority) writes one
//! [`AuditEvent`](crate::model::AuditEvent) **in the action's own transaction**: an action that
//! happened is always in the log, and an action that failed (and so changed nothing) is not.
//! Refused management authentications are recorded as failures by the server
//! ([`Authority::record_refused_authentication`](crate::authority::Authority::record_refused_authentication)).
//! Events never hold a secret, key or token; only ids, the actor, the caller's address and the
//! outcome.
//!
//! # The actor
//!
//! - inside [`scope`] once [`set_actor`] was called (the server does, after authenticating a
//!   management call): that actor, e.g. the environment client id `skc_…`;
//! - otherwise the authority's [`AuthorityConfig::audit_actor`](crate::authority::AuthorityConfig::audit_actor):
//!   [`EMBEDDED`] by default, [`cli_actor`] for the `authgate` CLI, [`SERVER`] for what
//!   `authgate serve` does on its own.
//!
//! ```
//! # async fn demo() {
//! use authgate_core::audit;
//! let source = Some("192.0.2.7".parse().unwrap());
//! audit::scope(source, async {
//!     audit::set_actor("skc_1234");
//!     // … management actions run here are recorded with actor skc_1234 and that address
//! })
//! .await;
//! # }
//! ```

use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// The actor of management actions of an embedded client (the default).
pub const EMBEDDED: &str = "embedded";
/// The actor of what `authgate serve` does on its own (e.g. registering its configured
/// environment credential at start).
pub const SERVER: &str = "server";
/// The actor of a refused authentication (whoever tried is not known).
pub const UNAUTHENTICATED: &str = "unauthenticated";
/// Longest actor kept; a longer one is cut (actors come from ids and OS user names).
pub const MAX_ACTOR_LEN: usize = 128;

/// The action of a refused management authentication (outcome `failure`).
pub const ADMIN_AUTHENTICATE: &str = "admin.authenticate";

/// The action of an API key refused because the caller's address is outside its
/// `allowed_cidrs` (outcome `failure`, error code [`ADDRESS_NOT_ALLOWED`], the caller's address
/// as the source). Recorded off the request path, at most [`MAX_DEFERRED_REFUSALS`] per flush.
pub const API_KEY_VALIDATE: &str = "api_key.validate";
/// The error code of an [`API_KEY_VALIDATE`] refusal.
pub const ADDRESS_NOT_ALLOWED: &str = "address_not_allowed";
/// Most address refusals recorded per usage flush; more are counted in the log, not recorded.
pub const MAX_DEFERRED_REFUSALS: usize = 1_000;

/// Every action the log records, in the `resource.verb` form filters use.
pub const ACTIONS: &[&str] = &[
    "organization.create",
    "organization.update",
    "organization.delete",
    "user.create",
    "user.update",
    "user.delete",
    "membership.create",
    "membership.update",
    "membership.delete",
    "api_key.create",
    "api_key.update",
    "api_key.revoke",
    "api_key.rotate",
    "client.create",
    "client.update",
    "client.delete",
    "client_secret.create",
    "client_secret.delete",
    "signing_key.rotate",
    "signing_key.retire",
    "signing_key.encrypt",
    "environment_credential.create",
    "environment_credential.register",
    "environment_credential.revoke",
    "audit.prune",
    ADMIN_AUTHENTICATE,
    API_KEY_VALIDATE,
];

/// Whether `action` is one of [`ACTIONS`].
pub fn is_action(action: &str) -> bool {
    ACTIONS.contains(&action)
}

/// The actor of the `authgate` CLI: `cli:` and the OS user running it (`$USER`, else
/// `$LOGNAME`, else `unknown`). It names the account, not a verified identity: whoever runs the
/// CLI already has the database.
pub fn cli_actor() -> String {
    let user = ["USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.trim().is_empty()))
        .unwrap_or_else(|| "unknown".to_owned());
    clip(format!("cli:{}", user.trim()))
}

/// `actor` cut to [`MAX_ACTOR_LEN`] bytes (at a character boundary), control characters replaced.
pub(crate) fn clip(actor: String) -> String {
    let mut out: String = actor
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if out.len() > MAX_ACTOR_LEN {
        let mut end = MAX_ACTOR_LEN;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
    }
    out
}

/// Who acts in the current request and from where.
#[derive(Debug)]
struct RequestContext {
    source: Option<IpAddr>,
    actor: Mutex<Option<String>>,
}

tokio::task_local! {
    static CONTEXT: Arc<RequestContext>;
}

/// Runs `fut` as one request from `source` (the caller's address, if known): management actions
/// it runs are recorded with that address, and with the actor [`set_actor`] names.
pub async fn scope<F: Future>(source: Option<IpAddr>, fut: F) -> F::Output {
    let context = Arc::new(RequestContext {
        source,
        actor: Mutex::new(None),
    });
    CONTEXT.scope(context, fut).await
}

/// Names the actor of the current [`scope`] (the authenticated caller). Outside a scope it does
/// nothing.
pub fn set_actor(actor: &str) {
    let _ = CONTEXT.try_with(|c| {
        if let Ok(mut slot) = c.actor.lock() {
            *slot = Some(clip(actor.to_owned()));
        }
    });
}

/// The caller's address of the current [`scope`], if any.
pub fn source() -> Option<IpAddr> {
    CONTEXT.try_with(|c| c.source).ok().flatten()
}

/// `(actor, source)` of the current scope: the actor when one was set.
pub(crate) fn current() -> (Option<String>, Option<IpAddr>) {
    CONTEXT
        .try_with(|c| (c.actor.lock().ok().and_then(|a| a.clone()), c.source))
        .unwrap_or((None, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn scope_carries_actor_and_source() {
        assert_eq!(current(), (None, None));
        set_actor("ignored outside a scope");
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        let seen = scope(Some(ip), async {
            assert_eq!(current(), (None, Some(ip)));
            set_actor("skc_1");
            current()
        })
        .await;
        assert_eq!(seen, (Some("skc_1".to_owned()), Some(ip)));
        assert_eq!(current(), (None, None));
    }

    #[test]
    fn actors_are_clipped() {
        assert_eq!(clip("a\nb".into()), "a?b");
        assert_eq!(clip("é".repeat(100)).len(), 128);
        assert!(cli_actor().starts_with("cli:"));
        assert!(ACTIONS.iter().all(|a| is_action(a) && a.contains('.')));
    }
}
