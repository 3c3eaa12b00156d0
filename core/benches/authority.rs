//! Benchmarks of the authority's hot paths: API-key validation and token issuance.
//!
//! `cargo bench -p authgate-core --bench authority` (PostgreSQL too when
//! `AUTHGATE_TEST_DATABASE_URL` is set, e.g. under `scripts/with-postgres`).

use std::hint::black_box;

use authgate_core::AuthApi;
use authgate_core::authority::{Authority, AuthorityConfig};
use authgate_core::model::{CreateOrganization, CreateToken, OrganizationClient, RotateToken, Secret};
use criterion::{Criterion, criterion_group, criterion_main};
use sqlx::Connection;

/// Keys present in the store besides the one validated.
const KEYS: usize = 3000;

struct Fixture {
    authority: Authority,
    key: Secret,
    /// A key rotated with a grace period, still validating: rotated_to, expiry and revoked_at set.
    rotated: Secret,
    client_id: String,
    client_secret: Secret,
}

async fn fixture(url: &str) -> Fixture {
    let authority = Authority::open(url, AuthorityConfig::new("http://127.0.0.1:8080"))
        .await
        .expect("open");
    let org = authority
        .create_organization(CreateOrganization {
            display_name: "Bench".into(),
            external_id: None,
        })
        .await
        .unwrap();
    let mut key = None;
    for i in 0..KEYS {
        let created = authority
            .create_token(CreateToken {
                organization_id: org.id.clone(),
                custom_claims: [
                    ("env".to_string(), "prod".to_string()),
                    ("n".to_string(), i.to_string()),
                ]
                .into(),
                description: Some("bench key".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        if i == KEYS / 2 {
            key = Some(created.token);
        }
    }
    let rotated = authority
        .create_token(CreateToken {
            organization_id: org.id.clone(),
            description: Some("rotated".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .token;
    authority
        .rotate_token(RotateToken {
            token: rotated.expose().to_owned(),
            grace_period_seconds: Some(86_400),
            ..Default::default()
        })
        .await
        .unwrap();
    let client = authority
        .create_organization_client(
            &org.id,
            OrganizationClient {
                name: Some("bench".into()),
                scopes: Some(vec!["read:orders".into(), "write:orders".into()]),
                audience: Some(vec!["https://api.example.com".into()]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // Creates the signing key.
    authority
        .issue_client_token(&client.client.client_id, client.plain_secret.expose(), None)
        .await
        .unwrap();
    Fixture {
        authority,
        key: key.unwrap(),
        rotated,
        client_id: client.client.client_id,
        client_secret: client.plain_secret,
    }
}

fn bench_backend(c: &mut Criterion, rt: &tokio::runtime::Runtime, name: &str, url: &str) {
    let f = rt.block_on(fixture(url));
    let mut group = c.benchmark_group(name);
    group.bench_function("validate", |b| {
        b.to_async(rt)
            .iter(|| async { black_box(f.authority.validate_token(f.key.expose()).await.unwrap()) })
    });
    // The lifecycle extensions (#13) on the same path: a key in its rotation grace period.
    group.bench_function("validate_rotated_in_grace", |b| {
        b.to_async(rt)
            .iter(|| async { black_box(f.authority.validate_token(f.rotated.expose()).await.unwrap()) })
    });
    // What the bindings call: the same validation on the calling thread, without the runtime.
    group.bench_function("validate_now", |b| {
        b.iter(|| black_box(f.authority.validate_token_now(f.key.expose()).unwrap().unwrap()))
    });
    let unknown = authgate_core::keys::generate_api_key();
    group.bench_function("validate_unknown_key", |b| {
        b.to_async(rt)
            .iter(|| async { black_box(f.authority.validate_token(unknown.expose()).await.unwrap_err()) })
    });
    let malformed = format!("{}x", &f.key.expose()[..f.key.expose().len() - 1]);
    group.bench_function("validate_malformed_key", |b| {
        b.to_async(rt)
            .iter(|| async { black_box(f.authority.validate_token(&malformed).await.unwrap_err()) })
    });
    group.bench_function("issue_client_token", |b| {
        b.to_async(rt).iter(|| async {
            black_box(
                f.authority
                    .issue_client_token(&f.client_id, f.client_secret.expose(), None)
                    .await
                    .unwrap(),
            )
        })
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    bench_backend(c, &rt, "sqlite", &url);

    match std::env::var("AUTHGATE_TEST_DATABASE_URL") {
        Ok(admin_url) => {
            let name = format!("authgate_bench_{}", std::process::id());
            let run_sql = |sql: String| {
                let admin_url = admin_url.clone();
                rt.block_on(async move {
                    let mut c = sqlx::PgConnection::connect(&admin_url).await.unwrap();
                    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                        .execute(&mut c)
                        .await
                        .unwrap();
                })
            };
            run_sql(format!("CREATE DATABASE {name}"));
            let mut url = url::Url::parse(&admin_url).unwrap();
            url.set_path(&format!("/{name}"));
            bench_backend(c, &rt, "postgres", url.as_str());
            run_sql(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
        Err(_) => eprintln!("postgres benchmarks skipped: AUTHGATE_TEST_DATABASE_URL is not set"),
    }
}

criterion_group! {
    name = authority;
    // Criterion's JSON estimates of every benchmark land under bench/results/criterion/.
    config = Criterion::default().output_directory(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/results/criterion"),
    );
    targets = benches
}
criterion_main!(authority);
