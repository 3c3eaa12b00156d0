//! The PostgreSQL validation cache across processes (issue #14): two `authgate serve` on one
//! database, revocations made through A, validations on B (which answers them from its cache).
//! Every validation B accepts is recorded with the time it was sent; none sent more than
//! [`BOUND`] after the revoking call returned may be accepted (the servers run with that maximum
//! staleness), and the time from that return until B refuses the key has p99 ≤ [`BOUND`]. Then the same with B's listening connection
//! killed (`pg_terminate_backend`) and with the PostgreSQL server restarted mid-run (when
//! `scripts/with-postgres` says where its data directory is: `AUTHGATE_TEST_PG_DATA`).
//!
//! One test in this file on purpose: restarting the cluster would break any test running beside
//! it (test binaries run one after another, tests of one binary in parallel).

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use authgate_core::model::{CreateOrganization, CreateToken};
use authgate_core::remote::RemoteClient;
use authgate_core::{AuthApi, Error};
use common::{Server, http};

/// Longest a revoked key may still be accepted after the revoking call returned.
const BOUND: Duration = Duration::from_millis(50);
/// Revocations in the clean run (the acceptance asks for at least 1,000).
const REVOCATIONS: usize = 1000;

#[derive(Default)]
struct Run {
    /// Revocation → first refusal, one per key.
    latencies: Vec<Duration>,
    /// Accepted validations sent after the revocation returned: how long after.
    late_accepts: Vec<Duration>,
    /// Accepted validations sent after the revocation returned, within the bound.
    accepts: usize,
    /// Validations that failed with another error (the store down).
    errors: usize,
}

