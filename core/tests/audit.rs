//! The audit log (#13 item 5), on SQLite and (when `AUTHGATE_TEST_DATABASE_URL` is set)
//! PostgreSQL: every management action writes one event in its own transaction (and a failed
//! one none: `refused!` compares every table, the audit log included), the actor and source of
//! the request scope, listing with filters and bound page tokens, retention, and no secret in
//! the log.

mod common;

use std::time::Duration;

use authgate_core::audit;
use authgate_core::authority::Authority;
use authgate_core::model::{
    AuditEvent, AuditOutcome, CreateOrganization, CreateToken, CreateUser, ListAuditEvents, MembershipInput,
    OrganizationClient, UpdateOrganization, UpdateToken, UpdateUser, UserRef,
};
use authgate_core::{AuthApi, Secret};
use common::{TestDb, contains};
use time::OffsetDateTime;

on_both!(
    every_management_action_is_recorded,
    failed_actions_leave_no_event,
    the_scope_names_actor_and_source,
    listing_filters_and_pages,
    refused_authentications_and_retention,
);

async fn all_events(a: &Authority) -> Vec<AuditEvent> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = a
            .list_audit_events(ListAuditEvents {
                page_size: Some(100),
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap();
        out.extend(page.events);
        if page.next_page_token.is_empty() {
            return out;
        }
        token = Some(page.next_page_token);
    }
}

fn actions(events: &[AuditEvent]) -> Vec<&str> {
    events.iter().map(|e| e.action.as_str()).collect()
}

async fn org(a: &Authority, name: &str) -> String {
    a.create_organization(CreateOrganization {
        display_name: name.into(),
        external_id: None,
    })
    .await
    .unwrap()
    .id
}

