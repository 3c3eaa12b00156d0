//! Persistence: one schema on SQLite or PostgreSQL.
//!
//! The [`Authority`](crate::authority::Authority) talks to a crate-private `Store` trait (object
//! safe, held as `Arc<dyn Store>`). Its one implementation, `SqlStore<B>`, holds every query and
//! every multi-step write exactly once and runs them on a backend `B`:
//!
//! - **SQLite** (`sqlite://path`) through rusqlite: WAL journal, `synchronous=NORMAL`,
//!   `foreign_keys=ON`, a 5 s `busy_timeout`, a small pool of connections with cached prepared
//!   statements. Reads run inline (an indexed read in WAL mode never waits for a writer); writes
//!   run `BEGIN IMMEDIATE` transactions on the blocking thread pool, one at a time per process, so
//!   a write waiting for another process's lock never stalls an async worker.
//!   API-key lookups for validation go through a cache that asks SQLite first whether the file
//!   changed (its data version), so it is exact across processes ([`keycache`]).
//! - **PostgreSQL** (`postgres://…` or `postgresql://…`) through sqlx: a connection pool, and
//!   transactions for multi-statement writes; list queries read one `REPEATABLE READ` snapshot.
//!   API-key lookups for validation go through a cache kept exact by `LISTEN`/`NOTIFY`
//!   ([`keycache`]), so a validation costs a memory lookup instead of a round trip.
//!
//! Both share one schema (tables prefixed `authgate_`, the same columns): timestamps are integer
//! Unix milliseconds, JSON values are `TEXT`, digests are `BLOB`/`BYTEA`, and every table has an
//! integer `seq` giving a stable order for keyset pagination. The DDL for each backend is embedded
//! from `store/migrations/<backend>/NNNN_*.sql` and applied on open, under a lock
//! (`BEGIN IMMEDIATE` on SQLite, `pg_advisory_xact_lock` on PostgreSQL), so processes opening the
//! same store at the same time are safe. A store migrated by a newer authgate is refused.
//!
//! Only digests of secrets are stored; see [`keys`](crate::keys).
//!
//! Every write of a management action takes the action's audit event (`AuditRecord`) and writes
//! it in the same transaction when the action happened (see [`audit`](crate::audit)).

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::model::{
    AuditEvent, AuditOutcome, ClientSecret, CustomClaim, M2MClient, Organization, RateLimit, SigningKeyState,
    TokenInfo, User, UserRef,
};

pub mod keycache;
mod postgres;
mod sql;
mod sqlite;

pub(crate) use sql::{time_from_ms, unix_ms};

/// The database engine behind a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// A SQLite file.
    Sqlite,
    /// A PostgreSQL database.
    Postgres,
}

impl StoreKind {
    /// The engine a database URL names: `sqlite:…` or `postgres://…` / `postgresql://…`.
    pub fn of_url(url: &str) -> Result<StoreKind> {
        if url.starts_with("sqlite:") {
            Ok(StoreKind::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(StoreKind::Postgres)
        } else {
            Err(Error::invalid(
                "database_url",
                "expected sqlite://PATH, postgres://… or postgresql://…",
            ))
        }
    }
}

/// Opens (and migrates) the store a database URL names. Both keep a validation cache
/// ([`keycache`]) unless `cache_max_staleness` is zero (on SQLite, the cache is exact whatever its
/// value).
pub(crate) async fn open(url: &str, cache_max_staleness: Duration) -> Result<Arc<dyn Store>> {
    match StoreKind::of_url(url)? {
        StoreKind::Sqlite => Ok(Arc::new(sql::SqlStore::new(
            sqlite::Sqlite::open(url, !cache_max_staleness.is_zero()).await?,
        ))),
        StoreKind::Postgres => Ok(Arc::new(sql::SqlStore::new(
            postgres::Postgres::open(url, cache_max_staleness).await?,
        ))),
    }
}

// ---------------------------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------------------------

/// Where a page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cursor {
    /// The first page.
    First,
    /// Rows with `seq` greater than this.
    After(i64),
    /// Rows with `seq` less than this (the page before).
    Before(i64),
}

