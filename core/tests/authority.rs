//! The authority, end to end, on SQLite and (when `AUTHGATE_TEST_DATABASE_URL` is set) PostgreSQL.
//!
//! Each `async fn case(db: &TestDb)` below runs once per backend on a fresh store (`on_both!`).

mod common;

use std::collections::BTreeMap;

use authgate_core::authority::{Authority, AuthorityConfig};
use authgate_core::model::{
    CreateOrganization, CreateOrganizationClientResponse, CreateToken, CreateTokenResponse, CreateUser,
    CustomClaim, ListOrganizations, ListTokens, ListTokensResponse, OrganizationClient, Secret,
    SigningKeyState, UpdateToken,
};
use authgate_core::{AuthApi, Error};
use common::{ISSUER, TestDb, contains, verify_jwt};
use time::{Duration, OffsetDateTime};

/// An immediate rotation.
const NOW: std::time::Duration = std::time::Duration::ZERO;
const HOUR: std::time::Duration = std::time::Duration::from_secs(3600);

fn kids(jwks: &authgate_core::model::JwkSet) -> Vec<String> {
    jwks.keys.iter().map(|k| k.kid.clone().unwrap()).collect()
}

async fn states(a: &Authority) -> Vec<(String, SigningKeyState)> {
    a.list_signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| (k.kid, k.state))
        .collect()
}

/// Time passing, without waiting for it: moves the pending signing key's activation time (an
/// hour or more away, so nothing races it) to just now, as if its delay had run out. Returns
/// the new activation time, to the millisecond the store keeps.
async fn pending_key_falls_due(db: &TestDb) -> OffsetDateTime {
    let now_ms = (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
    db.exec(&format!(
        "UPDATE authgate_signing_keys SET activate_at = {now_ms} WHERE state = 'pending'"
    ))
    .await;
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(now_ms) * 1_000_000).unwrap()
}

on_both!(
    organizations,
    users_and_memberships,
    api_key_lifecycle,
    validation_without_waiting,
    expired_keys_fail_validation,
    api_key_pagination,
    m2m_clients,
    m2m_client_pagination,
    client_credentials_tokens,
    environment_clients,
    signing_key_rotation,
    staged_signing_key_rotation,
    rotating_while_a_key_is_pending,
    retiring_a_pending_key,
    two_instances_activate_a_pending_key_once,
    deleting_an_organization_removes_its_keys_and_clients,
    two_instances_share_one_store,
    concurrent_first_use_creates_one_signing_key,
    no_plain_secret_is_stored,
    pepper_is_enforced,
    master_key_encrypts_signing_keys,
    bad_input_is_refused_and_changes_nothing,
);

async fn org(a: &Authority, name: &str, external_id: Option<&str>) -> String {
    a.create_organization(CreateOrganization {
        display_name: name.into(),
        external_id: external_id.map(Into::into),
    })
    .await
    .unwrap()
    .id
}

async fn user(a: &Authority, org_id: &str, email: &str, roles: &[&str]) -> String {
    a.create_user_and_membership(
        org_id,
        CreateUser {
            email: email.into(),
            external_id: Some(format!("ext-{email}")),
            roles: roles.iter().map(|r| r.to_string()).collect(),
        },
    )
    .await
    .unwrap()
    .id
}

