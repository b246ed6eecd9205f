//! One call that checks every property of the harness on a domain: the
//! entry point of a property test.
//!
//! [`Properties::check`] draws cases (a history from your generator and a
//! schedule from the harness), runs each on a fresh merkql log with the
//! production runner in memory and, with the `sqlite` feature, with the
//! durable runner across process restarts, and applies every property of
//! [`crate::verify::check::all`]. A failing case is shrunk by proptest to a
//! minimal one, saved (a proptest regression seed, if you name a file, and
//! a replay file under `HARNESS_FAILURES_DIR`), and reported with the
//! command that replays it.
//!
//! In a test file (`tests/properties.rs`), with failing seeds kept:
//!
//! ```no_run
//! use projection_harness::example::{Counters, counter_cases};
//! use projection_harness::properties::Properties;
//!
//! #[test]
//! fn counters_hold_every_property() {
//!     Properties::new(Counters)
//!         .regressions("proptest-regressions/counters.txt")
//!         .run(counter_cases(50));
//! }
//! ```
//!
//! Or to inspect a failure rather than panic ([`Properties::check`]):
//!
//! ```
//! use projection_harness::example::{Counters, counter_cases};
//! use projection_harness::properties::Properties;
//!
//! let checked = Properties::new(Counters).cases(8).in_memory_only().check(counter_cases(5));
//! assert!(checked.is_ok(), "{}", checked.unwrap_err());
//! ```
//!
//! The case count is `PROPTEST_CASES` (256 if unset), or
//! [`Properties::cases`]; `PROPTEST_RNG_SEED` fixes the seed and
//! `PROPTEST_MAX_SHRINK_ITERS` bounds shrinking, as in proptest.

use crate::domain::Domain;
use crate::log::MerkqlLog;
use crate::settings::{Settings, scratch_dir};
use crate::verify::check::all;
use crate::verify::generate::with_restarts;
use crate::verify::replay_file::write_failure;
use crate::verify::{Case, Execution, Phase, Production, Schedule, System, execute};
use proptest::strategy::Strategy;
use proptest::test_runner::{Config, FileFailurePersistence, RngSeed, TestCaseError, TestError, TestRunner};
use std::fmt;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

/// A property by name, on one runner: what a failing case is shrunk for.
type Target = (&'static str, Runner);

/// Cases a run checks when neither `PROPTEST_CASES` nor
/// [`Properties::cases`] says otherwise (proptest's own default).
pub const DEFAULT_CASES: u32 = 256;

/// Which system a case failed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runner {
    /// The production runner, its views and offsets in memory.
    InMemory,
    /// The durable runner: views and checkpoints in the SQLite view store,
    /// every runner restarted where the schedule says.
    Durable,
}

impl fmt::Display for Runner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Runner::InMemory => "in-memory",
            Runner::Durable => "durable",
        })
    }
}

/// A property that failed on a (shrunk) case.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The property's name (`split_equivalence`, `model_agreement`, ...),
    /// or `run` when the log itself failed.
    pub property: &'static str,
    /// The runner it failed with.
    pub runner: Runner,
    /// What differs, and the detail.
    pub message: String,
    /// The minimal case, as run.
    pub case: Case,
    /// Where the case was written as a replay file, or why it could not be.
    pub replay_file: Result<PathBuf, String>,
    /// The command that replays it.
    pub reproduce: String,
    /// Its timeline page ([`crate::timeline`]), beside the replay file, or
    /// why there is none.
    pub page: Result<PathBuf, String>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "property {} failed with the {} runner, on a case shrunk to {} records and {} phases:",
            self.property,
            self.runner,
            self.case.history.len(),
            self.case.schedule.phases().len()
        )?;
        writeln!(f, "{}", self.message)?;
        match &self.replay_file {
            Ok(path) => write!(f, "case written to {}; reproduce with: {}", crate::text::path(path), self.reproduce)?,
            Err(e) => write!(f, "could not write the replay file ({e}); the case is {:?}", self.case)?,
        }
        match &self.page {
            Ok(path) => write!(f, "\nits timeline page: {}", crate::text::path(path)),
            Err(e) => write!(f, "\nno timeline page: {e}"),
        }
    }
}

