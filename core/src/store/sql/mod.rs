//! Every query and every multi-step write of the store, written once for both backends.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use super::keycache::{CacheStats, Cached, disabled_stats};
use super::{
    Activation, AuditFilter, AuditRecord, Backend, BoxFuture, ClientAuth, ClientKind, ClientPatch, Conn,
    Cursor, EnvironmentClientRow, KeyPatch, KeyRef, KeyRotation, Mode, NewApiKey, NewClient, NewMembership,
    NewSecret, P, Page, RotatedKey, Rotation, Row, SigningKeyRow, SqlEnum, Store, StoreKind, StoredKey,
};
use crate::error::{Error, Result};
use crate::model::{
    AuditEvent, AuditOutcome, ClientSecret, CustomClaim, M2MClient, Membership, Organization, RateLimit,
    Role, SecretStatus, SigningKeyState, TokenInfo, User, UserRef,
};

/// The store: SQL run on a backend.
#[derive(Debug)]
pub(crate) struct SqlStore<B> {
    b: B,
}

impl<B: Backend> SqlStore<B> {
    pub(crate) fn new(b: B) -> Self {
        SqlStore { b }
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding helpers
// ---------------------------------------------------------------------------------------------

pub(crate) fn time_from_ms(ms: i64) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .map_err(|_| Error::Store(format!("timestamp out of range: {ms}")))
}

fn json<T: DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::Store(format!("corrupt {what} column: {e}")))
}

fn first<T>(rows: Vec<Row>, f: impl FnOnce(Row) -> Result<T>) -> Result<Option<T>> {
    rows.into_iter().next().map(f).transpose()
}

fn environment_client_from_row(mut r: Row) -> Result<EnvironmentClientRow> {
    Ok(EnvironmentClientRow {
        id: r.text("id")?,
        secret_suffix: r.text("secret_suffix")?,
        created_ms: r.i64("create_time")?,
        updated_ms: r.i64("update_time")?,
        last_used_ms: r.opt_i64("last_used_time")?,
        revoked_ms: r.opt_i64("revoked_at")?,
    })
}

fn count(rows: Vec<Row>) -> Result<u64> {
    let mut row = rows
        .into_iter()
        .next()
        .ok_or_else(|| Error::Store("COUNT returned no row".into()))?;
    Ok(row.i64("n")?.max(0) as u64)
}

/// The columns a record is read from (by name, in its `*_from_row`).
macro_rules! cols {
    (org) => {
        "seq, id, display_name, external_id, create_time, update_time"
    };
    (user) => {
        "u.seq, u.id, u.email, u.external_id, u.create_time, u.update_time"
    };
    (client) => {
        "c.seq, c.id, c.organization_id, c.name, c.description, c.scopes, c.audience, \
         c.custom_claims, c.expiry, c.create_time, c.update_time"
    };
    (secret) => {
        "s.client_id, s.id, s.secret_suffix, s.create_time, s.update_time, s.last_used_time"
    };
    (signing_key) => {
        "kid, algorithm, state, encryption, public_jwk, create_time, activate_at, retired_at"
    };
}

/// `SELECT <cols!(…)> <rest>` as one literal.
macro_rules! select {
    ($cols:ident, $rest:literal) => {
        concat!("SELECT ", cols!($cols), " ", $rest)
    };
}

mod audit;
mod paging;
mod statements;

use audit::*;
use paging::*;
use statements::*;

// ---------------------------------------------------------------------------------------------
// The Store implementation
// ---------------------------------------------------------------------------------------------

#[async_trait]
impl<B: Backend> Store for SqlStore<B> {
    fn kind(&self) -> StoreKind {
        B::KIND
    }

    async fn ping(&self) -> Result<()> {
        self.b
            .run(Mode::Read, |c| {
                Box::pin(async move { c.query("SELECT 1", &[]).await.map(|_| ()) })
            })
            .await
    }

    async fn ready(&self) -> Result<()> {
        self.b.check_identity()?;
        // A write transaction that writes nothing: SQLite takes the write lock (BEGIN
        // IMMEDIATE), PostgreSQL a transaction on a pooled connection.
        self.b
            .run(Mode::Write, |c| {
                Box::pin(async move { c.query("SELECT 1", &[]).await.map(|_| ()) })
            })
            .await
    }

    async fn meta_get(&self, key: &'static str) -> Result<Option<String>> {
        self.b
            .run(Mode::Read, move |c| {
                Box::pin(async move { meta_get(c, key).await })
            })
            .await
    }

    async fn meta_init(&self, key: &'static str, value: String) -> Result<String> {
        self.b
            .run(Mode::Write, move |c| {
                Box::pin(async move {
                    c.execute(META_INIT, &[P::Text(key), P::Text(&value)]).await?;
                    meta_get(c, key)
                        .await?
                        .ok_or_else(|| Error::Store(format!("meta key {key} vanished")))
                })
            })
            .await
    }

    // --- organizations ---------------------------------------------------------------------

    async fn insert_organization(&self, org: Organization, audit: AuditRecord) -> Result<()> {
        self.audited(audit, always)
            .run(Mode::Write, move |c| {
                Box::pin(async move {
                    let created = unix_ms(org.create_time);
                    let n = c
                        .execute(
                            ORG_INSERT,
                            &[
                                P::Text(&org.id),
                                P::Text(&org.display_name),
                                (&org.external_id).into(),
                                P::I64(created),
                                P::I64(unix_ms(org.update_time)),
                            ],
                        )
                        .await?;
                    if n == 0 {
                        return Err(Error::AlreadyExists {
                            resource: "organization",
                            message: "an organization with this external_id already exists".into(),
                        });
                    }
                    Ok(())
                })
            })
            .await
    }

