//! [`merge`]: one exact [`RunRecord`] from the shard records of a distributed run (HDR
//! histograms are summed, never re-sampled; `checks` first). Shard launch lives in
//! `crate::shard`. See `docs/DISTRIBUTED.md`.

mod checks;

use std::collections::{BTreeMap, BTreeSet};

use hdrhistogram::Histogram;

use crate::conclude::{conclude, Stop, StopKind};
use crate::error::Failure;
use crate::flow::Flow;
use crate::histogram::{encode, Summary, Summer};
use crate::record::{
    FlowRecord, Meta, Outcome, Phase, RateStats, RunRecord, SecondRecord, ShardMeta,
};
use crate::shard::rfc3339;
use crate::thresholds::Rule;
use checks::{check_counts, check_shards, parse_time};

/// Most error samples kept per merged flow.
const MAX_SAMPLES: usize = 10;

/// A shard record and where it came from (for error messages).
#[derive(Debug, Clone)]
pub struct ShardInput {
    pub source: String,
    pub record: RunRecord,
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
        outcome: Outcome::default(),
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

    #[test]
    fn recorded_rule_texts_parse_back_to_the_same_rules() {
        let rules = crate::thresholds::ThresholdSet::defaults().unwrap().rules;
        for r in rules {
            let back: Rule = r.text.parse().unwrap();
            assert_eq!(back, r);
        }
    }
}
