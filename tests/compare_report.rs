//! The comparison report exporters (HTML and JUnit) and `loadtest compare --html --junit`, on
//! runs built by the exporters' sample builder (no load is run).

mod common;
use common::loadtest;

use std::collections::BTreeMap;
use std::path::Path;

use common::sample::{build, SampleFlow, SampleSecond, HOSTILE_FLOW, HOSTILE_HOST};
use loadtest::compare::render::{change, value};
use loadtest::compare::stats::Verdict;
use loadtest::compare::{compare, Comparison, Options, SINGLE_RUN_LABEL};
use loadtest::export::{compare_html, compare_junit};
use loadtest::record::{Phase, RunRecord};

const SECONDS: u32 = 30;

/// A 30-second hold run: per second 100 latencies per flow of `scale` × (1–2 ms) with a
/// small tail, and per-run noise from `seed`.
fn run(scale: f64, seed: u64, flows: &[&str], host: &str) -> RunRecord {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut rnd = move || {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    let noise = 1.0 + 0.02 * (rnd() - 0.5);
    let flows = flows
        .iter()
        .enumerate()
        .map(|(i, name)| SampleFlow {
            name: name.to_string(),
            seconds: (0..SECONDS)
                .map(|t| SampleSecond {
                    t,
                    latencies_us: (0..100)
                        .map(|_| {
                            let v = 1000.0 * (i as f64 + 1.0) * scale * noise;
                            (v * (1.0 + rnd() + 0.3 * rnd().powi(8))) as u64
                        })
                        .collect(),
                    errors: BTreeMap::new(),
                })
                .collect(),
            error_samples: Vec::new(),
        })
        .collect();
    let mut r = build(
        "load",
        host,
        flows,
        vec![10; SECONDS as usize],
        vec![Phase {
            name: "hold".into(),
            start_s: 0.0,
            end_s: f64::from(SECONDS),
            users_from: 10,
            users_to: 10,
        }],
        &[],
    );
    r.meta.run_id = format!("run{seed}");
    r
}

fn side(scale: f64, seeds: std::ops::Range<u64>, flows: &[&str], host: &str) -> Vec<RunRecord> {
    seeds.map(|s| run(scale, s, flows, host)).collect()
}

/// What minijinja's HTML auto-escaping makes of `s`.
fn html_escaped(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
        .replace('/', "&#x2f;")
}

/// The text of the element with `id`, up to its closing `</section>`.
fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id}"));
    let end = html[start..].find("</section>").unwrap() + start;
    &html[start..end]
}

fn regression_case() -> (Comparison, Vec<RunRecord>, Vec<RunRecord>) {
    let flows = ["login", "validate"];
    let a = side(1.0, 0..5, &flows, "http://127.0.0.1:1");
    let b = side(1.3, 10..15, &flows, "http://127.0.0.1:2");
    let c = compare(&a, &b, &Options::default()).unwrap();
    (c, a, b)
}

#[test]
fn html_numbers_match_the_comparison_rows() {
    let (c, a, b) = regression_case();
    assert!(c.regression(), "fixture must regress");
    let html = compare_html::render(&c, &a, &b).unwrap();
    let deltas = section(&html, "deltas");
    assert_eq!(deltas.matches("<tr class=").count(), c.rows.len());
    for r in &c.rows {
        let cells = format!(
            "<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"verdict\">{}</td>",
            html_escaped(&value(r.metric, r.baseline)),
            html_escaped(&value(r.metric, r.candidate)),
            html_escaped(&change(r)),
            r.verdict
        );
        assert!(deltas.contains(&cells), "{r:?}\n{cells}\n{deltas}");
    }
    let regressions = c
        .rows
        .iter()
        .filter(|r| r.verdict == Verdict::Regression)
        .count();
    assert!(regressions >= 2, "p95 of both flows");
    assert_eq!(
        deltas.matches("<tr class=\"regression\">").count(),
        regressions
    );
    let summary = section(&html, "summary");
    assert!(summary.contains("class=\"headline regression\">REGRESSION in login p95, validate p95"));
    assert!(section(&html, "method").contains("Hodges–Lehmann"));
    // Two charts per flow: spectra overlaid, p95 over time; both sides in each legend.
    let charts = section(&html, "charts");
    assert_eq!(charts.matches("<svg").count(), 4);
    assert_eq!(charts.matches("class=\"spectrum\"").count(), 2);
    assert!(charts.contains("baseline p95") && charts.contains("candidate p95"));
    assert!(!html.contains("<script"), "no JavaScript");
    assert!(html.contains("Content-Security-Policy"));
}

