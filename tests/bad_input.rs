//! The bad-input catalogue: every way a user can hand `loadtest` something unusable, driven
//! through the real binary — CLI flags of every subcommand, profiles.toml, threshold rules
//! (command line and file), contracts, run.json given to `report` / `compare` / `merge`, and
//! compare inputs.
//!
//! Each case must: exit 2 within 2 s; print exactly one line on stderr that names the flag,
//! file or field at fault; never panic; and leave no file behind (every case runs in a folder that is
//! snapshotted before and after, and the `--out` / `--md` / `--json` paths it names must not
//! exist afterwards). The test prints `bad-input catalogue: N cases, M passing` and lists
//! every failing case with what went wrong; with `BAD_INPUT_VERBOSE=1` (and `--nocapture`) it
//! lists every case with its stderr line.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::sample::{fixture, synthetic};
use serde_json::{json, Value};

/// One bad input: the arguments, the texts stderr must contain, the output paths it names.
struct Case {
    name: String,
    args: Vec<String>,
    want: Vec<String>,
    outputs: Vec<PathBuf>,
}

/// Builds the inputs of the catalogue in one temporary folder.
struct Catalogue {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    cases: Vec<Case>,
    next_out: usize,
}

impl Catalogue {
    fn new() -> Catalogue {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        for d in ["in", "out", "cwd"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        Catalogue {
            _tmp: tmp,
            root,
            cases: Vec::new(),
            next_out: 0,
        }
    }

    /// Writes an input file and returns its path.
    fn input(&self, name: &str, bytes: impl AsRef<[u8]>) -> String {
        let path = self.root.join("in").join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, bytes).unwrap();
        path.display().to_string()
    }

    /// An empty input folder.
    fn folder(&self, name: &str) -> String {
        let path = self.root.join("in").join(name);
        std::fs::create_dir_all(&path).unwrap();
        path.display().to_string()
    }

    /// A fresh output path (never created by the catalogue itself).
    fn out(&mut self, name: &str) -> String {
        self.next_out += 1;
        let path = self
            .root
            .join("out")
            .join(format!("{}-{name}", self.next_out));
        path.display().to_string()
    }

    /// Adds a case: `args` as given, stderr must contain every `want`; every argument that
    /// follows `--out`, `--md`, `--json`, `--html` or `--junit` must not exist afterwards.
    fn case(&mut self, name: &str, args: &[&str], want: &[&str]) {
        let outputs = args
            .windows(2)
            .filter(|w| matches!(w[0], "--out" | "--md" | "--json" | "--html" | "--junit"))
            .map(|w| PathBuf::from(w[1]))
            .collect();
        self.cases.push(Case {
            name: name.to_string(),
            args: args.iter().map(|a| a.to_string()).collect(),
            want: want.iter().map(|w| w.to_string()).collect(),
            outputs,
        });
    }

    /// A run command with a fresh `--out` folder appended.
    fn run_case(&mut self, name: &str, args: &[&str], want: &[&str]) {
        let out = self.out("run");
        let mut all = args.to_vec();
        all.extend(["--out", &out, "--quiet"]);
        self.case(name, &all, want);
    }
}

/// Every file and folder under `dir`.
fn tree(dir: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            out.insert(p);
        }
    }
    out
}

/// Runs one case; `Err` says everything that was wrong.
fn check(case: &Case, root: &Path) -> Result<(), String> {
    let before = tree(root);
    let mut child = Command::new(env!("CARGO_BIN_EXE_loadtest"))
        .args(&case.args)
        .current_dir(root.join("cwd"))
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("JOB_COMPLETION_INDEX")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start loadtest: {e}"))?;
    // Bad input is refused before anything runs: a case must end within 2 s (it takes tens
    // of milliseconds); one still going after 30 s is killed.
    let started = Instant::now();
    let deadline = started + Duration::from_secs(30);
    while child.try_wait().map_err(|e| e.to_string())?.is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err("still running after 30 s (bad input must be refused at once)".into());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let elapsed = started.elapsed();
    let o = child.wait_with_output().map_err(|e| e.to_string())?;
    let err = String::from_utf8_lossy(&o.stderr);
    if std::env::var_os("BAD_INPUT_VERBOSE").is_some() {
        println!("  {:<45} {}", case.name, err.trim_end());
    }
    let mut problems = Vec::new();
    if elapsed > Duration::from_secs(2) {
        problems.push(format!(
            "took {:.1} s, want under 2 s",
            elapsed.as_secs_f64()
        ));
    }
    if o.status.code() != Some(2) {
        problems.push(format!("exit code {:?}, want 2", o.status.code()));
    }
    let lines = err.trim_end().lines().count();
    if lines != 1 {
        problems.push(format!("{lines} lines on stderr, want exactly 1"));
    }
    if err.contains("panicked") || err.contains("RUST_BACKTRACE") {
        problems.push("panicked".into());
    }
    for w in &case.want {
        if !err.contains(w.as_str()) {
            problems.push(format!("stderr does not name {w:?}"));
        }
    }
    for p in &case.outputs {
        if p.exists() {
            problems.push(format!("left {} behind", p.display()));
        }
    }
    let after = tree(root);
    let new: Vec<String> = after
        .difference(&before)
        .map(|p| p.display().to_string())
        .collect();
    if !new.is_empty() {
        problems.push(format!("left new files behind: {}", new.join(", ")));
        for p in after.difference(&before).collect::<Vec<_>>().iter().rev() {
            let _ = std::fs::remove_file(p).or_else(|_| std::fs::remove_dir(p));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}\n      stderr: {}",
            problems.join("; "),
            err.trim_end()
        ))
    }
}

/// A valid run record as JSON: the exporters' fixture, marked as the only shard of its run so
/// that `merge` gets past its shard checks and reaches the record's own problems.
fn record_json() -> Value {
    let mut v = serde_json::to_value(fixture()).unwrap();
    v["meta"]["shard"] = json!({"index": 0, "count": 1, "profile_plan": "5,4s;5,6s;0,0"});
    v
}

fn with(mut v: Value, pointer: &str, value: Value) -> String {
    *v.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("no {pointer} in the fixture")) = value;
    serde_json::to_string_pretty(&v).unwrap()
}

