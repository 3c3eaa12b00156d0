//! `tests/vectors/errors.json` against `Error::code`, `Error::http_status` and
//! `Error::grpc_code`: one instance of every variant (and every `TokenError`) must be listed
//! with exactly its statuses, and the file must list nothing else. The Python and Node suites
//! check the exception classes of the same file.

use std::collections::BTreeMap;
use std::path::Path;

use authgate_core::Error;
use authgate_core::wire::error::every_error;
use serde_json::Value;

#[test]
fn errors_json_matches_the_core() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/errors.json");
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("errors.json")).expect("JSON");
    let listed: BTreeMap<String, Value> = doc["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| (e["code"].as_str().expect("code").to_owned(), e.clone()))
        .collect();
    assert_eq!(
        listed.len(),
        doc["errors"].as_array().unwrap().len(),
        "a code is listed twice"
    );

    let mut seen = Vec::new();
    for err in every_error() {
        let code = err.code();
        let entry = listed
            .get(code)
            .unwrap_or_else(|| panic!("errors.json does not list {code}"));
        seen.push(code);
        // Errors relayed from a remote service carry its HTTP status; errors.json shows them for
        // one status, so the example is rebuilt with that status.
        let listed_status = entry["http_status"].as_u64().expect("http_status") as u16;
        let err = match err {
            Error::OAuth {
                error, description, ..
            } => Error::OAuth {
                error,
                description,
                status: listed_status,
            },
            Error::Server {
                error_code, message, ..
            } => Error::Server {
                http_status: listed_status,
                error_code,
                message,
            },
            other => other,
        };
        for (field, actual) in [
            ("http_status", i64::from(err.http_status())),
            ("grpc_status", i64::from(err.grpc_code())),
        ] {
            let expected = entry[field].as_i64().expect(field);
            assert!(
                expected == actual,
                "{code}: {field} is {actual} in the core, {expected} in errors.json"
            );
        }
        for class in ["python_class", "node_class"] {
            let name = entry[class].as_str().unwrap_or_default();
            assert!(
                name.starts_with("Scalekit") && name.ends_with("Exception"),
                "{code}: {class} {name:?}"
            );
        }
    }
    let extra: Vec<_> = listed.keys().filter(|c| !seen.contains(&c.as_str())).collect();
    assert!(
        extra.is_empty(),
        "errors.json lists codes the core does not have: {extra:?}"
    );
}
