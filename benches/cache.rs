//! Micro-benchmarks of the reference API's cache layer ([`AuthCache`]).
//!
//! Groups (the last path segment is the operation; the tier is the second one):
//! - `cache/memory/*`: the in-process tier alone (tokens in a `quick_cache` map hashed by the
//!   digest's first bytes, users in moka) — session hit (through the async `get_session`, and
//!   `session_hit_sync` through the synchronous `get_session_memory` the handler calls;
//!   `bare_moka_siphash_hit` a bare moka sync cache with its default hasher — the token tier
//!   before issue 17 — for reference) / miss / insert / invalidate, user hit, and concurrent
//!   session hits from 8 tokio tasks;
//! - `cache/memory_redis/*` (only with `REDIS_URL`): the same operations with the Redis second
//!   tier, plus `session_hit_redis_tier` / `user_hit_redis_tier` (a read answered by Redis:
//!   the cache is built with `max_entries: 0`, which leaves the memory maps no room, so every
//!   read misses the memory tier and goes to Redis);
//! - `cache/redis/get_round_trip` (only with `REDIS_URL`): a bare `GET` through the same
//!   `ConnectionManager` the cache uses, for reference.
//!
//! Run: `cargo bench --bench cache` (add `-- --test` to run each benchmark once).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use redis::AsyncCommands;
use tokio::runtime::Runtime;

mod common;
use common::{now, runtime};

use loadtest::reference_api::auth::{token_digest, TokenDigest};
use loadtest::reference_api::cache::{connect_redis, AuthCache, CacheConfig, Tier};
use loadtest::reference_api::store::{Session, User};

/// Distinct cached sessions / users the hit benchmarks cycle through.
const POPULATION: usize = 10_000;
/// Concurrent readers and gets per reader in the concurrency benchmark.
const TASKS: usize = 8;
const GETS_PER_TASK: usize = 1_000;

/// Token digests as the API computes them (raw SHA-256, the token cache's key).
fn hashes(tag: &str, n: usize) -> Vec<TokenDigest> {
    (0..n)
        .map(|i| token_digest(&format!("{tag}-{i}")))
        .collect()
}

fn session(i: usize, now: i64) -> Session {
    Session {
        id: i as i64 + 1,
        user_id: i as i64 + 1,
        expires_at: now + 3600,
    }
}

fn user(i: usize, now: i64) -> User {
    User {
        id: i as i64 + 1,
        tenant_id: 1,
        email: format!("seed-{}@seed.loadtest.invalid", i + 1),
        password_hash: "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$\
                        AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
            .to_string(),
        created_at: now,
    }
}

async fn new_cache(redis_url: Option<&str>, max_entries: u64) -> AuthCache {
    AuthCache::new(CacheConfig {
        redis_url: redis_url.map(str::to_string),
        max_entries,
        ..CacheConfig::default()
    })
    .await
    .expect("REDIS_URL is set but Redis does not answer")
}

