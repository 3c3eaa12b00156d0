//! The authority: organizations, users, API keys, M2M clients, signing keys, token issuance.
//!
//! [`Authority`] is the server-side implementation of [`AuthApi`](crate::AuthApi) on a store opened in-process —
//! what `authgate serve` runs, and what the bindings embed in "local" mode.
//!
//! ```no_run
//! use authgate_core::authority::{Authority, AuthorityConfig};
//! use authgate_core::model::{CreateOrganization, CreateToken};
//! use authgate_core::AuthApi;
//!
//! # async fn demo() -> authgate_core::Result<()> {
//! let config = AuthorityConfig::from_env("http://127.0.0.1:8080")?;
//! let authority = Authority::open("sqlite://authgate.db", config).await?;
//! let org = authority
//!     .create_organization(CreateOrganization { display_name: "Acme".into(), ..Default::default() })
//!     .await?;
//! let created = authority
//!     .create_token(CreateToken { organization_id: org.id.clone(), ..Default::default() })
//!     .await?;
//! // Hand `created.token` to the caller once; only its digest is stored.
//! let info = authority.validate_token(created.token.expose()).await?;
//! assert_eq!(info.organization_id, org.id);
//! # Ok(()) }
//! ```
//!
//! # Semantics worth knowing
//!
//! - **Validation** does at most one indexed read and no write: a successful one notes the key's use in
//!   memory, and a background task writes each key's latest use (`last_used_time`) every
//!   [`AuthorityConfig::usage_flush_interval`] (5 s) in one transaction — see `usage.rs`. Unknown, malformed (bad prefix, length,
//!   alphabet or checksum — caught before the store), expired and revoked keys, and bare `apit_…`
//!   ids all fail with the same [`Error::TokenValidationFailed`]. Validations are answered from
//!   a cache ([`store::keycache`](crate::store::keycache)). On SQLite it first asks the file
//!   whether anything changed since (its data version, about 2 µs), so a revocation through any
//!   process sharing the file takes effect on the next validation everywhere. On PostgreSQL it
//!   is kept exact by notifications: a change takes effect at once in the process that made it
//!   and within milliseconds in every other one, and never later than
//!   [`AuthorityConfig::cache_max_staleness`] (1 s) even if notifications stall.
//! - **Live keys** are the keys not revoked; expired keys stay listed (with their `expiry`) and can
//!   still be updated or revoked. Revoked keys are kept as tombstones: revoking again is `Ok`,
//!   while update ignores them and list shows them only with `include_revoked` (with `revoked_at`).
//! - **Rotation** ([`AuthApi::rotate_token`](crate::AuthApi::rotate_token)) inserts the new key and
//!   marks the old one in one transaction (under a per-key lock): the old key's `revoked_at` and
//!   `expiry` become the end of the grace period, so it is revoked then without any further write
//!   — a key is revoked once `revoked_at <= now`, compared by each node with its own clock.
//! - **Users** are unique by email (trimmed and lowercased). Creating a user with the email of an
//!   existing one adds a membership to that user; a different `external_id` for the same email is
//!   `already_exists`, as is a second membership in the same organization.
//! - **User-scoped keys**: an unknown user is `not_found`; a user who exists but is not a member
//!   of the organization is `failed_precondition`.
//! - **Pagination** is keyset pagination over a per-table sequence, oldest first. Page tokens are
//!   opaque and authenticated (HMAC under a per-store secret) and bound to their query: a tampered
//!   token, or one from another list or another store, is `invalid_argument` naming `page_token`.
//!   `next_page_token` / `prev_page_token` are empty when there is no such page.
//! - **Client secrets**: `last_used_time` is updated by the token endpoint at most once a minute
//!   per secret (a write per token request would serialise busy SQLite stores); with
//!   [`AuthorityConfig::defer_bookkeeping`] (the server) the write happens off the request path
//!   and is dropped under contention, so a held write lock never delays a grant.
//! - **Environment clients** (`skc_…`) authenticate callers of the management API. Their access
//!   tokens carry `iss`, `sub` = `client_id` = the `skc_` id, `scope` = `"openid"`,
//!   `scopes` = `["openid"]`, `iat`, `nbf`, `exp` and `jti` — no `oid`, `aud` or `custom_claims` —
//!   and live [`AuthorityConfig::environment_token_ttl`] seconds.
//!
//! - **Requested scopes** at the token endpoint: none (or an empty list) means all of the client's
//!   scopes; any scope the client was not granted is [`Error::InvalidScope`]. An unknown client, a
//!   wrong secret and a malformed secret are one [`Error::InvalidClient`]; secrets are compared
//!   as digests in constant time.
//! - **Blocking**: on SQLite, reads (validation included) run on the calling task and never
//!   suspend — so a binding can drive `validate_token` with a trivial executor on its own thread —
//!   while writes go to the blocking pool, one at a time per store.
//!
//! All limits are in [`limits`].
//!
//! Layout: this file holds the configuration, opening a store and the helpers every operation
//! shares; `api.rs` implements `AuthApi` (organizations, users, API keys, M2M clients);
//! `grant.rs` the client-credentials grant step by step; `rotation.rs` the signing-key
//! lifecycle; `signing.rs` the key material (generation, encryption at rest, signing);
//! `paging.rs` page tokens; [`limits`] every input check.
//!
//! # Signing keys
//!
//! Access tokens are signed (RS256) with keys generated in the store, their private halves
//! encrypted at rest when `AUTHGATE_MASTER_KEY` is set. A key moves through four states,
//! pending → active → published → retired ([`SigningKeyState`](crate::model::SigningKeyState)):
//!
//! - **pending**: created by [`Authority::rotate_signing_key`] with a non-zero delay. It is in
//!   the JWKS but signs nothing until its `activate_at` (rotation time + delay). At most one key
//!   is pending.
//! - **active**: signs every new token. Exactly one key is active; the first one is created,
//!   active, on first need.
//! - **published**: the previously active key. It signs nothing but stays in the JWKS, so the
//!   tokens it signed keep validating until they expire.
//! - **retired**: out of the JWKS ([`Authority::retire_signing_key`]); the tokens it signed stop
//!   validating once validators refresh their key set. Any key but the active one can be
//!   retired, a pending one included (it never signed anything).
//!
//! **Why a key is published before it signs.** Validators cache the JWKS and, on a token with an
//! unknown `kid`, refetch it at most once per cooldown: 30 s by default in our
//! [`JwtValidator`](crate::jwt::JwtValidator), in jose and in PyJWT. A key that signed the moment
//! it was created would be refused, for up to that cooldown, by every validator that fetched the
//! set shortly before. Published for [`AuthorityConfig::signing_key_activation_delay`] first (60 s
//! by default), the new key is in the set of every validator that fetched after the rotation,
//! and every validator that fetched before it is past its cooldown (or its cache lifetime: `/keys`
//! is served with `max-age=60`) by the time a token carries the new `kid`. Keycloak's passive
//! keys and Auth0's and Okta's "next" key do the same.
//!
//! **Activation is lazy.** Once the activation time has passed, the first caller to notice
//! makes the pending key active and the active key published: the token endpoint (which reads
//! the pending key's activation time with the client, in the same query), [`AuthApi::jwks`](crate::AuthApi::jwks) and
//! [`Authority::list_signing_keys`]. The switch is one transaction under the signing-keys lock,
//! so of several processes or nodes sharing the store (SQLite or PostgreSQL) exactly one performs
//! it; from the activation time on, every token carries the new `kid`, whichever node issues it.
//! Each node compares with its own clock, so keep clocks in sync to well within the delay.
//!
//! **Rotating while a key is pending** is refused with [`Error::FailedPrecondition`] naming the
//! pending key and its activation time, unless the new rotation is immediate (zero delay): then
//! the pending key is activated at once instead of creating another one (it is already
//! published, so many validators know it). To replace a pending key instead, retire it, then
//! rotate. A zero delay is for emergencies such as a compromised active key: validators that
//! fetched the set within their cooldown refuse the new `kid` until it ends. A store without an
//! active key gets its new key active at once whatever the delay (no validator knows any key).

