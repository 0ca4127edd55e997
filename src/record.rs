//! RunRecord: the single, versioned result of a run. Every exporter and every comparison reads
//! only RunRecords; nothing reads Goose internals after the run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::error::Failure;
use crate::histogram::{decode, new_histogram, Summary};
use crate::thresholds::Verdict;

/// Bumped on any incompatible change of the JSON shape.
pub const SCHEMA_VERSION: u32 = 1;

/// The whole result of one run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunRecord {
    pub schema_version: u32,
    pub meta: Meta,
    /// The load shape's phases (ramp, hold, spike, …) in seconds from the start.
    pub phases: Vec<Phase>,
    pub flows: Vec<FlowRecord>,
    /// Active users, one entry per second from the start.
    pub users_per_second: Vec<u32>,
    /// Threshold verdicts, judged at the end of the run.
    pub thresholds: Vec<Verdict>,
    pub outcome: Outcome,
    /// Server-side figures: Prometheus scrapes and `X-DB-Queries` / `X-Cache` per flow
    /// (`docs/SERVER-METRICS.md`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<crate::server::ServerRecord>,
    /// Spike profiles: how long each scope took to get back under its p95 limit after the
    /// spike (`crate::phases`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recovery: Vec<Recovery>,
}

/// Who ran what, against what, when.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Meta {
    pub tool_version: String,
    pub run_id: String,
    pub profile: String,
    /// Base URL of the target.
    pub host: String,
    /// `baseline` / `optimized` when the embedded reference API was the target.
    pub embedded_target: Option<String>,
    pub contract: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub ended_at: String,
    pub duration_s: f64,
    pub planned_duration_s: f64,
    pub max_users: u32,
    pub cores: u32,
    /// The command line, with secrets redacted.
    pub command: Vec<String>,
    /// Goose's own request counts per request key (`GET validate` …), for cross-checking.
    pub goose_requests: BTreeMap<String, u64>,
    /// Set on one shard of a distributed run (`--shard i/n`), and on the record `loadtest
    /// merge` made from all of them (there `index` is absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardMeta>,
    /// Canonical texts of the threshold rules judged on this run, so `loadtest merge` can
    /// re-judge them on merged data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<String>>,
    /// Open-model runs (`--rate`): the schedule's target and what was achieved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<RateStats>,
    /// Seed of every user's flow picker and backoff jitter (`--seed`); absent in records
    /// from before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Requests sent after a backoff wait (a user whose signup, login or refresh failed).
    #[serde(default)]
    pub delayed_retries: u64,
    /// `baseline` or `candidate`: this record is one side of a paired run (`ab --paired`),
    /// whose other side has the same `run_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paired: Option<String>,
}

/// Pacing of an open-model run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct RateStats {
    /// Peak scheduled arrival rate (req/s).
    pub peak_rps: f64,
    /// Scheduled arrivals over the run, and per second on average.
    pub scheduled: u64,
    pub target_rps: f64,
    /// Arrivals sent, and per second on average.
    pub sent: u64,
    pub achieved_rps: f64,
    /// Sends more than 10 ms after their intended time.
    pub late: u64,
    /// Arrivals not sent because they were already later than the request timeout.
    pub dropped: u64,
    /// Size of the user pool that sent them.
    pub users: u32,
    /// How late sends went out (µs), base64 HdrHistogram V2-deflate.
    pub send_lag: String,
    /// Percentiles of `send_lag` in ms.
    pub send_lag_summary: Summary,
}

impl RateStats {
    /// One line with the open model's figures: target vs achieved rate, late and dropped
    /// sends, send-lag p99 (the console, summary.md and report.html all show it).
    pub fn describe(&self) -> String {
        let share = if self.target_rps > 0.0 {
            format!(" ({:.0}%)", 100.0 * self.achieved_rps / self.target_rps)
        } else {
            String::new()
        };
        format!(
            "open model: target {:.1} req/s, achieved {:.1} req/s{share}; {} of {} sends late (> 10 ms), {} dropped; send lag p99 {:.1} ms",
            self.target_rps,
            self.achieved_rps,
            self.late,
            self.sent,
            self.dropped,
            self.send_lag_summary.p99
        )
    }
}

/// Where a shard sits in its distributed run (see `docs/DISTRIBUTED.md`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ShardMeta {
    /// 0-based shard index; `None` on a merged record.
    #[serde(default)]
    pub index: Option<u32>,
    /// Number of shards in the run.
    pub count: u32,
    /// First user number of this shard's slice of the user-name space (0 when merged).
    #[serde(default)]
    pub user_offset: u64,
    /// Goose test plan of the whole, unsharded profile: shards of one run share it.
    pub profile_plan: String,
}

