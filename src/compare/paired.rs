//! The paired comparison of one `loadtest ab --paired` run: both sides were driven at the same
//! time by one generator (every virtual user alternating its iterations between the two
//! targets), so each second holds both sides' samples under the same machine noise.
//!
//! Method (written out in every report by [`super::Comparison::method_text`]):
//! - the steady-state seconds are cut into blocks of [`BLOCK_SECONDS`] seconds (by the run's
//!   clock, `t / BLOCK_SECONDS`); per block and metric the difference candidate − baseline:
//!   the log ratio of p50/p95/p99 and of req/s, the difference of error proportions;
//! - a block where either side has too few samples ([`min_samples`]) is dropped and counted;
//! - the shift is the mean of the block differences; its interval Student's t on
//!   non-overlapping batch means ([`batches`] batches of consecutive block differences, long
//!   enough that autocorrelated noise and slow drift do not shrink it) at the per-metric α
//!   (Bonferroni over the testable gated metrics, as in `compare`);
//! - the verdict classes, `--min-effect` and exit codes are those of `compare`;
//! - validity: both sides' achieved rates within [`MAX_RATE_GAP`] and neither side saturated
//!   (more than [`MAX_TIMEOUT_SHARE`] of its requests timed out, or an open-model run dropping
//!   arrivals), else inconclusive with the reason.

use std::collections::BTreeMap;

use serde::Serialize;

use super::stats::{batch_means_interval, bonferroni};
use super::steady::{self, Steady};
use super::{check_flows, invalid_reason, CompareMetric, Comparison, Options, Row};
use crate::error::Failure;
use crate::record::RunRecord;

/// `Comparison::method` of a paired comparison.
pub const METHOD: &str = "paired";
/// Length of a block, in seconds of the run.
pub const BLOCK_SECONDS: u32 = 2;
/// Fewest blocks (after dropping) for an interval at all.
pub const MIN_BLOCKS: usize = 6;
/// Largest relative gap between the two sides' achieved request rates.
pub const MAX_RATE_GAP: f64 = 0.05;
/// Largest share of a side's requests that may time out before it counts as saturated.
pub const MAX_TIMEOUT_SHARE: f64 = 0.01;

/// Fewest samples per side a block needs for this metric: 100 for p99 (one sample in its top
/// 1%), 20 otherwise.
pub fn min_samples(metric: CompareMetric) -> u64 {
    match metric {
        CompareMetric::P99 => 100,
        _ => 20,
    }
}

/// Batches for `n` block differences: `round(√n)`, at least 3 (so batches of ≈ √n blocks:
/// 10 blocks → 3 batches, 30 → 5, 60 → 8). Long batches keep their means nearly independent
/// under AR(1)-like drift of the differences (`ar1_noise_does_not_inflate_false_alarms`).
pub fn batches(n: usize) -> usize {
    ((n as f64).sqrt().round() as usize).max(3)
}

/// One flow's metric, block by block: the block's first second and the difference
/// (log ratio, or error-rate difference).
#[derive(Debug, Clone, Serialize)]
pub struct BlockSeries {
    pub flow: String,
    pub metric: CompareMetric,
    pub start_s: Vec<u32>,
    pub diff: Vec<f64>,
    /// Blocks dropped because a side had too few samples.
    pub dropped: usize,
}

impl BlockSeries {
    /// Per block the ratio candidate ÷ baseline (latency, req/s) or the difference in points
    /// (error rate), ready to show.
    pub fn shown(&self) -> Vec<(u32, f64)> {
        self.start_s
            .iter()
            .zip(&self.diff)
            .map(|(t, d)| {
                if self.metric == CompareMetric::ErrorRate {
                    (*t, *d)
                } else {
                    (*t, d.exp())
                }
            })
            .collect()
    }
}

/// What a paired comparison adds to [`Comparison`].
#[derive(Debug, Clone, Serialize)]
pub struct PairedDetail {
    pub block_s: u32,
    /// Steady-state blocks both sides share (before dropping).
    pub blocks: usize,
    /// The gated series (p95 and error rate of every flow), block by block.
    pub series: Vec<BlockSeries>,
}

/// Both records are the two sides of one paired run.
pub fn is_pair(a: &RunRecord, b: &RunRecord) -> bool {
    a.meta.paired.as_deref() == Some("baseline")
        && b.meta.paired.as_deref() == Some("candidate")
        && a.meta.run_id == b.meta.run_id
}

