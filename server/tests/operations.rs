//! Every REST route and every CLI command has a failure test here (the exact error code, and a
//! store left unchanged), and `tests/OPERATIONS.md` maps every operation — REST route, CLI
//! command, Python method, Node method — to its success and failure tests. The last tests here
//! enforce that table against the real code: the routes read from the router's source, the
//! commands from the `authgate` binary's own help (its clap command tree), and every test the
//! table names must exist. (The Python and Node suites check their own sections against the
//! packages' classes.)

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Cli, Server, admin_token, assert_fails, http, s};
use serde_json::{Value, json};

const ERROR_INFO: &str = "type.googleapis.com/scalekit.v1.errdetails.ErrorInfo";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every row of every table of a SQLite store, as text (the store's whole state) — but for the
/// audit log's records of refused authentications (and the sequence they advance): a refused
/// request changes nothing else, and recording it is the point (`serve_audit.rs` checks them).
fn sqlite_snapshot(database: &str) -> String {
    let path = database.strip_prefix("sqlite://").expect("a SQLite URL");
    let c = rusqlite::Connection::open(path).expect("open the store");
    c.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut out = String::new();
    for table in tables {
        out.push_str(&format!("== {table}\n"));
        let filter = match table.as_str() {
            "authgate_audit_events" => "WHERE outcome <> 'failure'",
            "sqlite_sequence" => "WHERE name <> 'authgate_audit_events'",
            _ => "",
        };
        let mut stmt = c
            .prepare(&format!("SELECT * FROM {table} {filter} ORDER BY rowid"))
            .unwrap();
        let n = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for i in 0..n {
                out.push_str(&format!("{:?}|", row.get_ref(i).unwrap()));
            }
            out.push('\n');
        }
    }
    out
}

/// What is wrong with an answer that should be a Scalekit error body with `status` and
/// `error_code`, if anything.
async fn api_error_mismatch(
    what: &str,
    response: reqwest::Response,
    status: u16,
    error_code: &str,
) -> Option<String> {
    let got = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let ok = got == status
        && body["details"][0]["@type"] == ERROR_INFO
        && body["details"][0]["error_code"] == error_code
        && body["message"].as_str().is_some_and(|m| !m.is_empty());
    (!ok).then(|| format!("{what}: expected {status} {error_code}, got {got} {text}"))
}

/// Asserts a Scalekit error body with `status` and `error_code`.
async fn assert_api_error(what: &str, response: reqwest::Response, status: u16, error_code: &str) {
    if let Some(problem) = api_error_mismatch(what, response, status, error_code).await {
        panic!("{problem}");
    }
}

/// One refused request: method, path, body, the expected status and error code.
struct Refusal {
    method: &'static str,
    path: String,
    body: Option<Value>,
    status: u16,
    code: &'static str,
}

fn refusal(
    method: &'static str,
    path: impl Into<String>,
    body: Option<Value>,
    status: u16,
    code: &'static str,
) -> Refusal {
    Refusal {
        method,
        path: path.into(),
        body,
        status,
        code,
    }
}

