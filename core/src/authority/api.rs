//! `AuthApi` on the store: organizations, users, API keys and M2M clients; the grant and the
//! JWKS delegate to `grant.rs` and `rotation.rs`.

use std::net::IpAddr;

use async_trait::async_trait;
use futures::FutureExt;

use super::paging::scope;
use super::ratelimit::Decision;
use super::{Authority, limits, now, to_json, truncate_ms};
use crate::api::AuthApi;
use crate::error::{Error, Result};
use crate::keys;
use crate::model::{
    AccessTokenResponse, CreateOrganization, CreateOrganizationClientResponse,
    CreateOrganizationClientSecretResponse, CreateToken, CreateTokenResponse, CreateUser, JwkSet,
    ListAuditEvents, ListAuditEventsResponse, ListOrganizationClientsResponse, ListOrganizations,
    ListOrganizationsResponse, ListTokens, ListTokensResponse, ListUsersResponse, M2MClient, MembershipInput,
    Organization, OrganizationClient, RateLimit, RotateToken, TokenInfo, UpdateOrganization, UpdateToken,
    UpdateUser, User, UserRef, ValidateOptions,
};
use crate::policy::network::IpNet;
use crate::store::{
    ClientPatch, KeyPatch, KeyRef, KeyRotation, NewApiKey, NewClient, NewMembership, RotatedKey, StoreKind,
    StoredKey, unix_ms,
};

#[async_trait]
impl AuthApi for Authority {
    // --- organizations and users ---------------------------------------------------------

    async fn create_organization(&self, input: CreateOrganization) -> Result<Organization> {
        limits::len_in("display_name", &input.display_name, limits::ORG_NAME_LEN)?;
        if input.display_name.trim().is_empty() {
            return Err(Error::invalid("display_name", "must not be blank"));
        }
        let external_id = limits::optional(input.external_id, limits::external_id)?;
        let t = truncate_ms(now())?;
        let org = Organization {
            id: keys::new_id(keys::ORGANIZATION_ID_PREFIX),
            display_name: input.display_name,
            external_id,
            create_time: t,
            update_time: t,
        };
        self.store()
            .insert_organization(
                org.clone(),
                self.audit("organization.create", Some(&org.id), &[&org.id]),
            )
            .await?;
        Ok(org)
    }

    async fn get_organization(&self, organization_id: &str) -> Result<Organization> {
        limits::org_id(organization_id)?;
        self.require_org(organization_id).await
    }

    async fn list_organizations(&self, input: ListOrganizations) -> Result<ListOrganizationsResponse> {
        let size = limits::page_size(input.page_size, limits::PAGE_SIZE)?;
        let external_id = limits::non_empty(input.external_id);
        let scope = scope("organizations", &[external_id.as_deref()]);
        let cursor = self.cursor(&scope, input.page_token.as_deref())?;
        let page = self.store().list_organizations(external_id, cursor, size).await?;
        let (next_page_token, prev_page_token) = self.page_tokens(&scope, &page);
        Ok(ListOrganizationsResponse {
            next_page_token,
            total_size: page.total as u32,
            organizations: page.items.into_iter().map(|(_, o)| o).collect(),
            prev_page_token,
        })
    }

    async fn delete_organization(&self, organization_id: &str) -> Result<()> {
        limits::org_id(organization_id)?;
        if !self
            .store()
            .delete_organization(
                organization_id.to_owned(),
                self.audit("organization.delete", Some(organization_id), &[organization_id]),
            )
            .await?
        {
            return Err(Error::not_found("organization", organization_id));
        }
        Ok(())
    }

    async fn create_user_and_membership(&self, organization_id: &str, input: CreateUser) -> Result<User> {
        limits::org_id(organization_id)?;
        let email = limits::email(&input.email)?;
        let external_id = limits::optional(input.external_id, limits::external_id)?;
        let roles = limits::roles(&input.roles)?;
        self.store()
            .add_membership(
                NewMembership {
                    organization_id: organization_id.to_owned(),
                    new_user_id: keys::new_id(keys::USER_ID_PREFIX),
                    email,
                    external_id,
                    roles_json: to_json(&roles)?,
                    now_ms: unix_ms(now()),
                },
                self.audit("user.create", Some(organization_id), &[]),
            )
            .await
    }

