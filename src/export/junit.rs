//! JUnit XML: one `<testsuite>` per run (`loadtest <profile>`), one `<testcase>` per threshold
//! rule (classname = the rule's flow scope, name = the rule text), a `<failure>` with
//! "observed vs limit" for each failed rule. An invalid run (one that could not be judged)
//! adds one `run` test case with an `<error>`, so CI never shows it green; a run that never
//! started (target unreachable: exit 3, no run.json) gets a suite of that one errored case
//! ([`unjudged`]). Every case's `time` is the run's duration: each rule judges the whole run.
//!
//! The shape follows the JUnit XML schema Jenkins publishes (`junit-10.xsd`), which GitLab,
//! GitHub test reporters and Azure read: `testsuites > testsuite > properties, testcase*,
//! system-out, system-err`. Text is written through a minijinja template whose auto-escape
//! is [`xml_escape`], so no value reaches the file unescaped.

use minijinja::{AutoEscape, Environment, Error, Output, State, Value};
use serde::Serialize;

use super::{ExportError, Exporter};
use crate::console;
use crate::record::RunRecord;
use crate::text::sanitize;

pub struct JunitExporter;

const TEMPLATE: &str = include_str!("junit.xml.jinja");

/// Escapes text for XML 1.0 content and attribute values: the five markup characters become
/// entities, tab / newline / carriage return become character references (so attribute
/// values keep them), and characters XML 1.0 cannot carry at all (other C0 controls,
/// U+FFFE, U+FFFF) become U+FFFD.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// The template formatter: every printed value goes through [`xml_escape`].
pub(crate) fn xml_formatter(out: &mut Output, _state: &State, value: &Value) -> Result<(), Error> {
    let text = if value.is_undefined() || value.is_none() {
        String::new()
    } else {
        value.to_string()
    };
    out.write_str(&xml_escape(&text))?;
    Ok(())
}

#[derive(Serialize)]
struct Case {
    classname: String,
    name: String,
    failure: Option<String>,
    error: Option<String>,
    detail: String,
}

#[derive(Serialize)]
struct Suite {
    name: String,
    tests: usize,
    failures: usize,
    errors: usize,
    time: String,
    timestamp: Option<String>,
    properties: Vec<(&'static str, String)>,
    cases: Vec<Case>,
    system_out: String,
}

/// `2026-11-22T10:00:00` (UTC, no zone: the form the schema's timestamp pattern takes).
fn timestamp(rfc3339: &str) -> Option<String> {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .ok()?
        .to_offset(time::UtcOffset::UTC);
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    ))
}

fn suite(r: &RunRecord) -> Suite {
    let mut cases: Vec<Case> = super::threshold_rows(r)
        .into_iter()
        .map(|t| Case {
            failure: (!t.passed).then(|| {
                t.reason
                    .clone()
                    .unwrap_or_else(|| format!("observed {} vs limit {}", t.observed, t.limit))
            }),
            error: None,
            detail: format!(
                "rule: {}\nobserved: {}\nlimit: {}\n",
                t.rule, t.observed, t.limit
            ),
            classname: t.scope,
            name: t.rule,
        })
        .collect();
    if r.outcome.verdict == crate::record::RunVerdict::Invalid {
        let why = r
            .outcome
            .reason
            .clone()
            .unwrap_or_else(|| "the run could not be judged".into());
        cases.push(Case {
            classname: "run".into(),
            name: "run could be judged".into(),
            failure: None,
            error: Some(why.clone()),
            detail: why,
        });
    }
    let m = &r.meta;
    let properties = vec![
        ("profile", m.profile.clone()),
        ("host", m.host.clone()),
        ("contract", m.contract.clone()),
        ("run_id", m.run_id.clone()),
        ("tool_version", m.tool_version.clone()),
        ("verdict", r.outcome.verdict.to_string()),
        ("partial", r.outcome.partial.to_string()),
        ("max_users", m.max_users.to_string()),
        ("duration_s", format!("{:.3}", m.duration_s)),
        (
            "embedded_target",
            m.embedded_target.clone().unwrap_or_default(),
        ),
    ];
    Suite {
        name: format!("loadtest {}", m.profile),
        tests: cases.len(),
        failures: cases.iter().filter(|c| c.failure.is_some()).count(),
        errors: cases.iter().filter(|c| c.error.is_some()).count(),
        time: format!("{:.3}", m.duration_s.max(0.0)),
        timestamp: timestamp(&m.started_at),
        properties,
        cases,
        system_out: system_out(r),
    }
}

/// JUnit for a run that could not even start (exit 3 before any load, e.g. the target is
/// unreachable): one `run` test case with an `<error>` carrying `reason`, so CI shows an error
/// instead of "no test results".
pub fn unjudged(
    profile: &str,
    host: &str,
    run_id: &str,
    reason: &str,
) -> Result<String, ExportError> {
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let reason = sanitize(reason, 2000);
    let suite = Suite {
        name: format!("loadtest {profile}"),
        tests: 1,
        failures: 0,
        errors: 1,
        time: "0.000".into(),
        timestamp: timestamp(&now),
        properties: vec![
            ("profile", profile.to_string()),
            ("host", host.to_string()),
            ("run_id", run_id.to_string()),
            ("tool_version", env!("CARGO_PKG_VERSION").to_string()),
            ("verdict", "invalid".into()),
        ],
        cases: vec![Case {
            classname: "run".into(),
            name: "run could be judged".into(),
            failure: None,
            error: Some(reason.clone()),
            detail: reason.clone(),
        }],
        system_out: format!("could not be judged: {reason}\n"),
    };
    render_suite(&suite)
}

