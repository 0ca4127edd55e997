//! Property tests of the parsers that read user and file input: threshold rules, contracts and
//! run records. None of them may panic on any input; every error is exit 2 on one line; a
//! valid threshold rule round-trips through its canonical text; a run record that loads is
//! consistent and renders.

mod common;

use loadtest::contract::{Contract, REFERENCE_CONTRACT_TOML};
use loadtest::record::RunRecord;
use loadtest::thresholds::{Metric, Op, Rule, ThresholdSet};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{json, Value};

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ----- threshold rules -----

/// Pieces of the rule grammar, valid and not, to build rule-shaped noise from.
const RULE_PIECES: &[&str] = &[
    "p",
    "95",
    "99.9",
    "0",
    ".",
    "<",
    "<=",
    ">",
    ">=",
    "=",
    ":",
    "%",
    "ms",
    "s",
    "us",
    "µs",
    "m",
    "-",
    "+",
    " ",
    "all",
    "server",
    ".",
    "rate(",
    ")",
    "429",
    "5xx",
    "e",
    "\n",
    "\t",
    "\0",
    "é",
    "𝄞",
    "/s",
    "max",
    "count",
    "rps",
    "during",
    "hold",
    "cache_hit_ratio",
    "db_queries_per_request",
    "error-rate",
    "1e308",
    "NaN",
    "inf",
];

fn rule_noise() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(RULE_PIECES), 0..14).prop_map(|v| v.concat())
}

/// Checks what every parse result must satisfy, valid or not.
fn check_rule_result(input: &str) -> Result<(), TestCaseError> {
    match input.parse::<Rule>() {
        Ok(r) => {
            prop_assert!(r.limit.is_finite() && r.limit >= 0.0, "{input:?} -> {r:?}");
            let again: Rule = r.text.parse().map_err(|e| {
                TestCaseError::fail(format!("{input:?}: canonical {:?}: {e}", r.text))
            })?;
            prop_assert_eq!(&again, &r, "canonical text of {:?}", input);
            let _ = (r.format_value(r.limit), r.limit_text());
        }
        Err(e) => {
            let text = e.to_string();
            prop_assert!(
                !text.contains('\n') && !text.contains('\r'),
                "{input:?} -> {text}"
            );
        }
    }
    Ok(())
}

/// A valid rule as a user might write it, with the metric and operator it must parse to.
#[derive(Debug, Clone)]
struct WrittenRule {
    text: String,
    metric: Metric,
    op: Op,
}

fn op() -> impl Strategy<Value = (Op, &'static str)> {
    prop::sample::select(vec![
        (Op::Lt, "<"),
        (Op::Le, "<="),
        (Op::Gt, ">"),
        (Op::Ge, ">="),
    ])
}

fn number() -> impl Strategy<Value = String> {
    (0u32..100_000, prop::option::of(0u32..1000), any::<bool>()).prop_map(|(i, frac, plus)| {
        let sign = if plus { "+" } else { "" };
        match frac {
            Some(f) => format!("{sign}{i}.{f}"),
            None => format!("{sign}{i}"),
        }
    })
}

fn fraction() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u32..=100, prop::option::of(0u32..100)).prop_map(|(i, f)| match (i, f) {
            (100, _) | (_, None) => format!("{i}%"),
            (i, Some(f)) => format!("{i}.{f}%"),
        }),
        (0u32..1000).prop_map(|f| format!("0.{f}")),
        Just("1".to_string()),
    ]
}

