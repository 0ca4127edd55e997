//! Comparing runs: baseline vs candidate, per flow and metric, with a statistical verdict.
//!
//! Method (written out in every report by [`Comparison::method_text`]):
//! - k ≥ 3 runs per side: each run is one observation (ln p50/p95/p99, ln req/s, error
//!   proportion of its steady-state seconds); the shift is the Hodges–Lehmann estimate, bounded
//!   by the exact Mann–Whitney (Moses) interval; α is split across the gated metrics
//!   (Bonferroni). A regression needs the whole interval above zero **and** a shift of at least
//!   `min_effect`.
//! - one run per side: a moving-block bootstrap over the per-second histograms of the steady
//!   phases — labelled "single-run estimate (lower confidence)".
//! - one `ab --paired` run (both sides driven at the same time): block by block differences
//!   with a circular block bootstrap ([`paired`]).
//! - a side whose run was invalid (unjudgeable, ended early, connect errors) is inconclusive.

pub mod paired;
pub mod render;
pub mod stats;
pub mod steady;

use serde::Serialize;

use crate::error::Failure;
use crate::record::RunRecord;
use stats::{
    bonferroni, classify, moving_block_bootstrap, shift_estimate, BootstrapConfig, Verdict,
};
use steady::Steady;

/// Label of single-run comparisons, shown in every output.
pub const SINGLE_RUN_LABEL: &str = "single-run estimate (lower confidence)";

/// Options of a comparison.
#[derive(Debug, Clone)]
pub struct Options {
    /// Smallest relative change worth calling (0.05 = 5%) for latency and req/s.
    pub min_effect: f64,
    /// Smallest error-rate change worth calling, in absolute proportion (0.005 = 0.5 points).
    pub min_error_effect: f64,
    /// Family-wise false-alarm rate, split across the gated metrics.
    pub alpha: f64,
    pub resamples: usize,
    pub seed: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            min_effect: 0.05,
            min_error_effect: 0.005,
            alpha: 0.05,
            resamples: 2000,
            seed: 1,
        }
    }
}

/// The metrics compared per flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CompareMetric {
    P50,
    P95,
    P99,
    Rps,
    ErrorRate,
}

impl CompareMetric {
    pub const ALL: [CompareMetric; 5] = [
        CompareMetric::P50,
        CompareMetric::P95,
        CompareMetric::P99,
        CompareMetric::Rps,
        CompareMetric::ErrorRate,
    ];

    pub fn name(self) -> &'static str {
        match self {
            CompareMetric::P50 => "p50",
            CompareMetric::P95 => "p95",
            CompareMetric::P99 => "p99",
            CompareMetric::Rps => "req/s",
            CompareMetric::ErrorRate => "error rate",
        }
    }

    fn quantile(self) -> Option<f64> {
        match self {
            CompareMetric::P50 => Some(0.50),
            CompareMetric::P95 => Some(0.95),
            CompareMetric::P99 => Some(0.99),
            _ => None,
        }
    }

    /// Latency and error rate: higher is worse; req/s: higher is better.
    pub fn higher_is_worse(self) -> bool {
        !matches!(self, CompareMetric::Rps)
    }

    /// Gated by default: p95 of every flow, and error rate.
    pub fn gated(self) -> bool {
        matches!(self, CompareMetric::P95 | CompareMetric::ErrorRate)
    }

    /// Compared on the log scale (ratios) or as an absolute difference (error rate).
    fn log_scale(self) -> bool {
        !matches!(self, CompareMetric::ErrorRate)
    }
}

/// One line of the delta table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub flow: String,
    pub metric: CompareMetric,
    /// Median over the side's runs (ms, req/s or proportion).
    pub baseline: f64,
    pub candidate: f64,
    /// Relative change (latency, req/s) or absolute change in proportion (error rate).
    pub change: f64,
    pub low: f64,
    pub high: f64,
    pub verdict: Verdict,
    pub gated: bool,
}

