//! Benchmarks of the authority's hot paths: API-key validation and token issuance.
//!
//! `cargo bench -p authgate-core --bench authority` (PostgreSQL too when
//! `AUTHGATE_TEST_DATABASE_URL` is set, e.g. under `scripts/with-postgres`). On PostgreSQL the
//! `postgres` group runs with the validation cache (the default); `postgres_cache` compares the
//! same validation with and without it and prints both medians and their ratio.

use std::hint::black_box;
use std::time::{Duration, Instant};

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
    // What the bindings call: the same validation on the calling thread, without the runtime
    // (on PostgreSQL: a hit of the validation cache).
    wait_for_cache(rt, &f.authority);
    if f.authority.validate_token_now(f.key.expose()).is_some() {
        group.bench_function("validate_now", |b| {
            b.iter(|| black_box(f.authority.validate_token_now(f.key.expose()).unwrap().unwrap()))
        });
    }
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

/// Waits until a PostgreSQL authority's validation cache answers (a no-op on SQLite).
fn wait_for_cache(rt: &tokio::runtime::Runtime, a: &Authority) {
    use authgate_core::store::keycache::ListenerState;
    let start = Instant::now();
    while a.validation_cache_stats().listener == ListenerState::Connecting
        || a.validation_cache_stats().listener == ListenerState::Stale
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the validation cache is not live"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    rt.block_on(a.sync_validation_cache());
}

/// The median of `n` timings of `f`.
fn p50(n: usize, mut f: impl FnMut()) -> Duration {
    let mut t: Vec<Duration> = (0..n)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    t.sort();
    t[n / 2]
}

/// Embedded validation on PostgreSQL with the validation cache (issue #14) and without it
/// (`cache_max_staleness` 0: every validation a round trip), one database, one key, one run;
/// prints the medians side by side and their ratio.
fn bench_postgres_cache(c: &mut Criterion, rt: &tokio::runtime::Runtime, url: &str) {
    let mut off = AuthorityConfig::new("http://127.0.0.1:8080");
    off.cache_max_staleness = Duration::ZERO;
    let uncached = rt.block_on(Authority::open(url, off)).expect("open");
    let cached = rt
        .block_on(Authority::open(
            url,
            AuthorityConfig::new("http://127.0.0.1:8080"),
        ))
        .expect("open");
    let org = rt
        .block_on(uncached.create_organization(CreateOrganization {
            display_name: "Cache bench".into(),
            external_id: None,
        }))
        .unwrap();
    let key = rt
        .block_on(uncached.create_token(CreateToken {
            organization_id: org.id,
            custom_claims: [("env".to_string(), "prod".to_string())].into(),
            ..Default::default()
        }))
        .unwrap()
        .token;
    wait_for_cache(rt, &cached);
    rt.block_on(cached.validate_token(key.expose())).unwrap();
    assert!(
        cached.validate_token_now(key.expose()).is_some(),
        "not answered from the cache"
    );

    let mut group = c.benchmark_group("postgres_cache");
    group.bench_function("validate_cached", |b| {
        b.to_async(rt)
            .iter(|| async { black_box(cached.validate_token(key.expose()).await.unwrap()) })
    });
    group.bench_function("validate_now_cached", |b| {
        b.iter(|| black_box(cached.validate_token_now(key.expose()).unwrap().unwrap()))
    });
    group.bench_function("validate_uncached", |b| {
        b.to_async(rt)
            .iter(|| async { black_box(uncached.validate_token(key.expose()).await.unwrap()) })
    });
    group.finish();

    let hit = p50(100_000, || {
        black_box(cached.validate_token_now(key.expose()).unwrap().unwrap());
    });
    let hit_async = p50(20_000, || {
        black_box(rt.block_on(cached.validate_token(key.expose())).unwrap());
    });
    let round_trip = p50(5_000, || {
        black_box(rt.block_on(uncached.validate_token(key.expose())).unwrap());
    });
    let stats = cached.validation_cache_stats();
    println!(
        "postgres embedded validation, p50 (same run, same key): cache hit {hit:?} inline \
         (validate_token_now), {hit_async:?} through the runtime; without the cache {round_trip:?}: \
         {:.0}× faster inline ({} hits, {} misses, {} untrusted lookups)",
        round_trip.as_secs_f64() / hit.as_secs_f64(),
        stats.hits,
        stats.misses,
        stats.untrusted
    );
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
            bench_postgres_cache(c, &rt, url.as_str());
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