/// Every route refuses a bad request with its exact error code, and leaves the store as it was
/// (compared row by row after each request).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_refuses_bad_requests_with_the_exact_code_and_changes_nothing() {
    let server = Server::start();
    let remote = server.remote();
    let (org, created) =
        common::org_with_client(&remote, "Refusals", common::client_input("svc", &["read"])).await;
    let org_id = org.id.clone();
    let client_id = created.client.client_id.clone();
    let member = authgate_core::AuthApi::create_user_and_membership(
        &remote,
        &org_id,
        authgate_core::model::CreateUser {
            email: "member@refusals.test".into(),
            external_id: Some("member-1".into()),
            roles: vec!["viewer".into()],
        },
    )
    .await
    .unwrap();
    let user_id = member.id.clone();
    let admin = admin_token(&server).await;
    let http = http();

    let orgs = "/api/v1/organizations".to_owned();
    let one_org = format!("{orgs}/{org_id}");
    let missing_org = format!("{orgs}/org_404404");
    let clients = format!("{one_org}/clients");
    let one_client = format!("{clients}/{client_id}");
    let missing_client = format!("{clients}/m2morg_404404");
    let one_user = format!("/api/v1/users/{user_id}");
    let missing_user = "/api/v1/users/usr_404404".to_owned();
    let missing_external = "/api/v1/users:external/nobody".to_owned();
    let memberships = format!("/api/v1/memberships/organizations/{org_id}");
    let missing_org_memberships = "/api/v1/memberships/organizations/org_404404".to_owned();
    let table = vec![
        // OAuth and keys
        refusal("GET", "/oauth/token", None, 405, "invalid_argument"),
        refusal("POST", "/keys", None, 405, "invalid_argument"),
        refusal("POST", "/.well-known/jwks.json", None, 405, "invalid_argument"),
        refusal(
            "POST",
            "/.well-known/openid-configuration",
            None,
            405,
            "invalid_argument",
        ),
        refusal(
            "POST",
            "/.well-known/oauth-authorization-server",
            None,
            405,
            "invalid_argument",
        ),
        refusal("POST", "/healthz", None, 405, "invalid_argument"),
        refusal("POST", "/readyz", None, 405, "invalid_argument"),
        refusal("POST", "/metrics", None, 405, "invalid_argument"),
        // the audit log
        refusal(
            "GET",
            "/api/v1/audit-events?action=nope",
            None,
            400,
            "invalid_argument",
        ),
        refusal("POST", "/api/v1/audit-events", None, 405, "invalid_argument"),
        // API keys
        refusal(
            "POST",
            "/api/v1/tokens",
            Some(json!({"organization_id": "org_404404"})),
            404,
            "not_found",
        ),
        refusal("GET", "/api/v1/tokens", None, 400, "invalid_argument"),
        refusal(
            "GET",
            format!("/api/v1/tokens?organization_id={org_id}&page_size=31"),
            None,
            400,
            "invalid_argument",
        ),
        refusal(
            "POST",
            "/api/v1/tokens:validate",
            Some(json!({"token": "agk_not-a-key"})),
            401,
            "token_validation_failed",
        ),
        refusal(
            "POST",
            "/api/v1/tokens:invalidate",
            Some(json!({"token": "apit_404404"})),
            404,
            "not_found",
        ),
        refusal(
            "POST",
            "/api/v1/tokens:invalidate",
            Some(json!({})),
            400,
            "invalid_argument",
        ),
        refusal(
            "POST",
            "/api/v1/tokens:rotate",
            Some(json!({"token_id": "apit_404404"})),
            404,
            "not_found",
        ),
        refusal(
            "POST",
            "/api/v1/tokens:rotate",
            Some(json!({"token": "apit_404404", "grace_period_seconds": -1})),
            400,
            "invalid_argument",
        ),
        refusal(
            "GET",
            format!("/api/v1/tokens?organization_id={org_id}&include_revoked=maybe"),
            None,
            400,
            "invalid_argument",
        ),
        refusal(
            "POST",
            "/api/v1/tokens:update",
            Some(json!({"token": "apit_404404", "description": "x"})),
            404,
            "not_found",
        ),
        // organizations and users
        refusal(
            "POST",
            orgs.clone(),
            Some(json!({"display_name": ""})),
            400,
            "invalid_argument",
        ),
        refusal(
            "GET",
            format!("{orgs}?page_size=1000"),
            None,
            400,
            "invalid_argument",
        ),
        refusal("GET", missing_org.clone(), None, 404, "not_found"),
        refusal("DELETE", missing_org.clone(), None, 404, "not_found"),
        refusal(
            "POST",
            format!("{missing_org}/users"),
            Some(json!({"email": "a@b.test"})),
            404,
            "not_found",
        ),
        refusal(
            "POST",
            format!("{one_org}/users"),
            Some(json!({"email": "not an email"})),
            400,
            "invalid_argument",
        ),
        refusal("GET", format!("{missing_org}/users"), None, 404, "not_found"),
        refusal("PATCH", one_org.clone(), Some(json!({})), 400, "invalid_argument"),
        refusal(
            "PATCH",
            one_org.clone(),
            Some(json!({"display_name": "x", "metadata": {"a": "b"}})),
            400,
            "invalid_argument",
        ),
        refusal(
            "PATCH",
            missing_org.clone(),
            Some(json!({"display_name": "x"})),
            404,
            "not_found",
        ),
        // users and memberships (#11)
        refusal(
            "GET",
            "/api/v1/users?page_size=1000",
            None,
            400,
            "invalid_argument",
        ),
        refusal("GET", missing_user.clone(), None, 404, "not_found"),
        refusal(
            "GET",
            format!("/api/v1/users/{org_id}"),
            None,
            400,
            "invalid_argument",
        ),
        refusal("GET", missing_external.clone(), None, 404, "not_found"),
        refusal(
            "PATCH",
            missing_user.clone(),
            Some(json!({"external_id": "x"})),
            404,
            "not_found",
        ),
        refusal(
            "PATCH",
            one_user.clone(),
            Some(json!({})),
            400,
            "invalid_argument",
        ),
        refusal(
            "PATCH",
            missing_external.clone(),
            Some(json!({"external_id": "x"})),
            404,
            "not_found",
        ),
        refusal("DELETE", missing_user.clone(), None, 404, "not_found"),
        refusal("DELETE", missing_external.clone(), None, 404, "not_found"),
        refusal(
            "POST",
            format!("{memberships}/users/{user_id}"),
            Some(json!({"roles": [{"name": "admin"}]})),
            409,
            "already_exists",
        ),
        refusal(
            "POST",
            format!("{missing_org_memberships}/users/{user_id}"),
            Some(json!({})),
            404,
            "not_found",
        ),
        refusal(
            "POST",
            format!("{memberships}/users:external/nobody"),
            Some(json!({})),
            404,
            "not_found",
        ),
        refusal(
            "PATCH",
            format!("{missing_org_memberships}/users/{user_id}"),
            Some(json!({"roles": []})),
            404,
            "not_found",
        ),
        refusal(
            "PATCH",
            format!("{memberships}/users:external/member-1"),
            Some(json!({"roles": [{"name": "has space"}]})),
            400,
            "invalid_argument",
        ),
        refusal(
            "DELETE",
            format!("{missing_org_memberships}/users/{user_id}"),
            None,
            404,
            "not_found",
        ),
        refusal(
            "DELETE",
            format!("{memberships}/users:external/nobody"),
            None,
            404,
            "not_found",
        ),
        refusal(
            "POST",
            "/api/v1/tokens:validate",
            Some(json!({"token": "apit_404404"})),
            401,
            "token_validation_failed",
        ),
        // M2M clients and secrets
        refusal(
            "POST",
            format!("{missing_org}/clients"),
            Some(json!({"name": "x"})),
            404,
            "not_found",
        ),
        refusal(
            "GET",
            format!("{clients}?page_size=5"),
            None,
            400,
            "invalid_argument",
        ),
        refusal("GET", missing_client.clone(), None, 404, "not_found"),
        refusal(
            "PATCH",
            missing_client.clone(),
            Some(json!({"description": "x"})),
            404,
            "not_found",
        ),
        refusal(
            "PATCH",
            one_client.clone(),
            Some(json!({"expiry": -1})),
            400,
            "invalid_argument",
        ),
        refusal("DELETE", missing_client.clone(), None, 404, "not_found"),
        refusal(
            "POST",
            format!("{missing_client}/secrets"),
            None,
            404,
            "not_found",
        ),
        refusal(
            "DELETE",
            format!("{one_client}/secrets/sks_404404"),
            None,
            404,
            "not_found",
        ),
    ];
    let before = sqlite_snapshot(&server.database);
    let mut problems = Vec::new();
    for r in &table {
        let what = format!("{} {}", r.method, r.path);
        let mut request = http
            .request(r.method.parse().unwrap(), server.at(&r.path))
            .bearer_auth(&admin);
        if let Some(body) = &r.body {
            request = request.json(body);
        }
        problems.extend(api_error_mismatch(&what, request.send().await.unwrap(), r.status, r.code).await);
        if sqlite_snapshot(&server.database) != before {
            problems.push(format!("{what} changed the store"));
        }
    }

    // Every management route refuses a request without credentials (401), changing nothing.
    for (method, path) in [
        ("GET", "/api/v1/audit-events".to_owned()),
        ("POST", "/api/v1/tokens".to_owned()),
        ("GET", format!("/api/v1/tokens?organization_id={org_id}")),
        ("POST", "/api/v1/tokens:validate".to_owned()),
        ("POST", "/api/v1/tokens:invalidate".to_owned()),
        ("POST", "/api/v1/tokens:update".to_owned()),
        ("POST", orgs.clone()),
        ("GET", orgs.clone()),
        ("GET", one_org.clone()),
        ("DELETE", one_org.clone()),
        ("POST", format!("{one_org}/users")),
        ("GET", format!("{one_org}/users")),
        ("PATCH", one_org.clone()),
        ("GET", "/api/v1/users".to_owned()),
        ("GET", one_user.clone()),
        ("PATCH", one_user.clone()),
        ("DELETE", one_user.clone()),
        ("GET", "/api/v1/users:external/member-1".to_owned()),
        ("PATCH", "/api/v1/users:external/member-1".to_owned()),
        ("DELETE", "/api/v1/users:external/member-1".to_owned()),
        ("POST", format!("{memberships}/users/{user_id}")),
        ("PATCH", format!("{memberships}/users/{user_id}")),
        ("DELETE", format!("{memberships}/users/{user_id}")),
        ("POST", format!("{memberships}/users:external/member-1")),
        ("PATCH", format!("{memberships}/users:external/member-1")),
        ("DELETE", format!("{memberships}/users:external/member-1")),
        ("POST", clients.clone()),
        ("GET", clients.clone()),
        ("GET", one_client.clone()),
        ("PATCH", one_client.clone()),
        ("DELETE", one_client.clone()),
        ("POST", format!("{one_client}/secrets")),
        ("DELETE", format!("{one_client}/secrets/sks_404404")),
    ] {
        let what = format!("{method} {path} without credentials");
        let response = http
            .request(method.parse().unwrap(), server.at(&path))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        problems.extend(api_error_mismatch(&what, response, 401, "unauthenticated").await);
        if sqlite_snapshot(&server.database) != before {
            problems.push(format!("{what} changed the store"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // The token endpoint's own (RFC 6749) errors.
    let response = http
        .post(server.at("/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id.as_str()),
            ("client_secret", "wrong"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "invalid_client");
    assert!(
        sqlite_snapshot(&server.database) == before,
        "a refused token request changed the store"
    );
}

/// `/.well-known/oauth-authorization-server` (RFC 8414) serves the same metadata as
/// `/.well-known/openid-configuration`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_authorization_server_metadata() {
    let server = Server::start();
    let get = |path: &'static str| {
        let url = server.at(path);
        async move {
            let response = http().get(url).send().await.unwrap();
            assert_eq!(response.status(), 200, "{path}");
            assert_eq!(response.headers()["content-type"], "application/json", "{path}");
            response.json::<Value>().await.unwrap()
        }
    };
    let oauth = get("/.well-known/oauth-authorization-server").await;
    assert_eq!(oauth, get("/.well-known/openid-configuration").await);
    assert_eq!(oauth["issuer"], server.url);
    assert_eq!(oauth["token_endpoint"], server.at("/oauth/token"));
    assert_eq!(oauth["jwks_uri"], server.at("/keys"));
    assert_eq!(oauth["grant_types_supported"], json!(["client_credentials"]));
}

/// A TCP relay to `upstream` on a free loopback port; [`Relay::cut`] closes it and every
/// connection through it, as a network failure between the server and its database would.
struct Relay {
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    open: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
    acceptor: Option<std::thread::JoinHandle<()>>,
}

impl Relay {
    fn start(upstream: String) -> Relay {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let open = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (stop2, open2) = (stop.clone(), open.clone());
        let acceptor = std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        let server = std::net::TcpStream::connect(&upstream).unwrap();
                        for (mut from, mut to) in [
                            (client.try_clone().unwrap(), server.try_clone().unwrap()),
                            (server.try_clone().unwrap(), client.try_clone().unwrap()),
                        ] {
                            std::thread::spawn(move || {
                                let _ = std::io::copy(&mut from, &mut to);
                                let _ = to.shutdown(std::net::Shutdown::Both);
                            });
                        }
                        open2.lock().unwrap().extend([client, server]);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(std::time::Duration::from_millis(5));
                    }
                    Err(e) => panic!("relay accept: {e}"),
                }
            }
            // The listener is dropped here: new connections are refused.
        });
        Relay {
            port,
            stop,
            open,
            acceptor: Some(acceptor),
        }
    }

    /// Closes the port and every connection through it; returns once the port is closed.
    fn cut(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            acceptor.join().unwrap();
        }
        for stream in self.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// `/readyz` answers 200, then 503 `unavailable` once the server cannot reach its PostgreSQL
