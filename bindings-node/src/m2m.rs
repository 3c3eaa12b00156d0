//! M2M clients and their secrets: `scalekit.m2m` (Scalekit's `ClientService`, organization part).

use std::collections::HashMap;
use std::sync::Arc;

use authgate_core::AuthApi;
use authgate_core::model::{ClientSecret, CustomClaim, M2MClient, OrganizationClient, SecretStatus};
use chrono::{DateTime, Utc};
use napi::bindgen_prelude::PromiseRaw;
use napi::{Env, Result};
use napi_derive::napi;

use crate::errors::spawn;
use crate::to_date;
use crate::token::JsEmpty;

/// A custom claim of an M2M client (`{key, value}`), as the official SDK returns them.
#[napi(object, js_name = "CustomClaim")]
#[derive(Debug)]
pub struct JsCustomClaim {
    /// Claim name.
    pub key: String,
    /// Claim value.
    pub value: String,
}

/// Metadata of a client secret (the plain secret is only in create responses).
#[napi(object, js_name = "ClientSecret")]
#[derive(Debug)]
pub struct JsClientSecret {
    /// `sks_…`
    pub id: String,
    /// When it was created.
    pub create_time: DateTime<Utc>,
    /// When it was last changed.
    pub update_time: DateTime<Utc>,
    /// The last four characters of the plain secret.
    pub secret_suffix: String,
    /// Who created it, when known.
    pub created_by: Option<String>,
    /// `ClientSecretStatus`: 0 = ACTIVE, 1 = INACTIVE.
    #[napi(ts_type = "0 | 1")]
    pub status: u32,
    /// When it stops working, if ever.
    pub expire_time: Option<DateTime<Utc>>,
    /// Last use at the token endpoint.
    pub last_used_time: Option<DateTime<Utc>>,
}

impl From<ClientSecret> for JsClientSecret {
    fn from(s: ClientSecret) -> Self {
        JsClientSecret {
            id: s.id,
            create_time: to_date(s.create_time),
            update_time: to_date(s.update_time),
            secret_suffix: s.secret_suffix,
            created_by: s.created_by,
            status: match s.status {
                SecretStatus::Active => 0,
                SecretStatus::Inactive => 1,
            },
            expire_time: s.expire_time.map(to_date),
            last_used_time: s.last_used_time.map(to_date),
        }
    }
}

/// An organization's M2M client (Scalekit's `M2MClient` message).
#[napi(object, js_name = "M2MClient")]
#[derive(Debug)]
pub struct JsM2MClient {
    /// `m2morg_…`: the OAuth `client_id`.
    pub client_id: String,
    /// Its secrets (metadata only).
    pub secrets: Vec<JsClientSecret>,
    /// Display name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// `org_…`
    pub organization_id: String,
    /// When it was created.
    pub create_time: DateTime<Utc>,
    /// When it was last changed.
    pub update_time: DateTime<Utc>,
    /// Scopes it may request.
    pub scopes: Vec<String>,
    /// Audiences of its tokens.
    pub audience: Vec<String>,
    /// Claims copied into its tokens.
    pub custom_claims: Vec<JsCustomClaim>,
    /// Access-token lifetime in seconds.
    pub expiry: i64,
}

impl From<M2MClient> for JsM2MClient {
    fn from(c: M2MClient) -> Self {
        JsM2MClient {
            client_id: c.client_id,
            secrets: c.secrets.into_iter().map(Into::into).collect(),
            name: c.name,
            description: c.description,
            organization_id: c.organization_id,
            create_time: to_date(c.create_time),
            update_time: to_date(c.update_time),
            scopes: c.scopes,
            audience: c.audience,
            custom_claims: c
                .custom_claims
                .into_iter()
                .map(|c| JsCustomClaim {
                    key: c.key,
                    value: c.value,
                })
                .collect(),
            expiry: c.expiry,
        }
    }
}

/// Options of `createOrganizationClient` / `updateOrganizationClient`.
#[napi(object, js_name = "OrganizationClientOptions")]
#[derive(Debug, Default)]
pub struct JsOrganizationClientOptions {
    /// Display name (required on create).
    pub name: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Scopes the client may request.
    pub scopes: Option<Vec<String>>,
    /// Audiences put in `aud`.
    pub audience: Option<Vec<String>>,
    /// Claims copied into `custom_claims` of its tokens (replaced as a whole on update).
    pub custom_claims: Option<HashMap<String, String>>,
    /// Access-token lifetime in seconds (default 3600).
    pub expiry: Option<i64>,
}

