//! Building RunRecords from known latencies, without running anything: the fixture of the
//! exporter tests, the browser test and the render benchmark (`examples/render_bench.rs`).
//! The records are real (they pass [`RunRecord::validate`] and are judged by the real
//! [`judge`]); only the latencies are made up.
//!
//! Not part of the shipped library: the unit tests (`export::sample`, `#[cfg(test)]`),
//! `tests/common`, `benches/common` and the examples each include this one file by `#[path]`,
//! so it names the crate as `loadtest::…` (`extern crate self as loadtest` in `lib.rs`).

use std::collections::BTreeMap;

use loadtest::histogram::{encode, new_histogram, Summary};
use loadtest::record::{FlowRecord, Meta, Outcome, Phase, RunRecord, SecondRecord, SCHEMA_VERSION};
use loadtest::thresholds::{judge, Rule};

/// One second of one flow: every latency (µs) completed in it, and how many of them failed
/// by class (failed requests are timed too, as the recorder does).
#[derive(Debug, Clone, Default)]
pub struct SampleSecond {
    pub t: u32,
    pub latencies_us: Vec<u64>,
    pub errors: BTreeMap<String, u64>,
}

/// One flow's seconds and error samples.
#[derive(Debug, Clone, Default)]
pub struct SampleFlow {
    pub name: String,
    pub seconds: Vec<SampleSecond>,
    pub error_samples: Vec<String>,
}

/// Builds a record: histograms and counts from the flows, verdicts judged from `rules`.
/// `users_per_second` and `phases` are taken as given. Panics on a latency above one hour.
pub fn build(
    profile: &str,
    host: &str,
    flows: Vec<SampleFlow>,
    users_per_second: Vec<u32>,
    phases: Vec<Phase>,
    rules: &[Rule],
) -> RunRecord {
    let seconds = users_per_second.len().max(
        flows
            .iter()
            .flat_map(|f| f.seconds.iter().map(|s| s.t as usize + 1))
            .max()
            .unwrap_or(0),
    );
    let flows: Vec<FlowRecord> = flows.into_iter().map(flow_record).collect();
    let max_users = users_per_second.iter().copied().max().unwrap_or(0);
    let mut record = RunRecord {
        schema_version: SCHEMA_VERSION,
        meta: Meta {
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            run_id: "sample0001".to_string(),
            profile: profile.to_string(),
            host: host.to_string(),
            embedded_target: None,
            contract: "reference".to_string(),
            started_at: "2026-11-22T10:00:00Z".to_string(),
            ended_at: "2026-11-22T10:30:00Z".to_string(),
            duration_s: seconds as f64,
            planned_duration_s: seconds as f64,
            max_users,
            cores: 2,
            command: vec![
                "loadtest".into(),
                profile.into(),
                "--host".into(),
                host.into(),
            ],
            goose_requests: flows
                .iter()
                .map(|f| (format!("POST {}", f.name), f.requests))
                .collect(),
            shard: None,
            rules: None,
            rate: None,
            seed: None,
            delayed_retries: 0,
            paired: None,
        },
        phases,
        flows,
        users_per_second,
        thresholds: Vec::new(),
        outcome: Outcome::default(),
        server: None,
        recovery: Vec::new(),
    };
    record.thresholds = judge(rules, &record);
    let passed = record.thresholds.iter().all(|v| v.passed);
    record.outcome.verdict = if passed {
        loadtest::record::RunVerdict::Pass
    } else {
        loadtest::record::RunVerdict::Fail
    };
    record
}

fn flow_record(flow: SampleFlow) -> FlowRecord {
    let mut whole = new_histogram();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let mut per_second = Vec::new();
    for s in flow.seconds {
        let mut h = new_histogram();
        for &v in &s.latencies_us {
            h.record(v.max(1)).expect("latency within one hour");
        }
        whole.add(&h).expect("same bounds");
        let failed: u64 = s.errors.values().sum();
        for (class, n) in s.errors {
            *errors.entry(class).or_default() += n;
        }
        per_second.push(SecondRecord {
            t: s.t,
            requests: h.len(),
            errors: failed,
            histogram: encode(&h),
        });
    }
    let failed: u64 = errors.values().sum();
    FlowRecord {
        name: flow.name,
        requests: whole.len(),
        ok: whole.len() - failed,
        failed,
        errors,
        histogram: encode(&whole),
        summary: Summary::of(&whole),
        per_second,
        error_samples: flow.error_samples,
    }
}