/// store (the connection between them cut), while `/healthz` (liveness) stays 200.
#[test]
#[ignore = "needs PostgreSQL: set AUTHGATE_TEST_DATABASE_URL (scripts/with-postgres)"]
fn readyz_is_503_when_the_store_is_unreachable() {
    let database = common::postgres_database("readyz_is_503_when_the_store_is_unreachable");
    let mut url = url::Url::parse(&database.url).unwrap();
    let upstream = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    let mut relay = Relay::start(upstream);
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(relay.port)).unwrap();
    let server = Server::start_with(common::Options {
        database: Some(url.to_string()),
        ..common::Options::default()
    });
    common::runtime().block_on(async {
        let response = http().get(server.at("/readyz")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        relay.cut();
        let response = http().get(server.at("/readyz")).send().await.unwrap();
        assert_api_error("GET /readyz", response, 503, "unavailable").await;
        let response = http().get(server.at("/healthz")).send().await.unwrap();
        assert_eq!(response.status(), 200);
    });
    drop(server);
}

/// Every CLI command refuses bad input with exit status 1, the exact `error: <code>:` and nothing
/// on stdout, and leaves the store as it was.
#[test]
fn every_cli_command_refuses_bad_input_with_the_exact_code_and_changes_nothing() {
    let cli = Cli::new();
    let org = cli.json(&["orgs", "create", "--name", "Acme", "--external-id", "acme"]);
    let org_id = s(&org["organization"]["id"]).to_owned();
    let client = cli.json(&[
        "clients", "create", "--org", &org_id, "--name", "svc", "--scope", "read",
    ]);
    let client_id = s(&client["client"]["client_id"]).to_owned();
    let secret = s(&client["plain_secret"]).to_owned();
    // The first token creates the first signing key.
    cli.json(&[
        "token",
        "issue",
        "--client-id",
        &client_id,
        "--client-secret",
        &secret,
    ]);
    let kid = s(&cli.json(&["signing-keys", "list"])["signing_keys"][0]["kid"]).to_owned();
    let o = org_id.as_str();
    let c = client_id.as_str();
    let table: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["orgs", "create", "--name", "Again", "--external-id", "acme"],
            "already_exists",
        ),
        (vec!["orgs", "create", "--name", ""], "invalid_argument"),
        (vec!["orgs", "get", "org_404404"], "not_found"),
        (vec!["orgs", "list", "--page-size", "1000"], "invalid_argument"),
        (vec!["orgs", "delete", "org_404404"], "not_found"),
        (vec!["orgs", "delete", "acme"], "invalid_argument"),
        (
            vec!["users", "create", "--org", "org_404404", "--email", "a@b.test"],
            "not_found",
        ),
        (
            vec!["users", "create", "--org", o, "--email", "not an email"],
            "invalid_argument",
        ),
        (vec!["keys", "create", "--org", "org_404404"], "not_found"),
        (
            vec!["keys", "validate", "agk_not-a-key"],
            "token_validation_failed",
        ),
        (
            vec!["keys", "list", "--org", o, "--page-size", "31"],
            "invalid_argument",
        ),
        (
            vec!["keys", "update", "apit_404404", "--description", "x"],
            "not_found",
        ),
        (
            vec!["keys", "update", "garbage", "--description", "x"],
            "invalid_argument",
        ),
        (vec!["keys", "revoke", "apit_404404"], "not_found"),
        (vec!["keys", "rotate", "apit_404404"], "not_found"),
        (
            vec!["keys", "rotate", "apit_404404", "--grace", "2592001"],
            "invalid_argument",
        ),
        (
            vec!["clients", "create", "--org", "org_404404", "--name", "x"],
            "not_found",
        ),
        (
            vec!["clients", "create", "--org", o, "--name", ""],
            "invalid_argument",
        ),
        (vec!["clients", "get", "--org", o, "m2morg_404404"], "not_found"),
        (
            vec!["clients", "update", "--org", o, "m2morg_404404", "--name", "x"],
            "not_found",
        ),
        (
            vec!["clients", "update", "--org", o, c, "--expiry=-1"],
            "invalid_argument",
        ),
        (
            vec!["clients", "delete", "--org", o, "m2morg_404404"],
            "not_found",
        ),
        (
            vec!["clients", "list", "--org", o, "--page-size", "5"],
            "invalid_argument",
        ),
        (
            vec!["clients", "secrets", "add", "--org", o, "m2morg_404404"],
            "not_found",
        ),
        (
            vec!["clients", "secrets", "remove", "--org", o, c, "sks_404404"],
            "not_found",
        ),
        (vec!["audit", "list", "--action", "nope"], "invalid_argument"),
        (vec!["audit", "list", "--page-size", "101"], "invalid_argument"),
        (
            vec!["audit", "prune", "--retention-days", "0"],
            "invalid_argument",
        ),
        (vec!["signing-keys", "retire", "snk_404404"], "not_found"),
        (vec!["signing-keys", "retire", &kid], "failed_precondition"),
        (
            vec!["signing-keys", "rotate", "--activate-after", "2592001"],
            "invalid_argument",
        ),
        (
            vec!["token", "issue", "--client-id", c, "--client-secret", "wrong"],
            "invalid_client",
        ),
    ];
    let before = sqlite_snapshot(&cli.url);
    let mut problems = Vec::new();
    for (args, code) in &table {
        let out = cli.run(args, None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.code() != Some(1)
            || !stderr.starts_with(&format!("error: {code}: "))
            || !out.stdout.is_empty()
        {
            problems.push(format!(
                "{args:?}: expected {code}, got {:?} {stderr}",
                out.status.code()
            ));
        }
        if sqlite_snapshot(&cli.url) != before {
            problems.push(format!("{args:?} changed the store"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // `token verify` has exit statuses of its own (cli_verify.rs); `serve` refuses bad flags.
    let out = cli.run(&["serve", "--listen", "not-an-address"], None);
    assert_fails(&["serve"], &out, 1, "invalid_argument");
    assert!(
        sqlite_snapshot(&cli.url) == before,
        "a refused serve changed the store"
    );
}

// --- the operations table -------------------------------------------------------------------

/// The rows of one section of `tests/OPERATIONS.md`: operation → (success cell, failure cell).
fn table_section(section: &str) -> BTreeMap<String, (String, String)> {
    let text = std::fs::read_to_string(repo().join("tests/OPERATIONS.md")).expect("tests/OPERATIONS.md");
    let mut rows = BTreeMap::new();
    let mut inside = false;
    for line in text.lines() {
        if let Some(title) = line.strip_prefix("## ") {
            inside = title.trim() == section;
            continue;
        }
        if !inside || !line.starts_with('|') || line.starts_with("|---") || line.starts_with("| operation") {
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        assert_eq!(cells.len(), 3, "OPERATIONS.md ({section}): {line}");
        let op = cells[0].trim_matches('`').to_owned();
        assert!(
            rows.insert(op.clone(), (cells[1].to_owned(), cells[2].to_owned()))
                .is_none(),
            "OPERATIONS.md ({section}): {op} listed twice"
        );
    }
    assert!(!rows.is_empty(), "OPERATIONS.md has no section {section:?}");
    rows
}

/// Checks that every reference in a cell names a test that exists: `path::name` (a `fn`/`def`
/// of that name in that file) or `path::"text"` (a Node test title); `n/a: why` is accepted only
/// in failure cells.
fn check_cell(op: &str, cell: &str, failure: bool) -> Vec<String> {
    let mut problems = Vec::new();
    if failure && cell.starts_with("n/a: ") && cell.len() > 10 {
        return problems;
    }
    let refs: Vec<&str> = cell
        .split("<br>")
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .collect();
    if refs.is_empty() {
        problems.push(format!(
            "{op}: no {} test",
            if failure { "failure" } else { "success" }
        ));
    }
    for r in refs {
        let r = r.trim_matches('`');
        let Some((path, name)) = r.split_once("::") else {
            problems.push(format!("{op}: {r:?} is not path::test"));
            continue;
        };
        let Ok(text) = std::fs::read_to_string(repo().join(path)) else {
            problems.push(format!("{op}: {path} does not exist"));
            continue;
        };
        let found = if let Some(title) = name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
            text.contains(&format!("'{title}'")) || text.contains(&format!("`{title}`"))
        } else {
            [format!("fn {name}("), format!("def {name}(")]
                .iter()
                .any(|needle| text.contains(needle.as_str()))
        };
        if !found {
            problems.push(format!("{op}: {path} has no test {name}"));
        }
    }
    problems
}

/// Every row of `section` names tests that exist; every operation of `ops` has a row, and every
/// row is an operation.
fn check_section(section: &str, ops: &BTreeSet<String>) {
    let rows = table_section(section);
    let mut problems = Vec::new();
    for op in ops {
        if !rows.contains_key(op) {
            problems.push(format!(
                "{op}: exists, but has no row in OPERATIONS.md ({section})"
            ));
        }
    }
    for (op, (success, failure)) in &rows {
        if !ops.contains(op) {
            problems.push(format!(
                "{op}: listed in OPERATIONS.md ({section}) but does not exist"
            ));
        }
        problems.extend(check_cell(op, success, false));
        problems.extend(check_cell(op, failure, true));
    }
    assert!(
        problems.is_empty(),
        "tests/OPERATIONS.md:\n{}",
        problems.join("\n")
    );
}

/// The routes of `server/src/serve/router.rs`, as `METHOD /path`, read from its source: each
/// `.route(PATH, METHOD(handler).METHOD(handler)…)`, with the `let` path variables substituted.
fn routes() -> BTreeSet<String> {
    let source = std::fs::read_to_string(repo().join("server/src/serve/router.rs")).expect("router.rs");
    let code: String = source
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join(" ");
    let mut vars = BTreeMap::new();
    for part in code.split("let ").skip(1) {
        let Some((name, rest)) = part.split_once('=') else {
            continue;
        };
        let Some(value) = rest.split('"').nth(1) else {
            continue;
        };
        vars.insert(name.trim().to_owned(), value.to_owned());
    }
    let mut routes = BTreeSet::new();
    for call in code.split(".route(").skip(1) {
        // The call's arguments: up to the parenthesis closing `.route(`.
        let mut depth = 1;
        let mut end = call.len();
        for (i, ch) in call.char_indices() {
            match ch {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i;
                        break;
                    }
                }
                _ => {}
            }
        }
        let args = &call[..end];
        let (path_expr, methods) = split_top_level_comma(args);
        let path = if let Some(inner) = path_expr.trim().strip_prefix("&format!(") {
            let template = inner.split('"').nth(1).expect("a format string");
            let mut path = template.replace("{{", "\u{1}").replace("}}", "\u{2}");
            for (name, value) in &vars {
                path = path.replace(&format!("{{{name}}}"), value);
            }
            path.replace('\u{1}', "{").replace('\u{2}', "}")
        } else if let Some(literal) = path_expr.trim().strip_prefix('"') {
            literal.trim_end_matches('"').to_owned()
        } else {
            vars.get(path_expr.trim())
                .unwrap_or_else(|| panic!("router.rs: unknown path {path_expr}"))
                .clone()
        };
        for method in method_calls(methods) {
            routes.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    routes
}

/// The HTTP methods routed in an axum method-router expression such as
/// `get(a::b).delete(a::c)` or `axum::routing::delete(a::d)`: each `METHOD(` not preceded by an
/// identifier character (a handler path such as `orgs::get` is never followed by `(`).
fn method_calls(expr: &str) -> Vec<&'static str> {
    let mut found = Vec::new();
    for method in ["get", "post", "patch", "put", "delete"] {
        let needle = format!("{method}(");
        let hit = expr.match_indices(&needle).any(|(i, _)| {
            expr[..i]
                .chars()
                .next_back()
                .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
        });
        if hit {
            found.push(method);
        }
    }
    found
}

/// `(first argument, the rest)` of a comma-separated argument list, at nesting depth zero.
fn split_top_level_comma(args: &str) -> (&str, &str) {
    let mut depth = 0;
    for (i, ch) in args.char_indices() {
        match ch {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => return (&args[..i], &args[i + 1..]),
            _ => {}
        }
    }
    (args, "")
}

/// The subcommands listed under `Commands:` in `authgate ARGS… --help`.
fn subcommands(args: &[&str]) -> Vec<String> {
    let out = Command::new(common::binary())
        .args(args)
        .arg("--help")
        .output()
        .expect("authgate --help");
    assert!(out.status.success(), "authgate {args:?} --help");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut names = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line.trim_end() == "Commands:" {
            inside = true;
            continue;
        }
        if inside {
            if !line.starts_with("  ") {
                break;
            }
            let name = line.split_whitespace().next().unwrap_or_default();
            if !name.is_empty() && name != "help" {
                names.push(name.to_owned());
            }
        }
    }
    names
}

/// Every leaf command of the `authgate` binary, as `authgate a b`, from its help.
fn cli_commands() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut queue: Vec<Vec<String>> = vec![Vec::new()];
    while let Some(path) = queue.pop() {
        let args: Vec<&str> = path.iter().map(String::as_str).collect();
        let subs = subcommands(&args);
        if subs.is_empty() && !path.is_empty() {
            out.insert(format!("authgate {}", path.join(" ")));
        }
        for sub in subs {
            let mut next = path.clone();
            next.push(sub);
            queue.push(next);
        }
    }
    out
}

#[test]
fn every_route_has_its_row_in_the_operations_table() {
    let routes = routes();
    // A sanity check of the reading of router.rs itself.
    for known in [
        "POST /oauth/token",
        "GET /keys",
        "PATCH /api/v1/organizations/{organization_id}/clients/{client_id}",
        "DELETE /api/v1/organizations/{organization_id}/clients/{client_id}/secrets/{secret_id}",
        "GET /api/v1/organizations/{organization_id}/users",
    ] {
        assert!(
            routes.contains(known),
            "{known} not read from router.rs: {routes:?}"
        );
    }
    check_section("REST routes", &routes);
}

#[test]
fn every_cli_command_has_its_row_in_the_operations_table() {
    let commands = cli_commands();
    for known in [
        "authgate serve",
        "authgate orgs create",
        "authgate clients secrets add",
        "authgate token verify",
    ] {
        assert!(
            commands.contains(known),
            "{known} not found in the help: {commands:?}"
        );
    }
    check_section("CLI commands", &commands);
}

/// The Python and Node sections name tests that exist (their suites check the methods).
#[test]
fn the_package_sections_name_existing_tests() {
    for section in ["Python package", "Node package"] {
        let rows = table_section(section);
        let ops: BTreeSet<String> = rows.keys().cloned().collect();
        check_section(section, &ops);
    }
}