    async fn list_organization_users(
        &self,
        organization_id: &str,
        page_size: Option<u32>,
        page_token: Option<String>,
    ) -> Result<ListUsersResponse> {
        limits::org_id(organization_id)?;
        let size = limits::page_size(page_size, limits::PAGE_SIZE)?;
        let scope = scope("users", &[Some(organization_id)]);
        let cursor = self.cursor(&scope, page_token.as_deref())?;
        self.require_org(organization_id).await?;
        let page = self
            .store()
            .list_organization_users(organization_id.to_owned(), cursor, size)
            .await?;
        let (next_page_token, prev_page_token) = self.page_tokens(&scope, &page);
        Ok(ListUsersResponse {
            next_page_token,
            total_size: page.total as u32,
            users: page.items.into_iter().map(|(_, u)| u).collect(),
            prev_page_token,
        })
    }

    async fn update_organization(
        &self,
        organization_id: &str,
        input: UpdateOrganization,
    ) -> Result<Organization> {
        limits::org_id(organization_id)?;
        if input.display_name.is_none() && input.external_id.is_none() {
            return Err(Error::invalid(
                "organization",
                "nothing to update: give display_name and/or external_id",
            ));
        }
        if let Some(name) = &input.display_name {
            limits::len_in("display_name", name, limits::ORG_NAME_LEN)?;
            if name.trim().is_empty() {
                return Err(Error::invalid("display_name", "must not be blank"));
            }
        }
        // `Some("")` removes the external id.
        let external_id = match input.external_id {
            None => None,
            Some(e) if e.is_empty() => Some(None),
            Some(e) => {
                limits::external_id(&e)?;
                Some(Some(e))
            }
        };
        self.store()
            .update_organization(
                organization_id.to_owned(),
                input.display_name,
                external_id,
                unix_ms(now()),
                self.audit("organization.update", Some(organization_id), &[organization_id]),
            )
            .await?
            .ok_or_else(|| Error::not_found("organization", organization_id))
    }

    async fn get_user(&self, user: &UserRef) -> Result<User> {
        limits::user_ref(user)?;
        self.store()
            .get_user(user.clone())
            .await?
            .ok_or_else(|| Error::not_found("user", user.to_string()))
    }

    async fn list_users(
        &self,
        page_size: Option<u32>,
        page_token: Option<String>,
    ) -> Result<ListUsersResponse> {
        let size = limits::page_size(page_size, limits::PAGE_SIZE)?;
        let scope = scope("all-users", &[]);
        let cursor = self.cursor(&scope, page_token.as_deref())?;
        let page = self.store().list_users(cursor, size).await?;
        let (next_page_token, prev_page_token) = self.page_tokens(&scope, &page);
        Ok(ListUsersResponse {
            next_page_token,
            total_size: page.total as u32,
            users: page.items.into_iter().map(|(_, u)| u).collect(),
            prev_page_token,
        })
    }

    async fn update_user(&self, user: &UserRef, input: UpdateUser) -> Result<User> {
        limits::user_ref(user)?;
        // `Some("")` removes the external id.
        let external_id = match input.external_id {
            None => return Err(Error::invalid("user", "nothing to update: give external_id")),
            Some(e) if e.is_empty() => None,
            Some(e) => {
                limits::external_id(&e)?;
                Some(e)
            }
        };
        self.store()
            .update_user(
                user.clone(),
                external_id,
                unix_ms(now()),
                self.audit("user.update", None, &[]),
            )
            .await?
            .ok_or_else(|| Error::not_found("user", user.to_string()))
    }

    async fn delete_user(&self, user: &UserRef) -> Result<()> {
        limits::user_ref(user)?;
        let deleted = self
            .store()
            .delete_user(user.clone(), self.audit("user.delete", None, &[]))
            .await?;
        if deleted.is_none() {
            return Err(Error::not_found("user", user.to_string()));
        }
        Ok(())
    }

    async fn create_membership(
        &self,
        organization_id: &str,
        user: &UserRef,
        input: MembershipInput,
    ) -> Result<User> {
        limits::org_id(organization_id)?;
        limits::user_ref(user)?;
        let roles = limits::roles(&input.roles)?;
        self.store()
            .insert_membership(
                organization_id.to_owned(),
                user.clone(),
                to_json(&roles)?,
                unix_ms(now()),
                self.audit("membership.create", Some(organization_id), &[]),
            )
            .await
    }

