//! Interop: the real `loadtest` binary against real third-party auth servers built from
//! open-source libraries (Django + djoser + simplejwt, django-allauth, FastAPI + fastapi-users;
//! tests/interop/servers/), each driven by a shipped contract file alone. Every run's per-flow
//! counts are cross-checked against the server's own records (rows in its user table, its
//! access log), and no secret the server saw or issued may appear in any output.
//!
//! The servers live in a venv made by `scripts/interop-setup.sh` (called by
//! `scripts/ci-setup.sh`). Without it each test prints `INTEROP SKIPPED: <server>: <reason>`;
//! in CI (`CI=true`) a missing server fails the test instead.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use common::secrets::{assert_no_secret, run_outputs};
use loadtest::record::RunRecord;

const USERS: usize = 3;
/// Longest wait for a server to start listening (Django runs its migrations first).
const START_LIMIT: Duration = Duration::from_secs(90);

/// One server at a time: the machine has two cores and each test already runs a Python
/// server and the load generator side by side.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Announces a server that cannot run here, past the test harness's output capture, or fails
/// the test in CI.
fn unavailable(server: &str, reason: &str) {
    assert!(
        !in_ci(),
        "interop server {server} must run in CI: {reason} (scripts/interop-setup.sh)"
    );
    let _ = writeln!(
        std::io::stderr(),
        "INTEROP SKIPPED: {server}: {reason} (run scripts/interop-setup.sh)"
    );
}

/// A third-party auth server running as a child process on a loopback port.
struct Server {
    child: Child,
    url: String,
    /// Its SQLite database and access.log.
    dir: tempfile::TempDir,
}

impl Server {
    /// Kills the server and waits for it, so its access log and database are final.
    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts `tests/interop/servers/<script>` from the interop venv once its modules import, and
/// returns when it listens; `None` (announced) when the venv or a module is missing here.
fn start(name: &str, script: &str, modules: &str) -> Option<Server> {
    let python = repo(".tools/interop-venv/bin/python");
    if !python.is_file() {
        unavailable(name, "no interop venv at .tools/interop-venv");
        return None;
    }
    let import = Command::new(&python)
        .args(["-c", &format!("import {modules}")])
        .output()
        .expect("run the venv's python");
    if !import.status.success() {
        let why = String::from_utf8_lossy(&import.stderr);
        let last = why.lines().last().unwrap_or("import failed");
        unavailable(name, &format!("cannot import {modules}: {last}"));
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let stderr = std::fs::File::create(dir.path().join("server.stderr")).unwrap();
    let mut child = Command::new(&python)
        .arg(repo("tests/interop/servers").join(script))
        .args(["--port", "0", "--dir"])
        .arg(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("spawn the interop server");
    // The first stdout line says where it listens; read it on a thread so the wait is bounded.
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(START_LIMIT).unwrap_or_default();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .map(str::to_string);
    let server = Server {
        child,
        url: url.clone().unwrap_or_default(),
        dir,
    };
    if url.is_none() {
        let log = std::fs::read_to_string(server.dir.path().join("server.stderr")).unwrap();
        panic!("{script} did not start within {START_LIMIT:?}: {line:?}\n{log}");
    }
    Some(server)
}

/// What the server answered, from its access log: (method, path) → status → count, and every
/// secret it issued.
struct AccessLog {
    counts: BTreeMap<(String, String), BTreeMap<u16, u64>>,
    issued: Vec<String>,
    total: u64,
}

fn read_access_log(dir: &Path) -> AccessLog {
    let text = std::fs::read_to_string(dir.join("access.log")).unwrap_or_default();
    let mut log = AccessLog {
        counts: BTreeMap::new(),
        issued: Vec::new(),
        total: 0,
    };
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("an access-log line");
        let key = (
            v["method"].as_str().unwrap().to_string(),
            v["path"].as_str().unwrap().to_string(),
        );
        let status = v["status"].as_u64().expect("a status") as u16;
        *log.counts
            .entry(key)
            .or_default()
            .entry(status)
            .or_default() += 1;
        log.total += 1;
        for s in v["issued"].as_array().unwrap() {
            log.issued.push(s.as_str().unwrap().to_string());
        }
    }
    log.issued.sort();
    log.issued.dedup();
    log
}

/// Rows in `table` of the server's SQLite database.
fn count_rows(db: &Path, table: &str) -> u64 {
    let url = format!("sqlite://{}?mode=ro", db.display());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM \"{table}\""))
            .fetch_one(&mut conn)
            .await
            .unwrap();
        n as u64
    })
}