/// The blocks both sides share: per block the indices into each side's steady seconds.
fn blocks(a: &Steady, b: &Steady) -> Vec<(u32, Vec<usize>, Vec<usize>)> {
    let index_b: BTreeMap<u32, usize> = b.ts.iter().enumerate().map(|(i, t)| (*t, i)).collect();
    let mut out: BTreeMap<u32, (Vec<usize>, Vec<usize>)> = BTreeMap::new();
    for (ia, t) in a.ts.iter().enumerate() {
        if let Some(ib) = index_b.get(t) {
            let e = out.entry(t / BLOCK_SECONDS).or_default();
            e.0.push(ia);
            e.1.push(*ib);
        }
    }
    out.into_iter()
        .map(|(k, (ia, ib))| (k * BLOCK_SECONDS, ia, ib))
        .collect()
}

/// The block differences of one flow's metric.
fn series(flow: &str, a: &Steady, b: &Steady, metric: CompareMetric) -> BlockSeries {
    let mut s = BlockSeries {
        flow: flow.to_string(),
        metric,
        start_s: Vec::new(),
        diff: Vec::new(),
        dropped: 0,
    };
    let min = min_samples(metric);
    for (t, ia, ib) in blocks(a, b) {
        if a.samples(&ia, metric) < min || b.samples(&ib, metric) < min {
            s.dropped += 1;
            continue;
        }
        let (va, vb) = (
            a.resampled_value(&ia, metric),
            b.resampled_value(&ib, metric),
        );
        let d = if metric == CompareMetric::ErrorRate {
            vb - va
        } else if va > 0.0 && vb > 0.0 {
            (vb / va).ln()
        } else {
            f64::NAN
        };
        if d.is_finite() {
            s.start_s.push(t);
            s.diff.push(d);
        } else {
            s.dropped += 1;
        }
    }
    s
}

/// Estimate and interval of a series' mean difference, or `None` (too few blocks).
fn interval(s: &BlockSeries, alpha: f64) -> Option<(f64, f64, f64)> {
    if s.diff.len() < MIN_BLOCKS {
        return None;
    }
    batch_means_interval(&s.diff, batches(s.diff.len()), alpha)
}

/// Why the pair is not a fair comparison, if it is not: the sides' achieved rates differ by
/// more than [`MAX_RATE_GAP`], or a side is saturated.
pub fn pairing_problems(a: &RunRecord, b: &RunRecord) -> Vec<String> {
    let mut out = Vec::new();
    let steady_requests = |r: &RunRecord| -> u64 {
        let ts: std::collections::BTreeSet<u32> = steady::steady_seconds(r).into_iter().collect();
        r.flows
            .iter()
            .flat_map(|f| f.per_second.iter())
            .filter(|s| ts.contains(&s.t))
            .map(|s| s.requests)
            .sum()
    };
    let (ra, rb) = (steady_requests(a), steady_requests(b));
    let gap = ra.abs_diff(rb) as f64 / ra.max(rb).max(1) as f64;
    if gap > MAX_RATE_GAP {
        out.push(format!(
            "achieved rates differ by {:.1}% (baseline {ra}, candidate {rb} steady-state requests; at most {:.0}% for a fair pairing)",
            gap * 100.0,
            MAX_RATE_GAP * 100.0
        ));
    }
    for (side, r) in [("baseline", a), ("candidate", b)] {
        let requests: u64 = r.flows.iter().map(|f| f.requests).sum();
        let timeouts: u64 = r.flows.iter().map(|f| f.class_count("timeout")).sum();
        if requests > 0 && timeouts as f64 > MAX_TIMEOUT_SHARE * requests as f64 {
            out.push(format!(
                "{side} is saturated: {timeouts} of {requests} requests timed out"
            ));
        }
        if let Some(rate) = &r.meta.rate {
            if rate.dropped as f64 > MAX_TIMEOUT_SHARE * rate.scheduled.max(1) as f64 {
                out.push(format!(
                    "{side} is saturated: {} of {} scheduled arrivals dropped",
                    rate.dropped, rate.scheduled
                ));
            }
        }
    }
    out
}

