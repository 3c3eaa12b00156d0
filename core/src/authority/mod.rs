//! The authority: organizations, users, API keys, M2M clients, signing keys, token issuance.
//!
//! [`Authority`] is the server-side implementation of [`AuthApi`] on a store opened in-process —
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
//! - **Validation** does one indexed read and no write. Unknown, malformed (bad prefix, length,
//!   alphabet or checksum — caught before the store), expired and revoked keys, and bare `apit_…`
//!   ids all fail with the same [`Error::TokenValidationFailed`]. Nothing is cached, so a revocation
//!   through any process sharing the store takes effect on the next validation everywhere.
//! - **Live keys** are the keys not revoked; expired keys stay listed (with their `expiry`) and can
//!   still be updated or revoked. Revoked keys are kept as tombstones: revoking again is `Ok`,
//!   while update and list ignore them.
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
//!   per secret (a write per token request would serialise busy SQLite stores).
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
//! # Signing keys
//!
//! Access tokens are signed (RS256) with keys generated in the store, their private halves
//! encrypted at rest when `AUTHGATE_MASTER_KEY` is set. A key moves through four states,
//! pending → active → published → retired ([`SigningKeyState`]):
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
//! the pending key's activation time with the client, in the same query), [`AuthApi::jwks`] and
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

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use futures::FutureExt;
use serde::Serialize;
use time::OffsetDateTime;

use crate::api::AuthApi;
use crate::error::{Error, Result};
use crate::keys::{self, Digester};
use crate::model::{
    AccessTokenResponse, CreateOrganization, CreateOrganizationClientResponse,
    CreateOrganizationClientSecretResponse, CreateToken, CreateTokenResponse, CreateUser, JwkSet,
    ListOrganizationClientsResponse, ListOrganizations, ListOrganizationsResponse, ListTokens,
    ListTokensResponse, ListUsersResponse, M2MClient, Organization, OrganizationClient, Secret,
    SigningKeyInfo, SigningKeyState, TokenInfo, UpdateToken, User,
};
use crate::store::{
    self, ClientKind, ClientPatch, Cursor, KeyRef, NewApiKey, NewClient, NewMembership, NewSecret, Page,
    Rotation, SigningKeyRow, Store, StoreKind, unix_ms,
};

pub mod limits;
mod paging;
mod signing;

use paging::{PageTokens, scope};
use signing::{Sealer, Signer};

/// Meta keys.
const META_KEY_DIGEST: &str = "key_digest";
const META_PAGE_SECRET: &str = "page_token_secret";
const META_SIGNING_KEY_ENCRYPTION: &str = "signing_key_encryption";

/// Minimum length of `AUTHGATE_KEY_PEPPER` and `AUTHGATE_MASTER_KEY`.
pub const MIN_SECRET_CONFIG_LEN: usize = 32;
/// `last_used_time` of a client secret is refreshed at most this often (milliseconds).
const LAST_USED_GRANULARITY_MS: i64 = 60_000;
/// The scope of environment-client tokens.
const ENVIRONMENT_SCOPE: &str = "openid";
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
    /// (`encrypted: false`) until rotated out and retired.
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
}

