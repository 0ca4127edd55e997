//! The capacity search's rate curve: the rule's observed value at each rate tried.

use plotters::prelude::*;

use super::axis::RateAxis;
use super::common::*;
use crate::export::ExportError;

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
        let mesh = Mesh {
            x_desc: "arrival rate (requests per second)",
            y_desc: &y_desc,
            y_labels: 6,
            y_fmt: &count_tick,
        };
        let mut chart = plot(&area, 44, RateAxis::new(x_max), y_max, mesh)?;
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
