//! The acceptance shape of a long run: a synthetic 30-minute, 3-flow record (1800
//! per-second histograms per flow) renders to a report well under 2 MB whose time series
//! are downsampled to at most 600 points. (Render *time* is measured by
//! scripts/render-bench.sh, not asserted here: timing assertions flake on shared machines.)

mod common;

use common::sample;
use loadtest::export::charts::MAX_POINTS;
use loadtest::export::Format;

/// Point counts of every `<polyline>` inside the section with `id`.
fn polylines(html: &str, id: &str) -> Vec<usize> {
    let start = html.find(&format!("id=\"{id}\"")).expect(id);
    let end = html[start..].find("</section>").unwrap() + start;
    html[start..end]
        .split("<polyline")
        .skip(1)
        .map(|p| {
            let points = p.split("points=\"").nth(1).unwrap();
            points[..points.find('"').unwrap()]
                .split_whitespace()
                .count()
        })
        .collect()
}

#[test]
fn thirty_minute_run_renders_small_and_downsampled() {
    let record = sample::synthetic(1800, &["signup", "login", "validate"], 100, 200);
    assert_eq!(record.flows.len(), 3);
    assert!(record.flows.iter().all(|f| f.per_second.len() >= 1790));
    record.validate().unwrap();

    let html = Format::Html.exporter().render(&record).unwrap();
    assert!(
        html.len() < 2_000_000,
        "report.html is {} bytes",
        html.len()
    );

    for id in ["chart-latency-time", "chart-throughput", "chart-users"] {
        let lines = polylines(&html, id);
        let data: Vec<usize> = lines.iter().copied().filter(|&n| n > 50).collect();
        assert!(!data.is_empty(), "{id}: no data lines");
        // +1: the users area closes at the run's end.
        assert!(data.iter().all(|&n| n <= MAX_POINTS + 1), "{id}: {data:?}");
    }
    assert_eq!(
        polylines(&html, "chart-latency-time")
            .iter()
            .filter(|&&n| n > 50)
            .count(),
        9
    );
    for f in ["md", "junit"] {
        let format = match f {
            "md" => Format::Markdown,
            _ => Format::Junit,
        };
        let text = format.exporter().render(&record).unwrap();
        assert!(text.len() < 10_000, "{f}: {} bytes", text.len());
    }
}