fn render_suite(suite: &Suite) -> Result<String, ExportError> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::Custom("xml"));
    env.set_formatter(xml_formatter);
    let template_error = |e: Error| ExportError::Template(e.to_string());
    env.add_template("junit.xml", TEMPLATE)
        .map_err(template_error)?;
    env.get_template("junit.xml")
        .and_then(|t| t.render(minijinja::context! { suite => suite }))
        .map_err(template_error)
}

/// Verdict line, flow table and the flows' error samples, as plain text.
fn system_out(r: &RunRecord) -> String {
    let mut out = format!("{}\n\n{}", console::verdict_line(r), console::flow_table(r));
    for f in r.flows.iter().filter(|f| !f.error_samples.is_empty()) {
        out.push_str(&format!("\nerror samples of {}:\n", sanitize(&f.name, 60)));
        for sample in &f.error_samples {
            out.push_str(&format!("  {}\n", sanitize(sample, 300)));
        }
    }
    out
}

impl Exporter for JunitExporter {
    fn name(&self) -> &'static str {
        "junit"
    }

    fn file_name(&self) -> &'static str {
        "junit.xml"
    }

    fn render(&self, record: &RunRecord) -> Result<String, ExportError> {
        render_suite(&suite(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::sample::{fixture, HOSTILE_HOST, HOSTILE_SAMPLES};

    #[test]
    fn escapes_everything_xml_cannot_carry() {
        assert_eq!(
            xml_escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;"
        );
        assert_eq!(xml_escape("a\tb\nc\rd"), "a&#9;b&#10;c&#13;d");
        assert_eq!(
            xml_escape("\u{0}\u{1b}[31m\u{FFFF}é𝄞"),
            "\u{FFFD}\u{FFFD}[31m\u{FFFD}é𝄞"
        );
    }

    fn parsed(xml: &str) -> roxmltree::Document<'_> {
        roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("{e}\n{xml}"))
    }

    #[test]
    fn one_case_per_rule_and_counts() {
        let r = fixture();
        let xml = JunitExporter.render(&r).unwrap();
        let doc = parsed(&xml);
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "testsuites");
        let suites: Vec<_> = root
            .children()
            .filter(|n| n.has_tag_name("testsuite"))
            .collect();
        assert_eq!(suites.len(), 1);
        let s = suites[0];
        assert_eq!(s.attribute("name"), Some("loadtest smoke"));
        let cases: Vec<_> = s
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        assert_eq!(cases.len(), r.thresholds.len());
        assert_eq!(cases.len(), 6);
        let failed = cases
            .iter()
            .filter(|c| c.children().any(|n| n.has_tag_name("failure")))
            .count();
        assert_eq!(failed, 3);
        assert_eq!(s.attribute("tests"), Some("6"));
        assert_eq!(s.attribute("failures"), Some("3"));
        assert_eq!(s.attribute("errors"), Some("0"));
        assert_eq!(root.attribute("tests"), Some("6"));
        assert_eq!(root.attribute("failures"), Some("3"));
        assert_eq!(s.attribute("timestamp"), Some("2026-11-22T10:00:00"));
        let first = cases[0];
        assert_eq!(first.attribute("classname"), Some("login"));
        assert_eq!(first.attribute("name"), Some("login: p95<500ms"));
        let failure = first
            .children()
            .find(|n| n.has_tag_name("failure"))
            .unwrap();
        assert_eq!(
            failure.attribute("message"),
            Some("observed 950.3 ms is not < 500ms")
        );
        assert_eq!(
            failure.text(),
            Some("rule: login: p95<500ms\nobserved: 950.3 ms\nlimit: < 500ms\n")
        );
        let host = s
            .descendants()
            .find(|n| n.has_tag_name("property") && n.attribute("name") == Some("host"))
            .unwrap();
        assert_eq!(
            host.attribute("value"),
            Some(HOSTILE_HOST),
            "parses back verbatim"
        );
    }

    #[test]
    fn hostile_text_is_escaped() {
        let xml = JunitExporter.render(&fixture()).unwrap();
        assert!(!xml.contains(HOSTILE_HOST));
        assert!(xml.contains("http://x/&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
        for raw in HOSTILE_SAMPLES {
            assert!(!xml.contains(raw), "{raw}");
        }
        assert!(
            xml.contains("  &lt;script&gt;alert(1)&lt;/script&gt;&#10;"),
            "{xml}"
        );
        assert!(
            xml.contains("&lt;img src=x onerror=&quot;document.title=&apos;pwned&apos;&quot;&gt;")
        );
        assert!(!xml.contains("<script") && !xml.contains("<img"));
        assert!(xml.contains("error samples of evil&lt;svg onload=alert(1)&gt;:"));
    }

    #[test]
    fn invalid_run_is_an_error_case() {
        let mut r = fixture();
        r.outcome.verdict = crate::record::RunVerdict::Invalid;
        r.outcome.reason = Some("generator saturated <cpu>".into());
        let xml = JunitExporter.render(&r).unwrap();
        let doc = parsed(&xml);
        let s = doc
            .descendants()
            .find(|n| n.has_tag_name("testsuite"))
            .unwrap();
        assert_eq!(s.attribute("tests"), Some("7"));
        assert_eq!(s.attribute("errors"), Some("1"));
        let error = doc.descendants().find(|n| n.has_tag_name("error")).unwrap();
        assert_eq!(
            error.attribute("message"),
            Some("generator saturated <cpu>")
        );
    }
}