use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::keys::{self, Digester};
use crate::model::{Organization, Secret};
use crate::store::{self, Cursor, KeyRef, NewSecret, Page, Store, StoreKind, unix_ms};

mod api;
pub mod audit;
mod environment;
mod grant;
pub mod limits;
mod paging;
mod ratelimit;
mod rotation;
mod signing;
mod usage;

pub use environment::EnvironmentCredential;
use paging::PageTokens;
use signing::{Sealer, Signer};

/// Meta keys.
const META_KEY_DIGEST: &str = "key_digest";
const META_PAGE_SECRET: &str = "page_token_secret";
const META_SIGNING_KEY_ENCRYPTION: &str = "signing_key_encryption";

/// Minimum length of `AUTHGATE_KEY_PEPPER` and `AUTHGATE_MASTER_KEY`.
pub const MIN_SECRET_CONFIG_LEN: usize = 32;
/// Most client secrets whose deferred `last_used_time` write waits at once
/// ([`AuthorityConfig::defer_bookkeeping`]); API keys are not capped (one entry per key used).
pub const MAX_DEFERRED_TOUCHES: usize = 64;
/// Default of [`AuthorityConfig::usage_flush_interval`].
pub const DEFAULT_USAGE_FLUSH_INTERVAL: Duration = Duration::from_secs(5);
/// Default of [`AuthorityConfig::signing_key_activation_delay`].
pub const DEFAULT_SIGNING_KEY_ACTIVATION_DELAY: Duration = Duration::from_secs(60);

