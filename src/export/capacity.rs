//! The capacity report: every rate tried, the rule's observed value at each, and the highest
//! rate that held — one self-contained HTML page on the shared report page
//! ([`super::page`], `capacity.html.jinja`): the verdict on top, the rule's metric (with its
//! unit) against the rate, and one row per step linking to that step's own report.

use minijinja::Value;
use serde::Serialize;

use super::{charts, ExportError};
use crate::text::sanitize;
use crate::thresholds::{Metric, Rule};

/// One step of a capacity search.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Step {
    pub target_rps: f64,
    pub achieved_rps: f64,
    /// The rule's metric, observed (ms for latency).
    pub observed: Option<f64>,
    pub observed_text: String,
    pub held: bool,
    /// Why the step failed (threshold, invalid run …).
    pub reason: Option<String>,
    /// The step's run folder (run.json, report.html), relative to the folder of
    /// capacity.json and capacity.html.
    pub run_dir: String,
}

/// The whole search.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Capacity {
    pub host: String,
    pub flow: String,
    pub rule: String,
    pub limit: f64,
    pub steps: Vec<Step>,
    /// Highest target rate that held; `None` when even the first failed.
    pub highest_held: Option<f64>,
    /// Lowest target rate that failed; `None` when every rate held up to the maximum.
    pub lowest_failed: Option<f64>,
}

const TEMPLATE: &str = include_str!("capacity.html.jinja");

#[derive(Serialize)]
struct Row {
    target: String,
    achieved: String,
    observed: String,
    held: bool,
    reason: Option<String>,
    run_dir: String,
    /// `run_dir/report.html`, percent-encoded (relative when `run_dir` is).
    href: String,
}

#[derive(Serialize)]
struct Page {
    flow: String,
    host: String,
    rule: String,
    metric: String,
    headline: String,
    headline_class: &'static str,
    highest_held: String,
    lowest_failed: String,
    chart: Value,
    steps: Vec<Row>,
}

/// One line saying what was found.
pub fn headline(c: &Capacity) -> String {
    match (c.highest_held, c.lowest_failed) {
        (Some(h), Some(f)) => {
            format!("highest rate that held: {h:.0} req/s (failed at {f:.0} req/s)")
        }
        (Some(h), None) => format!("held at every rate tried, up to {h:.0} req/s"),
        (None, Some(f)) => format!("failed already at the lowest rate tried, {f:.0} req/s"),
        (None, None) => "no step ran".to_string(),
    }
}

/// The y axis of the chart for a rule's metric: its name with the unit, and the factor from
/// the rule's unit to the axis unit (fractions are shown as %).
pub fn axis(metric: &Metric) -> (String, f64) {
    match metric {
        Metric::Percentile(p) => (format!("p{p} latency (ms)"), 1.0),
        Metric::Max | Metric::Min | Metric::Mean => (format!("{metric} latency (ms)"), 1.0),
        Metric::ErrorRate => ("error rate (%)".into(), 100.0),
        Metric::ClassRate(c) => (format!("rate of {} (%)", sanitize(c, 40)), 100.0),
        Metric::CacheHitRatio => ("cache hit ratio (%)".into(), 100.0),
        Metric::Rps => ("throughput (req/s)".into(), 1.0),
        Metric::Count => ("requests".into(), 1.0),
        Metric::DbQueriesPerRequest => ("DB queries per request".into(), 1.0),
    }
}

/// A path as a URL reference: every segment percent-encoded (so no scheme can appear).
fn href(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            seg.bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                        char::from(b).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn rate(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.0}/s"))
}