impl Row {
    /// A row from the two sides' values and the interval of the change on the metric's
    /// comparison scale (log ratio, or difference of error proportions): classified against
    /// `--min-effect` (`--min-error-effect` for error rates) when there is an interval and the
    /// comparison is valid, otherwise inconclusive with the plain relative change.
    fn judged(
        flow: &str,
        metric: CompareMetric,
        (base, cand): (f64, f64),
        interval: Option<(f64, f64, f64)>,
        valid: bool,
        opts: &Options,
    ) -> Row {
        let (change, low, high, verdict) = match interval {
            Some((est, lo, hi)) if valid => {
                let min_effect = if metric.log_scale() {
                    opts.min_effect.ln_1p()
                } else {
                    opts.min_error_effect
                };
                let v = classify(lo, hi, est, min_effect, metric.higher_is_worse());
                if metric.log_scale() {
                    (est.exp_m1(), lo.exp_m1(), hi.exp_m1(), v)
                } else {
                    (est, lo, hi, v)
                }
            }
            _ => (
                relative(base, cand, metric),
                f64::NAN,
                f64::NAN,
                Verdict::Inconclusive,
            ),
        };
        Row {
            flow: flow.to_string(),
            metric,
            baseline: base,
            candidate: cand,
            change,
            low,
            high,
            verdict,
            gated: metric.gated(),
        }
    }
}

/// The whole comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub baseline_runs: usize,
    pub candidate_runs: usize,
    /// `runs` (k ≥ 3 per side), `single-run` (bootstrap) or `too-few-runs`.
    pub method: String,
    pub label: Option<String>,
    pub alpha: f64,
    pub alpha_per_metric: f64,
    pub min_effect: f64,
    pub rows: Vec<Row>,
    /// Why a side could not be judged (empty when both are valid).
    pub invalid: Vec<String>,
    pub baseline_labels: Vec<String>,
    pub candidate_labels: Vec<String>,
    /// The blocks of a paired comparison (`method` = `paired`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paired: Option<paired::PairedDetail>,
}

impl Comparison {
    /// Any gated regression.
    pub fn regression(&self) -> bool {
        self.rows
            .iter()
            .any(|r| r.gated && r.verdict == Verdict::Regression)
    }

    /// The method and its assumptions, in one paragraph.
    pub fn method_text(&self) -> String {
        let gated = (self.alpha / self.alpha_per_metric).round() as usize;
        let body = match self.method.as_str() {
            "runs" => format!(
                "Each run is one observation ({} baseline, {} candidate runs): ln p50/p95/p99 and ln req/s of its steady-state seconds, and its error proportion. The shift is the Hodges–Lehmann estimate (median of all pairwise differences), bounded by the exact Mann–Whitney interval at α = {:.4} per metric ({} testable gated metrics share α = {}, Bonferroni; a gated metric equal in every run cannot be called and is not counted). With few runs the exact interval may not exist at that α (3 per side reach at best 0.1, 5 per side 0.0079): the verdict is then inconclusive. A change is a regression or improvement only when the whole interval lies on one side of zero and the estimate is at least {:.1}%. Assumes runs are independent and exchangeable within a side (interleave them: `loadtest ab`).",
                self.baseline_runs, self.candidate_runs, self.alpha_per_metric, gated, self.alpha, self.min_effect * 100.0
            ),
            paired::METHOD => paired::method_text(self),
            "single-run" => format!(
                "{SINGLE_RUN_LABEL}: one run per side. A moving-block bootstrap resamples blocks of consecutive steady-state seconds (keeping their autocorrelation) and recomputes each metric; the interval is the percentile interval at α = {:.4} per metric ({gated} gated metrics share α = {}). It captures noise within the run only, not run-to-run noise, which usually dominates: prefer ≥ 3 interleaved runs per side.",
                self.alpha_per_metric, self.alpha
            ),
            _ => "Too few runs for a verdict: give ≥ 3 runs per side (or exactly 1 per side for a lower-confidence single-run estimate).".to_string(),
        };
        body
    }
}

fn median(v: &[f64]) -> f64 {
    stats::median(v).unwrap_or(f64::NAN)
}

