//! Reports rendered from a [`RunRecord`] — and only from it, so any saved `run.json` can be
//! re-rendered. One [`Exporter`] trait, one small module per format (hyperfine's
//! `src/export/` is the model): [`html`] (self-contained page with inline SVG [`charts`]),
//! [`markdown`] (PR comment / `$GITHUB_STEP_SUMMARY`), [`junit`] (one test case per
//! threshold rule), [`hlog`] (HdrHistogram interval log, one tag per flow) and [`json`] (the
//! record itself). Comparisons (baseline vs candidate
//! runs) have their own renderers outside the trait, since they read a `Comparison` plus
//! both sides' runs: [`compare_html`] and [`compare_junit`].
//!
//! Everything that came from the target or the command line is hostile text: HTML and XML
//! are written through auto-escaping templates, Markdown through [`crate::text::escape_markdown`].

pub mod capacity;
pub mod charts;
pub mod compare_html;
pub mod compare_junit;
pub mod hlog;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod page;
/// Synthetic records for the unit tests (the same file the integration tests, benches and
/// examples include; not part of the shipped library).
#[cfg(test)]
#[path = "../../tests/support/sample.rs"]
pub mod sample;
pub mod server;

use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::error::Failure;
use crate::histogram::{decode, new_histogram, Summary};
use crate::record::{write_atomic, RunRecord};

/// Why a report could not be rendered (a record whose histograms do not decode, a chart or
/// template failure).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExportError {
    #[error("flow '{flow}': {message}")]
    Histogram { flow: String, message: String },
    #[error("chart '{chart}': {message}")]
    Chart {
        chart: &'static str,
        message: String,
    },
    #[error("template: {0}")]
    Template(String),
    #[error("json: {0}")]
    Json(String),
}

/// One report format.
pub trait Exporter {
    /// Short name, as `--format` takes it (`html`, `md`, `junit`, `json`).
    fn name(&self) -> &'static str;
    /// File name written next to `run.json` (`report.html`, …).
    fn file_name(&self) -> &'static str;
    /// The whole report as text.
    fn render(&self, record: &RunRecord) -> Result<String, ExportError>;
}

/// The formats `loadtest report --format` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Self-contained HTML page with charts (report.html).
    Html,
    /// Markdown summary for a PR comment (summary.md).
    #[value(name = "md", alias = "markdown")]
    Markdown,
    /// JUnit XML, one test case per threshold rule (junit.xml).
    Junit,
    /// The run record itself, pretty-printed (run.json).
    Json,
    /// HdrHistogram interval log, one tag per flow, one line per second (latency.hlog).
    Hlog,
}

impl Format {
    pub fn exporter(self) -> Box<dyn Exporter> {
        match self {
            Format::Html => Box::new(html::HtmlExporter),
            Format::Markdown => Box::new(markdown::MarkdownExporter),
            Format::Junit => Box::new(junit::JunitExporter),
            Format::Json => Box::new(json::JsonExporter),
            Format::Hlog => Box::new(hlog::HlogExporter),
        }
    }
}

/// The reports every run writes next to its `run.json`.
pub fn run_reports() -> Vec<Box<dyn Exporter>> {
    [Format::Html, Format::Markdown, Format::Junit, Format::Hlog]
        .into_iter()
        .map(Format::exporter)
        .collect()
}

/// Renders `exporter` and writes it to `path` atomically.
pub fn write_report(
    exporter: &dyn Exporter,
    record: &RunRecord,
    path: &Path,
) -> Result<(), Failure> {
    let text = exporter.render(record).map_err(|e| {
        Failure::bad_input(format!("cannot render the {} report: {e}", exporter.name()))
    })?;
    write_atomic(path, text.as_bytes())
}

/// Writes every [`run_reports`] report into `dir`; returns the paths written.
pub fn write_reports(record: &RunRecord, dir: &Path) -> Result<Vec<PathBuf>, Failure> {
    run_reports()
        .iter()
        .map(|e| {
            let path = dir.join(e.file_name());
            write_report(e.as_ref(), record, &path).map(|()| path)
        })
        .collect()
}

pub use crate::units::fmt_ms;

