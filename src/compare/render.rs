//! Text renderings of a [`Comparison`]: the terminal table and the Markdown PR comment.

use super::stats::Verdict;
use super::{CompareMetric, Comparison, Row};
use crate::console::{wrap, WIDTH};
use crate::text::sanitize;

/// A value in the metric's unit.
pub fn value(metric: CompareMetric, v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    match metric {
        CompareMetric::Rps => format!("{v:.1}/s"),
        CompareMetric::ErrorRate => format!("{:.2}%", v * 100.0),
        _ => crate::units::fmt_ms(v),
    }
}

/// The change with its interval: `+12.3% [+8.1%, +16.0%]`, error rate in points.
pub fn change(r: &Row) -> String {
    let pct = |x: f64| {
        if r.metric == CompareMetric::ErrorRate {
            format!("{:+.2} pt", x * 100.0)
        } else {
            format!("{:+.1}%", x * 100.0)
        }
    };
    if !r.change.is_finite() {
        return "–".into();
    }
    if r.low.is_finite() && r.high.is_finite() {
        format!("{} [{}, {}]", pct(r.change), pct(r.low), pct(r.high))
    } else {
        pct(r.change)
    }
}

fn verdict_text(v: Verdict) -> &'static str {
    match v {
        Verdict::Regression => "REGRESSION",
        Verdict::Improvement => "improvement",
        Verdict::NoSignificantChange => "no significant change",
        Verdict::Inconclusive => "inconclusive",
    }
}

/// The overall line: regression or not, and how sure.
pub fn headline(c: &Comparison) -> String {
    let regressions: Vec<String> = c
        .rows
        .iter()
        .filter(|r| r.gated && r.verdict == Verdict::Regression)
        .map(|r| format!("{} {}", r.flow, r.metric.name()))
        .collect();
    let mut line = if !c.invalid.is_empty() {
        "INCONCLUSIVE: a side could not be judged".to_string()
    } else if !regressions.is_empty() {
        format!("REGRESSION in {}", regressions.join(", "))
    } else if c.method == "too-few-runs" {
        "INCONCLUSIVE: too few runs for a verdict".to_string()
    } else if c.method == super::paired::METHOD
        && c.rows
            .iter()
            .filter(|r| r.gated)
            .all(|r| r.verdict == Verdict::Inconclusive)
    {
        format!(
            "INCONCLUSIVE: too few steady-state blocks for a verdict (at least {} of {} s; run longer)",
            super::paired::MIN_BLOCKS,
            super::paired::BLOCK_SECONDS
        )
    } else {
        let improved: Vec<String> = c
            .rows
            .iter()
            .filter(|r| r.gated && r.verdict == Verdict::Improvement)
            .map(|r| format!("{} {}", r.flow, r.metric.name()))
            .collect();
        if improved.is_empty() {
            "no regression in the gated metrics (p95 and error rate of every flow)".to_string()
        } else {
            format!("no regression; IMPROVEMENT in {}", improved.join(", "))
        }
    };
    if let Some(label) = &c.label {
        line.push_str(&format!(" — {label}"));
    }
    line
}