impl std::error::Error for Failure {}

/// Every property of the harness, over generated cases, on one domain.
#[derive(Clone, Debug)]
pub struct Properties<D: Domain> {
    domain: D,
    name: String,
    regressions: Option<&'static str>,
    reproduce: String,
    cases: Option<u32>,
    durable: bool,
}

impl<D: Domain> Properties<D> {
    /// All properties of `domain`, in memory and (with the `sqlite`
    /// feature) durable; failures are written as `properties.jsonl` and
    /// replayed with `cargo run -- replay`.
    pub fn new(domain: D) -> Properties<D> {
        Properties {
            domain,
            name: "properties".into(),
            regressions: None,
            reproduce: "cargo run --".into(),
            cases: None,
            durable: cfg!(feature = "sqlite"),
        }
    }

    /// Names the run: its replay file is `<name>.jsonl`.
    pub fn named(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }

    /// Persists failing seeds in `file` (relative to the crate under test,
    /// as proptest's own files are) and replays them first on every run.
    pub fn regressions(mut self, file: &'static str) -> Self {
        self.regressions = Some(file);
        self
    }

    /// The command line that runs your binary, before `replay FILE`
    /// (`cargo run --` by default; `cargo run -p my-domain --` in a
    /// workspace).
    pub fn reproduce_with(mut self, command: &str) -> Self {
        self.reproduce = command.to_string();
        self
    }

    /// Checks `cases` cases, whatever `PROPTEST_CASES` says.
    pub fn cases(mut self, cases: u32) -> Self {
        self.cases = Some(cases);
        self
    }

    /// Runs the in-memory runner only (a build without `sqlite` always does).
    pub fn in_memory_only(mut self) -> Self {
        self.durable = false;
        self
    }

    /// Checks every property on cases drawn from `cases`; the minimal
    /// failing case, if any, written and described.
    pub fn check(&self, cases: impl Strategy<Value = Case>) -> Result<(), Box<Failure>> {
        let settings = Settings::get().map_err(|e| self.setup_failure(e.to_string()))?;
        let defaults = Config::default();
        let config = Config {
            cases: self.cases.or(settings.proptest_cases).unwrap_or(DEFAULT_CASES),
            max_shrink_iters: settings.proptest_max_shrink_iters.unwrap_or(defaults.max_shrink_iters),
            failure_persistence: self.regressions.map(|file| Box::new(FileFailurePersistence::Direct(file)) as Box<_>),
            rng_seed: settings.proptest_rng_seed.map_or(RngSeed::Random, RngSeed::Fixed),
            // Failures are reported once, by this function, not per shrink step.
            verbose: 0,
            ..defaults
        };
        let mut runner = TestRunner::new(config);
        let (outcome, only) = run_for_first_failure(&mut runner, &with_restarts(cases), |case, only| {
            self.check_case(case, only).map_err(|(found, _)| found)
        });
        match outcome {
            Ok(()) => Ok(()),
            Err(TestError::Abort(reason)) => Err(self.setup_failure(format!("proptest gave up: {reason}"))),
            Err(TestError::Fail(_, case)) => {
                // Run once more, keeping the execution for the page.
                let ((property, runner, message), execution) = match self.check_case(&case, only) {
                    Err(failed) => failed,
                    Ok(()) => (
                        (
                            "run",
                            Runner::InMemory,
                            "the case failed once and passed when run again: the system is not deterministic".into(),
                        ),
                        None,
                    ),
                };
                Err(Box::new(self.failure(property, runner, message, case, execution)))
            }
        }
    }

    /// [`Properties::check`] for a `#[test]`: panics with the failure's
    /// text, which ends with the command that reproduces it.
    pub fn run(&self, cases: impl Strategy<Value = Case>) {
        if let Err(failure) = self.check(cases) {
            panic!("{failure}");
        }
    }

