//! Early aborts, gated on evidence: a rule stops the run only when it is clearly breached
//! (`thresholds::breached_clearly`) in two consecutive 5-second windows after the first ramp,
//! each holding at least [`MIN_REQUESTS`] requests of the rule's scope, and once at least
//! [`MIN_HOLD`] of the hold has passed. `all:` latency rules never stop a run early: they mix
//! flows of very different cost (password-hashing signups and logins with cheap token
//! checks), so a few seconds of them say more about the mix than about the target; they are
//! judged on the whole run, and the per-flow rules (`validate: p95<100ms`) abort instead.

use std::time::Duration;

use super::recorder::{Flow, WindowFlow};
use crate::histogram::quantile_ms;
use crate::thresholds::{breached_clearly, Metric, Rule};

/// No early abort before this much time after the end of the first ramp.
pub const MIN_HOLD: Duration = Duration::from_secs(10);
/// Length of one judged window (whole seconds).
pub const WINDOW_S: u64 = 5;
/// Fewest requests of a rule's scope in a window for it to count as evidence.
pub const MIN_REQUESTS: u64 = 50;
/// Consecutive breached windows that stop the run.
pub const STREAK: u32 = 2;

/// The observed value of `metric` over `scope` in a window, and on how many requests.
/// `all` sees every flow, any other scope one. Only percentiles and the error rate are
/// judged live.
pub fn observe(window: &[WindowFlow], scope: &str, metric: &Metric) -> Option<(f64, u64)> {
    let flows: Vec<&WindowFlow> = window
        .iter()
        .filter(|f| scope == "all" || f.flow.name().eq_ignore_ascii_case(scope))
        .collect();
    let requests: u64 = flows.iter().map(|f| f.requests).sum();
    if requests == 0 {
        return None;
    }
    let value = match metric {
        Metric::Percentile(p) => {
            let mut h = crate::histogram::new_histogram();
            for f in &flows {
                h.add(&f.hist).ok()?;
            }
            quantile_ms(&h, p / 100.0)?
        }
        Metric::ErrorRate => flows.iter().map(|f| f.failed).sum::<u64>() as f64 / requests as f64,
        _ => return None,
    };
    Some((value, requests))
}

/// Walks the run in windows and decides when a breach is persistent enough to stop it.
pub struct AbortGate {
    rules: Vec<Rule>,
    /// Whole seconds from the run's start to the end of the first ramp (rounded up).
    ramp_end_s: u64,
    /// Start of the next window to judge.
    next_s: u64,
    /// Consecutive breached windows per (rule, scope).
    streaks: std::collections::BTreeMap<(usize, &'static str), u32>,
}

impl AbortGate {
    pub fn new(rules: Vec<Rule>, first_ramp_end: Duration) -> AbortGate {
        let ramp_end_s = first_ramp_end.as_secs() + u64::from(first_ramp_end.subsec_nanos() > 0);
        AbortGate {
            rules,
            ramp_end_s,
            next_s: ramp_end_s,
            streaks: Default::default(),
        }
    }

    /// The next window (`from..to`, whole seconds) once `elapsed` has passed its end.
    pub fn due(&self, elapsed: Duration) -> Option<(u64, u64)> {
        let to = self.next_s + WINDOW_S;
        (elapsed.as_secs() >= to).then_some((self.next_s, to))
    }

    /// Judges the window `due` returned; `Some(reason)` when the run must stop.
    pub fn check(&mut self, window: &[WindowFlow]) -> Option<String> {
        let to = self.next_s + WINDOW_S;
        self.next_s = to;
        let held = Duration::from_secs(to.saturating_sub(self.ramp_end_s));
        let mut stop = None;
        for (i, rule) in self.rules.iter().enumerate() {
            let all_latency = rule.scope == "all" && matches!(rule.metric, Metric::Percentile(_));
            let scopes: Vec<&'static str> = if all_latency {
                Vec::new()
            } else if rule.scope == "each" {
                Flow::ALL.iter().map(|f| f.name()).collect()
            } else if rule.scope == "all" {
                vec!["all"]
            } else {
                Flow::ALL
                    .iter()
                    .map(|f| f.name())
                    .filter(|n| n.eq_ignore_ascii_case(&rule.scope))
                    .collect()
            };
            for scope in scopes {
                let seen = observe(window, scope, &rule.metric);
                let breached = seen.is_some_and(|(v, n)| {
                    n >= MIN_REQUESTS && breached_clearly(rule, v, rule.limit)
                });
                let streak = self.streaks.entry((i, scope)).or_insert(0);
                *streak = if breached { *streak + 1 } else { 0 };
                if let (true, None, Some((v, n))) =
                    (*streak >= STREAK && held >= MIN_HOLD, &stop, seen)
                {
                    let shown = if rule.scope == "each" {
                        format!("{scope}: {}", rule_body(&rule.text))
                    } else {
                        rule.text.clone()
                    };
                    stop = Some(format!(
                        "aborted early: '{shown}' clearly breached in {STREAK} consecutive {WINDOW_S} s windows (last: observed {} on {n} requests)",
                        rule.format_value(v)
                    ));
                }
            }
        }
        stop
    }
}