    async fn get_organization(&self, id: String) -> Result<Option<Organization>> {
        self.b
            .run(Mode::Read, move |c| {
                Box::pin(async move { first(c.query(ORG_BY_ID, &[P::Text(&id)]).await?, org_from_row) })
            })
            .await
    }

    async fn list_organizations(
        &self,
        external_id: Option<String>,
        cursor: Cursor,
        size: u32,
    ) -> Result<Page<Organization>> {
        self.b
            .run(Mode::Snapshot, move |c| {
                Box::pin(async move {
                    let filter = [(&external_id).into()];
                    run_list(c, &ORG_LIST, &filter, cursor, size, org_from_row).await
                })
            })
            .await
    }

    async fn delete_organization(&self, id: String, audit: AuditRecord) -> Result<bool> {
        self.audited(audit, done)
            .run(Mode::Write, move |c| {
                Box::pin(async move { Ok(c.execute(ORG_DELETE, &[P::Text(&id)]).await? > 0) })
            })
            .await
    }

    // --- users -----------------------------------------------------------------------------

    async fn add_membership(&self, m: NewMembership, audit: AuditRecord) -> Result<User> {
        self.audited(audit, user_target)
            .run(Mode::Write, move |c| {
                Box::pin(async move {
                    c.lock(&format!("authgate:user:{}", m.email)).await?;
                    if m.external_id.is_some() {
                        c.lock(USER_EXTERNAL_ID_LOCK).await?;
                    }
                    if org_exists(c, &m.organization_id).await?.is_none() {
                        return Err(Error::not_found("organization", &m.organization_id));
                    }
                    let existing = first(c.query(USER_BY_EMAIL, &[P::Text(&m.email)]).await?, |mut r| {
                        Ok((r.text("id")?, r.opt_text("external_id")?))
                    })?;
                    let user_id = match existing {
                        None => {
                            if let Some(e) = &m.external_id {
                                check_user_external_id(c, e, &m.new_user_id).await?;
                            }
                            c.execute(
                                USER_INSERT,
                                &[
                                    P::Text(&m.new_user_id),
                                    P::Text(&m.email),
                                    (&m.external_id).into(),
                                    P::I64(m.now_ms),
                                ],
                            )
                            .await?;
                            m.new_user_id.clone()
                        }
                        Some((id, current)) => {
                            match (&m.external_id, current) {
                                (Some(wanted), Some(current)) if *wanted != current => {
                                    return Err(Error::AlreadyExists {
                                        resource: "user",
                                        message: format!(
                                            "user {id} with this email has a different external_id"
                                        ),
                                    });
                                }
                                (Some(wanted), None) => {
                                    check_user_external_id(c, wanted, &id).await?;
                                    c.execute(
                                        USER_SET_EXTERNAL_ID,
                                        &[P::Text(wanted), P::I64(m.now_ms), P::Text(&id)],
                                    )
                                    .await?;
                                }
                                _ => {}
                            }
                            id
                        }
                    };
                    let n = c
                        .execute(
                            MEMBERSHIP_INSERT,
                            &[
                                P::Text(&m.organization_id),
                                P::Text(&user_id),
                                P::Text(&m.roles_json),
                                P::I64(m.now_ms),
                            ],
                        )
                        .await?;
                    if n == 0 {
                        return Err(Error::AlreadyExists {
                            resource: "membership",
                            message: format!(
                                "user {user_id} is already a member of organization {}",
                                m.organization_id
                            ),
                        });
                    }
                    user_by_id(c, &user_id)
                        .await?
                        .ok_or_else(|| Error::Store("user vanished".into()))
                })
            })
            .await
    }

    async fn user_exists(&self, id: String) -> Result<bool> {
        self.b
            .run(Mode::Read, move |c| {
                Box::pin(async move { Ok(!c.query(USER_EXISTS, &[P::Text(&id)]).await?.is_empty()) })
            })
            .await
    }

    async fn list_organization_users(&self, org_id: String, cursor: Cursor, size: u32) -> Result<Page<User>> {
        self.b
            .run(Mode::Snapshot, move |c| {
                Box::pin(async move {
                    list_with_children(c, &USER_LIST, MEMBERSHIPS_OF_PAGE, &org_id, cursor, size).await
                })
            })
            .await
    }

    // --- organization updates, users and memberships (#11) ---------------------------------

    async fn update_organization(
        &self,
        id: String,
        display_name: Option<String>,
        external_id: Option<Option<String>>,
        now_ms: i64,
        audit: AuditRecord,
    ) -> Result<Option<Organization>> {
        self.audited(audit, found)
            .run(Mode::Write, move |c| {
                Box::pin(async move {
                    let Some(current) = first(c.query(ORG_BY_ID, &[P::Text(&id)]).await?, org_from_row)?
                    else {
                        return Ok(None);
                    };
                    let external_id = external_id.unwrap_or(current.external_id);
                    if let Some(e) = &external_id {
                        let holder = first(c.query(ORG_ID_BY_EXTERNAL_ID, &[P::Text(e)]).await?, |mut r| {
                            r.text("id")
                        })?;
                        if holder.is_some_and(|h| h != id) {
                            return Err(Error::AlreadyExists {
                                resource: "organization",
                                message: "an organization with this external_id already exists".into(),
                            });
                        }
                    }
                    let display_name = display_name.unwrap_or(current.display_name);
                    c.execute(
                        ORG_UPDATE,
                        &[
                            P::Text(&display_name),
                            (&external_id).into(),
                            P::I64(now_ms),
                            P::Text(&id),
                        ],
                    )
                    .await?;
                    first(c.query(ORG_BY_ID, &[P::Text(&id)]).await?, org_from_row)
                })
            })
            .await
    }

    async fn get_user(&self, by: UserRef) -> Result<Option<User>> {
        self.b
            .run(Mode::Snapshot, move |c| {
                Box::pin(async move {
                    match resolve_user(c, &by).await? {
                        Some(id) => user_by_id(c, &id).await,
                        None => Ok(None),
                    }
                })
            })
            .await
    }

