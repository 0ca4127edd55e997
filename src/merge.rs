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
use crate::conclude::{conclude, Stop, StopKind};
use crate::error::Failure;
use crate::histogram::{decode, encode, new_histogram, Summary};
use crate::profile::Profile;
use crate::record::{
    FlowRecord, Meta, Outcome, Phase, RateStats, RunRecord, SecondRecord, ShardMeta,
};
use crate::thresholds::Rule;

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
///
/// Open-model stages (`rate`) get `rate / N` arrivals per second each and a user pool of
/// `ceil(pool / N)` (at least 1): the arrivals sum exactly, the pools are rounded up.
pub fn shard_profile(profile: &Profile, spec: ShardSpec) -> Result<Profile, Failure> {
    let mut p = profile.clone();
    if p.is_open() {
        for s in &mut p.stages {
            s.rate = s.rate.map(|r| r / f64::from(spec.count));
            s.users = s.users.div_ceil(spec.count).max(1);
        }
        return Ok(p);
    }
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

/// What shards of one run must share: the whole (unsharded) profile's Goose test plan, and
/// its stage rates for an open-model profile.
pub fn plan_fingerprint(profile: &Profile) -> String {
    let mut text = profile.test_plan();
    if profile.is_open() {
        let rates: Vec<String> = profile
            .stages
            .iter()
            .map(|s| format!("{}", s.rate.unwrap_or(0.0)))
            .collect();
        text.push_str(&format!(" @ {}/s", rates.join(",")));
    }
    text
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

/// Sums HdrHistogram V2-deflate texts straight into one counts array: no histogram is
/// allocated per input (decoding each into a full 1 µs … 1 h histogram and `add`ing it costs
/// ~10× more, and merging 16 shards of a 10-minute run decodes ~29,000). Texts with other
/// bounds than [`new_histogram`]'s are decoded and added the ordinary way.
struct Summer {
    counts: Vec<u64>,
    /// Histograms with foreign bounds, added the ordinary way.
    other: Option<Histogram<u64>>,
    inflate: flate2::Decompress,
    raw: Vec<u8>,
    plain: Vec<u8>,
}

/// V2 cookies (HdrHistogram's encoding, as the `hdrhistogram` crate writes it).
const V2_COOKIE: u32 = 0x1c84_9313;
const V2_COMPRESSED_COOKIE: u32 = 0x1c84_9314;
const V2_HEADER: usize = 40;
/// `new_histogram()`'s layout: 2048 sub-buckets (3 digits), lowest value 1.
const HALF_COUNT_MAGNITUDE: u32 = 10;

/// The lowest value of counts index `index` in a [`new_histogram`] histogram.
fn value_at_index(index: usize) -> u64 {
    let half = 1usize << HALF_COUNT_MAGNITUDE;
    let bucket = (index >> HALF_COUNT_MAGNITUDE) as i64 - 1;
    let sub = (index & (half - 1)) + half;
    if bucket < 0 {
        (sub - half) as u64
    } else {
        (sub as u64) << bucket
    }
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// LEB128-64b9B varint (HdrHistogram's): returns the value and the bytes read.
fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for i in 0..9 {
        let byte = *b.get(i)?;
        if i == 8 {
            return Some((value | (u64::from(byte) << 56), 9));
        }
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

impl Summer {
    fn new() -> Summer {
        Summer {
            counts: vec![0; new_histogram().distinct_values()],
            other: None,
            inflate: flate2::Decompress::new(true),
            raw: Vec::new(),
            plain: Vec::new(),
        }
    }

    /// Adds one encoded histogram; returns how many samples it held.
    fn add(&mut self, text: &str) -> Result<u64, String> {
        use base64::Engine;
        self.raw.clear();
        base64::engine::general_purpose::STANDARD
            .decode_vec(text.trim(), &mut self.raw)
            .map_err(|e| format!("histogram is not base64: {e}"))?;
        match self.add_fast() {
            Some(n) => Ok(n),
            None => {
                // Another layout, or damaged: the ordinary decoder accepts or explains it.
                let h = decode(text)?;
                let n = h.len();
                self.other
                    .get_or_insert_with(new_histogram)
                    .add(&h)
                    .map_err(|e| format!("histogram out of range: {e:?}"))?;
                Ok(n)
            }
        }
    }

    /// The fast path: `None` when the text is not a V2-deflate histogram of our layout.
    fn add_fast(&mut self) -> Option<u64> {
        let raw = &self.raw;
        if be_u32(raw, 0)? != V2_COMPRESSED_COOKIE {
            return None;
        }
        let len = be_u32(raw, 4)? as usize;
        let compressed = raw.get(8..8 + len)?;
        self.inflate.reset(true);
        self.plain.clear();
        loop {
            self.plain.reserve(4096);
            let before = self.inflate.total_in() as usize;
            let status = self
                .inflate
                .decompress_vec(
                    &compressed[before..],
                    &mut self.plain,
                    flate2::FlushDecompress::Finish,
                )
                .ok()?;
            match status {
                flate2::Status::StreamEnd => break,
                _ if self.inflate.total_in() as usize == before
                    && self.plain.len() < self.plain.capacity() =>
                {
                    return None; // truncated
                }
                _ => {}
            }
        }
        let p = &self.plain;
        let payload_len = be_u32(p, 4)? as usize;
        let standard = be_u32(p, 0)? == V2_COOKIE
            && be_u32(p, 8)? == 0
            && be_u32(p, 12)? == u32::from(crate::histogram::SIGFIG)
            && be_u64(p, 16)? == 1
            && be_u64(p, 24)? == crate::histogram::HIGHEST_US
            && f64::from_bits(be_u64(p, 32)?) == 1.0;
        if !standard {
            return None;
        }
        let mut payload = p.get(V2_HEADER..V2_HEADER + payload_len)?;
        // Decode into a scratch list first, so a damaged text adds nothing.
        let mut index = 0usize;
        let mut total = 0u64;
        let mut adds: Vec<(usize, u64)> = Vec::new();
        while !payload.is_empty() {
            let (zz, used) = varint(payload)?;
            payload = &payload[used..];
            let n = ((zz >> 1) as i64) ^ -((zz & 1) as i64);
            if n < 0 {
                index = index.checked_add(n.unsigned_abs() as usize)?;
            } else {
                if n > 0 {
                    if index >= self.counts.len() {
                        return None;
                    }
                    adds.push((index, n as u64));
                    total = total.checked_add(n as u64)?;
                }
                index += 1;
            }
        }
        for (i, n) in adds {
            self.counts[i] = self.counts[i].saturating_add(n);
        }
        Some(total)
    }

    fn finish(self) -> Result<Histogram<u64>, String> {
        let mut h = new_histogram();
        for (i, &n) in self.counts.iter().enumerate() {
            if n > 0 {
                h.record_n(value_at_index(i), n)
                    .map_err(|e| format!("histogram out of range: {e:?}"))?;
            }
        }
        if let Some(other) = self.other {
            h.add(&other)
                .map_err(|e| format!("histogram out of range: {e:?}"))?;
        }
        Ok(h)
    }
}

/// One encoded histogram to sum: where it came from, what it is, how many samples the record
/// says it holds.
#[derive(Clone, Copy)]
struct Part<'a> {
    source: &'a str,
    text: &'a str,
    /// Samples the record says it holds (`None`: not recorded).
    expected: Option<u64>,
}

/// Sums encoded histograms, checking each holds as many samples as its record says; `what`
/// names them in errors.
fn sum_histograms(parts: &[Part], what: &str) -> Result<Histogram<u64>, Failure> {
    let mut summer = Summer::new();
    for p in parts {
        let n = summer
            .add(p.text)
            .map_err(|e| Failure::bad_input(format!("{}: {what}: {e}", p.source)))?;
        if let Some(expected) = p.expected.filter(|&e| e != n) {
            return Err(Failure::bad_input(format!(
                "{}: {what}: histogram holds {n} samples, requests is {expected}",
                p.source
            )));
        }
    }
    summer
        .finish()
        .map_err(|e| Failure::bad_input(format!("{what}: {e}")))
}

/// The checks of [`RunRecord::validate`] that need no histogram decoding (the merge checks
/// every histogram's sample count as it sums them).
fn check_counts(input: &ShardInput) -> Result<(), Failure> {
    let bad = |e: String| Failure::bad_input(format!("{}: {e}", input.source));
    for f in &input.record.flows {
        if f.ok + f.failed != f.requests {
            return Err(bad(format!(
                "flow '{}': ok {} + failed {} != requests {}",
                f.name, f.ok, f.failed, f.requests
            )));
        }
        let errors: u64 = f.errors.values().sum();
        if errors != f.failed {
            return Err(bad(format!(
                "flow '{}': error classes sum to {errors}, failed is {}",
                f.name, f.failed
            )));
        }
        let per_second: u64 = f.per_second.iter().map(|s| s.requests).sum();
        if per_second != f.requests {
            return Err(bad(format!(
                "flow '{}': per-second requests sum to {per_second}, total is {}",
                f.name, f.requests
            )));
        }
    }
    let m = &input.record.meta;
    if !m.duration_s.is_finite() || m.duration_s < 0.0 {
        return Err(bad("meta.duration_s must be a non-negative number".into()));
    }
    Ok(())
}

/// One unit of merge work: a flow's whole-run histogram, or one aligned second of it.
struct Job<'a> {
    flow: usize,
    /// `None`: the whole-run histogram.
    t: Option<u32>,
    parts: Vec<Part<'a>>,
}

fn flow_order(name: &str) -> usize {
    Flow::ALL
        .iter()
        .position(|f| f.name() == name)
        .unwrap_or(Flow::ALL.len())
}

/// Open-model pacing of the whole run: counts and rates summed over the shards (they ran side
/// by side), send lags summed as histograms. `None` for closed-model runs.
fn merge_rates(shards: &[&ShardInput]) -> Result<Option<RateStats>, Failure> {
    let rated: Vec<(&str, &RateStats)> = shards
        .iter()
        .filter_map(|s| Some((s.source.as_str(), s.record.meta.rate.as_ref()?)))
        .collect();
    if rated.is_empty() {
        return Ok(None);
    }
    let parts: Vec<Part> = rated
        .iter()
        .map(|(source, r)| Part {
            source,
            text: &r.send_lag,
            expected: None,
        })
        .collect();
    let lag = sum_histograms(&parts, "meta.rate.send_lag")?;
    let sum_f = |f: fn(&RateStats) -> f64| rated.iter().map(|(_, r)| f(r)).sum::<f64>();
    let sum_u = |f: fn(&RateStats) -> u64| rated.iter().map(|(_, r)| f(r)).sum::<u64>();
    Ok(Some(RateStats {
        peak_rps: sum_f(|r| r.peak_rps),
        scheduled: sum_u(|r| r.scheduled),
        target_rps: sum_f(|r| r.target_rps),
        sent: sum_u(|r| r.sent),
        achieved_rps: sum_f(|r| r.achieved_rps),
        late: sum_u(|r| r.late),
        dropped: sum_u(|r| r.dropped),
        users: rated.iter().map(|(_, r)| r.users).sum(),
        send_lag: encode(&lag),
        send_lag_summary: Summary::of(&lag),
    }))
}

/// Merges the shards of one run into one record: histograms summed per flow and per
/// wall-clock-aligned second, counts and error classes summed, thresholds re-judged.
/// `command` is recorded as the merged record's command line.
pub fn merge(inputs: &[ShardInput], command: Vec<String>) -> Result<RunRecord, Failure> {
    let shards = check_shards(inputs)?;
    for s in &shards {
        check_counts(s)?;
    }
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
        let mut seconds: BTreeMap<u32, Vec<Part>> = BTreeMap::new();
        for (s, offset) in shards.iter().zip(&offsets) {
            if let Some(f) = s.record.flows.iter().find(|f| &f.name == name) {
                whole.push(Part {
                    source: &s.source,
                    text: &f.histogram,
                    expected: Some(f.requests),
                });
                for sec in &f.per_second {
                    seconds.entry(sec.t + offset).or_default().push(Part {
                        source: &s.source,
                        text: &sec.histogram,
                        expected: Some(sec.requests),
                    });
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
        sum_histograms(&job.parts, &what).map(|h| {
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
        rate: merge_rates(&shards)?,
        seed: first.meta.seed,
        delayed_retries: shards.iter().map(|s| s.record.meta.delayed_retries).sum(),
        paired: None,
    };

    let mut record = RunRecord {
        schema_version: first.schema_version,
        meta,
        phases,
        flows,
        users_per_second,
        thresholds: Vec::new(),
        outcome: Outcome {
            verdict: Default::default(),
            partial: false,
            reason: None,
        },
        server: crate::server::merge_shards(shards.iter().map(|s| s.record.server.as_ref())),
        recovery: Vec::new(),
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
    // Each shard's early stop, named by shard; the merged run is judged once on the sum.
    let stops: Vec<Stop> = shards
        .iter()
        .filter_map(|s| {
            let i = s.record.meta.shard.as_ref()?.index?;
            let why = s.record.outcome.reason.as_ref()?;
            let kind = if s.record.outcome.verdict == crate::record::RunVerdict::Invalid {
                StopKind::Unjudgeable
            } else if why.starts_with("aborted early") {
                StopKind::Aborted
            } else if s.record.outcome.partial {
                StopKind::Interrupted
            } else {
                // A complete shard's own fail reasons are re-judged on the merged data.
                return None;
            };
            Some(Stop {
                kind,
                reason: format!("shard {i}/{count}: {why}"),
            })
        })
        .collect();
    record.outcome.partial = shards.iter().any(|s| s.record.outcome.partial);
    conclude(&mut record, &rules, &stops);
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
    fn open_model_shards_split_the_rate() {
        let toml = "[profiles.open]\nstages = [{ rate = \"90/s\", users = 10, ramp = \"2s\", hold = \"5s\" }, { rate = \"30/s\", users = 10, hold = \"5s\" }]\n";
        let open = Profiles::from_toml(toml, "p.toml").unwrap();
        let open = open.get("open").unwrap();
        assert!(open.is_open());
        let shards: Vec<Profile> = (0..4)
            .map(|i| shard_profile(open, spec(i, 4)).unwrap())
            .collect();
        for (k, stage) in open.stages.iter().enumerate() {
            let sum: f64 = shards.iter().map(|p| p.stages[k].rate.unwrap()).sum();
            assert!((sum - stage.rate.unwrap()).abs() < 1e-9);
            assert!(shards.iter().all(|p| p.stages[k].users == 3));
        }
        let fp = plan_fingerprint(open);
        assert!(fp.ends_with(" @ 90,30/s"), "{fp}");
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
    fn index_values_match_the_histogram_layout() {
        let h = new_histogram();
        for i in 0..h.distinct_values() - 1 {
            let v = value_at_index(i);
            assert_eq!(h.lowest_equivalent(v), v, "index {i}");
            assert_eq!(
                h.highest_equivalent(v) + 1,
                value_at_index(i + 1),
                "index {i}"
            );
        }
        assert_eq!(value_at_index(0), 0);
        assert_eq!(value_at_index(2047), 2047);
        assert_eq!(value_at_index(2048), 2048);
        assert_eq!(value_at_index(3072), 4096);
    }

    #[test]
    fn fast_sums_equal_decoding_and_adding() {
        let mut state = 0x1234_5678_u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state >> 11
        };
        let mut slow = new_histogram();
        let mut summer = Summer::new();
        for k in 0..60u64 {
            let mut h = new_histogram();
            for _ in 0..(k * 37 % 700) {
                // 1 µs … ~1 h, log-spread, with repeats.
                let exp = next() % 32;
                let v = (1 + next() % (1u64 << exp)).min(crate::histogram::HIGHEST_US);
                h.record_n(v, 1 + next() % 3).unwrap();
            }
            assert_eq!(summer.add(&encode(&h)).unwrap(), h.len());
            slow.add(&h).unwrap();
        }
        // Other bounds go the ordinary way.
        let mut narrow = Histogram::<u64>::new_with_bounds(1, 60_000_000, 2).unwrap();
        for v in [5_u64, 500, 50_000, 5_000_000] {
            narrow.record_n(v, 3).unwrap();
        }
        let text = encode(&narrow);
        assert_eq!(summer.add(&text).unwrap(), 12);
        slow.add(decode(&text).unwrap()).unwrap();
        let fast = summer.finish().unwrap();
        assert_eq!(encode(&fast), encode(&slow));
        assert_eq!(
            (fast.len(), fast.min(), fast.max()),
            (slow.len(), slow.min(), slow.max())
        );
        for q in [0.0, 0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(fast.value_at_quantile(q), slow.value_at_quantile(q));
        }
        let mut s = Summer::new();
        assert!(s.add("not base64!").is_err());
        assert!(s.add("AAAA").is_err());
        let good = encode(&slow);
        assert!(s.add(&good[..good.len() / 2]).is_err(), "truncated");
        assert_eq!(s.finish().unwrap().len(), 0, "damaged texts add nothing");
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
