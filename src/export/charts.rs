//! SVG charts drawn with plotters from a RunRecord's numbers, each returned as one `<svg>`
//! string for inline embedding. Pixel coordinates are integers (plotters' backend works in
//! whole pixels), long per-second series are reduced to at most [`MAX_POINTS`] buckets, and
//! every text plotters writes (flow and phase names included) is XML-escaped by plotters'
//! SVG backend; labels from the record are also stripped of control characters and
//! shortened here.

use hdrhistogram::Histogram;
use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::ExportError;
use crate::attack::recorder::sanitize;
use crate::histogram::decode;
use crate::record::{FlowRecord, Phase, SecondRecord};

/// Chart size in pixels (the page scales it down on narrow screens).
pub const WIDTH: u32 = 960;
pub const HEIGHT: u32 = 300;
/// The most points (time buckets) a time series is drawn with.
pub const MAX_POINTS: usize = 600;

/// A line's points: (x, y).
pub type Series = Vec<(f64, f64)>;

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(23, 190, 207),
];
const ERROR_RED: RGBColor = RGBColor(214, 39, 40);
const GRID: RGBColor = RGBColor(225, 225, 225);

/// Colour of the i-th flow, the same in every chart.
pub fn flow_color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

fn chart_error(chart: &'static str) -> impl Fn(String) -> ExportError {
    move |message| ExportError::Chart { chart, message }
}

/// A label from the record: no control characters, at most `max` characters.
fn label(text: &str, max: usize) -> String {
    sanitize(text, max)
}

/// `m:ss` (or `h:mm:ss`) for a time axis in seconds.
pub fn clock(t: f64) -> String {
    let t = t.max(0.0).round() as u64;
    if t >= 3600 {
        format!("{}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60)
    } else {
        format!("{}:{:02}", t / 60, t % 60)
    }
}

/// Percentile shown for a point of the spectrum axis `x = log10(1 / (1 - p))`.
pub fn spectrum_tick(x: f64) -> String {
    let p = 100.0 * (1.0 - 10f64.powf(-x));
    let text = format!("{p:.5}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}%")
}

fn ms_tick(v: &f64) -> String {
    let v = *v;
    if v >= 1000.0 {
        format!("{:.1}s", v / 1000.0)
    } else if v >= 10.0 || v == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn count_tick(v: &f64) -> String {
    let v = *v;
    if v >= 10_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else if v >= 10.0 || v == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// Renders into a fresh string; `draw` gets the whole drawing area.
fn svg<F>(chart: &'static str, draw: F) -> Result<String, ExportError>
where
    F: FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), String>,
{
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)
            .map_err(|e| e.to_string())
            .and_then(|_| draw(&root))
            .and_then(|_| root.present().map_err(|e| e.to_string()))
            .map_err(chart_error(chart))?;
    }
    Ok(out)
}

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Upper end of a value axis: a little above the largest value, never zero.
fn axis_top(max: f64) -> f64 {
    if max.is_finite() && max > 0.0 {
        max * 1.08
    } else {
        1.0
    }
}

/// The spectrum's x axis: `x = log10(1/(1-p))` from 0 to `max`, linear in x, with ticks
/// only at 50%, 90%, 99%, 99.9%, … (labelled as percentiles).
struct NinesAxis {
    max: f64,
}

impl Ranged for NinesAxis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let f = (value / self.max).clamp(0.0, 1.0);
        limit.0 + (f * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        [2f64.log10(), 1.0, 2.0, 3.0, 4.0, 5.0]
            .into_iter()
            .filter(|x| *x <= self.max + 1e-9)
            .collect()
    }

    fn range(&self) -> std::ops::Range<f64> {
        0.0..self.max
    }
}

impl ValueFormatter<f64> for NinesAxis {
    fn format(value: &f64) -> String {
        spectrum_tick(*value)
    }
}

