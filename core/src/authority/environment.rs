//! The lifecycle of environment credentials (`skc_…` clients of the management API): list,
//! create, revoke, and the liveness check the server makes on every management request.
//!
//! A revoked credential keeps its row (a tombstone): it can no longer obtain access tokens, and
//! [`Authority::environment_client_live`] answers `false` for it, which the server checks before
//! accepting an access token it issued earlier. The last live credential cannot be revoked, so
//! an environment is never locked out of its own management API.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Authority, now};
use crate::error::{Error, Result};
use crate::keys;
use crate::model::Secret;
use crate::store::{EnvironmentClientRow, time_from_ms, unix_ms};

use super::limits;

/// An environment credential as listed: never its secret, only the secret's last characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentCredential {
    /// `skc_…`
    pub client_id: String,
    /// The last four characters of the secret.
    pub secret_suffix: String,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub create_time: OffsetDateTime,
    /// When it was last changed (re-keyed or revoked).
    #[serde(with = "time::serde::rfc3339")]
    pub update_time: OffsetDateTime,
    /// Last time it obtained an access token (refreshed at most once a minute).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_used_time: Option<OffsetDateTime>,
    /// When it was revoked; `None` while it is live.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub revoke_time: Option<OffsetDateTime>,
    /// Whether it can obtain tokens and use the management API.
    pub live: bool,
}

impl TryFrom<EnvironmentClientRow> for EnvironmentCredential {
    type Error = Error;

    fn try_from(r: EnvironmentClientRow) -> Result<Self> {
        Ok(EnvironmentCredential {
            client_id: r.id,
            secret_suffix: r.secret_suffix,
            create_time: time_from_ms(r.created_ms)?,
            update_time: time_from_ms(r.updated_ms)?,
            last_used_time: r.last_used_ms.map(time_from_ms).transpose()?,
            revoke_time: r.revoked_ms.map(time_from_ms).transpose()?,
            live: r.revoked_ms.is_none(),
        })
    }
}

impl Authority {
    /// Every environment credential, revoked ones included, oldest first.
    pub async fn list_environment_clients(&self) -> Result<Vec<EnvironmentCredential>> {
        self.store()
            .list_environment_clients()
            .await?
            .into_iter()
            .map(EnvironmentCredential::try_from)
            .collect()
    }

    /// Creates an environment credential; the secret is returned once (only its digest is
    /// stored).
    pub async fn create_environment_credential(&self) -> Result<(EnvironmentCredential, Secret)> {
        let (id, secret) = self.create_environment_client().await?;
        let credential = self
            .list_environment_clients()
            .await?
            .into_iter()
            .find(|c| c.client_id == id)
            .ok_or_else(|| Error::Internal("the new environment credential was not stored".into()))?;
        Ok((credential, secret))
    }

    /// Whether `client_id` is an existing environment credential that is not revoked. One
    /// indexed read; callers on a hot path cache it (the server does, see its docs).
    pub async fn environment_client_live(&self, client_id: &str) -> Result<bool> {
        if !keys::is_id(
            client_id,
            keys::ENVIRONMENT_CLIENT_ID_PREFIX,
            limits::ENVIRONMENT_ID_MAX,
        ) {
            return Ok(false);
        }
        self.store().environment_client_live(client_id.to_owned()).await
    }

    /// Revokes an environment credential: it can no longer obtain tokens, and the tokens it
    /// holds are refused by the management API. Revoking a revoked credential changes nothing.
    ///
    /// Errors: [`Error::InvalidArgument`] for a malformed id, [`Error::NotFound`] for an unknown
    /// one, [`Error::FailedPrecondition`] for the last live credential (create another first).
    pub async fn revoke_environment_client(&self, client_id: &str) -> Result<EnvironmentCredential> {
        check_id(client_id)?;
        self.store()
            .revoke_environment_client(
                client_id.to_owned(),
                unix_ms(now()),
                self.audit("environment_credential.revoke", None, &[client_id]),
            )
            .await?
            .try_into()
    }

    /// Makes `client_id` (with `secret`) the one live environment credential: registers or
    /// re-keys it, then revokes every other live one. Returns the ids revoked. This is what
    /// `authgate serve` does with `AUTHGATE_CLIENT_ID` / `AUTHGATE_CLIENT_SECRET`.
    pub async fn provision_environment_client(
        &self,
        client_id: &str,
        secret: &Secret,
    ) -> Result<Vec<String>> {
        self.register_environment_client(client_id, secret).await?;
        self.store()
            .revoke_other_environment_clients(
                client_id.to_owned(),
                unix_ms(now()),
                self.audit("environment_credential.revoke", None, &[]),
            )
            .await
    }
}

fn check_id(client_id: &str) -> Result<()> {
    if keys::is_id(
        client_id,
        keys::ENVIRONMENT_CLIENT_ID_PREFIX,
        limits::ENVIRONMENT_ID_MAX,
    ) {
        Ok(())
    } else {
        Err(Error::invalid(
            "client_id",
            "an environment client id starts with skc_ and uses only letters, digits, '_' and '-' \
             (at most 64 characters)",
        ))
    }
}