    async fn update_membership(
        &self,
        organization_id: &str,
        user: &UserRef,
        input: MembershipInput,
    ) -> Result<User> {
        limits::org_id(organization_id)?;
        limits::user_ref(user)?;
        let roles = limits::roles(&input.roles)?;
        self.store()
            .update_membership(
                organization_id.to_owned(),
                user.clone(),
                to_json(&roles)?,
                self.audit("membership.update", Some(organization_id), &[]),
            )
            .await
    }

    async fn delete_membership(&self, organization_id: &str, user: &UserRef) -> Result<()> {
        limits::org_id(organization_id)?;
        limits::user_ref(user)?;
        self.store()
            .delete_membership(
                organization_id.to_owned(),
                user.clone(),
                self.audit("membership.delete", Some(organization_id), &[]),
            )
            .await?;
        Ok(())
    }

    // --- API keys ------------------------------------------------------------------------

    async fn create_token(&self, input: CreateToken) -> Result<CreateTokenResponse> {
        limits::org_id(&input.organization_id)?;
        let user_id = limits::optional(input.user_id, limits::user_id)?;
        limits::token_claims(&input.custom_claims)?;
        let description = limits::optional(input.description, limits::token_description)?;
        let allowed_cidrs_json = cidrs_json(input.allowed_cidrs.as_deref())?;
        if let Some(rate) = &input.rate_limit {
            limits::rate_limit(rate)?;
        }
        let created = now();
        let expiry_ms = match input.expiry {
            Some(e) if e <= created => return Err(Error::invalid("expiry", "must be in the future")),
            Some(e) => Some(unix_ms(e)),
            None => None,
        };
        let key = keys::generate_api_key();
        let id = keys::new_id(keys::TOKEN_ID_PREFIX);
        let audit = self.audit("api_key.create", Some(&input.organization_id), &[&id]);
        let info = self
            .store()
            .insert_api_key(
                NewApiKey {
                    id,
                    digest: self.inner.digester.digest(key.expose()),
                    organization_id: input.organization_id,
                    user_id,
                    custom_claims_json: to_json(&input.custom_claims)?,
                    description,
                    token_suffix: keys::suffix(key.expose()),
                    expiry_ms,
                    now_ms: unix_ms(created),
                    allowed_cidrs_json,
                    rate_limit: input.rate_limit,
                },
                audit,
            )
            .await?;
        Ok(CreateTokenResponse {
            token: key,
            token_id: info.token_id.clone(),
            token_info: info,
        })
    }

    async fn validate_token_with(&self, token: &str, options: &ValidateOptions) -> Result<TokenInfo> {
        let (key, at_ms) = self.find_live_key(token).await?;
        match self.admit(key, options, at_ms)? {
            Admission::Admitted(info) => Ok(info),
            Admission::Lease(lease) => self.admit_leased(lease).await,
        }
    }

    fn validate_token_now_with(&self, token: &str, options: &ValidateOptions) -> Option<Result<TokenInfo>> {
        // SQLite reads run inline on the calling thread: the lookup is ready on its first poll
        // and touches no runtime. PostgreSQL goes through `validate_token_with` on a runtime,
        // unless the key is malformed (refused before any store access) or the validation cache
        // holds its digest (the lookup is then ready on its first poll too; if the entry went in
        // between, the future is pending and dropped: `None`, the caller asks on a runtime).
        let found = match self.store_kind() {
            StoreKind::Sqlite => self.find_live_key(token).now_or_never()?,
            _ if !keys::is_api_key(token) => return Some(Err(Error::TokenValidationFailed)),
            _ if self.store().holds_api_key(&self.inner.digester.digest(token)) => {
                self.find_live_key(token).now_or_never()?
            }
            _ => return None,
        };
        let (key, at_ms) = match found {
            Ok(found) => found,
            Err(e) => return Some(Err(e)),
        };
        // A rate limit that needs budget from the store (PostgreSQL) is not decided here: a
        // lease taken and then dropped unfinished would be lost. Nothing was counted yet.
        match self.admit(key, options, at_ms) {
            Ok(Admission::Admitted(info)) => Some(Ok(info)),
            Ok(Admission::Lease(_)) => None,
            Err(e) => Some(Err(e)),
        }
    }

