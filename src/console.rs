//! Plain-text tables for the terminal: the end-of-run summary and the threshold verdicts.
//! Everything printed from a record is sanitized (no control characters from the target).
//! Every line fits in [`WIDTH`] columns (long text wraps onto indented lines); latencies use
//! the one format of [`crate::units::fmt_ms`]; colour ([`paint`]) only on a terminal and never
//! with `NO_COLOR` set.

use crate::record::{RunRecord, RunVerdict};
use crate::server::shown_hit_ratio;
use crate::text::sanitize;

use crate::units::fmt_ms as ms;

/// The widest line the terminal output has.
pub const WIDTH: usize = 100;

/// `text` on lines of at most `width` columns, broken at spaces (spacing within a line is
/// kept, so aligned columns stay aligned); lines after the first start with `indent`. A word
/// longer than a line is cut.
pub fn wrap(text: &str, width: usize, indent: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut rest = text;
    let mut prefix = "";
    loop {
        let room = width.saturating_sub(prefix.chars().count()).max(10);
        let Some((cut, _)) = rest.char_indices().nth(room) else {
            lines.push(format!("{prefix}{rest}"));
            break;
        };
        let head = &rest[..cut];
        let (line, next) = match head.rfind(' ') {
            // A space right at the cut still breaks there (the space is dropped).
            _ if rest[cut..].starts_with(' ') => (head, &rest[cut..]),
            Some(i) if !head[..i].trim().is_empty() => (&rest[..i], &rest[i..]),
            _ => (head, &rest[cut..]),
        };
        lines.push(format!("{prefix}{}", line.trim_end()));
        rest = next.trim_start();
        prefix = indent;
        if rest.is_empty() {
            break;
        }
    }
    lines
}

/// `text` wrapped at [`WIDTH`] as one string with a newline after each line.
fn wrapped(text: &str, indent: &str) -> String {
    wrap(text, WIDTH, indent)
        .into_iter()
        .map(|l| l + "\n")
        .collect()
}

/// Terminal colours used for verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    Green,
    Red,
    Yellow,
}

/// Whether stdout gets colour: a terminal, and `NO_COLOR` unset or empty.
pub fn colour_enabled() -> bool {
    use std::io::IsTerminal;
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

/// `text` in `colour` when `on`, else unchanged.
pub fn paint(text: &str, colour: Colour, on: bool) -> String {
    if !on {
        return text.to_string();
    }
    let code = match colour {
        Colour::Green => "32",
        Colour::Red => "31",
        Colour::Yellow => "33",
    };
    format!("\x1b[1;{code}m{text}\x1b[0m")
}

/// The verdict line coloured by verdict (pass green, fail red, invalid yellow) when `on`,
/// wrapped at [`WIDTH`].
pub fn verdict_lines(r: &RunRecord, on: bool) -> String {
    let colour = match r.outcome.verdict.as_str() {
        "pass" => Colour::Green,
        "invalid" => Colour::Yellow,
        _ => Colour::Red,
    };
    wrap(&verdict_line(r), WIDTH, "  ")
        .into_iter()
        .map(|l| paint(&l, colour, on) + "\n")
        .collect()
}

/// Per-flow table: requests, failures, req/s and percentiles.
pub fn flow_table(r: &RunRecord) -> String {
    let mut out = format!(
        "{:<10} {:>9} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
        "flow", "requests", "failed", "req/s", "p50", "p95", "p99", "p99.9", "max"
    );
    let secs = r.meta.duration_s.max(0.001);
    for f in &r.flows {
        let s = &f.summary;
        out.push_str(&format!(
            "{:<10} {:>9} {:>8} {:>9.1} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
            sanitize(&f.name, 10),
            f.requests,
            f.failed,
            f.requests as f64 / secs,
            ms(s.p50),
            ms(s.p95),
            ms(s.p99),
            ms(s.p999),
            ms(s.max)
        ));
        if !f.errors.is_empty() {
            let classes: Vec<String> = f
                .errors
                .iter()
                .map(|(k, v)| format!("{}×{v}", sanitize(k, 20)))
                .collect();
            out.push_str(&wrapped(
                &format!("{:<10} errors: {}", "", classes.join(", ")),
                "                  ",
            ));
        }
    }
    out
}

/// Open-model figures (target vs achieved rate, late, dropped, send lag); empty for a
/// closed-model run.
pub fn rate_line(r: &RunRecord) -> String {
    r.meta
        .rate
        .as_ref()
        .map_or(String::new(), |rate| wrapped(&rate.describe(), "  "))
}

/// How many requests waited out a backoff first; empty when none did.
pub fn backoff_line(r: &RunRecord) -> String {
    match r.meta.delayed_retries {
        0 => String::new(),
        n => wrapped(
            &format!(
                "backoff: {n} request(s) sent only after a backoff wait (their user's signup, \
                 login or refresh had failed)"
            ),
            "  ",
        ),
    }
}

/// Threshold table: rule, observed, verdict.
pub fn threshold_table(r: &RunRecord) -> String {
    let mut out = format!("{:<34} {:>14}  {}\n", "threshold", "observed", "verdict");
    for v in &r.thresholds {
        let verdict = if v.passed {
            "pass".to_string()
        } else {
            format!(
                "FAIL{}",
                v.reason
                    .as_ref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            )
        };
        out.push_str(&wrapped(
            &format!(
                "{:<34} {:>14}  {}",
                sanitize(&v.rule, 34),
                v.observed_text,
                verdict
            ),
            &" ".repeat(51),
        ));
    }
    out
}

/// The verdict line.
pub fn verdict_line(r: &RunRecord) -> String {
    let mut line = match r.outcome.verdict {
        RunVerdict::Pass => "PASS: every threshold held".to_string(),
        RunVerdict::Invalid => "INVALID: the run could not be judged".to_string(),
        RunVerdict::Fail => {
            let failed = r.thresholds.iter().filter(|v| !v.passed).count();
            format!("FAIL: {failed} of {} thresholds failed", r.thresholds.len())
        }
    };
    if let Some(reason) = &r.outcome.reason {
        line.push_str(&format!(" — {}", sanitize(reason, 1000)));
    }
    if r.outcome.partial {
        line.push_str(" [partial run]");
    }
    line
}

fn num(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.2}"))
}

