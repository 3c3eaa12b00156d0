//! The [`AuthApi`] implementation: one method per operation, each a path, a query or body, and
//! the envelope of its answer.

use async_trait::async_trait;
use reqwest::Method;

use super::RemoteClient;
use super::transport::Call;
use crate::api::AuthApi;
use crate::error::{Error, Result};
use crate::model::{
    AccessTokenResponse, CreateOrganization, CreateOrganizationClientResponse,
    CreateOrganizationClientSecretResponse, CreateToken, CreateTokenResponse, CreateUser, JwkSet,
    ListAuditEvents, ListAuditEventsResponse, ListOrganizationClientsResponse, ListOrganizations,
    ListOrganizationsResponse, ListTokens, ListTokensResponse, ListUsersResponse, M2MClient, MembershipInput,
    Organization, OrganizationClient, RotateToken, Secret, TokenInfo, UpdateOrganization, UpdateToken,
    UpdateUser, User, UserRef, ValidateOptions,
};
use crate::wire::envelope::{
    ClientBody, CreateUserBody, Empty, MembershipBody, OrganizationBody, RoleRef, TokenInfoBody, TokenRef,
    UserBody, ValidateRequest,
};

/// Longest API key sent to `tokens:validate`; longer input fails validation locally.
const MAX_KEY_LEN: usize = 4096;

/// Checks that a value is usable as a path segment id (non-empty, bounded).
fn id_arg<'a>(field: &str, value: &'a str) -> Result<&'a str> {
    if value.is_empty() {
        return Err(Error::invalid(field, "required"));
    }
    if value.len() > 128 || value.chars().any(char::is_control) {
        return Err(Error::invalid(field, "not a valid id"));
    }
    Ok(value)
}

/// The path segments naming a user: `users/{id}` or `users:external/{external_id}`, after
/// `prefix` (the membership routes put the organization before them).
fn user_path<'a>(prefix: &[&'a str], user: &'a UserRef) -> Result<Vec<&'a str>> {
    let (collection, value) = match user {
        UserRef::Id(id) => ("users", id_arg("user_id", id)?),
        UserRef::ExternalId(e) => ("users:external", id_arg("external_id", e)?),
    };
    Ok([prefix, &[collection, value]].concat())
}

/// The REST body of the membership calls: `{"roles": [{"name": …}]}`.
fn membership_body(input: MembershipInput) -> MembershipBody {
    MembershipBody {
        roles: input.roles.into_iter().map(|name| RoleRef { name }).collect(),
    }
}

#[async_trait]
impl AuthApi for RemoteClient {
    async fn create_organization(&self, input: CreateOrganization) -> Result<Organization> {
        let call = Call::new(Method::POST, &["organizations"]).json(&input)?;
        Ok(self.call::<OrganizationBody>(call).await?.organization)
    }

    async fn get_organization(&self, organization_id: &str) -> Result<Organization> {
        let id = id_arg("organization_id", organization_id)?;
        let call = Call::new(Method::GET, &["organizations", id]);
        Ok(self.call::<OrganizationBody>(call).await?.organization)
    }

    async fn list_organizations(&self, input: ListOrganizations) -> Result<ListOrganizationsResponse> {
        let call = Call::new(Method::GET, &["organizations"])
            .query("page_size", input.page_size)
            .query("page_token", input.page_token)
            .query("external_id", input.external_id);
        self.call(call).await
    }

    async fn delete_organization(&self, organization_id: &str) -> Result<()> {
        let id = id_arg("organization_id", organization_id)?;
        let call = Call::new(Method::DELETE, &["organizations", id]);
        self.call::<Empty>(call).await.map(drop)
    }

    async fn create_user_and_membership(&self, organization_id: &str, input: CreateUser) -> Result<User> {
        let id = id_arg("organization_id", organization_id)?;
        let body = CreateUserBody::from(input);
        let call = Call::new(Method::POST, &["organizations", id, "users"]).json(&body)?;
        Ok(self.call::<UserBody>(call).await?.user)
    }

    async fn list_organization_users(
        &self,
        organization_id: &str,
        page_size: Option<u32>,
        page_token: Option<String>,
    ) -> Result<ListUsersResponse> {
        let id = id_arg("organization_id", organization_id)?;
        let call = Call::new(Method::GET, &["organizations", id, "users"])
            .query("page_size", page_size)
            .query("page_token", page_token);
        self.call(call).await
    }

    async fn update_organization(
        &self,
        organization_id: &str,
        input: UpdateOrganization,
    ) -> Result<Organization> {
        let id = id_arg("organization_id", organization_id)?;
        if input.display_name.is_none() && input.external_id.is_none() {
            return Err(Error::invalid(
                "organization",
                "nothing to update: give display_name and/or external_id",
            ));
        }
        let call = Call::new(Method::PATCH, &["organizations", id]).json(&input)?;
        Ok(self.call::<OrganizationBody>(call).await?.organization)
    }

