//! JWT verification, side by side in one run: the authgate validator (verified-token cache off)
//! against `jsonwebtoken::decode` with a pre-built `DecodingKey` and the same checks (signature,
//! `exp`, `nbf`, `iss`, `aud`), for RS256, ES256 and EdDSA; plus the verified-token cache hit.
//!
//! ```text
//! cargo bench -p authgate-core --bench jwt
//! ```
//!
//! After the Criterion output, two tables print the medians and the ratios (authgate time divided
//! by jsonwebtoken time: below 1 means faster): Criterion's, and a paired measurement alternating
//! short batches of both, whose ratio stays meaningful on a loaded machine.

#[path = "../tests/support/sign.rs"]
mod sign;

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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

/// The JWK Set of every benchmarked key.
fn key_set(keys: &BTreeMap<String, sign::TestKey>) -> Value {
    let keys: Vec<Value> = CASES
        .iter()
        .map(|c| keys[c.key].public_jwk(Some(c.kid), Some(c.alg)))
        .collect();
    json!({ "keys": keys })
}

/// The token and the jsonwebtoken key and validation of one algorithm.
struct Subject {
    name: &'static str,
    alg: &'static str,
    token: String,
    dkey: DecodingKey,
    validation: Validation,
}

fn subjects(keys: &BTreeMap<String, sign::TestKey>, claims: &Value) -> Vec<Subject> {
    CASES
        .iter()
        .map(|case| {
            let key = &keys[case.key];
            let token = sign::sign(key, case.alg, Some(case.kid), json!({}), claims);
            let alg: jsonwebtoken::Algorithm = case.alg.parse().expect("alg");
            let mut validation = Validation::new(alg);
            validation.set_issuer(&[ISSUER]);
            validation.set_audience(&[AUDIENCE]);
            validation.validate_nbf = true;
            Subject {
                name: case.name,
                alg: case.alg,
                token,
                dkey: decoding_key(&key.public_jwk(None, None)),
                validation,
            }
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    let keys = sign::load_keys();
    let claims = claims();
    let jwks = key_set(&keys);
    let uncached = validator(&jwks, false);
    let cached = validator(&jwks, true);

    for subject in subjects(&keys, &claims) {
        let Subject {
            name,
            token,
            dkey,
            validation,
            ..
        } = &subject;
        // Both accept the token before measuring.
        decode::<Map<String, Value>>(token, dkey, validation).expect("jsonwebtoken accepts");
        validate(&uncached, token);

        let mut group = c.benchmark_group(*name);
        group.bench_function("authgate", |b| b.iter(|| validate(&uncached, black_box(token))));
        group.bench_function("jsonwebtoken", |b| {
            b.iter(|| decode::<Map<String, Value>>(black_box(token), dkey, validation).expect("valid"))
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

/// `bench/results/NAME.json` of the repository (git-ignored).
fn results_file(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/results");
    std::fs::create_dir_all(&dir).expect("bench/results");
    dir.join(name)
}

fn report(dir: &Path) -> Vec<Value> {
    let mut rows = Vec::new();
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
            rows.push(json!({"alg": case.alg, "authgate_ns": ours, "jsonwebtoken_ns": theirs, "ratio": ours / theirs}));
        }
    }
    if let Some(hit) = median_ns(dir, "cache_hit", "authgate") {
        rows.push(json!({"alg": "RS256, verified-token cache hit", "authgate_ns": hit}));
        println!(
            "{:<10} {:>12}   (verified-token cache hit, RS256 token)",
            "cached",
            fmt(hit)
        );
    }
    if let Some(sha) = median_ns(dir, "cache_hit", "sha256_of_token") {
        rows.push(json!({"alg": "SHA-256 of the token (the floor of a hit)", "ns": sha}));
        println!("{:<10} {:>12}   (of which SHA-256 of the token)", "", fmt(sha));
    }
    rows
}

/// Nanoseconds per call of `f` over `n` calls.
fn time_per_call(n: u32, f: &mut dyn FnMut()) -> f64 {
    let started = Instant::now();
    for _ in 0..n {
        f();
    }
    started.elapsed().as_nanos() as f64 / f64::from(n)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Alternates short batches of `a` and `b` and reports the medians and the median of the
/// per-round ratios: robust against load that changes during the run (a shared, busy machine).
fn paired(a: &mut dyn FnMut(), b: &mut dyn FnMut()) -> (f64, f64, f64) {
    let once = time_per_call(20, a).max(1.0);
    let batch = ((10_000_000.0 / once) as u32).clamp(10, 100_000); // about 10 ms per batch
    let (mut ta, mut tb, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..41 {
        let (x, y) = if round % 2 == 0 {
            let x = time_per_call(batch, a);
            (x, time_per_call(batch, b))
        } else {
            let y = time_per_call(batch, b);
            (time_per_call(batch, a), y)
        };
        ta.push(x);
        tb.push(y);
        ratios.push(x / y);
    }
    (median(ta), median(tb), median(ratios))
}

fn paired_report() -> Vec<Value> {
    let mut rows = Vec::new();
    let keys = sign::load_keys();
    let claims = claims();
    let jwks = key_set(&keys);
    let uncached = validator(&jwks, false);
    println!("\npaired, alternating batches (medians of 41 rounds of ~10 ms each)");
    println!(
        "{:<10} {:>12} {:>14} {:>8}",
        "alg", "authgate", "jsonwebtoken", "ratio"
    );
    for subject in subjects(&keys, &claims) {
        let Subject {
            alg,
            token,
            dkey,
            validation,
            ..
        } = &subject;
        let (ours, theirs, ratio) = paired(
            &mut || {
                black_box(validate(&uncached, black_box(token)));
            },
            &mut || {
                black_box(decode::<Map<String, Value>>(black_box(token), dkey, validation).expect("valid"));
            },
        );
        println!(
            "{:<10} {:>12} {:>14} {:>7.2}×",
            alg,
            fmt(ours),
            fmt(theirs),
            ratio
        );
        rows.push(json!({"alg": alg, "authgate_ns": ours, "jsonwebtoken_ns": theirs, "ratio": ratio}));
    }
    rows
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
    // `cargo bench` passes `--bench`; without it (e.g. `cargo test --benches`) Criterion only
    // checks that each benchmark runs, and so do we.
    if !std::env::args().any(|a| a == "--bench") || std::env::args().any(|a| a == "--list") {
        return;
    }
    let criterion = report(&dir);
    let paired = paired_report();
    // jsonwebtoken runs with its `DecodingKey` and `Validation` built once, outside the timed
    // call: its best case.
    let out = results_file("jwt.json");
    let doc = json!({
        "peer": "jsonwebtoken, DecodingKey built once (its best case)",
        "criterion_medians": criterion,
        "paired_alternating": paired,
    });
    std::fs::write(&out, serde_json::to_string_pretty(&doc).expect("JSON") + "\n").expect("write results");
    println!("\nwritten to bench/results/jwt.json");
}
