//! The gRPC surface and TLS of a real `authgate serve`: raw gRPC over h2c and over HTTP/1.1
//! (trailers declared), authentication metadata, error statuses and their details, unknown
//! services, the token endpoint with an SDK's Bearer header, TLS with ALPN, SIGHUP reload, TLS
//! and plaintext on one port, and the core's HTTP client trusting the dev CA.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use common::{Options, Server, admin_token, http, runtime};
use http_body_util::{BodyExt, Full};
use prost::Message;

/// The generated messages (the same `server/proto` files, from the build script's output).
#[allow(dead_code, clippy::all, missing_debug_implementations)]
mod pb {
    pub mod commons {
        include!(concat!(env!("OUT_DIR"), "/scalekit.v1.commons.rs"));
    }
    pub mod errdetails {
        include!(concat!(env!("OUT_DIR"), "/scalekit.v1.errdetails.rs"));
    }
    pub mod tokens {
        include!(concat!(env!("OUT_DIR"), "/scalekit.v1.tokens.rs"));
    }
    pub mod organizations {
        include!(concat!(env!("OUT_DIR"), "/scalekit.v1.organizations.rs"));
    }
}

/// `google.rpc.Status`
#[derive(Clone, PartialEq, Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<prost_types::Any>,
}

const TOKENS: &str = "/scalekit.v1.tokens.ApiTokenService";
const ORGS: &str = "/scalekit.v1.organizations.OrganizationService";

