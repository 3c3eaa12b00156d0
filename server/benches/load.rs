//! `make bench-server`: a closed-loop HTTP load generator against a real `authgate serve` on
//! loopback, bounded in time.
//!
//! It starts the release binary on a temporary SQLite file (and, when
//! `AUTHGATE_TEST_DATABASE_URL` is set, again on a fresh PostgreSQL database), provisions an
//! organization, an API key and an M2M client, then drives, each for a fixed duration:
//!
//! - `POST /api/v1/tokens:validate` with an environment access token (the hot path of API-key
//!   authentication);
//! - `POST /oauth/token` with the M2M client's credentials (client_secret_post).
//!
//! Every connection is a raw hyper HTTP/1.1 keep-alive connection sending one request at a time;
//! latency is measured per request and reported as p50/p99/p99.9 with the throughput. The load
//! generator and the server share the machine's cores, so the figures are a lower bound.
//!
//! Besides throughput and latency it reports the CPU time the server process (and the load
//! generator) spent per request, read from `/proc`: a figure that stays meaningful when other
//! work shares the machine (2 cores / server CPU per request = the server-bound ceiling).
//!
//! Knobs (environment): `BENCH_SECONDS` (default 10 per scenario), `BENCH_CONNECTIONS`
//! (default 32), `BENCH_WARMUP_SECONDS` (default 1).

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use authgate_core::AuthApi;
use authgate_core::model::CreateToken;
use bytes::Bytes;
use common::{Options, Server};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn start_server(database: &str, cache: bool) -> Server {
    let mut env = vec![("AUTHGATE_LOG".into(), "warn".into())];
    if !cache {
        env.push(("AUTHGATE_CACHE_MAX_STALENESS_MS".into(), "0".into()));
    }
    Server::start_with(Options {
        database: Some(database.to_owned()),
        env,
        ..Options::default()
    })
}

struct Fixture {
    admin_token: String,
    api_key: String,
    m2m_id: String,
    m2m_secret: String,
}

async fn fixture(server: &Server) -> Fixture {
    let remote = server.remote();
    let (org, client) =
        common::org_with_client(&remote, "Bench", common::client_input("bench", &["read:data"])).await;
    let key = remote
        .create_token(CreateToken {
            organization_id: org.id.clone(),
            description: Some("bench".into()),
            ..CreateToken::default()
        })
        .await
        .unwrap();
    Fixture {
        admin_token: common::admin_token(server).await,
        api_key: key.token.into_inner(),
        m2m_id: client.client.client_id,
        m2m_secret: client.plain_secret.into_inner(),
    }
}

#[derive(Clone)]
struct Scenario {
    name: &'static str,
    path: &'static str,
    content_type: &'static str,
    authorization: Option<String>,
    body: Bytes,
}

struct Outcome {
    latencies_us: Vec<u32>,
    errors: u64,
}

async fn connection(
    addr: String,
    scenario: Scenario,
    warmup_until: Instant,
    stop: Arc<AtomicBool>,
) -> Outcome {
    let mut out = Outcome {
        latencies_us: Vec::with_capacity(1 << 16),
        errors: 0,
    };
    let host = addr.trim_start_matches("http://").to_owned();
    'reconnect: while !stop.load(Ordering::Relaxed) {
        let stream = match tokio::net::TcpStream::connect(&host).await {
            Ok(s) => s,
            Err(_) => {
                out.errors += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        stream.set_nodelay(true).unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        while !stop.load(Ordering::Relaxed) {
            let mut request = Request::post(scenario.path)
                .header("host", &host)
                .header("content-type", scenario.content_type);
            if let Some(auth) = &scenario.authorization {
                request = request.header("authorization", auth);
            }
            let request = request.body(Full::new(scenario.body.clone())).unwrap();
            let start = Instant::now();
            let ok = match sender.send_request(request).await {
                Ok(response) => {
                    let ok = response.status() == 200;
                    match response.into_body().collect().await {
                        Ok(_) => ok,
                        Err(_) => false,
                    }
                }
                Err(_) => {
                    out.errors += 1;
                    continue 'reconnect;
                }
            };
            let elapsed = start.elapsed();
            if start >= warmup_until {
                if ok {
                    out.latencies_us
                        .push(u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX));
                } else {
                    out.errors += 1;
                }
            }
        }
    }
    out
}

/// CPU time (user + system) a process has used so far, from `/proc/<pid>/stat`, in seconds.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

