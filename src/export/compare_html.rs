//! The comparison report (baseline vs candidate): one self-contained HTML file, no JavaScript,
//! no network, rendered with minijinja's HTML auto-escaping like the run report
//! ([`super::html`]). Only the plotters-generated SVG charts are marked safe.
//!
//! It shows the headline verdict, a paired comparison's per-block ratios over time, the delta table (verdicts coloured: regression red,
//! improvement green, inconclusive grey), the method paragraph ([`Comparison::method_text`],
//! with the single-run label when it applies), why a side could not be judged, and per flow
//! two charts:
//! - the percentile spectra of both sides overlaid, each side's runs merged into one
//!   histogram per flow (HDR-style log x axis, [`charts::spectrum`]);
//! - p95 over time of both sides: per time bucket the **median across the side's runs** of
//!   each run's p95 in that bucket (one run per side: that run's p95).

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use minijinja::Value;
use serde::Serialize;

use super::charts::{self, Series};
use super::{run_seconds, ExportError};
use crate::compare::render::{change, headline, value};
use crate::compare::stats::{median, Verdict};
use crate::compare::Comparison;
use crate::histogram::{decode, new_histogram};
use crate::record::RunRecord;
use crate::text::sanitize;

const TEMPLATE: &str = include_str!("compare.html.jinja");

/// File name `ab` writes next to `compare.md`.
pub const FILE_NAME: &str = "compare.html";

#[derive(Serialize)]
struct RowView {
    flow: String,
    metric: &'static str,
    gated: bool,
    baseline: String,
    candidate: String,
    change: String,
    verdict: String,
    class: &'static str,
}

#[derive(Serialize)]
struct FlowCharts {
    flow: String,
    spectrum: Value,
    p95: Value,
}

#[derive(Serialize)]
struct Side {
    runs: usize,
    hosts: Vec<String>,
    labels: Vec<String>,
}

#[derive(Serialize)]
struct Page {
    headline: String,
    headline_class: &'static str,
    label: Option<String>,
    method: String,
    method_text: String,
    alpha: String,
    alpha_per_metric: String,
    min_effect: String,
    invalid: Vec<String>,
    rows: Vec<RowView>,
    charts: Vec<FlowCharts>,
    baseline: Side,
    candidate: Side,
    /// A paired comparison's blocks: header and rows.
    blocks: Option<(Vec<String>, Vec<Vec<String>>)>,
}

/// CSS class of a verdict: `regression` (red), `improvement` (green), `inconclusive`
/// (grey) or `same`.
pub fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Regression => "regression",
        Verdict::Improvement => "improvement",
        Verdict::Inconclusive => "inconclusive",
        Verdict::NoSignificantChange => "same",
    }
}

/// CSS class of the headline: `regression`, `inconclusive` (a side invalid or too few runs)
/// or `pass`.
fn headline_class(c: &Comparison) -> &'static str {
    if c.regression() {
        "regression"
    } else if !c.invalid.is_empty() || c.method == "too-few-runs" {
        "inconclusive"
    } else {
        "pass"
    }
}

/// The flows of the comparison, in table order.
fn flows(c: &Comparison) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in &c.rows {
        if !out.contains(&r.flow) {
            out.push(r.flow.clone());
        }
    }
    out
}

/// One side's whole-run histograms of `flow`, merged over its runs.
pub fn merged_histogram(runs: &[RunRecord], flow: &str) -> Result<Histogram<u64>, ExportError> {
    let mut all = new_histogram();
    for f in runs.iter().filter_map(|r| r.flow(flow)) {
        let fail = |message: String| ExportError::Histogram {
            flow: flow.to_string(),
            message,
        };
        let h = decode(&f.histogram).map_err(fail)?;
        all.add(&h).map_err(|e| fail(format!("{e:?}")))?;
    }
    Ok(all)
}