/// One page of a list, oldest first.
#[derive(Debug)]
pub(crate) struct Page<T> {
    /// `(seq, item)` pairs in ascending `seq`.
    pub items: Vec<(i64, T)>,
    /// Whether rows exist before the first item.
    pub has_before: bool,
    /// Whether rows exist after the last item.
    pub has_after: bool,
    /// Rows matching the filter, over all pages.
    pub total: u64,
}

/// A new API key.
#[derive(Debug)]
pub(crate) struct NewApiKey {
    pub id: String,
    pub digest: [u8; 32],
    pub organization_id: String,
    pub user_id: Option<String>,
    pub custom_claims_json: String,
    pub description: Option<String>,
    pub token_suffix: String,
    pub expiry_ms: Option<i64>,
    pub now_ms: i64,
    /// Canonical networks as a JSON array; `None`: any address.
    pub allowed_cidrs_json: Option<String>,
    pub rate_limit: Option<RateLimit>,
}

/// The changes of an API-key update: `None` keeps a field; for the optional ones `Some(None)`
/// removes it.
#[derive(Debug, Default)]
pub(crate) struct KeyPatch {
    pub custom_claims_json: Option<String>,
    pub description: Option<Option<String>>,
    pub allowed_cidrs_json: Option<Option<String>>,
    pub rate_limit: Option<Option<RateLimit>>,
}

/// How an API key is addressed.
#[derive(Debug, Clone)]
pub(crate) enum KeyRef {
    Digest([u8; 32]),
    Id(String),
}

/// An API key as stored, revoked or not.
#[derive(Debug, Clone)]
pub(crate) struct StoredKey {
    /// The key's record, `revoked_at` unset (see [`StoredKey::settle`]).
    pub info: TokenInfo,
    /// When the key is (or was) revoked: a rotated key's is the end of its grace period.
    pub revoked_ms: Option<i64>,
    /// `info.allowed_cidrs` parsed once, when the record is read (validation checks them on
    /// every use; the cache then holds them parsed).
    pub networks: Option<Arc<[crate::policy::network::IpNet]>>,
}

impl StoredKey {
    /// A record read from the store: its networks parsed. A stored network that does not parse
    /// (written by hand) admits no address.
    pub fn new(info: TokenInfo, revoked_ms: Option<i64>) -> StoredKey {
        let networks = info
            .allowed_cidrs
            .as_ref()
            .map(|cidrs| cidrs.iter().filter_map(|c| c.parse().ok()).collect());
        StoredKey {
            info,
            revoked_ms,
            networks,
        }
    }

    /// Whether the key is revoked at `now_ms`.
    pub fn revoked(&self, now_ms: i64) -> bool {
        self.revoked_ms.is_some_and(|t| t <= now_ms)
    }

    /// The record as seen at `now_ms`: `revoked_at` set when the key is revoked by then.
    pub fn settle(mut self, now_ms: i64) -> Result<TokenInfo> {
        if let Some(t) = self.revoked_ms.filter(|t| *t <= now_ms) {
            self.info.revoked_at = Some(sql::time_from_ms(t)?);
        }
        Ok(self.info)
    }
}

/// What [`Store::rotate_api_key`] did.
#[derive(Debug)]
pub(crate) enum KeyRotation {
    /// The new key.
    Done(Box<TokenInfo>),
    /// No such key, or it is revoked.
    NotFound,
    /// The key was already rotated, to this id.
    AlreadyRotated(String),
    /// The key has expired (its copy would never validate).
    Expired,
}

/// A new user and membership.
#[derive(Debug)]
pub(crate) struct NewMembership {
    pub organization_id: String,
    pub new_user_id: String,
    pub email: String,
    pub external_id: Option<String>,
    pub roles_json: String,
    pub now_ms: i64,
}

/// A new M2M client.
#[derive(Debug)]
pub(crate) struct NewClient {
    pub id: String,
    pub organization_id: String,
    pub name: String,
    pub description: String,
    pub scopes_json: String,
    pub audience_json: String,
    pub custom_claims_json: String,
    pub expiry: i64,
    pub now_ms: i64,
}

