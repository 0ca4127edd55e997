//! Markdown summary: verdict line, per-flow table, threshold table — short enough for a PR
//! comment and GitHub's `$GITHUB_STEP_SUMMARY` ([`append_step_summary`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{
    flow_stats, fmt_duration, fmt_ms, fmt_rate, threshold_rows, verdict_label, ExportError,
    Exporter,
};
use crate::error::Failure;
use crate::record::RunRecord;
use crate::text::escape_markdown;

pub struct MarkdownExporter;

fn verdict_icon(record: &RunRecord) -> &'static str {
    match record.outcome.verdict {
        crate::record::RunVerdict::Pass => "✅",
        crate::record::RunVerdict::Invalid => "⚠️",
        crate::record::RunVerdict::Fail => "❌",
    }
}

impl Exporter for MarkdownExporter {
    fn name(&self) -> &'static str {
        "md"
    }

    fn file_name(&self) -> &'static str {
        "summary.md"
    }

    fn render(&self, r: &RunRecord) -> Result<String, ExportError> {
        let failed = r.thresholds.iter().filter(|v| !v.passed).count();
        let mut md = format!(
            "### {} loadtest {}: {}",
            verdict_icon(r),
            escape_markdown(&r.meta.profile, 60),
            verdict_label(r)
        );
        if !r.thresholds.is_empty() {
            md.push_str(&format!(
                " — {failed} of {} thresholds failed",
                r.thresholds.len()
            ));
        }
        md.push_str("\n\n");
        md.push_str(&format!(
            "Target {} · {} · up to {} users · run {}",
            escape_markdown(&r.meta.host, 120),
            fmt_duration(r.meta.duration_s),
            r.meta.max_users,
            escape_markdown(&r.meta.run_id, 40)
        ));
        if r.outcome.partial {
            md.push_str(" · **partial run**");
        }
        if let Some(reason) = &r.outcome.reason {
            md.push_str(&format!(" · {}", escape_markdown(reason, 1000)));
        }
        if let Some(rate) = &r.meta.rate {
            md.push_str(&format!("\n\n{}", escape_markdown(&rate.describe(), 300)));
        }
        if r.meta.delayed_retries > 0 {
            md.push_str(&format!(
                "\n\nBackoff: {} request(s) sent only after a backoff wait (a failing signup, login or refresh)",
                r.meta.delayed_retries
            ));
        }
        md.push_str(
            "\n\n| flow | requests | errors | req/s | p50 | p90 | p95 | p99 | p99.9 | max |\n",
        );
        md.push_str("|:--|--:|:--|--:|--:|--:|--:|--:|--:|--:|\n");
        for (f, _) in flow_stats(r)? {
            let mut errors = format!("{} ({:.2}%)", f.failed, f.error_pct);
            if !f.error_classes.is_empty() {
                errors.push_str(&format!(": {}", escape_markdown(&f.error_classes, 400)));
            }
            let s = &f.summary;
            md.push_str(&format!(
                "| {} | {} | {errors} | {} | {} | {} | {} | {} | {} | {} |\n",
                escape_markdown(&f.name, 40),
                f.requests,
                fmt_rate(f.rps),
                fmt_ms(s.p50),
                fmt_ms(s.p90),
                fmt_ms(s.p95),
                fmt_ms(s.p99),
                fmt_ms(s.p999),
                fmt_ms(s.max)
            ));
        }
        let rows = threshold_rows(r);
        if !rows.is_empty() {
            md.push_str("\n| | threshold | observed | limit |\n|:-:|:--|--:|--:|\n");
            for t in rows {
                md.push_str(&format!(
                    "| {} | {} | {} | {} |\n",
                    if t.passed { "✅" } else { "❌" },
                    escape_markdown(&t.rule, 80),
                    escape_markdown(&t.observed, 30),
                    escape_markdown(&t.limit, 30)
                ));
            }
        }
        md.push_str(&super::server::markdown(r));
        Ok(md)
    }
}

