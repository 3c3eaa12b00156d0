//! The `authgate` operator CLI, run as a real process on a temporary SQLite file.

mod common;

use std::process::Stdio;

use common::{Cli, s};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

fn rfc3339(v: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(v.as_str().unwrap(), &Rfc3339).unwrap()
}

#[test]
fn organizations_users_and_api_keys() {
    let cli = Cli::new();
    let org = cli.json(&["orgs", "create", "--name", "Acme", "--external-id", "acme"]);
    let org_id = s(&org["organization"]["id"]).to_owned();
    assert!(org_id.starts_with("org_"));
    assert_eq!(
        cli.json(&["orgs", "get", &org_id])["organization"],
        org["organization"]
    );
    assert_eq!(
        cli.json(&["orgs", "list"])["organizations"][0]["id"],
        org_id.as_str()
    );

    let user = cli.json(&[
        "users",
        "create",
        "--org",
        &org_id,
        "--email",
        "ann@example.com",
        "--role",
        "admin",
        "--role",
        "viewer",
    ]);
    let user_id = s(&user["user"]["id"]).to_owned();
    assert_eq!(user["user"]["memberships"][0]["roles"][1]["name"], "viewer");

    // {token, token_id, token_info}
    let created = cli.json(&[
        "keys",
        "create",
        "--org",
        &org_id,
        "--user",
        &user_id,
        "--claim",
        "env=prod",
        "--claim",
        "team=a=b",
        "--expires",
        "2099-01-01T00:00:00Z",
        "--description",
        "CI",
    ]);
    let key = s(&created["token"]).to_owned();
    let token_id = s(&created["token_id"]).to_owned();
    assert!(key.starts_with("agk_"));
    let info = &created["token_info"];
    assert_eq!(info["token_id"], token_id.as_str());
    assert_eq!(info["organization_external_id"], "acme");
    assert_eq!(
        info["custom_claims"],
        serde_json::json!({"env": "prod", "team": "a=b"})
    );
    assert_eq!(info["expiry"], "2099-01-01T00:00:00Z");
    assert_eq!(info["email"], "ann@example.com");
    assert_eq!(info["roles"], serde_json::json!(["admin", "viewer"]));

    // Validate: argument, or `-` for stdin.
    assert_eq!(cli.json(&["keys", "validate", &key])["token_info"], *info);
    // The first validation's use was written when that command exited: the record now has a
    // last_used_time, and is otherwise the same.
    let mut again = cli.json_in(&["keys", "validate", "-"], Some(&format!("{key}\n")))["token_info"].take();
    assert!(again["last_used_time"].is_string(), "{again}");
    again.as_object_mut().unwrap().remove("last_used_time");
    assert_eq!(again, *info);
    let text = cli.text(&["keys", "validate", &key]);
    assert!(text.starts_with("valid\n") && text.contains(&token_id), "{text}");

    // List with paging.
    let second = cli.json(&["keys", "create", "--org", &org_id]);
    let page = cli.json(&["keys", "list", "--org", &org_id, "--page-size", "1"]);
    assert_eq!(page["total_count"], 2);
    assert_eq!(page["tokens"][0]["token_id"], token_id.as_str());
    assert_eq!(page["prev_page_token"], "");
    let next = s(&page["next_page_token"]).to_owned();
    let page2 = cli.json(&[
        "keys",
        "list",
        "--org",
        &org_id,
        "--page-size",
        "1",
        "--page-token",
        &next,
    ]);
    assert_eq!(page2["tokens"][0]["token_id"], second["token_id"]);
    assert_eq!(page2["next_page_token"], "");
    let mine = cli.json(&["keys", "list", "--org", &org_id, "--user", &user_id]);
    assert_eq!(mine["total_count"], 1);

    // Update (claims replace the map; "" clears the description), by key from stdin.
    let updated = cli.json_in(
        &["keys", "update", "-", "--claim", "env=dev", "--description", ""],
        Some(&key),
    );
    assert_eq!(
        updated["token_info"]["custom_claims"],
        serde_json::json!({"env": "dev"})
    );
    assert!(updated["token_info"].get("description").is_none());

    // Revoke by id; idempotent; validation then fails with a non-zero exit.
    assert_eq!(cli.json(&["keys", "revoke", &token_id]), serde_json::json!({}));
    assert_eq!(
        cli.text(&["keys", "revoke", &token_id]),
        format!("revoked {token_id}\n")
    );
    let err = cli.fails(&["keys", "validate", &key], "token_validation_failed");
    assert!(!err.contains(&key), "the key was echoed");
    cli.fails_in(&["keys", "validate", "-"], Some(&key), "token_validation_failed");
    assert_eq!(cli.json(&["keys", "list", "--org", &org_id])["total_count"], 1);

    assert_eq!(cli.json(&["orgs", "delete", &org_id]), serde_json::json!({}));
    cli.fails(&["orgs", "get", &org_id], "not_found");
}

