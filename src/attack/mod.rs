//! Driving load with Goose: preflight, the attack itself, live progress, early aborts, the
//! watchdog, and turning what was recorded into a [`RunRecord`].

pub mod abort;
pub mod cookies;
pub mod flows;
pub mod http1;
mod monitor;
pub mod pacing;
pub mod progress;
pub mod recorder;
mod send;
mod silence;
pub mod steps;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use goose::config::GooseConfiguration;
use goose::prelude::{GooseAttack, GooseCoordinatedOmissionMitigation};

use crate::conclude::{conclude, Stop, StopKind};
use crate::contract::Contract;
use crate::error::Failure;
use crate::profile::Profile;
use crate::record::{Meta, Outcome, RunRecord, SCHEMA_VERSION};
use crate::thresholds::Rule;
use flows::{
    active_flows, effective_weights, generate_password, scenario, watchdog_limit, FlowContext,
};
use recorder::Recorder;

/// Everything one run needs.
#[derive(Debug, Clone)]
pub struct AttackPlan {
    pub profile: Profile,
    pub contract: Contract,
    /// Base URL of the target.
    pub host: String,
    pub run_id: String,
    pub request_timeout: Duration,
    pub out_dir: PathBuf,
    pub rules: Vec<Rule>,
    /// Stop early when a threshold is clearly breached after the first ramp.
    pub abort_early: bool,
    /// Progress lines on stderr.
    pub progress: bool,
    /// Write Goose's goose-report.html (it loads its charts from a CDN; off by default).
    pub goose_report: bool,
    /// How requests are sent (`--transport`).
    pub transport: Transport,
    /// `baseline` / `optimized` when the embedded target is used.
    pub embedded_target: Option<String>,
    /// The command line, already redacted.
    pub command: Vec<String>,
    /// Added to Goose's user index (sharded runs).
    pub user_offset: usize,
    /// Extra secret header names (`--redact`).
    pub redact_headers: Vec<String>,
    /// Where to scrape the target's Prometheus metrics (`docs/SERVER-METRICS.md`).
    pub server_metrics: crate::server::ScrapeConfig,
    /// Seeds the users' flow pickers and backoff jitter (`--seed`).
    pub seed: u64,
    /// A paired run (`ab --paired`): the candidate side, driven by the same users at the same
    /// time as `host` (the baseline).
    pub candidate: Option<PairSide>,
}

/// How requests are sent. Both judge, time and record every response the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Transport {
    /// Each user's own keep-alive HTTP/1.1 connection, written and read inline
    /// ([`http1`]): no per-request metric for Goose, far less memory per user.
    #[default]
    Lean,
    /// Goose's request path (a shared reqwest pool): Goose counts every request too.
    Goose,
}

/// The candidate side of a paired run: its host and the folder of its record.
#[derive(Debug, Clone)]
pub struct PairSide {
    pub host: String,
    pub out_dir: PathBuf,
}

impl AttackPlan {
    /// The plan as seen by one side of a paired run (0 baseline, 1 candidate): its host and
    /// folder. The plan itself for a plain run.
    fn side(&self, side: usize) -> AttackPlan {
        match (&self.candidate, side) {
            (Some(c), 1) => AttackPlan {
                host: c.host.clone(),
                out_dir: c.out_dir.clone(),
                candidate: None,
                ..self.clone()
            },
            _ => AttackPlan {
                candidate: None,
                ..self.clone()
            },
        }
    }
}