    async fn lookup_token(&self, token_id: &str) -> Result<TokenInfo> {
        if !keys::is_id(token_id, keys::TOKEN_ID_PREFIX, keys::MAX_ID_LEN) {
            return Err(Error::TokenValidationFailed);
        }
        let key = self.store().find_api_key(KeyRef::Id(token_id.to_owned())).await?;
        live_key(key, now()).map(|k| k.info)
    }

    async fn list_tokens(&self, input: ListTokens) -> Result<ListTokensResponse> {
        limits::org_id(&input.organization_id)?;
        let user_id = limits::optional(input.user_id, limits::user_id)?;
        let size = limits::page_size(input.page_size, limits::TOKEN_PAGE_SIZE)?;
        let revoked_too = input.include_revoked.then_some("include_revoked");
        let unused_since_ms = input.unused_since.map(unix_ms);
        let unused_since = unused_since_ms.map(|t| t.to_string());
        let scope = scope(
            "tokens",
            &[
                Some(&input.organization_id),
                user_id.as_deref(),
                revoked_too,
                unused_since.as_deref(),
            ],
        );
        let cursor = self.cursor(&scope, input.page_token.as_deref())?;
        self.require_org(&input.organization_id).await?;
        if let Some(u) = &user_id
            && !self.store().user_exists(u.clone()).await?
        {
            return Err(Error::not_found("user", u));
        }
        let now_ms = unix_ms(now());
        let live_at_ms = if input.include_revoked { i64::MIN } else { now_ms };
        let page = self
            .store()
            .list_api_keys(
                input.organization_id,
                user_id,
                live_at_ms,
                unused_since_ms.unwrap_or(i64::MAX),
                cursor,
                size,
            )
            .await?;
        let (next_page_token, prev_page_token) = self.page_tokens(&scope, &page);
        Ok(ListTokensResponse {
            total_count: page.total as u32,
            tokens: page
                .items
                .into_iter()
                .map(|(_, k)| k.settle(now_ms))
                .collect::<Result<_>>()?,
            next_page_token,
            prev_page_token,
        })
    }

    async fn update_token(&self, input: UpdateToken) -> Result<TokenInfo> {
        let by = self.key_ref(&input.token)?;
        let allowed_cidrs_json = match &input.allowed_cidrs {
            None => None,
            Some(list) => Some(cidrs_json(list.as_deref())?),
        };
        if let Some(Some(rate)) = &input.rate_limit {
            limits::rate_limit(rate)?;
        }
        let claims_json = match &input.custom_claims {
            Some(claims) => {
                limits::token_claims(claims)?;
                Some(to_json(claims)?)
            }
            None => None,
        };
        let description = match input.description {
            None => None,
            Some(d) if d.is_empty() => Some(None),
            Some(d) => {
                limits::token_description(&d)?;
                Some(Some(d))
            }
        };
        let now_ms = unix_ms(now());
        let id = self.live_key_id(&by, now_ms).await?;
        self.store()
            .update_api_key(
                id.clone(),
                KeyPatch {
                    custom_claims_json: claims_json,
                    description,
                    allowed_cidrs_json,
                    rate_limit: input.rate_limit,
                },
                now_ms,
                self.audit("api_key.update", None, &[&id]),
            )
            .await?
            .ok_or_else(|| key_not_found(&by))
    }

    async fn rotate_token(&self, input: RotateToken) -> Result<CreateTokenResponse> {
        let by = self.key_ref(&input.token)?;
        let grace = limits::rotation_grace(input.grace_period_seconds)?;
        if let Some(rate) = &input.rate_limit {
            limits::rate_limit(rate)?;
        }
        let rotated = now();
        let now_ms = unix_ms(rotated);
        let old_id = self.live_key_id(&by, now_ms).await?;
        let audit = self.audit("api_key.rotate", None, &[&old_id]);
        let key = keys::generate_api_key();
        let new_key = RotatedKey {
            id: keys::new_id(keys::TOKEN_ID_PREFIX),
            digest: self.inner.digester.digest(key.expose()),
            suffix: keys::suffix(key.expose()),
            rate_limit: input.rate_limit,
        };
        let outcome = self
            .store()
            .rotate_api_key(old_id, new_key, now_ms + grace * 1000, now_ms, audit)
            .await?;
        let info = match outcome {
            KeyRotation::Done(info) => *info,
            KeyRotation::NotFound => return Err(key_not_found(&by)),
            KeyRotation::Expired => {
                return Err(Error::FailedPrecondition(
                    "this key has expired: create a new key instead".into(),
                ));
            }
            KeyRotation::AlreadyRotated(to) => {
                return Err(Error::FailedPrecondition(format!(
                    "this key was already rotated (to {to}): rotate that key instead"
                )));
            }
        };
        Ok(CreateTokenResponse {
            token: key,
            token_id: info.token_id.clone(),
            token_info: info,
        })
    }

