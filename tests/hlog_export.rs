//! `loadtest report RUN.json --format hlog` writes an HdrHistogram interval log that an
//! independent reader — the Python `hdrhistogram` package's `HistogramLogReader` — reads back
//! with every tag, interval, count and histogram bucket matching run.json.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::sample::{fixture, synthetic};
use loadtest::export::hlog::tag;
use loadtest::record::RunRecord;

const READ: &str = "import sys, json\n\
from hdrh.histogram import HdrHistogram\n\
from hdrh.log import HistogramLogReader\n\
reader = HistogramLogReader(sys.argv[1], HdrHistogram(1, 3600000000, 3))\n\
out = {}\n\
while True:\n\
\x20   h = reader.get_next_interval_histogram()\n\
\x20   if h is None:\n\
\x20       break\n\
\x20   t = out.setdefault(h.get_tag(), {'count': 0, 'intervals': [], 'merged': HdrHistogram(1, 3600000000, 3)})\n\
\x20   t['count'] += h.get_total_count()\n\
\x20   t['intervals'].append([round(h.get_start_time_stamp() / 1000.0 - reader.start_time_sec, 3), h.get_total_count()])\n\
\x20   t['merged'].add(h)\n\
for t in out.values():\n\
\x20   m = t.pop('merged')\n\
\x20   t['buckets'] = [[i.value_iterated_to, i.count_at_value_iterated_to] for i in m.get_recorded_iterator()]\n\
\x20   t['max'] = m.get_max_value()\n\
print(json.dumps({'start': reader.start_time_sec, 'tags': out}))\n\
";

fn check(record: &RunRecord, python: &std::path::Path) {
    let dir = tempfile::tempdir().unwrap();
    record.save(dir.path()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_loadtest"))
        .arg("report")
        .arg(dir.path().join("run.json"))
        .args(["--format", "hlog"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = dir.path().join("latency.hlog");
    assert!(
        stdout.contains(&format!("wrote {}", log.display())),
        "{stdout}"
    );

    let (ok, text) = common::run_python(python, READ, &[log.to_str().unwrap()]);
    assert!(ok, "the reader failed:\n{text}");
    let read: serde_json::Value =
        serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"));
    let tags = read["tags"].as_object().unwrap();
    assert_eq!(tags.len(), record.flows.len(), "one tag per flow: {tags:?}");
    let started = time::OffsetDateTime::parse(
        &record.meta.started_at,
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
    .unix_timestamp() as f64;
    assert_eq!(read["start"].as_f64(), Some(started));
    for flow in &record.flows {
        let t = &tags[&tag(&flow.name)];
        let whole = flow.hist().unwrap();
        assert_eq!(t["count"].as_u64(), Some(whole.len()), "{}", flow.name);
        // Every second of run.json, at its offset, with its count.
        let expected: BTreeMap<u32, u64> = flow
            .per_second
            .iter()
            .map(|s| {
                (
                    s.t,
                    loadtest::histogram::decode(&s.histogram).unwrap().len(),
                )
            })
            .filter(|(_, n)| *n > 0)
            .collect();
        let got: BTreeMap<u32, u64> = t["intervals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| (i[0].as_f64().unwrap() as u32, i[1].as_u64().unwrap()))
            .collect();
        assert_eq!(got, expected, "{}", flow.name);
        // The merged intervals are the whole-run histogram, bucket for bucket (µs).
        let buckets: Vec<(u64, u64)> = whole
            .iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
            .collect();
        let read_buckets: Vec<(u64, u64)> = t["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| (b[0].as_u64().unwrap(), b[1].as_u64().unwrap()))
            .collect();
        assert_eq!(read_buckets, buckets, "{}", flow.name);
        assert_eq!(t["max"].as_u64(), Some(whole.max()), "{}", flow.name);
    }
}

#[test]
fn the_python_hdrhistogram_reader_reads_the_log_back() {
    let Some(python) = common::checker_python() else {
        return;
    };
    check(&fixture(), &python);
    check(
        &synthetic(40, &["signup", "login", "validate"], 20, 300),
        &python,
    );
}

#[test]
fn hlog_to_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let record = fixture();
    record.save(dir.path()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_loadtest"))
        .arg("report")
        .arg(dir.path().join("run.json"))
        .args(["--format", "hlog", "--out", "-"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("#[Histogram log format version 1.3]\n"),
        "{text}"
    );
    let lines = text.lines().filter(|l| l.starts_with("Tag=")).count();
    let seconds: usize = record.flows.iter().map(|f| f.per_second.len()).sum();
    assert_eq!(lines, seconds);
}