fn claims(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// An organization-scoped key without claims.
async fn key(a: &Authority, org_id: &str) -> CreateTokenResponse {
    a.create_token(CreateToken {
        organization_id: org_id.into(),
        ..Default::default()
    })
    .await
    .unwrap()
}

/// The first page of an organization's live keys.
async fn live_keys(a: &Authority, org_id: &str) -> ListTokensResponse {
    a.list_tokens(ListTokens {
        organization_id: org_id.into(),
        ..Default::default()
    })
    .await
    .unwrap()
}

/// An M2M client of [`client_input`].
async fn client(
    a: &Authority,
    org_id: &str,
    name: &str,
    scopes: &[&str],
) -> CreateOrganizationClientResponse {
    a.create_organization_client(org_id, client_input(name, scopes))
        .await
        .unwrap()
}

fn client_input(name: &str, scopes: &[&str]) -> OrganizationClient {
    OrganizationClient {
        name: Some(name.into()),
        description: Some("billing sync".into()),
        scopes: Some(scopes.iter().map(|s| s.to_string()).collect()),
        audience: Some(vec!["https://api.example.com".into()]),
        custom_claims: Some(vec![CustomClaim {
            key: "wksp_id".into(),
            value: "w1".into(),
        }]),
        expiry: None,
    }
}

// ---------------------------------------------------------------------------------------------

async fn organizations(db: &TestDb) {
    let a = db.open().await;
    let acme = a
        .create_organization(CreateOrganization {
            display_name: "Acme".into(),
            external_id: Some("acme-1".into()),
        })
        .await
        .unwrap();
    assert!(acme.id.starts_with("org_") && acme.id.len() <= 32);
    assert_eq!(a.get_organization(&acme.id).await.unwrap(), acme);
    let beta = org(&a, "Beta", None).await;

    let err = a
        .create_organization(CreateOrganization {
            display_name: "Other".into(),
            external_id: Some("acme-1".into()),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), "already_exists", "{err}");

    let all = a.list_organizations(ListOrganizations::default()).await.unwrap();
    assert_eq!(all.total_size, 2);
    assert_eq!(
        all.organizations
            .iter()
            .map(|o| o.id.as_str())
            .collect::<Vec<_>>(),
        [acme.id.as_str(), beta.as_str()]
    );
    let filtered = a
        .list_organizations(ListOrganizations {
            external_id: Some("acme-1".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(filtered.organizations, std::slice::from_ref(&acme));
    let page = a
        .list_organizations(ListOrganizations {
            page_size: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.organizations.len(), 1);
    assert!(page.prev_page_token.is_empty());
    let page2 = a
        .list_organizations(ListOrganizations {
            page_size: Some(1),
            page_token: Some(page.next_page_token.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page2.organizations[0].id, beta);
    assert!(page2.next_page_token.is_empty());
    assert!(!page2.prev_page_token.is_empty());

    a.delete_organization(&acme.id).await.unwrap();
    assert_eq!(
        a.get_organization(&acme.id).await.unwrap_err().code(),
        "not_found"
    );
    assert_eq!(
        a.delete_organization(&acme.id).await.unwrap_err().code(),
        "not_found"
    );
}

async fn users_and_memberships(db: &TestDb) {
    let a = db.open().await;
    let o1 = org(&a, "One", None).await;
    let o2 = org(&a, "Two", None).await;
    let u = a
        .create_user_and_membership(
            &o1,
            CreateUser {
                email: "Ann@Example.com".into(),
                external_id: Some("ann-1".into()),
                roles: vec!["admin".into(), "viewer".into(), "admin".into()],
            },
        )
        .await
        .unwrap();
    assert!(u.id.starts_with("usr_"));
    assert_eq!(u.email, "ann@example.com");
    assert_eq!(u.memberships.len(), 1);
    assert_eq!(
        u.memberships[0]
            .roles
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>(),
        ["admin", "viewer"]
    );

    // The same email in another organization is the same user, with two memberships.
    let again = a
        .create_user_and_membership(
            &o2,
            CreateUser {
                email: "ann@example.com".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(again.id, u.id);
    assert_eq!(again.memberships.len(), 2);

    let dup = a
        .create_user_and_membership(
            &o1,
            CreateUser {
                email: "ann@example.com".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(dup.code(), "already_exists");

    for i in 0..3 {
        user(&a, &o1, &format!("u{i}@example.com"), &[]).await;
    }
    let page = a.list_organization_users(&o1, Some(2), None).await.unwrap();
    assert_eq!(page.total_size, 4);
    assert_eq!(page.users.len(), 2);
    assert_eq!(page.users[0].id, u.id);
    assert_eq!(page.users[0].memberships.len(), 2);
    let page2 = a
        .list_organization_users(&o1, Some(2), Some(page.next_page_token.clone()))
        .await
        .unwrap();
    assert_eq!(page2.users.len(), 2);
    assert!(page2.next_page_token.is_empty());
    assert_eq!(
        a.list_organization_users(&o2, None, None)
            .await
            .unwrap()
            .total_size,
        1
    );
}

async fn api_key_lifecycle(db: &TestDb) {
    let a = db.open().await;
    let o = org(&a, "Acme", Some("acme")).await;
    let u = user(&a, &o, "bob@example.com", &["admin"]).await;
    let expiry = OffsetDateTime::now_utc() + Duration::days(30);

    // Organization-scoped.
    let org_key = a
        .create_token(CreateToken {
            organization_id: o.clone(),
            custom_claims: claims(&[("env", "prod")]),
            description: Some("CI".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let plain = org_key.token.expose().to_owned();
    assert!(plain.starts_with("agk_"));
    assert!(org_key.token_id.starts_with("apit_"));
    let info = &org_key.token_info;
    assert_eq!(info.token_id, org_key.token_id);
    assert_eq!(info.organization_id, o);
    assert_eq!(info.organization_external_id, "acme");
    assert_eq!(info.user_id, None);
    assert_eq!(info.custom_claims, claims(&[("env", "prod")]));
    assert_eq!(info.description.as_deref(), Some("CI"));
    assert_eq!(info.token_suffix, plain[plain.len() - 4..]);
    assert_eq!(info.expiry, None);
    assert!(info.roles.is_empty());
    assert_eq!(a.validate_token(&plain).await.unwrap(), *info);

    // User-scoped, with expiry.
    let user_key = a
        .create_token(CreateToken {
            organization_id: o.clone(),
            user_id: Some(u.clone()),
            expiry: Some(expiry),
            ..Default::default()
        })
        .await
        .unwrap();
    let ui = a.validate_token(user_key.token.expose()).await.unwrap();
    assert_eq!(ui, user_key.token_info);
    assert_eq!(ui.user_id.as_deref(), Some(u.as_str()));
    assert_eq!(ui.user_external_id.as_deref(), Some("ext-bob@example.com"));
    assert_eq!(ui.email.as_deref(), Some("bob@example.com"));
    assert_eq!(ui.roles, ["admin"]);
    assert_eq!(ui.expiry.unwrap().unix_timestamp(), expiry.unix_timestamp());

    // A bare token id is not a credential.
    assert!(matches!(
        a.validate_token(&org_key.token_id).await,
        Err(Error::TokenValidationFailed)
    ));

    // Update by key: claims replace the map; description kept when not given.
    let updated = a
        .update_token(UpdateToken {
            token: plain.clone(),
            custom_claims: Some(claims(&[("team", "a")])),
            description: None,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(updated.custom_claims, claims(&[("team", "a")]));
    assert_eq!(updated.description.as_deref(), Some("CI"));
    // Update by id: "" clears the description; claims kept.
    let updated = a
        .update_token(UpdateToken {
            token: org_key.token_id.clone(),
            custom_claims: None,
            description: Some(String::new()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(updated.description, None);
    assert_eq!(updated.custom_claims, claims(&[("team", "a")]));
    assert_eq!(a.validate_token(&plain).await.unwrap(), updated);

    let listed = live_keys(&a, &o).await;
    assert_eq!(listed.total_count, 2);
    assert_eq!(listed.tokens, [updated.clone(), ui.clone()]);
    let only_user = a
        .list_tokens(ListTokens {
            organization_id: o.clone(),
            user_id: Some(u.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(only_user.tokens, std::slice::from_ref(&ui));

    // Invalidate by id; again by id and by key: idempotent.
    a.invalidate_token(&org_key.token_id).await.unwrap();
    assert!(matches!(
        a.validate_token(&plain).await,
        Err(Error::TokenValidationFailed)
    ));
    a.invalidate_token(&org_key.token_id).await.unwrap();
    a.invalidate_token(&plain).await.unwrap();
    // Invalidate by key.
    a.invalidate_token(user_key.token.expose()).await.unwrap();
    assert_eq!(
        a.validate_token(user_key.token.expose()).await.unwrap_err(),
        Error::TokenValidationFailed
    );

    let listed = live_keys(&a, &o).await;
    assert_eq!(listed.total_count, 0);
    assert!(listed.tokens.is_empty());
    let err = a
        .update_token(UpdateToken {
            token: org_key.token_id.clone(),
            description: Some("x".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), "not_found");
}

/// `validate_token_now` answers on the calling thread exactly as `validate_token` does: for every
/// key on SQLite, for malformed keys only on PostgreSQL.
async fn validation_without_waiting(db: &TestDb) {
    let a = db.open().await;
    let o = org(&a, "Acme", None).await;
    let key = key(&a, &o).await;
    let plain = key.token.expose();
    let sqlite = db.url.starts_with("sqlite:");

    match a.validate_token_now(plain) {
        Some(result) => {
            assert!(sqlite);
            assert_eq!(result.unwrap(), a.validate_token(plain).await.unwrap());
        }
        None => assert!(!sqlite),
    }
    for bad in ["", "agk_nope", &key.token_id, &plain[..plain.len() - 1]] {
        assert!(matches!(
            a.validate_token_now(bad),
            Some(Err(Error::TokenValidationFailed))
        ));
    }

    a.invalidate_token(&key.token_id).await.unwrap();
    if sqlite {
        assert!(matches!(
            a.validate_token_now(plain),
            Some(Err(Error::TokenValidationFailed))
        ));
    }
}

async fn expired_keys_fail_validation(db: &TestDb) {
    let a = db.open().await;
    let o = org(&a, "Acme", None).await;
    let k = a
        .create_token(CreateToken {
            organization_id: o.clone(),
            expiry: Some(OffsetDateTime::now_utc() + Duration::hours(1)),
            ..Default::default()
        })
        .await
        .unwrap();
    a.validate_token(k.token.expose()).await.unwrap();
    // Time passes.
    db.exec(&format!(
        "UPDATE authgate_api_keys SET expiry = 1000 WHERE id = '{}'",
        k.token_id
    ))
    .await;
    // A change made behind the authority's back (PostgreSQL: its notification is on the way).
    a.sync_validation_cache().await;
    assert!(matches!(
        a.validate_token(k.token.expose()).await,
        Err(Error::TokenValidationFailed)
    ));
    // Still listed (live = not revoked), and revocable.
    let listed = live_keys(&a, &o).await;
    assert_eq!(listed.total_count, 1);
    a.invalidate_token(&k.token_id).await.unwrap();
}

async fn api_key_pagination(db: &TestDb) {
    let a = db.open().await;
    let o = org(&a, "Acme", None).await;
    let other = org(&a, "Other", None).await;
    let u = user(&a, &o, "u@example.com", &[]).await;
    let mut ids = Vec::new();
    for i in 0..25 {
        let k = a
            .create_token(CreateToken {
                organization_id: o.clone(),
                user_id: (i % 5 == 0).then(|| u.clone()),
                description: Some(format!("key {i}")),
                ..Default::default()
            })
            .await
            .unwrap();
        ids.push(k.token_id);
    }
    // A revoked key in the middle is skipped everywhere.
    a.invalidate_token(&ids[12]).await.unwrap();
    let live: Vec<&String> = ids.iter().filter(|id| *id != &ids[12]).collect();

    let list = |size: Option<u32>, token: Option<String>| {
        a.list_tokens(ListTokens {
            organization_id: o.clone(),
            user_id: None,
            page_size: size,
            page_token: token,
            ..Default::default()
        })
    };
    let p1 = list(None, None).await.unwrap();
    assert_eq!(p1.total_count, 24);
    assert_eq!(p1.tokens.len(), 10);
    assert!(p1.prev_page_token.is_empty());
    let p2 = list(None, Some(p1.next_page_token.clone())).await.unwrap();
    let p3 = list(None, Some(p2.next_page_token.clone())).await.unwrap();
    assert_eq!(p3.tokens.len(), 4);
    assert!(p3.next_page_token.is_empty());
    let forward: Vec<&String> = [&p1, &p2, &p3]
        .iter()
        .flat_map(|p| p.tokens.iter().map(|t| &t.token_id))
        .collect();
    assert_eq!(forward, live);
    // Backwards from page 3 gives page 2, then page 1 (with no previous page).
    let back2 = list(None, Some(p3.prev_page_token.clone())).await.unwrap();
    assert_eq!(back2.tokens, p2.tokens);
    let back1 = list(None, Some(back2.prev_page_token.clone())).await.unwrap();
    assert_eq!(back1.tokens, p1.tokens);
    assert!(back1.prev_page_token.is_empty());
    assert!(!back1.next_page_token.is_empty());

    let max = list(Some(30), None).await.unwrap();
    assert_eq!(max.tokens.len(), 24);
    assert!(max.next_page_token.is_empty());

    // User filter.
    let mine = a
        .list_tokens(ListTokens {
            organization_id: o.clone(),
            user_id: Some(u.clone()),
            page_size: Some(2),
            page_token: None,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(mine.total_count, 5);
    assert!(
        mine.tokens
            .iter()
            .all(|t| t.user_id.as_deref() == Some(u.as_str()))
    );

    // A page token only works for the query it came from.
    let err = a
        .list_tokens(ListTokens {
            organization_id: other.clone(),
            page_token: Some(p1.next_page_token.clone()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_argument");
    assert!(err.to_string().contains("page_token"));
    let err = a
        .list_tokens(ListTokens {
            organization_id: o.clone(),
            user_id: Some(u.clone()),
            page_token: Some(p1.next_page_token.clone()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_argument");
}

async fn m2m_clients(db: &TestDb) {
    let a = db.open().await;
    let o = org(&a, "Acme", None).await;
    let created = client(&a, &o, "sync", &["read:orders", "write:orders"]).await;
    let c = &created.client;
    assert!(c.client_id.starts_with("m2morg_"));
    assert!(created.plain_secret.expose().starts_with("ags_"));
    assert_eq!(c.organization_id, o);
    assert_eq!(c.name, "sync");
    assert_eq!(c.description, "billing sync");
    assert_eq!(c.scopes, ["read:orders", "write:orders"]);
    assert_eq!(c.audience, ["https://api.example.com"]);
    assert_eq!(c.custom_claims.len(), 1);
    assert_eq!(c.expiry, 3600);
    assert_eq!(c.secrets.len(), 1);
    let first_secret = c.secrets[0].clone();
    assert!(first_secret.id.starts_with("sks_"));
    let plain = created.plain_secret.expose();
    assert_eq!(first_secret.secret_suffix, plain[plain.len() - 4..]);
    assert_eq!(first_secret.last_used_time, None);

    assert_eq!(a.get_organization_client(&o, &c.client_id).await.unwrap(), *c);

    // Update: unset fields keep their value; custom_claims replaced when given.
    let updated = a
        .update_organization_client(
            &o,
            &c.client_id,
            OrganizationClient {
                description: Some("renamed".into()),
                custom_claims: Some(vec![]),
                expiry: Some(600),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.name, "sync");
    assert_eq!(updated.description, "renamed");
    assert_eq!(updated.scopes, c.scopes);
    assert_eq!(updated.audience, c.audience);
    assert!(updated.custom_claims.is_empty());
    assert_eq!(updated.expiry, 600);

    // Secrets: add, remove; the last one stays.
    let added = a.add_organization_client_secret(&o, &c.client_id).await.unwrap();
    assert!(added.plain_secret.expose().starts_with("ags_"));
    assert_ne!(added.plain_secret, created.plain_secret);
    assert_eq!(
        a.get_organization_client(&o, &c.client_id)
            .await
            .unwrap()
            .secrets
            .len(),
        2
    );
    a.remove_organization_client_secret(&o, &c.client_id, &first_secret.id)
        .await
        .unwrap();
    let err = a
        .remove_organization_client_secret(&o, &c.client_id, &added.secret.id)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "failed_precondition");
    assert!(err.to_string().contains("last client secret"));
    // The removed secret no longer works; the new one does.
    assert!(matches!(
        a.issue_client_token(&c.client_id, created.plain_secret.expose(), None)
            .await,
        Err(Error::InvalidClient)
    ));
    a.issue_client_token(&c.client_id, added.plain_secret.expose(), None)
        .await
        .unwrap();

    // A client is only visible through its organization.
    let other = org(&a, "Other", None).await;
    assert_eq!(
        a.get_organization_client(&other, &c.client_id)
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
    a.delete_organization_client(&o, &c.client_id).await.unwrap();
    assert_eq!(
        a.get_organization_client(&o, &c.client_id)
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
    assert_eq!(
        a.delete_organization_client(&o, &c.client_id)
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
    assert!(matches!(
        a.issue_client_token(&c.client_id, added.plain_secret.expose(), None)
            .await,
        Err(Error::InvalidClient)
    ));
}

async fn m2m_client_pagination(db: &TestDb) {
    let a = db.open().await;
    let o = org(&a, "Acme", None).await;
    let mut ids = Vec::new();
    for i in 0..13 {
        let c = client(&a, &o, &format!("c{i}"), &["s"]).await;
        ids.push(c.client.client_id);
    }
    let p1 = a.list_organization_clients(&o, None, None).await.unwrap();
    assert_eq!(p1.total_size, 13);
    assert_eq!(p1.clients.len(), 10);
    assert!(p1.clients.iter().all(|c| c.secrets.len() == 1));
    let p2 = a
        .list_organization_clients(&o, Some(10), Some(p1.next_page_token.clone()))
        .await
        .unwrap();
    assert_eq!(p2.clients.len(), 3);
    assert!(p2.next_page_token.is_empty());
    let all: Vec<String> = p1
        .clients
        .iter()
        .chain(&p2.clients)
        .map(|c| c.client_id.clone())
        .collect();
    assert_eq!(all, ids);
    let back = a
        .list_organization_clients(&o, Some(10), Some(p2.prev_page_token.clone()))
        .await
        .unwrap();
    assert_eq!(back.clients, p1.clients);
}

async fn client_credentials_tokens(db: &TestDb) {
    let a = db.open().await;
    let o = org(&a, "Acme", None).await;
    let created = client(&a, &o, "sync", &["read:orders", "write:orders"]).await;
    let id = created.client.client_id.clone();
    let secret = created.plain_secret.expose().to_owned();

    let before = OffsetDateTime::now_utc().unix_timestamp();
    let resp = a.issue_client_token(&id, &secret, None).await.unwrap();
    assert_eq!(resp.token_type, "Bearer");
    assert_eq!(resp.expires_in, 3600);
    assert_eq!(resp.scope, "read:orders write:orders");
    let jwks = a.jwks().await.unwrap();
    assert_eq!(jwks.keys.len(), 1);
    let (header, claims) = verify_jwt(resp.access_token.expose(), &jwks);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "JWT");
    assert!(header["kid"].as_str().unwrap().starts_with("snk_"));
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["sub"], id.as_str());
    assert_eq!(claims["client_id"], id.as_str());
    assert_eq!(claims["oid"], o.as_str());
    assert_eq!(
        claims["scopes"],
        serde_json::json!(["read:orders", "write:orders"])
    );
    assert_eq!(claims["scope"], "read:orders write:orders");
    assert_eq!(claims["aud"], serde_json::json!(["https://api.example.com"]));
    assert_eq!(claims["custom_claims"], serde_json::json!({"wksp_id": "w1"}));
    let iat = claims["iat"].as_i64().unwrap();
    assert!(iat >= before && iat <= before + 5);
    assert_eq!(claims["nbf"].as_i64().unwrap(), iat);
    assert_eq!(claims["exp"].as_i64().unwrap(), iat + 3600);
    assert!(claims["jti"].as_str().unwrap().starts_with("tkn_"));

    // A subset of scopes; the lifetime follows the client's expiry.
    a.update_organization_client(
        &o,
        &id,
        OrganizationClient {
            expiry: Some(120),
            audience: Some(vec![]),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let resp = a
        .issue_client_token(&id, &secret, Some(vec!["read:orders".into()]))
        .await
        .unwrap();
    assert_eq!(resp.scope, "read:orders");
    assert_eq!(resp.expires_in, 120);
    let (_, claims) = verify_jwt(resp.access_token.expose(), &jwks);
    assert_eq!(claims["scopes"], serde_json::json!(["read:orders"]));
    assert!(claims.get("aud").is_none(), "no aud without an audience");

    // Scopes the client lacks.
    let err = a
        .issue_client_token(&id, &secret, Some(vec!["read:orders".into(), "admin".into()]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidScope(_)), "{err}");
    assert!(err.to_string().contains("admin"));

    // Wrong secret and unknown client: one indistinguishable error.
    let wrong = authgate_core::keys::generate_client_secret();
    assert!(matches!(
        a.issue_client_token(&id, wrong.expose(), None).await,
        Err(Error::InvalidClient)
    ));
    assert!(matches!(
        a.issue_client_token("m2morg_1234", &secret, None).await,
        Err(Error::InvalidClient)
    ));
    assert!(matches!(
        a.issue_client_token(&id, "not-a-secret", None).await,
        Err(Error::InvalidClient)
    ));

    // last_used_time was recorded.
    let client = a.get_organization_client(&o, &id).await.unwrap();
    let used = client.secrets[0].last_used_time.expect("last_used_time set");
    assert!(used.unix_timestamp() >= before);
}

async fn environment_clients(db: &TestDb) {
    let a = db.open().await;
    assert!(!a.has_environment_clients().await.unwrap());
    let (id, secret) = a.create_environment_client().await.unwrap();
    assert!(id.starts_with("skc_"));
    assert!(secret.expose().starts_with("ags_"));
    assert!(a.has_environment_clients().await.unwrap());

    let resp = a.issue_client_token(&id, secret.expose(), None).await.unwrap();
    assert_eq!(resp.expires_in, 3600);
    assert_eq!(resp.scope, "openid");
    let (_, claims) = verify_jwt(resp.access_token.expose(), &a.jwks().await.unwrap());
    assert_eq!(claims["sub"], id.as_str());
    assert_eq!(claims["client_id"], id.as_str());
    assert_eq!(claims["scope"], "openid");
    assert!(claims.get("oid").is_none());
    assert!(claims.get("custom_claims").is_none());
    assert_eq!(
        a.issue_client_token(&id, secret.expose(), Some(vec!["read:orders".into()]))
            .await
            .unwrap_err()
            .code(),
        "invalid_scope"
    );

    // Provisioned credentials (AUTHGATE_CLIENT_ID / AUTHGATE_CLIENT_SECRET): idempotent, re-keyable.
    let provisioned = Secret::new("a-provisioned-secret-of-40-characters-xx");
    a.register_environment_client("skc_ops", &provisioned)
        .await
        .unwrap();
    a.register_environment_client("skc_ops", &provisioned)
        .await
        .unwrap();
    a.issue_client_token("skc_ops", provisioned.expose(), None)
        .await
        .unwrap();
    let rekeyed = Secret::new("another-provisioned-secret-40-characters");
    a.register_environment_client("skc_ops", &rekeyed).await.unwrap();
    assert!(matches!(
        a.issue_client_token("skc_ops", provisioned.expose(), None).await,
        Err(Error::InvalidClient)
    ));
    a.issue_client_token("skc_ops", rekeyed.expose(), None)
        .await
        .unwrap();

    // Environment tokens live environment_token_ttl seconds.
    let mut config = TestDb::config();
    config.environment_token_ttl = 600;
    let b = db.open_with(config).await.unwrap();
    assert_eq!(
        b.issue_client_token("skc_ops", rekeyed.expose(), None)
            .await
            .unwrap()
            .expires_in,
        600
    );

    assert_eq!(
        a.register_environment_client("skc_ops", &Secret::new("short"))
            .await
            .unwrap_err()
            .code(),
        "invalid_argument"
    );
    assert_eq!(
        a.register_environment_client("ops", &rekeyed)
            .await
            .unwrap_err()
            .code(),
        "invalid_argument"
    );
}

async fn signing_key_rotation(db: &TestDb) {
    let a = db.open().await;
    assert!(a.list_signing_keys().await.unwrap().is_empty());
    let o = org(&a, "Acme", None).await;
    let c = client(&a, &o, "c", &["s"]).await;
    let issue = || a.issue_client_token(&c.client.client_id, c.plain_secret.expose(), None);

    // The first key is created on first need.
    let t1 = issue().await.unwrap();
    let keys = a.list_signing_keys().await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].state, SigningKeyState::Active);
    assert_eq!(keys[0].algorithm, "RS256");
    assert!(!keys[0].encrypted);
    let k1 = keys[0].kid.clone();

    // An immediate rotation (no delay): the new key signs the next token.
    let k2 = a.rotate_signing_key(NOW).await.unwrap();
    assert_eq!(k2.state, SigningKeyState::Active);
    assert!(k2.activate_at >= k2.created_at);
    let jwks = a.jwks().await.unwrap();
    assert_eq!(
        jwks.keys
            .iter()
            .map(|k| k.kid.clone().unwrap())
            .collect::<Vec<_>>(),
        [k2.kid.clone(), k1.clone()],
        "active key first, earlier key still published"
    );
    let jwk = &jwks.keys[0];
    assert_eq!(
        (jwk.kty.as_str(), jwk.use_.as_deref(), jwk.alg.as_deref()),
        ("RSA", Some("sig"), Some("RS256"))
    );
    assert_eq!(jwk.e.as_deref(), Some("AQAB"));
    // Old tokens still verify; new ones are signed with the new key.
    verify_jwt(t1.access_token.expose(), &jwks);
    let t2 = issue().await.unwrap();
    let (header, _) = verify_jwt(t2.access_token.expose(), &jwks);
    assert_eq!(header["kid"], k2.kid.as_str());

    // Retire: only a non-active key; idempotent; unknown is not_found.
    assert_eq!(
        a.retire_signing_key(&k2.kid).await.unwrap_err().code(),
        "failed_precondition"
    );
    let retired = a.retire_signing_key(&k1).await.unwrap();
    assert_eq!(retired.state, SigningKeyState::Retired);
    assert!(retired.retired_at.is_some());
    assert_eq!(
        a.retire_signing_key(&k1).await.unwrap().state,
        SigningKeyState::Retired
    );
    assert_eq!(
        a.retire_signing_key("snk_404").await.unwrap_err().code(),
        "not_found"
    );
    let jwks = a.jwks().await.unwrap();
    assert_eq!(jwks.keys.len(), 1);
    assert_eq!(jwks.keys[0].kid.as_deref(), Some(k2.kid.as_str()));
    let states: Vec<_> = a
        .list_signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.state)
        .collect();
    assert_eq!(states, [SigningKeyState::Retired, SigningKeyState::Active]);
}

async fn staged_signing_key_rotation(db: &TestDb) {
    let a = db.open().await;
    let o = org(&a, "Acme", None).await;
    let c = client(&a, &o, "c", &["s"]).await;
    let issue = || async {
        a.issue_client_token(&c.client.client_id, c.plain_secret.expose(), None)
            .await
            .unwrap()
            .access_token
            .expose()
            .to_owned()
    };
    let t1 = issue().await;
    let k1 = a.list_signing_keys().await.unwrap()[0].kid.clone();

    // Rotate with a delay: the new key is pending, published (after the active key), not signing.
    let before = OffsetDateTime::now_utc();
    let k2 = a.rotate_signing_key(HOUR).await.unwrap();
    let after = OffsetDateTime::now_utc();
    assert_eq!(k2.state, SigningKeyState::Pending);
    assert!(k2.retired_at.is_none());
    assert!(
        k2.activate_at >= before + Duration::milliseconds(3_599_999)
            && k2.activate_at <= after + Duration::hours(1),
        "{k2:?}"
    );
    let jwks = a.jwks().await.unwrap();
    assert_eq!(kids(&jwks), [k1.clone(), k2.kid.clone()]);
    let t2 = issue().await;
    assert_eq!(
        verify_jwt(&t2, &jwks).0["kid"],
        k1.as_str(),
        "pending keys do not sign"
    );
    assert_eq!(
        states(&a).await,
        [
            (k1.clone(), SigningKeyState::Active),
            (k2.kid.clone(), SigningKeyState::Pending)
        ]
    );

    // Once its activation time has passed, the next token is signed with it, and verifies with
    // the key set fetched while it was pending.
    let k2_activate_at = pending_key_falls_due(db).await;
    let t3 = issue().await;
    assert_eq!(verify_jwt(&t3, &jwks).0["kid"], k2.kid.as_str());
    verify_jwt(&t1, &jwks);
    let listed = a.list_signing_keys().await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|k| (k.kid.clone(), k.state))
            .collect::<Vec<_>>(),
        [
            (k1.clone(), SigningKeyState::Published),
            (k2.kid.clone(), SigningKeyState::Active)
        ]
    );
    assert_eq!(
        listed[1].activate_at, k2_activate_at,
        "the scheduled time is kept"
    );
    let jwks = a.jwks().await.unwrap();
    assert_eq!(kids(&jwks), [k2.kid.clone(), k1.clone()], "the active key first");

    // `jwks` and `list_signing_keys` activate a due key too, without any token issued.
    let k3 = a.rotate_signing_key(HOUR).await.unwrap();
    assert_eq!(k3.state, SigningKeyState::Pending);
    assert_eq!(
        kids(&a.jwks().await.unwrap())[1],
        k3.kid,
        "pending: published second"
    );
    pending_key_falls_due(db).await;
    assert_eq!(kids(&a.jwks().await.unwrap())[0], k3.kid);
    let k4 = a.rotate_signing_key(HOUR).await.unwrap();
    pending_key_falls_due(db).await;
    assert_eq!(
        states(&a).await,
        [
            (k1, SigningKeyState::Published),
            (k2.kid, SigningKeyState::Published),
            (k3.kid, SigningKeyState::Published),
            (k4.kid, SigningKeyState::Active)
        ]
    );
}

async fn rotating_while_a_key_is_pending(db: &TestDb) {
    let a = db.open().await;
    // A store without an active key gets its first key active at once, whatever the delay.
    let k1 = a.rotate_signing_key(HOUR).await.unwrap();
    assert_eq!(k1.state, SigningKeyState::Active);
    let pending = a.rotate_signing_key(HOUR).await.unwrap();
    assert_eq!(pending.state, SigningKeyState::Pending);

    // Another delayed rotation is refused, naming the pending key and when it activates, and
    // changes nothing.
    let err = refused!(
        db,
        "failed_precondition",
        a.rotate_signing_key(std::time::Duration::from_secs(60))
    );
    let when = pending
        .activate_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    assert!(
        err.to_string().contains(&pending.kid) && err.to_string().contains(&when),
        "{err}"
    );

    // An immediate rotation activates the pending key now, without creating another.
    let before = OffsetDateTime::now_utc() - Duration::milliseconds(1);
    let activated = a.rotate_signing_key(NOW).await.unwrap();
    assert_eq!(activated.kid, pending.kid);
    assert_eq!(activated.state, SigningKeyState::Active);
    assert!(activated.activate_at >= before && activated.activate_at < pending.activate_at);
    assert_eq!(
        states(&a).await,
        [
            (k1.kid.clone(), SigningKeyState::Published),
            (pending.kid.clone(), SigningKeyState::Active)
        ]
    );

    // With nothing pending, an immediate rotation creates a key that is active at once.
    let k3 = a.rotate_signing_key(NOW).await.unwrap();
    assert_eq!(k3.state, SigningKeyState::Active);
    assert_eq!(kids(&a.jwks().await.unwrap()), [k3.kid, k1.kid, pending.kid]);

    // Delays past the limit are refused.
    refused!(
        db,
        "invalid_argument",
        a.rotate_signing_key(authgate_core::authority::limits::SIGNING_KEY_ACTIVATION_MAX + HOUR)
    );
    let mut config = TestDb::config();
    assert_eq!(
        config.signing_key_activation_delay,
        std::time::Duration::from_secs(60)
    );
    config.signing_key_activation_delay = std::time::Duration::from_secs(31 * 24 * 3600);
    assert_eq!(db.open_with(config).await.unwrap_err().code(), "invalid_argument");
}

async fn retiring_a_pending_key(db: &TestDb) {
    let a = db.open().await;
    let o = org(&a, "Acme", None).await;
    let c = client(&a, &o, "c", &["s"]).await;
    let t1 = a
        .issue_client_token(&c.client.client_id, c.plain_secret.expose(), None)
        .await
        .unwrap();
    let k1 = a.list_signing_keys().await.unwrap()[0].kid.clone();
    let pending = a.rotate_signing_key(HOUR).await.unwrap();

    // It never signed, so it may go: out of the JWKS, and it will not activate.
    let retired = a.retire_signing_key(&pending.kid).await.unwrap();
    assert_eq!(retired.state, SigningKeyState::Retired);
    assert!(retired.retired_at.is_some());
    assert_eq!(retired.activate_at, pending.activate_at);
    let jwks = a.jwks().await.unwrap();
    assert_eq!(kids(&jwks), [k1.as_str()]);
    verify_jwt(t1.access_token.expose(), &jwks);
    assert_eq!(
        states(&a).await,
        [
            (k1.clone(), SigningKeyState::Active),
            (pending.kid.clone(), SigningKeyState::Retired)
        ]
    );

    // With no key pending any more, a delayed rotation is accepted again.
    let next = a.rotate_signing_key(HOUR).await.unwrap();
    assert_eq!(next.state, SigningKeyState::Pending);
    assert_ne!(next.kid, pending.kid);
    // A pending key whose time has come counts as active: it cannot be retired.
    db.exec(&format!(
        "UPDATE authgate_signing_keys SET activate_at = 0 WHERE kid = '{}'",
        next.kid
    ))
    .await;
    assert_eq!(
        a.retire_signing_key(&next.kid).await.unwrap_err().code(),
        "failed_precondition"
    );
    assert_eq!(
        states(&a).await,
        [
            (k1, SigningKeyState::Published),
            (pending.kid, SigningKeyState::Retired),
            (next.kid, SigningKeyState::Active)
        ]
    );
}

async fn two_instances_activate_a_pending_key_once(db: &TestDb) {
    let (a, b) = (db.open().await, db.open().await);
    let o = org(&a, "Acme", None).await;
    let c = client(&a, &o, "c", &["s"]).await;
    a.jwks().await.unwrap();
    let old = a.list_signing_keys().await.unwrap()[0].kid.clone();
    let pending = b.rotate_signing_key(HOUR).await.unwrap();
    assert_eq!(pending.state, SigningKeyState::Pending);
    let jwks = a.jwks().await.unwrap();
    pending_key_falls_due(db).await;

    // Both instances notice at once, through every path that activates: each token carries the
    // new kid, no call fails, and the store ends with one switch (no third key, the old one
    // published rather than demoted twice).
    let mut tasks = Vec::new();
    for i in 0..24 {
        let x = if i % 2 == 0 { a.clone() } else { b.clone() };
        let (id, secret) = (c.client.client_id.clone(), c.plain_secret.clone());
        tasks.push(tokio::spawn(async move {
            match i % 3 {
                0 => {
                    x.jwks().await.unwrap();
                    None
                }
                1 => {
                    x.list_signing_keys().await.unwrap();
                    None
                }
                _ => Some(
                    x.issue_client_token(&id, secret.expose(), None)
                        .await
                        .unwrap()
                        .access_token,
                ),
            }
        }));
    }
    for t in tasks {
        if let Some(token) = t.await.unwrap() {
            assert_eq!(verify_jwt(token.expose(), &jwks).0["kid"], pending.kid.as_str());
        }
    }
    for x in [&a, &b] {
        assert_eq!(
            states(x).await,
            [
                (old.clone(), SigningKeyState::Published),
                (pending.kid.clone(), SigningKeyState::Active)
            ]
        );
    }
}

async fn deleting_an_organization_removes_its_keys_and_clients(db: &TestDb) {
    let a = db.open().await;
    let o = org(&a, "Acme", None).await;
    let keep = org(&a, "Keep", None).await;
    let u = user(&a, &o, "x@example.com", &[]).await;
    let k = a
        .create_token(CreateToken {
            organization_id: o.clone(),
            user_id: Some(u),
            ..Default::default()
        })
        .await
        .unwrap();
    let kept = a
        .create_token(CreateToken {
            organization_id: keep.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let c = client(&a, &o, "c", &["s"]).await;
    a.delete_organization(&o).await.unwrap();
    assert!(matches!(
        a.validate_token(k.token.expose()).await,
        Err(Error::TokenValidationFailed)
    ));
    assert!(matches!(
        a.issue_client_token(&c.client.client_id, c.plain_secret.expose(), None)
            .await,
        Err(Error::InvalidClient)
    ));
    a.validate_token(kept.token.expose()).await.unwrap();
    // Nothing but the audit log (the history: ids, never secrets; last in the dump) names them.
    let dump = db.snapshot().await;
    let (live, history) = dump.split_once("== authgate_audit_events").unwrap();
    assert!(!live.contains(&k.token_id));
    assert!(!live.contains(&c.client.client_id));
    assert!(history.contains("organization.delete"));
}

async fn two_instances_share_one_store(db: &TestDb) {
    let a = db.open().await;
    let b = db.open().await;
    let o = org(&a, "Acme", None).await;
    let k = key(&a, &o).await;
    b.validate_token(k.token.expose()).await.unwrap();
    a.invalidate_token(&k.token_id).await.unwrap();
    assert!(matches!(
        b.validate_token(k.token.expose()).await,
        Err(Error::TokenValidationFailed)
    ));

    // A rotation through one instance is picked up by the other's next token.
    let c = client(&b, &o, "c", &["s"]).await;
    let issue = |x: &Authority| {
        let (id, secret) = (c.client.client_id.clone(), c.plain_secret.clone());
        let x = x.clone();
        async move { x.issue_client_token(&id, secret.expose(), None).await.unwrap() }
    };
    let first = issue(&a).await;
    let rotated = b.rotate_signing_key(NOW).await.unwrap();
    let second = issue(&a).await;
    let jwks = b.jwks().await.unwrap();
    assert_ne!(
        verify_jwt(first.access_token.expose(), &jwks).0["kid"],
        rotated.kid.as_str()
    );
    assert_eq!(
        verify_jwt(second.access_token.expose(), &jwks).0["kid"],
        rotated.kid.as_str()
    );

    // Concurrent writers through both instances all land.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let x = if i % 2 == 0 { a.clone() } else { b.clone() };
        let o = o.clone();
        tasks.push(tokio::spawn(async move {
            x.create_token(CreateToken {
                organization_id: o,
                ..Default::default()
            })
            .await
            .unwrap()
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let listed = live_keys(&a, &o).await;
    assert_eq!(listed.total_count, 20);
}

async fn concurrent_first_use_creates_one_signing_key(db: &TestDb) {
    let instances = [db.open().await, db.open().await, db.open().await];
    let mut tasks = Vec::new();
    for a in &instances {
        let a = a.clone();
        tasks.push(tokio::spawn(async move { a.jwks().await.unwrap() }));
    }
    let mut kids = Vec::new();
    for t in tasks {
        let jwks = t.await.unwrap();
        assert_eq!(jwks.keys.len(), 1);
        kids.push(jwks.keys[0].kid.clone());
    }
    assert!(kids.windows(2).all(|w| w[0] == w[1]), "{kids:?}");
    assert_eq!(instances[0].list_signing_keys().await.unwrap().len(), 1);
}

async fn no_plain_secret_is_stored(db: &TestDb) {
    let a = db.open().await;
    let o = org(&a, "Acme", None).await;
    let u = user(&a, &o, "s@example.com", &[]).await;
    let mut secrets: Vec<String> = Vec::new();
    for user_id in [None, Some(u)] {
        let k = a
            .create_token(CreateToken {
                organization_id: o.clone(),
                user_id,
                ..Default::default()
            })
            .await
            .unwrap();
        a.validate_token(k.token.expose()).await.unwrap();
        secrets.push(k.token.into_inner());
    }
    let c = client(&a, &o, "c", &["s"]).await;
    let added = a
        .add_organization_client_secret(&o, &c.client.client_id)
        .await
        .unwrap();
    let t = a
        .issue_client_token(&c.client.client_id, c.plain_secret.expose(), None)
        .await
        .unwrap();
    let (env_id, env_secret) = a.create_environment_client().await.unwrap();
    let provisioned = "provisioned-environment-secret-0123456789";
    a.register_environment_client("skc_prov", &Secret::new(provisioned))
        .await
        .unwrap();
    a.issue_client_token(&env_id, env_secret.expose(), None)
        .await
        .unwrap();
    secrets.extend([
        c.plain_secret.into_inner(),
        added.plain_secret.into_inner(),
        env_secret.into_inner(),
        provisioned.to_owned(),
        t.access_token.into_inner(),
    ]);

    let raw = db.raw_contents().await;
    assert!(raw.len() > 1000);
    for s in &secrets {
        assert!(!contains(&raw, s), "a plain secret is stored");
        // Nor its random body without the prefix.
        assert!(!contains(&raw, &s[4..s.len().min(36)]), "a secret body is stored");
    }
    // And the ids are there, so the scan does look at the data.
    assert!(contains(&raw, &c.client.client_id));
    assert!(contains(&raw, &env_id));
}

async fn pepper_is_enforced(db: &TestDb) {
    let pepper = Secret::new("pepper-pepper-pepper-pepper-pepper-42");
    let mut config = TestDb::config();
    config.key_pepper = Some(pepper.clone());
    let a = db.open_with(config.clone()).await.unwrap();
    let o = org(&a, "Acme", None).await;
    let k = key(&a, &o).await;
    drop(a);

    let err = db.open_with(TestDb::config()).await.unwrap_err();
    assert_eq!(err.code(), "failed_precondition");
    assert!(err.to_string().contains("AUTHGATE_KEY_PEPPER"), "{err}");
    let mut other = TestDb::config();
    other.key_pepper = Some(Secret::new("another-pepper-another-pepper-another"));
    let err = db.open_with(other).await.unwrap_err();
    assert_eq!(err.code(), "failed_precondition");
    assert!(
        !err.to_string().contains("another-pepper"),
        "the pepper leaked into an error"
    );

    let a = db.open_with(config).await.unwrap();
    a.validate_token(k.token.expose()).await.unwrap();
    assert!(!format!("{a:?}").contains("pepper-pepper"));
}

async fn master_key_encrypts_signing_keys(db: &TestDb) {
    let mut config = TestDb::config();
    config.master_key = Some(Secret::new("master-key-master-key-master-key-0001"));
    let a = db.open_with(config.clone()).await.unwrap();
    let o = org(&a, "Acme", None).await;
    let c = client(&a, &o, "c", &["s"]).await;
    a.issue_client_token(&c.client.client_id, c.plain_secret.expose(), None)
        .await
        .unwrap();
    let keys = a.list_signing_keys().await.unwrap();
    assert!(keys.iter().all(|k| k.encrypted));
    drop(a);

    let err = db.open_with(TestDb::config()).await.unwrap_err();
    assert_eq!(err.code(), "failed_precondition");
    assert!(err.to_string().contains("AUTHGATE_MASTER_KEY"), "{err}");
    let mut wrong = TestDb::config();
    wrong.master_key = Some(Secret::new("master-key-master-key-master-key-0002"));
    assert_eq!(
        db.open_with(wrong).await.unwrap_err().code(),
        "failed_precondition"
    );

    let a = db.open_with(config).await.unwrap();
    a.issue_client_token(&c.client.client_id, c.plain_secret.expose(), None)
        .await
        .unwrap();
    // No PKCS#8 private key in the clear: the DER prefix of an RSA PKCS#8 key is absent.
    let raw = db.raw_contents().await;
    let pkcs8_rsa_prefix = "020100300d06092a864886f70d0101010500";
    assert!(!contains(&raw, pkcs8_rsa_prefix));
    assert!(!raw.windows(18).any(|w| w
        == [
            0x02, 0x01, 0x00, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
            0x05, 0x00
        ]));
}

async fn bad_input_is_refused_and_changes_nothing(db: &TestDb) {
    let a = db.open().await;
    let o = org(&a, "Acme", Some("acme")).await;
    let u = user(&a, &o, "member@example.com", &[]).await;
    let other = org(&a, "Other", None).await;
    let outsider = user(&a, &other, "outsider@example.com", &[]).await;
    let c = client(&a, &o, "c", &["s"]).await;
    let cid = c.client.client_id.clone();
    let good = key(&a, &o).await;
    let key = |claims_: BTreeMap<String, String>, description: Option<String>| CreateToken {
        organization_id: o.clone(),
        custom_claims: claims_,
        description,
        ..Default::default()
    };

    // API-key limits.
    let many: BTreeMap<String, String> = (0..21).map(|i| (format!("k{i}"), "v".into())).collect();
    let twenty: BTreeMap<String, String> = (0..20).map(|i| (format!("k{i}"), "v".into())).collect();
    refused!(db, "invalid_argument", a.create_token(key(many.clone(), None)));
    refused!(
        db,
        "invalid_argument",
        a.create_token(key(claims(&[("", "v")]), None))
    );
    refused!(
        db,
        "invalid_argument",
        a.create_token(key(claims(&[(&"k".repeat(31), "v")]), None))
    );
    refused!(
        db,
        "invalid_argument",
        a.create_token(key(claims(&[("k", "")]), None))
    );
    refused!(
        db,
        "invalid_argument",
        a.create_token(key(claims(&[("k", &"v".repeat(257))]), None))
    );
    refused!(
        db,
        "invalid_argument",
        a.create_token(key(BTreeMap::new(), Some("d".repeat(256))))
    );
    // ... and their boundaries pass.
    a.create_token(key(twenty, Some("d".repeat(255)))).await.unwrap();
    a.create_token(key(claims(&[(&"k".repeat(30), &"v".repeat(256))]), None))
        .await
        .unwrap();
    refused!(
        db,
        "invalid_argument",
        a.create_token(CreateToken {
            organization_id: o.clone(),
            expiry: Some(OffsetDateTime::now_utc() - Duration::seconds(1)),
            ..Default::default()
        })
    );

    // Unknown organization / user, and a user of another organization.
    refused!(
        db,
        "not_found",
        a.create_token(CreateToken {
            organization_id: "org_404".into(),
            ..Default::default()
        })
    );
    refused!(
        db,
        "invalid_argument",
        a.create_token(CreateToken {
            organization_id: "acme".into(),
            ..Default::default()
        })
    );
    refused!(
        db,
        "not_found",
        a.create_token(CreateToken {
            organization_id: o.clone(),
            user_id: Some("usr_404".into()),
            ..Default::default()
        })
    );
    refused!(
        db,
        "failed_precondition",
        a.create_token(CreateToken {
            organization_id: o.clone(),
            user_id: Some(outsider.clone()),
            ..Default::default()
        })
    );
    refused!(
        db,
        "not_found",
        a.list_tokens(ListTokens {
            organization_id: "org_404".into(),
            ..Default::default()
        })
    );
    refused!(
        db,
        "not_found",
        a.create_user_and_membership(
            "org_404",
            CreateUser {
                email: "x@example.com".into(),
                ..Default::default()
            }
        )
    );
    refused!(
        db,
        "invalid_argument",
        a.create_user_and_membership(
            &o,
            CreateUser {
                email: "not-an-email".into(),
                ..Default::default()
            }
        )
    );

    // Page sizes and page tokens.
    let list = |size: Option<u32>, token: Option<&str>| {
        a.list_tokens(ListTokens {
            organization_id: o.clone(),
            user_id: Some(u.clone()),
            page_size: size,
            page_token: token.map(Into::into),
            ..Default::default()
        })
    };
    refused!(db, "invalid_argument", list(Some(31), None));
    refused!(db, "invalid_argument", list(None, Some("bm90IGEgdG9rZW4")));
    refused!(
        db,
        "invalid_argument",
        list(None, Some("AQAAAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAA"))
    );
    refused!(
        db,
        "invalid_argument",
        a.list_organization_clients(&o, Some(9), None)
    );
    refused!(
        db,
        "invalid_argument",
        a.list_organization_clients(&o, Some(101), None)
    );

    // Malformed keys: validation fails before the store, update/invalidate say invalid_argument.
    let plain = good.token.expose().to_owned();
    let mut bad_checksum = plain.clone();
    let last = bad_checksum.pop().unwrap();
    bad_checksum.push(if last == 'A' { 'B' } else { 'A' });
    let junk = "x".repeat(10 * 1024);
    let wrong_prefix = format!("sk_{}", &plain[4..]);
    for bad in [
        "",
        junk.as_str(),
        bad_checksum.as_str(),
        wrong_prefix.as_str(),
        good.token_id.as_str(),
    ] {
        let err = refused!(db, "token_validation_failed", a.validate_token(bad));
        assert_eq!(err.to_string(), "token validation failed");
    }
    for bad in ["", junk.as_str(), bad_checksum.as_str(), wrong_prefix.as_str()] {
        refused!(db, "invalid_argument", a.invalidate_token(bad));
        refused!(
            db,
            "invalid_argument",
            a.update_token(UpdateToken {
                token: bad.into(),
                description: Some("x".into()),
                ..Default::default()
            })
        );
    }
    let unknown_key = authgate_core::keys::generate_api_key();
    refused!(db, "not_found", a.invalidate_token(unknown_key.expose()));
    refused!(db, "not_found", a.invalidate_token("apit_404"));
    let err = refused!(
        db,
        "not_found",
        a.update_token(UpdateToken {
            token: unknown_key.expose().into(),
            description: Some("x".into()),
            ..Default::default()
        })
    );
    assert!(
        !err.to_string().contains(unknown_key.expose()),
        "a key leaked into an error"
    );
    refused!(
        db,
        "invalid_argument",
        a.update_token(UpdateToken {
            token: plain.clone(),
            custom_claims: Some(claims(&[("k", "")])),
            ..Default::default()
        })
    );

    // M2M clients.
    refused!(
        db,
        "not_found",
        a.create_organization_client("org_404", client_input("c", &["s"]))
    );
    refused!(
        db,
        "invalid_argument",
        a.create_organization_client(&o, client_input("", &["s"]))
    );
    refused!(
        db,
        "invalid_argument",
        a.create_organization_client(&o, client_input(&"n".repeat(129), &["s"]))
    );
    refused!(
        db,
        "invalid_argument",
        a.create_organization_client(&o, client_input("c", &["has space"]))
    );
    refused!(
        db,
        "invalid_argument",
        a.create_organization_client(
            &o,
            OrganizationClient {
                expiry: Some(10),
                ..client_input("c", &["s"])
            }
        )
    );
    refused!(db, "not_found", a.get_organization_client(&o, "m2morg_404"));
    refused!(db, "not_found", a.get_organization_client(&other, &cid));
    refused!(
        db,
        "not_found",
        a.update_organization_client(&o, "m2morg_404", client_input("c", &["s"]))
    );
    refused!(
        db,
        "not_found",
        a.add_organization_client_secret(&o, "m2morg_404")
    );
    refused!(
        db,
        "not_found",
        a.remove_organization_client_secret(&o, &cid, "sks_404")
    );
    let only = c.client.secrets[0].id.clone();
    refused!(
        db,
        "failed_precondition",
        a.remove_organization_client_secret(&o, &cid, &only)
    );

    // Token endpoint.
    let secret = c.plain_secret.expose();
    refused!(db, "invalid_client", a.issue_client_token(&cid, "wrong", None));
    refused!(
        db,
        "invalid_client",
        a.issue_client_token(&cid, authgate_core::keys::generate_client_secret().expose(), None)
    );
    refused!(
        db,
        "invalid_client",
        a.issue_client_token("m2morg_404", secret, None)
    );
    refused!(
        db,
        "invalid_client",
        a.issue_client_token("someone", secret, None)
    );
    refused!(
        db,
        "invalid_scope",
        a.issue_client_token(&cid, secret, Some(vec!["other".into()]))
    );
    refused!(
        db,
        "invalid_scope",
        a.issue_client_token(&cid, secret, Some(vec!["a b".into()]))
    );

    // Signing keys.
    refused!(db, "not_found", a.retire_signing_key("snk_404"));
    refused!(db, "invalid_argument", a.retire_signing_key("nope"));
    // Configuration.
    assert_eq!(
        Authority::open(&db.url, AuthorityConfig::new("not a url"))
            .await
            .unwrap_err()
            .code(),
        "invalid_argument"
    );
    let mut short = TestDb::config();
    short.key_pepper = Some(Secret::new("short"));
    assert_eq!(db.open_with(short).await.unwrap_err().code(), "invalid_argument");
}

/// A new SQLite store's files (the database, and the WAL and shared-memory files of WAL mode)
/// are readable by their owner only. Each file must exist: a check that skipped a missing file
/// would pass on a store that was never written.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_sqlite_store_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let db = TestDb::sqlite().await;
    let a = db.open().await;
    // A write, with the authority still open: the WAL and shared-memory files exist now.
    org(&a, "Private", None).await;
    let common::Backend::Sqlite { path, .. } = &db.backend else {
        unreachable!("a SQLite store")
    };
    for suffix in ["", "-wal", "-shm"] {
        let p = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
        let meta = std::fs::metadata(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{}", p.display());
    }
    drop(a);
}
