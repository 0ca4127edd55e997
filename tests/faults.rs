//! Fault matrix: the harness keeps measuring while the target fails, and never loses what it
//! measured. Every case checks that the record is complete and loadable (requests = ok +
//! failed, error classes sum to failures, histograms hold every request).

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use loadtest::record::RunRecord;

mod common;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_loadtest"))
}

/// `loadtest serve` as a child on a free port; returns it and its URL.
fn serve(extra: &[&str]) -> (Child, String) {
    common::serve_child("127.0.0.1:0", extra)
}

fn serve_on(addr: &str, extra: &[&str]) -> Child {
    let (child, url) = common::serve_child(addr, extra);
    assert!(url.contains(addr), "{url}");
    child
}

fn run_args(host: &str, out: &Path, extra: &[&str]) -> Vec<String> {
    common::load_run_args(host, out, 4, extra)
}

fn loadtest(args: &[String]) -> Output {
    bin().args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// Loads the record (which validates its internal consistency) and checks the totals.
fn complete_record(dir: &Path) -> RunRecord {
    let r = RunRecord::load(&dir.join("run.json")).expect("record loads and validates");
    for f in &r.flows {
        assert_eq!(f.ok + f.failed, f.requests, "{}", f.name);
        assert_eq!(f.errors.values().sum::<u64>(), f.failed, "{}", f.name);
    }
    assert!(dir.join("report.html").exists(), "report written");
    r
}

fn class(r: &RunRecord, flow: &str, class: &str) -> u64 {
    r.flow(flow).map(|f| f.class_count(class)).unwrap_or(0)
}

#[test]
fn target_killed_mid_run_counts_connect_errors_and_writes_the_record() {
    let (mut server, url) = serve(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("killed");
    let mut run = bin()
        .args(run_args(&url, &out, &["--duration", "6s"]))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    server.kill().unwrap();
    server.wait().unwrap();
    let status = run.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(1),
        "errors break the error-rate threshold"
    );
    let r = complete_record(&out);
    let connect: u64 = r.flows.iter().map(|f| f.class_count("connect")).sum();
    assert!(
        connect > 0,
        "connect errors after the kill: {:?}",
        r.flows.iter().map(|f| &f.errors).collect::<Vec<_>>()
    );
    assert!(
        r.flow("validate").unwrap().ok > 0,
        "requests before the kill succeeded"
    );
    assert!(!r.outcome.partial, "the run went on to its planned end");
}

#[test]
fn target_restarted_mid_run_recovers() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}");
    let mut server = serve_on(&addr, &[]);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("restart");
    let url = format!("http://{addr}");
    let mut run = bin()
        .args(run_args(&url, &out, &["--duration", "7s"]))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    server.kill().unwrap();
    server.wait().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let mut again = serve_on(&addr, &[]);
    let status = run.wait().unwrap();
    again.kill().unwrap();
    let _ = again.wait();
    assert!(matches!(status.code(), Some(0) | Some(1)), "{status:?}");
    let r = complete_record(&out);
    // The restarted server has empty tables: old tokens are rejected (401), re-logins of the
    // now unknown users too — all counted, none lost.
    let failed: u64 = r.flows.iter().map(|f| f.failed).sum();
    assert!(failed > 0);
    let last = r.flow("login").unwrap().per_second.last().unwrap().t;
    assert!(
        last >= 5,
        "requests continued after the restart (last second {last})"
    );
}

#[test]
fn a_5xx_storm_is_counted_by_status() {
    let (mut server, url) = serve(&["--inject-error-rate", "1"]);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("storm");
    let o = loadtest(&run_args(&url, &out, &["--duration", "2s"]));
    server.kill().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let r = complete_record(&out);
    assert!(class(&r, "login", "503") > 0);
    assert_eq!(class(&r, "login", "5xx"), r.flow("login").unwrap().failed);
    assert_eq!(r.flow("signup").unwrap().ok, 0);
}

#[test]
fn hangs_longer_than_the_timeout_count_as_timeouts() {
    let (mut server, url) = serve(&["--stall", "3s/4s"]);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("hang");
    let o = loadtest(&run_args(
        &url,
        &out,
        &["--duration", "3s", "--timeout", "300ms"],
    ));
    server.kill().unwrap();
    assert!(
        matches!(o.status.code(), Some(0) | Some(1)),
        "{}",
        stderr(&o)
    );
    let r = complete_record(&out);
    let timeouts: u64 = r.flows.iter().map(|f| f.class_count("timeout")).sum();
    assert!(
        timeouts > 0,
        "{:?}",
        r.flows.iter().map(|f| &f.errors).collect::<Vec<_>>()
    );
    // No recorded latency is far above the timeout: the request was abandoned, not awaited.
    for f in &r.flows {
        assert!(
            f.summary.max < 2000.0,
            "{} max {} ms",
            f.name,
            f.summary.max
        );
    }
}

