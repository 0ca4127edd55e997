use hdrhistogram::Histogram;
use plotters::style::RGBColor;

use super::common::*;
use super::*;
use crate::export::sample::{fixture, spike, synthetic};
use crate::histogram::decode;

#[test]
fn axes_and_buckets() {
    let ticks: Vec<String> = [2f64.log10(), 1.0, 2.0, 3.0, 4.0, 5.0]
        .map(spectrum_tick)
        .to_vec();
    assert_eq!(ticks, ["50%", "90%", "99%", "99.9%", "99.99%", "99.999%"]);
    assert_eq!(clock(0.0), "0:00");
    assert_eq!(clock(605.0), "10:05");
    assert_eq!(clock(3723.0), "1:02:03");
    assert_eq!(time_step(10.0, 10), 1.0);
    assert_eq!(time_step(1800.0, 10), 300.0);
    assert_eq!(time_step(45.0, 10), 5.0);
    assert_eq!(buckets(10), (1, 10));
    assert_eq!(buckets(600), (1, 600));
    assert_eq!(buckets(1800), (3, 600));
    assert_eq!(buckets(1801), (4, 451));
    assert_eq!(buckets(0), (1, 1));
}

#[test]
fn series_keep_the_numbers() {
    let r = fixture();
    // login second t holds (100t+1 .. 100t+100) ms: p50 of second 0 is 50 ms.
    let [p50, p95, p99] = latency_series(&r.flows[0], &Timeline::whole(10)).unwrap();
    assert_eq!(p50.len(), 10);
    assert_eq!((p50[0].0, (p50[0].1 * 10.0).round() / 10.0), (0.5, 50.0));
    assert!((p95[9].1 - 995.0).abs() < 1.0 && (p99[9].1 - 999.0).abs() < 1.0);
    let (requests, errors) = throughput_series(&r.flows[0], &Timeline::of(&r));
    assert_eq!(
        requests,
        (0..10).map(|t| (t as f64 + 0.5, 100.0)).collect::<Vec<_>>()
    );
    assert_eq!(errors[2].1, 4.0);
    assert_eq!(errors.iter().map(|e| e.1).sum::<f64>(), 4.0);
}

#[test]
fn long_runs_are_downsampled_by_merging() {
    let r = synthetic(1800, &["a", "b"], 10, 20);
    let tl = Timeline::of(&r);
    let lines = latency_series(&r.flows[1], &tl).unwrap();
    assert!(lines.iter().all(|l| l.len() <= MAX_POINTS && l.len() > 500));
    let (requests, _) = throughput_series(&r.flows[1], &tl);
    let total: f64 = requests.iter().map(|p| p.1 * 3.0).sum();
    assert_eq!(
        total as u64, r.flows[1].requests,
        "averages keep every request"
    );
    let svg = users_over_time(&r.users_per_second, &r.phases).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.len() < 40_000,
        "{}",
        svg.len()
    );
}

#[test]
fn empty_runs_still_draw() {
    let mut r = fixture();
    // A flow with requests in one second only: its points are drawn as dots.
    let mut once = r.flows[0].clone();
    once.per_second.truncate(1);
    let svg = latency_over_time(&once, &Timeline::of(&r), &r.phases).unwrap();
    assert_eq!(svg.matches("<circle").count(), 3, "p50, p95, p99");
    for f in &mut r.flows {
        f.per_second.clear();
    }
    let none = Timeline::whole(0);
    assert!(latency_over_time(&r.flows[0], &none, &[])
        .unwrap()
        .starts_with("<svg"));
    assert!(throughput_over_time(&r.flows[0], 0, &none, &r.phases)
        .unwrap()
        .starts_with("<svg"));
    assert!(users_over_time(&[], &[]).unwrap().starts_with("<svg"));
    assert!(spectrum(&[]).unwrap().starts_with("<svg"));
}

/// Attributes of every `<rect>` of an SVG: (x, y, width, height, fill, stroke).
fn rects(svg: &str) -> Vec<(i32, i32, i32, i32, String, String)> {
    let attr = |tag: &str, name: &str| -> String {
        let key = format!(" {name}=\"");
        let i = tag.find(&key).map(|i| i + key.len()).unwrap_or(0);
        tag[i..].split('"').next().unwrap_or("").to_string()
    };
    svg.split("<rect")
        .skip(1)
        .map(|t| {
            let t = &t[..t.find("/>").unwrap()];
            let n = |k| attr(t, k).parse::<i32>().unwrap();
            (
                n("x"),
                n("y"),
                n("width"),
                n("height"),
                attr(t, "fill"),
                attr(t, "stroke"),
            )
        })
        .collect()
}

fn hex(c: RGBColor) -> String {
    format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
}

/// The one rect stroked in `color` (the legend box or the plot frame).
fn stroked(svg: &str, color: RGBColor) -> (i32, i32, i32, i32) {
    let found: Vec<_> = rects(svg)
        .into_iter()
        .filter(|r| r.5 == hex(color))
        .map(|r| (r.0, r.1, r.2, r.3))
        .collect();
    assert_eq!(found.len(), 1, "one rect stroked {}", hex(color));
    found[0]
}

