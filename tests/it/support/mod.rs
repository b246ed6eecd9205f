//! Shared test support: snapshot settings, scratch logs, proptest settings
//! and the one `check` helper per property.

pub mod broken;

use event_sourced_cart::cart::TOPIC;
use event_sourced_cart::log::MerkqlLog;
use event_sourced_cart::settings::{Settings, scratch_dir};
use event_sourced_cart::verify::check::Check;
use event_sourced_cart::verify::{Case, Execution, System, Violation, execute};
use proptest::test_runner::{Config, FileFailurePersistence, RngSeed};
use tempfile::TempDir;

/// Snapshots live in the top-level `snapshots/` folder, named by test.
pub fn snapshots() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings
}

/// A new empty cart log on tmpfs (or the system temp dir), kept alive by
/// the returned guard.
pub fn scratch_log(partitions: u32) -> (TempDir, MerkqlLog) {
    let dir = scratch_dir().expect("a scratch directory");
    let log = MerkqlLog::create(dir.path(), TOPIC, partitions).expect("a new log");
    (dir, log)
}

/// The harness's settings; a bad environment variable fails the test with
/// a message naming it.
pub fn settings() -> &'static Settings {
    Settings::get().unwrap_or_else(|e| panic!("{e}"))
}

/// proptest settings of a test file: the case count from `PROPTEST_CASES`
/// (default 256), the shrink budget from `PROPTEST_MAX_SHRINK_ITERS`, the
/// seed from `PROPTEST_RNG_SEED` (default random), shrunk failures
/// persisted in `proptest-regressions/FILE`.
pub fn proptest_config(file: &'static str) -> Config {
    let settings = settings();
    let defaults = Config::default();
    Config {
        cases: settings.proptest_cases.unwrap_or(256),
        max_shrink_iters: settings.proptest_max_shrink_iters.unwrap_or(defaults.max_shrink_iters),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(file))),
        rng_seed: settings.proptest_rng_seed.map_or(RngSeed::Random, RngSeed::Fixed),
        ..defaults
    }
}

/// Runs `case` on a fresh merkql log with `system`.
pub fn run<S: System>(system: &S, case: &Case) -> Execution<S::Domain> {
    let dir = scratch_dir().expect("a scratch directory");
    let mut log = MerkqlLog::create(dir.path(), TOPIC, case.schedule.partitions()).expect("a new log");
    execute(system, &case.history, &case.schedule, &mut log).expect("the log works")
}

/// Runs `case` with `system` and applies one property check.
pub fn evaluate<S: System>(system: &S, check: Check<S::Domain>, case: &Case) -> Result<(), Violation> {
    check(&run(system, case))
}

/// A log that counts the consumers it hands out.
pub struct CountingLog {
    pub inner: event_sourced_cart::log::MerkqlLog,
    pub consumers: std::cell::Cell<usize>,
}

impl CountingLog {
    pub fn new(inner: event_sourced_cart::log::MerkqlLog) -> CountingLog {
        CountingLog { inner, consumers: std::cell::Cell::new(0) }
    }
}

impl event_sourced_cart::log::Log for CountingLog {
    fn topic(&self) -> &str {
        self.inner.topic()
    }
    fn partitions(&self) -> u32 {
        self.inner.partitions()
    }
    fn append(
        &self,
        key: Option<&str>,
        value: &str,
    ) -> Result<event_sourced_cart::record::Position, event_sourced_cart::log::LogError> {
        self.inner.append(key, value)
    }
    fn append_batch(
        &self,
        records: &[(Option<&str>, &str)],
    ) -> Result<Vec<event_sourced_cart::record::Position>, event_sourced_cart::log::LogError> {
        self.inner.append_batch(records)
    }
    fn end_offsets(&self) -> Result<Vec<u64>, event_sourced_cart::log::LogError> {
        self.inner.end_offsets()
    }
    fn consumer(
        &self,
        group_id: &str,
    ) -> Result<Box<dyn event_sourced_cart::log::GroupConsumer>, event_sourced_cart::log::LogError> {
        self.consumers.set(self.consumers.get() + 1);
        self.inner.consumer(group_id)
    }
    fn reopen(&mut self) -> Result<(), event_sourced_cart::log::LogError> {
        self.inner.reopen()
    }
    fn record_at(
        &self,
        position: event_sourced_cart::record::Position,
    ) -> Result<Option<event_sourced_cart::record::LogRecord>, event_sourced_cart::log::LogError> {
        self.inner.record_at(position)
    }
}
