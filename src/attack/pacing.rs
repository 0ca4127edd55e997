//! Open-model pacing: requests are scheduled at intended times computed from a clock (not from
//! sleep wake-ups), and latency is measured from the intended time — so a stalled server is
//! charged for the requests it delayed (no coordinated omission), as in wrk2.
//!
//! The schedule is piecewise linear in rate: each segment goes from `r0` to `r1` requests/s
//! over `secs`. Arrival `k` (0-based) is intended at the time `t` where the cumulative count
//! N(t) = ∫ rate first exceeds `k`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

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

/// What a virtual user should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Send now; latency counts from `intended`.
    Go { intended: Instant },
    /// This arrival came too late to be worth sending (later than the request timeout):
    /// counted as dropped.
    Dropped,
    /// The schedule is over.
    Done,
}

/// Hands out arrivals to users: each call claims the next intended time and waits for it.
///
/// The schedule's clock starts when the whole user pool is ready (signed up and logged in),
/// or at `latest_start`, whichever comes first — so setup never makes the first arrivals late.
pub struct Pacer {
    schedule: Schedule,
    start: std::sync::OnceLock<Instant>,
    latest_start: Instant,
    pool: u32,
    ready: std::sync::atomic::AtomicU32,
    started: tokio::sync::Notify,
    next: AtomicU64,
    /// Arrivals more than this late are dropped.
    max_lag: Duration,
    pub late: AtomicU64,
    pub dropped: AtomicU64,
    pub sent: AtomicU64,
}

/// A send later than this after its intended time counts as late.
pub const LATE_AFTER: Duration = Duration::from_millis(10);

/// Wake-ups of tokio's timer land up to ~1 ms after the deadline (its wheel ticks in
/// milliseconds). A send within this slack of its intended time is timed from the actual send,
/// so timer granularity is not charged to the target; later sends are timed from the intended
/// time (coordinated-omission correction).
pub const TIMER_SLACK: Duration = Duration::from_millis(2);

impl Pacer {
    /// A pacer for `pool` users whose clock starts at `latest_start` at the latest.
    pub fn new(schedule: Schedule, latest_start: Instant, pool: u32, max_lag: Duration) -> Pacer {
        Pacer {
            schedule,
            start: std::sync::OnceLock::new(),
            latest_start,
            pool,
            ready: std::sync::atomic::AtomicU32::new(0),
            started: tokio::sync::Notify::new(),
            next: AtomicU64::new(0),
            max_lag,
            late: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            sent: AtomicU64::new(0),
        }
    }

    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// A user finished its setup; the last one starts the clock.
    pub fn user_ready(&self) {
        if self.ready.fetch_add(1, Ordering::Relaxed) + 1 >= self.pool {
            self.start.get_or_init(Instant::now);
            self.started.notify_waiters();
        }
    }

    /// When the schedule's clock started (`None` before it has).
    pub fn started_at(&self) -> Option<Instant> {
        self.start.get().copied()
    }

    async fn clock(&self) -> Instant {
        loop {
            let notified = self.started.notified();
            if let Some(s) = self.start.get() {
                return *s;
            }
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep_until(self.latest_start.into()) => {
                    return *self.start.get_or_init(|| self.latest_start);
                }
            }
        }
    }

    /// Claims the next arrival and sleeps until its intended time.
    pub async fn next(&self) -> Pace {
        let k = self.next.fetch_add(1, Ordering::Relaxed);
        let Some(t) = self.schedule.time_of(k) else {
            return Pace::Done;
        };
        let intended = self.clock().await + Duration::from_secs_f64(t);
        let now = Instant::now();
        if intended > now {
            tokio::time::sleep_until(intended.into()).await;
        } else {
            let lag = now - intended;
            if lag > self.max_lag {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                return Pace::Dropped;
            }
        }
        if Instant::now().saturating_duration_since(intended) > LATE_AFTER {
            self.late.fetch_add(1, Ordering::Relaxed);
        }
        self.sent.fetch_add(1, Ordering::Relaxed);
        Pace::Go { intended }
    }
}

/// Parses `200/s`, `200`, `12000/m` into requests per second.
pub fn parse_rate(text: &str) -> Result<f64, String> {
    let s = text.trim();
    let (num, per) = match s.split_once('/') {
        Some((n, u)) => (n.trim(), u.trim()),
        None => (s, "s"),
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("'{text}' is not a rate like 200/s"))?;
    let scale = match per {
        "s" | "sec" => 1.0,
        "m" | "min" => 1.0 / 60.0,
        other => {
            return Err(format!(
                "unknown rate unit '/{other}' in '{text}' (use /s or /m)"
            ))
        }
    };
    crate::limits::rate("rate", text, v * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(rate: f64, secs: f64) -> Schedule {
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

    #[tokio::test]
    async fn pacer_hands_out_each_arrival_once_and_accounts_for_drops() {
        // A schedule that started 10 s ago: the first arrivals are far too late.
        let start = Instant::now() - Duration::from_secs(10);
        // The pool never becomes ready: the latest start (10 s ago) fixes the clock.
        let p = Pacer::new(flat(10.0, 10.5), start, 2, Duration::from_secs(1));
        let mut go = 0;
        let mut dropped = 0;
        loop {
            match p.next().await {
                Pace::Go { .. } => go += 1,
                Pace::Dropped => dropped += 1,
                Pace::Done => break,
            }
        }
        assert_eq!(go + dropped, 105);
        assert!(dropped >= 90, "dropped {dropped}");
        assert_eq!(p.dropped.load(Ordering::Relaxed), dropped);
        assert_eq!(p.sent.load(Ordering::Relaxed), go);
    }

    #[tokio::test]
    async fn the_clock_starts_when_the_pool_is_ready() {
        let p = Pacer::new(
            flat(1000.0, 1.0),
            Instant::now() + Duration::from_secs(60),
            2,
            Duration::from_secs(1),
        );
        assert_eq!(p.started_at(), None);
        p.user_ready();
        assert_eq!(p.started_at(), None, "one of two users ready");
        p.user_ready();
        let t0 = p.started_at().expect("started when both were ready");
        match p.next().await {
            Pace::Go { intended } => assert_eq!(intended, t0),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rates_parse() {
        assert_eq!(parse_rate("200/s").unwrap(), 200.0);
        assert_eq!(parse_rate("120/m").unwrap(), 2.0);
        assert_eq!(parse_rate("50").unwrap(), 50.0);
        assert!(parse_rate("0/s").is_err());
        assert!(parse_rate("fast").is_err());
        assert!(parse_rate("5/h").is_err());
    }
}
