//! The signing-key lifecycle of an [`Authority`]: list, rotate, retire, lazy activation, the
//! first key, the cached signer, and the JWK Set (see [the module docs](super#signing-keys)).

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use super::signing::{self, Signer};
use super::{Authority, limits, now};
use crate::error::{Error, Result};
use crate::keys;
use crate::model::{JwkSet, SigningKeyInfo, SigningKeyState};
use crate::store::{self, KeyEncryption, Rotation, SigningKeyRow, unix_ms};

impl Authority {
    /// Every signing key (metadata only), oldest first. A pending key whose activation time has
    /// passed is activated first.
    pub async fn list_signing_keys(&self) -> Result<Vec<SigningKeyInfo>> {
        self.signing_key_rows().await?.iter().map(signing::info).collect()
    }

    /// Rotates the signing key: creates a new RSA-2048 key that becomes the active key
    /// `activate_after` from now, and is `pending` until then — published in the JWKS, not
    /// signing — so validators can learn it before any token carries its `kid` (see
    /// [the module docs](super#signing-keys)). When it activates, the active key becomes
    /// `published`: it no longer signs but stays in the JWKS, so the tokens it signed keep
    /// validating until it is retired. Callers normally pass
    /// [`AuthorityConfig::signing_key_activation_delay`](super::AuthorityConfig::signing_key_activation_delay).
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
            .rotate_signing_key(
                None,
                unix_ms(now()),
                delay_ms,
                self.audit("signing_key.rotate", None, &[]),
            )
            .await?
        {
            Rotation::NeedKey => {
                let key = self.generate_key().await?;
                self.store()
                    .rotate_signing_key(
                        Some(key),
                        unix_ms(now()),
                        delay_ms,
                        self.audit("signing_key.rotate", None, &[]),
                    )
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
            .retire_signing_key(
                kid.to_owned(),
                unix_ms(now()),
                self.audit("signing_key.retire", None, &[kid]),
            )
            .await?
            .ok_or_else(|| Error::not_found("signing_key", kid))?;
        signing::info(&row)
    }

    /// Every signing key, oldest first, after activating the pending key if it is due.
    /// Encrypts, under the master key, every signing key stored in plain text (keys created
    /// before `AUTHGATE_MASTER_KEY` was set), retired ones included: the migration `authgate
    /// serve` runs at start. Returns the kids encrypted. Without a master key, does nothing.
    pub async fn encrypt_plaintext_signing_keys(&self) -> Result<Vec<String>> {
        let Some(sealer) = self.inner.sealer.clone() else {
            return Ok(Vec::new());
        };
        let mut sealed = Vec::new();
        for listed in self.store().list_signing_keys().await? {
            if listed.encryption != KeyEncryption::None {
                continue;
            }
            let Some(row) = self.store().get_signing_key(listed.kid.clone()).await? else {
                continue;
            };
            if row.encryption != KeyEncryption::None {
                continue;
            }
            let blob = sealer.seal(&row.kid, &row.private_key)?;
            if self
                .store()
                .seal_signing_key(
                    row.kid.clone(),
                    blob,
                    self.audit("signing_key.encrypt", None, &[&row.kid]),
                )
                .await?
            {
                sealed.push(row.kid);
            }
        }
        Ok(sealed)
    }

    pub(super) async fn signing_key_rows(&self) -> Result<Vec<SigningKeyRow>> {
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
    pub(super) async fn activate_due_key(&self, now_ms: i64) -> Result<Option<String>> {
        let outcome = self.store().activate_due_signing_key(now_ms).await?;
        if let Some(kid) = &outcome.activated {
            tracing::info!(kid = %kid, "signing key activated: it signs new tokens from now on");
        }
        Ok(outcome.active_kid)
    }

    pub(super) async fn generate_key(&self) -> Result<store::SigningKeyRow> {
        let sealer = self.inner.sealer.clone();
        let kid = keys::new_id(keys::SIGNING_KEY_ID_PREFIX);
        let created = unix_ms(now());
        tokio::task::spawn_blocking(move || signing::generate(kid, sealer.as_deref(), created))
            .await
            .map_err(|e| Error::Internal(format!("key generation task failed: {e}")))?
    }

    /// The kid of the active key, creating the first key when the store has none (race-safe
    /// across processes: only one insert wins, the others use the winner's key).
    pub(super) async fn ensure_active_key(&self) -> Result<String> {
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
    pub(super) async fn signer(&self, active_kid: Option<String>) -> Result<Arc<Signer>> {
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

    /// The published keys: the active one first (some clients take the first key of a set),
    /// then the pending one, then the published ones; never a retired one. Creates the first
    /// key when the store has none.
    pub(super) async fn jwk_set(&self) -> Result<JwkSet> {
        let mut rows = self.signing_key_rows().await?;
        if !rows.iter().any(|r| r.state == SigningKeyState::Active) {
            self.ensure_active_key().await?;
            rows = self.store().list_signing_keys().await?;
        }
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
