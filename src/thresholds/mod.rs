//! Threshold rules: pass/fail limits judged against a load-test run.
//!
//! Grammar (one rule per string, whitespace-tolerant, metric names case-insensitive):
//!
//! ```text
//! RULE   := [SCOPE ':'] METRIC OP VALUE [during PHASE]
//!         | server.SERVER_METRIC OP VALUE [during PHASE]   (same as `server: SERVER_METRIC`)
//! SCOPE  := flow name [A-Za-z0-9_-]+ | all          (omitted = all = every request)
//!         | server                                   (the target's scraped Prometheus metrics)
//! METRIC := pNN | pNN.N (0 < p <= 100, p100 = max) | max | min | mean | avg
//!         | error-rate | error_rate | errors | rps | req/s | throughput | count
//!         | rate(CLASS)                              (CLASS e.g. 429, 5xx, timeout)
//!         | SERVER_METRIC                            (flow/all: from X-DB-Queries / X-Cache)
//! SERVER_METRIC := cache_hit_ratio | db_queries_per_request   ('-' for '_' also accepted)
//! OP     := < | <= | > | >=
//! VALUE  := latency: NUMBER (us|µs|ms|s|m), stored in ms
//!         | rates:   NUMBER% or a bare fraction <= 1, stored as a fraction (cache_hit_ratio too)
//!         | rps:     NUMBER or NUMBER/s;   count: bare integer
//!         | db_queries_per_request: bare NUMBER
//! PHASE  := a phase name of the profile ([A-Za-z0-9_ -]+, e.g. hold, spike, spike ramp)
//! ```
//!
//! `during PHASE` judges the rule over the seconds of that phase only (see `crate::phases`);
//! `rate(CLASS)` and per-flow server metrics are whole-run figures and cannot take it.
//!
//! The harness implements [`Observations`] on its run record and calls [`judge`].

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Built-in default rules (same text as `scenarios/thresholds.toml`).
pub const DEFAULT_THRESHOLDS_TOML: &str = include_str!("../../scenarios/thresholds.toml");

/// Errors from parsing rules or a thresholds file; every message is one line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ThresholdError {
    /// A single rule string is malformed.
    #[error("invalid threshold rule '{rule}': {reason}")]
    Rule { rule: String, reason: String },
    /// A rule inside a thresholds file is malformed (`index` is 0-based).
    #[error("{source_name}: rules[{index}]: {error}")]
    InFile {
        source_name: String,
        index: usize,
        error: Box<ThresholdError>,
    },
    /// The thresholds file is not valid TOML or has the wrong shape.
    #[error("{source_name}: {message}")]
    File {
        source_name: String,
        message: String,
    },
}

/// What a rule measures. `Percentile(p)` has 0 < p < 100 (`p100` parses as `Max`);
/// `ErrorRate` / `ClassRate(class)` are fractions of the scope's requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Metric {
    Percentile(f64),
    Max,
    Min,
    Mean,
    ErrorRate,
    Rps,
    Count,
    ClassRate(String),
    /// Cache hits / lookups (fraction): scope `server` from the scrapes, else `X-Cache`.
    CacheHitRatio,
    /// Database statements per request: scope `server` from the scrapes, else `X-DB-Queries`.
    DbQueriesPerRequest,
}

impl Metric {
    /// Latency metrics (limits in milliseconds).
    pub fn is_latency(&self) -> bool {
        matches!(
            self,
            Metric::Percentile(_) | Metric::Max | Metric::Min | Metric::Mean
        )
    }

    /// Rate metrics (limits as fractions in [0, 1]).
    pub fn is_rate(&self) -> bool {
        matches!(
            self,
            Metric::ErrorRate | Metric::ClassRate(_) | Metric::CacheHitRatio
        )
    }

