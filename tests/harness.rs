//! The harness end to end: the real `loadtest` binary, real Goose, real HTTP on loopback.

mod common;
use common::loadtest_in_tmp as loadtest;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use common::secrets::{assert_no_secret, run_outputs};
use loadtest::record::RunRecord;
use serde::Deserialize;
use serde_json::json;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn out_dir(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(name);
    (tmp, dir)
}

#[test]
fn smoke_against_the_embedded_api_writes_a_consistent_record() {
    let (_tmp, dir) = out_dir("smoke");
    let o = loadtest([
        "smoke",
        "--duration",
        "3s",
        "--quiet",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    let record = RunRecord::load(&dir.join("run.json")).unwrap();
    let names = record.flow_names();
    for flow in ["signup", "login", "validate"] {
        assert!(names.contains(&flow.to_string()), "{names:?}");
    }
    // The lean transport (the default) sends outside Goose's request path: Goose counts
    // nothing, and the counts are checked against the server's own in server_metrics.rs.
    assert!(record.meta.goose_requests.is_empty());
    for f in &record.flows {
        let h = f.hist().unwrap();
        assert_eq!(h.len(), f.requests);
        let s = &f.summary;
        assert!(
            s.p50 <= s.p90
                && s.p90 <= s.p95
                && s.p95 <= s.p99
                && s.p99 <= s.p999
                && s.p999 <= s.max,
            "{s:?}"
        );
    }
    assert_eq!(record.flow("signup").unwrap().requests, 1);
    assert!(record.flow("validate").unwrap().requests > record.flow("login").unwrap().requests);
    // The six default rules, then `each: error-rate<1%` as one line per flow with requests.
    let rules: Vec<&str> = record.thresholds.iter().map(|v| v.rule.as_str()).collect();
    assert_eq!(
        rules[..6],
        [
            "all: p95<500ms",
            "all: p99<1000ms",
            "signup: p95<1000ms",
            "login: p95<500ms",
            "validate: p95<100ms",
            "all: error-rate<1%"
        ],
        "default rules judged"
    );
    assert!(
        rules[6..].starts_with(&[
            "signup: error-rate<1%",
            "login: error-rate<1%",
            "validate: error-rate<1%"
        ]),
        "{rules:?}"
    );
    assert!(record
        .thresholds
        .iter()
        .all(|v| v.passed && v.observed.is_some()));
    assert_eq!(record.outcome.verdict, "pass");
    assert!(!record.outcome.partial);
    assert_eq!(record.meta.embedded_target.as_deref(), Some("optimized"));
    assert!(record.users_per_second.contains(&1));
    // Goose's HTML report loads its charts from a CDN: only written with --goose-report
    // (tests/secrets.rs runs with it); its JSON report always.
    assert!(dir.join("goose-report.json").exists());
    assert!(!dir.join("goose-report.html").exists());

    // No password or token in anything the run wrote or printed.
    let texts = run_outputs(&dir, &o);
    assert_no_secret(&texts, &[]);
    for (path, text) in texts {
        assert!(
            !text.contains("eyJ0eXAi") && !text.contains("eyJhbGci"),
            "{}: contains a JWT",
            path.display()
        );
    }
}

#[test]
fn an_impossible_threshold_fails_the_run_with_exit_1() {
    let (_tmp, dir) = out_dir("strict");
    let o = loadtest([
        "smoke",
        "--duration",
        "2s",
        "--quiet",
        "--no-abort",
        "--threshold",
        "validate: p95<1us",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(&o));
    let record = RunRecord::load(&dir.join("run.json")).unwrap();
    let v = record
        .thresholds
        .iter()
        .find(|v| v.rule == "validate: p95<1us")
        .unwrap();
    assert!(!v.passed);
    // The override replaced the default validate p95 rule instead of adding a second one.
    assert_eq!(
        record
            .thresholds
            .iter()
            .filter(|v| v.scope == "validate" && v.metric == "p95")
            .count(),
        1
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("FAIL"));
}

#[test]
fn a_clear_breach_aborts_early_and_marks_the_run_partial() {
    let (_tmp, dir) = out_dir("abort");
    let o = loadtest([
        "smoke",
        "--duration",
        "30s",
        "--quiet",
        "--threshold",
        "validate: p50<1us",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(&o));
    let record = RunRecord::load(&dir.join("run.json")).unwrap();
    assert!(record.outcome.partial);
    assert!(
        record
            .outcome
            .reason
            .as_deref()
            .unwrap()
            .contains("aborted early"),
        "{:?}",
        record.outcome
    );
    assert!(
        record.meta.duration_s < 20.0,
        "ran {} s of 30",
        record.meta.duration_s
    );
}

#[test]
fn an_unreachable_host_exits_3_quickly() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let t = Instant::now();
    let o = loadtest([
        "smoke",
        "--host",
        "http://127.0.0.1:9",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3), "stderr: {}", stderr(&o));
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "took {:?}",
        t.elapsed()
    );
    let err = stderr(&o);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("unreachable"), "{err}");
}

#[test]
fn bad_input_exits_2_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let bad_contract = tmp.path().join("bad.toml");
    std::fs::write(&bad_contract, "name = \"x\"\n[login]\nmethod = \"GET\"\n").unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["run", "nope"], "unknown profile 'nope'"),
        (vec!["smoke", "--threshold", "p95<500"], "needs a unit"),
        (
            vec!["smoke", "--threshold", "validate p95 fast"],
            "invalid threshold rule",
        ),
        (
            vec!["smoke", "--contract", bad_contract.to_str().unwrap()],
            "bad.toml",
        ),
        (
            vec!["smoke", "--contract", "/nonexistent/c.toml"],
            "cannot read contract",
        ),
        (
            vec!["smoke", "--host", "ftp://127.0.0.1:21"],
            "scheme must be http",
        ),
        (vec!["smoke", "--host", "not a url"], "not a URL"),
        (vec!["smoke", "--scale=-2"], "--scale"),
        (vec!["smoke", "--users", "0"], "--users"),
        (vec!["smoke", "--duration", "ten"], "duration"),
        (
            vec!["smoke", "--profiles", "/nonexistent/p.toml"],
            "cannot read profiles",
        ),
        (vec!["frobnicate"], "unrecognized subcommand"),
    ];
    for (args, want) in cases {
        let o = loadtest(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(
            err.trim().lines().count(),
            1,
            "{args:?}: not one line: {err}"
        );
        assert!(err.contains(want), "{args:?}: want {want:?} in {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn profiles_lists_the_four_builtin_profiles() {
    let o = loadtest(["profiles"]);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    for p in ["smoke", "load", "stress", "spike"] {
        assert!(out.contains(p), "{out}");
    }
    assert!(out.contains("500 users"));
}

// ----- a target with a different API shape, driven only by a contract file -----

#[derive(Default)]
struct Seen {
    users: HashSet<String>,
    tokens: HashSet<String>,
    passwords: HashSet<String>,
    login_content_types: HashSet<String>,
    auth_schemes: HashSet<String>,
    validations_ok: u64,
}

type Shared = Arc<Mutex<Seen>>;

#[derive(Deserialize)]
struct Register {
    username: String,
    email: String,
    password: String,
}

#[derive(Deserialize)]
struct TokenForm {
    username: String,
    password: String,
}

async fn register(State(s): State<Shared>, Form(f): Form<Register>) -> Response {
    let mut s = s.lock().unwrap();
    assert!(f.email.contains('@'));
    s.passwords.insert(f.password.clone());
    if !s.users.insert(f.username.clone()) {
        return StatusCode::CONFLICT.into_response();
    }
    (StatusCode::CREATED, Json(json!({"id": s.users.len()}))).into_response()
}

async fn token(State(s): State<Shared>, headers: HeaderMap, Form(f): Form<TokenForm>) -> Response {
    let mut s = s.lock().unwrap();
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    s.login_content_types.insert(ct);
    if !s.users.contains(&f.username) || !s.passwords.contains(&f.password) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let t = format!("tok{}x{}", uuid::Uuid::new_v4().simple(), f.username.len());
    s.tokens.insert(t.clone());
    Json(json!({"data": {"token": t}})).into_response()
}

async fn whoami(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let mut s = s.lock().unwrap();
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if let Some((scheme, tok)) = auth.split_once(' ') {
        s.auth_schemes.insert(scheme.to_string());
        if scheme == "JWT" && s.tokens.contains(tok) {
            s.validations_ok += 1;
            return Json(json!({"ok": true})).into_response();
        }
    }
    StatusCode::UNAUTHORIZED.into_response()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contract_file_alone_drives_a_differently_shaped_api() {
    let seen: Shared = Arc::default();
    let app = Router::new()
        .route("/accounts/register/", post(register))
        .route("/accounts/token/", post(token))
        .route("/accounts/whoami/", get(whoami))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let contract =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/contracts/form-username.toml");
    let (_tmp, dir) = out_dir("contract");
    let host = format!("http://{addr}");
    let args: Vec<String> = [
        "run",
        "load",
        "--users",
        "3",
        "--ramp",
        "1s",
        "--duration",
        "2s",
        "--quiet",
        "--host",
        host.as_str(),
        "--contract",
        contract.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
        "--threshold",
        "signup: p95<5s",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let o = tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        loadtest(&refs)
    })
    .await
    .unwrap();
    server.abort();
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    let s = seen.lock().unwrap();
    assert_eq!(s.users.len(), 3, "three unique usernames: {:?}", s.users);
    assert!(s.users.iter().all(|u| u.starts_with("lt_")));
    assert_eq!(
        s.login_content_types.iter().collect::<Vec<_>>(),
        vec!["application/x-www-form-urlencoded"]
    );
    assert_eq!(s.auth_schemes.iter().collect::<Vec<_>>(), vec!["JWT"]);
    assert!(s.validations_ok > 10, "validations {}", s.validations_ok);
    let record = RunRecord::load(&dir.join("run.json")).unwrap();
    assert_eq!(record.meta.contract, "form-username");
    assert_eq!(record.flow("validate").unwrap().failed, 0);
    assert_eq!(record.flow("validate").unwrap().requests, s.validations_ok);
    assert!(
        record.flow("refresh").is_none(),
        "the contract has no refresh endpoint"
    );
    // The secrets this server saw appear in nothing the run wrote or printed.
    let secrets: Vec<String> = s.passwords.iter().chain(s.tokens.iter()).cloned().collect();
    assert_no_secret(&run_outputs(&dir, &o), &secrets);
}