    async fn list_users(&self, cursor: Cursor, size: u32) -> Result<Page<User>> {
        self.b
            .run(Mode::Snapshot, move |c| {
                Box::pin(async move {
                    let mut page = run_list(c, &USER_LIST_ALL, &[], cursor, size, user_from_row).await?;
                    if let (Some((lo, _)), Some((hi, _))) = (page.items.first(), page.items.last()) {
                        let rows = c
                            .query(MEMBERSHIPS_OF_USER_RANGE, &[P::I64(*lo), P::I64(*hi)])
                            .await?;
                        attach(page.items.iter_mut().map(|(_, u)| u), rows)?;
                    }
                    Ok(page)
                })
            })
            .await
    }

    async fn update_user(
        &self,
        by: UserRef,
        external_id: Option<String>,
        now_ms: i64,
        audit: AuditRecord,
    ) -> Result<Option<User>> {
        self.audited(audit, found_user)
            .run(Mode::Write, move |c| {
                Box::pin(async move {
                    c.lock(USER_EXTERNAL_ID_LOCK).await?;
                    let Some(id) = resolve_user(c, &by).await? else {
                        return Ok(None);
                    };
                    if let Some(e) = &external_id {
                        check_user_external_id(c, e, &id).await?;
                    }
                    c.execute(
                        USER_SET_EXTERNAL_ID,
                        &[(&external_id).into(), P::I64(now_ms), P::Text(&id)],
                    )
                    .await?;
                    user_by_id(c, &id).await
                })
            })
            .await
    }

    async fn delete_user(&self, by: UserRef, audit: AuditRecord) -> Result<Option<String>> {
        self.audited(audit, deleted_user)
            .run(Mode::Write, move |c| {
                Box::pin(async move {
                    let Some(id) = resolve_user(c, &by).await? else {
                        return Ok(None);
                    };
                    // Memberships and their API keys go with the user (ON DELETE CASCADE).
                    Ok((c.execute(USER_DELETE, &[P::Text(&id)]).await? > 0).then_some(id))
                })
            })
            .await
    }

    async fn insert_membership(
        &self,
        org_id: String,
        by: UserRef,
        roles_json: String,
        now_ms: i64,
        audit: AuditRecord,
    ) -> Result<User> {
        self.audited(audit, user_target)
            .run(Mode::Write, move |c| {
                Box::pin(async move {
                    let user_id = membership_parties(c, &org_id, &by).await?;
                    // Checked first: a refused insert would still advance PostgreSQL's sequence.
                    let exists = !c
                        .query(MEMBERSHIP_EXISTS, &[P::Text(&org_id), P::Text(&user_id)])
                        .await?
                        .is_empty();
                    let n = if exists {
                        0
                    } else {
                        c.execute(
                            MEMBERSHIP_INSERT,
                            &[
                                P::Text(&org_id),
                                P::Text(&user_id),
                                P::Text(&roles_json),
                                P::I64(now_ms),
                            ],
                        )
                        .await?
                    };
                    if n == 0 {
                        return Err(Error::AlreadyExists {
                            resource: "membership",
                            message: format!("user {user_id} is already a member of organization {org_id}"),
                        });
                    }
                    user_by_id(c, &user_id)
                        .await?
                        .ok_or_else(|| Error::Store("user vanished".into()))
                })
            })
            .await
    }

    async fn update_membership(
        &self,
        org_id: String,
        by: UserRef,
        roles_json: String,
        audit: AuditRecord,
    ) -> Result<User> {
        self.audited(audit, user_target)
            .run(Mode::Write, move |c| {
                Box::pin(async move {
                    let user_id = membership_parties(c, &org_id, &by).await?;
                    let n = c
                        .execute(
                            MEMBERSHIP_UPDATE,
                            &[P::Text(&roles_json), P::Text(&org_id), P::Text(&user_id)],
                        )
                        .await?;
                    if n == 0 {
                        return Err(Error::not_found("membership", format!("{org_id}/{user_id}")));
                    }
                    user_by_id(c, &user_id)
                        .await?
                        .ok_or_else(|| Error::Store("user vanished".into()))
                })
            })
            .await
    }

    async fn delete_membership(&self, org_id: String, by: UserRef, audit: AuditRecord) -> Result<String> {
        self.audited(audit, removed_member)
            .run(Mode::Write, move |c| {
                Box::pin(async move {
                    let user_id = membership_parties(c, &org_id, &by).await?;
                    // The user's API keys in the organization go with it (ON DELETE CASCADE).
                    if c.execute(MEMBERSHIP_DELETE, &[P::Text(&org_id), P::Text(&user_id)])
                        .await?
                        == 0
                    {
                        return Err(Error::not_found("membership", format!("{org_id}/{user_id}")));
                    }
                    Ok(user_id)
                })
            })
            .await
    }

    // --- API keys --------------------------------------------------------------------------

