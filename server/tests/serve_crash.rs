//! Crash durability (issue #12, item 10): `authgate serve` is killed with SIGKILL while clients
//! are writing to it, restarted on the same store, and every write it acknowledged is there —
//! on SQLite (a temp file) and on PostgreSQL (a fresh database on `AUTHGATE_TEST_DATABASE_URL`).
//!
//! The load mixes the three kinds of write a crash can tear: organization creates, API-key
//! creates, and invalidations (a key whose invalidation was acknowledged must stay refused).

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use authgate_core::model::ListTokens;
use authgate_core::{AuthApi, Error};
use common::{Options, Server, admin_token, http, random_credentials, s};
use serde_json::{Value, json};

/// What the server acknowledged before it died.
#[derive(Default)]
struct Acked {
    organizations: Vec<String>,
    /// `(token_id, key)` of keys whose create returned 201.
    keys: Vec<(String, String)>,
    /// Keys whose invalidation returned 200.
    invalidated: Vec<(String, String)>,
}

/// Acknowledged key creates before the kill (on top of at least one second of load).
const KEYS_BEFORE_KILL: usize = 150;

fn crash_and_recover(database: Option<String>) {
    let credentials = random_credentials();
    let options = Options {
        database,
        credentials: Some(credentials),
        ..Options::default()
    };
    let server = Server::start_with(options.clone());
    let runtime = common::runtime();
    let acked = Arc::new(Mutex::new(Acked::default()));
    let org = runtime.block_on(async {
        let admin = admin_token(&server).await;
        let org = post(
            &server.url,
            &admin,
            "/api/v1/organizations",
            json!({"display_name": "crash"}),
        )
        .await
        .expect("create the organization");
        let org = s(&org["organization"]["id"]).to_owned();

        let started = Instant::now();
        let mut writers = Vec::new();
        for writer in 0..6 {
            let (url, admin, org, acked) = (server.url.clone(), admin.clone(), org.clone(), acked.clone());
            writers.push(tokio::spawn(async move {
                write_until_refused(writer, &url, &admin, &org, &acked).await
            }));
        }
        // Kill in the middle of the load: writers are still sending when SIGKILL lands.
        loop {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let keys = acked.lock().unwrap().keys.len();
            if keys >= KEYS_BEFORE_KILL && started.elapsed() > Duration::from_secs(1) {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "only {keys} keys created in 120 s"
            );
        }
        org
    });
    let pid = server.pid();
    let dir = server.kill_keeping_store();
    runtime.block_on(async {
        // The writers notice the dead server (connection refused) and stop.
        tokio::time::sleep(Duration::from_millis(200)).await;
    });
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    assert!(acked.keys.len() >= KEYS_BEFORE_KILL, "{} keys", acked.keys.len());
    assert!(!acked.invalidated.is_empty(), "no invalidation was acknowledged");
    eprintln!(
        "killed pid {pid} after {} organizations, {} keys, {} invalidations were acknowledged",
        acked.organizations.len(),
        acked.keys.len(),
        acked.invalidated.len()
    );

    // Restart on the same store (for SQLite: the same file and master-key file in `dir`).
    let restarted = Server::start_with(Options {
        database: Some(options.database.clone().unwrap_or_else(|| {
            let dir = dir.as_ref().expect("the SQLite temp dir");
            format!("sqlite://{}", dir.path().join("authgate.db").display())
        })),
        ..options
    });
    runtime.block_on(async {
        let api = restarted.remote();
        for id in &acked.organizations {
            api.get_organization(id)
                .await
                .unwrap_or_else(|e| panic!("acknowledged organization {id} lost: {e}"));
        }
        let mut stored = std::collections::HashSet::new();
        let mut page_token = None;
        loop {
            let page = api
                .list_tokens(ListTokens {
                    organization_id: org.clone(),
                    page_size: Some(30),
                    page_token,
                    ..ListTokens::default()
                })
                .await
                .unwrap();
            stored.extend(page.tokens.into_iter().map(|t| t.token_id));
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = Some(page.next_page_token);
        }
        let invalidated: std::collections::HashSet<&str> =
            acked.invalidated.iter().map(|(id, _)| id.as_str()).collect();
        for (id, key) in &acked.keys {
            if invalidated.contains(id.as_str()) {
                continue;
            }
            assert!(
                stored.contains(id),
                "acknowledged key {id} is not listed after the crash"
            );
            let info = api
                .validate_token(key)
                .await
                .unwrap_or_else(|e| panic!("acknowledged key {id} does not validate after the crash: {e}"));
            assert_eq!(&info.token_id, id);
        }
        for (id, key) in &acked.invalidated {
            assert!(
                !stored.contains(id),
                "key {id} was invalidated, yet is listed after the crash"
            );
            assert_eq!(
                api.validate_token(key).await.unwrap_err(),
                Error::TokenValidationFailed,
                "key {id}'s invalidation was acknowledged, yet it validates after the crash"
            );
        }
    });
    drop(restarted);
    drop(dir);
}

/// Writes until the server stops answering: mostly key creates; every third key is invalidated
/// right after its create; every tenth round also creates an organization.
async fn write_until_refused(writer: usize, url: &str, admin: &str, org: &str, acked: &Mutex<Acked>) {
    for round in 0usize.. {
        if round % 10 == writer % 10 {
            let Some(created) = post(
                url,
                admin,
                "/api/v1/organizations",
                json!({"display_name": format!("w{writer}-{round}")}),
            )
            .await
            else {
                return;
            };
            acked
                .lock()
                .unwrap()
                .organizations
                .push(s(&created["organization"]["id"]).to_owned());
        }
        let body = json!({"organization_id": org, "description": format!("writer {writer} round {round}")});
        let Some(created) = post(url, admin, "/api/v1/tokens", body).await else {
            return;
        };
        let id = s(&created["token_id"]).to_owned();
        let key = s(&created["token"]).to_owned();
        acked.lock().unwrap().keys.push((id.clone(), key.clone()));
        if round % 3 == 0 {
            if post(url, admin, "/api/v1/tokens:invalidate", json!({"token": id}))
                .await
                .is_none()
            {
                return;
            }
            acked.lock().unwrap().invalidated.push((id, key));
        }
    }
}

/// The JSON body of a successful (2xx) `POST`; `None` once the server is gone. Any other answer
/// while it is alive is a test failure.
async fn post(url: &str, admin: &str, path: &str, body: Value) -> Option<Value> {
    let response = http()
        .post(format!("{url}{path}"))
        .bearer_auth(admin)
        .json(&body)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .ok()?;
    let status = response.status();
    // A response cut off by the kill is not an acknowledgement.
    let text = response.text().await.ok()?;
    assert!(status.is_success(), "{path}: {status} {text}");
    Some(serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[test]
fn acknowledged_writes_survive_kill_9_on_sqlite() {
    crash_and_recover(None);
}

#[test]
#[ignore = "needs PostgreSQL: set AUTHGATE_TEST_DATABASE_URL (scripts/with-postgres)"]
fn acknowledged_writes_survive_kill_9_on_postgres() {
    let database = common::postgres_database("acknowledged_writes_survive_kill_9_on_postgres");
    crash_and_recover(Some(database.url.clone()));
}