/// Session hit / miss / insert / invalidate and user hit on one cache (moka alone or
/// moka + Redis); reads are answered by the memory tier.
fn bench_tier(group: &mut BenchmarkGroup<'_, WallTime>, rt: &Runtime, redis_url: Option<&str>) {
    let t = now();
    let cache = rt.block_on(new_cache(redis_url, 1_000_000));
    let present = hashes("present", POPULATION);
    let absent = hashes("absent", POPULATION);
    rt.block_on(async {
        for (i, h) in present.iter().enumerate() {
            cache.put_session(h, &session(i, t)).await;
            cache.put_user(&user(i, t)).await;
        }
    });

    group.bench_function("session_hit", |b| {
        let mut i = 0usize;
        b.to_async(rt).iter(|| {
            i = (i + 1) % POPULATION;
            let h = &present[i];
            let cache = &cache;
            async move {
                let hit = cache.get_session(h, t).await;
                debug_assert!(matches!(hit, Some((_, Tier::Memory))));
                hit
            }
        })
    });

    // The same hit through the synchronous memory-tier call the handler makes (no future).
    group.bench_function("session_hit_sync", |b| {
        let mut i = 0usize;
        b.iter(|| {
            i = (i + 1) % POPULATION;
            cache.get_session_memory(black_box(&present[i]), t)
        })
    });

    // Reference for the two choices above: a bare moka sync cache with moka's default
    // hasher (SipHash), the same keys and values, no wrapper.
    let sip: moka::sync::Cache<TokenDigest, Session> = moka::sync::Cache::builder()
        .max_capacity(1_000_000)
        .time_to_live(Duration::from_secs(300))
        .build();
    for (i, h) in present.iter().enumerate() {
        sip.insert(*h, session(i, t));
    }
    group.bench_function("bare_moka_siphash_hit", |b| {
        let mut i = 0usize;
        b.iter(|| {
            i = (i + 1) % POPULATION;
            sip.get(black_box(&present[i]))
        })
    });

    group.bench_function("session_miss", |b| {
        let mut i = 0usize;
        b.to_async(rt).iter(|| {
            i = (i + 1) % POPULATION;
            let h = &absent[i];
            let cache = &cache;
            async move { cache.get_session(h, t).await }
        })
    });

    group.bench_function("user_hit", |b| {
        let mut i = 0usize;
        b.to_async(rt).iter(|| {
            i = (i + 1) % POPULATION;
            let cache = &cache;
            async move { cache.get_user(i as i64 + 1).await }
        })
    });

    // Inserts cycle over a pool of fresh keys (the first pass inserts, later passes update),
    // each on a cache of its own so the read benchmarks above are not disturbed.
    let insert_cache = rt.block_on(new_cache(redis_url, 1_000_000));
    let fresh = hashes("insert", POPULATION);
    group.bench_function("session_insert", |b| {
        let mut i = 0usize;
        b.to_async(rt).iter(|| {
            i = (i + 1) % POPULATION;
            let (h, s) = (&fresh[i], session(i, t));
            let cache = &insert_cache;
            async move { cache.put_session(h, &s).await }
        })
    });

    // Invalidation of a present key: insert a chunk (not timed), then time dropping it.
    group.bench_function("session_invalidate", |b| {
        b.to_async(rt).iter_custom(|iters| {
            let (cache, fresh) = (&insert_cache, &fresh);
            async move {
                let mut total = Duration::ZERO;
                let mut left = iters as usize;
                while left > 0 {
                    let n = left.min(POPULATION);
                    for (i, h) in fresh[..n].iter().enumerate() {
                        cache.put_session(h, &session(i, t)).await;
                    }
                    let start = Instant::now();
                    for h in &fresh[..n] {
                        cache.invalidate_session(black_box(h)).await;
                    }
                    total += start.elapsed();
                    left -= n;
                }
                total
            }
        })
    });

    if redis_url.is_none() {
        bench_concurrent(group, rt, &cache, &present, t);
    }
    rt.block_on(async {
        cache.clear().await;
        insert_cache.clear().await;
    });
}

/// `TASKS` tokio tasks each doing `GETS_PER_TASK` session hits at once; one iteration is the
/// whole batch (throughput is reported per get).
fn bench_concurrent(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &Runtime,
    cache: &AuthCache,
    present: &[TokenDigest],
    t: i64,
) {
    let keys: std::sync::Arc<Vec<TokenDigest>> = std::sync::Arc::new(present.to_vec());
    group.throughput(Throughput::Elements((TASKS * GETS_PER_TASK) as u64));
    group.bench_function(
        format!("concurrent_session_hit_{TASKS}x{GETS_PER_TASK}"),
        |b| {
            b.to_async(rt).iter(|| {
                let (cache, keys) = (cache.clone(), keys.clone());
                async move {
                    let tasks: Vec<_> = (0..TASKS)
                        .map(|task| {
                            let (cache, keys) = (cache.clone(), keys.clone());
                            tokio::spawn(async move {
                                let mut hits = 0usize;
                                for k in 0..GETS_PER_TASK {
                                    let h = &keys[(task * GETS_PER_TASK + k * 7) % keys.len()];
                                    hits += cache.get_session(h, t).await.is_some() as usize;
                                }
                                hits
                            })
                        })
                        .collect();
                    let mut hits = 0;
                    for task in tasks {
                        hits += task.await.expect("reader task");
                    }
                    assert_eq!(hits, TASKS * GETS_PER_TASK);
                }
            })
        },
    );
}

