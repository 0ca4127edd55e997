use super::scrape::parse_exposition;
use super::*;
use crate::export::sample::fixture;
use crate::thresholds::{judge, ThresholdSet};
use prometheus_parse::Value;

/// A captured exposition: the reference API's counters and summary (metrics-exporter-
/// prometheus 0.17), plus the standard histogram example with HELP lines, an escaped-looking
/// label, a timestamp and a label list with spaces.
const SAMPLE: &str = r#"# TYPE http_requests_total counter
http_requests_total{route="/api/v1/auth/login",status="200"} 40
http_requests_total{route="/api/v1/auth/me",status="200"} 900
http_requests_total{route="/api/v1/auth/me",status="401"} 3
http_requests_total{route="/api/v1/auth/signup",status="201"} 40
http_requests_total{route="/metrics",status="200"} 7
http_requests_total{route="/health",status="200"} 2

# TYPE cache_misses_total counter
cache_misses_total{cache="token"} 12
cache_misses_total{cache="user"} 40
# TYPE cache_hits_total counter
cache_hits_total{cache="token"} 888
cache_hits_total{cache="user"} 860
# TYPE db_queries_total counter
db_queries_total 252
# TYPE http_request_duration_summary_seconds summary
http_request_duration_summary_seconds{route="/api/v1/auth/me",quantile="0.5"} 0.000136
http_request_duration_summary_seconds{route="/api/v1/auth/me",quantile="0.99"} 0.00042
http_request_duration_summary_seconds_sum{route="/api/v1/auth/me"} 0.15
http_request_duration_summary_seconds_count{route="/api/v1/auth/me"} 903
# HELP db_query_duration_seconds Time spent in database statements.
# TYPE db_query_duration_seconds histogram
db_query_duration_seconds_bucket{op="select",le="0.001"} 100
db_query_duration_seconds_bucket{op="select",le="0.01"} 180
db_query_duration_seconds_bucket{op="select",le="+Inf"} 200
db_query_duration_seconds_sum{op="select"} 0.9
db_query_duration_seconds_count{op="select"} 200
db_query_duration_seconds_bucket{op="insert",le="0.001"} 10
db_query_duration_seconds_bucket{op="insert",le="+Inf"} 52
db_query_duration_seconds_sum{op="insert"} 0.3
db_query_duration_seconds_count{op="insert"} 52
# HELP redis_hits Hits of a CDN-ish cache, with a timestamp.
# TYPE redis_hits counter
redis_hits{tier="l2", region="eu"} 5 1795367942000
# a free-form comment line
process_start_time_seconds 1.7953679e+09
weird_value NaN
"#;

#[test]
fn parses_labels_comments_summaries_and_histograms() {
    let samples = parse_exposition(SAMPLE);
    let find = |metric: &str, label: Option<(&str, &str)>| {
        samples
            .iter()
            .filter(|s| s.metric == metric)
            .find(|s| label.is_none_or(|(k, v)| s.labels.get(k) == Some(v)))
            .unwrap_or_else(|| panic!("{metric} {label:?}"))
    };
    assert_eq!(
        find("http_requests_total", Some(("status", "401"))).value,
        Value::Counter(3.0)
    );
    assert_eq!(find("db_queries_total", None).value, Value::Counter(252.0));
    let h = find("db_query_duration_seconds", Some(("op", "select")));
    match &h.value {
        Value::Histogram(b) => assert_eq!(b.len(), 3),
        v => panic!("histogram expected: {v:?}"),
    }
    assert_eq!(mapping::sample_count(h), Some(200.0));
    // _count of a histogram is a plain series too.
    assert_eq!(
        find("db_query_duration_seconds_count", Some(("op", "insert"))).value,
        Value::Untyped(52.0)
    );
    assert!(matches!(
        find("http_request_duration_summary_seconds", None).value,
        Value::Summary(_)
    ));
    assert_eq!(mapping::sample_count(find("weird_value", None)), None);
    assert_eq!(
        find("process_start_time_seconds", None).value,
        Value::Untyped(1.7953679e9)
    );
    assert!(parse_exposition("<html>not metrics</html>\n").is_empty());
    assert!(parse_exposition("").is_empty());

    let v = Mapping::builtin().apply(&samples);
    assert_eq!(
        v,
        RoleValues {
            cache_hits: Some(888.0),
            cache_misses: Some(12.0),
            db_queries: Some(252.0),
            // /metrics and /health are excluded.
            requests: Some(983.0),
        }
    );
}

