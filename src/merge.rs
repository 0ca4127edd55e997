//! Distributed runs: `--shard i/n` (each shard's share of the users and of the user-name
//! space), `--start-at` (a common start instant), `--run-id`, and [`merge`]: one exact
//! [`RunRecord`] from the shards' records (HDR histograms are summed, never re-sampled).
//! See `docs/DISTRIBUTED.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use hdrhistogram::Histogram;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::attack::recorder::Flow;
use crate::error::Failure;
use crate::histogram::{decode, encode, new_histogram, Summary};
use crate::profile::Profile;
use crate::record::{FlowRecord, Meta, Outcome, Phase, RunRecord, SecondRecord, ShardMeta};
use crate::thresholds::{judge, Rule};

/// Each shard's slice of the user-name space: shard `i` numbers its users from
/// `i * USER_SPACE_PER_SHARD`, so emails (`lt-{run}-{user}@…`) never collide across shards.
pub const USER_SPACE_PER_SHARD: u64 = 10_000_000;
/// Most shards a run may have.
pub const MAX_SHARDS: u32 = 10_000;
/// Environment variable an Indexed Job sets to the pod's completion index.
pub const INDEX_ENV: &str = "JOB_COMPLETION_INDEX";
/// How far `--start-at` may lie in the past (clock skew, slow pod start) before it is refused.
pub const START_AT_LATE: Duration = Duration::from_secs(5);
/// How far `--start-at` may lie in the future.
pub const START_AT_AHEAD: Duration = Duration::from_secs(24 * 3600);
/// Most error samples kept per merged flow.
const MAX_SAMPLES: usize = 10;

/// `--shard i/n`: this process is shard `index` (0-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardSpec {
    pub index: u32,
    pub count: u32,
}

impl fmt::Display for ShardSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl ShardSpec {
    /// Parses `i/n`, or `env/n` taking `i` from `$JOB_COMPLETION_INDEX` (looked up by `env`).
    pub fn parse_with(s: &str, env: impl Fn(&str) -> Option<String>) -> Result<ShardSpec, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("'{s}' is not I/N (e.g. 0/4, or env/4 for ${INDEX_ENV})"))?;
        let count: u32 = n
            .trim()
            .parse()
            .map_err(|_| format!("shard count '{n}' is not a number"))?;
        if count == 0 || count > MAX_SHARDS {
            return Err(format!("shard count must be between 1 and {MAX_SHARDS}"));
        }
        let i = i.trim();
        let index_text = if i.eq_ignore_ascii_case("env") {
            env(INDEX_ENV).ok_or_else(|| format!("env/{count}: ${INDEX_ENV} is not set"))?
        } else {
            i.to_string()
        };
        let index: u32 = index_text
            .trim()
            .parse()
            .map_err(|_| format!("shard index '{index_text}' is not a number"))?;
        if index >= count {
            return Err(format!(
                "shard index {index} is out of range 0..{count} (indexes are 0-based)"
            ));
        }
        Ok(ShardSpec { index, count })
    }

    /// First user number of this shard's slice of the user-name space.
    pub fn user_offset(&self) -> u64 {
        u64::from(self.index) * USER_SPACE_PER_SHARD
    }
}

impl FromStr for ShardSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ShardSpec::parse_with(s, |k| std::env::var(k).ok())
    }
}

/// Shard `spec`'s share of `users`: the shares of all shards sum to `users` exactly; the
/// first `users % count` shards get one more.
pub fn split_users(users: u32, spec: ShardSpec) -> u32 {
    users / spec.count + u32::from(spec.index < users % spec.count)
}

/// Users a shard's plan starts over the whole run (Goose numbers them 0, 1, …).
fn launched_users(profile: &Profile) -> u64 {
    let mut previous = 0u32;
    let mut total = 0u64;
    for s in &profile.stages {
        total += u64::from(s.users.saturating_sub(previous));
        previous = s.users;
    }
    total
}