/// A small deterministic generator (no `rand` state shared with anything).
struct Lcg(u64);

impl Lcg {
    fn next_f64(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A realistic long run: `seconds` seconds, the named flows, users ramping 0 → `users`
/// over the first sixth, holding, and ramping down over the last sixth. At full load the
/// i-th of n flows serves `rps·(i+1)/n` requests per second with a long-tailed latency that
/// grows with load, and about 0.2% `503` errors. Used by the render benchmark.
pub fn synthetic(seconds: u32, flow_names: &[&str], users: u32, rps: u32) -> RunRecord {
    let ramp = (seconds / 6).max(1);
    let users_at = |t: u32| -> u32 {
        if t < ramp {
            users * t / ramp
        } else if t >= seconds.saturating_sub(ramp) {
            users * (seconds - t) / ramp
        } else {
            users
        }
    };
    let users_per_second: Vec<u32> = (0..seconds).map(users_at).collect();
    let mut rng = Lcg(0x5eed);
    let flows = flow_names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let base_us = 2_000.0 * (i as f64 + 1.0);
            // Later flows get more traffic (signup < login < validate in a real mix).
            let flow_rps = f64::from(rps) * (i as f64 + 1.0) / flow_names.len() as f64;
            let seconds = (0..seconds)
                .map(|t| {
                    let load = f64::from(users_at(t)) / f64::from(users.max(1));
                    let n = (flow_rps * load).round() as usize;
                    let latencies_us: Vec<u64> = (0..n)
                        .map(|_| {
                            // Exponential body plus a rare 20x tail.
                            let u = rng.next_f64().max(1e-12);
                            let tail = if rng.next_f64() < 0.005 { 20.0 } else { 1.0 };
                            (base_us * (1.0 + load) * (-u.ln()) * tail) as u64 + 100
                        })
                        .collect();
                    let errors = latencies_us
                        .iter()
                        .filter(|_| rng.next_f64() < 0.002)
                        .count() as u64;
                    let errors = if errors > 0 {
                        BTreeMap::from([("503".to_string(), errors)])
                    } else {
                        BTreeMap::new()
                    };
                    SampleSecond {
                        t,
                        latencies_us,
                        errors,
                    }
                })
                .filter(|s| !s.latencies_us.is_empty())
                .collect();
            SampleFlow {
                name: name.to_string(),
                seconds,
                error_samples: vec![format!("{name}: HTTP 503 Service Unavailable")],
            }
        })
        .collect();
    let end = f64::from(seconds);
    let phases = vec![
        Phase {
            name: "ramp".into(),
            start_s: 0.0,
            end_s: f64::from(ramp),
            users_from: 0,
            users_to: users,
        },
        Phase {
            name: "hold".into(),
            start_s: f64::from(ramp),
            end_s: end - f64::from(ramp),
            users_from: users,
            users_to: users,
        },
        Phase {
            name: "ramp down".into(),
            start_s: end - f64::from(ramp),
            end_s: end,
            users_from: users,
            users_to: 0,
        },
    ];
    let rules: Vec<Rule> = ["p95<500ms", "p99<1000ms", "error-rate<1%"]
        .iter()
        .map(|r| r.parse().expect("valid rule"))
        .collect();
    build(
        "load",
        "http://127.0.0.1:8080",
        flows,
        users_per_second,
        phases,
        &rules,
    )
}

/// Hostile strings the fixture carries; reports must show them as text, never as markup.
pub const HOSTILE_HOST: &str = "http://x/\"><img src=x onerror=alert(1)>";
pub const HOSTILE_SAMPLES: [&str; 3] = [
    "<script>alert(1)</script>",
    "<img src=x onerror=\"document.title='pwned'\">",
    "<script>document.title='pwned'</script>",
];
pub const HOSTILE_FLOW: &str = "evil<svg onload=alert(1)>";

