//! Command-line definitions (clap derive) — parsing only; behaviour lives in `commands`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::export::Format;
use crate::limits;
use crate::reference_api::auth::HashCost;
use crate::reference_api::faults::Stall;
use crate::reference_api::Mode;
use crate::units::parse_fraction;

/// Load-test and benchmark authentication APIs.
#[derive(Debug, Parser)]
#[command(name = "loadtest", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// 1 user for 30 s: does every flow work at all?
    Smoke(RunArgs),
    /// Ramp to 100 users, hold 2 min.
    Load(RunArgs),
    /// Ramp to 500 users, hold 3 min.
    Stress(RunArgs),
    /// 10 users, jump to 500, hold, drop back to 10, hold.
    Spike(RunArgs),
    /// Run any profile by name (e.g. one defined in --profiles FILE).
    Run {
        /// Profile name.
        profile: String,
        #[command(flatten)]
        args: RunArgs,
    },
    /// Print the load profiles (built-in, or from --profiles FILE).
    Profiles {
        /// Profiles file to read instead of the built-in one.
        #[arg(long, value_name = "FILE")]
        profiles: Option<PathBuf>,
    },
    /// Run the reference auth API (the embedded target) until Ctrl-C.
    Serve(ServeArgs),
    /// Walk one fresh user through every flow of a contract once and diagnose what is off
    /// (exit 0 all as the contract says, 1 otherwise, 2 bad contract, 3 unreachable).
    Probe(ProbeArgs),
    /// Compare runs (baseline vs candidate) with a statistical verdict; exit 1 on a regression.
    Compare(CompareArgs),
    /// Find the highest arrival rate at which a threshold holds (open model, doubling then
    /// bisecting); writes capacity.html with the metric against the rate.
    Capacity(CapacityArgs),
    /// Run a profile alternately against two hosts (A B / B A per pair), then compare.
    Ab(AbArgs),
    /// Re-render a saved run.json as a report (HTML, Markdown, JUnit XML or JSON).
    Report(ReportArgs),
    /// Merge the shards of a distributed run (--shard) into one record and its reports.
    Merge(MergeArgs),
    /// Summarise criterion's results (target/criterion): benchmark, mean, baseline ÷ optimized.
    BenchSummary(BenchSummaryArgs),
    /// Print a shell completion script to stdout, e.g. `loadtest completions bash`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        #[arg(value_enum, value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
}

/// Flags of `loadtest probe`.
#[derive(Debug, Args, Clone)]
pub struct ProbeArgs {
    /// Target base URL; without it the embedded reference API is started.
    #[arg(long, value_name = "URL")]
    pub host: Option<String>,

    /// Contract file (default: the reference API's contract).
    #[arg(long, value_name = "FILE")]
    pub contract: Option<PathBuf>,

    /// Timeout of each request.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_timeout)]
    pub timeout: Duration,
}

/// Flags of `loadtest report`.
#[derive(Debug, Args, Clone)]
pub struct ReportArgs {
    /// A run.json written by a run.
    #[arg(value_name = "RUN.json")]
    pub input: PathBuf,

    /// Report format.
    #[arg(long, value_enum, default_value_t = Format::Html)]
    pub format: Format,

    /// Output file, or - for stdout. Default: report.html / summary.md / junit.xml /
    /// latency.hlog next to the input (json: stdout).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Flags shared by every load-running command.
#[derive(Debug, Args, Clone, Default)]
pub struct RunArgs {
    /// Target base URL, e.g. http://127.0.0.1:8080. Without it the embedded reference API is
    /// started on 127.0.0.1 (a free port) and stopped at the end.
    #[arg(long, value_name = "URL")]
    pub host: Option<String>,

    /// Contract file describing the target API (paths, bodies, token location). Default: the
    /// reference API's contract (scenarios/contracts/reference.toml).
    #[arg(long, value_name = "FILE")]
    pub contract: Option<PathBuf>,

    /// Profiles file replacing the built-in profiles.
    #[arg(long, value_name = "FILE")]
    pub profiles: Option<PathBuf>,

    /// Peak users (every stage scaled in proportion), 1…100000.
    #[arg(long, value_name = "N", value_parser = parse_users)]
    pub users: Option<u32>,

    /// Total hold time (every stage's hold scaled in proportion), e.g. 45s; at most 1h
    /// (the whole run, ramps included, is at most 1h).
    #[arg(long, value_name = "DURATION", value_parser = parse_run_duration)]
    pub duration: Option<Duration>,

    /// Ramp time of every stage, e.g. 10s; at most 1h.
    #[arg(long, value_name = "DURATION", value_parser = parse_ramp)]
    pub ramp: Option<Duration>,