fn cli_cases(c: &mut Catalogue) {
    let run =
        |c: &mut Catalogue, name: &str, args: &[&str], want: &[&str]| c.run_case(name, args, want);
    run(c, "unknown flag", &["smoke", "--bogus"], &["'--bogus'"]);
    run(
        c,
        "rate 0/s",
        &["smoke", "--rate", "0/s"],
        &["--rate", "0/s"],
    );
    run(
        c,
        "rate unit",
        &["load", "--rate", "5/fortnight"],
        &["--rate", "/fortnight"],
    );
    run(
        c,
        "rate not a number",
        &["load", "--rate", "fast"],
        &["--rate", "'fast'"],
    );
    run(c, "negative scale", &["smoke", "--scale=-1"], &["--scale"]);
    run(c, "zero scale", &["stress", "--scale", "0"], &["--scale"]);
    run(c, "NaN scale", &["stress", "--scale", "NaN"], &["--scale"]);
    run(
        c,
        "scale not a number",
        &["spike", "--scale", "big"],
        &["--scale", "'big'"],
    );
    run(c, "zero users", &["smoke", "--users", "0"], &["--users"]);
    run(
        c,
        "negative users",
        &["smoke", "--users=-5"],
        &["--users", "-5"],
    );
    run(
        c,
        "huge users",
        &["load", "--users", "99999999999"],
        &["--users"],
    );
    run(
        c,
        "duration without unit",
        &["smoke", "--duration", "10"],
        &["--duration", "unit"],
    );
    run(
        c,
        "zero duration",
        &["smoke", "--duration", "0s"],
        &["--duration"],
    );
    run(
        c,
        "duration out of range",
        &["load", "--duration", "100000h"],
        &["--duration", "out of range"],
    );
    run(
        c,
        "bad ramp unit",
        &["load", "--ramp", "5x"],
        &["--ramp", "'x'"],
    );
    run(
        c,
        "timeout not a duration",
        &["smoke", "--timeout", "soon"],
        &["--timeout", "'soon'"],
    );
    run(
        c,
        "zero timeout",
        &["smoke", "--timeout", "0s"],
        &["--timeout", "at least 1ms"],
    );
    run(
        c,
        "sub-ms timeout",
        &["smoke", "--timeout", "100us"],
        &["--timeout", "at least 1ms"],
    );
    run(
        c,
        "ftp host",
        &["smoke", "--host", "ftp://127.0.0.1:21"],
        &["--host", "scheme must be http"],
    );
    run(
        c,
        "host not a URL",
        &["smoke", "--host", "not a url"],
        &["--host", "not a URL"],
    );
    run(
        c,
        "host without scheme",
        &["load", "--host", "127.0.0.1:8080"],
        &["--host", "127.0.0.1:8080"],
    );
    run(
        c,
        "empty host",
        &["smoke", "--host", "http://"],
        &["--host", "not a URL"],
    );
    run(
        c,
        "broken IPv6 host",
        &["smoke", "--host", "http://[::1"],
        &["--host", "IPv6"],
    );
    run(
        c,
        "server-metrics not a URL",
        &["smoke", "--server-metrics", "nope"],
        &["--server-metrics", "not a URL"],
    );
    run(
        c,
        "server-metrics conflicts",
        &[
            "smoke",
            "--no-server-metrics",
            "--server-metrics",
            "http://127.0.0.1:1/metrics",
        ],
        &["--no-server-metrics", "--server-metrics"],
    );
    run(
        c,
        "missing metrics map",
        &["smoke", "--server-metrics-map", "/nonexistent/m.toml"],
        &["/nonexistent/m.toml"],
    );
    let map = c.input("m-bad.toml", "[cache_hit]\nmetric = \n");
    run(
        c,
        "invalid metrics map",
        &["smoke", "--server-metrics-map", &map],
        &["m-bad.toml", "server-metrics mapping"],
    );
    run(
        c,
        "shard index out of range",
        &["smoke", "--shard", "3/2"],
        &["--shard", "out of range"],
    );
    run(
        c,
        "shard zero count",
        &["load", "--shard", "0/0"],
        &["--shard", "between 1 and"],
    );
    run(
        c,
        "start-at not a time",
        &["smoke", "--start-at", "yesterday"],
        &["--start-at", "RFC 3339"],
    );
    run(
        c,
        "start-at long past",
        &["smoke", "--start-at", "2001-01-01T00:00:00Z"],
        &["--start-at", "past"],
    );
    run(
        c,
        "run id with space",
        &["smoke", "--run-id", "a b"],
        &["--run-id"],
    );
    run(
        c,
        "zero rate users",
        &["smoke", "--rate", "5/s", "--rate-users", "0"],
        &["--rate-users"],
    );
    run(
        c,
        "bad target mode",
        &["smoke", "--target-mode", "turbo"],
        &["--target-mode", "'turbo'", "baseline"],
    );
    run(
        c,
        "unknown profile",
        &["run", "nope"],
        &["unknown profile 'nope'", "smoke"],
    );
    c.case("run without profile", &["run"], &["<PROFILE>"]);
    c.case("no subcommand", &[], &["subcommand", "smoke", "compare"]);
    c.case("unknown subcommand", &["frobnicate"], &["'frobnicate'"]);
    c.case(
        "profiles unknown flag",
        &["profiles", "--users", "3"],
        &["'--users'"],
    );
    c.case(
        "profiles missing file",
        &["profiles", "--profiles", "/nonexistent/p.toml"],
        &["/nonexistent/p.toml", "cannot read"],
    );
    c.case(
        "serve bad mode",
        &["serve", "--mode", "fastest"],
        &["--mode", "'fastest'"],
    );
    c.case(
        "serve bad bind",
        &["serve", "--bind", "localhost"],
        &["--bind", "'localhost'"],
    );
    c.case(
        "serve bad stall",
        &["serve", "--stall", "10s/1s"],
        &["shorter than the period"],
    );
    c.case(
        "serve bad error rate",
        &["serve", "--inject-error-rate", "2"],
        &["--inject-error-rate"],
    );
    c.case(
        "serve bad latency",
        &["serve", "--inject-latency", "10"],
        &["--inject-latency", "unit"],
    );
    c.case(
        "serve bad hash cost",
        &["serve", "--hash-cost", "m=1,t=1,p=1"],
        &["--hash-cost"],
    );
    c.case(
        "serve bad token ttl",
        &["serve", "--token-ttl", "forever"],
        &["--token-ttl"],
    );
    c.case(
        "serve unsupported database",
        &[
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--database-url",
            "mysql://x",
        ],
        &["unsupported database URL"],
    );
    c.case("report without input", &["report"], &["<RUN.json>"]);
    c.case(
        "report bad format",
        &["report", "x.json", "--format", "pdf"],
        &["--format", "'pdf'", "html"],
    );
    let out = c.out("report.html");
    c.case(
        "report missing input",
        &["report", "/nonexistent/run.json", "--out", &out],
        &["/nonexistent/run.json", "cannot read"],
    );
    c.case("merge without --out", &["merge", "a.json"], &["--out"]);
    c.case(
        "merge without shards",
        &["merge", "--out", "x"],
        &["<SHARD.json>"],
    );
    c.case(
        "compare one path",
        &["compare", "a.json"],
        &["compare takes BASELINE CANDIDATE"],
    );
    c.case(
        "compare three paths",
        &["compare", "a", "b", "c"],
        &["compare takes BASELINE CANDIDATE"],
    );
    c.case(
        "compare missing paths",
        &["compare", "/nonexistent/a", "/nonexistent/b"],
        &["/nonexistent/a", "no such file"],
    );
    c.case(
        "compare bad min-effect",
        &["compare", "a", "b", "--min-effect", "lots"],
        &["--min-effect", "'lots'"],
    );
    c.case(
        "ab without hosts",
        &["ab", "smoke"],
        &["--baseline-host", "--candidate-host"],
    );
    let out = c.out("ab");
    c.case(
        "ab host not a URL",
        &[
            "ab",
            "smoke",
            "--baseline-host",
            "nope",
            "--candidate-host",
            "http://127.0.0.1:1",
            "--out",
            &out,
        ],
        &["--host 'nope'", "not a URL"],
    );
    c.case(
        "ab with --host",
        &[
            "ab",
            "smoke",
            "--baseline-host",
            "http://127.0.0.1:1",
            "--candidate-host",
            "http://127.0.0.1:1",
            "--host",
            "http://127.0.0.1:1",
        ],
        &["not --host"],
    );
    c.case(
        "ab zero runs",
        &[
            "ab",
            "smoke",
            "--baseline-host",
            "http://127.0.0.1:1",
            "--candidate-host",
            "http://127.0.0.1:1",
            "--runs",
            "0",
        ],
        &["--runs"],
    );
    c.case(
        "ab alpha out of range",
        &[
            "ab",
            "smoke",
            "--baseline-host",
            "http://127.0.0.1:1",
            "--candidate-host",
            "http://127.0.0.1:1",
            "--alpha",
            "0.9",
        ],
        &["--alpha 0.9"],
    );
    c.case(
        "completions unknown shell",
        &["completions", "tcsh"],
        &["'tcsh'", "bash"],
    );
}

