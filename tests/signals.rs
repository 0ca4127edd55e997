//! Interrupts through the real binary: a SIGINT against a hanging target stops promptly with
//! the in-flight requests cancelled (not counted as target errors); a second SIGINT exits at
//! once with 130 and still leaves a loadable run.json and no temporary database; `capacity`
//! and `ab` stop on SIGINT with 130. Also: a run holds its
//! output folder (lock file) so a concurrent run with the same `--out` is refused.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use loadtest::record::RunRecord;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_loadtest"))
}

fn kill(child: &Child, signal: &str) {
    let ok = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// Reads the child's stderr until a line satisfies `until` (bounded: the child's own run is
/// bounded in time); the rest is drained in the background.
fn wait_for_line(child: &mut Child, until: impl Fn(&str) -> bool) -> String {
    let stderr = child.stderr.take().expect("stderr piped");
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if until(&line) {
            std::thread::spawn(move || for _ in lines {});
            return seen;
        }
    }
    panic!("the child ended before the expected line; stderr:\n{seen}");
}

/// A target whose validate never answers; `hanging` counts requests held.
fn hanging_app(hanging: Arc<AtomicU64>) -> Router {
    Router::new()
        .route(
            "/api/v1/auth/signup",
            post(|| async { StatusCode::CREATED }),
        )
        .route(
            "/api/v1/auth/login",
            post(|| async { (StatusCode::OK, "{\"access_token\":\"tok-hang-1234\"}") }),
        )
        .route(
            "/api/v1/auth/me",
            get(move || {
                let hanging = hanging.clone();
                async move {
                    hanging.fetch_add(1, Ordering::SeqCst);
                    std::future::pending::<StatusCode>().await
                }
            }),
        )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_against_a_hanging_target_stops_promptly() {
    let hanging = Arc::new(AtomicU64::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = hanging_app(hanging.clone());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("hang");
    let mut run = bin()
        .args([
            "run",
            "load",
            "--users",
            "3",
            "--ramp",
            "1s",
            "--duration",
            "60s",
        ])
        .args(["--timeout", "30s", "--quiet", "--no-abort", "--host", &url])
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Synchronise on the target itself: every user is stuck in a validate.
    let deadline = Instant::now() + Duration::from_secs(30);
    while hanging.load(Ordering::SeqCst) < 3 {
        assert!(
            Instant::now() < deadline,
            "the users never reached validate"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sent = Instant::now();
    kill(&run, "-INT");
    let status = tokio::task::spawn_blocking(move || run.wait().unwrap())
        .await
        .unwrap();
    let took = sent.elapsed();
    server.abort();
    println!("SIGINT against a hanging target: exited after {took:?}");
    assert_eq!(status.code(), Some(130));
    // Generous bound: the goal is 2 s, measured and printed above; 30 s is the timeout.
    assert!(took < Duration::from_secs(10), "stopped after {took:?}");
    let r = RunRecord::load(&out.join("run.json")).expect("a loadable run.json");
    assert!(r.outcome.partial);
    let reason = r.outcome.reason.clone().unwrap_or_default();
    assert!(
        reason.contains("in-flight request(s) cancelled"),
        "{reason}"
    );
    let v = r.flow("validate").unwrap();
    assert_eq!(
        v.failed, 0,
        "cancelled requests are not target errors: {:?}",
        v.errors
    );
    assert!(out.join("report.html").exists());
}

fn temp_databases(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with("loadtest-target-"))
        .collect()
}

#[test]
fn a_second_sigint_exits_at_once_with_a_loadable_record_and_no_temp_database() {
    let tmp = tempfile::tempdir().unwrap();
    let tmpdir = tmp.path().join("tmpdir");
    std::fs::create_dir_all(&tmpdir).unwrap();
    let out = tmp.path().join("double");
    let mut run = bin()
        .args([
            "run",
            "load",
            "--users",
            "4",
            "--ramp",
            "1s",
            "--duration",
            "60s",
        ])
        .args(["--no-abort", "--out"])
        .arg(&out)
        .env("TMPDIR", &tmpdir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first progress line: the attack is running (and its temp database exists).
    wait_for_line(&mut run, |l| l.starts_with('['));
    assert!(
        !temp_databases(&tmpdir).is_empty(),
        "the embedded target's database"
    );
    kill(&run, "-INT");
    kill(&run, "-INT");
    let status = run.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let r = RunRecord::load(&out.join("run.json")).expect("a loadable run.json");
    assert!(r.outcome.partial);
    assert!(r.flow("validate").unwrap().requests > 0);
    assert_eq!(
        temp_databases(&tmpdir),
        Vec::<String>::new(),
        "temporary database left behind"
    );
}

#[test]
fn capacity_and_ab_stop_on_sigint_with_130() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut server, url) = serve_child();
    let mut cases: Vec<Vec<String>> = vec![[
        "capacity",
        "--flow",
        "validate",
        "--threshold",
        "p95<5s",
        "--start",
        "20/s",
        "--max",
        "40000/s",
        "--step-duration",
        "30s",
        "--host",
        &url,
        "--out",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([tmp.path().join("cap").display().to_string()])
    .collect()];
    cases.push(
        [
            "ab",
            "smoke",
            "--runs",
            "3",
            "--baseline-host",
            &url,
            "--candidate-host",
            &url,
            "--duration",
            "30s",
            "--out",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([tmp.path().join("ab").display().to_string()])
        .collect(),
    );
    for args in cases {
        let mut child = bin()
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The first step / pair has started.
        wait_for_line(&mut child, |l| {
            l.starts_with("capacity: step 1") || l.starts_with("ab: pair 1")
        });
        kill(&child, "-INT");
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(130), "{}", args[0]);
    }
    server.kill().unwrap();
}

fn serve_child() -> (Child, String) {
    let mut child = bin()
        .args(["serve", "--bind", "127.0.0.1:0", "--hash-cost", "fast"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    (child, url)
}

#[test]
fn a_second_run_on_the_same_out_is_refused_while_the_first_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut server, url) = serve_child();
    let out = tmp.path().join("shared");
    let mut first = bin()
        .args([
            "run",
            "load",
            "--users",
            "2",
            "--ramp",
            "1s",
            "--duration",
            "60s",
        ])
        .args(["--no-abort", "--host", &url, "--out"])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first progress line: the first run holds the folder.
    wait_for_line(&mut first, |l| l.starts_with('['));
    let started = Instant::now();
    let second = bin()
        .args(["run", "load", "--users", "2", "--duration", "5s", "--quiet"])
        .args(["--host", &url, "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&second.stderr).to_string();
    kill(&first, "-INT");
    let status = first.wait().unwrap();
    server.kill().unwrap();
    println!("second run on the same --out refused after {took:?}");
    assert_eq!(second.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("in use by another run"), "{stderr}");
    assert_eq!(status.code(), Some(130));
    RunRecord::load(&out.join("run.json")).expect("the first run's record is intact");
    assert!(
        !out.join(loadtest::record::LOCK_FILE).exists(),
        "the lock is released"
    );
}

/// A long seed (`serve --seed-users`) stops on the first SIGINT between batches, exits 130
/// and leaves no temporary database; it never starts listening.
#[test]
fn sigint_stops_a_long_seed_with_130_and_no_temp_database() {
    let tmp = tempfile::tempdir().unwrap();
    let mut serve = bin()
        .args(["serve", "--bind", "127.0.0.1:0", "--hash-cost", "fast"])
        .args([
            "--seed-users",
            &loadtest::limits::MAX_SEED_USERS.to_string(),
        ])
        .env("TMPDIR", tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_line(&mut serve, |l| l.starts_with("seeding"));
    kill(&serve, "-INT");
    let out = serve.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("listening"), "{stdout}");
    assert_eq!(
        temp_databases(tmp.path()),
        Vec::<String>::new(),
        "temporary database left behind"
    );
}