    /// Multiply users and durations, e.g. 0.1 for a CI-sized run; (0, 100].
    #[arg(long, value_name = "FACTOR", value_parser = crate::limits::scale)]
    pub scale: Option<f64>,

    /// Open model: send arrivals at this peak rate (e.g. 200/s), scheduled from a clock and
    /// timed from their intended send time; stage rates keep the profile's shape.
    /// 0.1/s … 1000000/s.
    #[arg(long, value_name = "RATE", value_parser = crate::limits::parse_rate)]
    pub rate: Option<f64>,

    /// Size of the user pool that sends the arrivals (open model; 1…100000; default: 100 ms
    /// of arrivals at the peak rate, 10…1000).
    #[arg(long, value_name = "N", value_parser = parse_rate_users)]
    pub rate_users: Option<u32>,

    /// Threshold rule, repeatable, e.g. 'validate: p95<100ms' or 'error-rate<1%'. Replaces the
    /// default rule with the same scope and metric; adds it otherwise.
    #[arg(long = "threshold", value_name = "RULE")]
    pub threshold: Vec<String>,

    /// Thresholds file replacing the default rules (scenarios/thresholds.toml format).
    #[arg(long = "thresholds", value_name = "FILE")]
    pub thresholds_file: Option<PathBuf>,

    /// Do not stop early when a threshold is clearly breached after the ramp.
    #[arg(long)]
    pub no_abort: bool,

    /// Prometheus endpoint of the target, scraped at the start, every 2 s and at the end.
    /// Default: HOST/metrics when the target answers there (docs/SERVER-METRICS.md).
    #[arg(long, value_name = "URL")]
    pub server_metrics: Option<String>,

    /// Do not scrape the target's Prometheus metrics.
    #[arg(long, conflicts_with = "server_metrics")]
    pub no_server_metrics: bool,

    /// Mapping of the target's metric names to cache hit / cache miss / db query / requests,
    /// replacing the built-in one (scenarios/server-metrics.toml).
    #[arg(long, value_name = "FILE")]
    pub server_metrics_map: Option<std::path::PathBuf>,

    /// Output folder. Default: reports/<UTC timestamp>-<profile>.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Request timeout (1ms … 5m); a request slower than this counts as a `timeout` error.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_timeout)]
    pub timeout: Duration,

    /// Mode of the embedded reference API (only without --host).
    #[arg(long, value_enum, default_value_t = Mode::Optimized)]
    pub target_mode: Mode,

    /// Users to seed into the embedded reference API before the run (only without --host);
    /// at most 1000000.
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = parse_target_seed_users)]
    pub target_seed_users: u64,

    /// No progress lines while the run goes (the final summary is still printed).
    #[arg(long)]
    pub quiet: bool,

    /// Also write Goose's own goose-report.html (off by default: it loads its charts from a
    /// CDN, so it is blank offline; report.html needs no network). goose-report.json is
    /// always written.
    #[arg(long)]
    pub goose_report: bool,

    /// How requests are sent: `lean` (default), each user's own keep-alive HTTP/1.1
    /// connection, read inline, counted by loadtest only; or `goose`, Goose's request path
    /// through a shared reqwest pool, also counted by Goose (meta.goose_requests).
    #[arg(long, value_enum, default_value_t = crate::attack::Transport::Lean)]
    pub transport: crate::attack::Transport,

    /// Header name whose value is secret (repeatable), e.g. X-Api-Key from the contract's
    /// headers: sent as a sensitive header and replaced by [redacted] in everything written.
    /// Authorization and the contract's auth header are always treated so.
    #[arg(long, value_name = "HEADER")]
    pub redact: Vec<String>,

    /// Run shard I of N (0-based) of a distributed run: its share of every stage's users and
    /// its own slice of user names. `env/N` reads I from $JOB_COMPLETION_INDEX.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<crate::shard::ShardSpec>,

    /// Sleep until this RFC 3339 instant before starting (e.g. 2026-11-22T10:00:00Z), so all
    /// shards start together. At most 24 h ahead, at most a few seconds past.
    #[arg(long, value_name = "TIME", value_parser = crate::shard::parse_start_at)]
    pub start_at: Option<time::OffsetDateTime>,

    /// Run id (part of every generated email); all shards of one run share it. Default: random.
    #[arg(long, value_name = "ID", value_parser = crate::shard::parse_run_id)]
    pub run_id: Option<String>,

    /// Seed of every user's random flow picker and backoff jitter: the same seed gives each
    /// user the same sequence of looped flows. Default: random (recorded in run.json).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
}

/// Flags of `loadtest merge`.
#[derive(Debug, Args, Clone)]
pub struct MergeArgs {
    /// The shards' run.json files (or folders holding one), one per shard index.
    #[arg(value_name = "SHARD.json", required = true)]
    pub shards: Vec<PathBuf>,

