//! The one place a run's verdict is decided: thresholds, recovery after a spike, open-model
//! validity, security findings, flows that never succeeded, and why the run stopped early
//! all meet here and set `RunRecord::outcome`. `attack` (a finished run) and `merge` (shards)
//! both end in [`conclude`].

use crate::record::{RunRecord, RunVerdict, SECURITY_FINDING};
use crate::thresholds::{judge, Rule};

/// Share of its target rate an open-model run must achieve to be judged.
pub const MIN_RATE_SHARE: f64 = 0.9;

/// Why a run stopped before its planned end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopKind {
    /// A rule was clearly and persistently breached (`attack::abort`): the run failed.
    Aborted,
    /// The run cannot be judged (target unreachable): invalid.
    Unjudgeable,
    /// Signal or watchdog: judged on what was recorded.
    Interrupted,
}

/// An early stop and its one-line reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stop {
    pub kind: StopKind,
    pub reason: String,
}

/// Why an open-model run did not measure the load it was asked for, if it did not.
pub fn rate_invalid(record: &RunRecord) -> Option<String> {
    let r = record.meta.rate.as_ref()?;
    (r.achieved_rps < MIN_RATE_SHARE * r.target_rps).then(|| {
        format!(
            "invalid: achieved {:.1} req/s, below 90% of the target {:.1} req/s ({} late, {} dropped); the generator or the target could not keep up — raise --rate-users or lower --rate",
            r.achieved_rps, r.target_rps, r.late, r.dropped
        )
    })
}

/// Consecutive seconds with failed requests and not one success that make an outage.
pub const OUTAGE_SECONDS: u32 = 2;

/// The longest stretch of at least [`OUTAGE_SECONDS`] in which requests failed and none
/// succeeded (seconds without any completed request inside it count as part of it), e.g. a
/// target that died mid-run. It fails the run however few requests it cost: users back off
/// from a dead target, so its error *rate* can stay under any rule.
pub fn outage(record: &RunRecord) -> Option<String> {
    let mut per_t: std::collections::BTreeMap<u32, (u64, u64)> = Default::default();
    for s in record.flows.iter().flat_map(|f| &f.per_second) {
        let e = per_t.entry(s.t).or_default();
        e.0 += s.requests;
        e.1 += s.errors;
    }
    let (&first, &last) = (per_t.keys().next()?, per_t.keys().next_back()?);
    // (start, seconds, failures) of the stretch being walked and of the longest one.
    let mut current: Option<(u32, u32, u64)> = None;
    let mut longest: Option<(u32, u32, u64)> = None;
    for t in first..=last.saturating_add(1) {
        let (requests, errors) = per_t.get(&t).copied().unwrap_or((0, 0));
        let dark = t <= last && requests == errors;
        if dark {
            let c = current.get_or_insert((t, 0, 0));
            c.1 += 1;
            c.2 += errors;
        } else if let Some(c) = current.take() {
            if c.2 > 0 && c.1 >= OUTAGE_SECONDS && longest.is_none_or(|l| c.1 > l.1) {
                longest = Some(c);
            }
        }
    }
    let (start, seconds, failures) = longest?;
    Some(format!(
        "the target answered nothing for {seconds} s (t={start}–{} s): {failures} request(s) failed, none succeeded",
        start + seconds
    ))
}

/// One line per flow that had requests and not one success, e.g.
/// `signup: 100% failed (4 of 4 requests: 401×4)`.
pub fn flows_without_success(record: &RunRecord) -> Vec<String> {
    record
        .flows
        .iter()
        .filter(|f| f.requests > 0 && f.ok == 0)
        .map(|f| {
            let mut classes: Vec<(&String, &u64)> = f.errors.iter().collect();
            classes.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            let top: Vec<String> = classes
                .iter()
                .take(3)
                .map(|(k, v)| format!("{k}×{v}"))
                .collect();
            format!(
                "{}: 100% failed ({} of {} requests{})",
                f.name,
                f.failed,
                f.requests,
                if top.is_empty() {
                    String::new()
                } else {
                    format!(": {}", top.join(", "))
                }
            )
        })
        .collect()
}