/// Appends `md` to `path` (creating it), followed by a blank line.
pub fn append_to(path: &Path, md: &str) -> Result<(), Failure> {
    let fail =
        |e: std::io::Error| Failure::bad_input(format!("cannot append to {}: {e}", path.display()));
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(fail)?;
    file.write_all(format!("{}\n\n", md.trim_end()).as_bytes())
        .map_err(fail)
}

/// Appends `md` to the file named by `$GITHUB_STEP_SUMMARY` when that is set; returns the
/// file appended to.
pub fn append_step_summary(md: &str) -> Result<Option<PathBuf>, Failure> {
    match std::env::var_os("GITHUB_STEP_SUMMARY") {
        Some(p) if !p.is_empty() => {
            let path = PathBuf::from(p);
            check_summary_file(&path)?;
            append_to(&path, md)?;
            Ok(Some(path))
        }
        _ => Ok(None),
    }
}

/// `$GITHUB_STEP_SUMMARY` must be a regular file (or not exist yet): a FIFO or a device would
/// block or swallow the write, so it is refused and the caller only warns.
fn check_summary_file(path: &std::path::Path) -> Result<(), Failure> {
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => Err(Failure::bad_input(format!(
            "{} is not a regular file; skipped",
            path.display()
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_summary_that_is_not_a_regular_file_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let err = check_summary_file(&fifo).unwrap_err();
        assert!(err.message.contains("not a regular file"), "{err:?}");
        assert!(check_summary_file(tmp.path()).is_err(), "a directory");
        assert!(check_summary_file(&tmp.path().join("new.md")).is_ok());
        let file = tmp.path().join("summary.md");
        std::fs::write(&file, "x").unwrap();
        assert!(check_summary_file(&file).is_ok());
    }
    use crate::export::sample::{fixture, HOSTILE_FLOW, HOSTILE_HOST};
    use crate::export::{flow_stats, fmt_ms};

    #[test]
    fn numbers_match_the_record() {
        let r = fixture();
        let md = MarkdownExporter.render(&r).unwrap();
        assert!(
            md.starts_with("### ❌ loadtest smoke: FAIL — 3 of 6 thresholds failed\n"),
            "{md}"
        );
        let stats = flow_stats(&r).unwrap();
        let login = &stats[0].0;
        let p95 = fmt_ms(login.summary.p95);
        assert_eq!(p95, "950.3 ms", "1..=1000 ms: p95 at HDR resolution");
        let row = md.lines().find(|l| l.starts_with("| login |")).unwrap();
        assert!(row.contains(&format!("| {p95} |")), "{row}");
        assert!(
            row.contains("| 1000 | 4 (0.40%): 503×3, timeout×1 | 100.0 |"),
            "{row}"
        );
        let validate = md.lines().find(|l| l.starts_with("| validate |")).unwrap();
        assert!(validate.contains("| 4.75 ms |"), "{validate}");
        assert!(
            md.contains("| ❌ | login: p95&lt;500ms | 950.3 ms | &lt; 500ms |"),
            "{md}"
        );
        assert!(
            md.contains("| ✅ | validate: p95&lt;100ms | 4.75 ms | &lt; 100ms |"),
            "{md}"
        );
        assert_eq!(md.lines().filter(|l| l.starts_with("| ❌")).count(), 3);
        assert!(md.lines().count() < 30, "short enough for a PR comment");
    }

    #[test]
    fn hostile_text_is_inert() {
        let md = MarkdownExporter.render(&fixture()).unwrap();
        assert!(!md.contains(HOSTILE_HOST) && !md.contains(HOSTILE_FLOW));
        assert!(!md.contains('<'), "no raw markup at all: {md}");
        assert!(md.contains("evil&lt;svg onload=alert\\(1\\)&gt;"), "{md}");
    }

    #[test]
    fn step_summary_appends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary");
        append_to(&path, "one\n").unwrap();
        append_to(&path, "two").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\n\ntwo\n\n");
        assert!(append_to(&dir.path().join("no/such/dir"), "x").is_err());
    }
}