/// Configuration of an [`Authority`].
#[derive(Clone, Debug)]
pub struct AuthorityConfig {
    /// `iss` of issued access tokens: the environment URL, e.g. `http://127.0.0.1:8080`.
    /// Must be an `http(s)` URL; a trailing `/` is removed. No default: every deployment names its own.
    pub issuer: String,
    /// Pepper for API-key and client-secret digests (`AUTHGATE_KEY_PEPPER`): HMAC-SHA-256 keyed
    /// with it instead of plain SHA-256. At least [`MIN_SECRET_CONFIG_LEN`] characters.
    /// Default: `None` (SHA-256). A store remembers which scheme (and a fingerprint of the pepper)
    /// it was created with and refuses to open with another one.
    pub key_pepper: Option<Secret>,
    /// Master key encrypting signing keys at rest (`AUTHGATE_MASTER_KEY`, AES-256-GCM under a key
    /// derived with HKDF-SHA-256). At least [`MIN_SECRET_CONFIG_LEN`] characters. Default: `None`
    /// (private keys stored as plain PKCS#8). Once a store has encrypted keys it refuses to open
    /// without the same master key. Keys created before a master key was set stay unencrypted
    /// (`encrypted: false`) until [`Authority::encrypt_plaintext_signing_keys`] encrypts them
    /// (`authgate serve` does at start).
    pub master_key: Option<Secret>,
    /// Lifetime in seconds of the access tokens issued to environment (`skc_…`) clients, 60–86400.
    /// Default: 3600 (`AUTHGATE_ENVIRONMENT_TOKEN_TTL`).
    pub environment_token_ttl: u64,
    /// How long a rotated-in signing key is published before it starts signing: the delay
    /// `authgate signing-keys rotate` passes to [`Authority::rotate_signing_key`] unless told
    /// otherwise (`AUTHGATE_SIGNING_KEY_ACTIVATION_DELAY`, whole seconds, at most 30 days).
    ///
    /// Default: [60 s](DEFAULT_SIGNING_KEY_ACTIVATION_DELAY). Validators refetch the JWKS for an
    /// unknown `kid` at most once per cooldown, 30 s by default in ours, jose and PyJWT; twice
    /// that covers them with room for clock skew between nodes, and also covers validators that
    /// only refetch when their cached set expires, since `/keys` is served with `max-age=60`.
    /// Raise it if your validators use a longer cooldown or cache lifetime. Zero makes rotations
    /// immediate, for emergencies (see [the module docs](self#signing-keys)).
    pub signing_key_activation_delay: Duration,
    /// Record `last_used_time` of client secrets off the request path: the token endpoint
    /// notes the use in memory and answers at once; the flush task that writes API keys' last
    /// use (every [`usage_flush_interval`](Self::usage_flush_interval)) writes it, so a busy
    /// store or another process holding the SQLite write lock never delays a grant. At most
    /// [`MAX_DEFERRED_TOUCHES`] secrets wait at a time (further ones are dropped until the next
    /// flush). Default `false` (the write is awaited, as an embedded caller without a runtime
    /// needs); `authgate serve` sets it.
    pub defer_bookkeeping: bool,
    /// The actor recorded in the audit log for management actions run outside an
    /// [`audit::scope`](crate::audit::scope) that names one: [`audit::EMBEDDED`](crate::audit::EMBEDDED)
    /// by default; the `authgate` CLI sets [`audit::cli_actor`](crate::audit::cli_actor), `authgate
    /// serve` [`audit::SERVER`](crate::audit::SERVER) (each management request names its caller).
    pub audit_actor: String,
    /// How often noted uses are written: API keys' `last_used_time` (never written by the
    /// validation itself) and, with [`defer_bookkeeping`](Self::defer_bookkeeping), client
    /// secrets'. The stored time lags the last use by at most this much. 1–60 s
    /// (`AUTHGATE_USAGE_FLUSH_INTERVAL`, whole seconds); default
    /// [5 s](DEFAULT_USAGE_FLUSH_INTERVAL).
    pub usage_flush_interval: Duration,
    /// The maximum staleness of the PostgreSQL validation cache
    /// (`AUTHGATE_CACHE_MAX_STALENESS_MS`, milliseconds), zero to turn the cache off (on SQLite
    /// too, where the cache is exact whatever this bound).
    ///
    /// A PostgreSQL store answers API-key validations from memory and drops what changed as
    /// PostgreSQL notifications arrive (see [`crate::store::keycache`]): revocations, updates and
    /// deletions made through any process reach this one in milliseconds. This bound is the
    /// worst case when that path fails silently (a stalled listener or network): the cache stops
    /// answering once its last confirmed round trip through PostgreSQL is older than this, and
    /// every validation reads the database until it is confirmed again. A lost connection stops
    /// it at once. 10 ms – 60 s, or 0; default [1 s](DEFAULT_CACHE_MAX_STALENESS). A SQLite
    /// store's cache needs no bound: it asks the file whether anything changed before every
    /// answer.
    pub cache_max_staleness: Duration,
}