/// The profile one shard runs: every stage keeps its timing and gets the shard's share of
/// the users (possibly 0 for a stage with fewer users than shards). Trailing 0-user stages
/// are dropped: the shard simply ends when its last user stops (Goose 0.19 never finishes a
/// plan that holds 0 users before its end; 0-user stages between others work). Refused
/// (exit 2) when the shard would start no user at all, or more users than its slice of the
/// name space holds.
pub fn shard_profile(profile: &Profile, spec: ShardSpec) -> Result<Profile, Failure> {
    let mut p = profile.clone();
    for s in &mut p.stages {
        s.users = split_users(s.users, spec);
    }
    while p.stages.len() > 1 && p.stages.last().is_some_and(|s| s.users == 0) {
        p.stages.pop();
    }
    if p.max_users() == 0 {
        return Err(Failure::bad_input(format!(
            "--shard {spec}: profile '{}' peaks at {} users, fewer than {} shards; use at most {} shards or more --users",
            profile.name,
            profile.max_users(),
            spec.count,
            profile.max_users()
        )));
    }
    if launched_users(&p) > USER_SPACE_PER_SHARD {
        return Err(Failure::bad_input(format!(
            "--shard {spec}: the shard would start more than {USER_SPACE_PER_SHARD} users, its share of the user-name space; use more shards"
        )));
    }
    Ok(p)
}

/// `--run-id`: 1–40 characters of `[A-Za-z0-9_-]` (it becomes part of every email).
pub fn parse_run_id(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 40
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(s.to_string())
    } else {
        Err("a run id is 1-40 characters of A-Z a-z 0-9 - _".into())
    }
}

/// `--start-at`: an RFC 3339 instant, e.g. `2026-11-22T10:00:00Z`.
pub fn parse_start_at(s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s.trim(), &Rfc3339)
        .map_err(|e| format!("not an RFC 3339 time such as 2026-11-22T10:00:00Z ({e})"))
}

/// RFC 3339 text of an instant (UTC).
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// How long to wait from `now` until `at`; refused (exit 2) when `at` is more than 24 h
/// ahead or more than a few seconds past.
pub fn start_delay(at: OffsetDateTime, now: OffsetDateTime) -> Result<Duration, Failure> {
    let ahead = (at - now).as_seconds_f64();
    if ahead > START_AT_AHEAD.as_secs_f64() {
        return Err(Failure::bad_input(format!(
            "--start-at {}: more than 24 h ahead ({:.0} s)",
            rfc3339(at),
            ahead
        )));
    }
    if -ahead > START_AT_LATE.as_secs_f64() {
        return Err(Failure::bad_input(format!(
            "--start-at {}: already {:.1} s in the past (now {}); choose a later time",
            rfc3339(at),
            -ahead,
            rfc3339(now)
        )));
    }
    Ok(Duration::from_secs_f64(ahead.max(0.0)))
}

/// Sleeps until `at` (already checked by [`start_delay`]), saying so on stderr; starts at
/// once, with a note, when `at` has passed meanwhile.
pub async fn sleep_until(at: OffsetDateTime, shard: Option<ShardSpec>) {
    let who = shard.map_or("run".to_string(), |s| format!("shard {s}"));
    let ahead = (at - OffsetDateTime::now_utc()).as_seconds_f64();
    if ahead > 0.0 {
        eprintln!(
            "{who}: waiting {ahead:.1} s until --start-at {}",
            rfc3339(at)
        );
        tokio::time::sleep(Duration::from_secs_f64(ahead)).await;
    } else if ahead < -0.5 {
        eprintln!(
            "{who}: --start-at {} passed {:.1} s ago; starting now",
            rfc3339(at),
            -ahead
        );
    }
}

/// A shard record and where it came from (for error messages).
#[derive(Debug, Clone)]
pub struct ShardInput {
    pub source: String,
    pub record: RunRecord,
}

fn parse_time(source: &str, field: &str, text: &str) -> Result<OffsetDateTime, Failure> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|_| {
        Failure::bad_input(format!(
            "{source}: meta.{field} '{text}' is not an RFC 3339 time"
        ))
    })
}

fn shard_meta(input: &ShardInput) -> Result<(&ShardMeta, u32), Failure> {
    match &input.record.meta.shard {
        Some(s) => match s.index {
            Some(i) => Ok((s, i)),
            None => Err(Failure::bad_input(format!(
                "{}: already a merged record, not a shard",
                input.source
            ))),
        },
        None => Err(Failure::bad_input(format!(
            "{}: not a shard (run without --shard)",
            input.source
        ))),
    }
}