#[test]
fn legends_sit_outside_the_plot_area() {
    let r = spike();
    let tl = Timeline::of(&r);
    let hs: Vec<Histogram<u64>> = r
        .flows
        .iter()
        .map(|f| decode(&f.histogram).unwrap())
        .collect();
    let named: Vec<(&str, &Histogram<u64>)> = r
        .flows
        .iter()
        .zip(&hs)
        .map(|(f, h)| (f.name.as_str(), h))
        .collect();
    let charts = [
        spectrum(&named).unwrap(),
        latency_over_time(&r.flows[2], &tl, &r.phases).unwrap(),
        throughput_over_time(&r.flows[0], 0, &tl, &r.phases).unwrap(),
        latency_lines_over_time(
            &[
                ("baseline p95", vec![(1.0, 2.0)]),
                ("candidate p95", vec![(1.0, 3.0)]),
            ],
            60,
        )
        .unwrap(),
        recovery_over_time(
            &r.flows.iter().collect::<Vec<_>>(),
            &tl,
            &r.phases,
            &r.recovery[0],
        )
        .unwrap(),
        rate_curve(
            &[RatePoint {
                rate: 100.0,
                value: 5.0,
                held: true,
            }],
            50.0,
            "50ms",
            "p95 latency (ms)",
        )
        .unwrap(),
    ];
    for svg in &charts {
        let (lx, ly, lw, lh) = stroked(svg, LEGEND_BORDER);
        let (px, py, pw, _) = stroked(svg, PLOT_FRAME);
        assert!(
            ly + lh < py,
            "legend box ends above the plot: {ly}+{lh} vs {py}"
        );
        assert!(
            lx >= px && lx + lw <= px + pw,
            "legend within the chart's width"
        );
        // Every legend text starts inside the box.
        for t in svg.split("<text").skip(1) {
            let y: i32 = t
                .split("y=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            let x: i32 = t
                .split("x=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            if y < py {
                assert!(y > ly && y < ly + lh && x > lx && x < lx + lw, "{t}");
            }
        }
    }
    // Wrapping: many long names make more rows, never a box wider than the chart.
    let many: Vec<Key> = (0..12)
        .map(|i| {
            Key::new(
                format!("a rather long flow name {i}"),
                flow_color(i),
                Mark::Line,
            )
        })
        .collect();
    let rows = legend_rows(&many, 800);
    assert!(rows.len() > 2);
    for row in &rows {
        let &(i, x) = row.last().unwrap();
        assert!(x + key_width(&many[i]) <= 800);
    }
}

#[test]
fn phases_are_shaded_and_named() {
    let r = spike();
    let tl = Timeline::of(&r);
    let fills = |svg: &str| -> Vec<String> { rects(svg).into_iter().map(|r| r.4).collect() };
    for svg in [
        latency_over_time(&r.flows[2], &tl, &r.phases).unwrap(),
        throughput_over_time(&r.flows[2], 2, &tl, &r.phases).unwrap(),
        users_over_time(&r.users_per_second, &r.phases).unwrap(),
    ] {
        let fills = fills(&svg);
        for (i, p) in r.phases.iter().enumerate() {
            assert!(
                fills.contains(&hex(phase_fill(&p.name, i))),
                "{} shaded",
                p.name
            );
        }
        for name in ["before", "spike", "recovery"] {
            assert!(svg.contains(&format!("\n{name}\n</text>")), "{name} named");
        }
    }
    assert_eq!(phase_fill("spike", 3), RGBColor(253, 224, 220));
    assert_eq!(phase_fill("spike ramp", 2), phase_fill("before ramp", 0));
    assert_eq!(phase_fill("recovery", 4), RGBColor(221, 244, 228));
    assert_ne!(phase_fill("hold", 0), phase_fill("hold", 1));
}

#[test]
fn partial_seconds_are_not_drawn() {
    // spike(): 60 whole seconds and a partial 61st (duration 60.4 s, 40% of the load).
    let mut r = spike();
    let tl = Timeline::of(&r);
    assert_eq!((tl.seconds, tl.end, tl.lead), (61, Some(60), None));
    let validate = &r.flows[2];
    assert!(validate.per_second.iter().any(|s| s.t == 60));
    let (requests, errors) = throughput_series(validate, &tl);
    assert_eq!(requests.len(), 60);
    assert_eq!(
        requests.last().unwrap(),
        &(59.5, 300.0),
        "a whole second, no cliff"
    );
    assert_eq!(errors.len(), 60);
    let [p50, ..] = latency_series(validate, &tl).unwrap();
    assert_eq!(p50.last().unwrap().0, 59.5);
    // The drawn line (after the legend's swatch) has one point per whole second.
    let svg = throughput_over_time(validate, 2, &tl, &r.phases).unwrap();
    let green = hex(flow_color(2));
    let line = svg
        .split("<polyline")
        .filter(|p| p.contains(&format!("stroke=\"{green}\"")))
        .last()
        .unwrap();
    let points = line
        .split("points=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert_eq!(points.split_whitespace().count(), 60);
    // A first phase starting inside a second (the open model) leaves that second out.
    r.phases[0].start_s = 1.6;
    let tl = Timeline::of(&r);
    assert_eq!(tl.lead, Some(1));
    let (requests, _) = throughput_series(&r.flows[2], &tl);
    assert_eq!(requests.len(), 59);
    assert!(requests.iter().all(|p| p.0 != 1.5));
    // Whole-second durations drop nothing.
    let f = fixture();
    let tl = Timeline::of(&f);
    assert_eq!(throughput_series(&f.flows[0], &tl).0.len(), 10);
}