/// Default of [`AuthorityConfig::cache_max_staleness`].
pub const DEFAULT_CACHE_MAX_STALENESS: Duration = Duration::from_secs(1);

impl AuthorityConfig {
    /// A configuration with the given issuer and every other field at its default.
    pub fn new(issuer: impl Into<String>) -> Self {
        AuthorityConfig {
            issuer: issuer.into(),
            key_pepper: None,
            master_key: None,
            environment_token_ttl: 3600,
            signing_key_activation_delay: DEFAULT_SIGNING_KEY_ACTIVATION_DELAY,
            defer_bookkeeping: false,
            audit_actor: crate::audit::EMBEDDED.to_owned(),
            usage_flush_interval: DEFAULT_USAGE_FLUSH_INTERVAL,
            cache_max_staleness: DEFAULT_CACHE_MAX_STALENESS,
        }
    }

    /// [`AuthorityConfig::new`], then `AUTHGATE_KEY_PEPPER`, `AUTHGATE_MASTER_KEY`,
    /// `AUTHGATE_ENVIRONMENT_TOKEN_TTL` and `AUTHGATE_SIGNING_KEY_ACTIVATION_DELAY` from the
    /// environment (unset or empty = default).
    pub fn from_env(issuer: impl Into<String>) -> Result<Self> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let mut config = AuthorityConfig::new(issuer);
        config.key_pepper = var("AUTHGATE_KEY_PEPPER").map(Secret::new);
        config.master_key = var("AUTHGATE_MASTER_KEY").map(Secret::new);
        if let Some(ttl) = var("AUTHGATE_ENVIRONMENT_TOKEN_TTL") {
            config.environment_token_ttl = ttl.trim().parse().map_err(|_| {
                Error::invalid("AUTHGATE_ENVIRONMENT_TOKEN_TTL", "must be a number of seconds")
            })?;
        }
        if let Some(delay) = var("AUTHGATE_SIGNING_KEY_ACTIVATION_DELAY") {
            let seconds: u64 = delay.trim().parse().map_err(|_| {
                Error::invalid(
                    "AUTHGATE_SIGNING_KEY_ACTIVATION_DELAY",
                    "must be a whole number of seconds",
                )
            })?;
            limits::activation_delay(
                "AUTHGATE_SIGNING_KEY_ACTIVATION_DELAY",
                Duration::from_secs(seconds),
            )?;
            config.signing_key_activation_delay = Duration::from_secs(seconds);
        }
        if let Some(every) = var("AUTHGATE_USAGE_FLUSH_INTERVAL") {
            let seconds: u64 = every.trim().parse().map_err(|_| {
                Error::invalid(
                    "AUTHGATE_USAGE_FLUSH_INTERVAL",
                    "must be a whole number of seconds",
                )
            })?;
            config.usage_flush_interval = Duration::from_secs(seconds);
        }
        if let Some(ms) = var("AUTHGATE_CACHE_MAX_STALENESS_MS") {
            let ms: u64 = ms.trim().parse().map_err(|_| {
                Error::invalid(
                    "AUTHGATE_CACHE_MAX_STALENESS_MS",
                    "must be a whole number of milliseconds (0: no validation cache)",
                )
            })?;
            config.cache_max_staleness = Duration::from_millis(ms);
        }
        config.validate()?;
        Ok(config)
    }

    fn validate(&mut self) -> Result<()> {
        let trimmed = self.issuer.trim_end_matches('/').to_owned();
        let url =
            url::Url::parse(&trimmed).map_err(|_| Error::invalid("issuer", "must be an absolute URL"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
            return Err(Error::invalid("issuer", "must be an http:// or https:// URL"));
        }
        self.issuer = trimmed;
        for (name, value) in [
            ("AUTHGATE_KEY_PEPPER", &self.key_pepper),
            ("AUTHGATE_MASTER_KEY", &self.master_key),
        ] {
            if let Some(v) = value
                && v.expose().chars().count() < MIN_SECRET_CONFIG_LEN
            {
                return Err(Error::invalid(
                    name,
                    format!(
                        "must be at least {MIN_SECRET_CONFIG_LEN} characters (e.g. `openssl rand -base64 32`)"
                    ),
                ));
            }
        }
        if !(60..=86_400).contains(&self.environment_token_ttl) {
            return Err(Error::invalid(
                "environment_token_ttl",
                "must be between 60 and 86400 seconds",
            ));
        }
        limits::activation_delay("signing_key_activation_delay", self.signing_key_activation_delay)?;
        if self.audit_actor.trim().is_empty() {
            return Err(Error::invalid("audit_actor", "must not be blank"));
        }
        self.audit_actor = crate::audit::clip(std::mem::take(&mut self.audit_actor));
        if !(Duration::from_secs(1)..=Duration::from_secs(60)).contains(&self.usage_flush_interval) {
            return Err(Error::invalid(
                "usage_flush_interval",
                "must be between 1 and 60 seconds",
            ));
        }
        if !self.cache_max_staleness.is_zero()
            && !(Duration::from_millis(10)..=Duration::from_secs(60)).contains(&self.cache_max_staleness)
        {
            return Err(Error::invalid(
                "cache_max_staleness",
                "must be 0 (no validation cache) or between 10 ms and 60 s",
            ));
        }
        Ok(())
    }
}

