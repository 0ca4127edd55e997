//! HDR recording during a run: per flow, one histogram per second of completion time (the
//! whole-run histogram is their sum), success/failure counts by class, active users.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::histogram::{encode, new_histogram, Summary};
use crate::record::{FlowRecord, SecondRecord};
use crate::text::sanitize;

pub use crate::flow::Flow;

/// How one request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// `class`: an HTTP status (`401`) or `timeout`, `connect`, `token-missing`, `other`.
    Failed {
        class: String,
        detail: String,
    },
}

/// Most error samples kept per flow, and their length.
const MAX_SAMPLES: usize = 10;
const MAX_SAMPLE_CHARS: usize = 200;
/// Failed requests per flow whose text is scrubbed in the hope of a new sample; beyond them
/// (the same error over and over) no more scrubbing is spent.
const MAX_SAMPLE_ATTEMPTS: u32 = 200;

#[derive(Default)]
struct FlowState {
    per_second: Vec<Option<Histogram<u64>>>,
    sec_requests: Vec<u64>,
    sec_errors: Vec<u64>,
    ok: u64,
    failed: u64,
    errors: BTreeMap<String, u64>,
    samples: Vec<String>,
    sample_attempts: u32,
}

/// Shared by every virtual user of a run.
pub struct Recorder {
    start: Instant,
    /// Open model: how late sends were against their intended time (µs).
    send_lag: Mutex<Histogram<u64>>,
    flows: [Mutex<FlowState>; Flow::ALL.len()],
    active: AtomicI64,
    interrupted: std::sync::atomic::AtomicU64,
    /// Requests sent after a backoff wait.
    delayed_retries: AtomicU64,
    users_per_second: Mutex<Vec<u32>>,
    /// `X-DB-Queries` / `X-Cache` per flow (`HeaderStats::observe` on every response).
    pub headers: crate::server::HeaderStats,
}

/// One flow in a [`Live`] view.
#[derive(Debug, Clone)]
pub struct LiveFlow {
    pub flow: Flow,
    pub requests: u64,
    pub failed: u64,
    /// Whole run so far.
    pub all: Histogram<u64>,
    /// The last few seconds.
    pub recent: Histogram<u64>,
}

/// One flow over a few whole seconds ([`Recorder::window`]).
#[derive(Debug, Clone)]
pub struct WindowFlow {
    pub flow: Flow,
    pub requests: u64,
    pub failed: u64,
    pub hist: Histogram<u64>,
}

