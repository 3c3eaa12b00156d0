//! The PostgreSQL backend (sqlx): a connection pool, transactions for writes, advisory locks.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{Column, Row as _, TypeInfo, ValueRef};
use time::OffsetDateTime;

use super::keycache::KeyCache;
use super::{
    Backend, BoxFuture, Conn, Migrations, Mode, P, Row, StoreKind, Value, pending_migrations, unix_ms,
};
use crate::error::{Error, Result};

/// Embedded schema migrations.
const MIGRATIONS: Migrations = &[
    (1, "init", include_str!("migrations/postgres/0001_init.sql")),
    (
        2,
        "environment_revocation",
        include_str!("migrations/postgres/0002_environment_revocation.sql"),
    ),
    (
        3,
        "users_external_id",
        include_str!("migrations/postgres/0003_users_external_id.sql"),
    ),
    (
        4,
        "key_lifecycle",
        include_str!("migrations/postgres/0004_key_lifecycle.sql"),
    ),
    (
        5,
        "audit_log",
        include_str!("migrations/postgres/0005_audit_log.sql"),
    ),
    (
        6,
        "rate_windows",
        include_str!("migrations/postgres/0006_rate_windows.sql"),
    ),
    (
        7,
        "validation_cache",
        include_str!("migrations/postgres/0007_validation_cache.sql"),
    ),
];

/// Advisory lock key serialising migrations ("authgate" in ASCII, as a bigint).
const MIGRATION_LOCK: i64 = 0x6175_7468_6761_7465;
/// Connections in the pool.
const MAX_CONNECTIONS: u32 = 10;
/// How long to wait for a free connection (or a new one) before failing.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// A PostgreSQL database.
#[derive(Debug)]
pub(crate) struct Postgres {
    pool: PgPool,
    /// The validation cache (see [`keycache`](super::keycache)); `None` when disabled.
    cache: Option<Arc<KeyCache>>,
}

impl Postgres {
    /// Connects, applies migrations, and starts the validation cache unless `cache_max_staleness`
    /// is zero.
    pub(crate) async fn open(url: &str, cache_max_staleness: Duration) -> Result<Postgres> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| {
                Error::invalid(
                    "database_url",
                    format!("not a valid PostgreSQL URL: {}", describe(&e)),
                )
            })?
            // Every statement is a parameterised lookup whose best plan does not depend on the
            // values: plan once per connection instead of re-planning (≈1 ms for the key lookup).
            .options([("plan_cache_mode", "force_generic_plan")]);
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await
            .map_err(|e| Error::Unavailable(format!("cannot connect to PostgreSQL: {}", describe(&e))))?;
        migrate(&pool).await?;
        let cache = KeyCache::start(cache_max_staleness, &pool, &options);
        Ok(Postgres { pool, cache })
    }
}

/// Applies missing migrations in one transaction, holding an advisory lock so that processes
/// opening the database at the same time apply them once.
async fn migrate(pool: &PgPool) -> Result<()> {
    let mut tx = pool.begin().await.map_err(pg_err)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(pg_err)?;
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS authgate_migrations (
             version    BIGINT PRIMARY KEY,
             name       TEXT   NOT NULL,
             applied_at BIGINT NOT NULL
         )",
    )
    .execute(&mut *tx)
    .await
    .map_err(pg_err)?;
    let current: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0)::BIGINT FROM authgate_migrations")
            .fetch_one(&mut *tx)
            .await
            .map_err(pg_err)?;
    let now = unix_ms(OffsetDateTime::now_utc());
    for (version, name, sql) in pending_migrations(MIGRATIONS, current)? {
        sqlx::raw_sql(*sql).execute(&mut *tx).await.map_err(pg_err)?;
        sqlx::query("INSERT INTO authgate_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
            .bind(*version)
            .bind(*name)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(pg_err)?;
    }
    tx.commit().await.map_err(pg_err)
}

impl Backend for Postgres {
    type Conn = PgConnection;
    const KIND: StoreKind = StoreKind::Postgres;

    fn key_cache(&self) -> Option<&KeyCache> {
        self.cache.as_deref()
    }

    async fn sync_key_cache(&self) {
        if let Some(cache) = &self.cache {
            cache.sync(&self.pool).await;
        }
    }

