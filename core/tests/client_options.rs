//! `tests/vectors/client_options.json` against the core's client set-up ([`authgate_core::setup`]):
//! the remote options and their defaults are exactly [`RemoteSettings`]'s, the mode names are
//! [`Mode::name`]'s, and the embedded options reach the authority. The Python and Node suites
//! check the same file against their real constructors.

use std::path::Path;

use authgate_core::Secret;
use authgate_core::setup::{Client, DEFAULT_LOCAL_ISSUER, LocalSettings, Mode, RemoteSettings};
use serde_json::{Value, json};

fn vectors() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/client_options.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("client_options.json")).expect("JSON")
}

fn options(doc: &Value, mode: &str) -> Vec<Value> {
    doc[mode]["options"].as_array().expect("options").clone()
}

#[test]
fn remote_options_and_defaults() {
    let doc = vectors();
    assert_eq!(doc["modes"]["remote"], Mode::Remote.name());
    assert_eq!(doc["modes"]["local"], Mode::Embedded.name());

    let defaults = serde_json::to_value(RemoteSettings::default()).unwrap();
    let listed = options(&doc, "remote");
    let mut expected = serde_json::Map::new();
    let mut changed = serde_json::Map::new();
    for option in &listed {
        let snake = option["snake"].as_str().unwrap();
        expected.insert(snake.to_owned(), option["default"].clone());
        changed.insert(snake.to_owned(), option["test_value"].clone());
        assert_ne!(option["default"], option["test_value"], "{snake}");
    }
    assert_eq!(
        defaults,
        Value::Object(expected),
        "the remote options or their defaults differ"
    );

    // The test values are accepted and are what the client reports.
    let settings: RemoteSettings = serde_json::from_value(Value::Object(changed.clone())).unwrap();
    let client = Client::remote(
        "http://127.0.0.1:9",
        "skc_1".into(),
        Secret::new("s".repeat(32)),
        settings,
        "Authgate-Test/0",
        "Rust",
    )
    .unwrap();
    assert_eq!(client.mode, Mode::Remote);
    assert_eq!(
        serde_json::to_value(client.settings.unwrap()).unwrap(),
        Value::Object(changed)
    );
}

#[tokio::test]
async fn local_options_reach_the_authority() {
    let doc = vectors();
    let listed = options(&doc, "local");
    let names: Vec<&str> = listed.iter().map(|o| o["snake"].as_str().unwrap()).collect();
    assert_eq!(names, ["issuer", "key_pepper", "master_key"]);
    let issuer = &listed[0];
    assert_eq!(issuer["fallback"], json!(DEFAULT_LOCAL_ISSUER));

    let dir = tempfile::tempdir().unwrap();
    let url = |name: &str| format!("sqlite://{}", dir.path().join(name).display());
    let settings = LocalSettings {
        issuer: issuer["test_value"].as_str().map(str::to_owned),
        ..LocalSettings::default()
    };
    let client = Client::embedded(&url("issuer.db"), &settings).await.unwrap();
    assert_eq!(client.mode, Mode::Embedded);
    assert_eq!(json!(client.issuer), issuer["test_value"]);

    // A too-short pepper or master key is refused by the authority: the option reached it.
    for (i, option) in listed.iter().enumerate().skip(1) {
        let short = Secret::new(option["test_value"].as_str().unwrap());
        let mut settings = LocalSettings::default();
        if i == 1 {
            settings.key_pepper = Some(short);
        } else {
            settings.master_key = Some(short);
        }
        let err = Client::embedded(&url(&format!("short{i}.db")), &settings)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "invalid_argument", "{}: {err}", option["snake"]);
    }
}
