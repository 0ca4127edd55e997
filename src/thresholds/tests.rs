use super::*;
use std::collections::HashMap;

fn rule(s: &str) -> Rule {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn err(s: &str) -> String {
    s.parse::<Rule>().expect_err(s).to_string()
}

/// Splits a table line "INPUT => EXPECTED".
fn case(line: &str) -> (&str, &str) {
    line.split_once(" => ").expect(line)
}

#[test]
fn parses_examples_aliases_and_units() {
    // INPUT => scope Metric Op limit | canonical text
    let cases = [
        "p95<500ms => all Percentile(95.0) Lt 500 | all: p95<500ms",
        "p99.9<=2s => all Percentile(99.9) Le 2000 | all: p99.9<=2s",
        "error-rate<1% => all ErrorRate Lt 0.01 | all: error-rate<1%",
        "rps>=200 => all Rps Ge 200 | all: rps>=200",
        "validate: p95<100ms => validate Percentile(95.0) Lt 100 | validate: p95<100ms",
        "all: p99<1000ms => all Percentile(99.0) Lt 1000 | all: p99<1000ms",
        "login: rate(429)<1% => login ClassRate(\"429\") Lt 0.01 | login: rate(429)<1%",
        "signup:p95 < 1s => signup Percentile(95.0) Lt 1000 | signup: p95<1s",
        "validate: max<=3s => validate Max Le 3000 | validate: max<=3s",
        "mean<20ms => all Mean Lt 20 | all: mean<20ms",
        " P95 < 500 MS  => all Percentile(95.0) Lt 500 | all: p95<500ms",
        "Error_Rate<0.01 => all ErrorRate Lt 0.01 | all: error-rate<0.01",
        "errors<=0.5% => all ErrorRate Le 0.005 | all: error-rate<=0.5%",
        "req/s>=200/s => all Rps Ge 200 | all: rps>=200/s",
        "throughput>10 => all Rps Gt 10 | all: rps>10",
        "AVG<250us => all Mean Lt 0.25 | all: mean<250us",
        "min>=100µs => all Min Ge 0.1 | all: min>=100us",
        "max<1m => all Max Lt 60000 | all: max<1m",
        "p100<1s => all Max Lt 1000 | all: max<1s",
        "count>=1000 => all Count Ge 1000 | all: count>=1000",
        "ALL:rate(timeout)<0.1 => all ClassRate(\"timeout\") Lt 0.1 | all: rate(timeout)<0.1",
        "Refresh : RATE( 5XX )<=2.5% => Refresh ClassRate(\"5xx\") Le 0.025 | Refresh: rate(5xx)<=2.5%",
        "logout: rate(token-missing)<=0 => logout ClassRate(\"token-missing\") Le 0 | logout: rate(token-missing)<=0",
    ];
    for (input, want) in cases.map(case) {
        let r = rule(input);
        let got = format!(
            "{} {:?} {:?} {} | {}",
            r.scope, r.metric, r.op, r.limit, r.text
        );
        assert_eq!(got, want, "{input}");
        assert_eq!(rule(&r.text), r, "canonical text must round-trip");
    }
}

#[test]
fn precise_one_line_errors() {
    let exact = "invalid threshold rule 'p95<500': latency limit needs a unit (us, ms, s)";
    assert_eq!(err("p95<500"), exact);
    assert_eq!(err("   "), "invalid threshold rule '': empty rule");
    assert!(err(&format!("p95<1{}ms", "0".repeat(400))).contains("not a finite number"));
    assert!(err("p95\n<5\nparsec").contains("'p95\\n<5\\nparsec'"));
    let cases = [
        "p101<1s => 'p101<1s': unknown metric 'p101': percentile must be in (0, 100]",
        "p0<1s => percentile must be in (0, 100]",
        " p95 500ms => 'p95 500ms': missing comparison operator (<, <=, >, >=)",
        "p95=500ms => missing comparison operator",
        "p95<-5ms => must not be negative",
        "p95<infms => must start with a number",
        "foo<1ms => unknown metric 'foo'",
        "error-rate<2 => fraction <= 1",
        "error-rate<150% => at most 100%",
        "error-rate<5ms => needs %",
        "bad scope!: p95<1ms => invalid scope 'bad scope!'",
        ": p95<1ms => invalid scope ''",
        "rate()<1% => invalid error class",
        "count>1.5 => count limit must be a bare integer",
        "rps>5ms => rps limit",
        "p95<5parsecs => unknown time unit 'parsecs'",
        "p95< => missing limit value",
        "<5ms => missing metric",
        "p95<<5ms => must start with a number",
        "p95<1.2.3ms => invalid number '1.2.3'",
    ];
    for (input, want) in cases.map(case) {
        let e = err(input);
        assert!(e.contains(want) && !e.contains('\n'), "{input:?} -> {e}");
    }
}

#[test]
fn ops_metrics_and_formatting() {
    assert!(Op::Lt.holds(1.0, 2.0) && !Op::Lt.holds(2.0, 2.0) && !Op::Lt.holds(f64::NAN, 2.0));
    assert!(Op::Le.holds(2.0, 2.0) && !Op::Le.holds(2.1, 2.0));
    assert!(Op::Gt.holds(3.0, 2.0) && !Op::Gt.holds(2.0, 2.0));
    assert!(Op::Ge.holds(2.0, 2.0) && !Op::Ge.holds(1.9, 2.0));
    assert!(Metric::Percentile(50.0).is_latency() && !Metric::Rps.is_latency());
    assert!(Metric::ErrorRate.higher_is_worse() && Metric::Max.higher_is_worse());
    assert!(!Metric::Rps.higher_is_worse() && !Metric::Count.higher_is_worse());
    let lat = rule("p95<1s");
    let shown = [87.34, 1200.0, 0.25, f64::NAN].map(|v| lat.format_value(v));
    assert_eq!(shown, ["87.3 ms", "1.20 s", "0.25 ms", "n/a"]);
    assert_eq!(rule("error-rate<1%").format_value(0.0042), "0.42%");
    assert_eq!(rule("rps>1").format_value(1234.5), "1234.5/s");
    assert_eq!(rule("count>1").format_value(42.0), "42");
    assert_eq!(rule("validate: p95 <= 100 ms").limit_text(), "100ms");
}

struct Fake(Vec<String>, HashMap<String, f64>);

impl Observations for Fake {
    fn flows(&self) -> Vec<String> {
        self.0.clone()
    }
    fn observe(&self, scope: &str, metric: &Metric) -> Option<f64> {
        self.1.get(&format!("{scope}/{metric}")).copied()
    }
}

#[test]
fn judge_verdicts() {
    let values = [
        ("all/p95", 420.0),
        ("validate/p95", 130.5),
        ("login/rate(429)", 0.002),
    ];
    let mut values: HashMap<String, f64> = values.map(|(k, v)| (k.to_string(), v)).into();
    values.extend([
        ("all/rps".to_string(), 150.0),
        ("all/max".to_string(), f64::NAN),
    ]);
    let obs = Fake(vec!["validate".into(), "login".into()], values);
    let rules = ThresholdSet::from_rules(&[
        "p95<500ms",
        "validate: p95<100ms",
        "LOGIN: rate(429)<1%",
        "signup: p95<1s",
        "all: error-rate<1%",
        "rps>=200",
        "max<1s",
    ])
    .unwrap()
    .rules;
    let out = judge(&rules, &obs);
    let col = |f: fn(&Verdict) -> String| out.iter().map(f).collect::<Vec<_>>().join(" | ");
    let passed = col(|v| v.passed.to_string());
    assert_eq!(
        passed,
        "true | false | true | false | false | false | false"
    );
    let shown = col(|v| format!("{}/{}/{} {:?}", v.scope, v.metric, v.limit_text, v.observed));
    let want = "all/p95/500ms Some(420.0) | validate/p95/100ms Some(130.5) | LOGIN/rate(429)/1% Some(0.002) | signup/p95/1s None | all/error-rate/1% None | all/rps/200 Some(150.0) | all/max/1s None";
    assert_eq!(shown, want);
    let observed = col(|v| v.observed_text.clone());
    assert_eq!(
        observed,
        "420.0 ms | 130.5 ms | 0.20% | - | - | 150.0/s | -"
    );
    let reasons = col(|v| v.reason.clone().unwrap_or_default());
    let want = " | observed 130.5 ms is not < 100ms |  | flow 'signup' not in this run | no data | observed 150.0/s is not >= 200 | observed value NaN is not finite";
    assert_eq!(reasons, want);
    let back: Vec<Verdict> = serde_json::from_str(&serde_json::to_string(&out).unwrap()).unwrap();
    assert_eq!(back, out);
    let json = serde_json::to_string(&rules).unwrap();
    assert_eq!(serde_json::from_str::<Vec<Rule>>(&json).unwrap(), rules);
}

#[test]
fn server_metrics_and_phases() {
    // INPUT => scope Metric Op limit phase | canonical text
    let cases = [
        "server.cache_hit_ratio>80% => server CacheHitRatio Gt 0.8 None | server.cache_hit_ratio>80%",
        "SERVER: cache-hit-ratio >= 0.9 => server CacheHitRatio Ge 0.9 None | server.cache_hit_ratio>=0.9",
        "server.db_queries_per_request<3 => server DbQueriesPerRequest Lt 3 None | server.db_queries_per_request<3",
        "validate: db_queries_per_request<1 => validate DbQueriesPerRequest Lt 1 None | validate: db_queries_per_request<1",
        "validate: cache_hit_ratio>80% => validate CacheHitRatio Gt 0.8 None | validate: cache_hit_ratio>80%",
        "db_queries_per_request<=0.5 => all DbQueriesPerRequest Le 0.5 None | all: db_queries_per_request<=0.5",
        "validate: p95<100ms during hold => validate Percentile(95.0) Lt 100 Some(\"hold\") | validate: p95<100ms during hold",
        "p99 < 1s  DURING  spike ramp => all Percentile(99.0) Lt 1000 Some(\"spike ramp\") | all: p99<1s during spike ramp",
        "error-rate<1% during spike => all ErrorRate Lt 0.01 Some(\"spike\") | all: error-rate<1% during spike",
        "server.cache_hit_ratio>50% during hold => server CacheHitRatio Gt 0.5 Some(\"hold\") | server.cache_hit_ratio>50% during hold",
        "login: rps>=10/s during before => login Rps Ge 10 Some(\"before\") | login: rps>=10/s during before",
    ];
    for (input, want) in cases.map(case) {
        let r = rule(input);
        let got = format!(
            "{} {:?} {:?} {} {:?} | {}",
            r.scope, r.metric, r.op, r.limit, r.phase, r.text
        );
        assert_eq!(got, want, "{input}");
        assert_eq!(rule(&r.text), r, "canonical text must round-trip");
    }
    assert_eq!(
        rule("validate: p95<100ms during hold").limit_text(),
        "100ms"
    );
    assert_eq!(
        rule("server.cache_hit_ratio>80%").format_value(0.8123),
        "81.23%"
    );
    assert_eq!(
        rule("server.db_queries_per_request<3").format_value(0.5),
        "0.50"
    );
    assert!(!Metric::CacheHitRatio.higher_is_worse());
    assert!(Metric::DbQueriesPerRequest.higher_is_worse());
    let errors = [
        "server: p95<1s => scope 'server' takes cache_hit_ratio or db_queries_per_request",
        "server.rps>1 => scope 'server' takes",
        "server.db_queries_per_request<3ms => must be a bare number",
        "server.cache_hit_ratio>180% => at most 100%",
        "login: rate(429)<1% during hold => rate(CLASS) cannot take 'during'",
        "validate: db_queries_per_request<1 during hold => use server.db_queries_per_request",
        "p95<1s during => 'during' needs a phase name",
        "p95<1s during h@ld => 'during' needs a phase name",
    ];
    for (input, want) in errors.map(case) {
        let e = err(input);
        assert!(e.contains(want) && !e.contains('\n'), "{input:?} -> {e}");
    }
    // A phase-scoped rule never aborts a run early (the live view is not split by phase).
    let r = rule("p95<100ms during spike");
    assert!(!breached_clearly(&r, 1000.0, 100.0));
}

struct Phased;

impl Observations for Phased {
    fn flows(&self) -> Vec<String> {
        vec!["validate".into()]
    }
    fn observe(&self, scope: &str, metric: &Metric) -> Option<f64> {
        match (scope, metric) {
            ("server", Metric::CacheHitRatio) => Some(0.9),
            ("server", _) => None,
            _ => Some(50.0),
        }
    }
    fn phases(&self) -> Vec<String> {
        vec!["ramp".into(), "hold".into()]
    }
    fn observe_during(&self, _: &str, _: &Metric, phase: &str) -> Option<f64> {
        (phase == "hold").then_some(150.0)
    }
}

#[test]
fn judge_phases_and_server_scope() {
    let rules = ThresholdSet::from_rules(&[
        "validate: p95<100ms",
        "validate: p95<100ms during HOLD",
        "p95<100ms during spike",
        "server.cache_hit_ratio>80%",
        "server.db_queries_per_request<3",
    ])
    .unwrap()
    .rules;
    let out = judge(&rules, &Phased);
    let got: Vec<String> = out
        .iter()
        .map(|v| {
            format!(
                "{} {} {:?} {}",
                v.passed,
                v.observed_text,
                v.phase,
                v.reason.clone().unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            "true 50.0 ms None ",
            "false 150.0 ms Some(\"HOLD\") observed 150.0 ms is not < 100ms",
            "false - Some(\"spike\") phase 'spike' not in this run (phases: ramp, hold)",
            "true 90.00% None ",
            "false - None no data (server metrics not scraped or not mapped)",
        ]
    );
}

#[test]
fn breached_clearly_margins() {
    let lat = rule("p95<500ms");
    assert!(!breached_clearly(&lat, 1000.0, 500.0) && breached_clearly(&lat, 1001.0, 500.0));
    assert!(!breached_clearly(&lat, f64::NAN, 500.0));
    let er = rule("error-rate<1%");
    assert!(
        !breached_clearly(&er, 0.05, 0.01),
        "5x over but only 4 points"
    );
    assert!(breached_clearly(&er, 0.07, 0.01));
    assert!(!breached_clearly(&er, 0.19, 0.10) && breached_clearly(&er, 0.21, 0.10));
    assert!(
        !breached_clearly(&rule("rps>=200"), 1.0, 200.0),
        "lower bound"
    );
}

#[test]
fn toml_files() {
    let set = ThresholdSet::defaults().unwrap();
    let texts: Vec<&str> = set.rules.iter().map(|r| r.text.as_str()).collect();
    let want = "all: p95<500ms,all: p99<1000ms,signup: p95<1000ms,login: p95<500ms,validate: p95<100ms,all: error-rate<1%,each: error-rate<1%";
    assert_eq!(texts.join(","), want);
    let load = |t: &str| {
        ThresholdSet::from_toml_str(t, "t.toml")
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        load("rules = [\"p95<1s\", \"p95<500\"]"),
        "t.toml: rules[1]: invalid threshold rule 'p95<500': latency limit needs a unit (us, ms, s)"
    );
    let e = load("# c\nrules = [\n  \"p95<1s\",\n  oops\n]\n");
    assert!(
        e.starts_with("t.toml: invalid thresholds file at line 4") && !e.contains('\n'),
        "{e}"
    );
    let e = load("rule = []");
    assert!(
        e.starts_with("t.toml: invalid thresholds file") && e.contains("rule"),
        "{e}"
    );
    assert_eq!(
        ThresholdSet::from_toml_str("rules = []", "z"),
        Ok(ThresholdSet::default())
    );
}

#[test]
fn odd_inputs_never_panic() {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state = state.wrapping_mul(0x5851_f42d_4c95_7f2d).wrapping_add(1);
        (state >> 33) as usize
    };
    let pieces = [
        "p", "9", "5", ".", "<", "<=", ">", "=", ":", "%", "ms", "s", "µ", "us", "m", "-", "+",
        " ", "all", "rate(", ")", "429", "e", "\n", "\0", "é", "𝄞", "/s", "max", "count", "ﬀ",
    ];
    let mut parsed = 0;
    for i in 0..600 {
        let input = match i % 3 {
            0 => {
                let bytes: Vec<u8> = (0..next() % 24).map(|_| next() as u8).collect();
                String::from_utf8_lossy(&bytes).into_owned()
            }
            1 => (0..next() % 12)
                .map(|_| pieces[next() % pieces.len()])
                .collect(),
            // Grammar-shaped: a mix of valid and invalid parts in each slot.
            _ => {
                let mut pick = |xs: &[&'static str]| xs[next() % xs.len()];
                [
                    pick(&["", "all:", "Login :", "x y:", ":", "é:", "validate:"]),
                    pick(&[
                        "p95",
                        "P99.9",
                        "p0",
                        "p100",
                        "rate(5xx)",
                        "rate()",
                        "rps",
                        "count",
                        "mean",
                    ]),
                    pick(&["<", "<=", ">", ">=", "=", "=<", " < "]),
                    pick(&["0", "1", "0.5", "-3", "99999", "1.2.3", "", "1e9"]),
                    pick(&["", "ms", "s", "us", "µs", "%", "/s", " m", "h"]),
                ]
                .concat()
            }
        };
        match input.parse::<Rule>() {
            Ok(r) => {
                parsed += 1;
                assert!(r.limit.is_finite() && r.limit >= 0.0, "{input:?}");
                assert_eq!(rule(&r.text), r, "{input:?}");
                let _ = r.format_value(r.limit);
                let _ = breached_clearly(&r, next() as f64, r.limit);
            }
            Err(e) => assert!(!e.to_string().contains('\n'), "{e}"),
        }
    }
    assert!(parsed > 10 && parsed < 200, "parsed {parsed} of 600");
}
