//! Console sessions, held in this process's memory.
//!
//! A session is created by a successful sign-in with environment credentials. The browser holds
//! only an opaque, random 256-bit identifier in an `HttpOnly` cookie; the server keeps, keyed by
//! the SHA-256 digest of that identifier (so the table itself holds nothing a browser could
//! present), the credential's client id, the session's CSRF token, and its two clocks:
//!
//! - **idle expiry**: a session unused for [`SessionLimits::idle`] ends;
//! - **absolute expiry**: a session ends [`SessionLimits::lifetime`] after sign-in, however busy.
//!
//! Sessions are per node and end when the process stops (operators sign in again). The table is
//! bounded ([`SessionLimits::max_sessions`]): when it is full, expired sessions are dropped
//! first, then the one closest to its absolute expiry.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_lc_rs::digest;
use base64::Engine as _;

/// Default of [`SessionLimits::idle`]: 30 minutes.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(30 * 60);
/// Default of [`SessionLimits::lifetime`]: 12 hours.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);
/// Default of [`SessionLimits::max_sessions`].
pub const DEFAULT_MAX_SESSIONS: usize = 10_000;

/// How long sessions live and how many are kept.
#[derive(Debug, Clone, Copy)]
pub struct SessionLimits {
    /// A session unused this long ends (`--console-idle-timeout`).
    pub idle: Duration,
    /// A session ends this long after sign-in (`--console-session-lifetime`).
    pub lifetime: Duration,
    /// Most sessions held at once.
    pub max_sessions: usize,
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits {
            idle: DEFAULT_IDLE,
            lifetime: DEFAULT_LIFETIME,
            max_sessions: DEFAULT_MAX_SESSIONS,
        }
    }
}

/// What a live session grants: the environment credential that signed in, and the token every
/// state-changing request of the session must carry.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The environment client (`skc_…`) that signed in.
    pub client_id: String,
    /// The session's CSRF token (sent back in the `X-CSRF-Token` header).
    pub csrf_token: String,
    /// Seconds until the absolute expiry.
    pub expires_in: u64,
}

impl std::fmt::Debug for SessionInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionInfo")
            .field("client_id", &self.client_id)
            .field("csrf_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

struct Entry {
    client_id: String,
    csrf_token: String,
    created: Instant,
    last_used: Instant,
}

/// Why a presented session is not usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// No such session (never existed, signed out, or dropped).
    Unknown,
    /// Unused for longer than the idle limit.
    Idle,
    /// Past its absolute lifetime.
    Expired,
}

impl SessionEnd {
    /// A sentence for the error message.
    pub fn describe(self) -> &'static str {
        match self {
            SessionEnd::Unknown => "the console session is unknown or was signed out",
            SessionEnd::Idle => "the console session ended after a period of inactivity",
            SessionEnd::Expired => "the console session reached its maximum lifetime",
        }
    }
}

/// The session table.
pub struct Sessions {
    limits: SessionLimits,
    map: Mutex<HashMap<[u8; 32], Entry>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("limits", &self.limits)
            .field("live", &self.len())
            .finish()
    }
}

/// `bytes` random bytes from the system CSPRNG, base64url without padding.
fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    aws_lc_rs::rand::fill(&mut buf).expect("the system CSPRNG failed");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

fn key(session_id: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, session_id.as_bytes()).as_ref());
    out
}

/// Constant-time equality of two strings of any length (a length difference is not secret).
pub fn tokens_equal(a: &str, b: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}

