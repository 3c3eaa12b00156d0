//! [`AuthApi`]: the one set of operations that every way of running authgate offers.
//!
//! The embedded [`Authority`](crate::authority::Authority) implements it on a store opened
//! in-process; the [`RemoteClient`](crate::remote::RemoteClient) implements it over HTTP against
//! `authgate serve` or a Scalekit environment. The bindings hold an `Arc<dyn AuthApi>` and so
//! offer one API in both modes.

use async_trait::async_trait;

use crate::error::Result;
use crate::model::{
    AccessTokenResponse, CreateOrganization, CreateOrganizationClientResponse,
    CreateOrganizationClientSecretResponse, CreateToken, CreateTokenResponse, CreateUser, JwkSet,
    ListAuditEvents, ListAuditEventsResponse, ListOrganizationClientsResponse, ListOrganizations,
    ListOrganizationsResponse, ListTokens, ListTokensResponse, ListUsersResponse, M2MClient, MembershipInput,
    Organization, OrganizationClient, RotateToken, TokenInfo, UpdateOrganization, UpdateToken, UpdateUser,
    User, UserRef, ValidateOptions,
};

/// Operations on organizations, users, API keys, M2M clients and the token endpoint.
///
/// Every method validates its input before touching the store or the network: bad input is an
/// [`Error::InvalidArgument`](crate::Error::InvalidArgument) and changes nothing.
#[async_trait]
pub trait AuthApi: Send + Sync + std::fmt::Debug {
    // --- organizations and users ---------------------------------------------------------

    /// Creates an organization.
    async fn create_organization(&self, input: CreateOrganization) -> Result<Organization>;

    /// Gets an organization by `org_…` id.
    async fn get_organization(&self, organization_id: &str) -> Result<Organization>;

    /// Lists organizations, oldest first.
    async fn list_organizations(&self, input: ListOrganizations) -> Result<ListOrganizationsResponse>;

    /// Deletes an organization with its API keys, M2M clients and memberships.
    async fn delete_organization(&self, organization_id: &str) -> Result<()>;

    /// Creates a user (or reuses the user with that email) and makes them a member of the
    /// organization with the given roles.
    async fn create_user_and_membership(&self, organization_id: &str, input: CreateUser) -> Result<User>;

    /// Lists the members of an organization.
    async fn list_organization_users(
        &self,
        organization_id: &str,
        page_size: Option<u32>,
        page_token: Option<String>,
    ) -> Result<ListUsersResponse>;

    /// Updates an organization: the fields present in `input` replace the current values (there
    /// is no update mask); at least one must be present. A taken `external_id` is
    /// [`Error::AlreadyExists`](crate::Error::AlreadyExists); an unknown id is `NotFound`.
    async fn update_organization(
        &self,
        organization_id: &str,
        input: UpdateOrganization,
    ) -> Result<Organization>;

    /// Gets a user, with their memberships, by `usr_…` id or external id.
    async fn get_user(&self, user: &UserRef) -> Result<User>;

    /// Lists every user of the environment, oldest first, with their memberships.
    async fn list_users(
        &self,
        page_size: Option<u32>,
        page_token: Option<String>,
    ) -> Result<ListUsersResponse>;

    /// Updates a user: the fields present in `input` replace the current values; at least one
    /// must be present. A taken `external_id` is `AlreadyExists`.
    async fn update_user(&self, user: &UserRef, input: UpdateUser) -> Result<User>;

    /// Deletes a user with their memberships and their user-scoped API keys, which stop
    /// validating at once.
    async fn delete_user(&self, user: &UserRef) -> Result<()>;

    /// Makes an existing user a member of an organization with the given roles. A user who is
    /// already a member is `AlreadyExists`.
    async fn create_membership(
        &self,
        organization_id: &str,
        user: &UserRef,
        input: MembershipInput,
    ) -> Result<User>;

    /// Replaces the roles of a user's membership in an organization (an empty list removes them).
    async fn update_membership(
        &self,
        organization_id: &str,
        user: &UserRef,
        input: MembershipInput,
    ) -> Result<User>;

    /// Removes a user from an organization, with the user's API keys in that organization,
    /// which stop validating at once. The user remains.
    async fn delete_membership(&self, organization_id: &str, user: &UserRef) -> Result<()>;

    // --- API keys --------------------------------------------------------------------------

    /// Creates an API key. The plain key is in the response and nowhere else, ever.
    async fn create_token(&self, input: CreateToken) -> Result<CreateTokenResponse>;

    /// Validates a plain API key. Unknown, malformed, expired and revoked keys, and bare
    /// `apit_…` ids, all fail with [`Error::TokenValidationFailed`](crate::Error::TokenValidationFailed).
    /// The same as [`validate_token_with`](AuthApi::validate_token_with) without a caller
    /// address: a key restricted to networks fails.
    async fn validate_token(&self, token: &str) -> Result<TokenInfo> {
        self.validate_token_with(token, &ValidateOptions::default()).await
    }

    /// [`validate_token`](AuthApi::validate_token) with what is known of the caller: a key with
    /// `allowed_cidrs` validates only when `options.client_ip` is inside them (else
    /// `TokenValidationFailed`, as for an invalid key); a key over its `rate_limit` fails with
    /// [`Error::RateLimited`](crate::Error::RateLimited).
    async fn validate_token_with(&self, token: &str, options: &ValidateOptions) -> Result<TokenInfo>;

