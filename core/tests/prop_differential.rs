//! Differential testing of the JWT validator against `jsonwebtoken` (issue #12, item 10): every
//! JWT vector of `tests/vectors` and random mutations of valid tokens go through both, and any
//! disagreement on accept/reject that is not listed below with its reason fails the test.
//!
//! What is compared is the *token* verdict: our `insufficient_scope` counts as accepted (the
//! token verified; `jsonwebtoken` has no scopes). `jsonwebtoken` has no injectable clock, so for
//! the vectors (fixed `now`) its own `exp`/`nbf` checks are off and the same arithmetic is applied
//! to the claims it decoded, with the vector's `now` and leeway (`exp < now - leeway` expired,
//! `nbf > now + leeway` not yet valid — its rule). Mutations use tokens valid at the real time.
//!
//! `PROPTEST_CASES` sets the number of mutations (see `prop_parsers.rs`); `DIFF_DEBUG=1` prints
//! why `jsonwebtoken` refused each token.

mod support;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use authgate_core::jwt::{Algorithm, FixedClock, JwtValidator, KeySource, SyncValidation, ValidatorConfig};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{DecodingKey, Validation};
use proptest::prelude::*;
use serde_json::{Value, json};
use support::sign::sign;
use support::{AUDIENCE, ISSUER, key};

/// Vector cases on which the two are known to disagree, and why. Each is a deliberate stricter
/// (or, where noted, different) rule of ours; a case not listed here must agree.
const KNOWN: &[(&str, &str)] = &[
    (
        "algorithms.json/alg_jwk_alg_mismatch",
        "a JWK's `alg` restricts the key to that algorithm; jsonwebtoken's from_jwk ignores it",
    ),
    (
        "algorithms.json/crit_b64",
        "RFC 7515 §4.1.11: a `crit` extension we do not implement is refused; jsonwebtoken ignores `crit`",
    ),
    (
        "algorithms.json/crit_empty",
        "an empty `crit` is invalid (RFC 7515 §4.1.11); jsonwebtoken ignores `crit`",
    ),
    (
        "algorithms.json/crit_unknown",
        "unknown `crit` extension refused; jsonwebtoken ignores `crit`",
    ),
    (
        "claims.json/aud_array_with_number",
        "`aud` must be a string or strings even when audiences are not checked; jsonwebtoken then ignores `aud`",
    ),
    (
        "claims.json/aud_number",
        "`aud` must be a string or strings even when audiences are not checked; jsonwebtoken then ignores `aud`",
    ),
    (
        "claims.json/audience_missing",
        "with audiences configured a token without `aud` is refused; jsonwebtoken requires `aud` only when listed in required_spec_claims",
    ),
    (
        "claims.json/issuer_missing",
        "with an issuer configured a token without `iss` is refused; jsonwebtoken requires `iss` only when listed in required_spec_claims",
    ),
    (
        "claims.json/expired_at_leeway_boundary",
        "RFC 7519 §4.1.4: expired ON or after exp (+ leeway); jsonwebtoken accepts at exactly exp + leeway",
    ),
    (
        "claims.json/expired_no_leeway",
        "the same boundary with leeway 0: refused at now == exp; jsonwebtoken accepts",
    ),
    (
        "claims.json/iat_string",
        "registered claims of the wrong JSON type are refused; jsonwebtoken does not read `iat`",
    ),
    (
        "claims.json/iss_number",
        "registered claims of the wrong JSON type are refused even when `iss` is not checked",
    ),
    (
        "claims.json/nbf_string",
        "a string `nbf` is refused; jsonwebtoken treats an unparsable `nbf` as absent",
    ),
    (
        "claims.json/typ_mismatch",
        "a required `typ` (RFC 9068 at+jwt) is configured; jsonwebtoken does not check `typ`",
    ),
    (
        "claims.json/typ_missing",
        "a required `typ` is configured and the token has none; jsonwebtoken does not check `typ`",
    ),
    (
        "key_selection.json/encryption_key_only",
        "a JWK with use=enc is not a verification key; jsonwebtoken's from_jwk ignores `use`",
    ),
    (
        "key_selection.json/key_ops_without_verify",
        "a JWK whose key_ops lacks verify is not used; jsonwebtoken ignores key_ops",
    ),
    (
        "key_selection.json/kidless_two_candidate_keys",
        "a kid-less token matching two keys is refused as ambiguous; this harness lets jsonwebtoken try each key",
    ),
    (
        "structure.json/oversize",
        "tokens over max_token_size (8 KiB) are refused before any decoding; jsonwebtoken has no size limit",
    ),
    (
        "structure.json/oversize_configured_limit",
        "a configured max_token_size; jsonwebtoken has no size limit",
    ),
    (
        "valid.json/numeric_dates_as_fractions",
        "RFC 7519 §2 NumericDate may be fractional; jsonwebtoken reads exp as u64 and treats 1.5e9+0.5 as missing",
    ),
];

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

