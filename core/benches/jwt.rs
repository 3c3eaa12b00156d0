//! JWT verification, side by side in one run: the authgate validator (verified-token cache off)
//! against `jsonwebtoken::decode` with a pre-built `DecodingKey` and the same checks (signature,
//! `exp`, `nbf`, `iss`, `aud`), for RS256, ES256 and EdDSA; plus the verified-token cache hit.
//!
//! ```text
//! cargo bench -p authgate-core --bench jwt
//! ```
//!
//! After the Criterion output, a table prints the medians and the ratios (authgate time divided by
//! jsonwebtoken time: below 1 means faster).

#[path = "../tests/support/sign.rs"]
mod sign;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use authgate_core::jwt::{JwtValidator, KeySource, SyncValidation, ValidatorConfig};
use criterion::Criterion;
use jsonwebtoken::{DecodingKey, Validation, decode};
use serde_json::{Map, Value, json};

const ISSUER: &str = "https://auth.authgate.test";
const AUDIENCE: &str = "https://api.authgate.test";

struct Case {
    name: &'static str,
    alg: &'static str,
    key: &'static str,
    kid: &'static str,
}

const CASES: &[Case] = &[
    Case {
        name: "rs256",
        alg: "RS256",
        key: "rsa-a",
        kid: "snk_rsa",
    },
    Case {
        name: "es256",
        alg: "ES256",
        key: "ec-p256",
        kid: "snk_ec",
    },
    Case {
        name: "eddsa",
        alg: "EdDSA",
        key: "ed25519",
        kid: "snk_ed",
    },
];

/// Claims shaped like an authgate / Scalekit M2M access token.
fn claims() -> Value {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    json!({
        "iss": ISSUER,
        "sub": "m2morg_68315758685323697",
        "client_id": "m2morg_68315758685323697",
        "oid": "org_59615193906282635",
        "aud": [AUDIENCE],
        "scopes": ["orders:read", "orders:write"],
        "scope": "orders:read orders:write",
        "custom_claims": {"workspace": "wks_12345", "tier": "gold"},
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "jti": "tkn_68315758685323698",
    })
}

fn validator(jwks: &Value, cache: bool) -> JwtValidator {
    let mut config = ValidatorConfig::new(KeySource::StaticJson(jwks.to_string()))
        .with_issuer(ISSUER)
        .with_audience(AUDIENCE);
    config.token_cache_capacity = if cache { 10_000 } else { 0 };
    JwtValidator::new(config).expect("validator")
}

fn validate(v: &JwtValidator, token: &str) -> usize {
    match v.try_validate(token) {
        SyncValidation::Done(Ok(claims)) => claims.scopes().len(),
        other => panic!("{other:?}"),
    }
}

fn decoding_key(jwk: &Value) -> DecodingKey {
    let s = |k: &str| jwk[k].as_str().expect("jwk member");
    match s("kty") {
        "RSA" => DecodingKey::from_rsa_components(s("n"), s("e")),
        "EC" => DecodingKey::from_ec_components(s("x"), s("y")),
        _ => DecodingKey::from_ed_components(s("x")),
    }
    .expect("decoding key")
}

fn benches(c: &mut Criterion) {
    let keys = sign::load_keys();
    let claims = claims();
    let mut all_jwks = Vec::new();
    for case in CASES {
        all_jwks.push(keys[case.key].public_jwk(Some(case.kid), Some(case.alg)));
    }
    let jwks = json!({ "keys": all_jwks });
    let uncached = validator(&jwks, false);
    let cached = validator(&jwks, true);

    for case in CASES {
        let key = &keys[case.key];
        let token = sign::sign(key, case.alg, Some(case.kid), json!({}), &claims);
        let alg: jsonwebtoken::Algorithm = case.alg.parse().expect("alg");
        let dkey = decoding_key(&key.public_jwk(None, None));
        let mut validation = Validation::new(alg);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.validate_nbf = true;
        // Both accept the token before measuring.
        decode::<Map<String, Value>>(&token, &dkey, &validation).expect("jsonwebtoken accepts");
        validate(&uncached, &token);

        let mut group = c.benchmark_group(case.name);
        group.bench_function("authgate", |b| b.iter(|| validate(&uncached, black_box(&token))));
        group.bench_function("jsonwebtoken", |b| {
            b.iter(|| decode::<Map<String, Value>>(black_box(&token), &dkey, &validation).expect("valid"))
        });
        group.finish();
    }

    let token = sign::sign(&keys["rsa-a"], "RS256", Some("snk_rsa"), json!({}), &claims);
    validate(&cached, &token);
    let mut group = c.benchmark_group("cache_hit");
    group.bench_function("authgate", |b| b.iter(|| validate(&cached, black_box(&token))));
    // The floor of a hit: the cache is keyed by the SHA-256 of the whole token.
    group.bench_function("sha256_of_token", |b| {
        b.iter(|| aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, black_box(token.as_bytes())))
    });
    group.finish();
}

fn median_ns(dir: &Path, group: &str, function: &str) -> Option<f64> {
    let path = dir.join(group).join(function).join("new/estimates.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    doc["median"]["point_estimate"].as_f64()
}

fn fmt(ns: f64) -> String {
    if ns >= 1000.0 {
        format!("{:.2} µs", ns / 1000.0)
    } else {
        format!("{ns:.0} ns")
    }
}

fn report(dir: &Path) {
    println!("\nmedians (this run)");
    println!(
        "{:<10} {:>12} {:>14} {:>8}",
        "alg", "authgate", "jsonwebtoken", "ratio"
    );
    for case in CASES {
        if let (Some(ours), Some(theirs)) = (
            median_ns(dir, case.name, "authgate"),
            median_ns(dir, case.name, "jsonwebtoken"),
        ) {
            println!(
                "{:<10} {:>12} {:>14} {:>7.2}×",
                case.alg,
                fmt(ours),
                fmt(theirs),
                ours / theirs
            );
        }
    }
    if let Some(hit) = median_ns(dir, "cache_hit", "authgate") {
        println!(
            "{:<10} {:>12}   (verified-token cache hit, RS256 token)",
            "cached",
            fmt(hit)
        );
    }
    if let Some(sha) = median_ns(dir, "cache_hit", "sha256_of_token") {
        println!("{:<10} {:>12}   (of which SHA-256 of the token)", "", fmt(sha));
    }
}

fn main() {
    let dir: PathBuf = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
        .join("criterion");
    let mut c = Criterion::default()
        .output_directory(&dir)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    benches(&mut c);
    c.final_summary();
    report(&dir);
}