/// Metric text, its value text, and the parsed metric; `phase_ok` when `during` is allowed.
fn metric_and_value() -> impl Strategy<Value = (String, String, Metric, bool)> {
    let latency_unit = prop::sample::select(vec!["us", "µs", "ms", "s", "m", " ms", "MS"]);
    let percentile = (1u32..100, prop::option::of(1u32..10)).prop_map(|(p, d)| match d {
        Some(d) => (
            format!("p{p}.{d}"),
            Metric::Percentile(format!("{p}.{d}").parse().unwrap()),
        ),
        None => (format!("P{p}"), Metric::Percentile(f64::from(p))),
    });
    let latency_name = prop_oneof![
        percentile,
        Just(("max".to_string(), Metric::Max)),
        Just(("p100".to_string(), Metric::Max)),
        Just(("min".to_string(), Metric::Min)),
        Just(("mean".to_string(), Metric::Mean)),
        Just(("avg".to_string(), Metric::Mean)),
    ];
    // Latency limits stay within the recorder's 1 h (`limits`: at most 60m).
    let latency = (latency_name, number(), latency_unit)
        .prop_filter("within the 1 h latency limit", |(_, n, u)| {
            let ms_per_unit = match u.trim().to_ascii_lowercase().as_str() {
                "us" | "µs" => 0.001,
                "ms" => 1.0,
                "s" => 1000.0,
                _ => 60_000.0,
            };
            n.parse::<f64>()
                .is_ok_and(|v| v * ms_per_unit < 3_600_000.0)
        })
        .prop_map(|((m, metric), n, u)| (m, format!("{n}{u}"), metric, true));
    let rates = prop_oneof![
        (
            prop::sample::select(vec!["error-rate", "error_rate", "errors"]),
            fraction()
        )
            .prop_map(|(m, v)| (m.to_string(), v, Metric::ErrorRate, true)),
        (
            prop::sample::select(vec!["429", "5xx", "timeout", "connect", "token-missing"]),
            fraction()
        )
            .prop_map(|(c, v)| (
                format!("rate({c})"),
                v,
                Metric::ClassRate(c.to_string()),
                false
            )),
    ];
    let rps = (
        prop::sample::select(vec!["rps", "req/s", "throughput"]),
        number(),
        prop::sample::select(vec!["", "/s"]),
    )
        .prop_map(|(m, n, u)| (m.to_string(), format!("{n}{u}"), Metric::Rps, true));
    let count =
        (0u64..10_000_000).prop_map(|n| ("count".to_string(), n.to_string(), Metric::Count, true));
    prop_oneof![4 => latency, 2 => rates, 1 => rps, 1 => count]
}

fn flow_name() -> impl Strategy<Value = String> {
    "[a-zA-Z][a-zA-Z0-9_-]{0,10}".prop_filter("not a reserved scope", |s| {
        !s.eq_ignore_ascii_case("server") && !s.eq_ignore_ascii_case("during")
    })
}

fn phase_name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_-]{0,7}( [a-z0-9_-]{1,6})?".prop_filter("'during' is the keyword", |s| {
        !s.split(' ').any(|w| w == "during")
    })
}

