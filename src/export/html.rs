//! The HTML report: one self-contained file (inline CSS and SVG, no JavaScript, no network —
//! a Content-Security-Policy forbids both), rendered with minijinja's HTML auto-escaping.
//! Only the plotters-generated SVG charts are marked safe: plotters builds them from numbers
//! and XML-escapes every text it draws (flow and phase names included; see the
//! `chart_labels_are_escaped` test).

use minijinja::Value;
use serde::Serialize;

use super::{
    charts, flow_stats, fmt_duration, fmt_ms, fmt_rate, threshold_rows, verdict_label, ExportError,
    Exporter, ThresholdRow,
};
use crate::record::Recovery;
use crate::record::RunRecord;
use crate::text::sanitize;

pub struct HtmlExporter;

const TEMPLATE: &str = include_str!("report.html.jinja");
/// Error samples shown per flow, and characters per sample.
const SAMPLES_SHOWN: usize = 10;
const SAMPLE_CHARS: usize = 300;

#[derive(Serialize)]
struct FlowRow {
    name: String,
    color: String,
    requests: u64,
    failed: u64,
    error_pct: String,
    error_classes: String,
    rps: String,
    p50: String,
    p90: String,
    p95: String,
    p99: String,
    p999: String,
    max: String,
    mean: String,
}

#[derive(Serialize)]
struct Chart {
    title: String,
    svg: Value,
}

#[derive(Serialize)]
struct Samples {
    flow: String,
    samples: Vec<String>,
    more: usize,
}

