//! Brute-force limits and bookkeeping off the request path (issue #12, items 2 and 3), against
//! the real server. Windows are driven by the server's test clock file
//! (`--dangerous-test-clock-file`), never by sleeping.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{Options, Server, admin_token, http};

/// A server with small limits (3 per client id, 5 per address, 60 s windows) on a test clock
/// starting at 1000 s; returns it with the clock file.
fn limited_server(extra: &[&str]) -> (Server, tempfile::TempDir, PathBuf) {
    let clock_dir = tempfile::tempdir().unwrap();
    let clock = clock_dir.path().join("clock");
    std::fs::write(&clock, "1000").unwrap();
    let mut args: Vec<String> = [
        "--auth-failures-per-client",
        "3",
        "--auth-failures-per-address",
        "5",
        "--auth-failure-window",
        "60",
        "--dangerous-test-clock-file",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(clock.display().to_string());
    args.extend(extra.iter().map(|s| s.to_string()));
    let server = Server::start_with(Options {
        args,
        ..Options::default()
    });
    (server, clock_dir, clock)
}

async fn grant(server: &Server, id: &str, secret: &str, forwarded: Option<&str>) -> reqwest::Response {
    let mut request = http().post(server.at("/oauth/token")).form(&[
        ("grant_type", "client_credentials"),
        ("client_id", id),
        ("client_secret", secret),
    ]);
    if let Some(xff) = forwarded {
        request = request.header("x-forwarded-for", xff);
    }
    request.send().await.unwrap()
}

fn retry_after(response: &reqwest::Response) -> u64 {
    response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_client_authentications_are_limited_logged_and_counted() {
    let (server, _dir, clock) = limited_server(&[]);
    let remote = server.remote();
    let (_, created) =
        common::org_with_client(&remote, "Limits", common::client_input("svc", &["read"])).await;
    let id = created.client.client_id.clone();
    let secret = created.plain_secret.expose().to_owned();
    let wrong = format!("{}x", &secret[..secret.len() - 1]);
    let wrong = if wrong == secret {
        format!("{}y", &secret[..secret.len() - 1])
    } else {
        wrong
    };

    for _ in 0..3 {
        assert_eq!(grant(&server, &id, &wrong, None).await.status(), 401);
    }
    // Over the per-client limit: 429 with Retry-After, the right secret included.
    let limited = grant(&server, &id, &secret, None).await;
    assert_eq!(limited.status(), 429);
    assert_eq!(retry_after(&limited), 60);
    let body: serde_json::Value = limited.json().await.unwrap();
    assert_eq!(body["error"], "slow_down");
    // Half a window later the wait is half as long; at the window's end the right secret works.
    std::fs::write(&clock, "1030").unwrap();
    assert_eq!(retry_after(&grant(&server, &id, &secret, None).await), 30);
    std::fs::write(&clock, "1060").unwrap();
    assert_eq!(grant(&server, &id, &secret, None).await.status(), 200);

    // Logged at warn with the client id, never a secret; counted in /metrics.
    let log = server.stderr();
    assert!(
        log.lines()
            .any(|l| l.contains("WARN") && l.contains("client authentication failed") && l.contains(&id)),
        "{log}"
    );
    assert!(!log.contains(&wrong) && !log.contains(&secret));
    let metrics = server.metrics().await;
    assert_eq!(common::metric(&metrics, "authgate_client_auth_failures_total"), 3);
    assert_eq!(common::metric(&metrics, "authgate_auth_rate_limited_total"), 2);

    // Per address: unknown ids from one address, then even a known-good id is refused.
    std::fs::write(&clock, "2000").unwrap();
    for i in 0..5 {
        let unknown = format!("m2morg_unknown{i}");
        assert_eq!(grant(&server, &unknown, &wrong, None).await.status(), 401);
    }
    assert_eq!(grant(&server, &id, &secret, None).await.status(), 429);
    // The management API refuses that address too, before looking at the token.
    let admin = admin_token_or_status(&server).await;
    assert_eq!(admin, Err(429));
    std::fs::write(&clock, "2060").unwrap();
    assert_eq!(grant(&server, &id, &secret, None).await.status(), 200);
}

async fn admin_token_or_status(server: &Server) -> Result<String, u16> {
    let response = grant(server, &server.client_id, &server.client_secret, None).await;
    match response.status().as_u16() {
        200 => Ok(admin_token(server).await),
        status => Err(status),
    }
}

/// Failed management authentications count per address; 429 carries the Scalekit error body
/// (`resource_exhausted`) and Retry-After.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_admin_authentications_are_limited() {
    let (server, _dir, clock) = limited_server(&[]);
    let admin = admin_token(&server).await;
    for _ in 0..5 {
        assert_eq!(server.management_status("not.a.jwt").await, 401);
    }
    let response = http()
        .get(server.at("/api/v1/organizations"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(retry_after(&response), 60);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["details"][0]["error_code"], "resource_exhausted");
    std::fs::write(&clock, "1060").unwrap();
    assert_eq!(server.management_status(&admin).await, 200);
}

/// X-Forwarded-For counts only from a trusted proxy: from an untrusted peer every request is
/// the peer's; behind a trusted one (here loopback), each forwarded address has its own count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_counts_only_behind_trusted_proxies() {
    let (untrusted, _d1, _c1) = limited_server(&[]);
    for i in 0..5 {
        let xff = format!("198.51.100.{i}");
        grant(
            &untrusted,
            &format!("m2morg_u{i}"),
            "wrong-secret-wrong-secret",
            Some(&xff),
        )
        .await;
    }
    let other = grant(&untrusted, "m2morg_next", "x", Some("203.0.113.1")).await;
    assert_eq!(other.status(), 429, "the spoofed header was believed");

    let (trusted, _d2, _c2) = limited_server(&["--trusted-proxies", "127.0.0.0/8,::1"]);
    for i in 0..5 {
        grant(&trusted, &format!("m2morg_t{i}"), "wrong", Some("198.51.100.9")).await;
    }
    assert_eq!(
        grant(&trusted, "m2morg_x", "wrong", Some("198.51.100.9"))
            .await
            .status(),
        429
    );
    let fresh = grant(&trusted, "m2morg_y", "wrong", Some("198.51.100.10")).await;
    assert_eq!(fresh.status(), 401, "another forwarded address has its own count");
}

/// Another process holds the SQLite write lock (`BEGIN IMMEDIATE`): `/oauth/token` still answers
/// while the lock is held — the `last_used_time` write is deferred and dropped, not awaited. The
/// store's busy timeout is 5 s; the answer is awaited with a shorter deadline, then the lock is
/// released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_write_lock_does_not_delay_grants() {
    let server = Server::start();
    let remote = server.remote();
    let (_, created) =
        common::org_with_client(&remote, "Locked", common::client_input("svc", &["read"])).await;
    let id = created.client.client_id.clone();
    let secret = created.plain_secret.expose().to_owned();
    let path = server.database.strip_prefix("sqlite://").unwrap().to_owned();
    let lock = rusqlite::Connection::open(&path).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    // Three grants in a row, each first of its kind for the secret's bookkeeping while the
    // lock is held (the secret has never been used, so each wants to record its use).
    for _ in 0..3 {
        let answer = tokio::time::timeout(Duration::from_secs(3), grant(&server, &id, &secret, None)).await;
        let response = answer.expect("the grant waited on the held write lock");
        assert_eq!(response.status(), 200);
    }
    lock.execute_batch("ROLLBACK").unwrap();
    // Once the lock is gone, the use is recorded by a later grant.
    assert_eq!(grant(&server, &id, &secret, None).await.status(), 200);
}
