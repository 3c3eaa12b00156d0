//! The data model shared by the authority, the HTTP server, the remote client and the bindings.
//!
//! Field names and shapes follow Scalekit's REST/JSON surface (proto field names in snake_case,
//! timestamps as RFC 3339 strings), so the same values travel unchanged between an embedded
//! authority, `authgate serve` and a Scalekit environment. Input types accept camelCase aliases
//! and 64-bit integers written either as JSON numbers or as strings, and reject unknown fields.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;

/// A secret value (plain API key, client secret, access token) that must never be logged.
///
/// `Debug` prints a redaction marker; the value is reachable only through [`Secret::expose`]
/// and through serialization (so it can be returned once in an API response).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value. Call sites are easy to audit: grep for `expose`.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Consumes the wrapper, returning the secret value.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

// ---------------------------------------------------------------------------------------------
// Organizations and users
// ---------------------------------------------------------------------------------------------

/// An organization: one customer (tenant) of the SaaS using authgate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    /// `org_…`
    pub id: String,
    /// Human-readable name.
    pub display_name: String,
    /// The caller's own identifier for this organization; unique when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub create_time: OffsetDateTime,
    /// When it was last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub update_time: OffsetDateTime,
}

/// Input of `create_organization`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateOrganization {
    /// Human-readable name (1–200 characters).
    #[serde(alias = "displayName")]
    pub display_name: String,
    /// Optional unique external identifier (1–128 characters).
    #[serde(default, alias = "externalId", skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

/// Input of `list_organizations`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListOrganizations {
    /// Page size, 1–100 (default 10).
    #[serde(default, alias = "pageSize", deserialize_with = "de::opt_u32")]
    pub page_size: Option<u32>,
    /// An opaque token from a previous response.
    #[serde(default, alias = "pageToken", skip_serializing_if = "Option::is_none")]
    pub page_token: Option<String>,
    /// Only the organization with this external id.
    #[serde(default, alias = "externalId", skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

/// Output of `list_organizations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListOrganizationsResponse {
    /// Opaque token for the next page; empty on the last page.
    #[serde(default)]
    pub next_page_token: String,
    /// Number of organizations matching the query, over all pages.
    #[serde(default)]
    pub total_size: u32,
    /// This page.
    #[serde(default)]
    pub organizations: Vec<Organization>,
    /// Opaque token for the previous page; empty on the first page.
    #[serde(default)]
    pub prev_page_token: String,
}

/// A role held through a membership (Scalekit's `{name}` role object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    /// The role name, e.g. `admin`.
    pub name: String,
}

/// A user's membership in one organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// `org_…`
    pub organization_id: String,
    /// Roles the user holds in that organization.
    #[serde(default)]
    pub roles: Vec<Role>,
}

/// A user of the environment, member of one or more organizations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// `usr_…`
    pub id: String,
    /// Email address (unique in the environment).
    pub email: String,
    /// The caller's own identifier for this user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Organizations the user belongs to.
    #[serde(default)]
    pub memberships: Vec<Membership>,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub create_time: OffsetDateTime,
    /// When it was last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub update_time: OffsetDateTime,
}

/// Input of `create_user_and_membership`: a user (created when no user has this email) and their
/// membership in the organization.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Email address.
    pub email: String,
    /// Optional external identifier.
    #[serde(default, alias = "externalId", skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Role names in the organization; they show up in `TokenInfo::roles` of the user's keys.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// Output of `list_organization_users` and `list_users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListUsersResponse {
    /// Opaque token for the next page; empty on the last page.
    #[serde(default)]
    pub next_page_token: String,
    /// Number of users matching, over all pages.
    #[serde(default)]
    pub total_size: u32,
    /// This page.
    #[serde(default)]
    pub users: Vec<User>,
    /// Opaque token for the previous page; empty on the first page.
    #[serde(default)]
    pub prev_page_token: String,
}

