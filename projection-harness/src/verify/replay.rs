//! Replaying a file: load, choose the schedule, run, judge. The `replay`
//! command is these steps with the production system; the test suite runs
//! the same steps with planted bugs, so a saved failure is known to replay.

use super::check::{Violation, check_all, check_under_faults};
use super::execute::{ExecuteError, Execution, System};
use super::replay_file::{self, ReplayFile};
use super::schedule::{Schedule, ScheduleError};
use crate::domain::Domain;
use crate::log::Log;
use std::path::Path;
use std::process::ExitCode;

/// How a replay ends: the exit-code table of docs/reference.md, "`replay`:
/// full versus split replay of any events file".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// 0: full and split replay agree, and every property holds.
    Agree,
    /// 1: a property is violated.
    Violations,
    /// 2: bad input (the file, an option or a setting).
    BadInput,
    /// 3: the log itself failed (I/O, broker error).
    LogFailed,
    /// 128 + N: stopped by signal N, after printing what it had (a soak
    /// campaign's summary).
    Interrupted(u8),
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Agree => 0,
            Exit::Violations => 1,
            Exit::BadInput => 2,
            Exit::LogFailed => 3,
            Exit::Interrupted(signal) => 128u8.saturating_add(signal),
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit.code())
    }
}

/// Reads and parses a replay file; the error names the line and what is wrong.
pub fn load<D: Domain>(domain: &D, path: &Path) -> Result<ReplayFile, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read it ({e})"))?;
    replay_file::read(domain, std::io::BufReader::with_capacity(1 << 16, file)).map_err(|e| e.to_string())
}

/// The file's own schedule, or a split replay at `split_at` over
/// `partitions` (default 1). A file with a schedule takes no options.
pub fn schedule_for(file: &ReplayFile, partitions: Option<u32>, split_at: &[usize]) -> Result<Schedule, String> {
    match &file.schedule {
        Some(schedule) if partitions.is_none() && split_at.is_empty() => Ok(schedule.clone()),
        Some(_) => Err("the file carries its own schedule; drop --partitions and --split-at".into()),
        None => Schedule::split_at(partitions.unwrap_or(1), split_at, file.history.len()).map_err(|e| match e {
            ScheduleError::SplitPastEnd { point, records } => {
                format!("--split-at {point} is past the end: the file has {records} records")
            }
            ScheduleError::TooManyPhases(n) => {
                format!("{n} --split-at points; use at most {}", super::schedule::MAX_PHASES)
            }
            ScheduleError::Partitions(p) => {
                format!("--partitions {p} is out of range; use 1 to {}", super::schedule::MAX_PARTITIONS)
            }
            other => other.to_string(),
        }),
    }
}

/// A finished replay: what ran and what was violated.
pub struct Verdict<D: Domain> {
    pub execution: Execution<D>,
    pub violations: Vec<Violation>,
}

impl<D: Domain> Verdict<D> {
    pub fn exit(&self) -> Exit {
        if self.violations.is_empty() { Exit::Agree } else { Exit::Violations }
    }
}

/// Runs `file`'s history under `schedule` on `log` (new and empty) and
/// checks every property, or, when the schedule injects faults, the
/// properties that hold under faults ([`super::check::under_faults`]).
pub fn run<S: System>(
    system: &S,
    file: &ReplayFile,
    schedule: &Schedule,
    log: &mut dyn Log,
) -> Result<Verdict<S::Domain>, ExecuteError> {
    run_with_progress(system, file, schedule, log, &mut |_| ())
}

/// [`run`], telling `progress` where the execution is.
pub fn run_with_progress<S: System>(
    system: &S,
    file: &ReplayFile,
    schedule: &Schedule,
    log: &mut dyn Log,
    progress: &mut dyn FnMut(super::Stage),
) -> Result<Verdict<S::Domain>, ExecuteError> {
    let execution = super::execute_with_progress(system, &file.history, schedule, log, progress)?;
    let violations = if schedule.has_faults() { check_under_faults(&execution) } else { check_all(&execution) };
    Ok(Verdict { execution, violations })
}
