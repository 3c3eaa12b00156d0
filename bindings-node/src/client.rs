//! `NativeClient`: the backend of a `ScalekitClient`, remote or embedded.
//!
//! - **remote** ([`JsClient::remote`]): a [`RemoteClient`] of `authgate serve` or a Scalekit
//!   environment; authentication is lazy (the first call fetches the environment token).
//! - **embedded** ([`JsClient::local`]): an [`Authority`] on a SQLite file or a PostgreSQL URL,
//!   in this process.
//!
//! Both are set up by the core's rules ([`authgate_core::setup`], shared with Python) and are an
//! `Arc<dyn AuthApi>`, so the sub-clients are the same code in both modes.

use authgate_core::setup::{Client, LocalSettings, RemoteSettings};
use authgate_core::{Error as CoreError, Secret};
use napi::bindgen_prelude::{PromiseRaw, block_on};
use napi::{Env, Result};
use napi_derive::napi;

use crate::errors::{spawn, sync};
use crate::jwt::{JsJwtValidator, JsValidatorOptions};
use crate::m2m::JsM2MClientApi;
use crate::organization::{JsOrganizationClient, JsUserClient};
use crate::token::JsTokenClient;

/// The `x-sdk-version` this package sends.
const SDK_VERSION: &str = concat!("Authgate-Node/", env!("CARGO_PKG_VERSION"));

/// Options of a remote client (names and defaults shared with Python, see
/// `tests/vectors/client_options.json`). Durations are in seconds (fractions allowed).
#[napi(object, js_name = "NativeRemoteOptions")]
#[derive(Debug, Default)]
pub struct JsRemoteOptions {
    /// Deadline of one call in seconds, retries and the environment token included; also bounds
    /// each JWKS fetch (default 5).
    pub timeout: Option<f64>,
    /// Time to open a connection in seconds (default 2).
    pub connect_timeout: Option<f64>,
    /// Retries of an idempotent call on 503/unavailable/timeouts, within `timeout` (default 2).
    pub retries: Option<u32>,
    /// Allow plain `http://` to hosts other than loopback (default false).
    pub dangerous_allow_insecure_http: Option<bool>,
}

/// Options of an embedded client.
#[napi(object, js_name = "NativeLocalOptions")]
#[derive(Debug, Default)]
pub struct JsLocalOptions {
    /// `iss` of the access tokens it issues (default `AUTHGATE_ISSUER`, else `http://localhost`).
    pub issuer: Option<String>,
    /// Pepper of key digests (default `AUTHGATE_KEY_PEPPER`).
    pub key_pepper: Option<String>,
    /// Master key encrypting signing keys at rest (default `AUTHGATE_MASTER_KEY`).
    pub master_key: Option<String>,
}

/// The remote options in effect (`client.options`).
#[napi(object, js_name = "NativeEffectiveOptions")]
#[derive(Debug)]
pub struct JsEffectiveOptions {
    /// Deadline of one call in seconds.
    pub timeout: f64,
    /// Time to open a connection in seconds.
    pub connect_timeout: f64,
    /// Retries of an idempotent call.
    pub retries: u32,
    /// Plain `http://` allowed to hosts other than loopback.
    pub dangerous_allow_insecure_http: bool,
}

/// The backend of a `ScalekitClient`.
#[napi(js_name = "NativeClient")]
pub struct JsClient {
    setup: Client,
}

impl std::fmt::Debug for JsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.setup.fmt(f)
    }
}

#[napi]
impl JsClient {
    /// A client of the environment at `envUrl` (`authgate serve` or Scalekit). Nothing is sent
    /// until the first call.
    #[napi(factory)]
    pub fn remote(
        env: Env,
        env_url: String,
        client_id: String,
        client_secret: String,
        options: Option<JsRemoteOptions>,
    ) -> Result<JsClient> {
        let o = options.unwrap_or_default();
        let defaults = RemoteSettings::default();
        let settings = RemoteSettings {
            timeout: o.timeout.unwrap_or(defaults.timeout),
            connect_timeout: o.connect_timeout.unwrap_or(defaults.connect_timeout),
            retries: o.retries.unwrap_or(defaults.retries),
            dangerous_allow_insecure_http: o
                .dangerous_allow_insecure_http
                .unwrap_or(defaults.dangerous_allow_insecure_http),
        };
        let setup = Client::remote(
            &env_url,
            client_id,
            Secret::new(client_secret),
            settings,
            SDK_VERSION,
            "Node",
        )
        // The JavaScript options are camelCase: name the field as the caller wrote it.
        .map_err(|e| match e {
            CoreError::InvalidArgument { field, message } => CoreError::InvalidArgument {
                field: camel(&field),
                message,
            },
            other => other,
        });
        Ok(JsClient {
            setup: sync(&env, setup)?,
        })
    }

