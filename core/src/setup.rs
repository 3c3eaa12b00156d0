//! Client set-up: the rules that turn a binding's constructor arguments into an [`AuthApi`], the
//! keys its JWT validators use and the issuer they require — written once for Python and Node.
//!
//! Two modes, with the same names everywhere ([`Mode::name`]):
//!
//! - **`remote`** ([`Client::remote`]): `(env_url, client_id, client_secret)` and
//!   [`RemoteSettings`] give a [`RemoteClient`] of `authgate serve` or a Scalekit environment;
//!   tokens must be issued by `env_url`, whose keys are fetched from `{env_url}/keys` (one
//!   process-wide cache per URL).
//! - **`embedded`** ([`Client::embedded`]): `database_url` and [`LocalSettings`] open an
//!   [`Authority`](crate::authority::Authority) in this process; the issuer is `issuer`, else `AUTHGATE_ISSUER`, else
//!   [`DEFAULT_LOCAL_ISSUER`]; the pepper and master key are given or read from
//!   `AUTHGATE_KEY_PEPPER` / `AUTHGATE_MASTER_KEY`, as by `authgate serve`; without a master
//!   key, a SQLite store uses the key file next to it exactly as `authgate serve` and the CLI do
//!   ([`master_key`]); keys are read from the store with [`JwksConfig::for_local_store`] tuning.
//!
//! Option names and defaults are pinned by `tests/vectors/client_options.json`, which the Rust,
//! Python and Node suites check against their real constructors.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::authority::AuthorityConfig;
use crate::jwt::{AuthApiKeys, JwksCache, JwksConfig, KeySource, ValidatorConfig};
use crate::remote::{RemoteClient, RemoteOptions};
use crate::{AuthApi, Error, Result, Secret};

pub mod master_key;

/// Issuer of an embedded authority when neither `issuer` nor `AUTHGATE_ISSUER` is given.
pub const DEFAULT_LOCAL_ISSUER: &str = "http://localhost";

/// Where a client's operations go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A Scalekit-compatible environment over HTTP(S).
    Remote,
    /// An authority in this process.
    Embedded,
}

impl Mode {
    /// `"remote"` or `"embedded"`: what `client.mode` reports in Python and Node.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Remote => "remote",
            Mode::Embedded => "embedded",
        }
    }
}

/// The options of a remote client (`ScalekitClient(env_url, client_id, client_secret, …)`).
/// Python takes them as keyword arguments in snake_case, Node as an options object in camelCase;
/// durations are in seconds in both (fractions allowed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RemoteSettings {
    /// The deadline of one call in seconds, everything included: the environment token it may
    /// need, every attempt and the waits between them; also bounds each JWKS fetch. A call that
    /// has not finished by then fails with `deadline_exceeded` (an unreachable environment
    /// sooner, with `unavailable`). Default 5.
    pub timeout: f64,
    /// Time to open a connection, in seconds. Default 2.
    pub connect_timeout: f64,
    /// Retries of an idempotent call on 503/unavailable, connection failure or timeout, within
    /// `timeout`. Default 2 (at most 3 attempts).
    pub retries: u32,
    /// Allow plain `http://` to hosts other than loopback (for the API and its keys). Default
    /// `false`: the client secret and every API key would cross the network in clear text.
    pub dangerous_allow_insecure_http: bool,
}

impl Default for RemoteSettings {
    fn default() -> Self {
        let defaults = RemoteOptions::default();
        RemoteSettings {
            timeout: defaults.timeout.as_secs_f64(),
            connect_timeout: defaults.connect_timeout.as_secs_f64(),
            retries: defaults.max_retries,
            dangerous_allow_insecure_http: defaults.dangerous_allow_insecure_http,
        }
    }
}

/// The longest `timeout` / `connect_timeout` accepted, in seconds.
pub const MAX_TIMEOUT_SECONDS: f64 = 600.0;

impl RemoteSettings {
    /// Checks the values: `timeout` and `connect_timeout` finite, positive and at most
    /// [`MAX_TIMEOUT_SECONDS`]; `retries` at most 10.
    pub fn validate(&self) -> Result<()> {
        for (name, value) in [
            ("timeout", self.timeout),
            ("connect_timeout", self.connect_timeout),
        ] {
            if !value.is_finite() || value <= 0.0 || value > MAX_TIMEOUT_SECONDS {
                return Err(Error::invalid(
                    name,
                    format!("must be a number of seconds above 0 and at most {MAX_TIMEOUT_SECONDS}"),
                ));
            }
        }
        if self.retries > 10 {
            return Err(Error::invalid("retries", "must be at most 10"));
        }
        Ok(())
    }