impl Run {
    fn percentile(&self, p: f64) -> Duration {
        let mut v = self.latencies.clone();
        v.sort();
        v[((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1]
    }

    fn report(&self, name: &str) {
        eprintln!(
            "{name}: {} revocations; revocation → refusal on the other node: p50 {:?}, p99 {:?}, max {:?}; \
             accepted after the revocation returned: {} (all within {:?}: {}); other errors: {}",
            self.latencies.len(),
            self.percentile(0.5),
            self.percentile(0.99),
            self.percentile(1.0),
            self.accepts,
            BOUND,
            self.late_accepts.is_empty(),
            self.errors
        );
        assert!(
            self.late_accepts.is_empty(),
            "{name}: revoked keys accepted later than {BOUND:?} after the revocation: {:?}",
            self.late_accepts
        );
    }
}

/// Revokes `token_id` through `a` (retrying while the store is down); then validates `token` on
/// `b` until refused, recording every accept.
async fn revoke_and_watch(a: &RemoteClient, b: &RemoteClient, token_id: &str, token: &str, run: &mut Run) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match a.invalidate_token(token_id).await {
            Ok(()) => break,
            Err(e) => {
                assert!(Instant::now() < deadline, "revocation keeps failing: {e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    let returned = Instant::now();
    loop {
        let sent = Instant::now();
        match b.validate_token(token).await {
            Ok(_) => {
                let after = sent - returned;
                if after > BOUND {
                    run.late_accepts.push(after);
                } else {
                    run.accepts += 1;
                }
                // Poll every millisecond rather than flat out: the test shares 2 cores with
                // both servers and PostgreSQL.
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Err(Error::TokenValidationFailed) => {
                run.latencies.push(returned.elapsed());
                break;
            }
            Err(_) => {
                run.errors += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        assert!(returned.elapsed() < Duration::from_secs(60), "never refused");
    }
    // And never accepted again (while the store restarts, B may fail otherwise: not accepting).
    let again = b.validate_token(token).await;
    assert!(again.is_err(), "accepted again after a refusal: {again:?}");
}

async fn keys(a: &RemoteClient, b: &RemoteClient, org: &str, n: usize) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let k = a
            .create_token(CreateToken {
                organization_id: org.to_owned(),
                ..CreateToken::default()
            })
            .await
            .unwrap();
        out.push((k.token_id, k.token.expose().to_owned()));
    }
    // B caches them: validated twice (the second is a hit unless a notification raced the fill).
    for _ in 0..2 {
        for (_, t) in &out {
            b.validate_token(t).await.unwrap();
        }
    }
    out
}

async fn readyz_cache(server: &Server) -> String {
    let body: serde_json::Value = http()
        .get(server.at("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap_or_default();
    body["validation_cache"].as_str().unwrap_or("").to_owned()
}

async fn wait_live(server: &Server) {
    let start = Instant::now();
    while readyz_cache(server).await != "live" {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the cache did not become live"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Restarts the test cluster (`pg_ctl restart -m fast`, as the cluster's owner).
fn restart_postgres(data: &str) {
    let pg_bin = std::env::var("AUTHGATE_TEST_PG_BIN").expect("AUTHGATE_TEST_PG_BIN");
    let cmd = format!("{pg_bin}/pg_ctl -D {data} restart -m fast -w >/dev/null");
    let root = Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
    let status = if root {
        Command::new("su")
            .args(["postgres", "-s", "/bin/sh", "-c", &cmd])
            .status()
    } else {
        Command::new("sh").args(["-c", &cmd]).status()
    }
    .unwrap();
    assert!(status.success(), "pg_ctl restart failed");
}

#[test]
#[ignore = "needs PostgreSQL: set AUTHGATE_TEST_DATABASE_URL (scripts/with-postgres)"]
fn revocations_reach_the_other_node_within_the_bound_even_through_faults() {
    let database = common::postgres_database("revocations_reach_the_other_node");
    // The hard bound: B's cache answers only while a round trip through PostgreSQL sent at most
    // this long ago has come back, so even a notification delayed by a busy machine (or lost
    // with a killed connection) cannot make it accept a revoked key later than this. The
    // default (1 s) trades that bound for fewer pings; the typical latency is the same.
    let bound = BOUND.as_millis().to_string();
    let (a, b) = common::two_nodes(
        Some(database.url.clone()),
        &[("AUTHGATE_CACHE_MAX_STALENESS_MS", &bound)],
    );
    common::runtime().block_on(async {
        wait_live(&a).await;
        wait_live(&b).await;
        let (node_a, node_b) = (a.remote(), b.remote());
        let org = node_a
            .create_organization(CreateOrganization {
                display_name: "Cache".into(),
                external_id: None,
            })
            .await
            .unwrap()
            .id;

        // 1. A clean run of REVOCATIONS revocations.
        let ks = keys(&node_a, &node_b, &org, REVOCATIONS).await;
        let before = b.metrics().await;
        let hits_before = common::metric(&before, "authgate_validation_cache_lookups_total{outcome=\"hit\"}");
        assert!(hits_before >= REVOCATIONS as u64 / 2, "B does not answer from its cache:\n{before}");
        let mut clean = Run::default();
        for (id, t) in &ks {
            revoke_and_watch(&node_a, &node_b, id, t, &mut clean).await;
        }
        clean.report("clean");
        assert!(
            clean.percentile(0.99) <= BOUND,
            "p99 revocation → refusal {:?} > {BOUND:?}",
            clean.percentile(0.99)
        );
        let after = b.metrics().await;
        assert!(common::metric(&after, "authgate_validation_cache_invalidations_total") >= REVOCATIONS as u64 / 2);

        // 2. B's listening connection killed every fifth revocation, just before it.
        let ks = keys(&node_a, &node_b, &org, 100).await;
        let subscriptions = common::metric(&after, "authgate_validation_cache_subscriptions_total");
        let mut killed = Run::default();
        for (i, (id, t)) in ks.iter().enumerate() {
            if i % 5 == 0 {
                common::exec_sql(
                    &database.url,
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE application_name = 'authgate-cache-listener' AND datname = current_database()",
                );
            }
            revoke_and_watch(&node_a, &node_b, id, t, &mut killed).await;
        }
        killed.report("listener killed");
        wait_live(&b).await;
        let text = b.metrics().await;
        assert!(common::metric(&text, "authgate_validation_cache_subscriptions_total") > subscriptions);

        // 3. The PostgreSQL server restarted while revocations go on.
        match std::env::var("AUTHGATE_TEST_PG_DATA") {
            Ok(data) => {
                let ks = keys(&node_a, &node_b, &org, 60).await;
                let subscriptions = common::metric(&b.metrics().await, "authgate_validation_cache_subscriptions_total");
                let restart = std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(100));
                    restart_postgres(&data);
                });
                let mut restarted = Run::default();
                for (id, t) in &ks {
                    revoke_and_watch(&node_a, &node_b, id, t, &mut restarted).await;
                }
                restart.join().unwrap();
                restarted.report("server restarted");
                assert!(restarted.errors > 0 || restarted.latencies.len() == ks.len());
                // Recovered by itself: live again, answering from memory.
                wait_live(&b).await;
                let ks = keys(&node_a, &node_b, &org, 5).await;
                let text = b.metrics().await;
                assert!(
                    common::metric(&text, "authgate_validation_cache_subscriptions_total") > subscriptions,
                    "the listener did not subscribe again after the restart"
                );
                let hits = common::metric(&text, "authgate_validation_cache_lookups_total{outcome=\"hit\"}");
                node_b.validate_token(&ks[0].1).await.unwrap();
                let text = b.metrics().await;
                assert_eq!(
                    common::metric(&text, "authgate_validation_cache_lookups_total{outcome=\"hit\"}"),
                    hits + 1
                );
            }
            Err(_) => eprintln!(
                "server restarted: SKIPPED (AUTHGATE_TEST_PG_DATA is not set: run under scripts/with-postgres)"
            ),
        }
    });
}
