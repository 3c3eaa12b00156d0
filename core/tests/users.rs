//! Organization updates, users and memberships (#11), on SQLite and (when
//! `AUTHGATE_TEST_DATABASE_URL` is set) PostgreSQL: every operation's success, its failures with
//! their exact codes (and the store left unchanged), and the revocation of API keys that deleting
//! a user or a membership implies. Also the administrative lookup of a key by its `apit_…` id.

mod common;

use authgate_core::authority::Authority;
use authgate_core::model::{
    CreateOrganization, CreateToken, CreateUser, MembershipInput, UpdateOrganization, UpdateToken,
    UpdateUser, User, UserRef,
};
use authgate_core::{AuthApi, Error};
use common::TestDb;

on_both!(
    updating_organizations,
    getting_listing_and_updating_users,
    deleting_a_user_removes_memberships_and_revokes_keys_at_once,
    memberships_by_id_and_by_external_id,
    token_ids_are_looked_up_but_never_validated,
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

async fn member(a: &Authority, org_id: &str, email: &str, external_id: Option<&str>, roles: &[&str]) -> User {
    a.create_user_and_membership(
        org_id,
        CreateUser {
            email: email.into(),
            external_id: external_id.map(Into::into),
            roles: roles.iter().map(|r| r.to_string()).collect(),
        },
    )
    .await
    .unwrap()
}

async fn user_key(a: &Authority, org_id: &str, user_id: &str) -> String {
    a.create_token(CreateToken {
        organization_id: org_id.into(),
        user_id: Some(user_id.into()),
        ..Default::default()
    })
    .await
    .unwrap()
    .token
    .into_inner()
}

fn roles(names: &[&str]) -> MembershipInput {
    MembershipInput {
        roles: names.iter().map(|r| r.to_string()).collect(),
    }
}

fn role_names(user: &User, org_id: &str) -> Option<Vec<String>> {
    user.memberships
        .iter()
        .find(|m| m.organization_id == org_id)
        .map(|m| m.roles.iter().map(|r| r.name.clone()).collect())
}

fn field_of(err: &Error) -> &str {
    match err {
        Error::InvalidArgument { field, .. } => field,
        other => panic!("expected invalid_argument, got {other}"),
    }
}

async fn updating_organizations(db: &TestDb) {
    let a = db.open().await;
    let id = org(&a, "Acme", Some("acme")).await;
    let other = org(&a, "Other", Some("other")).await;
    let before = a.get_organization(&id).await.unwrap();

    // Only the fields present change.
    let renamed = a
        .update_organization(
            &id,
            UpdateOrganization {
                display_name: Some("Acme Corp".into()),
                external_id: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(renamed.display_name, "Acme Corp");
    assert_eq!(renamed.external_id.as_deref(), Some("acme"));
    assert_eq!(renamed.create_time, before.create_time);
    assert!(renamed.update_time >= before.update_time);
    assert_eq!(a.get_organization(&id).await.unwrap(), renamed);

    let moved = a
        .update_organization(
            &id,
            UpdateOrganization {
                display_name: None,
                external_id: Some("acme-2".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(moved.display_name, "Acme Corp");
    assert_eq!(moved.external_id.as_deref(), Some("acme-2"));
    // Setting its own external id again is no conflict.
    a.update_organization(
        &id,
        UpdateOrganization {
            display_name: None,
            external_id: Some("acme-2".into()),
        },
    )
    .await
    .unwrap();

    // Failures: the exact code, and nothing changes.
    let taken = refused!(
        db,
        "already_exists",
        a.update_organization(
            &id,
            UpdateOrganization {
                display_name: Some("Renamed too".into()),
                external_id: Some("other".into()),
            },
        )
    );
    assert!(taken.to_string().contains("external_id"), "{taken}");
    refused!(
        db,
        "not_found",
        a.update_organization(
            "org_404404",
            UpdateOrganization {
                display_name: Some("x".into()),
                external_id: None,
            },
        )
    );
    let empty = refused!(
        db,
        "invalid_argument",
        a.update_organization(&id, UpdateOrganization::default())
    );
    assert_eq!(field_of(&empty), "organization");
    let prefix = refused!(
        db,
        "invalid_argument",
        a.update_organization(
            "usr_123",
            UpdateOrganization {
                display_name: Some("x".into()),
                external_id: None,
            },
        )
    );
    assert_eq!(field_of(&prefix), "organization_id");
    let blank = refused!(
        db,
        "invalid_argument",
        a.update_organization(
            &id,
            UpdateOrganization {
                display_name: Some("   ".into()),
                external_id: None,
            },
        )
    );
    assert_eq!(field_of(&blank), "display_name");
    let long = refused!(
        db,
        "invalid_argument",
        a.update_organization(
            &id,
            UpdateOrganization {
                display_name: None,
                external_id: Some("e".repeat(129)),
            },
        )
    );
    assert_eq!(field_of(&long), "external_id");

    // `""` removes the external id; the freed one can be taken by another organization.
    let cleared = a
        .update_organization(
            &id,
            UpdateOrganization {
                display_name: None,
                external_id: Some(String::new()),
            },
        )
        .await
        .unwrap();
    assert_eq!(cleared.external_id, None);
    let took = a
        .update_organization(
            &other,
            UpdateOrganization {
                display_name: None,
                external_id: Some("acme-2".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(took.external_id.as_deref(), Some("acme-2"));
}

async fn getting_listing_and_updating_users(db: &TestDb) {
    let a = db.open().await;
    let o1 = org(&a, "One", None).await;
    let o2 = org(&a, "Two", None).await;
    let ann = member(&a, &o1, "ann@example.com", Some("ann"), &["admin"]).await;
    a.create_user_and_membership(
        &o2,
        CreateUser {
            email: "ann@example.com".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let bob = member(&a, &o2, "bob@example.com", None, &[]).await;
    let cy = member(&a, &o2, "cy@example.com", Some("cy"), &[]).await;

    // Get by id and by external id: the same user, with every membership.
    let by_id = a.get_user(&UserRef::id(&ann.id)).await.unwrap();
    let by_external = a.get_user(&UserRef::external_id("ann")).await.unwrap();
    assert_eq!(by_id, by_external);
    assert_eq!(by_id.memberships.len(), 2);
    assert_eq!(role_names(&by_id, &o1).unwrap(), ["admin"]);

    // The environment-wide list, oldest first, paged, with memberships.
    let page = a.list_users(Some(2), None).await.unwrap();
    assert_eq!(page.total_size, 3);
    assert_eq!(
        page.users.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(),
        [ann.id.as_str(), bob.id.as_str()]
    );
    assert_eq!(page.users[0].memberships.len(), 2);
    assert!(page.prev_page_token.is_empty());
    let page2 = a
        .list_users(Some(2), Some(page.next_page_token.clone()))
        .await
        .unwrap();
    assert_eq!(page2.users.len(), 1);
    assert_eq!(page2.users[0].id, cy.id);
    assert!(page2.next_page_token.is_empty());
    let back = a
        .list_users(Some(2), Some(page2.prev_page_token.clone()))
        .await
        .unwrap();
    assert_eq!(back.users, page.users);
    // A page token of one list is refused by another.
    let foreign = a
        .list_organization_users(&o2, Some(1), None)
        .await
        .unwrap()
        .next_page_token;
    refused!(db, "invalid_argument", a.list_users(Some(1), Some(foreign)));
    refused!(db, "invalid_argument", a.list_users(Some(101), None));

    // Update: the external id moves; the old one no longer finds the user.
    let updated = a
        .update_user(
            &UserRef::external_id("ann"),
            UpdateUser {
                external_id: Some("ann-2".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.id, ann.id);
    assert_eq!(updated.external_id.as_deref(), Some("ann-2"));
    assert_eq!(updated.memberships.len(), 2);
    refused!(db, "not_found", a.get_user(&UserRef::external_id("ann")));
    assert_eq!(
        a.get_user(&UserRef::external_id("ann-2")).await.unwrap().id,
        ann.id
    );

    // Failures: exact codes, the field, and nothing changes.
    refused!(
        db,
        "already_exists",
        a.update_user(
            &UserRef::id(&bob.id),
            UpdateUser {
                external_id: Some("cy".into()),
            },
        )
    );
    refused!(
        db,
        "not_found",
        a.update_user(
            &UserRef::id("usr_404404"),
            UpdateUser {
                external_id: Some("x".into()),
            },
        )
    );
    refused!(db, "not_found", a.get_user(&UserRef::id("usr_404404")));
    refused!(db, "not_found", a.get_user(&UserRef::external_id("nobody")));
    let empty = refused!(
        db,
        "invalid_argument",
        a.update_user(&UserRef::id(&bob.id), UpdateUser::default())
    );
    assert_eq!(field_of(&empty), "user");
    let prefix = refused!(db, "invalid_argument", a.get_user(&UserRef::id(&o1)));
    assert_eq!(field_of(&prefix), "user_id");
    let prefix = refused!(
        db,
        "invalid_argument",
        a.update_user(
            &UserRef::id("org_1"),
            UpdateUser {
                external_id: Some("x".into()),
            },
        )
    );
    assert_eq!(field_of(&prefix), "user_id");
    let blank = refused!(db, "invalid_argument", a.get_user(&UserRef::external_id("")));
    assert_eq!(field_of(&blank), "external_id");
    // A new user cannot take an external id another user has.
    refused!(
        db,
        "already_exists",
        a.create_user_and_membership(
            &o1,
            CreateUser {
                email: "dee@example.com".into(),
                external_id: Some("cy".into()),
                roles: vec![],
            },
        )
    );

    // `""` removes the external id.
    let cleared = a
        .update_user(
            &UserRef::id(&cy.id),
            UpdateUser {
                external_id: Some(String::new()),
            },
        )
        .await
        .unwrap();
    assert_eq!(cleared.external_id, None);
}

async fn deleting_a_user_removes_memberships_and_revokes_keys_at_once(db: &TestDb) {
    let a = db.open().await;
    let o1 = org(&a, "One", None).await;
    let o2 = org(&a, "Two", None).await;
    let ann = member(&a, &o1, "ann@example.com", Some("ann"), &["admin"]).await;
    a.create_membership(&o2, &UserRef::id(&ann.id), roles(&[]))
        .await
        .unwrap();
    let bob = member(&a, &o1, "bob@example.com", None, &[]).await;
    let ann_keys = [user_key(&a, &o1, &ann.id).await, user_key(&a, &o2, &ann.id).await];
    let bob_key = user_key(&a, &o1, &bob.id).await;
    let org_key = a
        .create_token(CreateToken {
            organization_id: o1.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .token
        .into_inner();
    for k in &ann_keys {
        assert_eq!(
            a.validate_token(k).await.unwrap().user_id.as_deref(),
            Some(ann.id.as_str())
        );
    }

    refused!(db, "not_found", a.delete_user(&UserRef::id("usr_404404")));
    refused!(db, "not_found", a.delete_user(&UserRef::external_id("nobody")));
    refused!(db, "invalid_argument", a.delete_user(&UserRef::id("apit_1")));

    a.delete_user(&UserRef::external_id("ann")).await.unwrap();
    // Their keys are refused at once (on the calling thread too), the others still validate.
    for k in &ann_keys {
        assert_eq!(
            a.validate_token(k).await.unwrap_err().code(),
            "token_validation_failed"
        );
        if let Some(now) = a.validate_token_now(k) {
            assert_eq!(now.unwrap_err().code(), "token_validation_failed");
        }
    }
    a.validate_token(&bob_key).await.unwrap();
    a.validate_token(&org_key).await.unwrap();
    refused!(db, "not_found", a.get_user(&UserRef::id(&ann.id)));
    let o1_users = a.list_organization_users(&o1, None, None).await.unwrap();
    assert_eq!(
        o1_users.users.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(),
        [bob.id.as_str()]
    );
    assert_eq!(a.list_users(None, None).await.unwrap().total_size, 1);
    let o2_keys = a
        .list_tokens(authgate_core::model::ListTokens {
            organization_id: o2.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(o2_keys.total_count, 0);
    // Deleting again: the user is gone.
    refused!(db, "not_found", a.delete_user(&UserRef::id(&ann.id)));
}

async fn memberships_by_id_and_by_external_id(db: &TestDb) {
    let a = db.open().await;
    let o1 = org(&a, "One", None).await;
    let o2 = org(&a, "Two", None).await;
    let o3 = org(&a, "Three", None).await;
    let ann = member(&a, &o1, "ann@example.com", Some("ann"), &["admin"]).await;

    // Create: by id and by external id.
    let joined = a
        .create_membership(&o2, &UserRef::id(&ann.id), roles(&["viewer", "editor", "viewer"]))
        .await
        .unwrap();
    assert_eq!(role_names(&joined, &o2).unwrap(), ["viewer", "editor"]);
    let joined = a
        .create_membership(&o3, &UserRef::external_id("ann"), roles(&[]))
        .await
        .unwrap();
    assert_eq!(joined.memberships.len(), 3);
    assert_eq!(role_names(&joined, &o3).unwrap(), Vec::<String>::new());

    refused!(
        db,
        "already_exists",
        a.create_membership(&o2, &UserRef::id(&ann.id), roles(&[]))
    );
    refused!(
        db,
        "not_found",
        a.create_membership("org_404404", &UserRef::id(&ann.id), roles(&[]))
    );
    refused!(
        db,
        "not_found",
        a.create_membership(&o2, &UserRef::id("usr_404404"), roles(&[]))
    );
    refused!(
        db,
        "not_found",
        a.create_membership(&o2, &UserRef::external_id("nobody"), roles(&[]))
    );
    let bad_role = refused!(
        db,
        "invalid_argument",
        a.create_membership(&o2, &UserRef::id(&ann.id), roles(&["has space"]))
    );
    assert_eq!(field_of(&bad_role), "roles");
    let prefix = refused!(
        db,
        "invalid_argument",
        a.create_membership(&ann.id, &UserRef::id(&o2), roles(&[]))
    );
    assert_eq!(field_of(&prefix), "organization_id");

    // Update: the roles are replaced, and the user's keys in that organization carry them.
    let key = user_key(&a, &o2, &ann.id).await;
    assert_eq!(a.validate_token(&key).await.unwrap().roles, ["viewer", "editor"]);
    let updated = a
        .update_membership(&o2, &UserRef::external_id("ann"), roles(&["owner"]))
        .await
        .unwrap();
    assert_eq!(role_names(&updated, &o2).unwrap(), ["owner"]);
    assert_eq!(role_names(&updated, &o1).unwrap(), ["admin"]);
    assert_eq!(a.validate_token(&key).await.unwrap().roles, ["owner"]);
    let bob = member(&a, &o1, "bob@example.com", None, &[]).await;
    refused!(
        db,
        "not_found",
        a.update_membership(&o2, &UserRef::id(&bob.id), roles(&["x"]))
    );
    refused!(
        db,
        "not_found",
        a.update_membership(&o2, &UserRef::id("usr_404404"), roles(&["x"]))
    );
    refused!(
        db,
        "invalid_argument",
        a.update_membership(&o2, &UserRef::id(&ann.id), roles(&[""]))
    );

    // Delete: the user leaves the organization, with their keys there; other keys still work.
    let key_o1 = user_key(&a, &o1, &ann.id).await;
    a.delete_membership(&o2, &UserRef::id(&ann.id)).await.unwrap();
    assert_eq!(
        a.validate_token(&key).await.unwrap_err().code(),
        "token_validation_failed"
    );
    a.validate_token(&key_o1).await.unwrap();
    let after = a.get_user(&UserRef::id(&ann.id)).await.unwrap();
    assert_eq!(role_names(&after, &o2), None);
    assert_eq!(after.memberships.len(), 2);
    refused!(db, "not_found", a.delete_membership(&o2, &UserRef::id(&ann.id)));
    refused!(
        db,
        "not_found",
        a.delete_membership("org_404404", &UserRef::id(&ann.id))
    );
    a.delete_membership(&o3, &UserRef::external_id("ann"))
        .await
        .unwrap();
    assert_eq!(
        a.get_user(&UserRef::id(&ann.id)).await.unwrap().memberships.len(),
        1
    );
    // A user can join again after leaving.
    a.create_membership(&o2, &UserRef::id(&ann.id), roles(&["viewer"]))
        .await
        .unwrap();
}

async fn token_ids_are_looked_up_but_never_validated(db: &TestDb) {
    let a = db.open().await;
    let o = org(&a, "One", None).await;
    let created = a
        .create_token(CreateToken {
            organization_id: o.clone(),
            description: Some("ci".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let id = created.token_id.clone();

    // The lookup answers the key's info; validation refuses the id (it is not a credential).
    assert_eq!(a.lookup_token(&id).await.unwrap(), created.token_info);
    assert_eq!(
        a.validate_token(&id).await.unwrap_err().code(),
        "token_validation_failed"
    );
    if let Some(now) = a.validate_token_now(&id) {
        assert_eq!(now.unwrap_err().code(), "token_validation_failed");
    }
    // The lookup takes ids only: a key, or anything else, is refused like an unknown id.
    for bad in [created.token.expose(), "apit_404404", "", "apit_"] {
        assert_eq!(
            a.lookup_token(bad).await.unwrap_err().code(),
            "token_validation_failed",
            "{bad}"
        );
    }

    // Update and invalidate accept the id as well as the key.
    let info = a
        .update_token(UpdateToken {
            token: id.clone(),
            description: Some("by id".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(info.description.as_deref(), Some("by id"));
    a.invalidate_token(&id).await.unwrap();
    a.invalidate_token(&id).await.unwrap();
    assert_eq!(
        a.lookup_token(&id).await.unwrap_err().code(),
        "token_validation_failed"
    );
    assert_eq!(
        a.validate_token(created.token.expose()).await.unwrap_err().code(),
        "token_validation_failed"
    );
}
