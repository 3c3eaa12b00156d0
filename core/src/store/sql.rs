//! Every query and every multi-step write of the store, written once for both backends.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use super::{
    Activation, Backend, ClientAuth, ClientKind, ClientPatch, Conn, Cursor, KeyRef, Mode, NewApiKey,
    NewClient, NewMembership, NewSecret, P, Page, Rotation, Row, SigningKeyRow, SqlEnum, Store, StoreKind,
    StoredKey,
};
use crate::error::{Error, Result};
use crate::model::{
    ClientSecret, CustomClaim, M2MClient, Membership, Organization, Role, SecretStatus, SigningKeyState,
    TokenInfo, User,
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

// ---------------------------------------------------------------------------------------------
// Keyset pagination
// ---------------------------------------------------------------------------------------------

/// The statements of one paginated list: `base` is `FROM … WHERE <filter>` using `$1..$n`.
struct ListSql {
    after: String,
    before: String,
    exists_after: String,
    exists_before: String,
    count: String,
}

impl ListSql {
    fn new(cols: &str, base: &str, n_filter_params: usize, seq: &str) -> Self {
        let (a, b) = (n_filter_params + 1, n_filter_params + 2);
        ListSql {
            after: format!("SELECT {cols} {base} AND {seq} > ${a} ORDER BY {seq} ASC LIMIT ${b}"),
            before: format!("SELECT {cols} {base} AND {seq} < ${a} ORDER BY {seq} DESC LIMIT ${b}"),
            exists_after: format!("SELECT 1 {base} AND {seq} > ${a} LIMIT 1"),
            exists_before: format!("SELECT 1 {base} AND {seq} < ${a} LIMIT 1"),
            count: format!("SELECT COUNT(*) AS n {base}"),
        }
    }
}

/// Runs a keyset-paginated list. Every selected row has its `seq`; `decode` reads the rest.
async fn run_list<C: Conn, T>(
    c: &mut C,
    sql: &'static ListSql,
    filter: &[P<'_>],
    cursor: Cursor,
    size: u32,
    decode: impl Fn(Row) -> Result<T>,
) -> Result<Page<T>> {
    let (stmt, bound, backwards) = match cursor {
        Cursor::First => (&sql.after, 0, false),
        Cursor::After(s) => (&sql.after, s, false),
        Cursor::Before(s) => (&sql.before, s, true),
    };
    let mut params = filter.to_vec();
    params.push(P::I64(bound));
    params.push(P::I64(size as i64 + 1));
    let rows = c.query(stmt.as_str(), &params).await?;
    let more = rows.len() > size as usize;
    let mut items = Vec::with_capacity(rows.len().min(size as usize));
    for mut row in rows.into_iter().take(size as usize) {
        items.push((row.i64("seq")?, decode(row)?));
    }
    if backwards {
        items.reverse();
    }
    let (has_before, has_after) = match cursor {
        Cursor::First => (false, more),
        Cursor::After(s) => {
            let at = items.first().map_or(s + 1, |(seq, _)| *seq);
            (exists(c, sql.exists_before.as_str(), filter, at).await?, more)
        }
        Cursor::Before(s) => {
            let at = items.last().map_or(s - 1, |(seq, _)| *seq);
            (more, exists(c, sql.exists_after.as_str(), filter, at).await?)
        }
    };
    let total = count(c.query(sql.count.as_str(), filter).await?)?;
    Ok(Page {
        items,
        has_before,
        has_after,
        total,
    })
}

/// A record whose children (a user's memberships, a client's secrets) are read by a second
/// query, in rows `parent id, child…`.
trait Parent: Sized {
    type Child;
    fn from_row(r: Row) -> Result<Self>;
    fn child_from_row(r: Row) -> Result<(String, Self::Child)>;
    fn id(&self) -> &str;
    fn children(&mut self) -> &mut Vec<Self::Child>;
}

/// A page of an organization's parents with their children: the page, then one query for the
/// children of every parent on it. `children_sql` selects the children of organization `$1`
/// whose parent `seq` is within `$2..=$3`.
async fn list_with_children<C: Conn, T: Parent>(
    c: &mut C,
    sql: &'static ListSql,
    children_sql: &'static str,
    org_id: &str,
    cursor: Cursor,
    size: u32,
) -> Result<Page<T>> {
    let mut page = run_list(c, sql, &[P::Text(org_id)], cursor, size, T::from_row).await?;
    if let (Some((lo, _)), Some((hi, _))) = (page.items.first(), page.items.last()) {
        let rows = c
            .query(children_sql, &[P::Text(org_id), P::I64(*lo), P::I64(*hi)])
            .await?;
        attach(page.items.iter_mut().map(|(_, item)| item), rows)?;
    }
    Ok(page)
}

/// Sets the children of `parents` from `parent id, child…` rows.
fn attach<'p, T: Parent + 'p>(parents: impl IntoIterator<Item = &'p mut T>, rows: Vec<Row>) -> Result<()> {
    let mut by_parent: BTreeMap<String, Vec<T::Child>> = BTreeMap::new();
    for row in rows {
        let (parent_id, child) = T::child_from_row(row)?;
        by_parent.entry(parent_id).or_default().push(child);
    }
    for parent in parents {
        *parent.children() = by_parent.remove(parent.id()).unwrap_or_default();
    }
    Ok(())
}

async fn exists<C: Conn>(c: &mut C, stmt: &'static str, filter: &[P<'_>], at: i64) -> Result<bool> {
    let mut params = filter.to_vec();
    params.push(P::I64(at));
    Ok(!c.query(stmt, &params).await?.is_empty())
}

// ---------------------------------------------------------------------------------------------
// Organizations
// ---------------------------------------------------------------------------------------------

const ORG_BY_ID: &str = select!(org, "FROM authgate_organizations WHERE id = $1");
const ORG_INSERT: &str = "INSERT INTO authgate_organizations \
                          (id, display_name, external_id, create_time, update_time) \
                          VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING";
const ORG_DELETE: &str = "DELETE FROM authgate_organizations WHERE id = $1";
const ORG_EXTERNAL_ID: &str = "SELECT external_id FROM authgate_organizations WHERE id = $1";

static ORG_LIST: LazyLock<ListSql> = LazyLock::new(|| {
    ListSql::new(
        cols!(org),
        "FROM authgate_organizations WHERE ($1 IS NULL OR external_id = $1)",
        1,
        "seq",
    )
});

fn org_from_row(mut r: Row) -> Result<Organization> {
    Ok(Organization {
        id: r.text("id")?,
        display_name: r.text("display_name")?,
        external_id: r.opt_text("external_id")?,
        create_time: time_from_ms(r.i64("create_time")?)?,
        update_time: time_from_ms(r.i64("update_time")?)?,
    })
}

async fn org_exists<C: Conn>(c: &mut C, id: &str) -> Result<Option<Option<String>>> {
    first(c.query(ORG_EXTERNAL_ID, &[P::Text(id)]).await?, |mut r| {
        r.opt_text("external_id")
    })
}

// ---------------------------------------------------------------------------------------------
// Users and memberships
// ---------------------------------------------------------------------------------------------

const USER_BY_EMAIL: &str = "SELECT id, external_id FROM authgate_users WHERE email = $1";
const USER_BY_ID: &str = select!(user, "FROM authgate_users u WHERE u.id = $1");
const USER_EXISTS: &str = "SELECT 1 FROM authgate_users WHERE id = $1";
const USER_INSERT: &str = "INSERT INTO authgate_users (id, email, external_id, create_time, update_time) \
                           VALUES ($1, $2, $3, $4, $4)";
const USER_SET_EXTERNAL_ID: &str =
    "UPDATE authgate_users SET external_id = $1, update_time = $2 WHERE id = $3";
const MEMBERSHIP_INSERT: &str = "INSERT INTO authgate_memberships (organization_id, user_id, roles, create_time) \
                                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING";
const MEMBERSHIPS_OF_USER: &str = "SELECT user_id, organization_id, roles FROM authgate_memberships \
                                   WHERE user_id = $1 ORDER BY seq";
const MEMBERSHIPS_OF_PAGE: &str = "SELECT m2.user_id, m2.organization_id, m2.roles \
     FROM authgate_memberships m \
     JOIN authgate_users u ON u.id = m.user_id \
     JOIN authgate_memberships m2 ON m2.user_id = u.id \
     WHERE m.organization_id = $1 AND u.seq >= $2 AND u.seq <= $3 ORDER BY m2.seq";

static USER_LIST: LazyLock<ListSql> = LazyLock::new(|| {
    ListSql::new(
        cols!(user),
        "FROM authgate_memberships m JOIN authgate_users u ON u.id = m.user_id \
         WHERE m.organization_id = $1",
        1,
        "u.seq",
    )
});

fn user_from_row(mut r: Row) -> Result<User> {
    Ok(User {
        id: r.text("id")?,
        email: r.text("email")?,
        external_id: r.opt_text("external_id")?,
        memberships: Vec::new(),
        create_time: time_from_ms(r.i64("create_time")?)?,
        update_time: time_from_ms(r.i64("update_time")?)?,
    })
}

/// `(user_id, membership)` from a row `user_id, organization_id, roles`.
fn membership_from_row(mut r: Row) -> Result<(String, Membership)> {
    let roles: Vec<String> = json(&r.text("roles")?, "roles")?;
    Ok((
        r.text("user_id")?,
        Membership {
            organization_id: r.text("organization_id")?,
            roles: roles.into_iter().map(|name| Role { name }).collect(),
        },
    ))
}

impl Parent for User {
    type Child = Membership;
    fn from_row(r: Row) -> Result<User> {
        user_from_row(r)
    }
    fn child_from_row(r: Row) -> Result<(String, Membership)> {
        membership_from_row(r)
    }
    fn id(&self) -> &str {
        &self.id
    }
    fn children(&mut self) -> &mut Vec<Membership> {
        &mut self.memberships
    }
}

async fn user_by_id<C: Conn>(c: &mut C, id: &str) -> Result<Option<User>> {
    let Some(mut user) = first(c.query(USER_BY_ID, &[P::Text(id)]).await?, user_from_row)? else {
        return Ok(None);
    };
    let rows = c.query(MEMBERSHIPS_OF_USER, &[P::Text(id)]).await?;
    attach([&mut user], rows)?;
    Ok(Some(user))
}

// ---------------------------------------------------------------------------------------------
// API keys
// ---------------------------------------------------------------------------------------------

macro_rules! token_select {
    () => {
        "SELECT k.seq, k.id, k.organization_id, o.external_id AS organization_external_id, k.user_id, \
         u.external_id AS user_external_id, k.custom_claims, k.expiry, k.create_time, k.description, \
         k.token_suffix, u.email, m.roles, k.revoked_at \
         FROM authgate_api_keys k \
         JOIN authgate_organizations o ON o.id = k.organization_id \
         LEFT JOIN authgate_users u ON u.id = k.user_id \
         LEFT JOIN authgate_memberships m \
           ON m.organization_id = k.organization_id AND m.user_id = k.user_id"
    };
}

const KEY_BY_DIGEST: &str = concat!(token_select!(), " WHERE k.digest = $1");
const KEY_BY_ID: &str = concat!(token_select!(), " WHERE k.id = $1");
const KEY_INSERT: &str = "INSERT INTO authgate_api_keys \
     (id, digest, organization_id, user_id, custom_claims, description, token_suffix, expiry, \
      create_time, update_time) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)";
const KEY_UPDATE: &str = "UPDATE authgate_api_keys SET custom_claims = $1, description = $2, update_time = $3 \
                          WHERE id = $4 AND revoked_at IS NULL";
const KEY_REVOKE_BY_DIGEST: &str = "UPDATE authgate_api_keys SET revoked_at = $1, update_time = $1 \
                                    WHERE digest = $2 AND revoked_at IS NULL";
const KEY_REVOKE_BY_ID: &str = "UPDATE authgate_api_keys SET revoked_at = $1, update_time = $1 \
                                WHERE id = $2 AND revoked_at IS NULL";
const KEY_EXISTS_BY_DIGEST: &str = "SELECT 1 FROM authgate_api_keys WHERE digest = $1";
const KEY_EXISTS_BY_ID: &str = "SELECT 1 FROM authgate_api_keys WHERE id = $1";
const MEMBER_OF: &str = "SELECT m.user_id FROM authgate_users u \
     LEFT JOIN authgate_memberships m ON m.user_id = u.id AND m.organization_id = $1 \
     WHERE u.id = $2";

static KEY_LIST: LazyLock<ListSql> = LazyLock::new(|| {
    let select = token_select!();
    let (cols, from) = select
        .trim_start_matches("SELECT ")
        .split_once(" FROM ")
        .expect("token_select has a FROM");
    ListSql::new(
        cols,
        &format!(
            "FROM {from} WHERE k.organization_id = $1 AND k.revoked_at IS NULL \
             AND ($2 IS NULL OR k.user_id = $2)"
        ),
        2,
        "k.seq",
    )
});

fn key_from_row(mut r: Row) -> Result<StoredKey> {
    let user_id = r.opt_text("user_id")?;
    let roles = match r.opt_text("roles")? {
        Some(text) if user_id.is_some() => json(&text, "roles")?,
        _ => Vec::new(),
    };
    let info = TokenInfo {
        token_id: r.text("id")?,
        organization_id: r.text("organization_id")?,
        organization_external_id: r.opt_text("organization_external_id")?.unwrap_or_default(),
        user_id,
        user_external_id: r.opt_text("user_external_id")?,
        custom_claims: json::<BTreeMap<String, String>>(&r.text("custom_claims")?, "custom_claims")?,
        expiry: r.opt_i64("expiry")?.map(time_from_ms).transpose()?,
        created_at: time_from_ms(r.i64("create_time")?)?,
        description: r.opt_text("description")?,
        token_suffix: r.text("token_suffix")?,
        email: r.opt_text("email")?,
        roles,
    };
    Ok(StoredKey {
        info,
        revoked: r.opt_i64("revoked_at")?.is_some(),
    })
}

async fn key_by<C: Conn>(c: &mut C, by: &KeyRef) -> Result<Option<StoredKey>> {
    let rows = match by {
        KeyRef::Digest(d) => c.query(KEY_BY_DIGEST, &[P::Blob(d)]).await?,
        KeyRef::Id(id) => c.query(KEY_BY_ID, &[P::Text(id)]).await?,
    };
    first(rows, key_from_row)
}

// ---------------------------------------------------------------------------------------------
// M2M clients and secrets
// ---------------------------------------------------------------------------------------------

const CLIENT_GET: &str = select!(
    client,
    "FROM authgate_m2m_clients c WHERE c.organization_id = $1 AND c.id = $2"
);
const CLIENT_INSERT: &str = "INSERT INTO authgate_m2m_clients \
     (id, organization_id, name, description, scopes, audience, custom_claims, expiry, create_time, \
      update_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)";
const CLIENT_UPDATE: &str = "UPDATE authgate_m2m_clients SET name = $1, description = $2, scopes = $3, \
     audience = $4, custom_claims = $5, expiry = $6, update_time = $7 WHERE id = $8";
const CLIENT_DELETE: &str = "DELETE FROM authgate_m2m_clients WHERE organization_id = $1 AND id = $2";
const CLIENT_EXISTS: &str = "SELECT 1 FROM authgate_m2m_clients WHERE organization_id = $1 AND id = $2";
const SECRETS_OF_CLIENT: &str = select!(
    secret,
    "FROM authgate_client_secrets s WHERE s.client_id = $1 ORDER BY s.seq"
);
const SECRETS_OF_PAGE: &str = select!(
    secret,
    "FROM authgate_client_secrets s JOIN authgate_m2m_clients c ON c.id = s.client_id \
     WHERE c.organization_id = $1 AND c.seq >= $2 AND c.seq <= $3 ORDER BY s.seq"
);
const SECRET_INSERT: &str = "INSERT INTO authgate_client_secrets \
     (id, client_id, digest, secret_suffix, create_time, update_time) VALUES ($1, $2, $3, $4, $5, $5)";
const SECRET_COUNT: &str = "SELECT COUNT(*) AS n FROM authgate_client_secrets WHERE client_id = $1";
const SECRET_EXISTS: &str = "SELECT 1 FROM authgate_client_secrets WHERE client_id = $1 AND id = $2";
const SECRET_DELETE: &str = "DELETE FROM authgate_client_secrets WHERE client_id = $1 AND id = $2";
const SECRET_TOUCH: &str = "UPDATE authgate_client_secrets SET last_used_time = $1 \
     WHERE id = $2 AND (last_used_time IS NULL OR last_used_time < $3)";
const CLIENT_AUTH: &str = "SELECT c.organization_id, c.scopes, c.audience, c.custom_claims, c.expiry, \
     s.id AS secret_id, s.digest, s.last_used_time, \
     (SELECT kid FROM authgate_signing_keys WHERE state = 'active') AS active_kid, \
     (SELECT activate_at FROM authgate_signing_keys WHERE state = 'pending') AS pending_activate_at \
     FROM authgate_m2m_clients c LEFT JOIN authgate_client_secrets s ON s.client_id = c.id \
     WHERE c.id = $1 ORDER BY s.seq";

static CLIENT_LIST: LazyLock<ListSql> = LazyLock::new(|| {
    ListSql::new(
        cols!(client),
        "FROM authgate_m2m_clients c WHERE c.organization_id = $1",
        1,
        "c.seq",
    )
});

fn client_from_row(mut r: Row) -> Result<M2MClient> {
    Ok(M2MClient {
        client_id: r.text("id")?,
        secrets: Vec::new(),
        organization_id: r.text("organization_id")?,
        name: r.text("name")?,
        description: r.text("description")?,
        scopes: json(&r.text("scopes")?, "scopes")?,
        audience: json(&r.text("audience")?, "audience")?,
        custom_claims: json(&r.text("custom_claims")?, "custom_claims")?,
        expiry: r.i64("expiry")?,
        create_time: time_from_ms(r.i64("create_time")?)?,
        update_time: time_from_ms(r.i64("update_time")?)?,
    })
}

/// `(client_id, secret)` from a row `client_id, id, secret_suffix, create_time, update_time, last_used_time`.
fn secret_from_row(mut r: Row) -> Result<(String, ClientSecret)> {
    Ok((
        r.text("client_id")?,
        ClientSecret {
            id: r.text("id")?,
            secret_suffix: r.text("secret_suffix")?,
            create_time: time_from_ms(r.i64("create_time")?)?,
            update_time: time_from_ms(r.i64("update_time")?)?,
            last_used_time: r.opt_i64("last_used_time")?.map(time_from_ms).transpose()?,
            created_by: None,
            status: SecretStatus::Active,
            expire_time: None,
        },
    ))
}

impl Parent for M2MClient {
    type Child = ClientSecret;
    fn from_row(r: Row) -> Result<M2MClient> {
        client_from_row(r)
    }
    fn child_from_row(r: Row) -> Result<(String, ClientSecret)> {
        secret_from_row(r)
    }
    fn id(&self) -> &str {
        &self.client_id
    }
    fn children(&mut self) -> &mut Vec<ClientSecret> {
        &mut self.secrets
    }
}

async fn client_get<C: Conn>(c: &mut C, org_id: &str, client_id: &str) -> Result<Option<M2MClient>> {
    let Some(mut client) = first(
        c.query(CLIENT_GET, &[P::Text(org_id), P::Text(client_id)])
            .await?,
        client_from_row,
    )?
    else {
        return Ok(None);
    };
    let rows = c.query(SECRETS_OF_CLIENT, &[P::Text(client_id)]).await?;
    attach([&mut client], rows)?;
    Ok(Some(client))
}

/// Inside a write transaction: serialises the changes of one client's secrets, after checking
/// that the client exists.
async fn lock_client<C: Conn>(c: &mut C, org_id: &str, client_id: &str) -> Result<()> {
    c.lock(&format!("authgate:client:{client_id}")).await?;
    if c.query(CLIENT_EXISTS, &[P::Text(org_id), P::Text(client_id)])
        .await?
        .is_empty()
    {
        return Err(Error::not_found("client", client_id));
    }
    Ok(())
}

async fn insert_secret<C: Conn>(c: &mut C, client_id: &str, secret: &NewSecret) -> Result<()> {
    c.execute(
        SECRET_INSERT,
        &[
            P::Text(&secret.id),
            P::Text(client_id),
            P::Blob(&secret.digest),
            P::Text(&secret.suffix),
            P::I64(secret.now_ms),
        ],
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Environment clients, meta, signing keys
// ---------------------------------------------------------------------------------------------

const ENV_UPSERT: &str = "INSERT INTO authgate_environment_clients \
     (id, digest, secret_suffix, create_time, update_time) VALUES ($1, $2, $3, $4, $4) \
     ON CONFLICT (id) DO UPDATE SET digest = excluded.digest, secret_suffix = excluded.secret_suffix, \
     update_time = excluded.update_time";
const ENV_COUNT: &str = "SELECT COUNT(*) AS n FROM authgate_environment_clients";
const ENV_AUTH: &str = "SELECT e.id AS secret_id, e.digest, e.last_used_time, \
     (SELECT kid FROM authgate_signing_keys WHERE state = 'active') AS active_kid, \
     (SELECT activate_at FROM authgate_signing_keys WHERE state = 'pending') AS pending_activate_at \
     FROM authgate_environment_clients e WHERE e.id = $1";
const ENV_TOUCH: &str = "UPDATE authgate_environment_clients SET last_used_time = $1 \
     WHERE id = $2 AND (last_used_time IS NULL OR last_used_time < $3)";

const META_GET: &str = "SELECT value FROM authgate_meta WHERE key = $1";
const META_INIT: &str = "INSERT INTO authgate_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING";

async fn meta_get<C: Conn>(c: &mut C, key: &str) -> Result<Option<String>> {
    first(c.query(META_GET, &[P::Text(key)]).await?, |mut r| r.text("value"))
}

const SK_LIST: &str = select!(signing_key, "FROM authgate_signing_keys ORDER BY seq");
const SK_GET: &str = select!(
    signing_key,
    ", private_key FROM authgate_signing_keys WHERE kid = $1"
);
const SK_PENDING: &str = select!(signing_key, "FROM authgate_signing_keys WHERE state = 'pending'");
const SK_ACTIVE: &str = "SELECT kid FROM authgate_signing_keys WHERE state = 'active'";
const SK_DEMOTE_ACTIVE: &str = "UPDATE authgate_signing_keys SET state = 'published' WHERE state = 'active'";
const SK_ACTIVATE: &str = "UPDATE authgate_signing_keys SET state = 'active', activate_at = $1 \
     WHERE kid = $2 AND state = 'pending'";
const SK_INSERT: &str = "INSERT INTO authgate_signing_keys \
     (kid, algorithm, state, encryption, private_key, public_jwk, create_time, activate_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
const SK_RETIRE: &str = "UPDATE authgate_signing_keys SET state = 'retired', retired_at = $1 WHERE kid = $2";
const SIGNING_KEYS_LOCK: &str = "authgate:signing-keys";

/// A signing key from the `signing_key` columns (and `private_key`, when selected).
fn signing_key_from_row(mut r: Row) -> Result<SigningKeyRow> {
    Ok(SigningKeyRow {
        kid: r.text("kid")?,
        algorithm: r.text("algorithm")?,
        state: r.enumerated("state")?,
        encryption: r.enumerated("encryption")?,
        public_jwk: r.text("public_jwk")?,
        created_ms: r.i64("create_time")?,
        activate_ms: r.i64("activate_at")?,
        retired_ms: r.opt_i64("retired_at")?,
        private_key: if r.has("private_key") {
            r.blob("private_key")?
        } else {
            Vec::new()
        },
    })
}

async fn signing_key<C: Conn>(c: &mut C, kid: &str) -> Result<Option<SigningKeyRow>> {
    first(c.query(SK_GET, &[P::Text(kid)]).await?, signing_key_from_row)
}

async fn pending_signing_key<C: Conn>(c: &mut C) -> Result<Option<SigningKeyRow>> {
    first(c.query(SK_PENDING, &[]).await?, signing_key_from_row)
}

async fn active_signing_kid<C: Conn>(c: &mut C) -> Result<Option<String>> {
    first(c.query(SK_ACTIVE, &[]).await?, |mut r| r.text("kid"))
}

/// Makes `kid` (pending) the active key from `activate_ms`; the active key becomes `published`.
/// Demoted first: the unique index allows one active key at any moment.
async fn activate<C: Conn>(c: &mut C, kid: &str, activate_ms: i64) -> Result<()> {
    c.execute(SK_DEMOTE_ACTIVE, &[]).await?;
    c.execute(SK_ACTIVATE, &[P::I64(activate_ms), P::Text(kid)])
        .await?;
    Ok(())
}

/// Inside a write transaction holding the signing-keys lock: activates the pending key if it is
/// due, keeping its scheduled activation time. Returns its kid when it did.
async fn activate_if_due<C: Conn>(c: &mut C, now_ms: i64) -> Result<Option<String>> {
    match pending_signing_key(c).await? {
        Some(key) if key.activate_ms <= now_ms => {
            activate(c, &key.kid, key.activate_ms).await?;
            Ok(Some(key.kid))
        }
        _ => Ok(None),
    }
}

async fn insert_signing_key<C: Conn>(
    c: &mut C,
    key: &SigningKeyRow,
    state: SigningKeyState,
    activate_ms: i64,
) -> Result<()> {
    c.execute(
        SK_INSERT,
        &[
            P::Text(&key.kid),
            P::Text(&key.algorithm),
            P::Text(state.as_sql()),
            P::Text(key.encryption.as_sql()),
            P::Blob(&key.private_key),
            P::Text(&key.public_jwk),
            P::I64(key.created_ms),
            P::I64(activate_ms),
        ],
    )
    .await?;
    Ok(())
}

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

    async fn insert_organization(&self, org: Organization) -> Result<()> {
        self.b
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

    async fn delete_organization(&self, id: String) -> Result<bool> {
        self.b
            .run(Mode::Write, move |c| {
                Box::pin(async move { Ok(c.execute(ORG_DELETE, &[P::Text(&id)]).await? > 0) })
            })
            .await
    }

    // --- users -----------------------------------------------------------------------------

    async fn add_membership(&self, m: NewMembership) -> Result<User> {
        self.b
            .run(Mode::Write, move |c| {
                Box::pin(async move {
                    c.lock(&format!("authgate:user:{}", m.email)).await?;
                    if org_exists(c, &m.organization_id).await?.is_none() {
                        return Err(Error::not_found("organization", &m.organization_id));
                    }
                    let existing = first(c.query(USER_BY_EMAIL, &[P::Text(&m.email)]).await?, |mut r| {
                        Ok((r.text("id")?, r.opt_text("external_id")?))
                    })?;
                    let user_id = match existing {
                        None => {
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

    // --- API keys --------------------------------------------------------------------------

    async fn insert_api_key(&self, key: NewApiKey) -> Result<TokenInfo> {
        self.b
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

    async fn list_api_keys(
        &self,
        org_id: String,
        user_id: Option<String>,
        cursor: Cursor,
        size: u32,
    ) -> Result<Page<TokenInfo>> {
        self.b
            .run(Mode::Snapshot, move |c| {
                Box::pin(async move {
                    let filter = [P::Text(&org_id), (&user_id).into()];
                    run_list(c, &KEY_LIST, &filter, cursor, size, |r| Ok(key_from_row(r)?.info)).await
                })
            })
            .await
    }

    async fn update_api_key(
        &self,
        id: String,
        custom_claims_json: Option<String>,
        description: Option<Option<String>>,
        now_ms: i64,
    ) -> Result<Option<TokenInfo>> {
        self.b
            .run(Mode::Write, move |c| {
                Box::pin(async move {
                    let by = KeyRef::Id(id.clone());
                    let Some(current) = key_by(c, &by).await?.filter(|k| !k.revoked) else {
                        return Ok(None);
                    };
                    let claims = or_json(custom_claims_json, &current.info.custom_claims)?;
                    let description = description.unwrap_or(current.info.description);
                    c.execute(
                        KEY_UPDATE,
                        &[
                            P::Text(&claims),
                            (&description).into(),
                            P::I64(now_ms),
                            P::Text(&id),
                        ],
                    )
                    .await?;
                    Ok(key_by(c, &by).await?.map(|k| k.info))
                })
            })
            .await
    }

    async fn revoke_api_key(&self, by: KeyRef, now_ms: i64) -> Result<bool> {
        self.b
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

    async fn insert_client(&self, client: NewClient, secret: NewSecret) -> Result<M2MClient> {
        self.b
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
    ) -> Result<Option<M2MClient>> {
        self.b
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

    async fn delete_client(&self, org_id: String, client_id: String) -> Result<bool> {
        self.b
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
    ) -> Result<ClientSecret> {
        self.b
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

    async fn delete_client_secret(&self, org_id: String, client_id: String, secret_id: String) -> Result<()> {
        self.b
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

    async fn upsert_environment_client(&self, id: String, secret: NewSecret) -> Result<()> {
        self.b
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

    // --- signing keys ----------------------------------------------------------------------

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
    ) -> Result<Rotation> {
        self.b
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

    async fn retire_signing_key(&self, kid: String, now_ms: i64) -> Result<Option<SigningKeyRow>> {
        self.b
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
}

/// Unix milliseconds of a timestamp.
pub(crate) fn unix_ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// `new`, or the JSON text of `current`.
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
        KEY_EXISTS_BY_DIGEST,
        KEY_EXISTS_BY_ID,
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
    ];
    for list in [&*ORG_LIST, &*USER_LIST, &*KEY_LIST, &*CLIENT_LIST] {
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
