//! Open-model pacing: requests are scheduled at intended times computed from a clock (not from
//! sleep wake-ups), and latency is measured from the intended time — so a stalled server is
//! charged for the requests it delayed (no coordinated omission), as in wrk2.
//!
//! The intended times come from a [`Schedule`] (piecewise linear in rate, `crate::schedule`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::schedule::Schedule;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::tests::flat;

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
}
