//! Micro-benchmarks of the reference API's query layer ([`Store`]): baseline schema (primary
//! keys only) against optimized schema (secondary indexes), at 10k and 100k seeded users.
//!
//! Benchmark ids are `query/{backend}/{operation}/{users}/{mode}`, e.g.
//! `query/sqlite/find_user_by_email/100k/baseline` and `.../100k/optimized`: replacing the last
//! segment pairs the two schemas.
//!
//! - SQLite (a temporary file) always; PostgreSQL too when `DATABASE_URL` is set (each store
//!   works in a random schema, dropped at the end).
//! - Each (backend, size) is seeded once for both modes: `Store::seed_users` (one revoked,
//!   expired session per user) plus `ACTIVE_SESSIONS` active sessions spread over the users.
//! - Lookups use keys that exist and are spread across the table, so an index seek and a full
//!   scan differ as they would in production.
//! - `find_user_by_id` (a primary-key seek, the same plan in both schemas) is the per-statement
//!   floor of the driver: an indexed lookup cannot get below it.
//!
//! Run: `cargo bench --bench query` (add `-- --test` to run each benchmark once).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use futures::StreamExt;
use tokio::runtime::Runtime;

mod common;
use common::{now, runtime};

use loadtest::reference_api::auth::{hash_password, token_hash, HashCost};
use loadtest::reference_api::store::{Store, Table};
use loadtest::reference_api::{Mode, SEED_PASSWORD};

/// Seeded users per table size, with the label used in benchmark ids.
const SIZES: &[(u64, &str)] = &[(10_000, "10k"), (100_000, "100k")];
/// Active sessions created on top of the seeded (expired) ones.
const ACTIVE_SESSIONS: u64 = 2_000;
/// Distinct keys each lookup benchmark cycles through.
const KEYS: usize = 1_024;
const MODES: [Mode; 2] = [Mode::Baseline, Mode::Optimized];

/// A pseudo-random walk over `1..=n` (a large prime stride), so consecutive lookups hit rows
/// far apart in the table.
fn spread(k: u64, n: u64) -> u64 {
    (k * 7_919 + 1_234) % n + 1
}

fn active_token(k: u64) -> String {
    token_hash(&format!("bench-active-session-{k}"))
}

/// A store of `users` seeded users (plus active sessions) with the schema of `mode`.
async fn seeded_store(url: Option<&str>, mode: Mode, users: u64, phc: &str, t: i64) -> Store {
    let started = Instant::now();
    let store = Store::connect(url, mode, None)
        .await
        .expect("cannot open the benchmark database");
    store.seed_users(users, phc, t).await.expect("seed users");
    futures::stream::iter(0..ACTIVE_SESSIONS)
        .for_each_concurrent(8, |k| {
            let store = &store;
            async move {
                let user = spread(k, users) as i64;
                store
                    .create_session(
                        user,
                        &active_token(k),
                        &token_hash(&format!("bench-refresh-{k}")),
                        &format!("bench-family-{k}"),
                        t,
                        t + 3_600,
                        t + 86_400,
                    )
                    .await
                    .expect("create active session");
            }
        })
        .await;
    store.analyze().await.expect("analyze");
    let sessions = store.count(Table::Sessions).await.expect("count");
    eprintln!(
        "seeded {:?} {mode}: {users} users, {sessions} sessions in {:.1} s",
        store.backend(),
        started.elapsed().as_secs_f64()
    );
    store
}

fn bench_backend(c: &mut Criterion, rt: &Runtime, backend: &str, url: Option<&str>) {
    let phc = hash_password(SEED_PASSWORD, HashCost::FAST).expect("hash");
    for &(users, label) in SIZES {
        let t = now();
        let stores: Vec<(Mode, Store)> = MODES
            .iter()
            .map(|&mode| (mode, rt.block_on(seeded_store(url, mode, users, &phc, t))))
            .collect();
        let emails: Vec<String> = (0..KEYS as u64)
            .map(|k| format!("seed-{}@seed.loadtest.invalid", spread(k, users)))
            .collect();
        let tokens: Vec<String> = (0..KEYS as u64)
            .map(|k| active_token(k % ACTIVE_SESSIONS))
            .collect();

        let mut group = c.benchmark_group(format!("query/{backend}/find_user_by_email/{label}"));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        for (mode, store) in &stores {
            group.bench_function(mode.to_string(), |b| {
                let mut i = 0usize;
                b.to_async(rt).iter(|| {
                    i = (i + 1) % KEYS;
                    let email = &emails[i];
                    async move {
                        let user = store.find_user_by_email(email).await.expect("query");
                        assert!(user.is_some(), "seeded user {email} not found");
                        user
                    }
                })
            });
        }
        group.finish();

        // The per-statement floor: a primary-key seek, the same plan in both schemas.
        let mut group = c.benchmark_group(format!("query/{backend}/find_user_by_id/{label}"));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        for (mode, store) in &stores {
            group.bench_function(mode.to_string(), |b| {
                let mut k = 0u64;
                b.to_async(rt).iter(|| {
                    k += 1;
                    let id = spread(k % KEYS as u64, users) as i64;
                    async move {
                        let user = store.find_user_by_id(id).await.expect("query");
                        assert!(user.is_some(), "seeded user {id} not found");
                        user
                    }
                })
            });
        }
        group.finish();

        let mut group = c.benchmark_group(format!("query/{backend}/find_active_session/{label}"));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        for (mode, store) in &stores {
            group.bench_function(mode.to_string(), |b| {
                let mut i = 0usize;
                b.to_async(rt).iter(|| {
                    i = (i + 1) % KEYS;
                    let token = &tokens[i];
                    async move {
                        let s = store.find_active_session(token, t).await.expect("query");
                        assert!(s.is_some(), "active session not found");
                        s
                    }
                })
            });
        }
        group.finish();

        // Last, since it grows the sessions table.
        let mut group = c.benchmark_group(format!("query/{backend}/create_session/{label}"));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        for (mode, store) in &stores {
            group.bench_function(mode.to_string(), |b| {
                let mut k = 0u64;
                b.to_async(rt).iter(|| {
                    k += 1;
                    let (user, hash, refresh) = (
                        spread(k, users) as i64,
                        token_hash(&format!("bench-new-session-{k}")),
                        token_hash(&format!("bench-new-refresh-{k}")),
                    );
                    async move {
                        black_box(
                            store
                                .create_session(
                                    user,
                                    &hash,
                                    &refresh,
                                    &hash,
                                    t,
                                    t + 3_600,
                                    t + 86_400,
                                )
                                .await
                                .expect("insert"),
                        )
                    }
                })
            });
        }
        group.finish();

        rt.block_on(async {
            for (_, store) in &stores {
                store.close().await;
            }
        });
    }
}

fn benches(c: &mut Criterion) {
    let rt = runtime();
    bench_backend(c, &rt, "sqlite", None);
    match std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()) {
        Some(url) => bench_backend(c, &rt, "postgres", Some(&url)),
        None => println!("DATABASE_URL not set: skipping the PostgreSQL benchmarks"),
    }
}

criterion_group!(query, benches);
criterion_main!(query);
