//! The statements of every table and the decoders of their rows (by column name), grouped by
//! resource: organizations, users and memberships, API keys, M2M clients and secrets,
//! environment clients, meta, signing keys. The transactions that run them are in the `Store`
//! implementation (`mod.rs`).

use super::*;

// ---------------------------------------------------------------------------------------------
// Organizations
// ---------------------------------------------------------------------------------------------

pub(super) const ORG_BY_ID: &str = select!(org, "FROM authgate_organizations WHERE id = $1");
pub(super) const ORG_INSERT: &str = "INSERT INTO authgate_organizations \
                          (id, display_name, external_id, create_time, update_time) \
                          VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING";
pub(super) const ORG_DELETE: &str = "DELETE FROM authgate_organizations WHERE id = $1";
pub(super) const ORG_EXTERNAL_ID: &str = "SELECT external_id FROM authgate_organizations WHERE id = $1";

pub(super) const ORG_UPDATE: &str = "UPDATE authgate_organizations \
                          SET display_name = $1, external_id = $2, update_time = $3 WHERE id = $4";
pub(super) const ORG_ID_BY_EXTERNAL_ID: &str = "SELECT id FROM authgate_organizations WHERE external_id = $1";

pub(super) static ORG_LIST: LazyLock<ListSql> = LazyLock::new(|| {
    ListSql::new(
        cols!(org),
        "FROM authgate_organizations WHERE ($1 IS NULL OR external_id = $1)",
        1,
        "seq",
    )
});

pub(super) fn org_from_row(mut r: Row) -> Result<Organization> {
    Ok(Organization {
        id: r.text("id")?,
        display_name: r.text("display_name")?,
        external_id: r.opt_text("external_id")?,
        create_time: time_from_ms(r.i64("create_time")?)?,
        update_time: time_from_ms(r.i64("update_time")?)?,
    })
}

pub(super) async fn org_exists<C: Conn>(c: &mut C, id: &str) -> Result<Option<Option<String>>> {
    first(c.query(ORG_EXTERNAL_ID, &[P::Text(id)]).await?, |mut r| {
        r.opt_text("external_id")
    })
}

// ---------------------------------------------------------------------------------------------
// Users and memberships
// ---------------------------------------------------------------------------------------------

pub(super) const USER_BY_EMAIL: &str = "SELECT id, external_id FROM authgate_users WHERE email = $1";
pub(super) const USER_BY_ID: &str = select!(user, "FROM authgate_users u WHERE u.id = $1");
pub(super) const USER_EXISTS: &str = "SELECT 1 FROM authgate_users WHERE id = $1";
pub(super) const USER_INSERT: &str = "INSERT INTO authgate_users (id, email, external_id, create_time, update_time) \
                           VALUES ($1, $2, $3, $4, $4)";
pub(super) const USER_SET_EXTERNAL_ID: &str =
    "UPDATE authgate_users SET external_id = $1, update_time = $2 WHERE id = $3";
pub(super) const MEMBERSHIP_INSERT: &str = "INSERT INTO authgate_memberships (organization_id, user_id, roles, create_time) \
                                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING";
pub(super) const MEMBERSHIPS_OF_USER: &str = "SELECT user_id, organization_id, roles FROM authgate_memberships \
                                   WHERE user_id = $1 ORDER BY seq";
pub(super) const MEMBERSHIPS_OF_PAGE: &str = "SELECT m2.user_id, m2.organization_id, m2.roles \
     FROM authgate_memberships m \
     JOIN authgate_users u ON u.id = m.user_id \
     JOIN authgate_memberships m2 ON m2.user_id = u.id \
     WHERE m.organization_id = $1 AND u.seq >= $2 AND u.seq <= $3 ORDER BY m2.seq";

pub(super) const USER_ID_BY_EXTERNAL_ID: &str =
    "SELECT id FROM authgate_users WHERE external_id = $1 ORDER BY seq LIMIT 1";
pub(super) const USER_EXTERNAL_ID_TAKEN: &str =
    "SELECT 1 FROM authgate_users WHERE external_id = $1 AND id <> $2 LIMIT 1";