fn profile_cases(c: &mut Catalogue) {
    let files: &[(&str, &str, &str, &[&str])] = &[
        ("missing stages", "p-nostages.toml", "[profiles.x]\n", &["p-nostages.toml", "stages"]),
        ("empty stages", "p-empty.toml", "[profiles.x]\nstages = []\n", &["p-empty.toml", "profile 'x'", "at least one stage"]),
        ("unknown profile key", "p-key.toml", "[profiles.x]\nstages = [{ users = 1, hold = \"1s\" }]\nbogus = 1\n", &["p-key.toml", "bogus"]),
        ("unknown stage key", "p-stagekey.toml", "[profiles.x]\nstages = [{ users = 1, hold = \"1s\", color = \"red\" }]\n", &["p-stagekey.toml", "color"]),
        ("unknown top-level key", "p-top.toml", "bogus = 1\n", &["p-top.toml", "bogus"]),
        ("zero users", "p-zero.toml", "[profiles.x]\nstages = [{ users = 0, hold = \"1s\" }]\n", &["p-zero.toml", "stages[0].users"]),
        ("bad hold", "p-hold.toml", "[profiles.x]\nstages = [{ users = 1, hold = \"forever\" }]\n", &["p-hold.toml", "stages[0].hold"]),
        ("negative ramp", "p-ramp.toml", "[profiles.x]\nstages = [{ users = 1, ramp = \"-1s\", hold = \"1s\" }]\n", &["p-ramp.toml", "stages[0].ramp"]),
        ("huge hold", "p-huge.toml", "[profiles.x]\nstages = [{ users = 1, hold = \"99999999999h\" }]\n", &["p-huge.toml", "stages[0].hold", "out of range"]),
        ("zero total duration", "p-dur0.toml", "[profiles.x]\nstages = [{ users = 1, hold = \"0s\" }]\n", &["p-dur0.toml", "total duration is zero"]),
        ("mixed rate and users", "p-mixed.toml", "[profiles.x]\nstages = [{ rate = \"5/s\", hold = \"1s\" }, { users = 2, hold = \"1s\" }]\n", &["p-mixed.toml", "mixes `rate`"]),
        ("zero rate", "p-rate0.toml", "[profiles.x]\nstages = [{ rate = \"0/s\", hold = \"1s\" }]\n", &["p-rate0.toml", "stages[0].rate"]),
        ("all-zero weights", "p-w0.toml", "[profiles.x]\nstages = [{ users = 1, hold = \"1s\" }]\nweights = { validate = 0, login = 0, refresh = 0, logout = 0 }\n", &["p-w0.toml", "weights"]),
        ("negative weight", "p-wneg.toml", "[profiles.x]\nstages = [{ users = 1, hold = \"1s\" }]\nweights = { validate = -1 }\n", &["p-wneg.toml", "-1"]),
        ("invalid TOML", "p-toml.toml", "[profiles.x\nstages = ", &["p-toml.toml", "line 1"]),
    ];
    for (i, (name, file, text, want)) in files.iter().enumerate() {
        let path = c.input(file, text);
        if i % 2 == 0 {
            c.case(
                &format!("profiles: {name}"),
                &["profiles", "--profiles", &path],
                want,
            );
        } else {
            c.run_case(
                &format!("profiles: {name}"),
                &["run", "x", "--profiles", &path],
                want,
            );
        }
    }
    let path = c.input("p-utf8.toml", b"\xff\xfe[profiles.x]\n");
    c.case(
        "profiles: not UTF-8",
        &["profiles", "--profiles", &path],
        &["p-utf8.toml", "UTF-8"],
    );
    let path = c.input(
        "p-ok.toml",
        "[profiles.x]\nstages = [{ users = 1, hold = \"1s\" }]\n",
    );
    c.run_case(
        "profiles: profile not in file",
        &["run", "smoke", "--profiles", &path],
        &["unknown profile 'smoke'", "known: x"],
    );
}

