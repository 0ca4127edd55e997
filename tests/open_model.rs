//! Open-model rate runs, capacity search and the token-lifecycle security check, end to end.

mod common;
use common::loadtest;

use std::process::Output;

use loadtest::record::RunRecord;
use loadtest::reference_api::cache::CacheConfig;
use loadtest::reference_api::{start, TargetConfig};

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

const PROFILES: &str = r#"
[profiles.paced]
description = "validation at a fixed rate"
stages = [{ rate = "100/s", ramp = "0s", hold = "3s", phase = "hold" }]
weights = { validate = 100, login = 0, refresh = 0, logout = 0 }
"#;

#[test]
fn a_rate_run_sends_its_scheduled_count() {
    let tmp = tempfile::tempdir().unwrap();
    let profiles = tmp.path().join("p.toml");
    std::fs::write(&profiles, PROFILES).unwrap();
    let out = tmp.path().join("rate");
    let o = loadtest(args(&[
        "run",
        "paced",
        "--quiet",
        "--profiles",
        profiles.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = RunRecord::load(&out.join("run.json")).unwrap();
    let rate = r.meta.rate.as_ref().expect("rate stats recorded");
    assert_eq!(rate.scheduled, 300);
    assert_eq!(rate.sent + rate.dropped, rate.scheduled);
    assert!(rate.sent >= 297, "sent {}", rate.sent);
    let validate = r.flow("validate").unwrap();
    // Every paced arrival is one validate request (no re-logins: the token stays valid).
    assert_eq!(validate.requests, rate.sent);
    assert!((rate.achieved_rps - 100.0).abs() < 3.0, "{rate:?}");
    assert_eq!(r.phases.len(), 1);
    assert!(
        r.phases[0].start_s < 3.5,
        "the clock starts when the pool is ready: {:?}",
        r.phases
    );
}

#[test]
fn capacity_writes_its_steps_and_chart() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("cap");
    let o = loadtest(args(&[
        "capacity",
        "--threshold",
        "p95<2s",
        "--start",
        "50/s",
        "--max",
        "100/s",
        "--step-duration",
        "2s",
        "--bisect",
        "1",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let cap: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("capacity.json")).unwrap()).unwrap();
    let steps = cap["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "50/s then 100/s (the maximum)");
    assert_eq!(cap["highest_held"], 100.0);
    assert!(steps.iter().all(|s| s["held"] == true));
    let html = std::fs::read_to_string(out.join("capacity.html")).unwrap();
    assert!(html.contains("<svg"));
    let bad = loadtest(args(&["capacity", "--quiet"]));
    assert_eq!(bad.status.code(), Some(2), "a rule is required");
}

async fn lifecycle_findings(skip_invalidation: bool) -> (Option<i32>, RunRecord) {
    let target = start(TargetConfig {
        cache: CacheConfig {
            skip_invalidation,
            ..CacheConfig::default()
        },
        ..TargetConfig::default()
    })
    .await
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("life");
    let a = args(&[
        "run",
        "lifecycle",
        "--users",
        "4",
        "--ramp",
        "1s",
        "--duration",
        "3s",
        "--quiet",
        "--no-abort",
        "--host",
        &target.url,
        "--out",
        out.to_str().unwrap(),
    ]);
    let o = tokio::task::spawn_blocking(move || loadtest(&a))
        .await
        .unwrap();
    target.shutdown().await;
    let r = RunRecord::load(&out.join("run.json"))
        .unwrap_or_else(|e| panic!("{}: {}", e.message, stderr(&o)));
    (o.status.code(), r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_that_is_not_invalidated_on_logout_is_a_security_finding() {
    let (code, r) = lifecycle_findings(true).await;
    let reuse = r.flow("logout-reuse").expect("reuse checks ran");
    assert!(reuse.requests > 0);
    assert!(
        reuse.class_count("security-finding") > 0,
        "{:?}",
        reuse.errors
    );
    assert_eq!(code, Some(1));
    assert!(r
        .outcome
        .reason
        .as_deref()
        .unwrap()
        .contains("SECURITY FINDING"));

    let (code, r) = lifecycle_findings(false).await;
    let reuse = r.flow("logout-reuse").unwrap();
    assert!(reuse.requests > 0);
    assert_eq!(
        reuse.class_count("security-finding"),
        0,
        "{:?}",
        reuse.errors
    );
    assert_eq!(reuse.failed, 0, "every reuse was rejected");
    assert_eq!(code, Some(0), "{:?}", r.outcome);
}