/// Compares the two sides of one paired run (`a` baseline, `b` candidate).
pub fn compare(a: &RunRecord, b: &RunRecord, opts: &Options) -> Result<Comparison, Failure> {
    let (ra, rb) = (std::slice::from_ref(a), std::slice::from_ref(b));
    let flows = check_flows(ra, rb)?;
    let mut invalid: Vec<String> = [("baseline", a), ("candidate", b)]
        .into_iter()
        .filter_map(|(side, r)| invalid_reason(r).map(|why| format!("{side}: {why}")))
        .collect();
    invalid.extend(pairing_problems(a, b));
    let sa = steady::of_run(a, &flows)?;
    let sb = steady::of_run(b, &flows)?;
    let all: Vec<Vec<BlockSeries>> = flows
        .iter()
        .enumerate()
        .map(|(fi, flow)| {
            CompareMetric::ALL
                .iter()
                .map(|m| series(flow, &sa[fi], &sb[fi], *m))
                .collect()
        })
        .collect();
    // A gated metric whose block differences are all equal (typically an error rate of 0 on
    // both sides) can never be called and does not consume α, as in `compare`.
    let testable =
        |s: &BlockSeries| s.diff.len() >= MIN_BLOCKS && s.diff.iter().any(|d| *d != s.diff[0]);
    let gated = all
        .iter()
        .flatten()
        .filter(|s| s.metric.gated() && testable(s))
        .count();
    let alpha_per_metric = bonferroni(opts.alpha, gated);
    let mut rows = Vec::new();
    for (fi, flow) in flows.iter().enumerate() {
        for s in &all[fi] {
            let metric = s.metric;
            let (base, cand) = (sa[fi].value(metric), sb[fi].value(metric));
            rows.push(Row::judged(
                flow,
                metric,
                (base, cand),
                interval(s, alpha_per_metric),
                invalid.is_empty(),
                opts,
            ));
        }
    }
    // Blocks of the flow that ran longest (signup runs only at the start).
    let blocks_total = sa
        .iter()
        .zip(&sb)
        .map(|(x, y)| blocks(x, y).len())
        .max()
        .unwrap_or(0);
    let label = |r: &RunRecord| {
        format!(
            "{} {} ({}) {}",
            r.meta.profile, r.meta.run_id, r.meta.started_at, r.meta.host
        )
    };
    Ok(Comparison {
        baseline_runs: 1,
        candidate_runs: 1,
        method: METHOD.to_string(),
        label: None,
        alpha: opts.alpha,
        alpha_per_metric,
        min_effect: opts.min_effect,
        rows,
        invalid,
        baseline_labels: vec![label(a)],
        candidate_labels: vec![label(b)],
        paired: Some(PairedDetail {
            block_s: BLOCK_SECONDS,
            blocks: blocks_total,
            series: all
                .into_iter()
                .flatten()
                .filter(|s| s.metric.gated())
                .collect(),
        }),
    })
}

