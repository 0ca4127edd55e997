//! The query layer of the reference auth API: `users`, `sessions`, `audit_logs`,
//! `revoked_families`.
//!
//! Every session belongs to a refresh-token *family* (`sessions.family`): a login starts one,
//! each refresh rotates to a new session of the same family. Presenting a refresh token that
//! was already rotated away is reuse (a stolen token, or the thief's copy racing the owner's):
//! the whole family is revoked, the newest pair included (OWASP refresh-token rotation).
//!
//! One small API over SQLite and PostgreSQL alike. Every statement is parameterized
//! (`$1`, `$2`, … — both drivers accept that placeholder form) and written once; the
//! [`on_pool!`] macro runs it on whichever pool backs the store and counts it. Tokens never
//! reach the database: sessions are looked up by a SHA-256 hash of the token.
//!
//! *Baseline* schema: primary keys only. *Optimized* schema: the secondary indexes a typical
//! auth backend adds (see [`OPTIMIZED_INDEXES`]).

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, PgPool, SqliteConnection, SqlitePool};

use super::Mode;
use crate::text::redact_url;

/// Which database engine backs a [`Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same statement on either pool (each arm is type-checked on its own) and counts it
/// against the current request (`X-DB-Queries`; a no-op outside a request — schema, seeding,
/// benchmarks). Every statement goes through here, so no query can go uncounted.
macro_rules! on_pool {
    ($store:expr, |$p:ident| $body:expr) => {{
        $crate::reference_api::metrics::count_db_query();
        match &$store.pool {
            Pool::Sqlite($p) => $body,
            Pool::Postgres($p) => $body,
        }
    }};
}

// After the macro: `seed` runs its statements through `on_pool!` too.
mod seed;
pub use seed::Table;

/// Errors of the query layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database unreachable ({url}): {source}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("unsupported database URL '{0}': use sqlite:PATH, sqlite::memory: or postgres://…")]
    BadUrl(String),
    #[error("email already registered")]
    Duplicate,
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    /// A signal stopped a long seed (`sig`: SIGINT or SIGTERM); nothing was served.
    #[error("seeding stopped by {} after {done} of {total} users", crate::interrupt::signal_name(*sig))]
    Interrupted { sig: i32, done: u64, total: u64 },
}

/// A user row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct User {
    pub id: i64,
    pub tenant_id: i64,
    pub email: String,
    pub password_hash: String,
    pub created_at: i64,
}

/// An active session row, as the validation path needs it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Session {
    pub id: i64,
    pub user_id: i64,
    pub expires_at: i64,
}

/// A session found by its refresh token, with what rotation and reuse detection need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refresh {
    pub session: Session,
    /// Hex SHA-256 of the session's access token.
    pub token_hash: String,
    /// The refresh-token family the session belongs to.
    pub family: String,
    /// Still active (not rotated, logged out or revoked).
    pub active: bool,
    pub refresh_expires_at: i64,
}

/// The secondary indexes of the optimized schema (name, table, columns).
pub const OPTIMIZED_INDEXES: &[(&str, &str)] = &[
    (
        "CREATE UNIQUE INDEX idx_users_email ON users(email)",
        "users(email)",
    ),
    (
        "CREATE INDEX idx_users_tenant_email ON users(tenant_id, email)",
        "users(tenant_id, email)",
    ),
    (
        "CREATE INDEX idx_sessions_token_hash ON sessions(token_hash)",
        "sessions(token_hash)",
    ),
    (
        "CREATE INDEX idx_sessions_refresh_hash ON sessions(refresh_hash)",
        "sessions(refresh_hash)",
    ),
    (
        "CREATE INDEX idx_sessions_family ON sessions(family)",
        "sessions(family)",
    ),
    (
        "CREATE INDEX idx_sessions_user_active ON sessions(user_id, is_active)",
        "sessions(user_id, is_active)",
    ),
    (
        "CREATE INDEX idx_sessions_expires_at ON sessions(expires_at)",
        "sessions(expires_at)",
    ),
    (
        "CREATE INDEX idx_audit_user_created ON audit_logs(user_id, created_at)",
        "audit_logs(user_id, created_at)",
    ),
];

const SELECT_USER: &str = "SELECT id, tenant_id, email, password_hash, created_at FROM users";
const SELECT_SESSION: &str = "SELECT id, user_id, expires_at FROM sessions \
     WHERE token_hash = $1 AND is_active = 1 AND expires_at > $2";

type UserRow = (i64, i64, String, String, i64);

fn user_from(row: UserRow) -> User {
    User {
        id: row.0,
        tenant_id: row.1,
        email: row.2,
        password_hash: row.3,
        created_at: row.4,
    }
}