fn threshold_cases(c: &mut Catalogue) {
    let rules: &[(&str, &[&str])] = &[
        ("p95<500", &["'p95<500'", "needs a unit"]),
        (
            "validate p95 fast",
            &["'validate p95 fast'", "missing comparison operator"],
        ),
        ("p95<", &["'p95<'", "missing limit"]),
        ("p101<1s", &["'p101<1s'", "percentile"]),
        ("validate: p95<10parsec", &["parsec"]),
        ("error-rate<150%", &["'error-rate<150%'", "at most 100%"]),
        ("bad scope!: p95<1ms", &["invalid scope"]),
        ("count>1.5", &["'count>1.5'", "bare integer"]),
        ("server: p95<1s", &["scope 'server'"]),
        (
            "login: rate(429)<1% during hold",
            &["rate(CLASS) cannot take 'during'"],
        ),
        ("p95<1s during h@ld", &["'during' needs a phase name"]),
        ("p95\n<5\nparsec", &["'p95\\n<5\\nparsec'"]),
    ];
    for (rule, want) in rules {
        c.run_case(
            &format!("threshold {rule:?}"),
            &["smoke", "--threshold", rule],
            want,
        );
    }
    let files: &[(&str, &str, &str, &[&str])] = &[
        (
            "bad rule in file",
            "t-rule.toml",
            "rules = [\"p95<1s\", \"p95<500\"]\n",
            &["t-rule.toml", "rules[1]", "'p95<500'"],
        ),
        (
            "rules not a list",
            "t-type.toml",
            "rules = \"p95<1s\"\n",
            &["t-type.toml", "line 1"],
        ),
        (
            "unknown key",
            "t-key.toml",
            "rulez = []\n",
            &["t-key.toml", "rulez"],
        ),
        (
            "invalid TOML",
            "t-toml.toml",
            "rules = [\n",
            &["t-toml.toml", "invalid thresholds file"],
        ),
        (
            "rule not a string",
            "t-int.toml",
            "rules = [95]\n",
            &["t-int.toml"],
        ),
    ];
    for (name, file, text, want) in files {
        let path = c.input(file, text);
        c.run_case(
            &format!("thresholds file: {name}"),
            &["load", "--thresholds", &path],
            want,
        );
    }
    c.run_case(
        "thresholds file missing",
        &["smoke", "--thresholds", "/nonexistent/t.toml"],
        &["/nonexistent/t.toml", "cannot read thresholds file"],
    );
}

fn contract_cases(c: &mut Catalogue) {
    let good = loadtest::contract::REFERENCE_CONTRACT_TOML;
    let edit = |from: &str, to: &str| {
        assert!(good.contains(from), "reference contract has no {from:?}");
        good.replacen(from, to, 1)
    };
    let files: Vec<(&str, &str, String, &[&str])> = vec![
        (
            "unknown placeholder",
            "c-ph.toml",
            edit("Bearer {token}", "Bearer {tokn}"),
            &["c-ph.toml", "auth.value", "{tokn}"],
        ),
        (
            "missing login.token",
            "c-token.toml",
            edit(
                "token = \"/access_token\"\nrefresh_token = \"/refresh_token\"\n\n[validate]",
                "refresh_token = \"/refresh_token\"\n\n[validate]",
            ),
            &["c-token.toml", "login.token"],
        ),
        (
            "invalid header name",
            "c-header.toml",
            edit("header = \"Authorization\"", "header = \"Auth orization\""),
            &["c-header.toml", "auth.header", "'Auth orization'"],
        ),
        (
            "invalid extra header",
            "c-xheader.toml",
            edit("[signup]", "[headers]\n\"X Bad\" = \"x\"\n\n[signup]"),
            &["c-xheader.toml", "headers", "'X Bad'"],
        ),
        (
            "bad JSON pointer",
            "c-ptr.toml",
            edit("token = \"/access_token\"", "token = \"access_token\""),
            &["c-ptr.toml", "login.token", "JSON pointer"],
        ),
        (
            "invalid TOML",
            "c-toml.toml",
            good[..200].to_string(),
            &["c-toml.toml", "line"],
        ),
        (
            "unknown top-level key",
            "c-key.toml",
            edit("[identity]", "retries = 3\n\n[identity]"),
            &["c-key.toml", "retries"],
        ),
        (
            "unknown endpoint key",
            "c-epkey.toml",
            edit("[login]\n", "[login]\nretry = 3\n"),
            &["c-epkey.toml", "retry"],
        ),
        (
            "empty file",
            "c-empty.toml",
            String::new(),
            &["c-empty.toml", "name"],
        ),
        (
            "status out of range",
            "c-999.toml",
            edit("success = [201]", "success = [999]"),
            &["c-999.toml", "signup.success", "999"],
        ),
        (
            "no success status",
            "c-nosuccess.toml",
            edit("success = [201]", "success = []"),
            &["c-nosuccess.toml", "signup.success"],
        ),
        (
            "status not u16",
            "c-u16.toml",
            edit("success = [201]", "success = [70000]"),
            &["c-u16.toml", "70000"],
        ),
        (
            "relative path",
            "c-path.toml",
            edit("path = \"/api/v1/auth/me\"", "path = \"api/v1/auth/me\""),
            &["c-path.toml", "validate.path"],
        ),
        (
            "bad method",
            "c-method.toml",
            edit("method = \"GET\"", "method = \"FETCH\""),
            &["c-method.toml", "FETCH"],
        ),
        (
            "identity without {user}",
            "c-user.toml",
            edit("lt-{run}-{user}@example.com", "fixed@example.com"),
            &["c-user.toml", "{user}"],
        ),
        (
            "fields with body none",
            "c-body.toml",
            edit(
                "path = \"/api/v1/auth/me\"",
                "path = \"/api/v1/auth/me\"\nfields = { a = \"b\" }",
            ),
            &["c-body.toml", "validate.fields"],
        ),
        (
            "unsupported version",
            "c-version.toml",
            edit("name = \"reference\"", "version = 3\nname = \"reference\""),
            &["c-version.toml", "version = 3"],
        ),
        (
            "capture with two sources",
            "c-capture.toml",
            edit("[validate]\n", "capture.x = { json = \"/a\", cookie = \"b\" }\n\n[validate]\n"),
            &["c-capture.toml", "login.capture.x", "exactly one of"],
        ),
        (
            "capture regex invalid",
            "c-regex.toml",
            edit("[validate]\n", "capture.x = { regex = \"([a-\" }\n\n[validate]\n"),
            &["c-regex.toml", "login.capture.x.regex"],
        ),
        (
            "placeholder never captured",
            "c-nevercap.toml",
            edit("path = \"/api/v1/auth/me\"", "path = \"/api/v1/users/{user_id}\""),
            &["c-nevercap.toml", "validate.path", "{user_id}"],
        ),
        (
            "form field is a table",
            "c-formtable.toml",
            edit("fields = { email = \"{email}\", password = \"{password}\" }\nsuccess = [201]", "body = \"form\"\nfields = { user = { email = \"{email}\" } }\nsuccess = [201]").replacen("body = \"json\"\nbody = \"form\"", "body = \"form\"", 1),
            &["c-formtable.toml", "signup.fields.user"],
        ),
        (
            "framing header",
            "c-framing.toml",
            edit("[signup]", "[headers]\n\"Content-Length\" = \"0\"\n\n[signup]"),
            &["c-framing.toml", "headers", "'Content-Length' cannot be set"],
        ),
        (
            "Host header",
            "c-host.toml",
            edit("[signup]", "[headers]\nHost = \"evil.example\"\n\n[signup]"),
            &["c-host.toml", "headers", "'Host' cannot be set"],
        ),
        (
            "CR/LF in a header value",
            "c-crlf.toml",
            edit("[signup]", "[headers]\nX-A = \"a\\r\\nX-Injected: 1\"\n\n[signup]"),
            &["c-crlf.toml", "headers.X-A", "control character"],
        ),
        (
            "scheme-relative path",
            "c-slashes.toml",
            edit("path = \"/api/v1/auth/me\"", "path = \"//evil.example/me\""),
            &["c-slashes.toml", "validate.path", "'//'"],
        ),
        (
            "absolute URL as path",
            "c-abs.toml",
            edit("path = \"/api/v1/auth/me\"", "path = \"http://evil.example/me\""),
            &["c-abs.toml", "validate.path", "must start with '/'"],
        ),
        (
            "no auth without cookies",
            "c-noauth.toml",
            edit("[auth]\n# How the token is sent on validate / logout.\nheader = \"Authorization\"\nvalue = \"Bearer {token}\"\n", ""),
            &["c-noauth.toml", "[auth] is required"],
        ),
    ];
    for (i, (name, file, text, want)) in files.iter().enumerate() {
        let path = c.input(file, text);
        let profile = ["smoke", "load", "stress", "spike"][i % 4];
        c.run_case(
            &format!("contract: {name}"),
            &[profile, "--contract", &path],
            want,
        );
    }
    let path = c.input("c-utf8.toml", b"\xff\xfe\x00name");
    c.run_case(
        "contract: not UTF-8",
        &["smoke", "--contract", &path],
        &["c-utf8.toml", "UTF-8"],
    );
    c.run_case(
        "contract: missing file",
        &["smoke", "--contract", "/nonexistent/c.toml"],
        &["/nonexistent/c.toml", "cannot read contract"],
    );
}

