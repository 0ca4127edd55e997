//! Plain-text tables for the terminal: the end-of-run summary and the threshold verdicts.
//! Everything printed from a record is sanitized (no control characters from the target).

use crate::attack::recorder::sanitize;
use crate::record::RunRecord;

fn ms(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.2}s", v / 1000.0)
    } else {
        format!("{v:.1}ms")
    }
}

/// Per-flow table: requests, failures, req/s and percentiles.
pub fn flow_table(r: &RunRecord) -> String {
    let mut out = format!(
        "{:<10} {:>9} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
        "flow", "requests", "failed", "req/s", "p50", "p95", "p99", "p99.9", "max"
    );
    let secs = r.meta.duration_s.max(0.001);
    for f in &r.flows {
        let s = &f.summary;
        out.push_str(&format!(
            "{:<10} {:>9} {:>8} {:>9.1} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
            sanitize(&f.name, 10),
            f.requests,
            f.failed,
            f.requests as f64 / secs,
            ms(s.p50),
            ms(s.p95),
            ms(s.p99),
            ms(s.p999),
            ms(s.max)
        ));
        if !f.errors.is_empty() {
            let classes: Vec<String> = f
                .errors
                .iter()
                .map(|(k, v)| format!("{}×{v}", sanitize(k, 20)))
                .collect();
            out.push_str(&format!("{:<10} errors: {}\n", "", classes.join(", ")));
        }
    }
    out
}

/// Open-model figures (target vs achieved rate, late, dropped, send lag); empty for a
/// closed-model run.
pub fn rate_line(r: &RunRecord) -> String {
    r.meta
        .rate
        .as_ref()
        .map_or(String::new(), |rate| format!("{}\n", rate.describe()))
}

/// How many requests waited out a backoff first; empty when none did.
pub fn backoff_line(r: &RunRecord) -> String {
    match r.meta.delayed_retries {
        0 => String::new(),
        n => format!(
            "backoff: {n} request(s) sent only after a backoff wait (their user's signup, login or refresh had failed)\n"
        ),
    }
}

/// Threshold table: rule, observed, verdict.
pub fn threshold_table(r: &RunRecord) -> String {
    let mut out = format!("{:<34} {:>14}  {}\n", "threshold", "observed", "verdict");
    for v in &r.thresholds {
        let verdict = if v.passed {
            "pass".to_string()
        } else {
            format!(
                "FAIL{}",
                v.reason
                    .as_ref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            )
        };
        out.push_str(&format!(
            "{:<34} {:>14}  {}\n",
            sanitize(&v.rule, 34),
            v.observed_text,
            verdict
        ));
    }
    out
}

/// The verdict line.
pub fn verdict_line(r: &RunRecord) -> String {
    let mut line = match r.outcome.verdict.as_str() {
        "pass" => "PASS: every threshold held".to_string(),
        "invalid" => "INVALID: the run could not be judged".to_string(),
        _ => {
            let failed = r.thresholds.iter().filter(|v| !v.passed).count();
            format!("FAIL: {failed} of {} thresholds failed", r.thresholds.len())
        }
    };
    if let Some(reason) = &r.outcome.reason {
        line.push_str(&format!(" — {}", sanitize(reason, 1000)));
    }
    if r.outcome.partial {
        line.push_str(" [partial run]");
    }
    line
}

fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{:.1}%", v * 100.0))
}

fn num(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.2}"))
}

/// Server-side figures: the scraped totals, then `X-DB-Queries` / `X-Cache` per flow; empty
/// when the run recorded none.
pub fn server_table(r: &RunRecord) -> String {
    let Some(server) = &r.server else {
        return String::new();
    };
    let mut out = String::new();
    if let Some(s) = &server.scrape {
        out.push_str(&format!(
            "\nserver metrics ({}, {} scrapes{}): cache hit ratio {} · DB queries/request {} · requests {}\n",
            sanitize(&s.url, 80),
            s.points.len(),
            if s.errors > 0 {
                format!(", {} failed", s.errors)
            } else {
                String::new()
            },
            pct(s.cache_hit_ratio),
            num(s.db_queries_per_request),
            s.deltas.requests.map_or("-".into(), |v| format!("{v:.0}")),
        ));
    }
    if !server.headers.is_empty() {
        out.push_str(&format!(
            "\n{:<10} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
            "flow", "responses", "db q/req", "hits", "misses", "hit ratio"
        ));
        for f in &server.headers {
            out.push_str(&format!(
                "{:<10} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
                sanitize(&f.flow, 10),
                f.responses,
                num(f.db_queries_per_request()),
                f.cache_hits,
                f.cache_misses,
                pct(f.cache_hit_ratio())
            ));
        }
        out.push_str("(from the X-DB-Queries / X-Cache response headers)\n");
    }
    out
}

/// Recovery after the spike, one line per scope; empty for runs without a spike phase.
pub fn recovery_lines(r: &RunRecord) -> String {
    if r.recovery.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "\nrecovery after the spike (p95 over {} s windows back under the limit):\n",
        r.recovery[0].window_s
    );
    for rec in &r.recovery {
        out.push_str(&format!(
            "  {:<10} {:>16}  (limit {}, spike p95 {})\n",
            sanitize(&rec.scope, 10),
            rec.describe(),
            ms(rec.limit_ms),
            rec.spike_p95_ms.map_or("-".into(), ms)
        ));
    }
    out
}
