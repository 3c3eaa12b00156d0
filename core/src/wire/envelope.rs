//! The JSON envelopes of the REST API, shared by the server (which answers and reads them) and
//! the remote client (which sends and reads them).

use serde::{Deserialize, Serialize};

use crate::model::{CreateUser, M2MClient, Organization, Secret, TokenInfo, User};

/// Body of `tokens:validate` and `tokens:invalidate`: `{"token": "<key or apit_ id>"}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRef {
    /// The API key (or, for invalidate, its `apit_…` id).
    pub token: Secret,
}

/// Body of `tokens:validate`: `{"token": "<key or apit_ id>", "client_ip"?: "<address>"}`;
/// `client_ip` (an authgate extension) is the address the key is being used from, for keys
/// restricted to networks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidateRequest {
    /// The API key (or its `apit_…` id, for an administrative lookup).
    pub token: Secret,
    /// The caller's IP address.
    #[serde(default, alias = "clientIp", skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
}

/// `{"token_info": …}`
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenInfoBody {
    /// The key's metadata.
    pub token_info: TokenInfo,
}

/// `{"organization": …}`
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrganizationBody {
    /// The organization.
    pub organization: Organization,
}

/// `{"user": …}`
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserBody {
    /// The user.
    pub user: User,
}

/// `{"client": …}`
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientBody {
    /// The M2M client.
    pub client: M2MClient,
}

/// `{}`: the body of `google.protobuf.Empty` answers (delete, invalidate).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Empty {}

/// A role in a membership: `{"name": "admin"}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleRef {
    /// The role name.
    pub name: String,
}

/// `membership` of the create-user body: `{"roles": [{"name": …}]}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MembershipBody {
    /// The roles of the membership.
    #[serde(default)]
    pub roles: Vec<RoleRef>,
}

/// Body of `POST /api/v1/organizations/{organization_id}/users`, Scalekit's `CreateUser`:
/// `{email, external_id?, membership?: {roles: [{name}]}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUserBody {
    /// The user's email.
    pub email: String,
    /// The caller's own id for the user.
    #[serde(default, alias = "externalId", skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// The membership to create with the user.
    #[serde(default)]
    pub membership: Option<MembershipBody>,
}

impl From<CreateUser> for CreateUserBody {
    fn from(input: CreateUser) -> Self {
        CreateUserBody {
            email: input.email,
            external_id: input.external_id,
            membership: Some(MembershipBody {
                roles: input.roles.into_iter().map(|name| RoleRef { name }).collect(),
            }),
        }
    }
}

impl From<CreateUserBody> for CreateUser {
    fn from(body: CreateUserBody) -> Self {
        CreateUser {
            email: body.email,
            external_id: body.external_id,
            roles: body
                .membership
                .unwrap_or_default()
                .roles
                .into_iter()
                .map(|r| r.name)
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_user_body_round_trips() {
        let input = CreateUser {
            email: "a@example.com".into(),
            external_id: Some("e1".into()),
            roles: vec!["admin".into()],
        };
        let json = serde_json::to_value(CreateUserBody::from(input.clone())).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"email": "a@example.com", "external_id": "e1",
                "membership": {"roles": [{"name": "admin"}]}})
        );
        let back: CreateUserBody = serde_json::from_value(json).unwrap();
        assert_eq!(CreateUser::from(back), input);
    }
}