/// `loadtest run PROFILE` (tests/interop/profiles.toml) with `USERS` users for 3 s against
/// `server`, driven by `contract`; no metrics scrape, so every request the server sees belongs
/// to a flow.
fn run(server: &Server, profile: &str, contract: &Path, out: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_loadtest"))
        .args([
            "run",
            profile,
            "--users",
            &USERS.to_string(),
            "--duration",
            "3s",
        ])
        .args(["--quiet", "--no-server-metrics", "--host", &server.url])
        .arg("--contract")
        .arg(contract)
        .arg("--profiles")
        .arg(repo("tests/interop/profiles.toml"))
        .arg("--thresholds")
        .arg(repo("tests/interop/thresholds.toml"))
        .arg("--out")
        .arg(out)
        .args(extra)
        .current_dir(std::env::temp_dir())
        .output()
        .expect("run loadtest")
}

/// One endpoint a flow sends to, read straight from the contract file (independently of
/// loadtest's own parser): the flow it counts under, method, path and success statuses.
#[derive(Debug, Clone)]
struct Route {
    flow: String,
    key: (String, String),
    success: Vec<u16>,
}

fn route(flow: &str, step: &toml::Value) -> Route {
    let text = |k: &str| step[k].as_str().unwrap().to_string();
    Route {
        flow: flow.to_string(),
        key: (text("method").to_uppercase(), text("path")),
        success: step["success"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_integer().unwrap() as u16)
            .collect(),
    }
}

/// Every route of a contract: each flow's own step; its pre-steps under the `prepare` flow;
/// and the logout-reuse check, which re-sends validation and must get 401 or 403.
fn routes(contract: &Path) -> Vec<Route> {
    let doc: toml::Value = toml::from_str(&std::fs::read_to_string(contract).unwrap()).unwrap();
    let mut out = Vec::new();
    for flow in ["signup", "login", "validate", "refresh", "logout"] {
        let Some(step) = doc.get(flow) else { continue };
        out.push(route(flow, step));
        for pre in step
            .get("pre")
            .and_then(|p| p.as_array())
            .into_iter()
            .flatten()
        {
            out.push(route("prepare", pre));
        }
    }
    if doc.get("logout").is_some() {
        let mut reuse = route("logout-reuse", &doc["validate"]);
        reuse.success = vec![401, 403];
        out.push(reuse);
    }
    out
}

/// One API shape: a server script, the contract that drives it, and where its users live.
struct Shape {
    /// The libraries, as announced when they are missing.
    server: &'static str,
    script: &'static str,
    modules: &'static str,
    contract: &'static str,
    profile: &'static str,
    database: &'static str,
    users_table: &'static str,
}

/// Runs one shape end to end and cross-checks loadtest's record against the server's own.
fn check_shape(shape: &Shape) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(mut server) = start(shape.server, shape.script, shape.modules) else {
        return;
    };
    let contract = repo(shape.contract);
    let out_tmp = tempfile::tempdir().unwrap();
    let out = out_tmp.path().join("run");
    let o = run(&server, shape.profile, &contract, &out, &[]);
    let server_log = std::fs::read_to_string(server.dir.path().join("server.stderr")).unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}: loadtest stderr:\n{}\nserver stderr:\n{server_log}",
        shape.contract,
        String::from_utf8_lossy(&o.stderr)
    );
    let record = RunRecord::load(&out.join("run.json")).expect("run.json");
    server.stop();
    let log = read_access_log(server.dir.path());
    let name = shape.contract;

    // Every flow: loadtest's requests and successes equal what the server logged for the
    // flow's endpoints, and nothing failed; every request the server logged belongs to a flow.
    let routes = routes(&contract);
    for f in &record.flows {
        let mine: Vec<&Route> = routes.iter().filter(|r| r.flow == f.name).collect();
        assert!(!mine.is_empty(), "{name}: flow {} has no route", f.name);
        let mut ok = 0;
        let mut seen = Vec::new();
        for r in mine {
            if seen.contains(&&r.key) {
                continue;
            }
            seen.push(&r.key);
            // A status at this endpoint may count for only one flow.
            for other in routes.iter().filter(|o| o.key == r.key && o.flow != r.flow) {
                assert!(
                    r.success.iter().all(|s| !other.success.contains(s)),
                    "{name}: {} and {} share {:?} and a success status",
                    r.flow,
                    other.flow,
                    r.key
                );
            }
            let statuses = log.counts.get(&r.key).cloned().unwrap_or_default();
            ok += statuses
                .iter()
                .filter(|(s, _)| r.success.contains(s))
                .map(|(_, n)| n)
                .sum::<u64>();
        }
        assert_eq!(
            (f.ok, f.failed),
            (ok, 0),
            "{name} {}: loadtest (ok, failed) vs the server's access log {:?}; errors {:?} {:?}",
            f.name,
            log.counts,
            f.errors,
            f.error_samples
        );
        assert!(f.ok > 0, "{name} {}: no successful request", f.name);
    }
    let requests: u64 = record.flows.iter().map(|f| f.requests).sum();
    assert_eq!(
        requests, log.total,
        "{name}: loadtest's requests vs the server's access log {:?}",
        log.counts
    );
    for r in &routes {
        let logs_out = shape.profile.contains("logout");
        if logs_out || !matches!(r.flow.as_str(), "logout" | "logout-reuse") {
            assert!(
                record.flow(&r.flow).is_some(),
                "{name}: flow {} did not run",
                r.flow
            );
        }
    }
    // Signups: one per virtual user, each a row in the server's user table.
    let signup = record.flow("signup").unwrap();
    let rows = count_rows(&server.dir.path().join(shape.database), shape.users_table);
    assert_eq!(
        (signup.ok, rows),
        (USERS as u64, USERS as u64),
        "{name}: successful signups vs rows in {}",
        shape.users_table
    );
    assert_eq!(record.outcome.verdict, "pass");

    // No password, token, cookie or CSRF value the server saw or issued in anything loadtest
    // wrote or printed.
    assert!(
        !log.issued.is_empty(),
        "{name}: the server issued no secret"
    );
    assert_no_secret(&run_outputs(&out, &o), &log.issued);
}

