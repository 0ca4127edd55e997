//! An open-model arrival schedule: piecewise linear in rate. Each segment goes from `r0` to
//! `r1` requests/s over `secs`; arrival `k` (0-based) is intended at the time `t` where the
//! cumulative count N(t) = ∫ rate first exceeds `k`. Built by `profile` from its stages, read
//! by the pacer in `attack::pacing`.

/// One linear piece of a rate schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    pub secs: f64,
    pub r0: f64,
    pub r1: f64,
}

impl Segment {
    /// Arrivals in the whole segment.
    fn count(&self) -> f64 {
        (self.r0 + self.r1) / 2.0 * self.secs
    }

    /// Offset into the segment at which `n` arrivals have accumulated (0 ≤ n ≤ count).
    fn time_of(&self, n: f64) -> f64 {
        let a = (self.r1 - self.r0) / (2.0 * self.secs); // N(t) = r0 t + a t²
        if a.abs() < 1e-12 {
            return if self.r0 > 0.0 {
                n / self.r0
            } else {
                self.secs
            };
        }
        // a t² + r0 t − n = 0, the root in [0, secs].
        let disc = (self.r0 * self.r0 + 4.0 * a * n).max(0.0);
        ((-self.r0 + disc.sqrt()) / (2.0 * a)).clamp(0.0, self.secs)
    }
}

/// A whole schedule.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Schedule {
    pub segments: Vec<Segment>,
}

impl Schedule {
    /// Total length in seconds.
    pub fn duration(&self) -> f64 {
        self.segments.iter().map(|s| s.secs).sum()
    }

    /// Total arrivals.
    pub fn total(&self) -> u64 {
        self.segments
            .iter()
            .map(Segment::count)
            .sum::<f64>()
            .floor() as u64
    }

    /// Intended time (seconds from the start) of arrival `k`; `None` past the end.
    pub fn time_of(&self, k: u64) -> Option<f64> {
        // Arrival k is due when k + 1 arrivals' worth of rate has accumulated... minus one:
        // the first arrival (k = 0) goes at t = 0.
        let mut n = k as f64;
        let mut t0 = 0.0;
        for s in &self.segments {
            let c = s.count();
            if n < c {
                return Some(t0 + s.time_of(n));
            }
            n -= c;
            t0 += s.secs;
        }
        None
    }

    /// Peak rate.
    pub fn peak(&self) -> f64 {
        self.segments
            .iter()
            .map(|s| s.r0.max(s.r1))
            .fold(0.0, f64::max)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A constant-rate schedule (also used by the pacer's tests).
    pub(crate) fn flat(rate: f64, secs: f64) -> Schedule {
        Schedule {
            segments: vec![Segment {
                secs,
                r0: rate,
                r1: rate,
            }],
        }
    }

    #[test]
    fn constant_rate_spaces_arrivals_evenly() {
        let s = flat(200.0, 10.0);
        assert_eq!(s.total(), 2000);
        assert_eq!(s.time_of(0), Some(0.0));
        assert!((s.time_of(1).unwrap() - 0.005).abs() < 1e-12);
        assert!((s.time_of(1999).unwrap() - 9.995).abs() < 1e-9);
        assert_eq!(s.time_of(2000), None);
    }

    #[test]
    fn linear_ramp_follows_the_integral() {
        // 0 → 100/s over 10 s: N(t) = 5 t², total 500; arrival k at sqrt(k / 5).
        let s = Schedule {
            segments: vec![Segment {
                secs: 10.0,
                r0: 0.0,
                r1: 100.0,
            }],
        };
        assert_eq!(s.total(), 500);
        for k in [1_u64, 20, 125, 499] {
            let want = (k as f64 / 5.0).sqrt();
            assert!((s.time_of(k).unwrap() - want).abs() < 1e-9, "k={k}");
        }
        // Spike: 20/s (5 s) → 500/s (2 s) → 20/s (5 s).
        let spike = Schedule {
            segments: vec![
                Segment {
                    secs: 5.0,
                    r0: 20.0,
                    r1: 20.0,
                },
                Segment {
                    secs: 2.0,
                    r0: 500.0,
                    r1: 500.0,
                },
                Segment {
                    secs: 5.0,
                    r0: 20.0,
                    r1: 20.0,
                },
            ],
        };
        assert_eq!(spike.total(), 100 + 1000 + 100);
        assert!((spike.time_of(100).unwrap() - 5.0).abs() < 1e-9);
        assert!((spike.time_of(600).unwrap() - 6.0).abs() < 1e-9);
        assert!((spike.time_of(1100).unwrap() - 7.0).abs() < 1e-9);
        assert_eq!(spike.peak(), 500.0);
    }
}