/// Renders the capacity report.
pub fn render(c: &Capacity) -> Result<String, ExportError> {
    // The stored rule is canonical text: it parses back into the rule that was judged.
    let rule = c.rule.parse::<Rule>().ok();
    let (metric, scale) = rule
        .as_ref()
        .map_or_else(|| ("observed".into(), 1.0), |r| axis(&r.metric));
    let limit_text = rule
        .as_ref()
        .map_or_else(|| format!("{}", c.limit), Rule::limit_text);
    let points: Vec<charts::RatePoint> = c
        .steps
        .iter()
        .filter_map(|s| {
            s.observed.map(|o| charts::RatePoint {
                rate: s.target_rps,
                value: o * scale,
                held: s.held,
            })
        })
        .collect();
    let chart = charts::rate_curve(&points, c.limit * scale, &limit_text, &metric)?;
    let steps: Vec<Row> = c
        .steps
        .iter()
        .map(|s| Row {
            target: format!("{:.0}/s", s.target_rps),
            achieved: format!("{:.1}/s", s.achieved_rps),
            observed: s.observed_text.clone(),
            held: s.held,
            reason: s.reason.as_deref().map(|r| sanitize(r, 400)),
            run_dir: sanitize(&s.run_dir, 400),
            href: href(&format!("{}/report.html", s.run_dir.trim_end_matches('/'))),
        })
        .collect();
    let page = Page {
        flow: sanitize(&c.flow, 100),
        host: sanitize(&c.host, 200),
        rule: c.rule.clone(),
        metric,
        headline: headline(c),
        headline_class: if c.highest_held.is_some() {
            "pass"
        } else {
            "fail"
        },
        highest_held: rate(c.highest_held),
        lowest_failed: rate(c.lowest_failed),
        chart: Value::from_safe_string(chart),
        steps,
    };
    super::page::render("capacity.html", TEMPLATE, &page)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(r: f64, o: f64, held: bool) -> Step {
        Step {
            target_rps: r,
            achieved_rps: r,
            observed: Some(o),
            observed_text: format!("{o:.1} ms"),
            held,
            reason: (!held).then(|| "'validate: p95<100ms' failed".to_string()),
            run_dir: format!("step-{r:.0}rps/run"),
        }
    }

    fn search() -> Capacity {
        Capacity {
            host: "http://127.0.0.1:1/<script>alert(1)</script>".into(),
            flow: "validate".into(),
            rule: "validate: p95<100ms".into(),
            limit: 100.0,
            steps: vec![
                step(100.0, 5.0, true),
                step(200.0, 40.0, true),
                step(400.0, 250.0, false),
                step(300.0, 90.0, true),
            ],
            highest_held: Some(300.0),
            lowest_failed: Some(400.0),
        }
    }

    /// The `<tr>` rows of the steps table, header excluded.
    fn step_rows(html: &str) -> Vec<&str> {
        let start = html.find("<table class=\"steps\">").expect("steps table");
        let table = &html[start..start + html[start..].find("</table>").unwrap()];
        table.split("<tr").skip(2).collect()
    }

    #[test]
    fn held_and_failed_steps_are_told_apart() {
        // The old template tested a `held` field its rows did not have: every step showed
        // as failed.
        let html = render(&search()).unwrap();
        let rows = step_rows(&html);
        assert_eq!(rows.len(), 4);
        for (row, held) in rows.iter().zip([true, true, false, true]) {
            if held {
                assert!(row.starts_with(" class=\"passed\""), "{row}");
                assert!(row.contains("<td class=\"result\">held</td>"), "{row}");
            } else {
                assert!(row.starts_with(" class=\"failed\""), "{row}");
                assert!(row.contains(">FAILED — "), "{row}");
            }
        }
        let verdict = &html[html.find("id=\"verdict\"").unwrap()..];
        assert!(verdict.starts_with("id=\"verdict\">highest rate that held: 300 req"));
        assert!(html.contains("class=\"headline pass\""));
        let mut none = search();
        none.steps.truncate(0);
        none.steps.push(step(100.0, 500.0, false));
        none.highest_held = None;
        none.lowest_failed = Some(100.0);
        let html = render(&none).unwrap();
        assert!(html.contains("class=\"headline fail\""));
        assert_eq!(step_rows(&html).len(), 1);
    }

    #[test]
    fn axis_links_and_escaping() {
        let c = search();
        let html = render(&c).unwrap();
        assert_eq!(
            headline(&c),
            "highest rate that held: 300 req/s (failed at 400 req/s)"
        );
        // The y axis names the metric and its unit; x ticks are whole rates.
        let chart = &html[html.find("<svg").unwrap()..html.find("</svg>").unwrap()];
        assert!(chart.contains("p95 latency (ms)"), "{chart}");
        for tick in ["0/s", "100/s", "200/s", "300/s", "400/s"] {
            assert!(chart.contains(&format!("\n{tick}\n</text>")), "{tick}");
        }
        assert!(!chart.contains(".0/s"));
        assert!(chart.contains("limit 100ms"));
        // Run folders are relative links to each step's report.
        assert!(html.contains("<a href=\"step-400rps&#x2f;run&#x2f;report.html\">"));
        assert!(!html.contains("href=\"&#x2f;"));
        assert!(!html.contains("<script>alert(1)</script>"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(!html.contains("<script"), "no JavaScript");
        assert_eq!(href("a b/../javascript:x"), "a%20b/../javascript%3Ax");
        assert_eq!(
            axis(&"error-rate<1%".parse::<Rule>().unwrap().metric).1,
            100.0
        );
    }
}
