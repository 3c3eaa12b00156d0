//! Test support: a fresh store per test on SQLite (temp file) or PostgreSQL (a database created
//! for the test on the cluster named by `AUTHGATE_TEST_DATABASE_URL`, dropped at the end).
#![allow(dead_code)]

use std::path::PathBuf;

use authgate_core::authority::{Authority, AuthorityConfig};
use authgate_core::model::JwkSet;
use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sqlx::Connection;

pub const ISSUER: &str = "http://127.0.0.1:8080";

/// Every table of the schema, with the column that orders it.
pub const TABLES: &[(&str, &str)] = &[
    ("authgate_migrations", "version"),
    ("authgate_meta", "key"),
    ("authgate_organizations", "seq"),
    ("authgate_users", "seq"),
    ("authgate_memberships", "seq"),
    ("authgate_api_keys", "seq"),
    ("authgate_m2m_clients", "seq"),
    ("authgate_client_secrets", "seq"),
    ("authgate_environment_clients", "seq"),
    ("authgate_signing_keys", "seq"),
    ("authgate_audit_events", "seq"),
];

/// The PostgreSQL cluster's admin URL; a test that needs it and runs without it FAILS (it is
/// only run on purpose, with `--include-ignored`).
pub fn postgres_admin_url(test: &str) -> String {
    std::env::var("AUTHGATE_TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!("{test}: AUTHGATE_TEST_DATABASE_URL is not set, so this PostgreSQL test cannot run")
    })
}

/// Runs each named `async fn(&TestDb)` once on SQLite and once on PostgreSQL. The PostgreSQL
/// variant is `#[ignore]`d (reported as ignored, never as passed) unless run with
/// `--include-ignored`, which `make test-rust` does when `AUTHGATE_TEST_DATABASE_URL` is set.
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = $crate::common::TestDb::sqlite().await;
                super::$name(&db).await;
                db.finish().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[ignore = "needs PostgreSQL: set AUTHGATE_TEST_DATABASE_URL (scripts/with-postgres)"]
            async fn postgres() {
                let db = $crate::common::TestDb::postgres(stringify!($name)).await;
                super::$name(&db).await;
                db.finish().await;
            }
        }
    )*};
}

/// Asserts that a call fails with `code` and leaves every table unchanged.
#[macro_export]
macro_rules! refused {
    ($db:expr, $code:expr, $call:expr) => {{
        let before = $db.snapshot().await;
        let result = $call.await;
        let after = $db.snapshot().await;
        let err = match result {
            Ok(_) => panic!("{} succeeded; expected {}", stringify!($call), $code),
            Err(e) => e,
        };
        assert_eq!(err.code(), $code, "{}: {err}", stringify!($call));
        assert!(before == after, "{} changed the store", stringify!($call));
        err
    }};
}

pub enum Backend {
    Sqlite { _dir: tempfile::TempDir, path: PathBuf },
    Postgres { admin_url: String, name: String },
}

