//! `loadtest report RUN.json [--format html|md|junit|hlog|json] [--out FILE]`: re-render a saved
//! run. Bad input (unreadable or invalid run.json) is exit 2 with one line on stderr.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::cli::ReportArgs;
use crate::error::Failure;
use crate::export::{write_report, Format};
use crate::record::RunRecord;

/// Where the report goes: `None` for stdout.
fn destination(args: &ReportArgs, file_name: &str) -> Option<PathBuf> {
    match &args.out {
        Some(p) if p.as_os_str() == "-" => None,
        Some(p) => Some(p.clone()),
        // The JSON "report" is the record itself: never overwrite the input by default.
        None if args.format == Format::Json => None,
        None => Some(
            args.input
                .parent()
                .unwrap_or(Path::new("."))
                .join(file_name),
        ),
    }
}

pub fn run(args: &ReportArgs) -> Result<u8, Failure> {
    let record = RunRecord::load(&args.input)?;
    let exporter = args.format.exporter();
    match destination(args, exporter.file_name()) {
        Some(path) => {
            write_report(exporter.as_ref(), &record, &path)?;
            println!("wrote {}", path.display());
        }
        None => {
            let text = exporter.render(&record).map_err(|e| {
                Failure::bad_input(format!("cannot render the {} report: {e}", exporter.name()))
            })?;
            let mut out = std::io::stdout().lock();
            match out
                .write_all(text.as_bytes())
                .and_then(|()| out.write_all(b"\n"))
            {
                // `loadtest report … --out - | head` is fine.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                Err(e) => return Err(Failure::bad_input(format!("cannot write to stdout: {e}"))),
                Ok(()) => {}
            }
        }
    }
    Ok(0)
}