/// A named span of the load shape.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Phase {
    pub name: String,
    pub start_s: f64,
    pub end_s: f64,
    pub users_from: u32,
    pub users_to: u32,
}

/// Failure class of a revoked token that was accepted after logout.
pub const SECURITY_FINDING: &str = "security-finding";

/// A run's verdict, serialised as `"pass"`, `"fail"` or `"invalid"` (as the strings it
/// replaced, so saved records load unchanged). Decided only by `conclude::conclude`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RunVerdict {
    Pass,
    Fail,
    /// Could not be judged (target unreachable, open-model rate not reached); also the
    /// value of a record not judged yet.
    #[default]
    Invalid,
}

impl RunVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            RunVerdict::Pass => "pass",
            RunVerdict::Fail => "fail",
            RunVerdict::Invalid => "invalid",
        }
    }
}

impl std::fmt::Display for RunVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `verdict == "pass"`: compares with the serialised name.
impl PartialEq<&str> for RunVerdict {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// How the run ended and what was decided. The default is a whole run not judged yet.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Outcome {
    pub verdict: RunVerdict,
    /// True when the run stopped before its planned end (signal, abort, crash).
    pub partial: bool,
    /// Why the run was partial, invalid or aborted.
    pub reason: Option<String>,
}

/// One flow's requests (signup, login, validate, …).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FlowRecord {
    pub name: String,
    pub requests: u64,
    pub ok: u64,
    pub failed: u64,
    /// Failures by class: an HTTP status (`401`, `503`, …) or `timeout`, `connect`,
    /// `token-missing`, `other`.
    pub errors: BTreeMap<String, u64>,
    /// Whole-run latency histogram (µs), base64 HdrHistogram V2-deflate.
    pub histogram: String,
    /// Percentiles of `histogram`, in ms, for people reading the JSON.
    pub summary: Summary,
    /// One entry per second that saw requests of this flow.
    pub per_second: Vec<SecondRecord>,
    /// A few example failure messages (sanitized, truncated).
    pub error_samples: Vec<String>,
}

/// One second of one flow.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SecondRecord {
    /// Seconds from the start of the run.
    pub t: u32,
    pub requests: u64,
    pub errors: u64,
    /// Latencies of the requests that completed in this second.
    pub histogram: String,
}

impl FlowRecord {
    /// The decoded whole-run histogram.
    pub fn hist(&self) -> Result<Histogram<u64>, String> {
        decode(&self.histogram)
    }

    /// Error count of a class: an exact status (`429`), a status class (`4xx`, `5xx`) or a
    /// named class (`timeout`, `connect`, `token-missing`, `other`).
    pub fn class_count(&self, class: &str) -> u64 {
        let class = class.to_ascii_lowercase();
        if let Some(d) = class.strip_suffix("xx").filter(|d| d.len() == 1) {
            return self
                .errors
                .iter()
                .filter(|(k, _)| k.len() == 3 && k.starts_with(d) && k.parse::<u16>().is_ok())
                .map(|(_, v)| v)
                .sum();
        }
        self.errors.get(&class).copied().unwrap_or(0)
    }
}

impl RunRecord {
    /// Names of the flows, in record order.
    pub fn flow_names(&self) -> Vec<String> {
        self.flows.iter().map(|f| f.name.clone()).collect()
    }