#[derive(Serialize)]
struct Page {
    profile: String,
    host: String,
    duration: String,
    planned: String,
    users: u32,
    verdict: String,
    verdict_class: &'static str,
    partial: bool,
    reason: Option<String>,
    /// Open model: target vs achieved rate, late and dropped sends, send lag.
    rate: Option<String>,
    delayed_retries: u64,
    failed_rules: usize,
    flows: Vec<FlowRow>,
    thresholds: Vec<ThresholdRow>,
    spectrum: Value,
    latency: Vec<Chart>,
    /// Small multiples: one panel per flow.
    throughput: Vec<Chart>,
    /// Spike runs: one line on how fast p95 came back, and its chart.
    recovery_headline: Option<String>,
    recovery_chart: Option<Value>,
    users_chart: Value,
    phases: Vec<String>,
    samples: Vec<Samples>,
    meta: Vec<(&'static str, String)>,
    goose_requests: Vec<(String, u64)>,
    server: super::server::ServerView,
    server_charts: Vec<Chart>,
}

/// The recovery the section leads with: the `all` scope's, else the first.
fn recovery_focus(r: &RunRecord) -> Option<&Recovery> {
    r.recovery
        .iter()
        .find(|x| x.scope.eq_ignore_ascii_case("all"))
        .or_else(|| r.recovery.first())
}

/// `all flows: p95 back under 100.0 ms 4 s after the spike ended (p95 during the spike:
/// 180.0 ms)`, or `… not back under … within 28 s`.
fn recovery_headline(x: &Recovery) -> String {
    let scope = if x.scope.eq_ignore_ascii_case("all") {
        "all flows".to_string()
    } else {
        sanitize(&x.scope, 60)
    };
    let limit = fmt_ms(x.limit_ms);
    let during = x
        .spike_p95_ms
        .map(|v| format!(" (p95 during the spike: {})", fmt_ms(v)))
        .unwrap_or_default();
    match x.recovered_after_s {
        Some(s) => {
            format!("{scope}: p95 back under {limit} {s:.0} s after the spike ended{during}")
        }
        None => format!(
            "{scope}: p95 not back under {limit} within the {:.0} s after the spike{during}",
            x.watched_s
        ),
    }
}

fn hex(c: plotters::style::RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

/// The page's data: every number computed from the record's histograms and series.
fn page(r: &RunRecord) -> Result<Page, ExportError> {
    let stats = flow_stats(r)?;
    let timeline = charts::Timeline::of(r);
    let flows = stats
        .iter()
        .enumerate()
        .map(|(i, (f, _))| {
            let s = &f.summary;
            FlowRow {
                name: f.name.clone(),
                color: if i < r.flows.len() {
                    hex(charts::flow_color(i))
                } else {
                    "transparent".into()
                },
                requests: f.requests,
                failed: f.failed,
                error_pct: format!("{:.2}%", f.error_pct),
                error_classes: f.error_classes.clone(),
                rps: fmt_rate(f.rps),
                p50: fmt_ms(s.p50),
                p90: fmt_ms(s.p90),
                p95: fmt_ms(s.p95),
                p99: fmt_ms(s.p99),
                p999: fmt_ms(s.p999),
                max: fmt_ms(s.max),
                mean: fmt_ms(s.mean),
            }
        })
        .collect();
    let per_flow: Vec<(&str, &hdrhistogram::Histogram<u64>)> = stats
        .iter()
        .take(r.flows.len())
        .map(|(f, h)| (f.name.as_str(), h))
        .collect();
    let spectrum = Value::from_safe_string(charts::spectrum(&per_flow)?);
    let latency = r
        .flows
        .iter()
        .map(|f| {
            Ok(Chart {
                title: f.name.clone(),
                svg: Value::from_safe_string(charts::latency_over_time(f, &timeline, &r.phases)?),
            })
        })
        .collect::<Result<_, ExportError>>()?;
    let throughput = r
        .flows
        .iter()
        .enumerate()
        .map(|(i, f)| {
            Ok(Chart {
                title: f.name.clone(),
                svg: Value::from_safe_string(charts::throughput_over_time(
                    f, i, &timeline, &r.phases,
                )?),
            })
        })
        .collect::<Result<_, ExportError>>()?;
    let (recovery_headline, recovery_chart) = match recovery_focus(r) {
        Some(x) => {
            let flows: Vec<&crate::record::FlowRecord> = r
                .flows
                .iter()
                .filter(|f| {
                    x.scope.eq_ignore_ascii_case("all") || f.name.eq_ignore_ascii_case(&x.scope)
                })
                .collect();
            let svg = charts::recovery_over_time(&flows, &timeline, &r.phases, x)?;
            (
                Some(recovery_headline(x)),
                Some(Value::from_safe_string(svg)),
            )
        }
        None => (None, None),
    };
    let users_chart =
        Value::from_safe_string(charts::users_over_time(&r.users_per_second, &r.phases)?);
    let samples = r
        .flows
        .iter()
        .filter(|f| !f.error_samples.is_empty())
        .map(|f| Samples {
            flow: f.name.clone(),
            samples: f
                .error_samples
                .iter()
                .take(SAMPLES_SHOWN)
                .map(|s| sanitize(s, SAMPLE_CHARS))
                .collect(),
            more: f.error_samples.len().saturating_sub(SAMPLES_SHOWN),
        })
        .collect();
    let m = &r.meta;
    let meta = vec![
        ("run id", m.run_id.clone()),
        ("tool version", m.tool_version.clone()),
        ("profile", m.profile.clone()),
        ("target", m.host.clone()),
        (
            "embedded target",
            m.embedded_target.clone().unwrap_or_else(|| "-".into()),
        ),
        ("contract", m.contract.clone()),
        ("started", m.started_at.clone()),
        ("ended", m.ended_at.clone()),
        ("duration", fmt_duration(m.duration_s)),
        ("planned duration", fmt_duration(m.planned_duration_s)),
        ("peak users", m.max_users.to_string()),
        ("client cores", m.cores.to_string()),
        ("command", m.command.join(" ")),
        ("schema version", r.schema_version.to_string()),
    ];
    let phases = r
        .phases
        .iter()
        .map(|p| {
            format!(
                "{} ({}–{}, users {}→{})",
                p.name,
                charts::clock(p.start_s),
                charts::clock(p.end_s),
                p.users_from,
                p.users_to
            )
        })
        .collect();
    Ok(Page {
        profile: m.profile.clone(),
        host: m.host.clone(),
        duration: fmt_duration(m.duration_s),
        planned: fmt_duration(m.planned_duration_s),
        users: m.max_users,
        verdict: verdict_label(r),
        verdict_class: r.outcome.verdict.as_str(),
        partial: r.outcome.partial,
        reason: r.outcome.reason.clone(),
        rate: m.rate.as_ref().map(|x| x.describe()),
        delayed_retries: m.delayed_retries,
        failed_rules: r.thresholds.iter().filter(|v| !v.passed).count(),
        flows,
        thresholds: threshold_rows(r),
        spectrum,
        latency,
        throughput,
        recovery_headline,
        recovery_chart,
        users_chart,
        phases,
        samples,
        meta,
        goose_requests: m
            .goose_requests
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect(),
        server: super::server::view(r),
        server_charts: super::server::charts(r)?
            .into_iter()
            .map(|(title, svg)| Chart { title, svg })
            .collect(),
    })
}

impl Exporter for HtmlExporter {
    fn name(&self) -> &'static str {
        "html"
    }

    fn file_name(&self) -> &'static str {
        "report.html"
    }

    fn render(&self, record: &RunRecord) -> Result<String, ExportError> {
        super::page::render("report.html", TEMPLATE, &page(record)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::sample::{fixture, HOSTILE_FLOW, HOSTILE_HOST, HOSTILE_SAMPLES};

    fn html() -> String {
        HtmlExporter.render(&fixture()).unwrap()
    }

    /// The text of the element with `id`, up to its closing `</section>`.
    fn section<'a>(html: &'a str, id: &str) -> &'a str {
        let start = html
            .find(&format!("id=\"{id}\""))
            .unwrap_or_else(|| panic!("no #{id}"));
        let end = html[start..].find("</section>").unwrap() + start;
        &html[start..end]
    }