    /// The [`RemoteOptions`] these settings stand for, with the binding's `x-sdk-version` and
    /// `user-agent` (`sdk` such as `Authgate-Python/0.1.0`, `runtime` such as `Python 3.12`).
    /// Call [`validate`](Self::validate) first.
    pub fn remote_options(&self, sdk: &str, runtime: &str) -> RemoteOptions {
        let seconds = |v: f64| Duration::from_secs_f64(v.clamp(0.001, MAX_TIMEOUT_SECONDS));
        RemoteOptions {
            timeout: seconds(self.timeout),
            connect_timeout: seconds(self.connect_timeout),
            max_retries: self.retries,
            dangerous_allow_insecure_http: self.dangerous_allow_insecure_http,
            sdk_version: Some(sdk.to_owned()),
            user_agent: Some(format!(
                "{sdk} {runtime} ({}; {})",
                std::env::consts::OS,
                std::env::consts::ARCH
            )),
            ..RemoteOptions::default()
        }
    }
}

/// The options of an embedded client (`ScalekitClient.local(database_url, …)`).
#[derive(Debug, Clone, Default)]
pub struct LocalSettings {
    /// `iss` of the access tokens it issues and requires. Default `AUTHGATE_ISSUER`, else
    /// [`DEFAULT_LOCAL_ISSUER`].
    pub issuer: Option<String>,
    /// Pepper of the stored digests (at least 32 characters). Default `AUTHGATE_KEY_PEPPER`.
    pub key_pepper: Option<Secret>,
    /// Master key encrypting signing keys at rest (at least 32 characters). Default
    /// `AUTHGATE_MASTER_KEY`, else (SQLite) the key file next to the database ([`master_key`]).
    pub master_key: Option<Secret>,
}

impl LocalSettings {
    /// The authority configuration: the environment first (as `authgate serve` reads it), then
    /// the explicit settings over it.
    pub fn authority_config(&self) -> Result<AuthorityConfig> {
        let issuer = self
            .issuer
            .clone()
            .filter(|i| !i.is_empty())
            .or_else(|| std::env::var("AUTHGATE_ISSUER").ok().filter(|v| !v.is_empty()))
            .unwrap_or_else(|| DEFAULT_LOCAL_ISSUER.to_owned());
        let mut config = AuthorityConfig::from_env(issuer)?;
        if let Some(pepper) = &self.key_pepper {
            config.key_pepper = Some(pepper.clone());
        }
        if let Some(master) = &self.master_key {
            config.master_key = Some(master.clone());
        }
        Ok(config)
    }
}

/// The environment credentials of a remote client.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The `skc_…` client id.
    pub client_id: String,
    /// Its secret.
    pub client_secret: Secret,
}

/// A client's backend, set up by the rules of the [module docs](self).
#[derive(Clone)]
pub struct Client {
    /// The operations.
    pub api: Arc<dyn AuthApi>,
    /// Which mode.
    pub mode: Mode,
    /// The issuer access tokens must carry: the environment URL (remote, without a trailing
    /// slash) or the authority's issuer (embedded).
    pub issuer: String,
    /// The keys every validator of this client shares.
    pub keys: JwksCache,
    /// Where the keys come from, for display: the JWKS URL or `"embedded authority"`.
    pub key_source: String,
    /// The environment credentials (remote only).
    pub credentials: Option<Credentials>,
    /// The remote settings in effect (remote only).
    pub settings: Option<RemoteSettings>,
    /// The remote client behind `api` (remote only), for [`check`](Self::check).
    pub remote: Option<RemoteClient>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("mode", &self.mode)
            .field("issuer", &self.issuer)
            .field("key_source", &self.key_source)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client of the environment at `env_url`. Nothing is sent until the first call. `sdk` and
    /// `runtime` name the binding in `x-sdk-version` / `user-agent`.
    pub fn remote(
        env_url: &str,
        client_id: String,
        client_secret: Secret,
        settings: RemoteSettings,
        sdk: &str,
        runtime: &str,
    ) -> Result<Client> {
        settings.validate()?;
        let remote = RemoteClient::new(
            env_url,
            client_id.clone(),
            client_secret.clone(),
            settings.remote_options(sdk, runtime),
        )?;
        let issuer = remote.env_url().to_owned();
        let jwks_url = format!("{issuer}/keys");
        let jwks = JwksConfig {
            // The client already decided whether plain http is acceptable for this environment.
            dangerous_allow_insecure_http: settings.dangerous_allow_insecure_http,
            // A key fetch is bounded like every other call of this client.
            fetch_timeout: settings.remote_options(sdk, runtime).timeout,
            ..JwksConfig::default()
        };
        let keys = JwksCache::shared_url(Some(&issuer), &jwks_url, jwks)?;
        Ok(Client {
            api: Arc::new(remote.clone()),
            mode: Mode::Remote,
            issuer,
            keys,
            key_source: jwks_url,
            credentials: Some(Credentials {
                client_id,
                client_secret,
            }),
            settings: Some(settings),
            remote: Some(remote),
        })
    }