#[test]
fn mapping_files() {
    let samples = parse_exposition(SAMPLE);
    let m = Mapping::from_toml_str(
        r#"
        [[cache_hit]]
        metric = "cache_hits_total"
        labels = { cache = ["token", "user"] }
        [[cache_hit]]
        metric = "redis_hits"
        labels = { region = "eu" }
        [cache_miss]
        metric = "cache_misses_total"
        [db_query]
        metric = "db_query_duration_seconds"
        [requests]
        metric = "http_requests_total"
        labels = { route = "/api/v1/auth/me" }
        exclude = { status = "401" }
        "#,
        "m.toml",
    )
    .unwrap();
    let v = m.apply(&samples);
    assert_eq!(
        v.cache_hits,
        Some(888.0 + 860.0 + 5.0),
        "label with a space after the comma"
    );
    assert_eq!(v.cache_misses, Some(52.0));
    assert_eq!(
        v.db_queries,
        Some(252.0),
        "histogram observations (+Inf buckets)"
    );
    assert_eq!(v.requests, Some(900.0));
    let only_db = Mapping::from_toml_str("[db_query]\nmetric = \"nope\"\n", "m").unwrap();
    let v = only_db.apply(&samples);
    assert!(!v.any(), "unmatched and unmapped roles are None: {v:?}");
    for (text, want) in [
        (
            "[cache_hit]\nmetrc = \"x\"\n",
            "m.toml: invalid server-metrics mapping",
        ),
        ("[hits]\nmetric = \"x\"\n", "unknown field"),
        ("", "maps none of"),
        (
            "[requests]\nmetric = \" \"\n",
            "requests: metric name is empty",
        ),
    ] {
        let e = Mapping::from_toml_str(text, "m.toml")
            .unwrap_err()
            .one_line();
        assert!(e.contains(want) && !e.contains('\n'), "{text:?} -> {e}");
    }
}

fn point(t: f64, hits: f64, misses: f64, db: f64, requests: f64) -> ScrapePoint {
    ScrapePoint::new(
        t,
        RoleValues {
            cache_hits: Some(hits),
            cache_misses: Some(misses),
            db_queries: Some(db),
            requests: Some(requests),
        },
    )
}

fn scrape(points: Vec<ScrapePoint>) -> ScrapeRecord {
    ScrapeRecord {
        url: "http://127.0.0.1:1/metrics".into(),
        mapping: "built-in".into(),
        interval_s: 2.0,
        points,
        ..ScrapeRecord::default()
    }
    .finished()
}