/// HDR-style percentile spectrum: latency (ms) against `log10(1/(1-p))`, one line per flow,
/// ticks at 50%, 90%, 99%, 99.9%, … up to the resolution the sample count supports.
pub fn spectrum(flows: &[(&str, &Histogram<u64>)]) -> Result<String, ExportError> {
    let most = flows.iter().map(|(_, h)| h.len()).max().unwrap_or(0).max(1);
    let max_x = (most as f64).log10().ceil().clamp(2.0, 5.0);
    let steps = 240;
    let series: Vec<(String, Vec<(f64, f64)>)> = flows
        .iter()
        .filter(|(_, h)| !h.is_empty())
        .map(|(name, h)| {
            let points = (0..=steps)
                .map(|i| {
                    let x = max_x * f64::from(i) / f64::from(steps);
                    let q = 1.0 - 10f64.powf(-x);
                    (x, h.value_at_quantile(q) as f64 / 1000.0)
                })
                .collect();
            (label(name, 40), points)
        })
        .collect();
    let top = axis_top(
        series
            .iter()
            .flat_map(|(_, p)| p.iter().map(|v| v.1))
            .fold(0.0, f64::max),
    );
    let keys: Vec<Key> = series
        .iter()
        .enumerate()
        .map(|(i, (name, _))| Key::new(name.clone(), flow_color(i), Mark::Line))
        .collect();
    svg("spectrum", |root| {
        let area = with_legend(root, &keys)?;
        let mut chart = ChartBuilder::on(&area)
            .margin(12)
            .margin_right(36)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(NinesAxis { max: max_x }, 0f64..top)
            .map_err(err)?;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .label_style(("sans-serif", 15))
            .axis_desc_style(("sans-serif", 15))
            .y_label_formatter(&ms_tick)
            .x_desc("percentile")
            .y_desc("latency (ms)")
            .draw()
            .map_err(err)?;
        frame(&chart)?;
        for (i, (_, points)) in series.into_iter().enumerate() {
            chart
                .draw_series(LineSeries::new(points, flow_color(i).stroke_width(2)))
                .map_err(err)?;
        }
        Ok(())
    })
}

/// How a legend entry shows its series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mark {
    Line,
    Dot,
    Band,
}

/// One legend entry.
#[derive(Debug, Clone)]
pub struct Key {
    pub name: String,
    pub color: RGBColor,
    pub mark: Mark,
}

impl Key {
    pub fn new(name: impl Into<String>, color: RGBColor, mark: Mark) -> Self {
        Key {
            name: name.into(),
            color,
            mark,
        }
    }
}

/// Border of the legend box and frame of the plotting area: two colours no other element
/// uses, so a test can find both rectangles in the SVG.
pub const LEGEND_BORDER: RGBColor = RGBColor(175, 184, 193);
pub const PLOT_FRAME: RGBColor = RGBColor(140, 149, 159);
/// Left edge of every plotting area (margin + y label area): the legend box starts there.
const PLOT_LEFT: i32 = 12 + 56;
const LEGEND_FONT: u32 = 14;
/// Generous average glyph width of the legend font, so the box always holds its text.
const LEGEND_CHAR_PX: i32 = 8;
const LEGEND_ROW_PX: i32 = 22;
const LEGEND_SWATCH_PX: i32 = 24;
const LEGEND_GAP_PX: i32 = 22;

fn key_width(k: &Key) -> i32 {
    LEGEND_SWATCH_PX + LEGEND_CHAR_PX * k.name.chars().count() as i32
}

/// Entries per row (greedy), each with its x offset inside the box, for a box at most
/// `width` pixels wide.
fn legend_rows(keys: &[Key], width: i32) -> Vec<Vec<(usize, i32)>> {
    let mut rows: Vec<Vec<(usize, i32)>> = Vec::new();
    let mut x = 0;
    for (i, k) in keys.iter().enumerate() {
        let w = key_width(k);
        match rows.last_mut() {
            Some(row) if !row.is_empty() && x + LEGEND_GAP_PX + w <= width => {
                row.push((i, x + LEGEND_GAP_PX));
                x += LEGEND_GAP_PX + w;
            }
            _ => {
                rows.push(vec![(i, 0)]);
                x = w;
            }
        }
    }
    rows
}