/// A fresh, empty store.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("authgate.db");
        TestDb {
            url: format!("sqlite://{}", path.display()),
            backend: Backend::Sqlite { _dir: dir, path },
        }
    }

    /// A database created for the test on the cluster of `AUTHGATE_TEST_DATABASE_URL` (dropped
    /// by [`TestDb::finish`]); panics when that variable is unset.
    pub async fn postgres(test: &str) -> TestDb {
        let admin_url = postgres_admin_url(test);
        let mut suffix = [0u8; 8];
        aws_lc_rs::rand::fill(&mut suffix).unwrap();
        let name = format!(
            "authgate_test_{}",
            suffix.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .expect("connect to PostgreSQL");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.ok();
        let mut url = url::Url::parse(&admin_url).unwrap();
        url.set_path(&format!("/{name}"));
        TestDb {
            url: url.to_string(),
            backend: Backend::Postgres { admin_url, name },
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.backend, Backend::Postgres { .. })
    }

    pub fn config() -> AuthorityConfig {
        AuthorityConfig::new(ISSUER)
    }

    pub async fn open(&self) -> Authority {
        self.open_with(Self::config()).await.expect("open the authority")
    }

    pub async fn open_with(&self, config: AuthorityConfig) -> authgate_core::Result<Authority> {
        Authority::open(&self.url, config).await
    }

    /// Runs SQL directly against the store (to simulate the passage of time, and so on).
    pub async fn exec(&self, sql: &str) {
        match &self.backend {
            Backend::Sqlite { path, .. } => {
                let c = rusqlite::Connection::open(path).unwrap();
                c.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
                c.execute_batch(sql).unwrap();
            }
            Backend::Postgres { .. } => {
                let mut c = sqlx::PgConnection::connect(&self.url).await.unwrap();
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                    .execute(&mut c)
                    .await
                    .unwrap();
                c.close().await.ok();
            }
        }
    }

    /// Every row of every table, as text.
    pub async fn snapshot(&self) -> String {
        let mut out = String::new();
        match &self.backend {
            Backend::Sqlite { path, .. } => {
                let c = rusqlite::Connection::open(path).unwrap();
                c.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
                for (table, order) in TABLES {
                    out.push_str(&format!("== {table}\n"));
                    let mut stmt = c
                        .prepare(&format!("SELECT * FROM {table} ORDER BY {order}"))
                        .unwrap();
                    let n = stmt.column_count();
                    let mut rows = stmt.query([]).unwrap();
                    while let Some(row) = rows.next().unwrap() {
                        for i in 0..n {
                            let v = row.get_ref(i).unwrap();
                            let text = match v {
                                rusqlite::types::ValueRef::Null => "NULL".to_owned(),
                                rusqlite::types::ValueRef::Integer(i) => i.to_string(),
                                rusqlite::types::ValueRef::Real(f) => f.to_string(),
                                rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                                rusqlite::types::ValueRef::Blob(b) => {
                                    b.iter().map(|x| format!("{x:02x}")).collect()
                                }
                            };
                            out.push_str(&text);
                            out.push('|');
                        }
                        out.push('\n');
                    }
                }
            }
            Backend::Postgres { .. } => {
                let mut c = sqlx::PgConnection::connect(&self.url).await.unwrap();
                for (table, order) in TABLES {
                    out.push_str(&format!("== {table}\n"));
                    let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                        "SELECT t::text FROM {table} t ORDER BY {order}"
                    )))
                    .fetch_all(&mut c)
                    .await
                    .unwrap();
                    for r in rows {
                        out.push_str(&r);
                        out.push('\n');
                    }
                }
                c.close().await.ok();
            }
        }
        out
    }

    /// Everything the store holds, as bytes: the SQLite files (database, WAL, shared memory), or
    /// the text of every PostgreSQL row.
    pub async fn raw_contents(&self) -> Vec<u8> {
        match &self.backend {
            Backend::Sqlite { path, .. } => {
                let mut all = Vec::new();
                for suffix in ["", "-wal", "-shm"] {
                    let p = PathBuf::from(format!("{}{suffix}", path.display()));
                    if let Ok(bytes) = std::fs::read(&p) {
                        all.extend(bytes);
                    }
                }
                all.extend(self.snapshot().await.into_bytes());
                all
            }
            Backend::Postgres { .. } => self.snapshot().await.into_bytes(),
        }
    }

    pub async fn finish(self) {
        if let Backend::Postgres { admin_url, name } = &self.backend {
            let mut admin = sqlx::PgConnection::connect(admin_url).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut admin)
            .await
            .unwrap();
            admin.close().await.ok();
        }
    }
}

/// The decoded header and claims of a JWT whose RS256 signature verifies against `jwks`.
pub fn verify_jwt(jwt: &str, jwks: &JwkSet) -> (serde_json::Value, serde_json::Value) {
    let mut parts = jwt.split('.');
    let (h, p, s) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    assert!(parts.next().is_none());
    let header: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap();
    let kid = header["kid"].as_str().unwrap();
    let jwk = jwks
        .keys
        .iter()
        .find(|k| k.kid.as_deref() == Some(kid))
        .unwrap_or_else(|| panic!("kid {kid} not in the JWKS"));
    let n = URL_SAFE_NO_PAD.decode(jwk.n.as_ref().unwrap()).unwrap();
    let e = URL_SAFE_NO_PAD.decode(jwk.e.as_ref().unwrap()).unwrap();
    RsaPublicKeyComponents { n: &n, e: &e }
        .verify(
            &RSA_PKCS1_2048_8192_SHA256,
            format!("{h}.{p}").as_bytes(),
            &URL_SAFE_NO_PAD.decode(s).unwrap(),
        )
        .expect("signature verifies");
    (header, claims)
}

/// True when `needle` occurs in `haystack`.
/// Rate-limit windows are aligned to the Unix epoch: a test that uses up a limit and then expects
/// refusals waits out the end of the current `window_seconds` window when it is less than
/// `margin_seconds` away, so it never runs across two windows.
pub async fn fresh_window(window_seconds: u64, margin_seconds: u64) {
    let left = window_seconds - time::OffsetDateTime::now_utc().unix_timestamp() as u64 % window_seconds;
    if left < margin_seconds {
        tokio::time::sleep(std::time::Duration::from_secs(left + 1)).await;
    }
}

pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}