/// Why a run cannot be judged, if it cannot.
pub fn invalid_reason(r: &RunRecord) -> Option<String> {
    let name = format!("run {} ({})", r.meta.run_id, r.meta.started_at);
    if r.outcome.verdict == crate::record::RunVerdict::Invalid {
        return Some(format!(
            "{name} is invalid: {}",
            r.outcome.reason.clone().unwrap_or_default()
        ));
    }
    if r.outcome.partial {
        return Some(format!(
            "{name} ended early: {}",
            r.outcome.reason.clone().unwrap_or_default()
        ));
    }
    let connect: u64 = r.flows.iter().map(|f| f.class_count("connect")).sum();
    if connect > 0 {
        return Some(format!(
            "{name} had {connect} connect errors (generator-side or target down)"
        ));
    }
    None
}

/// Checks that both sides ran the same flows.
pub(crate) fn check_flows(a: &[RunRecord], b: &[RunRecord]) -> Result<Vec<String>, Failure> {
    let flows = |r: &RunRecord| {
        let mut v = r.flow_names();
        v.sort();
        v
    };
    let first = flows(&a[0]);
    for r in a.iter().chain(b) {
        let f = flows(r);
        if f != first {
            return Err(Failure::bad_input(format!(
                "runs have different flows: run {} has [{}], run {} has [{}]",
                a[0].meta.run_id,
                first.join(", "),
                r.meta.run_id,
                f.join(", ")
            )));
        }
    }
    Ok(a[0].flow_names())
}

/// Compares baseline runs `a` with candidate runs `b`.
pub fn compare(a: &[RunRecord], b: &[RunRecord], opts: &Options) -> Result<Comparison, Failure> {
    if a.is_empty() || b.is_empty() {
        return Err(Failure::bad_input(
            "compare needs at least one run on each side",
        ));
    }
    if let ([ra], [rb]) = (a, b) {
        if paired::is_pair(ra, rb) {
            return paired::compare(ra, rb, opts);
        }
    }
    let flows = check_flows(a, b)?;
    let invalid: Vec<String> = a
        .iter()
        .map(|r| ("baseline", r))
        .chain(b.iter().map(|r| ("candidate", r)))
        .filter_map(|(side, r)| invalid_reason(r).map(|why| format!("{side}: {why}")))
        .collect();
    let method = match (a.len(), b.len()) {
        (1, 1) => "single-run",
        (m, n) if m >= 3 && n >= 3 => "runs",
        _ => "too-few-runs",
    };
    let steady_a: Vec<Vec<Steady>> = a
        .iter()
        .map(|r| steady::of_run(r, &flows))
        .collect::<Result<_, _>>()?;
    let steady_b: Vec<Vec<Steady>> = b
        .iter()
        .map(|r| steady::of_run(r, &flows))
        .collect::<Result<_, _>>()?;
    // Every run's value of every metric, computed once: values[flow][metric] = (baseline
    // runs, candidate runs), metrics in `CompareMetric::ALL` order.
    let values: Vec<Vec<(Vec<f64>, Vec<f64>)>> = (0..flows.len())
        .map(|fi| {
            CompareMetric::ALL
                .iter()
                .map(|m| {
                    (
                        steady_a.iter().map(|s| s[fi].value(*m)).collect(),
                        steady_b.iter().map(|s| s[fi].value(*m)).collect(),
                    )
                })
                .collect()
        })
        .collect();
    // α is split across the gated metrics that can differ at all: a metric with the same
    // value in every run of both sides (typically an error rate of 0) can never be called,
    // so it does not consume α (Tarone's refinement of Bonferroni).
    let testable = |(va, vb): &(Vec<f64>, Vec<f64>)| {
        let first = va.first().copied().unwrap_or(f64::NAN);
        !va.iter().chain(vb).all(|v| *v == first)
    };
    let gated = values
        .iter()
        .flat_map(|per_flow| CompareMetric::ALL.iter().zip(per_flow))
        .filter(|(m, v)| m.gated() && testable(v))
        .count();
    let alpha_per_metric = bonferroni(opts.alpha, gated);
    let mut rows = Vec::new();
    for (fi, flow) in flows.iter().enumerate() {
        for (metric, (va, vb)) in CompareMetric::ALL.into_iter().zip(&values[fi]) {
            let (base, cand) = (median(va), median(vb));
            let interval = match method {
                "runs" => runs_interval(va, vb, metric, alpha_per_metric),
                "single-run" => bootstrap_interval(
                    &steady_a[0][fi],
                    &steady_b[0][fi],
                    metric,
                    alpha_per_metric,
                    opts,
                ),
                _ => None,
            };
            rows.push(Row::judged(
                flow,
                metric,
                (base, cand),
                interval,
                invalid.is_empty(),
                opts,
            ));
        }
    }
    let label = |r: &RunRecord| {
        format!(
            "{} {} ({})",
            r.meta.profile, r.meta.run_id, r.meta.started_at
        )
    };
    Ok(Comparison {
        baseline_runs: a.len(),
        candidate_runs: b.len(),
        method: method.to_string(),
        label: (method == "single-run").then(|| SINGLE_RUN_LABEL.to_string()),
        alpha: opts.alpha,
        alpha_per_metric,
        min_effect: opts.min_effect,
        rows,
        invalid,
        baseline_labels: a.iter().map(label).collect(),
        candidate_labels: b.iter().map(label).collect(),
        paired: None,
    })
}