    /// Server-side metrics (`cache_hit_ratio`, `db_queries_per_request`).
    pub fn is_server(&self) -> bool {
        matches!(self, Metric::CacheHitRatio | Metric::DbQueriesPerRequest)
    }

    /// True when a larger observed value is worse (latency, rates, DB queries); false for
    /// rps, count and the cache hit ratio.
    pub fn higher_is_worse(&self) -> bool {
        !matches!(self, Metric::Rps | Metric::Count | Metric::CacheHitRatio)
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Metric::Percentile(p) => return write!(f, "p{p}"),
            Metric::ClassRate(c) => return write!(f, "rate({c})"),
            Metric::Max => "max",
            Metric::Min => "min",
            Metric::Mean => "mean",
            Metric::ErrorRate => "error-rate",
            Metric::Rps => "rps",
            Metric::Count => "count",
            Metric::CacheHitRatio => "cache_hit_ratio",
            Metric::DbQueriesPerRequest => "db_queries_per_request",
        })
    }
}

/// Comparison operator: the rule passes when `observed OP limit` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    /// Whether `observed OP limit` holds (false if either side is NaN).
    pub fn holds(self, observed: f64, limit: f64) -> bool {
        match self {
            Op::Lt => observed < limit,
            Op::Le => observed <= limit,
            Op::Gt => observed > limit,
            Op::Ge => observed >= limit,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        })
    }
}

/// One parsed threshold rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// Flow name, or `"all"` when omitted.
    pub scope: String,
    pub metric: Metric,
    pub op: Op,
    /// Latency in ms, rates as fractions, rps per second, count as a number.
    pub limit: f64,
    /// Canonical text, e.g. `"validate: p95<100ms"` (the limit keeps its written unit).
    pub text: String,
    /// `during PHASE`: judged over that phase of the profile only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
}

impl Rule {
    /// Renders a value in the rule's units: `"87.3 ms"`, `"1.20 s"`, `"0.42%"`, `"1234.5/s"`.
    pub fn format_value(&self, v: f64) -> String {
        if !v.is_finite() {
            return "n/a".to_string();
        }
        match &self.metric {
            m if m.is_latency() => crate::units::fmt_ms(v),
            m if m.is_rate() => format!("{:.2}%", v * 100.0),
            Metric::Rps => format!("{v:.1}/s"),
            Metric::DbQueriesPerRequest => format!("{v:.2}"),
            _ => format!("{v:.0}"),
        }
    }

    /// The limit as written in the canonical text, e.g. `"500ms"` or `"1%"`.
    pub fn limit_text(&self) -> String {
        match self.text.find(['<', '>']) {
            Some(i) => {
                let limit = self.text[i..].trim_start_matches(['<', '>', '=']);
                limit.split(" during ").next().unwrap_or(limit).to_string()
            }
            None => self.format_value(self.limit),
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for Rule {
    type Err = ThresholdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_rule(s).map_err(|reason| ThresholdError::Rule {
            rule: one_line(s.trim()),
            reason: one_line(&reason),
        })
    }
}

/// Escapes control characters and truncates, so error messages stay on one line.
fn one_line(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars().take(120) {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if s.chars().nth(120).is_some() {
        out.push('…');
    }
    out
}

/// Flow and error-class names: `[A-Za-z0-9_-]+`.
fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Phase names: `[A-Za-z0-9_ -]+` (spaces inside, e.g. `spike ramp`).
fn is_phase_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ' '))
}

/// Splits a trailing `during PHASE` off a rule.
fn split_phase(s: &str) -> Result<(&str, Option<String>), String> {
    let lower = s.to_ascii_lowercase();
    let at = lower
        .match_indices("during")
        .map(|(i, _)| i)
        .filter(|&i| {
            let before = s[..i].chars().next_back();
            let after = s[i + "during".len()..].chars().next();
            before.is_some_and(char::is_whitespace) && after.is_none_or(char::is_whitespace)
        })
        .last();
    let Some(at) = at else {
        return Ok((s, None));
    };
    let name = s[at + "during".len()..]
        .split_whitespace()
        .collect::<Vec<_>>();
    let name = name.join(" ");
    if !is_phase_name(&name) {
        return Err(format!(
            "'during' needs a phase name ([A-Za-z0-9_ -]+, e.g. during hold), not '{name}'"
        ));
    }
    Ok((s[..at].trim_end(), Some(name)))
}