    pub fn flow(&self, name: &str) -> Option<&FlowRecord> {
        self.flows
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// Flows a scope covers: one flow, or all of them for `all`.
    pub fn scoped(&self, scope: &str) -> Vec<&FlowRecord> {
        if scope.eq_ignore_ascii_case("all") {
            self.flows.iter().collect()
        } else {
            self.flow(scope).into_iter().collect()
        }
    }

    /// The merged latency histogram of a scope.
    pub fn scope_histogram(&self, scope: &str) -> Option<Histogram<u64>> {
        let flows = self.scoped(scope);
        if flows.is_empty() {
            return None;
        }
        let mut all = new_histogram();
        for f in flows {
            all.add(f.hist().ok()?).ok()?;
        }
        Some(all)
    }

    /// Requests of a scope.
    pub fn scope_requests(&self, scope: &str) -> u64 {
        self.scoped(scope).iter().map(|f| f.requests).sum()
    }

    /// Failed requests of a scope.
    pub fn scope_failed(&self, scope: &str) -> u64 {
        self.scoped(scope).iter().map(|f| f.failed).sum()
    }

    /// Whether the run passed its thresholds (and was not aborted or invalid).
    pub fn passed(&self) -> bool {
        self.outcome.verdict == RunVerdict::Pass
    }

    /// Parses and validates a record from JSON text; `source` names the file in errors.
    pub fn from_json(text: &str, source: &str) -> Result<RunRecord, Failure> {
        if text.trim().is_empty() {
            return Err(Failure::bad_input(format!(
                "{source}: empty file, not a run record"
            )));
        }
        let probe: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            Failure::bad_input(format!(
                "{source}: not valid JSON ({e}); truncated or not a run.json?"
            ))
        })?;
        match probe.get("schema_version").map(serde_json::Value::as_u64) {
            Some(Some(v)) if v == u64::from(SCHEMA_VERSION) => {}
            Some(None) => {
                return Err(Failure::bad_input(format!(
                    "{source}: schema_version must be a whole number (this loadtest reads version {SCHEMA_VERSION})"
                )))
            }
            Some(Some(v)) => {
                return Err(Failure::bad_input(format!(
                    "{source}: schema_version {v} is not supported (this loadtest reads version {SCHEMA_VERSION})"
                )))
            }
            None => {
                return Err(Failure::bad_input(format!(
                    "{source}: no schema_version field; not a loadtest run record"
                )))
            }
        }
        let record: RunRecord = serde_path_to_error::deserialize(probe).map_err(|e| {
            let at = e.path().to_string();
            let at = if at == "." {
                String::new()
            } else {
                format!(" at {at}")
            };
            Failure::bad_input(format!("{source}: invalid run record{at}: {}", e.inner()))
        })?;
        record
            .validate()
            .map_err(|e| Failure::bad_input(format!("{source}: {e}")))?;
        Ok(record)
    }

    /// Loads a record from a file.
    pub fn load(path: &Path) -> Result<RunRecord, Failure> {
        let text = crate::input::read_text(path, crate::input::MAX_RECORD_BYTES)
            .map_err(|e| Failure::bad_input(format!("{}: cannot read: {e}", path.display())))?;
        RunRecord::from_json(&text, &path.display().to_string())
    }

    /// Internal consistency: counts add up and every histogram decodes and agrees.
    pub fn validate(&self) -> Result<(), String> {
        for f in &self.flows {
            if f.ok + f.failed != f.requests {
                return Err(format!(
                    "flow '{}': ok {} + failed {} != requests {}",
                    f.name, f.ok, f.failed, f.requests
                ));
            }
            let errors: u64 = f.errors.values().sum();
            if errors != f.failed {
                return Err(format!(
                    "flow '{}': error classes sum to {errors}, failed is {}",
                    f.name, f.failed
                ));
            }
            let h = f.hist().map_err(|e| format!("flow '{}': {e}", f.name))?;
            if h.len() != f.requests {
                return Err(format!(
                    "flow '{}': histogram holds {} samples, requests is {}",
                    f.name,
                    h.len(),
                    f.requests
                ));
            }
            let mut per_second = 0;
            for s in &f.per_second {
                let hs = decode(&s.histogram)
                    .map_err(|e| format!("flow '{}' second {}: {e}", f.name, s.t))?;
                if hs.len() != s.requests {
                    return Err(format!(
                        "flow '{}' second {}: histogram holds {} samples, requests is {}",
                        f.name,
                        s.t,
                        hs.len(),
                        s.requests
                    ));
                }
                per_second += s.requests;
            }
            if per_second != f.requests {
                return Err(format!(
                    "flow '{}': per-second requests sum to {per_second}, total is {}",
                    f.name, f.requests
                ));
            }
        }
        // Durations parse up to 366 days; a larger figure is not from a run.
        if !(0.0..=366.0 * 86400.0).contains(&self.meta.duration_s) {
            return Err(
                "meta.duration_s must be a number of seconds between 0 and 366 days".into(),
            );
        }
        Ok(())
    }

    /// Writes `run.json` into `dir` atomically (temporary file, then rename).
    pub fn save(&self, dir: &Path) -> Result<PathBuf, Failure> {
        let path = dir.join("run.json");
        let json = serde_json::to_string_pretty(self)
            .map_err(|e| Failure::unjudgeable(format!("cannot encode run record: {e}")))?;
        write_atomic(&path, json.as_bytes())?;
        Ok(path)
    }
}