/// The query layer: a pool plus the schema mode it was created with.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    mode: Mode,
    /// PostgreSQL schema that holds this store's tables (dropped by [`Store::close`]).
    pg_schema: Option<String>,
    /// SQLite file created for this store (removed by [`Store::close`]).
    owned_file: Option<std::path::PathBuf>,
}

impl Store {
    /// Connects and creates a fresh schema for `mode`.
    ///
    /// `url` is `sqlite:PATH`, `sqlite::memory:` or `postgres://…`; `None` means a temporary
    /// SQLite file that is removed again by [`Store::close`]. The reference API always starts
    /// from empty tables: on PostgreSQL it works in its own schema (`schema`, or a random
    /// `lt_…` one), on SQLite it drops and recreates its three tables.
    pub async fn connect(
        url: Option<&str>,
        mode: Mode,
        schema: Option<&str>,
    ) -> Result<Store, StoreError> {
        let (pool, pg_schema, owned_file) = match url {
            None => {
                let path = std::env::temp_dir().join(format!(
                    "loadtest-target-{}.db",
                    uuid::Uuid::new_v4().simple()
                ));
                crate::interrupt::register_temp_file(path.clone());
                let opts = SqliteConnectOptions::new()
                    .filename(&path)
                    .create_if_missing(true);
                (
                    sqlite_pool(opts, 8, &path.display().to_string()).await?,
                    None,
                    Some(path),
                )
            }
            Some(u) if u.starts_with("sqlite:") => {
                let opts = SqliteConnectOptions::from_str(u)
                    .map_err(|_| StoreError::BadUrl(u.to_string()))?
                    .create_if_missing(true);
                // Every connection to `sqlite::memory:` is a different database: use one.
                let max = if u.contains(":memory:") || u.contains("mode=memory") {
                    1
                } else {
                    8
                };
                (sqlite_pool(opts, max, u).await?, None, None)
            }
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                let name = schema.map(str::to_string).unwrap_or_else(|| {
                    format!("lt_{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
                });
                if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(StoreError::BadUrl(format!(
                        "{u} (schema name '{name}' must be [A-Za-z0-9_])"
                    )));
                }
                let base =
                    PgConnectOptions::from_str(u).map_err(|_| StoreError::BadUrl(u.into()))?;
                let bootstrap = PgPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect_with(base.clone())
                    .await
                    .map_err(|source| connect_err(u, source))?;
                sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                    .execute(&bootstrap)
                    .await?;
                sqlx::query(&format!("CREATE SCHEMA {name}"))
                    .execute(&bootstrap)
                    .await?;
                bootstrap.close().await;
                let opts = base.options([("search_path", name.as_str())]);
                let pool = PgPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(opts)
                    .await
                    .map_err(|source| connect_err(u, source))?;
                (Pool::Postgres(pool), Some(name), None)
            }
            Some(u) => return Err(StoreError::BadUrl(u.to_string())),
        };
        let store = Store {
            pool,
            mode,
            pg_schema,
            owned_file,
        };
        store.create_schema().await?;
        Ok(store)
    }

    /// The engine behind this store.
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// The schema mode (baseline: primary keys only; optimized: secondary indexes).
    pub fn mode(&self) -> Mode {
        self.mode
    }

    async fn create_schema(&self) -> Result<(), StoreError> {
        let (id, int) = match self.backend() {
            Backend::Sqlite => ("INTEGER PRIMARY KEY", "INTEGER"),
            Backend::Postgres => (
                "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
                "BIGINT",
            ),
        };
        let mut ddl = vec![
            "DROP TABLE IF EXISTS audit_logs".to_string(),
            "DROP TABLE IF EXISTS revoked_families".to_string(),
            "DROP TABLE IF EXISTS sessions".to_string(),
            "DROP TABLE IF EXISTS users".to_string(),
            format!(
                "CREATE TABLE users (id {id}, tenant_id {int} NOT NULL DEFAULT 1, \
                 email TEXT NOT NULL, password_hash TEXT NOT NULL, created_at {int} NOT NULL, \
                 password_changed_at {int})"
            ),
            format!(
                "CREATE TABLE sessions (id {id}, user_id {int} NOT NULL, token_hash TEXT NOT NULL, \
                 refresh_hash TEXT NOT NULL, family TEXT NOT NULL, is_active {int} NOT NULL, \
                 created_at {int} NOT NULL, expires_at {int} NOT NULL, \
                 refresh_expires_at {int} NOT NULL)"
            ),
            format!(
                "CREATE TABLE audit_logs (id {id}, user_id {int}, event TEXT NOT NULL, \
                 created_at {int} NOT NULL)"
            ),
            format!(
                "CREATE TABLE revoked_families (family TEXT PRIMARY KEY, \
                 revoked_at {int} NOT NULL)"
            ),
        ];
        if self.mode == Mode::Optimized {
            ddl.extend(OPTIMIZED_INDEXES.iter().map(|(sql, _)| sql.to_string()));
        }
        for stmt in ddl {
            on_pool!(self, |p| sqlx::query(&stmt)
                .execute(p)
                .await
                .map(|r| r.rows_affected()))?;
        }
        Ok(())
    }

    /// Closes the pool and removes what [`Store::connect`] created (PostgreSQL schema or
    /// temporary SQLite file). Best effort: errors are ignored.
    pub async fn close(&self) {
        if let (Pool::Postgres(p), Some(schema)) = (&self.pool, &self.pg_schema) {
            let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .execute(p)
                .await;
        }
        match &self.pool {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
        }
        if let Some(path) = &self.owned_file {
            crate::interrupt::forget_temp_file(path);
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
    }

    /// Finds a user by email (a full scan in baseline mode, an index seek in optimized mode).
    pub async fn find_user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        let sql = format!("{SELECT_USER} WHERE email = $1");
        let row: Option<UserRow> = on_pool!(self, |p| sqlx::query_as(&sql)
            .bind(email)
            .fetch_optional(p)
            .await)?;
        Ok(row.map(user_from))
    }

    /// Finds a user by primary key.
    pub async fn find_user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        let sql = format!("{SELECT_USER} WHERE id = $1");
        let row: Option<UserRow> = on_pool!(self, |p| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(p)
            .await)?;
        Ok(row.map(user_from))
    }

    /// Inserts a user; [`StoreError::Duplicate`] when the email is taken.
    ///
    /// Optimized mode relies on the unique index on `users(email)`. Baseline mode has no such
    /// index, so it checks first and inserts in one statement (`INSERT … WHERE NOT EXISTS`).
    pub async fn insert_user(
        &self,
        email: &str,
        password_hash: &str,
        now: i64,
    ) -> Result<User, StoreError> {
        let sql = "INSERT INTO users (tenant_id, email, password_hash, created_at) \
                   SELECT 1, $1, $2, $3 WHERE NOT EXISTS (SELECT 1 FROM users WHERE email = $1) \
                   RETURNING id";
        let res: Result<Option<i64>, sqlx::Error> = on_pool!(self, |p| sqlx::query_scalar(sql)
            .bind(email)
            .bind(password_hash)
            .bind(now)
            .fetch_optional(p)
            .await);
        match res {
            Ok(Some(id)) => Ok(User {
                id,
                tenant_id: 1,
                email: email.to_string(),
                password_hash: password_hash.to_string(),
                created_at: now,
            }),
            Ok(None) => Err(StoreError::Duplicate),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::Duplicate),
            Err(e) => Err(e.into()),
        }
    }

    /// Creates an active session in refresh-token family `family`; returns its id.
    #[allow(clippy::too_many_arguments)]
    pub async fn create_session(
        &self,
        user_id: i64,
        token_hash: &str,
        refresh_hash: &str,
        family: &str,
        now: i64,
        expires_at: i64,
        refresh_expires_at: i64,
    ) -> Result<i64, StoreError> {
        let sql = "INSERT INTO sessions (user_id, token_hash, refresh_hash, family, is_active, \
                   created_at, expires_at, refresh_expires_at) \
                   VALUES ($1, $2, $3, $4, 1, $5, $6, $7) RETURNING id";
        let id: i64 = on_pool!(self, |p| sqlx::query_scalar(sql)
            .bind(user_id)
            .bind(token_hash)
            .bind(refresh_hash)
            .bind(family)
            .bind(now)
            .bind(expires_at)
            .bind(refresh_expires_at)
            .fetch_one(p)
            .await)?;
        Ok(id)
    }

    /// The active, unexpired session whose access token hashes to `token_hash`.
    pub async fn find_active_session(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<Session>, StoreError> {
        let row: Option<(i64, i64, i64)> = on_pool!(self, |p| sqlx::query_as(SELECT_SESSION)
            .bind(token_hash)
            .bind(now)
            .fetch_optional(p)
            .await)?;
        Ok(row.map(|(id, user_id, expires_at)| Session {
            id,
            user_id,
            expires_at,
        }))
    }

    /// The session whose refresh token hashes to `refresh_hash`, active or not (a revoked
    /// one is how reuse of a rotated refresh token is recognised).
    pub async fn find_refresh(&self, refresh_hash: &str) -> Result<Option<Refresh>, StoreError> {
        let sql = "SELECT id, user_id, expires_at, token_hash, family, is_active, \
                   refresh_expires_at FROM sessions WHERE refresh_hash = $1";
        type Row = (i64, i64, i64, String, String, i64, i64);
        let row: Option<Row> = on_pool!(self, |p| sqlx::query_as(sql)
            .bind(refresh_hash)
            .fetch_optional(p)
            .await)?;
        Ok(row.map(
            |(id, user_id, expires_at, token_hash, family, active, refresh_expires_at)| Refresh {
                session: Session {
                    id,
                    user_id,
                    expires_at,
                },
                token_hash,
                family,
                active: active != 0,
                refresh_expires_at,
            },
        ))
    }

    /// Revokes a refresh-token family for good: marks it revoked (so a session a concurrent
    /// rotation adds later is caught by [`Store::family_revoked`]), then revokes every active
    /// session in it. Returns the access-token hashes that were revoked (so the caller can
    /// invalidate its caches).
    pub async fn revoke_family(&self, family: &str, now: i64) -> Result<Vec<String>, StoreError> {
        let mark = "INSERT INTO revoked_families (family, revoked_at) VALUES ($1, $2) \
                    ON CONFLICT (family) DO NOTHING";
        on_pool!(self, |p| sqlx::query(mark)
            .bind(family)
            .bind(now)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        let sql = "UPDATE sessions SET is_active = 0 WHERE family = $1 AND is_active = 1 \
                   RETURNING token_hash";
        let hashes: Vec<String> = on_pool!(self, |p| sqlx::query_scalar(sql)
            .bind(family)
            .fetch_all(p)
            .await)?;
        Ok(hashes)
    }

    /// Whether [`Store::revoke_family`] has revoked this family.
    pub async fn family_revoked(&self, family: &str) -> Result<bool, StoreError> {
        let sql = "SELECT COUNT(*) FROM revoked_families WHERE family = $1";
        let n: i64 = on_pool!(self, |p| sqlx::query_scalar(sql)
            .bind(family)
            .fetch_one(p)
            .await)?;
        Ok(n > 0)
    }

    /// Marks a session inactive. Returns whether a session was active.
    pub async fn revoke_session(&self, session_id: i64) -> Result<bool, StoreError> {
        let sql = "UPDATE sessions SET is_active = 0 WHERE id = $1 AND is_active = 1";
        let done = on_pool!(self, |p| sqlx::query(sql)
            .bind(session_id)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done > 0)
    }

    /// Revokes every active session of a user; returns the token hashes that were revoked
    /// (so the caller can invalidate its caches).
    pub async fn revoke_user_sessions(&self, user_id: i64) -> Result<Vec<String>, StoreError> {
        let sql = "UPDATE sessions SET is_active = 0 WHERE user_id = $1 AND is_active = 1 \
                   RETURNING token_hash";
        let hashes: Vec<String> = on_pool!(self, |p| sqlx::query_scalar(sql)
            .bind(user_id)
            .fetch_all(p)
            .await)?;
        Ok(hashes)
    }

    /// Replaces a user's password hash.
    pub async fn update_password(
        &self,
        user_id: i64,
        password_hash: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE users SET password_hash = $1, password_changed_at = $2 WHERE id = $3";
        on_pool!(self, |p| sqlx::query(sql)
            .bind(password_hash)
            .bind(now)
            .bind(user_id)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Appends an audit event (`signup`, `login`, `logout`, `refresh`, `refresh_reuse`,
    /// `password_change`).
    pub async fn audit(
        &self,
        user_id: Option<i64>,
        event: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO audit_logs (user_id, event, created_at) VALUES ($1, $2, $3)";
        on_pool!(self, |p| sqlx::query(sql)
            .bind(user_id)
            .bind(event)
            .bind(now)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }
}

fn connect_err(url: &str, source: sqlx::Error) -> StoreError {
    StoreError::Connect {
        url: redact_url(url),
        source,
    }
}

/// Opens a SQLite pool in WAL mode.
///
/// Switching a new file to WAL takes an exclusive lock; a connection that loses that race while
/// holding a shared lock gets `SQLITE_BUSY` at once (SQLite skips the busy handler where
/// waiting could deadlock), which made a fresh pool fail to start now and then. So
/// the switch is made once, on a single connection (busy timeout set first), before the pool
/// opens the others; for them `journal_mode=WAL` is then a no-op read of the persistent mode.
async fn sqlite_pool(opts: SqliteConnectOptions, max: u32, url: &str) -> Result<Pool, StoreError> {
    let opts = opts
        .busy_timeout(Duration::from_secs(10))
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal);
    if max > 1 {
        let first = SqliteConnection::connect_with(&opts)
            .await
            .map_err(|source| connect_err(url, source))?;
        first
            .close()
            .await
            .map_err(|source| connect_err(url, source))?;
    }
    let pool = SqlitePoolOptions::new()
        .max_connections(max)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_with(opts)
        .await
        .map_err(|source| connect_err(url, source))?;
    Ok(Pool::Sqlite(pool))
}