    async fn insert_api_key(&self, key: NewApiKey, audit: AuditRecord) -> Result<TokenInfo> {
        self.audited(audit, always)
            .run(Mode::Write, move |c| {
                Box::pin(async move {
                    if org_exists(c, &key.organization_id).await?.is_none() {
                        return Err(Error::not_found("organization", &key.organization_id));
                    }
                    if let Some(user_id) = &key.user_id {
                        let member = first(
                            c.query(MEMBER_OF, &[P::Text(&key.organization_id), P::Text(user_id)])
                                .await?,
                            |mut r| r.opt_text("user_id"),
                        )?;
                        match member {
                            None => return Err(Error::not_found("user", user_id)),
                            Some(None) => {
                                return Err(Error::FailedPrecondition(format!(
                                    "user {user_id} is not a member of organization {}",
                                    key.organization_id
                                )));
                            }
                            Some(Some(_)) => {}
                        }
                    }
                    c.execute(
                        KEY_INSERT,
                        &[
                            P::Text(&key.id),
                            P::Blob(&key.digest),
                            P::Text(&key.organization_id),
                            (&key.user_id).into(),
                            P::Text(&key.custom_claims_json),
                            (&key.description).into(),
                            P::Text(&key.token_suffix),
                            key.expiry_ms.into(),
                            P::I64(key.now_ms),
                            (&key.allowed_cidrs_json).into(),
                            rate_param(key.rate_limit.map(|r| r.limit)),
                            rate_param(key.rate_limit.map(|r| r.window_seconds)),
                        ],
                    )
                    .await?;
                    key_by(c, &KeyRef::Id(key.id.clone()))
                        .await?
                        .map(|k| k.info)
                        .ok_or_else(|| Error::Store("inserted key vanished".into()))
                })
            })
            .await
    }

    async fn find_api_key(&self, by: KeyRef) -> Result<Option<StoredKey>> {
        self.b
            .run(Mode::Read, move |c| Box::pin(async move { key_by(c, &by).await }))
            .await
    }

    async fn find_api_key_cached(&self, digest: [u8; 32]) -> Result<Option<StoredKey>> {
        let Some(cache) = self.b.key_cache() else {
            return self.find_api_key(KeyRef::Digest(digest)).await;
        };
        self.b.check_key_cache()?;
        let ticket = match cache.get(&digest) {
            Cached::Key(key) => return Ok(Some(key)),
            Cached::NoKey => return Ok(None),
            Cached::Miss => cache.ticket(),
        };
        let found = self.find_api_key(KeyRef::Digest(digest)).await?;
        if let Some(cache) = self.b.key_cache() {
            cache.fill(digest, ticket, found.as_ref());
        }
        Ok(found)
    }

    fn holds_api_key(&self, digest: &[u8; 32]) -> bool {
        self.b.key_cache().is_some_and(|c| c.holds(digest))
    }

    async fn sync_key_cache(&self) {
        self.b.sync_key_cache().await
    }

    fn key_cache_stats(&self) -> CacheStats {
        self.b.key_cache().map_or_else(disabled_stats, |c| c.stats())
    }

    async fn list_api_keys(
        &self,
        org_id: String,
        user_id: Option<String>,
        live_at_ms: i64,
        unused_since_ms: i64,
        cursor: Cursor,
        size: u32,
    ) -> Result<Page<StoredKey>> {
        self.b
            .run(Mode::Snapshot, move |c| {
                Box::pin(async move {
                    let filter = [
                        P::Text(&org_id),
                        (&user_id).into(),
                        P::I64(live_at_ms),
                        P::I64(unused_since_ms),
                    ];
                    run_list(c, &KEY_LIST, &filter, cursor, size, key_from_row).await
                })
            })
            .await
    }

    async fn touch_api_keys(&self, uses: Vec<(String, i64)>) -> Result<()> {
        self.b
            .run(Mode::Write, move |c| {
                Box::pin(async move {
                    for (id, at_ms) in &uses {
                        c.execute(KEY_TOUCH, &[P::I64(*at_ms), P::Text(id)]).await?;
                    }
                    Ok(())
                })
            })
            .await
    }

    async fn rotate_api_key(
        &self,
        old_id: String,
        new_key: RotatedKey,
        grace_end_ms: i64,
        now_ms: i64,
        audit: AuditRecord,
    ) -> Result<KeyRotation> {
        self.audited(audit, rotated_key)
            .run(Mode::Write, move |c| {
                Box::pin(async move {
                    // Two rotations of one key at once: the second waits, then sees `rotated_to`.
                    c.lock(&format!("authgate:key:{old_id}")).await?;
                    let old = KeyRef::Id(old_id.clone());
                    let current = match key_by(c, &old).await? {
                        Some(k) if !k.revoked(now_ms) => k,
                        _ => return Ok(KeyRotation::NotFound),
                    };
                    if let Some(to) = current.info.rotated_to {
                        return Ok(KeyRotation::AlreadyRotated(to));
                    }
                    if current.info.expiry.is_some_and(|e| unix_ms(e) <= now_ms) {
                        return Ok(KeyRotation::Expired);
                    }
                    c.execute(
                        KEY_INSERT_ROTATED,
                        &[
                            P::Text(&new_key.id),
                            P::Blob(&new_key.digest),
                            P::Text(&new_key.suffix),
                            P::I64(now_ms),
                            P::Text(&old_id),
                        ],
                    )
                    .await?;
                    if let Some(rate) = new_key.rate_limit {
                        c.execute(
                            KEY_SET_RATE,
                            &[
                                rate_param(Some(rate.limit)),
                                rate_param(Some(rate.window_seconds)),
                                P::Text(&new_key.id),
                            ],
                        )
                        .await?;
                    }
                    c.execute(
                        KEY_MARK_ROTATED,
                        &[
                            P::Text(&new_key.id),
                            P::I64(grace_end_ms),
                            P::I64(now_ms),
                            P::Text(&old_id),
                        ],
                    )
                    .await?;
                    let new = key_by(c, &KeyRef::Id(new_key.id))
                        .await?
                        .ok_or_else(|| Error::Store("rotated key vanished".into()))?;
                    Ok(KeyRotation::Done(Box::new(new.info)))
                })
            })
            .await
    }

