//! `tests/vectors/network.json` against the core's network policy (`policy::network`): the rule
//! the server, the embedded authority and the Flask, FastAPI and Express adapters all use.

use std::net::IpAddr;
use std::path::Path;

use authgate_core::policy::network::{self, IpNet};
use serde_json::Value;

fn vectors() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/network.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("network.json")).expect("JSON")
}

fn text(v: &Value) -> &str {
    v.as_str().expect("a string")
}

#[test]
fn networks_parse_as_the_vectors_say() {
    let doc = vectors();
    for case in doc["networks"].as_array().unwrap() {
        let input = text(&case["input"]);
        match input.parse::<IpNet>() {
            Ok(net) => {
                assert!(
                    case["error"].is_null(),
                    "{input:?} parsed as {net}, expected an error"
                );
                assert_eq!(net.to_string(), text(&case["canonical"]), "{input:?}");
            }
            Err(message) => {
                assert_eq!(case["error"], true, "{input:?} refused: {message}");
                if let Some(hint) = case["error_mentions"].as_str() {
                    assert!(
                        message.contains(hint),
                        "{input:?}: {message:?} does not name {hint}"
                    );
                }
            }
        }
    }
}

#[test]
fn containment_as_the_vectors_say() {
    let doc = vectors();
    for case in doc["contains"].as_array().unwrap() {
        let net: IpNet = text(&case["network"]).parse().unwrap();
        let ip: IpAddr = text(&case["address"]).parse().unwrap();
        assert_eq!(net.contains(ip), case["expected"] == true, "{case}");
    }
}

#[test]
fn client_addresses_as_the_vectors_say() {
    let doc = vectors();
    let cases = doc["client_address"].as_array().unwrap();
    assert!(cases.len() >= 10, "the vector file lost cases");
    for case in cases {
        let peer: IpAddr = text(&case["peer"]).parse().unwrap();
        let header: Vec<&str> = case["forwarded_for"]
            .as_array()
            .unwrap()
            .iter()
            .map(text)
            .collect();
        let trusted: Vec<&str> = case["trusted_proxies"]
            .as_array()
            .unwrap()
            .iter()
            .map(text)
            .collect();
        let trusted = network::parse_networks(&trusted).unwrap();
        let got = network::client_address(peer, header, &trusted);
        assert_eq!(
            got.to_string(),
            text(&case["expected"]),
            "{}",
            case["description"]
        );
    }
}