    /// Runs one case on each runner, one execution per runner feeding
    /// every property; the first broken property, if any. With `only`,
    /// runs that runner and checks that property alone (a failure of the
    /// run itself still counts). A failure comes with the execution it
    /// was found in, if the run got that far.
    fn check_case(&self, case: &Case, only: Option<Target>) -> Result<(), Failed<D>> {
        let wanted = |runner: Runner| only.is_none_or(|(_, r)| r == runner);
        let property = only.map(|(property, _)| property);
        if wanted(Runner::InMemory) {
            let in_memory = Case { schedule: without_restarts(&case.schedule), history: case.history.clone() };
            check_execution(Runner::InMemory, run(&Production(self.domain.clone()), &in_memory), property)?;
        }
        #[cfg(feature = "sqlite")]
        if self.durable && wanted(Runner::Durable) {
            let store =
                scratch_dir().map_err(|e| (("run", Runner::Durable, format!("no scratch directory: {e}")), None))?;
            let durable =
                crate::verify::Durable { domain: self.domain.clone(), store: store.path().join("views.sqlite") };
            check_execution(Runner::Durable, run(&durable, case), property)?;
        }
        Ok(())
    }

    /// The failure of `case`, written as a replay file with the timeline
    /// page of `execution`, the run that failed, beside it.
    fn failure(
        &self,
        property: &'static str,
        runner: Runner,
        message: String,
        case: Case,
        execution: Option<Box<Execution<D>>>,
    ) -> Failure {
        let case = match runner {
            Runner::InMemory => Case { schedule: without_restarts(&case.schedule), history: case.history },
            Runner::Durable => case,
        };
        let replay_file = write_failure(&format!("{}-{property}", self.name), &case.history, &case.schedule)
            .map_err(|e| e.to_string());
        let file = replay_file.as_ref().map_or_else(|_| "FILE".to_string(), |p| crate::text::path(p));
        let flag = if runner == Runner::Durable { " --durable" } else { "" };
        let reproduce = format!("{} replay {file}{flag}", self.reproduce);
        let page = match (&replay_file, execution) {
            (Ok(path), Some(execution)) => {
                let path = path.with_extension("html");
                let violations = crate::verify::check::check_all(&execution);
                crate::timeline::Timeline::new(&execution, &case.schedule, &violations)
                    .title(&format!("property {property}, {runner} runner"))
                    .replay_command(&reproduce)
                    .write(&path)
                    .map(|()| path.clone())
                    .map_err(|e| format!("cannot write {} ({e})", crate::text::path(&path)))
            }
            (Err(_), _) => Err("the replay file could not be written".into()),
            (Ok(_), None) => Err("the case did not run to the end when run again, so there is nothing to draw".into()),
        };
        Failure { property, runner, message, case, replay_file, reproduce, page }
    }

    fn setup_failure(&self, message: String) -> Box<Failure> {
        Box::new(Failure {
            property: "run",
            runner: Runner::InMemory,
            message,
            case: Case {
                schedule: Schedule::new(1, Vec::new(), None).expect("one partition, no phase"),
                history: Vec::new(),
            },
            replay_file: Err("no case was run".into()),
            reproduce: String::new(),
            page: Err("no case was run".into()),
        })
    }
}