    async fn invalidate_token(&self, token: &str) -> Result<()> {
        let by = self.key_ref(token)?;
        // The event names the key by id (never the key) and its organization.
        let audit = match self.store().find_api_key(by.clone()).await? {
            Some(k) => self.audit(
                "api_key.revoke",
                Some(&k.info.organization_id),
                &[&k.info.token_id],
            ),
            None => self.audit("api_key.revoke", None, &[]),
        };
        if self
            .store()
            .revoke_api_key(by.clone(), unix_ms(now()), audit)
            .await?
        {
            return Ok(());
        }
        Err(key_not_found(&by))
    }

    // --- M2M clients ---------------------------------------------------------------------

    async fn create_organization_client(
        &self,
        organization_id: &str,
        client: OrganizationClient,
    ) -> Result<CreateOrganizationClientResponse> {
        limits::org_id(organization_id)?;
        let name = client.name.unwrap_or_default();
        limits::len_in("name", &name, limits::CLIENT_NAME_LEN)?;
        let description = client.description.unwrap_or_default();
        limits::len_in("description", &description, (0, limits::CLIENT_MAX_DESCRIPTION))?;
        let scopes = limits::scopes(client.scopes.as_deref().unwrap_or_default())?;
        let audience = limits::audiences(client.audience.as_deref().unwrap_or_default())?;
        let claims = client.custom_claims.unwrap_or_default();
        limits::client_claims(&claims)?;
        let expiry = limits::client_expiry(client.expiry)?.unwrap_or(limits::CLIENT_EXPIRY.2);

        let secret = keys::generate_client_secret();
        let now_ms = unix_ms(now());
        let id = keys::new_id(keys::M2M_CLIENT_ID_PREFIX);
        let first = self.new_secret(keys::SECRET_ID_PREFIX, &secret);
        let audit = self.audit("client.create", Some(organization_id), &[&id, &first.id]);
        let created = self
            .store()
            .insert_client(
                NewClient {
                    id,
                    organization_id: organization_id.to_owned(),
                    name,
                    description,
                    scopes_json: to_json(&scopes)?,
                    audience_json: to_json(&audience)?,
                    custom_claims_json: to_json(&claims)?,
                    expiry,
                    now_ms,
                },
                first,
                audit,
            )
            .await?;
        Ok(CreateOrganizationClientResponse {
            client: created,
            plain_secret: secret,
        })
    }

    async fn get_organization_client(&self, organization_id: &str, client_id: &str) -> Result<M2MClient> {
        limits::client_ids(organization_id, client_id)?;
        self.store()
            .get_client(organization_id.to_owned(), client_id.to_owned())
            .await?
            .ok_or_else(|| Error::not_found("client", client_id))
    }

    async fn update_organization_client(
        &self,
        organization_id: &str,
        client_id: &str,
        client: OrganizationClient,
    ) -> Result<M2MClient> {
        limits::client_ids(organization_id, client_id)?;
        if let Some(name) = &client.name {
            limits::len_in("name", name, limits::CLIENT_NAME_LEN)?;
        }
        if let Some(d) = &client.description {
            limits::len_in("description", d, (0, limits::CLIENT_MAX_DESCRIPTION))?;
        }
        let patch = ClientPatch {
            name: client.name,
            description: client.description,
            scopes_json: client
                .scopes
                .map(|s| limits::scopes(&s).and_then(|s| to_json(&s)))
                .transpose()?,
            audience_json: client
                .audience
                .map(|a| limits::audiences(&a).and_then(|a| to_json(&a)))
                .transpose()?,
            custom_claims_json: client
                .custom_claims
                .map(|c| limits::client_claims(&c).and_then(|()| to_json(&c)))
                .transpose()?,
            expiry: limits::client_expiry(client.expiry)?,
            now_ms: unix_ms(now()),
        };
        self.store()
            .update_client(
                organization_id.to_owned(),
                client_id.to_owned(),
                patch,
                self.audit("client.update", Some(organization_id), &[client_id]),
            )
            .await?
            .ok_or_else(|| Error::not_found("client", client_id))
    }

