//! The mapping file: which Prometheus series of the target mean "cache hit", "cache miss",
//! "db query" and "requests" (`scenarios/server-metrics.toml` is the built-in default), and
//! how a parsed exposition is reduced to those four numbers.

use std::collections::BTreeMap;
use std::path::Path;

use prometheus_parse::{Sample, Value};
use serde::Deserialize;

use crate::error::Failure;

/// The built-in mapping (fits the reference API).
pub const DEFAULT_MAPPING_TOML: &str = include_str!("../../scenarios/server-metrics.toml");

/// One label value or a list of alternatives.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    pub fn as_slice(&self) -> &[T] {
        match self {
            OneOrMany::One(v) => std::slice::from_ref(v),
            OneOrMany::Many(v) => v,
        }
    }
}

/// Which samples count: a metric name plus label conditions.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selector {
    pub metric: String,
    /// Every listed label must equal (one of) the given value(s).
    #[serde(default)]
    pub labels: BTreeMap<String, OneOrMany<String>>,
    /// A sample whose label equals one of the given values is left out.
    #[serde(default)]
    pub exclude: BTreeMap<String, OneOrMany<String>>,
}

/// The four roles; a role that is `None` is not mapped (not reported).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    #[serde(default)]
    pub cache_hit: Option<OneOrMany<Selector>>,
    #[serde(default)]
    pub cache_miss: Option<OneOrMany<Selector>>,
    #[serde(default)]
    pub db_query: Option<OneOrMany<Selector>>,
    #[serde(default)]
    pub requests: Option<OneOrMany<Selector>>,
}

/// What one scrape says, role by role: the summed counter values, `None` for a role that is
/// unmapped or that no sample matched.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RoleValues {
    pub cache_hits: Option<f64>,
    pub cache_misses: Option<f64>,
    pub db_queries: Option<f64>,
    pub requests: Option<f64>,
}

impl RoleValues {
    /// Whether any role matched anything.
    pub fn any(&self) -> bool {
        self.cache_hits.is_some()
            || self.cache_misses.is_some()
            || self.db_queries.is_some()
            || self.requests.is_some()
    }
}

fn label<'a>(sample: &'a Sample, name: &str) -> Option<&'a str> {
    // prometheus-parse keeps whitespace after a comma as part of the next label name.
    sample
        .labels
        .iter()
        .find(|(k, _)| k.trim() == name)
        .map(|(_, v)| v.as_str())
}

impl Selector {
    /// Whether `sample` is one of this selector's series.
    pub fn matches(&self, sample: &Sample) -> bool {
        sample.metric == self.metric
            && self.labels.iter().all(|(name, want)| {
                label(sample, name).is_some_and(|v| want.as_slice().iter().any(|w| w == v))
            })
            && !self.exclude.iter().any(|(name, drop)| {
                label(sample, name).is_some_and(|v| drop.as_slice().iter().any(|d| d == v))
            })
    }
}

/// A sample's value as a count: counters, gauges and untyped values as they are, a histogram
/// as its number of observations (the `+Inf` bucket); summaries and non-finite values as
/// nothing.
pub fn sample_count(sample: &Sample) -> Option<f64> {
    let v = match &sample.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
        Value::Histogram(buckets) => buckets
            .iter()
            .find(|b| b.less_than.is_infinite() && b.less_than > 0.0)
            .map(|b| b.count)?,
        Value::Summary(_) => return None,
    };
    v.is_finite().then_some(v)
}

fn sum(selectors: &Option<OneOrMany<Selector>>, samples: &[Sample]) -> Option<f64> {
    let selectors = selectors.as_ref()?.as_slice();
    let mut total = None;
    for s in samples {
        if selectors.iter().any(|sel| sel.matches(s)) {
            if let Some(v) = sample_count(s) {
                *total.get_or_insert(0.0) += v;
            }
        }
    }
    total
}

impl Mapping {
    /// The built-in mapping.
    pub fn builtin() -> Mapping {
        Mapping::from_toml_str(DEFAULT_MAPPING_TOML, "scenarios/server-metrics.toml")
            .expect("the built-in mapping parses")
    }

    /// Parses a mapping file; errors are one line and name `source`.
    pub fn from_toml_str(text: &str, source: &str) -> Result<Mapping, Failure> {
        let m: Mapping = toml::from_str(text).map_err(|e| {
            let msg = e.message().replace('\n', " ");
            Failure::bad_input(format!("{source}: invalid server-metrics mapping: {msg}"))
        })?;
        for (role, sel) in m.roles() {
            for s in sel.into_iter().flat_map(OneOrMany::as_slice) {
                if s.metric.trim().is_empty() {
                    return Err(Failure::bad_input(format!(
                        "{source}: {role}: metric name is empty"
                    )));
                }
            }
        }
        if m.roles().iter().all(|(_, s)| s.is_none()) {
            return Err(Failure::bad_input(format!(
                "{source}: maps none of cache_hit, cache_miss, db_query, requests"
            )));
        }
        Ok(m)
    }

    /// Reads a mapping file.
    pub fn load(path: &Path) -> Result<Mapping, Failure> {
        let text = crate::input::read_text(path, crate::input::MAX_INPUT_BYTES).map_err(|e| {
            Failure::bad_input(format!(
                "{}: cannot read server-metrics mapping: {e}",
                path.display()
            ))
        })?;
        Mapping::from_toml_str(&text, &path.display().to_string())
    }

    fn roles(&self) -> [(&'static str, Option<&OneOrMany<Selector>>); 4] {
        [
            ("cache_hit", self.cache_hit.as_ref()),
            ("cache_miss", self.cache_miss.as_ref()),
            ("db_query", self.db_query.as_ref()),
            ("requests", self.requests.as_ref()),
        ]
    }

    /// Reduces one scrape's samples to the four roles.
    pub fn apply(&self, samples: &[Sample]) -> RoleValues {
        RoleValues {
            cache_hits: sum(&self.cache_hit, samples),
            cache_misses: sum(&self.cache_miss, samples),
            db_queries: sum(&self.db_query, samples),
            requests: sum(&self.requests, samples),
        }
    }
}