fn written_rule() -> impl Strategy<Value = WrittenRule> {
    let client = (
        prop::option::of(prop_oneof![
            Just("all".to_string()),
            Just("ALL".to_string()),
            flow_name()
        ]),
        metric_and_value(),
        op(),
        prop::option::of(phase_name()),
        prop::sample::select(vec!["", " "]),
    )
        .prop_map(
            |(scope, (m, v, metric, phase_ok), (op, op_text), phase, sp)| {
                let mut text = match scope {
                    Some(s) => format!("{s}:{sp}{m}{sp}{op_text}{sp}{v}"),
                    None => format!("{m}{sp}{op_text}{sp}{v}"),
                };
                if let (Some(p), true) = (phase, phase_ok) {
                    text.push_str(&format!(" during {p}"));
                }
                WrittenRule { text, metric, op }
            },
        );
    let server = (
        prop_oneof![
            fraction().prop_map(|v| ("cache_hit_ratio", v, Metric::CacheHitRatio)),
            number().prop_map(|v| ("db_queries_per_request", v, Metric::DbQueriesPerRequest)),
        ],
        prop::sample::select(vec!["server.", "server: ", "SERVER:"]),
        op(),
        prop::option::of(phase_name()),
    )
        .prop_map(|((m, v, metric), prefix, (op, op_text), phase)| {
            let mut text = format!("{prefix}{m}{op_text}{v}");
            if let Some(p) = phase {
                text.push_str(&format!(" during {p}"));
            }
            WrittenRule { text, metric, op }
        });
    prop_oneof![4 => client, 1 => server]
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn threshold_parser_never_panics_on_arbitrary_strings(s in any::<String>()) {
        check_rule_result(&s)?;
    }

    #[test]
    fn threshold_parser_never_panics_on_rule_shaped_noise(s in rule_noise()) {
        check_rule_result(&s)?;
    }

    #[test]
    fn valid_rules_parse_and_round_trip_their_canonical_text(w in written_rule()) {
        let rule: Rule = w.text.parse().map_err(|e| TestCaseError::fail(format!("{:?}: {e}", w.text)))?;
        prop_assert_eq!(&rule.metric, &w.metric, "{:?}", w.text);
        prop_assert_eq!(rule.op, w.op, "{:?}", w.text);
        let again: Rule = rule.text.parse().map_err(|e| TestCaseError::fail(format!("{:?}: {e}", rule.text)))?;
        prop_assert_eq!(&again, &rule);
        prop_assert_eq!(&again.text, &rule.text);
    }

    #[test]
    fn thresholds_files_never_panic(rules in prop::collection::vec(prop_oneof![rule_noise(), written_rule().prop_map(|w| w.text)], 0..5)) {
        let toml = format!("rules = {}", serde_json::to_string(&rules).unwrap());
        match ThresholdSet::from_toml_str(&toml, "t.toml") {
            Ok(set) => prop_assert_eq!(set.rules.len(), rules.len()),
            Err(e) => prop_assert!(!e.to_string().contains('\n'), "{e}"),
        }
    }
}

// ----- contracts -----

fn check_contract(text: &str) -> Result<(), TestCaseError> {
    match Contract::from_toml(text, "c.toml") {
        Ok(c) => {
            prop_assert!(c.cookies || c.auth.is_some());
            prop_assert!(c.endpoints().iter().all(
                |(_, e)| e.path.source().starts_with('/') && !e.path.source().starts_with("//")
            ));
        }
        Err(e) => {
            prop_assert_eq!(e.code, 2);
            prop_assert!(e.message.starts_with("c.toml: "), "{}", e.message);
            prop_assert!(!e.one_line().contains('\n'));
        }
    }
    Ok(())
}

/// Values a mutated contract line may get.
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("\"\"".to_string()),
        Just("\"{nope}\"".to_string()),
        Just("\"{token\"".to_string()),
        Just("\"/\"".to_string()),
        Just("\"no-slash\"".to_string()),
        Just("\"X Bad Header\"".to_string()),
        Just("[]".to_string()),
        Just("[0, 99999]".to_string()),
        Just("{ a = \"{email}\" }".to_string()),
        Just("true".to_string()),
        Just("1e999".to_string()),
        Just("-1".to_string()),
        Just("\"json\"".to_string()),
        Just("\"PATCH\"".to_string()),
        Just("\"\\u0000\\n\"".to_string()),
        "[ -~]{0,12}",
        any::<String>().prop_map(|s| format!("{s:?}")),
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete(Index),
    Duplicate(Index),
    Change(Index, String),
    Insert(Index, String),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        1 => any::<Index>().prop_map(Mutation::Delete),
        1 => any::<Index>().prop_map(Mutation::Duplicate),
        3 => (any::<Index>(), toml_value()).prop_map(|(i, v)| Mutation::Change(i, v)),
        1 => (any::<Index>(), "[ -~]{0,20}").prop_map(|(i, v)| Mutation::Insert(i, v)),
    ]
}