fn interrupt(signal: &str, code: i32) {
    let (mut server, url) = serve(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("signal");
    let mut run = bin()
        .args(run_args(&url, &out, &["--duration", "60s"]))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let sent = Instant::now();
    let kill = Command::new("kill")
        .args([signal, &run.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = run.wait().unwrap();
    let took = sent.elapsed();
    server.kill().unwrap();
    assert_eq!(status.code(), Some(code), "{signal}");
    assert!(
        took < Duration::from_secs(5),
        "{signal}: stopped after {took:?}"
    );
    let r = complete_record(&out);
    assert!(r.outcome.partial, "{signal}: marked partial");
    assert!(r.meta.duration_s < 30.0);
    assert!(r.flow("validate").unwrap().requests > 0);
}

#[test]
fn sigint_stops_within_5s_writes_a_partial_record_and_exits_130() {
    interrupt("-INT", 130);
}

#[test]
fn sigterm_stops_within_5s_writes_a_partial_record_and_exits_143() {
    interrupt("-TERM", 143);
}

// ----- hostile targets: what they send is data, never markup or terminal control -----

mod hostile {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    use axum::body::Body;
    use axum::extract::State;
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};
    use axum::routing::{get, post};
    use axum::Router;

    pub const SCRIPT: &str = "<script>alert(1)</script>";

    async fn signup() -> Response {
        (StatusCode::CREATED, "{\"id\":1}").into_response()
    }

    async fn login(State(n): State<Arc<AtomicU64>>) -> Response {
        if n.fetch_add(1, Ordering::Relaxed) % 3 == 2 {
            // Truncated JSON: a success status without a token.
            return (StatusCode::OK, "{\"access_token\": \"abc").into_response();
        }
        (
            StatusCode::OK,
            "{\"access_token\":\"t0k\",\"refresh_token\":\"r\"}",
        )
            .into_response()
    }

    async fn me(State(n): State<Arc<AtomicU64>>, headers: axum::http::HeaderMap) -> Response {
        // Echoes the API key back, as careless error pages do: --redact must keep it out.
        let key = headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        match n.fetch_add(1, Ordering::Relaxed) % 3 {
            0 => {
                let mut body =
                    format!("key={key} {SCRIPT}<img src=x onerror=alert(2)>\x1b[31mRED\x1b[0m")
                        .into_bytes();
                body.extend_from_slice(&[0xff, 0xfe, 0xfd]);
                body.extend(std::iter::repeat_n(b'A', 10 * 1024 * 1024));
                (StatusCode::INTERNAL_SERVER_ERROR, body).into_response()
            }
            1 => {
                // 100 MB, streamed: the client must not buffer it whole.
                let chunk = axum::body::Bytes::from(vec![b'x'; 64 * 1024]);
                let stream = futures::stream::iter(
                    (0..1600).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
                );
                (StatusCode::OK, Body::from_stream(stream)).into_response()
            }
            _ => (StatusCode::OK, "{\"ok\":true}").into_response(),
        }
    }

    pub fn app() -> Router {
        Router::new()
            .route("/api/v1/auth/signup", post(signup))
            .route("/api/v1/auth/login", post(login))
            .route("/api/v1/auth/me", get(me))
            .with_state(Arc::new(AtomicU64::new(0)))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bodies_are_truncated_escaped_and_sanitized() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, hostile::app()).await });
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("hostile");
    let contract = tmp.path().join("keyed.toml");
    let reference = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/contracts/reference.toml"),
    )
    .unwrap();
    std::fs::write(
        &contract,
        format!("{reference}\n[headers]\nX-Api-Key = \"apikey-{{run}}-topsecret\"\n"),
    )
    .unwrap();
    let contract = contract.display().to_string();
    let args = run_args(
        &url,
        &out,
        &[
            "--duration",
            "3s",
            "--threshold",
            "refresh: count>=0",
            "--contract",
            &contract,
            "--redact",
            "X-Api-Key",
        ],
    );
    let o = tokio::task::spawn_blocking(move || loadtest(&args))
        .await
        .unwrap();
    server.abort();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let r = complete_record(&out);
    assert!(class(&r, "validate", "500") > 0);
    assert!(
        class(&r, "login", "token-missing") > 0,
        "{:?}",
        r.flow("login").unwrap().errors
    );
    let v = r.flow("validate").unwrap();
    assert!(
        v.ok > 0,
        "100 MB bodies were read up to the cap and counted as successes"
    );
    for s in &v.error_samples {
        assert!(
            s.chars().count() <= 210,
            "sample not truncated: {} chars",
            s.chars().count()
        );
        assert!(!s.contains('\x1b'), "ANSI escape kept: {s:?}");
    }
    assert!(
        v.error_samples.iter().any(|s| s.contains("key=[redacted]")),
        "the echoed API key was redacted: {:?}",
        v.error_samples
    );
    for entry in std::fs::read_dir(&out).unwrap() {
        let path = entry.unwrap().path();
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).to_string();
        assert!(
            !text.contains("-topsecret"),
            "{} holds the --redact header's value",
            path.display()
        );
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(!html.contains(hostile::SCRIPT), "raw script in report.html");
    assert!(!html.contains("<img src=x"), "raw img in report.html");
    for text in [
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    ] {
        assert!(
            !text.contains('\x1b'),
            "terminal control from the target reached the console"
        );
    }
}