    /// An embedded authority on `databaseUrl` (`sqlite://PATH`, `postgres://…`). Opens the store
    /// and applies migrations before returning (the only blocking call of the package).
    #[napi(factory)]
    pub fn local(env: Env, database_url: String, options: Option<JsLocalOptions>) -> Result<JsClient> {
        let o = options.unwrap_or_default();
        let settings = LocalSettings {
            issuer: o.issuer,
            key_pepper: o.key_pepper.map(Secret::new),
            master_key: o.master_key.map(Secret::new),
        };
        let setup = sync(&env, block_on(Client::embedded(&database_url, &settings)))?;
        Ok(JsClient { setup })
    }

    /// `"remote"` or `"embedded"` (the same names in Python).
    #[napi(getter)]
    pub fn mode(&self) -> &'static str {
        self.setup.mode.name()
    }

    /// The remote options in effect; `null` for an embedded client.
    #[napi(getter)]
    pub fn options(&self) -> Option<JsEffectiveOptions> {
        self.setup.settings.as_ref().map(|s| JsEffectiveOptions {
            timeout: s.timeout,
            connect_timeout: s.connect_timeout,
            retries: s.retries,
            dangerous_allow_insecure_http: s.dangerous_allow_insecure_http,
        })
    }

    /// Checks that the client can work (see `ScalekitClient.check`): remote, fetches an
    /// environment access token with the credentials; embedded, reads the signing keys.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn check<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ()>> {
        let setup = self.setup.clone();
        spawn(env, async move { setup.check().await })
    }

    /// The issuer of this environment's access tokens (the environment URL when remote).
    #[napi(getter)]
    pub fn issuer(&self) -> String {
        self.setup.issuer.clone()
    }

    /// The `scalekit.token` backend.
    #[napi]
    pub fn tokens(&self) -> JsTokenClient {
        JsTokenClient {
            api: self.setup.api.clone(),
        }
    }

    /// The `scalekit.m2m` backend.
    #[napi(js_name = "m2m")]
    pub fn m2m(&self) -> JsM2MClientApi {
        JsM2MClientApi {
            api: self.setup.api.clone(),
        }
    }

    /// The `scalekit.organization` backend.
    #[napi]
    pub fn organizations(&self) -> JsOrganizationClient {
        JsOrganizationClient {
            api: self.setup.api.clone(),
        }
    }

    /// The `scalekit.user` backend.
    #[napi]
    pub fn users(&self) -> JsUserClient {
        JsUserClient {
            api: self.setup.api.clone(),
        }
    }

    /// The `scalekit.audit` backend.
    #[napi]
    pub fn audit(&self) -> crate::audit::JsAuditClient {
        crate::audit::JsAuditClient {
            api: self.setup.api.clone(),
        }
    }

    /// A validator of this environment's access tokens: keys from `{envUrl}/keys` when remote,
    /// straight from the store when embedded; `iss` must be the environment URL unless
    /// `options.issuer` says otherwise.
    #[napi(ts_args_type = "options?: JwtValidatorOptions | undefined | null")]
    pub fn jwt_validator(&self, env: Env, options: Option<JsValidatorOptions>) -> Result<JsJwtValidator> {
        sync(
            &env,
            JsJwtValidator::for_client(&self.setup, options.unwrap_or_default()),
        )
    }

    /// The client-credentials grant for any client: the access token (`generateClientToken`).
    #[napi(ts_return_type = "Promise<string>")]
    pub fn generate_client_token<'env>(
        &self,
        env: &'env Env,
        client_id: String,
        client_secret: String,
        scopes: Option<Vec<String>>,
    ) -> Result<PromiseRaw<'env, String>> {
        let api = self.setup.api.clone();
        let secret = Secret::new(client_secret);
        spawn(env, async move {
            let r = api
                .issue_client_token(&client_id, secret.expose(), scopes)
                .await?;
            Ok(r.access_token.into_inner())
        })
    }

    /// An access token for this client's own environment credentials (`getClientAccessToken`).
    #[napi(ts_return_type = "Promise<string>")]
    pub fn get_client_access_token<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, String>> {
        let api = self.setup.api.clone();
        let credentials = match &self.setup.credentials {
            Some(c) => Ok((c.client_id.clone(), c.client_secret.clone())),
            None => Err(CoreError::FailedPrecondition(
                "an embedded client has no environment credentials".into(),
            )),
        };
        spawn(env, async move {
            let (id, secret) = credentials?;
            let r = api.issue_client_token(&id, secret.expose(), None).await?;
            Ok(r.access_token.into_inner())
        })
    }
}

/// `timeout_ms` → `timeoutMs`.
fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn camel() {
        assert_eq!(super::camel("connect_timeout_ms"), "connectTimeoutMs");
        assert_eq!(super::camel("issuer"), "issuer");
    }
}