    /// An embedded authority on `database_url` (`sqlite://PATH`, `postgres://…`): opens the store
    /// and applies migrations. Without a master key, a SQLite store uses (or creates) the key
    /// file next to it, as `authgate serve` does; a key file readable by others is refused
    /// (`failed_precondition`). On PostgreSQL without a master key, signing keys this client
    /// creates are stored in plain text ([`master_key::PostgresWithoutKey::PlainText`]).
    pub async fn embedded(database_url: &str, settings: &LocalSettings) -> Result<Client> {
        let config = settings.authority_config()?;
        let authority =
            master_key::open_authority(database_url, config, master_key::PostgresWithoutKey::PlainText)
                .await?
                .authority;
        let issuer = authority.config().issuer.clone();
        let api: Arc<dyn AuthApi> = Arc::new(authority);
        let keys = store_keys(api.clone())?;
        Ok(Client {
            api,
            mode: Mode::Embedded,
            issuer,
            keys,
            key_source: "embedded authority".to_owned(),
            credentials: None,
            settings: None,
            remote: None,
        })
    }

    /// Checks that the client can work, as an application does at start-up
    /// (`client.check()` in Python and Node): remote, an environment access token is fetched
    /// with the credentials (refused credentials: `invalid_client`; unreachable:
    /// `unavailable`; no answer within the timeout: `deadline_exceeded`); embedded, the store
    /// answers with the signing keys.
    pub async fn check(&self) -> Result<()> {
        match &self.remote {
            Some(remote) => remote.check().await,
            None => self.api.jwks().await.map(drop),
        }
    }

    /// The issuer a validator of this client checks: `issuer`, else the client's. An empty
    /// issuer is refused (`invalid_argument`): omit it to check the environment URL.
    pub fn validator_issuer(&self, issuer: Option<&str>) -> Result<String> {
        match issuer {
            Some("") => Err(Error::invalid(
                "issuer",
                "must not be empty (omit it to check the environment URL)",
            )),
            Some(issuer) => Ok(issuer.to_owned()),
            None => Ok(self.issuer.clone()),
        }
    }

    /// The configuration of a validator of this client's tokens: its shared keys, `iss` as
    /// [`validator_issuer`](Self::validator_issuer) gives it, `aud` holding one of `audiences`
    /// (none: not checked).
    pub fn validator_config(&self, issuer: Option<&str>, audiences: Vec<String>) -> Result<ValidatorConfig> {
        let issuer = self.validator_issuer(issuer)?;
        let mut config = ValidatorConfig::new(KeySource::Cache(self.keys.clone())).with_issuer(issuer);
        config.audiences = audiences;
        Ok(config)
    }
}

/// The signing keys of an authority, read from its store, as every validator of the authority's
/// own tokens uses them (embedded clients and `authgate serve`'s admin routes): re-read every
/// minute (a retired key stops validating within a minute), an unknown kid looked up again after
/// 100 ms (a key rotated at once on another node sharing the store is accepted at once)
/// ([`JwksConfig::for_local_store`]).
pub fn store_keys(api: Arc<dyn AuthApi>) -> Result<JwksCache> {
    JwksCache::from_provider(Arc::new(AuthApiKeys(api)), JwksConfig::for_local_store())
}

/// The database URL without its password, for display.
pub fn redact_database_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!("{}{}:***{}", &url[..scheme + 3], &userinfo[..colon], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_remote_client() {
        let s = RemoteSettings::default();
        assert_eq!((s.timeout, s.connect_timeout, s.retries), (5.0, 2.0, 2));
        assert!(!s.dangerous_allow_insecure_http);
        assert!(s.validate().is_ok());
        for timeout in [0.0, -1.0, f64::NAN, f64::INFINITY, 601.0] {
            let bad = RemoteSettings {
                timeout,
                ..RemoteSettings::default()
            };
            let err = bad.validate().unwrap_err();
            assert_eq!(err.code(), "invalid_argument", "{timeout}");
        }
        let bad = RemoteSettings {
            retries: 11,
            ..RemoteSettings::default()
        };
        assert_eq!(bad.validate().unwrap_err().code(), "invalid_argument");
        let o = RemoteSettings {
            timeout: 2.5,
            ..RemoteSettings::default()
        }
        .remote_options("sdk", "rt");
        assert_eq!(o.timeout, Duration::from_millis(2500));
    }

    #[test]
    fn redaction() {
        assert_eq!(
            redact_database_url("postgres://u:pw@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(redact_database_url("sqlite:///tmp/x.db"), "sqlite:///tmp/x.db");
    }
}