/// The method paragraph of a paired comparison.
pub fn method_text(c: &Comparison) -> String {
    let gated = (c.alpha / c.alpha_per_metric).round() as usize;
    let dropped: Vec<String> = c
        .paired
        .iter()
        .flat_map(|p| &p.series)
        .filter(|s| s.dropped > 0)
        .map(|s| format!("{} {}: {}", s.flow, s.metric.name(), s.dropped))
        .collect();
    let blocks = c.paired.as_ref().map_or(0, |p| p.blocks);
    format!(
        "Paired, concurrent measurement (`ab --paired`): one generator drove both sides at the same time, every virtual user alternating its iterations between baseline and candidate in a random order, so each second holds both sides' samples under the same machine noise. The {blocks} steady-state blocks of {BLOCK_SECONDS} s each give one difference candidate − baseline per metric (log ratio of p50/p95/p99 and req/s, difference of error proportions); a block where either side has fewer than 20 samples (100 for p99) is dropped{}. The shift is the mean block difference; its interval Student's t on non-overlapping batch means (≈ √n batches of consecutive blocks, at least 3, so drift and autocorrelated noise widen it instead of shrinking it) at α = {:.4} per metric ({gated} testable gated metrics share α = {}, Bonferroni). A change is a regression or improvement only when the whole interval lies on one side of zero and the estimate is at least {:.1}% ({:.1} points for error rates). The pairing is valid only when both sides' achieved rates are within {:.0}% and neither side is saturated (> {:.0}% timeouts, or dropped arrivals).",
        if dropped.is_empty() {
            String::new()
        } else {
            format!(" (dropped: {})", dropped.join(", "))
        },
        c.alpha_per_metric,
        c.alpha,
        c.min_effect * 100.0,
        Options::default().min_error_effect * 100.0,
        MAX_RATE_GAP * 100.0,
        MAX_TIMEOUT_SHARE * 100.0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::stats::Verdict;
    use crate::compare::tests::{relabel, synthetic_paired};

    fn p95(c: &Comparison) -> &Row {
        c.rows
            .iter()
            .find(|r| r.metric == CompareMetric::P95 && r.flow == "validate")
            .unwrap()
    }

    #[test]
    fn a_known_shift_is_found() {
        // Candidate latencies ×1.15 under shared noise (a hog on in some seconds).
        let (a, b) = synthetic_paired(1.15, 7, 60);
        let c = compare(&a, &b, &Options::default()).unwrap();
        assert_eq!(c.method, METHOD);
        assert!(c.invalid.is_empty(), "{:?}", c.invalid);
        let r = p95(&c);
        assert_eq!(r.verdict, Verdict::Regression, "{r:?}");
        // +15% up to the histograms' 3-digit buckets and whole microseconds.
        assert!(r.low > 0.1 && r.change > 0.13 && r.change < 0.17, "{r:?}");
        assert!(c.regression());
        let p = c.paired.as_ref().unwrap();
        assert_eq!(p.blocks, 30);
        // The mirror image is an improvement.
        let c = compare(
            &relabel(b, "baseline"),
            &relabel(a, "candidate"),
            &Options::default(),
        )
        .unwrap();
        assert_eq!(p95(&c).verdict, Verdict::Improvement);
        assert!(!c.regression());
        assert!(c.method_text().contains("batch means"));
    }

    #[test]
    fn identical_sides_give_no_verdict() {
        for seed in 0..20 {
            let (a, b) = synthetic_paired(1.0, seed, 60);
            let c = compare(&a, &b, &Options::default()).unwrap();
            assert!(!c.regression(), "seed {seed}: {:?}", p95(&c));
            assert_ne!(p95(&c).verdict, Verdict::Improvement, "seed {seed}");
        }
    }

    #[test]
    fn sparse_blocks_are_dropped_and_counted() {
        let (a, mut b) = synthetic_paired(1.0, 3, 60);
        // Thin out every fourth second of the candidate to 5 requests: blocks holding such a
        // second still have ≥ 20 samples from their other second; zero them both instead.
        let f = &mut b.flows[0];
        for s in f.per_second.iter_mut().filter(|s| s.t / 2 % 5 == 0) {
            let mut h = crate::histogram::new_histogram();
            h.record(1000).unwrap();
            s.histogram = crate::histogram::encode(&h);
            s.requests = 1;
        }
        let c = compare(&a, &b, &Options::default()).unwrap();
        let p = c.paired.as_ref().unwrap();
        let s = p
            .series
            .iter()
            .find(|s| s.metric == CompareMetric::P95)
            .unwrap();
        assert_eq!(s.dropped, 6, "{s:?}");
        assert!(c.method_text().contains("validate p95: 6"));
    }

    #[test]
    fn unequal_rates_and_saturation_are_inconclusive() {
        let (a, mut b) = synthetic_paired(1.3, 5, 60);
        for s in &mut b.flows[0].per_second {
            s.requests = s.requests * 9 / 10;
        }
        let c = compare(&a, &b, &Options::default()).unwrap();
        assert!(
            c.invalid
                .iter()
                .any(|w| w.contains("achieved rates differ")),
            "{:?}",
            c.invalid
        );
        assert!(c.rows.iter().all(|r| r.verdict == Verdict::Inconclusive));
        let (a, mut b) = synthetic_paired(1.0, 5, 60);
        let timeouts = b.flows[0].requests / 50;
        b.flows[0].errors.insert("timeout".into(), timeouts);
        let c = compare(&a, &b, &Options::default()).unwrap();
        assert!(
            c.invalid
                .iter()
                .any(|w| w.contains("candidate is saturated")),
            "{:?}",
            c.invalid
        );
    }

    /// AR(1) block differences with no shift: the interval must exclude zero (a false alarm
    /// with `min_effect` 0) in at most 2α of 200 seeded series.
    #[test]
    fn ar1_noise_does_not_inflate_false_alarms() {
        use rand::rngs::StdRng;
        use rand::{Rng, SeedableRng};
        let alpha = 0.05;
        for (phi, n) in [(0.5, 60), (0.3, 30), (0.3, 10)] {
            let mut alarms = 0;
            for seed in 0..200u64 {
                let mut rng = StdRng::seed_from_u64(seed);
                let mut normal = || {
                    // Box–Muller.
                    let (u1, u2): (f64, f64) = (rng.gen::<f64>().max(1e-300), rng.gen());
                    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
                };
                let mut x = normal() / (1.0f64 - phi * phi).sqrt();
                let diffs: Vec<f64> = (0..n)
                    .map(|_| {
                        x = phi * x + normal();
                        0.02 * x
                    })
                    .collect();
                let (_, low, high) = batch_means_interval(&diffs, batches(n), alpha).unwrap();
                alarms += usize::from(low > 0.0 || high < 0.0);
            }
            assert!(
                alarms as f64 <= 2.0 * alpha * 200.0,
                "phi {phi}, n {n}: {alarms} of 200 false alarms"
            );
            eprintln!("phi {phi}, n {n}: {alarms} of 200 false alarms");
        }
    }

    #[test]
    fn batch_count_rule() {
        let counts = [6, 10, 20, 30, 60, 100].map(batches);
        assert_eq!(counts, [3, 3, 4, 5, 8, 10]);
    }

    #[test]
    fn too_few_blocks_are_inconclusive() {
        let (a, b) = synthetic_paired(1.3, 1, 10);
        let c = compare(&a, &b, &Options::default()).unwrap();
        assert_eq!(p95(&c).verdict, Verdict::Inconclusive);
        assert!(!c.regression());
        let head = crate::compare::render::headline(&c);
        assert!(head.contains("too few steady-state blocks"), "{head}");
    }
}