fn vectors() -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors");
    let index: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("index.json")).expect("index.json"))
            .expect("JSON");
    let files: Vec<String> = match &index["files"] {
        Value::Array(a) => a
            .iter()
            .filter_map(|f| f["file"].as_str().or(f.as_str()).map(str::to_owned))
            .collect(),
        Value::Object(o) => o.keys().cloned().collect(),
        _ => panic!("index.json has no files"),
    };
    assert!(!files.is_empty(), "no vector files in index.json");
    let mut out = Vec::new();
    for file in files {
        let doc: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(&file)).expect("vector file"))
                .expect("JSON");
        for case in doc["cases"].as_array().expect("cases") {
            out.push((
                format!("{file}/{}", case["name"].as_str().unwrap_or("?")),
                case.clone(),
            ));
        }
    }
    out
}

/// Our verdict for a vector case (its options, its clock): accepted = verified.
fn ours(case: &Value) -> bool {
    let o = &case["options"];
    let mut config = ValidatorConfig::new(KeySource::StaticJson(case["jwks"].to_string()));
    config.issuer = o["issuer"].as_str().map(str::to_owned);
    config.audiences = strings(&o["audiences"]);
    config.algorithms = strings(&o["algorithms"])
        .iter()
        .map(|a| a.parse::<Algorithm>().expect("algorithm"))
        .collect();
    config.leeway = Duration::from_secs(o["leeway"].as_u64().unwrap_or(60));
    config.max_token_size = o["max_token_size"].as_u64().unwrap_or(8192) as usize;
    config.required_typ = o["typ"].as_str().map(str::to_owned);
    config.scope_claims = strings(&o["scope_claims"]);
    config.required_scopes = strings(&o["required_scopes"]);
    config.clock = Arc::new(FixedClock::new(o["now"].as_i64().expect("now")));
    config.token_cache_capacity = 0;
    let v = JwtValidator::new(config).expect("validator");
    match v.try_validate(case["token"].as_str().expect("token")) {
        SyncValidation::Done(Ok(_)) => true,
        SyncValidation::Done(Err(e)) => e.code() == "insufficient_scope",
        SyncValidation::NeedsFetch => panic!("static keys never fetch"),
    }
}

/// `jsonwebtoken`'s verdict on `token` with the keys of `jwks` (every JWK it can read; the one
/// named by `kid`, or each in turn for a kid-less token).
fn theirs(
    token: &str,
    jwks: &Value,
    algorithms: &[String],
    issuer: Option<&str>,
    audiences: &[String],
    leeway: u64,
    now: Option<i64>,
) -> bool {
    let Ok(header) = jsonwebtoken::decode_header(token) else {
        return false;
    };
    let keys: Vec<Jwk> = jwks["keys"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
                .collect()
        })
        .unwrap_or_default();
    let set = JwkSet { keys };
    let candidates: Vec<&Jwk> = match &header.kid {
        Some(kid) => set
            .keys
            .iter()
            .filter(|k| k.common.key_id.as_deref() == Some(kid))
            .collect(),
        None => set.keys.iter().collect(),
    };
    // The allowlist check, then only the token's algorithm: jsonwebtoken refuses a validation
    // whose algorithms span several key families.
    let allowed: Vec<jsonwebtoken::Algorithm> = algorithms.iter().filter_map(|a| a.parse().ok()).collect();
    if !allowed.contains(&header.alg) {
        return false;
    }
    let mut validation = Validation::new(header.alg);
    validation.leeway = leeway;
    validation.set_required_spec_claims(&["exp"]);
    match issuer {
        Some(i) => validation.set_issuer(&[i]),
        None => validation.iss = None,
    }
    if audiences.is_empty() {
        validation.validate_aud = false;
    } else {
        validation.set_audience(audiences);
    }
    if now.is_some() {
        validation.validate_exp = false;
        validation.validate_nbf = false;
    }
    candidates.iter().any(|jwk| {
        let key = match DecodingKey::from_jwk(jwk) {
            Ok(key) => key,
            Err(e) => {
                if std::env::var("DIFF_DEBUG").is_ok() {
                    eprintln!("jsonwebtoken key: {e:?} {jwk:?}");
                }
                return false;
            }
        };
        let data = match jsonwebtoken::decode::<Value>(token, &key, &validation) {
            Ok(data) => data,
            Err(e) => {
                if std::env::var("DIFF_DEBUG").is_ok() {
                    eprintln!("jsonwebtoken: {e:?}");
                }
                return false;
            }
        };
        match now {
            None => true,
            Some(now) => {
                let leeway = leeway as i64;
                let exp_ok = data.claims["exp"]
                    .as_u64()
                    .is_some_and(|exp| exp as i64 >= now - leeway);
                let nbf_ok = match data.claims.get("nbf") {
                    None => true,
                    Some(nbf) => nbf.as_u64().is_none_or(|nbf| nbf as i64 <= now + leeway),
                };
                exp_ok && nbf_ok
            }
        }
    })
}