pub(super) const USER_DELETE: &str = "DELETE FROM authgate_users WHERE id = $1";
pub(super) const MEMBERSHIP_UPDATE: &str =
    "UPDATE authgate_memberships SET roles = $1 WHERE organization_id = $2 AND user_id = $3";
pub(super) const MEMBERSHIP_EXISTS: &str =
    "SELECT 1 FROM authgate_memberships WHERE organization_id = $1 AND user_id = $2";
pub(super) const MEMBERSHIP_DELETE: &str =
    "DELETE FROM authgate_memberships WHERE organization_id = $1 AND user_id = $2";
pub(super) const MEMBERSHIPS_OF_USER_RANGE: &str = "SELECT m.user_id, m.organization_id, m.roles \
     FROM authgate_memberships m JOIN authgate_users u ON u.id = m.user_id \
     WHERE u.seq >= $1 AND u.seq <= $2 ORDER BY m.seq";
/// The lock under which a user's external id is checked for uniqueness and set.
pub(super) const USER_EXTERNAL_ID_LOCK: &str = "authgate:user-external-id";

pub(super) static USER_LIST_ALL: LazyLock<ListSql> =
    LazyLock::new(|| ListSql::new(cols!(user), "FROM authgate_users u WHERE 1 = 1", 0, "u.seq"));

/// The id of the user `by` names, if there is one.
pub(super) async fn resolve_user<C: Conn>(c: &mut C, by: &UserRef) -> Result<Option<String>> {
    match by {
        UserRef::Id(id) => Ok((!c.query(USER_EXISTS, &[P::Text(id)]).await?.is_empty()).then(|| id.clone())),
        UserRef::ExternalId(e) => first(c.query(USER_ID_BY_EXTERNAL_ID, &[P::Text(e)]).await?, |mut r| {
            r.text("id")
        }),
    }
}

/// `AlreadyExists` when a user other than `user_id` has this external id. Call under
/// [`USER_EXTERNAL_ID_LOCK`].
pub(super) async fn check_user_external_id<C: Conn>(
    c: &mut C,
    external_id: &str,
    user_id: &str,
) -> Result<()> {
    if c.query(USER_EXTERNAL_ID_TAKEN, &[P::Text(external_id), P::Text(user_id)])
        .await?
        .is_empty()
    {
        return Ok(());
    }
    Err(Error::AlreadyExists {
        resource: "user",
        message: "a user with this external_id already exists".into(),
    })
}

/// The user a membership request names: `NotFound` for a missing organization or user.
pub(super) async fn membership_parties<C: Conn>(c: &mut C, org_id: &str, by: &UserRef) -> Result<String> {
    if org_exists(c, org_id).await?.is_none() {
        return Err(Error::not_found("organization", org_id));
    }
    resolve_user(c, by)
        .await?
        .ok_or_else(|| Error::not_found("user", by.to_string()))
}

pub(super) static USER_LIST: LazyLock<ListSql> = LazyLock::new(|| {
    ListSql::new(
        cols!(user),
        "FROM authgate_memberships m JOIN authgate_users u ON u.id = m.user_id \
         WHERE m.organization_id = $1",
        1,
        "u.seq",
    )
});