    async fn update_api_key(
        &self,
        id: String,
        patch: KeyPatch,
        now_ms: i64,
        audit: AuditRecord,
    ) -> Result<Option<TokenInfo>> {
        self.audited(audit, found_key)
            .run(Mode::Write, move |c| {
                Box::pin(async move {
                    let by = KeyRef::Id(id.clone());
                    let Some(current) = key_by(c, &by).await?.filter(|k| !k.revoked(now_ms)) else {
                        return Ok(None);
                    };
                    let claims = or_json(patch.custom_claims_json, &current.info.custom_claims)?;
                    let description = patch.description.unwrap_or(current.info.description);
                    let cidrs = match patch.allowed_cidrs_json {
                        Some(new) => new,
                        None => current
                            .info
                            .allowed_cidrs
                            .as_ref()
                            .map(|list| {
                                serde_json::to_string(list).map_err(|e| Error::Internal(e.to_string()))
                            })
                            .transpose()?,
                    };
                    let rate = patch.rate_limit.unwrap_or(current.info.rate_limit);
                    c.execute(
                        KEY_UPDATE,
                        &[
                            P::Text(&claims),
                            (&description).into(),
                            P::I64(now_ms),
                            (&cidrs).into(),
                            rate_param(rate.map(|r| r.limit)),
                            rate_param(rate.map(|r| r.window_seconds)),
                            P::Text(&id),
                        ],
                    )
                    .await?;
                    Ok(key_by(c, &by).await?.map(|k| k.info))
                })
            })
            .await
    }

    async fn take_rate_budget(
        &self,
        key_id: String,
        window_start_ms: i64,
        limit: u64,
        want: u64,
    ) -> Result<u64> {
        self.b
            .run(Mode::Write, move |c| {
                Box::pin(async move {
                    c.lock(&format!("authgate:rate:{key_id}")).await?;
                    let window = [P::Text(&key_id), P::I64(window_start_ms)];
                    if c.execute(RATE_OPEN, &window).await? > 0 {
                        c.execute(RATE_DROP_OLD, &window).await?;
                    }
                    let used = first(c.query(RATE_USED, &window).await?, |mut r| r.i64("used"))?
                        .and_then(|n| u64::try_from(n).ok())
                        .unwrap_or(limit);
                    let granted = want.min(limit.saturating_sub(used));
                    if granted > 0 {
                        let n = i64::try_from(granted).unwrap_or(i64::MAX);
                        c.execute(RATE_TAKE, &[P::I64(n), P::Text(&key_id), P::I64(window_start_ms)])
                            .await?;
                    }
                    Ok(granted)
                })
            })
            .await
    }

    async fn revoke_api_key(&self, by: KeyRef, now_ms: i64, audit: AuditRecord) -> Result<bool> {
        self.audited(audit, done)
            .run(Mode::Write, move |c| {
                Box::pin(async move {
                    let (revoke, exists, param) = match &by {
                        KeyRef::Digest(d) => (KEY_REVOKE_BY_DIGEST, KEY_EXISTS_BY_DIGEST, P::Blob(d)),
                        KeyRef::Id(id) => (KEY_REVOKE_BY_ID, KEY_EXISTS_BY_ID, P::Text(id)),
                    };
                    if c.execute(revoke, &[P::I64(now_ms), param]).await? > 0 {
                        return Ok(true);
                    }
                    Ok(!c.query(exists, &[param]).await?.is_empty())
                })
            })
            .await
    }

    // --- M2M clients -----------------------------------------------------------------------

    async fn insert_client(
        &self,
        client: NewClient,
        secret: NewSecret,
        audit: AuditRecord,
    ) -> Result<M2MClient> {
        self.audited(audit, always)
            .run(Mode::Write, move |c| {
                Box::pin(async move {
                    if org_exists(c, &client.organization_id).await?.is_none() {
                        return Err(Error::not_found("organization", &client.organization_id));
                    }
                    c.execute(
                        CLIENT_INSERT,
                        &[
                            P::Text(&client.id),
                            P::Text(&client.organization_id),
                            P::Text(&client.name),
                            P::Text(&client.description),
                            P::Text(&client.scopes_json),
                            P::Text(&client.audience_json),
                            P::Text(&client.custom_claims_json),
                            P::I64(client.expiry),
                            P::I64(client.now_ms),
                        ],
                    )
                    .await?;
                    insert_secret(c, &client.id, &secret).await?;
                    client_get(c, &client.organization_id, &client.id)
                        .await?
                        .ok_or_else(|| Error::Store("inserted client vanished".into()))
                })
            })
            .await
    }

    async fn get_client(&self, org_id: String, client_id: String) -> Result<Option<M2MClient>> {
        self.b
            .run(Mode::Snapshot, move |c| {
                Box::pin(async move { client_get(c, &org_id, &client_id).await })
            })
            .await
    }

    async fn update_client(
        &self,
        org_id: String,
        client_id: String,
        patch: ClientPatch,
        audit: AuditRecord,
    ) -> Result<Option<M2MClient>> {
        self.audited(audit, found)
            .run(Mode::Write, move |c| {
                Box::pin(async move {
                    let Some(current) = client_get(c, &org_id, &client_id).await? else {
                        return Ok(None);
                    };
                    let scopes = or_json(patch.scopes_json, &current.scopes)?;
                    let audience = or_json(patch.audience_json, &current.audience)?;
                    let claims = or_json(patch.custom_claims_json, &current.custom_claims)?;
                    c.execute(
                        CLIENT_UPDATE,
                        &[
                            P::Text(patch.name.as_deref().unwrap_or(&current.name)),
                            P::Text(patch.description.as_deref().unwrap_or(&current.description)),
                            P::Text(&scopes),
                            P::Text(&audience),
                            P::Text(&claims),
                            P::I64(patch.expiry.unwrap_or(current.expiry)),
                            P::I64(patch.now_ms),
                            P::Text(&client_id),
                        ],
                    )
                    .await?;
                    client_get(c, &org_id, &client_id).await
                })
            })
            .await
    }

    async fn delete_client(&self, org_id: String, client_id: String, audit: AuditRecord) -> Result<bool> {
        self.audited(audit, done)
            .run(Mode::Write, move |c| {
                Box::pin(async move {
                    Ok(c.execute(CLIENT_DELETE, &[P::Text(&org_id), P::Text(&client_id)])
                        .await?
                        > 0)
                })
            })
            .await
    }