/// Refuses shards that do not belong to one run, naming the file and what differs; returns
/// the inputs ordered by shard index.
pub fn check_shards(inputs: &[ShardInput]) -> Result<Vec<&ShardInput>, Failure> {
    let first = inputs
        .first()
        .ok_or_else(|| Failure::bad_input("merge: no shard records given"))?;
    let (first_shard, _) = shard_meta(first)?;
    let count = first_shard.count;
    let m0 = &first.record.meta;
    let mut by_index: BTreeMap<u32, &ShardInput> = BTreeMap::new();
    for input in inputs {
        let (s, index) = shard_meta(input)?;
        let r = &input.record;
        let m = &r.meta;
        let differs = |what: &str, mine: &str, theirs: &str| {
            Failure::bad_input(format!(
                "{}: {what} '{mine}' differs from '{theirs}' in {}",
                input.source, first.source
            ))
        };
        if r.schema_version != first.record.schema_version {
            return Err(differs(
                "schema_version",
                &r.schema_version.to_string(),
                &first.record.schema_version.to_string(),
            ));
        }
        if m.run_id != m0.run_id {
            return Err(differs("run id", &m.run_id, &m0.run_id));
        }
        if m.profile != m0.profile {
            return Err(differs("profile", &m.profile, &m0.profile));
        }
        if s.profile_plan != first_shard.profile_plan {
            return Err(differs(
                "profile plan",
                &s.profile_plan,
                &first_shard.profile_plan,
            ));
        }
        if m.contract != m0.contract {
            return Err(differs("contract", &m.contract, &m0.contract));
        }
        if m.rules != m0.rules {
            let show = |r: &Option<Vec<String>>| {
                r.as_ref()
                    .map_or("(none recorded)".to_string(), |v| v.join(", "))
            };
            return Err(differs("thresholds", &show(&m.rules), &show(&m0.rules)));
        }
        if s.count != count {
            return Err(differs(
                "shard count",
                &s.count.to_string(),
                &count.to_string(),
            ));
        }
        if let Some(other) = by_index.insert(index, input) {
            return Err(Failure::bad_input(format!(
                "shard {index}/{count} given twice ({} and {})",
                other.source, input.source
            )));
        }
    }
    let missing: Vec<String> = (0..count)
        .filter(|i| !by_index.contains_key(i))
        .map(|i| format!("shard {i}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(Failure::bad_input(format!(
            "{} missing (run {})",
            missing.join(", "),
            m0.run_id
        )));
    }
    Ok(by_index.into_values().collect())
}

/// Maps `f` over `items` on up to `available_parallelism` threads, keeping the order.
fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len().max(1));
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| {
                let f = &f;
                scope.spawn(move || part.iter().map(f).collect::<Vec<R>>())
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// Sums encoded histograms; `what` names them in errors.
fn sum_histograms<'a>(
    parts: impl IntoIterator<Item = (&'a str, &'a str)>,
    what: &str,
) -> Result<Histogram<u64>, Failure> {
    let mut total = new_histogram();
    for (source, text) in parts {
        let h = decode(text).map_err(|e| Failure::bad_input(format!("{source}: {what}: {e}")))?;
        total
            .add(&h)
            .map_err(|e| Failure::bad_input(format!("{source}: {what}: {e:?}")))?;
    }
    Ok(total)
}

/// One unit of merge work: a flow's whole-run histogram, or one aligned second of it.
struct Job<'a> {
    flow: usize,
    /// `None`: the whole-run histogram.
    t: Option<u32>,
    parts: Vec<(&'a str, &'a str)>,
}

fn flow_order(name: &str) -> usize {
    Flow::ALL
        .iter()
        .position(|f| f.name() == name)
        .unwrap_or(Flow::ALL.len())
}