pub(super) fn user_from_row(mut r: Row) -> Result<User> {
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
pub(super) fn membership_from_row(mut r: Row) -> Result<(String, Membership)> {
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

pub(super) async fn user_by_id<C: Conn>(c: &mut C, id: &str) -> Result<Option<User>> {
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
         k.token_suffix, u.email, m.roles, k.revoked_at, k.rotated_from, k.rotated_to, \
         k.last_used_time, k.allowed_cidrs, k.rate_limit, k.rate_window \
         FROM authgate_api_keys k \
         JOIN authgate_organizations o ON o.id = k.organization_id \
         LEFT JOIN authgate_users u ON u.id = k.user_id \
         LEFT JOIN authgate_memberships m \
           ON m.organization_id = k.organization_id AND m.user_id = k.user_id"
    };
}

pub(super) const KEY_BY_DIGEST: &str = concat!(token_select!(), " WHERE k.digest = $1");
pub(super) const KEY_BY_ID: &str = concat!(token_select!(), " WHERE k.id = $1");
pub(super) const KEY_INSERT: &str = "INSERT INTO authgate_api_keys \
     (id, digest, organization_id, user_id, custom_claims, description, token_suffix, expiry, \
      create_time, update_time, allowed_cidrs, rate_limit, rate_window) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11, $12)";
// A key is revoked once `revoked_at <= now`: a rotated key's `revoked_at` is the end of its
// grace period, so it may lie in the future.
pub(super) const KEY_UPDATE: &str = "UPDATE authgate_api_keys SET custom_claims = $1, description = $2, update_time = $3, \
     allowed_cidrs = $4, rate_limit = $5, rate_window = $6 \
     WHERE id = $7 AND (revoked_at IS NULL OR revoked_at > $3)";
/// A rotation's new key given its own rate limit.
pub(super) const KEY_SET_RATE: &str =
    "UPDATE authgate_api_keys SET rate_limit = $1, rate_window = $2 WHERE id = $3";
/// Opens a key's window in the shared rate budget (a no-op when it is open).
pub(super) const RATE_OPEN: &str = "INSERT INTO authgate_rate_windows (key_id, window_start, used) \
     VALUES ($1, $2, 0) ON CONFLICT (key_id, window_start) DO NOTHING";
pub(super) const RATE_USED: &str =
    "SELECT used FROM authgate_rate_windows WHERE key_id = $1 AND window_start = $2";
pub(super) const RATE_TAKE: &str = "UPDATE authgate_rate_windows SET used = used + $1 \
     WHERE key_id = $2 AND window_start = $3";
pub(super) const RATE_DROP_OLD: &str =
    "DELETE FROM authgate_rate_windows WHERE key_id = $1 AND window_start < $2";
pub(super) const KEY_REVOKE_BY_DIGEST: &str = "UPDATE authgate_api_keys SET revoked_at = $1, update_time = $1 \
                                    WHERE digest = $2 AND (revoked_at IS NULL OR revoked_at > $1)";
pub(super) const KEY_REVOKE_BY_ID: &str = "UPDATE authgate_api_keys SET revoked_at = $1, update_time = $1 \
                                WHERE id = $2 AND (revoked_at IS NULL OR revoked_at > $1)";
/// The new key of a rotation: a copy of key `$5` (organization, user, claims, description,
/// expiry and settings) under a new id, digest and suffix, pointing back at it.
pub(super) const KEY_INSERT_ROTATED: &str = "INSERT INTO authgate_api_keys \
     (id, digest, token_suffix, create_time, update_time, organization_id, user_id, custom_claims, \
      description, expiry, rotated_from, allowed_cidrs, rate_limit, rate_window) \
     SELECT $1, $2, $3, $4, $4, organization_id, user_id, custom_claims, description, expiry, id, \
            allowed_cidrs, rate_limit, rate_window \
     FROM authgate_api_keys WHERE id = $5";
/// The old key of a rotation: linked to the new one `$1`, revoked (and expiring) at the end of
/// the grace period `$2` (its expiry only moves earlier).
pub(super) const KEY_MARK_ROTATED: &str = "UPDATE authgate_api_keys SET rotated_to = $1, revoked_at = $2, \
     expiry = CASE WHEN expiry IS NULL OR expiry > $2 THEN $2 ELSE expiry END, update_time = $3 \
     WHERE id = $4";
/// A key's last use, never moved backwards (processes sharing the store flush independently).
pub(super) const KEY_TOUCH: &str = "UPDATE authgate_api_keys SET last_used_time = $1 \
     WHERE id = $2 AND (last_used_time IS NULL OR last_used_time < $1)";
pub(super) const KEY_EXISTS_BY_DIGEST: &str = "SELECT 1 FROM authgate_api_keys WHERE digest = $1";
pub(super) const KEY_EXISTS_BY_ID: &str = "SELECT 1 FROM authgate_api_keys WHERE id = $1";
pub(super) const MEMBER_OF: &str = "SELECT m.user_id FROM authgate_users u \
     LEFT JOIN authgate_memberships m ON m.user_id = u.id AND m.organization_id = $1 \
     WHERE u.id = $2";

pub(super) static KEY_LIST: LazyLock<ListSql> = LazyLock::new(|| {
    let select = token_select!();
    let (cols, from) = select
        .trim_start_matches("SELECT ")
        .split_once(" FROM ")
        .expect("token_select has a FROM");
    ListSql::new(
        cols,
        &format!(
            "FROM {from} WHERE k.organization_id = $1 \
             AND ($2 IS NULL OR k.user_id = $2) \
             AND (k.revoked_at IS NULL OR k.revoked_at > $3) \
             AND (k.last_used_time IS NULL OR k.last_used_time < $4)"
        ),
        4,
        "k.seq",
    )
});

pub(super) fn key_from_row(mut r: Row) -> Result<StoredKey> {
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
        revoked_at: None,
        rotated_from: r.opt_text("rotated_from")?,
        rotated_to: r.opt_text("rotated_to")?,
        last_used_time: r.opt_i64("last_used_time")?.map(time_from_ms).transpose()?,
        allowed_cidrs: r
            .opt_text("allowed_cidrs")?
            .map(|text| json(&text, "allowed_cidrs"))
            .transpose()?,
        rate_limit: match (r.opt_i64("rate_limit")?, r.opt_i64("rate_window")?) {
            (Some(limit), Some(window)) => Some(RateLimit {
                limit: u64::try_from(limit).map_err(|_| Error::Store("negative rate_limit".into()))?,
                window_seconds: u64::try_from(window)
                    .map_err(|_| Error::Store("negative rate_window".into()))?,
            }),
            _ => None,
        },
    };
    Ok(StoredKey::new(info, r.opt_i64("revoked_at")?))
}