/// A point-in-time view for progress lines.
#[derive(Debug, Clone)]
pub struct Live {
    pub elapsed: Duration,
    pub users: u32,
    pub flows: Vec<LiveFlow>,
    /// Connect-error count across flows.
    pub connect_errors: u64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panicking user task cannot leave the counters half-updated in a way that matters
    // more than losing the run; keep recording.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder::starting_at(Instant::now())
    }

    /// A recorder whose time origin is `start` (the two sides of a paired run share one, so
    /// their seconds line up).
    pub fn starting_at(start: Instant) -> Recorder {
        Recorder {
            start,
            send_lag: Mutex::new(new_histogram()),
            flows: Default::default(),
            active: AtomicI64::new(0),
            interrupted: Default::default(),
            delayed_retries: AtomicU64::new(0),
            users_per_second: Mutex::new(Vec::new()),
            headers: crate::server::HeaderStats::new(),
        }
    }

    /// Seconds since the recorder was created (the run's time origin).
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Whether a failure of `flow` may still become an error sample: callers build (and
    /// scrub) the sample text only then.
    pub fn wants_sample(&self, flow: Flow) -> bool {
        let mut st = lock(&self.flows[flow.index()]);
        st.sample_attempts = st.sample_attempts.saturating_add(1);
        st.samples.len() < MAX_SAMPLES && st.sample_attempts <= MAX_SAMPLE_ATTEMPTS
    }

    /// One in-flight request cancelled by an interrupt (not a request of any flow).
    pub fn record_interrupted(&self) {
        self.interrupted.fetch_add(1, Ordering::Relaxed);
    }

    /// In-flight requests cancelled by an interrupt.
    pub fn interrupted(&self) -> u64 {
        self.interrupted.load(Ordering::Relaxed)
    }

    /// Records one finished request.
    pub fn record(&self, flow: Flow, latency: Duration, outcome: Outcome) {
        let sec = self.start.elapsed().as_secs() as usize;
        let us = (latency.as_micros() as u64).max(1);
        let mut st = lock(&self.flows[flow.index()]);
        if st.per_second.len() <= sec {
            st.per_second.resize_with(sec + 1, || None);
            st.sec_requests.resize(sec + 1, 0);
            st.sec_errors.resize(sec + 1, 0);
        }
        st.per_second[sec]
            .get_or_insert_with(new_histogram)
            .saturating_record(us);
        st.sec_requests[sec] += 1;
        match outcome {
            Outcome::Ok => st.ok += 1,
            Outcome::Failed { class, detail } => {
                st.failed += 1;
                st.sec_errors[sec] += 1;
                if st.samples.len() < MAX_SAMPLES && !detail.is_empty() {
                    let s = format!("{class}: {}", sanitize(&detail, MAX_SAMPLE_CHARS));
                    if !st.samples.contains(&s) {
                        st.samples.push(s);
                    }
                }
                *st.errors.entry(class).or_insert(0) += 1;
            }
        }
    }

    /// Records how late a paced send went out.
    pub fn record_send_lag(&self, lag: Duration) {
        lock(&self.send_lag).saturating_record((lag.as_micros() as u64).max(1));
    }

    /// The send-lag histogram so far.
    pub fn send_lag(&self) -> Histogram<u64> {
        lock(&self.send_lag).clone()
    }

    /// The run's time origin.
    pub fn start(&self) -> Instant {
        self.start
    }

    /// One request was sent after its user's backoff wait.
    pub fn retry_delayed(&self) {
        self.delayed_retries.fetch_add(1, Ordering::Relaxed);
    }

    /// Requests sent after a backoff wait, so far.
    pub fn delayed_retries(&self) -> u64 {
        self.delayed_retries.load(Ordering::Relaxed)
    }

    pub fn user_started(&self) {
        self.active.fetch_add(1, Ordering::Relaxed);
    }

    pub fn user_stopped(&self) {
        self.active.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn active_users(&self) -> u32 {
        self.active.load(Ordering::Relaxed).max(0) as u32
    }

    /// Notes the active users for the current second (call about once a second; the highest
    /// value seen in a second is kept).
    pub fn sample_users(&self) {
        let sec = self.start.elapsed().as_secs() as usize;
        let users = self.active_users();
        let mut v = lock(&self.users_per_second);
        if v.len() <= sec {
            let last = v.last().copied().unwrap_or(0);
            v.resize(sec + 1, last);
            v[sec] = users;
        } else {
            v[sec] = v[sec].max(users);
        }
    }

    /// A view of the run so far; `window` seconds make up the "recent" histograms.
    pub fn live(&self, window: u64) -> Live {
        let now = self.start.elapsed();
        let from = now.as_secs().saturating_sub(window) as usize;
        let mut flows = Vec::new();
        let mut connect_errors = 0;
        for flow in Flow::ALL {
            let st = lock(&self.flows[flow.index()]);
            let requests = st.ok + st.failed;
            if requests == 0 {
                continue;
            }
            let mut all = new_histogram();
            let mut recent = new_histogram();
            for (i, h) in st.per_second.iter().enumerate() {
                if let Some(h) = h {
                    let _ = all.add(h);
                    if i >= from {
                        let _ = recent.add(h);
                    }
                }
            }
            connect_errors += st.errors.get("connect").copied().unwrap_or(0);
            flows.push(LiveFlow {
                flow,
                requests,
                failed: st.failed,
                all,
                recent,
            });
        }
        Live {
            elapsed: now,
            users: self.active_users(),
            flows,
            connect_errors,
        }
    }

    /// Per flow, what completed in the seconds `from..to` (flows without requests there are
    /// left out): the evidence one early-abort window judges.
    pub fn window(&self, from: u64, to: u64) -> Vec<WindowFlow> {
        let mut out = Vec::new();
        for flow in Flow::ALL {
            let st = lock(&self.flows[flow.index()]);
            let mut w = WindowFlow {
                flow,
                requests: 0,
                failed: 0,
                hist: new_histogram(),
            };
            for sec in from as usize..(to as usize).min(st.per_second.len()) {
                w.requests += st.sec_requests[sec];
                w.failed += st.sec_errors[sec];
                if let Some(h) = &st.per_second[sec] {
                    let _ = w.hist.add(h);
                }
            }
            if w.requests > 0 {
                out.push(w);
            }
        }
        out
    }

    /// Active users per second, padded to `seconds` entries.
    pub fn users_per_second(&self, seconds: usize) -> Vec<u32> {
        let mut v = lock(&self.users_per_second).clone();
        if v.len() < seconds {
            let last = v.last().copied().unwrap_or(0);
            v.resize(seconds, last);
        }
        v
    }

    /// The flows' records (flows listed in `include` appear even with no requests).
    pub fn finish(&self, include: &[Flow]) -> Vec<FlowRecord> {
        let mut out = Vec::new();
        for flow in Flow::ALL {
            let st = lock(&self.flows[flow.index()]);
            let requests = st.ok + st.failed;
            if requests == 0 && !include.contains(&flow) {
                continue;
            }
            let mut all = new_histogram();
            let mut per_second = Vec::new();
            for (t, h) in st.per_second.iter().enumerate() {
                if let Some(h) = h {
                    let _ = all.add(h);
                    per_second.push(SecondRecord {
                        t: t as u32,
                        requests: st.sec_requests[t],
                        errors: st.sec_errors[t],
                        histogram: encode(h),
                    });
                }
            }
            out.push(FlowRecord {
                name: flow.name().to_string(),
                requests,
                ok: st.ok,
                failed: st.failed,
                errors: st.errors.clone(),
                summary: Summary::of(&all),
                histogram: encode(&all),
                per_second,
                error_samples: st.samples.clone(),
            });
        }
        out
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_histograms_and_classes_add_up() {
        let r = Recorder::new();
        for i in 0..100u64 {
            r.record(Flow::Validate, Duration::from_micros(100 + i), Outcome::Ok);
        }
        for _ in 0..3 {
            r.record(
                Flow::Validate,
                Duration::from_millis(5),
                Outcome::Failed {
                    class: "401".into(),
                    detail: "\x1b[31mno\x1b[0m".into(),
                },
            );
        }
        r.record(
            Flow::Login,
            Duration::ZERO,
            Outcome::Failed {
                class: "timeout".into(),
                detail: String::new(),
            },
        );
        let flows = r.finish(&[Flow::Signup]);
        let names: Vec<&str> = flows.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, vec!["signup", "login", "validate"]);
        let v = &flows[2];
        assert_eq!((v.requests, v.ok, v.failed), (103, 100, 3));
        assert_eq!(v.errors["401"], 3);
        assert_eq!(v.hist().unwrap().len(), 103);
        assert_eq!(v.per_second.iter().map(|s| s.requests).sum::<u64>(), 103);
        assert!(
            !v.error_samples[0].contains('\x1b'),
            "{:?}",
            v.error_samples
        );
        assert_eq!(
            flows[1].hist().unwrap().min(),
            1,
            "zero latency is recorded as 1 µs"
        );
        assert_eq!(flows[0].requests, 0);
    }

    #[test]
    fn users_are_sampled_per_second() {
        let r = Recorder::new();
        r.user_started();
        r.user_started();
        r.sample_users();
        r.user_stopped();
        let v = r.users_per_second(3);
        assert_eq!(v.len(), 3);
        assert_eq!(v[0], 2);
    }
}
