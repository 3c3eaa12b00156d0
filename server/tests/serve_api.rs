//! `authgate serve` end to end: the real binary on a free loopback port with a temporary SQLite
//! file, driven through the remote client and through raw HTTP.

mod common;

use std::collections::BTreeMap;

use authgate_core::model::{
    CreateOrganization, CreateToken, CreateUser, CustomClaim, ListOrganizations, ListTokens,
    OrganizationClient, UpdateToken,
};
use authgate_core::remote::{RemoteClient, RemoteOptions};
use authgate_core::{AuthApi, Error, Secret};
use base64::Engine as _;
use common::{Options, Server, admin_token, http};
use serde_json::{Value, json};

const ERROR_INFO: &str = "type.googleapis.com/scalekit.v1.errdetails.ErrorInfo";

/// Asserts a Scalekit error body: gRPC `code`, `details[0].error_code`, the `@type`, a message.
async fn assert_error(response: reqwest::Response, status: u16, grpc: i64, error_code: &str) -> Value {
    let got = response.status().as_u16();
    assert!(response.headers().contains_key("x-request-id"));
    let body: Value = response.json().await.expect("JSON error body");
    assert_eq!(got, status, "{body}");
    assert_eq!(body["code"], grpc, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    assert_eq!(body["details"][0]["@type"], ERROR_INFO, "{body}");
    assert_eq!(body["details"][0]["error_code"], error_code, "{body}");
    body
}

/// Asserts an RFC 6749 error body.
async fn assert_oauth_error(response: reqwest::Response, status: u16, error: &str) {
    let got = response.status().as_u16();
    assert_eq!(response.headers()["cache-control"], "no-store");
    let challenge = response.headers().get("www-authenticate").cloned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(got, status, "{body}");
    assert_eq!(body["error"], error, "{body}");
    assert!(body["error_description"].is_string(), "{body}");
    if error == "invalid_client" {
        assert!(challenge.unwrap().to_str().unwrap().starts_with("Basic"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_client_covers_every_operation_and_logs_no_secret() {
    // The most verbose log level, every crate included.
    let server = Server::start_with(Options {
        env: vec![("AUTHGATE_LOG".into(), "trace".into())],
        ..Options::default()
    });
    let remote = server.remote();
    let mut secrets: Vec<String> = vec![server.client_secret.clone()];

    // organizations
    let org = remote
        .create_organization(CreateOrganization {
            display_name: "Acme".into(),
            external_id: Some("acme-1".into()),
        })
        .await
        .unwrap();
    assert!(org.id.starts_with("org_"));
    assert_eq!(remote.get_organization(&org.id).await.unwrap(), org);
    let listed = remote
        .list_organizations(ListOrganizations {
            external_id: Some("acme-1".into()),
            ..ListOrganizations::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.organizations, vec![org.clone()]);
    let dup = remote
        .create_organization(CreateOrganization {
            display_name: "Acme again".into(),
            external_id: Some("acme-1".into()),
        })
        .await
        .unwrap_err();
    assert!(matches!(dup, Error::AlreadyExists { .. }), "{dup:?}");

    // users
    let user = remote
        .create_user_and_membership(
            &org.id,
            CreateUser {
                email: "dev@acme.test".into(),
                external_id: Some("u-1".into()),
                roles: vec!["admin".into()],
            },
        )
        .await
        .unwrap();
    assert!(user.id.starts_with("usr_"));
    let users = remote.list_organization_users(&org.id, None, None).await.unwrap();
    assert_eq!(users.users.len(), 1);

    // API keys
    let created = remote
        .create_token(CreateToken {
            organization_id: org.id.clone(),
            user_id: Some(user.id.clone()),
            custom_claims: BTreeMap::from([("env".into(), "prod".into())]),
            description: Some("ci key".into()),
            ..CreateToken::default()
        })
        .await
        .unwrap();
    secrets.push(created.token.expose().to_owned());
    assert!(created.token_id.starts_with("apit_"));
    let info = remote.validate_token(created.token.expose()).await.unwrap();
    assert_eq!(info.token_id, created.token_id);
    assert_eq!(info.user_id.as_deref(), Some(user.id.as_str()));
    assert_eq!(info.roles, vec!["admin".to_owned()]);
    assert_eq!(info.custom_claims["env"], "prod");
    let org_key = remote
        .create_token(CreateToken {
            organization_id: org.id.clone(),
            ..CreateToken::default()
        })
        .await
        .unwrap();
    secrets.push(org_key.token.expose().to_owned());
    let page = remote
        .list_tokens(ListTokens {
            organization_id: org.id.clone(),
            page_size: Some(1),
            ..ListTokens::default()
        })
        .await
        .unwrap();
    assert_eq!(page.total_count, 2);
    assert_eq!(page.tokens.len(), 1);
    assert!(!page.next_page_token.is_empty());
    let mine = remote
        .list_tokens(ListTokens {
            organization_id: org.id.clone(),
            user_id: Some(user.id.clone()),
            ..ListTokens::default()
        })
        .await
        .unwrap();
    assert_eq!(mine.tokens.len(), 1);
    let updated = remote
        .update_token(UpdateToken {
            token: created.token_id.clone(),
            custom_claims: Some(BTreeMap::from([("env".into(), "staging".into())])),
            description: Some("renamed".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(updated.custom_claims["env"], "staging");
    assert_eq!(updated.description.as_deref(), Some("renamed"));
    remote.invalidate_token(created.token.expose()).await.unwrap();
    remote.invalidate_token(created.token.expose()).await.unwrap(); // idempotent
    assert_eq!(
        remote.validate_token(created.token.expose()).await.unwrap_err(),
        Error::TokenValidationFailed
    );
    assert_eq!(
        remote.validate_token(&created.token_id).await.unwrap_err(),
        Error::TokenValidationFailed
    );
    assert_eq!(
        remote.validate_token("not-a-key").await.unwrap_err(),
        Error::TokenValidationFailed
    );

    // M2M clients
    let client = remote
        .create_organization_client(
            &org.id,
            OrganizationClient {
                name: Some("billing-service".into()),
                description: Some("talks to billing".into()),
                scopes: Some(vec!["read:invoices".into(), "write:invoices".into()]),
                audience: Some(vec!["https://api.acme.test".into()]),
                custom_claims: Some(vec![CustomClaim {
                    key: "tier".into(),
                    value: "gold".into(),
                }]),
                expiry: Some(600),
            },
        )
        .await
        .unwrap();
    secrets.push(client.plain_secret.expose().to_owned());
    let client_id = client.client.client_id.clone();
    assert!(client_id.starts_with("m2morg_"));
    assert_eq!(
        remote
            .get_organization_client(&org.id, &client_id)
            .await
            .unwrap()
            .name,
        "billing-service"
    );
    assert_eq!(
        remote
            .list_organization_clients(&org.id, None, None)
            .await
            .unwrap()
            .clients
            .len(),
        1
    );
    let renamed = remote
        .update_organization_client(
            &org.id,
            &client_id,
            OrganizationClient {
                name: Some("billing".into()),
                ..OrganizationClient::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(renamed.name, "billing");
    assert_eq!(renamed.scopes.len(), 2);
    let second = remote
        .add_organization_client_secret(&org.id, &client_id)
        .await
        .unwrap();
    secrets.push(second.plain_secret.expose().to_owned());

    let token = remote
        .issue_client_token(
            &client_id,
            second.plain_secret.expose(),
            Some(vec!["read:invoices".into()]),
        )
        .await
        .unwrap();
    secrets.push(token.access_token.expose().to_owned());
    assert_eq!(token.token_type, "Bearer");
    assert_eq!(token.scope, "read:invoices");
    assert_eq!(token.expires_in, 600);
    assert_eq!(
        remote
            .issue_client_token(&client_id, "wrong-secret-wrong-secret-wrong", None)
            .await
            .unwrap_err(),
        Error::InvalidClient
    );
    assert!(matches!(
        remote
            .issue_client_token(
                &client_id,
                client.plain_secret.expose(),
                Some(vec!["admin".into()])
            )
            .await
            .unwrap_err(),
        Error::InvalidScope(_)
    ));

    remote
        .remove_organization_client_secret(&org.id, &client_id, &client.client.secrets[0].id)
        .await
        .unwrap();
    let last = remote
        .remove_organization_client_secret(&org.id, &client_id, &second.secret.id)
        .await
        .unwrap_err();
    assert!(matches!(last, Error::FailedPrecondition(_)), "{last:?}");
    assert_eq!(
        remote
            .issue_client_token(&client_id, client.plain_secret.expose(), None)
            .await
            .unwrap_err(),
        Error::InvalidClient
    );

    let jwks = remote.jwks().await.unwrap();
    assert!(!jwks.keys.is_empty());
    assert!(
        jwks.keys
            .iter()
            .all(|k| k.kty == "RSA" && k.kid.as_deref().is_some_and(|k| k.starts_with("snk_")))
    );

    remote
        .delete_organization_client(&org.id, &client_id)
        .await
        .unwrap();
    assert!(matches!(
        remote
            .get_organization_client(&org.id, &client_id)
            .await
            .unwrap_err(),
        Error::NotFound { .. }
    ));
    remote.delete_organization(&org.id).await.unwrap();
    let gone = remote.get_organization(&org.id).await.unwrap_err();
    assert!(
        matches!(
            gone,
            Error::NotFound {
                resource: "organization",
                ..
            }
        ),
        "{gone:?}"
    );
    assert_eq!(
        remote.validate_token(org_key.token.expose()).await.unwrap_err(),
        Error::TokenValidationFailed
    );

    // A wrong environment secret surfaces as invalid_client on the first call (lazy auth).
    let bad = RemoteClient::new(
        &server.url,
        server.client_id.clone(),
        Secret::new("x".repeat(40)),
        RemoteOptions::default(),
    )
    .unwrap();
    assert_eq!(
        bad.get_organization("org_1").await.unwrap_err(),
        Error::InvalidClient
    );

    // An environment access token used on the raw API.
    let admin = admin_token(&server).await;
    assert_eq!(server.management_status(&admin).await, 200);
    secrets.push(admin);

    // The log (at trace level) never contains a key, secret or token.
    let log = server.stderr();
    assert!(log.lines().count() > 50, "the trace log is captured");
    assert!(log.contains("api key created"), "audit lines are logged");
    for secret in &secrets {
        assert!(!log.contains(secret.as_str()), "a secret leaked into the log");
        assert!(
            !server.stdout().contains(secret.as_str()),
            "a secret leaked to stdout"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_http_surface() {
    let server = Server::start();
    let http = http();
    let admin = admin_token(&server).await;
    let bearer = format!("Bearer {admin}");

    // token endpoint: client_secret_post and HTTP Basic
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", server.client_id, server.client_secret));
    let r = http
        .post(server.at("/oauth/token"))
        .header("authorization", format!("Basic {basic}"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].as_u64().unwrap() > 0);

    // discovery and keys
    let d: Value = http
        .get(server.at("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["issuer"], server.url);
    assert_eq!(d["token_endpoint"], server.at("/oauth/token"));
    assert_eq!(d["jwks_uri"], server.at("/keys"));
    assert_eq!(d["grant_types_supported"], json!(["client_credentials"]));
    let keys: Value = http
        .get(server.at("/keys"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let well_known: Value = http
        .get(server.at("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(keys, well_known);
    assert_eq!(keys["keys"][0]["kty"], "RSA");
    assert_eq!(keys["keys"][0]["alg"], "RS256");
    assert_eq!(keys["keys"][0]["use"], "sig");

    // organizations: create → 201, camelCase accepted
    let r = http
        .post(server.at("/api/v1/organizations"))
        .header("authorization", &bearer)
        .json(&json!({"displayName": "Raw Co", "externalId": "raw-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let org: Value = r.json().await.unwrap();
    let org_id = org["organization"]["id"].as_str().unwrap().to_owned();
    assert_eq!(org["organization"]["display_name"], "Raw Co");
    let r = http
        .get(server.at(&format!("/api/v1/organizations/{org_id}")))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .get(server.at("/api/v1/organizations?page_size=5"))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    let list: Value = r.json().await.unwrap();
    assert_eq!(list["total_size"], 1);

    // users: Scalekit's body shape
    let r = http
        .post(server.at(&format!("/api/v1/organizations/{org_id}/users")))
        .header("authorization", &bearer)
        .json(&json!({"email": "ops@raw.test", "external_id": "ops", "membership": {"roles": [{"name": "viewer"}]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let user: Value = r.json().await.unwrap();
    let user_id = user["user"]["id"].as_str().unwrap().to_owned();
    let r = http
        .get(server.at(&format!("/api/v1/organizations/{org_id}/users")))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    let users: Value = r.json().await.unwrap();
    assert_eq!(users["users"][0]["id"], user_id.as_str());

    // tokens: create (expiry as a string of Unix seconds), validate, list, update, invalidate
    let r = http
        .post(server.at("/api/v1/tokens"))
        .header("authorization", &bearer)
        .json(
            &json!({"organizationId": org_id, "userId": user_id, "customClaims": {"team": "ops"},
                      "expiry": "4102444800", "description": "raw"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let key = created["token"].as_str().unwrap().to_owned();
    let token_id = created["token_id"].as_str().unwrap().to_owned();
    assert_eq!(created["token_info"]["roles"], json!(["viewer"]));
    assert_eq!(created["token_info"]["expiry"], "2100-01-01T00:00:00Z");
    let r = http
        .post(server.at("/api/v1/tokens:validate"))
        .header("authorization", &bearer)
        .json(&json!({"token": key}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["token_info"]["token_id"], token_id.as_str());
    assert_eq!(v["token_info"]["custom_claims"]["team"], "ops");
    let r = http
        .get(server.at(&format!(
            "/api/v1/tokens?organization_id={org_id}&user_id={user_id}&page_size=10"
        )))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page: Value = r.json().await.unwrap();
    assert_eq!(page["total_count"], 1);
    assert_eq!(page["tokens"][0]["token_id"], token_id.as_str());
    let r = http
        .post(server.at("/api/v1/tokens:update"))
        .header("authorization", &bearer)
        .json(&json!({"token": token_id, "custom_claims": {"team": "sre"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let u: Value = r.json().await.unwrap();
    assert_eq!(u["token_info"]["custom_claims"]["team"], "sre");
    let r = http
        .post(server.at("/api/v1/tokens:invalidate"))
        .header("authorization", &bearer)
        .json(&json!({"token": token_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({}));
    let r = http
        .post(server.at("/api/v1/tokens:validate"))
        .header("authorization", &bearer)
        .json(&json!({"token": key}))
        .send()
        .await
        .unwrap();
    // gRPC NOT_FOUND, HTTP 401: the official SDKs retry UNAUTHENTICATED (see `Error::grpc_code`).
    let body = assert_error(r, 401, 5, "token_validation_failed").await;
    assert!(body["details"][0]["request_info"]["request_id"].is_string());

    // clients and secrets
    let clients = format!("/api/v1/organizations/{org_id}/clients");
    let r = http
        .post(server.at(&clients))
        .header("authorization", &bearer)
        .json(&json!({"name": "svc", "scopes": ["read:x"], "expiry": "900",
                      "customClaims": [{"key": "k", "value": "v"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let c: Value = r.json().await.unwrap();
    let client_id = c["client"]["client_id"].as_str().unwrap().to_owned();
    let plain = c["plain_secret"].as_str().unwrap().to_owned();
    assert_eq!(c["client"]["expiry"], 900);
    let one = format!("{clients}/{client_id}");
    for (method, status) in [("GET", 200)] {
        let r = http
            .request(method.parse().unwrap(), server.at(&one))
            .header("authorization", &bearer)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status);
    }
    let r = http
        .patch(server.at(&one))
        .header("authorization", &bearer)
        .json(&json!({"description": "patched"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap()["client"]["description"],
        "patched"
    );
    let r = http
        .post(server.at(&format!("{one}/secrets")))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let s: Value = r.json().await.unwrap();
    let secret_id = s["secret"]["id"].as_str().unwrap().to_owned();
    assert!(s["plain_secret"].is_string());
    let r = http
        .get(server.at(&format!("{clients}?page_size=10")))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["clients"][0]["secrets"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // the M2M client's token: form post with a scope
    let r = http
        .post(server.at("/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id.as_str()),
            ("client_secret", plain.as_str()),
            ("scope", "read:x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let t: Value = r.json().await.unwrap();
    assert_eq!(t["scope"], "read:x");
    assert_eq!(t["expires_in"], 900);

    let r = http
        .delete(server.at(&format!("{one}/secrets/{secret_id}")))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .delete(server.at(&one))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .delete(server.at(&format!("/api/v1/organizations/{org_id}")))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // health, metrics, request ids
    let r = http
        .get(server.at("/healthz"))
        .header("x-request-id", "trace-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-request-id"], "trace-abc-123");
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "ok");
    let metrics = server.metrics().await;
    assert!(metrics.contains(
        "authgate_http_requests_total{route=\"/api/v1/tokens:validate\",method=\"POST\",status=\"200\"} 1"
    ));
    assert!(metrics.contains(
        "authgate_http_requests_total{route=\"/api/v1/tokens:validate\",method=\"POST\",status=\"401\"} 1"
    ));
    assert!(metrics.contains("authgate_api_key_validations_total{outcome=\"valid\"} 1"));
    assert!(metrics.contains("authgate_api_key_validations_total{outcome=\"invalid\"} 1"));
    assert!(metrics.contains("authgate_token_requests_total{outcome=\"issued\"}"));
    assert!(
        metrics.contains("authgate_http_request_duration_seconds_bucket{route=\"/oauth/token\",le=\"+Inf\"}")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_table() {
    let server = Server::start();
    let http = http();
    let admin = admin_token(&server).await;
    let bearer = format!("Bearer {admin}");
    let remote = server.remote();
    let (org, client) =
        common::org_with_client(&remote, "Bad Input", common::client_input("m2m", &["read:a"])).await;
    let m2m_secret = client.plain_secret.expose().to_owned();
    let m2m_id = client.client.client_id.clone();
    let orgs = server.at("/api/v1/organizations");

    // --- REST bodies ---
    let post = |body: &'static str, content_type: Option<&'static str>| {
        let mut r = http.post(&orgs).header("authorization", &bearer).body(body);
        if let Some(ct) = content_type {
            r = r.header("content-type", ct);
        }
        r
    };
    let malformed = post(r#"{"display_name": "x""#, Some("application/json"))
        .send()
        .await
        .unwrap();
    let body = assert_error(malformed, 400, 3, "invalid_argument").await;
    assert!(body["message"].as_str().unwrap().contains("malformed JSON"));
    let unknown = post(r#"{"display_name": "x", "bogus": 1}"#, Some("application/json"))
        .send()
        .await
        .unwrap();
    let body = assert_error(unknown, 400, 3, "invalid_argument").await;
    assert!(body["message"].as_str().unwrap().contains("bogus"));
    let wrong_type = post(r#"{"display_name": 7}"#, Some("application/json"))
        .send()
        .await
        .unwrap();
    assert_error(wrong_type, 400, 3, "invalid_argument").await;
    let text = post(r#"{"display_name": "x"}"#, Some("text/plain"))
        .send()
        .await
        .unwrap();
    assert_error(text, 415, 3, "invalid_argument").await;
    let none = post(r#"{"display_name": "x"}"#, None).send().await.unwrap();
    assert_error(none, 415, 3, "invalid_argument").await;
    let huge = format!(r#"{{"display_name": "{}"}}"#, "x".repeat(200 * 1024));
    let oversize = http
        .post(&orgs)
        .header("authorization", &bearer)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_error(oversize, 413, 3, "invalid_argument").await;
    let empty_name = post(r#"{"display_name": ""}"#, Some("application/json"))
        .send()
        .await
        .unwrap();
    let body = assert_error(empty_name, 400, 3, "invalid_argument").await;
    assert_eq!(
        body["details"][0]["validation_error_info"]["field_violations"][0]["field"],
        "display_name"
    );

    // --- query strings and paths ---
    let r = http
        .get(server.at(&format!("/api/v1/tokens?organization_id={}&bogus=1", org.id)))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_error(r, 400, 3, "invalid_argument").await;
    let r = http
        .get(server.at(&format!(
            "/api/v1/tokens?organization_id={}&page_size=many",
            org.id
        )))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_error(r, 400, 3, "invalid_argument").await;
    let r = http
        .get(server.at("/api/v1/organizations/org_doesnotexist"))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_error(r, 404, 5, "not_found").await;
    let r = http.get(server.at("/api/v1/nothing")).send().await.unwrap();
    assert_error(r, 404, 5, "not_found").await;
    let r = http
        .delete(server.at("/api/v1/tokens"))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_error(r, 405, 3, "invalid_argument").await;

    // --- the admin token ---
    let r = http.get(&orgs).send().await.unwrap();
    assert_eq!(r.headers()["www-authenticate"], "Bearer realm=\"authgate\"");
    assert_error(r, 401, 16, "unauthenticated").await;
    let r = http
        .get(&orgs)
        .header("authorization", "Bearer not.a.jwt")
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    assert_error(r, 401, 16, "unauthenticated").await;
    let mut tampered = admin.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let r = http
        .get(&orgs)
        .header("authorization", format!("Bearer {tampered}"))
        .send()
        .await
        .unwrap();
    assert_error(r, 401, 16, "unauthenticated").await;
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", server.client_id, server.client_secret));
    let r = http
        .get(&orgs)
        .header("authorization", format!("Basic {basic}"))
        .send()
        .await
        .unwrap();
    assert_error(r, 401, 16, "unauthenticated").await;
    // an M2M client's (valid) token on a management route
    let m2m = remote
        .issue_client_token(&m2m_id, &m2m_secret, None)
        .await
        .unwrap();
    let r = http
        .get(&orgs)
        .header("authorization", format!("Bearer {}", m2m.access_token.expose()))
        .send()
        .await
        .unwrap();
    assert_error(r, 403, 7, "permission_denied").await;
    // a key or token failure never reaches the body parser first: 401 before 415
    let r = http.post(&orgs).body("junk").send().await.unwrap();
    assert_error(r, 401, 16, "unauthenticated").await;

    // --- the token endpoint ---
    let token = server.at("/oauth/token");
    let form = |pairs: &[(&str, &str)]| {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        http.post(&token).form(&pairs)
    };
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (
            form(&[("grant_type", "client_credentials"), ("client_id", &m2m_id), ("client_secret", "wrong-secret")]),
            401,
            "invalid_client",
        ),
        (
            form(&[("grant_type", "client_credentials"), ("client_id", "m2morg_000000"), ("client_secret", &m2m_secret)]),
            401,
            "invalid_client",
        ),
        (form(&[("grant_type", "client_credentials")]), 401, "invalid_client"),
        (
            form(&[("grant_type", "password"), ("client_id", &m2m_id), ("client_secret", &m2m_secret)]),
            400,
            "unsupported_grant_type",
        ),
        (form(&[("client_id", &m2m_id), ("client_secret", &m2m_secret)]), 400, "invalid_request"),
        (
            form(&[
                ("grant_type", "client_credentials"),
                ("client_id", &m2m_id),
                ("client_secret", &m2m_secret),
                ("scope", "read:a write:everything"),
            ]),
            400,
            "invalid_scope",
        ),
        (
            http.post(&token)
                .body("grant_type=client_credentials&grant_type=client_credentials")
                .header("content-type", "application/x-www-form-urlencoded"),
            400,
            "invalid_request",
        ),
        (
            http.post(&token)
                .json(&json!({"grant_type": "client_credentials", "client_id": m2m_id, "client_secret": m2m_secret})),
            400,
            "invalid_request",
        ),
        (
            form(&[("grant_type", "client_credentials"), ("client_id", &m2m_id), ("client_secret", &m2m_secret)])
                .basic_auth(&m2m_id, Some(&m2m_secret)),
            400,
            "invalid_request",
        ),
        (
            http.post(&token)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("grant_type=client_credentials&scope={}", "a".repeat(100 * 1024))),
            413,
            "invalid_request",
        ),
    ];
    for (request, status, error) in cases {
        assert_oauth_error(request.send().await.unwrap(), status, error).await;
    }
    let r = http.get(&token).send().await.unwrap();
    assert_eq!(r.status(), 405);

    // Nothing above changed anything: still one organization, one client, no keys.
    let orgs = remote
        .list_organizations(ListOrganizations::default())
        .await
        .unwrap();
    assert_eq!(orgs.total_size, 1);
    let clients = remote
        .list_organization_clients(&org.id, None, None)
        .await
        .unwrap();
    assert_eq!(clients.clients.len(), 1);
    let keys = remote
        .list_tokens(ListTokens {
            organization_id: org.id.clone(),
            ..ListTokens::default()
        })
        .await
        .unwrap();
    assert_eq!(keys.total_count, 0);
}

#[test]
fn first_start_prints_credentials_once_and_shutdown_is_graceful() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("first.db").display());
    let options = Options {
        database: Some(database.clone()),
        provision: false,
        ..Options::default()
    };
    let server = Server::start_with(options.clone());
    let stdout = server.stdout();
    let id = stdout
        .lines()
        .find_map(|l| l.strip_prefix("AUTHGATE_CLIENT_ID="))
        .expect("client id printed")
        .to_owned();
    let secret = stdout
        .lines()
        .find_map(|l| l.strip_prefix("AUTHGATE_CLIENT_SECRET="))
        .expect("client secret printed")
        .to_owned();
    assert!(id.starts_with("skc_"));
    assert!(secret.len() >= 32);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let remote = RemoteClient::new(
        &server.url,
        id,
        Secret::new(secret.clone()),
        RemoteOptions::default(),
    )
    .unwrap();
    let orgs = rt
        .block_on(remote.list_organizations(ListOrganizations::default()))
        .unwrap();
    assert_eq!(orgs.total_size, 0);
    assert!(
        !server.stderr().contains(&secret),
        "the secret is printed to stdout only"
    );
    let status = server.terminate();
    assert!(status.success(), "exit status after SIGTERM: {status:?}");

    // Second start on the same store: nothing printed, the credentials still work.
    let server = Server::start_with(options);
    assert!(!server.stdout().contains("AUTHGATE_CLIENT_SECRET="));
    let remote = RemoteClient::new(
        &server.url,
        remote.client_id().to_owned(),
        Secret::new(secret),
        RemoteOptions::default(),
    )
    .unwrap();
    rt.block_on(remote.list_organizations(ListOrganizations::default()))
        .unwrap();
}

#[test]
fn provisioned_credentials_are_checked() {
    // A secret shorter than 32 characters is refused at start-up.
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(common::binary())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env(
            "AUTHGATE_DATABASE_URL",
            format!("sqlite://{}", dir.path().join("x.db").display()),
        )
        .env("AUTHGATE_CLIENT_ID", "skc_short")
        .env("AUTHGATE_CLIENT_SECRET", "too-short")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("AUTHGATE_CLIENT_SECRET"), "{stderr}");
    assert!(!stderr.contains("too-short"));
}
