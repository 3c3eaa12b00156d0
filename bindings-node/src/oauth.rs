//! `ClientCredentials`: the client side of the OAuth 2.0 client-credentials grant, for services
//! calling an API protected by authgate (or any OAuth server). The token is cached, refreshed
//! ahead of expiry and fetched once for concurrent callers (the core's `TokenFetcher`).

use std::collections::HashMap;
use std::time::{Duration, UNIX_EPOCH};

use authgate_core::Error as CoreError;
use authgate_core::Secret;
use authgate_core::oauth::{AccessToken, ClientAuthMethod, TokenFetcher, TokenFetcherConfig};
use chrono::{DateTime, Utc};
use napi::bindgen_prelude::{PromiseRaw, within_runtime_if_available};
use napi::{Env, Result};
use napi_derive::napi;

use crate::errors::{spawn, sync};

/// Options of a `ClientCredentials` fetcher.
#[napi(object, js_name = "ClientCredentialsOptions")]
#[derive(Debug)]
pub struct JsClientCredentialsOptions {
    /// The token endpoint. Give this or `envUrl`.
    pub token_url: Option<String>,
    /// A Scalekit-compatible environment URL: the endpoint is `{envUrl}/oauth/token`.
    pub env_url: Option<String>,
    /// The client id (`m2morg_…`).
    pub client_id: String,
    /// The client secret.
    pub client_secret: String,
    /// Scopes to request [the client's default scopes].
    pub scopes: Option<Vec<String>>,
    /// Extra form parameters, e.g. `{audience: '…'}` [none].
    pub extra_params: Option<HashMap<String, String>>,
    /// `client_secret_post` or `client_secret_basic` [client_secret_post].
    #[napi(ts_type = "'client_secret_post' | 'client_secret_basic'")]
    pub auth_method: Option<String>,
    /// Timeout of one token request in seconds [10].
    pub timeout: Option<f64>,
    /// Fraction of the lifetime after which a refresh starts [0.8].
    pub refresh_ratio: Option<f64>,
    /// Allow plain `http` to non-loopback hosts [false]. Dangerous: the secret travels in clear.
    pub dangerous_allow_insecure_http: Option<bool>,
}

/// A token from the endpoint.
#[napi(object, js_name = "ClientAccessToken")]
#[derive(Debug)]
pub struct JsAccessToken {
    /// The access token: send it as `Authorization: Bearer …`.
    pub access_token: String,
    /// `Bearer`.
    pub token_type: String,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
    /// Seconds left.
    pub expires_in: f64,
    /// Granted scopes, space-separated.
    pub scope: String,
}

impl From<AccessToken> for JsAccessToken {
    fn from(t: AccessToken) -> Self {
        let at = t.expires_at.duration_since(UNIX_EPOCH).unwrap_or_default();
        JsAccessToken {
            expires_in: t.expires_in().as_secs_f64().floor(),
            expires_at: DateTime::from_timestamp(at.as_secs() as i64, at.subsec_nanos()).unwrap_or_default(),
            token_type: t.token_type,
            scope: t.scope,
            access_token: t.access_token.into_inner(),
        }
    }
}

fn config(o: JsClientCredentialsOptions) -> authgate_core::Result<TokenFetcherConfig> {
    let token_url = match (o.token_url, o.env_url) {
        (Some(url), _) => url,
        (None, Some(env_url)) => format!("{}/oauth/token", env_url.trim_end_matches('/')),
        (None, None) => {
            return Err(CoreError::invalid(
                "tokenUrl",
                "either tokenUrl or envUrl is required",
            ));
        }
    };
    let mut config = TokenFetcherConfig::new(token_url, o.client_id, Secret::new(o.client_secret));
    if let Some(scopes) = o.scopes {
        config.scopes = scopes;
    }
    if let Some(params) = o.extra_params {
        let mut params: Vec<(String, String)> = params.into_iter().collect();
        params.sort();
        config.extra_params = params;
    }
    config.auth_method = match o.auth_method.as_deref() {
        None | Some("client_secret_post") => ClientAuthMethod::ClientSecretPost,
        Some("client_secret_basic") => ClientAuthMethod::ClientSecretBasic,
        Some(_) => {
            return Err(CoreError::invalid(
                "authMethod",
                "must be \"client_secret_post\" or \"client_secret_basic\"",
            ));
        }
    };
    if let Some(t) = o.timeout {
        if !t.is_finite() || t <= 0.0 || t > 3600.0 {
            return Err(CoreError::invalid(
                "timeout",
                "must be between 0 and 3600 seconds",
            ));
        }
        config.timeout = Duration::from_secs_f64(t);
    }
    if let Some(r) = o.refresh_ratio {
        config.refresh_ratio = r;
    }
    if let Some(b) = o.dangerous_allow_insecure_http {
        config.dangerous_allow_insecure_http = b;
    }
    config.runtime = Some(within_runtime_if_available(tokio::runtime::Handle::current));
    Ok(config)
}

/// A cached client-credentials token source.
#[napi(js_name = "NativeClientCredentials")]
#[derive(Debug)]
pub struct JsClientCredentials {
    inner: TokenFetcher,
}

#[napi]
impl JsClientCredentials {
    /// A fetcher; nothing is sent until the first `getToken`.
    #[napi(constructor)]
    pub fn new(env: Env, options: JsClientCredentialsOptions) -> Result<Self> {
        let inner = sync(&env, config(options).and_then(TokenFetcher::new))?;
        Ok(JsClientCredentials { inner })
    }

    /// The current access token, fetched or refreshed when needed.
    #[napi(ts_return_type = "Promise<ClientAccessToken>")]
    pub fn get_token<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, JsAccessToken>> {
        let inner = self.inner.clone();
        spawn(env, async move { Ok(inner.get_token().await?.into()) })
    }

    /// The cached token if it is still usable, without any network access.
    #[napi]
    pub fn cached(&self) -> Option<JsAccessToken> {
        self.inner.cached().map(Into::into)
    }

    /// Drops the cached token (e.g. after the API answered 401 to it).
    #[napi]
    pub fn invalidate(&self) {
        self.inner.invalidate();
    }
}
