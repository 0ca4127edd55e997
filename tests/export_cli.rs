//! `loadtest report RUN.json [--format …] [--out …]` through the real binary, on a record
//! built by the exporters' fixture builder.

mod common;
use common::loadtest;

use std::path::Path;
use std::process::Output;

use common::sample::fixture;

fn saved_run(dir: &Path) -> String {
    fixture().save(dir).unwrap().display().to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn rerenders_every_format_next_to_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let run = saved_run(dir.path());
    for (format, file, needle) in [
        (None, "report.html", "<!DOCTYPE html>"),
        (Some("md"), "summary.md", "### ❌ loadtest smoke: FAIL"),
        (Some("markdown"), "summary.md", "| login | 1000 |"),
        (
            Some("junit"),
            "junit.xml",
            "<testsuite name=\"loadtest smoke\"",
        ),
    ] {
        let mut args = vec!["report", run.as_str()];
        if let Some(f) = format {
            args.extend(["--format", f]);
        }
        let out = loadtest(&args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        let path = dir.path().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(needle), "{file}: {needle}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(stdout.trim(), format!("wrote {}", path.display()));
    }
    assert!(!dir.path().join("report.html.partial").exists());
}

#[test]
fn json_goes_to_stdout_and_out_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let run = saved_run(dir.path());
    let before = std::fs::read_to_string(&run).unwrap();
    let out = loadtest(["report", &run, "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let back =
        loadtest::record::RunRecord::from_json(&String::from_utf8_lossy(&out.stdout), "stdout")
            .unwrap();
    assert_eq!(back, fixture());
    assert_eq!(
        std::fs::read_to_string(&run).unwrap(),
        before,
        "input untouched"
    );

    let target = dir.path().join("elsewhere.xml");
    let out = loadtest([
        "report",
        &run,
        "--format",
        "junit",
        "--out",
        &target.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(std::fs::read_to_string(&target)
        .unwrap()
        .starts_with("<?xml"));

    let out = loadtest(["report", &run, "--format", "md", "--out", "-"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("### ❌ loadtest smoke"));
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let run = saved_run(dir.path());
    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "{\"schema_version\": 1, \"meta\": ").unwrap();
    let missing = dir.path().join("missing.json");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["report".into(), missing.display().to_string()],
            "cannot read",
        ),
        (
            vec!["report".into(), garbage.display().to_string()],
            "not valid JSON",
        ),
        (
            vec![
                "report".into(),
                run.clone(),
                "--format".into(),
                "pdf".into(),
            ],
            "invalid value 'pdf'",
        ),
        (
            vec![
                "report".into(),
                run.clone(),
                "--out".into(),
                dir.path().join("no/such/dir/r.html").display().to_string(),
            ],
            "cannot write",
        ),
        (vec!["report".into()], "required"),
    ];
    for (args, want) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = loadtest(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{args:?}: one line: {err}"
        );
        assert!(
            err.starts_with("loadtest: ") && err.contains(want),
            "{args:?}: {err}"
        );
    }
}
