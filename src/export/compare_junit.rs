//! JUnit XML for a comparison: one `<testsuite name="loadtest compare">`, one `<testcase>` per
//! **gated** row of the delta table (classname = the flow, name = `FLOW METRIC`, e.g.
//! `validate p95`):
//!
//! | verdict | test case |
//! |---|---|
//! | regression | `<failure type="regression">` with the change and its interval |
//! | improvement, no significant change | passes (plain `<testcase/>`) |
//! | inconclusive | `<skipped>` with why (too few runs, a side invalid, no interval) |
//!
//! Skipped rather than passed, so an inconclusive gate is visible in CI, and rather than
//! failed, so it does not read as a regression; `compare` itself exits 3 when a side was
//! invalid. The test-case count always equals the number of gated rows. `time` (suite and
//! every case) is the summed duration of the runs compared: each verdict is drawn from all of
//! them. The skipped count sits on `<testsuite>` only (junit-10.xsd has no `skipped` on
//! `<testsuites>`). Text is written
//! through a template whose every printed value goes through [`super::junit::xml_escape`].

use minijinja::{AutoEscape, Environment, Error};
use serde::Serialize;

use super::junit::xml_formatter;
use super::ExportError;
use crate::compare::render::{change, headline, text, value};
use crate::compare::stats::Verdict;
use crate::compare::{Comparison, Row};
use crate::record::RunRecord;
use crate::text::sanitize;

const TEMPLATE: &str = include_str!("compare.junit.xml.jinja");

/// File name `ab` writes next to `compare.md`.
pub const FILE_NAME: &str = "compare-junit.xml";

#[derive(Serialize)]
struct Case {
    classname: String,
    name: String,
    failure: Option<String>,
    skipped: Option<String>,
    detail: String,
}

#[derive(Serialize)]
struct Suite {
    tests: usize,
    failures: usize,
    skipped: usize,
    time: String,
    properties: Vec<(&'static str, String)>,
    cases: Vec<Case>,
    system_out: String,
}

/// `baseline 1.00 ms → candidate 1.30 ms: +30.0% [+25.1%, +35.2%]`
fn observed(r: &Row) -> String {
    format!(
        "baseline {} → candidate {}: {}",
        value(r.metric, r.baseline),
        value(r.metric, r.candidate),
        change(r)
    )
}

fn case(c: &Comparison, r: &Row) -> Case {
    let flow = sanitize(&r.flow, 200);
    let failure =
        (r.verdict == Verdict::Regression).then(|| format!("regression: {}", observed(r)));
    let skipped = (r.verdict == Verdict::Inconclusive).then(|| {
        let why = if !c.invalid.is_empty() {
            format!(
                "a side could not be judged: {}",
                sanitize(&c.invalid.join("; "), 600)
            )
        } else if c.method == "too-few-runs" {
            "too few runs for a verdict (give ≥ 3 per side, or 1 per side)".to_string()
        } else {
            "no interval could be computed at this α".to_string()
        };
        format!("inconclusive: {why}")
    });
    Case {
        classname: flow.clone(),
        name: format!("{flow} {}", r.metric.name()),
        failure,
        skipped,
        detail: format!("{}\nverdict: {}\n", observed(r), r.verdict),
    }
}

fn suite(c: &Comparison, baseline: &[RunRecord], candidate: &[RunRecord]) -> Suite {
    let cases: Vec<Case> = c
        .rows
        .iter()
        .filter(|r| r.gated)
        .map(|r| case(c, r))
        .collect();
    let hosts = |runs: &[RunRecord]| {
        let mut v: Vec<String> = Vec::new();
        for r in runs {
            if !v.contains(&r.meta.host) {
                v.push(r.meta.host.clone());
            }
        }
        v.join(" ")
    };
    let time: f64 = baseline
        .iter()
        .chain(candidate)
        .map(|r| r.meta.duration_s.max(0.0))
        .sum();
    let properties = vec![
        ("headline", headline(c)),
        ("method", c.method.clone()),
        ("label", c.label.clone().unwrap_or_default()),
        ("alpha", c.alpha.to_string()),
        ("alpha_per_metric", format!("{:.6}", c.alpha_per_metric)),
        ("min_effect", format!("{}", c.min_effect)),
        ("baseline_runs", c.baseline_runs.to_string()),
        ("candidate_runs", c.candidate_runs.to_string()),
        ("baseline_hosts", hosts(baseline)),
        ("candidate_hosts", hosts(candidate)),
    ];
    Suite {
        tests: cases.len(),
        failures: cases.iter().filter(|x| x.failure.is_some()).count(),
        skipped: cases.iter().filter(|x| x.skipped.is_some()).count(),
        time: format!("{time:.3}"),
        properties,
        cases,
        system_out: format!("{}\n{}\n", text(c), c.method_text()),
    }
}

/// The comparison as JUnit XML (see the module docs for the mapping).
pub fn render(
    c: &Comparison,
    baseline: &[RunRecord],
    candidate: &[RunRecord],
) -> Result<String, ExportError> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::Custom("xml"));
    env.set_formatter(xml_formatter);
    let template_error = |e: Error| ExportError::Template(e.to_string());
    env.add_template("compare.junit.xml", TEMPLATE)
        .map_err(template_error)?;
    env.get_template("compare.junit.xml")
        .and_then(|t| t.render(minijinja::context! { suite => suite(c, baseline, candidate) }))
        .map_err(template_error)
}
