//! `loadtest serve` as a user runs it: starts, answers, stops on SIGTERM; bad input exits 2,
//! an unreachable database exits 3 — one line on stderr, no panic.

use std::process::Command;
use std::time::Duration;

mod common;

fn serve(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_loadtest"))
        .arg("serve")
        .args(args)
        .output()
        .expect("run loadtest serve")
}

fn assert_one_line(o: &std::process::Output, code: i32, want: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    assert_eq!(err.trim().lines().count(), 1, "not one line: {err}");
    assert!(err.contains(want), "want {want:?} in {err}");
    assert!(!err.contains("panicked"));
}

#[test]
fn invalid_flags_exit_2() {
    assert_one_line(&serve(&["--mode", "fastest"]), 2, "invalid value 'fastest'");
    assert_one_line(&serve(&["--bind", "localhost"]), 2, "--bind");
    assert_one_line(&serve(&["--stall", "10s/1s"]), 2, "shorter than the period");
    assert_one_line(&serve(&["--inject-error-rate", "2"]), 2, "between 0 and 1");
    assert_one_line(&serve(&["--inject-latency", "10"]), 2, "needs a unit");
    assert_one_line(
        &serve(&["--hash-cost", "m=1,t=1,p=1"]),
        2,
        "invalid argon2 parameters",
    );
    assert_one_line(
        &serve(&["--bind", "127.0.0.1:0", "--database-url", "mysql://x"]),
        2,
        "unsupported database URL",
    );
}

#[test]
fn port_in_use_exits_2() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    assert_one_line(&serve(&["--bind", &addr]), 2, "cannot listen on");
}

#[test]
fn unreachable_database_exits_3() {
    let o = serve(&[
        "--bind",
        "127.0.0.1:0",
        "--database-url",
        "postgres://nobody@127.0.0.1:1/none",
    ]);
    assert_one_line(
        &o,
        3,
        "database unreachable (postgres://nobody@127.0.0.1:1/none)",
    );
    let o = serve(&[
        "--bind",
        "127.0.0.1:0",
        "--redis-url",
        "redis://127.0.0.1:1",
    ]);
    assert_one_line(&o, 3, "redis unreachable");
}

#[test]
fn serves_until_sigterm_then_exits_0() {
    let (mut child, url) = common::serve_child("127.0.0.1:0", &["--seed-users", "50"]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let health: serde_json::Value = rt.block_on(async {
        reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .get(format!("{url}/health"))
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    assert_eq!(health["mode"], "optimized");
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}