pub(super) async fn key_by<C: Conn>(c: &mut C, by: &KeyRef) -> Result<Option<StoredKey>> {
    let rows = match by {
        KeyRef::Digest(d) => c.query(KEY_BY_DIGEST, &[P::Blob(d)]).await?,
        KeyRef::Id(id) => c.query(KEY_BY_ID, &[P::Text(id)]).await?,
    };
    first(rows, key_from_row)
}

// ---------------------------------------------------------------------------------------------
// M2M clients and secrets
// ---------------------------------------------------------------------------------------------

pub(super) const CLIENT_GET: &str = select!(
    client,
    "FROM authgate_m2m_clients c WHERE c.organization_id = $1 AND c.id = $2"
);
pub(super) const CLIENT_INSERT: &str = "INSERT INTO authgate_m2m_clients \
     (id, organization_id, name, description, scopes, audience, custom_claims, expiry, create_time, \
      update_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)";
pub(super) const CLIENT_UPDATE: &str = "UPDATE authgate_m2m_clients SET name = $1, description = $2, scopes = $3, \
     audience = $4, custom_claims = $5, expiry = $6, update_time = $7 WHERE id = $8";
pub(super) const CLIENT_DELETE: &str =
    "DELETE FROM authgate_m2m_clients WHERE organization_id = $1 AND id = $2";
pub(super) const CLIENT_EXISTS: &str =
    "SELECT 1 FROM authgate_m2m_clients WHERE organization_id = $1 AND id = $2";
pub(super) const SECRETS_OF_CLIENT: &str = select!(
    secret,
    "FROM authgate_client_secrets s WHERE s.client_id = $1 ORDER BY s.seq"
);
pub(super) const SECRETS_OF_PAGE: &str = select!(
    secret,
    "FROM authgate_client_secrets s JOIN authgate_m2m_clients c ON c.id = s.client_id \
     WHERE c.organization_id = $1 AND c.seq >= $2 AND c.seq <= $3 ORDER BY s.seq"
);
pub(super) const SECRET_INSERT: &str = "INSERT INTO authgate_client_secrets \
     (id, client_id, digest, secret_suffix, create_time, update_time) VALUES ($1, $2, $3, $4, $5, $5)";
pub(super) const SECRET_COUNT: &str =
    "SELECT COUNT(*) AS n FROM authgate_client_secrets WHERE client_id = $1";
pub(super) const SECRET_EXISTS: &str =
    "SELECT 1 FROM authgate_client_secrets WHERE client_id = $1 AND id = $2";
