//! `loadtest bench-summary`: one table of criterion's results — benchmark, mean time per
//! iteration, and the baseline ÷ optimized ratio where two benchmark ids differ only in a
//! last path segment `baseline` vs `optimized` (`query/sqlite/find_user_by_email/100k/…`).
//!
//! Reads `<dir>/**/new/estimates.json` (`mean.point_estimate`, ns) and the benchmark's id from
//! the `benchmark.json` beside it (`full_id`), falling back to the folder path below `<dir>`.
//! Renders as text, Markdown, or an HTML `<section id="bench-summary">` (minijinja
//! auto-escaping) that [`insert_section`] puts before `</body>` of an existing report.

use std::path::{Path, PathBuf};

use minijinja::{AutoEscape, Environment};
use serde::Serialize;

use crate::error::Failure;
use crate::text::{escape_markdown, sanitize};

/// Folders deeper than this below the criterion folder are not searched.
const MAX_DEPTH: usize = 12;

/// One benchmark's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bench {
    /// Criterion's full id, e.g. `query/sqlite/find_user_by_email/100k/optimized`.
    pub id: String,
    /// Mean time per iteration (ns).
    pub mean_ns: f64,
}

/// One line of the table: a benchmark and, on the `…/optimized` row of a pair, the ratio
/// `baseline mean ÷ optimized mean`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub id: String,
    pub mean_ns: f64,
    pub ratio: Option<f64>,
}

fn bad(message: String) -> Failure {
    Failure::bad_input(message)
}

/// Every `new/estimates.json` below `dir`, sorted by id. Bad input (exit 2): `dir` unreadable,
/// a malformed estimates file, or no results at all.
pub fn scan(dir: &Path) -> Result<Vec<Bench>, Failure> {
    let meta = std::fs::metadata(dir).map_err(|e| {
        bad(format!(
            "{}: cannot read criterion results: {e}",
            dir.display()
        ))
    })?;
    if !meta.is_dir() {
        return Err(bad(format!(
            "{}: not a folder (expected criterion's output, e.g. target/criterion)",
            dir.display()
        )));
    }
    let mut files = Vec::new();
    walk(dir, 0, &mut files)?;
    let mut out = files
        .iter()
        .map(|f| read_bench(dir, f))
        .collect::<Result<Vec<_>, _>>()?;
    if out.is_empty() {
        return Err(bad(format!(
            "{}: no criterion results (*/new/estimates.json) found; run `cargo bench` first",
            dir.display()
        )));
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// Collects `…/new/estimates.json` files; symbolic links are not followed.
fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), Failure> {
    if depth > MAX_DEPTH {
        return Ok(());
    }
    let cannot = |e: std::io::Error| bad(format!("{}: cannot list: {e}", dir.display()));
    let mut entries = std::fs::read_dir(dir)
        .map_err(cannot)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(cannot)?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let kind = e.file_type().map_err(cannot)?;
        let path = e.path();
        if kind.is_dir() {
            walk(&path, depth + 1, out)?;
        } else if kind.is_file()
            && e.file_name() == "estimates.json"
            && dir.file_name().is_some_and(|n| n == "new")
        {
            out.push(path);
        }
    }
    Ok(())
}

fn read_bench(root: &Path, estimates: &Path) -> Result<Bench, Failure> {
    let text = crate::input::read_text(estimates, crate::input::MAX_INPUT_BYTES)
        .map_err(|e| bad(format!("{}: cannot read: {e}", estimates.display())))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| bad(format!("{}: not JSON: {e}", estimates.display())))?;
    let mean_ns = json
        .pointer("/mean/point_estimate")
        .and_then(serde_json::Value::as_f64)
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| {
            bad(format!(
                "{}: no mean.point_estimate (not a criterion estimates file)",
                estimates.display()
            ))
        })?;
    let new_dir = estimates.parent().unwrap_or(root);
    let from_json = crate::input::read_text(
        &new_dir.join("benchmark.json"),
        crate::input::MAX_INPUT_BYTES,
    )
    .ok()
    .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
    .and_then(|v| v.get("full_id")?.as_str().map(str::to_string))
    .filter(|s| !s.is_empty());
    let id = from_json.unwrap_or_else(|| {
        let bench_dir = new_dir.parent().unwrap_or(new_dir);
        let rel = bench_dir.strip_prefix(root).unwrap_or(bench_dir);
        rel.components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/")
    });
    Ok(Bench { id, mean_ns })
}

