//! Safe defaults (issue #12, items 7 and 9): a master key file next to a SQLite database,
//! PostgreSQL refused without a master key unless `--insecure-dev`, the no-pepper warning,
//! plain-text signing keys encrypted on start, `--metrics-listen`, one issuer default for
//! `serve` and the CLI, and `clients create --expiry 0` refused.

mod common;

use std::process::Command;

use common::{Options, Server, admin_token, http, s};

fn sqlite_file(server: &Server) -> String {
    server.database.strip_prefix("sqlite://").unwrap().to_owned()
}

/// The `encryption` column of every signing key in a SQLite file.
fn encryptions(db: &str) -> Vec<String> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut stmt = c
        .prepare("SELECT encryption FROM authgate_signing_keys ORDER BY seq")
        .unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_master_key_the_server_makes_a_private_key_file_and_encrypts_signing_keys() {
    let server = Server::start();
    // A token makes the first signing key.
    admin_token(&server).await;
    let db = sqlite_file(&server);
    let key_file = format!("{db}.master-key");
    let meta = std::fs::metadata(&key_file).expect("a key file next to the database");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }
    assert_eq!(encryptions(&db), ["aes-256-gcm"]);
    let log = server.stderr();
    assert!(log.contains(&key_file), "the log names the key file:\n{log}");
    assert!(
        log.contains("AUTHGATE_KEY_PEPPER is not set"),
        "no-pepper warning:\n{log}"
    );
    // The CLI on the same database reads the same key file.
    let listed: serde_json::Value =
        serde_json::from_slice(&server.cli(&["--json", "signing-keys", "list"])).unwrap();
    assert_eq!(listed["signing_keys"][0]["encrypted"], true);
}

/// A store whose signing key was written in plain text (by a version before key files, here the
/// core library opened without a master key) is migrated when the server starts: the key is
/// encrypted, and tokens it signed still validate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_text_signing_keys_are_encrypted_on_start() {
    use authgate_core::authority::{Authority, AuthorityConfig};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("legacy.db").display().to_string();
    let url = format!("sqlite://{db}");
    {
        let legacy = Authority::open(&url, AuthorityConfig::new("http://localhost"))
            .await
            .unwrap();
        legacy
            .rotate_signing_key(std::time::Duration::ZERO)
            .await
            .unwrap();
    }
    assert_eq!(encryptions(&db), ["none"]);
    let server = Server::start_with(Options {
        database: Some(url),
        ..Options::default()
    });
    assert_eq!(encryptions(&db), ["aes-256-gcm"]);
    let admin = admin_token(&server).await;
    assert_eq!(server.management_status(&admin).await, 200);
    assert!(server.stderr().contains("were encrypted with the master key"));
}

/// A store the CLI creates first gets the key file before its first signing key: no signing
/// key is ever written in plain text, and a server started later uses the same file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_the_cli_creates_first_never_holds_a_plain_text_signing_key() {
    let cli = common::Cli::new();
    cli.json(&["signing-keys", "rotate", "--now"]);
    let db = cli.url.strip_prefix("sqlite://").unwrap().to_owned();
    let key_file = format!("{db}.master-key");
    let meta = std::fs::metadata(&key_file).expect("the CLI made a key file next to the database");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }
    let key = std::fs::read_to_string(&key_file).unwrap();
    assert_eq!(encryptions(&db), ["aes-256-gcm"]);
    let server = Server::start_with(Options {
        database: Some(cli.url.clone()),
        ..Options::default()
    });
    let admin = admin_token(&server).await;
    assert_eq!(server.management_status(&admin).await, 200);
    assert_eq!(
        std::fs::read_to_string(&key_file).unwrap(),
        key,
        "the server read the CLI's file"
    );
    assert!(!server.stderr().contains("were encrypted with the master key"));
}

/// A key file others can read is refused, with its path.
#[test]
fn a_key_file_readable_by_others_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("authgate.db");
    let key = dir.path().join("authgate.db.master-key");
    std::fs::write(&key, "k".repeat(44)).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let out = Command::new(common::binary())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("AUTHGATE_DATABASE_URL", format!("sqlite://{}", db.display()))
        .env_remove("AUTHGATE_MASTER_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("chmod 600") && stderr.contains("master-key"),
        "{stderr}"
    );
}