/// Judges `rules` on the record, computes recovery, and sets the verdict and its reasons:
/// `invalid` when the run cannot be judged (unreachable target, open-model rate under 90%
/// — even when it was also aborted), else `fail` when a threshold failed, the run was
/// aborted early, a revoked token was accepted, or a flow never succeeded; else `pass`.
/// Every reason that applies is kept, invalid ones first, joined by `; `.
pub fn conclude(record: &mut RunRecord, rules: &[Rule], stops: &[Stop]) {
    record.thresholds = judge(rules, record);
    record.recovery = crate::phases::recovery(record, rules);
    let mut invalid: Vec<String> = Vec::new();
    let mut failed: Vec<String> = Vec::new();
    let mut noted: Vec<String> = Vec::new();
    for s in stops {
        match s.kind {
            StopKind::Unjudgeable => invalid.push(s.reason.clone()),
            StopKind::Aborted => failed.push(s.reason.clone()),
            StopKind::Interrupted => noted.push(s.reason.clone()),
        }
    }
    if stops.iter().all(|s| s.kind == StopKind::Aborted) {
        invalid.extend(rate_invalid(record));
    }
    let findings: u64 = record
        .flows
        .iter()
        .map(|f| f.class_count(SECURITY_FINDING))
        .sum();
    if findings > 0 {
        failed.push(format!(
            "SECURITY FINDING: {findings} revoked token(s) accepted right after logout (sessions or caches not invalidated)"
        ));
    }
    failed.extend(flows_without_success(record));
    failed.extend(outage(record));
    let thresholds_failed = record.thresholds.iter().any(|v| !v.passed);
    record.outcome.verdict = if !invalid.is_empty() {
        RunVerdict::Invalid
    } else if !failed.is_empty() || thresholds_failed {
        RunVerdict::Fail
    } else {
        RunVerdict::Pass
    };
    let reasons: Vec<String> = invalid.into_iter().chain(failed).chain(noted).collect();
    record.outcome.reason = (!reasons.is_empty()).then(|| reasons.join("; "));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::sample::synthetic;
    use crate::record::RateStats;

    fn rules(texts: &[&str]) -> Vec<Rule> {
        texts.iter().map(|t| t.parse().unwrap()).collect()
    }

    #[test]
    fn a_flow_without_one_success_fails_the_run_on_its_own_line() {
        let mut r = synthetic(10, &["signup", "validate"], 4, 50);
        let signup = &mut r.flows[0];
        signup.failed = signup.requests;
        signup.ok = 0;
        signup.errors = [("201".to_string(), signup.requests)].into();
        let n = signup.requests;
        conclude(&mut r, &rules(&["p99.9<60m"]), &[]);
        assert_eq!(r.outcome.verdict, "fail");
        let reason = r.outcome.reason.unwrap();
        assert!(
            reason.contains(&format!(
                "signup: 100% failed ({n} of {n} requests: 201×{n})"
            )),
            "{reason}"
        );
        assert!(!reason.contains("validate"), "{reason}");
    }

    #[test]
    fn each_scope_judges_every_flow_on_its_own_line() {
        let mut r = synthetic(10, &["signup", "login", "validate"], 4, 50);
        let login = &mut r.flows[1];
        login.failed = login.requests / 10;
        login.ok = login.requests - login.failed;
        conclude(&mut r, &rules(&["each: error-rate<1%"]), &[]);
        let lines: Vec<(&str, bool)> = r
            .thresholds
            .iter()
            .map(|v| (v.rule.as_str(), v.passed))
            .collect();
        assert_eq!(
            lines,
            [
                ("signup: error-rate<1%", true),
                ("login: error-rate<1%", false),
                ("validate: error-rate<1%", true)
            ]
        );
        assert_eq!(r.outcome.verdict, "fail");
    }

    #[test]
    fn an_aborted_run_under_its_rate_is_invalid_with_both_reasons() {
        let mut r = synthetic(10, &["validate"], 4, 50);
        r.meta.rate = Some(RateStats {
            target_rps: 100.0,
            achieved_rps: 40.0,
            ..RateStats::default()
        });
        let abort = Stop {
            kind: StopKind::Aborted,
            reason: "aborted early: 'validate: p95<1ms' clearly breached".into(),
        };
        conclude(&mut r, &rules(&["validate: p95<1ms"]), &[abort]);
        assert_eq!(r.outcome.verdict, "invalid");
        let reason = r.outcome.reason.unwrap();
        assert!(
            reason.starts_with("invalid: achieved 40.0 req/s"),
            "{reason}"
        );
        assert!(reason.contains("; aborted early: 'validate"), "{reason}");
    }

    #[test]
    fn seconds_without_one_success_fail_the_run_as_an_outage() {
        let mut r = synthetic(10, &["login", "validate"], 4, 50);
        conclude(&mut r, &rules(&["p99.9<60m"]), &[]);
        assert_eq!(r.outcome.verdict, "pass", "{:?}", r.outcome.reason);
        // The target dies at t=6: from then on every request fails (a few, as users back off),
        // and t=8 has no completed request at all.
        for f in &mut r.flows {
            for s in f.per_second.iter_mut().filter(|s| s.t >= 6) {
                s.errors = if s.t == 8 { 0 } else { s.requests.min(3) };
                s.requests = s.errors;
            }
        }
        conclude(&mut r, &rules(&["p99.9<60m"]), &[]);
        assert_eq!(r.outcome.verdict, "fail");
        let reason = r.outcome.reason.unwrap();
        assert!(
            reason.contains("the target answered nothing for 4 s (t=6–10 s)"),
            "{reason}"
        );
    }

    #[test]
    fn one_dark_second_or_a_silent_stretch_is_not_an_outage() {
        let mut r = synthetic(10, &["validate"], 4, 50);
        let f = &mut r.flows[0];
        // t=3: all failed, but only one second; t=5..7: no completions and no failures.
        for s in f.per_second.iter_mut() {
            match s.t {
                3 => s.errors = s.requests,
                5..=7 => {
                    s.requests = 0;
                    s.errors = 0
                }
                _ => {}
            }
        }
        assert_eq!(outage(&r), None);
    }

    #[test]
    fn a_clean_run_passes_and_an_interrupted_one_keeps_its_reason() {
        let mut r = synthetic(10, &["validate"], 4, 50);
        conclude(&mut r, &rules(&["p99.9<60m"]), &[]);
        assert_eq!(
            (r.outcome.verdict, &r.outcome.reason),
            (RunVerdict::Pass, &None)
        );
        let sigint = Stop {
            kind: StopKind::Interrupted,
            reason: "interrupted (SIGINT)".into(),
        };
        conclude(&mut r, &rules(&["p99.9<60m"]), &[sigint]);
        assert_eq!(r.outcome.verdict, "pass");
        assert_eq!(r.outcome.reason.as_deref(), Some("interrupted (SIGINT)"));
    }
}
