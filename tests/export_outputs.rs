//! `write_outputs` (what every run calls): run.json plus report.html, summary.md, junit.xml
//! and latency.hlog next to it, and the summary appended to `$GITHUB_STEP_SUMMARY`.
//! One test in this binary, because it sets an environment variable.

mod common;

use common::sample::fixture;
use loadtest::commands::run::write_outputs;

#[test]
fn every_run_writes_all_reports_and_the_step_summary() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("step-summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    std::env::set_var("GITHUB_STEP_SUMMARY", &summary);
    let record = fixture();
    let outputs = write_outputs(&record, dir.path());
    assert!(outputs.failed.is_empty(), "{:?}", outputs.failed);
    let written = outputs.written;
    let names: Vec<String> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "run.json",
            "report.html",
            "summary.md",
            "junit.xml",
            "latency.hlog"
        ]
    );
    for p in &written {
        assert_eq!(p.parent(), Some(dir.path()));
        assert!(std::fs::metadata(p).unwrap().len() > 500, "{}", p.display());
    }
    let md = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    let appended = std::fs::read_to_string(&summary).unwrap();
    assert_eq!(appended, format!("earlier step\n{}\n\n", md.trim_end()));
    let partials = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .to_string_lossy()
                .ends_with(".partial")
        })
        .count();
    assert_eq!(partials, 0);

    // Unset: nothing appended, reports still written.
    std::env::remove_var("GITHUB_STEP_SUMMARY");
    let again = tempfile::tempdir().unwrap();
    assert_eq!(write_outputs(&record, again.path()).written.len(), 5);
    assert_eq!(std::fs::read_to_string(&summary).unwrap(), appended);
}
