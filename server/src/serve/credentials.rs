//! The liveness check of environment credentials on the management API.
//!
//! An environment access token is a JWT: its signature and `exp` say nothing about whether the
//! credential it was issued to has been revoked since. So after the token verifies, the server
//! checks that its `client_id` names an existing, non-revoked environment credential. To keep
//! that cheap, a positive answer is remembered for [`CredentialGate::recheck`]
//! (`--env-credential-recheck`, 5 s by default); a negative one is never remembered.
//!
//! What is instant and what is not:
//! - a revocation through this server (REST, gRPC has no such route) clears the remembered
//!   answer before the revoke returns, so the revoked credential's next request is refused;
//! - a revocation by another process sharing the store (the CLI, another node on PostgreSQL or
//!   on the same SQLite file) is seen within `recheck` seconds (0 re-checks on every request).
//!
//! A revocation racing with a check that started before it cannot re-insert a stale "live":
//! every invalidation bumps a generation, and a check only records its answer when the
//! generation did not move while it ran.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use authgate_core::authority::Authority;
use authgate_core::{Error, Result};

/// Default of [`CredentialGate::recheck`].
pub const DEFAULT_RECHECK: Duration = Duration::from_secs(5);

/// Remembers which environment credentials were live, for a bounded time.
#[derive(Debug)]
pub struct CredentialGate {
    recheck: Duration,
    generation: AtomicU64,
    /// Client id → when the store last said it was live. Only live ids are kept, and those are
    /// created by operators, so the map stays small.
    live: Mutex<HashMap<String, Instant>>,
}

impl CredentialGate {
    /// A gate that re-reads the store for an id at most every `recheck`.
    pub fn new(recheck: Duration) -> Self {
        CredentialGate {
            recheck,
            generation: AtomicU64::new(0),
            live: Mutex::new(HashMap::new()),
        }
    }

    /// How long a "live" answer is reused.
    pub fn recheck(&self) -> Duration {
        self.recheck
    }

    /// `Ok` when `client_id` is a live environment credential; a refusal
    /// ([`Error::Unauthenticated`]) when it is revoked or unknown; the store's error otherwise.
    pub async fn check(&self, authority: &Authority, client_id: &str) -> Result<()> {
        if !self.recheck.is_zero() {
            let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
            if live
                .get(client_id)
                .is_some_and(|checked| checked.elapsed() < self.recheck)
            {
                return Ok(());
            }
        }
        let generation = self.generation.load(Ordering::Acquire);
        let checked = Instant::now();
        if !authority.environment_client_live(client_id).await? {
            self.forget(client_id);
            return Err(Error::Unauthenticated(
                "the environment credential of this access token is revoked or unknown".into(),
            ));
        }
        if !self.recheck.is_zero() {
            let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
            if self.generation.load(Ordering::Acquire) == generation {
                live.insert(client_id.to_owned(), checked);
            }
        }
        Ok(())
    }

    /// Forgets what was remembered about `client_id` (called by the revoke route).
    pub fn forget(&self, client_id: &str) {
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        live.remove(client_id);
    }
}