    /// [`validate_token`](AuthApi::validate_token) on the calling thread, when the answer needs no
    /// waiting — for the embedded authority: a malformed key (rejected from its checksum alone),
    /// on SQLite every key (its cache and the file's data version, or an indexed read: a few
    /// microseconds), and on PostgreSQL every key the validation cache holds (see [`store::keycache`](crate::store::keycache)). `None` (the default, and
    /// always for the remote client, whose environment may issue keys of another format) means
    /// the caller must use `validate_token`.
    ///
    /// Validation runs on every request, so the bindings try this first: it saves the hop to an
    /// async runtime, which costs more than the validation itself.
    fn validate_token_now(&self, token: &str) -> Option<Result<TokenInfo>> {
        self.validate_token_now_with(token, &ValidateOptions::default())
    }

    /// [`validate_token_with`](AuthApi::validate_token_with) on the calling thread, when the
    /// answer needs no waiting (see [`validate_token_now`](AuthApi::validate_token_now)).
    fn validate_token_now_with(&self, _token: &str, _options: &ValidateOptions) -> Option<Result<TokenInfo>> {
        None
    }

    /// An administrative lookup of a live key by its `apit_…` id: what Scalekit's ValidateToken
    /// answers when given a token id. Unknown, expired and revoked keys fail with
    /// [`Error::TokenValidationFailed`](crate::Error::TokenValidationFailed), like
    /// [`validate_token`](AuthApi::validate_token).
    ///
    /// This is not authentication: a token id is not a credential, and
    /// [`validate_token`](AuthApi::validate_token) (what request-path middleware calls) refuses
    /// it. Only the server's admin-authenticated validate endpoints use this.
    async fn lookup_token(&self, token_id: &str) -> Result<TokenInfo>;

    /// Lists the live keys of an organization (optionally of one user), oldest first; with
    /// `include_revoked`, revoked keys too, each with its `revoked_at`.
    async fn list_tokens(&self, input: ListTokens) -> Result<ListTokensResponse>;

    /// Replaces the claims and/or the description of a key (addressed by key or `apit_…` id).
    async fn update_token(&self, input: UpdateToken) -> Result<TokenInfo>;

    /// Rotates a key (addressed by key or `apit_…` id; an authgate extension): a new key with the
    /// same organization, user, claims, description, expiry and settings, whose `rotated_from`
    /// names the old one. The old key keeps validating for `grace_period_seconds` (default a
    /// day; 0 = revoked at once), then is revoked: its `expiry` becomes the end of the grace
    /// period and its `rotated_to` names the new key. The plain new key is in the response only.
    ///
    /// Refused: a malformed reference or grace period (`invalid_argument`), an unknown or revoked
    /// key (`not_found`), a key already rotated or expired (`failed_precondition`); nothing
    /// changes then.
    async fn rotate_token(&self, input: RotateToken) -> Result<CreateTokenResponse>;

    /// Revokes a key (by key or `apit_…` id). Idempotent; effective for every node sharing the
    /// store as soon as it returns.
    async fn invalidate_token(&self, token: &str) -> Result<()>;

    // --- M2M clients -----------------------------------------------------------------------

    /// Registers an M2M client; the response carries its first plain secret, once.
    async fn create_organization_client(
        &self,
        organization_id: &str,
        client: OrganizationClient,
    ) -> Result<CreateOrganizationClientResponse>;

    /// Gets an M2M client.
    async fn get_organization_client(&self, organization_id: &str, client_id: &str) -> Result<M2MClient>;

    /// Updates an M2M client: `None` fields keep their value, `custom_claims` is replaced when given.
    async fn update_organization_client(
        &self,
        organization_id: &str,
        client_id: &str,
        client: OrganizationClient,
    ) -> Result<M2MClient>;

    /// Deletes an M2M client and its secrets.
    async fn delete_organization_client(&self, organization_id: &str, client_id: &str) -> Result<()>;

    /// Lists the M2M clients of an organization.
    async fn list_organization_clients(
        &self,
        organization_id: &str,
        page_size: Option<u32>,
        page_token: Option<String>,
    ) -> Result<ListOrganizationClientsResponse>;

    /// Adds a secret to a client; the response carries the plain secret, once.
    async fn add_organization_client_secret(
        &self,
        organization_id: &str,
        client_id: &str,
    ) -> Result<CreateOrganizationClientSecretResponse>;

    /// Removes a secret. Removing a client's last secret is refused.
    async fn remove_organization_client_secret(
        &self,
        organization_id: &str,
        client_id: &str,
        secret_id: &str,
    ) -> Result<()>;

    // --- OAuth -----------------------------------------------------------------------------

    /// The client-credentials grant: verifies the client's secret and issues a signed access
    /// token carrying the requested scopes (all of the client's scopes when `scopes` is `None`).
    async fn issue_client_token(
        &self,
        client_id: &str,
        client_secret: &str,
        scopes: Option<Vec<String>>,
    ) -> Result<AccessTokenResponse>;

    /// The public signing keys (what `GET /keys` serves).
    async fn jwks(&self) -> Result<JwkSet>;

    // --- audit log (authgate extension) --------------------------------------------------------

    /// Lists the audit log, oldest first: every management action that happened and every
    /// refused management authentication (see [`audit`](crate::audit)), filtered by
    /// organization, actor, action and time range (`start_time` inclusive, `end_time`
    /// exclusive). An unknown `action`, a malformed `organization_id`, an `end_time` not after
    /// `start_time` or a page size outside 1–100 is `InvalidArgument`; a page token is bound to
    /// its filters. Over HTTP this is `GET /api/v1/audit-events` (admin-only).
    async fn list_audit_events(&self, input: ListAuditEvents) -> Result<ListAuditEventsResponse>;
}