/// One side's p95 of `flow` over time (ms): per time bucket the median over the side's runs
/// of each run's p95 in that bucket (buckets of [`charts::buckets`] over `seconds`).
pub fn median_p95_series(
    runs: &[RunRecord],
    flow: &str,
    seconds: usize,
) -> Result<Series, ExportError> {
    // Bucket midpoints are multiples of 0.5 s: key them by 2x.
    let mut by_x: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
    for r in runs {
        let Some(f) = r.flow(flow) else { continue };
        // Each run's own partial seconds left out, on the common axis.
        let timeline = charts::Timeline {
            seconds,
            ..charts::Timeline::of(r)
        };
        let [_, p95, _] = charts::latency_series(f, &timeline)?;
        for (x, y) in p95 {
            by_x.entry((x * 2.0).round() as u64).or_default().push(y);
        }
    }
    Ok(by_x
        .into_iter()
        .filter_map(|(k, ys)| median(&ys).map(|m| (k as f64 / 2.0, m)))
        .collect())
}

fn side(runs: &[RunRecord], labels: &[String]) -> Side {
    let mut hosts: Vec<String> = Vec::new();
    for r in runs {
        let h = sanitize(&r.meta.host, 200);
        if !hosts.contains(&h) {
            hosts.push(h);
        }
    }
    Side {
        runs: runs.len(),
        hosts,
        labels: labels.iter().map(|l| sanitize(l, 200)).collect(),
    }
}

fn page(
    c: &Comparison,
    baseline: &[RunRecord],
    candidate: &[RunRecord],
) -> Result<Page, ExportError> {
    let rows = c
        .rows
        .iter()
        .map(|r| RowView {
            flow: sanitize(&r.flow, 200),
            metric: r.metric.name(),
            gated: r.gated,
            baseline: value(r.metric, r.baseline),
            candidate: value(r.metric, r.candidate),
            change: change(r),
            verdict: r.verdict.to_string(),
            class: verdict_class(r.verdict),
        })
        .collect();
    let seconds = baseline
        .iter()
        .chain(candidate)
        .map(run_seconds)
        .max()
        .unwrap_or(0);
    let charts = flows(c)
        .into_iter()
        .map(|flow| {
            let (ha, hb) = (
                merged_histogram(baseline, &flow)?,
                merged_histogram(candidate, &flow)?,
            );
            let spectrum = charts::spectrum(&[("baseline", &ha), ("candidate", &hb)])?;
            let (sa, sb) = (
                median_p95_series(baseline, &flow, seconds)?,
                median_p95_series(candidate, &flow, seconds)?,
            );
            let p95 = charts::latency_lines_over_time(
                &[("baseline p95", sa), ("candidate p95", sb)],
                seconds,
            )?;
            Ok(FlowCharts {
                flow: sanitize(&flow, 200),
                spectrum: Value::from_safe_string(spectrum),
                p95: Value::from_safe_string(p95),
            })
        })
        .collect::<Result<_, ExportError>>()?;
    // The single-run label gets its own badge under the headline.
    let mut headline = headline(c);
    if let Some(label) = &c.label {
        if let Some(h) = headline.strip_suffix(&format!(" — {label}")) {
            headline = h.to_string();
        }
    }
    Ok(Page {
        headline,
        headline_class: headline_class(c),
        label: c.label.clone(),
        method: c.method.clone(),
        method_text: c.method_text(),
        alpha: format!("{}", c.alpha),
        alpha_per_metric: format!("{:.4}", c.alpha_per_metric),
        min_effect: format!("{:.1}%", c.min_effect * 100.0),
        invalid: c.invalid.iter().map(|s| sanitize(s, 400)).collect(),
        rows,
        charts,
        baseline: side(baseline, &c.baseline_labels),
        candidate: side(candidate, &c.candidate_labels),
        blocks: crate::compare::render::paired_blocks(c, crate::compare::render::MAX_BLOCK_ROWS),
    })
}

/// The comparison report as one HTML page. `baseline` and `candidate` are the runs `c` was
/// computed from (for the charts).
pub fn render(
    c: &Comparison,
    baseline: &[RunRecord],
    candidate: &[RunRecord],
) -> Result<String, ExportError> {
    super::page::render("compare.html", TEMPLATE, &page(c, baseline, candidate)?)
}