fn parse_rule(s: &str) -> Result<Rule, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty rule".into());
    }
    let (s, phase) = split_phase(s)?;
    let pos = s
        .find(['<', '>'])
        .ok_or("missing comparison operator (<, <=, >, >=)")?;
    let (lhs, rest) = s.split_at(pos);
    // `rest` starts with the one-byte '<' or '>'.
    let after = &rest[1..];
    let (op, value) = match (rest.starts_with('>'), after.strip_prefix('=')) {
        (false, None) => (Op::Lt, after),
        (false, Some(v)) => (Op::Le, v),
        (true, None) => (Op::Gt, after),
        (true, Some(v)) => (Op::Ge, v),
    };
    let (scope, metric_text) = match lhs.split_once(':') {
        Some((sc, m)) => (sc.trim(), m.trim()),
        None => match lhs.trim().split_once('.') {
            Some((sc, m)) if sc.trim().eq_ignore_ascii_case("server") => (sc.trim(), m.trim()),
            _ => ("all", lhs.trim()),
        },
    };
    if !is_name(scope) {
        return Err(format!(
            "invalid scope '{scope}' (flow names are [A-Za-z0-9_-]+)"
        ));
    }
    let scope = if scope.eq_ignore_ascii_case("all") {
        "all"
    } else if scope.eq_ignore_ascii_case("each") {
        "each"
    } else if scope.eq_ignore_ascii_case("server") {
        "server"
    } else {
        scope
    }
    .to_string();
    let metric = parse_metric(metric_text)?;
    if scope == "server" && !metric.is_server() {
        return Err(format!(
            "scope 'server' takes cache_hit_ratio or db_queries_per_request, not '{metric}'"
        ));
    }
    if phase.is_some() && matches!(metric, Metric::ClassRate(_)) {
        return Err(
            "rate(CLASS) cannot take 'during': error classes are kept for the whole run only"
                .into(),
        );
    }
    if phase.is_some() && metric.is_server() && scope != "server" {
        return Err(format!(
            "{metric} from response headers is a whole-run figure; use server.{metric} for 'during'"
        ));
    }
    let (limit, shown) = parse_limit(&metric, value.trim())?;
    let mut text = if scope == "server" {
        format!("server.{metric}{op}{shown}")
    } else {
        format!("{scope}: {metric}{op}{shown}")
    };
    if let Some(p) = &phase {
        text.push_str(&format!(" during {p}"));
    }
    Ok(Rule {
        scope,
        metric,
        op,
        limit,
        text,
        phase,
    })
}

fn parse_metric(raw: &str) -> Result<Metric, String> {
    if raw.is_empty() {
        return Err("missing metric before the operator".into());
    }
    let m = raw.to_ascii_lowercase();
    Ok(match m.as_str() {
        "max" => Metric::Max,
        "min" => Metric::Min,
        "mean" | "avg" => Metric::Mean,
        "error-rate" | "error_rate" | "errors" => Metric::ErrorRate,
        "rps" | "req/s" | "throughput" => Metric::Rps,
        "count" => Metric::Count,
        "cache_hit_ratio" | "cache-hit-ratio" => Metric::CacheHitRatio,
        "db_queries_per_request" | "db-queries-per-request" => Metric::DbQueriesPerRequest,
        _ => {
            if let Some(inner) = m.strip_prefix("rate(").and_then(|r| r.strip_suffix(')')) {
                let class = inner.trim();
                if !is_name(class) {
                    return Err(format!(
                        "invalid error class in '{raw}' (e.g. rate(429), rate(5xx))"
                    ));
                }
                return Ok(Metric::ClassRate(class.to_string()));
            }
            let digits = m
                .strip_prefix('p')
                .filter(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit() || c == '.'));
            let p: f64 = match digits.map(str::parse) {
                Some(Ok(p)) => p,
                _ => {
                    return Err(format!(
                        "unknown metric '{raw}' (expected pNN, max, min, mean, error-rate, rps, count, rate(CLASS), cache_hit_ratio or db_queries_per_request)"
                    ))
                }
            };
            match p {
                _ if p <= 0.0 || p > 100.0 => {
                    return Err(format!(
                        "unknown metric '{raw}': percentile must be in (0, 100]"
                    ))
                }
                100.0 => Metric::Max,
                _ => Metric::Percentile(p),
            }
        }
    })
}

