//! The validation cache (issue #14, and SQLite's since #13): two authorities on one database
//! (two stores, two caches, as two processes would have), changes through one or behind both.
//!
//! - SQLite: every change must be seen by the very next validation (the cache checks the file's
//!   data version first).
//! - PostgreSQL: within [`BOUND`], and with the listener's connection killed mid-test. Ignored
//!   unless run with `--include-ignored` and `AUTHGATE_TEST_DATABASE_URL`
//!   (`scripts/with-postgres`); the two-server version with 1,000 revocations is
//!   `server/tests/serve_pg_cache.rs` (SQLite's: `server/tests/serve_sqlite_cache.rs`).

mod common;

use std::time::{Duration, Instant};

use authgate_core::authority::{Authority, AuthorityConfig};
use authgate_core::keys::{Digester, generate_api_key};
use authgate_core::model::{
    CreateOrganization, CreateToken, CreateTokenResponse, CreateUser, MembershipInput, UpdateUser, UserRef,
};
use authgate_core::store::keycache::ListenerState;
use authgate_core::{AuthApi, Error};
use common::{Backend, TestDb};
use sqlx::Connection;

/// How long a change may take to reach the other authority on PostgreSQL (the acceptance bound).
const BOUND: Duration = Duration::from_millis(50);
/// On SQLite: none (a bound of zero fails on the first stale answer).
const AT_ONCE: Duration = Duration::ZERO;

