//! Writes synthetic shard records of one distributed run, for `scripts/merge-bench.sh`:
//! `cargo run --release --example merge_bench_shards -- DIR [SHARDS] [SECONDS]` writes
//! DIR/shard-<i>/run.json for i in 0..SHARDS (default 16 shards of 600 s). Each shard has
//! three flows with a histogram every second; latencies are log-normal (medians 0.4–6 ms,
//! σ 0.8) with a rare 30× tail, and vary by shard and over time.

#[allow(dead_code)]
#[path = "../tests/support/sample.rs"]
mod sample;

use std::collections::BTreeMap;
use std::path::PathBuf;

use loadtest::record::{Phase, ShardMeta};
use loadtest::thresholds::Rule;
use sample::{build, SampleFlow, SampleSecond};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Deterministic generator (64-bit LCG), uniform in (0, 1).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        (-2.0 * self.next().ln()).sqrt() * (std::f64::consts::TAU * self.next()).cos()
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().unwrap_or_else(|| {
        eprintln!("usage: merge_bench_shards DIR [SHARDS] [SECONDS]");
        std::process::exit(2)
    }));
    let shards: u32 = args.next().map_or(16, |a| a.parse().expect("SHARDS"));
    let seconds: u32 = args.next().map_or(600, |a| a.parse().expect("SECONDS"));
    // (flow, median µs, requests per second per shard)
    let flows = [
        ("login", 6_000.0, 150u32),
        ("validate", 400.0, 1_500),
        ("refresh", 3_000.0, 40),
    ];
    let rule_texts = [
        "all: p95<500ms",
        "validate: p95<100ms",
        "all: error-rate<1%",
    ];
    let rules: Vec<Rule> = rule_texts.iter().map(|r| r.parse().unwrap()).collect();
    let t0 = OffsetDateTime::parse("2026-11-22T10:00:00Z", &Rfc3339).unwrap();
    let users = 50u32;
    for i in 0..shards {
        let mut rng = Lcg(0x5eed ^ (u64::from(i) << 32));
        let sample_flows: Vec<SampleFlow> = flows
            .iter()
            .map(|&(name, median, rps)| SampleFlow {
                name: name.to_string(),
                seconds: (0..seconds)
                    .map(|t| {
                        // Slow drift over the run and a little per-shard skew.
                        let drift =
                            1.0 + 0.5 * (f64::from(t) / 60.0).sin().abs() + f64::from(i) * 0.01;
                        let latencies_us: Vec<u64> = (0..rps)
                            .map(|_| {
                                let tail = if rng.next() < 0.002 { 30.0 } else { 1.0 };
                                (median * drift * (0.8 * rng.normal()).exp() * tail) as u64 + 1
                            })
                            .collect();
                        let errors = if t % 7 == 0 {
                            BTreeMap::from([("503".to_string(), 1)])
                        } else {
                            BTreeMap::new()
                        };
                        SampleSecond {
                            t,
                            latencies_us,
                            errors,
                        }
                    })
                    .collect(),
                error_samples: vec![format!("503: Service Unavailable (shard {i})")],
            })
            .collect();
        let phases = vec![Phase {
            name: "hold".into(),
            start_s: 0.0,
            end_s: f64::from(seconds),
            users_from: users,
            users_to: users,
        }];
        let mut r = build(
            "load",
            "http://127.0.0.1:8080",
            sample_flows,
            vec![users; seconds as usize],
            phases,
            &rules,
        );
        let started = t0 + time::Duration::milliseconds(i64::from(i) * 37);
        r.meta.started_at = started.format(&Rfc3339).unwrap();
        r.meta.ended_at = (started + time::Duration::seconds(i64::from(seconds)))
            .format(&Rfc3339)
            .unwrap();
        r.meta.run_id = "bench16".into();
        r.meta.rules = Some(rules.iter().map(|r| r.text.clone()).collect());
        r.meta.shard = Some(ShardMeta {
            index: Some(i),
            count: shards,
            user_offset: u64::from(i) * 10_000_000,
            profile_plan: format!("{},0s;{},{seconds}s;0,0", users * shards, users * shards),
        });
        let out = dir.join(format!("shard-{i}"));
        std::fs::create_dir_all(&out).unwrap();
        r.save(&out).unwrap();
    }
    eprintln!(
        "wrote {shards} shards × {} flows × {seconds} s to {}",
        flows.len(),
        dir.display()
    );
}
