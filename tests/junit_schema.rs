//! junit.xml and compare-junit.xml — passing, failing and unjudgeable — validate against the
//! Jenkins xunit schema (tests/fixtures/junit-10.xsd) with an independent validator (Python
//! `xmlschema`, from the checkers' venv that scripts/ci-setup.sh installs), and a run that
//! cannot reach its target (exit 3) still writes junit.xml with one errored test case.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::sample::{build, fixture, SampleFlow, SampleSecond};
use loadtest::compare::{compare, Options};
use loadtest::export::junit::JunitExporter;
use loadtest::export::{compare_junit, Exporter};
use loadtest::record::{Phase, RunRecord};
use loadtest::thresholds::Rule;

const VALIDATE: &str = "import sys, xmlschema\n\
schema = xmlschema.XMLSchema(sys.argv[1])\n\
bad = 0\n\
for f in sys.argv[2:]:\n\
\x20   errors = list(schema.iter_errors(f))\n\
\x20   for e in errors[:3]:\n\
\x20       print('INVALID', f, e.reason)\n\
\x20   if not errors:\n\
\x20       print('VALID', f)\n\
";

fn xsd() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/junit-10.xsd")
}

/// `file → valid?` for every file, as the schema validator says.
fn validate(python: &Path, files: &[PathBuf]) -> BTreeMap<String, bool> {
    let mut args = vec![xsd().display().to_string()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, out) = common::run_python(python, VALIDATE, &args);
    assert!(ok, "the validator ran:\n{out}");
    let mut verdicts = BTreeMap::new();
    for f in files {
        let f = f.display().to_string();
        let valid = out.lines().any(|l| l == format!("VALID {f}"));
        let invalid = out.lines().any(|l| l.starts_with(&format!("INVALID {f} ")));
        assert!(valid != invalid, "one verdict for {f}:\n{out}");
        verdicts.insert(f, valid);
    }
    verdicts
}

/// A run of `seconds` seconds where `validate` takes about `ms` milliseconds.
fn run(ms: f64, seed: u64, rules: &[&str]) -> RunRecord {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut rnd = move || {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    let seconds = 20u32;
    let flow = SampleFlow {
        name: "validate".into(),
        seconds: (0..seconds)
            .map(|t| SampleSecond {
                t,
                latencies_us: (0..100)
                    .map(|_| (1000.0 * ms * (1.0 + rnd())) as u64)
                    .collect(),
                errors: BTreeMap::new(),
            })
            .collect(),
        error_samples: Vec::new(),
    };
    let rules: Vec<Rule> = rules.iter().map(|r| r.parse().unwrap()).collect();
    let mut r = build(
        "load",
        "http://127.0.0.1:1",
        vec![flow],
        vec![10; seconds as usize],
        vec![Phase {
            name: "hold".into(),
            start_s: 0.0,
            end_s: f64::from(seconds),
            users_from: 10,
            users_to: 10,
        }],
        &rules,
    );
    r.meta.run_id = format!("run{seed}");
    r
}

#[test]
fn run_and_compare_junit_validate_against_junit_10_xsd() {
    let Some(python) = common::checker_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    let mut write = |name: &str, xml: String| {
        let p = dir.path().join(name);
        std::fs::write(&p, xml).unwrap();
        files.push(p);
    };

    // Runs: passing, failing (the exporters' fixture: 3 of 6 rules fail), invalid.
    let passing = run(1.0, 1, &["validate: p95<100ms", "error-rate<1%"]);
    assert_eq!(passing.outcome.verdict, "pass");
    let failing = fixture();
    assert_eq!(failing.outcome.verdict, "fail");
    let mut invalid = run(1.0, 2, &["validate: p95<100ms"]);
    invalid.outcome.verdict = loadtest::record::RunVerdict::Invalid;
    invalid.outcome.reason = Some("generator saturated <cpu> & more".into());
    for (name, r) in [
        ("pass.xml", &passing),
        ("fail.xml", &failing),
        ("invalid.xml", &invalid),
    ] {
        let xml = JunitExporter.render(r).unwrap();
        // Real times: every case carries the run's duration, not 0.
        assert!(
            xml.contains(&format!("time=\"{:.3}\"", r.meta.duration_s)),
            "{xml}"
        );
        assert!(!xml.contains("time=\"0\""), "{xml}");
        write(name, xml);
    }
    write(
        "unjudged.xml",
        loadtest::export::junit::unjudged("load", "http://127.0.0.1:1", "r1", "refused <x>")
            .unwrap(),
    );

    // Comparisons: a regression (failure), no change (pass), too few runs (skipped).
    let base: Vec<RunRecord> = (0..5).map(|s| run(1.0, s, &[])).collect();
    let slow: Vec<RunRecord> = (10..15).map(|s| run(1.5, s, &[])).collect();
    let same: Vec<RunRecord> = (20..25).map(|s| run(1.0, s, &[])).collect();
    let opts = Options::default();
    let regression = compare(&base, &slow, &opts).unwrap();
    assert!(regression.regression());
    write(
        "compare-regression.xml",
        compare_junit::render(&regression, &base, &slow).unwrap(),
    );
    let no_change = compare(&base, &same, &opts).unwrap();
    assert!(!no_change.regression());
    write(
        "compare-same.xml",
        compare_junit::render(&no_change, &base, &same).unwrap(),
    );
    let few = compare(&base[..2], &slow[..2], &opts).unwrap();
    let xml = compare_junit::render(&few, &base[..2], &slow[..2]).unwrap();
    assert!(xml.contains("<skipped"), "{xml}");
    write("compare-inconclusive.xml", xml);

    // The validator can say no: `skipped` on <testsuites> is not in junit-10.xsd.
    write(
        "not-valid.xml",
        "<testsuites skipped=\"1\"><testsuite name=\"x\" tests=\"0\" failures=\"0\" \
         errors=\"0\"/></testsuites>"
            .into(),
    );

    let verdicts = validate(&python, &files);
    for (file, valid) in &verdicts {
        assert_eq!(
            *valid,
            !file.ends_with("not-valid.xml"),
            "{file}: {verdicts:?}"
        );
    }
    assert_eq!(verdicts.len(), 8);
}

#[test]
fn an_unreachable_target_writes_junit_with_one_errored_case() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("nested/run");
    let out = Command::new(env!("CARGO_BIN_EXE_loadtest"))
        .args(["smoke", "--host", "http://127.0.0.1:9", "--quiet", "--out"])
        .arg(&out_dir)
        .output()
        .expect("run loadtest");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(!out_dir.join("run.json").exists());
    let junit = out_dir.join("junit.xml");
    let xml = std::fs::read_to_string(&junit).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 1, "{xml}");
    let error = cases[0]
        .children()
        .find(|n| n.has_tag_name("error"))
        .expect("an <error>");
    let message = error.attribute("message").unwrap();
    assert!(message.contains("127.0.0.1:9"), "the reason: {message}");
    assert!(
        stderr.lines().any(|l| l.contains(message)),
        "the same reason as on stderr: {message}\n{stderr}"
    );
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    assert_eq!(suite.attribute("errors"), Some("1"));
    assert_eq!(suite.attribute("tests"), Some("1"));

    if let Some(python) = common::checker_python() {
        let verdicts = validate(&python, &[junit]);
        assert!(verdicts.values().all(|v| *v), "{verdicts:?}");
    }
}