impl AuthorityConfig {
    /// A configuration with the given issuer and every other field at its default.
    pub fn new(issuer: impl Into<String>) -> Self {
        AuthorityConfig {
            issuer: issuer.into(),
            key_pepper: None,
            master_key: None,
            environment_token_ttl: 3600,
            signing_key_activation_delay: DEFAULT_SIGNING_KEY_ACTIVATION_DELAY,
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
        let store = store::open(database_url).await?;
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

        Ok(Authority {
            inner: Arc::new(Inner {
                config,
                store,
                digester,
                pages: PageTokens::new(&secret),
                sealer,
                signer: RwLock::new(None),
                keygen: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// The configuration (validated: the issuer without a trailing `/`).
    pub fn config(&self) -> &AuthorityConfig {
        &self.inner.config
    }

    /// The database engine behind this authority.
    pub fn store_kind(&self) -> StoreKind {
        self.inner.store.kind()
    }

    /// Checks that the store answers (for health checks).
    pub async fn ping(&self) -> Result<()> {
        self.inner.store.ping().await
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
            .upsert_environment_client(id.clone(), self.new_secret(keys::SECRET_ID_PREFIX, &secret))
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

    // --- signing keys ------------------------------------------------------------------------

    /// Every signing key (metadata only), oldest first. A pending key whose activation time has
    /// passed is activated first.
    pub async fn list_signing_keys(&self) -> Result<Vec<SigningKeyInfo>> {
        self.signing_key_rows().await?.iter().map(signing::info).collect()
    }

    /// Rotates the signing key: creates a new RSA-2048 key that becomes the active key
    /// `activate_after` from now, and is `pending` until then — published in the JWKS, not
    /// signing — so validators can learn it before any token carries its `kid` (see
    /// [the module docs](self#signing-keys)). When it activates, the active key becomes
    /// `published`: it no longer signs but stays in the JWKS, so the tokens it signed keep
    /// validating until it is retired. Callers normally pass
    /// [`AuthorityConfig::signing_key_activation_delay`].
    ///
    /// A zero `activate_after` rotates at once, for emergencies (a compromised key): the new key
    /// signs the next token, and validators that fetched the JWKS within their refetch cooldown
    /// refuse it until the cooldown ends. With a key already pending, a zero delay activates
    /// that key now (no new key is created) and any other delay is
    /// [`Error::FailedPrecondition`] naming the pending key and its activation time. On a store
    /// with no active key, the new key is active at once whatever the delay.
    ///
    /// Returns the key that is now pending or active. `activate_after` is at most
    /// [`limits::SIGNING_KEY_ACTIVATION_MAX`] (30 days); a fraction of a millisecond rounds up.
    pub async fn rotate_signing_key(&self, activate_after: Duration) -> Result<SigningKeyInfo> {
        let delay_ms = limits::activation_delay("activate_after", activate_after)?;
        // A first pass without a new key: no RSA key generation when a pending key settles it.
        let outcome = match self
            .store()
            .rotate_signing_key(None, unix_ms(now()), delay_ms)
            .await?
        {
            Rotation::NeedKey => {
                let key = self.generate_key().await?;
                self.store()
                    .rotate_signing_key(Some(key), unix_ms(now()), delay_ms)
                    .await?
            }
            other => other,
        };
        let row = match outcome {
            Rotation::Done(row) => row,
            Rotation::Pending(pending) => return Err(pending_refusal(&pending)?),
            Rotation::NeedKey => return Err(Error::Internal("rotation without a new key".into())),
        };
        let info = signing::info(&row)?;
        match info.state {
            SigningKeyState::Pending => tracing::info!(
                kid = %info.kid,
                activate_at = %rfc3339(info.activate_at),
                "signing key rotated: published now, signing from its activation time"
            ),
            _ => tracing::info!(kid = %info.kid, "signing key rotated: active now"),
        }
        Ok(info)
    }

    /// Retires a key that is not active: it leaves the JWKS, and tokens it signed stop validating
    /// once verifiers refresh their JWKS. A pending key may be retired (it never signed; it will
    /// not activate). Retiring a retired key is a no-op; retiring the active key (or a pending
    /// key whose activation time has passed) is [`Error::FailedPrecondition`] (rotate first).
    pub async fn retire_signing_key(&self, kid: &str) -> Result<SigningKeyInfo> {
        limits::id("kid", kid, keys::SIGNING_KEY_ID_PREFIX)?;
        let row = self
            .store()
            .retire_signing_key(kid.to_owned(), unix_ms(now()))
            .await?
            .ok_or_else(|| Error::not_found("signing_key", kid))?;
        signing::info(&row)
    }

    /// Every signing key, oldest first, after activating the pending key if it is due.
    async fn signing_key_rows(&self) -> Result<Vec<SigningKeyRow>> {
        let rows = self.store().list_signing_keys().await?;
        let now_ms = unix_ms(now());
        if rows
            .iter()
            .any(|r| r.state == SigningKeyState::Pending && r.activate_ms <= now_ms)
        {
            self.activate_due_key(now_ms).await?;
            return self.store().list_signing_keys().await;
        }
        Ok(rows)
    }

    /// Activates the pending key if it is due (a write under the signing-keys lock; of several
    /// processes racing, one does it). Returns the active kid afterwards.
    async fn activate_due_key(&self, now_ms: i64) -> Result<Option<String>> {
        let outcome = self.store().activate_due_signing_key(now_ms).await?;
        if let Some(kid) = &outcome.activated {
            tracing::info!(kid = %kid, "signing key activated: it signs new tokens from now on");
        }
        Ok(outcome.active_kid)
    }

    async fn generate_key(&self) -> Result<store::SigningKeyRow> {
        let sealer = self.inner.sealer.clone();
        let kid = keys::new_id(keys::SIGNING_KEY_ID_PREFIX);
        let created = unix_ms(now());
        tokio::task::spawn_blocking(move || signing::generate(kid, sealer.as_deref(), created))
            .await
            .map_err(|e| Error::Internal(format!("key generation task failed: {e}")))?
    }

    /// The kid of the active key, creating the first key when the store has none (race-safe
    /// across processes: only one insert wins, the others use the winner's key).
    async fn ensure_active_key(&self) -> Result<String> {
        if let Some(kid) = self.store().active_signing_kid().await? {
            return Ok(kid);
        }
        let _one_at_a_time = self.inner.keygen.lock().await;
        if let Some(kid) = self.store().active_signing_kid().await? {
            return Ok(kid);
        }
        let row = self.generate_key().await?;
        self.store().insert_first_signing_key(row).await?;
        self.store()
            .active_signing_kid()
            .await?
            .ok_or_else(|| Error::Internal("no active signing key after creating one".into()))
    }

    /// The signer for the active key `kid` (as just read from the store), from the cache when it
    /// holds that key, else loaded (and decrypted) from the store.
    async fn signer(&self, active_kid: Option<String>) -> Result<Arc<Signer>> {
        let kid = match active_kid {
            Some(kid) => kid,
            None => self.ensure_active_key().await?,
        };
        if let Some(s) = self
            .inner
            .signer
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            && s.kid == kid
        {
            return Ok(s.clone());
        }
        let row = self
            .store()
            .get_signing_key(kid.clone())
            .await?
            .ok_or_else(|| Error::Internal(format!("signing key {kid} vanished")))?;
        let signer = Arc::new(Signer::load(&row, self.inner.sealer.as_deref())?);
        *self.inner.signer.write().unwrap_or_else(|p| p.into_inner()) = Some(signer.clone());
        Ok(signer)
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

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// The refusal of a non-immediate rotation while `pending` is pending.
fn pending_refusal(pending: &SigningKeyRow) -> Result<Error> {
    let at = store::time_from_ms(pending.activate_ms)?;
    Ok(Error::FailedPrecondition(format!(
        "signing key {} is already pending: it becomes active at {}. Wait until then, retire it, \
         or rotate immediately (no delay) to activate it now",
        pending.kid,
        rfc3339(at)
    )))
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

/// The claims of an access token, in the order they are serialised.
#[derive(Serialize)]
struct AccessClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    client_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    oid: Option<&'a str>,
    scopes: &'a [String],
    scope: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    aud: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    custom_claims: Option<BTreeMap<&'a str, &'a str>>,
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: String,
}

#[async_trait]
impl AuthApi for Authority {
    // --- organizations and users ---------------------------------------------------------

    async fn create_organization(&self, input: CreateOrganization) -> Result<Organization> {
        limits::len_in("display_name", &input.display_name, limits::ORG_NAME_LEN)?;
        if input.display_name.trim().is_empty() {
            return Err(Error::invalid("display_name", "must not be blank"));
        }
        let external_id = limits::optional(input.external_id, limits::external_id)?;
        let t = truncate_ms(now())?;
        let org = Organization {
            id: keys::new_id(keys::ORGANIZATION_ID_PREFIX),
            display_name: input.display_name,
            external_id,
            create_time: t,
            update_time: t,
        };
        self.store().insert_organization(org.clone()).await?;
        Ok(org)
    }

    async fn get_organization(&self, organization_id: &str) -> Result<Organization> {
        limits::org_id(organization_id)?;
        self.require_org(organization_id).await
    }

    async fn list_organizations(&self, input: ListOrganizations) -> Result<ListOrganizationsResponse> {
        let size = limits::page_size(input.page_size, limits::PAGE_SIZE)?;
        let external_id = limits::non_empty(input.external_id);
        let scope = scope("organizations", &[external_id.as_deref()]);
        let cursor = self.cursor(&scope, input.page_token.as_deref())?;
        let page = self.store().list_organizations(external_id, cursor, size).await?;
        let (next_page_token, prev_page_token) = self.page_tokens(&scope, &page);
        Ok(ListOrganizationsResponse {
            next_page_token,
            total_size: page.total as u32,
            organizations: page.items.into_iter().map(|(_, o)| o).collect(),
            prev_page_token,
        })
    }

    async fn delete_organization(&self, organization_id: &str) -> Result<()> {
        limits::org_id(organization_id)?;
        if !self
            .store()
            .delete_organization(organization_id.to_owned())
            .await?
        {
            return Err(Error::not_found("organization", organization_id));
        }
        Ok(())
    }

    async fn create_user_and_membership(&self, organization_id: &str, input: CreateUser) -> Result<User> {
        limits::org_id(organization_id)?;
        let email = limits::email(&input.email)?;
        let external_id = limits::optional(input.external_id, limits::external_id)?;
        let roles = limits::roles(&input.roles)?;
        self.store()
            .add_membership(NewMembership {
                organization_id: organization_id.to_owned(),
                new_user_id: keys::new_id(keys::USER_ID_PREFIX),
                email,
                external_id,
                roles_json: to_json(&roles)?,
                now_ms: unix_ms(now()),
            })
            .await
    }

    async fn list_organization_users(
        &self,
        organization_id: &str,
        page_size: Option<u32>,
        page_token: Option<String>,
    ) -> Result<ListUsersResponse> {
        limits::org_id(organization_id)?;
        let size = limits::page_size(page_size, limits::PAGE_SIZE)?;
        let scope = scope("users", &[Some(organization_id)]);
        let cursor = self.cursor(&scope, page_token.as_deref())?;
        self.require_org(organization_id).await?;
        let page = self
            .store()
            .list_organization_users(organization_id.to_owned(), cursor, size)
            .await?;
        let (next_page_token, prev_page_token) = self.page_tokens(&scope, &page);
        Ok(ListUsersResponse {
            next_page_token,
            total_size: page.total as u32,
            users: page.items.into_iter().map(|(_, u)| u).collect(),
            prev_page_token,
        })
    }

    // --- API keys ------------------------------------------------------------------------

    async fn create_token(&self, input: CreateToken) -> Result<CreateTokenResponse> {
        limits::org_id(&input.organization_id)?;
        let user_id = limits::optional(input.user_id, limits::user_id)?;
        limits::token_claims(&input.custom_claims)?;
        let description = limits::optional(input.description, limits::token_description)?;
        let created = now();
        let expiry_ms = match input.expiry {
            Some(e) if e <= created => return Err(Error::invalid("expiry", "must be in the future")),
            Some(e) => Some(unix_ms(e)),
            None => None,
        };
        let key = keys::generate_api_key();
        let info = self
            .store()
            .insert_api_key(NewApiKey {
                id: keys::new_id(keys::TOKEN_ID_PREFIX),
                digest: self.inner.digester.digest(key.expose()),
                organization_id: input.organization_id,
                user_id,
                custom_claims_json: to_json(&input.custom_claims)?,
                description,
                token_suffix: keys::suffix(key.expose()),
                expiry_ms,
                now_ms: unix_ms(created),
            })
            .await?;
        Ok(CreateTokenResponse {
            token: key,
            token_id: info.token_id.clone(),
            token_info: info,
        })
    }

    async fn validate_token(&self, token: &str) -> Result<TokenInfo> {
        if !keys::is_api_key(token) {
            return Err(Error::TokenValidationFailed);
        }
        let digest = self.inner.digester.digest(token);
        match self.store().find_api_key(KeyRef::Digest(digest)).await? {
            Some(key) if !key.revoked && key.info.expiry.is_none_or(|e| e > now()) => Ok(key.info),
            _ => Err(Error::TokenValidationFailed),
        }
    }

    fn validate_token_now(&self, token: &str) -> Option<Result<TokenInfo>> {
        // SQLite reads run inline on the calling thread: the future is ready on its first poll
        // and touches no runtime. PostgreSQL goes through `validate_token` on a runtime, unless
        // the key is malformed (refused before any store access).
        match self.store_kind() {
            StoreKind::Sqlite => self.validate_token(token).now_or_never(),
            _ if !keys::is_api_key(token) => Some(Err(Error::TokenValidationFailed)),
            _ => None,
        }
    }

    async fn list_tokens(&self, input: ListTokens) -> Result<ListTokensResponse> {
        limits::org_id(&input.organization_id)?;
        let user_id = limits::optional(input.user_id, limits::user_id)?;
        let size = limits::page_size(input.page_size, limits::TOKEN_PAGE_SIZE)?;
        let scope = scope("tokens", &[Some(&input.organization_id), user_id.as_deref()]);
        let cursor = self.cursor(&scope, input.page_token.as_deref())?;
        self.require_org(&input.organization_id).await?;
        if let Some(u) = &user_id
            && !self.store().user_exists(u.clone()).await?
        {
            return Err(Error::not_found("user", u));
        }
        let page = self
            .store()
            .list_api_keys(input.organization_id, user_id, cursor, size)
            .await?;
        let (next_page_token, prev_page_token) = self.page_tokens(&scope, &page);
        Ok(ListTokensResponse {
            total_count: page.total as u32,
            tokens: page.items.into_iter().map(|(_, t)| t).collect(),
            next_page_token,
            prev_page_token,
        })
    }

    async fn update_token(&self, input: UpdateToken) -> Result<TokenInfo> {
        let by = self.key_ref(&input.token)?;
        let claims_json = match &input.custom_claims {
            Some(claims) => {
                limits::token_claims(claims)?;
                Some(to_json(claims)?)
            }
            None => None,
        };
        let description = match input.description {
            None => None,
            Some(d) if d.is_empty() => Some(None),
            Some(d) => {
                limits::token_description(&d)?;
                Some(Some(d))
            }
        };
        let not_found = |by: &KeyRef| match by {
            KeyRef::Id(id) => Error::not_found("token", id),
            KeyRef::Digest(_) => Error::not_found("token", "<redacted>"),
        };
        let id = match &by {
            KeyRef::Id(id) => id.clone(),
            KeyRef::Digest(_) => match self.store().find_api_key(by.clone()).await? {
                Some(k) if !k.revoked => k.info.token_id,
                _ => return Err(not_found(&by)),
            },
        };
        self.store()
            .update_api_key(id, claims_json, description, unix_ms(now()))
            .await?
            .ok_or_else(|| not_found(&by))
    }

    async fn invalidate_token(&self, token: &str) -> Result<()> {
        let by = self.key_ref(token)?;
        if self.store().revoke_api_key(by.clone(), unix_ms(now())).await? {
            return Ok(());
        }
        Err(match by {
            KeyRef::Id(id) => Error::not_found("token", id),
            KeyRef::Digest(_) => Error::not_found("token", "<redacted>"),
        })
    }

    // --- M2M clients ---------------------------------------------------------------------

    async fn create_organization_client(
        &self,
        organization_id: &str,
        client: OrganizationClient,
    ) -> Result<CreateOrganizationClientResponse> {
        limits::org_id(organization_id)?;
        let name = client.name.unwrap_or_default();
        limits::len_in("name", &name, limits::CLIENT_NAME_LEN)?;
        let description = client.description.unwrap_or_default();
        limits::len_in("description", &description, (0, limits::CLIENT_MAX_DESCRIPTION))?;
        let scopes = limits::scopes(client.scopes.as_deref().unwrap_or_default())?;
        let audience = limits::audiences(client.audience.as_deref().unwrap_or_default())?;
        let claims = client.custom_claims.unwrap_or_default();
        limits::client_claims(&claims)?;
        let expiry = limits::client_expiry(client.expiry)?.unwrap_or(limits::CLIENT_EXPIRY.2);

        let secret = keys::generate_client_secret();
        let now_ms = unix_ms(now());
        let created = self
            .store()
            .insert_client(
                NewClient {
                    id: keys::new_id(keys::M2M_CLIENT_ID_PREFIX),
                    organization_id: organization_id.to_owned(),
                    name,
                    description,
                    scopes_json: to_json(&scopes)?,
                    audience_json: to_json(&audience)?,
                    custom_claims_json: to_json(&claims)?,
                    expiry,
                    now_ms,
                },
                self.new_secret(keys::SECRET_ID_PREFIX, &secret),
            )
            .await?;
        Ok(CreateOrganizationClientResponse {
            client: created,
            plain_secret: secret,
        })
    }

    async fn get_organization_client(&self, organization_id: &str, client_id: &str) -> Result<M2MClient> {
        limits::client_ids(organization_id, client_id)?;
        self.store()
            .get_client(organization_id.to_owned(), client_id.to_owned())
            .await?
            .ok_or_else(|| Error::not_found("client", client_id))
    }

    async fn update_organization_client(
        &self,
        organization_id: &str,
        client_id: &str,
        client: OrganizationClient,
    ) -> Result<M2MClient> {
        limits::client_ids(organization_id, client_id)?;
        if let Some(name) = &client.name {
            limits::len_in("name", name, limits::CLIENT_NAME_LEN)?;
        }
        if let Some(d) = &client.description {
            limits::len_in("description", d, (0, limits::CLIENT_MAX_DESCRIPTION))?;
        }
        let patch = ClientPatch {
            name: client.name,
            description: client.description,
            scopes_json: client
                .scopes
                .map(|s| limits::scopes(&s).and_then(|s| to_json(&s)))
                .transpose()?,
            audience_json: client
                .audience
                .map(|a| limits::audiences(&a).and_then(|a| to_json(&a)))
                .transpose()?,
            custom_claims_json: client
                .custom_claims
                .map(|c| limits::client_claims(&c).and_then(|()| to_json(&c)))
                .transpose()?,
            expiry: limits::client_expiry(client.expiry)?,
            now_ms: unix_ms(now()),
        };
        self.store()
            .update_client(organization_id.to_owned(), client_id.to_owned(), patch)
            .await?
            .ok_or_else(|| Error::not_found("client", client_id))
    }

    async fn delete_organization_client(&self, organization_id: &str, client_id: &str) -> Result<()> {
        limits::client_ids(organization_id, client_id)?;
        if !self
            .store()
            .delete_client(organization_id.to_owned(), client_id.to_owned())
            .await?
        {
            return Err(Error::not_found("client", client_id));
        }
        Ok(())
    }

    async fn list_organization_clients(
        &self,
        organization_id: &str,
        page_size: Option<u32>,
        page_token: Option<String>,
    ) -> Result<ListOrganizationClientsResponse> {
        limits::org_id(organization_id)?;
        let size = limits::page_size(page_size, limits::CLIENT_PAGE_SIZE)?;
        let scope = scope("clients", &[Some(organization_id)]);
        let cursor = self.cursor(&scope, page_token.as_deref())?;
        self.require_org(organization_id).await?;
        let page = self
            .store()
            .list_clients(organization_id.to_owned(), cursor, size)
            .await?;
        let (next_page_token, prev_page_token) = self.page_tokens(&scope, &page);
        Ok(ListOrganizationClientsResponse {
            next_page_token,
            total_size: page.total as u32,
            clients: page.items.into_iter().map(|(_, c)| c).collect(),
            prev_page_token,
        })
    }

    async fn add_organization_client_secret(
        &self,
        organization_id: &str,
        client_id: &str,
    ) -> Result<CreateOrganizationClientSecretResponse> {
        limits::client_ids(organization_id, client_id)?;
        let plain = keys::generate_client_secret();
        let secret = self
            .store()
            .insert_client_secret(
                organization_id.to_owned(),
                client_id.to_owned(),
                self.new_secret(keys::SECRET_ID_PREFIX, &plain),
                limits::CLIENT_MAX_SECRETS,
            )
            .await?;
        Ok(CreateOrganizationClientSecretResponse {
            plain_secret: plain,
            secret,
        })
    }

    async fn remove_organization_client_secret(
        &self,
        organization_id: &str,
        client_id: &str,
        secret_id: &str,
    ) -> Result<()> {
        limits::client_ids(organization_id, client_id)?;
        limits::id("secret_id", secret_id, keys::SECRET_ID_PREFIX)?;
        self.store()
            .delete_client_secret(
                organization_id.to_owned(),
                client_id.to_owned(),
                secret_id.to_owned(),
            )
            .await
    }

    // --- OAuth ---------------------------------------------------------------------------

    async fn issue_client_token(
        &self,
        client_id: &str,
        client_secret: &str,
        scopes: Option<Vec<String>>,
    ) -> Result<AccessTokenResponse> {
        // Everything that can be refused without the store is refused first.
        let kind = if keys::is_id(client_id, keys::M2M_CLIENT_ID_PREFIX, keys::MAX_ID_LEN) {
            ClientKind::M2m
        } else if keys::is_id(
            client_id,
            keys::ENVIRONMENT_CLIENT_ID_PREFIX,
            limits::ENVIRONMENT_ID_MAX,
        ) {
            ClientKind::Environment
        } else {
            return Err(Error::InvalidClient);
        };
        let secret_well_formed = match kind {
            ClientKind::M2m => keys::is_client_secret(client_secret),
            ClientKind::Environment => {
                let (min, max) = limits::ENVIRONMENT_SECRET_LEN;
                (min..=max).contains(&client_secret.chars().count())
            }
        };
        if !secret_well_formed {
            return Err(Error::InvalidClient);
        }
        let requested = match scopes {
            Some(list) if !list.is_empty() => {
                let mut out: Vec<String> = Vec::with_capacity(list.len());
                for s in list {
                    if !limits::is_scope_token(&s) || s.len() > limits::SCOPE_LEN.1 {
                        return Err(Error::InvalidScope(format!("malformed scope {s:?}")));
                    }
                    if !out.contains(&s) {
                        out.push(s);
                    }
                }
                Some(out)
            }
            _ => None,
        };
        let digest = self.inner.digester.digest(client_secret);

        let auth = self
            .store()
            .client_auth(kind, client_id.to_owned())
            .await?
            .ok_or(Error::InvalidClient)?;
        // Compare against every secret, in constant time each, without stopping at a match.
        let mut matched = None;
        for (id, stored, last_used) in &auth.secrets {
            if keys::digests_equal(stored, &digest) && matched.is_none() {
                matched = Some((id.clone(), *last_used));
            }
        }
        let Some((secret_id, last_used)) = matched else {
            return Err(Error::InvalidClient);
        };

        let granted = match kind {
            ClientKind::M2m => auth.scopes.clone(),
            ClientKind::Environment => vec![ENVIRONMENT_SCOPE.to_owned()],
        };
        let scopes = match requested {
            None => granted,
            Some(req) => {
                let missing: Vec<&str> = req
                    .iter()
                    .filter(|s| !granted.contains(s))
                    .map(String::as_str)
                    .collect();
                if !missing.is_empty() {
                    return Err(Error::InvalidScope(format!(
                        "not granted to this client: {}",
                        missing.join(" ")
                    )));
                }
                req
            }
        };

        let issued = now();
        let now_ms = unix_ms(issued);
        if last_used.is_none_or(|t| t <= now_ms - LAST_USED_GRANULARITY_MS)
            && let Err(e) = self
                .store()
                .touch_secret(kind, secret_id, now_ms, now_ms - LAST_USED_GRANULARITY_MS)
                .await
        {
            // Bookkeeping only: a busy store must not fail the grant.
            tracing::warn!(error = %e, "could not record the last use of a client secret");
        }

        // The one check of staged rotation on this path: the pending key's activation time came
        // with the client, in the same query.
        let active_kid = match auth.pending_activate_ms {
            Some(at) if at <= now_ms => self.activate_due_key(now_ms).await?,
            _ => auth.active_kid.clone(),
        };
        let signer = self.signer(active_kid).await?;
        let ttl = match kind {
            ClientKind::M2m => auth.expiry.max(1) as u64,
            ClientKind::Environment => self.inner.config.environment_token_ttl,
        };
        let iat = issued.unix_timestamp();
        let scope = scopes.join(" ");
        let custom_claims = match kind {
            ClientKind::M2m => Some(
                auth.custom_claims
                    .iter()
                    .map(|c| (c.key.as_str(), c.value.as_str()))
                    .collect(),
            ),
            ClientKind::Environment => None,
        };
        let claims = AccessClaims {
            iss: &self.inner.config.issuer,
            sub: client_id,
            client_id,
            oid: auth.organization_id.as_deref(),
            scopes: &scopes,
            scope: &scope,
            aud: &auth.audience,
            custom_claims,
            iat,
            nbf: iat,
            exp: iat + ttl as i64,
            jti: keys::new_id(keys::ACCESS_TOKEN_ID_PREFIX),
        };
        Ok(AccessTokenResponse {
            access_token: Secret::new(signer.sign(&claims)?),
            token_type: "Bearer".to_owned(),
            expires_in: ttl,
            scope,
        })
    }

    async fn jwks(&self) -> Result<JwkSet> {
        let mut rows = self.signing_key_rows().await?;
        if !rows.iter().any(|r| r.state == SigningKeyState::Active) {
            self.ensure_active_key().await?;
            rows = self.store().list_signing_keys().await?;
        }
        // The active key first (some clients take the first key of a set), then the pending one.
        rows.sort_by_key(|r| match r.state {
            SigningKeyState::Active => 0,
            SigningKeyState::Pending => 1,
            SigningKeyState::Published | SigningKeyState::Retired => 2,
        });
        let keys = rows
            .iter()
            .filter(|r| r.state != SigningKeyState::Retired)
            .map(signing::jwk)
            .collect::<Result<_>>()?;
        Ok(JwkSet { keys })
    }
}
