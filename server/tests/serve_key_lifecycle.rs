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
            ..Default::default()
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
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_argument");
    let err = remote
        .rotate_token(RotateToken {
            token: "apit_404404".into(),
            grace_period_seconds: None,
            ..Default::default()
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

#[tokio::test]
async fn last_used_time_over_rest_and_the_cli() {
    let mut options = common::Options::default();
    options
        .env
        .push(("AUTHGATE_USAGE_FLUSH_INTERVAL".into(), "1".into()));
    let server = Server::start_with(options);
    let admin = admin_token(&server).await;
    let (_, org) = call(
        &server,
        &admin,
        "POST",
        "/api/v1/organizations",
        Some(json!({"display_name": "Acme"})),
    )
    .await;
    let org_id = s(&org["organization"]["id"]).to_owned();
    let mut keys = Vec::new();
    for _ in 0..2 {
        let (status, created) = call(
            &server,
            &admin,
            "POST",
            "/api/v1/tokens",
            Some(json!({"organization_id": org_id})),
        )
        .await;
        assert_eq!(status, 201, "{created}");
        assert!(created["token_info"].get("last_used_time").is_none(), "{created}");
        keys.push((
            s(&created["token"]).to_owned(),
            s(&created["token_id"]).to_owned(),
        ));
    }
    let since = time::OffsetDateTime::now_utc().unix_timestamp() - 60;
    for _ in 0..50 {
        let (status, body) = call(
            &server,
            &admin,
            "POST",
            "/api/v1/tokens:validate",
            Some(json!({"token": keys[0].0})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    // Written by the flush task within a second or so, never by the validations themselves.
    let list = format!("/api/v1/tokens?organization_id={org_id}");
    let mut listed = Value::Null;
    for _ in 0..50 {
        listed = call(&server, &admin, "GET", &list, None).await.1;
        if listed["tokens"][0]["last_used_time"].is_string() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(listed["tokens"][0]["last_used_time"].is_string(), "{listed}");
    assert!(listed["tokens"][1].get("last_used_time").is_none(), "{listed}");

    // unused_since: only the key not used since.
    let (status, dead) = call(
        &server,
        &admin,
        "GET",
        &format!("{list}&unused_since={since}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{dead}");
    assert_eq!(ids(&dead), [keys[1].1.as_str()]);
    let page = server
        .remote()
        .list_tokens(ListTokens {
            organization_id: org_id.clone(),
            unused_since: Some(time::OffsetDateTime::from_unix_timestamp(since).unwrap()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.tokens.len(), 1);
    assert_eq!(page.tokens[0].token_id, keys[1].1);
    let (status, bad) = call(
        &server,
        &admin,
        "GET",
        &format!("{list}&unused_since=yesterday"),
        None,
    )
    .await;
    assert_eq!(status, 400, "{bad}");

    // The CLI on the same store: a LAST_USED column, and its own validations are written before
    // it exits.
    let table = String::from_utf8(server.cli(&["keys", "list", "--org", &org_id])).unwrap();
    assert!(table.contains("LAST_USED"), "{table}");
    server.cli(&["keys", "validate", &keys[1].0]);
    let out = server.cli(&["--json", "keys", "list", "--org", &org_id]);
    let listed: Value = serde_json::from_slice(&out).unwrap();
    assert!(listed["tokens"][1]["last_used_time"].is_string(), "{listed}");
}