/// Broken run.json files, each given to `report`, `compare` or `merge` in turn.
fn record_cases(c: &mut Catalogue) {
    let good = serde_json::to_string_pretty(&record_json()).unwrap();
    let good_path = c.input("good/run.json", &good);
    let r = record_json;
    let files: Vec<(&str, Vec<u8>, &[&str])> = vec![
        (
            "truncated",
            good.as_bytes()[..good.len() / 2].to_vec(),
            &["not valid JSON", "truncated"],
        ),
        ("empty", Vec::new(), &["empty file"]),
        ("whitespace only", b" \n\t\n".to_vec(), &["empty file"]),
        (
            "not UTF-8",
            b"{\"schema_version\": 1, \"meta\": \"\xff\xfe\"}".to_vec(),
            &["UTF-8"],
        ),
        (
            "a JSON array",
            b"[1, 2, 3]".to_vec(),
            &["no schema_version"],
        ),
        (
            "schema_version 2",
            with(r(), "/schema_version", json!(2)).into_bytes(),
            &["schema_version 2", "not supported"],
        ),
        (
            "schema_version as text",
            with(r(), "/schema_version", json!("1")).into_bytes(),
            &["schema_version must be a whole number"],
        ),
        (
            "requests as text",
            with(r(), "/flows/0/requests", json!("many")).into_bytes(),
            &["flows[0].requests"],
        ),
        (
            "meta not an object",
            with(r(), "/meta", json!(5)).into_bytes(),
            &["meta"],
        ),
        (
            "flows missing",
            {
                let mut v = r();
                v.as_object_mut().unwrap().remove("flows");
                serde_json::to_vec(&v).unwrap()
            },
            &["flows"],
        ),
        (
            "number 1e400",
            {
                let huge = good.replacen("\"duration_s\": 10.0", "\"duration_s\": 1e400", 1);
                assert_ne!(huge, good, "fixture has no duration_s 10.0");
                huge.into_bytes()
            },
            &["not valid JSON", "out of range"],
        ),
        (
            "integer beyond u64",
            with(r(), "/flows/0/ok", json!(1e30)).into_bytes(),
            &["flows[0].ok"],
        ),
        (
            "negative count",
            with(r(), "/flows/1/failed", json!(-1)).into_bytes(),
            &["flows[1].failed"],
        ),
        (
            "negative duration",
            with(r(), "/meta/duration_s", json!(-5.0)).into_bytes(),
            &["meta.duration_s"],
        ),
        (
            "histogram not base64",
            with(r(), "/flows/0/histogram", json!("!!!not base64!!!")).into_bytes(),
            &["flow 'login'", "histogram is not base64"],
        ),
        (
            "histogram base64 garbage",
            with(r(), "/flows/1/histogram", json!("aGVsbG8gd29ybGQ=")).into_bytes(),
            &["flow 'validate'", "histogram does not decode"],
        ),
        (
            "per-second histogram garbage",
            with(r(), "/flows/1/per_second/3/histogram", json!("AAAA")).into_bytes(),
            &["flow 'validate' second 3"],
        ),
        (
            "ok + failed != requests",
            {
                let v = r();
                let ok = v["flows"][1]["ok"].as_u64().unwrap();
                with(v, "/flows/1/ok", json!(ok + 1)).into_bytes()
            },
            &["flow 'validate'", "!= requests"],
        ),
        (
            "error classes don't add up",
            with(r(), "/flows/0/errors", json!({"503": 1})).into_bytes(),
            &["flow 'login'", "error classes sum to 1"],
        ),
        (
            "histogram count != requests",
            {
                let v = r();
                let n = v["flows"][1]["requests"].as_u64().unwrap();
                let mut v = with(v, "/flows/1/requests", json!(n + 1))
                    .parse::<Value>()
                    .unwrap();
                let ok = v["flows"][1]["ok"].as_u64().unwrap();
                v["flows"][1]["ok"] = json!(ok + 1);
                serde_json::to_vec(&v).unwrap()
            },
            &["flow 'validate'", "is 2001"],
        ),
        (
            "duration 1e300 s",
            with(r(), "/meta/duration_s", json!(1e300)).into_bytes(),
            &["meta.duration_s", "366 days"],
        ),
        (
            "deeply nested",
            format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes(),
            &["not valid JSON"],
        ),
    ];
    for (i, (name, bytes, want)) in files.into_iter().enumerate() {
        let file = format!("bad-{i:02}.json");
        let path = c.input(&file, &bytes);
        let mut want: Vec<&str> = want.to_vec();
        want.push(&file);
        match i % 4 {
            0 => {
                let out = c.out("report.html");
                c.case(
                    &format!("run.json {name} (report)"),
                    &["report", &path, "--out", &out],
                    &want,
                );
            }
            1 => {
                // The default output goes next to the input: it must not be written either.
                c.case(
                    &format!("run.json {name} (report --format md)"),
                    &["report", &path, "--format", "md"],
                    &want,
                );
            }
            2 => {
                let (md, js) = (c.out("compare.md"), c.out("compare.json"));
                c.case(
                    &format!("run.json {name} (compare)"),
                    &["compare", &good_path, &path, "--md", &md, "--json", &js],
                    &want,
                );
            }
            _ => {
                let out = c.out("merged");
                c.case(
                    &format!("run.json {name} (merge)"),
                    &["merge", &path, "--out", &out],
                    &want,
                );
            }
        }
    }
}

