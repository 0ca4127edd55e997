//! Render benchmark: builds a synthetic 30-minute, 3-flow RunRecord (1800 per-second
//! histograms per flow), renders every report from it, and prints render times and sizes.
//!
//!     cargo run --release --example render_bench [-- OUT_DIR [SECONDS]]
//!
//! Writes OUT_DIR/run.json and the reports (default OUT_DIR: reports/render-bench).
//! `scripts/render-bench.sh` runs it.

#[allow(dead_code)]
#[path = "../tests/support/sample.rs"]
mod sample;

use std::path::PathBuf;
use std::time::Instant;

use loadtest::export::run_reports;
use loadtest::record::write_atomic;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().unwrap_or_else(|| "reports/render-bench".into()));
    let seconds: u32 = args.next().map_or(Ok(1800), |s| s.parse())?;
    std::fs::create_dir_all(&dir)?;

    let t = Instant::now();
    let record = if seconds == 0 {
        sample::fixture()
    } else {
        sample::synthetic(seconds, &["signup", "login", "validate"], 100, 200)
    };
    let built = t.elapsed();
    let requests: u64 = record.flows.iter().map(|f| f.requests).sum();
    let per_second: usize = record.flows.iter().map(|f| f.per_second.len()).sum();
    println!(
        "record: {} s, {} flows, {} per-second histograms, {} requests (built in {:.2} s)",
        record.users_per_second.len(),
        record.flows.len(),
        per_second,
        requests,
        built.as_secs_f64()
    );
    let json_path = dir.join("run.json");
    record.save(&dir).map_err(|f| f.message)?;
    println!(
        "{:<12} {:>9} bytes",
        "run.json",
        std::fs::metadata(&json_path)?.len()
    );
    for exporter in run_reports() {
        // Best of three, so a cold cache does not decide the figure.
        let mut best = f64::INFINITY;
        let mut text = String::new();
        for _ in 0..3 {
            let t = Instant::now();
            text = exporter.render(&record)?;
            best = best.min(t.elapsed().as_secs_f64());
        }
        let path = dir.join(exporter.file_name());
        write_atomic(&path, text.as_bytes()).map_err(|f| f.message)?;
        println!(
            "{:<12} {:>9} bytes  rendered in {:>7.1} ms  -> {}",
            exporter.file_name(),
            text.len(),
            best * 1000.0,
            path.display()
        );
    }
    Ok(())
}