/// The table rows: every benchmark in id order; a `…/optimized` row whose `…/baseline`
/// sibling exists carries `baseline ÷ optimized`.
pub fn rows(benches: &[Bench]) -> Vec<Row> {
    benches
        .iter()
        .map(|b| {
            let ratio = b.id.strip_suffix("/optimized").and_then(|prefix| {
                let base = format!("{prefix}/baseline");
                benches
                    .iter()
                    .find(|x| x.id == base)
                    .filter(|_| b.mean_ns > 0.0)
                    .map(|x| x.mean_ns / b.mean_ns)
            });
            Row {
                id: b.id.clone(),
                mean_ns: b.mean_ns,
                ratio,
            }
        })
        .collect()
}

/// A duration in ns in human units: `42.1 ns`, `62.28 µs`, `1.50 ms`, `2.00 s`.
pub fn fmt_ns(ns: f64) -> String {
    let (v, unit) = if ns < 1e3 {
        (ns, "ns")
    } else if ns < 1e6 {
        (ns / 1e3, "µs")
    } else if ns < 1e9 {
        (ns / 1e6, "ms")
    } else {
        (ns / 1e9, "s")
    };
    if v >= 100.0 {
        format!("{v:.1} {unit}")
    } else {
        format!("{v:.2} {unit}")
    }
}

/// A ratio: `103×`, `12.3×`, `1.05×`.
pub fn fmt_ratio(r: f64) -> String {
    if r >= 100.0 {
        format!("{r:.0}×")
    } else if r >= 10.0 {
        format!("{r:.1}×")
    } else {
        format!("{r:.2}×")
    }
}

fn ratio_text(r: &Row) -> String {
    r.ratio.map(fmt_ratio).unwrap_or_default()
}

const RATIO_HEADER: &str = "baseline ÷ optimized";

/// The terminal table.
pub fn text(rows: &[Row]) -> String {
    let ids: Vec<String> = rows.iter().map(|r| sanitize(&r.id, 100)).collect();
    let w = ids
        .iter()
        .map(|s| s.chars().count())
        .chain([9])
        .max()
        .unwrap_or(9);
    let pad = |s: &str, w: usize| format!("{s}{}", " ".repeat(w.saturating_sub(s.chars().count())));
    let mut out = format!("{}  {:>10}  {RATIO_HEADER}\n", pad("benchmark", w), "mean");
    for (r, id) in rows.iter().zip(&ids) {
        out.push_str(
            format!(
                "{}  {:>10}  {}",
                pad(id, w),
                fmt_ns(r.mean_ns),
                ratio_text(r)
            )
            .trim_end(),
        );
        out.push('\n');
    }
    out
}

/// The table as Markdown.
pub fn markdown(rows: &[Row]) -> String {
    let mut out = String::from("### criterion micro-benchmarks\n\n");
    out.push_str(&format!(
        "| benchmark | mean | {RATIO_HEADER} |\n|---|---:|---:|\n"
    ));
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} |\n",
            escape_markdown(&r.id, 200),
            fmt_ns(r.mean_ns),
            ratio_text(r)
        ));
    }
    out.push_str(
        "\nMean time per iteration (criterion `new/estimates.json`); ratio = baseline mean ÷ optimized mean.\n",
    );
    out
}

const SECTION: &str = r#"<section id="bench-summary">
<h2>Micro-benchmarks (criterion)</h2>
<table>
<tr><th>benchmark</th><th class="n">mean</th><th class="n">{{ ratio_header }}</th></tr>
{%- for r in rows %}
<tr><td><code>{{ r.id }}</code></td><td class="n">{{ r.mean }}</td><td class="n">{{ r.ratio }}</td></tr>
{%- endfor %}
</table>
<p class="small">Mean time per iteration from {{ source }} (<code>new/estimates.json</code>); ratio = baseline mean ÷ optimized mean.</p>
</section>
"#;

