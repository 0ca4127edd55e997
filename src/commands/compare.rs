//! `loadtest compare` and `loadtest ab`: baseline vs candidate with a statistical verdict.

use std::path::{Path, PathBuf};

use crate::cli::{AbArgs, CompareArgs, CompareOpts};
use crate::commands::run::{execute, new_run_id, RunInputs, Target};
use crate::compare::{self, render, Comparison, Options};
use crate::error::Failure;
use crate::export::{compare_html, compare_junit, ExportError};
use crate::record::{write_atomic, RunRecord};

/// Run records named by a path: a run.json file, a run folder (holding run.json), or a folder
/// of run folders / run files.
pub fn load_runs(path: &Path) -> Result<Vec<RunRecord>, Failure> {
    if std::fs::symlink_metadata(path).is_err() {
        return Err(Failure::bad_input(format!(
            "{}: no such file or folder",
            path.display()
        )));
    }
    // Anything but a folder is read as a run.json (a FIFO or device is refused there).
    if !path.is_dir() {
        return Ok(vec![RunRecord::load(path)?]);
    }
    if path.join("run.json").exists() {
        return Ok(vec![RunRecord::load(&path.join("run.json"))?]);
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| Failure::bad_input(format!("{}: cannot list: {e}", path.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    let mut runs = Vec::new();
    for p in entries {
        if p.join("run.json").exists() {
            runs.push(RunRecord::load(&p.join("run.json"))?);
        } else if p.extension().is_some_and(|e| e == "json") && !p.is_dir() {
            runs.push(RunRecord::load(&p)?);
        }
    }
    if runs.is_empty() {
        return Err(Failure::bad_input(format!(
            "{}: no run.json found in this folder",
            path.display()
        )));
    }
    Ok(runs)
}

fn load_side(paths: &[PathBuf]) -> Result<Vec<RunRecord>, Failure> {
    let mut runs = Vec::new();
    for p in paths {
        runs.extend(load_runs(p)?);
    }
    Ok(runs)
}

fn options(o: &CompareOpts) -> Result<Options, Failure> {
    if !(o.alpha > 0.0 && o.alpha < 0.5) {
        return Err(Failure::bad_input(format!(
            "--alpha {}: must be in (0, 0.5)",
            o.alpha
        )));
    }
    Ok(Options {
        min_effect: o.min_effect,
        alpha: o.alpha,
        seed: o.bootstrap_seed,
        ..Options::default()
    })
}

/// Prints the comparison and writes the requested files (`default_dir`: `ab`'s folder, which
/// gets compare.md, compare.html and compare-junit.xml); `a` and `b` are the baseline and
/// candidate runs `c` was computed from. Exit 1 on a gated regression, 3 when a side could
/// not be judged, 0 otherwise.
pub fn report(
    c: &Comparison,
    a: &[RunRecord],
    b: &[RunRecord],
    o: &CompareOpts,
    default_dir: Option<&Path>,
) -> Result<u8, Failure> {
    print!("{}", render::text(c));
    let md = render::markdown(c);
    let rendered = |what: &str, r: Result<String, ExportError>| {
        r.map_err(|e| Failure::bad_input(format!("cannot render the {what} comparison: {e}")))
    };
    let want_html = o.html.is_some() || default_dir.is_some();
    let want_junit = o.junit.is_some() || default_dir.is_some();
    let html = if want_html {
        Some(rendered("HTML", compare_html::render(c, a, b))?)
    } else {
        None
    };
    let junit = if want_junit {
        Some(rendered("JUnit", compare_junit::render(c, a, b))?)
    } else {
        None
    };
    let mut targets: Vec<(PathBuf, String)> = Vec::new();
    if let Some(p) = &o.md {
        targets.push((p.clone(), md.clone()));
    }
    if let Some(p) = &o.json {
        let json = serde_json::to_string_pretty(c)
            .map_err(|e| Failure::unjudgeable(format!("cannot encode comparison: {e}")))?;
        targets.push((p.clone(), json));
    }
    if let (Some(p), Some(text)) = (&o.html, &html) {
        targets.push((p.clone(), text.clone()));
    }
    if let (Some(p), Some(text)) = (&o.junit, &junit) {
        targets.push((p.clone(), text.clone()));
    }
    if let Some(dir) = default_dir {
        targets.push((dir.join("compare.md"), md.clone()));
        if let Some(text) = &html {
            targets.push((dir.join(compare_html::FILE_NAME), text.clone()));
        }
        if let Some(text) = &junit {
            targets.push((dir.join(compare_junit::FILE_NAME), text.clone()));
        }
    }
    // Missing folders are created; an unwritable path must not leave the other new outputs
    // (files, then the folders made for them) behind.
    let mut created: Vec<&PathBuf> = Vec::new();
    let mut made_dirs: Vec<PathBuf> = Vec::new();
    for (path, text) in &targets {
        let existed = path.exists();
        let written =
            create_parents(path, &mut made_dirs).and_then(|()| write_atomic(path, text.as_bytes()));
        if let Err(e) = written {
            for p in created {
                let _ = std::fs::remove_file(p);
            }
            // Deepest first; a folder that is not empty stays.
            made_dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
            for d in &made_dirs {
                let _ = std::fs::remove_dir(d);
            }
            return Err(e);
        }
        if !existed {
            created.push(path);
        }
    }
    for (path, _) in &targets {
        println!("wrote {}", path.display());
    }
    if let Err(e) = crate::export::markdown::append_step_summary(&md) {
        eprintln!(
            "loadtest: warning: GITHUB_STEP_SUMMARY not written: {}",
            e.one_line()
        );
    }
    Ok(if !c.invalid.is_empty() {
        3
    } else if c.regression() {
        1
    } else {
        0
    })
}

/// Creates the missing folders above `path`, noting each one it made in `made`.
fn create_parents(path: &Path, made: &mut Vec<PathBuf>) -> Result<(), Failure> {
    let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) else {
        return Ok(());
    };
    let missing: Vec<PathBuf> = parent
        .ancestors()
        .take_while(|a| !a.as_os_str().is_empty() && !a.exists())
        .map(Path::to_path_buf)
        .collect();
    std::fs::create_dir_all(parent).map_err(|e| {
        Failure::bad_input(format!(
            "cannot create the folder {}: {e}",
            parent.display()
        ))
    })?;
    made.extend(missing);
    Ok(())
}

pub fn run(args: CompareArgs) -> Result<u8, Failure> {
    let (base_paths, cand_paths) = match (
        args.paths.len(),
        args.baseline.is_empty(),
        args.candidate.is_empty(),
    ) {
        (2, true, true) => (vec![args.paths[0].clone()], vec![args.paths[1].clone()]),
        (0, false, false) => (args.baseline.clone(), args.candidate.clone()),
        _ => {
            return Err(Failure::bad_input(
                "compare takes BASELINE CANDIDATE, or --baseline RUN… --candidate RUN…",
            ))
        }
    };
    let a = load_side(&base_paths)?;
    let b = load_side(&cand_paths)?;
    let c = compare::compare(&a, &b, &options(&args.opts)?)?;
    report(&c, &a, &b, &args.opts, None)
}

/// `ab --paired`: one run driving both hosts at the same time, then the paired comparison.
async fn ab_paired(args: AbArgs, opts: Options) -> Result<u8, Failure> {
    if args.runs.is_some() {
        return Err(Failure::bad_input(
            "ab --paired makes one paired run: --runs does not apply (lengthen it with --duration)",
        ));
    }
    let inputs = RunInputs::resolve(&args.profile, &args.run)?;
    if inputs.profile.is_open() {
        return Err(Failure::bad_input(
            "ab --paired supports closed-model profiles only (no --rate)",
        ));
    }
    let root = inputs.out_dir.clone();
    let root = if args.run.out.is_some() {
        root
    } else {
        crate::commands::run::default_out_dir(&format!("ab-paired-{}", args.profile))
    };
    let inputs = RunInputs {
        target: Target::Host(args.baseline_host.trim_end_matches('/').to_string()),
        out_dir: root.clone(),
        ..inputs
    };
    let (a, b) =
        crate::commands::run::execute_paired(&inputs, args.candidate_host.trim_end_matches('/'))
            .await?;
    if let Some(sig) = crate::interrupt::requested() {
        return Err(Failure::interrupted(
            sig,
            "ab --paired interrupted: no comparison made",
        ));
    }
    let (a, b) = (vec![a], vec![b]);
    let c = compare::compare(&a, &b, &opts)?;
    report(&c, &a, &b, &args.opts, Some(&root))
}

/// `ab`: the profile alternately against both hosts (fresh random order per pair), then compare.
pub async fn ab(args: AbArgs) -> Result<u8, Failure> {
    if args.run.host.is_some() {
        return Err(Failure::bad_input(
            "ab takes --baseline-host and --candidate-host, not --host",
        ));
    }
    let runs = args.runs.unwrap_or(5);
    let opts = options(&args.opts)?;
    if args.paired {
        return ab_paired(args, opts).await;
    }
    // Inputs resolved once; each run differs only in host, folder and run id.
    let base = RunInputs::resolve(&args.profile, &args.run)?;
    crate::attack::preflight(&args.baseline_host).await?;
    crate::attack::preflight(&args.candidate_host).await?;
    let root =
        args.run.out.clone().unwrap_or_else(|| {
            crate::commands::run::default_out_dir(&format!("ab-{}", args.profile))
        });
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for i in 1..=runs {
        let mut order = [
            ("baseline", &args.baseline_host),
            ("candidate", &args.candidate_host),
        ];
        if rand::random::<bool>() {
            order.swap(0, 1);
        }
        for (side, host) in order {
            eprintln!("ab: pair {i}/{runs}: {side} ({host})");
            let inputs = RunInputs {
                target: Target::Host(host.trim_end_matches('/').to_string()),
                out_dir: root.join(format!("{side}-{i}")),
                // Every run signs up its own users (same host, fresh identities).
                run_id: if args.run.run_id.is_some() {
                    base.run_id.clone()
                } else {
                    new_run_id()
                },
                ..base.clone()
            };
            let record = execute(&inputs).await?;
            if let Some(sig) = crate::interrupt::requested() {
                return Err(Failure::interrupted(
                    sig,
                    format!("ab interrupted during pair {i} ({side}): no comparison made"),
                ));
            }
            if side == "baseline" {
                a.push(record);
            } else {
                b.push(record);
            }
        }
    }
    let c = compare::compare(&a, &b, &opts)?;
    report(&c, &a, &b, &args.opts, Some(&root))
}
