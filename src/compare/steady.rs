//! The steady-state part of a run, flow by flow: the seconds inside hold phases (skipping each
//! phase's first second), as sparse per-second histograms that resample cheaply.

use std::collections::{BTreeMap, BTreeSet};

use super::CompareMetric;
use crate::error::Failure;
use crate::histogram::decode;
use crate::record::RunRecord;

/// One second: (index into `values`, count) pairs plus its request and error counts.
#[derive(Debug, Clone, Default)]
struct Second {
    counts: Vec<(usize, u64)>,
    requests: u64,
    errors: u64,
}

/// A decoded second before values are indexed: (value, count) pairs, requests, errors.
type RawSecond = (Vec<(u64, u64)>, u64, u64);

/// One flow's steady seconds.
#[derive(Debug, Clone)]
pub struct Steady {
    /// The run's second `t` of each entry of `seconds` (ascending).
    pub ts: Vec<u32>,
    /// Distinct latency values (µs, bucket-equivalent) seen in any second, ascending.
    values: Vec<u64>,
    seconds: Vec<Second>,
}

/// Seconds `t` (from the run start) that lie wholly inside a hold phase, after its first
/// second; every second of the run when it has no hold phase.
pub fn steady_seconds(r: &RunRecord) -> Vec<u32> {
    let end = r.meta.duration_s.floor() as u32;
    let mut out = BTreeSet::new();
    for p in r.phases.iter().filter(|p| p.users_from == p.users_to) {
        let from = p.start_s.ceil() as u32 + 1;
        let to = (p.end_s.floor() as u32).min(end);
        out.extend(from..to);
    }
    if out.is_empty() {
        out.extend(0..end.max(1));
    }
    out.into_iter().collect()
}

/// Steady views of the given flows of a run.
pub fn of_run(r: &RunRecord, flows: &[String]) -> Result<Vec<Steady>, Failure> {
    let ts = steady_seconds(r);
    flows
        .iter()
        .map(|name| {
            let flow = r.flow(name).ok_or_else(|| {
                Failure::bad_input(format!("run {} has no flow '{name}'", r.meta.run_id))
            })?;
            let by_t: BTreeMap<u32, _> = flow.per_second.iter().map(|s| (s.t, s)).collect();
            // A flow that only runs outside the steady phases (signup, during the ramp) is
            // compared over the seconds it ran in.
            let in_steady = ts.iter().any(|t| by_t.contains_key(t));
            let ts: Vec<u32> = if in_steady {
                ts.clone()
            } else {
                by_t.keys().copied().collect()
            };
            let mut raw: Vec<RawSecond> = Vec::with_capacity(ts.len());
            let mut distinct = BTreeSet::new();
            for t in &ts {
                match by_t.get(t) {
                    Some(s) => {
                        let h = decode(&s.histogram).map_err(|e| {
                            Failure::bad_input(format!(
                                "run {} flow {name} second {t}: {e}",
                                r.meta.run_id
                            ))
                        })?;
                        let pairs: Vec<(u64, u64)> = h
                            .iter_recorded()
                            .map(|v| (v.value_iterated_to(), v.count_at_value()))
                            .collect();
                        distinct.extend(pairs.iter().map(|p| p.0));
                        raw.push((pairs, s.requests, s.errors));
                    }
                    None => raw.push((Vec::new(), 0, 0)),
                }
            }
            let values: Vec<u64> = distinct.into_iter().collect();
            let seconds = raw
                .into_iter()
                .map(|(pairs, requests, errors)| Second {
                    counts: pairs
                        .into_iter()
                        .map(|(v, c)| (values.binary_search(&v).unwrap_or(0), c))
                        .collect(),
                    requests,
                    errors,
                })
                .collect();
            Ok(Steady {
                ts,
                values,
                seconds,
            })
        })
        .collect()
}

impl Steady {
    pub fn seconds(&self) -> usize {
        self.seconds.len()
    }

    /// How many samples stand behind the metric over the given seconds: recorded latencies
    /// for a percentile, requests for req/s and the error rate.
    pub fn samples(&self, picks: &[usize], metric: CompareMetric) -> u64 {
        let chosen = picks.iter().filter_map(|i| self.seconds.get(*i));
        match metric.quantile() {
            Some(_) => chosen.flat_map(|s| s.counts.iter().map(|(_, c)| *c)).sum(),
            None => chosen.map(|s| s.requests).sum(),
        }
    }

    /// The metric over all steady seconds (latency in ms).
    pub fn value(&self, metric: CompareMetric) -> f64 {
        let all: Vec<usize> = (0..self.seconds.len()).collect();
        self.resampled_value(&all, metric)
    }

    /// The metric over the given seconds (repeats allowed), as a resample sees them.
    pub fn resampled_value(&self, picks: &[usize], metric: CompareMetric) -> f64 {
        let chosen = picks.iter().filter_map(|i| self.seconds.get(*i));
        match metric.quantile() {
            Some(q) => {
                let mut dense = vec![0u64; self.values.len()];
                let mut total = 0u64;
                for s in chosen {
                    for (i, c) in &s.counts {
                        dense[*i] += c;
                        total += c;
                    }
                }
                if total == 0 {
                    return f64::NAN;
                }
                let target = ((q * total as f64).ceil() as u64).clamp(1, total);
                let mut seen = 0;
                for (i, c) in dense.iter().enumerate() {
                    seen += c;
                    if seen >= target {
                        return self.values[i] as f64 / 1000.0;
                    }
                }
                f64::NAN
            }
            None => {
                let (mut req, mut err, mut n) = (0u64, 0u64, 0usize);
                for s in chosen {
                    req += s.requests;
                    err += s.errors;
                    n += 1;
                }
                match metric {
                    CompareMetric::Rps if n > 0 => req as f64 / n as f64,
                    CompareMetric::ErrorRate if req > 0 => err as f64 / req as f64,
                    CompareMetric::ErrorRate => 0.0,
                    _ => f64::NAN,
                }
            }
        }
    }
}
