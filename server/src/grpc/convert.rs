//! Conversions between the core model and the protobuf messages.

use authgate_core::model::{
    ClientSecret, CustomClaim, M2MClient, Membership, Organization, OrganizationClient, SecretStatus,
    TokenInfo, User,
};
use time::OffsetDateTime;
use tonic::Status;

use super::pb::{clients, commons, organizations, tokens, users};
use super::status::invalid;

/// A protobuf timestamp.
pub fn timestamp(t: OffsetDateTime) -> prost_types::Timestamp {
    let nanos = t.unix_timestamp_nanos();
    prost_types::Timestamp {
        seconds: t.unix_timestamp(),
        nanos: i32::try_from(nanos.rem_euclid(1_000_000_000)).unwrap_or(0),
    }
}

/// A protobuf timestamp as a time, checked.
pub fn from_timestamp(field: &str, t: &prost_types::Timestamp) -> Result<OffsetDateTime, Status> {
    let nanos = i128::from(t.seconds) * 1_000_000_000 + i128::from(t.nanos);
    if !(0..1_000_000_000).contains(&t.nanos) {
        return Err(invalid(field, "nanos must be within 0..1e9"));
    }
    OffsetDateTime::from_unix_timestamp_nanos(nanos).map_err(|_| invalid(field, "timestamp out of range"))
}

/// `""` (proto3's absent string) as `None`.
pub fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

/// A proto3 page size (0 = the default).
pub fn page_size(n: u32) -> Option<u32> {
    (n != 0).then_some(n)
}

/// `scalekit.v1.tokens.Token`
pub fn token(t: TokenInfo) -> tokens::Token {
    tokens::Token {
        token_id: t.token_id,
        organization_id: t.organization_id,
        organization_external_id: t.organization_external_id,
        user_id: t.user_id,
        user_external_id: t.user_external_id,
        custom_claims: t.custom_claims.into_iter().collect(),
        expiry: t.expiry.map(timestamp),
        created_at: Some(timestamp(t.created_at)),
        description: t.description,
        token_suffix: t.token_suffix,
        email: t.email,
        roles: t.roles,
    }
}

/// `scalekit.v1.organizations.Organization`
pub fn organization(o: Organization) -> organizations::Organization {
    organizations::Organization {
        id: o.id,
        create_time: Some(timestamp(o.create_time)),
        update_time: Some(timestamp(o.update_time)),
        display_name: o.display_name,
        region_code: commons::RegionCode::Unspecified as i32,
        external_id: o.external_id,
        metadata: Default::default(),
        settings: None,
        slug: None,
        logo_url: None,
    }
}

fn membership(m: Membership) -> commons::OrganizationMembership {
    commons::OrganizationMembership {
        organization_id: m.organization_id,
        membership_status: commons::MembershipStatus::Active as i32,
        roles: m
            .roles
            .into_iter()
            .map(|r| commons::Role {
                name: r.name,
                ..commons::Role::default()
            })
            .collect(),
        ..commons::OrganizationMembership::default()
    }
}

/// `scalekit.v1.users.User`
pub fn user(u: User) -> users::User {
    users::User {
        id: u.id,
        create_time: Some(timestamp(u.create_time)),
        update_time: Some(timestamp(u.update_time)),
        email: u.email,
        external_id: u.external_id,
        memberships: u.memberships.into_iter().map(membership).collect(),
        ..users::User::default()
    }
}

/// `scalekit.v1.clients.ClientSecret`
pub fn secret(s: ClientSecret) -> clients::ClientSecret {
    clients::ClientSecret {
        id: s.id,
        create_time: Some(timestamp(s.create_time)),
        update_time: Some(timestamp(s.update_time)),
        secret_suffix: s.secret_suffix,
        created_by: s.created_by,
        status: match s.status {
            SecretStatus::Active => clients::ClientSecretStatus::Active,
            SecretStatus::Inactive => clients::ClientSecretStatus::Inactive,
        } as i32,
        expire_time: s.expire_time.map(timestamp),
        last_used_time: s.last_used_time.map(timestamp),
        plain_secret: None,
    }
}

fn claim(c: CustomClaim) -> clients::CustomClaim {
    clients::CustomClaim {
        key: c.key,
        value: c.value,
    }
}

/// `scalekit.v1.clients.M2MClient`
pub fn client(c: M2MClient) -> clients::M2mClient {
    clients::M2mClient {
        client_id: c.client_id,
        secrets: c.secrets.into_iter().map(secret).collect(),
        name: c.name,
        description: c.description,
        organization_id: c.organization_id,
        create_time: Some(timestamp(c.create_time)),
        update_time: Some(timestamp(c.update_time)),
        scopes: c.scopes,
        audience: c.audience,
        custom_claims: c.custom_claims.into_iter().map(claim).collect(),
        expiry: c.expiry,
        ..clients::M2mClient::default()
    }
}

/// The core input of create/update client. Proto3 cannot tell an absent field from an empty one:
/// empty strings and lists and a zero expiry leave the current value (the SDKs send only what
/// the caller set).
pub fn client_input(c: Option<clients::OrganizationClient>) -> OrganizationClient {
    let Some(c) = c else {
        return OrganizationClient::default();
    };
    OrganizationClient {
        name: non_empty(c.name),
        description: non_empty(c.description),
        scopes: (!c.scopes.is_empty()).then_some(c.scopes),
        audience: (!c.audience.is_empty()).then_some(c.audience),
        custom_claims: (!c.custom_claims.is_empty()).then(|| {
            c.custom_claims
                .into_iter()
                .map(|c| CustomClaim {
                    key: c.key,
                    value: c.value,
                })
                .collect()
        }),
        expiry: (c.expiry != 0).then_some(c.expiry),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).unwrap();
        assert_eq!(from_timestamp("t", &timestamp(t)).unwrap(), t);
        let bad = prost_types::Timestamp {
            seconds: 1,
            nanos: -1,
        };
        assert!(from_timestamp("t", &bad).is_err());
    }
}