    async fn list_clients(&self, org_id: String, cursor: Cursor, size: u32) -> Result<Page<M2MClient>> {
        self.b
            .run(Mode::Snapshot, move |c| {
                Box::pin(async move {
                    list_with_children(c, &CLIENT_LIST, SECRETS_OF_PAGE, &org_id, cursor, size).await
                })
            })
            .await
    }

    async fn insert_client_secret(
        &self,
        org_id: String,
        client_id: String,
        secret: NewSecret,
        max_secrets: usize,
        audit: AuditRecord,
    ) -> Result<ClientSecret> {
        self.audited(audit, always)
            .run(Mode::Write, move |c| {
                Box::pin(async move {
                    lock_client(c, &org_id, &client_id).await?;
                    let n = count(c.query(SECRET_COUNT, &[P::Text(&client_id)]).await?)?;
                    if n >= max_secrets as u64 {
                        return Err(Error::FailedPrecondition(format!(
                            "client {client_id} already has {n} secrets (the maximum); remove one first"
                        )));
                    }
                    insert_secret(c, &client_id, &secret).await?;
                    let created = time_from_ms(secret.now_ms)?;
                    Ok(ClientSecret {
                        id: secret.id,
                        create_time: created,
                        update_time: created,
                        secret_suffix: secret.suffix,
                        created_by: None,
                        status: SecretStatus::Active,
                        expire_time: None,
                        last_used_time: None,
                    })
                })
            })
            .await
    }

    async fn delete_client_secret(
        &self,
        org_id: String,
        client_id: String,
        secret_id: String,
        audit: AuditRecord,
    ) -> Result<()> {
        self.audited(audit, always)
            .run(Mode::Write, move |c| {
                Box::pin(async move {
                    lock_client(c, &org_id, &client_id).await?;
                    let params = [P::Text(&client_id), P::Text(&secret_id)];
                    if c.query(SECRET_EXISTS, &params).await?.is_empty() {
                        return Err(Error::not_found("secret", &secret_id));
                    }
                    if count(c.query(SECRET_COUNT, &[P::Text(&client_id)]).await?)? <= 1 {
                        return Err(Error::FailedPrecondition(
                            "last client secret cannot be deleted; add another secret first".into(),
                        ));
                    }
                    c.execute(SECRET_DELETE, &params).await?;
                    Ok(())
                })
            })
            .await
    }

    async fn client_auth(&self, kind: ClientKind, client_id: String) -> Result<Option<ClientAuth>> {
        self.b
            .run(Mode::Read, move |c| {
                Box::pin(async move {
                    match kind {
                        ClientKind::M2m => {
                            let rows = c.query(CLIENT_AUTH, &[P::Text(&client_id)]).await?;
                            let mut auth: Option<ClientAuth> = None;
                            for mut r in rows {
                                let auth = match &mut auth {
                                    Some(a) => a,
                                    None => auth.insert(ClientAuth {
                                        organization_id: Some(r.text("organization_id")?),
                                        scopes: json(&r.text("scopes")?, "scopes")?,
                                        audience: json(&r.text("audience")?, "audience")?,
                                        custom_claims: json::<Vec<CustomClaim>>(
                                            &r.text("custom_claims")?,
                                            "custom_claims",
                                        )?,
                                        expiry: r.i64("expiry")?,
                                        secrets: Vec::new(),
                                        active_kid: r.opt_text("active_kid")?,
                                        pending_activate_ms: r.opt_i64("pending_activate_at")?,
                                    }),
                                };
                                if let Some(id) = r.opt_text("secret_id")? {
                                    auth.secrets
                                        .push((id, r.blob("digest")?, r.opt_i64("last_used_time")?));
                                }
                            }
                            Ok(auth)
                        }
                        ClientKind::Environment => {
                            first(c.query(ENV_AUTH, &[P::Text(&client_id)]).await?, |mut r| {
                                Ok(ClientAuth {
                                    organization_id: None,
                                    scopes: Vec::new(),
                                    audience: Vec::new(),
                                    custom_claims: Vec::new(),
                                    expiry: 0,
                                    secrets: vec![(
                                        r.text("secret_id")?,
                                        r.blob("digest")?,
                                        r.opt_i64("last_used_time")?,
                                    )],
                                    active_kid: r.opt_text("active_kid")?,
                                    pending_activate_ms: r.opt_i64("pending_activate_at")?,
                                })
                            })
                        }
                    }
                })
            })
            .await
    }

    async fn touch_secret(
        &self,
        kind: ClientKind,
        secret_id: String,
        now_ms: i64,
        stale_before_ms: i64,
    ) -> Result<()> {
        self.b
            .run(Mode::Write, move |c| {
                Box::pin(async move {
                    let sql = match kind {
                        ClientKind::M2m => SECRET_TOUCH,
                        ClientKind::Environment => ENV_TOUCH,
                    };
                    c.execute(
                        sql,
                        &[P::I64(now_ms), P::Text(&secret_id), P::I64(stale_before_ms)],
                    )
                    .await?;
                    Ok(())
                })
            })
            .await
    }

    // --- environment clients ---------------------------------------------------------------

    async fn upsert_environment_client(
        &self,
        id: String,
        secret: NewSecret,
        audit: AuditRecord,
    ) -> Result<()> {
        self.audited(audit, always)
            .run(Mode::Write, move |c| {
                Box::pin(async move {
                    c.execute(
                        ENV_UPSERT,
                        &[
                            P::Text(&id),
                            P::Blob(&secret.digest),
                            P::Text(&secret.suffix),
                            P::I64(secret.now_ms),
                        ],
                    )
                    .await?;
                    Ok(())
                })
            })
            .await
    }

