//! Shared pieces of every chart: sizes, colours, labels and ticks, the SVG canvas, the
//! legend box, the chart layout and mesh styling ([`plot`]) with the plotting-area frame, time
//! buckets and the time chart ([`Timeline`], [`time_chart`]), and phase shading.

use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axis::TimeAxis;
use crate::export::ExportError;
use crate::record::{Phase, RunRecord};
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

    /// The timeline of `record`: its axis from [`crate::export::run_seconds`], the trailing partial
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
            seconds: crate::export::run_seconds(record),
            end,
            lead,
        }
    }

    /// Whether second `t` is drawn (it is a whole second of the run).
    pub fn whole_second(&self, t: u32) -> bool {
        self.end.is_none_or(|e| t < e) && self.lead != Some(t)
    }
}

pub(super) const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(23, 190, 207),
];
pub(super) const ERROR_RED: RGBColor = RGBColor(214, 39, 40);
pub(super) const GRID: RGBColor = RGBColor(225, 225, 225);

/// Colour of the i-th flow, the same in every chart.
pub fn flow_color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

pub(super) fn chart_error(chart: &'static str) -> impl Fn(String) -> ExportError {
    move |message| ExportError::Chart { chart, message }
}

/// A label from the record: no control characters, at most `max` characters.
pub(super) fn label(text: &str, max: usize) -> String {
    sanitize(text, max)
}

pub(super) fn ms_tick(v: &f64) -> String {
    let v = *v;
    if v >= 1000.0 {
        format!("{:.1}s", v / 1000.0)
    } else if v >= 10.0 || v == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

pub(super) fn count_tick(v: &f64) -> String {
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
pub(super) fn svg<F>(chart: &'static str, draw: F) -> Result<String, ExportError>
where
    F: FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), String>,
{
    svg_sized(chart, HEIGHT, draw)
}

/// [`svg`] of `height` pixels.
pub(super) fn svg_sized<F>(chart: &'static str, height: u32, draw: F) -> Result<String, ExportError>
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

pub(super) fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Upper end of a value axis: a little above the largest value, never zero.
pub(super) fn axis_top(max: f64) -> f64 {
    if max.is_finite() && max > 0.0 {
        max * 1.08
    } else {
        1.0
    }
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
/// Margin around every chart (the right one is [`MARGIN_RIGHT`]) and width of its y label
/// area: [`plot`] lays every chart out with them.
const MARGIN: i32 = 12;
const MARGIN_RIGHT: i32 = 36;
const Y_LABEL_AREA: i32 = 56;
/// Left edge of every plotting area (margin + y label area): the legend box starts there.
pub(super) const PLOT_LEFT: i32 = MARGIN + Y_LABEL_AREA;
pub(super) const LEGEND_FONT: u32 = 14;
/// Generous average glyph width of the legend font, so the box always holds its text.
pub(super) const LEGEND_CHAR_PX: i32 = 8;
pub(super) const LEGEND_ROW_PX: i32 = 22;
pub(super) const LEGEND_SWATCH_PX: i32 = 24;
pub(super) const LEGEND_GAP_PX: i32 = 22;

pub(super) fn key_width(k: &Key) -> i32 {
    LEGEND_SWATCH_PX + LEGEND_CHAR_PX * k.name.chars().count() as i32
}

/// Entries per row (greedy), each with its x offset inside the box, for a box at most
/// `width` pixels wide.
pub(super) fn legend_rows(keys: &[Key], width: i32) -> Vec<Vec<(usize, i32)>> {
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
pub(super) fn with_legend<'a>(
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

/// What a chart's mesh shows besides the shared styling: the axis descriptions and the value
/// ticks (at most `y_labels`, labelled by `y_fmt`).
pub(super) struct Mesh<'f> {
    pub x_desc: &'f str,
    pub y_desc: &'f str,
    pub y_labels: usize,
    pub y_fmt: &'f dyn Fn(&f64) -> String,
}

/// A chart on `area` over `x` and the values `0..top`, laid out and styled as every chart is:
/// the same margins and y label area (so the plotting area starts at [`PLOT_LEFT`]),
/// `x_label_area` pixels below it for the x ticks and description, white minor lines, a light
/// grey grid, 15 px labels; then a thin frame around the plotting area (the legend test finds
/// it by colour).
pub(super) fn plot<'a, X>(
    area: &DrawingArea<SVGBackend<'a>, Shift>,
    x_label_area: u32,
    x: X,
    top: f64,
    mesh: Mesh<'_>,
) -> Result<ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, RangedCoordf64>>, String>
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(area)
        .margin(MARGIN)
        .margin_right(MARGIN_RIGHT)
        .x_label_area_size(x_label_area)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(x, 0f64..top)
        .map_err(err)?;
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .bold_line_style(GRID)
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 15))
        .y_labels(mesh.y_labels)
        .y_label_formatter(mesh.y_fmt)
        .x_desc(mesh.x_desc)
        .y_desc(mesh.y_desc)
        .draw()
        .map_err(err)?;
    let frame = chart.plotting_area().strip_coord_spec();
    let (w, h) = frame.dim_in_pixel();
    frame
        .draw(&Rectangle::new(
            [(0, 0), (w as i32 - 1, h as i32 - 1)],
            PLOT_FRAME.stroke_width(1),
        ))
        .map_err(err)?;
    Ok(chart)
}

/// Time buckets for a run of `seconds` seconds: bucket width in seconds and bucket count.
pub fn buckets(seconds: usize) -> (usize, usize) {
    let width = seconds.div_ceil(MAX_POINTS).max(1);
    (width, seconds.div_ceil(width).max(1))
}

pub(super) type TimeChart<'a> =
    ChartContext<'a, SVGBackend<'a>, Cartesian2d<TimeAxis, RangedCoordf64>>;

/// A chart over time (`0..end` s) of values `0..top`.
pub(super) fn time_chart<'a>(
    root: &DrawingArea<SVGBackend<'a>, Shift>,
    end: f64,
    top: f64,
    y_desc: &str,
    y_fmt: &dyn Fn(&f64) -> String,
) -> Result<TimeChart<'a>, String> {
    let mesh = Mesh {
        x_desc: "time (m:ss)",
        y_desc,
        y_labels: 6,
        y_fmt,
    };
    plot(root, 40, TimeAxis::new(end), top, mesh)
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
pub(super) fn shade_phases<'a>(
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

pub(super) const HELD_GREEN: RGBColor = RGBColor(26, 127, 55);