/// The legend, outside the plotting area: a strip on top of `root` holding a bordered box
/// of `keys` (wrapped into rows), aligned with the plotting area's left edge. Returns the
/// area below the strip, where the chart goes; with no keys, `root` itself.
fn with_legend<'a>(
    root: &DrawingArea<SVGBackend<'a>, Shift>,
    keys: &[Key],
) -> Result<DrawingArea<SVGBackend<'a>, Shift>, String> {
    if keys.is_empty() {
        return Ok(root.clone());
    }
    let pad = 6;
    let (w, _) = root.dim_in_pixel();
    let max_width = w as i32 - PLOT_LEFT - 2 * pad - 24;
    let rows = legend_rows(keys, max_width);
    let box_w = rows
        .iter()
        .filter_map(|r| r.last().map(|&(i, x)| x + key_width(&keys[i])))
        .max()
        .unwrap_or(0)
        + 2 * pad;
    let box_h = rows.len() as i32 * LEGEND_ROW_PX + pad;
    let top = 8;
    let (strip, rest) = root.split_vertically(top + box_h + 4);
    let corner = |x: i32, y: i32| (PLOT_LEFT + x, top + y);
    strip
        .draw(&Rectangle::new(
            [corner(0, 0), corner(box_w, box_h)],
            LEGEND_BORDER.stroke_width(1),
        ))
        .map_err(err)?;
    let font = ("sans-serif", LEGEND_FONT)
        .into_font()
        .color(&RGBColor(31, 35, 40))
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (r, row) in rows.iter().enumerate() {
        let y = pad + r as i32 * LEGEND_ROW_PX + LEGEND_ROW_PX / 2 - 1;
        for &(i, x) in row {
            let k = &keys[i];
            let (x0, ym) = corner(pad + x, y);
            match k.mark {
                Mark::Line => strip
                    .draw(&PathElement::new(
                        vec![(x0, ym), (x0 + 18, ym)],
                        k.color.stroke_width(3),
                    ))
                    .map_err(err)?,
                Mark::Dot => strip
                    .draw(&Circle::new((x0 + 9, ym), 5, k.color.filled()))
                    .map_err(err)?,
                Mark::Band => strip
                    .draw(&Rectangle::new(
                        [(x0, ym - 7), (x0 + 18, ym + 7)],
                        k.color.filled(),
                    ))
                    .map_err(err)?,
            }
            strip
                .draw(&Text::new(
                    k.name.clone(),
                    (x0 + LEGEND_SWATCH_PX, ym),
                    font.clone(),
                ))
                .map_err(err)?;
        }
    }
    Ok(rest)
}

/// A thin frame around a chart's plotting area (the legend test finds it by colour).
fn frame<X: Ranged, Y: Ranged>(
    chart: &ChartContext<'_, SVGBackend<'_>, Cartesian2d<X, Y>>,
) -> Result<(), String> {
    let area = chart.plotting_area().strip_coord_spec();
    let (w, h) = area.dim_in_pixel();
    area.draw(&Rectangle::new(
        [(0, 0), (w as i32 - 1, h as i32 - 1)],
        PLOT_FRAME.stroke_width(1),
    ))
    .map_err(err)
}

/// Time buckets for a run of `seconds` seconds: bucket width in seconds and bucket count.
pub fn buckets(seconds: usize) -> (usize, usize) {
    let width = seconds.div_ceil(MAX_POINTS).max(1);
    (width, seconds.div_ceil(width).max(1))
}