    #[test]
    fn numbers_match_the_record() {
        let r = fixture();
        let html = html();
        let stats = flow_stats(&r).unwrap();
        let flows = section(&html, "flows");
        for (f, _) in &stats {
            for v in [f.summary.p50, f.summary.p95, f.summary.p99, f.summary.max] {
                assert!(
                    flows.contains(&format!(">{}<", fmt_ms(v))),
                    "{}: {v}",
                    f.name
                );
            }
            assert!(flows.contains(&format!(">{}<", f.requests)));
        }
        assert!(flows.contains(">950.3 ms<"), "login p95");
        assert!(flows.contains(">4.75 ms<"), "validate p95");
        assert!(flows.contains("503×3, timeout×1"));
        let thresholds = section(&html, "thresholds");
        assert_eq!(thresholds.matches("<tr class=\"failed\">").count(), 3);
        assert_eq!(thresholds.matches("<tr class=\"passed\">").count(), 3);
        assert!(thresholds.contains("observed 950.3 ms is not &lt; 500ms"));
        let header = section(&html, "summary");
        assert!(header.contains("class=\"verdict fail\">FAIL<"), "{header}");
        assert!(header.contains("10.0 s") && header.contains(">5<"));
    }

    #[test]
    fn charts_are_inline_svg() {
        let html = html();
        let count = |id| section(&html, id).matches("<svg").count();
        assert_eq!(count("chart-spectrum"), 1);
        assert_eq!(count("chart-latency-time"), 3, "one per flow");
        assert_eq!(
            count("chart-throughput"),
            3,
            "small multiples: one per flow"
        );
        assert_eq!(count("chart-users"), 1);
        let spectrum = section(&html, "chart-spectrum");
        for tick in ["50%", "90%", "99%", "99.9%"] {
            assert!(spectrum.contains(&format!("\n{tick}\n</text>")), "{tick}");
        }
        assert!(!html.contains("<script"), "no JavaScript at all");
        for tag in [
            "<link", "<img", "<iframe", "<object", "<embed", "url(", "@import",
        ] {
            assert!(!html.contains(tag), "nothing loads from elsewhere: {tag}");
        }
        assert!(html.contains("Content-Security-Policy"));
    }

    #[test]
    fn hostile_text_is_escaped() {
        let html = html();
        assert!(!html.contains(HOSTILE_HOST));
        assert!(
            html.contains("http:&#x2f;&#x2f;x&#x2f;&quot;&gt;&lt;img src=x onerror=alert(1)&gt;")
        );
        for raw in HOSTILE_SAMPLES {
            assert!(!html.contains(raw), "{raw}");
        }
        assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"));
        assert!(!html.contains(HOSTILE_FLOW));
        assert!(!html.contains("<img") && !html.contains("<b>bold"));
        assert!(!html.contains("</li></ul><script>"));
    }

    #[test]
    fn chart_labels_are_escaped() {
        // Plotters writes flow and phase names into <text>: they must come out escaped.
        let svg = charts::users_over_time(
            &[1, 2, 3],
            &[crate::record::Phase {
                name: "a<b>&\"'".into(),
                start_s: 0.0,
                end_s: 3.0,
                users_from: 0,
                users_to: 3,
            }],
        )
        .unwrap();
        assert!(svg.contains("a&lt;b&gt;&amp;&quot;&apos;"), "{svg}");
        let html = html();
        let latency = section(&html, "chart-spectrum");
        assert!(
            latency.contains("evil&lt;svg onload=alert(1)&gt;"),
            "legend escaped"
        );
    }

    #[test]
    fn spike_runs_get_a_recovery_section() {
        let r = crate::export::sample::spike();
        let all = r.recovery.iter().find(|x| x.scope == "all").unwrap();
        let after = all.recovered_after_s.expect("the sample recovers");
        let html = HtmlExporter.render(&r).unwrap();
        let section = section(&html, "recovery");
        assert!(
            section.contains(&format!(
                "all flows: p95 back under 100.0 ms {after:.0} s after the spike ended"
            )),
            "{section}"
        );
        assert_eq!(
            section.matches("<tr class=").count(),
            r.recovery.len(),
            "one row per scope"
        );
        assert_eq!(section.matches("<svg").count(), 1, "its chart");
        assert!(section.contains(&format!("recovered after {after:.0} s")));
        // Its own section, right after the thresholds, not under "Server side".
        let at = |id: &str| html.find(&format!("id=\"{id}\"")).unwrap();
        assert!(at("thresholds") < at("recovery") && at("recovery") < at("chart-spectrum"));
        assert!(!html.contains("id=\"server\""));
        assert!(
            !self::html().contains("id=\"recovery\""),
            "no spike, no section"
        );
    }
}
