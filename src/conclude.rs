//! The one place a run's verdict is decided: thresholds, recovery after a spike, open-model
//! validity, security findings, flows that never succeeded, and why the run stopped early
//! all meet here and set `RunRecord::outcome`. `attack` (a finished run) and `merge` (shards)
//! both end in [`conclude`].

use crate::record::{RunRecord, SECURITY_FINDING};
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
    let thresholds_failed = record.thresholds.iter().any(|v| !v.passed);
    record.outcome.verdict = if !invalid.is_empty() {
        "invalid"
    } else if !failed.is_empty() || thresholds_failed {
        "fail"
    } else {
        "pass"
    }
    .to_string();
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
    fn a_clean_run_passes_and_an_interrupted_one_keeps_its_reason() {
        let mut r = synthetic(10, &["validate"], 4, 50);
        conclude(&mut r, &rules(&["p99.9<60m"]), &[]);
        assert_eq!(
            (r.outcome.verdict.as_str(), &r.outcome.reason),
            ("pass", &None)
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
