//! Organization updates, users and memberships (#11) over `authgate serve`'s REST surface (raw
//! HTTP, and the remote client that speaks it), and ValidateToken by `apit_…` id on the
//! admin-authenticated endpoint.

mod common;

use authgate_core::model::{
    CreateOrganization, CreateToken, CreateUser, ListTokens, MembershipInput, UpdateOrganization, UpdateUser,
    UserRef,
};
use authgate_core::{AuthApi, Error};
use common::{Server, admin_token, http};
use serde_json::{Value, json};

/// A JSON request with the admin bearer; answers `(status, body)`.
async fn call(server: &Server, admin: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = http()
        .request(method.parse().unwrap(), server.at(path))
        .bearer_auth(admin);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn role_names(user: &Value, org_id: &str) -> Vec<String> {
    user["memberships"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["organization_id"] == org_id)
        .map(|m| {
            m["roles"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["name"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn users_and_memberships_over_rest() {
    let server = Server::start();
    let admin = admin_token(&server).await;

    // PATCH /api/v1/organizations/{id}: the fields present are the update.
    let (status, body) = call(
        &server,
        &admin,
        "POST",
        "/api/v1/organizations",
        Some(json!({"display_name": "Acme", "external_id": "acme"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let org = body["organization"]["id"].as_str().unwrap().to_owned();
    let (status, body) = call(
        &server,
        &admin,
        "PATCH",
        &format!("/api/v1/organizations/{org}"),
        Some(json!({"displayName": "Acme Corp"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["organization"]["display_name"], "Acme Corp");
    assert_eq!(body["organization"]["external_id"], "acme");
    let (_, other) = call(
        &server,
        &admin,
        "POST",
        "/api/v1/organizations",
        Some(json!({"display_name": "Other"})),
    )
    .await;
    let other = other["organization"]["id"].as_str().unwrap().to_owned();

    // A user, then GET by id and by external id, and the environment-wide list.
    let (status, body) = call(
        &server,
        &admin,
        "POST",
        &format!("/api/v1/organizations/{org}/users"),
        Some(json!({"email": "ann@acme.test", "external_id": "ann", "membership": {"roles": [{"name": "admin"}]}})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let ann = body["user"]["id"].as_str().unwrap().to_owned();
    let (status, by_id) = call(&server, &admin, "GET", &format!("/api/v1/users/{ann}"), None).await;
    assert_eq!(status, 200, "{by_id}");
    let (status, by_external) = call(&server, &admin, "GET", "/api/v1/users:external/ann", None).await;
    assert_eq!(status, 200);
    assert_eq!(by_id, by_external);
    assert_eq!(role_names(&by_id["user"], &org), ["admin"]);
    let (status, list) = call(&server, &admin, "GET", "/api/v1/users?page_size=1", None).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["total_size"], 1);
    assert_eq!(list["users"][0]["id"], ann.as_str());
    assert_eq!(list["next_page_token"], "");

    // PATCH the user, by id and by external id.
    let (status, body) = call(
        &server,
        &admin,
        "PATCH",
        &format!("/api/v1/users/{ann}"),
        Some(json!({"external_id": "ann-2"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["external_id"], "ann-2");
    let (status, body) = call(
        &server,
        &admin,
        "PATCH",
        "/api/v1/users:external/ann-2",
        Some(json!({"externalId": "ann"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["external_id"], "ann");

    // Memberships: create (201), update, delete, by id and by external id.
    let memberships = format!("/api/v1/memberships/organizations/{other}");
    let (status, body) = call(
        &server,
        &admin,
        "POST",
        &format!("{memberships}/users/{ann}"),
        Some(json!({"roles": [{"name": "viewer"}]})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(role_names(&body["user"], &other), ["viewer"]);
    let (status, body) = call(
        &server,
        &admin,
        "PATCH",
        &format!("{memberships}/users:external/ann"),
        Some(json!({"roles": [{"name": "owner"}]})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(role_names(&body["user"], &other), ["owner"]);
    let (status, body) = call(
        &server,
        &admin,
        "PATCH",
        &format!("{memberships}/users/{ann}"),
        Some(json!({"roles": [{"name": "editor"}]})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(role_names(&body["user"], &other), ["editor"]);

    // A user-scoped key in `other` goes with the membership.
    let (status, created) = call(
        &server,
        &admin,
        "POST",
        "/api/v1/tokens",
        Some(json!({"organization_id": other, "user_id": ann})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let key = created["token"].as_str().unwrap().to_owned();
    let (status, info) = call(
        &server,
        &admin,
        "POST",
        "/api/v1/tokens:validate",
        Some(json!({"token": key})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(info["token_info"]["roles"], json!(["editor"]));
    let (status, body) = call(
        &server,
        &admin,
        "DELETE",
        &format!("{memberships}/users/{ann}"),
        None,
    )
    .await;
    assert_eq!((status, body), (200, json!({})));
    let (status, _) = call(
        &server,
        &admin,
        "POST",
        "/api/v1/tokens:validate",
        Some(json!({"token": key})),
    )
    .await;
    assert_eq!(status, 401);
    let (status, body) = call(
        &server,
        &admin,
        "POST",
        &format!("{memberships}/users:external/ann"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, _) = call(
        &server,
        &admin,
        "DELETE",
        &format!("{memberships}/users:external/ann"),
        None,
    )
    .await;
    assert_eq!(status, 200);

    // DELETE the user (by external id, then a second user by id): keys go at once.
    let (_, created) = call(
        &server,
        &admin,
        "POST",
        "/api/v1/tokens",
        Some(json!({"organization_id": org, "user_id": ann})),
    )
    .await;
    let key = created["token"].as_str().unwrap().to_owned();
    let (status, body) = call(&server, &admin, "DELETE", "/api/v1/users:external/ann", None).await;
    assert_eq!((status, body), (200, json!({})));
    let (status, _) = call(
        &server,
        &admin,
        "POST",
        "/api/v1/tokens:validate",
        Some(json!({"token": key})),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = call(&server, &admin, "GET", &format!("/api/v1/users/{ann}"), None).await;
    assert_eq!(status, 404);
    let (_, body) = call(
        &server,
        &admin,
        "POST",
        &format!("/api/v1/organizations/{org}/users"),
        Some(json!({"email": "bob@acme.test"})),
    )
    .await;
    let bob = body["user"]["id"].as_str().unwrap().to_owned();
    let (status, _) = call(&server, &admin, "DELETE", &format!("/api/v1/users/{bob}"), None).await;
    assert_eq!(status, 200);
    let (_, list) = call(&server, &admin, "GET", "/api/v1/users", None).await;
    assert_eq!(list["total_size"], 0, "{list}");
}

#[tokio::test]
async fn validate_by_token_id_over_rest() {
    let server = Server::start();
    let admin = admin_token(&server).await;
    let remote = server.remote();
    let org = remote
        .create_organization(CreateOrganization {
            display_name: "Ids".into(),
            external_id: None,
        })
        .await
        .unwrap();
    let created = remote
        .create_token(CreateToken {
            organization_id: org.id.clone(),
            description: Some("ci".into()),
            ..Default::default()
        })
        .await
        .unwrap();

    // The admin endpoint answers a live key's info for its id, as Scalekit's does.
    let (status, body) = call(
        &server,
        &admin,
        "POST",
        "/api/v1/tokens:validate",
        Some(json!({"token": created.token_id})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_info"]["token_id"], created.token_id.as_str());
    assert_eq!(body["token_info"]["description"], "ci");
    assert_eq!(
        remote.lookup_token(&created.token_id).await.unwrap(),
        created.token_info
    );
    // Request-path validation never takes an id, and refuses it before any network hop.
    assert!(matches!(
        remote.validate_token(&created.token_id).await,
        Err(Error::TokenValidationFailed)
    ));

    // Revoked by id: the lookup is refused like an unknown key.
    remote.invalidate_token(&created.token_id).await.unwrap();
    for token in [created.token_id.as_str(), "apit_404404"] {
        let (status, body) = call(
            &server,
            &admin,
            "POST",
            "/api/v1/tokens:validate",
            Some(json!({"token": token})),
        )
        .await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["details"][0]["error_code"], "token_validation_failed");
    }
    assert_eq!(
        remote.lookup_token(&created.token_id).await.unwrap_err().code(),
        "token_validation_failed"
    );
}

#[tokio::test]
async fn remote_client_users_and_memberships() {
    let server = Server::start();
    let remote = server.remote();
    let org = remote
        .create_organization(CreateOrganization {
            display_name: "Remote".into(),
            external_id: Some("remote".into()),
        })
        .await
        .unwrap();
    let other = remote
        .create_organization(CreateOrganization {
            display_name: "Other".into(),
            external_id: None,
        })
        .await
        .unwrap();

    // update_organization
    let updated = remote
        .update_organization(
            &org.id,
            UpdateOrganization {
                display_name: Some("Remote 2".into()),
                external_id: Some(String::new()),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (updated.display_name.as_str(), updated.external_id),
        ("Remote 2", None)
    );
    for (err, code) in [
        (
            remote
                .update_organization(&org.id, UpdateOrganization::default())
                .await
                .unwrap_err(),
            "invalid_argument",
        ),
        (
            remote
                .update_organization(
                    "org_404404",
                    UpdateOrganization {
                        display_name: Some("x".into()),
                        external_id: None,
                    },
                )
                .await
                .unwrap_err(),
            "not_found",
        ),
    ] {
        assert_eq!(err.code(), code, "{err}");
    }

    // users
    let ann = remote
        .create_user_and_membership(
            &org.id,
            CreateUser {
                email: "ann@remote.test".into(),
                external_id: Some("ann/1".into()),
                roles: vec!["admin".into()],
            },
        )
        .await
        .unwrap();
    // An external id with a slash travels escaped in the path.
    assert_eq!(
        remote.get_user(&UserRef::external_id("ann/1")).await.unwrap(),
        remote.get_user(&UserRef::id(&ann.id)).await.unwrap()
    );
    let list = remote.list_users(Some(10), None).await.unwrap();
    assert_eq!(list.total_size, 1);
    assert_eq!(list.users[0].memberships.len(), 1);
    let renamed = remote
        .update_user(
            &UserRef::external_id("ann/1"),
            UpdateUser {
                external_id: Some("ann-2".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(renamed.external_id.as_deref(), Some("ann-2"));
    assert_eq!(
        remote
            .update_user(&UserRef::id(&ann.id), UpdateUser::default())
            .await
            .unwrap_err()
            .code(),
        "invalid_argument"
    );
    assert_eq!(
        remote
            .get_user(&UserRef::id("usr_404404"))
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );

    // memberships
    let joined = remote
        .create_membership(
            &other.id,
            &UserRef::external_id("ann-2"),
            MembershipInput {
                roles: vec!["viewer".into()],
            },
        )
        .await
        .unwrap();
    assert_eq!(joined.memberships.len(), 2);
    assert_eq!(
        remote
            .create_membership(&other.id, &UserRef::id(&ann.id), MembershipInput::default())
            .await
            .unwrap_err()
            .code(),
        "already_exists"
    );
    let key = remote
        .create_token(CreateToken {
            organization_id: other.id.clone(),
            user_id: Some(ann.id.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    let updated = remote
        .update_membership(
            &other.id,
            &UserRef::id(&ann.id),
            MembershipInput {
                roles: vec!["owner".into()],
            },
        )
        .await
        .unwrap();
    assert_eq!(
        updated
            .memberships
            .iter()
            .find(|m| m.organization_id == other.id)
            .unwrap()
            .roles[0]
            .name,
        "owner"
    );
    assert_eq!(
        remote.validate_token(key.token.expose()).await.unwrap().roles,
        ["owner"]
    );
    remote
        .delete_membership(&other.id, &UserRef::external_id("ann-2"))
        .await
        .unwrap();
    assert!(matches!(
        remote.validate_token(key.token.expose()).await,
        Err(Error::TokenValidationFailed)
    ));
    assert_eq!(
        remote
            .list_tokens(ListTokens {
                organization_id: other.id.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .total_count,
        0
    );
    assert_eq!(
        remote
            .delete_membership(&other.id, &UserRef::id(&ann.id))
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );

    // delete_user
    remote.delete_user(&UserRef::id(&ann.id)).await.unwrap();
    assert_eq!(
        remote
            .delete_user(&UserRef::external_id("ann-2"))
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
    assert_eq!(remote.list_users(None, None).await.unwrap().total_size, 0);
}