fn compare_cases(c: &mut Catalogue) {
    let a = synthetic(20, &["login", "validate"], 5, 50);
    let b = synthetic(20, &["login", "validate", "refresh"], 5, 50);
    let a_path = c.input("flows-a/run.json", serde_json::to_vec(&a).unwrap());
    let b_path = c.input("flows-b/run.json", serde_json::to_vec(&b).unwrap());
    let (md, js) = (c.out("compare.md"), c.out("compare.json"));
    c.case(
        "compare: different flows",
        &["compare", &a_path, &b_path, "--md", &md, "--json", &js],
        &["different flows", "refresh"],
    );
    let empty = c.folder("no-runs");
    let md = c.out("compare.md");
    c.case(
        "compare: folder with no runs",
        &["compare", &empty, &a_path, "--md", &md],
        &["no-runs", "no run.json found"],
    );
    let bad_dir = c.folder("runs-with-a-bad-one");
    c.input(
        "runs-with-a-bad-one/1.json",
        serde_json::to_vec(&a).unwrap(),
    );
    c.input("runs-with-a-bad-one/2.json", "{\"schema_version\": 1");
    let js = c.out("compare.json");
    c.case(
        "compare: a bad run inside a folder",
        &[
            "compare",
            "--baseline",
            &bad_dir,
            "--candidate",
            &a_path,
            "--json",
            &js,
        ],
        &["runs-with-a-bad-one/2.json"],
    );
    for alpha in ["0.7", "0", "-1", "NaN"] {
        let md = c.out("compare.md");
        let flag = format!("--alpha={alpha}");
        c.case(
            &format!("compare: --alpha {alpha}"),
            &["compare", &a_path, &a_path, &flag, "--md", &md],
            &["--alpha"],
        );
    }
    let md = c.out("compare.md");
    c.case(
        "compare: --baseline without --candidate",
        &["compare", "--baseline", &a_path, "--md", &md],
        &["--baseline RUN… --candidate RUN…"],
    );
    let md = c.out("compare.md");
    c.case(
        "compare: --min-effect over 100%",
        &[
            "compare",
            &a_path,
            &a_path,
            "--min-effect",
            "150%",
            "--md",
            &md,
        ],
        &["--min-effect", "'150%'"],
    );
    // One output path is unwritable (missing folders are created, but not under a regular
    // file): no other output may be left behind.
    let md = c.out("compare.md");
    let under_file = format!("{a_path}/dir");
    let json = format!("{under_file}/c.json");
    c.case(
        "compare: unwritable --json",
        &["compare", &a_path, &a_path, "--md", &md, "--json", &json],
        &[&under_file, "cannot create the folder"],
    );
    let out = c.out("merged");
    c.case(
        "merge: not a shard",
        &["merge", &a_path, "--out", &out],
        &["flows-a/run.json", "not a shard"],
    );
}