async fn run(
    store: &str,
    server_pid: u32,
    url: &str,
    scenario: Scenario,
    connections: usize,
    seconds: u64,
    warmup: u64,
) -> (String, serde_json::Value) {
    let stop = Arc::new(AtomicBool::new(false));
    let warmup_until = Instant::now() + Duration::from_secs(warmup);
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            tokio::spawn(connection(
                url.to_owned(),
                scenario.clone(),
                warmup_until,
                stop.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(warmup)).await;
    let pid = server_pid.to_string();
    let (server_cpu, own_cpu) = (cpu_seconds(&pid), cpu_seconds("self"));
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let server_cpu = cpu_seconds(&pid) - server_cpu;
    let own_cpu = cpu_seconds("self") - own_cpu;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let out = task.await.unwrap();
        latencies.extend(out.latencies_us);
        errors += out.errors;
    }
    latencies.sort_unstable();
    let rate = latencies.len() as f64 / seconds as f64;
    let per_request_us = |cpu: f64| cpu * 1e6 / latencies.len().max(1) as f64;
    let json = serde_json::json!({
        "store": store,
        "scenario": scenario.name,
        "requests_per_second": rate,
        "p50_ms": percentile(&latencies, 0.50),
        "p99_ms": percentile(&latencies, 0.99),
        "p999_ms": percentile(&latencies, 0.999),
        "requests": latencies.len(),
        "errors": errors,
        "server_cpu_us_per_request": per_request_us(server_cpu),
        "loadgen_cpu_us_per_request": per_request_us(own_cpu),
    });
    let row = format!(
        "| {store:<10} | {:<22} | {:>9.0} | {:>8.2} | {:>8.2} | {:>8.2} | {:>9} | {:>6} | {:>17.1} | {:>18.1} |",
        scenario.name,
        rate,
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        percentile(&latencies, 0.999),
        latencies.len(),
        errors,
        per_request_us(server_cpu),
        per_request_us(own_cpu),
    );
    (row, json)
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is accepted and ignored.
    let seconds = env_u64("BENCH_SECONDS", 10);
    let warmup = env_u64("BENCH_WARMUP_SECONDS", 1);
    let connections = env_u64("BENCH_CONNECTIONS", 32) as usize;

    let dir = tempfile::tempdir().unwrap();
    // (label, database, validation cache, token endpoint too)
    let mut stores = vec![(
        "sqlite",
        format!("sqlite://{}", dir.path().join("bench.db").display()),
        true,
        true,
    )];
    // Dropped at the end of `main`, after the servers.
    let postgres = common::fresh_postgres_database();
    match &postgres {
        Some(db) => {
            stores.push(("postgres", db.url.clone(), true, true));
            // The same database without the validation cache (issue #14): every validation a
            // round trip, as before it.
            stores.push(("pg nocache", db.url.clone(), false, false));
        }
        None => println!("PostgreSQL: not measured (AUTHGATE_TEST_DATABASE_URL is not set)"),
    }
    let mut validate_rates = Vec::new();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut rows = Vec::new();
    let mut results = Vec::new();
    for (store, database, cache, token_too) in &stores {
        let server = start_server(database, *cache);
        let fx = rt.block_on(fixture(&server));
        let validate = Scenario {
            name: "POST tokens:validate",
            path: "/api/v1/tokens:validate",
            content_type: "application/json",
            authorization: Some(format!("Bearer {}", fx.admin_token)),
            body: Bytes::from(serde_json::to_vec(&serde_json::json!({"token": fx.api_key})).unwrap()),
        };
        let token = Scenario {
            name: "POST /oauth/token",
            path: "/oauth/token",
            content_type: "application/x-www-form-urlencoded",
            authorization: None,
            body: Bytes::from(format!(
                "grant_type=client_credentials&client_id={}&client_secret={}",
                fx.m2m_id, fx.m2m_secret
            )),
        };
        let scenarios = if *token_too {
            vec![validate, token]
        } else {
            vec![validate]
        };
        for scenario in scenarios {
            let validating = scenario.path == "/api/v1/tokens:validate";
            let row = rt.block_on(run(
                store,
                server.pid(),
                &server.url,
                scenario,
                connections,
                seconds,
                warmup,
            ));
            let (row, json) = row;
            if validating {
                validate_rates.push((*store, json["requests_per_second"].as_f64().unwrap_or(0.0)));
            }
            println!("{row}");
            rows.push(row);
            results.push(json);
        }
    }
    println!();
    println!(
        "authgate serve over loopback, {connections} keep-alive connections, {seconds} s per scenario, {} cores (load generator on the same machine)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "| store      | scenario               |    req/s  | p50 ms   | p99 ms   | p99.9 ms | requests  | errors | server CPU µs/req | loadgen CPU µs/req |"
    );
    println!(
        "|------------|------------------------|-----------|----------|----------|----------|-----------|--------|-------------------|--------------------|"
    );
    for row in rows {
        println!("{row}");
    }
    // The acceptance of issue #14: PostgreSQL validations at ≥ 0.9× SQLite's, same run.
    if let Some((_, sqlite)) = validate_rates.iter().find(|(s, _)| *s == "sqlite") {
        for (store, rate) in validate_rates.iter().filter(|(s, _)| *s != "sqlite") {
            println!(
                "tokens:validate on {store}: {rate:.0} req/s = {:.2}× SQLite's {sqlite:.0} req/s",
                rate / sqlite
            );
        }
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/results");
    std::fs::create_dir_all(&dir).unwrap();
    let doc = serde_json::json!({
        "connections": connections,
        "seconds": seconds,
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "rows": results,
    });
    std::fs::write(
        dir.join("load.json"),
        serde_json::to_string_pretty(&doc).unwrap() + "\n",
    )
    .unwrap();
    println!("\nwritten to bench/results/load.json");
}