/// Changes to an M2M client; `None` keeps the current value.
#[derive(Debug, Default)]
pub(crate) struct ClientPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub scopes_json: Option<String>,
    pub audience_json: Option<String>,
    pub custom_claims_json: Option<String>,
    pub expiry: Option<i64>,
    pub now_ms: i64,
}

/// A new client secret (digest only).
#[derive(Debug)]
pub(crate) struct NewSecret {
    pub id: String,
    pub digest: [u8; 32],
    pub suffix: String,
    pub now_ms: i64,
}

/// An environment client (`skc_…`) as stored: no digest.
#[derive(Debug, Clone)]
pub(crate) struct EnvironmentClientRow {
    pub id: String,
    pub secret_suffix: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub last_used_ms: Option<i64>,
    pub revoked_ms: Option<i64>,
}

/// What the token endpoint needs about a client.
#[derive(Debug)]
pub(crate) struct ClientAuth {
    /// `None` for environment clients.
    pub organization_id: Option<String>,
    pub scopes: Vec<String>,
    pub audience: Vec<String>,
    pub custom_claims: Vec<CustomClaim>,
    pub expiry: i64,
    /// `(secret id, digest, last_used_time ms)`.
    pub secrets: Vec<(String, Vec<u8>, Option<i64>)>,
    /// The kid of the active signing key, if there is one.
    pub active_kid: Option<String>,
    /// When the pending signing key activates (Unix ms), if one is pending.
    pub pending_activate_ms: Option<i64>,
}

/// The kind of client whose secret is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ClientKind {
    M2m,
    Environment,
}

/// A signing key row.
#[derive(Debug, Clone)]
pub(crate) struct SigningKeyRow {
    pub kid: String,
    pub algorithm: String,
    /// Lifecycle state.
    pub state: SigningKeyState,
    /// How the private key is kept at rest.
    pub encryption: KeyEncryption,
    /// PKCS#8 DER, or `nonce || ciphertext || tag` when encrypted. Empty in listings.
    pub private_key: Vec<u8>,
    /// `{"n": …, "e": …}` (base64url).
    pub public_jwk: String,
    pub created_ms: i64,
    /// When it becomes (pending) or became active; set by the store on insert.
    pub activate_ms: i64,
    pub retired_ms: Option<i64>,
}

/// What [`Store::rotate_signing_key`] did.
#[derive(Debug)]
pub(crate) enum Rotation {
    /// The key now pending or active: the new key, or the pending key an immediate rotation
    /// activated (the new key was then not inserted).
    Done(SigningKeyRow),
    /// No new key was given and none is pending: generate one and call again.
    NeedKey,
    /// A key is pending and the rotation is not immediate: nothing changed.
    Pending(SigningKeyRow),
}

/// The outcome of [`Store::activate_due_signing_key`].
#[derive(Debug)]
pub(crate) struct Activation {
    /// The active key afterwards, if any.
    pub active_kid: Option<String>,
    /// The kid this call activated (`None` when nothing was due, or another process did it).
    pub activated: Option<String>,
}

/// An audit event to write: in the transaction of the write it is given to (recorded only when
/// that write did something), or on its own ([`Store::insert_audit_event`]).
#[derive(Debug, Clone)]
pub(crate) struct AuditRecord {
    pub id: String,
    pub time_ms: i64,
    pub actor: String,
    pub action: &'static str,
    pub organization_id: Option<String>,
    pub target_ids: Vec<String>,
    pub source_address: Option<String>,
    pub outcome: AuditOutcome,
    pub error_code: Option<&'static str>,
}

impl AuditRecord {
    /// Adds a target id (once); true, so a write's "did it happen" check can end with it.
    pub fn add_target(&mut self, id: &str) -> bool {
        if !self.target_ids.iter().any(|t| t == id) {
            self.target_ids.push(id.to_owned());
        }
        true
    }
}

/// The filters of [`Store::list_audit_events`] (AND-ed; `None` matches everything).
#[derive(Debug, Clone, Default)]
pub(crate) struct AuditFilter {
    pub organization_id: Option<String>,
    pub actor: Option<String>,
    pub action: Option<String>,
    /// At or after (Unix ms).
    pub start_ms: Option<i64>,
    /// Before (Unix ms).
    pub end_ms: Option<i64>,
}

