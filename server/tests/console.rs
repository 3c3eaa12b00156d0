//! The admin console's server side, against the real `authgate serve`: sign-in with environment
//! credentials under the token endpoint's brute-force limits, the session cookie's attributes,
//! idle expiry, revocation, the CSRF and origin rules on every state-changing request, the
//! security headers, `--no-console`, and the signing-key routes the console uses. (The browser
//! half is `tests/console/console.test.mjs`.)

mod common;

use common::{Options, Server, admin_token, http};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

/// Signs in; returns `(cookie header value, csrf token)`.
async fn sign_in(server: &Server, id: &str, secret: &str) -> (String, String) {
    let response = sign_in_raw(server, id, secret).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let set_cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["client_id"], id);
    (cookie, body["csrf_token"].as_str().unwrap().to_owned())
}

async fn sign_in_raw(server: &Server, id: &str, secret: &str) -> Response {
    http()
        .post(server.at("/console/api/session"))
        .json(&json!({ "client_id": id, "client_secret": secret }))
        .send()
        .await
        .unwrap()
}

async fn error_code(response: Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["details"][0]["error_code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn organization_count(server: &Server) -> u64 {
    let token = admin_token(server).await;
    let body: Value = http()
        .get(server.at("/api/v1/organizations?page_size=100"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["total_size"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_sign_in_sessions_and_the_csrf_rule() {
    let server = Server::start();
    let origin = server.url.clone();
    let client = http();

    // Wrong secret, unknown id, an M2M client's valid credentials: the same 401, no cookie.
    let wrong = sign_in_raw(&server, &server.client_id, "wrong-wrong-wrong-wrong").await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().get("set-cookie").is_none());
    assert_eq!(error_code(wrong).await, "unauthenticated");
    let remote = server.remote();
    let (_, m2m) = common::org_with_client(&remote, "Console", common::client_input("svc", &["read"])).await;
    let refused = sign_in_raw(&server, &m2m.client.client_id, m2m.plain_secret.expose()).await;
    assert_eq!(refused.status(), 401);
    // A form body (what a cross-origin form can send) is not accepted.
    let form = client
        .post(server.at("/console/api/session"))
        .form(&[
            ("client_id", server.client_id.as_str()),
            ("client_secret", server.client_secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 415);
    // A sign-in from another origin is refused (login CSRF).
    let foreign = client
        .post(server.at("/console/api/session"))
        .header("origin", "http://evil.test")
        .json(&json!({ "client_id": server.client_id, "client_secret": server.client_secret }))
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
    assert_eq!(error_code(foreign).await, "permission_denied");
    // Oversized credentials are refused before any check, as at the token endpoint.
    let long = sign_in_raw(&server, &"skc_x".repeat(1000), &server.client_secret).await;
    assert_eq!(long.status(), 400);
    assert_eq!(error_code(long).await, "invalid_argument");

    // The right credentials: a session cookie with the expected attributes.
    let response = sign_in_raw(&server, &server.client_id, &server.client_secret).await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let set_cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set_cookie.starts_with("authgate_console="), "{set_cookie}");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(set_cookie.contains(attribute), "{set_cookie} lacks {attribute}");
    }
    assert!(!set_cookie.contains("Secure"), "plain HTTP: no Secure attribute");
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    let csrf = body["csrf_token"].as_str().unwrap().to_owned();
    assert_eq!(body["idle_timeout"], 1800);
    // The secret appears nowhere in the logs.
    assert!(!server.stderr().contains(&server.client_secret));
    assert!(
        !server
            .stderr()
            .contains(cookie.trim_start_matches("authgate_console="))
    );

    // The session reads the management API and the session itself.
    let session: Value = client
        .get(server.at("/console/api/session"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(session["csrf_token"], csrf.as_str());
    let list = client
        .get(server.at("/api/v1/organizations"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 200);

    // State-changing requests: refused without the token, with a wrong one, from another origin
    // or site — and nothing changes.
    let before = organization_count(&server).await;
    let create = |headers: Vec<(&'static str, String)>| {
        let mut request = client
            .post(server.at("/api/v1/organizations"))
            .header("cookie", &cookie)
            .json(&json!({ "display_name": "Via console" }));
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.send()
    };
    for (what, headers) in [
        ("no token", vec![("origin", origin.clone())]),
        (
            "wrong token",
            vec![("origin", origin.clone()), ("x-csrf-token", "x".repeat(43))],
        ),
        (
            "foreign origin",
            vec![
                ("origin", "http://127.0.0.1:1".into()),
                ("x-csrf-token", csrf.clone()),
            ],
        ),
        (
            "cross-site fetch",
            vec![
                ("sec-fetch-site", "cross-site".into()),
                ("x-csrf-token", csrf.clone()),
            ],
        ),
        (
            "same-site fetch",
            vec![
                ("sec-fetch-site", "same-site".into()),
                ("x-csrf-token", csrf.clone()),
            ],
        ),
    ] {
        let response = create(headers).await.unwrap();
        assert_eq!(response.status(), 403, "{what}");
        assert_eq!(error_code(response).await, "permission_denied", "{what}");
    }
    assert_eq!(organization_count(&server).await, before);
    // With the token, from this origin: done, through the API's own handler.
    let created = create(vec![
        ("origin", origin.clone()),
        ("sec-fetch-site", "same-origin".into()),
        ("x-csrf-token", csrf.clone()),
    ])
    .await
    .unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(organization_count(&server).await, before + 1);

    // A bearer token still works, and a bad bearer is not rescued by a good cookie.
    let bad_bearer = client
        .get(server.at("/api/v1/organizations"))
        .header("cookie", &cookie)
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_bearer.status(), 401);

    // Signing in again from the same browser replaces its session.
    let again = client
        .post(server.at("/console/api/session"))
        .header("cookie", &cookie)
        .json(&json!({ "client_id": server.client_id, "client_secret": server.client_secret }))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 201);
    let replaced = client
        .get(server.at("/console/api/session"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(replaced.status(), 401);
    let cookie = again.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let csrf: String = again.json::<Value>().await.unwrap()["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned();

    // Sign-out needs the token too; afterwards the cookie is refused everywhere.
    let no_token = client
        .delete(server.at("/console/api/session"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), 403);
    let out = client
        .delete(server.at("/console/api/session"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 200);
    assert!(
        out.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    for path in [
        "/api/v1/organizations",
        "/console/api/session",
        "/console/api/stats",
    ] {
        let response = client
            .get(server.at(path))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_sign_in_shares_the_token_endpoints_brute_force_limits() {
    let server = Server::start_with(Options {
        args: vec!["--auth-failures-per-client".into(), "3".into()],
        ..Options::default()
    });
    for _ in 0..3 {
        let response = sign_in_raw(&server, &server.client_id, "wrong-wrong-wrong-wrong").await;
        assert_eq!(response.status(), 401);
    }
    // The right secret is refused too until the window ends, at sign-in and at /oauth/token.
    let limited = sign_in_raw(&server, &server.client_id, &server.client_secret).await;
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().contains_key("retry-after"));
    assert_eq!(error_code(limited).await, "resource_exhausted");
    let token = http()
        .post(server.at("/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", server.client_id.as_str()),
            ("client_secret", server.client_secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 429);
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("authgate_client_auth_failures_total 3"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_sessions_end_when_idle_and_when_their_credential_is_revoked() {
    let server = Server::start_with(Options {
        args: vec!["--console-idle-timeout".into(), "2".into()],
        ..Options::default()
    });
    let client = http();
    let (cookie, _) = sign_in(&server, &server.client_id, &server.client_secret).await;
    let status = |cookie: String| {
        let client = client.clone();
        let url = server.at("/api/v1/organizations");
        async move { client.get(url).header("cookie", cookie).send().await.unwrap() }
    };
    // Used within the idle limit: it stays live.
    for _ in 0..3 {
        tokio::time::sleep(std::time::Duration::from_millis(800)).await;
        assert_eq!(status(cookie.clone()).await.status(), 200);
    }
    // The dashboard's polling does not keep it alive.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let stats = client
        .get(server.at("/console/api/stats"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(stats.status(), 200);
    let stats: Value = stats.json().await.unwrap();
    assert!(stats["tokens_issued"].as_u64().is_some());
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    let idle = status(cookie.clone()).await;
    assert_eq!(idle.status(), 401);
    let body: Value = idle.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("inactivity"), "{body}");

    // A second credential signs in; revoking it ends its session at once.
    let admin = admin_token(&server).await;
    let created: Value = client
        .post(server.at("/api/v1/environment/credentials"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["credential"]["client_id"].as_str().unwrap().to_owned();
    let secret = created["plain_secret"].as_str().unwrap().to_owned();
    let (cookie, _) = sign_in(&server, &id, &secret).await;
    assert_eq!(status(cookie.clone()).await.status(), 200);
    let revoked = client
        .post(server.at(&format!("/api/v1/environment/credentials/{id}:revoke")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    assert_eq!(status(cookie).await.status(), 401);
    // And it cannot sign in again.
    assert_eq!(sign_in_raw(&server, &id, &secret).await.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_pages_carry_a_strict_csp_and_no_console_turns_it_off() {
    let server = Server::start();
    let client = http();
    let page = client.get(server.at("/console")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let h = page.headers().clone();
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(
        csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe"),
        "{csp}"
    );
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    assert!(html.contains("/console/assets/app.js") && !html.contains("<script>"));
    for (file, content_type) in [
        ("app.js", "text/javascript; charset=utf-8"),
        ("app.css", "text/css; charset=utf-8"),
        ("icon.svg", "image/svg+xml"),
    ] {
        let asset = client
            .get(server.at(&format!("/console/assets/{file}")))
            .send()
            .await
            .unwrap();
        assert_eq!(asset.status(), 200, "{file}");
        assert_eq!(asset.headers()["content-type"], content_type);
        assert!(asset.headers().contains_key("content-security-policy"));
    }
    let missing = client
        .get(server.at("/console/assets/nope.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(error_code(missing).await, "not_found");
    let anonymous = client.get(server.at("/console/api/stats")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let forged = client
        .get(server.at("/api/v1/organizations"))
        .header("cookie", "authgate_console=forged")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);

    let off = Server::start_with(Options {
        args: vec!["--no-console".into()],
        ..Options::default()
    });
    for path in [
        "/console",
        "/console/assets/app.js",
        "/console/api/session",
        "/console/api/stats",
    ] {
        let response = client.get(off.at(path)).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
    let sign_in = sign_in_raw(&off, &off.client_id, &off.client_secret).await;
    assert_eq!(sign_in.status(), 404);
    // A cookie means nothing there; the bearer token still does.
    let cookie_only = client
        .get(off.at("/api/v1/organizations"))
        .header("cookie", "authgate_console=anything")
        .send()
        .await
        .unwrap();
    assert_eq!(cookie_only.status(), 401);
    let token = admin_token(&off).await;
    let bearer = client
        .get(off.at("/api/v1/organizations"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_keys_are_listed_rotated_and_retired_over_rest() {
    let server = Server::start();
    let client = http();
    let admin = admin_token(&server).await;
    let list_url = server.at("/api/v1/environment/signing-keys");
    let keys = |admin: String| {
        let url = list_url.clone();
        async move {
            let body: Value = http()
                .get(url)
                .bearer_auth(admin)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            body["signing_keys"]
                .as_array()
                .unwrap_or_else(|| panic!("{body}"))
                .clone()
        }
    };
    let rotate = |body: Value| {
        client
            .post(server.at("/api/v1/environment/signing-keys:rotate"))
            .bearer_auth(&admin)
            .json(&body)
            .send()
    };
    let first = keys(admin.clone()).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["state"], "active");
    let first_kid = first[0]["kid"].as_str().unwrap().to_owned();

    // Refusals change nothing.
    for (body, status, code) in [
        (
            json!({ "now": true, "activate_after": 5 }),
            400,
            "invalid_argument",
        ),
        (json!({ "activate_after": 99_999_999 }), 400, "invalid_argument"),
        (json!({ "later": true }), 400, "invalid_argument"),
    ] {
        let response = rotate(body.clone()).await.unwrap();
        assert_eq!(response.status(), status, "{body}");
        assert_eq!(error_code(response).await, code, "{body}");
    }
    assert_eq!(keys(admin.clone()).await, first);

    // The default delay: the new key is pending; a second rotation is refused until then.
    let pending: Value = rotate(json!({})).await.unwrap().json().await.unwrap();
    assert_eq!(pending["signing_key"]["state"], "pending");
    let again = rotate(json!({ "activate_after": 10 })).await.unwrap();
    assert_eq!(again.status(), 400);
    assert_eq!(error_code(again).await, "failed_precondition");
    // `now` activates the pending key.
    let now: Value = rotate(json!({ "now": true }))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(now["signing_key"]["kid"], pending["signing_key"]["kid"]);
    assert_eq!(now["signing_key"]["state"], "active");

    // The active key cannot be retired; the old one can.
    let active_kid = now["signing_key"]["kid"].as_str().unwrap().to_owned();
    let retire = |kid: String| {
        client
            .post(server.at(&format!("/api/v1/environment/signing-keys/{kid}:retire")))
            .bearer_auth(&admin)
            .send()
    };
    let refused = retire(active_kid.clone()).await.unwrap();
    assert_eq!(refused.status(), 400);
    assert_eq!(error_code(refused).await, "failed_precondition");
    let unknown = retire("snk_404404".into()).await.unwrap();
    assert_eq!(unknown.status(), 404);
    let retired: Value = retire(first_kid.clone()).await.unwrap().json().await.unwrap();
    assert_eq!(retired["signing_key"]["state"], "retired");
    let jwks: Value = client
        .get(server.at("/keys"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, vec![active_kid.as_str()]);

    // Management authentication applies: no token 401, an M2M token 403.
    let anonymous = client
        .get(server.at("/api/v1/environment/signing-keys"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let remote = server.remote();
    let (_, m2m) = common::org_with_client(&remote, "Keys", common::client_input("svc", &["read"])).await;
    let m2m_token: Value = client
        .post(server.at("/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", m2m.client.client_id.as_str()),
            ("client_secret", m2m.plain_secret.expose()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let forbidden = client
        .post(server.at("/api/v1/environment/signing-keys:rotate"))
        .bearer_auth(m2m_token["access_token"].as_str().unwrap())
        .json(&json!({ "now": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(forbidden.status(), 403);
    // The first key signed `admin`: a token of the active key lists what is left.
    let fresh = admin_token(&server).await;
    let left = keys(fresh).await;
    assert_eq!(left.len(), 2);
    assert!(
        left.iter()
            .any(|k| k["kid"] == first_kid.as_str() && k["state"] == "retired")
    );
}

/// Under TLS the cookie is `Secure`, and the origin check expects `https://`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_cookie_is_secure_under_tls() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(common::binary())
        .args(["dev-cert", "--force", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let server = Server::start_with(Options {
        args: vec![
            "--tls-cert".into(),
            dir.path().join("cert.pem").display().to_string(),
            "--tls-key".into(),
            dir.path().join("key.pem").display().to_string(),
        ],
        ..Options::default()
    });
    assert!(server.url.starts_with("https://"), "{}", server.url);
    let pem = std::fs::read(dir.path().join("ca.pem")).unwrap();
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
        .build()
        .unwrap();
    let response = client
        .post(server.at("/console/api/session"))
        .header("origin", &server.url)
        .json(&json!({ "client_id": server.client_id, "client_secret": server.client_secret }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let set_cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set_cookie.ends_with("; Secure"), "{set_cookie}");
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    let csrf = body["csrf_token"].as_str().unwrap().to_owned();
    let plain_origin = server.url.replacen("https://", "http://", 1);
    let refused = client
        .post(server.at("/api/v1/organizations"))
        .header("cookie", &cookie)
        .header("origin", plain_origin)
        .header("x-csrf-token", &csrf)
        .json(&json!({ "display_name": "Over TLS" }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let created = client
        .post(server.at("/api/v1/organizations"))
        .header("cookie", &cookie)
        .header("origin", &server.url)
        .header("x-csrf-token", &csrf)
        .json(&json!({ "display_name": "Over TLS" }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
}
