//! `tests/vectors/errors.json` against [`Error::code`], [`Error::http_status`] and
//! [`Error::grpc_code`]: one instance of every variant (and every [`TokenError`]) must be listed
//! with exactly its statuses, and the file must list nothing else. The Python and Node suites
//! check the exception classes of the same file.

use std::collections::BTreeMap;
use std::path::Path;

use authgate_core::{Error, TokenError};
use serde_json::Value;

/// Differences the file already records ahead of a change made on another branch; each entry is
/// `(code, "grpc_status", value the code gives before that change)`. Remove an entry once the
/// change is merged.
const PENDING: &[(&str, &str, i64)] = &[
    // The `wire` branch answers an API key that does not validate with NOT_FOUND (5), as
    // Scalekit does; errors.json already says 5.
    ("token_validation_failed", "grpc_status", 16),
];

fn every_error() -> Vec<Error> {
    let mut all = vec![
        Error::invalid("field", "bad"),
        Error::not_found("organization", "org_1"),
        Error::AlreadyExists {
            resource: "organization",
            message: "external_id".into(),
        },
        Error::FailedPrecondition("x".into()),
        Error::TokenValidationFailed,
        Error::InsufficientScope {
            missing: vec!["admin".into()],
        },
        Error::KeysUnavailable("down".into()),
        Error::InvalidClient,
        Error::InvalidScope("x".into()),
        Error::OAuth {
            error: "temporarily_unavailable".into(),
            description: None,
            status: 503,
        },
        Error::Unauthenticated("x".into()),
        Error::PermissionDenied("x".into()),
        Error::ResourceExhausted("x".into()),
        Error::Unavailable("x".into()),
        Error::Timeout("x".into()),
        Error::Store("x".into()),
        Error::Server {
            http_status: 404,
            error_code: "not_found".into(),
            message: "x".into(),
        },
        Error::Internal("x".into()),
    ];
    for reason in [
        TokenError::Malformed,
        TokenError::TooLarge,
        TokenError::AlgorithmNotAllowed,
        TokenError::UnknownKeyId,
        TokenError::InvalidSignature,
        TokenError::UnsupportedCritical,
        TokenError::InvalidType,
        TokenError::MissingExpiry,
        TokenError::InvalidClaimType("exp"),
        TokenError::Expired,
        TokenError::NotYetValid,
        TokenError::InvalidIssuer,
        TokenError::InvalidAudience,
    ] {
        all.push(Error::InvalidToken(reason));
    }
    all
}

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
        for (field, actual) in [
            ("http_status", i64::from(err.http_status())),
            ("grpc_status", i64::from(err.grpc_code())),
        ] {
            let expected = entry[field].as_i64().expect(field);
            let pending = PENDING
                .iter()
                .any(|(c, f, before)| *c == code && *f == field && *before == actual);
            assert!(
                expected == actual || pending,
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
