//! Per-second charts over a run's time axis: latency (per flow and the comparison's
//! lines), throughput small multiples, active users and server-side figures.

use hdrhistogram::Histogram;
use plotters::prelude::*;

use super::common::*;
use crate::export::ExportError;
use crate::histogram::decode;
use crate::record::{FlowRecord, Phase, SecondRecord};

/// p50 / p95 / p99 of one flow per time bucket (ms), from its per-second histograms merged
/// per bucket (percentiles are never averaged); partial seconds ([`Timeline`]) left out.
pub fn latency_series(flow: &FlowRecord, timeline: &Timeline) -> Result<[Series; 3], ExportError> {
    merged_latency_series(&[flow], timeline)
}

/// [`latency_series`] of several flows together: each bucket's per-second histograms of
/// every flow merged (the `all` scope).
pub fn merged_latency_series(
    flows: &[&FlowRecord],
    timeline: &Timeline,
) -> Result<[Series; 3], ExportError> {
    let (width, count) = buckets(timeline.seconds);
    let bucket = |t: u32| (t as usize / width).min(count - 1);
    // One bucket at a time (seconds in time order), so memory holds one merged histogram,
    // not one per bucket.
    let mut order: Vec<(&str, &SecondRecord)> = flows
        .iter()
        .flat_map(|f| f.per_second.iter().map(|s| (f.name.as_str(), s)))
        .filter(|(_, s)| s.requests > 0 && timeline.whole_second(s.t))
        .collect();
    order.sort_by_key(|(_, s)| s.t);
    let mut out: [Series; 3] = Default::default();
    let mut emit = |i: usize, h: &Histogram<u64>| {
        if h.is_empty() {
            return;
        }
        let x = (i * width) as f64 + width as f64 / 2.0;
        for (line, q) in out.iter_mut().zip([0.5, 0.95, 0.99]) {
            line.push((x, h.value_at_quantile(q) as f64 / 1000.0));
        }
    };
    let mut current: Option<(usize, Histogram<u64>)> = None;
    for (name, s) in order {
        let fail = |message: String| ExportError::Histogram {
            flow: name.to_string(),
            message: format!("second {}: {message}", s.t),
        };
        let h = decode(&s.histogram).map_err(fail)?;
        let b = bucket(s.t);
        match &mut current {
            Some((cb, acc)) if *cb == b => acc.add(&h).map_err(|e| fail(format!("{e:?}")))?,
            _ => {
                if let Some((cb, acc)) = current.take() {
                    emit(cb, &acc);
                }
                current = Some((b, h));
            }
        }
    }
    if let Some((cb, acc)) = current {
        emit(cb, &acc);
    }
    Ok(out)
}

/// p50 / p95 / p99 over time for one flow, phases shaded.
pub fn latency_over_time(
    flow: &FlowRecord,
    timeline: &Timeline,
    phases: &[Phase],
) -> Result<String, ExportError> {
    let lines = latency_series(flow, timeline)?;
    let top = axis_top(lines.iter().flatten().map(|p| p.1).fold(0.0, f64::max));
    let end = timeline.seconds.max(1) as f64;
    let styles = [
        ("p50", RGBColor(44, 160, 44)),
        ("p95", RGBColor(255, 127, 14)),
        ("p99", ERROR_RED),
    ];
    let keys: Vec<Key> = styles
        .iter()
        .map(|&(name, color)| Key::new(name, color, Mark::Line))
        .collect();
    svg("latency over time", |root| {
        let area = with_legend(root, &keys)?;
        let mut chart = time_chart(&area, end, top, "latency (ms)", &ms_tick)?;
        shade_phases(&chart, phases, end, top)?;
        for (points, (_, color)) in lines.into_iter().zip(styles) {
            // A flow seen in one or two seconds (signup in a short run) stays visible.
            if points.len() <= 2 {
                chart
                    .draw_series(points.iter().map(|p| Circle::new(*p, 3, color.filled())))
                    .map_err(err)?;
            }
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))
                .map_err(err)?;
        }
        Ok(())
    })
}

/// Named latency lines (ms) over time on one chart, coloured like flows (0 = blue, 1 =
/// orange): the comparison report's p95 of baseline vs candidate.
pub fn latency_lines_over_time(
    lines: &[(&str, Series)],
    seconds: usize,
) -> Result<String, ExportError> {
    let top = axis_top(
        lines
            .iter()
            .flat_map(|(_, s)| s.iter().map(|p| p.1))
            .fold(0.0, f64::max),
    );
    let end = seconds.max(1) as f64;
    let keys = line_keys(lines);
    svg("latency lines over time", |root| {
        let area = with_legend(root, &keys)?;
        let mut chart = time_chart(&area, end, top, "latency (ms)", &ms_tick)?;
        for (i, (_, points)) in lines.iter().enumerate() {
            let color = flow_color(i);
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                .map_err(err)?;
            // Sparse lines (a flow that ran a few seconds) stay visible as dots.
            if points.len() <= 60 {
                chart
                    .draw_series(points.iter().map(|p| Circle::new(*p, 3, color.filled())))
                    .map_err(err)?;
            }
        }
        Ok(())
    })
}