/// Terminal table.
pub fn text(c: &Comparison) -> String {
    let mut out = format!(
        "baseline: {} run(s), candidate: {} run(s), method: {}\n\n",
        c.baseline_runs, c.candidate_runs, c.method
    );
    // At most 100 columns: flow 10, metric 10, two values of 10, change 29, verdict 23.
    out.push_str(&format!(
        "{:<10} {:<10} {:>10} {:>10}  {:<29} {}\n",
        "flow", "metric", "baseline", "candidate", "change [interval]", "verdict"
    ));
    let mut ungated = false;
    for (i, r) in c.rows.iter().enumerate() {
        // One flow's rows together; its name once, on its first row.
        let first = i == 0 || c.rows[i - 1].flow != r.flow;
        ungated |= !r.gated;
        let line = format!(
            "{:<10} {:<10} {:>10} {:>10}  {:<29} {}{}",
            if first {
                sanitize(&r.flow, 9)
            } else {
                String::new()
            },
            r.metric.name(),
            value(r.metric, r.baseline),
            value(r.metric, r.candidate),
            change(r),
            verdict_text(r.verdict),
            if r.gated { "" } else { " °" }
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    if ungated {
        out.push_str("° not gated (shown for information; never fails the comparison)\n");
    }
    for why in &c.invalid {
        for line in wrap(&format!("invalid: {}", sanitize(why, 300)), WIDTH, "  ") {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out.push('\n');
    for line in wrap(&headline(c), WIDTH, "  ") {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Markdown for a pull-request comment.
pub fn markdown(c: &Comparison) -> String {
    let esc = |s: &str| {
        sanitize(s, 200)
            .replace('|', "\\|")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let mut out = format!("### loadtest compare: {}\n\n", esc(&headline(c)));
    out.push_str("| flow | metric | baseline | candidate | change [interval] | verdict |\n");
    out.push_str("|---|---|---:|---:|---|---|\n");
    for r in &c.rows {
        let verdict = match r.verdict {
            Verdict::Regression => "🔴 **regression**".to_string(),
            Verdict::Improvement => "🟢 improvement".to_string(),
            v => verdict_text(v).to_string(),
        };
        out.push_str(&format!(
            "| {} | {}{} | {} | {} | {} | {} |\n",
            esc(&r.flow),
            r.metric.name(),
            if r.gated { " (gated)" } else { "" },
            value(r.metric, r.baseline),
            value(r.metric, r.candidate),
            change(r),
            verdict
        ));
    }
    for why in &c.invalid {
        out.push_str(&format!("\n> invalid: {}\n", esc(why)));
    }
    if let Some((head, rows)) = paired_blocks(c, MAX_BLOCK_ROWS) {
        out.push_str(&format!(
            "\nPer block over time (candidate ÷ baseline; error rate: difference in points):\n\n| {} |\n|{}\n",
            head.iter().map(|h| esc(h)).collect::<Vec<_>>().join(" | "),
            "---:|".repeat(head.len())
        ));
        for row in rows {
            out.push_str(&format!("| {} |\n", row.join(" | ")));
        }
    }
    out.push_str(&format!("\n{}\n", esc(&c.method_text())));
    out
}

/// Most block rows shown in the Markdown and HTML tables (evenly spaced over the run).
pub const MAX_BLOCK_ROWS: usize = 20;

/// A paired comparison's blocks as a table: the header (block start, then one column per
/// gated series that has blocks) and up to `max_rows` rows, evenly spaced over the run.
/// `None` for other methods.
pub fn paired_blocks(c: &Comparison, max_rows: usize) -> Option<(Vec<String>, Vec<Vec<String>>)> {
    let p = c.paired.as_ref()?;
    let series: Vec<_> = p.series.iter().filter(|s| !s.diff.is_empty()).collect();
    let mut head = vec!["block start".to_string()];
    head.extend(series.iter().map(|s| {
        let what = if s.metric == CompareMetric::ErrorRate {
            "Δ"
        } else {
            "ratio"
        };
        format!("{} {} {what}", sanitize(&s.flow, 40), s.metric.name())
    }));
    let mut starts: Vec<u32> = series
        .iter()
        .flat_map(|s| s.start_s.iter().copied())
        .collect();
    starts.sort_unstable();
    starts.dedup();
    let picked: Vec<u32> = if starts.len() <= max_rows || max_rows < 2 {
        starts
    } else {
        (0..max_rows)
            .map(|i| starts[i * (starts.len() - 1) / (max_rows - 1)])
            .collect()
    };
    let rows = picked
        .into_iter()
        .map(|t| {
            let mut row = vec![format!("{t} s")];
            row.extend(
                series
                    .iter()
                    .map(|s| match s.start_s.iter().position(|x| *x == t) {
                        Some(i) if s.metric == CompareMetric::ErrorRate => {
                            format!("{:+.2} pt", s.diff[i] * 100.0)
                        }
                        Some(i) => format!("{:.3}", s.diff[i].exp()),
                        None => "–".to_string(),
                    }),
            );
            row
        })
        .collect();
    Some((head, rows))
}
