//! The SQLite backend (rusqlite): a small connection pool, inline reads, writes on the blocking
//! pool one at a time per process.

use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ErrorCode, OpenFlags, ToSql};
use time::OffsetDateTime;

use super::keycache::KeyCache;
use super::{
    Backend, BoxFuture, Conn, Migrations, Mode, P, Row, StoreKind, Value, pending_migrations, unix_ms,
};
use crate::error::{Error, Result};

/// Embedded schema migrations.
const MIGRATIONS: Migrations = &[
    (1, "init", include_str!("migrations/sqlite/0001_init.sql")),
    (
        2,
        "environment_revocation",
        include_str!("migrations/sqlite/0002_environment_revocation.sql"),
    ),
    (
        3,
        "users_external_id",
        include_str!("migrations/sqlite/0003_users_external_id.sql"),
    ),
    (
        4,
        "key_lifecycle",
        include_str!("migrations/sqlite/0004_key_lifecycle.sql"),
    ),
    (
        5,
        "audit_log",
        include_str!("migrations/sqlite/0005_audit_log.sql"),
    ),
    (
        6,
        "rate_windows",
        include_str!("migrations/sqlite/0006_rate_windows.sql"),
    ),
    (
        7,
        "validation_cache",
        include_str!("migrations/sqlite/0007_validation_cache.sql"),
    ),
];

/// How long a statement waits for another connection's (or process's) lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle connections kept open.
const MAX_IDLE: usize = 8;
/// Prepared statements cached per connection.
const STATEMENT_CACHE: usize = 96;

/// A SQLite database file.
#[derive(Debug)]
pub(crate) struct Sqlite {
    pool: Arc<Pool>,
    /// One write transaction at a time per process: the others wait here, asynchronously,
    /// rather than on SQLite's lock in a blocking thread.
    write_gate: tokio::sync::Mutex<()>,
    /// The validation cache, kept exact by the file's data version (see
    /// [`keycache`](super::keycache)); `None` when turned off.
    cache: Option<Arc<KeyCache>>,
}

#[derive(Debug)]
struct Pool {
    path: PathBuf,
    idle: Mutex<Vec<SqliteConn>>,
    /// `(device, inode)` of the file once opened: later connections never create the file
    /// again, and writes are refused when the file at `path` is no longer this one.
    identity: std::sync::OnceLock<(u64, u64)>,
}

/// `(device, inode)` of the file at `path`.
#[cfg(unix)]
fn file_identity(path: &std::path::Path) -> std::io::Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path)?;
    Ok((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn file_identity(path: &std::path::Path) -> std::io::Result<(u64, u64)> {
    std::fs::metadata(path).map(|_| (0, 0))
}

impl Pool {
    /// `Unavailable` when the database file was deleted or replaced since it was opened: a
    /// write acknowledged now would be lost (or land in another database).
    fn check_identity(&self) -> Result<()> {
        let Some(opened) = self.identity.get() else {
            return Ok(());
        };
        match file_identity(&self.path) {
            Ok(now) if now == *opened => Ok(()),
            Ok(_) => Err(Error::Unavailable(format!(
                "the SQLite database file {} was replaced since it was opened; restart the server",
                self.path.display()
            ))),
            Err(e) => Err(Error::Unavailable(format!(
                "the SQLite database file {} is gone since it was opened ({e}); restart the server",
                self.path.display()
            ))),
        }
    }
}

/// One connection to the database file.
pub(crate) struct SqliteConn {
    conn: Connection,
    /// The file's data version when this connection last checked it for the validation cache.
    seen_version: Option<i64>,
}

impl std::fmt::Debug for SqliteConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteConn")
    }
}

/// The path of a `sqlite:` URL: `sqlite://relative/path`, `sqlite:///absolute/path`, `sqlite:path`.
fn path_of(url: &str) -> Result<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| Error::invalid("database_url", "not a sqlite: URL"))?;
    if rest.is_empty() {
        return Err(Error::invalid("database_url", "the SQLite URL has no file path"));
    }
    if rest.contains('?') || rest.starts_with(":memory:") || rest.starts_with("file:") {
        return Err(Error::invalid(
            "database_url",
            "only plain file paths are supported (sqlite://PATH): no in-memory databases, no options",
        ));
    }
    Ok(PathBuf::from(rest))
}