    async fn get_user(&self, user: &UserRef) -> Result<User> {
        let call = Call::new(Method::GET, &user_path(&[], user)?);
        Ok(self.call::<UserBody>(call).await?.user)
    }

    async fn list_users(
        &self,
        page_size: Option<u32>,
        page_token: Option<String>,
    ) -> Result<ListUsersResponse> {
        let call = Call::new(Method::GET, &["users"])
            .query("page_size", page_size)
            .query("page_token", page_token);
        self.call(call).await
    }

    async fn update_user(&self, user: &UserRef, input: UpdateUser) -> Result<User> {
        if input.external_id.is_none() {
            return Err(Error::invalid("user", "nothing to update: give external_id"));
        }
        let call = Call::new(Method::PATCH, &user_path(&[], user)?).json(&input)?;
        Ok(self.call::<UserBody>(call).await?.user)
    }

    async fn delete_user(&self, user: &UserRef) -> Result<()> {
        let call = Call::new(Method::DELETE, &user_path(&[], user)?);
        self.call::<Empty>(call).await.map(drop)
    }

    async fn create_membership(
        &self,
        organization_id: &str,
        user: &UserRef,
        input: MembershipInput,
    ) -> Result<User> {
        let org = id_arg("organization_id", organization_id)?;
        let path = user_path(&["memberships", "organizations", org], user)?;
        let call = Call::new(Method::POST, &path).json(&membership_body(input))?;
        Ok(self.call::<UserBody>(call).await?.user)
    }

    async fn update_membership(
        &self,
        organization_id: &str,
        user: &UserRef,
        input: MembershipInput,
    ) -> Result<User> {
        let org = id_arg("organization_id", organization_id)?;
        let path = user_path(&["memberships", "organizations", org], user)?;
        let call = Call::new(Method::PATCH, &path).json(&membership_body(input))?;
        Ok(self.call::<UserBody>(call).await?.user)
    }

    async fn delete_membership(&self, organization_id: &str, user: &UserRef) -> Result<()> {
        let org = id_arg("organization_id", organization_id)?;
        let path = user_path(&["memberships", "organizations", org], user)?;
        let call = Call::new(Method::DELETE, &path);
        self.call::<Empty>(call).await.map(drop)
    }

    async fn create_token(&self, input: CreateToken) -> Result<CreateTokenResponse> {
        id_arg("organization_id", &input.organization_id)?;
        let call = Call::new(Method::POST, &["tokens"]).json(&input)?;
        self.call(call).await
    }

    async fn validate_token_with(&self, token: &str, options: &ValidateOptions) -> Result<TokenInfo> {
        // Refused locally, before any network access: what cannot be a key.
        if token.is_empty()
            || token.len() > MAX_KEY_LEN
            || token.starts_with("apit_")
            || token.bytes().any(|b| !b.is_ascii_graphic())
        {
            return Err(Error::TokenValidationFailed);
        }
        self.tokens_validate(token, options.client_ip).await
    }

    async fn lookup_token(&self, token_id: &str) -> Result<TokenInfo> {
        if !token_id.starts_with("apit_")
            || token_id.len() > 128
            || token_id.bytes().any(|b| !b.is_ascii_graphic())
        {
            return Err(Error::TokenValidationFailed);
        }
        self.tokens_validate(token_id, None).await
    }

    async fn list_tokens(&self, input: ListTokens) -> Result<ListTokensResponse> {
        id_arg("organization_id", &input.organization_id)?;
        let call = Call::new(Method::GET, &["tokens"])
            .query("organization_id", Some(&input.organization_id))
            .query("user_id", input.user_id.as_ref())
            .query("page_size", input.page_size)
            .query("page_token", input.page_token.as_ref())
            .query("include_revoked", input.include_revoked.then_some(true))
            .query("unused_since", input.unused_since.map(|t| t.unix_timestamp()));
        self.call(call).await
    }

    async fn rotate_token(&self, input: RotateToken) -> Result<CreateTokenResponse> {
        if input.token.is_empty() {
            return Err(Error::invalid("token", "required"));
        }
        // Not idempotent: a retried rotation that had succeeded would be refused (already rotated).
        let call = Call::new(Method::POST, &["tokens:rotate"]).json(&input)?;
        self.call(call).await
    }

    async fn update_token(&self, input: UpdateToken) -> Result<TokenInfo> {
        if input.token.is_empty() {
            return Err(Error::invalid("token", "required"));
        }
        let call = Call::new(Method::POST, &["tokens:update"])
            .json(&input)?
            .idempotent();
        Ok(self.call::<TokenInfoBody>(call).await?.token_info)
    }

    async fn invalidate_token(&self, token: &str) -> Result<()> {
        if token.is_empty() {
            return Err(Error::invalid("token", "required"));
        }
        let call = Call::new(Method::POST, &["tokens:invalidate"])
            .json(&TokenRef {
                token: Secret::new(token),
            })?
            .idempotent();
        self.call::<Empty>(call).await.map(drop)
    }

