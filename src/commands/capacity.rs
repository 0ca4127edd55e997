//! `loadtest capacity`: steps the arrival rate up (doubling) until the threshold breaks, then
//! bisects between the last rate that held and the first that failed, and reports the highest
//! rate that held — with a chart of the rule's metric against the rate.

use std::time::Duration;

use crate::cli::CapacityArgs;
use crate::commands::run::{execute, new_run_id, overrides, RunInputs, Target};
use crate::error::Failure;
use crate::export::capacity::{self, Capacity, Step};
use crate::profile::{pool_for, Profile, Stage, Weights};
use crate::record::write_atomic;
use crate::reference_api::{start, TargetConfig};
use crate::thresholds::Rule;

fn rule_for(args: &CapacityArgs) -> Result<Rule, Failure> {
    let [text] = args.run.threshold.as_slice() else {
        return Err(Failure::bad_input(
            "capacity needs exactly one --threshold rule, e.g. --threshold 'p95<100ms'",
        ));
    };
    // A rule without a scope applies to the flow under test.
    let text = if text.contains(':') {
        text.clone()
    } else {
        format!("{}: {text}", args.flow)
    };
    text.parse()
        .map_err(|e: crate::thresholds::ThresholdError| Failure::bad_input(e.to_string()))
}

fn weights_for(flow: &str) -> Result<Weights, Failure> {
    let only = |validate, login, refresh| Weights {
        validate,
        login,
        refresh,
        logout: 0,
    };
    Ok(match flow {
        "validate" => only(100, 0, 0),
        "login" => only(0, 100, 0),
        "refresh" => only(0, 0, 100),
        other => {
            return Err(Failure::bad_input(format!(
                "--flow '{other}': capacity can search validate, login or refresh"
            )))
        }
    })
}

/// One fixed-rate step as a profile: the whole pool at once, held for `--step-duration`.
fn step_profile(args: &CapacityArgs, weights: &Weights, rate: f64) -> Result<Profile, Failure> {
    Profile {
        name: "capacity".into(),
        description: format!("capacity step at {rate:.0}/s"),
        stages: vec![Stage {
            users: pool_for(rate),
            rate: Some(rate),
            ramp: Duration::ZERO,
            hold: args.step_duration,
            phase: "hold".into(),
        }],
        weights: weights.clone(),
    }
    .with_overrides(&overrides(&args.run))
}

pub async fn run(args: CapacityArgs) -> Result<u8, Failure> {
    let rule = rule_for(&args)?;
    let weights = weights_for(&args.flow)?;
    if args.run.rate.is_some() || args.run.users.is_some() || args.run.profiles.is_some() {
        return Err(Failure::bad_input(
            "capacity sets the rate itself: use --start, --max, --step-duration instead of --rate/--users/--profiles",
        ));
    }
    if !(args.start > 0.0 && args.max >= args.start) {
        return Err(Failure::bad_input(
            "--start must be positive and --max at least --start",
        ));
    }
    // Inputs resolved once (contract, scraping, seed, …); each step sets its own profile,
    // rule, folder and run id.
    let base = RunInputs::with_profile(step_profile(&args, &weights, args.start)?, &args.run)?;
    let root = args.run.out.clone().unwrap_or_else(|| {
        crate::commands::run::default_out_dir(&format!("capacity-{}", args.flow))
    });
    std::fs::create_dir_all(&root)
        .map_err(|e| Failure::bad_input(format!("cannot create {}: {e}", root.display())))?;
    let (host, target) = match &args.run.host {
        Some(h) => {
            crate::attack::preflight(h).await?;
            (h.trim_end_matches('/').to_string(), None)
        }
        None => {
            let t = start(TargetConfig {
                mode: args.run.target_mode,
                ..TargetConfig::default()
            })
            .await?;
            eprintln!(
                "embedded reference API ({} mode) at {}",
                args.run.target_mode, t.url
            );
            (t.url.clone(), Some(t))
        }
    };
    let result = search(&args, &base, &rule, &weights, &host, &root).await;
    if let Some(t) = target {
        t.shutdown().await;
    }
    let cap = result?;
    let json = serde_json::to_string_pretty(&cap)
        .map_err(|e| Failure::unjudgeable(format!("cannot encode capacity result: {e}")))?;
    write_atomic(&root.join("capacity.json"), json.as_bytes())?;
    let html = capacity::render(&cap).map_err(|e| Failure::unjudgeable(e.to_string()))?;
    write_atomic(&root.join("capacity.html"), html.as_bytes())?;
    println!("\n{}", capacity::headline(&cap));
    println!("wrote {}", root.join("capacity.html").display());
    Ok(if cap.highest_held.is_some() { 0 } else { 1 })
}