/// The persistence operations of the authority. Every method is one transaction.
/// The key a rotation creates: its id, digest and suffix (the rest is copied from the old key).
#[derive(Debug, Clone)]
pub(crate) struct RotatedKey {
    pub id: String,
    pub digest: [u8; 32],
    pub suffix: String,
    /// The new key's rate limit, when not the old key's.
    pub rate_limit: Option<RateLimit>,
}

#[async_trait]
pub(crate) trait Store: Send + Sync + Debug {
    fn kind(&self) -> StoreKind;
    async fn ping(&self) -> Result<()>;
    /// Readiness: the database is the one opened, answers, and takes a write transaction.
    async fn ready(&self) -> Result<()>;

    async fn meta_get(&self, key: &'static str) -> Result<Option<String>>;
    /// Stores `value` under `key` unless a value is there; returns the stored value.
    async fn meta_init(&self, key: &'static str, value: String) -> Result<String>;

    async fn insert_organization(&self, org: Organization, audit: AuditRecord) -> Result<()>;
    async fn get_organization(&self, id: String) -> Result<Option<Organization>>;
    async fn list_organizations(
        &self,
        external_id: Option<String>,
        cursor: Cursor,
        size: u32,
    ) -> Result<Page<Organization>>;
    async fn delete_organization(&self, id: String, audit: AuditRecord) -> Result<bool>;

    async fn add_membership(&self, m: NewMembership, audit: AuditRecord) -> Result<User>;
    async fn user_exists(&self, id: String) -> Result<bool>;
    async fn list_organization_users(&self, org_id: String, cursor: Cursor, size: u32) -> Result<Page<User>>;

    // Organization updates, users and memberships (#11).

    /// Updates an organization; `None` keeps a field, `external_id: Some(None)` removes it.
    /// `Ok(None)` when there is no such organization; a taken external id is `AlreadyExists`.
    async fn update_organization(
        &self,
        id: String,
        display_name: Option<String>,
        external_id: Option<Option<String>>,
        now_ms: i64,
        audit: AuditRecord,
    ) -> Result<Option<Organization>>;
    async fn get_user(&self, by: UserRef) -> Result<Option<User>>;
    async fn list_users(&self, cursor: Cursor, size: u32) -> Result<Page<User>>;
    /// Sets (or with `None` removes) a user's external id. `Ok(None)` when there is no such
    /// user; an external id another user has is `AlreadyExists`.
    async fn update_user(
        &self,
        by: UserRef,
        external_id: Option<String>,
        now_ms: i64,
        audit: AuditRecord,
    ) -> Result<Option<User>>;
    /// Deletes a user, their memberships and their API keys; the user's id, `None` when there is
    /// no such user.
    async fn delete_user(&self, by: UserRef, audit: AuditRecord) -> Result<Option<String>>;
    /// Adds an existing user to an organization (`NotFound` for either, `AlreadyExists` if a member).
    async fn insert_membership(
        &self,
        org_id: String,
        by: UserRef,
        roles_json: String,
        now_ms: i64,
        audit: AuditRecord,
    ) -> Result<User>;
    /// Replaces the roles of a membership (`NotFound` for the organization, user or membership).
    async fn update_membership(
        &self,
        org_id: String,
        by: UserRef,
        roles_json: String,
        audit: AuditRecord,
    ) -> Result<User>;
    /// Deletes a membership and the user's API keys in that organization (`NotFound` as above);
    /// the user's id.
    async fn delete_membership(&self, org_id: String, by: UserRef, audit: AuditRecord) -> Result<String>;

    async fn insert_api_key(&self, key: NewApiKey, audit: AuditRecord) -> Result<TokenInfo>;
    async fn find_api_key(&self, by: KeyRef) -> Result<Option<StoredKey>>;
    /// The key with this digest, for a validation: from the validation cache when it holds the
    /// answer (see [`keycache`]; on SQLite once the file's data version was checked; on
    /// PostgreSQL the future is then ready on its first poll), else from the database (and
    /// cached).
    async fn find_api_key_cached(&self, digest: [u8; 32]) -> Result<Option<StoredKey>>;
    /// Whether [`find_api_key_cached`](Store::find_api_key_cached) would answer from memory now
    /// (PostgreSQL; on SQLite it may still flush the cache first).
    fn holds_api_key(&self, digest: &[u8; 32]) -> bool;
    /// Waits until the validation cache has dropped everything that changed in the database
    /// before the call (a no-op without a cache).
    async fn sync_key_cache(&self);
    /// The validation cache's counters ([`ListenerState::Disabled`](keycache::ListenerState) without one).
    fn key_cache_stats(&self) -> keycache::CacheStats;
    /// A page of an organization's keys (one user's with `user_id`): those not revoked at
    /// `live_at_ms` (every key with `i64::MIN`) and not used since `unused_since_ms` (every key
    /// with `i64::MAX`).
    async fn list_api_keys(
        &self,
        org_id: String,
        user_id: Option<String>,
        live_at_ms: i64,
        unused_since_ms: i64,
        cursor: Cursor,
        size: u32,
    ) -> Result<Page<StoredKey>>;
    /// Records the last use `(id, Unix ms)` of keys, in one transaction; a stored later use is
    /// kept.
    async fn touch_api_keys(&self, uses: Vec<(String, i64)>) -> Result<()>;
    /// Rotates key `old_id` in one transaction: inserts `new_key` as its copy, and marks the old
    /// key rotated to it, revoked and expiring at `grace_end_ms`. Refused (nothing changed) when
    /// the key does not exist, is revoked at `now_ms`, has expired or was already rotated.
    async fn rotate_api_key(
        &self,
        old_id: String,
        new_key: RotatedKey,
        grace_end_ms: i64,
        now_ms: i64,
        audit: AuditRecord,
    ) -> Result<KeyRotation>;
    /// Updates a live key; `None` when there is none with this id. `description: Some(None)` clears it.
    async fn update_api_key(
        &self,
        id: String,
        patch: KeyPatch,
        now_ms: i64,
        audit: AuditRecord,
    ) -> Result<Option<TokenInfo>>;
    /// Takes up to `want` validations from the shared budget of key `key_id`'s window starting
    /// at `window_start_ms`, of which `limit` exist; returns how many were granted (0 when the
    /// budget is spent). Drops the key's rows of earlier windows.
    async fn take_rate_budget(
        &self,
        key_id: String,
        window_start_ms: i64,
        limit: u64,
        want: u64,
    ) -> Result<u64>;
    /// Marks a key revoked (no-op if it already is); false when there is no such key.
    async fn revoke_api_key(&self, by: KeyRef, now_ms: i64, audit: AuditRecord) -> Result<bool>;

    async fn insert_client(
        &self,
        client: NewClient,
        secret: NewSecret,
        audit: AuditRecord,
    ) -> Result<M2MClient>;
    async fn get_client(&self, org_id: String, client_id: String) -> Result<Option<M2MClient>>;
    async fn update_client(
        &self,
        org_id: String,
        client_id: String,
        patch: ClientPatch,
        audit: AuditRecord,
    ) -> Result<Option<M2MClient>>;
    async fn delete_client(&self, org_id: String, client_id: String, audit: AuditRecord) -> Result<bool>;
    async fn list_clients(&self, org_id: String, cursor: Cursor, size: u32) -> Result<Page<M2MClient>>;
    async fn insert_client_secret(
        &self,
        org_id: String,
        client_id: String,
        secret: NewSecret,
        max_secrets: usize,
        audit: AuditRecord,
    ) -> Result<ClientSecret>;
    async fn delete_client_secret(
        &self,
        org_id: String,
        client_id: String,
        secret_id: String,
        audit: AuditRecord,
    ) -> Result<()>;
    async fn client_auth(&self, kind: ClientKind, client_id: String) -> Result<Option<ClientAuth>>;
    /// Sets `last_used_time` unless it is already at or after `stale_before_ms`.
    async fn touch_secret(
        &self,
        kind: ClientKind,
        secret_id: String,
        now_ms: i64,
        stale_before_ms: i64,
    ) -> Result<()>;

    async fn upsert_environment_client(
        &self,
        id: String,
        secret: NewSecret,
        audit: AuditRecord,
    ) -> Result<()>;
    async fn count_environment_clients(&self) -> Result<u64>;
    /// Every environment client, revoked ones included, oldest first.
    async fn list_environment_clients(&self) -> Result<Vec<EnvironmentClientRow>>;
    /// Whether `id` is an environment client that is not revoked.
    async fn environment_client_live(&self, id: String) -> Result<bool>;
    /// Revokes `id` (already revoked: unchanged). Refuses, with `FailedPrecondition`, to revoke
    /// the last live one; `NotFound` when there is no such client.
    async fn revoke_environment_client(
        &self,
        id: String,
        now_ms: i64,
        audit: AuditRecord,
    ) -> Result<EnvironmentClientRow>;
    /// Revokes every live environment client but `keep` (which must be live); returns their ids.
    async fn revoke_other_environment_clients(
        &self,
        keep: String,
        now_ms: i64,
        audit: AuditRecord,
    ) -> Result<Vec<String>>;

    async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRow>>;
    /// Replaces the plain-text private key of `kid` with `sealed` (AES-256-GCM) when it is
    /// still plain text; whether it did.
    async fn seal_signing_key(&self, kid: String, sealed: Vec<u8>, audit: AuditRecord) -> Result<bool>;
    async fn get_signing_key(&self, kid: String) -> Result<Option<SigningKeyRow>>;
    async fn active_signing_kid(&self) -> Result<Option<String>>;
    /// Inserts the first key, active, unless a key is already active (then returns false).
    async fn insert_first_signing_key(&self, key: SigningKeyRow) -> Result<bool>;
    /// A rotation, in one transaction under the signing-keys lock, after activating a due
    /// pending key. With a key pending: an immediate rotation (`delay_ms == 0`) activates it
    /// (the active key becomes `published`; `key` is not inserted), any other is
    /// [`Rotation::Pending`]. Without one: `key` (when given) becomes active at once if the
    /// rotation is immediate or no key is active, else `pending` until `now_ms + delay_ms`.
    async fn rotate_signing_key(
        &self,
        key: Option<SigningKeyRow>,
        now_ms: i64,
        delay_ms: i64,
        audit: AuditRecord,
    ) -> Result<Rotation>;
    /// Activates the pending key if its activation time is at or before `now_ms`: it becomes
    /// `active`, the active key `published`. Under the signing-keys lock, so of several
    /// processes noticing at once exactly one does it.
    async fn activate_due_signing_key(&self, now_ms: i64) -> Result<Activation>;
    /// Retires a key that is not active (after activating a due pending key, which then counts
    /// as active); `None` when there is no such key.
    async fn retire_signing_key(
        &self,
        kid: String,
        now_ms: i64,
        audit: AuditRecord,
    ) -> Result<Option<SigningKeyRow>>;

    // The audit log (#13).

    /// Writes an event on its own (a refused authentication: nothing else was written).
    async fn insert_audit_event(&self, event: AuditRecord) -> Result<()>;
    async fn list_audit_events(
        &self,
        filter: AuditFilter,
        cursor: Cursor,
        size: u32,
    ) -> Result<Page<AuditEvent>>;
    /// Deletes up to `limit` of the oldest events recorded before `before_ms`; how many it deleted.
    async fn prune_audit_events(&self, before_ms: i64, limit: u32) -> Result<u64>;
}

// ---------------------------------------------------------------------------------------------
// The backend abstraction: a connection that runs SQL with positional parameters.
// ---------------------------------------------------------------------------------------------

/// A boxed future, `Send`.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A query parameter. Nulls carry a type because PostgreSQL needs one.
#[derive(Debug, Clone, Copy)]
pub(crate) enum P<'a> {
    I64(i64),
    Text(&'a str),
    Blob(&'a [u8]),
    NullI64,
    NullText,
}

impl<'a> From<&'a str> for P<'a> {
    fn from(v: &'a str) -> Self {
        P::Text(v)
    }
}

impl<'a> From<&'a String> for P<'a> {
    fn from(v: &'a String) -> Self {
        P::Text(v)
    }
}

impl From<i64> for P<'_> {
    fn from(v: i64) -> Self {
        P::I64(v)
    }
}

