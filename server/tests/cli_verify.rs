//! `authgate token verify`, run as a real process: tokens issued by `authgate token issue` on a
//! temporary SQLite store, verified against the store's keys (`--database`), against the JWKS of
//! an `authgate serve` running on the same store (`--jwks-url`), and through OIDC discovery
//! (`--issuer`); rejections exit 1 with the error code, key outages exit 3.

mod common;

use std::process::{Command, Output};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use common::{Options, Server, s};

const AUDIENCE: &str = "https://api.example.test";
/// The issuer `authgate token issue` uses when neither --issuer nor AUTHGATE_ISSUER is given.
const DEFAULT_ISSUER: &str = "http://127.0.0.1:8080";

/// A temporary SQLite store with one organization and one M2M client.
struct Store {
    dir: tempfile::TempDir,
    url: String,
    org: String,
    client_id: String,
    secret: String,
}

/// Runs `authgate ARGS` with a clean environment plus `env`, feeding `stdin`.
fn authgate(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(common::binary());
    cmd.env_remove("AUTHGATE_KEY_PEPPER")
        .env_remove("AUTHGATE_MASTER_KEY")
        .env_remove("AUTHGATE_ISSUER")
        .env_remove("AUTHGATE_DATABASE_URL")
        .envs(env.iter().copied())
        .args(args);
    common::run_command(cmd, stdin)
}

/// The JSON a successful command printed.
fn ok_json(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Value {
    common::stdout_json(args, &authgate(args, env, stdin))
}

/// Asserts that `args` exits with `status`, prints `error: <code>: …` on stderr and nothing on
/// stdout; returns stderr.
fn fails(args: &[&str], env: &[(&str, &str)], status: i32, code: &str) -> String {
    common::assert_fails(args, &authgate(args, env, None), status, code)
}

impl Store {
    /// Creates the store, an organization and a client with scopes `read:a write:a` and
    /// audience [`AUDIENCE`], all through the CLI.
    fn new() -> Store {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("authgate.db").display());
        let db = ["--json", "--database", url.as_str()];
        let org = ok_json(
            &[&db[..], &["orgs", "create", "--name", "Verify"]].concat(),
            &[],
            None,
        );
        let org = s(&org["organization"]["id"]).to_owned();
        let created = ok_json(
            &[
                &db[..],
                &[
                    "clients",
                    "create",
                    "--org",
                    &org,
                    "--name",
                    "svc",
                    "--scope",
                    "read:a",
                    "--scope",
                    "write:a",
                    "--audience",
                    AUDIENCE,
                ],
            ]
            .concat(),
            &[],
            None,
        );
        Store {
            client_id: s(&created["client"]["client_id"]).to_owned(),
            secret: s(&created["plain_secret"]).to_owned(),
            dir,
            url,
            org,
        }
    }

    /// An access token from `authgate [--issuer ISSUER] token issue` (secret on stdin).
    fn issue(&self, issuer: Option<&str>) -> String {
        let mut args = vec!["--json", "--database", &self.url];
        if let Some(issuer) = issuer {
            args.extend(["--issuer", issuer]);
        }
        args.extend([
            "token",
            "issue",
            "--client-id",
            &self.client_id,
            "--client-secret",
            "-",
        ]);
        let token = ok_json(&args, &[], Some(&self.secret));
        s(&token["access_token"]).to_owned()
    }
}

/// `token` with its payload altered (an extra scope) and the original signature.
fn tampered(token: &str) -> String {
    let mut parts = token.split('.');
    let (header, payload, signature) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let mut claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["scopes"].as_array_mut().unwrap().push("admin".into());
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    format!("{header}.{payload}.{signature}")
}

/// `a` then `b`.
fn cat<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<&'a str> {
    [a, b].concat()
}