/// A rule's text without its scope: `"each: error-rate<1%"` → `"error-rate<1%"`.
pub fn rule_body(text: &str) -> &str {
    text.split_once(':').map_or(text, |(_, b)| b.trim_start())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(flow: Flow, requests: u64, failed: u64, ms: u64) -> WindowFlow {
        let mut hist = crate::histogram::new_histogram();
        for _ in 0..requests {
            hist.saturating_record(ms * 1000);
        }
        WindowFlow {
            flow,
            requests,
            failed,
            hist,
        }
    }

    fn gate(rules: &[&str], ramp: u64) -> AbortGate {
        let rules = rules.iter().map(|r| r.parse().unwrap()).collect();
        AbortGate::new(rules, Duration::from_secs(ramp))
    }

    #[test]
    fn windows_start_at_the_ramp_end_and_follow_each_other() {
        let mut g = gate(&["p95<500ms"], 3);
        assert_eq!(g.due(Duration::from_secs(7)), None);
        assert_eq!(g.due(Duration::from_secs(8)), Some((3, 8)));
        g.check(&[]);
        assert_eq!(g.due(Duration::from_secs(12)), None);
        assert_eq!(g.due(Duration::from_secs(13)), Some((8, 13)));
    }

    #[test]
    fn two_breached_windows_with_evidence_stop_the_run_naming_rule_value_and_count() {
        let mut g = gate(&["validate: p95<100ms"], 0);
        let slow = [flow(Flow::Validate, 80, 0, 900)];
        assert_eq!(g.check(&slow), None, "one window is not persistent");
        let reason = g.check(&slow).expect("second window stops");
        assert!(
            reason.starts_with("aborted early: 'validate: p95<100ms'"),
            "{reason}"
        );
        assert!(reason.contains("on 80 requests"), "{reason}");
        assert!(reason.contains("ms"), "{reason}");
    }

    #[test]
    fn too_few_requests_or_a_recovered_window_do_not_stop_the_run() {
        let mut g = gate(&["validate: p95<100ms"], 0);
        let thin = [flow(Flow::Validate, MIN_REQUESTS - 1, 0, 900)];
        let slow = [flow(Flow::Validate, 80, 0, 900)];
        let fast = [flow(Flow::Validate, 80, 0, 1)];
        assert_eq!(g.check(&thin), None);
        assert_eq!(g.check(&thin), None);
        assert_eq!(g.check(&slow), None);
        assert_eq!(g.check(&fast), None);
        assert_eq!(g.check(&slow), None);
        assert!(g.check(&slow).is_some());
    }

    #[test]
    fn no_stop_before_ten_seconds_of_hold() {
        // Windows of 5 s: the second one ends at 10 s of hold, the first possible stop.
        let mut g = gate(&["error-rate<1%"], 0);
        let failing = [flow(Flow::Login, 60, 60, 5)];
        assert_eq!(g.check(&failing), None);
        assert!(g.check(&failing).is_some());
        let mut g = gate(&["error-rate<1%"], 0);
        g.next_s = 0;
        g.ramp_end_s = 2;
        assert_eq!(g.check(&failing), None);
        assert_eq!(g.check(&failing), None, "only 8 s of hold");
        assert!(g.check(&failing).is_some());
    }

    #[test]
    fn all_latency_never_aborts_but_all_errors_and_each_do() {
        let w = [
            flow(Flow::Signup, 100, 0, 3000),
            flow(Flow::Validate, 100, 0, 1),
        ];
        let mut g = gate(&["all: p50<1ms", "signup: p95<1s"], 0);
        assert_eq!(g.check(&w), None);
        let reason = g.check(&w).unwrap();
        assert!(reason.contains("'signup: p95<1s'"), "{reason}");
        let mut g = gate(&["all: p50<1ms"], 0);
        assert_eq!((g.check(&w), g.check(&w), g.check(&w)), (None, None, None));
        let mut g = gate(&["error-rate<1%"], 0);
        let failing = [flow(Flow::Login, 60, 60, 5)];
        g.check(&failing);
        assert!(g.check(&failing).is_some());
        let mut g = gate(&["each: error-rate<1%"], 0);
        let failing = [flow(Flow::Login, 60, 60, 5), flow(Flow::Validate, 60, 0, 1)];
        g.check(&failing);
        let reason = g.check(&failing).unwrap();
        assert!(reason.contains("'login: error-rate<1%'"), "{reason}");
    }
}