#[test]
fn clients_secrets_tokens_and_signing_keys() {
    let cli = Cli::new();
    let org_id = s(&cli.json(&["orgs", "create", "--name", "Acme"])["organization"]["id"]).to_owned();

    // {client, plain_secret}
    let created = cli.json(&[
        "clients",
        "create",
        "--org",
        &org_id,
        "--name",
        "sync",
        "--description",
        "billing",
        "--scope",
        "read:orders",
        "--scope",
        "write:orders",
        "--audience",
        "https://api.example.com",
        "--claim",
        "wksp_id=w1",
        "--expiry",
        "900",
    ]);
    let client_id = s(&created["client"]["client_id"]).to_owned();
    let secret = s(&created["plain_secret"]).to_owned();
    assert!(client_id.starts_with("m2morg_") && secret.starts_with("ags_"));
    assert_eq!(created["client"]["expiry"], 900);
    assert_eq!(created["client"]["custom_claims"][0]["key"], "wksp_id");
    assert!(created["client"]["secrets"][0].get("plain_secret").is_none());

    let got = cli.json(&["clients", "get", "--org", &org_id, &client_id]);
    assert_eq!(got["client"], created["client"]);
    let updated = cli.json(&[
        "clients", "update", "--org", &org_id, &client_id, "--name", "sync2",
    ]);
    assert_eq!(updated["client"]["name"], "sync2");
    assert_eq!(updated["client"]["scopes"], created["client"]["scopes"]);
    let listed = cli.json(&["clients", "list", "--org", &org_id]);
    assert_eq!(listed["total_size"], 1);
    assert_eq!(listed["clients"][0]["client_id"], client_id.as_str());

    // Token issue, secret from stdin; a subset of scopes.
    let token = cli.json_in(
        &[
            "token",
            "issue",
            "--client-id",
            &client_id,
            "--client-secret",
            "-",
            "--scope",
            "read:orders",
        ],
        Some(&secret),
    );
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["expires_in"], 900);
    assert_eq!(token["scope"], "read:orders");
    assert_eq!(s(&token["access_token"]).split('.').count(), 3);
    cli.fails(
        &[
            "token",
            "issue",
            "--client-id",
            &client_id,
            "--client-secret",
            &secret,
            "--scope",
            "admin",
        ],
        "invalid_scope",
    );
    let wrong = "ags_000000000000000000000000000000000000000";
    cli.fails(
        &[
            "token",
            "issue",
            "--client-id",
            &client_id,
            "--client-secret",
            wrong,
        ],
        "invalid_client",
    );

    // Secrets: add, remove; the last one cannot go.
    let added = cli.json(&["clients", "secrets", "add", "--org", &org_id, &client_id]);
    let new_secret_id = s(&added["secret"]["id"]).to_owned();
    let first_secret_id = s(&created["client"]["secrets"][0]["id"]).to_owned();
    assert_eq!(
        cli.json(&[
            "clients",
            "secrets",
            "remove",
            "--org",
            &org_id,
            &client_id,
            &first_secret_id
        ]),
        serde_json::json!({})
    );
    let err = cli.fails(
        &[
            "clients",
            "secrets",
            "remove",
            "--org",
            &org_id,
            &client_id,
            &new_secret_id,
        ],
        "failed_precondition",
    );
    assert!(err.contains("last client secret"));
    cli.json(&[
        "token",
        "issue",
        "--client-id",
        &client_id,
        "--client-secret",
        s(&added["plain_secret"]),
    ]);

    // Signing keys: created on first use; rotate (staged by default); retire the old one.
    let keys = cli.json(&["signing-keys", "list"]);
    let first_kid = s(&keys["signing_keys"][0]["kid"]).to_owned();
    assert_eq!(keys["signing_keys"][0]["state"], "active");
    // The activation time is the rotation's time plus the delay: bounded by the clock read just
    // before and just after the command (a window that a slow key generation cannot break).
    let (ms, before) = (time::Duration::milliseconds(1), OffsetDateTime::now_utc());
    let rotated = cli.json(&["signing-keys", "rotate"]);
    let after = OffsetDateTime::now_utc();
    let pending = &rotated["signing_key"];
    assert_eq!(pending["state"], "pending");
    let (activate_at, delay) = (rfc3339(&pending["activate_at"]), time::Duration::seconds(60));
    assert!(
        activate_at >= before + delay - ms && activate_at <= after + delay + ms,
        "default delay 60 s: {rotated}"
    );
    let listed = cli.json(&["signing-keys", "list"]);
    assert_eq!(listed["signing_keys"][1]["state"], "pending");
    assert_eq!(listed["signing_keys"][1]["activate_at"], pending["activate_at"]);
    let text = cli.text(&["signing-keys", "list"]);
    assert!(text.contains("ACTIVE_FROM") && text.contains("pending"), "{text}");
    // Another delayed rotation is refused while a key is pending; --now activates that key.
    let err = cli.fails(
        &["signing-keys", "rotate", "--activate-after", "5"],
        "failed_precondition",
    );
    assert!(err.contains(s(&pending["kid"])), "{err}");
    let text = cli.text(&["signing-keys", "rotate", "--now"]);
    assert_eq!(text, format!("rotated: {} is now active\n", s(&pending["kid"])));
    cli.fails(
        &["signing-keys", "retire", s(&pending["kid"])],
        "failed_precondition",
    );
    let retired = cli.json(&["signing-keys", "retire", &first_kid]);
    assert_eq!(retired["signing_key"]["state"], "retired");
    let text = cli.text(&["signing-keys", "list"]);
    assert!(text.contains("retired") && text.contains("active"), "{text}");
    // --activate-after, and AUTHGATE_SIGNING_KEY_ACTIVATION_DELAY for the default.
    let before = OffsetDateTime::now_utc();
    let text = cli.text(&["signing-keys", "rotate", "--activate-after", "600"]);
    let after = OffsetDateTime::now_utc();
    assert!(
        text.starts_with("rotated: snk_") && text.contains(" is pending: published in the JWKS now"),
        "{text}"
    );
    let listed = cli.json(&["signing-keys", "list"]);
    let staged = &listed["signing_keys"][2];
    let activate_at = rfc3339(&staged["activate_at"]);
    let delay = time::Duration::seconds(600);
    assert!(
        activate_at >= before + delay - ms && activate_at <= after + delay + ms,
        "{listed}"
    );
    let retired = cli.json(&["signing-keys", "retire", s(&staged["kid"])]);
    assert_eq!(
        retired["signing_key"]["state"], "retired",
        "a pending key may be retired"
    );
    let before = OffsetDateTime::now_utc();
    let out = cli
        .command(&["--json", "signing-keys", "rotate"])
        .env("AUTHGATE_SIGNING_KEY_ACTIVATION_DELAY", "7")
        .output()
        .unwrap();
    let after = OffsetDateTime::now_utc();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let staged: Value = serde_json::from_slice(&out.stdout).unwrap();
    let activate_at = rfc3339(&staged["signing_key"]["activate_at"]);
    let delay = time::Duration::seconds(7);
    assert!(
        activate_at >= before + delay - ms && activate_at <= after + delay + ms,
        "{staged}"
    );
    let out = cli
        .command(&["signing-keys", "list"])
        .env("AUTHGATE_SIGNING_KEY_ACTIVATION_DELAY", "soon")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("AUTHGATE_SIGNING_KEY_ACTIVATION_DELAY"),
        "{out:?}"
    );
    let out = cli.run(
        &["signing-keys", "rotate", "--now", "--activate-after", "5"],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "--now and --activate-after conflict");
    cli.fails(
        &["signing-keys", "rotate", "--activate-after", "2592001"],
        "invalid_argument",
    );

    assert_eq!(
        cli.json(&["clients", "delete", "--org", &org_id, &client_id]),
        serde_json::json!({})
    );
    cli.fails(&["clients", "get", "--org", &org_id, &client_id], "not_found");
}

