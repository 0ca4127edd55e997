//! Recovery after a spike: p95 over time against the rule's limit.

use plotters::prelude::*;

use super::common::*;
use super::over_time::merged_latency_series;
use crate::export::ExportError;
use crate::record::{FlowRecord, Phase};

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
