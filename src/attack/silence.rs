//! Keeps Goose's own stdout lines ("N users launched.", which it prints unconditionally) off
//! the terminal: while a [`StdoutSilenced`] guard lives, file descriptor 1 points at
//! `/dev/null`. Our own output during a run goes to stderr, so nothing of ours is lost.
//! Guards nest (several attacks in one process): the first one saves fd 1, the last one
//! restores it.

use std::io::Write;
use std::sync::Mutex;

/// (live guards, the saved fd 1 while any is live).
static STATE: Mutex<(usize, Option<i32>)> = Mutex::new((0, None));

/// Restores stdout when dropped.
pub struct StdoutSilenced(());

impl StdoutSilenced {
    /// Points fd 1 at `/dev/null` (best effort: on any failure stdout stays as it was).
    pub fn new() -> StdoutSilenced {
        let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
        state.0 += 1;
        if state.0 == 1 {
            let _ = std::io::stdout().flush();
            // SAFETY: plain fd calls on descriptors we own or on fd 1; every return value is
            // checked and nothing else is touched.
            unsafe {
                let saved = libc::dup(1);
                if saved >= 0 {
                    let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                    if null >= 0 && libc::dup2(null, 1) >= 0 {
                        state.1 = Some(saved);
                    } else {
                        libc::close(saved);
                    }
                    if null >= 0 {
                        libc::close(null);
                    }
                }
            }
        }
        StdoutSilenced(())
    }
}

impl Default for StdoutSilenced {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for StdoutSilenced {
    fn drop(&mut self) {
        let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
        state.0 = state.0.saturating_sub(1);
        if state.0 == 0 {
            if let Some(saved) = state.1.take() {
                let _ = std::io::stdout().flush();
                // SAFETY: `saved` is the descriptor dup'ed in `new`, still open and ours.
                unsafe {
                    libc::dup2(saved, 1);
                    libc::close(saved);
                }
            }
        }
    }
}