/// The HTTP client every virtual user sends with: one connection pool, no cookies, the
/// request timeout, and NO redirects followed — a 3xx is a response like any other (a failure
/// class unless the contract lists it as success), so credentials never leave the target's
/// origin and a redirect loop costs one request.
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, Failure> {
    reqwest::Client::builder()
        .user_agent(concat!("loadtest/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .build()
        .map_err(|e| Failure::unjudgeable(format!("cannot build the HTTP client: {e}")))
}

/// Refuses a `--host` carrying credentials (`http://user:pw@host`): they would be sent to
/// every request's origin and appear in outputs. The message never repeats them.
pub fn refuse_userinfo(host: &str) -> Result<(), Failure> {
    let Ok(url) = url::Url::parse(host) else {
        return Ok(());
    };
    if url.username().is_empty() && url.password().is_none() {
        return Ok(());
    }
    if let Some(pw) = url.password() {
        crate::secrets::register(pw);
    }
    Err(Failure::bad_input(
        "--host must not contain credentials (user:password@): send them as a contract header and name it with --redact",
    ))
}

/// Checks the URL and that something accepts TCP connections there, within 3 s.
pub async fn preflight(host: &str) -> Result<(), Failure> {
    refuse_userinfo(host)?;
    let url = url::Url::parse(host)
        .map_err(|e| Failure::bad_input(format!("--host '{host}': not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Failure::bad_input(format!(
            "--host '{host}': scheme must be http or https"
        )));
    }
    let addrs = url
        .socket_addrs(|| None)
        .map_err(|e| Failure::bad_input(format!("--host '{host}': cannot resolve ({e})")))?;
    let addr = addrs
        .first()
        .ok_or_else(|| Failure::bad_input(format!("--host '{host}': no address")))?;
    match tokio::time::timeout(Duration::from_secs(3), tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(Failure::unjudgeable(format!(
            "target {host} is unreachable: {e}"
        ))),
        Err(_) => Err(Failure::unjudgeable(format!(
            "target {host} is unreachable: no answer to a TCP connect within 3 s"
        ))),
    }
}

/// Runs the plan and returns the judged record (not yet written).
pub async fn run(plan: &AttackPlan) -> Result<RunRecord, Failure> {
    let mut records = run_sides(&plan.side(0)).await?;
    Ok(records.remove(0))
}

/// Runs a paired plan (`plan.candidate` set, closed model): the baseline's and the
/// candidate's judged records (not yet written), each marked with its side.
pub async fn run_paired(plan: &AttackPlan) -> Result<(RunRecord, RunRecord), Failure> {
    if plan.candidate.is_none() || plan.profile.is_open() {
        return Err(Failure::bad_input(
            "a paired run needs a candidate host and a closed-model profile (no --rate)",
        ));
    }
    let mut records = run_sides(plan).await?.into_iter();
    match (records.next(), records.next()) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(Failure::unjudgeable("paired run: a side has no record")),
    }
}