/// Input of `update_organization`: the fields present are the update (there is no update mask).
///
/// At least one field must be present. `external_id: Some("")` removes the external id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrganization {
    /// New human-readable name (1–200 characters).
    #[serde(default, alias = "displayName", skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// New unique external identifier (1–128 characters); `""` removes it.
    #[serde(default, alias = "externalId", skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

/// How a user is named: by `usr_…` id or by the caller's external id (Scalekit's
/// `identities` oneof of the user and membership requests).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UserRef {
    /// The `usr_…` id.
    Id(String),
    /// The external id given on creation or update.
    ExternalId(String),
}

impl UserRef {
    /// By `usr_…` id.
    pub fn id(id: impl Into<String>) -> Self {
        UserRef::Id(id.into())
    }

    /// By external id.
    pub fn external_id(external_id: impl Into<String>) -> Self {
        UserRef::ExternalId(external_id.into())
    }
}

impl fmt::Display for UserRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserRef::Id(id) => f.write_str(id),
            UserRef::ExternalId(e) => write!(f, "external_id:{e}"),
        }
    }
}

/// Input of `update_user`: the fields present are the update. At least one must be present.
///
/// `external_id: Some("")` removes the external id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    /// New external identifier (1–128 characters, unique among users); `""` removes it.
    #[serde(default, alias = "externalId", skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

/// Input of `create_membership` and `update_membership`: the roles of the user in the
/// organization (on update they replace the current roles; an empty list removes them all).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MembershipInput {
    /// Role names; they show up in `TokenInfo::roles` of the user's keys in that organization.
    #[serde(default)]
    pub roles: Vec<String>,
}

// ---------------------------------------------------------------------------------------------
// API keys ("tokens" in Scalekit's vocabulary)
// ---------------------------------------------------------------------------------------------

/// Everything known about an API key, returned on create, validate, list and update.
/// (Scalekit's `scalekit.v1.tokens.Token` message.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// `apit_…`: the stable id used for list/update/invalidate. Not a credential.
    pub token_id: String,
    /// `org_…`
    pub organization_id: String,
    /// The organization's external id, empty when it has none.
    #[serde(default)]
    pub organization_external_id: String,
    /// Present only for user-scoped keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The user's external id, for user-scoped keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_external_id: Option<String>,
    /// Caller-defined claims (≤ 20 pairs; keys 1–30, values 1–256 characters).
    #[serde(default)]
    pub custom_claims: BTreeMap<String, String>,
    /// When the key stops validating; `None` = never.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub expiry: Option<OffsetDateTime>,
    /// When the key was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Free text (≤ 255 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The last four characters of the plain key, for display.
    #[serde(default)]
    pub token_suffix: String,
    /// The user's email, for user-scoped keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The user's roles in the organization, for user-scoped keys.
    #[serde(default)]
    pub roles: Vec<String>,
    /// When the key was revoked; present only on revoked keys, which only a list with
    /// `include_revoked` returns. (authgate extension: omitted when unset.)
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub revoked_at: Option<OffsetDateTime>,
    /// The `apit_…` id of the key this one replaced by a rotation. (authgate extension.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_from: Option<String>,
    /// The `apit_…` id of the key that replaced this one by a rotation; this key's `expiry` is
    /// then the end of its grace period. (authgate extension.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_to: Option<String>,
    /// The last successful validation, as written by the coalesced usage flush: at most the
    /// flush interval (5 s by default) behind, and absent until the first flush after the first
    /// use. (authgate extension.)
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_used_time: Option<OffsetDateTime>,
    /// The networks the key may be used from (canonical `addr/prefix` text); absent = any
    /// address. (authgate extension.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_cidrs: Option<Vec<String>>,
    /// How often the key may be used; absent = no limit. (authgate extension.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
}

/// A per-key rate limit (an authgate extension): at most `limit` successful validations per
/// fixed window of `window_seconds`, windows aligned to the Unix epoch. Validations over it
/// fail with [`Error::RateLimited`](crate::Error::RateLimited) (HTTP 429, `Retry-After` = the
/// seconds left in the window).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Validations allowed per window (1–1,000,000,000).
    pub limit: u64,
    /// The window length in seconds (1–86,400).
    #[serde(alias = "windowSeconds")]
    pub window_seconds: u64,
}

