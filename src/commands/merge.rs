//! `loadtest merge SHARD.json… --out DIR`: load the shards of one distributed run, merge them
//! exactly ([`crate::merge::merge`]), write the record and every report, print the summary;
//! the exit code follows the merged verdict (0 pass, 1 fail, 3 invalid; 2 for bad shards).

use std::path::{Path, PathBuf};

use crate::cli::MergeArgs;
use crate::commands::run::{exit_code, redacted_command, write_outputs};
use crate::console;
use crate::error::Failure;
use crate::merge::{merge, ShardInput};
use crate::record::{RunRecord, SCHEMA_VERSION};

/// A shard argument: a run.json, or a folder holding one.
fn record_path(arg: &Path) -> PathBuf {
    if arg.is_dir() {
        arg.join("run.json")
    } else {
        arg.to_path_buf()
    }
}

/// Reads a record without decoding its histograms: `merge` decodes each one anyway and checks
/// its sample count as it sums them (with the count checks of [`RunRecord::validate`]), so
/// validating here would decode every histogram twice. Anything that does not parse as a
/// current record goes through [`RunRecord::load`], whose error names the problem.
fn load_unchecked(path: &Path) -> Result<RunRecord, Failure> {
    let text = crate::input::read_text(path, crate::input::MAX_RECORD_BYTES)
        .map_err(|e| Failure::bad_input(format!("{}: cannot read: {e}", path.display())))?;
    match serde_json::from_str::<RunRecord>(&text) {
        Ok(r) if r.schema_version == SCHEMA_VERSION => Ok(r),
        _ => RunRecord::from_json(&text, &path.display().to_string()),
    }
}

/// Loads every shard, in parallel.
fn load_all(paths: &[PathBuf]) -> Result<Vec<ShardInput>, Failure> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(paths.len().max(1));
    let chunk = paths.len().div_ceil(threads).max(1);
    let loaded: Vec<Result<ShardInput, Failure>> = std::thread::scope(|scope| {
        let handles: Vec<_> = paths
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|p| {
                            let path = record_path(p);
                            load_unchecked(&path).map(|record| ShardInput {
                                source: path.display().to_string(),
                                record,
                            })
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    loaded.into_iter().collect()
}

pub fn run(args: &MergeArgs) -> Result<u8, Failure> {
    if args.out.join("run.json").exists() {
        return Err(Failure::bad_input(format!(
            "{} already holds a run.json; choose another --out",
            args.out.display()
        )));
    }
    let inputs = load_all(&args.shards)?;
    let record = merge(&inputs, redacted_command())?;
    std::fs::create_dir_all(&args.out)
        .map_err(|e| Failure::bad_input(format!("cannot create {}: {e}", args.out.display())))?;
    let written = write_outputs(&record, &args.out);
    if !args.quiet {
        let m = &record.meta;
        println!(
            "merged {} shards of run {} ({} profile, {:.1} s, {} users at peak)",
            inputs.len(),
            m.run_id,
            m.profile,
            m.duration_s,
            m.max_users
        );
        println!();
        print!("{}", console::flow_table(&record));
        println!();
        print!("{}", console::threshold_table(&record));
        println!();
        println!("{}", console::verdict_line(&record));
        written.print();
    } else {
        for (p, why) in &written.failed {
            eprintln!("loadtest: {}: not written: {why}", p.display());
        }
    }
    Ok(exit_code(&record))
}
