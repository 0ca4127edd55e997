//! Shared helpers for integration tests: the backend matrix and small HTTP helpers.
//!
//! Backends: SQLite always; PostgreSQL when `DATABASE_URL` is set; Redis tier when `REDIS_URL`
//! is set. In CI (`CI=true`) a missing variable is an error, not a skip, so a backend can never
//! silently drop out of the run.

#![allow(dead_code)]

#[path = "../support/sample.rs"]
pub mod sample;
pub mod secrets;

use loadtest::reference_api::cache::CacheConfig;
use loadtest::reference_api::{Mode, TargetConfig};

/// One backend combination a test runs against.
#[derive(Debug, Clone)]
pub struct Backend {
    pub name: String,
    pub config: TargetConfig,
}

fn env_backend(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Some(v),
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
                panic!("{var} must be set in CI so that backend is exercised");
            }
            eprintln!("BACKEND SKIPPED: {var} not set");
            None
        }
    }
}

pub fn database_url() -> Option<String> {
    env_backend("DATABASE_URL")
}

pub fn redis_url() -> Option<String> {
    env_backend("REDIS_URL")
}

/// Every backend combination available here, for `mode`.
pub fn backends(mode: Mode) -> Vec<Backend> {
    let base = TargetConfig {
        mode,
        jwt_secret: Some(b"integration-test-secret".to_vec()),
        ..TargetConfig::default()
    };
    let mut out = vec![Backend {
        name: format!("sqlite/{mode}"),
        config: base.clone(),
    }];
    let pg = database_url();
    if let Some(url) = &pg {
        out.push(Backend {
            name: format!("postgres/{mode}"),
            config: TargetConfig {
                database_url: Some(url.clone()),
                ..base.clone()
            },
        });
    }
    if mode == Mode::Optimized {
        if let Some(redis) = redis_url() {
            out.push(Backend {
                name: format!(
                    "{}+redis/{mode}",
                    if pg.is_some() { "postgres" } else { "sqlite" }
                ),
                config: TargetConfig {
                    database_url: pg.clone(),
                    cache: CacheConfig {
                        redis_url: Some(redis),
                        ..CacheConfig::default()
                    },
                    ..base.clone()
                },
            });
        }
    }
    out
}

/// A blocking-free HTTP client for tests (no proxy: loopback only).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("client")
}

/// `loadtest serve --hash-cost fast` (unless `extra` names another `--hash-cost`) as a child
/// process on `addr` (port 0 picks one), returned once it listens, with its URL.
pub fn serve_child(addr: &str, extra: &[&str]) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let cost: &[&str] = if extra.contains(&"--hash-cost") {
        &[]
    } else {
        &["--hash-cost", "fast"]
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_loadtest"))
        .args(["serve", "--bind", addr])
        .args(cost)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn loadtest serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read the listening line");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .to_string();
    (child, url)
}

/// True when running in CI (`CI=true` or `CI=1`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// An independent checker the test needs is missing: in CI that is a failure (the tool must
/// be installed by `scripts/ci-setup.sh`); elsewhere one "SKIPPED: reason" line and `None`.
pub fn missing_tool<T>(reason: &str) -> Option<T> {
    if in_ci() {
        panic!("{reason} (CI must install it: scripts/ci-setup.sh)");
    }
    eprintln!("SKIPPED: {reason} (run scripts/ci-setup.sh)");
    None
}

/// The Python of the checkers' venv (`scripts/py-venv.sh`: xmlschema, hdrhistogram, PyYAML,
/// prometheus-client):
/// `$LOADTEST_PY`, else `.tools/venv/bin/python` in the repository.
pub fn checker_python() -> Option<std::path::PathBuf> {
    let path = match std::env::var_os("LOADTEST_PY") {
        Some(p) => std::path::PathBuf::from(p),
        None => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/venv/bin/python"),
    };
    let ok = std::process::Command::new(&path)
        .args(["-c", "import xmlschema, hdrh.log, yaml, prometheus_client"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        Some(path)
    } else {
        missing_tool(&format!(
            "the checkers' Python venv ({}) with xmlschema, hdrhistogram, PyYAML and \
             prometheus-client is missing",
            path.display()
        ))
    }
}

/// Runs `python -c SCRIPT ARGS…` with the checkers' Python; returns (success, stdout+stderr).
pub fn run_python(python: &std::path::Path, script: &str, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("run the checkers' python");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Arguments of a short closed-model `loadtest run load` against `host` with `users` users,
/// a 1 s ramp, no progress lines and no early abort, writing to `out`; `extra` goes last
/// (e.g. `--duration 3s`).
pub fn load_run_args(host: &str, out: &std::path::Path, users: u32, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ["run", "load", "--users", &users.to_string(), "--ramp", "1s"]
        .iter()
        .chain(["--quiet", "--no-abort", "--host", host, "--out"].iter())
        .map(|s| s.to_string())
        .collect();
    v.push(out.display().to_string());
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

/// Runs the `loadtest` binary to its end and returns what it printed and its exit status.
pub fn loadtest<S: AsRef<std::ffi::OsStr>>(
    args: impl IntoIterator<Item = S>,
) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_loadtest"))
        .args(args)
        .output()
        .expect("run loadtest")
}

/// [`loadtest`] from the temporary directory, so an output a test forgot to point elsewhere
/// never lands in the repository.
pub fn loadtest_in_tmp<S: AsRef<std::ffi::OsStr>>(
    args: impl IntoIterator<Item = S>,
) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_loadtest"))
        .args(args)
        .current_dir(std::env::temp_dir())
        .output()
        .expect("run loadtest")
}
