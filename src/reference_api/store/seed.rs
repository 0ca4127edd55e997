//! What benchmarks and `serve --seed-users` use beyond the API's own queries: bulk seeding,
//! row counts, planner statistics and the session lookup's query plan.

use super::{Backend, Pool, Store, StoreError, SELECT_SESSION};

impl Store {
    /// Number of rows in a table (`users`, `sessions` or `audit_logs`).
    pub async fn count(&self, table: Table) -> Result<i64, StoreError> {
        let sql = format!("SELECT COUNT(*) FROM {}", table.name());
        let n: i64 = on_pool!(self, |p| sqlx::query_scalar(&sql).fetch_one(p).await)?;
        Ok(n)
    }

    /// Bulk-creates `n` users (`seed-{i}@seed.loadtest.invalid`, all with `password_hash`) and
    /// one revoked, expired session each — realistic table sizes for the index comparison.
    /// Batched multi-row inserts inside transactions; no per-row hashing.
    pub async fn seed_users(
        &self,
        n: u64,
        password_hash: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        const BATCH: u64 = 500;
        let start_id: i64 = on_pool!(self, |p| sqlx::query_scalar(
            "SELECT COALESCE(MAX(id), 0) FROM users"
        )
        .fetch_one(p)
        .await)?;
        let mut done = 0u64;
        while done < n {
            // A long seed honours Ctrl-C / SIGTERM between batches.
            if let Some(sig) = crate::interrupt::requested() {
                return Err(StoreError::Interrupted {
                    sig,
                    done,
                    total: n,
                });
            }
            let len = BATCH.min(n - done);
            let mut users = String::from(
                "INSERT INTO users (id, tenant_id, email, password_hash, created_at) VALUES ",
            );
            let mut sessions = String::from(
                "INSERT INTO sessions (user_id, token_hash, refresh_hash, family, is_active, \
                 created_at, expires_at, refresh_expires_at) VALUES ",
            );
            for j in 0..len {
                let sep = if j == 0 { "" } else { "," };
                users.push_str(&format!("{sep}(${}, 1, ${}, $1, $2)", 3 + 2 * j, 4 + 2 * j));
                sessions.push_str(&format!(
                    "{sep}(${}, ${}, ${}, ${}, 0, $1, $1, $1)",
                    2 + 3 * j,
                    3 + 3 * j,
                    4 + 3 * j,
                    4 + 3 * j
                ));
            }
            let ids: Vec<i64> = (0..len).map(|j| start_id + (done + j) as i64 + 1).collect();
            on_pool!(self, |p| {
                let mut tx = p.begin().await?;
                let mut q = sqlx::query(&users).bind(password_hash).bind(now);
                for id in &ids {
                    q = q.bind(*id).bind(format!("seed-{id}@seed.loadtest.invalid"));
                }
                q.execute(&mut *tx).await.map(|r| r.rows_affected())?;
                let mut q = sqlx::query(&sessions).bind(now - 1);
                for id in &ids {
                    q = q
                        .bind(*id)
                        .bind(format!("{:064x}", *id as u128 * 0x9E37_79B9_7F4A_7C15))
                        .bind(format!("{:064x}", *id as u128 * 0xC2B2_AE3D_27D4_EB4F));
                }
                q.execute(&mut *tx).await.map(|r| r.rows_affected())?;
                tx.commit().await
            })?;
            done += len;
        }
        if self.backend() == Backend::Postgres {
            // Identity columns do not advance on explicit ids; move them past the seeds.
            on_pool!(self, |p| sqlx::query(
                "SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT MAX(id) FROM users))"
            )
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        }
        self.analyze().await
    }

    /// Refreshes planner statistics (so PostgreSQL picks the indexes after a bulk seed).
    pub async fn analyze(&self) -> Result<(), StoreError> {
        on_pool!(self, |p| sqlx::query("ANALYZE")
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The query plan of the session lookup, one line per plan row (SQLite
    /// `EXPLAIN QUERY PLAN` details, PostgreSQL `EXPLAIN` lines).
    pub async fn explain_session_lookup(&self) -> Result<Vec<String>, StoreError> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let lines = match &self.pool {
            Pool::Sqlite(p) => {
                let rows: Vec<(i64, i64, i64, String)> =
                    sqlx::query_as(&format!("EXPLAIN QUERY PLAN {SELECT_SESSION}"))
                        .bind("x")
                        .bind(now)
                        .fetch_all(p)
                        .await?;
                rows.into_iter().map(|r| r.3).collect()
            }
            Pool::Postgres(p) => {
                // Generic plan for the parameterized statement, as the server would run it.
                let sql = SELECT_SESSION
                    .replace("$1", "'x'")
                    .replace("$2", &now.to_string());
                sqlx::query_scalar(&format!("EXPLAIN {sql}"))
                    .fetch_all(p)
                    .await?
            }
        };
        Ok(lines)
    }
}

/// Tables of the reference schema.
#[derive(Debug, Clone, Copy)]
pub enum Table {
    Users,
    Sessions,
    AuditLogs,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Users => "users",
            Table::Sessions => "sessions",
            Table::AuditLogs => "audit_logs",
        }
    }
}
