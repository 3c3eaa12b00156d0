//! The remote client's transport rules, against loopback sockets: SDK headers, bounded retries
//! with backoff on unreachable servers, URL checks.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use authgate_core::remote::{RemoteClient, RemoteOptions};
use authgate_core::{AuthApi, Error, Secret};

fn options() -> RemoteOptions {
    let mut o = RemoteOptions::default();
    o.max_retries = 2;
    o.retry_backoff = Duration::from_millis(40);
    o.timeout = Duration::from_secs(5);
    o
}

#[tokio::test]
async fn sends_sdk_headers() {
    // A one-shot HTTP responder that records the request head.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).unwrap();
            head.extend_from_slice(&buf[..n]);
        }
        let body = r#"{"keys":[]}"#;
        write!(
            stream,
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        String::from_utf8(head).unwrap().to_ascii_lowercase()
    });
    let client = RemoteClient::new(&url, "skc_1", Secret::new("s".repeat(32)), options()).unwrap();
    assert!(client.jwks().await.unwrap().keys.is_empty());
    let head = server.join().unwrap();
    assert!(head.starts_with("get /keys http/1.1"), "{head}");
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        head.contains(&format!("x-sdk-version: authgate-rust/{version}")),
        "{head}"
    );
    assert!(
        head.contains(&format!("user-agent: authgate-rust/{version} rust (")),
        "{head}"
    );
    assert!(head.contains("x-api-version: "), "{head}");
}

#[tokio::test]
async fn unreachable_server_is_unavailable_after_bounded_retries() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let client = RemoteClient::new(
        &format!("http://127.0.0.1:{port}"),
        "skc_1",
        Secret::new("s".repeat(32)),
        options(),
    )
    .unwrap();
    let start = Instant::now();
    let err = client.jwks().await.unwrap_err();
    let elapsed = start.elapsed();
    assert!(matches!(err, Error::Unavailable(_)), "{err:?}");
    // Two retries: at least 50 % of 40 ms + 50 % of 80 ms of backoff (a lower bound, which a
    // slow machine cannot break; how fast it gives up is for benchmarks, not tests).
    assert!(elapsed >= Duration::from_millis(60), "{elapsed:?}");
    // An authenticated call fails the same way (the token request cannot be sent).
    assert!(matches!(
        client.get_organization("org_1").await.unwrap_err(),
        Error::Unavailable(_)
    ));
}

#[test]
fn refuses_bad_environment_urls_and_arguments() {
    let s = || Secret::new("s".repeat(32));
    for url in [
        "http://auth.example.com",
        "ftp://x",
        "not a url",
        "https://u:p@x.test",
        "https://x.test/?q=1",
    ] {
        assert!(
            matches!(
                RemoteClient::new(url, "skc_1", s(), options()),
                Err(Error::InvalidArgument { .. })
            ),
            "{url}"
        );
    }
    assert!(matches!(
        RemoteClient::new("https://x.test", "", s(), options()),
        Err(Error::InvalidArgument { .. })
    ));
    let client = RemoteClient::new("https://x.test/", "skc_1", s(), options()).unwrap();
    assert_eq!(client.env_url(), "https://x.test");
    assert!(!format!("{client:?}").contains(&"s".repeat(32)));
}

#[tokio::test]
async fn malformed_keys_fail_before_any_network_access() {
    // Nothing listens on port 9 (discard); a network attempt would be Unavailable, not a
    // validation failure.
    let client = RemoteClient::new(
        "http://127.0.0.1:9",
        "skc_1",
        Secret::new("s".repeat(32)),
        options(),
    )
    .unwrap();
    for key in ["", "apit_123", "has space", &"x".repeat(5000)] {
        assert_eq!(
            client.validate_token(key).await.unwrap_err(),
            Error::TokenValidationFailed
        );
    }
}
