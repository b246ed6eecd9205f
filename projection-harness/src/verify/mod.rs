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
mod key_ids;
mod parallel;
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

/// The checker's hash maps and sets: foldhash with a fixed seed, several
/// times faster than the standard SipHash on the millions of positions a
/// large replay checks (measured in BENCHMARKS.md), and the same iteration
/// order on every run. Keys come from the log, not from an adversary who
/// could choose collisions to slow a check down.
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;
/// See [`FastMap`].
pub(crate) type FastSet<K> = std::collections::HashSet<K, foldhash::fast::FixedState>;
