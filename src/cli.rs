//! Command-line definitions (clap derive) — parsing only; behaviour lives in `commands`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::target::auth::HashCost;
use crate::target::faults::Stall;
use crate::target::Mode;
use crate::units::{parse_duration, parse_fraction};

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

    /// Peak users (every stage scaled in proportion).
    #[arg(long, value_name = "N")]
    pub users: Option<u32>,

    /// Total hold time (every stage's hold scaled in proportion), e.g. 45s.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,

    /// Ramp time of every stage, e.g. 10s.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub ramp: Option<Duration>,

    /// Multiply users and durations, e.g. 0.1 for a CI-sized run.
    #[arg(long, value_name = "FACTOR")]
    pub scale: Option<f64>,

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

    /// Output folder. Default: reports/<UTC timestamp>-<profile>.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Request timeout; a request slower than this counts as a `timeout` error.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Mode of the embedded reference API (only without --host).
    #[arg(long, value_enum, default_value_t = Mode::Optimized)]
    pub target_mode: Mode,

    /// Users to seed into the embedded reference API before the run (only without --host).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub target_seed_users: u64,

    /// No progress lines while the run goes (the final summary is still printed).
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
    /// (m=1024 KiB, t=1, p=1; for load tests only) or `m=KIB,t=N,p=N`.
    #[arg(long, value_name = "COST", default_value = "owasp", value_parser = parse_hash_cost)]
    pub hash_cost: HashCost,

    /// Bulk-create this many users (seed-N@seed.loadtest.invalid, password seed-password-1)
    /// plus one expired session each, before listening.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed_users: u64,

    /// Lifetime of access tokens.
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = parse_duration)]
    pub token_ttl: Duration,

    /// Fault: add this latency to every API request (e.g. 10ms).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
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

fn parse_hash_cost(s: &str) -> Result<HashCost, String> {
    s.parse()
}

fn parse_stall(s: &str) -> Result<Stall, String> {
    s.parse()
}