/// The core input of create/update from the JavaScript options.
fn organization_client(options: Option<JsOrganizationClientOptions>) -> OrganizationClient {
    let o = options.unwrap_or_default();
    let custom_claims = o.custom_claims.map(|claims| {
        let mut claims: Vec<CustomClaim> = claims
            .into_iter()
            .map(|(key, value)| CustomClaim { key, value })
            .collect();
        // HashMap order is random; keep the stored order stable.
        claims.sort_by(|a, b| a.key.cmp(&b.key));
        claims
    });
    OrganizationClient {
        name: o.name,
        description: o.description,
        scopes: o.scopes,
        audience: o.audience,
        custom_claims,
        expiry: o.expiry,
    }
}

/// Result of `createOrganizationClient`; `plainSecret` is shown once.
#[napi(object, js_name = "CreateOrganizationClientResponse")]
#[derive(Debug)]
pub struct JsCreateOrganizationClientResponse {
    /// The new client.
    pub client: JsM2MClient,
    /// Its first secret.
    pub plain_secret: String,
}

/// Result of get/update.
#[napi(object, js_name = "OrganizationClientResponse")]
#[derive(Debug)]
pub struct JsOrganizationClientResponse {
    /// The client.
    pub client: JsM2MClient,
}

/// Options of `listOrganizationClients`.
#[napi(object, js_name = "ListOrganizationClientsOptions")]
#[derive(Debug)]
pub struct JsListOrganizationClientsOptions {
    /// Page size.
    pub page_size: Option<u32>,
    /// Token of the page to read.
    pub page_token: Option<String>,
}

/// Result of `listOrganizationClients`.
#[napi(object, js_name = "ListOrganizationClientsResponse")]
#[derive(Debug)]
pub struct JsListOrganizationClientsResponse {
    /// Token of the next page; empty on the last one.
    pub next_page_token: String,
    /// Number of clients of the organization.
    pub total_size: u32,
    /// This page.
    pub clients: Vec<JsM2MClient>,
    /// Token of the previous page; empty on the first one.
    pub prev_page_token: String,
}

/// Result of `addOrganizationClientSecret`; `plainSecret` is shown once.
#[napi(object, js_name = "CreateOrganizationClientSecretResponse")]
#[derive(Debug)]
pub struct JsCreateOrganizationClientSecretResponse {
    /// The new secret.
    pub plain_secret: String,
    /// Its metadata.
    pub secret: JsClientSecret,
}

/// `scalekit.m2m`: an organization's M2M clients and their secrets.
#[napi(js_name = "NativeM2MClient")]
#[derive(Debug)]
pub struct JsM2MClientApi {
    pub(crate) api: Arc<dyn AuthApi>,
}