/// How a key is being used, for the checks that depend on it (an authgate extension).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ValidateOptions {
    /// The address the request came from. A key with `allowed_cidrs` validates only with an
    /// address inside them: without one it is refused, like an invalid key.
    pub client_ip: Option<std::net::IpAddr>,
}

/// Input of `create_token` (the REST body of `POST /api/v1/tokens`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// The organization the key belongs to (required).
    #[serde(alias = "organizationId")]
    pub organization_id: String,
    /// Makes the key user-scoped; the user must be a member of the organization.
    #[serde(default, alias = "userId", skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Caller-defined claims returned on every validation. A key given twice in a JSON body is
    /// refused (`invalid_argument`), not resolved by "last wins".
    #[serde(
        default,
        alias = "customClaims",
        deserialize_with = "claims_de::unique_claims",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub custom_claims: BTreeMap<String, String>,
    /// When the key stops validating; absent = never. RFC 3339 string or Unix seconds.
    #[serde(
        default,
        deserialize_with = "de::opt_timestamp",
        serialize_with = "ser::opt_timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub expiry: Option<OffsetDateTime>,
    /// Free text (≤ 255 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Restricts the key to these networks (1–50 entries: `10.0.0.0/8`, `2001:db8::/32`, or a
    /// bare address); absent = any address. (authgate extension.)
    #[serde(default, alias = "allowedCidrs", skip_serializing_if = "Option::is_none")]
    pub allowed_cidrs: Option<Vec<String>>,
    /// Limits how often the key validates; absent = no limit. (authgate extension.)
    #[serde(default, alias = "rateLimit", skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
}

/// Output of `create_token`. The plain key is returned here and never again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateTokenResponse {
    /// The plain API key. Show it once; it cannot be retrieved later.
    pub token: Secret,
    /// `apit_…`
    pub token_id: String,
    /// The key's metadata.
    pub token_info: TokenInfo,
}

/// Input of `list_tokens`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListTokens {
    /// The organization whose keys to list (required).
    #[serde(alias = "organizationId")]
    pub organization_id: String,
    /// Only keys scoped to this user.
    #[serde(default, alias = "userId", skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Page size, 1–30 (default 10).
    #[serde(default, alias = "pageSize", deserialize_with = "de::opt_u32")]
    pub page_size: Option<u32>,
    /// An opaque token from a previous response.
    #[serde(default, alias = "pageToken", skip_serializing_if = "Option::is_none")]
    pub page_token: Option<String>,
    /// Also list revoked keys, each with its `revoked_at`. (authgate extension; `true`/`false`,
    /// also as a query-string value.)
    #[serde(
        default,
        alias = "includeRevoked",
        deserialize_with = "de::flexible_bool",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub include_revoked: bool,
    /// Only keys not used since this time (never used, or last used before it): dead keys to
    /// retire. RFC 3339 string or Unix seconds. (authgate extension.)
    #[serde(
        default,
        alias = "unusedSince",
        deserialize_with = "de::opt_timestamp",
        serialize_with = "ser::opt_timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub unused_since: Option<OffsetDateTime>,
}

/// Output of `list_tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListTokensResponse {
    /// This page, in creation order.
    #[serde(default)]
    pub tokens: Vec<TokenInfo>,
    /// Number of keys matching the query, over all pages.
    #[serde(default)]
    pub total_count: u32,
    /// Opaque token for the next page; empty on the last page.
    #[serde(default)]
    pub next_page_token: String,
    /// Opaque token for the previous page; empty on the first page.
    #[serde(default)]
    pub prev_page_token: String,
}