fn mutate_lines(text: &str, mutations: &[Mutation]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for m in mutations {
        if lines.is_empty() {
            break;
        }
        match m {
            Mutation::Delete(i) => {
                lines.remove(i.index(lines.len()));
            }
            Mutation::Duplicate(i) => {
                let at = i.index(lines.len());
                lines.insert(at, lines[at].clone());
            }
            Mutation::Change(i, v) => {
                let at = i.index(lines.len());
                let key = lines[at]
                    .split_once('=')
                    .map_or(lines[at].as_str(), |(k, _)| k)
                    .to_string();
                lines[at] = format!("{} = {v}", key.trim_end());
            }
            Mutation::Insert(i, v) => {
                let at = i.index(lines.len() + 1);
                lines.insert(at, v.clone());
            }
        }
    }
    lines.join("\n")
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn contract_parser_never_panics_on_arbitrary_text(s in any::<String>()) {
        check_contract(&s)?;
    }

    #[test]
    fn contract_parser_never_panics_on_toml_ish_text(
        lines in prop::collection::vec(
            prop_oneof![
                "\\[[a-z._]{0,10}\\]",
                "[a-z_]{1,8} = \"[ -~]{0,10}\"",
                ("[a-z_.\"]{1,12}", toml_value()).prop_map(|(k, v)| format!("{k} = {v}")),
                "[ -~]{0,20}",
            ],
            0..30,
        )
    ) {
        check_contract(&lines.join("\n"))?;
    }

    #[test]
    fn contract_parser_never_panics_on_mutations_of_the_reference(
        mutations in prop::collection::vec(mutation(), 1..4)
    ) {
        check_contract(&mutate_lines(REFERENCE_CONTRACT_TOML, &mutations))?;
    }
}

// ----- run records -----

/// A valid record (the exporters' fixture) as JSON text.
fn record_text() -> String {
    serde_json::to_string(&common::sample::fixture()).unwrap()
}

/// Every JSON pointer in `v`.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                pointers(x, p.clone(), out);
                out.push(p);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let p = format!("{at}/{i}");
                pointers(x, p.clone(), out);
                out.push(p);
            }
        }
        _ => {}
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        Just(json!(1e300)),
        Just(json!(-1)),
        Just(json!(0)),
        any::<String>().prop_map(Value::from),
        "[A-Za-z0-9+/=]{0,40}".prop_map(Value::from),
        Just(json!([])),
        Just(json!({})),
        Just(json!({"p50": 1.0})),
    ]
}

#[derive(Debug, Clone)]
enum JsonMutation {
    /// Same JSON type, other value: keeps most records loadable so the exporters see them.
    Retype(Index, String, f64),
    Replace(Index, Value),
    Remove(Index),
    Truncate(Index),
    Splice(Index, Index, String),
}

fn json_mutation() -> impl Strategy<Value = JsonMutation> {
    prop_oneof![
        6 => (any::<Index>(), any::<String>(), any::<f64>()).prop_map(|(i, s, f)| JsonMutation::Retype(i, s, f)),
        3 => (any::<Index>(), json_value()).prop_map(|(i, v)| JsonMutation::Replace(i, v)),
        2 => any::<Index>().prop_map(JsonMutation::Remove),
        1 => any::<Index>().prop_map(JsonMutation::Truncate),
        1 => (any::<Index>(), any::<Index>(), "[ -~]{0,8}").prop_map(|(a, b, s)| JsonMutation::Splice(a, b, s)),
    ]
}