#[napi]
impl JsM2MClientApi {
    /// Registers an M2M client.
    #[napi(ts_return_type = "Promise<CreateOrganizationClientResponse>")]
    pub fn create_organization_client<'env>(
        &self,
        env: &'env Env,
        organization_id: String,
        options: Option<JsOrganizationClientOptions>,
    ) -> Result<PromiseRaw<'env, JsCreateOrganizationClientResponse>> {
        let api = self.api.clone();
        let input = organization_client(options);
        spawn(env, async move {
            let r = api.create_organization_client(&organization_id, input).await?;
            Ok(JsCreateOrganizationClientResponse {
                client: r.client.into(),
                plain_secret: r.plain_secret.into_inner(),
            })
        })
    }

    /// Gets an M2M client.
    #[napi(ts_return_type = "Promise<OrganizationClientResponse>")]
    pub fn get_organization_client<'env>(
        &self,
        env: &'env Env,
        organization_id: String,
        client_id: String,
    ) -> Result<PromiseRaw<'env, JsOrganizationClientResponse>> {
        let api = self.api.clone();
        spawn(env, async move {
            let client = api.get_organization_client(&organization_id, &client_id).await?;
            Ok(JsOrganizationClientResponse {
                client: client.into(),
            })
        })
    }

    /// Updates an M2M client: fields left out keep their value.
    #[napi(ts_return_type = "Promise<OrganizationClientResponse>")]
    pub fn update_organization_client<'env>(
        &self,
        env: &'env Env,
        organization_id: String,
        client_id: String,
        options: Option<JsOrganizationClientOptions>,
    ) -> Result<PromiseRaw<'env, JsOrganizationClientResponse>> {
        let api = self.api.clone();
        let input = organization_client(options);
        spawn(env, async move {
            let client = api
                .update_organization_client(&organization_id, &client_id, input)
                .await?;
            Ok(JsOrganizationClientResponse {
                client: client.into(),
            })
        })
    }

    /// Deletes an M2M client and its secrets.
    #[napi(ts_return_type = "Promise<Empty>")]
    pub fn delete_organization_client<'env>(
        &self,
        env: &'env Env,
        organization_id: String,
        client_id: String,
    ) -> Result<PromiseRaw<'env, JsEmpty>> {
        let api = self.api.clone();
        spawn(env, async move {
            api.delete_organization_client(&organization_id, &client_id)
                .await?;
            Ok(JsEmpty::default())
        })
    }

    /// Lists the M2M clients of an organization.
    #[napi(ts_return_type = "Promise<ListOrganizationClientsResponse>")]
    pub fn list_organization_clients<'env>(
        &self,
        env: &'env Env,
        organization_id: String,
        options: Option<JsListOrganizationClientsOptions>,
    ) -> Result<PromiseRaw<'env, JsListOrganizationClientsResponse>> {
        let api = self.api.clone();
        let (page_size, page_token) = options.map_or((None, None), |o| (o.page_size, o.page_token));
        spawn(env, async move {
            let r = api
                .list_organization_clients(&organization_id, page_size, page_token)
                .await?;
            Ok(JsListOrganizationClientsResponse {
                next_page_token: r.next_page_token,
                total_size: r.total_size,
                clients: r.clients.into_iter().map(Into::into).collect(),
                prev_page_token: r.prev_page_token,
            })
        })
    }

    /// Adds a secret to a client.
    #[napi(ts_return_type = "Promise<CreateOrganizationClientSecretResponse>")]
    pub fn add_organization_client_secret<'env>(
        &self,
        env: &'env Env,
        organization_id: String,
        client_id: String,
    ) -> Result<PromiseRaw<'env, JsCreateOrganizationClientSecretResponse>> {
        let api = self.api.clone();
        spawn(env, async move {
            let r = api
                .add_organization_client_secret(&organization_id, &client_id)
                .await?;
            Ok(JsCreateOrganizationClientSecretResponse {
                plain_secret: r.plain_secret.into_inner(),
                secret: r.secret.into(),
            })
        })
    }

    /// Removes a secret (never the last one).
    #[napi(ts_return_type = "Promise<Empty>")]
    pub fn remove_organization_client_secret<'env>(
        &self,
        env: &'env Env,
        organization_id: String,
        client_id: String,
        secret_id: String,
    ) -> Result<PromiseRaw<'env, JsEmpty>> {
        let api = self.api.clone();
        spawn(env, async move {
            api.remove_organization_client_secret(&organization_id, &client_id, &secret_id)
                .await?;
            Ok(JsEmpty::default())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_map_to_the_core_input_with_claims_in_a_stable_order() {
        assert_eq!(organization_client(None), OrganizationClient::default());
        let input = organization_client(Some(JsOrganizationClientOptions {
            name: Some("svc".into()),
            description: None,
            scopes: Some(vec!["a:b".into()]),
            audience: None,
            custom_claims: Some(HashMap::from([
                ("z".to_owned(), "1".to_owned()),
                ("a".to_owned(), "2".to_owned()),
            ])),
            expiry: Some(600),
        }));
        assert_eq!(input.name.as_deref(), Some("svc"));
        assert_eq!(input.audience, None, "left out = unchanged on update");
        let keys: Vec<_> = input.custom_claims.unwrap().into_iter().map(|c| c.key).collect();
        assert_eq!(keys, ["a", "z"]);
        assert_eq!(input.expiry, Some(600));
    }
}
