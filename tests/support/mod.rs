//! Shared test support: snapshot settings, scratch logs, generators and the
//! one `check` helper per property. Every test file includes it with
//! `mod support;`; not every file uses every item.
#![allow(dead_code)]

use event_sourced_cart::log::{EventLog, scratch_dir};
use tempfile::TempDir;

/// Snapshots live in the top-level `snapshots/` folder, named by test.
pub fn snapshots() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings
}

/// A new empty log on tmpfs (or the system temp dir), kept alive by the
/// returned guard.
pub fn scratch_log(partitions: u32) -> (TempDir, EventLog) {
    let dir = scratch_dir().expect("a scratch directory");
    let log = EventLog::create(dir.path(), partitions).expect("a new log");
    (dir, log)
}