    async fn create_organization_client(
        &self,
        organization_id: &str,
        client: OrganizationClient,
    ) -> Result<CreateOrganizationClientResponse> {
        let id = id_arg("organization_id", organization_id)?;
        let call = Call::new(Method::POST, &["organizations", id, "clients"]).json(&client)?;
        self.call(call).await
    }

    async fn get_organization_client(&self, organization_id: &str, client_id: &str) -> Result<M2MClient> {
        let org = id_arg("organization_id", organization_id)?;
        let id = id_arg("client_id", client_id)?;
        let call = Call::new(Method::GET, &["organizations", org, "clients", id]);
        Ok(self.call::<ClientBody>(call).await?.client)
    }

    async fn update_organization_client(
        &self,
        organization_id: &str,
        client_id: &str,
        client: OrganizationClient,
    ) -> Result<M2MClient> {
        let org = id_arg("organization_id", organization_id)?;
        let id = id_arg("client_id", client_id)?;
        let call = Call::new(Method::PATCH, &["organizations", org, "clients", id]).json(&client)?;
        Ok(self.call::<ClientBody>(call).await?.client)
    }

    async fn delete_organization_client(&self, organization_id: &str, client_id: &str) -> Result<()> {
        let org = id_arg("organization_id", organization_id)?;
        let id = id_arg("client_id", client_id)?;
        let call = Call::new(Method::DELETE, &["organizations", org, "clients", id]);
        self.call::<Empty>(call).await.map(drop)
    }

    async fn list_organization_clients(
        &self,
        organization_id: &str,
        page_size: Option<u32>,
        page_token: Option<String>,
    ) -> Result<ListOrganizationClientsResponse> {
        let org = id_arg("organization_id", organization_id)?;
        let call = Call::new(Method::GET, &["organizations", org, "clients"])
            .query("page_size", page_size)
            .query("page_token", page_token);
        self.call(call).await
    }

    async fn add_organization_client_secret(
        &self,
        organization_id: &str,
        client_id: &str,
    ) -> Result<CreateOrganizationClientSecretResponse> {
        let org = id_arg("organization_id", organization_id)?;
        let id = id_arg("client_id", client_id)?;
        let call = Call::new(Method::POST, &["organizations", org, "clients", id, "secrets"]);
        self.call(call).await
    }

    async fn remove_organization_client_secret(
        &self,
        organization_id: &str,
        client_id: &str,
        secret_id: &str,
    ) -> Result<()> {
        let org = id_arg("organization_id", organization_id)?;
        let id = id_arg("client_id", client_id)?;
        let secret = id_arg("secret_id", secret_id)?;
        let call = Call::new(
            Method::DELETE,
            &["organizations", org, "clients", id, "secrets", secret],
        );
        self.call::<Empty>(call).await.map(drop)
    }

    async fn issue_client_token(
        &self,
        client_id: &str,
        client_secret: &str,
        scopes: Option<Vec<String>>,
    ) -> Result<AccessTokenResponse> {
        if client_id.is_empty() || client_secret.is_empty() {
            return Err(Error::InvalidClient);
        }
        let body = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "client_credentials")
                .append_pair("client_id", client_id)
                .append_pair("client_secret", client_secret);
            if let Some(scopes) = scopes.filter(|s| !s.is_empty()) {
                form.append_pair("scope", &scopes.join(" "));
            }
            Secret::new(form.finish())
        };
        self.send_public(&["oauth", "token"], Some(&body)).await
    }

    async fn jwks(&self) -> Result<JwkSet> {
        self.send_public(&["keys"], None).await
    }

    async fn list_audit_events(&self, input: ListAuditEvents) -> Result<ListAuditEventsResponse> {
        let rfc3339 = |t: Option<time::OffsetDateTime>, field: &str| {
            t.map(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .map_err(|_| Error::invalid(field, "not representable as RFC 3339"))
            })
            .transpose()
        };
        let call = Call::new(Method::GET, &["audit-events"])
            .query("organization_id", input.organization_id)
            .query("actor", input.actor)
            .query("action", input.action)
            .query("start_time", rfc3339(input.start_time, "start_time")?)
            .query("end_time", rfc3339(input.end_time, "end_time")?)
            .query("page_size", input.page_size)
            .query("page_token", input.page_token);
        self.call(call).await
    }
}

impl RemoteClient {
    /// `POST tokens:validate` with a key or a token id the caller has already screened: a refusal
    /// is a validation failure, not a server error.
    async fn tokens_validate(&self, value: &str, client_ip: Option<std::net::IpAddr>) -> Result<TokenInfo> {
        let mut call = Call::new(Method::POST, &["tokens:validate"])
            .json(&ValidateRequest {
                token: Secret::new(value),
                client_ip: client_ip.map(|ip| ip.to_string()),
            })?
            .idempotent();
        call.validation = true;
        Ok(self.call::<TokenInfoBody>(call).await?.token_info)
    }
}