/// Parses VALUE for `metric`; returns the stored limit and the canonical limit text.
fn parse_limit(metric: &Metric, value: &str) -> Result<(f64, String), String> {
    if value.is_empty() {
        return Err("missing limit value after the operator".into());
    }
    let split = value
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '+' | '-')))
        .unwrap_or(value.len());
    let (num, unit) = value.split_at(split);
    let unit = unit.trim();
    let unit_l = unit.to_lowercase();
    if num.is_empty() {
        return Err(format!("limit '{value}' must start with a number"));
    }
    let n: f64 = num
        .parse()
        .map_err(|_| format!("invalid number '{num}' in limit"))?;
    if n < 0.0 {
        return Err("limit must not be negative".into());
    }
    let (limit, unit_out) = if metric.is_latency() {
        let (scale, u) = match unit_l.as_str() {
            "" => return Err("latency limit needs a unit (us, ms, s)".into()),
            "us" | "µs" | "μs" => (1e-3, "us"),
            "ms" => (1.0, "ms"),
            "s" => (1e3, "s"),
            "m" => (6e4, "m"),
            _ => return Err(format!("unknown time unit '{unit}' (use us, ms, s or m)")),
        };
        // Divide for sub-millisecond units so 100us is exactly the f64 nearest 0.1.
        let ms = if scale < 1.0 { n / 1e3 } else { n * scale };
        // The recorder's histograms reach 1 h: a longer limit could never be judged.
        if ms.is_finite() && ms > 3_600_000.0 {
            return Err(format!(
                "latency limit '{value}': at most 60m (the recorder measures up to 1 h)"
            ));
        }
        (ms, u)
    } else if metric.is_rate() {
        match unit_l.as_str() {
            "%" if n <= 100.0 => (n / 100.0, "%"),
            "%" => return Err("rate limit must be at most 100%".into()),
            "" if n <= 1.0 => (n, ""),
            "" => {
                return Err(format!(
                    "bare rate must be a fraction <= 1 (or write {num}%)"
                ))
            }
            _ => return Err("rate limit needs % (e.g. 1%) or a bare fraction (e.g. 0.01)".into()),
        }
    } else if *metric == Metric::Rps {
        match unit_l.as_str() {
            "" => (n, ""),
            "/s" | "req/s" | "rps" => (n, "/s"),
            _ => {
                return Err(format!(
                    "rps limit must be a bare number or N/s, not '{value}'"
                ))
            }
        }
    } else if *metric == Metric::DbQueriesPerRequest {
        if !unit.is_empty() {
            return Err(format!(
                "db_queries_per_request limit must be a bare number, not '{value}'"
            ));
        }
        (n, "")
    } else if !unit.is_empty() || n.fract() != 0.0 {
        return Err(format!("count limit must be a bare integer, not '{value}'"));
    } else {
        (n, "")
    };
    if !limit.is_finite() || !n.is_finite() {
        return Err("limit is not a finite number".into());
    }
    Ok((limit, format!("{}{unit_out}", num.trim_start_matches('+'))))
}