/// Every documented limit (docs/LIMITS.md), too large and too small, on the command line and
/// inside profile and rule files: refused at once, naming the limit.
fn bound_cases(c: &mut Catalogue) {
    let runs: &[(&str, &[&str], &[&str])] = &[
        (
            "users 2^32-1",
            &["load", "--users", "4294967295"],
            &["--users 4294967295: at most 100000 users"],
        ),
        (
            "users beyond u64",
            &["load", "--users", "99999999999999999999999"],
            &["--users", "far too large"],
        ),
        (
            "rate-users 2^32-1",
            &["smoke", "--rate", "5/s", "--rate-users", "4294967295"],
            &["--rate-users 4294967295: at most 100000 users"],
        ),
        (
            "target-seed-users too many",
            &["smoke", "--target-seed-users", "99999999999"],
            &["--target-seed-users 99999999999: at most 1000000 users"],
        ),
        (
            "duration over 1h",
            &["load", "--duration", "2h"],
            &["--duration 2h: at most 3600s"],
        ),
        (
            "ramp over 1h",
            &["load", "--ramp", "61m"],
            &["--ramp 61m: at most 3600s"],
        ),
        (
            "ramps add up over 1h",
            &["spike", "--ramp", "30m"],
            &["profile 'spike'", "at most 3600s"],
        ),
        (
            "scale 1000",
            &["smoke", "--scale", "1000"],
            &["--scale 1000: at most 100"],
        ),
        (
            "scale makes the run too long",
            &["stress", "--scale", "50"],
            &["profile 'stress'", "at most 3600s"],
        ),
        (
            "timeout over 5m",
            &["smoke", "--timeout", "1h"],
            &["--timeout 1h: at most 300s"],
        ),
        (
            "rate 1e-300/s",
            &["smoke", "--rate", "1e-300/s"],
            &["--rate", "'1e-300/s': at least 0.1/s"],
        ),
        (
            "rate 1/m",
            &["smoke", "--rate", "1/m"],
            &["--rate", "at least 0.1/s"],
        ),
        (
            "rate over 1M/s",
            &["load", "--rate", "2000000/s"],
            &["--rate", "at most 1000000/s"],
        ),
        (
            "latency rule over 1h",
            &["smoke", "--threshold", "p95<61m"],
            &["'p95<61m'", "at most 60m"],
        ),
    ];
    for (name, args, want) in runs {
        c.run_case(&format!("bound: {name}"), args, want);
    }
    let capacity: &[(&str, &[&str], &[&str])] = &[
        (
            "capacity --start 1e-300/s",
            &["--start", "1e-300/s"],
            &["--start", "at least 0.1/s"],
        ),
        (
            "capacity --max 1e9/s",
            &["--max", "1e9/s"],
            &["--max", "at most 1000000/s"],
        ),
        (
            "capacity --step-duration 1h",
            &["--step-duration", "1h"],
            &["--step-duration 1h: at most 600s"],
        ),
        (
            "capacity --step-duration 1s",
            &["--step-duration", "1s"],
            &["--step-duration 1s: at least 2s"],
        ),
        (
            "capacity --bisect 1000",
            &["--bisect", "1000"],
            &["--bisect 1000: at most 20 steps"],
        ),
    ];
    for (name, args, want) in capacity {
        let out = c.out("capacity");
        let mut all = vec!["capacity"];
        all.extend_from_slice(args);
        all.extend(["--out", &out, "--quiet"]);
        c.case(&format!("bound: {name}"), &all, want);
    }
    let out = c.out("ab");
    c.case(
        "bound: ab --runs 1000",
        &[
            "ab",
            "smoke",
            "--baseline-host",
            "http://127.0.0.1:1",
            "--candidate-host",
            "http://127.0.0.1:1",
            "--runs",
            "1000",
            "--out",
            &out,
        ],
        &["--runs 1000: at most 100 runs per side"],
    );
    let serve: &[(&str, &[&str], &[&str])] = &[
        (
            "serve --seed-users too many",
            &["--seed-users", "4294967295"],
            &["--seed-users 4294967295: at most 1000000 users"],
        ),
        (
            "hash cost m=2^32-1",
            &["--hash-cost", "m=4294967295,t=2,p=1"],
            &["--hash-cost m=4294967295,t=2,p=1: m at most 65536 KiB"],
        ),
        (
            "hash cost t=1000",
            &["--hash-cost", "m=1024,t=1000,p=1"],
            &["--hash-cost", "t at most 10"],
        ),
        (
            "hash cost p=255",
            &["--hash-cost", "m=65536,t=1,p=255"],
            &["--hash-cost", "p at most 16"],
        ),
        (
            "token ttl over 30 days",
            &["--token-ttl", "1000h"],
            &["--token-ttl 1000h: at most 2592000s"],
        ),
        (
            "token ttl under 1s",
            &["--token-ttl", "10ms"],
            &["--token-ttl 10ms: at least 1s"],
        ),
        (
            "inject latency over 5m",
            &["--inject-latency", "1h"],
            &["--inject-latency 1h: at most 300s"],
        ),
    ];
    for (name, args, want) in serve {
        let mut all = vec!["serve", "--bind", "127.0.0.1:0"];
        all.extend_from_slice(args);
        c.case(&format!("bound: {name}"), &all, want);
    }
    let files: &[(&str, &str, &str, &[&str])] = &[
        ("stage users 2^32-1", "b-users.toml", "[profiles.x]\nstages = [{ users = 4294967295, hold = \"1s\" }]\n", &["b-users.toml", "stages[0].users", "between 1 and 100000 users"]),
        ("stage hold 2h", "b-hold.toml", "[profiles.x]\nstages = [{ users = 1, hold = \"2h\" }]\n", &["b-hold.toml", "stages[0].hold", "at most 3600s"]),
        ("stage ramp 2h", "b-ramp.toml", "[profiles.x]\nstages = [{ users = 1, ramp = \"2h\", hold = \"1s\" }]\n", &["b-ramp.toml", "stages[0].ramp", "at most 3600s"]),
        ("stages add up over 1h", "b-total.toml", "[profiles.x]\nstages = [{ users = 1, hold = \"40m\" }, { users = 2, hold = \"40m\" }]\n", &["b-total.toml", "profile 'x'", "at most 3600s"]),
        ("stage rate 1e-300/s", "b-rate.toml", "[profiles.x]\nstages = [{ rate = \"1e-300/s\", hold = \"10s\" }]\n", &["b-rate.toml", "stages[0].rate", "at least 0.1/s"]),
        ("stage rate 1e9/s", "b-rate2.toml", "[profiles.x]\nstages = [{ rate = \"1e9/s\", hold = \"10s\" }]\n", &["b-rate2.toml", "stages[0].rate", "at most 1000000/s"]),
    ];
    for (name, file, text, want) in files {
        let path = c.input(file, text);
        c.run_case(
            &format!("bound: profile {name}"),
            &["run", "x", "--profiles", &path],
            want,
        );
    }
    let path = c.input(
        "b-rule.toml",
        "rules = [\"p95<1s\", \"validate: p99<100m\"]\n",
    );
    c.run_case(
        "bound: rule file latency over 1h",
        &["smoke", "--thresholds", &path],
        &["b-rule.toml", "rules[1]", "at most 60m"],
    );
}

