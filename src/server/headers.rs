//! Per-response server hints: `X-DB-Queries: N` (database statements the request ran) and
//! `X-Cache: hit|miss` (whether its cache lookup found the entry), counted per flow with
//! atomics so every virtual user can record without a lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};

/// Header carrying the number of database statements a request ran.
pub const DB_QUERIES_HEADER: &str = "x-db-queries";
/// Header carrying the cache outcome of a request.
pub const CACHE_HEADER: &str = "x-cache";

/// Distinct flow names tracked; further names are counted in `overflow`.
const SLOTS: usize = 16;

#[derive(Default)]
struct Slot {
    name: OnceLock<String>,
    responses: AtomicU64,
    with_db_header: AtomicU64,
    db_queries: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    other: AtomicU64,
}

/// Counters of the `X-DB-Queries` / `X-Cache` headers per flow, shared by every user.
#[derive(Default)]
pub struct HeaderStats {
    slots: [Slot; SLOTS],
    overflow: AtomicU64,
}

impl std::fmt::Debug for HeaderStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeaderStats")
            .field("flows", &self.snapshot())
            .finish()
    }
}

/// What an `X-Cache` value says: `Some(true)` hit, `Some(false)` miss, `None` neither.
/// Case-insensitive; CDN-style values work too (`TCP_MISS`, `HIT from …`).
pub fn cache_outcome(value: &str) -> Option<bool> {
    let v = value.to_ascii_lowercase();
    if v.contains("miss") {
        Some(false)
    } else if v.contains("hit") {
        Some(true)
    } else {
        None
    }
}

/// One flow's header figures, as the run record keeps them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct FlowHeaders {
    pub flow: String,
    /// Responses observed (with or without the headers).
    pub responses: u64,
    /// Responses that carried a numeric `X-DB-Queries`, and the sum of their values.
    pub with_db_header: u64,
    pub db_queries: u64,
    /// `X-Cache` hits, misses, and other values (`bypass`, …).
    pub cache_hits: u64,
    pub cache_misses: u64,
    #[serde(default)]
    pub cache_other: u64,
}

impl FlowHeaders {
    /// Database statements per response that reported them.
    pub fn db_queries_per_request(&self) -> Option<f64> {
        (self.with_db_header > 0).then(|| self.db_queries as f64 / self.with_db_header as f64)
    }

    /// Hits over lookups. With no lookups at all but responses that did report their
    /// database work, the server served nothing from a cache: 0.
    pub fn cache_hit_ratio(&self) -> Option<f64> {
        crate::server::hit_ratio(
            self.cache_hits as f64,
            self.cache_misses as f64,
            self.with_db_header > 0,
        )
    }

    /// The sum of several flows' figures (named `name`).
    pub fn total<'a>(name: &str, flows: impl IntoIterator<Item = &'a FlowHeaders>) -> FlowHeaders {
        let mut t = FlowHeaders {
            flow: name.to_string(),
            ..FlowHeaders::default()
        };
        for f in flows {
            t.responses += f.responses;
            t.with_db_header += f.with_db_header;
            t.db_queries += f.db_queries;
            t.cache_hits += f.cache_hits;
            t.cache_misses += f.cache_misses;
            t.cache_other += f.cache_other;
        }
        t
    }
}

impl HeaderStats {
    pub fn new() -> HeaderStats {
        HeaderStats::default()
    }

    fn slot(&self, flow: &str) -> Option<&Slot> {
        for slot in &self.slots {
            match slot.name.get() {
                Some(n) if n == flow => return Some(slot),
                Some(_) => continue,
                None => {
                    // Claim the free slot; if another user claimed it first, it may have
                    // claimed it for this very flow.
                    let _ = slot.name.set(flow.to_string());
                    if slot.name.get().is_some_and(|n| n == flow) {
                        return Some(slot);
                    }
                }
            }
        }
        None
    }

    /// Counts one response of `flow` (call it for every response, headers or not).
    pub fn observe(&self, flow: &str, headers: &HeaderMap) {
        let Some(slot) = self.slot(flow) else {
            self.overflow.fetch_add(1, Ordering::Relaxed);
            return;
        };
        slot.responses.fetch_add(1, Ordering::Relaxed);
        let queries = headers
            .get(DB_QUERIES_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if let Some(q) = queries {
            slot.with_db_header.fetch_add(1, Ordering::Relaxed);
            slot.db_queries.fetch_add(q, Ordering::Relaxed);
        }
        if let Some(v) = headers.get(CACHE_HEADER) {
            let counter = match v.to_str().ok().and_then(cache_outcome) {
                Some(true) => &slot.hits,
                Some(false) => &slot.misses,
                None => &slot.other,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The flows that reported either header, in first-seen order.
    pub fn snapshot(&self) -> Vec<FlowHeaders> {
        self.slots
            .iter()
            .filter_map(|s| {
                let f = FlowHeaders {
                    flow: s.name.get()?.clone(),
                    responses: s.responses.load(Ordering::Relaxed),
                    with_db_header: s.with_db_header.load(Ordering::Relaxed),
                    db_queries: s.db_queries.load(Ordering::Relaxed),
                    cache_hits: s.hits.load(Ordering::Relaxed),
                    cache_misses: s.misses.load(Ordering::Relaxed),
                    cache_other: s.other.load(Ordering::Relaxed),
                };
                (f.with_db_header + f.cache_hits + f.cache_misses + f.cache_other > 0).then_some(f)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn counts_per_flow() {
        let s = HeaderStats::new();
        for _ in 0..3 {
            s.observe(
                "validate",
                &headers(&[("X-DB-Queries", "0"), ("X-Cache", "hit")]),
            );
        }
        s.observe(
            "validate",
            &headers(&[("x-db-queries", "2"), ("x-cache", "MISS")]),
        );
        s.observe("login", &headers(&[("x-db-queries", "3")]));
        s.observe("login", &headers(&[("x-db-queries", "junk")]));
        s.observe("signup", &headers(&[]));
        let snap = s.snapshot();
        assert_eq!(snap.len(), 2, "signup reported nothing: {snap:?}");
        let v = &snap[0];
        assert_eq!(
            (v.flow.as_str(), v.responses, v.db_queries, v.cache_hits),
            ("validate", 4, 2, 3)
        );
        assert_eq!(v.db_queries_per_request(), Some(0.5));
        assert_eq!(v.cache_hit_ratio(), Some(0.75));
        let l = &snap[1];
        assert_eq!((l.responses, l.with_db_header), (2, 1));
        assert_eq!(l.db_queries_per_request(), Some(3.0));
        assert_eq!(l.cache_hit_ratio(), Some(0.0), "no lookups: nothing cached");
        let all = FlowHeaders::total("all", &snap);
        assert_eq!((all.responses, all.db_queries), (6, 5));
        assert_eq!(cache_outcome("TCP_MISS"), Some(false));
        assert_eq!(cache_outcome("Hit from cloudfront"), Some(true));
        assert_eq!(cache_outcome("bypass"), None);
    }

    #[test]
    fn many_users_many_flows() {
        let s = std::sync::Arc::new(HeaderStats::new());
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for n in 0..1000 {
                        let flow = format!("f{}", (n + i) % 20);
                        s.observe(&flow, &headers(&[("x-db-queries", "1")]));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let snap = s.snapshot();
        assert_eq!(snap.len(), SLOTS);
        let counted: u64 = snap.iter().map(|f| f.responses).sum();
        assert_eq!(counted + s.overflow.load(Ordering::Relaxed), 4000);
    }
}
