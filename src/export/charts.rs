//! SVG charts drawn with plotters from a RunRecord's numbers, each returned as one `<svg>`
//! string for inline embedding. Pixel coordinates are integers (plotters' backend works in
//! whole pixels), long per-second series are reduced to at most [`MAX_POINTS`] buckets, and
//! every text plotters writes (flow and phase names included) is XML-escaped by plotters'
//! SVG backend; labels from the record are also stripped of control characters and
//! shortened here.
//!
//! Layout rules every chart follows:
//! - **Legends sit outside the plotting area**: a bordered box in a strip above it
//!   ([`with_legend`]), never on top of data.
//! - **Phases are shaded** on every chart over time (latency, throughput, users): one band
//!   per phase of the record, named when it is wide enough; ramps grey, `spike` red,
//!   `recovery` green, other phases alternating blue/orange ([`phase_fill`]).
//! - **Throughput is drawn as small multiples**: one panel per flow with its own linear y
//!   axis (its req/s and its errors/s). Flows of an auth mix differ by 100× and more
//!   (validate vs signup); on one shared axis the small ones flatten to zero, and a log axis
//!   cannot show the zero seconds errors/s mostly has.
//! - **Partial seconds are not drawn** ([`Timeline`]): the second the run ended in covers
//!   less than a second (its count would draw a cliff), and when the first phase starts
//!   inside a second (the open model's clock starts when the pool is ready) that second is
//!   partial too; per-second latency and throughput leave both out.

use hdrhistogram::Histogram;
use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::ExportError;
use crate::histogram::decode;
use crate::record::{FlowRecord, Phase, RunRecord, SecondRecord};
use crate::text::sanitize;

/// Chart size in pixels (the page scales it down on narrow screens).
pub const WIDTH: u32 = 960;
pub const HEIGHT: u32 = 300;
/// The most points (time buckets) a time series is drawn with.
pub const MAX_POINTS: usize = 600;

/// A line's points: (x, y).
pub type Series = Vec<(f64, f64)>;

/// The time axis of a record's per-second charts: its length in seconds and the partial
/// seconds left out of per-second series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timeline {
    /// Seconds the time axis covers.
    pub seconds: usize,
    /// Seconds `t >= end` are partial (the run ended inside second `end`) and not drawn.
    pub end: Option<u32>,
    /// A leading partial second: the one the first phase starts inside, when it does not
    /// start on a whole second.
    pub lead: Option<u32>,
}

impl Timeline {
    /// Every second of `seconds` drawn (no partial second known).
    pub fn whole(seconds: usize) -> Self {
        Timeline {
            seconds,
            end: None,
            lead: None,
        }
    }

    /// The timeline of `record`: its axis from [`super::run_seconds`], the trailing partial
    /// second from `meta.duration_s` (second `t` is whole when `t + 1 <= duration_s`), the
    /// leading one from the first phase's start.
    pub fn of(record: &RunRecord) -> Self {
        let d = record.meta.duration_s;
        let end =
            (d.is_finite() && d > 0.0).then(|| (d + 1e-6).floor().min(f64::from(u32::MAX)) as u32);
        let start = record
            .phases
            .iter()
            .map(|p| p.start_s)
            .filter(|s| s.is_finite())
            .fold(f64::INFINITY, f64::min);
        let lead = (start.is_finite()
            && start > 0.0
            && start.fract() > 1e-6
            && start < f64::from(u32::MAX))
        .then(|| start.floor() as u32);
        Timeline {
            seconds: super::run_seconds(record),
            end,
            lead,
        }
    }

    /// Whether second `t` is drawn (it is a whole second of the run).
    pub fn whole_second(&self, t: u32) -> bool {
        self.end.is_none_or(|e| t < e) && self.lead != Some(t)
    }
}

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
    svg_sized(chart, HEIGHT, draw)
}