/// A small run with known numbers and hostile text (the exporters' test fixture):
///
/// * `login`: 1000 requests over 10 s, latencies exactly 1, 2, …, 1000 ms (p95 ≈ 950 ms),
///   errors `503`×3 and `timeout`×1, error samples [`HOSTILE_SAMPLES`];
/// * `validate`: 2000 requests, latencies 50 µs … 5 ms in 50 µs steps (p95 ≈ 4.75 ms);
/// * [`HOSTILE_FLOW`]: 100 requests of 20 ms;
/// * host [`HOSTILE_HOST`], phases `ramp` and `hold <b>bold</b>`, users 1 → 5;
/// * six rules, three failing: `login: p95<500ms`, `login: rate(503)<0.1%` and
///   `signup: p95<1s` (no such flow).
pub fn fixture() -> RunRecord {
    let login = SampleFlow {
        name: "login".into(),
        seconds: (0..10u64)
            .map(|t| SampleSecond {
                t: t as u32,
                latencies_us: (1..=100).map(|k| (t * 100 + k) * 1000).collect(),
                errors: if t == 2 {
                    BTreeMap::from([("503".into(), 3), ("timeout".into(), 1)])
                } else {
                    BTreeMap::new()
                },
            })
            .collect(),
        error_samples: HOSTILE_SAMPLES.iter().map(|s| s.to_string()).collect(),
    };
    let validate = SampleFlow {
        name: "validate".into(),
        seconds: (0..10)
            .map(|t| SampleSecond {
                t,
                latencies_us: (0..200).map(|k| (k % 100 + 1) * 50).collect(),
                errors: BTreeMap::new(),
            })
            .collect(),
        error_samples: Vec::new(),
    };
    let evil = SampleFlow {
        name: HOSTILE_FLOW.into(),
        seconds: (0..10)
            .map(|t| SampleSecond {
                t,
                latencies_us: vec![20_000; 10],
                errors: BTreeMap::new(),
            })
            .collect(),
        error_samples: vec!["HTTP 500 </li></ul><script>alert(2)</script>".into()],
    };
    let phases = vec![
        Phase {
            name: "ramp".into(),
            start_s: 0.0,
            end_s: 4.0,
            users_from: 0,
            users_to: 5,
        },
        Phase {
            name: "hold <b>bold</b>".into(),
            start_s: 4.0,
            end_s: 10.0,
            users_from: 5,
            users_to: 5,
        },
    ];
    let rules: Vec<Rule> = [
        "login: p95<500ms",
        "validate: p95<100ms",
        "error-rate<1%",
        "login: rate(503)<0.1%",
        "validate: rps>=150",
        "signup: p95<1s",
    ]
    .iter()
    .map(|r| r.parse().expect("valid rule"))
    .collect();
    build(
        "smoke",
        HOSTILE_HOST,
        vec![login, validate, evil],
        vec![1, 2, 3, 4, 5, 5, 5, 5, 5, 5],
        phases,
        &rules,
    )
}