#[test]
fn single_runs_carry_the_label_and_inconclusive_is_grey() {
    let flows = ["validate"];
    let a = side(1.0, 1..2, &flows, "http://127.0.0.1:1");
    let b = side(1.0, 2..3, &flows, "http://127.0.0.1:1");
    let c = compare(&a, &b, &Options::default()).unwrap();
    let html = compare_html::render(&c, &a, &b).unwrap();
    assert!(section(&html, "summary")
        .contains(&format!("<div class=\"label\">{SINGLE_RUN_LABEL}</div>")));
    assert!(section(&html, "method").contains(SINGLE_RUN_LABEL));
    // Two runs per side: too few, every row inconclusive, headline grey.
    let a = side(1.0, 1..3, &flows, "http://127.0.0.1:1");
    let b = side(1.3, 3..5, &flows, "http://127.0.0.1:1");
    let c = compare(&a, &b, &Options::default()).unwrap();
    let html = compare_html::render(&c, &a, &b).unwrap();
    assert_eq!(
        section(&html, "deltas")
            .matches("<tr class=\"inconclusive\">")
            .count(),
        c.rows.len()
    );
    assert!(html.contains("class=\"headline inconclusive\""));
}

fn parsed(xml: &str) -> roxmltree::Document<'_> {
    roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("{e}\n{xml}"))
}

#[test]
fn junit_has_one_case_per_gated_row() {
    let (c, a, b) = regression_case();
    let xml = compare_junit::render(&c, &a, &b).unwrap();
    let doc = parsed(&xml);
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    let gated: Vec<_> = c.rows.iter().filter(|r| r.gated).collect();
    assert_eq!(cases.len(), gated.len());
    for (case, r) in cases.iter().zip(&gated) {
        assert_eq!(case.attribute("classname"), Some(r.flow.as_str()));
        assert_eq!(
            case.attribute("name"),
            Some(format!("{} {}", r.flow, r.metric.name()).as_str())
        );
        let failure = case.children().find(|n| n.has_tag_name("failure"));
        assert_eq!(failure.is_some(), r.verdict == Verdict::Regression, "{r:?}");
        if let Some(f) = failure {
            let message = f.attribute("message").unwrap();
            assert!(message.contains(&change(r)), "{message}");
            assert!(message.contains(&value(r.metric, r.candidate)));
        }
    }
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    let regressions = gated
        .iter()
        .filter(|r| r.verdict == Verdict::Regression)
        .count();
    assert_eq!(
        suite.attribute("tests"),
        Some(gated.len().to_string().as_str())
    );
    assert_eq!(
        suite.attribute("failures"),
        Some(regressions.to_string().as_str())
    );

    // Too few runs: every gated case skipped, none failed.
    let flows = ["validate"];
    let (a, b) = (
        side(1.0, 1..3, &flows, "http://127.0.0.1:1"),
        side(1.3, 3..5, &flows, "http://127.0.0.1:1"),
    );
    let c = compare(&a, &b, &Options::default()).unwrap();
    let xml = compare_junit::render(&c, &a, &b).unwrap();
    let doc = parsed(&xml);
    let skipped = doc
        .descendants()
        .filter(|n| n.has_tag_name("skipped"))
        .count();
    assert_eq!(skipped, c.rows.iter().filter(|r| r.gated).count());
    assert_eq!(
        doc.descendants()
            .filter(|n| n.has_tag_name("failure"))
            .count(),
        0
    );
}

#[test]
fn hostile_flow_names_hosts_and_reasons_are_escaped() {
    let flows = [HOSTILE_FLOW, "validate"];
    let a = side(1.0, 0..3, &flows, HOSTILE_HOST);
    let mut b = side(1.3, 10..13, &flows, HOSTILE_HOST);
    b[1].outcome.partial = true;
    b[1].outcome.reason = Some("<script>alert('reason')</script>".into());
    let c = compare(&a, &b, &Options::default()).unwrap();
    assert_eq!(c.invalid.len(), 1);
    let html = compare_html::render(&c, &a, &b).unwrap();
    for raw in [HOSTILE_FLOW, HOSTILE_HOST, "<script", "<img"] {
        assert!(!html.contains(raw), "HTML: {raw}");
    }
    assert!(html.contains(&html_escaped(HOSTILE_FLOW)));
    assert!(section(&html, "runs").contains(&html_escaped(HOSTILE_HOST)));
    assert!(section(&html, "summary").contains(&html_escaped("<script>alert('reason')</script>")));
    assert!(html.contains("class=\"headline inconclusive\""));

    let xml = compare_junit::render(&c, &a, &b).unwrap();
    for raw in [HOSTILE_FLOW, HOSTILE_HOST, "<script"] {
        assert!(!xml.contains(raw), "XML: {raw}");
    }
    let doc = parsed(&xml);
    let case = doc
        .descendants()
        .find(|n| n.has_tag_name("testcase"))
        .unwrap();
    assert_eq!(
        case.attribute("classname"),
        Some(HOSTILE_FLOW),
        "round-trips"
    );
    let host = doc
        .descendants()
        .find(|n| n.attribute("name") == Some("baseline_hosts"))
        .unwrap();
    assert_eq!(host.attribute("value"), Some(HOSTILE_HOST));
    let skipped = doc
        .descendants()
        .find(|n| n.has_tag_name("skipped"))
        .unwrap();
    assert!(skipped
        .attribute("message")
        .unwrap()
        .contains("<script>alert('reason')</script>"));
}