/// [`svg`] of `height` pixels.
fn svg_sized<F>(chart: &'static str, height: u32, draw: F) -> Result<String, ExportError>
where
    F: FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), String>,
{
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, height)).into_drawing_area();
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

/// Fill of a phase band: ramps grey, `spike` red, `recovery` green, others alternating
/// blue and orange (by `i`, the phase's index).
pub fn phase_fill(name: &str, i: usize) -> RGBColor {
    let n = name.trim().to_ascii_lowercase();
    if n.ends_with("ramp") || n.starts_with("ramp") {
        RGBColor(238, 240, 243)
    } else if n.contains("spike") {
        RGBColor(253, 224, 220)
    } else if n.contains("recover") {
        RGBColor(221, 244, 228)
    } else if i.is_multiple_of(2) {
        RGBColor(230, 238, 250)
    } else {
        RGBColor(250, 240, 225)
    }
}

/// The phases as shaded bands over the whole height (`0..top`), each named at its top left
/// when the band is wide enough. Drawn before the series, so lines stay on top.
fn shade_phases<'a>(
    chart: &TimeChart<'a>,
    phases: &[Phase],
    end: f64,
    top: f64,
) -> Result<(), String> {
    let area = chart.plotting_area();
    for (i, p) in phases.iter().enumerate() {
        let (x0, x1) = (p.start_s.clamp(0.0, end), p.end_s.clamp(0.0, end));
        if x0.is_nan() || x1.is_nan() || x1 <= x0 {
            continue;
        }
        area.draw(&Rectangle::new(
            [(x0, top), (x1, 0.0)],
            phase_fill(&p.name, i).filled(),
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
    Ok(())
}

/// Recovery after a spike for one scope (`flows` merged): p95 per time bucket with the
/// phases shaded, the rule's limit as a red line, and a green line where the rolling-window
/// p95 was back under it (`recovered_after_s` after the spike's end).
pub fn recovery_over_time(
    flows: &[&FlowRecord],
    timeline: &Timeline,
    phases: &[Phase],
    recovery: &crate::record::Recovery,
) -> Result<String, ExportError> {
    let [_, p95, _] = merged_latency_series(flows, timeline)?;
    let limit = if recovery.limit_ms.is_finite() {
        recovery.limit_ms
    } else {
        0.0
    };
    let top = axis_top(p95.iter().map(|p| p.1).fold(limit, f64::max));
    let end = timeline.seconds.max(1) as f64;
    let at = recovery
        .recovered_after_s
        .map(|s| recovery.spike_end_s + s)
        .filter(|x| x.is_finite() && *x <= end);
    let mut keys = vec![
        Key::new(
            format!("p95 ({})", label(&recovery.scope, 30)),
            flow_color(0),
            Mark::Line,
        ),
        Key::new(format!("limit {}", fmt_limit(limit)), ERROR_RED, Mark::Line),
    ];
    if let Some(s) = recovery.recovered_after_s {
        keys.push(Key::new(
            format!("recovered after {s:.0} s"),
            HELD_GREEN,
            Mark::Line,
        ));
    }
    svg("recovery", |root| {
        let area = with_legend(root, &keys)?;
        let mut chart = time_chart(&area, end, top, "p95 latency (ms)", &ms_tick)?;
        shade_phases(&chart, phases, end, top)?;
        chart
            .draw_series(LineSeries::new(
                vec![(0.0, limit), (end, limit)],
                ERROR_RED.stroke_width(2),
            ))
            .map_err(err)?;
        if let Some(x) = at {
            chart
                .draw_series(LineSeries::new(
                    vec![(x, 0.0), (x, top)],
                    HELD_GREEN.stroke_width(2),
                ))
                .map_err(err)?;
        }
        chart
            .draw_series(LineSeries::new(p95, flow_color(0).stroke_width(2)))
            .map_err(err)?;
        Ok(())
    })
}

fn fmt_limit(ms: f64) -> String {
    crate::units::fmt_ms(ms)
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
    use crate::export::sample::{fixture, spike, synthetic};

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
}