/// p50 / p95 / p99 of one flow per time bucket (ms), from its per-second histograms merged
/// per bucket (percentiles are never averaged).
pub fn latency_series(flow: &FlowRecord, seconds: usize) -> Result<[Series; 3], ExportError> {
    let (width, count) = buckets(seconds);
    let bucket = |t: u32| (t as usize / width).min(count - 1);
    // One bucket at a time (seconds in time order), so memory holds one merged histogram,
    // not one per bucket.
    let mut order: Vec<&SecondRecord> = flow.per_second.iter().filter(|s| s.requests > 0).collect();
    order.sort_by_key(|s| s.t);
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
    for s in order {
        let fail = |message: String| ExportError::Histogram {
            flow: flow.name.clone(),
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

/// p50 / p95 / p99 over time for one flow.
pub fn latency_over_time(flow: &FlowRecord, seconds: usize) -> Result<String, ExportError> {
    let lines = latency_series(flow, seconds)?;
    let top = axis_top(lines.iter().flatten().map(|p| p.1).fold(0.0, f64::max));
    let end = seconds.max(1) as f64;
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
        for (points, (_, color)) in lines.into_iter().zip(styles) {
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
    let keys: Vec<Key> = lines
        .iter()
        .enumerate()
        .map(|(i, (name, _))| Key::new(label(name, 40), flow_color(i), Mark::Line))
        .collect();
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

type TimeChart<'a> =
    ChartContext<'a, SVGBackend<'a>, Cartesian2d<TimeAxis, plotters::coord::types::RangedCoordf64>>;

/// A time axis in seconds from 0 to `end`, with ticks on round durations (10 s, 1 min,
/// 5 min, …) labelled `m:ss`.
struct TimeAxis {
    end: f64,
}

/// Tick step for an axis of `end` seconds: the smallest round step giving at most `max` ticks.
pub fn time_step(end: f64, max: usize) -> f64 {
    const STEPS: [f64; 16] = [
        1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
        14400.0, 43200.0,
    ];
    let max = max.clamp(2, 12) as f64;
    STEPS
        .into_iter()
        .find(|step| end / step <= max)
        .unwrap_or(86400.0)
}

impl Ranged for TimeAxis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let f = value / self.end.max(1e-9);
        limit.0 + (f * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        let step = time_step(self.end, hint.max_num_points());
        // Bounded: a hostile run.json may claim a run of 1e300 s (the step tops out at a day).
        (0..64)
            .map(|k| f64::from(k) * step)
            .take_while(|t| *t <= self.end + 1e-9)
            .collect()
    }

    fn range(&self) -> std::ops::Range<f64> {
        0.0..self.end
    }
}

impl ValueFormatter<f64> for TimeAxis {
    fn format(value: &f64) -> String {
        clock(*value)
    }
}

fn time_chart<'a>(
    root: &DrawingArea<SVGBackend<'a>, Shift>,
    end: f64,
    top: f64,
    y_desc: &str,
    y_fmt: &dyn Fn(&f64) -> String,
) -> Result<TimeChart<'a>, String> {
    let mut chart = ChartBuilder::on(root)
        .margin(12)
        .margin_right(36)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d(TimeAxis { end }, 0f64..top)
        .map_err(err)?;
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .bold_line_style(GRID)
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 15))
        .y_labels(6)
        .y_label_formatter(y_fmt)
        .x_desc("time (m:ss)")
        .y_desc(y_desc)
        .draw()
        .map_err(err)?;
    frame(&chart)?;
    Ok(chart)
}

/// Requests per second per flow and errors per second of all flows, averaged per bucket.
pub fn throughput_series(flows: &[FlowRecord], seconds: usize) -> (Vec<Series>, Series) {
    let (width, count) = buckets(seconds);
    let mut errors = vec![0u64; count];
    let per_flow = flows
        .iter()
        .map(|f| {
            let mut requests = vec![0u64; count];
            for s in &f.per_second {
                let b = (s.t as usize / width).min(count - 1);
                requests[b] += s.requests;
                errors[b] += s.errors;
            }
            averaged(&requests, width, seconds)
        })
        .collect();
    (per_flow, averaged(&errors, width, seconds))
}

/// Bucket sums to per-second averages at bucket midpoints (the last bucket may be short).
fn averaged(sums: &[u64], width: usize, seconds: usize) -> Series {
    sums.iter()
        .enumerate()
        .map(|(i, &n)| {
            let start = i * width;
            let len = width.min(seconds.saturating_sub(start)).max(1);
            (start as f64 + len as f64 / 2.0, n as f64 / len as f64)
        })
        .collect()
}

