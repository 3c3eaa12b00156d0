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

fn load() -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/vectors")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json") && !p.ends_with("keys.json"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for path in files {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("JSON");
        // The JWT vectors only (not keys.json, nor the middleware / errors / options vectors).
        if doc["generated_by"] != "core/examples/gen_vectors.rs" {
            continue;
        }
        let file = path.file_name().expect("name").to_string_lossy().into_owned();
        for case in doc["cases"].as_array().expect("cases") {
            cases.push((file.clone(), case.clone()));
        }
    }
    cases
}

#[tokio::test]
async fn every_vector_gives_its_expected_outcome() {
    let cases = load();
    assert!(cases.len() >= 90, "only {} vector cases found", cases.len());
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
