//! SVG charts drawn with plotters from a RunRecord's numbers, each returned as one `<svg>`
//! string for inline embedding. Pixel coordinates are integers (plotters' backend works in
//! whole pixels), long per-second series are reduced to at most [`MAX_POINTS`] buckets, and
//! every text plotters writes (flow and phase names included) is XML-escaped by plotters'
//! SVG backend; labels from the record are also stripped of control characters and
//! shortened here.
//!
//! Layout rules every chart follows:
//! - **Legends sit outside the plotting area**: a bordered box in a strip above it
//!   ([`common::with_legend`]), never on top of data.
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
//!
//! Files: [`common`] (sizes, colours, legend box, chart layout and mesh, frame, time chart,
//! phase shading, SVG helpers), [`axis`] (the time and rate axes), [`over_time`] (latency, throughput, users and server figures over time),
//! [`spectrum`] (percentile spectrum), [`recovery`] (recovery after a spike),
//! [`rate_curve`] (the capacity search's curve).

mod axis;
mod common;
mod over_time;
mod rate_curve;
mod recovery;
mod spectrum;
#[cfg(test)]
mod tests;

pub use axis::{clock, rate_step, time_step};
pub use common::{
    buckets, flow_color, phase_fill, Key, Mark, Series, Timeline, HEIGHT, LEGEND_BORDER,
    MAX_POINTS, PLOT_FRAME, WIDTH,
};
pub use over_time::{
    latency_lines_over_time, latency_over_time, latency_series, merged_latency_series,
    server_over_time, throughput_over_time, throughput_series, users_over_time, PANEL_HEIGHT,
};
pub use rate_curve::{rate_curve, RatePoint};
pub use recovery::recovery_over_time;
pub use spectrum::{spectrum, spectrum_tick};
