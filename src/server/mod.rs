//! Server-side correlation: what the target says it did while we loaded it.
//!
//! Two sources, both optional (see `docs/SERVER-METRICS.md`):
//! - [`scrape`]: its Prometheus endpoint (default `HOST/metrics`), scraped at the start, every
//!   2 s and at the end, reduced by a [`Mapping`] to cache hits, cache misses, database
//!   queries and requests; the record keeps the readings, the per-interval deltas and the
//!   run's deltas;
//! - [`headers`]: per-response `X-DB-Queries` / `X-Cache`, counted per flow.
//!
//! Derived figures: cache hit ratio (hits / (hits + misses)) and database queries per request.

pub mod headers;
pub mod mapping;
pub mod scrape;

use serde::{Deserialize, Serialize};

pub use headers::{FlowHeaders, HeaderStats};
pub use mapping::{Mapping, RoleValues};
pub use scrape::{ScrapeConfig, Scraper};

use crate::thresholds::Metric;

/// The scope name of server-wide (scraped) figures in threshold rules.
pub const SCOPE: &str = "server";

/// Everything server-side a run recorded (`RunRecord::server`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ServerRecord {
    /// The Prometheus scrapes (absent with `--no-server-metrics`, or when `HOST/metrics` did
    /// not answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape: Option<ScrapeRecord>,
    /// Per-flow `X-DB-Queries` / `X-Cache` figures (empty when the target sends neither).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<FlowHeaders>,
}

impl ServerRecord {
    /// `None` when there is nothing to keep.
    pub fn assemble(scrape: Option<ScrapeRecord>, headers: Vec<FlowHeaders>) -> Option<Self> {
        (scrape.is_some() || !headers.is_empty()).then_some(ServerRecord { scrape, headers })
    }

    /// Header figures of a scope: one flow, or every flow for `all`.
    pub fn headers_of(&self, scope: &str) -> Option<FlowHeaders> {
        let flows: Vec<&FlowHeaders> = self
            .headers
            .iter()
            .filter(|f| scope.eq_ignore_ascii_case("all") || f.flow.eq_ignore_ascii_case(scope))
            .collect();
        (!flows.is_empty()).then(|| FlowHeaders::total(scope, flows))
    }
}

/// The four mapped values (cumulative readings, or deltas); `None` = not mapped / not seen.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Default)]
pub struct Counts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_hits: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_misses: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_queries: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<f64>,
}

impl From<RoleValues> for Counts {
    fn from(v: RoleValues) -> Counts {
        Counts {
            cache_hits: v.cache_hits,
            cache_misses: v.cache_misses,
            db_queries: v.db_queries,
            requests: v.requests,
        }
    }
}

/// Counter increase from `a` to `b`; a decrease is a counter reset (the server restarted),
/// so the increase is `b` itself (Prometheus' `increase()` does the same). A series that
/// appears between two scrapes (labelled counters are created on first use, e.g. the first
/// `http_requests_total{route="/login"}`) started from 0.
fn increase(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    let b = b?;
    let a = a.unwrap_or(0.0);
    Some(if b >= a { b - a } else { b })
}

fn add(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a + b),
        (x, None) | (None, x) => x,
    }
}

impl Counts {
    fn increase(&self, later: &Counts) -> Counts {
        Counts {
            cache_hits: increase(self.cache_hits, later.cache_hits),
            cache_misses: increase(self.cache_misses, later.cache_misses),
            db_queries: increase(self.db_queries, later.db_queries),
            requests: increase(self.requests, later.requests),
        }
    }

    fn plus(&self, o: &Counts) -> Counts {
        Counts {
            cache_hits: add(self.cache_hits, o.cache_hits),
            cache_misses: add(self.cache_misses, o.cache_misses),
            db_queries: add(self.db_queries, o.db_queries),
            requests: add(self.requests, o.requests),
        }
    }

    /// Hits over lookups of these deltas (see [`hit_ratio`]).
    pub fn cache_hit_ratio(&self) -> Option<f64> {
        let served = self.requests.is_some_and(|r| r > 0.0);
        match (self.cache_hits, self.cache_misses) {
            (None, None) if !served => None,
            (h, m) => hit_ratio(h.unwrap_or(0.0), m.unwrap_or(0.0), served),
        }
    }

    /// Database queries per request of these deltas.
    pub fn db_queries_per_request(&self) -> Option<f64> {
        let (q, r) = (self.db_queries?, self.requests?);
        (r > 0.0).then(|| q / r)
    }
}

/// Cache hit ratio: `hits / (hits + misses)`. With no lookups at all, 0 when the server did
/// serve requests (nothing was served from a cache — a service without a cache scores 0%),
/// else unknown.
pub fn hit_ratio(hits: f64, misses: f64, served: bool) -> Option<f64> {
    let lookups = hits + misses;
    if lookups > 0.0 {
        Some(hits / lookups)
    } else {
        served.then_some(0.0)
    }
}

/// A hit ratio as the reports show it: `—` (n/a) when there were no cache lookups at all (no
/// hits and no misses: nothing to rate, although a rule still judges that as 0%, see
/// [`hit_ratio`]), `-` when unknown, else a percentage such as `97.3%`.
pub fn shown_hit_ratio(hits: f64, misses: f64, ratio: Option<f64>) -> String {
    match ratio {
        None => "-".into(),
        Some(_) if hits + misses <= 0.0 => "\u{2014}".into(),
        Some(r) => format!("{:.1}%", r * 100.0),
    }
}

