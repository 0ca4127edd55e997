//! `loadtest bench-summary`: criterion's results as one table (stdout, `--md`, or a section
//! appended to an HTML report with `--html`). Exit 0, or 2 on bad input.

use crate::bench_summary::{html_section, insert_section, markdown, rows, scan, text};
use crate::cli::BenchSummaryArgs;
use crate::error::Failure;
use crate::record::write_atomic;

pub fn run(args: &BenchSummaryArgs) -> Result<u8, Failure> {
    let benches = scan(&args.criterion_dir)?;
    let rows = rows(&benches);
    // Everything is prepared before anything is written, so bad input writes nothing.
    let mut targets = Vec::new();
    if let Some(p) = &args.md {
        targets.push((p.clone(), markdown(&rows)));
    }
    if let Some(p) = &args.html {
        let page = crate::input::read_text(p, crate::input::MAX_INPUT_BYTES)
            .map_err(|e| Failure::bad_input(format!("{}: cannot read: {e}", p.display())))?;
        let section = html_section(&rows, &args.criterion_dir.display().to_string())?;
        let page = insert_section(&page, &section).ok_or_else(|| {
            Failure::bad_input(format!(
                "{}: no </body> to append the benchmark table before (not an HTML report?)",
                p.display()
            ))
        })?;
        targets.push((p.clone(), page));
    }
    print!("{}", text(&rows));
    for (path, body) in targets {
        write_atomic(&path, body.as_bytes())?;
        println!("wrote {}", path.display());
    }
    Ok(0)
}