/// A length-prefixed gRPC message.
fn frame(msg: &impl Message) -> Vec<u8> {
    let body = msg.encode_to_vec();
    let mut out = vec![0u8];
    out.extend_from_slice(&u32::try_from(body.len()).unwrap().to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// The message of a gRPC response body (one frame).
fn unframe<M: Message + Default>(body: &[u8]) -> M {
    assert!(body.len() >= 5, "no message in the response");
    let len = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
    M::decode(&body[5..5 + len]).unwrap()
}

/// One gRPC answer.
#[derive(Debug)]
struct Answer {
    http_status: u16,
    grpc_status: i32,
    message: String,
    details: Option<RpcStatus>,
    body: Bytes,
}

/// `grpc-message` is percent-encoded (gRPC over HTTP/2 spec).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

fn base64_decode_details(v: &str) -> RpcStatus {
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(v.trim_end_matches('='))
        .unwrap();
    RpcStatus::decode(&*raw).unwrap()
}

/// A unary call over h2c (prior knowledge), with the given `authorization` values.
async fn call(addr: &str, path: &str, auth: &[String], msg: &impl Message) -> Answer {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let mut req = hyper::Request::post(format!("http://{addr}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    for a in auth {
        req = req.header("authorization", a.as_str());
    }
    let req = req.body(Full::new(Bytes::from(frame(msg)))).unwrap();
    let response = sender.send_request(req).await.unwrap();
    let http_status = response.status().as_u16();
    let headers = response.headers().clone();
    let collected = response.into_body().collect().await.unwrap();
    let trailers = collected.trailers().cloned().unwrap_or_default();
    let get = |name: &str| {
        trailers
            .get(name)
            .or_else(|| headers.get(name))
            .map(|v| v.to_str().unwrap().to_owned())
    };
    Answer {
        http_status,
        grpc_status: get("grpc-status").expect("grpc-status").parse().unwrap(),
        message: percent_decode(&get("grpc-message").unwrap_or_default()),
        details: get("grpc-status-details-bin").map(|v| base64_decode_details(&v)),
        body: collected.to_bytes(),
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn addr_of(server: &Server) -> String {
    server.url.split("://").nth(1).unwrap().to_owned()
}

#[test]
fn grpc_over_h2c_auth_errors_and_unknown_methods() {
    let server = Server::start();
    let addr = addr_of(&server);
    runtime().block_on(async {
        let token = admin_token(&server).await;
        let create = pb::organizations::CreateOrganizationRequest {
            organization: Some(pb::organizations::CreateOrganization {
                display_name: "Acme".into(),
                external_id: Some("acme-ext".into()),
                ..Default::default()
            }),
        };

        // No authorization: UNAUTHENTICATED (the Node SDK then fetches a token and retries).
        let a = call(&addr, &format!("{ORGS}/CreateOrganization"), &[], &create).await;
        assert_eq!((a.http_status, a.grpc_status), (200, 16), "{a:?}");

        // A stale value and the current one (the Python SDK sends both): accepted.
        let auth = [bearer("stale.not.valid"), bearer(&token)];
        let a = call(&addr, &format!("{ORGS}/CreateOrganization"), &auth, &create).await;
        assert_eq!(a.grpc_status, 0, "{a:?}");
        let org = unframe::<pb::organizations::CreateOrganizationResponse>(&a.body)
            .organization
            .unwrap();
        assert!(org.id.starts_with("org_"));
        assert_eq!(org.external_id.as_deref(), Some("acme-ext"));

        // Fields authgate does not store are refused, not dropped.
        let with_metadata = pb::organizations::CreateOrganizationRequest {
            organization: Some(pb::organizations::CreateOrganization {
                display_name: "Meta".into(),
                metadata: [("tier".to_owned(), "gold".to_owned())].into(),
                ..Default::default()
            }),
        };
        let a = call(
            &addr,
            &format!("{ORGS}/CreateOrganization"),
            &auth[1..],
            &with_metadata,
        )
        .await;
        assert_eq!(a.grpc_status, 3, "{a:?}");

        // By external id.
        let get = pb::organizations::GetOrganizationRequest {
            identities: Some(
                pb::organizations::get_organization_request::Identities::ExternalId("acme-ext".into()),
            ),
        };
        let a = call(&addr, &format!("{ORGS}/GetOrganization"), &auth[1..], &get).await;
        assert_eq!(a.grpc_status, 0, "{a:?}");
        let got = unframe::<pb::organizations::GetOrganizationResponse>(&a.body);
        assert_eq!(got.organization.unwrap().id, org.id);

        // A refused key: NOT_FOUND, details = google.rpc.Status with the same code and message
        // and an ErrorInfo.
        let validate = pb::tokens::ValidateTokenRequest {
            token: "agk_unknown".into(),
        };
        let a = call(&addr, &format!("{TOKENS}/ValidateToken"), &auth[1..], &validate).await;
        assert_eq!(a.grpc_status, 5, "{a:?}");
        let details = a.details.expect("grpc-status-details-bin");
        assert_eq!(details.code, 5);
        assert_eq!(details.message, a.message);
        assert_eq!(
            details.details[0].type_url,
            "type.googleapis.com/scalekit.v1.errdetails.ErrorInfo"
        );
        let info = pb::errdetails::ErrorInfo::decode(&*details.details[0].value).unwrap();
        assert_eq!(info.error_code, "token_validation_failed");

        // An unknown service and an unserved method of a served service: UNIMPLEMENTED, HTTP 200.
        let a = call(
            &addr,
            "/scalekit.v1.domains.DomainService/ListDomains",
            &auth[1..],
            &validate,
        )
        .await;
        assert_eq!((a.http_status, a.grpc_status), (200, 12), "{a:?}");
        let a = call(&addr, &format!("{TOKENS}/FetchToken"), &auth[1..], &validate).await;
        assert_eq!((a.http_status, a.grpc_status), (200, 12), "{a:?}");

        // An M2M client's token: PERMISSION_DENIED, like REST.
        let api = server.remote();
        let (_org, m2m) = common::org_with_client(&api, "m2m", common::client_input("job", &[])).await;
        let response = http()
            .post(server.at("/oauth/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", m2m.client.client_id.as_str()),
                ("client_secret", m2m.plain_secret.expose()),
            ])
            .send()
            .await
            .unwrap();
        let m2m_token: serde_json::Value = response.json().await.unwrap();
        let m2m_auth = [bearer(m2m_token["access_token"].as_str().unwrap())];
        let a = call(&addr, &format!("{TOKENS}/ValidateToken"), &m2m_auth, &validate).await;
        assert_eq!(a.grpc_status, 7, "{a:?}");

        // A message over the body limit: a gRPC status, not an HTTP 413.
        let big = pb::tokens::ValidateTokenRequest {
            token: "x".repeat(128 * 1024),
        };
        let a = call(&addr, &format!("{TOKENS}/ValidateToken"), &auth[1..], &big).await;
        assert_eq!(a.http_status, 200);
        assert_ne!(a.grpc_status, 0);

        // The metrics saw one refused validation.
        let metrics = server.metrics().await;
        assert!(
            metrics.contains("authgate_api_key_validations_total{outcome=\"invalid\"} 1"),
            "{metrics}"
        );

        // The audit log: the gRPC creation with its caller and address, and the refused calls
        // (written off the request path: wait for them).
        let mut refusals = Vec::new();
        for _ in 0..300 {
            let page = authgate_core::AuthApi::list_audit_events(
                &api,
                authgate_core::model::ListAuditEvents {
                    action: Some("admin.authenticate".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            refusals = page.events;
            if refusals.len() >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let refused: Vec<_> = refusals
            .iter()
            .map(|e| (e.actor.as_str(), e.error_code.as_deref()))
            .collect();
        assert_eq!(
            refused,
            [
                ("unauthenticated", Some("unauthenticated")),
                (m2m.client.client_id.as_str(), Some("permission_denied")),
            ]
        );
        let created = authgate_core::AuthApi::list_audit_events(
            &api,
            authgate_core::model::ListAuditEvents {
                organization_id: Some(org.id.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(created.events.len(), 1);
        assert_eq!(created.events[0].action, "organization.create");
        assert_eq!(created.events[0].actor, server.client_id);
        assert_eq!(created.events[0].source_address.as_deref(), Some("127.0.0.1"));
    });
}

#[test]
fn token_endpoint_ignores_a_bearer_header() {
    let server = Server::start();
    runtime().block_on(async {
        let response = http()
            .post(server.at("/oauth/token"))
            .header("authorization", "Bearer some-sdk-token")
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", server.client_id.as_str()),
                ("client_secret", server.client_secret.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
        // Basic stays client authentication: Basic plus form credentials is refused.
        let response = http()
            .post(server.at("/oauth/token"))
            .basic_auth(&server.client_id, Some(&server.client_secret))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", server.client_id.as_str()),
                ("client_secret", server.client_secret.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
    });
}

/// Reads one HTTP/1.1 response with a chunked body: (status line + headers, body, trailers).
fn read_chunked(stream: &mut TcpStream) -> (String, Vec<u8>, String) {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "connection closed: {}", String::from_utf8_lossy(&raw));
        raw.extend_from_slice(&buf[..n]);
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let mut rest = raw[head_end..].to_vec();
    if !head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        return (head, rest, String::new());
    }
    // Read until the last chunk and the (possibly empty) trailer section are complete.
    loop {
        if let Some((body, trailers)) = parse_chunked(&rest) {
            return (head, body, trailers);
        }
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "connection closed mid-body");
        rest.extend_from_slice(&buf[..n]);
    }
}

fn parse_chunked(data: &[u8]) -> Option<(Vec<u8>, String)> {
    let mut body = Vec::new();
    let mut i = 0;
    loop {
        let line_end = data[i..].windows(2).position(|w| w == b"\r\n")? + i;
        let size = usize::from_str_radix(std::str::from_utf8(&data[i..line_end]).ok()?.trim(), 16).ok()?;
        i = line_end + 2;
        if size == 0 {
            let end = data[i..].windows(2).position(|w| w == b"\r\n")?;
            if end == 0 {
                return Some((body, String::new()));
            }
            let t_end = data[i..].windows(4).position(|w| w == b"\r\n\r\n")? + i;
            return Some((body, String::from_utf8_lossy(&data[i..t_end]).into_owned()));
        }
        if data.len() < i + size + 2 {
            return None;
        }
        body.extend_from_slice(&data[i..i + size]);
        i += size + 2;
    }
}

#[test]
fn grpc_over_http1_declares_and_sends_trailers() {
    let server = Server::start();
    let addr = addr_of(&server);
    let token = runtime().block_on(admin_token(&server));
    let request = |stream: &mut TcpStream, path: &str, msg: &[u8]| {
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/grpc\r\nte: trailers\r\n\
             authorization: Bearer {token}\r\ncontent-length: {}\r\n\r\n",
            msg.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(msg).unwrap();
    };
    let mut stream = TcpStream::connect(&addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();

    // A successful call: a body, then grpc-status in trailers, declared by `Trailer:`.
    let list = pb::organizations::ListOrganizationsRequest::default();
    request(&mut stream, &format!("{ORGS}/ListOrganization"), &frame(&list));
    let (head, body, trailers) = read_chunked(&mut stream);
    let lower = head.to_ascii_lowercase();
    assert!(lower.starts_with("http/1.1 200"), "{head}");
    assert!(
        lower.contains("trailer: grpc-status, grpc-message, grpc-status-details-bin"),
        "{head}"
    );
    assert!(
        trailers.to_ascii_lowercase().contains("grpc-status: 0"),
        "{head}\n{trailers:?}"
    );
    let listed = unframe::<pb::organizations::ListOrganizationsResponse>(&body);
    assert_eq!(listed.total_size, 0);

    // An error on the same connection: a trailers-only answer (grpc-status in the headers).
    let validate = pb::tokens::ValidateTokenRequest {
        token: "agk_unknown".into(),
    };
    request(&mut stream, &format!("{TOKENS}/ValidateToken"), &frame(&validate));
    let (head, _body, _trailers) = read_chunked(&mut stream);
    let lower = head.to_ascii_lowercase();
    assert!(lower.starts_with("http/1.1 200"), "{head}");
    assert!(lower.contains("grpc-status: 5"), "{head}");
}

/// `authgate dev-cert --out dir`.
fn dev_cert(dir: &Path) {
    let out = std::process::Command::new(common::binary())
        .args(["dev-cert", "--force", "--out"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn tls_client(ca: &Path) -> reqwest::Client {
    let pem = std::fs::read(ca).unwrap();
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
        .build()
        .unwrap()
}

fn tls_server(dir: &Path, plaintext: bool) -> Server {
    let mut args = vec![
        "--tls-cert".to_owned(),
        dir.join("cert.pem").display().to_string(),
        "--tls-key".to_owned(),
        dir.join("key.pem").display().to_string(),
    ];
    if plaintext {
        args.push("--tls-allow-plaintext".into());
    }
    Server::start_with(Options {
        args,
        ..Options::default()
    })
}

#[test]
fn tls_alpn_sighup_reload_and_plaintext_on_one_port() {
    let dir = tempfile::tempdir().unwrap();
    dev_cert(dir.path());
    let first_ca = dir.path().join("first-ca.pem");
    std::fs::copy(dir.path().join("ca.pem"), &first_ca).unwrap();
    let server = tls_server(dir.path(), true);
    assert!(server.url.starts_with("https://127.0.0.1:"), "{}", server.url);
    let addr = addr_of(&server);
    runtime().block_on(async {
        let client = tls_client(&first_ca);
        let health = client
            .get(format!("{}/healthz", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), 200);
        assert_eq!(health.version(), reqwest::Version::HTTP_2, "ALPN h2");
        // The discovery document names the https issuer.
        let discovery: serde_json::Value = client
            .get(format!("{}/.well-known/openid-configuration", server.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(discovery["issuer"], server.url.as_str());

        // Plaintext on the same port (--tls-allow-plaintext): HTTP/1.1 and h2c gRPC.
        let plain = http().get(format!("http://{addr}/healthz")).send().await.unwrap();
        assert_eq!(plain.status(), 200);
        let a = call(
            &addr,
            &format!("{ORGS}/ListOrganization"),
            &[],
            &pb::organizations::ListOrganizationsRequest::default(),
        )
        .await;
        assert_eq!(a.grpc_status, 16);

        // A new certificate from another CA, then SIGHUP: the open connection keeps working,
        // new connections get the new certificate.
        dev_cert(dir.path());
        let status = std::process::Command::new("kill")
            .args(["-HUP", &server.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let new_client = tls_client(&dir.path().join("ca.pem"));
        let mut reloaded = false;
        for _ in 0..100 {
            if new_client
                .get(format!("{}/healthz", server.url))
                .send()
                .await
                .is_ok()
            {
                reloaded = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            reloaded,
            "the new certificate was not served after SIGHUP: {}",
            server.stderr()
        );
        // The first client's pooled HTTP/2 connection was made before the reload: still served.
        let again = client
            .get(format!("{}/healthz", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 200);
        // A fresh client trusting only the first CA no longer connects.
        assert!(
            tls_client(&first_ca)
                .get(format!("{}/healthz", server.url))
                .send()
                .await
                .is_err()
        );
    });
    assert!(
        server.stderr().contains("TLS certificate reloaded"),
        "{}",
        server.stderr()
    );
}

#[test]
fn tls_only_refuses_plaintext_and_bad_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    dev_cert(dir.path());
    let server = tls_server(dir.path(), false);
    let addr = addr_of(&server);
    runtime().block_on(async {
        assert!(http().get(format!("http://{addr}/healthz")).send().await.is_err());
    });
    drop(server);
    let out = std::process::Command::new(common::binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(dir.path().join("missing.pem"))
        .arg("--tls-key")
        .arg(dir.path().join("key.pem"))
        .env(
            "AUTHGATE_DATABASE_URL",
            format!("sqlite://{}/x.db", dir.path().display()),
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("tls_cert"), "{stderr}");
    // dev-cert refuses to overwrite without --force.
    let out = std::process::Command::new(common::binary())
        .args(["dev-cert", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

/// The core's HTTP client (RemoteClient, the JWKS fetcher) trusts a private CA through
/// `SSL_CERT_FILE`: run in a child process of this test binary, which has it set.
#[test]
fn remote_client_over_https_trusts_the_dev_ca() {
    if let Ok(url) = std::env::var("AUTHGATE_TEST_REMOTE_URL") {
        // The child.
        use authgate_core::AuthApi;
        use authgate_core::remote::{RemoteClient, RemoteOptions};
        let id = std::env::var("AUTHGATE_TEST_REMOTE_ID").unwrap();
        let secret = std::env::var("AUTHGATE_TEST_REMOTE_SECRET").unwrap();
        runtime().block_on(async {
            let api = RemoteClient::new(
                &url,
                id,
                authgate_core::Secret::new(secret),
                RemoteOptions::default(),
            )
            .unwrap();
            let org = api
                .create_organization(authgate_core::model::CreateOrganization {
                    display_name: "over https".into(),
                    external_id: None,
                })
                .await
                .unwrap();
            assert_eq!(
                api.get_organization(&org.id).await.unwrap().display_name,
                "over https"
            );
            assert!(!api.jwks().await.unwrap().keys.is_empty());
        });
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    dev_cert(dir.path());
    let server = tls_server(dir.path(), false);
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "remote_client_over_https_trusts_the_dev_ca",
            "--nocapture",
        ])
        .env("SSL_CERT_FILE", dir.path().join("ca.pem"))
        .env("AUTHGATE_TEST_REMOTE_URL", &server.url)
        .env("AUTHGATE_TEST_REMOTE_ID", &server.client_id)
        .env("AUTHGATE_TEST_REMOTE_SECRET", &server.client_secret)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("1 passed"), "{text}");
}

/// Failed gRPC management authentications count against the source address like REST ones:
/// over the limit, calls are answered RESOURCE_EXHAUSTED (8) before they run, a valid token
/// included; a call without any token ("missing", the Node SDK's first call) is not counted.
#[test]
fn failed_grpc_authentications_are_rate_limited() {
    let server = Server::start_with(Options {
        args: vec!["--auth-failures-per-address".into(), "3".into()],
        ..Options::default()
    });
    let addr = addr_of(&server);
    runtime().block_on(async {
        let token = admin_token(&server).await;
        let create = pb::organizations::CreateOrganizationRequest {
            organization: Some(pb::organizations::CreateOrganization {
                display_name: "Acme".into(),
                ..Default::default()
            }),
        };
        let path = format!("{ORGS}/CreateOrganization");
        for _ in 0..5 {
            let a = call(&addr, &path, &[], &create).await;
            assert_eq!(a.grpc_status, 16, "{a:?}");
        }
        let a = call(&addr, &path, &[bearer(&token)], &create).await;
        assert_eq!(a.grpc_status, 0, "missing tokens are not counted: {a:?}");
        for _ in 0..3 {
            let a = call(&addr, &path, &[bearer("not.a.jwt")], &create).await;
            assert_eq!(a.grpc_status, 16, "{a:?}");
        }
        let a = call(&addr, &path, &[bearer(&token)], &create).await;
        assert_eq!(a.grpc_status, 8, "{a:?}");
    });
}
