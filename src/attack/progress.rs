//! Live progress while a run goes: on a terminal (stderr is a TTY) one bar redrawn in place
//! every second; otherwise (CI logs, pipes) a plain line every 5 seconds. Both fit in
//! [`WIDTH`] columns: the per-flow p95s wrap onto indented continuation lines.

use std::time::Duration;

use super::recorder::Live;
use crate::histogram::quantile_ms;
use crate::units::fmt_ms;

/// The widest line printed.
pub const WIDTH: usize = 100;

fn totals(live: &Live) -> (u64, f64, f64) {
    let requests: u64 = live.flows.iter().map(|f| f.requests).sum();
    let failed: u64 = live.flows.iter().map(|f| f.failed).sum();
    let secs = live.elapsed.as_secs_f64().max(0.001);
    let error_pct = if requests == 0 {
        0.0
    } else {
        100.0 * failed as f64 / requests as f64
    };
    (requests, requests as f64 / secs, error_pct)
}

/// `login 12.3 ms` per flow: p95 over the last 5 s.
fn p95s(live: &Live) -> Vec<String> {
    live.flows
        .iter()
        .map(|f| {
            let p = quantile_ms(&f.recent, 0.95).map_or("-".into(), fmt_ms);
            format!("{} {p}", f.flow.name())
        })
        .collect()
}

/// The plain progress lines (no TTY): totals, then the p95s, wrapped at [`WIDTH`].
pub fn plain_lines(live: &Live, total: Duration) -> Vec<String> {
    let (_, rps, err) = totals(live);
    let head = format!(
        "[{:>4.0}s/{:>4}s] users {:>5}  req/s {:>7.0}  errors {:>5.2}%  p95 (last 5 s):",
        live.elapsed.as_secs_f64(),
        total.as_secs(),
        live.users,
        rps,
        err
    );
    let mut lines = vec![head];
    for part in p95s(live) {
        let last = lines.last_mut().expect("one line");
        if last.chars().count() + 2 + part.chars().count() <= WIDTH {
            last.push_str("  ");
            last.push_str(&part);
        } else {
            lines.push(format!("    {part}"));
        }
    }
    lines
}

/// The bar drawn in place on a terminal: `[#####-----]  12s/60s  users 10  req/s 1234 …`,
/// cut to `width` columns.
pub fn bar_line(live: &Live, total: Duration, width: usize) -> String {
    let (_, rps, err) = totals(live);
    let frac = (live.elapsed.as_secs_f64() / total.as_secs_f64().max(0.001)).clamp(0.0, 1.0);
    let cells = 20usize;
    let done = (frac * cells as f64).round() as usize;
    let worst = live
        .flows
        .iter()
        .filter_map(|f| quantile_ms(&f.recent, 0.95).map(|p| (p, f.flow.name())))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map_or(String::new(), |(p, name)| {
            format!("  worst p95 {} ({name})", fmt_ms(p))
        });
    let line = format!(
        "[{}{}] {:>4.0}s/{}s  users {}  req/s {:.0}  errors {:.2}%{worst}",
        "#".repeat(done),
        "-".repeat(cells - done),
        live.elapsed.as_secs_f64(),
        total.as_secs(),
        live.users,
        rps,
        err
    );
    line.chars().take(width.min(WIDTH)).collect()
}
