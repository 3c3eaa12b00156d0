//! Runs every case of the shared vectors in `tests/vectors/*.json` (see its README) through
//! the validator: synchronously and asynchronously, with the verified-token cache on (twice, so
//! the second run is a cache hit) and off.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use authgate_core::jwt::{
    Algorithm, Claims, FixedClock, JwtValidator, KeySource, ScopeMatch, SyncValidation, ValidatorConfig,
};
use authgate_core::{Error, Result};
use serde_json::Value;

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|s| s.as_str().expect("string").to_owned())
        .collect()
}

fn validator(case: &Value, cache: bool) -> JwtValidator {
    let o = &case["options"];
    let mut config = ValidatorConfig::new(KeySource::StaticJson(case["jwks"].to_string()));
    config.issuer = o["issuer"].as_str().map(str::to_owned);
    config.audiences = strings(&o["audiences"]);
    config.algorithms = strings(&o["algorithms"])
        .iter()
        .map(|a| a.parse::<Algorithm>().expect("algorithm"))
        .collect();
    config.leeway = Duration::from_secs(o["leeway"].as_u64().expect("leeway"));
    config.max_token_size = o["max_token_size"].as_u64().expect("max_token_size") as usize;
    config.required_typ = o["typ"].as_str().map(str::to_owned);
    config.scope_claims = strings(&o["scope_claims"]);
    config.required_scopes = strings(&o["required_scopes"]);
    config.scope_match = match o["scope_match"].as_str().expect("scope_match") {
        "all" => ScopeMatch::All,
        "any" => ScopeMatch::Any,
        other => panic!("scope_match {other}"),
    };
    config.clock = Arc::new(FixedClock::new(o["now"].as_i64().expect("now")));
    config.token_cache_capacity = if cache { 100 } else { 0 };
    JwtValidator::new(config).expect("validator")
}

fn check(file: &str, case: &Value, how: &str, outcome: &Result<Claims>) -> Option<String> {
    let name = case["name"].as_str().unwrap_or("?");
    let expected = &case["expected"];
    let fail = |msg: String| Some(format!("{file} / {name} ({how}): {msg}"));
    match (expected["valid"].as_bool().expect("valid"), outcome) {
        (true, Ok(claims)) => {
            for (k, v) in expected["claims"].as_object().expect("claims") {
                if claims.get(k) != Some(v) {
                    return fail(format!("claim {k}: expected {v}, got {:?}", claims.get(k)));
                }
            }
            let scopes = strings(&expected["scopes"]);
            if claims.scopes() != scopes.as_slice() {
                return fail(format!("scopes: expected {scopes:?}, got {:?}", claims.scopes()));
            }
            None
        }
        (true, Err(e)) => fail(format!("expected valid, got {} ({e})", e.code())),
        (false, Ok(claims)) => fail(format!(
            "expected {}, got valid claims {claims:?}",
            expected["error"]
        )),
        (false, Err(e)) => {
            if e.code() != expected["error"].as_str().expect("error") {
                return fail(format!("expected {}, got {} ({e})", expected["error"], e.code()));
            }
            if u64::from(e.http_status()) != expected["status"].as_u64().expect("status") {
                return fail(format!(
                    "expected status {}, got {}",
                    expected["status"],
                    e.http_status()
                ));
            }
            if let Some(missing) = expected.get("missing") {
                let Error::InsufficientScope { missing: got } = e else {
                    return fail(format!("expected insufficient_scope, got {e:?}"));
                };
                if *got != strings(missing) {
                    return fail(format!("missing: expected {missing}, got {got:?}"));
                }
            }
            None
        }
    }
}

fn vectors_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors")
}

/// `index.json`: the exact vector files and their case counts (written by `gen_vectors`).
fn index() -> Vec<(String, usize)> {
    let path = vectors_dir().join("index.json");
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read tests/vectors/index.json"))
            .expect("index.json is JSON");
    doc["files"]
        .as_object()
        .expect("index.json: files")
        .iter()
        .map(|(file, n)| (file.clone(), n.as_u64().expect("a case count") as usize))
        .collect()
}

/// Every case of every file the index lists; each file must exist and hold exactly the number
/// of cases the index gives.
fn load() -> Vec<(String, Value)> {
    let index = index();
    assert!(!index.is_empty(), "index.json lists no vector files");
    let mut cases = Vec::new();
    for (file, count) in index {
        let path = vectors_dir().join(&file);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file} (listed in index.json): {e}"));
        let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        let in_file = doc["cases"].as_array().expect("cases");
        assert_eq!(in_file.len(), count, "{file}: index.json says {count} cases");
        for case in in_file {
            cases.push((file.clone(), case.clone()));
        }
    }
    cases
}

#[test]
fn the_index_lists_every_vector_file() {
    let listed: Vec<String> = index().into_iter().map(|(f, _)| f).collect();
    // The JWT vector files are the ones with `"generated_by": "core/examples/gen_vectors.rs"`
    // and cases (other suites' files in the directory are not JWT vectors).
    let mut generated: Vec<String> = std::fs::read_dir(vectors_dir())
        .expect("tests/vectors")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| {
            let doc: Value =
                serde_json::from_str(&std::fs::read_to_string(p).expect("read")).unwrap_or(Value::Null);
            doc["generated_by"] == "core/examples/gen_vectors.rs" && doc.get("cases").is_some()
        })
        .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    generated.sort();
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(sorted, generated, "index.json against the vector files on disk");
    assert_eq!(load().len(), index().iter().map(|(_, n)| n).sum::<usize>());
}

#[tokio::test]
async fn every_vector_gives_its_expected_outcome() {
    let cases = load();
    let mut failures = Vec::new();
    let (mut valid, mut invalid) = (0, 0);
    for (file, case) in &cases {
        let token = case["token"].as_str().expect("token");
        if case["expected"]["valid"].as_bool().expect("valid") {
            valid += 1;
        } else {
            invalid += 1;
        }
        for cache in [false, true] {
            let v = validator(case, cache);
            let rounds = if cache { 2 } else { 1 };
            for round in 0..rounds {
                let how = format!("sync, cache {cache}, round {round}");
                match v.try_validate(token) {
                    SyncValidation::Done(outcome) => failures.extend(check(file, case, &how, &outcome)),
                    SyncValidation::NeedsFetch => {
                        failures.push(format!("{file} / {case}: static keys needed a fetch"))
                    }
                }
            }
            let outcome = v.validate(token).await;
            failures.extend(check(file, case, &format!("async, cache {cache}"), &outcome));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(valid >= 25 && invalid >= 60, "valid {valid}, invalid {invalid}");
}

#[test]
fn vector_files_are_self_describing() {
    for (file, case) in load() {
        for field in ["name", "description", "jwks", "token", "options", "expected"] {
            assert!(case.get(field).is_some(), "{file}: a case lacks {field}");
        }
        for option in [
            "issuer",
            "audiences",
            "algorithms",
            "leeway",
            "now",
            "max_token_size",
            "typ",
            "scope_claims",
            "required_scopes",
            "scope_match",
        ] {
            assert!(
                case["options"].get(option).is_some(),
                "{file} / {}: options lack {option}",
                case["name"]
            );
        }
    }
}
