//! The audit log through a real `authgate serve` (#13 item 5): management calls are recorded
//! with the environment client as actor and the caller's address; refused management
//! authentications are recorded as failures; `GET /api/v1/audit-events` filters and pages;
//! the remote client and `authgate audit list` read the same log; `--audit-retention-days`
//! prunes at start; and no secret, key or token is ever in the database.

mod common;

use std::process::Command;

use authgate_core::AuthApi;
use authgate_core::model::{CreateOrganization, CreateToken, ListAuditEvents};
use common::{Options, Server, admin_token, binary, exec_sql, http, s};
use serde_json::Value;

async fn get(server: &Server, path: &str, token: &str) -> (u16, Value) {
    let response = http()
        .get(server.at(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn contains_bytes(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

fn actions(body: &Value) -> Vec<String> {
    body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| s(&e["action"]).to_owned())
        .collect()
}

/// `authgate ARGS…` on the server's database as OS user `user`; its stdout as JSON.
fn cli_as(server: &Server, user: &str, args: &[&str]) -> Value {
    let output = Command::new(binary())
        .arg("--json")
        .args(args)
        .env("AUTHGATE_DATABASE_URL", &server.database)
        .env("USER", user)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

async fn management_calls_and_refusals_are_recorded(server: Server) {
    let api = server.remote();
    let org = api
        .create_organization(CreateOrganization {
            display_name: "Acme".into(),
            external_id: None,
        })
        .await
        .unwrap();
    let key = api
        .create_token(CreateToken {
            organization_id: org.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    api.invalidate_token(key.token.expose()).await.unwrap();
    // A failed call writes nothing.
    assert!(api.delete_organization("org_404").await.is_err());
    // Refused management authentications: a bad token, none at all, an M2M client's token.
    let bad = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";
    assert_eq!(get(&server, "/api/v1/organizations", bad).await.0, 401);
    let status = http()
        .get(server.at("/api/v1/audit-events"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);

    let token = admin_token(&server).await;
    let refusals = || async {
        let (_, body) = get(&server, "/api/v1/audit-events?action=admin.authenticate", &token).await;
        body["events"].as_array().unwrap().len()
    };
    // Refusals are written off the request path: wait for them.
    let mut seen = 0;
    for _ in 0..300 {
        seen = refusals().await;
        if seen >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(seen, 2);

    let (status, body) = get(&server, "/api/v1/audit-events", &token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        actions(&body),
        [
            "environment_credential.register",
            "organization.create",
            "api_key.create",
            "api_key.revoke",
            "admin.authenticate",
            "admin.authenticate",
        ]
    );
    let events = body["events"].as_array().unwrap();
    assert_eq!(s(&events[0]["actor"]), "server");
    assert!(events[0].get("source_address").is_none());
    for e in &events[1..4] {
        assert_eq!(s(&e["actor"]), server.client_id);
        assert_eq!(s(&e["source_address"]), "127.0.0.1");
        assert_eq!(s(&e["outcome"]), "success");
        assert_eq!(s(&e["organization_id"]), org.id);
    }
    assert_eq!(s(&events[3]["target_ids"][0]), key.token_id);
    for e in &events[4..] {
        assert_eq!(s(&e["actor"]), "unauthenticated");
        assert_eq!(s(&e["outcome"]), "failure");
        assert_eq!(s(&e["error_code"]), "unauthenticated");
        assert_eq!(s(&e["source_address"]), "127.0.0.1");
    }
    assert_eq!(body["total_size"], 6);

    // Filters and keyset paging over REST; the remote client reads the same.
    let path = format!("/api/v1/audit-events?organization_id={}&page_size=2", org.id);
    let (_, page) = get(&server, &path, &token).await;
    assert_eq!(actions(&page), ["organization.create", "api_key.create"]);
    let next = s(&page["next_page_token"]).to_owned();
    let (_, page2) = get(&server, &format!("{path}&page_token={next}"), &token).await;
    assert_eq!(actions(&page2), ["api_key.revoke"]);
    let start = s(&events[2]["time"]).to_owned();
    let (_, since) = get(
        &server,
        &format!(
            "/api/v1/audit-events?start_time={start}&actor={}",
            server.client_id
        ),
        &token,
    )
    .await;
    assert_eq!(actions(&since), ["api_key.create", "api_key.revoke"]);
    let remote = api
        .list_audit_events(ListAuditEvents {
            actor: Some(server.client_id.clone()),
            start_time: Some(
                time::OffsetDateTime::parse(&start, &time::format_description::well_known::Rfc3339).unwrap(),
            ),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(serde_json::to_value(&remote).unwrap()["events"], since["events"]);

    // Bad filters are 400 invalid_argument, changing nothing.
    for bad in [
        "action=nope",
        "organization_id=acme",
        "page_size=101",
        "start_time=yesterday",
        "colour=red",
        &format!("actor=x&page_token={next}"),
    ] {
        let (status, body) = get(&server, &format!("/api/v1/audit-events?{bad}"), &token).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(
            body["details"][0]["error_code"], "invalid_argument",
            "{bad}: {body}"
        );
    }

    // The CLI names the OS user and reads the same log.
    cli_as(&server, "alice", &["orgs", "create", "--name", "From the CLI"]);
    let listed = cli_as(&server, "alice", &["audit", "list", "--actor", "cli:alice"]);
    assert_eq!(actions(&listed), ["organization.create"]);

    // No secret, key or token anywhere in the database.
    let secrets = [
        key.token.expose().to_owned(),
        server.client_secret.clone(),
        token.clone(),
        bad.to_owned(),
    ];
    let raw = raw_store(&server).await;
    for secret in &secrets {
        assert!(!contains_bytes(&raw, secret), "a secret is in the database");
    }
}

/// The database's contents: the SQLite files, or every audit row's text on PostgreSQL (where
/// the other tables hold digests only, checked by the core tests).
async fn raw_store(server: &Server) -> Vec<u8> {
    match server.database.strip_prefix("sqlite://") {
        Some(path) => {
            let mut all = Vec::new();
            for suffix in ["", "-wal"] {
                all.extend(std::fs::read(format!("{path}{suffix}")).unwrap_or_default());
            }
            all
        }
        None => {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(&server.database).await.unwrap();
            let mut all = Vec::new();
            for table in [
                "authgate_audit_events",
                "authgate_api_keys",
                "authgate_environment_clients",
            ] {
                let rows: Vec<String> =
                    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT t::text FROM {table} t")))
                        .fetch_all(&mut c)
                        .await
                        .unwrap();
                for r in rows {
                    all.extend(r.into_bytes());
                }
            }
            all
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_log_on_sqlite() {
    management_calls_and_refusals_are_recorded(Server::start()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set AUTHGATE_TEST_DATABASE_URL (scripts/with-postgres)"]
async fn audit_log_on_postgres() {
    let db = common::postgres_database("audit_log_on_postgres");
    let server = Server::start_with(Options {
        database: Some(db.url.clone()),
        ..Options::default()
    });
    management_calls_and_refusals_are_recorded(server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_prunes_old_events_at_start() {
    let first = Server::start();
    let api = first.remote();
    api.create_organization(CreateOrganization {
        display_name: "Old".into(),
        external_id: None,
    })
    .await
    .unwrap();
    let credentials = (first.client_id.clone(), first.client_secret.clone());
    let (dir, _) = first.terminate_keeping_store();
    let dir = dir.unwrap();
    let database = format!("sqlite://{}", dir.path().join("authgate.db").display());
    // Ten days pass for what was recorded so far.
    exec_sql(
        &database,
        "UPDATE authgate_audit_events SET time = time - 864000000",
    );

    let server = Server::start_with(Options {
        database: Some(database.clone()),
        args: vec!["--audit-retention-days".into(), "7".into()],
        credentials: Some(credentials),
        ..Options::default()
    });
    let token = admin_token(&server).await;
    let mut listed = Vec::new();
    for _ in 0..300 {
        let (_, body) = get(&server, "/api/v1/audit-events", &token).await;
        listed = actions(&body);
        if listed.contains(&"audit.prune".to_owned()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(listed, ["environment_credential.register", "audit.prune"]);
    drop(server);

    // The CLI prunes on demand; a retention under a day is refused.
    exec_sql(
        &database,
        "UPDATE authgate_audit_events SET time = time - 864000000",
    );
    let output = Command::new(binary())
        .args(["--json", "audit", "prune", "--retention-days", "7"])
        .env("AUTHGATE_DATABASE_URL", &database)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let pruned: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(pruned["deleted"], 2);
    let output = Command::new(binary())
        .args(["audit", "prune", "--retention-days", "0"])
        .env("AUTHGATE_DATABASE_URL", &database)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("invalid_argument"));
}