#[derive(Serialize)]
struct HtmlRow {
    id: String,
    mean: String,
    ratio: String,
}

/// The table as an HTML `<section id="bench-summary">`, every text auto-escaped. `source`
/// names where the results came from.
pub fn html_section(rows: &[Row], source: &str) -> Result<String, Failure> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    env.set_keep_trailing_newline(true);
    let fail = |e: minijinja::Error| bad(format!("cannot render the benchmark table: {e}"));
    env.add_template("bench-summary.html", SECTION)
        .map_err(fail)?;
    let rows: Vec<HtmlRow> = rows
        .iter()
        .map(|r| HtmlRow {
            id: sanitize(&r.id, 200),
            mean: fmt_ns(r.mean_ns),
            ratio: ratio_text(r),
        })
        .collect();
    env.get_template("bench-summary.html")
        .and_then(|t| {
            t.render(minijinja::context! {
                rows => rows,
                source => sanitize(source, 300),
                ratio_header => RATIO_HEADER,
            })
        })
        .map_err(fail)
}

/// `page` with `section` in it: replacing an earlier `<section id="bench-summary">`, or else
/// just before the last `</body>`. `None` when the page has no `</body>`.
pub fn insert_section(page: &str, section: &str) -> Option<String> {
    // ASCII lower-casing keeps byte offsets.
    let lower = page.to_ascii_lowercase();
    const OPEN: &str = "<section id=\"bench-summary\">";
    if let Some(start) = lower.find(OPEN) {
        if let Some(len) = lower[start..].find("</section>") {
            let mut end = start + len + "</section>".len();
            if page[end..].starts_with('\n') {
                end += 1;
            }
            return Some(format!("{}{section}{}", &page[..start], &page[end..]));
        }
    }
    let at = lower.rfind("</body>")?;
    Some(format!("{}{section}{}", &page[..at], &page[at..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_ratios() {
        assert_eq!(fmt_ns(42.123), "42.12 ns");
        assert_eq!(fmt_ns(62_276.77), "62.28 µs");
        assert_eq!(fmt_ns(1_500_000.0), "1.50 ms");
        assert_eq!(fmt_ns(250_000_000.0), "250.0 ms");
        assert_eq!(fmt_ns(2e9), "2.00 s");
        assert_eq!(fmt_ratio(103.4), "103×");
        assert_eq!(fmt_ratio(12.34), "12.3×");
        assert_eq!(fmt_ratio(1.049), "1.05×");
    }

    #[test]
    fn pairs_get_a_ratio_on_the_optimized_row() {
        let b = |id: &str, mean_ns| Bench {
            id: id.into(),
            mean_ns,
        };
        let rows = rows(&[
            b("q/a/baseline", 1000.0),
            b("q/a/optimized", 10.0),
            b("q/b/optimized", 5.0),
            b("cache/hit", 80.0),
        ]);
        assert_eq!(rows[0].ratio, None);
        assert_eq!(rows[1].ratio, Some(100.0));
        assert_eq!(rows[2].ratio, None, "no baseline sibling");
        assert_eq!(rows[3].ratio, None);
    }

    #[test]
    fn sections_go_before_body_or_replace_the_last_one() {
        let page = "<html><body><p>x</p>\n</BODY></html>";
        let once = insert_section(page, "<section id=\"bench-summary\">A</section>\n").unwrap();
        assert_eq!(
            once,
            "<html><body><p>x</p>\n<section id=\"bench-summary\">A</section>\n</BODY></html>"
        );
        let twice = insert_section(&once, "<section id=\"bench-summary\">B</section>\n").unwrap();
        assert_eq!(twice, once.replace(">A<", ">B<"));
        assert_eq!(insert_section("<p>no body</p>", "s"), None);
    }
}