fn apply(text: &str, m: &JsonMutation) -> String {
    let mut v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let mut all = Vec::new();
    pointers(&v, String::new(), &mut all);
    match m {
        JsonMutation::Retype(i, s, f) if !all.is_empty() => {
            if let Some(slot) = v.pointer_mut(&all[i.index(all.len())]) {
                let new = match &*slot {
                    Value::String(_) => Value::from(s.clone()),
                    Value::Bool(b) => Value::from(!*b),
                    Value::Number(n) if n.is_u64() => Value::from(f.abs().min(1e6) as u64),
                    Value::Number(_) => json!(f),
                    other => other.clone(),
                };
                *slot = new;
            }
            serde_json::to_string(&v).unwrap()
        }
        JsonMutation::Replace(i, new) if !all.is_empty() => {
            if let Some(slot) = v.pointer_mut(&all[i.index(all.len())]) {
                *slot = new.clone();
            }
            serde_json::to_string(&v).unwrap()
        }
        JsonMutation::Remove(i) if !all.is_empty() => {
            let p = &all[i.index(all.len())];
            let (parent, key) = p.rsplit_once('/').unwrap();
            match v.pointer_mut(parent) {
                Some(Value::Object(o)) => {
                    o.remove(&key.replace("~1", "/").replace("~0", "~"));
                }
                Some(Value::Array(a)) => {
                    if let Ok(k) = key.parse::<usize>() {
                        if k < a.len() {
                            a.remove(k);
                        }
                    }
                }
                _ => {}
            }
            serde_json::to_string(&v).unwrap()
        }
        JsonMutation::Truncate(i) => {
            let cut = i.index(text.len() + 1);
            let cut = (0..=cut)
                .rev()
                .find(|&c| text.is_char_boundary(c))
                .unwrap_or(0);
            text[..cut].to_string()
        }
        JsonMutation::Splice(a, b, s) => {
            let n = text.len() + 1;
            let (mut x, mut y) = (a.index(n), b.index(n));
            if x > y {
                std::mem::swap(&mut x, &mut y);
            }
            y = y.min(x + 16);
            let fix = |c: usize| {
                (0..=c)
                    .rev()
                    .find(|&c| text.is_char_boundary(c))
                    .unwrap_or(0)
            };
            format!("{}{s}{}", &text[..fix(x)], &text[fix(y)..])
        }
        _ => text.to_string(),
    }
}

/// What every decode must satisfy: an error is exit 2 naming the source; a record that loads
/// is consistent and every report renders (or errs) without panicking.
fn check_record(text: &str) -> Result<(), TestCaseError> {
    match RunRecord::from_json(text, "run.json") {
        Ok(r) => {
            prop_assert!(r.validate().is_ok());
            for format in [
                loadtest::export::Format::Html,
                loadtest::export::Format::Markdown,
                loadtest::export::Format::Junit,
                loadtest::export::Format::Json,
            ] {
                let _ = format.exporter().render(&r);
            }
            let rules = ThresholdSet::from_rules(&[
                "p95<500ms",
                "login: p99.9<=2s during hold",
                "validate: rps>=10 during ramp",
                "error-rate<1%",
                "login: rate(5xx)<1%",
                "max<1s",
                "count>=1",
            ])
            .unwrap()
            .rules;
            let _ = loadtest::thresholds::judge(&rules, &r);
        }
        Err(e) => {
            prop_assert_eq!(e.code, 2);
            prop_assert!(e.message.starts_with("run.json: "), "{}", e.message);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn record_decoding_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check_record(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn record_decoding_never_panics_on_arbitrary_strings(s in any::<String>()) {
        check_record(&s)?;
    }

    #[test]
    fn record_decoding_never_panics_on_mutations_of_a_valid_record(
        mutations in prop::collection::vec(json_mutation(), 1..4)
    ) {
        let mut text = record_text();
        for m in &mutations {
            text = apply(&text, m);
        }
        check_record(&text)?;
    }
}

#[test]
fn the_unmutated_inputs_are_valid() {
    assert!(RunRecord::from_json(&record_text(), "run.json").is_ok());
    assert!(Contract::from_toml(REFERENCE_CONTRACT_TOML, "c.toml").is_ok());
    let rendered = mutate_lines(REFERENCE_CONTRACT_TOML, &[]);
    assert!(Contract::from_toml(&rendered, "c.toml").is_ok());
}
