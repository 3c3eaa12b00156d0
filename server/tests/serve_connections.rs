//! Early answers keep HTTP/1.1 connections usable (issue #12, item 5), checked with a raw TCP
//! client: a 401/403 sent before the handler reads the body leaves no unread bytes behind, so
//! the next request on the connection works; a client that writes a whole oversized body before
//! reading gets the 413 (read, then `Connection: close`), not a reset.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{Server, admin_token};

fn connect(server: &Server) -> TcpStream {
    let addr = server.url.strip_prefix("http://").unwrap();
    let stream = TcpStream::connect(addr).unwrap();
    // A deadline for each awaited answer, not a measured window.
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    stream
}

/// Reads one response: `(status, headers lower-cased, body)`.
fn read_response(reader: &mut BufReader<TcpStream>) -> (u16, Vec<(String, String)>, String) {
    let mut line = String::new();
    reader.read_line(&mut line).expect("status line");
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("no status line: {line:?}"))
        .parse()
        .unwrap();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).unwrap();
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').unwrap();
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).unwrap();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

fn post(path: &str, bearer: &str, body: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {bearer}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

const GET_HEALTHZ: &str = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_answers_keep_the_connection_usable() {
    let server = Server::start();
    let body = format!(r#"{{"display_name": "{}"}}"#, "x".repeat(2000));

    // 401 (bad token) then a second request on the same connection.
    let mut stream = connect(&server);
    let requests = format!(
        "{}{GET_HEALTHZ}",
        post("/api/v1/organizations", "not-a-token", &body)
    );
    stream.write_all(requests.as_bytes()).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    assert_eq!(read_response(&mut reader).0, 401);
    let (status, _, text) = read_response(&mut reader);
    assert_eq!(status, 200, "the next request on the connection: {text}");

    // 403 (an M2M token on the management API), then another request.
    let remote = server.remote();
    let (_, created) = common::org_with_client(&remote, "Conn", common::client_input("svc", &["read"])).await;
    let m2m = authgate_core::AuthApi::issue_client_token(
        &remote,
        &created.client.client_id,
        created.plain_secret.expose(),
        None,
    )
    .await
    .unwrap();
    let mut stream = connect(&server);
    let requests = format!(
        "{}{GET_HEALTHZ}",
        post("/api/v1/organizations", m2m.access_token.expose(), &body)
    );
    stream.write_all(requests.as_bytes()).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    assert_eq!(read_response(&mut reader).0, 403);
    assert_eq!(read_response(&mut reader).0, 200);

    // A valid request still works on a connection after an early answer.
    let admin = admin_token(&server).await;
    let mut stream = connect(&server);
    let requests = format!(
        "{}{}",
        post("/api/v1/organizations", "bad", &body),
        post("/api/v1/organizations", &admin, r#"{"display_name": "After"}"#)
    );
    stream.write_all(requests.as_bytes()).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    assert_eq!(read_response(&mut reader).0, 401);
    assert_eq!(read_response(&mut reader).0, 201);
}

/// The whole oversized body is written first, then the answer is read: 413 with
/// `Connection: close`, on the management API and on the token endpoint.
#[test]
fn a_client_that_sends_the_whole_body_first_reads_the_413() {
    let server = Server::start();
    let big = "x".repeat(300 * 1024);
    for request in [
        post("/api/v1/organizations", "not-a-token", &big),
        format!(
            "POST /oauth/token HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: {}\r\n\r\n{big}",
            big.len()
        ),
    ] {
        let mut stream = connect(&server);
        stream
            .write_all(request.as_bytes())
            .expect("the server reads the whole body");
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let (status, headers, _) = read_response(&mut reader);
        assert_eq!(status, 413);
        assert!(
            headers.iter().any(|(k, v)| k == "connection" && v == "close"),
            "{headers:?}"
        );
    }
}

/// Whether a fresh connection gets an answer to `GET /healthz` (false: closed unanswered).
fn healthz_answers(server: &Server) -> bool {
    let mut stream = connect(server);
    if stream.write_all(GET_HEALTHZ.as_bytes()).is_err() {
        return false;
    }
    let mut first = [0u8; 12];
    match stream.read(&mut first) {
        Ok(n) if n > 0 => String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"),
        _ => false,
    }
}

/// One address holds at most `--max-connections-per-address` connections: the next one is
/// closed unanswered; once one of them closes, a new one is served again.
#[test]
fn one_address_cannot_hold_every_connection() {
    let server = Server::start_with(common::Options {
        args: vec!["--max-connections-per-address".into(), "2".into()],
        ..common::Options::default()
    });
    // Two connections, each proven open (served once, kept alive).
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = connect(&server);
        stream.write_all(GET_HEALTHZ.as_bytes()).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        assert_eq!(read_response(&mut reader).0, 200);
        held.push(stream);
    }
    assert!(
        !healthz_answers(&server),
        "a third connection from the same address was served"
    );
    drop(held.pop());
    // The server notices the close asynchronously: wait for that event (bounded).
    let served = (0..200).any(|_| {
        healthz_answers(&server) || {
            std::thread::sleep(Duration::from_millis(50));
            false
        }
    });
    assert!(served, "a slot freed by a closed connection was never reused");
}