/// Reads answered by the Redis tier (memory tier disabled).
fn bench_redis_tier_reads(group: &mut BenchmarkGroup<'_, WallTime>, rt: &Runtime, url: &str) {
    let t = now();
    // `max_entries: 0` leaves the memory maps no room: inserts are dropped, reads always miss memory.
    let cache = rt.block_on(new_cache(Some(url), 0));
    let keys = hashes("redis-tier", 1_000);
    rt.block_on(async {
        for (i, h) in keys.iter().enumerate() {
            cache.put_session(h, &session(i, t)).await;
            cache.put_user(&user(i, t)).await;
        }
        let probe = cache.get_session(&keys[0], t).await;
        assert!(
            matches!(probe, Some((_, Tier::Redis))),
            "the session must be answered by the Redis tier, got {probe:?}"
        );
    });
    group.bench_function("session_hit_redis_tier", |b| {
        let mut i = 0usize;
        b.to_async(rt).iter(|| {
            i = (i + 1) % keys.len();
            let (cache, h) = (&cache, &keys[i]);
            async move { cache.get_session(h, t).await }
        })
    });
    group.bench_function("user_hit_redis_tier", |b| {
        let mut i = 0usize;
        b.to_async(rt).iter(|| {
            i = (i + 1) % keys.len();
            let cache = &cache;
            async move { cache.get_user(i as i64 + 1).await }
        })
    });
    rt.block_on(cache.clear());
}

/// A bare `GET` through the `ConnectionManager` the cache uses: the floor of a Redis-tier read.
fn bench_redis_get(c: &mut Criterion, rt: &Runtime, url: &str) {
    let t = now();
    let mut group = c.benchmark_group("cache/redis");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let conn = rt
        .block_on(connect_redis(url))
        .expect("REDIS_URL is set but Redis does not answer");
    let key = format!(
        "loadtest:bench:{}:raw",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let value = serde_json::to_string(&session(0, t)).expect("json");
    rt.block_on(async {
        let mut conn = conn.clone();
        let _: () = conn.set_ex(&key, &value, 600).await.expect("redis SET");
    });
    group.bench_function("get_round_trip", |b| {
        b.to_async(rt).iter(|| {
            let (mut conn, key) = (conn.clone(), &key);
            async move {
                let v: Option<String> = conn.get(key).await.expect("redis GET");
                v
            }
        })
    });
    rt.block_on(async {
        let mut conn = conn.clone();
        let _: Result<(), _> = conn.del(&key).await;
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    let rt = runtime();
    let redis_url = std::env::var("REDIS_URL").ok().filter(|u| !u.is_empty());

    let mut group = c.benchmark_group("cache/memory");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    bench_tier(&mut group, &rt, None);
    group.finish();

    match redis_url.as_deref() {
        Some(url) => {
            let mut group = c.benchmark_group("cache/memory_redis");
            group
                .warm_up_time(Duration::from_secs(1))
                .measurement_time(Duration::from_secs(3));
            bench_tier(&mut group, &rt, Some(url));
            bench_redis_tier_reads(&mut group, &rt, url);
            group.finish();
            bench_redis_get(c, &rt, url);
        }
        None => println!("REDIS_URL not set: skipping the Redis tier benchmarks"),
    }
}

criterion_group!(cache, benches);
criterion_main!(cache);