impl Sqlite {
    /// Opens the file (creating it if needed), switches it to WAL and applies migrations; keeps a
    /// validation cache when `cache` is set.
    pub(crate) async fn open(url: &str, cache: bool) -> Result<Sqlite> {
        let path = path_of(url)?;
        let created = !path.exists();
        let pool = Arc::new(Pool {
            path,
            idle: Mutex::new(Vec::new()),
            identity: std::sync::OnceLock::new(),
        });
        let migrate_pool = pool.clone();
        tokio::task::spawn_blocking(move || -> Result<()> {
            let mut conn = migrate_pool.get()?;
            if created {
                restrict_permissions(&migrate_pool.path)?;
            }
            let mode: String = conn
                .conn
                .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
                .map_err(sqlite_err)?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(Error::Store(format!(
                    "could not switch the database to WAL mode (journal_mode is {mode})"
                )));
            }
            migrate(&mut conn)?;
            let identity = file_identity(&migrate_pool.path)
                .map_err(|e| Error::Store(format!("cannot stat {}: {e}", migrate_pool.path.display())))?;
            let _ = migrate_pool.identity.set(identity);
            Ok(())
        })
        .await
        .map_err(|e| Error::Internal(format!("store task failed: {e}")))??;
        Ok(Sqlite {
            pool,
            write_gate: tokio::sync::Mutex::new(()),
            cache: if cache { KeyCache::exact() } else { None },
        })
    }
}

/// A new database file is readable by its owner only: it holds digests and signing keys. SQLite
/// gives the `-wal` and `-shm` files the permissions of the database file.
#[cfg(unix)]
fn restrict_permissions(path: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|e| {
        Error::Store(format!(
            "cannot restrict the permissions of {}: {e}",
            path.display()
        ))
    })
}

#[cfg(not(unix))]
fn restrict_permissions(_path: &std::path::Path) -> Result<()> {
    Ok(())
}

/// Applies missing migrations in one `BEGIN IMMEDIATE` transaction (so concurrent openers queue).
fn migrate(conn: &mut SqliteConn) -> Result<()> {
    let c = &conn.conn;
    c.execute_batch("BEGIN IMMEDIATE").map_err(sqlite_err)?;
    let result = (|| -> Result<()> {
        c.execute_batch(
            "CREATE TABLE IF NOT EXISTS authgate_migrations (
                 version    INTEGER PRIMARY KEY,
                 name       TEXT    NOT NULL,
                 applied_at INTEGER NOT NULL
             )",
        )
        .map_err(sqlite_err)?;
        let current: i64 = c
            .query_row(
                "SELECT COALESCE(MAX(version), 0) FROM authgate_migrations",
                [],
                |r| r.get(0),
            )
            .map_err(sqlite_err)?;
        let now = unix_ms(OffsetDateTime::now_utc());
        for (version, name, sql) in pending_migrations(MIGRATIONS, current)? {
            c.execute_batch(sql).map_err(sqlite_err)?;
            c.execute(
                "INSERT INTO authgate_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                rusqlite::params![version, name, now],
            )
            .map_err(sqlite_err)?;
        }
        Ok(())
    })();
    finish(c, result)
}

