//! The OAuth 2.0 client-credentials grant (`POST /oauth/token`), in the order it runs:
//!
//! 1. [`client_kind`]: what can be refused without the store (the id's and the secret's shape);
//! 2. [`requested_scopes`]: the syntax of the requested scopes;
//! 3. [`Authority::authenticate_client`]: the client's record and secrets, the secret compared
//!    as a digest in constant time;
//! 4. [`resolve_scopes`]: the scopes granted (all of the client's, or the requested subset);
//! 5. [`Authority::record_secret_use`]: bookkeeping (`last_used_time`), never failing the grant
//!    (and, in the server, never delaying it);
//! 6. [`Authority::sign_access_token`]: the claims, signed with the active key (activating a
//!    due pending key first).
//!
//! Every refusal of the client is one [`Error::InvalidClient`]; scopes are
//! [`Error::InvalidScope`].

use std::collections::BTreeMap;

use serde::Serialize;
use time::OffsetDateTime;

use super::{Authority, limits, now};
use crate::error::{Error, Result};
use crate::keys;
use crate::model::{AccessTokenResponse, Secret};
use crate::store::{ClientAuth, ClientKind, unix_ms};

/// `last_used_time` of a client secret is refreshed at most this often (milliseconds).
pub(super) const LAST_USED_GRANULARITY_MS: i64 = 60_000;
/// Compared with the presented secret's digest when the client does not exist.
const UNKNOWN_CLIENT_DIGEST: [u8; 32] = [0x5a; 32];
/// The scope of environment-client tokens.
const ENVIRONMENT_SCOPE: &str = "openid";

/// The client secret that matched, with when it was last used (Unix ms).
struct MatchedSecret {
    id: String,
    last_used_ms: Option<i64>,
}

impl Authority {
    /// Issues an access token to a client authenticated with `client_id` and `client_secret`,
    /// for `scopes` (none or empty: all the client was granted).
    pub(super) async fn grant(
        &self,
        client_id: &str,
        client_secret: &str,
        scopes: Option<Vec<String>>,
    ) -> Result<AccessTokenResponse> {
        let kind = client_kind(client_id, client_secret)?;
        let requested = requested_scopes(scopes)?;
        let (auth, secret) = self.authenticate_client(kind, client_id, client_secret).await?;
        let scopes = resolve_scopes(kind, &auth, requested)?;
        let issued = now();
        self.record_secret_use(kind, secret, unix_ms(issued)).await;
        self.sign_access_token(kind, client_id, &auth, &scopes, issued)
            .await
    }

    /// The client's record, when `client_secret` is one of its secrets. Every secret is
    /// compared, in constant time each, without stopping at a match.
    async fn authenticate_client(
        &self,
        kind: ClientKind,
        client_id: &str,
        client_secret: &str,
    ) -> Result<(ClientAuth, MatchedSecret)> {
        let digest = self.inner.digester.digest(client_secret);
        let Some(auth) = self.store().client_auth(kind, client_id.to_owned()).await? else {
            // An unknown id does the comparison a known one does, against a digest no secret
            // has, so the answer takes the same time either way.
            std::hint::black_box(keys::digests_equal(&UNKNOWN_CLIENT_DIGEST, &digest));
            return Err(Error::InvalidClient);
        };
        let mut matched = None;
        for (id, stored, last_used_ms) in &auth.secrets {
            if keys::digests_equal(stored, &digest) && matched.is_none() {
                matched = Some(MatchedSecret {
                    id: id.clone(),
                    last_used_ms: *last_used_ms,
                });
            }
        }
        let secret = matched.ok_or(Error::InvalidClient)?;
        Ok((auth, secret))
    }

    /// Records the use of `secret` at most once per [`LAST_USED_GRANULARITY_MS`]. Bookkeeping
    /// only: a busy store must not fail the grant, so a failure is logged and ignored. With
    /// [`AuthorityConfig::defer_bookkeeping`](super::AuthorityConfig::defer_bookkeeping) and a
    /// tokio runtime, the use is noted in memory and written by the usage flush task: the grant
    /// does not wait for it.
    async fn record_secret_use(&self, kind: ClientKind, secret: MatchedSecret, now_ms: i64) {
        let stale_before = now_ms - LAST_USED_GRANULARITY_MS;
        if secret.last_used_ms.is_some_and(|t| t > stale_before) {
            return;
        }
        if self.inner.config.defer_bookkeeping && tokio::runtime::Handle::try_current().is_ok() {
            // Written by the usage flush task, like API keys' last use (`usage.rs`).
            self.inner.usage.note_secret(kind, secret.id, now_ms);
            return;
        }
        self.touch_secret(kind, secret.id, now_ms, stale_before).await;
    }

    pub(super) async fn touch_secret(
        &self,
        kind: ClientKind,
        secret_id: String,
        now_ms: i64,
        stale_before: i64,
    ) {
        if let Err(e) = self
            .store()
            .touch_secret(kind, secret_id, now_ms, stale_before)
            .await
        {
            tracing::warn!(error = %e, "could not record the last use of a client secret");
        }
    }

    /// The signed access token: the claims of a `kind` client, with the active signing key.
    async fn sign_access_token(
        &self,
        kind: ClientKind,
        client_id: &str,
        auth: &ClientAuth,
        scopes: &[String],
        issued: OffsetDateTime,
    ) -> Result<AccessTokenResponse> {
        // The one check of staged rotation on this path: the pending key's activation time came
        // with the client, in the same query.
        let now_ms = unix_ms(issued);
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
            scopes,
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
}

/// The kind of client `client_id` names, when it and `client_secret` are well formed: what is
/// refused before any store access.
fn client_kind(client_id: &str, client_secret: &str) -> Result<ClientKind> {
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
    Ok(kind)
}

/// The requested scopes, checked and deduplicated; `None` when none were requested.
fn requested_scopes(scopes: Option<Vec<String>>) -> Result<Option<Vec<String>>> {
    let Some(list) = scopes.filter(|list| !list.is_empty()) else {
        return Ok(None);
    };
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for s in list {
        if !limits::is_scope_token(&s) || s.len() > limits::SCOPE_LEN.1 {
            return Err(Error::InvalidScope(format!("malformed scope {s:?}")));
        }
        if !out.contains(&s) {
            out.push(s);
        }
    }
    Ok(Some(out))
}

/// The scopes of the token: all the client was granted, or the requested ones when it was
/// granted every one of them.
fn resolve_scopes(
    kind: ClientKind,
    auth: &ClientAuth,
    requested: Option<Vec<String>>,
) -> Result<Vec<String>> {
    let granted = match kind {
        ClientKind::M2m => auth.scopes.clone(),
        ClientKind::Environment => vec![ENVIRONMENT_SCOPE.to_owned()],
    };
    let Some(requested) = requested else {
        return Ok(granted);
    };
    let missing: Vec<&str> = requested
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
    Ok(requested)
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
