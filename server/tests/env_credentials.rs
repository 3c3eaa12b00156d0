//! Environment credentials (`skc_…`) can be listed, created and revoked (REST and CLI); a revoked
//! credential's tokens are refused at once; provisioning through `AUTHGATE_CLIENT_ID`/`SECRET`
//! makes that pair the live one and revokes the ones it replaces; the last live credential
//! cannot be revoked. (Issue #12, item 1.)

mod common;

use common::{Options, Server, admin_token, http, s};
use serde_json::Value;

/// `/oauth/token` for `(id, secret)`: the access token, or the status of the refusal.
async fn token_for(server: &Server, id: &str, secret: &str) -> Result<String, u16> {
    let response = http()
        .post(server.at("/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    if status != 200 {
        return Err(status);
    }
    let body: Value = response.json().await.unwrap();
    Ok(s(&body["access_token"]).to_owned())
}

async fn call(server: &Server, method: &str, path: &str, token: &str) -> (u16, Value) {
    let request = match method {
        "GET" => http().get(server.at(path)),
        _ => http().post(server.at(path)),
    };
    let response = request.bearer_auth(token).send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn error_code(body: &Value) -> &str {
    body["details"][0]["error_code"].as_str().unwrap_or("")
}

/// The lifecycle through REST on `server`: create, use, revoke (its token is refused on the
/// very next call), and the typed refusals.
async fn rest_lifecycle(server: &Server) {
    let admin = admin_token(server).await;
    let (status, listed) = call(server, "GET", "/api/v1/environment/credentials", &admin).await;
    assert_eq!(status, 200, "{listed}");
    let list = listed["credentials"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(s(&list[0]["client_id"]), server.client_id);
    assert_eq!(list[0]["live"], true);
    assert!(
        !listed.to_string().contains(&server.client_secret),
        "a listing shows no secret"
    );

    // A second credential: works for the management API.
    let (status, created) = call(server, "POST", "/api/v1/environment/credentials", &admin).await;
    assert_eq!(status, 201, "{created}");
    let id2 = s(&created["credential"]["client_id"]).to_owned();
    let secret2 = s(&created["plain_secret"]).to_owned();
    assert!(id2.starts_with("skc_"));
    let token2 = token_for(server, &id2, &secret2).await.unwrap();
    assert_eq!(server.management_status(&token2).await, 200);

    // Revoked by the first: the token it already holds is refused on the next call, and it
    // gets no new one.
    let revoke2 = format!("/api/v1/environment/credentials/{id2}:revoke");
    let (status, revoked) = call(server, "POST", &revoke2, &admin).await;
    assert_eq!(status, 200, "{revoked}");
    assert_eq!(revoked["credential"]["live"], false);
    assert!(revoked["credential"]["revoke_time"].is_string());
    assert_eq!(server.management_status(&token2).await, 401);
    assert_eq!(token_for(server, &id2, &secret2).await, Err(401));
    // Revoking again is a no-op; the first credential still works.
    assert_eq!(call(server, "POST", &revoke2, &admin).await.0, 200);
    assert_eq!(server.management_status(&admin).await, 200);

    // The last live credential cannot be revoked: a typed error, nothing changes.
    let revoke1 = format!("/api/v1/environment/credentials/{}:revoke", server.client_id);
    let (status, body) = call(server, "POST", &revoke1, &admin).await;
    assert_eq!(
        (status, error_code(&body)),
        (400, "failed_precondition"),
        "{body}"
    );
    assert_eq!(server.management_status(&admin).await, 200);
    // Unknown and malformed ids; a path that is not `…:revoke`.
    let (status, body) = call(
        server,
        "POST",
        "/api/v1/environment/credentials/skc_404404:revoke",
        &admin,
    )
    .await;
    assert_eq!((status, error_code(&body)), (404, "not_found"), "{body}");
    let (status, body) = call(
        server,
        "POST",
        "/api/v1/environment/credentials/nope:revoke",
        &admin,
    )
    .await;
    assert_eq!((status, error_code(&body)), (400, "invalid_argument"), "{body}");
    let (status, body) = call(
        server,
        "POST",
        &format!("/api/v1/environment/credentials/{id2}"),
        &admin,
    )
    .await;
    assert_eq!((status, error_code(&body)), (404, "not_found"), "{body}");
    // Without an admin token: 401, nothing listed or created.
    let (status, _) = call(server, "GET", "/api/v1/environment/credentials", "not-a-token").await;
    assert_eq!(status, 401);
    let (status, _) = call(server, "POST", "/api/v1/environment/credentials", "not-a-token").await;
    assert_eq!(status, 401);
    let (_, listed) = call(server, "GET", "/api/v1/environment/credentials", &admin).await;
    assert_eq!(listed["credentials"].as_array().unwrap().len(), 2);
    assert!(!server.stderr().contains(&secret2), "the log shows no secret");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_environment_credential_tokens_are_refused_at_once() {
    let server = Server::start();
    rest_lifecycle(&server).await;
}

/// The same on PostgreSQL (`scripts/with-postgres scripts/test-rust`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: AUTHGATE_TEST_DATABASE_URL"]
async fn revoked_environment_credential_tokens_are_refused_at_once_postgres() {
    let db = common::postgres_database("env_credentials");
    let server = Server::start_with(Options {
        database: Some(db.url.clone()),
        ..Options::default()
    });
    rest_lifecycle(&server).await;
}

/// A revocation by another process (the CLI) is seen by the server: at once with
/// `--env-credential-recheck 0`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_revocation_reaches_a_running_server() {
    let server = Server::start_with(Options {
        args: vec!["--env-credential-recheck".into(), "0".into()],
        ..Options::default()
    });
    let created: Value =
        serde_json::from_slice(&server.cli(&["--json", "env-credentials", "create"])).unwrap();
    let id2 = s(&created["credential"]["client_id"]).to_owned();
    let token2 = token_for(&server, &id2, s(&created["plain_secret"]))
        .await
        .unwrap();
    assert_eq!(server.management_status(&token2).await, 200);
    server.cli(&["env-credentials", "revoke", &id2]);
    assert_eq!(server.management_status(&token2).await, 401);
    let admin = admin_token(&server).await;
    assert_eq!(server.management_status(&admin).await, 200);
}

/// Restarting with other `AUTHGATE_CLIENT_ID`/`SECRET` revokes the old pair: its token (minted
/// before the restart) and its secret stop working. The log names the revoked id, never a secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisioning_revokes_the_credentials_it_replaces() {
    let first = Server::start();
    let old_token = admin_token(&first).await;
    let (old_id, old_secret) = (first.client_id.clone(), first.client_secret.clone());
    let (dir, _) = first.terminate_keeping_store();
    let dir = dir.unwrap();
    let second = Server::start_with(Options {
        database: Some(format!("sqlite://{}", dir.path().join("authgate.db").display())),
        ..Options::default()
    });
    assert_ne!(second.client_id, old_id);
    assert_eq!(second.management_status(&old_token).await, 401);
    assert_eq!(token_for(&second, &old_id, &old_secret).await, Err(401));
    let admin = admin_token(&second).await;
    assert_eq!(second.management_status(&admin).await, 200);
    let log = second.stderr();
    assert!(
        log.lines().any(|l| l.contains("revoked") && l.contains(&old_id)),
        "the log names the revoked credential:\n{log}"
    );
    assert!(!log.contains(&second.client_secret) && !log.contains(&old_secret));
    let (_, listed) = call(&second, "GET", "/api/v1/environment/credentials", &admin).await;
    let live: Vec<&str> = listed["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["live"] == true)
        .map(|c| s(&c["client_id"]))
        .collect();
    assert_eq!(live, [second.client_id.as_str()]);
}

/// `authgate env-credentials list | create | revoke`, and the refusals.
#[test]
fn cli_lifecycle() {
    let cli = common::Cli::new();
    let created = cli.json(&["env-credentials", "create"]);
    let id1 = s(&created["credential"]["client_id"]).to_owned();
    assert!(s(&created["plain_secret"]).len() >= 32);
    let listed = cli.json(&["env-credentials", "list"]);
    assert_eq!(listed["credentials"].as_array().unwrap().len(), 1);
    assert!(cli.text(&["env-credentials", "list"]).contains(&id1));
    // The last live one cannot be revoked.
    cli.fails(&["env-credentials", "revoke", &id1], "failed_precondition");
    let id2 = s(&cli.json(&["env-credentials", "create"])["credential"]["client_id"]).to_owned();
    let revoked = cli.json(&["env-credentials", "revoke", &id1]);
    assert_eq!(revoked["credential"]["live"], false);
    cli.fails(&["env-credentials", "revoke", &id2], "failed_precondition");
    cli.fails(&["env-credentials", "revoke", "skc_404404"], "not_found");
    cli.fails(&["env-credentials", "revoke", "m2morg_1"], "invalid_argument");
    let listed = cli.json(&["env-credentials", "list"]);
    let live: Vec<bool> = listed["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["live"] == true)
        .collect();
    assert_eq!(live, [false, true]);
}