    async fn count_environment_clients(&self) -> Result<u64> {
        self.b
            .run(Mode::Read, |c| {
                Box::pin(async move { count(c.query(ENV_COUNT, &[]).await?) })
            })
            .await
    }

    async fn list_environment_clients(&self) -> Result<Vec<EnvironmentClientRow>> {
        self.b
            .run(Mode::Read, |c| {
                Box::pin(async move {
                    c.query(ENV_LIST, &[])
                        .await?
                        .into_iter()
                        .map(environment_client_from_row)
                        .collect()
                })
            })
            .await
    }

    async fn environment_client_live(&self, id: String) -> Result<bool> {
        self.b
            .run(Mode::Read, move |c| {
                Box::pin(async move { Ok(!c.query(ENV_LIVE, &[P::Text(&id)]).await?.is_empty()) })
            })
            .await
    }

    async fn revoke_environment_client(
        &self,
        id: String,
        now_ms: i64,
        audit: AuditRecord,
    ) -> Result<EnvironmentClientRow> {
        self.audited(audit, always)
            .run(Mode::Write, move |c| {
                Box::pin(async move {
                    c.lock(ENVIRONMENT_CLIENTS_LOCK).await?;
                    let row = first(c.query(ENV_GET, &[P::Text(&id)]).await?, environment_client_from_row)?
                        .ok_or_else(|| Error::not_found("environment_client", &id))?;
                    if row.revoked_ms.is_some() {
                        // Revoking again is a no-op, as for API keys.
                        return Ok(row);
                    }
                    if c.query(ENV_LIVE_OTHERS, &[P::Text(&id)]).await?.is_empty() {
                        return Err(Error::FailedPrecondition(
                            "the last live environment credential cannot be revoked; create another one first \
                             (authgate env-credentials create)"
                                .into(),
                        ));
                    }
                    c.execute(ENV_REVOKE, &[P::I64(now_ms), P::Text(&id)]).await?;
                    first(c.query(ENV_GET, &[P::Text(&id)]).await?, environment_client_from_row)?
                        .ok_or_else(|| Error::not_found("environment_client", &id))
                })
            })
            .await
    }

    async fn revoke_other_environment_clients(
        &self,
        keep: String,
        now_ms: i64,
        audit: AuditRecord,
    ) -> Result<Vec<String>> {
        self.audited(audit, revoked_others)
            .run(Mode::Write, move |c| {
                Box::pin(async move {
                    c.lock(ENVIRONMENT_CLIENTS_LOCK).await?;
                    if c.query(ENV_LIVE, &[P::Text(&keep)]).await?.is_empty() {
                        return Err(Error::FailedPrecondition(format!(
                            "environment credential {keep} is not live; nothing was revoked"
                        )));
                    }
                    let mut revoked = Vec::new();
                    for mut r in c.query(ENV_LIVE_OTHERS, &[P::Text(&keep)]).await? {
                        let other = r.text("id")?;
                        c.execute(ENV_REVOKE, &[P::I64(now_ms), P::Text(&other)]).await?;
                        revoked.push(other);
                    }
                    Ok(revoked)
                })
            })
            .await
    }

    // --- signing keys ----------------------------------------------------------------------

    async fn seal_signing_key(&self, kid: String, sealed: Vec<u8>, audit: AuditRecord) -> Result<bool> {
        self.audited(audit, done)
            .run(Mode::Write, move |c| {
                Box::pin(async move {
                    c.lock(SIGNING_KEYS_LOCK).await?;
                    Ok(c.execute(SK_SEAL, &[P::Blob(&sealed), P::Text(&kid)]).await? == 1)
                })
            })
            .await
    }

    async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRow>> {
        self.b
            .run(Mode::Read, |c| {
                Box::pin(async move {
                    c.query(SK_LIST, &[])
                        .await?
                        .into_iter()
                        .map(signing_key_from_row)
                        .collect()
                })
            })
            .await
    }

    async fn get_signing_key(&self, kid: String) -> Result<Option<SigningKeyRow>> {
        self.b
            .run(Mode::Read, move |c| {
                Box::pin(async move { signing_key(c, &kid).await })
            })
            .await
    }

    async fn active_signing_kid(&self) -> Result<Option<String>> {
        self.b
            .run(Mode::Read, |c| {
                Box::pin(async move { active_signing_kid(c).await })
            })
            .await
    }

    async fn insert_first_signing_key(&self, key: SigningKeyRow) -> Result<bool> {
        self.b
            .run(Mode::Write, move |c| {
                Box::pin(async move {
                    c.lock(SIGNING_KEYS_LOCK).await?;
                    if active_signing_kid(c).await?.is_some() {
                        return Ok(false);
                    }
                    insert_signing_key(c, &key, SigningKeyState::Active, key.created_ms).await?;
                    Ok(true)
                })
            })
            .await
    }

    async fn rotate_signing_key(
        &self,
        key: Option<SigningKeyRow>,
        now_ms: i64,
        delay_ms: i64,
        audit: AuditRecord,
    ) -> Result<Rotation> {
        self.audited(audit, rotated)
            .run(Mode::Write, move |c| {
                Box::pin(async move {
                    c.lock(SIGNING_KEYS_LOCK).await?;
                    activate_if_due(c, now_ms).await?;
                    let immediate = delay_ms <= 0;
                    if let Some(pending) = pending_signing_key(c).await? {
                        if !immediate {
                            return Ok(Rotation::Pending(pending));
                        }
                        activate(c, &pending.kid, now_ms).await?;
                        return Ok(match signing_key(c, &pending.kid).await? {
                            Some(row) => Rotation::Done(row),
                            None => return Err(Error::Internal("the activated key vanished".into())),
                        });
                    }
                    let Some(key) = key else {
                        return Ok(Rotation::NeedKey);
                    };
                    if immediate || active_signing_kid(c).await?.is_none() {
                        c.execute(SK_DEMOTE_ACTIVE, &[]).await?;
                        insert_signing_key(c, &key, SigningKeyState::Active, now_ms).await?;
                    } else {
                        insert_signing_key(
                            c,
                            &key,
                            SigningKeyState::Pending,
                            now_ms.saturating_add(delay_ms),
                        )
                        .await?;
                    }
                    match signing_key(c, &key.kid).await? {
                        Some(row) => Ok(Rotation::Done(row)),
                        None => Err(Error::Internal("the inserted key vanished".into())),
                    }
                })
            })
            .await
    }