/// Runs one of each management action; returns the secrets it saw (for the leak check).
async fn every_action(a: &Authority) -> Vec<String> {
    let mut secrets = Vec::new();
    let o = org(a, "Acme").await;
    a.update_organization(
        &o,
        UpdateOrganization {
            display_name: Some("Acme Corp".into()),
            external_id: None,
        },
    )
    .await
    .unwrap();
    let user = a
        .create_user_and_membership(
            &o,
            CreateUser {
                email: "ann@example.com".into(),
                external_id: Some("ann".into()),
                roles: vec!["admin".into()],
            },
        )
        .await
        .unwrap();
    a.update_user(
        &UserRef::external_id("ann"),
        UpdateUser {
            external_id: Some("ann-2".into()),
        },
    )
    .await
    .unwrap();
    let o2 = org(a, "Beta").await;
    a.create_membership(&o2, &UserRef::id(&user.id), MembershipInput { roles: vec![] })
        .await
        .unwrap();
    a.update_membership(
        &o2,
        &UserRef::id(&user.id),
        MembershipInput {
            roles: vec!["viewer".into()],
        },
    )
    .await
    .unwrap();
    a.delete_membership(&o2, &UserRef::external_id("ann-2"))
        .await
        .unwrap();
    let key = a
        .create_token(CreateToken {
            organization_id: o.clone(),
            description: Some("ci".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    secrets.push(key.token.expose().to_owned());
    a.update_token(UpdateToken {
        token: key.token.expose().to_owned(),
        custom_claims: None,
        description: Some("deploys".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    a.invalidate_token(key.token.expose()).await.unwrap();
    let client = a
        .create_organization_client(
            &o,
            OrganizationClient {
                name: Some("svc".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    secrets.push(client.plain_secret.expose().to_owned());
    let cid = client.client.client_id.clone();
    a.update_organization_client(
        &o,
        &cid,
        OrganizationClient {
            description: Some("batch".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let second = a.add_organization_client_secret(&o, &cid).await.unwrap();
    secrets.push(second.plain_secret.expose().to_owned());
    a.remove_organization_client_secret(&o, &cid, &second.secret.id)
        .await
        .unwrap();
    a.delete_organization_client(&o, &cid).await.unwrap();
    let first = a.rotate_signing_key(Duration::ZERO).await.unwrap();
    a.rotate_signing_key(Duration::ZERO).await.unwrap();
    a.retire_signing_key(&first.kid).await.unwrap();
    let (credential, env_secret) = a.create_environment_credential().await.unwrap();
    secrets.push(env_secret.expose().to_owned());
    let provisioned = Secret::new("provisioned-environment-secret-0123456789");
    a.register_environment_client("skc_ops", &provisioned)
        .await
        .unwrap();
    secrets.push(provisioned.expose().to_owned());
    a.revoke_environment_client(&credential.client_id).await.unwrap();
    a.delete_user(&UserRef::id(&user.id)).await.unwrap();
    a.delete_organization(&o2).await.unwrap();
    secrets
}

async fn every_management_action_is_recorded(db: &TestDb) {
    let a = db.open().await;
    let secrets = every_action(&a).await;
    let events = all_events(&a).await;
    assert_eq!(
        actions(&events),
        [
            "organization.create",
            "organization.update",
            "user.create",
            "user.update",
            "organization.create",
            "membership.create",
            "membership.update",
            "membership.delete",
            "api_key.create",
            "api_key.update",
            "api_key.revoke",
            "client.create",
            "client.update",
            "client_secret.create",
            "client_secret.delete",
            "client.delete",
            "signing_key.rotate",
            "signing_key.rotate",
            "signing_key.retire",
            "environment_credential.create",
            "environment_credential.register",
            "environment_credential.revoke",
            "user.delete",
            "organization.delete",
        ]
    );
    for e in &events {
        assert_eq!(e.actor, audit::EMBEDDED, "{e:?}");
        assert_eq!(e.outcome, AuditOutcome::Success);
        assert_eq!(e.source_address, None);
        assert_eq!(e.error_code, None);
        assert!(e.id.starts_with("aud_"));
        assert!(!e.target_ids.is_empty(), "{e:?}");
        assert!((OffsetDateTime::now_utc() - e.time).whole_seconds() < 60);
    }
    // Targets and organizations: users resolved from external ids, keys named by id.
    let by = |action: &str| events.iter().find(|e| e.action == action).unwrap();
    let user_id = &by("user.create").target_ids[0];
    assert!(user_id.starts_with("usr_"));
    for action in ["user.update", "membership.delete", "user.delete"] {
        assert_eq!(
            by(action).target_ids.as_slice(),
            std::slice::from_ref(user_id),
            "{action}"
        );
    }
    let org_id = by("organization.create").organization_id.clone().unwrap();
    assert_eq!(
        by("organization.create").target_ids.as_slice(),
        std::slice::from_ref(&org_id)
    );
    for action in ["api_key.create", "api_key.update", "api_key.revoke"] {
        let e = by(action);
        assert_eq!(e.organization_id.as_deref(), Some(org_id.as_str()), "{action}");
        assert!(e.target_ids[0].starts_with("apit_"), "{action}: {e:?}");
    }
    let client = by("client.create");
    assert!(client.target_ids[0].starts_with("m2morg_") && client.target_ids[1].starts_with("sks_"));
    assert!(by("signing_key.rotate").target_ids[0].starts_with("snk_"));
    assert_eq!(by("environment_credential.register").target_ids, ["skc_ops"]);
    // Never a secret, key or token anywhere in the store (digests only, the log holds ids).
    let raw = db.raw_contents().await;
    for s in &secrets {
        assert!(!contains(&raw, s), "a secret is in the store");
    }
}

async fn failed_actions_leave_no_event(db: &TestDb) {
    let a = db.open().await;
    let o = org(&a, "Acme").await;
    // `refused!` compares every table, the audit log included.
    refused!(db, "not_found", a.delete_organization("org_404"));
    refused!(db, "invalid_argument", a.delete_organization("nope"));
    refused!(
        db,
        "not_found",
        a.create_token(CreateToken {
            organization_id: "org_404".into(),
            ..Default::default()
        })
    );
    refused!(db, "not_found", a.invalidate_token("apit_404"));
    refused!(db, "not_found", a.delete_user(&UserRef::external_id("nobody")));
    refused!(db, "not_found", a.delete_organization_client(&o, "m2morg_404"));
    let client = a
        .create_organization_client(
            &o,
            OrganizationClient {
                name: Some("svc".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let only = client.client.secrets[0].id.clone();
    refused!(
        db,
        "failed_precondition",
        a.remove_organization_client_secret(&o, &client.client.client_id, &only)
    );
    let (credential, _) = a.create_environment_credential().await.unwrap();
    refused!(
        db,
        "failed_precondition",
        a.revoke_environment_client(&credential.client_id)
    );
    refused!(
        db,
        "invalid_argument",
        a.list_audit_events(ListAuditEvents {
            action: Some("api_key.explode".into()),
            ..Default::default()
        })
    );
    assert_eq!(
        actions(&all_events(&a).await),
        [
            "organization.create",
            "client.create",
            "environment_credential.create"
        ]
    );
}

async fn the_scope_names_actor_and_source(db: &TestDb) {
    let a = db.open().await;
    let ip: std::net::IpAddr = "2001:db8::7".parse().unwrap();
    let o = audit::scope(Some(ip), async {
        audit::set_actor("skc_admin");
        org(&a, "Scoped").await
    })
    .await;
    // A scope without an actor keeps the configured one, with the address.
    audit::scope(Some(ip), a.delete_organization(&o)).await.unwrap();
    let mut config = TestDb::config();
    config.audit_actor = "cli:alice".into();
    let cli = db.open_with(config).await.unwrap();
    org(&cli, "From the CLI").await;
    let events = all_events(&a).await;
    let seen: Vec<_> = events
        .iter()
        .map(|e| (e.actor.as_str(), e.source_address.as_deref()))
        .collect();
    assert_eq!(
        seen,
        [
            ("skc_admin", Some("2001:db8::7")),
            (audit::EMBEDDED, Some("2001:db8::7")),
            ("cli:alice", None),
        ]
    );
    let mut blank = TestDb::config();
    blank.audit_actor = " ".into();
    assert_eq!(db.open_with(blank).await.unwrap_err().code(), "invalid_argument");
}

async fn listing_filters_and_pages(db: &TestDb) {
    let a = db.open().await;
    let o1 = org(&a, "One").await;
    let o2 = org(&a, "Two").await;
    for o in [&o1, &o2, &o1] {
        a.create_token(CreateToken {
            organization_id: o.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    }
    let list = |input: ListAuditEvents| {
        let a = a.clone();
        async move { a.list_audit_events(input).await }
    };
    let page = list(ListAuditEvents {
        organization_id: Some(o1.clone()),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(
        actions(&page.events),
        ["organization.create", "api_key.create", "api_key.create"]
    );
    assert_eq!(page.total_size, 3);
    let page = list(ListAuditEvents {
        action: Some("api_key.create".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(page.total_size, 3);
    let page = list(ListAuditEvents {
        actor: Some("someone-else".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(page.events.is_empty() && page.total_size == 0);
    // Time range: start inclusive, end exclusive.
    let all = all_events(&a).await;
    let third = all[2].time;
    let page = list(ListAuditEvents {
        start_time: Some(third),
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(page.events.iter().all(|e| e.time >= third));
    assert!(page.events.len() >= 3);
    let page = list(ListAuditEvents {
        end_time: Some(all[0].time),
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(page.events.is_empty());
    // Keyset paging, forwards and back, bound to the filters.
    let first = list(ListAuditEvents {
        page_size: Some(2),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(first.events.len(), 2);
    assert!(first.prev_page_token.is_empty() && !first.next_page_token.is_empty());
    let second = list(ListAuditEvents {
        page_size: Some(2),
        page_token: Some(first.next_page_token.clone()),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(second.events[0].id, all[2].id);
    let back = list(ListAuditEvents {
        page_size: Some(2),
        page_token: Some(second.prev_page_token.clone()),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(back.events, first.events);
    refused!(
        db,
        "invalid_argument",
        list(ListAuditEvents {
            actor: Some("other".into()),
            page_token: Some(first.next_page_token.clone()),
            ..Default::default()
        })
    );
    refused!(
        db,
        "invalid_argument",
        list(ListAuditEvents {
            page_size: Some(101),
            ..Default::default()
        })
    );
    refused!(
        db,
        "invalid_argument",
        list(ListAuditEvents {
            organization_id: Some("acme".into()),
            ..Default::default()
        })
    );
    refused!(
        db,
        "invalid_argument",
        list(ListAuditEvents {
            start_time: Some(third),
            end_time: Some(third),
            ..Default::default()
        })
    );
}

async fn refused_authentications_and_retention(db: &TestDb) {
    let a = db.open().await;
    let ip: std::net::IpAddr = "192.0.2.9".parse().unwrap();
    a.record_refused_authentication(Some(ip), None, "unauthenticated")
        .await
        .unwrap();
    a.record_refused_authentication(None, Some("m2morg_1"), "permission_denied")
        .await
        .unwrap();
    let events = all_events(&a).await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].action, audit::ADMIN_AUTHENTICATE);
    assert_eq!(events[0].outcome, AuditOutcome::Failure);
    assert_eq!(events[0].actor, audit::UNAUTHENTICATED);
    assert_eq!(events[0].source_address.as_deref(), Some("192.0.2.9"));
    assert_eq!(events[0].error_code.as_deref(), Some("unauthenticated"));
    assert_eq!(events[1].actor, "m2morg_1");
    assert_eq!(events[1].error_code.as_deref(), Some("permission_denied"));

    // Retention: nothing is recent enough to go; age two events by 10 days and prune at 7.
    let week = Duration::from_secs(7 * 86_400);
    assert_eq!(a.prune_audit_events(week).await.unwrap(), 0);
    org(&a, "Recent").await;
    db.exec("UPDATE authgate_audit_events SET time = time - 864000000 WHERE action = 'admin.authenticate'")
        .await;
    assert_eq!(a.prune_audit_events(week).await.unwrap(), 2);
    assert_eq!(
        actions(&all_events(&a).await),
        ["organization.create", "audit.prune"]
    );
    refused!(
        db,
        "invalid_argument",
        a.prune_audit_events(Duration::from_secs(3600))
    );
    refused!(
        db,
        "invalid_argument",
        a.prune_audit_events(Duration::from_secs(40_000 * 86_400))
    );
}