    async fn delete_organization_client(&self, organization_id: &str, client_id: &str) -> Result<()> {
        limits::client_ids(organization_id, client_id)?;
        if !self
            .store()
            .delete_client(
                organization_id.to_owned(),
                client_id.to_owned(),
                self.audit("client.delete", Some(organization_id), &[client_id]),
            )
            .await?
        {
            return Err(Error::not_found("client", client_id));
        }
        Ok(())
    }

    async fn list_organization_clients(
        &self,
        organization_id: &str,
        page_size: Option<u32>,
        page_token: Option<String>,
    ) -> Result<ListOrganizationClientsResponse> {
        limits::org_id(organization_id)?;
        let size = limits::page_size(page_size, limits::CLIENT_PAGE_SIZE)?;
        let scope = scope("clients", &[Some(organization_id)]);
        let cursor = self.cursor(&scope, page_token.as_deref())?;
        self.require_org(organization_id).await?;
        let page = self
            .store()
            .list_clients(organization_id.to_owned(), cursor, size)
            .await?;
        let (next_page_token, prev_page_token) = self.page_tokens(&scope, &page);
        Ok(ListOrganizationClientsResponse {
            next_page_token,
            total_size: page.total as u32,
            clients: page.items.into_iter().map(|(_, c)| c).collect(),
            prev_page_token,
        })
    }

    async fn add_organization_client_secret(
        &self,
        organization_id: &str,
        client_id: &str,
    ) -> Result<CreateOrganizationClientSecretResponse> {
        limits::client_ids(organization_id, client_id)?;
        let plain = keys::generate_client_secret();
        let new = self.new_secret(keys::SECRET_ID_PREFIX, &plain);
        let audit = self.audit(
            "client_secret.create",
            Some(organization_id),
            &[client_id, &new.id],
        );
        let secret = self
            .store()
            .insert_client_secret(
                organization_id.to_owned(),
                client_id.to_owned(),
                new,
                limits::CLIENT_MAX_SECRETS,
                audit,
            )
            .await?;
        Ok(CreateOrganizationClientSecretResponse {
            plain_secret: plain,
            secret,
        })
    }

    async fn remove_organization_client_secret(
        &self,
        organization_id: &str,
        client_id: &str,
        secret_id: &str,
    ) -> Result<()> {
        limits::client_ids(organization_id, client_id)?;
        limits::id("secret_id", secret_id, keys::SECRET_ID_PREFIX)?;
        self.store()
            .delete_client_secret(
                organization_id.to_owned(),
                client_id.to_owned(),
                secret_id.to_owned(),
                self.audit(
                    "client_secret.delete",
                    Some(organization_id),
                    &[client_id, secret_id],
                ),
            )
            .await
    }

    // --- OAuth ---------------------------------------------------------------------------

    async fn issue_client_token(
        &self,
        client_id: &str,
        client_secret: &str,
        scopes: Option<Vec<String>>,
    ) -> Result<AccessTokenResponse> {
        self.grant(client_id, client_secret, scopes).await
    }

    async fn jwks(&self) -> Result<JwkSet> {
        self.jwk_set().await
    }

    // --- audit log -----------------------------------------------------------------------

    async fn list_audit_events(&self, input: ListAuditEvents) -> Result<ListAuditEventsResponse> {
        self.list_audit(input).await
    }
}

/// The record of a key that validates at `at`: it exists, is not revoked and has not expired.
/// Anything else is the one [`Error::TokenValidationFailed`].
/// What [`Authority::admit`] decided.
enum Admission {
    /// The key validates.
    Admitted(TokenInfo),
    /// The key's rate limit needs budget from the store first.
    Lease(Lease),
}

