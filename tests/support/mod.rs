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

pub mod broken;

use event_sourced_cart::verify::check::Check;
use event_sourced_cart::verify::generate::Case;
use event_sourced_cart::verify::replay_file::write_failure;
use event_sourced_cart::verify::{Production, System, Violation, execute};
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError};

/// proptest settings of a test file: the case count from `PROPTEST_CASES`
/// (default 256), shrunk failures persisted in `proptest-regressions/FILE`.
pub fn proptest_config(file: &'static str) -> Config {
    Config { failure_persistence: Some(Box::new(FileFailurePersistence::Direct(file))), ..Config::default() }
}

/// Runs `history` under `schedule` on a fresh log with `system` and applies
/// one property check.
pub fn evaluate<S: System>(system: &S, check: Check, case: &Case) -> Result<(), Violation> {
    let dir = scratch_dir().expect("a scratch directory");
    let execution = execute(system, &case.history, &case.schedule, dir.path()).expect("the log works");
    check(&execution)
}

/// The one helper every property test calls: evaluates the property on the
/// production system and, when it fails, writes the case as a replay file
/// (overwritten at each failure, so after shrinking it is the minimal case)
/// and says how to reproduce it.
pub fn check(property: &str, check: Check, case: &Case) -> Result<(), TestCaseError> {
    match evaluate(&Production, check, case) {
        Ok(()) => Ok(()),
        Err(violation) => {
            let reproduce = match write_failure(property, &case.history, &case.schedule) {
                Ok(path) => format!("case written to {0}; reproduce with: cargo run -- replay {0}", path.display()),
                Err(e) => format!("could not write the replay file: {e}"),
            };
            Err(TestCaseError::fail(format!("{violation}\n{reproduce}")))
        }
    }
}
