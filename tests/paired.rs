//! `loadtest ab --paired` end to end with the real binary against real reference APIs
//! (issue 19): one run drives both hosts at the same time. +10 ms of injected latency on the
//! candidate is a regression whose interval excludes zero; two identical servers are not.
//! Both runs are short (8 users, 17 s each: 7 blocks of 2 s in the steady state, the fewest
//! for a verdict is 6) and take turns (one lock).

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Mutex;

use loadtest::record::RunRecord;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const PROFILES: &str = r#"
[profiles.validate]
description = "validation-heavy, 8 users"
stages = [{ users = 8, ramp = "1s", hold = "16s", phase = "hold" }]
weights = { validate = 100, login = 0, refresh = 0, logout = 0 }
"#;

fn ab_paired(dir: &Path, baseline: &str, candidate: &str) -> Output {
    let profiles = dir.join("profiles.toml");
    std::fs::write(&profiles, PROFILES).unwrap();
    let out = dir.join("ab");
    Command::new(env!("CARGO_BIN_EXE_loadtest"))
        .args(["ab", "validate", "--paired", "--quiet", "--no-abort"])
        .args(["--profiles", profiles.to_str().unwrap()])
        .args(["--baseline-host", baseline, "--candidate-host", candidate])
        .args(["--out", out.to_str().unwrap()])
        .args(["--json", dir.join("c.json").to_str().unwrap()])
        .current_dir(dir)
        .output()
        .expect("run loadtest ab --paired")
}

fn text(o: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn validate_p95(dir: &Path) -> serde_json::Value {
    let c: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("c.json")).unwrap()).unwrap();
    assert_eq!(c["method"], "paired", "{c}");
    // 17 s: 8 users ramp 1 s; the steady state (t = 2..17) holds 7 or 8 blocks of 2 s.
    assert!(c["paired"]["blocks"].as_u64().unwrap() >= 6, "{c}");
    c["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["flow"] == "validate" && r["metric"] == "p95")
        .unwrap()
        .clone()
}

#[test]
fn ten_ms_more_is_a_regression_with_an_interval_above_zero() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (mut fast, fast_url) = common::serve_child("127.0.0.1:0", &[]);
    let (mut slow, slow_url) = common::serve_child("127.0.0.1:0", &["--inject-latency", "10ms"]);
    let tmp = tempfile::tempdir().unwrap();
    let o = ab_paired(tmp.path(), &fast_url, &slow_url);
    let _ = (fast.kill(), slow.kill());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let row = validate_p95(tmp.path());
    assert_eq!(row["verdict"], "regression", "{row}");
    assert!(row["low"].as_f64().unwrap() > 0.0, "{row}");
    // Both sides' records, written where `ab` writes them, one per host, same run.
    let side = |s: &str| RunRecord::load(&tmp.path().join("ab").join(s).join("run.json")).unwrap();
    let (a, b) = (side("baseline"), side("candidate"));
    assert_eq!(a.meta.host, fast_url);
    assert_eq!(b.meta.host, slow_url);
    assert_eq!(a.meta.paired.as_deref(), Some("baseline"));
    assert_eq!(b.meta.paired.as_deref(), Some("candidate"));
    assert_eq!(a.meta.run_id, b.meta.run_id);
    // Every virtual user alternated: both sides got (nearly) the same number of validations.
    let n = |r: &RunRecord| r.flow("validate").unwrap().requests as f64;
    assert!(
        (n(&a) - n(&b)).abs() <= 0.05 * n(&a).max(n(&b)),
        "{} vs {}",
        n(&a),
        n(&b)
    );
    // The candidate's latencies include the injected 10 ms; the baseline's do not.
    assert!(b.flow("validate").unwrap().summary.p50 >= 10.0);
    assert!(a.flow("validate").unwrap().summary.p50 < 10.0);
    // The comparison outputs name the method and show the blocks.
    let md = std::fs::read_to_string(tmp.path().join("ab/compare.md")).unwrap();
    assert!(md.contains("Paired, concurrent measurement"), "{md}");
    assert!(md.contains("validate p95 ratio"), "{md}");
    let html = std::fs::read_to_string(tmp.path().join("ab/compare.html")).unwrap();
    assert!(html.contains(r#"id="blocks""#));
    let junit = std::fs::read_to_string(tmp.path().join("ab/compare-junit.xml")).unwrap();
    assert!(junit.contains("paired"), "{junit}");
}

#[test]
fn two_identical_servers_are_no_regression() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (mut one, one_url) = common::serve_child("127.0.0.1:0", &["--inject-latency", "10ms"]);
    let (mut two, two_url) = common::serve_child("127.0.0.1:0", &["--inject-latency", "10ms"]);
    let tmp = tempfile::tempdir().unwrap();
    let o = ab_paired(tmp.path(), &one_url, &two_url);
    let _ = (one.kill(), two.kill());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let row = validate_p95(tmp.path());
    assert_ne!(row["verdict"], "regression", "{row}");
}

#[test]
fn paired_refuses_runs_and_open_model_profiles() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_loadtest"))
            .args(["ab", "load", "--paired"])
            .args(["--baseline-host", "http://127.0.0.1:9", "--candidate-host"])
            .args(["http://127.0.0.1:9"])
            .args(extra)
            .current_dir(tmp.path())
            .output()
            .unwrap()
    };
    let o = run(&["--runs", "3"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--runs does not apply"));
    let o = run(&["--rate", "50/s"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("closed-model"));
}