#[test]
fn human_output_shows_secrets_once_and_reads_well() {
    let cli = Cli::new();
    let text = cli.text(&["orgs", "create", "--name", "Acme"]);
    let org_id = text
        .lines()
        .find_map(|l| l.strip_prefix("id:"))
        .unwrap()
        .trim()
        .to_owned();
    let text = cli.text(&["keys", "create", "--org", &org_id, "--claim", "env=prod"]);
    let key = text
        .lines()
        .next()
        .unwrap()
        .strip_prefix("token: ")
        .unwrap()
        .to_owned();
    assert!(key.starts_with("agk_"));
    assert!(text.contains("shown once"));
    assert!(text.contains("custom_claims:") && text.contains("env=prod"));
    let list = cli.text(&["keys", "list", "--org", &org_id]);
    assert!(list.starts_with("TOKEN_ID"));
    assert!(list.contains(&format!("…{}", &key[key.len() - 4..])));
    assert!(!list.contains(&key), "the listing shows the whole key");
    let clients = cli.text(&[
        "clients", "create", "--org", &org_id, "--name", "c", "--scope", "s",
    ]);
    assert!(clients.contains("client_secret: ags_"));
}

#[test]
fn errors_are_typed_and_exit_non_zero() {
    let cli = Cli::new();
    cli.fails(&["orgs", "get", "org_404"], "not_found");
    cli.fails(&["orgs", "get", "acme"], "invalid_argument");
    cli.fails(&["keys", "create", "--org", "org_404"], "not_found");
    cli.fails(&["keys", "validate", "agk_not-a-key"], "token_validation_failed");
    cli.fails(&["keys", "validate", ""], "token_validation_failed");
    cli.fails(&["keys", "validate", "-"], "token_validation_failed");
    cli.fails(&["keys", "revoke", "garbage"], "invalid_argument");
    cli.fails(&["keys", "revoke", "apit_404"], "not_found");
    cli.fails(&["--database", "mysql://x", "orgs", "list"], "invalid_argument");
    let org_id = s(&cli.json(&["orgs", "create", "--name", "Acme"])["organization"]["id"]).to_owned();
    let many: Vec<String> = (0..21).map(|i| format!("k{i}=v")).collect();
    let mut args = vec!["keys", "create", "--org", org_id.as_str()];
    for c in &many {
        args.extend(["--claim", c.as_str()]);
    }
    let err = cli.fails(&args, "invalid_argument");
    assert!(err.contains("custom_claims"), "{err}");
    cli.fails(
        &["keys", "list", "--org", &org_id, "--page-size", "31"],
        "invalid_argument",
    );
    cli.fails(
        &["keys", "list", "--org", &org_id, "--page-token", "forged"],
        "invalid_argument",
    );
    cli.fails(
        &["clients", "list", "--org", &org_id, "--page-size", "5"],
        "invalid_argument",
    );

    // Command-line usage errors are clap's (exit status 2).
    let out = cli.run(
        &["keys", "create", "--org", &org_id, "--claim", "no-equals"],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let out = cli.run(
        &["keys", "create", "--org", &org_id, "--expires", "tomorrow"],
        None,
    );
    assert_eq!(out.status.code(), Some(2));

    // A pepper mismatch is refused with a clear message.
    let out = cli
        .command(&["orgs", "list"])
        .env(
            "AUTHGATE_KEY_PEPPER",
            "a-pepper-that-is-long-enough-to-be-accepted",
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error: failed_precondition: "), "{stderr}");
    assert!(stderr.contains("AUTHGATE_KEY_PEPPER") && !stderr.contains("long-enough"));
}

/// `processes` CLI processes at once on one store, half creating API keys and half issuing access
/// tokens (racing to create the first signing key): all succeed and one signing key is made. Then
/// a key revoked by one process (through its `revoke_by`: `token_id` or `token`) fails
/// validation in the next.
fn processes_share_one_store(cli: &Cli, processes: usize, revoke_by: &str) {
    let org_id = s(&cli.json(&["orgs", "create", "--name", "Acme"])["organization"]["id"]).to_owned();
    let client = cli.json(&[
        "clients", "create", "--org", &org_id, "--name", "c", "--scope", "s",
    ]);
    let (client_id, secret) = (s(&client["client"]["client_id"]), s(&client["plain_secret"]));
    let mut children = Vec::new();
    for i in 0..processes {
        let args: Vec<&str> = if i % 2 == 0 {
            vec!["--json", "keys", "create", "--org", &org_id]
        } else {
            vec![
                "--json",
                "token",
                "issue",
                "--client-id",
                client_id,
                "--client-secret",
                secret,
            ]
        };
        children.push(
            cli.command(&args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
    }
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    assert_eq!(
        cli.json(&["keys", "list", "--org", &org_id])["total_count"],
        processes.div_ceil(2)
    );
    let keys = cli.json(&["signing-keys", "list"]);
    assert_eq!(keys["signing_keys"].as_array().unwrap().len(), 1, "{keys}");

    let k = cli.json(&["keys", "create", "--org", &org_id]);
    cli.json(&["keys", "validate", s(&k["token"])]);
    cli.json(&["keys", "revoke", s(&k[revoke_by])]);
    cli.fails(&["keys", "validate", s(&k["token"])], "token_validation_failed");
}

#[test]
fn concurrent_processes_share_one_sqlite_file() {
    processes_share_one_store(&Cli::new(), 10, "token_id");
}

#[test]
#[ignore = "needs PostgreSQL: set AUTHGATE_TEST_DATABASE_URL (scripts/with-postgres)"]
fn processes_share_one_postgres_database() {
    let (cli, _db) = Cli::postgres("processes_share_one_postgres_database");
    processes_share_one_store(&cli, 6, "token");
}