async fn search(
    args: &CapacityArgs,
    base: &RunInputs,
    rule: &Rule,
    weights: &Weights,
    host: &str,
    root: &std::path::Path,
) -> Result<Capacity, Failure> {
    let mut cap = Capacity {
        host: host.to_string(),
        flow: args.flow.clone(),
        rule: rule.text.clone(),
        limit: rule.limit,
        steps: Vec::new(),
        highest_held: None,
        lowest_failed: None,
    };
    let mut rate = args.start;
    loop {
        let held = step(args, base, rule, weights, host, root, rate, &mut cap).await?;
        if held {
            cap.highest_held = Some(rate);
            if rate >= args.max {
                return Ok(cap);
            }
            rate = (rate * 2.0).min(args.max);
        } else {
            cap.lowest_failed = Some(rate);
            break;
        }
    }
    let Some(mut good) = cap.highest_held else {
        return Ok(cap);
    };
    let mut bad = cap.lowest_failed.unwrap_or(args.max);
    for _ in 0..args.bisect {
        let mid = ((good + bad) / 2.0).round();
        if mid <= good || mid >= bad {
            break;
        }
        if step(args, base, rule, weights, host, root, mid, &mut cap).await? {
            good = mid;
        } else {
            bad = mid;
        }
    }
    cap.highest_held = Some(good);
    cap.lowest_failed = Some(bad);
    Ok(cap)
}

/// One fixed-rate run; returns whether it held.
#[allow(clippy::too_many_arguments)]
async fn step(
    args: &CapacityArgs,
    base: &RunInputs,
    rule: &Rule,
    weights: &Weights,
    host: &str,
    root: &std::path::Path,
    rate: f64,
    cap: &mut Capacity,
) -> Result<bool, Failure> {
    let n = cap.steps.len() + 1;
    // Relative to `root` in capacity.json/html, so the report's links survive a move.
    let run_dir = format!("step-{n:02}-{rate:.0}rps/run");
    let dir = root.join(&run_dir);
    let profile = step_profile(args, weights, rate)?;
    let inputs = RunInputs {
        full_plan: crate::shard::plan_fingerprint(&profile),
        profile,
        rules: vec![rule.clone()],
        target: Target::Host(host.to_string()),
        out_dir: dir,
        run_id: new_run_id(),
        abort_early: false,
        progress: false,
        ..base.clone()
    };
    eprintln!(
        "capacity: step {n}: {rate:.0} req/s for {} s",
        args.step_duration.as_secs()
    );
    let record = execute(&inputs).await?;
    if let Some(sig) = crate::interrupt::requested() {
        // The interrupted step measured a shortened run: it is not counted either way.
        return Err(Failure::interrupted(
            sig,
            format!(
                "interrupted during capacity step {n} ({rate:.0} req/s): step not counted; {} earlier step(s) in {}",
                cap.steps.len(),
                root.display()
            ),
        ));
    }
    // The run judged exactly this one rule.
    let verdict = record
        .thresholds
        .iter()
        .find(|v| v.rule == rule.text)
        .cloned()
        .ok_or_else(|| Failure::unjudgeable(format!("step {n}: '{}' not judged", rule.text)))?;
    let achieved = record.meta.rate.as_ref().map_or(0.0, |r| r.achieved_rps);
    let invalid = record.outcome.verdict == crate::record::RunVerdict::Invalid;
    let held = verdict.passed && !invalid;
    let reason = if invalid {
        record.outcome.reason.clone()
    } else if !verdict.passed {
        Some(format!(
            "'{}' failed (observed {})",
            rule.text, verdict.observed_text
        ))
    } else {
        None
    };
    eprintln!(
        "capacity: {rate:.0} req/s → {} observed {}, achieved {achieved:.1} req/s",
        if held { "held," } else { "FAILED," },
        verdict.observed_text
    );
    cap.steps.push(Step {
        target_rps: rate,
        achieved_rps: achieved,
        observed: verdict.observed,
        observed_text: verdict.observed_text,
        held,
        reason,
        run_dir,
    });
    Ok(held)
}