impl<'a> From<&'a [u8]> for P<'a> {
    fn from(v: &'a [u8]) -> Self {
        P::Blob(v)
    }
}

impl<'a> From<Option<&'a str>> for P<'a> {
    fn from(v: Option<&'a str>) -> Self {
        v.map_or(P::NullText, P::Text)
    }
}

impl<'a> From<&'a Option<String>> for P<'a> {
    fn from(v: &'a Option<String>) -> Self {
        v.as_deref().map_or(P::NullText, P::Text)
    }
}

impl From<Option<i64>> for P<'_> {
    fn from(v: Option<i64>) -> Self {
        v.map_or(P::NullI64, P::I64)
    }
}

/// A column value of a result row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    I64(i64),
    Text(String),
    Blob(Vec<u8>),
}

/// A result row; columns are taken out by name (the column name, or its `AS` alias), so a
/// decoder does not depend on the order of a `SELECT` list.
#[derive(Debug)]
pub(crate) struct Row {
    /// The column names of the result, shared by its rows.
    columns: Arc<[String]>,
    values: Vec<Value>,
}

impl Row {
    /// A row of a result with `columns` (one value per column).
    pub fn new(columns: Arc<[String]>, values: Vec<Value>) -> Self {
        debug_assert_eq!(columns.len(), values.len());
        Row { columns, values }
    }