/// Name of the lock file a run holds in its output folder while it runs.
pub const LOCK_FILE: &str = ".loadtest.lock";

/// An output folder held by one run: a second run given the same folder is refused (exit 2)
/// instead of silently overwriting the first one's files. Removed on drop and on a second
/// signal's immediate exit.
pub struct OutputLock(PathBuf);

impl OutputLock {
    /// Creates `dir` if needed and takes its lock file (atomically: `create_new`).
    pub fn acquire(dir: &Path) -> Result<OutputLock, Failure> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::bad_input(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join(LOCK_FILE);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut f) => {
                use std::io::Write;
                let _ = writeln!(f, "{}", std::process::id());
                crate::interrupt::register_temp_file(path.clone());
                Ok(OutputLock(path))
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(Failure::bad_input(format!(
                    "--out {}: in use by another run ({} exists; delete it if no run is using the folder)",
                    dir.display(),
                    path.display()
                )))
            }
            Err(e) => Err(Failure::bad_input(format!(
                "cannot write {}: {e}",
                path.display()
            ))),
        }
    }
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        crate::interrupt::forget_temp_file(&self.0);
    }
}

/// Writes a file so that readers never see half of it: temporary sibling, then rename. Every
/// registered secret is scrubbed from the bytes first ([`crate::secrets`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let bytes = crate::secrets::global().scrub_bytes(bytes);
    // A unique temporary name: the emergency write on a second signal may race the ordinary one.
    static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_extension(format!(
        "{}.{}-{seq}.partial",
        path.extension().and_then(|e| e.to_str()).unwrap_or("tmp"),
        std::process::id()
    ));
    let fail = |e: std::io::Error| {
        let _ = std::fs::remove_file(&tmp);
        Failure::bad_input(format!("cannot write {}: {e}", path.display()))
    };
    std::fs::write(&tmp, &bytes).map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)
}

/// How long one scope took to get back under its p95 limit after a spike.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Recovery {
    /// A flow name, or `all`.
    pub scope: String,
    /// The p95 rule that defines "recovered" (canonical text).
    pub rule: String,
    /// Its limit in ms.
    pub limit_ms: f64,
    /// End of the spike phase, seconds from the start.
    pub spike_end_s: f64,
    /// Width of the rolling window, seconds.
    pub window_s: u32,
    /// p95 over the spike phase itself (ms).
    #[serde(default)]
    pub spike_p95_ms: Option<f64>,
    /// Seconds from the end of the spike until the window p95 held the limit; `None`: not
    /// within the run.
    pub recovered_after_s: Option<f64>,
    /// Seconds of the run after the spike (how long recovery was watched).
    pub watched_s: f64,
}

impl Recovery {
    /// `4 s`, or `not within 60 s`.
    pub fn describe(&self) -> String {
        match self.recovered_after_s {
            Some(s) => format!("{s:.0} s"),
            None => format!("not within {:.0} s", self.watched_s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::Exporter;

    /// A record as saved before `meta.seed`, `meta.delayed_retries` and the verdict enum.
    fn saved_before(verdict: &str) -> String {
        let mut v = serde_json::to_value(crate::export::sample::fixture()).unwrap();
        let meta = v["meta"].as_object_mut().unwrap();
        meta.remove("seed");
        meta.remove("delayed_retries");
        v["outcome"]["verdict"] = serde_json::json!(verdict);
        v.to_string()
    }

    #[test]
    fn records_saved_before_still_load_and_render_with_the_same_verdict_text() {
        for (text, verdict) in [
            ("pass", RunVerdict::Pass),
            ("fail", RunVerdict::Fail),
            ("invalid", RunVerdict::Invalid),
        ] {
            let r: RunRecord = serde_json::from_str(&saved_before(text)).unwrap();
            assert_eq!(r.outcome.verdict, verdict);
            assert_eq!((r.meta.seed, r.meta.delayed_retries), (None, 0));
            let again = serde_json::to_value(&r).unwrap();
            assert_eq!(again["outcome"]["verdict"], serde_json::json!(text));
            let html = crate::export::html::HtmlExporter.render(&r).unwrap();
            assert!(html.contains(&text.to_ascii_uppercase()));
            let md = crate::export::markdown::MarkdownExporter
                .render(&r)
                .unwrap();
            assert!(md.contains(&text.to_ascii_uppercase()));
        }
        assert!(serde_json::from_str::<RunRecord>(&saved_before("maybe")).is_err());
    }
}