/// A loopback port nothing listens on.
fn dead_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn verifies_against_the_store_keys() {
    let store = Store::new();
    let token = store.issue(None);
    let db = ["token", "verify", "--database", store.url.as_str()];

    // The verified claims, as JSON.
    let claims = ok_json(&cat(&db, &[&token]), &[], None);
    assert_eq!(claims["sub"], store.client_id.as_str());
    assert_eq!(claims["client_id"], store.client_id.as_str());
    assert_eq!(claims["oid"], store.org.as_str());
    assert_eq!(claims["iss"], DEFAULT_ISSUER);
    assert_eq!(claims["scopes"], serde_json::json!(["read:a", "write:a"]));
    assert!(claims["exp"].as_i64().unwrap() > claims["iat"].as_i64().unwrap());

    // `-` reads the token from stdin; the store named only by the environment needs --keys.
    assert_eq!(
        ok_json(&cat(&db, &["-"]), &[], Some(&format!("{token}\n"))),
        claims
    );
    let env = [("AUTHGATE_DATABASE_URL", store.url.as_str())];
    assert_eq!(
        ok_json(&["token", "verify", "--keys", "database", &token], &env, None),
        claims
    );
    fails(&["token", "verify", &token], &env, 2, "invalid_argument");

    // Issuer: checked when given; --database with --issuer needs --keys to say which source.
    fails(
        &cat(&db, &["--issuer", DEFAULT_ISSUER, &token]),
        &[],
        2,
        "invalid_argument",
    );
    ok_json(
        &cat(&db, &["--keys", "database", "--issuer", DEFAULT_ISSUER, &token]),
        &[],
        None,
    );
    fails(
        &cat(
            &db,
            &[
                "--keys",
                "database",
                "--issuer",
                "https://other.example.test",
                &token,
            ],
        ),
        &[],
        1,
        "invalid_issuer",
    );
    let env_issuer = [("AUTHGATE_ISSUER", "https://other.example.test")];
    fails(&cat(&db, &[&token]), &env_issuer, 1, "invalid_issuer");

    // A payload altered after signing.
    fails(&cat(&db, &[&tampered(&token)]), &[], 1, "invalid_signature");
    fails(&cat(&db, &["not.a-jwt"]), &[], 1, "token_malformed");

    // Audiences: one configured audience must be in `aud`.
    ok_json(&cat(&db, &["--audience", AUDIENCE, &token]), &[], None);
    ok_json(
        &cat(
            &db,
            &["--audience", "https://x.test", "--audience", AUDIENCE, &token],
        ),
        &[],
        None,
    );
    fails(
        &cat(&db, &["--audience", "https://other.test", &token]),
        &[],
        1,
        "invalid_audience",
    );

    // Scopes: all by default, one with --any-scope.
    ok_json(
        &cat(&db, &["--scope", "read:a", "--scope", "write:a", &token]),
        &[],
        None,
    );
    let stderr = fails(
        &cat(&db, &["--scope", "read:a", "--scope", "admin", &token]),
        &[],
        1,
        "insufficient_scope",
    );
    assert!(stderr.contains("admin") && !stderr.contains("read:a"), "{stderr}");
    ok_json(
        &cat(
            &db,
            &["--scope", "admin", "--scope", "read:a", "--any-scope", &token],
        ),
        &[],
        None,
    );
    fails(
        &cat(
            &db,
            &["--scope", "admin", "--scope", "root", "--any-scope", &token],
        ),
        &[],
        1,
        "insufficient_scope",
    );
    ok_json(&cat(&db, &["--leeway", "0", &token]), &[], None);

    // No store is created for a mistyped path.
    let missing = format!("sqlite://{}", store.dir.path().join("typo.db").display());
    fails(
        &["token", "verify", "--database", &missing, &token],
        &[],
        2,
        "invalid_argument",
    );
    assert!(!store.dir.path().join("typo.db").exists());
    fails(&["token", "verify", &token], &[], 2, "invalid_argument");
}

#[test]
fn verifies_against_a_served_jwks_and_discovery() {
    let store = Store::new();
    let server = Server::start_with(Options {
        database: Some(store.url.clone()),
        ..Options::default()
    });
    let token = store.issue(None);
    let served = store.issue(Some(&server.url)); // iss = the server's URL
    let keys = server.at("/keys");

    // --jwks-url: the server publishes the store's keys.
    let claims = ok_json(&["token", "verify", "--jwks-url", &keys, &token], &[], None);
    assert_eq!(claims["sub"], store.client_id.as_str());
    let stdin = ok_json(
        &[
            "token",
            "verify",
            "--jwks-url",
            &keys,
            "--audience",
            AUDIENCE,
            "-",
        ],
        &[],
        Some(&token),
    );
    assert_eq!(stdin, claims);
    fails(
        &[
            "token",
            "verify",
            "--jwks-url",
            &keys,
            "--issuer",
            &server.url,
            &token,
        ],
        &[],
        1,
        "invalid_issuer",
    );
    fails(
        &["token", "verify", "--jwks-url", &keys, &tampered(&token)],
        &[],
        1,
        "invalid_signature",
    );
    fails(
        &["token", "verify", "--jwks-url", &keys, "--scope", "admin", &token],
        &[],
        1,
        "insufficient_scope",
    );

    // --issuer: discovery, and `iss` must be that issuer.
    let claims = ok_json(&["token", "verify", "--issuer", &server.url, &served], &[], None);
    assert_eq!(claims["iss"], server.url.as_str());
    ok_json(
        &[
            "token",
            "verify",
            "--keys",
            "discovery",
            "--scope",
            "write:a",
            &served,
        ],
        &[("AUTHGATE_ISSUER", server.url.as_str())],
        None,
    );
    fails(
        &["token", "verify", "--issuer", &server.url, &token],
        &[],
        1,
        "invalid_issuer",
    );

    // Unreachable keys: exit 3, keys_unavailable — not a rejection.
    let dead = format!("http://127.0.0.1:{}", dead_port());
    fails(
        &["token", "verify", "--jwks-url", &format!("{dead}/keys"), &token],
        &[],
        3,
        "keys_unavailable",
    );
    fails(
        &["token", "verify", "--issuer", &dead, &served],
        &[],
        3,
        "keys_unavailable",
    );
    // An insecure JWKS URL is a usage error.
    fails(
        &[
            "token",
            "verify",
            "--jwks-url",
            "http://keys.example.test/keys",
            &token,
        ],
        &[],
        2,
        "invalid_argument",
    );
}
