//! The harness: schedules, an executor that runs them on a real log, an
//! independent model, the property checks, generators, and replay files.
//!
//! The test suite, the `replay` command and later campaigns all call this
//! module; none keeps a copy of it.

pub mod blocks;
pub mod check;
pub mod diff;
pub mod execute;
pub mod generate;
pub mod model;
pub mod replay_file;
pub mod schedule;

pub use check::Violation;
pub use execute::{ExecuteError, Execution, HistoryRecord, Production, System, execute};
pub use schedule::{Phase, Schedule};
