//! What the audit log costs: `create_token` (a management action, whose transaction now also
//! writes its audit event) and `validate_token` (not a management action: untouched) on an
//! embedded SQLite store, as p50/p90 over many calls.
//!
//! `cargo run --release -p authgate-core --example audit_overhead [CREATES] [VALIDATIONS]`
//!
//! The same file builds against a checkout without the audit log (it uses only `AuthApi`), so
//! the two can be run one after the other on one machine for a before/after comparison.

use std::time::Instant;

use authgate_core::AuthApi;
use authgate_core::authority::{Authority, AuthorityConfig};
use authgate_core::model::{CreateOrganization, CreateToken};

#[path = "support/percentiles.rs"]
mod percentiles;

use percentiles::report;

fn main() {
    let mut args = std::env::args().skip(1);
    let creates: usize = args.next().map_or(2000, |a| a.parse().expect("CREATES"));
    let validations: usize = args.next().map_or(200_000, |a| a.parse().expect("VALIDATIONS"));
    let dir = std::env::temp_dir().join(format!("authgate-audit-overhead-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("bench.db").display());
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
        let create = || CreateToken {
            organization_id: org.clone(),
            custom_claims: [("env".to_string(), "prod".to_string())].into(),
            description: Some("bench key".into()),
            ..Default::default()
        };
        for _ in 0..100 {
            a.create_token(create()).await.unwrap();
        }
        let mut samples = Vec::with_capacity(creates);
        let mut key = None;
        for _ in 0..creates {
            let t = Instant::now();
            let created = a.create_token(create()).await.unwrap();
            samples.push(t.elapsed());
            key = Some(created.token);
        }
        report("create_token", &mut samples);
        let key = key.unwrap();
        for _ in 0..10_000 {
            a.validate_token_now(key.expose()).unwrap().unwrap();
        }
        let mut samples = Vec::with_capacity(validations);
        for _ in 0..validations {
            let t = Instant::now();
            let info = a.validate_token_now(key.expose()).unwrap().unwrap();
            samples.push(t.elapsed());
            std::hint::black_box(info);
        }
        report("validate_token", &mut samples);
    });
    std::fs::remove_dir_all(&dir).ok();
}
