//! Scratch logs removed however the run ends: returning, failing, or
//! interrupted by SIGINT, SIGTERM or SIGHUP (Ctrl-C, `kill`, a closed
//! terminal).
//!
//! A scratch log lives on tmpfs (`/dev/shm`) by default, where a leaked
//! directory holds memory until someone deletes it, so the binary removes
//! every live one before it exits on a signal, then exits with 128 + the
//! signal's number (130 for Ctrl-C, 143 for SIGTERM), as shells do. Only
//! SIGKILL cannot be caught: such a directory stays, named `harness-log-*`,
//! where [`crate::settings::scratch_dir`] puts it.
//!
//! The removal happens where nothing writes into the directory any more:
//! the main thread checks for a signal at its safe points
//! ([`exit_if_interrupted`]: between produced chunks and between phases)
//! and removes and exits there. Only if it does not get there within
//! [`GRACE`] (it is blocked reading a pipe, say) does the signal thread
//! remove and exit itself. After a signal no error is printed: the run
//! ends with 128 + the signal, nothing else.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

/// How long the signal thread leaves the main thread to reach a safe point.
pub const GRACE: Duration = Duration::from_secs(2);

/// The signal received, or 0.
static INTERRUPTED: AtomicI32 = AtomicI32::new(0);

/// The signal that interrupted the process, if one did.
pub fn interrupted() -> Option<i32> {
    match INTERRUPTED.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
    }
}

/// A safe point of the main thread: if a signal arrived, removes every
/// live scratch directory and exits with 128 + the signal.
pub fn exit_if_interrupted() {
    if let Some(signal) = interrupted() {
        remove_and_exit(signal);
    }
}

fn remove_and_exit(signal: i32) -> ! {
    // Held until exit: no new scratch directory appears meanwhile.
    let live = live();
    for dir in live.iter() {
        let _ = std::fs::remove_dir_all(dir);
    }
    std::process::exit(128 + signal);
}

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

/// Installs, once per process, a handler thread for SIGINT, SIGTERM and
/// SIGHUP: it records the signal for [`exit_if_interrupted`], and after
/// [`GRACE`] removes every live scratch directory and exits with 128 + the
/// signal itself. For binaries: a library should not take over a
/// process's signals.
pub fn remove_scratch_logs_on_signals() -> std::io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::Builder::new().name("scratch-cleanup".into()).spawn(move || {
        if let Some(signal) = signals.forever().next() {
            INTERRUPTED.store(signal, Ordering::SeqCst);
            // The main thread normally removes and exits at its next safe
            // point; this is for a main thread that cannot get there.
            std::thread::sleep(GRACE);
            remove_and_exit(signal);
        }
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scratch_dir_is_listed_while_it_lives_and_removed_after() {
        let scratch = ScratchDir::new().expect("a scratch directory");
        let path = scratch.path().to_path_buf();
        assert!(live().contains(&path));
        drop(scratch);
        assert!(!live().contains(&path), "no longer listed");
        assert!(!path.exists(), "removed");
    }
}
