//! The round-step axes of the charts: one linear axis type, [`StepAxis`], in seconds
//! ([`TimeAxis`], ticks labelled `m:ss`) or in requests per second ([`RateAxis`], `200/s`).

use std::marker::PhantomData;

use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, ValueFormatter};
use plotters::prelude::Ranged;

/// What a [`StepAxis`] measures: where its ticks fall and how they read.
pub(super) trait AxisUnit {
    /// Tick step for an axis of `end` units giving at most `max` ticks.
    fn step(end: f64, max: usize) -> f64;
    /// A tick's label.
    fn label(value: f64) -> String;
}

/// A linear axis from 0 to `end` with ticks at whole multiples of a round step of its unit:
/// [`TimeAxis`] (seconds, ticks on round durations labelled `m:ss`) or [`RateAxis`]
/// (requests per second, ticks on 1, 2, 5 × 10^k labelled `200/s`).
pub(super) struct StepAxis<U> {
    end: f64,
    unit: PhantomData<U>,
}

impl<U> StepAxis<U> {
    pub(super) fn new(end: f64) -> Self {
        StepAxis {
            end,
            unit: PhantomData,
        }
    }
}

impl<U: AxisUnit> Ranged for StepAxis<U> {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let f = value / self.end.max(1e-9);
        limit.0 + (f * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        let step = U::step(self.end, hint.max_num_points());
        // Bounded: a hostile run.json may claim a run of 1e300 s (the time step tops out at a
        // day; a NaN end gives no tick at all).
        (0..64)
            .map(|k| f64::from(k) * step)
            .take_while(|x| *x <= self.end + 1e-9)
            .collect()
    }

    fn range(&self) -> std::ops::Range<f64> {
        0.0..self.end
    }
}

impl<U: AxisUnit> ValueFormatter<f64> for StepAxis<U> {
    fn format(value: &f64) -> String {
        U::label(*value)
    }
}

/// Seconds, for [`TimeAxis`].
pub(super) struct Seconds;

impl AxisUnit for Seconds {
    fn step(end: f64, max: usize) -> f64 {
        time_step(end, max)
    }

    fn label(value: f64) -> String {
        clock(value)
    }
}

/// Requests per second, for [`RateAxis`].
pub(super) struct PerSecond;

impl AxisUnit for PerSecond {
    fn step(end: f64, max: usize) -> f64 {
        rate_step(end, max)
    }

    fn label(value: f64) -> String {
        format!("{value:.0}/s")
    }
}

/// A time axis in seconds, ticks on round durations (10 s, 1 min, 5 min, …) labelled `m:ss`.
pub(super) type TimeAxis = StepAxis<Seconds>;
/// A rate axis in requests per second, ticks at whole multiples of 1, 2, 5 × 10^k labelled
/// `200/s`.
pub(super) type RateAxis = StepAxis<PerSecond>;

/// Tick step for a time axis of `end` seconds: the smallest round step giving at most `max`
/// ticks.
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

/// `m:ss` (or `h:mm:ss`) for a time axis in seconds.
pub fn clock(t: f64) -> String {
    let t = t.max(0.0).round() as u64;
    if t >= 3600 {
        format!("{}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60)
    } else {
        format!("{}:{:02}", t / 60, t % 60)
    }
}