/// The authority over one store. Cheap to clone: clones share the store, its connection pool and
/// the cached signing key.
#[derive(Clone)]
pub struct Authority {
    inner: Arc<Inner>,
}

struct Inner {
    config: AuthorityConfig,
    store: Arc<dyn Store>,
    digester: Digester,
    pages: PageTokens,
    sealer: Option<Arc<Sealer>>,
    signer: RwLock<Option<Arc<Signer>>>,
    /// One key generation at a time per process.
    keygen: tokio::sync::Mutex<()>,
    /// Uses of keys and secrets waiting for the flush task.
    usage: usage::Usage,
    /// The windows of rate-limited keys.
    rates: ratelimit::RateLimiter,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority")
            .field("issuer", &self.inner.config.issuer)
            .field("store", &self.inner.store.kind())
            .field("key_digest", &self.inner.digester.scheme())
            .field("signing_keys_encrypted", &self.inner.sealer.is_some())
            .finish()
    }
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// A timestamp truncated to the millisecond, as the store keeps it.
fn truncate_ms(t: OffsetDateTime) -> Result<OffsetDateTime> {
    store::time_from_ms(unix_ms(t))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn to_json<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Internal(e.to_string()))
}

impl Authority {
    /// Opens the store at `database_url` (`sqlite://PATH`, `postgres://…`, `postgresql://…`),
    /// applies migrations, and checks that the configuration matches the store (same pepper, same
    /// master key). A mismatch is [`Error::FailedPrecondition`]: opening anyway would make every
    /// key fail to validate, or every signing key fail to decrypt.
    pub async fn open(database_url: &str, mut config: AuthorityConfig) -> Result<Self> {
        config.validate()?;
        let store = store::open(database_url, config.cache_max_staleness).await?;
        let digester = match &config.key_pepper {
            Some(pepper) => Digester::hmac_sha256(pepper),
            None => Digester::sha256(),
        };
        check_config(
            &*store,
            META_KEY_DIGEST,
            digester.scheme(),
            "API keys and client secrets",
            "AUTHGATE_KEY_PEPPER",
        )
        .await?;

        let sealer = config
            .master_key
            .as_ref()
            .map(Sealer::new)
            .transpose()?
            .map(Arc::new);
        match (&sealer, store.meta_get(META_SIGNING_KEY_ENCRYPTION).await?) {
            (Some(s), _) => {
                check_config(
                    &*store,
                    META_SIGNING_KEY_ENCRYPTION,
                    &s.descriptor(),
                    "signing keys",
                    "AUTHGATE_MASTER_KEY",
                )
                .await?
            }
            (None, Some(_)) => {
                return Err(Error::FailedPrecondition(
                    "this store's signing keys are encrypted at rest: set AUTHGATE_MASTER_KEY".into(),
                ));
            }
            (None, None) => {}
        }

        let secret = match store.meta_get(META_PAGE_SECRET).await? {
            Some(s) => s,
            None => {
                let mut bytes = [0u8; 32];
                aws_lc_rs::rand::fill(&mut bytes)
                    .map_err(|_| Error::Internal("the system CSPRNG failed".into()))?;
                store.meta_init(META_PAGE_SECRET, hex(&bytes)).await?
            }
        };
        let secret = unhex(&secret).ok_or_else(|| Error::Store("corrupt page token secret".into()))?;

        let flush_every = config.usage_flush_interval;
        let store_kind = store.kind();
        let inner = Arc::new(Inner {
            config,
            store,
            digester,
            pages: PageTokens::new(&secret),
            sealer,
            signer: RwLock::new(None),
            keygen: tokio::sync::Mutex::new(()),
            usage: usage::Usage::default(),
            rates: ratelimit::RateLimiter::new(store_kind == StoreKind::Postgres),
        });
        usage::start_flusher(Arc::downgrade(&inner), flush_every);
        Ok(Authority { inner })
    }