#[test]
fn every_jwt_vector_gets_the_same_verdict_from_jsonwebtoken() {
    let known: BTreeMap<&str, &str> = KNOWN.iter().copied().collect();
    let mut unexplained = Vec::new();
    let mut used = HashSet::new();
    let cases = vectors();
    assert!(cases.len() > 50, "only {} vector cases", cases.len());
    for (name, case) in &cases {
        let o = &case["options"];
        let a = ours(case);
        let b = theirs(
            case["token"].as_str().expect("token"),
            &case["jwks"],
            &strings(&o["algorithms"]),
            o["issuer"].as_str(),
            &strings(&o["audiences"]),
            o["leeway"].as_u64().unwrap_or(60),
            o["now"].as_i64(),
        );
        if a != b {
            match known.get(name.as_str()) {
                Some(_) => {
                    used.insert(name.clone());
                }
                None => unexplained.push(format!("{name}: ours {a}, jsonwebtoken {b}")),
            }
        }
    }
    let stale: Vec<&str> = known.keys().copied().filter(|k| !used.contains(*k)).collect();
    assert!(
        unexplained.is_empty() && stale.is_empty(),
        "unexplained disagreements:\n{}\nlisted but now agreeing: {stale:?}",
        unexplained.join("\n")
    );
}

// --- random mutations --------------------------------------------------------------------------

fn now() -> i64 {
    support::now()
}

fn jwks_doc() -> Value {
    let mut doc = support::jwks(&[("rsa-a", "a")]);
    let keys = doc["keys"].as_array_mut().expect("keys");
    keys.push(key("ec-p256").public_jwk(Some("ec"), None));
    keys.push(key("ed25519").public_jwk(Some("ed"), None));
    doc
}

fn tokens() -> &'static [String] {
    static T: OnceLock<Vec<String>> = OnceLock::new();
    T.get_or_init(|| {
        let claims = json!({"iss": ISSUER, "sub": "m2morg_1", "aud": [AUDIENCE],
                            "iat": now(), "nbf": now() - 5, "exp": now() + 3600});
        vec![
            sign(key("rsa-a"), "RS256", Some("a"), json!({}), &claims),
            sign(key("rsa-a"), "PS256", Some("a"), json!({}), &claims),
            sign(key("ec-p256"), "ES256", Some("ec"), json!({}), &claims),
            sign(key("ed25519"), "EdDSA", Some("ed"), json!({}), &claims),
        ]
    })
}

fn our_validator() -> &'static JwtValidator {
    static V: OnceLock<JwtValidator> = OnceLock::new();
    V.get_or_init(|| {
        let mut c = ValidatorConfig::new(KeySource::StaticJson(jwks_doc().to_string()))
            .with_issuer(ISSUER)
            .with_audience(AUDIENCE);
        c.token_cache_capacity = 0;
        JwtValidator::new(c).expect("validator")
    })
}

const ALGS: [&str; 4] = ["RS256", "PS256", "ES256", "EdDSA"];

fn flip(token: &str, edits: &[(usize, u8)]) -> String {
    let mut bytes = token.as_bytes().to_vec();
    for &(i, b) in edits {
        let n = bytes.len();
        bytes[i % n] = b;
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

proptest! {
    /// A mutated token: both refuse it, unless it is the original, which both accept.
    #[test]
    fn mutations_agree(which in 0usize..4,
                       edits in prop::collection::vec((any::<usize>(), prop_oneof![
                           prop::sample::select(b"ABCDEFabcdef0123456789-_.=+/".to_vec()), 32u8..127]), 1..4)) {
        let original = &tokens()[which];
        let mutated = flip(original, &edits);
        let a = matches!(our_validator().try_validate(&mutated), SyncValidation::Done(Ok(_)));
        let algs: Vec<String> = ALGS.iter().map(|s| (*s).to_owned()).collect();
        let b = theirs(&mutated, &jwks_doc(), &algs, Some(ISSUER), &[AUDIENCE.to_owned()], 60, None);
        prop_assert_eq!(a, &mutated == original, "ours on {:?}", mutated);
        prop_assert_eq!(a, b, "disagreement on {:?}", mutated);
    }
}

#[test]
fn the_unmutated_tokens_are_accepted_by_both() {
    let algs: Vec<String> = ALGS.iter().map(|s| (*s).to_owned()).collect();
    for (alg, token) in ALGS.iter().zip(tokens()) {
        assert!(
            matches!(our_validator().try_validate(token), SyncValidation::Done(Ok(_))),
            "{alg}: ours"
        );
        assert!(
            theirs(
                token,
                &jwks_doc(),
                &algs,
                Some(ISSUER),
                &[AUDIENCE.to_owned()],
                60,
                None
            ),
            "{alg}: jsonwebtoken"
        );
    }
}
