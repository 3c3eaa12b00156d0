//! Store faults are 503 and visible (issue #12, item 4): `/healthz` is liveness, `/readyz`
//! readiness; a deleted or replaced SQLite file is detected and writes are refused (503
//! `unavailable` with `Retry-After`) instead of being acknowledged and lost.

mod common;

use common::{Server, admin_token, http};
use serde_json::{Value, json};

async fn create_org(server: &Server, admin: &str, name: &str) -> reqwest::Response {
    http()
        .post(server.at("/api/v1/organizations"))
        .bearer_auth(admin)
        .json(&json!({"display_name": name}))
        .send()
        .await
        .unwrap()
}

async fn status_of(server: &Server, path: &str) -> (u16, Value) {
    let response = http().get(server.at(path)).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn assert_unavailable(response: reqwest::Response) {
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["details"][0]["error_code"], "unavailable", "{body}");
}

fn sqlite_files(server: &Server) -> (String, [String; 3]) {
    let db = server.database.strip_prefix("sqlite://").unwrap().to_owned();
    let files = [db.clone(), format!("{db}-wal"), format!("{db}-shm")];
    (db, files)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_database_file_is_detected_and_writes_are_refused() {
    let server = Server::start();
    let admin = admin_token(&server).await;
    assert_eq!(create_org(&server, &admin, "Before").await.status(), 201);
    assert_eq!(
        status_of(&server, "/readyz").await,
        (200, json!({"status": "ready", "validation_cache": "exact"}))
    );

    let (_, files) = sqlite_files(&server);
    for f in &files {
        let _ = std::fs::remove_file(f);
    }
    assert_unavailable(create_org(&server, &admin, "Lost").await).await;
    let response = http().get(server.at("/readyz")).send().await.unwrap();
    assert_unavailable(response).await;
    // Liveness does not depend on the store.
    assert_eq!(status_of(&server, "/healthz").await.0, 200);
    // Nothing was created in place of the deleted file.
    assert!(
        !std::path::Path::new(&files[0]).exists(),
        "the server re-created the file"
    );
    assert!(server.stderr().contains("gone since it was opened"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_database_file_is_detected_and_writes_are_refused() {
    let server = Server::start();
    let admin = admin_token(&server).await;
    assert_eq!(create_org(&server, &admin, "Before").await.status(), 201);
    let (db, _) = sqlite_files(&server);
    // Another file moved over the path (a restore, a deploy script).
    let copy = format!("{db}.copy");
    std::fs::copy(&db, &copy).unwrap();
    std::fs::rename(&copy, &db).unwrap();
    assert_unavailable(create_org(&server, &admin, "Elsewhere").await).await;
    assert_eq!(status_of(&server, "/readyz").await.0, 503);
}

/// On PostgreSQL, `/readyz` answers 503 within its bound (2 s) when the database stops
/// answering — not after the pool's acquire timeout — while `/healthz` stays 200.
#[test]
#[ignore = "needs PostgreSQL: AUTHGATE_TEST_DATABASE_URL"]
fn readiness_is_bounded_when_postgres_stops_answering() {
    let database = common::postgres_database("readiness_is_bounded");
    let mut url = url::Url::parse(&database.url).unwrap();
    let upstream = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    let relay = common::BlackHole::start(upstream);
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(relay.port)).unwrap();
    let server = Server::start_with(common::Options {
        database: Some(url.to_string()),
        ..common::Options::default()
    });
    common::runtime().block_on(async {
        assert_eq!(status_of(&server, "/readyz").await.0, 200);
        relay.stall();
        // The store now accepts bytes and never answers; readiness must still answer soon. The
        // deadline (6 s) is well under the pool's 12 s acquire timeout the old check waited for.
        let answer = tokio::time::timeout(
            std::time::Duration::from_secs(6),
            http().get(server.at("/readyz")).send(),
        )
        .await
        .expect("/readyz waited on the store");
        assert_unavailable(answer.unwrap()).await;
        assert_eq!(status_of(&server, "/healthz").await.0, 200);
    });
}