/// Commits on success, rolls back on failure.
fn finish<T>(c: &Connection, result: Result<T>) -> Result<T> {
    match result {
        Ok(v) => match c.execute_batch("COMMIT") {
            Ok(()) => Ok(v),
            Err(e) => {
                let _ = c.execute_batch("ROLLBACK");
                Err(sqlite_err(e))
            }
        },
        Err(e) => {
            let _ = c.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

impl Pool {
    fn get(self: &Arc<Self>) -> Result<Pooled> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match idle {
            Some(c) => c,
            None => self.connect()?,
        };
        Ok(Pooled {
            slot: Some(conn),
            pool: self.clone(),
        })
    }

    fn connect(&self) -> Result<SqliteConn> {
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        // Only the first connection may create the file: once open, a missing file is a fault
        // (deleted at runtime), not a fresh store.
        if self.identity.get().is_none() {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        } else {
            self.check_identity()?;
        }
        let conn = Connection::open_with_flags(&self.path, flags).map_err(|e| {
            Error::Unavailable(format!(
                "cannot open SQLite database {}: {e}",
                self.path.display()
            ))
        })?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(sqlite_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(sqlite_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sqlite_err)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        // The bundled SQLite is built with STAT4: without the query-planner stability guarantee a
        // cached statement whose plan might depend on a bound value is re-prepared on every
        // execution (≈10 µs for the key lookup). Our plans are index lookups regardless of values.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
            .map_err(sqlite_err)?;
        Ok(SqliteConn {
            conn,
            seen_version: None,
        })
    }
}

/// A connection borrowed from the pool; returned on drop unless it is mid-transaction.
struct Pooled {
    slot: Option<SqliteConn>,
    pool: Arc<Pool>,
}

impl Deref for Pooled {
    type Target = SqliteConn;
    fn deref(&self) -> &SqliteConn {
        self.slot.as_ref().expect("connection present until drop")
    }
}

impl DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut SqliteConn {
        self.slot.as_mut().expect("connection present until drop")
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if let Some(conn) = self.slot.take()
            && conn.conn.is_autocommit()
        {
            let mut idle = self.pool.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < MAX_IDLE {
                idle.push(conn);
            }
        }
    }
}

/// Drives a future that never suspends (every SQLite operation completes synchronously).
fn poll_ready<T>(fut: impl Future<Output = Result<T>>) -> Result<T> {
    let mut fut = pin!(fut);
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => Err(Error::Internal(
            "a SQLite store operation tried to suspend".into(),
        )),
    }
}

impl Backend for Sqlite {
    type Conn = SqliteConn;
    const KIND: StoreKind = StoreKind::Sqlite;

    fn check_identity(&self) -> Result<()> {
        self.pool.check_identity()
    }

    fn key_cache(&self) -> Option<&KeyCache> {
        self.cache.as_deref()
    }

    /// Flushes the cache when the file's data version, on the connection asked, changed since that
    /// connection last looked (another connection committed), or when it never looked. A
    /// connection's own commits do not change its data version: every write of this process
    /// flushes the cache itself (see `run`).
    fn check_key_cache(&self) -> Result<()> {
        let Some(cache) = &self.cache else {
            return Ok(());
        };
        let mut conn = self.pool.get()?;
        let version: i64 = conn
            .conn
            .prepare_cached("PRAGMA data_version")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .map_err(sqlite_err)?;
        if conn.seen_version.replace(version) != Some(version) {
            cache.flush();
        }
        Ok(())
    }

    async fn run<R, F>(&self, mode: Mode, work: F) -> Result<R>
    where
        R: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConn) -> BoxFuture<'c, Result<R>> + Send + 'static,
    {
        match mode {
            Mode::Read => {
                let mut conn = self.pool.get()?;
                poll_ready(work(&mut conn))
            }
            Mode::Snapshot => {
                let mut conn = self.pool.get()?;
                conn.conn.execute_batch("BEGIN").map_err(sqlite_err)?;
                let result = poll_ready(work(&mut conn));
                finish(&conn.conn, result)
            }
            Mode::Write => {
                self.pool.check_identity()?;
                let _gate = self.write_gate.lock().await;
                let pool = self.pool.clone();
                let cache = self.cache.clone();
                tokio::task::spawn_blocking(move || {
                    let mut conn = pool.get()?;
                    conn.conn.execute_batch("BEGIN IMMEDIATE").map_err(sqlite_err)?;
                    // Checked again under the write lock: the file may have gone while waiting.
                    if let Err(e) = pool.check_identity() {
                        let _ = conn.conn.execute_batch("ROLLBACK");
                        return Err(e);
                    }
                    let result = poll_ready(work(&mut conn));
                    let result = finish(&conn.conn, result);
                    // A commit does not change the committing connection's own data version,
                    // so the cache cannot rely on it to see this one: flushed here, whatever the
                    // outcome, before the connection goes back to the pool, and even when the
                    // caller stopped waiting.
                    if let Some(cache) = cache {
                        cache.flush();
                    }
                    result
                })
                .await
                .map_err(|e| Error::Internal(format!("store task failed: {e}")))?
            }
        }
    }
}

impl ToSql for P<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match *self {
            P::I64(v) => ToSqlOutput::Borrowed(ValueRef::Integer(v)),
            P::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            P::Blob(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
            P::NullI64 | P::NullText => ToSqlOutput::Borrowed(ValueRef::Null),
        })
    }
}

