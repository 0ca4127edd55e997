//! The HDR-style percentile spectrum: latency against a `log10(1/(1-p))` axis.

use hdrhistogram::Histogram;
use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, ValueFormatter};
use plotters::prelude::*;

use super::common::*;
use crate::export::ExportError;

/// Percentile shown for a point of the spectrum axis `x = log10(1 / (1 - p))`.
pub fn spectrum_tick(x: f64) -> String {
    let p = 100.0 * (1.0 - 10f64.powf(-x));
    let text = format!("{p:.5}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}%")
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
        let mesh = Mesh {
            x_desc: "percentile",
            y_desc: "latency (ms)",
            // Plotters' default, which this chart has always had.
            y_labels: 11,
            y_fmt: &ms_tick,
        };
        let mut chart = plot(&area, 40, NinesAxis { max: max_x }, top, mesh)?;
        for (i, (_, points)) in series.into_iter().enumerate() {
            chart
                .draw_series(LineSeries::new(points, flow_color(i).stroke_width(2)))
                .map_err(err)?;
        }
        Ok(())
    })
}
