//! Phase-aware judging and recovery time.
//!
//! A rule `validate: p95<100ms during hold` is judged over the seconds of every phase named
//! `hold` (case-insensitive): per-second entry `t` (requests completed in `[t, t+1)`) belongs to
//! a phase when its middle `t + 0.5` lies in `[start_s, end_s)`. Latency percentiles come from
//! the per-second histograms merged over those seconds (never averaged); `error-rate`, `rps`
//! and `count` from the per-second counts; `server.*` from the scrapes taken within the phase.
//!
//! **Recovery time** (spike profiles: a phase named `spike`): seconds from the end of the
//! spike until p95 is back under its threshold, measured on a rolling window of
//! [`RECOVERY_WINDOW_S`] seconds: the answer is the first `k ≥ 0` for which the p95 of the
//! requests completed in seconds `[E + k, E + k + 3)` holds the limit (E = end of the spike).
//! The limit is the flow's own p95 rule, else the `all` p95 rule (rules without `during` are
//! preferred). A window with no requests is skipped; a window must end within the run.

use crate::histogram::{decode, new_histogram, quantile_ms};
use crate::record::{FlowRecord, Recovery, RunRecord};
use crate::thresholds::{Metric, Observations, Op, Rule};

/// Width of the rolling window recovery is measured on, in seconds.
pub const RECOVERY_WINDOW_S: u32 = 3;
/// The phase whose end recovery is measured from.
pub const SPIKE_PHASE: &str = "spike";

/// Time spans `(start_s, end_s)` of every phase named `name`, clipped to the run's duration
/// when that is known.
pub fn spans(record: &RunRecord, name: &str) -> Vec<(f64, f64)> {
    let end = record.meta.duration_s;
    record
        .phases
        .iter()
        .filter(|p| p.name.trim().eq_ignore_ascii_case(name.trim()))
        .map(|p| {
            let to = if end > 0.0 { p.end_s.min(end) } else { p.end_s };
            (p.start_s, to.max(p.start_s))
        })
        .collect()
}

fn in_spans(t: u32, spans: &[(f64, f64)]) -> bool {
    let mid = f64::from(t) + 0.5;
    spans.iter().any(|&(a, b)| mid >= a && mid < b)
}

/// Requests, errors and the merged latency histogram of `flows` over the seconds `keep`
/// accepts.
fn gather(
    flows: &[&FlowRecord],
    keep: impl Fn(u32) -> bool,
) -> Option<(u64, u64, hdrhistogram::Histogram<u64>)> {
    let (mut requests, mut errors, mut h) = (0, 0, new_histogram());
    for f in flows {
        for s in f.per_second.iter().filter(|s| keep(s.t)) {
            requests += s.requests;
            errors += s.errors;
            if s.requests > 0 {
                h.add(decode(&s.histogram).ok()?).ok()?;
            }
        }
    }
    Some((requests, errors, h))
}

/// Observed value of `metric` for `scope` over the phase(s) named `phase`.
pub fn observe_during(
    record: &RunRecord,
    scope: &str,
    metric: &Metric,
    phase: &str,
) -> Option<f64> {
    let spans = spans(record, phase);
    if spans.is_empty() {
        return None;
    }
    if matches!(metric, Metric::CacheHitRatio | Metric::DbQueriesPerRequest) {
        return scope
            .eq_ignore_ascii_case(crate::server::SCOPE)
            .then(|| crate::server::observe_spans(record.server.as_ref(), metric, &spans))
            .flatten();
    }
    let flows = record.scoped(scope);
    if flows.is_empty() {
        return None;
    }
    let (requests, errors, h) = gather(&flows, |t| in_spans(t, &spans))?;
    let ms = |v: u64| v as f64 / 1000.0;
    match metric {
        Metric::Percentile(p) => quantile_ms(&h, p / 100.0),
        Metric::Max => (!h.is_empty()).then(|| ms(h.max())),
        Metric::Min => (!h.is_empty()).then(|| ms(h.min())),
        Metric::Mean => (!h.is_empty()).then(|| h.mean() / 1000.0),
        Metric::ErrorRate => (requests > 0).then(|| errors as f64 / requests as f64),
        Metric::Rps => {
            let secs: f64 = spans.iter().map(|(a, b)| b - a).sum();
            (secs > 0.0).then(|| requests as f64 / secs)
        }
        Metric::Count => Some(requests as f64),
        // Error classes are kept for the whole run only (the grammar rejects this).
        Metric::ClassRate(_) => None,
        Metric::CacheHitRatio | Metric::DbQueriesPerRequest => None,
    }
}

