//! The live monitor of a run: once a second it samples the user count, redraws the progress,
//! and ends the run early — through Goose's killswitch, with the reason kept in a [`Stopper`] —
//! on a signal, a target that refuses every connection, the watchdog, or an early-abort rule.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;

use super::abort::AbortGate;
use super::progress;
use super::recorder::Recorder;

/// Why the run stopped early, if it did: the first reason given wins, and is set before the
/// killswitch is pulled. The flag says the run cannot be judged.
#[derive(Clone, Default)]
pub struct Stopper(Arc<Mutex<Option<(String, bool)>>>);

impl Stopper {
    pub fn stop(&self, reason: String, unjudgeable: bool) {
        let mut r = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if r.is_none() {
            *r = Some((reason.clone(), unjudgeable));
            goose::trigger_killswitch(&reason);
        }
    }

    /// The reason given, if any.
    pub fn reason(&self) -> Option<(String, bool)> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// What the monitor watches for and draws.
pub struct Watch {
    /// The profile's planned duration (progress and the watchdog's bound).
    pub planned: Duration,
    /// The watchdog's bound: the run is ended past it.
    pub limit: Duration,
    /// Progress on stderr: a redrawn bar on a terminal, plain lines every 5 s otherwise.
    pub progress: bool,
    /// Early-abort rules, when enabled.
    pub gate: Option<AbortGate>,
}

/// Starts the monitor over `recorder` (progress, unreachable target and early aborts are
/// judged on it; `others`, the other side of a paired run, only sample their users). Abort
/// the handle when the run is over, then call [`clear_progress`].
pub fn spawn(
    recorder: Arc<Recorder>,
    others: Vec<Arc<Recorder>>,
    stopper: Stopper,
    watch: Watch,
) -> JoinHandle<()> {
    let Watch {
        planned,
        limit,
        progress,
        mut gate,
    } = watch;
    let tty = progress && std::io::stderr().is_terminal();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut n = 0u64;
        let mut signalled = false;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = crate::interrupt::cancelled(), if !signalled => {
                    signalled = true;
                    let sig = crate::interrupt::requested().unwrap_or(crate::interrupt::SIGINT);
                    stopper.stop(format!("interrupted ({})", crate::interrupt::signal_name(sig)), false);
                }
            }
            // Goose resets its killswitch when it starts: a signal that arrived before then is
            // re-applied on every tick.
            if signalled && !goose::is_killswitch_triggered() {
                goose::trigger_killswitch("interrupted");
            }
            n += 1;
            recorder.sample_users();
            others.iter().for_each(|r| r.sample_users());
            let live = recorder.live(5);
            if tty {
                eprint!(
                    "\r\x1b[2K{}",
                    progress::bar_line(&live, planned, progress::WIDTH)
                );
            } else if progress && n.is_multiple_of(5) {
                for line in progress::plain_lines(&live, planned) {
                    eprintln!("{line}");
                }
            }
            let requests: u64 = live.flows.iter().map(|f| f.requests).sum();
            if live.elapsed >= Duration::from_secs(5)
                && requests > 0
                && live.connect_errors == requests
            {
                stopper.stop(
                    format!("target unreachable: all {requests} requests failed to connect"),
                    true,
                );
            }
            if live.elapsed > limit {
                stopper.stop(
                    format!("watchdog: run exceeded {} s", limit.as_secs()),
                    false,
                );
            }
            while let Some((from, to)) = gate.as_ref().and_then(|g| g.due(live.elapsed)) {
                let window = recorder.window(from, to);
                if let Some(reason) = gate.as_mut().and_then(|g| g.check(&window)) {
                    stopper.stop(reason, false);
                }
            }
        }
    })
}

/// Clears the progress bar (on a terminal) so the summary starts on a clean line.
pub fn clear_progress(progress: bool) {
    if progress && std::io::stderr().is_terminal() {
        eprint!("\r\x1b[2K");
    }
}