/// Input files that are not regular files (a FIFO, /dev/zero, a folder) or are too large:
/// refused at once for every kind of input, before anything could block or allocate.
fn special_file_cases(c: &mut Catalogue) {
    let fifo = c.root.join("in").join("fifo.toml");
    let path = std::ffi::CString::new(fifo.display().to_string()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0, "mkfifo");
    let fifo = fifo.display().to_string();
    let folder = c.folder("a-folder.toml");
    let big = c.input("big.toml", vec![b'#'; (16 << 20) + 1]);
    let kinds: [(&str, &str, &str); 4] = [
        ("FIFO", &fifo, "FIFO (named pipe), not a regular file"),
        ("/dev/zero", "/dev/zero", "device, not a regular file"),
        ("folder", &folder, "a folder, not a file"),
        ("17 MiB", &big, "at most 16 MiB allowed"),
    ];
    for (kind, file, want) in kinds {
        c.run_case(
            &format!("special: {kind} as contract"),
            &["smoke", "--contract", file],
            &[file, "cannot read contract", want],
        );
        c.run_case(
            &format!("special: {kind} as profiles"),
            &["run", "x", "--profiles", file],
            &[file, "cannot read profiles file", want],
        );
        c.run_case(
            &format!("special: {kind} as thresholds"),
            &["load", "--thresholds", file],
            &[file, "cannot read thresholds file", want],
        );
        c.run_case(
            &format!("special: {kind} as metrics map"),
            &["smoke", "--server-metrics-map", file],
            &[file, want],
        );
        c.case(
            &format!("special: {kind} to profiles"),
            &["profiles", "--profiles", file],
            &[file, want],
        );
    }
    let good = c.input(
        "special-good/run.json",
        serde_json::to_vec(&record_json()).unwrap(),
    );
    for (kind, file, want) in [
        (
            "FIFO",
            fifo.as_str(),
            "FIFO (named pipe), not a regular file",
        ),
        ("/dev/zero", "/dev/zero", "device, not a regular file"),
    ] {
        let out = c.out("report.html");
        c.case(
            &format!("special: {kind} as run.json (report)"),
            &["report", file, "--out", &out],
            &[file, want],
        );
        let md = c.out("compare.md");
        c.case(
            &format!("special: {kind} as run.json (compare)"),
            &["compare", &good, file, "--md", &md],
            &[file, want],
        );
        let out = c.out("merged");
        c.case(
            &format!("special: {kind} as run.json (merge)"),
            &["merge", file, "--out", &out],
            &[file, want],
        );
    }
    // A folder holding a FIFO named run.json: the FIFO is refused, never opened.
    let dir = c.folder("fifo-run");
    let run_fifo = std::ffi::CString::new(format!("{dir}/run.json")).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(
        unsafe { libc::mkfifo(run_fifo.as_ptr(), 0o600) },
        0,
        "mkfifo"
    );
    let out = c.out("report.html");
    c.case(
        "special: folder with a FIFO run.json (report)",
        &["report", &format!("{dir}/run.json"), "--out", &out],
        &["fifo-run/run.json", "FIFO"],
    );
    let md = c.out("compare.md");
    c.case(
        "special: folder with a FIFO run.json (compare)",
        &["compare", &dir, &good, "--md", &md],
        &["fifo-run/run.json", "FIFO"],
    );
}

/// Names from profile files never reach a path; rules naming a phase the profile lacks are
/// refused before any load.
fn name_cases(c: &mut Catalogue) {
    let files: &[(&str, &str, &str, &str, &[&str])] = &[
        (
            "../ profile name",
            "n-dotdot.toml",
            "[profiles.\"../../escape\"]\nstages = [{ users = 1, hold = \"1s\" }]\n",
            "../../escape",
            &[
                "n-dotdot.toml",
                "profile name '../../escape'",
                "output folder",
            ],
        ),
        (
            "/ in profile name",
            "n-slash.toml",
            "[profiles.\"a/b\"]\nstages = [{ users = 1, hold = \"1s\" }]\n",
            "a/b",
            &["n-slash.toml", "profile name 'a/b'"],
        ),
        (
            "NUL in profile name",
            "n-nul.toml",
            "[profiles.\"a\\u0000b\"]\nstages = [{ users = 1, hold = \"1s\" }]\n",
            "x",
            &["n-nul.toml", "profile name 'a\\0b'"],
        ),
        (
            "dot profile name",
            "n-dot.toml",
            "[profiles.\"..\"]\nstages = [{ users = 1, hold = \"1s\" }]\n",
            "..",
            &["n-dot.toml", "profile name '..'"],
        ),
        (
            "newline in phase",
            "n-phase.toml",
            "[profiles.x]\nstages = [{ users = 1, hold = \"1s\", phase = \"a\\nb\" }]\n",
            "x",
            &["n-phase.toml", "stages[0].phase"],
        ),
        (
            "phase 200 chars",
            "n-long.toml",
            &format!(
                "[profiles.x]\nstages = [{{ users = 1, hold = \"1s\", phase = \"{}\" }}]\n",
                "p".repeat(200)
            ),
            "x",
            &["n-long.toml", "stages[0].phase", "1 to 64"],
        ),
    ];
    for (name, file, text, profile, want) in files {
        let path = c.input(file, text);
        c.run_case(
            &format!("names: {name}"),
            &["run", profile, "--profiles", &path],
            want,
        );
    }
    c.run_case(
        "names: rule with an unknown phase",
        &["spike", "--threshold", "p95<1s during warmup"],
        &[
            "p95<1s during warmup'",
            "phase 'warmup' is not in profile 'spike'",
            "recovery",
        ],
    );
    let path = c.input(
        "n-rules.toml",
        "rules = [\"p95<1s\", \"validate: p99<2s during nowhere\"]\n",
    );
    c.run_case(
        "names: rule file with an unknown phase",
        &["load", "--thresholds", &path],
        &["phase 'nowhere' is not in profile 'load'"],
    );
}

#[test]
fn bad_input_catalogue() {
    let mut c = Catalogue::new();
    cli_cases(&mut c);
    profile_cases(&mut c);
    threshold_cases(&mut c);
    contract_cases(&mut c);
    record_cases(&mut c);
    compare_cases(&mut c);
    bound_cases(&mut c);
    special_file_cases(&mut c);
    name_cases(&mut c);
    let total = c.cases.len();
    let mut failures = Vec::new();
    for case in &c.cases {
        if let Err(why) = check(case, &c.root) {
            failures.push(format!(
                "  ✗ {}: loadtest {}\n      {why}",
                case.name,
                case.args.join(" ")
            ));
        }
    }
    println!(
        "bad-input catalogue: {total} cases, {} passing",
        total - failures.len()
    );
    assert!(total >= 30, "the catalogue must hold at least 30 cases");
    assert!(
        failures.is_empty(),
        "{} of {total} bad-input cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn completions_name_every_subcommand() {
    for shell in ["bash", "zsh", "fish"] {
        let o = Command::new(env!("CARGO_BIN_EXE_loadtest"))
            .args(["completions", shell])
            .output()
            .unwrap();
        let script = String::from_utf8_lossy(&o.stdout);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{shell}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            o.stderr.is_empty(),
            "{shell}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        for word in [
            "loadtest",
            "smoke",
            "compare",
            "report",
            "merge",
            "threshold",
        ] {
            assert!(
                script.contains(word),
                "{shell} completions do not mention {word}"
            );
        }
    }
}