pub(crate) fn relative(base: f64, cand: f64, metric: CompareMetric) -> f64 {
    if metric.log_scale() {
        cand / base - 1.0
    } else {
        cand - base
    }
}

/// Hodges–Lehmann shift with the exact Mann–Whitney interval, on the metric's scale.
fn runs_interval(
    va: &[f64],
    vb: &[f64],
    metric: CompareMetric,
    alpha: f64,
) -> Option<(f64, f64, f64)> {
    let tf = |v: &[f64]| -> Option<Vec<f64>> {
        if metric.log_scale() {
            v.iter().map(|x| (*x > 0.0).then(|| x.ln())).collect()
        } else {
            Some(v.to_vec())
        }
    };
    let s = shift_estimate(&tf(va)?, &tf(vb)?, alpha)?;
    Some((s.estimate, s.low, s.high))
}

/// Moving-block bootstrap over steady-state seconds (indices into each side's seconds).
fn bootstrap_interval(
    a: &Steady,
    b: &Steady,
    metric: CompareMetric,
    alpha: f64,
    opts: &Options,
) -> Option<(f64, f64, f64)> {
    // Seconds are passed as indices; b's are offset so one statistic serves both sides.
    const OFFSET: f64 = 1.0e9;
    let ia: Vec<f64> = (0..a.seconds()).map(|i| i as f64).collect();
    let ib: Vec<f64> = (0..b.seconds()).map(|i| OFFSET + i as f64).collect();
    let n = ia.len().min(ib.len());
    if n < 4 {
        return None;
    }
    let config = BootstrapConfig {
        block_len: stats::default_block_len(n),
        resamples: opts.resamples,
        alpha,
        log_ratio: metric.log_scale(),
        seed: opts.seed,
    };
    let stat = |idx: &[f64]| -> f64 {
        let (side, base) = if idx.first().is_some_and(|v| *v >= OFFSET) {
            (b, OFFSET)
        } else {
            (a, 0.0)
        };
        let picks: Vec<usize> = idx.iter().map(|v| (v - base) as usize).collect();
        side.resampled_value(&picks, metric)
    };
    let r = moving_block_bootstrap(&ia, &ib, &config, stat)?;
    Some((r.estimate, r.low, r.high))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::histogram::{encode, new_histogram, Summary};
    use crate::record::{FlowRecord, Meta, Outcome, Phase, SecondRecord, SCHEMA_VERSION};

    /// A 40-second run whose validate latencies are `scale` × a fixed spread (≈1–2 ms), with
    /// per-run noise from `seed`.
    pub(crate) fn synthetic(scale: f64, seed: u64) -> RunRecord {
        let mut x = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut rnd = move || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 11) as f64 / (1u64 << 53) as f64
        };
        let run_noise = 1.0 + 0.02 * (rnd() - 0.5);
        let mut all = new_histogram();
        let mut per_second = Vec::new();
        for t in 0..40u32 {
            let mut h = new_histogram();
            for _ in 0..200 {
                let v = 1000.0 * scale * run_noise * (1.0 + rnd() + 0.3 * rnd().powi(8));
                h.record(v as u64).unwrap();
            }
            all.add(&h).unwrap();
            per_second.push(SecondRecord {
                t,
                requests: 200,
                errors: 0,
                histogram: encode(&h),
            });
        }
        RunRecord {
            schema_version: SCHEMA_VERSION,
            meta: Meta {
                tool_version: "test".into(),
                run_id: format!("r{seed}"),
                profile: "load".into(),
                host: "http://127.0.0.1:1".into(),
                embedded_target: None,
                contract: "reference".into(),
                started_at: "2026-11-22T00:00:00Z".into(),
                ended_at: "2026-11-22T00:00:40Z".into(),
                duration_s: 40.0,
                planned_duration_s: 40.0,
                max_users: 10,
                cores: 2,
                command: vec![],
                goose_requests: Default::default(),
                ..Meta::default()
            },
            phases: vec![Phase {
                name: "hold".into(),
                start_s: 0.0,
                end_s: 40.0,
                users_from: 10,
                users_to: 10,
            }],
            flows: vec![FlowRecord {
                name: "validate".into(),
                requests: 8000,
                ok: 8000,
                failed: 0,
                errors: Default::default(),
                summary: Summary::of(&all),
                histogram: encode(&all),
                per_second,
                error_samples: vec![],
            }],
            users_per_second: vec![10; 40],
            thresholds: vec![],
            outcome: Outcome {
                verdict: crate::record::RunVerdict::Pass,
                partial: false,
                reason: None,
            },
            server: None,
            recovery: Vec::new(),
        }
    }

    /// The two sides of one paired run of `seconds` s, 200 validate requests per side per
    /// second: a shared noise factor per second (a "hog" switching on and off every 1–4 s,
    /// ×1.3–×2 while on, and a slow drift) multiplies both sides' latencies; the candidate's
    /// are also × `scale`.
    pub(crate) fn synthetic_paired(scale: f64, seed: u64, seconds: u32) -> (RunRecord, RunRecord) {
        use rand::rngs::StdRng;
        use rand::{Rng, SeedableRng};
        let mut rng = StdRng::seed_from_u64(seed);
        let mut noise = Vec::new();
        let mut on = false;
        while noise.len() < seconds as usize {
            let factor = if on {
                1.3 + 0.7 * rng.gen::<f64>()
            } else {
                1.0
            };
            for _ in 0..rng.gen_range(1..=4) {
                noise.push(factor);
            }
            on = !on;
        }
        let mut side = |scale: f64, name: &str| {
            let mut r = synthetic(1.0, seed);
            let mut all = new_histogram();
            r.flows[0].per_second = (0..seconds)
                .map(|t| {
                    let drift = 1.0 + 0.1 * (t as f64 / 7.0).sin();
                    let mut h = new_histogram();
                    for _ in 0..200 {
                        let base = 1.0 + rng.gen::<f64>() + 0.3 * rng.gen::<f64>().powi(8);
                        let v = 1000.0 * scale * noise[t as usize] * drift * base;
                        h.record(v as u64).unwrap();
                    }
                    all.add(&h).unwrap();
                    SecondRecord {
                        t,
                        requests: 200,
                        errors: 0,
                        histogram: encode(&h),
                    }
                })
                .collect();
            let f = &mut r.flows[0];
            f.requests = 200 * u64::from(seconds);
            f.ok = f.requests;
            f.summary = Summary::of(&all);
            f.histogram = encode(&all);
            r.meta.duration_s = f64::from(seconds);
            r.meta.planned_duration_s = f64::from(seconds);
            r.phases[0].end_s = f64::from(seconds);
            r.users_per_second = vec![10; seconds as usize];
            r.meta.run_id = format!("pair{seed}");
            r.meta.paired = Some(name.to_string());
            r
        };
        let a = side(1.0, "baseline");
        let b = side(scale, "candidate");
        (a, b)
    }

    /// A paired side relabelled (to swap baseline and candidate).
    pub(crate) fn relabel(r: RunRecord, side: &str) -> RunRecord {
        let mut r = r;
        r.meta.paired = Some(side.to_string());
        r
    }

    fn runs(scale: f64, seeds: std::ops::Range<u64>) -> Vec<RunRecord> {
        seeds.map(|s| synthetic(scale, s)).collect()
    }

    fn row(c: &Comparison, metric: CompareMetric) -> &Row {
        c.rows.iter().find(|r| r.metric == metric).unwrap()
    }

    #[test]
    fn five_runs_per_side_detect_a_30_percent_regression() {
        let c = compare(&runs(1.0, 0..5), &runs(1.3, 10..15), &Options::default()).unwrap();
        assert_eq!(c.method, "runs");
        let p95 = row(&c, CompareMetric::P95);
        assert_eq!(p95.verdict, Verdict::Regression, "{p95:?}");
        assert!(
            p95.low > 0.0 && p95.change > 0.2 && p95.change < 0.4,
            "{p95:?}"
        );
        assert!(c.regression());
        // The mirror image is an improvement, and not a regression.
        let c = compare(&runs(1.3, 10..15), &runs(1.0, 0..5), &Options::default()).unwrap();
        assert_eq!(row(&c, CompareMetric::P95).verdict, Verdict::Improvement);
        assert!(!c.regression());
        // Bonferroni over testable gated metrics: p95 only (the error rate is 0 everywhere).
        assert!((c.alpha_per_metric - 0.05).abs() < 1e-12);
    }

    #[test]
    fn same_distribution_is_no_regression() {
        let c = compare(&runs(1.0, 0..5), &runs(1.0, 20..25), &Options::default()).unwrap();
        let p95 = row(&c, CompareMetric::P95);
        assert_ne!(p95.verdict, Verdict::Regression, "{p95:?}");
        assert!(!c.regression());
    }

    #[test]
    fn a_shift_below_min_effect_is_not_called() {
        let opts = Options {
            min_effect: 0.5,
            ..Options::default()
        };
        let c = compare(&runs(1.0, 0..5), &runs(1.3, 10..15), &opts).unwrap();
        assert_eq!(
            row(&c, CompareMetric::P95).verdict,
            Verdict::NoSignificantChange
        );
    }

    #[test]
    fn single_runs_use_the_labelled_reproducible_bootstrap() {
        let a = vec![synthetic(1.0, 1)];
        let b = vec![synthetic(1.3, 2)];
        let c1 = compare(&a, &b, &Options::default()).unwrap();
        assert_eq!(c1.method, "single-run");
        assert_eq!(c1.label.as_deref(), Some(SINGLE_RUN_LABEL));
        assert!(c1.method_text().contains(SINGLE_RUN_LABEL));
        assert_eq!(row(&c1, CompareMetric::P95).verdict, Verdict::Regression);
        let c2 = compare(&a, &b, &Options::default()).unwrap();
        let (r1, r2) = (row(&c1, CompareMetric::P95), row(&c2, CompareMetric::P95));
        assert_eq!(
            (r1.low, r1.high),
            (r2.low, r2.high),
            "same seed, same interval"
        );
        let render = render::markdown(&c1);
        assert!(render.contains("single-run estimate (lower confidence)"));
    }

    #[test]
    fn too_few_runs_and_invalid_runs_are_inconclusive() {
        let c = compare(&runs(1.0, 0..2), &runs(1.3, 10..12), &Options::default()).unwrap();
        assert_eq!(c.method, "too-few-runs");
        assert!(c.rows.iter().all(|r| r.verdict == Verdict::Inconclusive));
        let mut bad = runs(1.3, 10..15);
        bad[2].outcome.partial = true;
        bad[2].outcome.reason = Some("interrupted (SIGINT)".into());
        let c = compare(&runs(1.0, 0..5), &bad, &Options::default()).unwrap();
        assert_eq!(c.invalid.len(), 1);
        assert!(c.invalid[0].contains("ended early"), "{:?}", c.invalid);
        assert!(c.rows.iter().all(|r| r.verdict == Verdict::Inconclusive));
        assert!(!c.regression());
    }

    #[test]
    fn different_flows_are_bad_input() {
        let a = runs(1.0, 0..1);
        let mut b = runs(1.0, 1..2);
        b[0].flows[0].name = "login".into();
        let e = compare(&a, &b, &Options::default()).unwrap_err();
        assert_eq!(e.code, 2);
        assert!(e.message.contains("different flows"), "{}", e.message);
    }
}
