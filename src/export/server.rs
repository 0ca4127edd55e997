//! The server-side parts of the reports: scraped cache hit ratio and DB queries per request
//! (whole run and over time), the per-flow `X-DB-Queries` / `X-Cache` figures, and the
//! recovery time after a spike. Every exporter takes its numbers from here.

use minijinja::Value;
use serde::Serialize;

use super::{charts, fmt_ms, run_seconds, ExportError};
use crate::record::RunRecord;
use crate::server::{shown_hit_ratio, ScrapeRecord};
use crate::text::escape_markdown;

/// A ratio as `0.45`, or `-`.
pub fn num(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.2}"))
}

/// The scrape in a few figures.
#[derive(Debug, Clone, Serialize)]
pub struct ScrapeSummary {
    pub url: String,
    pub mapping: String,
    pub scrapes: usize,
    pub failed: u32,
    pub last_error: Option<String>,
    pub cache_hit_ratio: String,
    pub db_queries_per_request: String,
    pub requests: String,
    pub db_queries: String,
}

/// One flow's header figures.
#[derive(Debug, Clone, Serialize)]
pub struct HeaderRow {
    pub flow: String,
    pub responses: u64,
    pub db_queries_per_request: String,
    pub cache_hits: u64,
    pub cache_misses: u64,
    pub cache_hit_ratio: String,
}

/// One recovery line.
#[derive(Debug, Clone, Serialize)]
pub struct RecoveryRow {
    pub scope: String,
    pub rule: String,
    pub after: String,
    pub recovered: bool,
    pub spike_p95: String,
    pub window_s: u32,
}

/// Everything the reports show server-side.
#[derive(Debug, Clone, Serialize, Default)]
pub struct ServerView {
    pub scrape: Option<ScrapeSummary>,
    pub headers: Vec<HeaderRow>,
    pub recovery: Vec<RecoveryRow>,
}

fn summary(s: &ScrapeRecord) -> ScrapeSummary {
    let count = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.0}"));
    ScrapeSummary {
        url: s.url.clone(),
        mapping: s.mapping.clone(),
        scrapes: s.points.len(),
        failed: s.errors,
        last_error: s.last_error.clone(),
        cache_hit_ratio: shown_hit_ratio(
            s.deltas.cache_hits.unwrap_or(0.0),
            s.deltas.cache_misses.unwrap_or(0.0),
            s.cache_hit_ratio,
        ),
        db_queries_per_request: num(s.db_queries_per_request),
        requests: count(s.deltas.requests),
        db_queries: count(s.deltas.db_queries),
    }
}

/// The view of a record (empty parts when it has no server figures or no spike).
pub fn view(r: &RunRecord) -> ServerView {
    let server = r.server.as_ref();
    ServerView {
        scrape: server.and_then(|s| s.scrape.as_ref()).map(summary),
        headers: server
            .map(|s| &s.headers[..])
            .unwrap_or_default()
            .iter()
            .map(|f| HeaderRow {
                flow: f.flow.clone(),
                responses: f.responses,
                db_queries_per_request: num(f.db_queries_per_request()),
                cache_hits: f.cache_hits,
                cache_misses: f.cache_misses,
                cache_hit_ratio: shown_hit_ratio(
                    f.cache_hits as f64,
                    f.cache_misses as f64,
                    f.cache_hit_ratio(),
                ),
            })
            .collect(),
        recovery: r
            .recovery
            .iter()
            .map(|x| RecoveryRow {
                scope: x.scope.clone(),
                rule: x.rule.clone(),
                after: x.describe(),
                recovered: x.recovered_after_s.is_some(),
                spike_p95: x.spike_p95_ms.map_or("-".into(), fmt_ms),
                window_s: x.window_s,
            })
            .collect(),
    }
}

/// Per-interval series: (cache hit ratio, DB queries per request), at interval midpoints.
pub fn series(s: &ScrapeRecord) -> (charts::Series, charts::Series) {
    let mid = |i: &crate::server::ScrapeInterval| (i.from_s + i.to_s) / 2.0;
    let ratio = s
        .intervals
        .iter()
        .filter_map(|i| Some((mid(i), i.cache_hit_ratio?)))
        .collect();
    let queries = s
        .intervals
        .iter()
        .filter_map(|i| Some((mid(i), i.db_queries_per_request?)))
        .collect();
    (ratio, queries)
}

/// The two over-time charts (cache hit ratio, DB queries per request) as `(title, svg)`;
/// none without scrapes, and a chart is left out when its series is empty.
pub fn charts(r: &RunRecord) -> Result<Vec<(String, Value)>, ExportError> {
    let Some(s) = r.server.as_ref().and_then(|s| s.scrape.as_ref()) else {
        return Ok(Vec::new());
    };
    let seconds = run_seconds(r);
    let (ratio, queries) = series(s);
    let mut out = Vec::new();
    if !ratio.is_empty() {
        let svg = charts::server_over_time(
            &[("cache hit ratio".to_string(), ratio)],
            seconds,
            "cache hit ratio (%)",
            true,
        )?;
        out.push(("cache hit ratio".to_string(), Value::from_safe_string(svg)));
    }
    if !queries.is_empty() {
        let svg = charts::server_over_time(
            &[("DB queries per request".to_string(), queries)],
            seconds,
            "DB queries / request",
            false,
        )?;
        out.push((
            "DB queries per request".to_string(),
            Value::from_safe_string(svg),
        ));
    }
    Ok(out)
}

/// The Markdown section (empty when there is nothing server-side and no recovery).
pub fn markdown(r: &RunRecord) -> String {
    let v = view(r);
    let mut md = String::new();
    if let Some(s) = &v.scrape {
        md.push_str(&format!(
            "\n**Server** ({} scrapes of {}): cache hit ratio **{}** · DB queries/request **{}** · {} requests, {} DB queries",
            s.scrapes,
            escape_markdown(&s.url, 100),
            s.cache_hit_ratio,
            s.db_queries_per_request,
            s.requests,
            s.db_queries
        ));
        if s.failed > 0 {
            md.push_str(&format!(" · {} scrapes failed", s.failed));
        }
        md.push('\n');
    }
    if !v.headers.is_empty() {
        md.push_str("\n| flow | responses | DB queries/request | cache hits | misses | hit ratio |\n|:--|--:|--:|--:|--:|--:|\n");
        for h in &v.headers {
            md.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                escape_markdown(&h.flow, 40),
                h.responses,
                h.db_queries_per_request,
                h.cache_hits,
                h.cache_misses,
                h.cache_hit_ratio
            ));
        }
    }
    if !v.recovery.is_empty() {
        let parts: Vec<String> = v
            .recovery
            .iter()
            .map(|x| {
                format!(
                    "{} **{}** ({})",
                    escape_markdown(&x.scope, 40),
                    x.after,
                    escape_markdown(&x.rule, 60)
                )
            })
            .collect();
        md.push_str(&format!(
            "\n**Recovery after the spike** (p95 over {} s windows): {}\n",
            v.recovery[0].window_s,
            parts.join(" · ")
        ));
    }
    md
}