    /// True when the result has a column `name`.
    pub fn has(&self, name: &str) -> bool {
        self.columns.iter().any(|c| c == name)
    }

    fn take(&mut self, name: &str) -> Result<Value> {
        let i = self
            .columns
            .iter()
            .position(|c| c == name)
            .ok_or_else(|| Error::Store(format!("no column {name} in the result")))?;
        Ok(std::mem::replace(&mut self.values[i], Value::Null))
    }

    /// The error for a column of the wrong type. Names the type only: values may be key material.
    fn bad(name: &str, want: &str, got: &Value) -> Error {
        let found = match got {
            Value::Null => "NULL",
            Value::I64(_) => "an integer",
            Value::Text(_) => "text",
            Value::Blob(_) => "a blob",
        };
        Error::Store(format!("column {name}: expected {want}, found {found}"))
    }

    pub fn i64(&mut self, name: &str) -> Result<i64> {
        match self.take(name)? {
            Value::I64(v) => Ok(v),
            other => Err(Self::bad(name, "an integer", &other)),
        }
    }

    pub fn opt_i64(&mut self, name: &str) -> Result<Option<i64>> {
        match self.take(name)? {
            Value::Null => Ok(None),
            Value::I64(v) => Ok(Some(v)),
            other => Err(Self::bad(name, "an integer", &other)),
        }
    }

