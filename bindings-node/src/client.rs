//! `NativeClient`: the backend of a `ScalekitClient`, remote or embedded.
//!
//! - **remote** ([`JsClient::remote`]): a [`RemoteClient`] of `authgate serve` or a Scalekit
//!   environment; authentication is lazy (the first call fetches the environment token).
//! - **embedded** ([`JsClient::local`]): an [`Authority`] on a SQLite file or a PostgreSQL URL,
//!   in this process.
//!
//! Both are an `Arc<dyn AuthApi>`, so the sub-clients are the same code in both modes.

use std::sync::Arc;
use std::time::Duration;

use authgate_core::authority::{Authority, AuthorityConfig};
use authgate_core::remote::{RemoteClient, RemoteOptions};
use authgate_core::{AuthApi, Error as CoreError, Secret};
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

/// Options of a remote client.
#[napi(object, js_name = "NativeRemoteOptions")]
#[derive(Debug, Default)]
pub struct JsRemoteOptions {
    /// Total time for one HTTP request in milliseconds (default 10000).
    pub timeout_ms: Option<u32>,
    /// Retries of an idempotent call on 503/unavailable/timeouts (default 2).
    pub max_retries: Option<u32>,
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

#[derive(Debug)]
enum Backend {
    Remote {
        env_url: String,
        client_id: String,
        client_secret: Secret,
    },
    Local {
        issuer: String,
    },
}

/// The backend of a `ScalekitClient`.
#[napi(js_name = "NativeClient")]
#[derive(Debug)]
pub struct JsClient {
    api: Arc<dyn AuthApi>,
    backend: Backend,
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
        let mut opts = RemoteOptions::default();
        opts.sdk_version = Some(SDK_VERSION.to_owned());
        opts.user_agent = Some(format!(
            "{SDK_VERSION} Node ({}; {})",
            std::env::consts::OS,
            std::env::consts::ARCH
        ));
        let o = options.unwrap_or_default();
        if let Some(ms) = o.timeout_ms {
            if ms == 0 {
                return sync(&env, Err(CoreError::invalid("timeoutMs", "must be positive")));
            }
            opts.timeout = Duration::from_millis(u64::from(ms));
        }
        if let Some(n) = o.max_retries {
            opts.max_retries = n;
        }
        if let Some(b) = o.dangerous_allow_insecure_http {
            opts.dangerous_allow_insecure_http = b;
        }
        let secret = Secret::new(client_secret);
        let remote = sync(
            &env,
            RemoteClient::new(&env_url, client_id.clone(), secret.clone(), opts),
        )?;
        Ok(JsClient {
            backend: Backend::Remote {
                env_url: remote.env_url().to_owned(),
                client_id,
                client_secret: secret,
            },
            api: Arc::new(remote),
        })
    }

    /// An embedded authority on `databaseUrl` (`sqlite://PATH`, `postgres://…`). Opens the store
    /// and applies migrations before returning (the only blocking call of the package).
    #[napi(factory)]
    pub fn local(env: Env, database_url: String, options: Option<JsLocalOptions>) -> Result<JsClient> {
        let options = options.unwrap_or_default();
        let issuer = options
            .issuer
            .or_else(|| std::env::var("AUTHGATE_ISSUER").ok().filter(|v| !v.is_empty()))
            .unwrap_or_else(|| "http://localhost".to_owned());
        let mut config = sync(&env, AuthorityConfig::from_env(issuer))?;
        if let Some(pepper) = options.key_pepper {
            config.key_pepper = Some(Secret::new(pepper));
        }
        if let Some(master) = options.master_key {
            config.master_key = Some(Secret::new(master));
        }
        let issuer = config.issuer.clone();
        let authority = sync(&env, block_on(Authority::open(&database_url, config)))?;
        Ok(JsClient {
            backend: Backend::Local { issuer },
            api: Arc::new(authority),
        })
    }

    /// `"remote"` or `"local"`.
    #[napi(getter)]
    pub fn mode(&self) -> &'static str {
        match self.backend {
            Backend::Remote { .. } => "remote",
            Backend::Local { .. } => "local",
        }
    }

    /// The issuer of this environment's access tokens (the environment URL when remote).
    #[napi(getter)]
    pub fn issuer(&self) -> String {
        match &self.backend {
            Backend::Remote { env_url, .. } => env_url.clone(),
            Backend::Local { issuer } => issuer.clone(),
        }
    }

    /// The `scalekit.token` backend.
    #[napi]
    pub fn tokens(&self) -> JsTokenClient {
        JsTokenClient {
            api: self.api.clone(),
        }
    }

    /// The `scalekit.m2m` backend.
    #[napi(js_name = "m2m")]
    pub fn m2m(&self) -> JsM2MClientApi {
        JsM2MClientApi {
            api: self.api.clone(),
        }
    }

    /// The `scalekit.organization` backend.
    #[napi]
    pub fn organizations(&self) -> JsOrganizationClient {
        JsOrganizationClient {
            api: self.api.clone(),
        }
    }

    /// The `scalekit.user` backend.
    #[napi]
    pub fn users(&self) -> JsUserClient {
        JsUserClient {
            api: self.api.clone(),
        }
    }

    /// A validator of this environment's access tokens: keys from `{envUrl}/keys` when remote,
    /// straight from the store when embedded; `iss` must be the environment URL unless
    /// `options.issuer` says otherwise.
    #[napi]
    pub fn jwt_validator(&self, env: Env, options: Option<JsValidatorOptions>) -> Result<JsJwtValidator> {
        let result = match &self.backend {
            Backend::Remote { env_url, .. } => {
                JsJwtValidator::for_environment_url(env_url, options.unwrap_or_default())
            }
            Backend::Local { issuer } => {
                JsJwtValidator::for_api(self.api.clone(), issuer, options.unwrap_or_default())
            }
        };
        sync(&env, result)
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
        let api = self.api.clone();
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
        let api = self.api.clone();
        let credentials = match &self.backend {
            Backend::Remote {
                client_id,
                client_secret,
                ..
            } => Ok((client_id.clone(), client_secret.clone())),
            Backend::Local { .. } => Err(CoreError::FailedPrecondition(
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
