//! The capacity report: every rate tried, the rule's observed value at each, and the highest
//! rate that held — one self-contained HTML page (auto-escaped template, inline SVG chart).

use minijinja::{AutoEscape, Environment, Value};
use serde::Serialize;

use super::{charts, ExportError};

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

const TEMPLATE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>loadtest capacity: {{ flow }}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}
.verdict{font-size:2em;font-weight:700}td,th{padding:.3em .8em;text-align:right}
th{background:#eee}.fail{background:#fde2e2}td:first-child,th:first-child{text-align:left}</style>
</head><body>
<h1>Capacity of {{ flow }} at {{ host }}</h1>
<p class="verdict">{{ headline }}</p>
<p>Rule: <code>{{ rule }}</code>. Each step is an open-model run at a fixed arrival rate (latency timed from the intended send time); a step holds when the rule passes and the run is valid (achieved ≥ 90% of the target rate). The rate doubles until a step fails, then bisects between the last rate that held and the first that failed.</p>
<div class="chart" id="capacity-chart">{{ chart }}</div>
<table><tr><th>target rate</th><th>achieved</th><th>observed</th><th>verdict</th><th>run</th></tr>
{% for s in steps %}<tr{% if not s.held %} class="fail"{% endif %}><td>{{ s.target }}</td><td>{{ s.achieved }}</td><td>{{ s.observed }}</td><td>{{ s.verdict }}</td><td>{{ s.run_dir }}</td></tr>
{% endfor %}</table>
</body></html>
"#;

#[derive(Serialize)]
struct Row {
    target: String,
    achieved: String,
    observed: String,
    verdict: String,
    run_dir: String,
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

/// Renders the capacity report.
pub fn render(c: &Capacity) -> Result<String, ExportError> {
    let points: Vec<(f64, f64)> = c
        .steps
        .iter()
        .filter_map(|s| s.observed.map(|o| (s.target_rps, o)))
        .collect();
    let chart = charts::rate_curve(&points, c.limit, &c.rule)?;
    let rows: Vec<Row> = c
        .steps
        .iter()
        .map(|s| Row {
            target: format!("{:.0}/s", s.target_rps),
            achieved: format!("{:.1}/s", s.achieved_rps),
            observed: s.observed_text.clone(),
            verdict: match (&s.held, &s.reason) {
                (true, _) => "held".into(),
                (false, Some(r)) => format!("failed: {r}"),
                (false, None) => "failed".into(),
            },
            run_dir: s.run_dir.clone(),
        })
        .collect();
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    env.add_template("capacity", TEMPLATE)
        .map_err(|e| ExportError::Template(e.to_string()))?;
    env.get_template("capacity")
        .and_then(|t| {
            t.render(minijinja::context! {
                flow => c.flow,
                host => c.host,
                rule => c.rule,
                headline => headline(c),
                chart => Value::from_safe_string(chart),
                steps => rows,
            })
        })
        .map_err(|e| ExportError::Template(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_shows_every_step_and_escapes_target_text() {
        let step = |r: f64, o: f64, held: bool| Step {
            target_rps: r,
            achieved_rps: r,
            observed: Some(o),
            observed_text: format!("{o:.1} ms"),
            held,
            reason: (!held).then(|| "'validate: p95<100ms' failed".to_string()),
            run_dir: format!("step-{r}"),
        };
        let c = Capacity {
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
        };
        let html = render(&c).unwrap();
        assert_eq!(
            headline(&c),
            "highest rate that held: 300 req/s (failed at 400 req/s)"
        );
        assert!(
            html.contains("highest rate that held: 300 req"),
            "minijinja escapes '/'"
        );
        assert_eq!(html.matches("<tr").count(), 5, "header + 4 steps");
        assert!(html.contains("<svg"));
        assert!(!html.contains("<script>alert(1)</script>"));
        assert!(html.contains("&lt;script&gt;"));
    }
}
