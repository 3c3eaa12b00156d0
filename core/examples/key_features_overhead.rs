//! What the API-key extensions (#13) cost on the request path: `validate_token_now` (what the
//! bindings call) on an embedded SQLite store, for a plain key, a key with only a rate limit (it
//! never reaches), and a key with every extension on — ten networks (the caller's in the last),
//! the rate limit, and a rotation in its grace period — interleaved in one run, as p50/p90/p99
//! and the ratios of p50s. Then the plain key again through a second authority on the same file
//! with the validation cache off (`cache_max_staleness` 0): what a validation costs when it reads
//! the key from SQLite (a cache miss), against the data-version check of a hit.
//!
//! `cargo run --release -p authgate-core --example key_features_overhead [VALIDATIONS]`
//! (`make bench-keys`).

use std::time::{Duration, Instant};

use authgate_core::AuthApi;
use authgate_core::authority::{Authority, AuthorityConfig};
use authgate_core::model::{
    CreateOrganization, CreateToken, RateLimit, RotateToken, Secret, ValidateOptions,
};

#[path = "support/percentiles.rs"]
mod percentiles;

use percentiles::report;

fn main() {
    let validations: usize = std::env::args()
        .nth(1)
        .map_or(200_000, |a| a.parse().expect("VALIDATIONS"));
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let a = Authority::open(&url, AuthorityConfig::new("http://127.0.0.1:8080"))
            .await
            .unwrap();
        let org = a
            .create_organization(CreateOrganization {
                display_name: "Bench".into(),
                external_id: None,
            })
            .await
            .unwrap()
            .id;
        let create = |networks: bool, limit: bool| CreateToken {
            organization_id: org.clone(),
            custom_claims: [("env".to_string(), "prod".to_string())].into(),
            description: Some("bench key".into()),
            allowed_cidrs: networks.then(|| {
                let mut nets: Vec<String> = (1..10).map(|i| format!("10.{i}.0.0/16")).collect();
                nets.push("192.0.2.0/24".into());
                nets
            }),
            rate_limit: limit.then_some(RateLimit {
                limit: 1_000_000_000,
                window_seconds: 86_400,
            }),
            ..Default::default()
        };
        for _ in 0..1000 {
            a.create_token(create(false, false)).await.unwrap();
        }
        let plain = a.create_token(create(false, false)).await.unwrap().token;
        let limited = a.create_token(create(false, true)).await.unwrap().token;
        let old = a.create_token(create(true, true)).await.unwrap().token;
        a.rotate_token(RotateToken {
            token: old.expose().to_owned(),
            grace_period_seconds: Some(86_400),
            ..Default::default()
        })
        .await
        .unwrap();
        let caller = ValidateOptions {
            client_ip: Some("192.0.2.7".parse().unwrap()),
        };
        let run = |key: &Secret, options: &ValidateOptions| {
            let t = Instant::now();
            let info = a.validate_token_now_with(key.expose(), options).unwrap().unwrap();
            let elapsed = t.elapsed();
            std::hint::black_box(info);
            elapsed
        };
        let none = ValidateOptions::default();
        for _ in 0..20_000 {
            run(&plain, &none);
            run(&limited, &none);
            run(&old, &caller);
        }
        let mut base = Vec::with_capacity(validations);
        let mut rate = Vec::with_capacity(validations);
        let mut all = Vec::with_capacity(validations);
        for _ in 0..validations {
            base.push(run(&plain, &none));
            rate.push(run(&limited, &none));
            all.push(run(&old, &caller));
        }
        let p_base = report("plain key", &mut base);
        let p_rate = report("rate limit", &mut rate);
        let p_all = report("networks + limit + rotation", &mut all);
        let ratio = |p: Duration| p.as_secs_f64() / p_base.as_secs_f64();
        println!("p50 ratio, rate limit / plain: {:.2}", ratio(p_rate));
        println!("p50 ratio, all extensions / plain: {:.2}", ratio(p_all));

        let mut off = AuthorityConfig::new("http://127.0.0.1:8080");
        off.cache_max_staleness = Duration::ZERO;
        let uncached = Authority::open(&url, off).await.unwrap();
        let read = |options: &ValidateOptions| {
            let t = Instant::now();
            let info = uncached
                .validate_token_now_with(plain.expose(), options)
                .unwrap()
                .unwrap();
            let elapsed = t.elapsed();
            std::hint::black_box(info);
            elapsed
        };
        let mut hit = Vec::with_capacity(validations);
        let mut miss = Vec::with_capacity(validations);
        for _ in 0..validations {
            hit.push(run(&plain, &none));
            miss.push(read(&none));
        }
        let p_hit = report("plain key, cached", &mut hit);
        let p_miss = report("plain key, cache off", &mut miss);
        println!(
            "p50 ratio, cache off / cached: {:.2}",
            p_miss.as_secs_f64() / p_hit.as_secs_f64()
        );
        println!(
            "all extensions p50 {:.2} µs: {} the 5 µs target",
            p_all.as_secs_f64() * 1e6,
            if p_all <= Duration::from_micros(5) {
                "within"
            } else {
                "OVER"
            }
        );
    });
}