/// Requests/s per flow and errors/s (all flows) over time.
pub fn throughput_over_time(flows: &[FlowRecord], seconds: usize) -> Result<String, ExportError> {
    let (per_flow, errors) = throughput_series(flows, seconds);
    let top = axis_top(
        per_flow
            .iter()
            .flatten()
            .chain(&errors)
            .map(|p| p.1)
            .fold(0.0, f64::max),
    );
    let end = seconds.max(1) as f64;
    let keys: Vec<Key> = flows
        .iter()
        .enumerate()
        .map(|(i, f)| {
            Key::new(
                format!("{} req/s", label(&f.name, 30)),
                flow_color(i),
                Mark::Line,
            )
        })
        .chain([Key::new("errors/s (all flows)", ERROR_RED, Mark::Line)])
        .collect();
    svg("throughput over time", |root| {
        let area = with_legend(root, &keys)?;
        let mut chart = time_chart(&area, end, top, "per second", &count_tick)?;
        for (i, points) in per_flow.into_iter().enumerate() {
            chart
                .draw_series(LineSeries::new(points, flow_color(i).stroke_width(2)))
                .map_err(err)?;
        }
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
    let shades = [RGBColor(230, 238, 250), RGBColor(250, 240, 225)];
    svg("active users", |root| {
        let mut chart = time_chart(root, end, top, "active users", &count_tick)?;
        let area = chart.plotting_area();
        for (i, p) in phases.iter().enumerate() {
            let (x0, x1) = (p.start_s.clamp(0.0, end), p.end_s.clamp(0.0, end));
            if x1 <= x0 {
                continue;
            }
            area.draw(&Rectangle::new(
                [(x0, top), (x1, 0.0)],
                shades[i % 2].filled(),
            ))
            .map_err(err)?;
            let px = chart.backend_coord(&(x1, 0.0)).0 - chart.backend_coord(&(x0, 0.0)).0;
            let fits = (px.max(0) as usize / 7).saturating_sub(1);
            if fits >= 3 {
                let style = ("sans-serif", 13).into_font().color(&RGBColor(90, 90, 90));
                let name = Text::new(label(&p.name, fits.min(40)), (4, 4), style);
                area.draw(&(EmptyElement::at((x0, top)) + name))
                    .map_err(err)?;
            }
        }
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
    let keys: Vec<Key> = lines
        .iter()
        .enumerate()
        .map(|(i, (name, _))| Key::new(label(name, 40), flow_color(i), Mark::Line))
        .collect();
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

/// A rate axis from 0 to `end` (req/s) with ticks at whole multiples of a round step
/// (1, 2, 5 × 10^k, at least 1), labelled `200/s`.
struct RateAxis {
    end: f64,
}

/// Tick step of a rate axis: the smallest of 1, 2, 5, 10, 20, 50, … giving at most `max`
/// ticks over `end`.
pub fn rate_step(end: f64, max: usize) -> f64 {
    let max = max.clamp(2, 12) as f64;
    let mut step = 1.0;
    // Bounded: steps grow tenfold every three rounds, far past any finite f64 rate axis.
    for k in 0..1000 {
        if end.is_nan() || end / step <= max {
            break;
        }
        step = [1.0, 2.0, 5.0][(k + 1) % 3] * 10f64.powi(((k + 1) / 3) as i32);
    }
    step
}

impl Ranged for RateAxis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let f = value / self.end.max(1e-9);
        limit.0 + (f * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        let step = rate_step(self.end, hint.max_num_points());
        (0..64)
            .map(|k| f64::from(k) * step)
            .take_while(|x| *x <= self.end + 1e-9)
            .collect()
    }

    fn range(&self) -> std::ops::Range<f64> {
        0.0..self.end
    }
}

impl ValueFormatter<f64> for RateAxis {
    fn format(value: &f64) -> String {
        format!("{value:.0}/s")
    }
}

/// One capacity step on the rate curve: the target rate, the rule's observed value (in the
/// chart's unit) and whether the step held.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RatePoint {
    pub rate: f64,
    pub value: f64,
    pub held: bool,
}

const HELD_GREEN: RGBColor = RGBColor(26, 127, 55);

/// Capacity search: the observed value of the rule's metric at each rate tried (a green dot
/// where the step held, red where it failed), with the rule's limit as a horizontal line.
/// x: arrival rate (ticks `200/s`), y: `y_desc` (the metric and its unit, e.g.
/// `p95 latency (ms)`); `limit_text` names the limit in the legend.
pub fn rate_curve(
    points: &[RatePoint],
    limit: f64,
    limit_text: &str,
    y_desc: &str,
) -> Result<String, ExportError> {
    let mut pts: Vec<RatePoint> = points
        .iter()
        .copied()
        .filter(|p| p.rate.is_finite() && p.value.is_finite())
        .collect();
    pts.sort_by(|a, b| a.rate.total_cmp(&b.rate));
    let x_max = axis_top(pts.iter().map(|p| p.rate).fold(0.0, f64::max));
    let limit = if limit.is_finite() { limit } else { 0.0 };
    let y_max = axis_top(pts.iter().map(|p| p.value).fold(limit, f64::max));
    let y_desc = label(y_desc, 60);
    let keys = [
        Key::new("observed", flow_color(0), Mark::Line),
        Key::new("held", HELD_GREEN, Mark::Dot),
        Key::new("failed", ERROR_RED, Mark::Dot),
        Key::new(
            format!("limit {}", label(limit_text, 40)),
            ERROR_RED,
            Mark::Line,
        ),
    ];
    svg("capacity", |root| {
        let area = with_legend(root, &keys)?;
        let mut chart = ChartBuilder::on(&area)
            .margin(12)
            .margin_right(36)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(RateAxis { end: x_max }, 0.0..y_max)
            .map_err(err)?;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .label_style(("sans-serif", 15))
            .axis_desc_style(("sans-serif", 15))
            .y_labels(6)
            .y_label_formatter(&count_tick)
            .x_desc("arrival rate (requests per second)")
            .y_desc(y_desc.as_str())
            .draw()
            .map_err(err)?;
        frame(&chart)?;
        chart
            .draw_series(LineSeries::new(
                vec![(0.0, limit), (x_max, limit)],
                ERROR_RED.stroke_width(2),
            ))
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(
                pts.iter().map(|p| (p.rate, p.value)),
                flow_color(0).stroke_width(2),
            ))
            .map_err(err)?;
        chart
            .draw_series(pts.iter().map(|p| {
                let color = if p.held { HELD_GREEN } else { ERROR_RED };
                Circle::new((p.rate, p.value), 5, color.filled())
            }))
            .map_err(err)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::sample::{fixture, synthetic};

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
        let [p50, p95, p99] = latency_series(&r.flows[0], 10).unwrap();
        assert_eq!(p50.len(), 10);
        assert_eq!((p50[0].0, (p50[0].1 * 10.0).round() / 10.0), (0.5, 50.0));
        assert!((p95[9].1 - 995.0).abs() < 1.0 && (p99[9].1 - 999.0).abs() < 1.0);
        let (per_flow, errors) = throughput_series(&r.flows, 10);
        assert_eq!(
            per_flow[0],
            (0..10).map(|t| (t as f64 + 0.5, 100.0)).collect::<Vec<_>>()
        );
        assert_eq!(errors[2].1, 4.0);
        assert_eq!(errors.iter().map(|e| e.1).sum::<f64>(), 4.0);
    }

    #[test]
    fn long_runs_are_downsampled_by_merging() {
        let r = synthetic(1800, &["a", "b"], 10, 20);
        let lines = latency_series(&r.flows[1], 1800).unwrap();
        assert!(lines.iter().all(|l| l.len() <= MAX_POINTS && l.len() > 500));
        let (per_flow, _) = throughput_series(&r.flows, 1800);
        let total: f64 = per_flow[1].iter().map(|p| p.1 * 3.0).sum();
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
        for f in &mut r.flows {
            f.per_second.clear();
        }
        assert!(latency_over_time(&r.flows[0], 0)
            .unwrap()
            .starts_with("<svg"));
        assert!(throughput_over_time(&[], 0).unwrap().starts_with("<svg"));
        assert!(users_over_time(&[], &[]).unwrap().starts_with("<svg"));
        assert!(spectrum(&[]).unwrap().starts_with("<svg"));
    }
}