    /// Output folder for the merged run.json and reports.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// Print nothing but errors.
    #[arg(long)]
    pub quiet: bool,
}

/// Flags of `loadtest serve`.
#[derive(Debug, Args, Clone)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// baseline: primary keys only, no cache; optimized: secondary indexes + token/user caches.
    #[arg(long, value_enum, default_value_t = Mode::Optimized)]
    pub mode: Mode,

    /// Database: sqlite:PATH, sqlite::memory: or postgres://USER@HOST/DB.
    /// Default: a temporary SQLite file, removed at exit. Tables are recreated empty at start.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,

    /// PostgreSQL schema to (re)create and use. Default: a random `lt_…` schema, dropped at exit.
    #[arg(long, value_name = "NAME")]
    pub db_schema: Option<String>,

    /// Redis URL for the second cache tier (optimized mode), e.g. redis://127.0.0.1:6379.
    #[arg(long, value_name = "URL")]
    pub redis_url: Option<String>,

    /// argon2id cost: `owasp` (m=19456 KiB, t=2, p=1; the OWASP recommendation), `fast`
    /// (m=1024 KiB, t=1, p=1; for load tests only) or `m=KIB,t=N,p=N` (m ≤ 65536, t ≤ 10,
    /// p ≤ 16).
    #[arg(long, value_name = "COST", default_value = "owasp", value_parser = parse_hash_cost)]
    pub hash_cost: HashCost,

    /// Bulk-create this many users (seed-N@seed.loadtest.invalid, password seed-password-1)
    /// plus one expired session each, before listening; at most 1000000. Ctrl-C stops it.
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = parse_seed_users)]
    pub seed_users: u64,

    /// Lifetime of access tokens (1s … 30 days).
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = parse_token_ttl)]
    pub token_ttl: Duration,

    /// Fault: add this latency to every API request (e.g. 10ms); at most 5m.
    #[arg(long, value_name = "DURATION", value_parser = parse_inject_latency)]
    pub inject_latency: Option<Duration>,

    /// Fault: answer this fraction of API requests with 503 (e.g. 0.05 or 5%).
    #[arg(long, value_name = "FRACTION", value_parser = parse_fraction, default_value = "0")]
    pub inject_error_rate: f64,

    /// Fault: stop answering for LENGTH every PERIOD (e.g. 1s/10s); held requests are answered
    /// when the stall ends.
    #[arg(long, value_name = "LENGTH/PERIOD", value_parser = parse_stall)]
    pub stall: Option<Stall>,

    /// Test-only fault: never invalidate caches on logout or password change (revoked tokens
    /// keep working until their cache entry expires). Exists so the harness can prove it
    /// catches this bug; never use it otherwise.
    #[arg(long)]
    pub unsafe_skip_invalidation: bool,
}

/// `--timeout`: 1 ms (Goose takes it in whole milliseconds) … 5 min.
fn parse_timeout(s: &str) -> Result<Duration, String> {
    limits::duration_between("--timeout", s, limits::MIN_TIMEOUT, limits::MAX_TIMEOUT)
}

fn parse_users(s: &str) -> Result<u32, String> {
    limits::users("--users", s)
}

fn parse_rate_users(s: &str) -> Result<u32, String> {
    limits::users("--rate-users", s)
}

fn parse_target_seed_users(s: &str) -> Result<u64, String> {
    limits::seed_users("--target-seed-users", s)
}

fn parse_seed_users(s: &str) -> Result<u64, String> {
    limits::seed_users("--seed-users", s)
}

fn parse_run_duration(s: &str) -> Result<Duration, String> {
    limits::duration_at_most("--duration", s, limits::MAX_RUN)
}

fn parse_ramp(s: &str) -> Result<Duration, String> {
    limits::duration_at_most("--ramp", s, limits::MAX_RUN)
}

fn parse_token_ttl(s: &str) -> Result<Duration, String> {
    limits::duration_between(
        "--token-ttl",
        s,
        limits::MIN_TOKEN_TTL,
        limits::MAX_TOKEN_TTL,
    )
}

fn parse_inject_latency(s: &str) -> Result<Duration, String> {
    limits::duration_at_most("--inject-latency", s, limits::MAX_TIMEOUT)
}

fn parse_step_duration(s: &str) -> Result<Duration, String> {
    limits::duration_between("--step-duration", s, limits::MIN_STEP, limits::MAX_STEP)
}

fn parse_bisect(s: &str) -> Result<u32, String> {
    limits::count("--bisect", s, limits::MAX_BISECT, "steps")
}