/// Runs the plan: one side, or both sides of a paired plan in one Goose attack.
async fn run_sides(plan: &AttackPlan) -> Result<Vec<RunRecord>, Failure> {
    let sides: Vec<AttackPlan> = match &plan.candidate {
        Some(_) => vec![plan.side(0), plan.side(1)],
        None => vec![plan.clone()],
    };
    for p in &sides {
        preflight(&p.host).await?;
        std::fs::create_dir_all(&p.out_dir).map_err(|e| {
            Failure::bad_input(format!("cannot create {}: {e}", p.out_dir.display()))
        })?;
    }
    let paired = sides.len() == 2;
    let origin = std::time::Instant::now();
    let recorders: Vec<Arc<Recorder>> = sides
        .iter()
        .map(|_| Arc::new(Recorder::starting_at(origin)))
        .collect();
    let recorder = recorders[0].clone();
    let pacer = plan.profile.is_open().then(|| {
        Arc::new(pacing::Pacer::new(
            plan.profile.schedule(),
            recorder.start() + crate::profile::OPEN_LEAD,
            plan.profile.max_users(),
            plan.request_timeout,
        ))
    });
    let client = http_client(plan.request_timeout)?;
    let contexts: Vec<Arc<FlowContext>> = recorders
        .iter()
        .zip(&sides)
        .map(|(recorder, side)| {
            let base = url::Url::parse(&side.host).map_err(|e| {
                Failure::bad_input(format!("--host '{}': not a URL ({e})", side.host))
            })?;
            let ctx = Arc::new(FlowContext {
                literal_urls: flows::literal_urls(&plan.contract, &base),
                origin: match plan.transport {
                    Transport::Lean => http1::Origin::of(&base),
                    Transport::Goose => None,
                },
                request_timeout: plan.request_timeout,
                pacer: pacer.clone(),
                contract: plan.contract.clone(),
                recorder: recorder.clone(),
                run_id: plan.run_id.clone(),
                password: generate_password(),
                user_offset: plan.user_offset,
                redact_headers: plan.redact_headers.clone(),
                weights: effective_weights(&plan.contract, &plan.profile.weights),
                seed: plan.seed,
                client: client.clone(),
            });
            ctx.register_secrets();
            Ok(ctx)
        })
        .collect::<Result<_, Failure>>()?;
    let scenario = match &contexts[..] {
        [a, b] => {
            let url = |p: &AttackPlan| {
                url::Url::parse(&p.host)
                    .map_err(|e| Failure::bad_input(format!("'{}': not a URL ({e})", p.host)))
            };
            let pair = flows::Pair {
                sides: [a.clone(), b.clone()],
                urls: [url(&sides[0])?, url(&sides[1])?],
            };
            flows::paired_scenario(Arc::new(pair))
        }
        _ => scenario(contexts[0].clone()),
    };
    let profile = &plan.profile;
    let planned = profile.duration();
    let internal = |e: goose::GooseError| Failure::unjudgeable(format!("load engine: {e}"));
    let mut config = GooseConfiguration::parse_args_default(&["--test-plan", &profile.test_plan()])
        .map_err(internal)?;
    config.host = Some(plan.host.clone());
    config.no_telnet = true;
    config.quiet = 1;
    config.no_print_metrics = true;
    config.timeout = Some(format!("{:.3}", plan.request_timeout.as_secs_f64()));
    config.co_mitigation = Some(GooseCoordinatedOmissionMitigation::Disabled);
    // Goose counts requests (meta.goose_requests, checked against ours); its per-transaction
    // and per-scenario metrics duplicate what the recorder measures and cost a message
    // each per iteration, so they are off (Goose's own report lists requests only).
    config.no_transaction_metrics = true;
    config.no_scenario_metrics = true;
    config.report_file = vec![plan.out_dir.join("goose-report.json").display().to_string()];
    if plan.goose_report {
        let html = plan.out_dir.join("goose-report.html");
        config.report_file.push(html.display().to_string());
    }
    // One client shared by every user (one connection pool): far less memory per user than
    // Goose's default of a client each.
    let client = goose::client::GooseClientBuilder::new()
        .without_cookies()
        .timeout(plan.request_timeout);
    let attack = GooseAttack::initialize_with_config(config)
        .map_err(internal)?
        .set_client_builder_without_cookies(client)
        .map_err(internal)?
        .register_scenario(scenario.map_err(internal)?);

    let stopper = monitor::Stopper::default();
    let started_at = time::OffsetDateTime::now_utc();
    let monitor = monitor::spawn(
        recorder.clone(),
        recorders[1..].to_vec(),
        stopper.clone(),
        monitor::Watch {
            planned,
            limit: watchdog_limit(planned),
            progress: plan.progress,
            // A paired run is never aborted early: a comparison needs both sides complete.
            gate: (plan.abort_early && !paired)
                .then(|| abort::AbortGate::new(plan.rules.clone(), profile.first_ramp_end())),
        },
    );
    let scraper = crate::server::Scraper::start(&plan.server_metrics, recorder.start());
    // A second signal exits at once: this writes run.json synchronously from what was
    // measured so far (marked partial), so the run is never lost.
    {
        let sides = sides.clone();
        let recorders = recorders.clone();
        let pacer = pacer.clone();
        crate::interrupt::set_emergency(Some(Box::new(move || {
            let sig = crate::interrupt::requested().unwrap_or(crate::interrupt::SIGINT);
            let stopped = Some((
                format!(
                    "interrupted ({}); a second signal ended the run at once",
                    crate::interrupt::signal_name(sig)
                ),
                false,
            ));
            for (i, (plan, recorder)) in sides.iter().zip(&recorders).enumerate() {
                let mut record = assemble(
                    plan,
                    recorder,
                    pacer.as_deref(),
                    started_at,
                    BTreeMap::new(),
                    None,
                    stopped.clone(),
                );
                mark_side(&mut record, paired, i);
                if let Err(f) = record.save(&plan.out_dir) {
                    eprintln!("loadtest: {}", f.one_line());
                }
            }
        })));
    }
    let result = {
        let _quiet = silence::StdoutSilenced::new();
        attack.execute().await
    };
    monitor.abort();
    monitor::clear_progress(plan.progress);
    let scraped = scraper.finish().await;
    scrub_goose_reports(&plan.out_dir);
    let measured: u64 = recorders
        .iter()
        .flat_map(|r| r.live(5).flows)
        .map(|f| f.requests)
        .sum();
    let metrics = match result {
        Ok(m) => Some(m),
        // Goose writes its own reports after the run: a disk full there must not lose what
        // was measured. The file is named on stderr and the run is judged as usual.
        Err(goose::GooseError::InvalidOption {
            option,
            value,
            detail,
        }) if option == "--report-file" && measured > 0 => {
            incomplete_goose_reports(&plan.out_dir, &value, &detail);
            None
        }
        // A write that fails while Goose serialises its JSON report (EFBIG, ENOSPC) surfaces
        // as a serde or I/O error instead, depending on which write hits the limit first.
        Err(goose::GooseError::Serde(e)) if measured > 0 => {
            incomplete_goose_reports(&plan.out_dir, "", &e.to_string());
            None
        }
        Err(goose::GooseError::Io(e)) if measured > 0 => {
            incomplete_goose_reports(&plan.out_dir, "", &e.to_string());
            None
        }
        Err(e) => return Err(internal(e)),
    };
    let stopped = stopper.reason();
    // Goose's own Ctrl-C handler pulls the killswitch without telling us.
    let stopped = stopped.or_else(|| {
        goose::is_killswitch_triggered().then(|| ("interrupted (SIGINT)".to_string(), false))
    });

    let cancelled = recorder.interrupted();
    let stopped = stopped.map(|(reason, unjudgeable)| {
        if cancelled > 0 && reason.starts_with("interrupted") {
            (
                format!("{reason}; {cancelled} in-flight request(s) cancelled, not counted"),
                unjudgeable,
            )
        } else {
            (reason, unjudgeable)
        }
    });
    // Goose counts a paired run's two sides together: its counts are kept for plain runs only.
    let mut goose_requests = BTreeMap::new();
    if !paired {
        for (key, agg) in metrics.iter().flat_map(|m| &m.requests) {
            goose_requests.insert(key.clone(), agg.raw_data.counter as u64);
        }
    }
    let mut scraped = scraped;
    let records = sides
        .iter()
        .zip(&recorders)
        .enumerate()
        .map(|(i, (plan, recorder))| {
            let mut record = assemble(
                plan,
                recorder,
                pacer.as_deref(),
                started_at,
                goose_requests.clone(),
                // The server metrics are scraped from the baseline only.
                if i == 0 { scraped.take() } else { None },
                stopped.clone(),
            );
            mark_side(&mut record, paired, i);
            record
        })
        .collect();
    crate::interrupt::set_emergency(None);
    Ok(records)
}

