//! `loadtest smoke|load|stress|spike|run PROFILE`: resolve the inputs, start the embedded
//! target if there is no --host, run the attack, write the record and reports, print the
//! summary, and return the exit code (0 pass, 1 threshold failed, 3 not judgeable).

use std::path::PathBuf;

use crate::attack::{self, AttackPlan};
use crate::cli::RunArgs;
use crate::console;
use crate::contract::Contract;
use crate::error::Failure;
use crate::export::{self, Exporter};
use crate::profile::{Overrides, Profile, Profiles};
use crate::record::{RunRecord, RunVerdict};
use crate::reference_api::{start, Mode, TargetConfig};
use crate::text::redact_url;
use crate::thresholds::{Rule, ThresholdSet};

/// Default rules (or `--thresholds FILE`), then each `--threshold` replacing the rule with the
/// same scope and metric, or adding to the set.
pub fn resolve_rules(args: &RunArgs) -> Result<Vec<Rule>, Failure> {
    let bad = |e: crate::thresholds::ThresholdError| Failure::bad_input(e.to_string());
    let mut rules = match &args.thresholds_file {
        Some(path) => {
            let text =
                crate::input::read_text(path, crate::input::MAX_INPUT_BYTES).map_err(|e| {
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
        let same = |r: &Rule| {
            r.scope.eq_ignore_ascii_case(&rule.scope)
                && r.metric == rule.metric
                && r.phase == rule.phase
        };
        match rules.iter().position(same) {
            Some(i) => rules[i] = rule,
            None => rules.push(rule),
        }
    }
    Ok(rules)
}

/// Every `during PHASE` rule names a phase of the profile (checked before any load; the
/// judge would otherwise only find out after the run).
pub fn check_rule_phases(rules: &[Rule], profile: &Profile) -> Result<(), Failure> {
    let phases: Vec<String> = profile.phases().into_iter().map(|p| p.name).collect();
    for rule in rules {
        if let Some(p) = &rule.phase {
            if !phases
                .iter()
                .any(|q| q.trim().eq_ignore_ascii_case(p.trim()))
            {
                return Err(Failure::bad_input(format!(
                    "rule '{}': phase '{p}' is not in profile '{}' (phases: {})",
                    rule.text,
                    profile.name,
                    phases.join(", ")
                )));
            }
        }
    }
    Ok(())
}

/// The command line with URL passwords redacted.
pub fn redacted_command() -> Vec<String> {
    std::env::args().map(|a| redact_url(&a)).collect()
}

/// `reports/<UTC timestamp>-<name>`: where a command writes when no --out is given.
pub fn default_out_dir(profile: &str) -> PathBuf {
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

/// What [`write_outputs`] did: the files written, and each file that could not be written
/// with the one-line reason (disk full, file too large, …).
#[derive(Debug, Default)]
pub struct Written {
    pub written: Vec<PathBuf>,
    pub failed: Vec<(PathBuf, String)>,
}

impl Written {
    /// `wrote PATH` on stdout per file written; one `loadtest: PATH: not written: …` line on
    /// stderr per file that could not be written.
    pub fn print(&self) {
        for p in &self.written {
            println!("wrote {}", p.display());
        }
        for (p, why) in &self.failed {
            eprintln!("loadtest: {}: not written: {why}", p.display());
        }
    }
}

/// Writes the record and every report (report.html, summary.md, junit.xml) next to it, and
/// appends the Markdown summary to `$GITHUB_STEP_SUMMARY` when that is set. Every file is
/// attempted: one that cannot be written (disk full) is reported in [`Written::failed`] and
/// the others are still written; the run's verdict never depends on it.
pub fn write_outputs(record: &RunRecord, dir: &std::path::Path) -> Written {
    let mut out = Written::default();
    let mut one = |path: PathBuf, result: Result<(), Failure>| match result {
        Ok(()) => out.written.push(path),
        Err(f) => {
            let why = f.one_line();
            let why = why
                .strip_prefix(&format!("cannot write {}: ", path.display()))
                .map(str::to_string)
                .unwrap_or(why);
            out.failed.push((path, why));
        }
    };
    one(dir.join("run.json"), record.save(dir).map(|_| ()));
    for e in export::run_reports() {
        let path = dir.join(e.file_name());
        let result = export::write_report(e.as_ref(), record, &path);
        one(path, result);
    }
    // A CI summary that cannot be written must not change the run's exit code: warn only.
    let appended = export::markdown::MarkdownExporter
        .render(record)
        .map_err(|e| e.to_string())
        .and_then(|md| export::markdown::append_step_summary(&md).map_err(|f| f.one_line()));
    if let Err(e) = appended {
        eprintln!("loadtest: warning: GITHUB_STEP_SUMMARY not written: {e}");
    }
    out
}

/// A run that failed with exit 3 before it had a record (target unreachable, load engine
/// error) still leaves `junit.xml` in its folder: one errored test case with the reason, so CI
/// shows an error rather than "no test results". Returns `f` unchanged.
fn unjudged_junit(
    f: Failure,
    out_dir: &std::path::Path,
    profile: &str,
    host: &str,
    run_id: &str,
) -> Failure {
    if f.code != 3 {
        return f;
    }
    let path = out_dir.join(export::junit::JunitExporter.file_name());
    // URL userinfo (a password) never reaches a file.
    let safe_host = redact_url(host);
    let reason = f.message.replace(host, &safe_host);
    let written = export::junit::unjudged(profile, &safe_host, run_id, &reason)
        .map_err(|e| e.to_string())
        .and_then(|xml| {
            std::fs::create_dir_all(out_dir).map_err(|e| e.to_string())?;
            crate::record::write_atomic(&path, xml.as_bytes()).map_err(|e| e.one_line())
        });
    match written {
        Ok(()) => println!("wrote {}", path.display()),
        Err(e) => eprintln!("loadtest: warning: {} not written: {e}", path.display()),
    }
    f
}

/// Runs a profile, writes the record and reports, prints the summary; the exit code follows
/// the record's verdict (0 pass, 1 fail, 3 invalid).
pub async fn run(profile_name: &str, args: RunArgs) -> Result<u8, Failure> {
    let record = run_once(profile_name, &args).await?;
    Ok(exit_code(&record))
}

/// Exit code of a finished run: 130 / 143 when it was interrupted by SIGINT / SIGTERM (the
/// record and reports are still written, marked partial), else by verdict.
pub fn exit_code(record: &RunRecord) -> u8 {
    let reason = record.outcome.reason.as_deref().unwrap_or("");
    if record.outcome.partial && reason.contains("SIGINT") {
        return 130;
    }
    if record.outcome.partial && reason.contains("SIGTERM") {
        return 143;
    }
    match record.outcome.verdict {
        RunVerdict::Pass => 0,
        RunVerdict::Invalid => 3,
        RunVerdict::Fail => 1,
    }
}

/// Where a run's load goes.
#[derive(Debug, Clone)]
pub enum Target {
    /// `--host URL` (trailing `/` removed).
    Host(String),
    /// The embedded reference API, started for the run and stopped after it.
    Embedded { mode: Mode, seed_users: u64 },
}

/// A run's inputs, resolved once from the command line: what `run`, `capacity` and `ab`
/// hand to [`execute`]. Nothing below this reads CLI structs.
#[derive(Debug, Clone)]
pub struct RunInputs {
    pub profile: Profile,
    /// The whole run's plan fingerprint (differs from `profile` on a shard).
    pub full_plan: String,
    pub contract: Contract,
    pub rules: Vec<Rule>,
    pub target: Target,
    pub out_dir: PathBuf,
    pub run_id: String,
    pub seed: u64,
    pub timeout: std::time::Duration,
    pub abort_early: bool,
    pub progress: bool,
    /// Write Goose's own goose-report.html too (`--goose-report`).
    pub goose_report: bool,
    /// How requests are sent (`--transport`).
    pub transport: crate::attack::Transport,
    pub redact: Vec<String>,
    /// Prometheus scraping, before the host is known (`ScrapeConfig::for_host`).
    pub server_metrics: crate::server::ScrapeConfig,
    pub shard: Option<crate::shard::ShardSpec>,
    pub start_at: Option<time::OffsetDateTime>,
}

/// A fresh random run id (part of every generated identity, so runs never collide).
pub fn new_run_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..10].to_string()
}

/// The profile overrides given on the command line.
pub fn overrides(args: &RunArgs) -> Overrides {
    Overrides {
        users: args.users,
        duration: args.duration,
        ramp: args.ramp,
        scale: args.scale,
        rate: args.rate,
        rate_users: args.rate_users,
    }
}

impl RunInputs {
    /// Resolves the named profile (from `--profiles` or the built-ins) and everything else.
    pub fn resolve(profile_name: &str, args: &RunArgs) -> Result<RunInputs, Failure> {
        let profiles = Profiles::load(args.profiles.as_deref())?;
        let profile = profiles
            .get(profile_name)?
            .with_overrides(&overrides(args))?;
        RunInputs::with_profile(profile, args)
    }

    /// Resolves everything but the profile, which the caller built.
    pub fn with_profile(profile: Profile, args: &RunArgs) -> Result<RunInputs, Failure> {
        // A shard runs its share of every stage's users (docs/DISTRIBUTED.md).
        let full_plan = crate::shard::plan_fingerprint(&profile);
        let profile = match args.shard {
            Some(s) => crate::shard::shard_profile(&profile, s)?,
            None => profile,
        };
        if let Some(at) = args.start_at {
            crate::shard::start_delay(at, time::OffsetDateTime::now_utc())?;
        }
        let server_metrics = crate::server::ScrapeConfig::from_args(
            args.server_metrics.as_deref(),
            args.no_server_metrics,
            args.server_metrics_map.as_deref(),
        )?;
        let rules = resolve_rules(args)?;
        check_rule_phases(&rules, &profile)?;
        Ok(RunInputs {
            contract: Contract::load(args.contract.as_deref())?,
            rules,
            target: match &args.host {
                Some(h) => Target::Host(h.trim_end_matches('/').to_string()),
                None => Target::Embedded {
                    mode: args.target_mode,
                    seed_users: args.target_seed_users,
                },
            },
            out_dir: args
                .out
                .clone()
                .unwrap_or_else(|| default_out_dir(&profile.name)),
            run_id: args.run_id.clone().unwrap_or_else(new_run_id),
            seed: args.seed.unwrap_or_else(rand::random),
            timeout: args.timeout,
            abort_early: !args.no_abort,
            progress: !args.quiet,
            goose_report: args.goose_report,
            transport: args.transport,
            redact: args.redact.clone(),
            server_metrics,
            shard: args.shard,
            start_at: args.start_at,
            full_plan,
            profile,
        })
    }
}

/// One run: inputs resolved from `args`, results written under `args.out` (or the default).
pub async fn run_once(profile_name: &str, args: &RunArgs) -> Result<RunRecord, Failure> {
    execute(&RunInputs::resolve(profile_name, args)?).await
}

/// Runs resolved inputs: starts the embedded target when there is no host, attacks, writes
/// the record and reports under `inputs.out_dir`, prints the summary, returns the record
/// (judged once, by `conclude`).
pub async fn execute(inputs: &RunInputs) -> Result<RunRecord, Failure> {
    let out_dir = &inputs.out_dir;
    if out_dir.join("run.json").exists() {
        return Err(Failure::bad_input(format!(
            "{} already holds a run.json; choose another --out",
            out_dir.display()
        )));
    }
    let profile = &inputs.profile;
    let run_id = &inputs.run_id;
    let (host, target) = match &inputs.target {
        Target::Host(h) => {
            attack::preflight(h)
                .await
                .map_err(|f| unjudged_junit(f, out_dir, &profile.name, h, run_id))?;
            (h.clone(), None)
        }
        Target::Embedded { mode, seed_users } => {
            let t = start(TargetConfig {
                mode: *mode,
                seed_users: *seed_users,
                ..TargetConfig::default()
            })
            .await?;
            eprintln!(
                "embedded reference API ({mode} mode, argon2id 'fast' cost) at {}",
                t.url
            );
            (t.url.clone(), Some((t, *mode)))
        }
    };
    // One run per output folder: a concurrent run with the same --out is refused.
    let _lock = match crate::record::OutputLock::acquire(out_dir) {
        Ok(lock) => lock,
        Err(f) => {
            if let Some((t, _)) = target {
                t.shutdown().await;
            }
            return Err(f);
        }
    };
    let intro = format!(
        "{} profile against {host}: {} — {} s, contract '{}', run {run_id}",
        profile.name,
        profile.describe(),
        profile.duration().as_secs(),
        inputs.contract.name
    );
    for line in console::wrap(&intro, console::WIDTH, "  ") {
        eprintln!("{line}");
    }
    if let Some(at) = inputs.start_at {
        crate::shard::sleep_until(at, inputs.shard).await;
    }
    let plan = AttackPlan {
        profile: profile.clone(),
        contract: inputs.contract.clone(),
        server_metrics: inputs.server_metrics.clone().for_host(&host),
        host,
        run_id: run_id.clone(),
        request_timeout: inputs.timeout,
        out_dir: out_dir.clone(),
        rules: inputs.rules.clone(),
        abort_early: inputs.abort_early,
        progress: inputs.progress,
        goose_report: inputs.goose_report,
        transport: inputs.transport,
        embedded_target: target.as_ref().map(|(_, mode)| mode.to_string()),
        command: redacted_command(),
        user_offset: inputs.shard.map_or(0, |s| s.user_offset() as usize),
        redact_headers: inputs.redact.clone(),
        seed: inputs.seed,
        candidate: None,
    };
    let result = attack::run(&plan).await;
    if let Some((t, _)) = target {
        t.shutdown().await;
    }
    let mut record = result
        .map_err(|f| unjudged_junit(f, out_dir, &plan.profile.name, &plan.host, &plan.run_id))?;
    record.meta.shard = inputs.shard.map(|s| crate::record::ShardMeta {
        index: Some(s.index),
        count: s.count,
        user_offset: s.user_offset(),
        profile_plan: inputs.full_plan.clone(),
    });
    // A file that cannot be written (disk full) is named on stderr after the summary; the
    // verdict and the measured table are still printed and decide the exit code.
    let written = write_outputs(&record, out_dir);
    println!();
    print!("{}", console::flow_table(&record));
    print!("{}", console::rate_line(&record));
    print!("{}", console::backoff_line(&record));
    print!("{}", console::server_table(&record));
    println!();
    print!("{}", console::threshold_table(&record));
    print!("{}", console::recovery_lines(&record));
    println!();
    print!(
        "{}",
        console::verdict_lines(&record, console::colour_enabled())
    );
    written.print();
    Ok(record)
}

/// A paired run (`ab --paired`): one attack drives `inputs`' host (the baseline) and
/// `candidate` at the same time, every user alternating between them. The two records and
/// their reports are written to `inputs.out_dir`/baseline and /candidate; returns them
/// (baseline, candidate).
pub async fn execute_paired(
    inputs: &RunInputs,
    candidate: &str,
) -> Result<(RunRecord, RunRecord), Failure> {
    let Target::Host(baseline) = &inputs.target else {
        return Err(Failure::bad_input("ab --paired needs --baseline-host"));
    };
    let dirs = [
        inputs.out_dir.join("baseline"),
        inputs.out_dir.join("candidate"),
    ];
    for d in &dirs {
        if d.join("run.json").exists() {
            return Err(Failure::bad_input(format!(
                "{} already holds a run.json; choose another --out",
                d.display()
            )));
        }
    }
    for h in [baseline.as_str(), candidate] {
        attack::preflight(h).await?;
    }
    let _locks = dirs
        .iter()
        .map(|d| crate::record::OutputLock::acquire(d))
        .collect::<Result<Vec<_>, _>>()?;
    let profile = &inputs.profile;
    let intro = format!(
        "{} profile, paired: baseline {baseline} and candidate {candidate} at the same time, every user alternating: {} — {} s, contract '{}', run {}",
        profile.name,
        profile.describe(),
        profile.duration().as_secs(),
        inputs.contract.name,
        inputs.run_id
    );
    for line in console::wrap(&intro, console::WIDTH, "  ") {
        eprintln!("{line}");
    }
    let plan = AttackPlan {
        profile: profile.clone(),
        contract: inputs.contract.clone(),
        server_metrics: inputs.server_metrics.clone().for_host(baseline),
        host: baseline.clone(),
        run_id: inputs.run_id.clone(),
        request_timeout: inputs.timeout,
        out_dir: dirs[0].clone(),
        rules: inputs.rules.clone(),
        abort_early: inputs.abort_early,
        progress: inputs.progress,
        goose_report: inputs.goose_report,
        transport: inputs.transport,
        embedded_target: None,
        command: redacted_command(),
        user_offset: 0,
        redact_headers: inputs.redact.clone(),
        seed: inputs.seed,
        candidate: Some(attack::PairSide {
            host: candidate.to_string(),
            out_dir: dirs[1].clone(),
        }),
    };
    let (a, b) = attack::run_paired(&plan).await?;
    for (side, record, dir) in [("baseline", &a, &dirs[0]), ("candidate", &b, &dirs[1])] {
        let written = write_outputs(record, dir);
        println!("\n{side} ({}):", record.meta.host);
        print!("{}", console::flow_table(record));
        print!(
            "{}",
            console::verdict_lines(record, console::colour_enabled())
        );
        written.print();
    }
    Ok((a, b))
}