/// Implemented by the harness on its run record, so this module never depends on it.
pub trait Observations {
    /// Names of the flows present in the run.
    fn flows(&self) -> Vec<String>;
    /// Observed value for `scope` (`"all"` = every request, `"server"` = the target's own
    /// metrics): latency in ms, rates as fractions.
    fn observe(&self, scope: &str, metric: &Metric) -> Option<f64>;
    /// Names of the profile's phases, for `during PHASE` rules.
    fn phases(&self) -> Vec<String> {
        Vec::new()
    }
    /// Observed value over the phase(s) named `phase` only.
    fn observe_during(&self, _scope: &str, _metric: &Metric, _phase: &str) -> Option<f64> {
        None
    }
}

/// Outcome of one rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub rule: String,
    pub scope: String,
    pub metric: String,
    pub observed: Option<f64>,
    pub observed_text: String,
    pub limit_text: String,
    pub passed: bool,
    pub reason: Option<String>,
    /// The phase a `during PHASE` rule was judged over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
}

/// Judges every rule. A rule whose flow is not in the run, or whose metric has
/// no (finite) data, fails with a reason rather than passing silently. Flow
/// names are matched case-insensitively.
///
/// Scope `each` is one rule per flow of the run (`each: error-rate<1%` → `signup:
/// error-rate<1%`, `login: …`), each its own verdict line; flows without data are left out
/// (all of them without data is one failing `no data` line).
pub fn judge(rules: &[Rule], obs: &dyn Observations) -> Vec<Verdict> {
    let flows = obs.flows();
    let mut out = Vec::new();
    for rule in rules {
        if rule.scope != "each" {
            out.push(judge_one(rule, &flows, obs));
            continue;
        }
        let body = rule
            .text
            .split_once(':')
            .map_or("", |(_, b)| b.trim_start());
        let per_flow: Vec<Verdict> = flows
            .iter()
            .map(|f| {
                let one = Rule {
                    scope: f.clone(),
                    text: format!("{f}: {body}"),
                    ..rule.clone()
                };
                judge_one(&one, &flows, obs)
            })
            .filter(|v| v.observed.is_some())
            .collect();
        if per_flow.is_empty() {
            out.push(judge_one(rule, &["each".to_string()], obs));
        } else {
            out.extend(per_flow);
        }
    }
    out
}

fn judge_one(rule: &Rule, flows: &[String], obs: &dyn Observations) -> Verdict {
    let limit_text = rule.limit_text();
    let scope = match rule.scope.as_str() {
        "all" => Some("all"),
        "server" => Some("server"),
        s => flows
            .iter()
            .find(|f| f.eq_ignore_ascii_case(s))
            .map(String::as_str),
    };
    let phases = obs.phases();
    let observe = |s: &str| match &rule.phase {
        None => Ok(obs.observe(s, &rule.metric)),
        Some(p) => match phases.iter().find(|q| q.trim().eq_ignore_ascii_case(p)) {
            Some(q) => Ok(obs.observe_during(s, &rule.metric, q)),
            None => Err(format!(
                "phase '{p}' not in this run (phases: {})",
                if phases.is_empty() {
                    "none".to_string()
                } else {
                    phases.join(", ")
                }
            )),
        },
    };
    let observed = match scope.map(observe) {
        None => Err(format!("flow '{}' not in this run", rule.scope)),
        Some(Err(why)) => Err(why),
        Some(Ok(None)) if rule.scope == "server" => {
            Err("no data (server metrics not scraped or not mapped)".to_string())
        }
        Some(Ok(v)) => match v {
            None => Err("no data".to_string()),
            Some(x) if !x.is_finite() => Err(format!("observed value {x} is not finite")),
            Some(x) => Ok(x),
        },
    };
    let observed_text = observed
        .as_ref()
        .map_or("-".into(), |&x| rule.format_value(x));
    let passed = matches!(observed, Ok(x) if rule.op.holds(x, rule.limit));
    let reason = match &observed {
        Err(why) => Some(why.clone()),
        Ok(_) if !passed => Some(format!(
            "observed {observed_text} is not {} {limit_text}",
            rule.op
        )),
        Ok(_) => None,
    };
    Verdict {
        rule: rule.text.clone(),
        scope: rule.scope.clone(),
        metric: rule.metric.to_string(),
        observed: observed.ok(),
        observed_text,
        limit_text,
        passed,
        reason,
        phase: rule.phase.clone(),
    }
}