#[test]
fn connection_resets_are_failures_not_crashes() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    listener.set_nonblocking(true).unwrap();
    let acceptor = std::thread::spawn(move || {
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            match listener.accept() {
                Ok((sock, _)) => drop(sock), // accept, then close without answering
                Err(_) => std::thread::sleep(Duration::from_millis(2)),
            }
        }
    });
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("reset");
    let o = loadtest(&run_args(&url, &out, &["--duration", "2s"]));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    acceptor.join().unwrap();
    assert!(
        matches!(o.status.code(), Some(1) | Some(3)),
        "{}",
        stderr(&o)
    );
    let r = complete_record(&out);
    let failed: u64 = r.flows.iter().map(|f| f.failed).sum();
    let requests: u64 = r.flows.iter().map(|f| f.requests).sum();
    assert!(
        requests > 0 && failed == requests,
        "{requests} requests, {failed} failed"
    );
}

/// A file-size limit (`ulimit -f`, the way a full disk shows up as EFBIG) while the outputs are
/// written: the verdict and the measured table are still printed, the exit code is the run's
/// verdict, and every file that could not be written is named on stderr, one line each.
#[test]
fn a_write_failure_after_the_run_still_prints_the_verdict_and_names_the_files() {
    let (mut server, url) = serve(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("efbig");
    let mut args = vec![
        "-c".to_string(),
        // 16 blocks of 512 bytes: run.json, report.html and Goose's reports are larger (on
        // Goose's transport, whose reports list the requests). The shell does not ignore
        // SIGXFSZ: loadtest itself must, or the write kills it.
        "ulimit -f 16 && exec \"$0\" \"$@\"".to_string(),
        env!("CARGO_BIN_EXE_loadtest").to_string(),
    ];
    args.extend(common::load_run_args(
        &url,
        &out,
        2,
        &["--duration", "2s", "--transport", "goose"],
    ));
    let o = Command::new("sh").args(&args).output().unwrap();
    let _ = server.kill();
    let _ = server.wait();
    let stdout = String::from_utf8_lossy(&o.stdout);
    let err = stderr(&o);
    let code = o.status.code();
    assert!(
        matches!(code, Some(0) | Some(1)),
        "exit {code:?} (want the verdict's 0 or 1)\nstdout:\n{stdout}\nstderr:\n{err}"
    );
    let verdict = if code == Some(0) { "PASS" } else { "FAIL" };
    assert!(stdout.contains(verdict), "no {verdict} verdict:\n{stdout}");
    assert!(stdout.contains("validate"), "no flow table:\n{stdout}");
    for name in [
        "run.json",
        "report.html",
        "goose-report.html",
        "goose-report.json",
    ] {
        let lines: Vec<&str> = err
            .lines()
            .filter(|l| l.contains(&format!("{}: not written", out.join(name).display())))
            .collect();
        assert_eq!(lines.len(), 1, "{name} not named once on stderr:\n{err}");
        assert!(lines[0].contains("too large"), "{}", lines[0]);
    }
    for name in ["run.json", "goose-report.html", "goose-report.json"] {
        assert!(!out.join(name).exists(), "{name} left truncated");
    }
    assert!(!err.contains("panicked"), "{err}");
}