#[test]
fn deltas_intervals_and_resets() {
    let s = scrape(vec![
        point(0.0, 100.0, 10.0, 50.0, 100.0),
        point(2.0, 190.0, 20.0, 70.0, 200.0),
        // The server restarted: counters start again from zero.
        point(4.0, 30.0, 0.0, 5.0, 20.0),
        point(6.0, 30.0, 0.0, 5.0, 20.0),
    ]);
    assert_eq!(s.intervals.len(), 3);
    let i0 = &s.intervals[0];
    assert_eq!((i0.from_s, i0.to_s), (0.0, 2.0));
    assert_eq!(i0.cache_hit_ratio, Some(0.9));
    assert_eq!(i0.db_queries_per_request, Some(0.2));
    assert_eq!(s.intervals[1].deltas.requests, Some(20.0), "reset");
    assert_eq!(s.intervals[2].cache_hit_ratio, None, "nothing happened");
    assert_eq!(s.deltas.cache_hits, Some(120.0));
    assert_eq!(s.deltas.requests, Some(120.0));
    assert_eq!(s.cache_hit_ratio, Some(120.0 / 130.0));
    assert_eq!(s.db_queries_per_request, Some(25.0 / 120.0));
    // Phase windows: scrapes within [from - 1, to + 1].
    assert_eq!(s.window(0.0, 2.0).unwrap().requests, Some(100.0));
    assert_eq!(
        s.window(2.2, 2.8).map(|c| c.requests),
        None,
        "one scrape only"
    );
    // No cache lookups while requests were served: 0%, not unknown.
    let s = scrape(vec![
        point(0.0, 0.0, 0.0, 0.0, 0.0),
        point(2.0, 0.0, 0.0, 300.0, 150.0),
    ]);
    assert_eq!(s.cache_hit_ratio, Some(0.0));
    assert_eq!(s.db_queries_per_request, Some(2.0));
    let s = scrape(vec![point(0.0, 0.0, 0.0, 0.0, 0.0)]);
    assert_eq!((s.cache_hit_ratio, s.db_queries_per_request), (None, None));
    // A series that is not there yet at the first scrape (created on first use) counts
    // from 0.
    let mut first = point(0.0, 0.0, 0.0, 0.0, 0.0);
    first.values.requests = None;
    let s = scrape(vec![first, point(2.0, 0.0, 0.0, 40.0, 20.0)]);
    assert_eq!(s.deltas.requests, Some(20.0));
    assert_eq!(s.db_queries_per_request, Some(2.0));
    assert_eq!(hit_ratio(0.0, 0.0, false), None);
    // Shown: no lookups is n/a, not "0.0%"; unknown stays "-".
    assert_eq!(shown_hit_ratio(0.0, 0.0, Some(0.0)), "\u{2014}");
    assert_eq!(shown_hit_ratio(0.0, 0.0, None), "-");
    assert_eq!(shown_hit_ratio(0.0, 4.0, Some(0.0)), "0.0%");
    assert_eq!(shown_hit_ratio(3.0, 1.0, Some(0.75)), "75.0%");
    assert_eq!(hit_ratio(3.0, 1.0, false), Some(0.75));
}

#[test]
fn thresholds_on_server_figures() {
    let mut r = fixture();
    r.server = ServerRecord::assemble(
        Some(scrape(vec![
            point(0.0, 0.0, 0.0, 0.0, 0.0),
            point(4.0, 90.0, 10.0, 40.0, 100.0),
            point(8.0, 100.0, 100.0, 440.0, 200.0),
        ])),
        vec![FlowHeaders {
            flow: "validate".into(),
            responses: 100,
            with_db_header: 100,
            db_queries: 50,
            cache_hits: 95,
            cache_misses: 5,
            cache_other: 0,
        }],
    );
    r.phases = vec![
        crate::record::Phase {
            name: "ramp".into(),
            start_s: 0.0,
            end_s: 4.0,
            users_from: 0,
            users_to: 5,
        },
        crate::record::Phase {
            name: "hold".into(),
            start_s: 4.0,
            end_s: 8.0,
            users_from: 5,
            users_to: 5,
        },
    ];
    let rules = ThresholdSet::from_rules(&[
        "server.cache_hit_ratio>40%",
        "server.db_queries_per_request<3",
        "server.cache_hit_ratio>80% during ramp",
        "server.cache_hit_ratio>80% during hold",
        "validate: db_queries_per_request<1",
        "validate: cache_hit_ratio>=95%",
        "login: db_queries_per_request<1",
        "all: cache_hit_ratio>99%",
    ])
    .unwrap()
    .rules;
    let out: Vec<String> = judge(&rules, &r)
        .iter()
        .map(|v| format!("{} {}", v.passed, v.observed_text))
        .collect();
    assert_eq!(
        out,
        [
            "true 50.00%",
            "true 2.20",
            "true 90.00%",
            "false 10.00%",
            "true 0.50",
            "true 95.00%",
            "false -",
            "false 95.00%",
        ]
    );
    let back =
        crate::record::RunRecord::from_json(&serde_json::to_string(&r).unwrap(), "t").unwrap();
    assert_eq!(back.server, r.server, "round-trips through JSON");
    let merged = merge_shards([r.server.as_ref(), None, r.server.as_ref()].into_iter()).unwrap();
    assert_eq!(merged.headers[0].db_queries, 100);
    assert_eq!(merged.scrape, r.server.as_ref().unwrap().scrape);
}
