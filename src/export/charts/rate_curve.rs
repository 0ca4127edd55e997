//! The capacity search's rate curve: the rule's observed value at each rate tried.

use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, ValueFormatter};
use plotters::prelude::*;

use super::common::*;
use crate::export::ExportError;

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