    async fn activate_due_signing_key(&self, now_ms: i64) -> Result<Activation> {
        self.b
            .run(Mode::Write, move |c| {
                Box::pin(async move {
                    c.lock(SIGNING_KEYS_LOCK).await?;
                    let activated = activate_if_due(c, now_ms).await?;
                    Ok(Activation {
                        active_kid: active_signing_kid(c).await?,
                        activated,
                    })
                })
            })
            .await
    }

    async fn retire_signing_key(
        &self,
        kid: String,
        now_ms: i64,
        audit: AuditRecord,
    ) -> Result<Option<SigningKeyRow>> {
        self.audited(audit, found)
            .run(Mode::Write, move |c| {
                Box::pin(async move {
                    c.lock(SIGNING_KEYS_LOCK).await?;
                    activate_if_due(c, now_ms).await?;
                    let Some(key) = signing_key(c, &kid).await? else {
                        return Ok(None);
                    };
                    match key.state {
                        SigningKeyState::Active => Err(Error::FailedPrecondition(format!(
                            "signing key {kid} is the active key; rotate first, then retire it"
                        ))),
                        SigningKeyState::Retired => Ok(Some(key)),
                        _ => {
                            c.execute(SK_RETIRE, &[P::I64(now_ms), P::Text(&kid)]).await?;
                            signing_key(c, &kid).await
                        }
                    }
                })
            })
            .await
    }

    // --- the audit log (audit.rs) -----------------------------------------------------------

    async fn insert_audit_event(&self, event: AuditRecord) -> Result<()> {
        self.audit_insert(event).await
    }

    async fn list_audit_events(
        &self,
        filter: AuditFilter,
        cursor: Cursor,
        size: u32,
    ) -> Result<Page<AuditEvent>> {
        self.audit_list(filter, cursor, size).await
    }

    async fn prune_audit_events(&self, before_ms: i64, limit: u32) -> Result<u64> {
        self.audit_prune(before_ms, limit).await
    }
}

/// Unix milliseconds of a timestamp.
pub(crate) fn unix_ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// `new`, or the JSON text of `current`.
/// A rate-limit figure as a column value (the limits keep them far below `i64::MAX`).
fn rate_param(v: Option<u64>) -> P<'static> {
    v.map(|n| i64::try_from(n).unwrap_or(i64::MAX)).into()
}

fn or_json<T: serde::Serialize>(new: Option<String>, current: &T) -> Result<String> {
    match new {
        Some(json) => Ok(json),
        None => serde_json::to_string(current).map_err(|e| Error::Internal(e.to_string())),
    }
}

/// Every statement, for the SQLite placeholder-order check in the tests.
#[cfg(test)]
pub(crate) fn all_statements() -> Vec<&'static str> {
    let mut all = vec![
        ORG_BY_ID,
        ORG_INSERT,
        ORG_DELETE,
        ORG_EXTERNAL_ID,
        USER_BY_EMAIL,
        USER_BY_ID,
        USER_EXISTS,
        USER_INSERT,
        USER_SET_EXTERNAL_ID,
        MEMBERSHIP_INSERT,
        MEMBERSHIPS_OF_USER,
        MEMBERSHIPS_OF_PAGE,
        KEY_BY_DIGEST,
        KEY_BY_ID,
        KEY_INSERT,
        KEY_UPDATE,
        KEY_REVOKE_BY_DIGEST,
        KEY_REVOKE_BY_ID,
        KEY_INSERT_ROTATED,
        KEY_MARK_ROTATED,
        KEY_TOUCH,
        KEY_EXISTS_BY_DIGEST,
        KEY_EXISTS_BY_ID,
        KEY_SET_RATE,
        RATE_OPEN,
        RATE_USED,
        RATE_TAKE,
        RATE_DROP_OLD,
        MEMBER_OF,
        CLIENT_GET,
        CLIENT_INSERT,
        CLIENT_UPDATE,
        CLIENT_DELETE,
        CLIENT_EXISTS,
        SECRETS_OF_CLIENT,
        SECRETS_OF_PAGE,
        SECRET_INSERT,
        SECRET_COUNT,
        SECRET_EXISTS,
        SECRET_DELETE,
        SECRET_TOUCH,
        CLIENT_AUTH,
        ENV_UPSERT,
        ENV_COUNT,
        ENV_AUTH,
        ENV_TOUCH,
        ENV_LIST,
        ENV_GET,
        ENV_LIVE,
        ENV_REVOKE,
        ENV_LIVE_OTHERS,
        META_GET,
        META_INIT,
        SK_LIST,
        SK_GET,
        SK_PENDING,
        SK_ACTIVE,
        SK_DEMOTE_ACTIVE,
        SK_ACTIVATE,
        SK_INSERT,
        SK_RETIRE,
        SK_SEAL,
        AUDIT_INSERT,
        AUDIT_PRUNE,
    ];
    for list in [&*ORG_LIST, &*USER_LIST, &*KEY_LIST, &*CLIENT_LIST, &*AUDIT_LIST] {
        all.extend([
            list.after.as_str(),
            list.before.as_str(),
            list.exists_after.as_str(),
            list.exists_before.as_str(),
            list.count.as_str(),
        ]);
    }
    all
}