/// One flow's requests per second and errors per second, averaged per time bucket over
/// its whole seconds ([`Timeline`]), at bucket midpoints.
pub fn throughput_series(flow: &FlowRecord, timeline: &Timeline) -> (Series, Series) {
    let (width, count) = buckets(timeline.seconds);
    let (mut requests, mut errors) = (vec![0u64; count], vec![0u64; count]);
    for s in flow
        .per_second
        .iter()
        .filter(|s| timeline.whole_second(s.t))
    {
        let b = (s.t as usize / width).min(count - 1);
        requests[b] += s.requests;
        errors[b] += s.errors;
    }
    // Whole seconds per bucket: the divisor of its average (0: the bucket is not drawn).
    let whole: Vec<usize> = (0..count)
        .map(|b| {
            let from = b * width;
            let to = if b + 1 == count {
                timeline.seconds.max(from + 1)
            } else {
                from + width
            };
            (from..to)
                .filter(|&t| u32::try_from(t).is_ok_and(|t| timeline.whole_second(t)))
                .count()
        })
        .collect();
    let averaged = |sums: &[u64]| -> Series {
        sums.iter()
            .zip(&whole)
            .enumerate()
            .filter(|(_, (_, &n))| n > 0)
            .map(|(i, (&sum, &n))| ((i * width) as f64 + n as f64 / 2.0, sum as f64 / n as f64))
            .collect()
    };
    (averaged(&requests), averaged(&errors))
}

/// Height of one throughput panel.
pub const PANEL_HEIGHT: u32 = 230;

/// One flow's panel of the throughput small multiples: its req/s (in the flow's colour,
/// `index`) and errors/s on its own y axis, phases shaded.
pub fn throughput_over_time(
    flow: &FlowRecord,
    index: usize,
    timeline: &Timeline,
    phases: &[Phase],
) -> Result<String, ExportError> {
    let (requests, errors) = throughput_series(flow, timeline);
    let top = axis_top(
        requests
            .iter()
            .chain(&errors)
            .map(|p| p.1)
            .fold(0.0, f64::max),
    );
    let end = timeline.seconds.max(1) as f64;
    let color = flow_color(index);
    let keys = [
        Key::new(
            format!("{} req/s", label(&flow.name, 30)),
            color,
            Mark::Line,
        ),
        Key::new("errors/s", ERROR_RED, Mark::Line),
    ];
    svg_sized("throughput over time", PANEL_HEIGHT, |root| {
        let area = with_legend(root, &keys)?;
        let mut chart = time_chart(&area, end, top, "per second", &count_tick)?;
        shade_phases(&chart, phases, end, top)?;
        chart
            .draw_series(LineSeries::new(requests, color.stroke_width(2)))
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(errors, ERROR_RED.stroke_width(2)))
            .map_err(err)?;
        Ok(())
    })
}

/// Active users per second (max per bucket) with the profile's phases shaded and named.
pub fn users_over_time(users: &[u32], phases: &[Phase]) -> Result<String, ExportError> {
    let seconds = users.len().max(
        phases
            .iter()
            .map(|p| p.end_s.ceil() as usize)
            .max()
            .unwrap_or(0),
    );
    let (width, _) = buckets(seconds);
    let points: Vec<(f64, f64)> = users
        .chunks(width)
        .enumerate()
        .map(|(i, c)| {
            let max = c.iter().copied().max().unwrap_or(0);
            ((i * width) as f64, f64::from(max))
        })
        .chain(users.last().map(|&u| (users.len() as f64, f64::from(u))))
        .collect();
    let most = users
        .iter()
        .copied()
        .chain(phases.iter().flat_map(|p| [p.users_from, p.users_to]))
        .max()
        .unwrap_or(0);
    let top = axis_top(f64::from(most));
    let end = seconds.max(1) as f64;
    svg("active users", |root| {
        let mut chart = time_chart(root, end, top, "active users", &count_tick)?;
        shade_phases(&chart, phases, end, top)?;
        let blue = flow_color(0);
        chart
            .draw_series(
                AreaSeries::new(points, 0.0, blue.mix(0.25)).border_style(blue.stroke_width(2)),
            )
            .map_err(err)?;
        Ok(())
    })
}

/// Server-side figures over time (`crate::export::server`): one line per series, each point
/// at the middle of its scrape interval; `percent` shows fractions as 0–100 %.
pub fn server_over_time(
    lines: &[(String, Series)],
    seconds: usize,
    y_desc: &str,
    percent: bool,
) -> Result<String, ExportError> {
    let scale = if percent { 100.0 } else { 1.0 };
    let most = lines
        .iter()
        .flat_map(|(_, s)| s.iter().map(|p| p.1 * scale))
        .fold(0.0, f64::max);
    let top = if percent { 105.0 } else { axis_top(most) };
    let end = seconds.max(1) as f64;
    let keys = line_keys(lines);
    svg("server metrics over time", |root| {
        let area = with_legend(root, &keys)?;
        let mut chart = time_chart(&area, end, top, y_desc, &count_tick)?;
        for (i, (_, points)) in lines.iter().enumerate() {
            let color = flow_color(i);
            let points: Series = points.iter().map(|&(x, y)| (x, y * scale)).collect();
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                .map_err(err)?;
            chart
                .draw_series(
                    points
                        .into_iter()
                        .map(|p| Circle::new(p, 3, color.filled())),
                )
                .map_err(err)?;
        }
        Ok(())
    })
}

/// One legend key per named line, in the flow colours, in order.
fn line_keys<S: AsRef<str>>(lines: &[(S, Series)]) -> Vec<Key> {
    lines
        .iter()
        .enumerate()
        .map(|(i, (name, _))| Key::new(label(name.as_ref(), 40), flow_color(i), Mark::Line))
        .collect()
}
