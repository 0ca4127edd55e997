//! `loadtest smoke|load|stress|spike|run PROFILE`: resolve the inputs, start the embedded
//! target if there is no --host, run the attack, write the record and reports, print the
//! summary, and return the exit code (0 pass, 1 threshold failed, 3 not judgeable).

use std::path::PathBuf;

use crate::attack::{self, AttackPlan};
use crate::cli::RunArgs;
use crate::console;
use crate::contract::Contract;
use crate::error::Failure;
use crate::profile::{Overrides, Profiles};
use crate::record::RunRecord;
use crate::target::store::redact_url;
use crate::target::{start, TargetConfig};
use crate::thresholds::{Rule, ThresholdSet};

/// Default rules (or `--thresholds FILE`), then each `--threshold` replacing the rule with the
/// same scope and metric, or adding to the set.
pub fn resolve_rules(args: &RunArgs) -> Result<Vec<Rule>, Failure> {
    let bad = |e: crate::thresholds::ThresholdError| Failure::bad_input(e.to_string());
    let mut rules = match &args.thresholds_file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                Failure::bad_input(format!(
                    "{}: cannot read thresholds file: {e}",
                    path.display()
                ))
            })?;
            ThresholdSet::from_toml_str(&text, &path.display().to_string()).map_err(bad)?
        }
        None => ThresholdSet::defaults().map_err(bad)?,
    }
    .rules;
    for text in &args.threshold {
        let rule: Rule = text.parse().map_err(bad)?;
        let same = |r: &Rule| r.scope.eq_ignore_ascii_case(&rule.scope) && r.metric == rule.metric;
        match rules.iter().position(same) {
            Some(i) => rules[i] = rule,
            None => rules.push(rule),
        }
    }
    Ok(rules)
}

/// The command line with URL passwords redacted.
pub fn redacted_command() -> Vec<String> {
    std::env::args().map(|a| redact_url(&a)).collect()
}

fn default_out_dir(profile: &str) -> PathBuf {
    let ts = time::OffsetDateTime::now_utc();
    let stamp = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        ts.year(),
        u8::from(ts.month()),
        ts.day(),
        ts.hour(),
        ts.minute(),
        ts.second()
    );
    PathBuf::from("reports").join(format!("{stamp}-{profile}"))
}

/// Writes the record and every report next to it.
pub fn write_outputs(record: &RunRecord, dir: &std::path::Path) -> Result<Vec<PathBuf>, Failure> {
    let path = record.save(dir)?;
    Ok(vec![path])
}

pub async fn run(profile_name: &str, args: RunArgs) -> Result<u8, Failure> {
    let profiles = Profiles::load(args.profiles.as_deref())?;
    let profile = profiles.get(profile_name)?.with_overrides(&Overrides {
        users: args.users,
        duration: args.duration,
        ramp: args.ramp,
        scale: args.scale,
    })?;
    let contract = Contract::load(args.contract.as_deref())?;
    let rules = resolve_rules(&args)?;
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| default_out_dir(&profile.name));
    if out_dir.join("run.json").exists() {
        return Err(Failure::bad_input(format!(
            "{} already holds a run.json; choose another --out",
            out_dir.display()
        )));
    }
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();

    let (host, target) = match &args.host {
        Some(h) => {
            attack::preflight(h).await?;
            (h.trim_end_matches('/').to_string(), None)
        }
        None => {
            let t = start(TargetConfig {
                mode: args.target_mode,
                seed_users: args.target_seed_users,
                ..TargetConfig::default()
            })
            .await?;
            eprintln!(
                "embedded reference API ({} mode, argon2id 'fast' cost) at {}",
                args.target_mode, t.url
            );
            (t.url.clone(), Some(t))
        }
    };
    eprintln!(
        "{} profile against {host}: {} — {} s, contract '{}', run {run_id}",
        profile.name,
        profile.describe(),
        profile.duration().as_secs(),
        contract.name
    );
    let plan = AttackPlan {
        profile,
        contract,
        host,
        run_id,
        request_timeout: args.timeout,
        out_dir: out_dir.clone(),
        rules,
        abort_early: !args.no_abort,
        progress: !args.quiet,
        embedded_target: target.as_ref().map(|_| args.target_mode.to_string()),
        command: redacted_command(),
        user_offset: 0,
    };
    let result = attack::run(&plan).await;
    if let Some(t) = target {
        t.shutdown().await;
    }
    let record = result?;
    let written = write_outputs(&record, &out_dir)?;
    println!();
    print!("{}", console::flow_table(&record));
    println!();
    print!("{}", console::threshold_table(&record));
    println!();
    println!("{}", console::verdict_line(&record));
    for p in written {
        println!("wrote {}", p.display());
    }
    Ok(match record.outcome.verdict.as_str() {
        "pass" => 0,
        "invalid" => 3,
        _ => 1,
    })
}