fn save_all(runs: &[RunRecord], dir: &Path) {
    for (i, r) in runs.iter().enumerate() {
        let d = dir.join(format!("{i}"));
        std::fs::create_dir_all(&d).unwrap();
        r.save(&d).unwrap();
    }
}

#[test]
fn cli_compare_writes_html_and_junit_and_exits_1_on_regression() {
    let dir = tempfile::tempdir().unwrap();
    let (base, cand) = (dir.path().join("base"), dir.path().join("cand"));
    let flows = ["login", "validate"];
    save_all(&side(1.0, 0..5, &flows, "http://127.0.0.1:1"), &base);
    save_all(&side(1.3, 10..15, &flows, "http://127.0.0.1:2"), &cand);
    let (html, junit) = (dir.path().join("c.html"), dir.path().join("c.xml"));
    let out = loadtest([
        "compare",
        "--baseline",
        base.to_str().unwrap(),
        "--candidate",
        cand.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(&format!("wrote {}", html.display())));
    assert!(stdout.contains(&format!("wrote {}", junit.display())));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("class=\"headline regression\""));
    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = parsed(&xml);
    assert_eq!(
        doc.descendants()
            .filter(|n| n.has_tag_name("testcase"))
            .count(),
        4,
        "p95 and error rate of two flows"
    );
    assert!(!dir.path().join("c.html.partial").exists());

    // No regression: exit 0, files still written.
    let out = loadtest([
        "compare",
        &base.join("0").display().to_string(),
        &base.join("1").display().to_string(),
        "--html",
        html.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::read_to_string(&html)
        .unwrap()
        .contains(SINGLE_RUN_LABEL));
}

/// `--html/--md/--junit` into folders that do not exist yet: they are created. When one output
/// cannot be written (its "folder" is a file), nothing new is left behind, folders included.
#[test]
fn cli_compare_creates_missing_output_folders() {
    let dir = tempfile::tempdir().unwrap();
    let (base, cand) = (dir.path().join("base"), dir.path().join("cand"));
    let flows = ["login", "validate"];
    save_all(&side(1.0, 0..3, &flows, "http://127.0.0.1:1"), &base);
    save_all(&side(1.0, 10..13, &flows, "http://127.0.0.1:2"), &cand);
    let deep = dir.path().join("new/a/b");
    let (html, md, junit) = (
        deep.join("c.html"),
        dir.path().join("new/md/c.md"),
        dir.path().join("other/c.xml"),
    );
    let args = |html: &Path, md: &Path, junit: &Path| {
        vec![
            "compare".to_string(),
            "--baseline".into(),
            base.display().to_string(),
            "--candidate".into(),
            cand.display().to_string(),
            "--html".into(),
            html.display().to_string(),
            "--md".into(),
            md.display().to_string(),
            "--junit".into(),
            junit.display().to_string(),
        ]
    };
    let a = args(&html, &md, &junit);
    let out = loadtest(a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for p in [&html, &md, &junit] {
        assert!(std::fs::metadata(p).unwrap().len() > 0, "{}", p.display());
    }

    // A "folder" that is a file: exit 2 naming it, and the folders made for the other outputs
    // of this call are removed again.
    let blocker = dir.path().join("blocker");
    std::fs::write(&blocker, "not a folder").unwrap();
    let (html2, junit2) = (dir.path().join("fresh/x/c.html"), blocker.join("c.xml"));
    let md2 = dir.path().join("fresh/y/c.md");
    let a = args(&html2, &md2, &junit2);
    let out = loadtest(a.iter().map(String::as_str).collect::<Vec<_>>());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("blocker"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(!dir.path().join("fresh").exists(), "folders left behind");
}