/// Input of `update_token`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateToken {
    /// The plain key or its `apit_…` id.
    pub token: String,
    /// When present, replaces the whole claims map (values must be non-empty). A key given twice
    /// in a JSON body is refused.
    #[serde(
        default,
        alias = "customClaims",
        deserialize_with = "claims_de::opt_unique_claims",
        skip_serializing_if = "Option::is_none"
    )]
    pub custom_claims: Option<BTreeMap<String, String>>,
    /// When present, replaces the description; `""` clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// When present, replaces the key's networks; `null` removes the restriction. (authgate
    /// extension.)
    #[serde(
        default,
        alias = "allowedCidrs",
        deserialize_with = "de::nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub allowed_cidrs: Option<Option<Vec<String>>>,
    /// When present, replaces the key's rate limit; `null` removes it. (authgate extension.)
    #[serde(
        default,
        alias = "rateLimit",
        deserialize_with = "de::nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub rate_limit: Option<Option<RateLimit>>,
}

/// Input of `rotate_token` (the REST body of `POST /api/v1/tokens:rotate`, an authgate
/// extension).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateToken {
    /// The key to rotate: the plain key or its `apit_…` id (JSON: `token` or `token_id`).
    #[serde(alias = "token_id", alias = "tokenId")]
    pub token: String,
    /// How long the old key keeps validating, in seconds: 0 revokes it at once; absent = 86,400
    /// (a day); at most 2,592,000 (30 days).
    #[serde(
        default,
        alias = "gracePeriodSeconds",
        deserialize_with = "de::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub grace_period_seconds: Option<i64>,
    /// The new key's rate limit; absent = the old key's. (authgate extension.)
    #[serde(default, alias = "rateLimit", skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
}

// ---------------------------------------------------------------------------------------------
// M2M clients (OAuth 2.0 client credentials)
// ---------------------------------------------------------------------------------------------

/// A custom claim of an M2M client, copied into the `custom_claims` object of its access tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomClaim {
    /// Claim name (1–128 characters).
    pub key: String,
    /// Claim value.
    pub value: String,
}

/// Input of create/update organization client (Scalekit's `OrganizationClient` message).
///
/// On update, fields left `None` keep their current value; `custom_claims` is replaced when given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganizationClient {
    /// Display name (≤ 128 characters; required on create).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Free text (≤ 512 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Scopes the client may request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// Audiences put in the `aud` claim of its tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<Vec<String>>,
    /// Claims copied into `custom_claims` of its tokens. Two entries with the same `key` are
    /// refused when decoded.
    #[serde(
        default,
        alias = "customClaims",
        deserialize_with = "claims_de::opt_unique_claim_list",
        skip_serializing_if = "Option::is_none"
    )]
    pub custom_claims: Option<Vec<CustomClaim>>,
    /// Access-token lifetime in seconds (default 3600). JSON number or string.
    #[serde(
        default,
        deserialize_with = "de::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub expiry: Option<i64>,
}

/// Status of a client secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SecretStatus {
    /// Usable at the token endpoint.
    Active,
    /// Not usable.
    Inactive,
}

/// Metadata of a client secret (the plain secret is only in create responses).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientSecret {
    /// `sks_…`
    pub id: String,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub create_time: OffsetDateTime,
    /// When it was last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub update_time: OffsetDateTime,
    /// The last four characters of the plain secret.
    pub secret_suffix: String,
    /// Who created it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Whether it can be used.
    pub status: SecretStatus,
    /// When it stops working, if ever.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub expire_time: Option<OffsetDateTime>,
    /// Last successful use at the token endpoint.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_used_time: Option<OffsetDateTime>,
}

/// An organization's M2M client (Scalekit's `M2MClient` message).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct M2MClient {
    /// `m2morg_…`: the OAuth `client_id`, also the `sub` of its tokens.
    pub client_id: String,
    /// Its secrets (metadata only).
    #[serde(default)]
    pub secrets: Vec<ClientSecret>,
    /// Display name.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// `org_…`
    pub organization_id: String,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub create_time: OffsetDateTime,
    /// When it was last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub update_time: OffsetDateTime,
    /// Scopes it may request.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Audiences of its tokens.
    #[serde(default)]
    pub audience: Vec<String>,
    /// Claims copied into its tokens.
    #[serde(default)]
    pub custom_claims: Vec<CustomClaim>,
    /// Access-token lifetime in seconds.
    #[serde(default, deserialize_with = "de::i64_flexible")]
    pub expiry: i64,
}