/// Early-abort check: is `observed` beyond `limit` (normally `rule.limit`) by a
/// margin so wide that finishing the run cannot plausibly change the verdict?
///
/// * Only upper-bound rules (`<`, `<=`) qualify; lower bounds such as `rps>=200`
///   or `count>1000` depend on the whole run and never trigger an abort.
/// * Latency, rps and count: true when `observed > 2 × limit`.
/// * Rates (`error-rate`, `rate(CLASS)`): true when `observed > 2 × limit` AND
///   `observed − limit ≥ 0.05` (5 percentage points), so a 0.1% limit is not
///   "clearly" breached by 0.3% on a handful of early requests.
/// * Non-finite values never trigger, and neither do `during PHASE` rules (the live view is
///   not split by phase).
pub fn breached_clearly(rule: &Rule, observed: f64, limit: f64) -> bool {
    if rule.phase.is_some()
        || !observed.is_finite()
        || !limit.is_finite()
        || !matches!(rule.op, Op::Lt | Op::Le)
        || rule.op.holds(observed, limit)
    {
        return false;
    }
    let doubled = observed > 2.0 * limit;
    if rule.metric.is_rate() {
        doubled && observed - limit >= 0.05 - 1e-12
    } else {
        doubled
    }
}

/// A list of rules, usually loaded from a thresholds TOML file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ThresholdSet {
    pub rules: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ThresholdsFile {
    rules: Vec<String>,
}

impl ThresholdSet {
    /// Parses `rules = ["...", ...]`; errors name `source_name` and the rule index.
    pub fn from_toml_str(text: &str, source_name: &str) -> Result<Self, ThresholdError> {
        let file: ThresholdsFile = toml::from_str(text).map_err(|e| {
            let line =
                |s: std::ops::Range<usize>| text.get(..s.start).map(|t| t.matches('\n').count());
            let at = e
                .span()
                .and_then(line)
                .map(|n| format!(" at line {}", n + 1));
            ThresholdError::File {
                source_name: source_name.to_string(),
                message: format!(
                    "invalid thresholds file{}: {}",
                    at.unwrap_or_default(),
                    one_line(e.message())
                ),
            }
        })?;
        let in_file = |index, e| ThresholdError::InFile {
            source_name: source_name.to_string(),
            index,
            error: Box::new(e),
        };
        let parse = |(i, r): (usize, &String)| r.parse().map_err(|e| in_file(i, e));
        let rules = file
            .rules
            .iter()
            .enumerate()
            .map(parse)
            .collect::<Result<_, _>>()?;
        Ok(Self { rules })
    }

    /// Parses rule strings (e.g. from repeated `--threshold` flags).
    pub fn from_rules<S: AsRef<str>>(rules: &[S]) -> Result<Self, ThresholdError> {
        let rules = rules
            .iter()
            .map(|r| r.as_ref().parse())
            .collect::<Result<_, _>>()?;
        Ok(Self { rules })
    }

    /// The built-in defaults from [`DEFAULT_THRESHOLDS_TOML`].
    pub fn defaults() -> Result<Self, ThresholdError> {
        Self::from_toml_str(DEFAULT_THRESHOLDS_TOML, "scenarios/thresholds.toml")
    }
}
#[cfg(test)]
mod tests;