pub(super) const SECRET_DELETE: &str = "DELETE FROM authgate_client_secrets WHERE client_id = $1 AND id = $2";
pub(super) const SECRET_TOUCH: &str = "UPDATE authgate_client_secrets SET last_used_time = $1 \
     WHERE id = $2 AND (last_used_time IS NULL OR last_used_time < $3)";
pub(super) const CLIENT_AUTH: &str = "SELECT c.organization_id, c.scopes, c.audience, c.custom_claims, c.expiry, \
     s.id AS secret_id, s.digest, s.last_used_time, \
     (SELECT kid FROM authgate_signing_keys WHERE state = 'active') AS active_kid, \
     (SELECT activate_at FROM authgate_signing_keys WHERE state = 'pending') AS pending_activate_at \
     FROM authgate_m2m_clients c LEFT JOIN authgate_client_secrets s ON s.client_id = c.id \
     WHERE c.id = $1 ORDER BY s.seq";

pub(super) static CLIENT_LIST: LazyLock<ListSql> = LazyLock::new(|| {
    ListSql::new(
        cols!(client),
        "FROM authgate_m2m_clients c WHERE c.organization_id = $1",
        1,
        "c.seq",
    )
});

pub(super) fn client_from_row(mut r: Row) -> Result<M2MClient> {
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
pub(super) fn secret_from_row(mut r: Row) -> Result<(String, ClientSecret)> {
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

pub(super) async fn client_get<C: Conn>(
    c: &mut C,
    org_id: &str,
    client_id: &str,
) -> Result<Option<M2MClient>> {
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
pub(super) async fn lock_client<C: Conn>(c: &mut C, org_id: &str, client_id: &str) -> Result<()> {
    c.lock(&format!("authgate:client:{client_id}")).await?;
    if c.query(CLIENT_EXISTS, &[P::Text(org_id), P::Text(client_id)])
        .await?
        .is_empty()
    {
        return Err(Error::not_found("client", client_id));
    }
    Ok(())
}

pub(super) async fn insert_secret<C: Conn>(c: &mut C, client_id: &str, secret: &NewSecret) -> Result<()> {
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

pub(super) const ENV_UPSERT: &str = "INSERT INTO authgate_environment_clients \
     (id, digest, secret_suffix, create_time, update_time) VALUES ($1, $2, $3, $4, $4) \
     ON CONFLICT (id) DO UPDATE SET digest = excluded.digest, secret_suffix = excluded.secret_suffix, \
     update_time = excluded.update_time, revoked_at = NULL";
/// Live (not revoked) environment clients.
pub(super) const ENV_COUNT: &str =
    "SELECT COUNT(*) AS n FROM authgate_environment_clients WHERE revoked_at IS NULL";
pub(super) const ENV_AUTH: &str = "SELECT e.id AS secret_id, e.digest, e.last_used_time, \
     (SELECT kid FROM authgate_signing_keys WHERE state = 'active') AS active_kid, \
     (SELECT activate_at FROM authgate_signing_keys WHERE state = 'pending') AS pending_activate_at \
     FROM authgate_environment_clients e WHERE e.id = $1 AND e.revoked_at IS NULL";
pub(super) const ENV_LIST: &str = "SELECT id, secret_suffix, create_time, update_time, last_used_time, \
     revoked_at FROM authgate_environment_clients ORDER BY seq";
pub(super) const ENV_GET: &str = "SELECT id, secret_suffix, create_time, update_time, last_used_time, \
     revoked_at FROM authgate_environment_clients WHERE id = $1";
pub(super) const ENV_LIVE: &str =
    "SELECT 1 AS live FROM authgate_environment_clients WHERE id = $1 AND revoked_at IS NULL";
pub(super) const ENV_REVOKE: &str = "UPDATE authgate_environment_clients SET revoked_at = $1, update_time = $1 \
     WHERE id = $2 AND revoked_at IS NULL";
pub(super) const ENV_LIVE_OTHERS: &str = "SELECT id FROM authgate_environment_clients \
     WHERE id <> $1 AND revoked_at IS NULL ORDER BY seq";
/// Serialises environment-client revocations (PostgreSQL; SQLite writes are serial anyway), so
/// two concurrent revocations cannot both pass the "not the last live credential" check.
pub(super) const ENVIRONMENT_CLIENTS_LOCK: &str = "authgate_environment_clients";
pub(super) const ENV_TOUCH: &str = "UPDATE authgate_environment_clients SET last_used_time = $1 \
     WHERE id = $2 AND (last_used_time IS NULL OR last_used_time < $3)";

pub(super) const META_GET: &str = "SELECT value FROM authgate_meta WHERE key = $1";
pub(super) const META_INIT: &str =
    "INSERT INTO authgate_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING";

pub(super) async fn meta_get<C: Conn>(c: &mut C, key: &str) -> Result<Option<String>> {
    first(c.query(META_GET, &[P::Text(key)]).await?, |mut r| r.text("value"))
}

pub(super) const SK_LIST: &str = select!(signing_key, "FROM authgate_signing_keys ORDER BY seq");
pub(super) const SK_GET: &str = select!(
    signing_key,
    ", private_key FROM authgate_signing_keys WHERE kid = $1"
);
pub(super) const SK_PENDING: &str =
    select!(signing_key, "FROM authgate_signing_keys WHERE state = 'pending'");
pub(super) const SK_ACTIVE: &str = "SELECT kid FROM authgate_signing_keys WHERE state = 'active'";
pub(super) const SK_DEMOTE_ACTIVE: &str =
    "UPDATE authgate_signing_keys SET state = 'published' WHERE state = 'active'";
pub(super) const SK_ACTIVATE: &str = "UPDATE authgate_signing_keys SET state = 'active', activate_at = $1 \
     WHERE kid = $2 AND state = 'pending'";
pub(super) const SK_INSERT: &str = "INSERT INTO authgate_signing_keys \
     (kid, algorithm, state, encryption, private_key, public_jwk, create_time, activate_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
/// Encrypts a plain-text private key in place (the start-up migration to a master key).
pub(super) const SK_SEAL: &str = "UPDATE authgate_signing_keys SET encryption = 'aes-256-gcm', \
     private_key = $1 WHERE kid = $2 AND encryption = 'none'";
pub(super) const SK_RETIRE: &str =
    "UPDATE authgate_signing_keys SET state = 'retired', retired_at = $1 WHERE kid = $2";
pub(super) const SIGNING_KEYS_LOCK: &str = "authgate:signing-keys";

/// A signing key from the `signing_key` columns (and `private_key`, when selected).
pub(super) fn signing_key_from_row(mut r: Row) -> Result<SigningKeyRow> {
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

pub(super) async fn signing_key<C: Conn>(c: &mut C, kid: &str) -> Result<Option<SigningKeyRow>> {
    first(c.query(SK_GET, &[P::Text(kid)]).await?, signing_key_from_row)
}

pub(super) async fn pending_signing_key<C: Conn>(c: &mut C) -> Result<Option<SigningKeyRow>> {
    first(c.query(SK_PENDING, &[]).await?, signing_key_from_row)
}

pub(super) async fn active_signing_kid<C: Conn>(c: &mut C) -> Result<Option<String>> {
    first(c.query(SK_ACTIVE, &[]).await?, |mut r| r.text("kid"))
}

/// Makes `kid` (pending) the active key from `activate_ms`; the active key becomes `published`.
/// Demoted first: the unique index allows one active key at any moment.
pub(super) async fn activate<C: Conn>(c: &mut C, kid: &str, activate_ms: i64) -> Result<()> {
    c.execute(SK_DEMOTE_ACTIVE, &[]).await?;
    c.execute(SK_ACTIVATE, &[P::I64(activate_ms), P::Text(kid)])
        .await?;
    Ok(())
}

/// Inside a write transaction holding the signing-keys lock: activates the pending key if it is
/// due, keeping its scheduled activation time. Returns its kid when it did.
pub(super) async fn activate_if_due<C: Conn>(c: &mut C, now_ms: i64) -> Result<Option<String>> {
    match pending_signing_key(c).await? {
        Some(key) if key.activate_ms <= now_ms => {
            activate(c, &key.kid, key.activate_ms).await?;
            Ok(Some(key.kid))
        }
        _ => Ok(None),
    }
}

pub(super) async fn insert_signing_key<C: Conn>(
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