/// Server-side figures: the scraped totals, then `X-DB-Queries` / `X-Cache` per flow; empty
/// when the run recorded none.
pub fn server_table(r: &RunRecord) -> String {
    let Some(server) = &r.server else {
        return String::new();
    };
    let mut out = String::new();
    if let Some(s) = &server.scrape {
        out.push('\n');
        out.push_str(&wrapped(&format!(
            "server metrics ({}, {} scrapes{}): cache hit ratio {} · DB queries/request {} · requests {}",
            sanitize(&s.url, 80),
            s.points.len(),
            if s.errors > 0 {
                format!(", {} failed", s.errors)
            } else {
                String::new()
            },
            shown_hit_ratio(
                s.deltas.cache_hits.unwrap_or(0.0),
                s.deltas.cache_misses.unwrap_or(0.0),
                s.cache_hit_ratio
            ),
            num(s.db_queries_per_request),
            s.deltas.requests.map_or("-".into(), |v| format!("{v:.0}")),
        ), "  "));
    }
    if !server.headers.is_empty() {
        out.push_str(&format!(
            "\n{:<10} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
            "flow", "responses", "db q/req", "hits", "misses", "hit ratio"
        ));
        for f in &server.headers {
            out.push_str(&format!(
                "{:<10} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
                sanitize(&f.flow, 10),
                f.responses,
                num(f.db_queries_per_request()),
                f.cache_hits,
                f.cache_misses,
                // No hits and no misses: n/a, not "0.0%".
                shown_hit_ratio(
                    f.cache_hits as f64,
                    f.cache_misses as f64,
                    f.cache_hit_ratio()
                )
            ));
        }
        out.push_str("(from the X-DB-Queries / X-Cache response headers)\n");
    }
    out
}

/// Recovery after the spike, one line per scope; empty for runs without a spike phase.
pub fn recovery_lines(r: &RunRecord) -> String {
    if r.recovery.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "\nrecovery after the spike (p95 over {} s windows back under the limit):\n",
        r.recovery[0].window_s
    );
    for rec in &r.recovery {
        out.push_str(&format!(
            "  {:<10} {:>16}  (limit {}, spike p95 {})\n",
            sanitize(&rec.scope, 10),
            rec.describe(),
            ms(rec.limit_ms),
            rec.spike_p95_ms.map_or("-".into(), ms)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_keeps_short_lines_and_breaks_long_ones_at_spaces() {
        assert_eq!(wrap("a   b", 10, "  "), ["a   b"]);
        let long = "one two three four five six seven eight nine ten";
        let lines = wrap(long, 20, "  ");
        assert!(lines.iter().all(|l| l.chars().count() <= 20), "{lines:?}");
        assert_eq!(lines[0], "one two three four");
        assert!(lines[1].starts_with("  five"));
        let joined: Vec<&str> = lines.iter().flat_map(|l| l.split_whitespace()).collect();
        assert_eq!(joined.join(" "), long);
        let word = "x".repeat(45);
        let cut = wrap(&word, 20, "");
        assert_eq!(cut.len(), 3);
        assert_eq!(cut.concat(), word);
    }

    #[test]
    fn colour_only_when_asked() {
        assert_eq!(paint("PASS", Colour::Green, false), "PASS");
        assert_eq!(paint("FAIL", Colour::Red, true), "\x1b[1;31mFAIL\x1b[0m");
    }
}