impl SqliteConn {
    fn prepare(&self, sql: &str, params: &[P<'_>]) -> Result<rusqlite::CachedStatement<'_>> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(sqlite_err)?;
        if stmt.parameter_count() != params.len() {
            return Err(Error::Internal(format!(
                "statement takes {} parameters, {} given",
                stmt.parameter_count(),
                params.len()
            )));
        }
        #[cfg(debug_assertions)]
        check_placeholders(&stmt)?;
        for (i, p) in params.iter().enumerate() {
            stmt.raw_bind_parameter(i + 1, p).map_err(sqlite_err)?;
        }
        Ok(stmt)
    }

    fn query_now(&self, sql: &str, params: &[P<'_>]) -> Result<Vec<Row>> {
        let mut stmt = self.prepare(sql, params)?;
        let n = stmt.column_count();
        let columns: Arc<[String]> = stmt.column_names().map(str::to_owned).collect();
        let mut rows = stmt.raw_query();
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(sqlite_err)? {
            let mut values = Vec::with_capacity(n);
            for i in 0..n {
                values.push(match r.get_ref(i).map_err(sqlite_err)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(v) => Value::I64(v),
                    ValueRef::Text(t) => Value::Text(
                        String::from_utf8(t.to_vec())
                            .map_err(|_| Error::Store("non-UTF-8 text column".into()))?,
                    ),
                    ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                    ValueRef::Real(_) => return Err(Error::Store("unexpected REAL column".into())),
                });
            }
            out.push(Row::new(columns.clone(), values));
        }
        Ok(out)
    }

    fn execute_now(&self, sql: &str, params: &[P<'_>]) -> Result<u64> {
        let mut stmt = self.prepare(sql, params)?;
        Ok(stmt.raw_execute().map_err(sqlite_err)? as u64)
    }
}

/// `$N` placeholders are named parameters to SQLite; they bind positionally only when each
/// query introduces them in order. Checked in debug builds (and so by every test).
#[cfg_attr(not(debug_assertions), allow(dead_code))]
fn check_placeholders(stmt: &rusqlite::Statement<'_>) -> Result<()> {
    for i in 1..=stmt.parameter_count() {
        let expected = format!("${i}");
        if stmt.parameter_name(i) != Some(expected.as_str()) {
            return Err(Error::Internal(format!(
                "placeholder {i} is {:?}, expected {expected}",
                stmt.parameter_name(i)
            )));
        }
    }
    Ok(())
}

impl Conn for SqliteConn {
    fn query<'a>(
        &'a mut self,
        sql: &'static str,
        params: &'a [P<'a>],
    ) -> impl Future<Output = Result<Vec<Row>>> + Send + 'a {
        std::future::ready(self.query_now(sql, params))
    }

    fn execute<'a>(
        &'a mut self,
        sql: &'static str,
        params: &'a [P<'a>],
    ) -> impl Future<Output = Result<u64>> + Send + 'a {
        std::future::ready(self.execute_now(sql, params))
    }

    fn lock<'a>(&'a mut self, _key: &'a str) -> impl Future<Output = Result<()>> + Send + 'a {
        std::future::ready(Ok(()))
    }
}

/// Maps a rusqlite error. Messages name no values: parameters are never formatted.
fn sqlite_err(e: rusqlite::Error) -> Error {
    if let rusqlite::Error::SqliteFailure(f, _) = &e {
        match f.code {
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
                return Error::Unavailable("the SQLite database is locked by another writer".into());
            }
            // Faults of the storage, not of the request: retryable once the operator fixes them.
            ErrorCode::ReadOnly
            | ErrorCode::SystemIoFailure
            | ErrorCode::DiskFull
            | ErrorCode::CannotOpen
            | ErrorCode::PermissionDenied
            | ErrorCode::NotADatabase
            | ErrorCode::DatabaseCorrupt => {
                return Error::Unavailable(format!("the SQLite database cannot be used: {e}"));
            }
            ErrorCode::ConstraintViolation => {
                return match f.extended_code {
                    rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY => {
                        Error::FailedPrecondition("a referenced record no longer exists".into())
                    }
                    rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                        Error::AlreadyExists {
                            resource: "record",
                            message: "a record with the same unique key exists".into(),
                        }
                    }
                    _ => Error::Store(format!("constraint violated: {e}")),
                };
            }
            _ => {}
        }
    }
    Error::Store(format!("sqlite: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            path_of("sqlite://authgate.db").unwrap(),
            PathBuf::from("authgate.db")
        );
        assert_eq!(path_of("sqlite:///tmp/a.db").unwrap(), PathBuf::from("/tmp/a.db"));
        assert_eq!(path_of("sqlite:a.db").unwrap(), PathBuf::from("a.db"));
        for bad in [
            "sqlite://",
            "sqlite::memory:",
            "sqlite://a.db?mode=ro",
            "postgres://x",
        ] {
            assert!(path_of(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn every_statement_prepares_with_ordered_placeholders() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("s.db").display());
        let db = Sqlite::open(&url, true).await.unwrap();
        let conn = db.pool.get().unwrap();
        for sql in super::super::sql::all_statements() {
            let stmt = conn.conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
            check_placeholders(&stmt).unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn new_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        // Kept open after the migrations wrote to it: the database, its WAL and its shared-memory
        // file all exist while a connection is open.
        let store = Sqlite::open(&format!("sqlite://{}", path.display()), true)
            .await
            .unwrap();
        for suffix in ["", "-wal", "-shm"] {
            let p = PathBuf::from(format!("{}{suffix}", path.display()));
            let meta = std::fs::metadata(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{}", p.display());
        }
        drop(store);
    }

    #[tokio::test]
    async fn migrations_are_idempotent_and_newer_schemas_refused() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("m.db").display());
        Sqlite::open(&url, true).await.unwrap();
        Sqlite::open(&url, true).await.unwrap();
        let c = Connection::open(dir.path().join("m.db")).unwrap();
        c.execute(
            "INSERT INTO authgate_migrations (version, name, applied_at) VALUES (999, 'future', 0)",
            [],
        )
        .unwrap();
        let err = Sqlite::open(&url, true).await.unwrap_err();
        assert_eq!(err.code(), "failed_precondition", "{err}");
    }
}
