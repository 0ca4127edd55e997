//! Micro-benchmarks of the harness's own hot paths: what every request costs the generator
//! (recording into the HDR recorder, including the per-second rotation), what every progress
//! line and early-abort check costs (percentile queries over the live view), and what every
//! report and comparison costs (RunRecord encode/decode, the compare statistics on 10 + 10 runs).
//!
//! Run: `cargo bench --bench harness` (add `-- --test` to run each benchmark once).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

mod common;
use common::sample;

use loadtest::attack::recorder::{Flow, Outcome, Recorder};
use loadtest::compare::{self, Options};
use loadtest::histogram::{decode, encode, new_histogram};
use loadtest::record::RunRecord;

fn recording(c: &mut Criterion) {
    let mut g = c.benchmark_group("harness/record");
    let rec = Recorder::new();
    let mut i = 0u64;
    g.bench_function("ok", |b| {
        b.iter(|| {
            i = i.wrapping_add(7919);
            rec.record(
                Flow::Validate,
                Duration::from_micros(100 + i % 5000),
                Outcome::Ok,
            )
        })
    });
    g.bench_function("failure_with_sample", |b| {
        b.iter(|| {
            rec.record(
                Flow::Login,
                Duration::from_micros(250),
                Outcome::Failed {
                    class: "503".into(),
                    detail: "injected error".into(),
                },
            )
        })
    });
    // A fresh second: the per-second vector grows and a new histogram is allocated.
    g.bench_function("new_second_histogram", |b| {
        b.iter_batched(
            new_histogram,
            |mut h| {
                h.saturating_record(123);
                black_box(h)
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn queries(c: &mut Criterion) {
    let mut g = c.benchmark_group("harness/query");
    let rec = Recorder::new();
    for i in 0..200_000u64 {
        rec.record(
            Flow::Validate,
            Duration::from_micros(50 + (i * 7919) % 20_000),
            Outcome::Ok,
        );
    }
    g.bench_function("live_view_5s", |b| b.iter(|| black_box(rec.live(5))));
    let live = rec.live(5);
    let h = &live.flows[0].all;
    g.bench_function("p95_of_200k", |b| {
        b.iter(|| black_box(h.value_at_quantile(0.95)))
    });
    g.finish();
}

fn records(c: &mut Criterion) {
    let mut g = c.benchmark_group("harness/record_codec");
    g.sample_size(20);
    // A 10-minute, 3-flow run: 1,800 per-second histograms.
    let record = sample::synthetic(600, &["signup", "login", "validate"], 100, 2_000);
    let json = serde_json::to_string(&record).unwrap();
    g.bench_function("encode_10min_3flows", |b| {
        b.iter(|| black_box(serde_json::to_string(&record).unwrap()))
    });
    g.bench_function("decode_validate_10min_3flows", |b| {
        b.iter(|| black_box(RunRecord::from_json(&json, "bench").unwrap()))
    });
    let h = record.flows[2].hist().unwrap();
    g.bench_function("histogram_encode", |b| b.iter(|| black_box(encode(&h))));
    let text = encode(&h);
    g.bench_function("histogram_decode", |b| {
        b.iter(|| black_box(decode(&text).unwrap()))
    });
    g.finish();
}

fn statistics(c: &mut Criterion) {
    let mut g = c.benchmark_group("harness/compare");
    g.sample_size(20);
    let side = |scale: u32, seed: u32| -> Vec<RunRecord> {
        (0..10)
            .map(|i| {
                sample::synthetic(
                    60,
                    &["login", "validate"],
                    10,
                    200 + scale * 10 + (seed + i) % 7,
                )
            })
            .collect()
    };
    let (a, b) = (side(0, 0), side(3, 11));
    g.bench_function("10_plus_10_runs", |bch| {
        bch.iter(|| black_box(compare::compare(&a, &b, &Options::default()).unwrap()))
    });
    let (a1, b1) = (vec![a[0].clone()], vec![b[0].clone()]);
    let opts = Options {
        resamples: 1000,
        ..Options::default()
    };
    g.bench_function("single_run_bootstrap_1000", |bch| {
        bch.iter(|| black_box(compare::compare(&a1, &b1, &opts).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, recording, queries, records, statistics);
criterion_main!(benches);