/// Requests per second: `0.33`, `12.5`, `1234`.
pub fn fmt_rate(v: f64) -> String {
    if !v.is_finite() {
        "n/a".to_string()
    } else if v >= 1000.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Seconds as `45.0 s` or `30m 00s`.
pub fn fmt_duration(s: f64) -> String {
    if !s.is_finite() || s < 0.0 {
        "n/a".to_string()
    } else if s < 120.0 {
        format!("{s:.1} s")
    } else {
        let t = s.round() as u64;
        format!("{}m {:02}s", t / 60, t % 60)
    }
}

/// One row of the per-flow tables, computed from the decoded histogram (not the stored
/// summary).
#[derive(Debug, Clone, Serialize)]
pub struct FlowStats {
    pub name: String,
    pub requests: u64,
    pub failed: u64,
    /// `503×2, timeout×1`, or empty.
    pub error_classes: String,
    pub error_pct: f64,
    pub rps: f64,
    pub summary: Summary,
}

/// Per-flow rows plus an `all flows` row when there is more than one flow, with the decoded
/// histograms (for the spectrum chart).
pub fn flow_stats(record: &RunRecord) -> Result<Vec<(FlowStats, Histogram<u64>)>, ExportError> {
    let secs = record.meta.duration_s;
    let row =
        |name: &str, requests: u64, failed: u64, classes: String, h: &Histogram<u64>| FlowStats {
            name: name.to_string(),
            requests,
            failed,
            error_classes: classes,
            error_pct: if requests > 0 {
                100.0 * failed as f64 / requests as f64
            } else {
                0.0
            },
            rps: if secs > 0.0 {
                requests as f64 / secs
            } else {
                0.0
            },
            summary: Summary::of(h),
        };
    let mut out = Vec::new();
    let mut all = new_histogram();
    for f in &record.flows {
        let h = decode(&f.histogram).map_err(|message| ExportError::Histogram {
            flow: f.name.clone(),
            message,
        })?;
        all.add(&h).map_err(|e| ExportError::Histogram {
            flow: f.name.clone(),
            message: format!("{e:?}"),
        })?;
        let classes = f
            .errors
            .iter()
            .map(|(k, v)| format!("{k}×{v}"))
            .collect::<Vec<_>>()
            .join(", ");
        out.push((row(&f.name, f.requests, f.failed, classes, &h), h));
    }
    if record.flows.len() > 1 {
        let requests = record.flows.iter().map(|f| f.requests).sum();
        let failed = record.flows.iter().map(|f| f.failed).sum();
        out.push((row("all flows", requests, failed, String::new(), &all), all));
    }
    Ok(out)
}

/// One row of the threshold tables.
#[derive(Debug, Clone, Serialize)]
pub struct ThresholdRow {
    pub rule: String,
    pub scope: String,
    pub observed: String,
    /// Operator and limit, e.g. `< 500ms`.
    pub limit: String,
    pub passed: bool,
    pub reason: Option<String>,
}

/// The verdicts as table rows.
pub fn threshold_rows(record: &RunRecord) -> Vec<ThresholdRow> {
    record
        .thresholds
        .iter()
        .map(|v| {
            let op: String = v
                .rule
                .find(['<', '>'])
                .map(|i| {
                    v.rule[i..]
                        .chars()
                        .take_while(|c| matches!(c, '<' | '>' | '='))
                        .collect()
                })
                .unwrap_or_default();
            // Latencies in the same format as the flow tables; other metrics as judged.
            let latency = v
                .rule
                .parse::<crate::thresholds::Rule>()
                .is_ok_and(|r| r.metric.is_latency());
            let observed = match v.observed {
                Some(x) if latency => fmt_ms(x),
                _ => v.observed_text.clone(),
            };
            ThresholdRow {
                rule: v.rule.clone(),
                scope: v.scope.clone(),
                observed,
                limit: format!("{op} {}", v.limit_text).trim().to_string(),
                passed: v.passed,
                reason: v.reason.clone(),
            }
        })
        .collect()
}

/// `PASS`, `FAIL` or `INVALID`.
pub fn verdict_label(record: &RunRecord) -> String {
    record.outcome.verdict.as_str().to_ascii_uppercase()
}

/// Seconds the run's time axis covers: the longest of its per-second data and its duration.
pub fn run_seconds(record: &RunRecord) -> usize {
    let last_second = record
        .flows
        .iter()
        .flat_map(|f| f.per_second.iter().map(|s| s.t as usize + 1))
        .max()
        .unwrap_or(0);
    last_second
        .max(record.users_per_second.len())
        .max(record.meta.duration_s.ceil().max(0.0) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::sample::fixture;

    #[test]
    fn formats() {
        assert_eq!(fmt_ms(0.4234), "0.42 ms");
        assert_eq!(fmt_ms(950.271), "950.3 ms");
        assert_eq!(fmt_ms(1250.0), "1.25 s");
        assert_eq!(fmt_ms(f64::NAN), "n/a");
        assert_eq!(fmt_rate(0.333), "0.33");
        assert_eq!(fmt_rate(1234.4), "1234");
        assert_eq!(fmt_duration(45.0), "45.0 s");
        assert_eq!(fmt_duration(1800.0), "30m 00s");
    }

    #[test]
    fn stats_come_from_the_histograms() {
        let r = fixture();
        let stats = flow_stats(&r).unwrap();
        let names: Vec<&str> = stats.iter().map(|(s, _)| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "login",
                "validate",
                "evil<svg onload=alert(1)>",
                "all flows"
            ]
        );
        let (login, h) = &stats[0];
        // 1..=1000 ms, one each: p95 is 950 ms within HDR's 3 significant digits.
        assert!(
            (login.summary.p95 - 950.0).abs() < 1.0,
            "{:?}",
            login.summary
        );
        assert_eq!(h.len(), 1000);
        assert_eq!(login.requests, 1000);
        assert_eq!(login.failed, 4);
        assert_eq!(login.error_classes, "503×3, timeout×1");
        assert!((login.rps - 100.0).abs() < 1e-9);
        let all = &stats[3].0;
        assert_eq!(
            all.requests,
            r.flows.iter().map(|f| f.requests).sum::<u64>()
        );
        let rows = threshold_rows(&r);
        assert_eq!(rows.len(), r.thresholds.len());
        assert_eq!(rows[0].limit, "< 500ms");
        assert!(!rows[0].passed && rows[1].passed);
        assert_eq!(verdict_label(&r), "FAIL");
        assert_eq!(run_seconds(&r), 10);
    }
}