/// One scrape: seconds from the run's start and the mapped readings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ScrapePoint {
    pub t: f64,
    #[serde(flatten)]
    pub values: Counts,
}

impl ScrapePoint {
    pub fn new(t: f64, v: RoleValues) -> ScrapePoint {
        ScrapePoint {
            t,
            values: v.into(),
        }
    }
}

/// The increase between two consecutive scrapes, and what follows from it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ScrapeInterval {
    pub from_s: f64,
    pub to_s: f64,
    #[serde(flatten)]
    pub deltas: Counts,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_hit_ratio: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_queries_per_request: Option<f64>,
}

/// The Prometheus side of a run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ScrapeRecord {
    /// Scraped URL (password redacted).
    pub url: String,
    /// `built-in` or the mapping file's path.
    pub mapping: String,
    pub interval_s: f64,
    /// Every successful scrape, in order.
    pub points: Vec<ScrapePoint>,
    /// Failed scrapes, and the last failure.
    #[serde(default)]
    pub errors: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Between consecutive scrapes.
    #[serde(default)]
    pub intervals: Vec<ScrapeInterval>,
    /// Over the whole run (first to last scrape).
    #[serde(default)]
    pub deltas: Counts,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_hit_ratio: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_queries_per_request: Option<f64>,
}

impl ScrapeRecord {
    /// Fills in intervals, deltas and the derived figures from the points.
    pub fn finished(mut self) -> ScrapeRecord {
        self.intervals = self
            .points
            .windows(2)
            .map(|w| {
                let deltas = w[0].values.increase(&w[1].values);
                ScrapeInterval {
                    from_s: w[0].t,
                    to_s: w[1].t,
                    deltas,
                    cache_hit_ratio: deltas.cache_hit_ratio(),
                    db_queries_per_request: deltas.db_queries_per_request(),
                }
            })
            .collect();
        self.deltas = self
            .window(f64::NEG_INFINITY, f64::INFINITY)
            .unwrap_or_default();
        self.cache_hit_ratio = self.deltas.cache_hit_ratio();
        self.db_queries_per_request = self.deltas.db_queries_per_request();
        self
    }

    /// Deltas between the first and the last scrape taken within `[from, to]`, widened by half
    /// a scrape interval on each side; `None` with fewer than two such scrapes.
    pub fn window(&self, from: f64, to: f64) -> Option<Counts> {
        let slack = self.interval_s / 2.0;
        let inside: Vec<&ScrapePoint> = self
            .points
            .iter()
            .filter(|p| p.t >= from - slack && p.t <= to + slack)
            .collect();
        (inside.len() >= 2).then(|| {
            inside
                .windows(2)
                .map(|w| w[0].values.increase(&w[1].values))
                .fold(Counts::default(), |acc, d| acc.plus(&d))
        })
    }
}

/// Observed value of a server-side metric (`cache_hit_ratio`, `db_queries_per_request`):
/// scope `server` from the scrapes, a flow or `all` from the response headers.
pub fn observe(server: Option<&ServerRecord>, scope: &str, metric: &Metric) -> Option<f64> {
    let server = server?;
    if scope.eq_ignore_ascii_case(SCOPE) {
        let s = server.scrape.as_ref()?;
        return match metric {
            Metric::CacheHitRatio => s.cache_hit_ratio,
            Metric::DbQueriesPerRequest => s.db_queries_per_request,
            _ => None,
        };
    }
    let h = server.headers_of(scope)?;
    match metric {
        Metric::CacheHitRatio => h.cache_hit_ratio(),
        Metric::DbQueriesPerRequest => h.db_queries_per_request(),
        _ => None,
    }
}

/// The scraped figures over time spans (phases): deltas summed over every span.
pub fn observe_spans(
    server: Option<&ServerRecord>,
    metric: &Metric,
    spans: &[(f64, f64)],
) -> Option<f64> {
    let s = server?.scrape.as_ref()?;
    let mut total: Option<Counts> = None;
    for &(from, to) in spans {
        if let Some(d) = s.window(from, to) {
            total = Some(total.unwrap_or_default().plus(&d));
        }
    }
    let total = total?;
    match metric {
        Metric::CacheHitRatio => total.cache_hit_ratio(),
        Metric::DbQueriesPerRequest => total.db_queries_per_request(),
        _ => None,
    }
}

/// The server side of a distributed run: header figures summed flow by flow over the
/// shards; the scrape of the first shard that has one (every shard scraped the same server,
/// so each saw all of its traffic).
pub fn merge_shards<'a>(
    shards: impl Iterator<Item = Option<&'a ServerRecord>>,
) -> Option<ServerRecord> {
    let shards: Vec<&ServerRecord> = shards.flatten().collect();
    let scrape = shards.iter().find_map(|s| s.scrape.clone());
    let mut headers: Vec<FlowHeaders> = Vec::new();
    for f in shards.iter().flat_map(|s| &s.headers) {
        match headers.iter_mut().find(|h| h.flow == f.flow) {
            Some(h) => *h = FlowHeaders::total(&f.flow, [&*h, f]),
            None => headers.push(f.clone()),
        }
    }
    ServerRecord::assemble(scrape, headers)
}

#[cfg(test)]
mod tests;