    /// The configuration (validated: the issuer without a trailing `/`).
    pub fn config(&self) -> &AuthorityConfig {
        &self.inner.config
    }

    /// The database engine behind this authority.
    pub fn store_kind(&self) -> StoreKind {
        self.inner.store.kind()
    }

    /// The counters of the validation cache and the state of its listener (see
    /// [`AuthorityConfig::cache_max_staleness`]). A SQLite store reports
    /// [`ListenerState::Exact`](crate::store::keycache::ListenerState::Exact); a cache turned off
    /// reports [`ListenerState::Disabled`](crate::store::keycache::ListenerState::Disabled) and zeros.
    pub fn validation_cache_stats(&self) -> crate::store::keycache::CacheStats {
        self.inner.store.key_cache_stats()
    }

    /// Waits until this process's validation cache has dropped every answer changed in the
    /// database before the call, by any process (a round trip through PostgreSQL, about a
    /// millisecond; at most [`AuthorityConfig::cache_max_staleness`], after which the cache is
    /// flushed instead). Changes made through this authority need no such wait. A no-op without
    /// a cache.
    pub async fn sync_validation_cache(&self) {
        self.inner.store.sync_key_cache().await
    }

    /// Checks that the store answers (for health checks).
    pub async fn ping(&self) -> Result<()> {
        self.inner.store.ping().await
    }

    /// Readiness: the store is the one opened (SQLite: the same file, by device and inode),
    /// answers, and takes a write transaction. [`Error::Unavailable`] otherwise. May wait for
    /// the store's lock or pool; callers bound it with a timeout.
    pub async fn ready(&self) -> Result<()> {
        self.inner.store.ready().await
    }

    fn store(&self) -> &dyn Store {
        &*self.inner.store
    }

    // --- environment clients -----------------------------------------------------------------

    /// Creates an environment (management API) client: a new `skc_…` id and an `ags_…` secret.
    /// The secret is returned once; only its digest is stored.
    pub async fn create_environment_client(&self) -> Result<(String, Secret)> {
        let id = keys::new_id(keys::ENVIRONMENT_CLIENT_ID_PREFIX);
        let secret = keys::generate_client_secret();
        self.store()
            .upsert_environment_client(
                id.clone(),
                self.new_secret(keys::SECRET_ID_PREFIX, &secret),
                self.audit("environment_credential.create", None, &[&id]),
            )
            .await?;
        Ok((id, secret))
    }