/// A validation waiting for rate-limit budget from the store.
struct Lease {
    info: TokenInfo,
    rate: RateLimit,
    start_ms: i64,
    want: u64,
    now_ms: i64,
}

/// A key's networks as stored: canonical, as a JSON array (`None` for any address).
fn cidrs_json(list: Option<&[String]>) -> Result<Option<String>> {
    list.map(|l| to_json(&limits::allowed_cidrs(l)?)).transpose()
}

/// Whether a key restricted to `networks` may be used from `client_ip` (never without an address).
fn address_allowed(networks: &[IpNet], client_ip: Option<IpAddr>) -> bool {
    client_ip.is_some_and(|ip| networks.iter().any(|net| net.contains(ip)))
}

fn live_key(key: Option<StoredKey>, at: time::OffsetDateTime) -> Result<StoredKey> {
    match key {
        Some(key) if !key.revoked(unix_ms(at)) && key.info.expiry.is_none_or(|e| e > at) => Ok(key),
        _ => Err(Error::TokenValidationFailed),
    }
}

/// `not_found` for a key addressed by id or by the key itself (never echoed).
fn key_not_found(by: &KeyRef) -> Error {
    match by {
        KeyRef::Id(id) => Error::not_found("token", id),
        KeyRef::Digest(_) => Error::not_found("token", "<redacted>"),
    }
}

impl Authority {
    /// The live key `token` is, from the validation cache where there is one, and when it was
    /// looked at (Unix ms).
    async fn find_live_key(&self, token: &str) -> Result<(StoredKey, i64)> {
        if !keys::is_api_key(token) {
            return Err(Error::TokenValidationFailed);
        }
        let digest = self.inner.digester.digest(token);
        let key = self.store().find_api_key_cached(digest).await?;
        let at = now();
        Ok((live_key(key, at)?, unix_ms(at)))
    }

    /// The checks of a live key that depend on its use: the caller's address against the key's
    /// networks (a refusal is audited, off the request path), then its rate limit, counted in
    /// memory; a key that passes is noted as used. When the limit needs budget from the store
    /// first, nothing is counted and the caller takes it ([`admit_leased`](Self::admit_leased)).
    fn admit(&self, key: StoredKey, options: &ValidateOptions, now_ms: i64) -> Result<Admission> {
        let info = key.info;
        if let Some(networks) = &key.networks
            && !address_allowed(networks, options.client_ip)
        {
            self.note_address_refusal(&info, options.client_ip, now_ms);
            return Err(Error::TokenValidationFailed);
        }
        if let Some(rate) = info.rate_limit {
            match self.inner.rates.take(&info.token_id, rate, now_ms) {
                Decision::Allow => {}
                Decision::Deny(retry_after) => return Err(Error::RateLimited { retry_after }),
                Decision::Lease { start_ms, want } => {
                    return Ok(Admission::Lease(Lease {
                        info,
                        rate,
                        start_ms,
                        want,
                        now_ms,
                    }));
                }
            }
        }
        self.note_key_use(&info.token_id, now_ms);
        Ok(Admission::Admitted(info))
    }

    /// Takes budget for a rate-limited key from the store, then counts the validation.
    async fn admit_leased(&self, lease: Lease) -> Result<TokenInfo> {
        let Lease {
            info,
            rate,
            start_ms,
            want,
            now_ms,
        } = lease;
        let granted = self
            .store()
            .take_rate_budget(info.token_id.clone(), start_ms, rate.limit, want)
            .await?;
        let decided = self
            .inner
            .rates
            .leased(&info.token_id, rate, start_ms, want, granted, unix_ms(now()));
        if let Decision::Deny(retry_after) = decided {
            return Err(Error::RateLimited { retry_after });
        }
        self.note_key_use(&info.token_id, now_ms);
        Ok(info)
    }

    /// The id of the key `by` names when it is not revoked at `now_ms` (expired keys count:
    /// they can still be updated and rotated); `not_found` otherwise.
    async fn live_key_id(&self, by: &KeyRef, now_ms: i64) -> Result<String> {
        match by {
            KeyRef::Id(id) => Ok(id.clone()),
            KeyRef::Digest(_) => match self.store().find_api_key(by.clone()).await? {
                Some(k) if !k.revoked(now_ms) => Ok(k.info.token_id),
                _ => Err(key_not_found(by)),
            },
        }
    }
}
