//! `loadtest bench-summary` on a fabricated criterion folder tree.

mod common;
use common::loadtest;

use std::path::Path;
use std::process::Output;

use loadtest::bench_summary::{rows, scan};

fn estimates(mean_ns: f64) -> String {
    format!(
        r#"{{"mean":{{"confidence_interval":{{"confidence_level":0.95,"lower_bound":{lo},"upper_bound":{hi}}},"point_estimate":{mean_ns},"standard_error":1.0}},"median":{{"confidence_interval":{{"confidence_level":0.95,"lower_bound":1.0,"upper_bound":2.0}},"point_estimate":1.5,"standard_error":0.1}}}}"#,
        lo = mean_ns * 0.9,
        hi = mean_ns * 1.1
    )
}

/// Writes `<root>/<dir>/new/estimates.json` (and `benchmark.json` when `full_id` is given),
/// plus a stale `base/estimates.json` that must be ignored.
fn bench(root: &Path, dir: &str, full_id: Option<&str>, mean_ns: f64) {
    let new = root.join(dir).join("new");
    std::fs::create_dir_all(&new).unwrap();
    std::fs::write(new.join("estimates.json"), estimates(mean_ns)).unwrap();
    if let Some(id) = full_id {
        let json = serde_json::json!({
            "group_id": "g", "function_id": "f", "value_str": null, "throughput": null,
            "full_id": id, "directory_name": dir, "title": id,
        });
        std::fs::write(new.join("benchmark.json"), json.to_string()).unwrap();
    }
    let base = root.join(dir).join("base");
    std::fs::create_dir_all(&base).unwrap();
    std::fs::write(base.join("estimates.json"), estimates(1.0)).unwrap();
}

/// A criterion tree: one baseline/optimized pair (5 ms vs 50 µs), an optimized benchmark
/// without a baseline, one benchmark without benchmark.json, and criterion's report folder.
fn tree(root: &Path) {
    let q = "query/sqlite/find_user_by_email/100k";
    let dir = "query_sqlite_find_user_by_email_100k";
    bench(
        root,
        &format!("{dir}/baseline"),
        Some(&format!("{q}/baseline")),
        5_000_000.0,
    );
    bench(
        root,
        &format!("{dir}/optimized"),
        Some(&format!("{q}/optimized")),
        50_000.0,
    );
    bench(
        root,
        "query_sqlite_create_session_10k/optimized",
        Some("query/sqlite/create_session/10k/optimized"),
        80_500.0,
    );
    bench(root, "cache_moka/hit", None, 87.25);
    std::fs::create_dir_all(root.join("report")).unwrap();
    std::fs::write(root.join("report/index.html"), "<html></html>").unwrap();
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn scan_reads_new_estimates_and_pairs_baseline_with_optimized() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path());
    let benches = scan(dir.path()).unwrap();
    let ids: Vec<&str> = benches.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "cache_moka/hit",
            "query/sqlite/create_session/10k/optimized",
            "query/sqlite/find_user_by_email/100k/baseline",
            "query/sqlite/find_user_by_email/100k/optimized",
        ]
    );
    assert_eq!(benches[0].mean_ns, 87.25);
    let rows = rows(&benches);
    let ratios: Vec<Option<f64>> = rows.iter().map(|r| r.ratio).collect();
    assert_eq!(ratios, [None, None, None, Some(100.0)]);
}

#[test]
fn prints_one_table_and_writes_markdown() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("criterion");
    tree(&root);
    let md = dir.path().join("bench.md");
    let out = loadtest([
        "bench-summary",
        "--criterion-dir",
        root.to_str().unwrap(),
        "--md",
        md.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("benchmark") && lines[0].ends_with("baseline ÷ optimized"));
    assert!(lines[1].starts_with("cache_moka/hit") && lines[1].ends_with("87.25 ns"));
    assert!(lines[3].contains("5.00 ms"), "{text}");
    assert!(
        lines[4].contains("50.00 µs") && lines[4].ends_with("100×"),
        "{text}"
    );
    let md = std::fs::read_to_string(&md).unwrap();
    assert!(md.contains("| benchmark | mean | baseline ÷ optimized |"));
    assert!(
        md.contains("| query/sqlite/find\\_user\\_by\\_email/100k/optimized | 50.00 µs | 100× |"),
        "{md}"
    );
}

#[test]
fn appends_an_escaped_section_to_an_html_report() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("criterion");
    tree(&root);
    bench(
        &root,
        "evil/x",
        Some("evil/<script>alert(1)</script>/optimized"),
        10.0,
    );
    let page = dir.path().join("compare.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html>\n<html><body>\n<h1>report</h1>\n</body>\n</html>\n",
    )
    .unwrap();
    let args = [
        "bench-summary",
        "--criterion-dir",
        root.to_str().unwrap(),
        "--html",
        page.to_str().unwrap(),
    ];
    let out = loadtest(args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with(
        "<!DOCTYPE html>\n<html><body>\n<h1>report</h1>\n<section id=\"bench-summary\">"
    ));
    assert!(html.ends_with("</section>\n</body>\n</html>\n"), "{html}");
    assert!(!html.contains("<script>"));
    assert!(html.contains("evil&#x2f;&lt;script&gt;alert(1)&lt;&#x2f;script&gt;&#x2f;optimized"));
    assert!(html.contains("<td class=\"n\">100×</td>"));
    // Running again replaces the section instead of adding a second one.
    let out = loadtest(args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let again = std::fs::read_to_string(&page).unwrap();
    assert_eq!(again, html);
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(empty.join("report")).unwrap();
    let broken = dir.path().join("broken");
    std::fs::create_dir_all(broken.join("b/new")).unwrap();
    std::fs::write(broken.join("b/new/estimates.json"), "{\"mean\": {}}").unwrap();
    let good = dir.path().join("good");
    tree(&good);
    let no_body = dir.path().join("page.html");
    std::fs::write(&no_body, "<p>not a report</p>").unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![missing.display().to_string()],
            "cannot read criterion results",
        ),
        (vec![empty.display().to_string()], "no criterion results"),
        (vec![broken.display().to_string()], "no mean.point_estimate"),
        (
            vec![
                good.display().to_string(),
                "--html".into(),
                no_body.display().to_string(),
            ],
            "no </body>",
        ),
        (
            vec![
                good.display().to_string(),
                "--html".into(),
                missing.join("x.html").display().to_string(),
            ],
            "cannot read",
        ),
    ];
    for (extra, needle) in cases {
        let mut args = vec!["bench-summary".to_string(), "--criterion-dir".into()];
        args.extend(extra);
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = loadtest(&argv);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("loadtest: ") && err.contains(needle),
            "{err}"
        );
        assert!(stdout(&out).is_empty(), "nothing printed on bad input");
    }
    assert_eq!(
        std::fs::read_to_string(&no_body).unwrap(),
        "<p>not a report</p>"
    );
}