/// Output of `create_organization_client`. The plain secret is returned here and never again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateOrganizationClientResponse {
    /// The new client.
    pub client: M2MClient,
    /// Its first secret.
    pub plain_secret: Secret,
}

/// Output of `add_organization_client_secret`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateOrganizationClientSecretResponse {
    /// The new secret. Show it once.
    pub plain_secret: Secret,
    /// Its metadata.
    pub secret: ClientSecret,
}

/// Output of `list_organization_clients`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListOrganizationClientsResponse {
    /// Opaque token for the next page; empty on the last page.
    #[serde(default)]
    pub next_page_token: String,
    /// Number of clients of the organization.
    #[serde(default)]
    pub total_size: u32,
    /// This page.
    #[serde(default)]
    pub clients: Vec<M2MClient>,
    /// Opaque token for the previous page; empty on the first page.
    #[serde(default)]
    pub prev_page_token: String,
}

// ---------------------------------------------------------------------------------------------
// OAuth token endpoint and signing keys
// ---------------------------------------------------------------------------------------------

/// A successful token-endpoint response (RFC 6749 §5.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenResponse {
    /// The JWT access token.
    pub access_token: Secret,
    /// Always `Bearer`.
    pub token_type: String,
    /// Lifetime in seconds.
    pub expires_in: u64,
    /// Granted scopes, space-separated.
    #[serde(default)]
    pub scope: String,
}

/// One public key of a JWK Set (RFC 7517). Unknown members are ignored when parsing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type: `RSA`, `EC`, `OKP` (or `oct`, which is never accepted for verification).
    pub kty: String,
    /// Key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Intended use (`sig`).
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// Algorithm the key is meant for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// RSA modulus (base64url).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA exponent (base64url).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// Curve of an EC or OKP key (`P-256`, `Ed25519`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// EC x coordinate or OKP public key (base64url).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// EC y coordinate (base64url).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
}

/// A JWK Set, as served at `/keys`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwkSet {
    /// The keys.
    pub keys: Vec<Jwk>,
}

/// Lifecycle state of a signing key: `pending` → `active` → `published` → `retired` (see
/// [the authority docs](crate::authority#signing-keys) for why).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SigningKeyState {
    /// Published in the JWKS but not signing yet: it becomes the active key at its
    /// `activate_at`, so validators can learn it before any token carries its `kid`.
    /// At most one key is pending.
    Pending,
    /// Signs new tokens; published in the JWKS. Exactly one key is active.
    Active,
    /// No longer signs; still published so earlier tokens keep validating.
    Published,
    /// Removed from the JWKS; tokens it signed no longer validate.
    Retired,
}

/// Metadata of a signing key (never the private key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKeyInfo {
    /// `snk_…`
    pub kid: String,
    /// `RS256`.
    pub algorithm: String,
    /// Lifecycle state.
    pub state: SigningKeyState,
    /// Whether the private key is encrypted at rest (`AUTHGATE_MASTER_KEY`).
    pub encrypted: bool,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it becomes (`pending`) or became the active signing key. For a key retired while
    /// pending (it never signed), the activation it was scheduled for.
    #[serde(with = "time::serde::rfc3339")]
    pub activate_at: OffsetDateTime,
    /// When it was retired, if it was.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub retired_at: Option<OffsetDateTime>,
}

// ---------------------------------------------------------------------------------------------
// Lenient wire decoding: int64 as number or string, timestamps as RFC 3339 or Unix seconds.
// ---------------------------------------------------------------------------------------------