/// On PostgreSQL the server refuses to start without a master key, unless `--insecure-dev`.
#[test]
#[ignore = "needs PostgreSQL: AUTHGATE_TEST_DATABASE_URL"]
fn postgres_without_a_master_key_needs_insecure_dev() {
    let db = common::postgres_database("master_key_required");
    let out = Command::new(common::binary())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("AUTHGATE_DATABASE_URL", &db.url)
        .env_remove("AUTHGATE_MASTER_KEY")
        .env_remove("AUTHGATE_INSECURE_DEV")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("failed_precondition") && stderr.contains("--insecure-dev"),
        "{stderr}"
    );
    // With --insecure-dev it starts (and says so).
    let server = Server::start_with(Options {
        database: Some(db.url.clone()),
        args: vec!["--insecure-dev".into()],
        ..Options::default()
    });
    assert!(server.stderr().contains("--insecure-dev"));
}

/// `--metrics-listen`: /metrics on its own listener, a 404 on the main one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_on_their_own_listener() {
    let server = Server::start_with(Options {
        args: vec!["--metrics-listen".into(), "127.0.0.1:0".into()],
        ..Options::default()
    });
    let stdout = server.stdout();
    let metrics_url = stdout
        .lines()
        .find_map(|l| l.strip_prefix("authgate metrics listening on "))
        .expect("the metrics address on stdout")
        .trim()
        .to_owned();
    let main = http().get(server.at("/metrics")).send().await.unwrap();
    assert_eq!(main.status(), 404);
    let separate = http().get(format!("{metrics_url}/metrics")).send().await.unwrap();
    assert_eq!(separate.status(), 200);
    assert!(separate.text().await.unwrap().contains("authgate_build_info"));
    let other = http()
        .get(format!("{metrics_url}/api/v1/organizations"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
}

/// The CLI derives the issuer as `serve` does (from AUTHGATE_LISTEN): an environment token it
/// issues is accepted by the server listening there. With port 0 it refuses to guess.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_derives_the_issuer_as_serve_does() {
    let server = Server::start();
    let listen = server.url.strip_prefix("http://").unwrap().to_owned();
    let out = Command::new(common::binary())
        .args([
            "--json",
            "token",
            "issue",
            "--client-id",
            &server.client_id,
            "--client-secret",
            &server.client_secret,
        ])
        .env("AUTHGATE_DATABASE_URL", &server.database)
        .env("AUTHGATE_LISTEN", &listen)
        .env_remove("AUTHGATE_ISSUER")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let issued: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(server.management_status(s(&issued["access_token"])).await, 200);

    let out = Command::new(common::binary())
        .args([
            "token",
            "issue",
            "--client-id",
            &server.client_id,
            "--client-secret",
            &server.client_secret,
        ])
        .env("AUTHGATE_DATABASE_URL", &server.database)
        .env("AUTHGATE_LISTEN", "127.0.0.1:0")
        .env_remove("AUTHGATE_ISSUER")
        .output()
        .unwrap();
    common::assert_fails(&["token", "issue"], &out, 1, "invalid_argument");
    assert!(String::from_utf8_lossy(&out.stderr).contains("port 0"));
}

#[test]
fn clients_create_with_expiry_zero_is_refused() {
    let cli = common::Cli::new();
    let org = cli.json(&["orgs", "create", "--name", "Acme"]);
    let org = s(&org["organization"]["id"]).to_owned();
    let stderr = cli.fails(
        &[
            "clients", "create", "--org", &org, "--name", "svc", "--expiry", "0",
        ],
        "invalid_argument",
    );
    assert!(stderr.contains("--expiry 0"), "{stderr}");
    let listed = cli.json(&["clients", "list", "--org", &org]);
    assert_eq!(
        listed["clients"].as_array().map_or(0, Vec::len),
        0,
        "nothing was created"
    );
}
