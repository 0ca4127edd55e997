//! SIGINT / SIGTERM for the whole process: the first signal asks the current work to stop
//! ([`requested`], [`cancelled`]: in-flight requests are dropped, the run ends and writes its
//! reports marked partial); a second signal exits at once with 130 / 143 after running the
//! emergency hook (the current run's synchronous run.json) and removing every registered
//! temporary file. Bottom layer: imports nothing from the crate.
//!
//! SIGINT is caught with the `ctrlc` crate before Goose installs its own handler (Goose's
//! second-Ctrl-C path exits 1 with nothing written); SIGTERM with tokio's signal stream.

use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::sync::{LazyLock, Mutex, Once};

use tokio::sync::watch;

pub const SIGINT: i32 = 2;
pub const SIGTERM: i32 = 15;

static COUNT: AtomicU32 = AtomicU32::new(0);
static FIRST: AtomicI32 = AtomicI32::new(0);
static STOP: LazyLock<watch::Sender<bool>> = LazyLock::new(|| watch::channel(false).0);
type Hook = Box<dyn Fn() + Send>;
static EMERGENCY: Mutex<Option<Hook>> = Mutex::new(None);
static TEMP_FILES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static INSTALL: Once = Once::new();

/// Installs the handlers (once per process; call from inside the tokio runtime).
pub fn install() {
    INSTALL.call_once(|| {
        // A file-size limit (`ulimit -f`) must make a write fail with EFBIG, which the
        // writers report per file, instead of killing the process with SIGXFSZ.
        #[cfg(unix)]
        // SAFETY: setting a signal's disposition to SIG_IGN has no other effect.
        unsafe {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        }
        let _ = ctrlc::set_handler(|| on_signal(SIGINT));
        #[cfg(unix)]
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            tokio::spawn(async move {
                while term.recv().await.is_some() {
                    on_signal(SIGTERM);
                }
            });
        }
    });
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a signal does: the first asks for a stop, the second exits at once.
pub fn on_signal(sig: i32) {
    if COUNT.fetch_add(1, Ordering::SeqCst) == 0 {
        FIRST.store(sig, Ordering::SeqCst);
        STOP.send_replace(true);
        return;
    }
    eprintln!(
        "loadtest: second signal: exiting at once (run.json written from what was measured so far)"
    );
    if let Some(hook) = lock(&EMERGENCY).take() {
        hook();
    }
    remove_temp_files();
    std::process::exit(exit_code(sig));
}

/// 130 for SIGINT, 143 for SIGTERM (128 + the signal number).
pub fn exit_code(sig: i32) -> i32 {
    128 + sig
}

/// The first signal received, if any: `Some(SIGINT)` or `Some(SIGTERM)`.
pub fn requested() -> Option<i32> {
    match FIRST.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// The first signal's name, as reasons and exit codes spell it.
pub fn signal_name(sig: i32) -> &'static str {
    if sig == SIGTERM {
        "SIGTERM"
    } else {
        "SIGINT"
    }
}

/// Resolves once a first signal has arrived (at once if one already has).
pub async fn cancelled() {
    let mut rx = STOP.subscribe();
    let _ = rx.wait_for(|v| *v).await;
}

/// Sets (replaces) the hook a second signal runs before exiting; `None` clears it.
pub fn set_emergency(hook: Option<Hook>) {
    *lock(&EMERGENCY) = hook;
}

/// A temporary file (and its `-wal` / `-shm` siblings) removed if the process exits on a
/// second signal.
pub fn register_temp_file(path: PathBuf) {
    lock(&TEMP_FILES).push(path);
}

/// The file was removed the ordinary way.
pub fn forget_temp_file(path: &std::path::Path) {
    lock(&TEMP_FILES).retain(|p| p != path);
}

fn remove_temp_files() {
    for path in lock(&TEMP_FILES).drain(..) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