/// Serde helpers for lenient input decoding, public so the server and bindings can reuse them.
pub mod de {
    use serde::de::{self, Deserializer, Unexpected, Visitor};
    use std::fmt;
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;

    struct I64Visitor;

    impl Visitor<'_> for I64Visitor {
        type Value = i64;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an integer, as a JSON number or a string")
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
            Ok(v)
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
            i64::try_from(v).map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
            if v.fract() == 0.0 && v.abs() < 9.0e15 {
                Ok(v as i64)
            } else {
                Err(E::invalid_value(Unexpected::Float(v), &self))
            }
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
            v.trim()
                .parse()
                .map_err(|_| E::invalid_value(Unexpected::Str(v), &self))
        }
    }

    /// A field where `null` means something (remove) and absence means keep: present (even
    /// `null`) is `Some`; absent is `None` through `#[serde(default)]`.
    pub fn nullable<'de, D: Deserializer<'de>, T: serde::Deserialize<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
    }

    /// An `i64` written as a JSON number or a string.
    pub fn i64_flexible<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        d.deserialize_any(I64Visitor)
    }

    /// An optional `i64` written as a JSON number, a string, or `null`.
    pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        struct OptVisitor;
        impl<'de> Visitor<'de> for OptVisitor {
            type Value = Option<i64>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer, a string or null")
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                i64_flexible(d).map(Some)
            }
        }
        d.deserialize_option(OptVisitor)
    }

    /// A boolean written as JSON `true`/`false` or as the string `"true"`/`"false"` (query
    /// strings); `null` is `false`.
    pub fn flexible_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        struct BoolVisitor;
        impl<'de> Visitor<'de> for BoolVisitor {
            type Value = bool;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("true or false")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
                Ok(v)
            }
            fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
                Ok(false)
            }
            fn visit_none<E: de::Error>(self) -> Result<bool, E> {
                Ok(false)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
                d.deserialize_any(self)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
                match v {
                    "true" => Ok(true),
                    "false" => Ok(false),
                    _ => Err(E::invalid_value(Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(BoolVisitor)
    }

    /// An optional `u32` written as a JSON number, a string, or `null`.
    pub fn opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        match opt_i64(d)? {
            None => Ok(None),
            Some(v) => u32::try_from(v).map(Some).map_err(|_| {
                de::Error::invalid_value(Unexpected::Signed(v), &"a non-negative 32-bit integer")
            }),
        }
    }

    /// An optional timestamp: RFC 3339 string, Unix seconds (number or numeric string), or `null`.
    pub fn opt_timestamp<'de, D: Deserializer<'de>>(d: D) -> Result<Option<OffsetDateTime>, D::Error> {
        struct TsVisitor;
        impl<'de> Visitor<'de> for TsVisitor {
            type Value = Option<OffsetDateTime>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 timestamp or Unix seconds")
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                OffsetDateTime::from_unix_timestamp(v)
                    .map(Some)
                    .map_err(|_| E::invalid_value(Unexpected::Signed(v), &self))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                let v = i64::try_from(v).map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))?;
                self.visit_i64(v)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                if let Ok(secs) = v.trim().parse::<i64>() {
                    return self.visit_i64(secs);
                }
                OffsetDateTime::parse(v, &Rfc3339)
                    .map(Some)
                    .map_err(|_| E::invalid_value(Unexpected::Str(v), &self))
            }
        }
        d.deserialize_option(TsVisitor)
    }
}

/// The `custom_claims` decoders: a JSON object (or list of `{key, value}`) that names a key twice
/// is refused instead of keeping the last value, on every JSON path (REST bodies, the remote
/// client's answers, the bindings' JSON input).
pub mod claims_de {
    use std::collections::{BTreeMap, BTreeSet};
    use std::fmt;

    use serde::Deserialize;
    use serde::de::{self, Deserializer, MapAccess, Visitor};

    use super::CustomClaim;

    fn duplicate<E: de::Error>(key: &str) -> E {
        E::custom(format_args!(
            "custom_claims: duplicate key {key:?} (each claim may be given once)"
        ))
    }

