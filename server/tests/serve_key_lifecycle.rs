//! The API-key lifecycle extensions (#13) through `authgate serve` (raw REST and the remote
//! client that speaks it) and the CLI: revoked keys in listings, rotation with a grace period.

mod common;

use authgate_core::AuthApi;
use authgate_core::model::{ListTokens, RotateToken};
use common::{Cli, Server, admin_token, http, s};
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

fn ids(page: &Value) -> Vec<&str> {
    page["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["token_id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn rotation_and_revoked_keys_over_rest() {
    let server = Server::start();
    let admin = admin_token(&server).await;
    let (status, org) = call(
        &server,
        &admin,
        "POST",
        "/api/v1/organizations",
        Some(json!({"display_name": "Acme"})),
    )
    .await;
    assert_eq!(status, 201, "{org}");
    let org_id = s(&org["organization"]["id"]).to_owned();
    let (status, old) = call(
        &server,
        &admin,
        "POST",
        "/api/v1/tokens",
        Some(json!({"organization_id": org_id, "custom_claims": {"env": "prod"}, "description": "ci"})),
    )
    .await;
    assert_eq!(status, 201, "{old}");
    // Unused extensions are absent: the record is Scalekit-shaped.
    for field in ["revoked_at", "rotated_from", "rotated_to"] {
        assert!(old["token_info"].get(field).is_none(), "{field}: {old}");
    }
    let old_key = s(&old["token"]).to_owned();
    let old_id = s(&old["token_id"]).to_owned();

    // Rotate by token_id, with an hour's grace.
    let (status, new) = call(
        &server,
        &admin,
        "POST",
        "/api/v1/tokens:rotate",
        Some(json!({"token_id": old_id, "grace_period_seconds": 3600})),
    )
    .await;
    assert_eq!(status, 201, "{new}");
    let new_key = s(&new["token"]).to_owned();
    let new_id = s(&new["token_id"]).to_owned();
    assert_eq!(new["token_info"]["rotated_from"], old_id.as_str());
    assert_eq!(new["token_info"]["custom_claims"], json!({"env": "prod"}));
    assert_eq!(new["token_info"]["description"], "ci");

    // Both validate during the grace period; the old one names its successor and the end of grace.
    for (key, id) in [(&old_key, &old_id), (&new_key, &new_id)] {
        let (status, body) = call(
            &server,
            &admin,
            "POST",
            "/api/v1/tokens:validate",
            Some(json!({"token": key})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["token_info"]["token_id"], id.as_str());
    }
    let (_, body) = call(
        &server,
        &admin,
        "POST",
        "/api/v1/tokens:validate",
        Some(json!({"token": old_key})),
    )
    .await;
    assert_eq!(body["token_info"]["rotated_to"], new_id.as_str());
    assert!(body["token_info"]["expiry"].is_string(), "{body}");

    // Rotating the old key again is refused: rotate its successor instead.
    let (status, body) = call(
        &server,
        &admin,
        "POST",
        "/api/v1/tokens:rotate",
        Some(json!({"token": old_key})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["details"][0]["error_code"], "failed_precondition", "{body}");

    // The remote client: rotate the new key at once (grace 0), then list with revoked keys.
    let remote = server.remote();
    let third = remote
        .rotate_token(RotateToken {
            token: new_key.clone(),
            grace_period_seconds: Some(0),
        })
        .await
        .unwrap();
    assert_eq!(third.token_info.rotated_from.as_deref(), Some(new_id.as_str()));
    assert!(remote.validate_token(&new_key).await.is_err());
    remote.validate_token(third.token.expose()).await.unwrap();

    let (status, live) = call(
        &server,
        &admin,
        "GET",
        &format!("/api/v1/tokens?organization_id={org_id}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{live}");
    assert_eq!(ids(&live), [old_id.as_str(), third.token_id.as_str()]);
    let (status, all) = call(
        &server,
        &admin,
        "GET",
        &format!("/api/v1/tokens?organization_id={org_id}&include_revoked=true"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(
        ids(&all),
        [old_id.as_str(), new_id.as_str(), third.token_id.as_str()]
    );
    assert!(all["tokens"][1]["revoked_at"].is_string(), "{all}");
    assert!(all["tokens"][0].get("revoked_at").is_none(), "{all}");

    let page = remote
        .list_tokens(ListTokens {
            organization_id: org_id.clone(),
            include_revoked: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.total_count, 3);
    assert!(page.tokens[1].revoked_at.is_some());
    assert_eq!(
        page.tokens[1].rotated_to.as_deref(),
        Some(third.token_id.as_str())
    );

    // Refusals change nothing: a bad grace period, an unknown key.
    let before = remote
        .list_tokens(ListTokens {
            organization_id: org_id.clone(),
            include_revoked: true,
            ..Default::default()
        })
        .await
        .unwrap();
    let err = remote
        .rotate_token(RotateToken {
            token: third.token_id.clone(),
            grace_period_seconds: Some(-5),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_argument");
    let err = remote
        .rotate_token(RotateToken {
            token: "apit_404404".into(),
            grace_period_seconds: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), "not_found");
    let after = remote
        .list_tokens(ListTokens {
            organization_id: org_id,
            include_revoked: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(before, after);
}

#[test]
fn keys_rotate_and_list_include_revoked_on_the_cli() {
    let cli = Cli::new();
    let org_id = s(&cli.json(&["orgs", "create", "--name", "Acme"])["organization"]["id"]).to_owned();
    let created = cli.json(&["keys", "create", "--org", &org_id, "--description", "bot"]);
    let old_key = s(&created["token"]).to_owned();
    let old_id = s(&created["token_id"]).to_owned();

    // By key on stdin, default grace: both validate.
    let rotated = cli.json_in(&["keys", "rotate", "-"], Some(&format!("{old_key}\n")));
    let new_id = s(&rotated["token_id"]).to_owned();
    assert_eq!(rotated["token_info"]["rotated_from"], old_id.as_str());
    assert_eq!(rotated["token_info"]["description"], "bot");
    cli.json(&["keys", "validate", &old_key]);
    cli.json(&["keys", "validate", s(&rotated["token"])]);

    // Text output shows the new key once and where it came from.
    let text = cli.text(&["keys", "rotate", &new_id, "--grace", "0"]);
    assert!(text.contains("token: agk_"), "{text}");
    assert!(text.contains("rotated_from:"), "{text}");
    assert!(text.contains(&new_id), "{text}");

    let live = cli.json(&["keys", "list", "--org", &org_id]);
    assert_eq!(live["total_count"], 2, "{live}");
    let all = cli.json(&["keys", "list", "--org", &org_id, "--include-revoked"]);
    assert_eq!(all["total_count"], 3, "{all}");
    assert!(all["tokens"][1]["revoked_at"].is_string(), "{all}");
    let table = cli.text(&["keys", "list", "--org", &org_id, "--include-revoked"]);
    assert!(table.contains("REVOKED"), "{table}");
    let table = cli.text(&["keys", "list", "--org", &org_id]);
    assert!(!table.contains("REVOKED"), "{table}");

    // Refused: rotating a key already rotated; nothing changes.
    cli.fails(&["keys", "rotate", &old_id], "failed_precondition");
    assert_eq!(
        cli.json(&["keys", "list", "--org", &org_id, "--include-revoked"])["total_count"],
        3
    );
}
