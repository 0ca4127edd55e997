//! Origin safety and secret hygiene against hostile targets, through the real binary: redirects
//! are never followed (a second listener receives nothing), tokens echoed in failure bodies
//! never reach any output, `--host` userinfo is refused without being repeated.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use loadtest::record::RunRecord;

mod common;
use common::loadtest;
use common::secrets::{assert_no_secret, run_outputs};

fn run_args(host: &str, out: &Path, extra: &[&str]) -> Vec<String> {
    let mut v = common::load_run_args(host, out, 3, &["--duration", "3s"]);
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

async fn listen(app: Router) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, task)
}

#[derive(Clone)]
struct Redirecting {
    elsewhere: String,
    logins: Arc<AtomicU64>,
}

async fn signup() -> StatusCode {
    StatusCode::CREATED
}

/// Every other login is redirected (307 keeps the body: the password would travel); the
/// others succeed, so validate runs and is redirected too (with the token header).
async fn redirect_login(State(s): State<Redirecting>) -> Response {
    let n = s.logins.fetch_add(1, Ordering::Relaxed);
    if n % 2 == 0 {
        (
            StatusCode::TEMPORARY_REDIRECT,
            [(
                header::LOCATION,
                format!("{}/api/v1/auth/login", s.elsewhere),
            )],
        )
            .into_response()
    } else {
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            format!("{{\"access_token\":\"tok-{n}-abcdefgh\"}}"),
        )
            .into_response()
    }
}

async fn redirect_me(State(s): State<Redirecting>) -> Response {
    (
        StatusCode::TEMPORARY_REDIRECT,
        [(header::LOCATION, format!("{}/api/v1/auth/me", s.elsewhere))],
    )
        .into_response()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_to_another_origin_are_never_followed() {
    let received = Arc::new(AtomicU64::new(0));
    let seen = received.clone();
    let other = Router::new().fallback(any(move || {
        let seen = seen.clone();
        async move {
            seen.fetch_add(1, Ordering::Relaxed);
            StatusCode::OK
        }
    }));
    let (elsewhere, other_task) = listen(other).await;
    let app = Router::new()
        .route("/api/v1/auth/signup", post(signup))
        .route("/api/v1/auth/login", post(redirect_login))
        .route("/api/v1/auth/me", get(redirect_me))
        .with_state(Redirecting {
            elsewhere,
            logins: Arc::new(AtomicU64::new(0)),
        });
    let (url, task) = listen(app).await;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("redirected");
    let args = run_args(&url, &out, &[]);
    let o = tokio::task::spawn_blocking(move || loadtest(&args))
        .await
        .unwrap();
    task.abort();
    other_task.abort();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        received.load(Ordering::Relaxed),
        0,
        "the second origin received requests"
    );
    let r = RunRecord::load(&out.join("run.json")).unwrap();
    let login_307 = r.flow("login").unwrap().class_count("307");
    let validate_307 = r.flow("validate").unwrap().class_count("307");
    assert!(login_307 > 0, "{:?}", r.flow("login").unwrap().errors);
    assert!(validate_307 > 0, "{:?}", r.flow("validate").unwrap().errors);
    println!("redirects reported: login 307×{login_307}, validate 307×{validate_307}");
}

/// Tokens the hostile server issued or echoed.
#[derive(Clone, Default)]
struct Echoing {
    n: Arc<AtomicU64>,
    issued: Arc<Mutex<Vec<String>>>,
}

fn token(prefix: &str, n: u64) -> String {
    // Opaque, lower case, not token-shaped: only the registry can catch it.
    format!("{prefix}{n}opaque")
}

/// Logins alternate: a success issuing a token, then failures echoing that token (plain text,
/// after ~190 bytes so it crosses the sample cut) and fresh tokens (JSON, crossing the cut).
async fn echo_login(State(s): State<Echoing>, headers: HeaderMap) -> Response {
    let _ = headers;
    let n = s.n.fetch_add(1, Ordering::Relaxed);
    let pad = "x".repeat(190);
    match n % 3 {
        0 => {
            let t = token("acc", n);
            s.issued.lock().unwrap().push(t.clone());
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                format!("{{\"access_token\":\"{t}\"}}"),
            )
                .into_response()
        }
        1 => {
            let previous = token("acc", n - 1);
            (
                StatusCode::UNAUTHORIZED,
                format!("{pad} session {previous} rejected"),
            )
                .into_response()
        }
        _ => {
            let t = token("fresh", n);
            let r = token("refr", n);
            s.issued.lock().unwrap().extend([t.clone(), r.clone()]);
            (
                StatusCode::BAD_REQUEST,
                [(header::CONTENT_TYPE, "application/json")],
                format!(
                    "{{\"error\":\"{pad}\",\"access_token\":\"{t}\",\"refresh_token\":\"{r}\"}}"
                ),
            )
                .into_response()
        }
    }
}

async fn echo_me(headers: HeaderMap) -> Response {
    // Echo the bearer value back in a failure, after the cut.
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (
        StatusCode::FORBIDDEN,
        format!("{} you sent: {auth}", "y".repeat(185)),
    )
        .into_response()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_echoed_in_failure_bodies_never_reach_any_output() {
    let state = Echoing::default();
    let issued = state.issued.clone();
    let app = Router::new()
        .route("/api/v1/auth/signup", post(signup))
        .route("/api/v1/auth/login", post(echo_login))
        .route("/api/v1/auth/me", get(echo_me))
        .with_state(state);
    let (url, task) = listen(app).await;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("echoed");
    // --goose-report: Goose's HTML report is written, and scanned like every output.
    let args = run_args(&url, &out, &["--goose-report"]);
    let o = tokio::task::spawn_blocking(move || loadtest(&args))
        .await
        .unwrap();
    task.abort();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r = RunRecord::load(&out.join("run.json")).unwrap();
    let login = r.flow("login").unwrap();
    assert!(login.class_count("401") > 0 && login.class_count("400") > 0);
    assert!(
        login.error_samples.iter().any(|s| s.contains("[redacted]")),
        "{:?}",
        login.error_samples
    );
    let issued = issued.lock().unwrap().clone();
    assert!(issued.len() >= 3, "{issued:?}");
    let files = run_outputs(&out, &o);
    assert!(files.iter().any(|(p, _)| p.ends_with("goose-report.html")));
    assert_no_secret(&files, &issued);
    println!(
        "{} issued tokens checked in {} outputs",
        issued.len(),
        files.len()
    );
}

#[test]
fn userinfo_in_host_is_refused_and_never_repeated() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("userinfo");
    let o = loadtest(run_args(
        "http://someone:pw-very-secret@127.0.0.1:9",
        &out,
        &[],
    ));
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("--host must not contain credentials"),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing written");
    assert_no_secret(
        &run_outputs(tmp.path(), &o),
        &["pw-very-secret".to_string()],
    );
}