async fn wait_live(a: &Authority) {
    let start = Instant::now();
    while !matches!(
        a.validation_cache_stats().listener,
        ListenerState::Live | ListenerState::Exact
    ) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the listener did not become live: {:?}",
            a.validation_cache_stats()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Validates `token` on `a` until it is refused; the time that took. Fails past `bound` (with
/// [`AT_ONCE`], unless the first validation refuses it).
async fn refused_within(a: &Authority, token: &str, bound: Duration) -> Duration {
    let start = Instant::now();
    loop {
        match a.validate_token(token).await {
            Err(Error::TokenValidationFailed) => return start.elapsed(),
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => assert!(
                start.elapsed() <= bound,
                "still accepted {:?} after the change",
                start.elapsed()
            ),
        }
        tokio::task::yield_now().await;
    }
}

async fn key(a: &Authority, org: &str, user: Option<&str>) -> CreateTokenResponse {
    a.create_token(CreateToken {
        organization_id: org.to_owned(),
        user_id: user.map(str::to_owned),
        ..Default::default()
    })
    .await
    .unwrap()
}

async fn pg(test: &str) -> (TestDb, Authority, Authority) {
    two(TestDb::postgres(test).await).await
}

async fn sqlite() -> (TestDb, Authority, Authority) {
    two(TestDb::sqlite().await).await
}

async fn two(db: TestDb) -> (TestDb, Authority, Authority) {
    let a = db.open().await;
    let b = db.open().await;
    wait_live(&a).await;
    wait_live(&b).await;
    (db, a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set AUTHGATE_TEST_DATABASE_URL (scripts/with-postgres)"]
async fn changes_reach_the_other_authority() {
    let (db, a, b) = pg("changes_reach_the_other_authority").await;
    changes_reach(db, a, b, BOUND).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_changes_reach_the_other_authority_at_once() {
    let (db, a, b) = sqlite().await;
    changes_reach(db, a, b, AT_ONCE).await;
}

/// Changes through `a`, or behind both, seen by `b` within `bound`.
async fn changes_reach(db: TestDb, a: Authority, b: Authority, bound: Duration) {
    let org = a
        .create_organization(CreateOrganization {
            display_name: "Cache".into(),
            external_id: Some("ext-1".into()),
        })
        .await
        .unwrap();
    let user = a
        .create_user_and_membership(
            &org.id,
            CreateUser {
                email: "cache@example.com".into(),
                external_id: None,
                roles: vec!["reader".into()],
            },
        )
        .await
        .unwrap();

    // Filled on the first validation, answered from memory on the next ones (inline too).
    let k = key(&a, &org.id, Some(&user.id)).await;
    let t = k.token.expose();
    // (The key's insert notifies B; a fill racing that notification is not stored.)
    b.sync_validation_cache().await;
    b.validate_token(t).await.unwrap();
    let hits = b.validation_cache_stats().hits;
    let info = b.validate_token(t).await.unwrap();
    assert_eq!(info.roles, ["reader"]);
    assert_eq!(info.organization_external_id, "ext-1");
    assert_eq!(b.validate_token_now(t).unwrap().unwrap().token_id, k.token_id);
    assert_eq!(b.validation_cache_stats().hits, hits + 2);

    // A role change through A: B answers with the new roles within the bound.
    a.update_membership(
        &org.id,
        &UserRef::Id(user.id.clone()),
        MembershipInput {
            roles: vec!["writer".into()],
        },
    )
    .await
    .unwrap();
    let start = Instant::now();
    while b.validate_token(t).await.unwrap().roles != ["writer"] {
        assert!(start.elapsed() <= bound, "old roles after {:?}", start.elapsed());
    }
    // The process that made a change sees it at once.
    a.validate_token(t).await.unwrap();
    a.update_user(
        &UserRef::Id(user.id.clone()),
        UpdateUser {
            external_id: Some("u-ext".into()),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        a.validate_token(t).await.unwrap().user_external_id.as_deref(),
        Some("u-ext")
    );
    let start = Instant::now();
    while b.validate_token(t).await.unwrap().user_external_id.as_deref() != Some("u-ext") {
        assert!(start.elapsed() <= bound, "old user after {:?}", start.elapsed());
    }

    // Revocation through A: refused by A at once, by B within the bound.
    b.validate_token(t).await.unwrap();
    a.invalidate_token(&k.token_id).await.unwrap();
    assert!(matches!(
        a.validate_token(t).await,
        Err(Error::TokenValidationFailed)
    ));
    refused_within(&b, t, bound).await;

    // A change behind both (plain SQL, as another tool would make): the triggers notify.
    let k2 = key(&a, &org.id, None).await;
    b.validate_token(k2.token.expose()).await.unwrap();
    b.validate_token(k2.token.expose()).await.unwrap();
    db.exec(&format!(
        "UPDATE authgate_api_keys SET expiry = 1000 WHERE id = '{}'",
        k2.token_id
    ))
    .await;
    refused_within(&b, k2.token.expose(), bound).await;

    // Membership removal and organization deletion take the keys with them.
    let k3 = key(&a, &org.id, Some(&user.id)).await;
    let k4 = key(&a, &org.id, None).await;
    for k in [&k3, &k4] {
        b.validate_token(k.token.expose()).await.unwrap();
    }
    a.delete_membership(&org.id, &UserRef::Id(user.id.clone()))
        .await
        .unwrap();
    refused_within(&b, k3.token.expose(), bound).await;
    b.validate_token(k4.token.expose()).await.unwrap();
    a.delete_organization(&org.id).await.unwrap();
    refused_within(&b, k4.token.expose(), bound).await;

    let stats = b.validation_cache_stats();
    assert!(stats.invalidations + stats.flushes > 0, "{stats:?}");
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set AUTHGATE_TEST_DATABASE_URL (scripts/with-postgres)"]
async fn a_new_key_replaces_a_negative_entry() {
    let (db, a, b) = pg("a_new_key_replaces_a_negative_entry").await;
    negative_entry_replaced(db, a, b, BOUND).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_new_key_replaces_a_negative_entry_at_once() {
    let (db, a, b) = sqlite().await;
    negative_entry_replaced(db, a, b, AT_ONCE).await;
}

async fn negative_entry_replaced(db: TestDb, a: Authority, b: Authority, bound: Duration) {
    let org = a
        .create_organization(CreateOrganization {
            display_name: "Negative".into(),
            external_id: None,
        })
        .await
        .unwrap();
    // A well-formed key that matches nothing yet: cached as unknown.
    let plain = generate_api_key();
    let p = plain.expose();
    for _ in 0..2 {
        assert!(matches!(
            b.validate_token(p).await,
            Err(Error::TokenValidationFailed)
        ));
    }
    assert!(b.validation_cache_stats().negative_hits >= 1);
    assert_eq!(b.validation_cache_stats().negative, 1);
    // Its row appears (written by hand here: the API never takes a caller's key).
    let digest: String = Digester::sha256()
        .digest(p)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let digest = if db.is_postgres() {
        format!("'\\x{digest}'")
    } else {
        format!("X'{digest}'")
    };
    db.exec(&format!(
        "INSERT INTO authgate_api_keys (id, digest, organization_id, custom_claims, token_suffix, \
         create_time, update_time) VALUES ('apit_0000000000000000000000042', {digest}, '{}', '{{}}', \
         'abcd', 1, 1)",
        org.id
    ))
    .await;
    let start = Instant::now();
    while b.validate_token(p).await.is_err() {
        assert!(
            start.elapsed() <= bound,
            "still unknown after {:?}",
            start.elapsed()
        );
    }
    db.finish().await;
}

/// Runs `sql` on its own connection.
async fn sql(url: &str, sql: &str) {
    let mut c = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut c)
        .await
        .unwrap();
    c.close().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set AUTHGATE_TEST_DATABASE_URL (scripts/with-postgres)"]
async fn a_killed_listener_never_yields_a_stale_accept() {
    let (db, a, b) = pg("a_killed_listener_never_yields_a_stale_accept").await;
    let org = a
        .create_organization(CreateOrganization {
            display_name: "Faults".into(),
            external_id: None,
        })
        .await
        .unwrap();
    let keys: Vec<CreateTokenResponse> = {
        let mut v = Vec::new();
        for _ in 0..20 {
            v.push(key(&a, &org.id, None).await);
        }
        v
    };
    for round in 0..5 {
        for k in &keys[round..] {
            b.validate_token(k.token.expose()).await.unwrap();
        }
        let subscriptions = b.validation_cache_stats().subscriptions;
        // The listeners' backends die, and a key is revoked while they are down (plain SQL in
        // the same statement: no process hears of it).
        let victim = &keys[round];
        sql(
            &db.url,
            &format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE application_name = 'authgate-cache-listener' AND datname = current_database(); \
                 UPDATE authgate_api_keys SET revoked_at = 1 WHERE id = '{}'",
                victim.token_id
            ),
        )
        .await;
        // Until B notices that its connection is gone (the next time its listener runs, well
        // within the bound) its cache may still answer; from then on it never accepts the key,
        // whose notification is lost.
        let revoked = Instant::now();
        let mut accepted = Vec::new();
        while revoked.elapsed() < 4 * BOUND {
            let at = revoked.elapsed();
            if b.validate_token(victim.token.expose()).await.is_ok() {
                accepted.push(at);
            }
            if b.validate_token_now(victim.token.expose())
                .is_some_and(|r| r.is_ok())
            {
                accepted.push(at);
            }
        }
        assert!(
            accepted.iter().all(|at| *at <= BOUND),
            "round {round}: a revoked key was accepted after the bound: {accepted:?}"
        );
        // It recovers by itself: subscribed again, trusted again, answering from memory.
        let start = Instant::now();
        while b.validation_cache_stats().subscriptions == subscriptions
            || b.validation_cache_stats().listener != ListenerState::Live
        {
            assert!(start.elapsed() < Duration::from_secs(20), "no recovery");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let live = &keys[keys.len() - 1];
        b.validate_token(live.token.expose()).await.unwrap();
        let hits = b.validation_cache_stats().hits;
        b.validate_token(live.token.expose()).await.unwrap();
        assert_eq!(b.validation_cache_stats().hits, hits + 1);
        assert!(matches!(
            b.validate_token(victim.token.expose()).await,
            Err(Error::TokenValidationFailed)
        ));
    }
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set AUTHGATE_TEST_DATABASE_URL (scripts/with-postgres)"]
async fn zero_staleness_turns_the_cache_off() {
    let db = TestDb::postgres("zero_staleness_turns_the_cache_off").await;
    let mut config = TestDb::config();
    config.cache_max_staleness = Duration::ZERO;
    let a = db.open_with(config).await.unwrap();
    let org = a
        .create_organization(CreateOrganization {
            display_name: "Off".into(),
            external_id: None,
        })
        .await
        .unwrap();
    let k = key(&a, &org.id, None).await;
    a.validate_token(k.token.expose()).await.unwrap();
    assert!(a.validate_token_now(k.token.expose()).is_none());
    let stats = a.validation_cache_stats();
    assert_eq!(stats.listener, ListenerState::Disabled);
    assert_eq!(stats.hits, 0);
    a.sync_validation_cache().await;
    db.finish().await;
}

#[test]
fn staleness_is_checked() {
    let mut config = AuthorityConfig::new(common::ISSUER);
    config.cache_max_staleness = Duration::from_millis(5);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("a.db").display());
    let err = rt.block_on(Authority::open(&url, config)).unwrap_err();
    assert_eq!(err.code(), "invalid_argument");
    assert!(err.to_string().contains("cache_max_staleness"), "{err}");
    // A SQLite store's cache is exact whatever the bound; zero turns it off there too.
    let a = rt
        .block_on(Authority::open(&url, AuthorityConfig::new(common::ISSUER)))
        .unwrap();
    assert_eq!(a.validation_cache_stats().listener, ListenerState::Exact);
    let mut off = AuthorityConfig::new(common::ISSUER);
    off.cache_max_staleness = Duration::ZERO;
    let b = rt.block_on(Authority::open(&url, off)).unwrap();
    assert_eq!(b.validation_cache_stats().listener, ListenerState::Disabled);
    let org = rt
        .block_on(b.create_organization(CreateOrganization {
            display_name: "Off".into(),
            external_id: None,
        }))
        .unwrap();
    let k = rt.block_on(key(&b, &org.id, None));
    for _ in 0..3 {
        b.validate_token_now(k.token.expose()).unwrap().unwrap();
    }
    assert_eq!(b.validation_cache_stats().hits, 0);
}

/// SQLite: a revocation whose caller stopped waiting (a request cancelled mid-write) still
/// commits, and the process that made it sees it at once: its own commit does not change the
/// data version of the connection that made it, so the write itself flushes the cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_cancelled_revocation_that_committed_is_seen_at_once() {
    let (db, a, _b) = sqlite().await;
    let org = a
        .create_organization(CreateOrganization {
            display_name: "Cancelled".into(),
            external_id: None,
        })
        .await
        .unwrap();
    let mut cancelled = 0;
    for round in 0..40 {
        let k = key(&a, &org.id, None).await;
        let t = k.token.expose();
        a.validate_token(t).await.unwrap();
        a.validate_token(t).await.unwrap();
        {
            // Polled once (its write is then running on the blocking pool), then dropped; now
            // and then the write is done by the first poll already.
            let mut revoke = Box::pin(a.invalidate_token(&k.token_id));
            cancelled += usize::from(futures::poll!(revoke.as_mut()).is_pending());
        }
        let Backend::Sqlite { path, .. } = &db.backend else {
            unreachable!()
        };
        let reader = rusqlite::Connection::open(path).unwrap();
        let start = Instant::now();
        while reader
            .query_row(
                "SELECT revoked_at FROM authgate_api_keys WHERE id = ?1",
                [&k.token_id],
                |r| r.get::<_, Option<i64>>(0),
            )
            .unwrap()
            .is_none()
        {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the write never committed"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert!(
            matches!(a.validate_token(t).await, Err(Error::TokenValidationFailed)),
            "round {round}: the revoked key was still accepted by the process that revoked it"
        );
    }
    assert!(
        cancelled >= 5,
        "only {cancelled} of 40 revocations were cancelled mid-write"
    );
    db.finish().await;
}

/// SQLite, with validations running on two other threads while each key is revoked (through
/// another authority, or by plain SQL on a connection of its own): no validation that started
/// after the revoking call returned accepts the key, and before it the cache answers.
#[test]
fn sqlite_no_validation_started_after_a_revocation_accepts_the_key() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (db, a, b) = rt.block_on(sqlite());
    let org = rt
        .block_on(a.create_organization(CreateOrganization {
            display_name: "Race".into(),
            external_id: None,
        }))
        .unwrap();
    let keys: Vec<CreateTokenResponse> = (0..100).map(|_| rt.block_on(key(&a, &org.id, None))).collect();
    let hits = b.validation_cache_stats().hits;
    let mut accepted_before = 0;
    for (i, k) in keys.iter().enumerate() {
        let token = k.token.expose();
        b.validate_token_now(token).unwrap().unwrap();
        let stop = std::sync::atomic::AtomicBool::new(false);
        let revoked_at = std::sync::OnceLock::<Instant>::new();
        let late: Vec<Duration> = std::thread::scope(|scope| {
            let watchers: Vec<_> = (0..2)
                .map(|_| {
                    scope.spawn(|| {
                        let mut accepted = Vec::new();
                        while !stop.load(std::sync::atomic::Ordering::Acquire) {
                            let started = Instant::now();
                            if matches!(b.validate_token_now(token), Some(Ok(_))) {
                                accepted.push(started);
                            }
                        }
                        accepted
                    })
                })
                .collect();
            std::thread::sleep(Duration::from_millis(2));
            if i % 2 == 0 {
                rt.block_on(a.invalidate_token(&k.token_id)).unwrap();
            } else {
                rt.block_on(db.exec(&format!(
                    "UPDATE authgate_api_keys SET revoked_at = 1 WHERE id = '{}'",
                    k.token_id
                )));
            }
            let at = *revoked_at.get_or_init(Instant::now);
            std::thread::sleep(Duration::from_millis(2));
            stop.store(true, std::sync::atomic::Ordering::Release);
            watchers
                .into_iter()
                .flat_map(|w| w.join().unwrap())
                .filter_map(|started| {
                    accepted_before += usize::from(started < at);
                    started.checked_duration_since(at)
                })
                .collect()
        });
        assert!(
            late.is_empty(),
            "key {i}: accepted by validations started {late:?} after its revocation"
        );
    }
    assert!(
        accepted_before >= keys.len(),
        "the watchers never ran before the revocations"
    );
    assert!(
        b.validation_cache_stats().hits > hits + keys.len() as u64,
        "{:?}",
        b.validation_cache_stats()
    );
    rt.block_on(db.finish());
}