    pub fn text(&mut self, name: &str) -> Result<String> {
        match self.take(name)? {
            Value::Text(v) => Ok(v),
            other => Err(Self::bad(name, "text", &other)),
        }
    }

    pub fn opt_text(&mut self, name: &str) -> Result<Option<String>> {
        match self.take(name)? {
            Value::Null => Ok(None),
            Value::Text(v) => Ok(Some(v)),
            other => Err(Self::bad(name, "text", &other)),
        }
    }

    pub fn blob(&mut self, name: &str) -> Result<Vec<u8>> {
        match self.take(name)? {
            Value::Blob(v) => Ok(v),
            other => Err(Self::bad(name, "a blob", &other)),
        }
    }

    /// A text column holding one of the names of `T` ([`SqlEnum`]).
    pub fn enumerated<T: SqlEnum>(&mut self, name: &str) -> Result<T> {
        let text = self.text(name)?;
        T::from_sql(&text).ok_or_else(|| Error::Store(format!("column {name}: unknown value {text:?}")))
    }
}

/// An enum stored as text: the conversion happens here, at the SQL boundary, and nowhere else.
pub(crate) trait SqlEnum: Sized + Copy {
    /// The text stored for the value.
    fn as_sql(self) -> &'static str;
    /// The value stored as `text`, if it is one.
    fn from_sql(text: &str) -> Option<Self>;
}