/// Merges the shards of one run into one record: histograms summed per flow and per
/// wall-clock-aligned second, counts and error classes summed, thresholds re-judged.
/// `command` is recorded as the merged record's command line.
pub fn merge(inputs: &[ShardInput], command: Vec<String>) -> Result<RunRecord, Failure> {
    let shards = check_shards(inputs)?;
    let first = &shards[0].record;
    let count = shards.len() as u32;

    // Wall-clock alignment: each shard's seconds are offset by its start relative to the
    // earliest start, rounded to whole seconds.
    let mut starts = Vec::new();
    let mut ends = Vec::new();
    for s in &shards {
        starts.push(parse_time(
            &s.source,
            "started_at",
            &s.record.meta.started_at,
        )?);
        ends.push(parse_time(&s.source, "ended_at", &s.record.meta.ended_at)?);
    }
    let earliest = *starts.iter().min().expect("at least one shard");
    let latest = *ends.iter().max().expect("at least one shard");
    let offsets: Vec<u32> = starts
        .iter()
        .map(|t| (*t - earliest).as_seconds_f64().round().max(0.0) as u32)
        .collect();

    // Flows: the union, in the harness's flow order.
    let mut names: Vec<String> = Vec::new();
    for s in &shards {
        for f in &s.record.flows {
            if !names.contains(&f.name) {
                names.push(f.name.clone());
            }
        }
    }
    names.sort_by_key(|n| flow_order(n));

    let mut jobs: Vec<Job> = Vec::new();
    for (fi, name) in names.iter().enumerate() {
        let mut whole = Vec::new();
        let mut seconds: BTreeMap<u32, Vec<(&str, &str)>> = BTreeMap::new();
        for (s, offset) in shards.iter().zip(&offsets) {
            if let Some(f) = s.record.flows.iter().find(|f| &f.name == name) {
                whole.push((s.source.as_str(), f.histogram.as_str()));
                for sec in &f.per_second {
                    seconds
                        .entry(sec.t + offset)
                        .or_default()
                        .push((s.source.as_str(), sec.histogram.as_str()));
                }
            }
        }
        jobs.push(Job {
            flow: fi,
            t: None,
            parts: whole,
        });
        for (t, parts) in seconds {
            jobs.push(Job {
                flow: fi,
                t: Some(t),
                parts,
            });
        }
    }
    let results = par_map(&jobs, |job| {
        let what = match job.t {
            None => format!("flow '{}' histogram", names[job.flow]),
            Some(t) => format!("flow '{}' aligned second {t}", names[job.flow]),
        };
        sum_histograms(job.parts.iter().copied(), &what).map(|h| {
            let summary = job.t.is_none().then(|| Summary::of(&h));
            (encode(&h), summary)
        })
    });

    let mut flows: Vec<FlowRecord> = names
        .iter()
        .map(|name| FlowRecord {
            name: name.clone(),
            requests: 0,
            ok: 0,
            failed: 0,
            errors: BTreeMap::new(),
            histogram: String::new(),
            summary: Summary::default(),
            per_second: Vec::new(),
            error_samples: Vec::new(),
        })
        .collect();
    // Counts per aligned second, summed from the shards.
    let mut second_counts: Vec<BTreeMap<u32, (u64, u64)>> = vec![BTreeMap::new(); names.len()];
    for (s, offset) in shards.iter().zip(&offsets) {
        for f in &s.record.flows {
            let fi = names.iter().position(|n| n == &f.name).expect("union");
            let out = &mut flows[fi];
            out.requests += f.requests;
            out.ok += f.ok;
            out.failed += f.failed;
            for (class, n) in &f.errors {
                *out.errors.entry(class.clone()).or_insert(0) += n;
            }
            for sample in &f.error_samples {
                if out.error_samples.len() < MAX_SAMPLES && !out.error_samples.contains(sample) {
                    out.error_samples.push(sample.clone());
                }
            }
            for sec in &f.per_second {
                let c = second_counts[fi].entry(sec.t + offset).or_insert((0, 0));
                c.0 += sec.requests;
                c.1 += sec.errors;
            }
        }
    }
    for (job, result) in jobs.iter().zip(results) {
        let (histogram, summary) = result?;
        let flow = &mut flows[job.flow];
        match job.t {
            None => {
                flow.histogram = histogram;
                flow.summary = summary.unwrap_or_default();
            }
            Some(t) => {
                let (requests, errors) = second_counts[job.flow][&t];
                flow.per_second.push(SecondRecord {
                    t,
                    requests,
                    errors,
                    histogram,
                });
            }
        }
    }

    // Users per wall-clock second, aligned like the histograms.
    let mut users_per_second: Vec<u32> = Vec::new();
    for (s, offset) in shards.iter().zip(&offsets) {
        for (t, users) in s.record.users_per_second.iter().enumerate() {
            let at = t + *offset as usize;
            if users_per_second.len() <= at {
                users_per_second.resize(at + 1, 0);
            }
            users_per_second[at] += users;
        }
    }

    // Phases: the first shard's timing, users summed over the shards (their shares add up
    // to the profile's users exactly).
    let mut phases: Vec<Phase> = first.phases.clone();
    for s in shards.iter().skip(1) {
        for (p, q) in phases.iter_mut().zip(&s.record.phases) {
            p.users_from += q.users_from;
            p.users_to += q.users_to;
        }
    }
    let max_users = phases
        .iter()
        .map(|p| p.users_to.max(p.users_from))
        .max()
        .unwrap_or_else(|| shards.iter().map(|s| s.record.meta.max_users).sum());

    let all_same = |f: &dyn Fn(&Meta) -> String| {
        let v = f(&first.meta);
        shards.iter().all(|s| f(&s.record.meta) == v).then_some(v)
    };
    let host = all_same(&|m| m.host.clone()).unwrap_or_else(|| {
        let hosts: BTreeSet<&str> = shards.iter().map(|s| s.record.meta.host.as_str()).collect();
        hosts.into_iter().collect::<Vec<_>>().join(", ")
    });
    let embedded_target =
        all_same(&|m| m.embedded_target.clone().unwrap_or_default()).filter(|v| !v.is_empty());
    let mut goose_requests = BTreeMap::new();
    for s in &shards {
        for (k, v) in &s.record.meta.goose_requests {
            *goose_requests.entry(k.clone()).or_insert(0) += v;
        }
    }
    let first_shard = first.meta.shard.as_ref().expect("checked");
    let meta = Meta {
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        run_id: first.meta.run_id.clone(),
        profile: first.meta.profile.clone(),
        host,
        embedded_target,
        contract: first.meta.contract.clone(),
        started_at: rfc3339(earliest),
        ended_at: rfc3339(latest),
        duration_s: (latest - earliest).as_seconds_f64().max(0.0),
        planned_duration_s: shards
            .iter()
            .map(|s| s.record.meta.planned_duration_s)
            .fold(0.0, f64::max),
        max_users,
        cores: shards.iter().map(|s| s.record.meta.cores).sum(),
        command,
        goose_requests,
        shard: Some(ShardMeta {
            index: None,
            count,
            user_offset: 0,
            profile_plan: first_shard.profile_plan.clone(),
        }),
        rules: first.meta.rules.clone(),
    };

    let mut record = RunRecord {
        schema_version: first.schema_version,
        meta,
        phases,
        flows,
        users_per_second,
        thresholds: Vec::new(),
        outcome: Outcome {
            verdict: String::new(),
            partial: false,
            reason: None,
        },
    };
    let rules: Vec<Rule> = record
        .meta
        .rules
        .iter()
        .flatten()
        .map(|text| {
            text.parse()
                .map_err(|e: crate::thresholds::ThresholdError| {
                    Failure::bad_input(format!("{}: recorded rule: {e}", shards[0].source))
                })
        })
        .collect::<Result<_, _>>()?;
    record.thresholds = judge(&rules, &record);

    let reasons: Vec<String> = shards
        .iter()
        .filter_map(|s| {
            let i = s.record.meta.shard.as_ref()?.index?;
            let why = s.record.outcome.reason.as_ref()?;
            Some(format!("shard {i}/{count}: {why}"))
        })
        .collect();
    let invalid = shards.iter().any(|s| s.record.outcome.verdict == "invalid");
    let aborted = shards.iter().any(|s| {
        s.record
            .outcome
            .reason
            .as_deref()
            .is_some_and(|r| r.starts_with("aborted early"))
    });
    let passed = record.thresholds.iter().all(|v| v.passed);
    record.outcome = Outcome {
        verdict: if invalid {
            "invalid"
        } else if passed && !aborted {
            "pass"
        } else {
            "fail"
        }
        .to_string(),
        partial: shards.iter().any(|s| s.record.outcome.partial),
        reason: (!reasons.is_empty()).then(|| reasons.join("; ")),
    };
    record
        .validate()
        .map_err(|e| Failure::unjudgeable(format!("merged record is inconsistent: {e}")))?;
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profiles;

    fn spec(index: u32, count: u32) -> ShardSpec {
        ShardSpec { index, count }
    }

    #[test]
    fn shard_specs_parse_and_refuse() {
        let no_env = |_: &str| None;
        assert_eq!(ShardSpec::parse_with("2/3", no_env), Ok(spec(2, 3)));
        assert_eq!(spec(2, 3).to_string(), "2/3");
        assert_eq!(
            ShardSpec::parse_with("env/4", |k| (k == INDEX_ENV).then(|| "3".to_string())),
            Ok(spec(3, 4))
        );
        assert!(ShardSpec::parse_with("env/4", no_env)
            .unwrap_err()
            .contains("JOB_COMPLETION_INDEX is not set"));
        assert!(ShardSpec::parse_with("3/3", no_env)
            .unwrap_err()
            .contains("0-based"));
        for bad in ["3", "a/3", "1/0", "1/x", "-1/3"] {
            assert!(ShardSpec::parse_with(bad, no_env).is_err(), "{bad}");
        }
        assert_eq!(spec(2, 3).user_offset(), 20_000_000);
    }

    #[test]
    fn user_shares_sum_exactly() {
        for users in [1u32, 2, 7, 10, 100, 500, 1001] {
            for count in [1u32, 2, 3, 7, 16] {
                let shares: Vec<u32> = (0..count)
                    .map(|i| split_users(users, spec(i, count)))
                    .collect();
                assert_eq!(shares.iter().sum::<u32>(), users, "{users}/{count}");
                let (lo, hi) = (shares.iter().min().unwrap(), shares.iter().max().unwrap());
                assert!(hi - lo <= 1, "{users}/{count}: {shares:?}");
            }
        }
    }

    #[test]
    fn sharded_profiles_keep_timing_and_refuse_empty_shards() {
        let spike = Profiles::builtin().get("spike").unwrap().clone();
        let shards: Vec<Profile> = (0..16)
            .map(|i| shard_profile(&spike, spec(i, 16)).unwrap())
            .collect();
        for (k, stage) in spike.stages.iter().enumerate() {
            let sum: u32 = shards
                .iter()
                .filter_map(|p| p.stages.get(k))
                .map(|s| s.users)
                .sum();
            assert_eq!(sum, stage.users);
            assert!(shards.iter().all(|p| p
                .stages
                .get(k)
                .is_none_or(|s| s.ramp == stage.ramp && s.hold == stage.hold)));
        }
        // Shard 15 gets no user in the 10-user stages but 31 in the spike; its trailing
        // 0-user stage is dropped, its leading one kept (timing).
        assert_eq!(shards[15].test_plan(), "0,5s;0,30s;31,2s;31,60s;0,0");
        assert_eq!(shards[0].stages.len(), 3);
        let phases: Vec<_> = shards[15].phases().iter().map(|p| p.name.clone()).collect();
        let full: Vec<_> = spike.phases().iter().map(|p| p.name.clone()).collect();
        assert_eq!(phases, full[..4]);
        let smoke = Profiles::builtin().get("smoke").unwrap().clone();
        assert_eq!(shard_profile(&smoke, spec(0, 2)).unwrap().max_users(), 1);
        let e = shard_profile(&smoke, spec(1, 2)).unwrap_err();
        assert_eq!(e.code, 2);
        assert!(e.message.contains("peaks at 1 users"), "{}", e.message);
    }

    #[test]
    fn run_ids_and_start_times() {
        assert!(parse_run_id("nightly-2026_11").is_ok());
        for bad in ["", "a b", "x@y", &"a".repeat(41)] {
            assert!(parse_run_id(bad).is_err(), "{bad:?}");
        }
        let now = parse_start_at("2026-11-22T10:00:00Z").unwrap();
        let later = parse_start_at("2026-11-22T11:00:00+01:00").unwrap();
        assert_eq!(start_delay(later, now).unwrap(), Duration::ZERO);
        let soon = now + time::Duration::seconds(3);
        assert_eq!(start_delay(soon, now).unwrap(), Duration::from_secs(3));
        let late = now - time::Duration::seconds(2);
        assert_eq!(start_delay(late, now).unwrap(), Duration::ZERO);
        let stale = now - time::Duration::seconds(30);
        assert!(start_delay(stale, now)
            .unwrap_err()
            .message
            .contains("in the past"));
        let far = now + time::Duration::hours(25);
        assert!(start_delay(far, now).unwrap_err().message.contains("24 h"));
        assert!(parse_start_at("tomorrow").is_err());
    }

    #[test]
    fn recorded_rule_texts_parse_back_to_the_same_rules() {
        let rules = crate::thresholds::ThresholdSet::defaults().unwrap().rules;
        for r in rules {
            let back: Rule = r.text.parse().unwrap();
            assert_eq!(back, r);
        }
    }
}