/// The p95 rule that decides recovery for `scope`: its own (rules without `during` first),
/// else the `all` rule.
fn p95_rule<'a>(rules: &'a [Rule], scope: &str) -> Option<&'a Rule> {
    let of = |s: &str| {
        let mut matching: Vec<&'a Rule> = rules
            .iter()
            .filter(|r| {
                r.metric == Metric::Percentile(95.0)
                    && r.scope.eq_ignore_ascii_case(s)
                    && matches!(r.op, Op::Lt | Op::Le)
            })
            .collect();
        matching.sort_by_key(|r| r.phase.is_some());
        matching.first().copied()
    };
    of(scope).or_else(|| of("all"))
}

/// Recovery after every phase named `spike`, for `all` and for each flow with requests after
/// it; empty when the run has no spike phase or no p95 rule applies.
pub fn recovery(record: &RunRecord, rules: &[Rule]) -> Vec<Recovery> {
    let last_second = record
        .flows
        .iter()
        .flat_map(|f| f.per_second.iter().map(|s| s.t + 1))
        .max()
        .unwrap_or(0);
    let mut out = Vec::new();
    for (start, end) in spans(record, SPIKE_PHASE) {
        let first = end.ceil().max(0.0) as u32;
        let scopes = std::iter::once("all".to_string()).chain(record.flow_names());
        for scope in scopes {
            let Some(rule) = p95_rule(rules, &scope) else {
                continue;
            };
            let flows = record.scoped(&scope);
            let after = gather(&flows, |t| t >= first).map_or(0, |g| g.0);
            if after == 0 {
                continue;
            }
            let spike_p95_ms = gather(&flows, |t| in_spans(t, &[(start, end)]))
                .and_then(|g| quantile_ms(&g.2, 0.95));
            let mut recovered_after_s = None;
            let mut k = first;
            while k + RECOVERY_WINDOW_S <= last_second {
                let window = gather(&flows, |t| t >= k && t < k + RECOVERY_WINDOW_S);
                if let Some(p95) = window.and_then(|g| quantile_ms(&g.2, 0.95)) {
                    if rule.op.holds(p95, rule.limit) {
                        recovered_after_s = Some((f64::from(k) - end).max(0.0));
                        break;
                    }
                }
                k += 1;
            }
            out.push(Recovery {
                scope,
                rule: rule.text.clone(),
                limit_ms: rule.limit,
                spike_end_s: end,
                window_s: RECOVERY_WINDOW_S,
                spike_p95_ms,
                recovered_after_s,
                watched_s: (f64::from(last_second) - end).max(0.0),
            });
        }
    }
    out
}
/// What the rule judge sees of a run record: whole-run figures from its histograms and counts,
/// `server.*` from its server section, `during PHASE` from its per-second histograms.
impl Observations for RunRecord {
    fn flows(&self) -> Vec<String> {
        self.flow_names()
    }

    fn observe(&self, scope: &str, metric: &Metric) -> Option<f64> {
        let requests = self.scope_requests(scope);
        let duration = self.meta.duration_s;
        match metric {
            Metric::Percentile(p) => quantile_ms(&self.scope_histogram(scope)?, p / 100.0),
            Metric::Max => {
                let h = self.scope_histogram(scope)?;
                (!h.is_empty()).then(|| h.max() as f64 / 1000.0)
            }
            Metric::Min => {
                let h = self.scope_histogram(scope)?;
                (!h.is_empty()).then(|| h.min() as f64 / 1000.0)
            }
            Metric::Mean => {
                let h = self.scope_histogram(scope)?;
                (!h.is_empty()).then(|| h.mean() / 1000.0)
            }
            Metric::ErrorRate => {
                (requests > 0).then(|| self.scope_failed(scope) as f64 / requests as f64)
            }
            Metric::Rps => (duration > 0.0).then(|| requests as f64 / duration),
            Metric::Count => Some(requests as f64),
            Metric::ClassRate(class) => {
                let n: u64 = self
                    .scoped(scope)
                    .iter()
                    .map(|f| f.class_count(class))
                    .sum();
                (requests > 0).then(|| n as f64 / requests as f64)
            }
            Metric::CacheHitRatio | Metric::DbQueriesPerRequest => {
                crate::server::observe(self.server.as_ref(), scope, metric)
            }
        }
    }

    fn phases(&self) -> Vec<String> {
        self.phases.iter().map(|p| p.name.clone()).collect()
    }

    fn observe_during(&self, scope: &str, metric: &Metric, phase: &str) -> Option<f64> {
        observe_during(self, scope, metric, phase)
    }
}