    async fn run<R, F>(&self, mode: Mode, work: F) -> Result<R>
    where
        R: Send + 'static,
        F: for<'c> FnOnce(&'c mut PgConnection) -> BoxFuture<'c, Result<R>> + Send + 'static,
    {
        match mode {
            Mode::Read => {
                let mut conn = self.pool.acquire().await.map_err(pg_err)?;
                work(&mut conn).await
            }
            Mode::Snapshot | Mode::Write => {
                let mut tx = if mode == Mode::Snapshot {
                    self.pool
                        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                        .await
                } else {
                    self.pool.begin().await
                }
                .map_err(pg_err)?;
                let value = work(&mut tx).await?;
                tx.commit().await.map_err(pg_err)?;
                Ok(value)
            }
        }
    }
}

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

fn bind<'q>(sql: &'static str, params: &[P<'q>]) -> PgQuery<'q> {
    let mut q = sqlx::query(sql);
    for p in params {
        q = match *p {
            P::I64(v) => q.bind(v),
            P::Text(s) => q.bind(s),
            P::Blob(b) => q.bind(b),
            P::NullI64 => q.bind(None::<i64>),
            P::NullText => q.bind(None::<&str>),
        };
    }
    q
}

/// The column names of a result (read once per result, shared by its rows).
fn column_names(row: &PgRow) -> Arc<[String]> {
    row.columns().iter().map(|c| c.name().to_owned()).collect()
}

fn decode(row: &PgRow, columns: &Arc<[String]>) -> Result<Row> {
    let mut values = Vec::with_capacity(row.columns().len());
    for (i, col) in row.columns().iter().enumerate() {
        if row.try_get_raw(i).map_err(pg_err)?.is_null() {
            values.push(Value::Null);
            continue;
        }
        let v = match col.type_info().name() {
            "INT8" => Value::I64(row.try_get::<i64, _>(i).map_err(pg_err)?),
            "INT4" => Value::I64(row.try_get::<i32, _>(i).map_err(pg_err)? as i64),
            "INT2" => Value::I64(row.try_get::<i16, _>(i).map_err(pg_err)? as i64),
            "TEXT" | "VARCHAR" | "NAME" => Value::Text(row.try_get::<String, _>(i).map_err(pg_err)?),
            "BYTEA" => Value::Blob(row.try_get::<Vec<u8>, _>(i).map_err(pg_err)?),
            other => return Err(Error::Store(format!("unexpected column type {other}"))),
        };
        values.push(v);
    }
    Ok(Row::new(columns.clone(), values))
}

impl Conn for PgConnection {
    async fn query<'a>(&'a mut self, sql: &'static str, params: &'a [P<'a>]) -> Result<Vec<Row>> {
        let rows = bind(sql, params).fetch_all(&mut *self).await.map_err(pg_err)?;
        let Some(first) = rows.first() else {
            return Ok(Vec::new());
        };
        let columns = column_names(first);
        rows.iter().map(|row| decode(row, &columns)).collect()
    }

    async fn execute<'a>(&'a mut self, sql: &'static str, params: &'a [P<'a>]) -> Result<u64> {
        Ok(bind(sql, params)
            .execute(&mut *self)
            .await
            .map_err(pg_err)?
            .rows_affected())
    }

    async fn lock<'a>(&'a mut self, key: &'a str) -> Result<()> {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(key)
            .execute(&mut *self)
            .await
            .map_err(pg_err)?;
        Ok(())
    }
}

/// A description of an sqlx error without connection details or parameter values.
fn describe(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => format!("{} (SQLSTATE {})", db.message(), db.code().unwrap_or_default()),
        other => other.to_string(),
    }
}

fn pg_err(e: sqlx::Error) -> Error {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => Error::AlreadyExists {
            resource: "record",
            message: "a record with the same unique key exists".into(),
        },
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            Error::FailedPrecondition("a referenced record no longer exists".into())
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
            Error::Unavailable(format!("PostgreSQL: {}", describe(&e)))
        }
        // Faults of the database, not of the request: connection exceptions (08…), operator
        // intervention such as a shutdown (57…), insufficient resources (53…), a read-only
        // transaction on a standby (25006).
        sqlx::Error::Database(db)
            if db.code().is_some_and(|c| {
                c.starts_with("08") || c.starts_with("57") || c.starts_with("53") || c == "25006"
            }) =>
        {
            Error::Unavailable(format!("PostgreSQL: {}", describe(&e)))
        }
        _ => Error::Store(format!("postgres: {}", describe(&e))),
    }
}
