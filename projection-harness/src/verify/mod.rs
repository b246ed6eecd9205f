//! The harness core, generic over the domain and the log: schedules (with
//! their faults), an executor that runs them on a real log, the history
//! checker that names anomalies, the property checks, partition blocks,
//! diffs, replay files and schedule generators.
//!
//! It knows no domain: it reads records through [`crate::domain::Domain`]
//! and the log through [`crate::log::Log`]. The test suite, the `replay`
//! command and later campaigns all call this module; none keeps a copy.

pub mod blocks;
pub mod check;
pub mod diff;
pub mod execute;
pub mod generate;
pub mod history;
pub mod replay;
pub mod replay_file;
pub mod schedule;
pub mod soak;

#[cfg(feature = "sqlite")]
pub use crate::durable::Durable;
pub use check::Violation;
pub use execute::{
    ExecuteError, Execution, InjectedFault, Production, Stage, Stop, System, WithSteps, execute, execute_with_progress,
};
pub use generate::Case;
pub use schedule::{Phase, Schedule, ScheduleError};
