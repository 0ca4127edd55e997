//! The console output of `smoke`, `load` and `compare`, captured through a pipe (not a
//! terminal): every line fits in 100 columns, Goose's own stdout lines ("N users launched.")
//! do not leak, progress comes as plain 5-second lines, and there is no colour.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::sample::synthetic;

fn loadtest(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_loadtest"))
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .expect("run loadtest")
}

/// Every line of stdout and stderr: at most 100 columns, no escape sequences, no Goose lines.
fn check(what: &str, o: &Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    for line in text.lines() {
        assert!(
            line.chars().count() <= 100,
            "{what}: a line of {} columns:\n{line}\n\n{text}",
            line.chars().count()
        );
        assert!(!line.contains('\x1b'), "{what}: colour in a pipe: {line:?}");
        assert!(
            !line.contains("users launched"),
            "{what}: Goose's output leaked: {line}"
        );
    }
    text
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn smoke_load_and_compare_fit_in_100_columns() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("smoke"), dir.path().join("load"));

    // 6 s: one plain progress line at 5 s.
    let o = loadtest(&["smoke", "--duration", "6s", "--out", path(&a)]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = check("smoke", &o);
    assert!(text.contains("p95 (last 5 s):"), "a progress line:\n{text}");
    assert!(text.contains("PASS: every threshold held"), "{text}");

    // A failing rule (and its early-abort reason) must wrap too.
    let o = loadtest(&[
        "load",
        "--users",
        "3",
        "--ramp",
        "1s",
        "--duration",
        "6s",
        "--threshold",
        "validate: p95<1us",
        "--out",
        path(&b),
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = check("load", &o);
    assert!(text.contains("FAIL"), "{text}");

    let o = loadtest(&[
        "compare",
        path(&a.join("run.json")),
        path(&b.join("run.json")),
    ]);
    check("compare of two runs", &o);

    // Several runs per side, with long flow names.
    let flows = [
        "a-very-long-flow-name-indeed",
        "another-long-flow-name",
        "validate",
    ];
    let side = |name: &str, rps: u32| -> Vec<String> {
        (0..3)
            .map(|i| {
                let d = dir.path().join(format!("{name}{i}"));
                std::fs::create_dir_all(&d).unwrap();
                let mut r = synthetic(30, &flows, 10, rps + 10 * i);
                r.meta.run_id = format!("{name}{i}");
                r.save(&d).unwrap();
                d.join("run.json").display().to_string()
            })
            .collect()
    };
    let (base, cand) = (side("base", 200), side("cand", 260));
    let mut args = vec!["compare", "--baseline"];
    args.extend(base.iter().map(String::as_str));
    args.push("--candidate");
    args.extend(cand.iter().map(String::as_str));
    let o = loadtest(&args);
    let text = check("compare of 3 + 3 runs", &o);
    assert!(text.contains("a-very-lo"), "{text}");
}
