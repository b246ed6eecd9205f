//! Scratch logs removed however the run ends: returning, failing, or
//! interrupted by SIGINT, SIGTERM or SIGHUP (Ctrl-C, `kill`, a closed
//! terminal).
//!
//! A scratch log lives on tmpfs (`/dev/shm`) by default, where a leaked
//! directory holds memory until someone deletes it, so the binary removes
//! every live one before it exits on a signal, then exits with 128 + the
//! signal's number (130 for Ctrl-C, 143 for SIGTERM), as shells do. Only
//! SIGKILL cannot be caught: such a directory stays, named `cart-log-*`,
//! where [`crate::settings::scratch_dir`] puts it.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Directories of the scratch logs alive in this process.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// A scratch directory, removed when dropped or when the process is
/// interrupted ([`remove_scratch_logs_on_signals`]).
pub struct ScratchDir {
    dir: tempfile::TempDir,
}

impl ScratchDir {
    /// A new, empty scratch directory (see [`crate::settings::scratch_dir`]
    /// for where).
    pub fn new() -> std::io::Result<ScratchDir> {
        let dir = crate::settings::scratch_dir()?;
        live().push(dir.path().to_path_buf());
        Ok(ScratchDir { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        live().retain(|dir| dir != self.dir.path());
        // The TempDir field is dropped next, removing the directory.
    }
}

/// The live list, even if a thread panicked while holding it (the list
/// is always whole: every change is one push or one retain).
fn live() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    LIVE.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Installs, once per process, a handler thread that on SIGINT, SIGTERM or
/// SIGHUP removes every live scratch directory and exits with 128 + the
/// signal. For binaries: a library should not take over a process's
/// signals.
pub fn remove_scratch_logs_on_signals() -> std::io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::Builder::new().name("scratch-cleanup".into()).spawn(move || {
        if let Some(signal) = signals.forever().next() {
            // Held until exit: no new scratch directory appears meanwhile.
            let live = live();
            for dir in live.iter() {
                let _ = std::fs::remove_dir_all(dir);
            }
            std::process::exit(128 + signal);
        }
    })?;
    Ok(())
}