/// What a failed check gives: the property, the runner, the message.
type Found = (&'static str, Runner, String);

/// Runs proptest over `cases` with `check`, shrinking a failure for the
/// first (property, runner) that failed: a smaller case counts as failing
/// only if that same property fails on that same runner (`check` is given
/// it as `only`), so the minimal case shows the first failure, not
/// whichever property a shrink step happens to break. Returns proptest's
/// outcome and that target.
fn run_for_first_failure<V: fmt::Debug>(
    runner: &mut TestRunner,
    cases: &impl Strategy<Value = V>,
    check: impl Fn(&V, Option<Target>) -> Result<(), Found>,
) -> (Result<(), TestError<V>>, Option<Target>) {
    let target: Mutex<Option<Target>> = Mutex::new(None);
    let outcome = runner.run(cases, |case| {
        let only = *target.lock().unwrap_or_else(PoisonError::into_inner);
        check(&case, only).map_err(|(property, runner, message)| {
            target.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert((property, runner));
            TestCaseError::fail(format!("{property} ({runner}): {message}"))
        })
    });
    let only = *target.lock().unwrap_or_else(PoisonError::into_inner);
    (outcome, only)
}

/// Runs `case` with `system` on a fresh merkql log of the domain's topic.
fn run<S: System>(system: &S, case: &Case) -> Result<Execution<S::Domain>, (&'static str, Runner, String)> {
    let failed = |e: String| ("run", Runner::InMemory, e);
    let dir = scratch_dir().map_err(|e| failed(format!("no scratch directory: {e}")))?;
    let topic = system.domain().topic().to_string();
    let mut log = MerkqlLog::create(dir.path(), &topic, case.schedule.partitions())
        .map_err(|e| failed(format!("the log failed: {e}")))?;
    execute(system, &case.history, &case.schedule, &mut log).map_err(|e| failed(format!("the log failed: {e}")))
}

/// What a failed check gives, with the execution it failed in (none when
/// the run itself failed).
type Failed<D> = (Found, Option<Box<Execution<D>>>);

/// Applies every property (or `only` the one named) to one execution.
fn check_execution<D: Domain>(
    runner: Runner,
    execution: Result<Execution<D>, (&'static str, Runner, String)>,
    only: Option<&'static str>,
) -> Result<(), Failed<D>> {
    let execution = execution.map_err(|(property, _, message)| ((property, runner, message), None))?;
    for (property, check) in all::<D>().into_iter().filter(|(name, _)| only.is_none_or(|only| only == *name)) {
        if let Err(violation) = check(&execution) {
            return Err(((property, runner, violation.to_string()), Some(Box::new(execution))));
        }
    }
    Ok(())
}

/// The schedule with no process restart: the in-memory runner's views
/// live in the process, so a restart loses them by design.
fn without_restarts(schedule: &Schedule) -> Schedule {
    let phases: Vec<Phase> = schedule.phases().iter().map(|p| Phase { restart: false, ..p.clone() }).collect();
    Schedule::new(schedule.partitions(), phases, schedule.late_join()).expect("the same bounds as the schedule's own")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::example::{Counters, counter_cases};
    use crate::verify::generate::with_restarts;
    use proptest::strategy::ValueTree;

    /// Property `late` fails from 50 up, property `early` (checked first
    /// only if `late` holds) from 5 up: a case drawn above 50 (the fixed seed draws one) fails `late`
    /// first, and must be shrunk to `late`'s minimal case, 50, not to the
    /// 5 that a shrinker chasing any failure would reach.
    #[test]
    fn a_case_is_shrunk_for_the_property_it_failed_first() {
        let check = |x: &u32, only: Option<Target>| -> Result<(), Found> {
            let wanted = |name: &str| only.is_none_or(|(p, _)| p == name);
            if wanted("late") && *x >= 50 {
                return Err(("late", Runner::InMemory, format!("{x} >= 50")));
            }
            if wanted("early") && *x >= 5 {
                return Err(("early", Runner::InMemory, format!("{x} >= 5")));
            }
            Ok(())
        };
        let config = Config { failure_persistence: None, ..Config::default() };
        let mut runner = TestRunner::new_with_rng(
            config,
            proptest::test_runner::TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha),
        );
        let (outcome, target) = run_for_first_failure(&mut runner, &(0u32..1_000_000), check);
        assert_eq!(target, Some(("late", Runner::InMemory)));
        match outcome {
            Err(TestError::Fail(_, minimal)) => assert_eq!(minimal, 50),
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn only_the_target_property_and_runner_are_checked() {
        let mut runner = TestRunner::deterministic();
        let properties = Properties::new(Counters).in_memory_only();
        let case = with_restarts(counter_cases(10)).new_tree(&mut runner).expect("a case").current();
        assert!(properties.check_case(&case, None).is_ok());
        // A target on a runner that is not run checks nothing.
        assert!(properties.check_case(&case, Some(("model_agreement", Runner::Durable))).is_ok());
    }
}
