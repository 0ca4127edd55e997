//! Server-side metrics of the reference API.
//!
//! Two views of the same facts:
//! - per request: a task-local [`RequestStats`] counts database queries and the cache outcome;
//!   the middleware turns them into `X-DB-Queries` / `X-Cache` response headers;
//! - per server: a Prometheus registry (one per server instance, not the process-global
//!   recorder, so several servers in one test process keep separate counts) rendered at
//!   `GET /metrics`.

use std::cell::Cell;
use std::collections::HashMap;

use metrics::{Counter, Histogram, Key, KeyName, Label, Level, Metadata, Recorder, SharedString};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

/// What one request did on the server side.
#[derive(Debug, Default)]
pub struct RequestStats {
    pub db_queries: Cell<u32>,
    /// `Some(true)` hit, `Some(false)` miss, `None` no cache consulted.
    pub cache_hit: Cell<Option<bool>>,
}

tokio::task_local! {
    static REQUEST_STATS: RequestStats;
}

/// Runs `fut` with a fresh [`RequestStats`] in scope and returns both.
pub async fn with_request_stats<F: std::future::Future>(fut: F) -> (F::Output, u32, Option<bool>) {
    REQUEST_STATS
        .scope(RequestStats::default(), async move {
            let out = fut.await;
            let (q, c) = REQUEST_STATS.with(|s| (s.db_queries.get(), s.cache_hit.get()));
            (out, q, c)
        })
        .await
}

/// Counts one database statement against the current request (no-op outside a request,
/// e.g. in benchmarks).
pub fn count_db_query() {
    let _ = REQUEST_STATS.try_with(|s| s.db_queries.set(s.db_queries.get() + 1));
}

/// Records the cache outcome of the current request (the last lookup wins: a miss that is
/// then served by the second tier counts as a hit).
pub fn note_cache(hit: bool) {
    let _ = REQUEST_STATS.try_with(|s| s.cache_hit.set(Some(hit)));
}

/// Route labels known to the registry (anything else is `other`).
pub const ROUTES: &[&str] = &[
    "/api/v1/auth/signup",
    "/api/v1/auth/login",
    "/api/v1/auth/me",
    "/api/v1/auth/refresh",
    "/api/v1/auth/logout",
    "/api/v1/auth/password",
    "/health",
    "/metrics",
    "other",
];

/// Cache labels (`cache="token"`, `cache="user"`) for hit/miss counters.
pub const CACHES: &[&str] = &["token", "user"];

/// Prometheus registry of one server instance.
pub struct ServerMetrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    durations: HashMap<&'static str, Histogram>,
    /// The same durations as a summary (quantiles), for accuracy checks finer than buckets.
    quantiles: HashMap<&'static str, Histogram>,
    db_queries: Counter,
    hits: HashMap<&'static str, Counter>,
    misses: HashMap<&'static str, Counter>,
}

const META: Metadata<'static> = Metadata::new("loadtest::reference_api", Level::INFO, None);

/// The `# HELP` text of every metric family `/metrics` exposes (docs/SERVER-METRICS.md).
pub const HELP: &[(&str, &str)] = &[
    (
        "http_requests_total",
        "Requests answered, by route and HTTP status.",
    ),
    (
        "http_request_duration_seconds",
        "Server-side request duration in seconds (from the first middleware to the response), \
         by route.",
    ),
    (
        "http_request_duration_summary_seconds",
        "The same durations as quantiles over a rolling 60 s window (3 buckets of 20 s), by \
         route; finer than the histogram buckets, used by scripts/accuracy.sh.",
    ),
    (
        "db_queries_total",
        "Database statements run (the sum of the X-DB-Queries headers).",
    ),
    (
        "cache_hits_total",
        "Lookups answered by a cache (memory or Redis tier), by cache (token, user).",
    ),
    (
        "cache_misses_total",
        "Lookups no cache tier could answer, by cache (token, user).",
    ),
];

/// Histogram buckets (seconds) for request durations: 100 µs … 10 s.
pub const DURATION_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

impl ServerMetrics {
    pub fn new() -> ServerMetrics {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("http_request_duration_seconds".into()),
                DURATION_BUCKETS,
            )
            .expect("non-empty bucket list")
            .build_recorder();
        let handle = recorder.handle();
        for (name, help) in HELP {
            // Every family gets a `# HELP` line; the kind does not matter for the text.
            recorder.describe_counter(KeyName::from(*name), None, SharedString::from(*help));
        }
        let durations = ROUTES
            .iter()
            .map(|r| {
                let key = Key::from_parts(
                    "http_request_duration_seconds",
                    vec![Label::new("route", *r)],
                );
                (*r, recorder.register_histogram(&key, &META))
            })
            .collect();
        let quantiles = ROUTES
            .iter()
            .map(|r| {
                let key = Key::from_parts(
                    "http_request_duration_summary_seconds",
                    vec![Label::new("route", *r)],
                );
                (*r, recorder.register_histogram(&key, &META))
            })
            .collect();
        let cache_counter = |name: &'static str| {
            CACHES
                .iter()
                .map(|c| {
                    let key = Key::from_parts(name, vec![Label::new("cache", *c)]);
                    (*c, recorder.register_counter(&key, &META))
                })
                .collect::<HashMap<_, _>>()
        };
        let hits = cache_counter("cache_hits_total");
        let misses = cache_counter("cache_misses_total");
        let db_queries = recorder.register_counter(&Key::from_name("db_queries_total"), &META);
        ServerMetrics {
            recorder,
            handle,
            durations,
            quantiles,
            db_queries,
            hits,
            misses,
        }
    }

    /// Route label for a request path.
    pub fn route_label(path: &str) -> &'static str {
        ROUTES
            .iter()
            .find(|r| **r == path)
            .copied()
            .unwrap_or("other")
    }

    /// Records one finished request.
    pub fn observe_request(&self, route: &'static str, status: u16, seconds: f64, db_queries: u32) {
        if let Some(h) = self.durations.get(route) {
            h.record(seconds);
        }
        if let Some(h) = self.quantiles.get(route) {
            h.record(seconds);
        }
        self.db_queries.increment(u64::from(db_queries));
        // The registry hands back the same counter for the same key.
        let key = Key::from_parts(
            "http_requests_total",
            vec![
                Label::new("route", route),
                Label::new("status", status.to_string()),
            ],
        );
        self.recorder.register_counter(&key, &META).increment(1);
    }

    /// Counts a cache lookup outcome for `cache` (`token` or `user`).
    pub fn cache_outcome(&self, cache: &'static str, hit: bool) {
        let map = if hit { &self.hits } else { &self.misses };
        if let Some(c) = map.get(cache) {
            c.increment(1);
        }
    }

    /// Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        self.handle.run_upkeep();
        self.handle.render()
    }
}

impl Default for ServerMetrics {
    fn default() -> Self {
        Self::new()
    }
}