#[test]
fn bearer_json_djoser_simplejwt() {
    check_shape(&Shape {
        server: "Django + djoser + simplejwt",
        script: "django_server.py",
        modules: "django, djoser, rest_framework_simplejwt, allauth, uvicorn",
        contract: "scenarios/contracts/djoser-jwt.toml",
        profile: "smoke",
        database: "django.db",
        users_table: "auth_user",
    });
}

#[test]
fn oauth2_password_form_fastapi_users() {
    check_shape(&Shape {
        server: "FastAPI + fastapi-users (Bearer)",
        script: "fastapi_users_server.py",
        modules: "fastapi_users, fastapi_users_db_sqlalchemy, aiosqlite, uvicorn",
        contract: "scenarios/contracts/fastapi-users-bearer.toml",
        profile: "smoke",
        database: "users.db",
        users_table: "user",
    });
}

#[test]
fn jwt_in_httponly_cookie_fastapi_users() {
    check_shape(&Shape {
        server: "FastAPI + fastapi-users (cookie)",
        script: "fastapi_users_server.py",
        modules: "fastapi_users, fastapi_users_db_sqlalchemy, aiosqlite, uvicorn",
        contract: "scenarios/contracts/fastapi-users-cookie.toml",
        profile: "smoke",
        database: "users.db",
        users_table: "user",
    });
}

#[test]
fn session_cookie_with_csrf_django_allauth() {
    check_shape(&Shape {
        server: "Django + django-allauth (session, CSRF)",
        script: "django_server.py",
        modules: "django, djoser, rest_framework_simplejwt, allauth, uvicorn",
        contract: "scenarios/contracts/django-allauth-session.toml",
        profile: "smoke-logout",
        database: "django.db",
        users_table: "auth_user",
    });
}

/// A real library's stateless JWT logout (fastapi-users' cookie transport only clears the
/// cookie) leaves the old token valid: loadtest's logout-reuse check must catch it, exit 1.
#[test]
fn a_logout_that_does_not_revoke_the_jwt_is_a_security_finding() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let modules = "fastapi_users, fastapi_users_db_sqlalchemy, aiosqlite, uvicorn";
    let Some(mut server) = start(
        "FastAPI + fastapi-users (cookie logout)",
        "fastapi_users_server.py",
        modules,
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let contract = tmp.path().join("cookie-with-logout.toml");
    let mut text =
        std::fs::read_to_string(repo("scenarios/contracts/fastapi-users-cookie.toml")).unwrap();
    text.push_str(
        "\n[logout]\nmethod = \"POST\"\npath = \"/auth/cookie/logout\"\nsuccess = [204]\n",
    );
    std::fs::write(&contract, text).unwrap();
    let out = tmp.path().join("run");
    let o = run(&server, "smoke-logout", &contract, &out, &["--no-abort"]);
    server.stop();
    assert_eq!(
        o.status.code(),
        Some(1),
        "stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let record = RunRecord::load(&out.join("run.json")).expect("run.json");
    let logout = record.flow("logout").expect("logout ran");
    let reuse = record.flow("logout-reuse").expect("the reuse check ran");
    assert!(logout.ok > 0 && logout.failed == 0, "{:?}", logout.errors);
    // Every reuse after a successful logout was accepted by the server, and reported.
    assert_eq!(reuse.requests, logout.ok);
    assert_eq!(
        reuse.errors.get("security-finding").copied(),
        Some(reuse.requests),
        "{:?}",
        reuse.errors
    );
    let log = read_access_log(server.dir.path());
    let me_ok = log.counts[&("GET".to_string(), "/users/me".to_string())][&200];
    let validate = record.flow("validate").unwrap();
    assert_eq!(me_ok, validate.ok + reuse.requests, "{:?}", log.counts);
    assert_eq!(record.outcome.verdict, "fail");
    assert_no_secret(&run_outputs(&out, &o), &log.issued);
}
