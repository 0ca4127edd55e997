//! What a set of shard records must satisfy before they are merged: one run id, one plan,
//! every index once, counts that add up (histograms are checked as they are summed).

use std::collections::BTreeMap;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::ShardInput;
use crate::error::Failure;
use crate::record::ShardMeta;

pub(super) fn parse_time(source: &str, field: &str, text: &str) -> Result<OffsetDateTime, Failure> {
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
pub(super) fn check_shards(inputs: &[ShardInput]) -> Result<Vec<&ShardInput>, Failure> {
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

/// The checks of [`RunRecord::validate`] that need no histogram decoding (the merge checks
/// every histogram's sample count as it sums them).
pub(super) fn check_counts(input: &ShardInput) -> Result<(), Failure> {
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