fn parse_ab_runs(s: &str) -> Result<u32, String> {
    let n = limits::count("--runs", s, limits::MAX_AB_RUNS, "runs per side")?;
    if n == 0 {
        return Err(format!("--runs {s}: at least 1 run per side"));
    }
    Ok(n)
}

fn parse_hash_cost(s: &str) -> Result<HashCost, String> {
    s.parse()
}

fn parse_stall(s: &str) -> Result<Stall, String> {
    s.parse()
}

/// Flags of `loadtest compare`.
#[derive(Debug, Args, Clone)]
pub struct CompareArgs {
    /// BASELINE CANDIDATE: two run.json files or run folders.
    #[arg(value_name = "RUN")]
    pub paths: Vec<PathBuf>,

    /// Baseline runs (files or folders of runs); use with --candidate for k runs per side.
    #[arg(long, num_args = 1.., value_name = "RUN")]
    pub baseline: Vec<PathBuf>,

    /// Candidate runs (files or folders of runs).
    #[arg(long, num_args = 1.., value_name = "RUN")]
    pub candidate: Vec<PathBuf>,

    #[command(flatten)]
    pub opts: CompareOpts,
}

/// Statistical and output options shared by `compare` and `ab`.
#[derive(Debug, Args, Clone)]
pub struct CompareOpts {
    /// Smallest relative change of latency or req/s called a regression/improvement.
    #[arg(long, value_name = "PERCENT", default_value = "5%", value_parser = parse_fraction)]
    pub min_effect: f64,

    /// Family-wise false-alarm rate, split across the gated metrics (Bonferroni).
    #[arg(long, value_name = "ALPHA", default_value_t = 0.05)]
    pub alpha: f64,

    /// Seed of the single-run bootstrap (results are reproducible). Not `--seed`: in `ab` that
    /// flag seeds the runs' flow pickers.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub bootstrap_seed: u64,

    /// Write the Markdown comparison (PR comment) here.
    #[arg(long, value_name = "FILE")]
    pub md: Option<PathBuf>,

    /// Write the comparison as JSON here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Write the HTML comparison report (delta table, method, spectra and p95 over time of
    /// both sides) here.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// Write JUnit XML here: one test case per gated metric, failed on a regression,
    /// skipped when inconclusive.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

/// Flags of `loadtest ab`.
#[derive(Debug, Args, Clone)]
pub struct AbArgs {
    /// Profile name (smoke, load, stress, spike, or one from --profiles).
    pub profile: String,

    /// Base URL of the baseline target.
    #[arg(long, value_name = "URL")]
    pub baseline_host: String,

    /// Base URL of the candidate target.
    #[arg(long, value_name = "URL")]
    pub candidate_host: String,

    /// Runs per side (pairs), each pair in a fresh random order [default: 5]; 1…100.
    #[arg(long, value_name = "N", value_parser = parse_ab_runs)]
    pub runs: Option<u32>,

    /// One run driving both hosts at the same time (every user alternates its iterations
    /// between them at random), compared block by block (README: paired comparison); closed-model
    /// profiles only. Records in OUT/baseline and OUT/candidate.
    #[arg(long)]
    pub paired: bool,

    #[command(flatten)]
    pub run: RunArgs,

    #[command(flatten)]
    pub opts: CompareOpts,
}

/// Flags of `loadtest capacity`.
#[derive(Debug, Args, Clone)]
pub struct CapacityArgs {
    /// Flow to load: validate, login or refresh.
    #[arg(long, default_value = "validate")]
    pub flow: String,

    /// First rate tried.
    #[arg(long, value_name = "RATE", default_value = "50/s", value_parser = crate::limits::parse_rate)]
    pub start: f64,

    /// Highest rate tried.
    #[arg(long, value_name = "RATE", default_value = "100000/s", value_parser = crate::limits::parse_rate)]
    pub max: f64,

    /// Length of each fixed-rate step (2s … 10m).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_step_duration)]
    pub step_duration: Duration,

    /// Bisection steps between the last rate that held and the first that failed (at most 20).
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = parse_bisect)]
    pub bisect: u32,

    /// Target, contract, timeout, --threshold (exactly one rule) and output flags.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Flags of `loadtest bench-summary`.
#[derive(Debug, Args, Clone)]
pub struct BenchSummaryArgs {
    /// Criterion's output folder (read: **/new/estimates.json and benchmark.json).
    #[arg(long, value_name = "DIR", default_value = "target/criterion")]
    pub criterion_dir: PathBuf,

    /// Also write the table as Markdown here.
    #[arg(long, value_name = "FILE")]
    pub md: Option<PathBuf>,

    /// Append the table as a section to this existing HTML report (before </body>; an
    /// earlier bench-summary section is replaced).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}