    /// Registers (or re-keys) an environment client with a provisioned secret, typically from
    /// `AUTHGATE_CLIENT_ID` / `AUTHGATE_CLIENT_SECRET`. The id is any `skc_…` id (letters, digits,
    /// `_`, `-`; at most 64 characters); the secret any string of 32–512 characters. Idempotent;
    /// when the id exists its secret digest is replaced.
    pub async fn register_environment_client(&self, client_id: &str, secret: &Secret) -> Result<()> {
        if !keys::is_id(
            client_id,
            keys::ENVIRONMENT_CLIENT_ID_PREFIX,
            limits::ENVIRONMENT_ID_MAX,
        ) {
            return Err(Error::invalid(
                "client_id",
                "an environment client id must start with skc_ and use only letters, digits, '_' and '-' \
                 (at most 64 characters)",
            ));
        }
        let (min, max) = limits::ENVIRONMENT_SECRET_LEN;
        let n = secret.expose().chars().count();
        if n < min || n > max {
            return Err(Error::invalid(
                "client_secret",
                format!("an environment client secret must be {min}–{max} characters"),
            ));
        }
        self.store()
            .upsert_environment_client(
                client_id.to_owned(),
                self.new_secret(keys::SECRET_ID_PREFIX, secret),
                self.audit("environment_credential.register", None, &[client_id]),
            )
            .await
    }

    /// Whether any environment client exists.
    pub async fn has_environment_clients(&self) -> Result<bool> {
        Ok(self.store().count_environment_clients().await? > 0)
    }

    fn new_secret(&self, prefix: &str, secret: &Secret) -> NewSecret {
        NewSecret {
            id: keys::new_id(prefix),
            digest: self.inner.digester.digest(secret.expose()),
            suffix: keys::suffix(secret.expose()),
            now_ms: unix_ms(now()),
        }
    }

    // --- helpers -----------------------------------------------------------------------------

    fn cursor(&self, scope: &[u8], token: Option<&str>) -> Result<Cursor> {
        self.inner.pages.decode(scope, token)
    }

    /// `(next_page_token, prev_page_token)` of a page.
    fn page_tokens<T>(&self, scope: &[u8], page: &Page<T>) -> (String, String) {
        let next = match page.items.last() {
            Some((seq, _)) if page.has_after => self.inner.pages.encode(scope, Cursor::After(*seq)),
            _ => String::new(),
        };
        let prev = match page.items.first() {
            Some((seq, _)) if page.has_before => self.inner.pages.encode(scope, Cursor::Before(*seq)),
            _ => String::new(),
        };
        (next, prev)
    }

    /// How an update/invalidate addresses a key: its `apit_…` id or the plain key.
    fn key_ref(&self, token: &str) -> Result<KeyRef> {
        if keys::is_id(token, keys::TOKEN_ID_PREFIX, keys::MAX_ID_LEN) {
            Ok(KeyRef::Id(token.to_owned()))
        } else if keys::is_api_key(token) {
            Ok(KeyRef::Digest(self.inner.digester.digest(token)))
        } else {
            Err(Error::invalid(
                "token",
                "expected an API key (agk_…) or a token id (apit_…)",
            ))
        }
    }

    async fn require_org(&self, org_id: &str) -> Result<Organization> {
        self.store()
            .get_organization(org_id.to_owned())
            .await?
            .ok_or_else(|| Error::not_found("organization", org_id))
    }
}

/// Records `value` under `key` on first open; afterwards, refuses a different one.
async fn check_config(
    store: &dyn Store,
    key: &'static str,
    value: &str,
    what: &str,
    var: &str,
) -> Result<()> {
    let stored = match store.meta_get(key).await? {
        Some(v) => v,
        None => store.meta_init(key, value.to_owned()).await?,
    };
    if stored == value {
        return Ok(());
    }
    let peppered = |s: &str| s.starts_with("hmac-");
    let message = if key == META_KEY_DIGEST {
        match (peppered(&stored), peppered(value)) {
            (false, true) => format!(
                "this store's {what} were digested without a pepper, but {var} is set; unset it (no existing key would validate)"
            ),
            (true, false) => format!("this store's {what} were digested with a pepper: set {var} to it"),
            _ => format!("{var} is not the pepper this store's {what} were digested with"),
        }
    } else {
        format!("{var} is not the key this store's {what} are encrypted with")
    };
    Err(Error::FailedPrecondition(message))
}