    struct UniqueMap;

    impl<'de> Visitor<'de> for UniqueMap {
        type Value = BTreeMap<String, String>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object of string claims, each key once")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((key, value)) = map.next_entry::<String, String>()? {
                if out.contains_key(&key) {
                    return Err(duplicate(&key));
                }
                out.insert(key, value);
            }
            Ok(out)
        }
    }

    /// A claims object whose keys are unique.
    pub fn unique_claims<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
        d.deserialize_map(UniqueMap)
    }

    /// [`unique_claims`], or `null`.
    pub fn opt_unique_claims<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<BTreeMap<String, String>>, D::Error> {
        struct Opt;
        impl<'de> Visitor<'de> for Opt {
            type Value = Option<BTreeMap<String, String>>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of string claims, each key once, or null")
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                unique_claims(d).map(Some)
            }
        }
        d.deserialize_option(Opt)
    }

    /// A list of `{key, value}` claims whose keys are unique, or `null`.
    pub fn opt_unique_claim_list<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<CustomClaim>>, D::Error> {
        let Some(list) = Option::<Vec<CustomClaim>>::deserialize(d)? else {
            return Ok(None);
        };
        let mut seen = BTreeSet::new();
        for claim in &list {
            if !seen.insert(claim.key.as_str()) {
                return Err(duplicate(&claim.key));
            }
        }
        Ok(Some(list))
    }
}

mod ser {
    use serde::Serializer;
    use time::OffsetDateTime;