/// A spike run with known shape (the browser test's screenshot, the chart tests): 60 full
/// seconds plus a partial 61st (`duration_s` 60.4), phases `before ramp`, `before`,
/// `spike ramp`, `spike` (17–32 s) and `recovery`; three flows whose rates differ by 150×
/// (`validate` 300/s, `login` 20/s, `signup` 2/s; ×3 during the spike); latency jumps during
/// the spike and decays after it (validate is back under 50 ms about 5 s after it); 1% `503`
/// on validate during the spike. Recovery is computed as a run does.
pub fn spike() -> RunRecord {
    let phase = |name: &str, start_s: f64, end_s: f64, users_from: u32, users_to: u32| Phase {
        name: name.into(),
        start_s,
        end_s,
        users_from,
        users_to,
    };
    let phases = vec![
        phase("before ramp", 0.0, 2.0, 0, 10),
        phase("before", 2.0, 15.0, 10, 10),
        phase("spike ramp", 15.0, 17.0, 10, 500),
        phase("spike", 17.0, 32.0, 500, 500),
        phase("recovery", 32.0, 60.4, 10, 10),
    ];
    let users_per_second: Vec<u32> = (0..61)
        .map(|t| match t {
            0 => 0,
            1 => 5,
            15 => 10,
            16 => 255,
            17..=31 => 500,
            _ => 10,
        })
        .collect();
    // Load factor of second t: 1 outside the spike, 3 in it; the last second is partial.
    let load = |t: u32| -> f64 {
        match t {
            0 => 0.5,
            16 => 2.0,
            17..=31 => 3.0,
            60 => 0.4,
            _ => 1.0,
        }
    };
    // Extra latency factor: 30x in the spike, decaying after it.
    let slow = |t: u32| -> f64 {
        match t {
            16 => 10.0,
            17..=31 => 30.0,
            32.. => 1.0 + 29.0 * (-(f64::from(t) - 31.0) / 1.5).exp(),
            _ => 1.0,
        }
    };
    let mut rng = Lcg(0x5b1c);
    let mut flow = |name: &str, rps: f64, base_us: f64, errors: bool| {
        let seconds = (0..61u32)
            .map(|t| {
                let n = (rps * load(t)).round() as usize;
                let latencies_us: Vec<u64> = (0..n)
                    .map(|_| {
                        let u = rng.next_f64().max(1e-12);
                        (base_us * slow(t) * (0.5 + 0.5 * -u.ln())) as u64 + 50
                    })
                    .collect();
                let failed = if errors && (17..=31).contains(&t) {
                    n as u64 / 100
                } else {
                    0
                };
                SampleSecond {
                    t,
                    latencies_us,
                    errors: if failed > 0 {
                        BTreeMap::from([("503".to_string(), failed)])
                    } else {
                        BTreeMap::new()
                    },
                }
            })
            .collect();
        SampleFlow {
            name: name.into(),
            seconds,
            error_samples: if errors {
                vec!["validate: HTTP 503 Service Unavailable".into()]
            } else {
                Vec::new()
            },
        }
    };
    let flows = vec![
        flow("signup", 2.0, 60_000.0, false),
        flow("login", 20.0, 25_000.0, false),
        flow("validate", 300.0, 3_000.0, true),
    ];
    let rules: Vec<Rule> = [
        "validate: p95<50ms",
        "login: p95<400ms",
        "p95<100ms",
        "error-rate<1%",
    ]
    .iter()
    .map(|r| r.parse().expect("valid rule"))
    .collect();
    let mut record = build(
        "spike",
        "http://127.0.0.1:8080",
        flows,
        users_per_second,
        phases,
        &rules,
    );
    record.meta.duration_s = 60.4;
    record.meta.planned_duration_s = 60.0;
    record.recovery = loadtest::phases::recovery(&record, &rules);
    record
}

/// A capacity search with known steps (the capacity report's browser test and screenshot):
/// `validate: p95<100ms` held at 50, 100, 200, 400 and 600 req/s, failed at 800 and 700.
pub fn capacity() -> loadtest::export::capacity::Capacity {
    use loadtest::export::capacity::{Capacity, Step};
    let steps = [
        (50.0, 3.1, true),
        (100.0, 3.4, true),
        (200.0, 5.2, true),
        (400.0, 21.7, true),
        (800.0, 412.0, false),
        (600.0, 64.3, true),
        (700.0, 188.5, false),
    ]
    .iter()
    .enumerate()
    .map(|(i, &(rate, p95, held))| Step {
        target_rps: rate,
        achieved_rps: rate * 0.995,
        observed: Some(p95),
        observed_text: loadtest::units::fmt_ms(p95),
        held,
        reason: (!held).then(|| {
            format!(
                "'validate: p95<100ms' failed (observed {})",
                loadtest::units::fmt_ms(p95)
            )
        }),
        run_dir: format!("step-{:02}-{rate:.0}rps/run", i + 1),
    })
    .collect();
    Capacity {
        host: "http://127.0.0.1:8080".into(),
        flow: "validate".into(),
        rule: "validate: p95<100ms".into(),
        limit: 100.0,
        steps,
        highest_held: Some(600.0),
        lowest_failed: Some(700.0),
    }
}