impl SqlEnum for SigningKeyState {
    fn as_sql(self) -> &'static str {
        match self {
            SigningKeyState::Pending => "pending",
            SigningKeyState::Active => "active",
            SigningKeyState::Published => "published",
            SigningKeyState::Retired => "retired",
        }
    }

    fn from_sql(text: &str) -> Option<Self> {
        [
            SigningKeyState::Pending,
            SigningKeyState::Active,
            SigningKeyState::Published,
            SigningKeyState::Retired,
        ]
        .into_iter()
        .find(|s| s.as_sql() == text)
    }
}

/// How a signing key's private key is kept at rest (`encryption` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyEncryption {
    /// PKCS#8 DER in clear (no master key configured).
    None,
    /// AES-256-GCM under the master key: `nonce || ciphertext || tag`.
    Aes256Gcm,
}

impl SqlEnum for KeyEncryption {
    fn as_sql(self) -> &'static str {
        match self {
            KeyEncryption::None => "none",
            KeyEncryption::Aes256Gcm => "aes-256-gcm",
        }
    }

    fn from_sql(text: &str) -> Option<Self> {
        [KeyEncryption::None, KeyEncryption::Aes256Gcm]
            .into_iter()
            .find(|s| s.as_sql() == text)
    }
}

/// A database connection (inside a transaction when the store opened one).
///
/// SQL uses PostgreSQL's `$1, $2, …` placeholders; SQLite reads them as named parameters, which
/// bind positionally as long as each query introduces them in increasing order (checked in debug
/// builds and by the tests).
pub(crate) trait Conn: Send {
    fn query<'a>(
        &'a mut self,
        sql: &'static str,
        params: &'a [P<'a>],
    ) -> impl Future<Output = Result<Vec<Row>>> + Send + 'a;

    fn execute<'a>(
        &'a mut self,
        sql: &'static str,
        params: &'a [P<'a>],
    ) -> impl Future<Output = Result<u64>> + Send + 'a;

    /// Serialises this transaction with every other one taking the same lock, until it ends.
    /// A no-op on SQLite, where write transactions are already exclusive (`BEGIN IMMEDIATE`).
    fn lock<'a>(&'a mut self, key: &'a str) -> impl Future<Output = Result<()>> + Send + 'a;
}

/// How a unit of work runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Independent reads (autocommit).
    Read,
    /// Several reads that must see one snapshot.
    Snapshot,
    /// A write transaction.
    Write,
}

/// A database engine: runs a unit of work on one of its connections.
pub(crate) trait Backend: Send + Sync + Debug + 'static {
    type Conn: Conn;
    const KIND: StoreKind;

    fn run<R, F>(&self, mode: Mode, work: F) -> impl Future<Output = Result<R>> + Send
    where
        R: Send + 'static,
        F: for<'c> FnOnce(&'c mut Self::Conn) -> BoxFuture<'c, Result<R>> + Send + 'static;

    /// `Ok` when the database is still the one opened (SQLite: the file at the path has the
    /// device and inode it had at open). Default: nothing to check.
    fn check_identity(&self) -> Result<()> {
        Ok(())
    }

    /// The validation cache ([`keycache`]), if this backend keeps one. Default: none.
    fn key_cache(&self) -> Option<&keycache::KeyCache> {
        None
    }

    /// Makes the validation cache current before it answers a lookup (SQLite: flushes it when the
    /// file changed since). Default: nothing to do (PostgreSQL's is kept current by its listener).
    fn check_key_cache(&self) -> Result<()> {
        Ok(())
    }

    /// See [`Store::sync_key_cache`]. Default: nothing to wait for.
    fn sync_key_cache(&self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// Migrations: `(version, name, sql)`, in order.
pub(crate) type Migrations = &'static [(i64, &'static str, &'static str)];

/// The migrations a store whose schema is at version `current` still needs. A store migrated by
/// a newer authgate is refused.
pub(crate) fn pending_migrations(
    all: Migrations,
    current: i64,
) -> Result<impl Iterator<Item = &'static (i64, &'static str, &'static str)>> {
    let latest = all.last().map_or(0, |m| m.0);
    if current > latest {
        return Err(Error::FailedPrecondition(format!(
            "the database schema is at version {current}, newer than this authgate supports ({latest}); \
             upgrade authgate"
        )));
    }
    Ok(all.iter().filter(move |m| m.0 > current))
}