impl Sessions {
    /// An empty table.
    pub fn new(limits: SessionLimits) -> Self {
        Sessions {
            limits,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// The limits.
    pub fn limits(&self) -> SessionLimits {
        self.limits
    }

    /// Sessions held now (expired ones not yet dropped included).
    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn end_of(&self, entry: &Entry, now: Instant) -> Option<SessionEnd> {
        if now.duration_since(entry.created) >= self.limits.lifetime {
            Some(SessionEnd::Expired)
        } else if now.duration_since(entry.last_used) >= self.limits.idle {
            Some(SessionEnd::Idle)
        } else {
            None
        }
    }

    fn info(&self, entry: &Entry, now: Instant) -> SessionInfo {
        let left = self
            .limits
            .lifetime
            .saturating_sub(now.duration_since(entry.created));
        SessionInfo {
            client_id: entry.client_id.clone(),
            csrf_token: entry.csrf_token.clone(),
            expires_in: left.as_secs(),
        }
    }

    /// Starts a session for `client_id`; returns the identifier for the cookie (shown once, only
    /// its digest is kept) and the session.
    pub fn create(&self, client_id: &str) -> (String, SessionInfo) {
        let id = random_token(32);
        let now = Instant::now();
        let entry = Entry {
            client_id: client_id.to_owned(),
            csrf_token: random_token(32),
            created: now,
            last_used: now,
        };
        let info = self.info(&entry, now);
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= self.limits.max_sessions {
            map.retain(|_, e| self.end_of(e, now).is_none());
        }
        while map.len() >= self.limits.max_sessions.max(1) {
            let Some(oldest) = map.iter().min_by_key(|(_, e)| e.created).map(|(k, _)| *k) else {
                break;
            };
            map.remove(&oldest);
        }
        map.insert(key(&id), entry);
        (id, info)
    }

    /// The session of `session_id`, when it is live. `touch` restarts its idle clock (every
    /// request an operator makes; not the dashboard's background polling). An ended session is
    /// dropped.
    pub fn get(&self, session_id: &str, touch: bool) -> Result<SessionInfo, SessionEnd> {
        let k = key(session_id);
        let now = Instant::now();
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let entry = map.get_mut(&k).ok_or(SessionEnd::Unknown)?;
        if let Some(end) = self.end_of(entry, now) {
            map.remove(&k);
            return Err(end);
        }
        if touch {
            entry.last_used = now;
        }
        Ok(self.info(entry, now))
    }

    /// Ends the session of `session_id` (sign-out). Ending an unknown session changes nothing.
    pub fn remove(&self, session_id: &str) -> bool {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&key(session_id)).is_some()
    }

    /// Ends every session of `client_id` (its credential was revoked).
    pub fn remove_client(&self, client_id: &str) -> usize {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let before = map.len();
        map.retain(|_, e| e.client_id != client_id);
        before - map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(idle_ms: u64, lifetime_ms: u64, max: usize) -> SessionLimits {
        SessionLimits {
            idle: Duration::from_millis(idle_ms),
            lifetime: Duration::from_millis(lifetime_ms),
            max_sessions: max,
        }
    }

    #[test]
    fn create_get_remove() {
        let s = Sessions::new(SessionLimits::default());
        let (id, info) = s.create("skc_1");
        assert_eq!(id.len(), 43);
        assert_eq!(info.client_id, "skc_1");
        assert_ne!(info.csrf_token, id);
        let got = s.get(&id, true).unwrap();
        assert_eq!(
            (&got.client_id, &got.csrf_token),
            (&info.client_id, &info.csrf_token)
        );
        assert!(got.expires_in <= info.expires_in && got.expires_in + 1 >= info.expires_in);
        assert_eq!(s.get("nope", true), Err(SessionEnd::Unknown));
        assert!(s.remove(&id));
        assert_eq!(s.get(&id, true), Err(SessionEnd::Unknown));
        assert!(!format!("{info:?}").contains(&info.csrf_token));
    }

    #[test]
    fn idle_and_absolute_expiry() {
        let s = Sessions::new(limits(80, 10_000, 10));
        let (id, _) = s.create("skc_1");
        std::thread::sleep(Duration::from_millis(50));
        assert!(s.get(&id, true).is_ok());
        std::thread::sleep(Duration::from_millis(50));
        // Touched 50 ms ago: still live; an untouching read does not extend it.
        assert!(s.get(&id, false).is_ok());
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(s.get(&id, true), Err(SessionEnd::Idle));
        assert_eq!(s.get(&id, true), Err(SessionEnd::Unknown));

        let s = Sessions::new(limits(10_000, 60, 10));
        let (id, _) = s.create("skc_1");
        std::thread::sleep(Duration::from_millis(70));
        assert_eq!(s.get(&id, true), Err(SessionEnd::Expired));
    }

    #[test]
    fn bounded_and_revocable() {
        let s = Sessions::new(limits(10_000, 10_000, 2));
        let (a, _) = s.create("skc_1");
        std::thread::sleep(Duration::from_millis(2));
        let (b, _) = s.create("skc_2");
        std::thread::sleep(Duration::from_millis(2));
        let (c, _) = s.create("skc_2");
        assert_eq!(s.len(), 2);
        assert_eq!(s.get(&a, true), Err(SessionEnd::Unknown));
        assert_eq!(s.remove_client("skc_2"), 2);
        assert!(s.get(&b, true).is_err() && s.get(&c, true).is_err());
        assert!(tokens_equal("abc", "abc") && !tokens_equal("abc", "abd") && !tokens_equal("a", "ab"));
    }
}