/// Marks a paired run's record with its side (`baseline`, `candidate`).
fn mark_side(record: &mut RunRecord, paired: bool, side: usize) {
    if paired {
        record.meta.paired = Some(["baseline", "candidate"][side].to_string());
    }
}

/// The judged record of what `recorder` measured so far (the end of a run, or the emergency
/// write on a second signal).
fn assemble(
    plan: &AttackPlan,
    recorder: &Recorder,
    pacer: Option<&pacing::Pacer>,
    started_at: time::OffsetDateTime,
    goose_requests: BTreeMap<String, u64>,
    scraped: Option<crate::server::ScrapeRecord>,
    stopped: Option<(String, bool)>,
) -> RunRecord {
    let profile = &plan.profile;
    let planned = profile.duration();
    let ended_at = time::OffsetDateTime::now_utc();
    let duration = recorder.elapsed();
    let flows = recorder.finish(&active_flows(&plan.contract, &profile.weights));
    let seconds = duration.as_secs() as usize + 1;
    let fmt = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    let mut record = RunRecord {
        schema_version: SCHEMA_VERSION,
        meta: Meta {
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            run_id: plan.run_id.clone(),
            profile: profile.name.clone(),
            host: plan.host.clone(),
            embedded_target: plan.embedded_target.clone(),
            contract: plan.contract.name.clone(),
            started_at: fmt(started_at),
            ended_at: fmt(ended_at),
            duration_s: duration.as_secs_f64(),
            planned_duration_s: planned.as_secs_f64(),
            max_users: profile.max_users(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
            command: plan.command.clone(),
            goose_requests,
            shard: None,
            rules: Some(plan.rules.iter().map(|r| r.text.clone()).collect()),
            rate: pacer.map(|p| rate_stats(p, recorder, profile, duration)),
            seed: Some(plan.seed),
            delayed_retries: recorder.delayed_retries(),
            paired: None,
        },
        phases: profile.phases(),
        flows,
        users_per_second: recorder.users_per_second(seconds),
        thresholds: Vec::new(),
        outcome: Outcome {
            verdict: Default::default(),
            partial: stopped.is_some(),
            reason: stopped.as_ref().map(|s| s.0.clone()),
        },
        server: crate::server::ServerRecord::assemble(scraped, recorder.headers.snapshot()),
        recovery: Vec::new(),
    };
    // Open model: phases start when the schedule's clock actually started.
    if let Some(started) = pacer.and_then(|p| p.started_at()) {
        let shift = started
            .saturating_duration_since(recorder.start())
            .as_secs_f64()
            - crate::profile::OPEN_LEAD.as_secs_f64();
        for ph in &mut record.phases {
            ph.start_s += shift;
            ph.end_s += shift;
        }
    }
    let stops: Vec<Stop> = stopped
        .into_iter()
        .map(|(reason, unjudgeable)| Stop {
            kind: if unjudgeable {
                StopKind::Unjudgeable
            } else if reason.starts_with("aborted early") {
                StopKind::Aborted
            } else {
                StopKind::Interrupted
            },
            reason,
        })
        .collect();
    conclude(&mut record, &plan.rules, &stops);
    record
}

/// After Goose failed to write a report (`failed`, `detail`): each of its reports that is not
/// complete (JSON that does not parse, HTML without its end) is removed and named on stderr,
/// one line each; Goose returns only its first error.
fn incomplete_goose_reports(dir: &std::path::Path, failed: &str, detail: &str) {
    for name in ["goose-report.html", "goose-report.json"] {
        let path = dir.join(name);
        let complete = std::fs::read(&path).is_ok_and(|b| {
            if name.ends_with(".json") {
                serde_json::from_slice::<serde::de::IgnoredAny>(&b).is_ok()
            } else {
                b.trim_ascii_end().ends_with(b"</html>")
            }
        });
        if !complete {
            let _ = std::fs::remove_file(&path);
            let why = if path.display().to_string() == failed {
                detail.to_string()
            } else {
                format!("incomplete, removed (Goose: {detail})")
            };
            eprintln!("loadtest: {}: not written: {why}", path.display());
        }
    }
}

/// Goose writes its own reports; they pass through the scrubber like every file we write.
fn scrub_goose_reports(dir: &std::path::Path) {
    for name in ["goose-report.html", "goose-report.json"] {
        let path = dir.join(name);
        if let Ok(bytes) = std::fs::read(&path) {
            let scrubbed = crate::secrets::global().scrub_bytes(&bytes);
            if let std::borrow::Cow::Owned(b) = scrubbed {
                if let Err(f) = crate::record::write_atomic(&path, &b) {
                    eprintln!("loadtest: warning: {}", f.one_line());
                }
            }
        }
    }
}

/// The pacing figures of an open-model run.
fn rate_stats(
    p: &pacing::Pacer,
    recorder: &Recorder,
    profile: &Profile,
    ran: Duration,
) -> crate::record::RateStats {
    use std::sync::atomic::Ordering;
    let schedule = p.schedule();
    let span = schedule.duration().min(ran.as_secs_f64()).max(1e-9);
    // Arrivals due by the time the run ended (all of them for a complete run).
    let scheduled = (0..)
        .take_while(|k| schedule.time_of(*k).is_some_and(|t| t < span))
        .count() as u64;
    let sent = p.sent.load(Ordering::Relaxed);
    let lag = recorder.send_lag();
    crate::record::RateStats {
        peak_rps: schedule.peak(),
        scheduled,
        target_rps: scheduled as f64 / span,
        sent,
        achieved_rps: sent as f64 / span,
        late: p.late.load(Ordering::Relaxed),
        dropped: p.dropped.load(Ordering::Relaxed),
        users: profile.max_users(),
        send_lag: crate::histogram::encode(&lag),
        send_lag_summary: crate::histogram::Summary::of(&lag),
    }
}