    pub fn opt_timestamp<S: Serializer>(v: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
        time::serde::rfc3339::option::serialize(v, s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_debug_is_redacted() {
        let s = Secret::new("agk_supersecret");
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert_eq!(serde_json::to_value(&s).unwrap(), json!("agk_supersecret"));
    }

    #[test]
    fn duplicate_custom_claim_keys_are_refused() {
        let err = serde_json::from_str::<CreateToken>(
            r#"{"organization_id": "org_1", "custom_claims": {"team": "a", "team": "b"}}"#,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains(r#"custom_claims: duplicate key "team""#),
            "{err}"
        );
        let err =
            serde_json::from_str::<UpdateToken>(r#"{"token": "t", "customClaims": {"k": "1", "k": "1"}}"#)
                .unwrap_err();
        assert!(err.to_string().contains("duplicate key"), "{err}");
        let err = serde_json::from_str::<OrganizationClient>(
            r#"{"custom_claims": [{"key": "k", "value": "1"}, {"key": "k", "value": "2"}]}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("duplicate key"), "{err}");
        // Distinct keys, null and absence are fine.
        let ok: CreateToken =
            serde_json::from_str(r#"{"organization_id": "o", "custom_claims": {"a": "1", "b": "2"}}"#)
                .unwrap();
        assert_eq!(ok.custom_claims.len(), 2);
        let ok: UpdateToken = serde_json::from_str(r#"{"token": "t", "custom_claims": null}"#).unwrap();
        assert_eq!(ok.custom_claims, None);
        let ok: OrganizationClient = serde_json::from_str(r#"{"custom_claims": null}"#).unwrap();
        assert_eq!(ok.custom_claims, None);
        assert!(
            serde_json::from_str::<CreateToken>(r#"{"organization_id": "o", "custom_claims": {"a": 1}}"#)
                .is_err()
        );
    }

    #[test]
    fn create_token_accepts_camel_case_and_flexible_expiry() {
        let a: CreateToken = serde_json::from_value(json!({
            "organizationId": "org_1", "customClaims": {"a": "b"}, "expiry": "2030-01-01T00:00:00Z"
        }))
        .unwrap();
        let b: CreateToken = serde_json::from_value(json!({
            "organization_id": "org_1", "custom_claims": {"a": "b"}, "expiry": 1893456000
        }))
        .unwrap();
        let c: CreateToken = serde_json::from_value(json!({
            "organization_id": "org_1", "custom_claims": {"a": "b"}, "expiry": "1893456000"
        }))
        .unwrap();
        assert_eq!(a, b);
        assert_eq!(b, c);
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let r: Result<CreateToken, _> =
            serde_json::from_value(json!({"organization_id": "org_1", "bogus": 1}));
        assert!(r.is_err());
    }

    #[test]
    fn client_expiry_as_number_or_string() {
        let a: OrganizationClient = serde_json::from_value(json!({"expiry": 3600})).unwrap();
        let b: OrganizationClient = serde_json::from_value(json!({"expiry": "3600"})).unwrap();
        assert_eq!(a.expiry, Some(3600));
        assert_eq!(a, b);
    }
}

// ---------------------------------------------------------------------------------------------
// Audit log (authgate extension; Scalekit has no such route)
// ---------------------------------------------------------------------------------------------

/// Whether an audited action happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    /// The action happened (written in the action's own transaction).
    Success,
    /// The action was refused and changed nothing (a refused management authentication).
    Failure,
}

impl AuditOutcome {
    /// `"success"` or `"failure"`, as stored and serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Success => "success",
            AuditOutcome::Failure => "failure",
        }
    }
}

/// One entry of the audit log: who did what, to what, from where, and whether it happened.
///
/// Never carries a secret, an API key or a token: only ids (`org_…`, `usr_…`, `apit_…`,
/// `m2morg_…`, `sks_…`, `skc_…`, `snk_…`), the actor and the caller's address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// `aud_…`.
    pub id: String,
    /// When it was recorded (millisecond precision).
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    /// Who: the environment client id (`skc_…`) of a management API call, `cli:<OS user>` for
    /// the `authgate` CLI, `embedded` for an application using an embedded client, `server` for
    /// what `authgate serve` does on its own (registering its configured credential at start),
    /// or `unauthenticated` for a refused authentication.
    pub actor: String,
    /// What, e.g. `organization.create`, `api_key.revoke`, `admin.authenticate`
    /// ([`crate::audit::ACTIONS`] lists them all).
    pub action: String,
    /// The organization concerned, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    /// The ids of what the action created, changed or removed (the organization's id is in
    /// `organization_id`, not here, unless the organization itself is the target).
    #[serde(default)]
    pub target_ids: Vec<String>,
    /// The caller's IP address, when known (the REST and gRPC APIs; behind a trusted proxy, the
    /// address it forwarded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_address: Option<String>,
    /// Whether it happened.
    pub outcome: AuditOutcome,
    /// For a failure, the error code it was refused with (e.g. `unauthenticated`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
}

/// Input of `list_audit_events`: every filter is optional and they combine with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListAuditEvents {
    /// Only events of this organization.
    #[serde(default, alias = "organizationId", skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    /// Only events of this actor (exact match, e.g. `skc_…` or `cli:alice`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Only events of this action (one of [`crate::audit::ACTIONS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Only events at or after this time.
    #[serde(
        default,
        alias = "startTime",
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_time: Option<OffsetDateTime>,
    /// Only events before this time.
    #[serde(
        default,
        alias = "endTime",
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub end_time: Option<OffsetDateTime>,
    /// Page size, 1–100 (default 50).
    #[serde(default, alias = "pageSize", deserialize_with = "de::opt_u32")]
    pub page_size: Option<u32>,
    /// An opaque token from a previous response (bound to the same filters).
    #[serde(default, alias = "pageToken", skip_serializing_if = "Option::is_none")]
    pub page_token: Option<String>,
}

/// Output of `list_audit_events`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListAuditEventsResponse {
    /// This page, oldest first.
    #[serde(default)]
    pub events: Vec<AuditEvent>,
    /// Number of events matching the filters, over all pages.
    #[serde(default)]
    pub total_size: u32,
    /// Opaque token for the next page; empty on the last page.
    #[serde(default)]
    pub next_page_token: String,
    /// Opaque token for the previous page; empty on the first page.
    #[serde(default)]
    pub prev_page_token: String,
}
