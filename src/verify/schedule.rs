//! Schedules: how a history is produced and consumed, phase by phase.

use crate::runner::CrashPoint;
use serde::{Deserialize, Serialize};

/// Upper bound on phases in one schedule (explicit bound, TigerStyle).
pub const MAX_PHASES: usize = 64;

/// One commit point of the incremental groups.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    /// Records produced (in history order) before this phase polls. Clamped
    /// to what is left of the history.
    pub produce: usize,
    /// Drop every consumer and the broker, and open the directory again
    /// before polling, as a restarted broker process would. The runners and
    /// their in-memory views live on (see [`crate::runner::CrashPoint`]).
    #[serde(default, skip_serializing_if = "is_false")]
    pub reopen: bool,
    /// Poll with the previous phase's Consumer object instead of a new one
    /// (a new one is used anyway after a reopen or a crash).
    #[serde(default, skip_serializing_if = "is_false")]
    pub reuse_consumer: bool,
    /// Before the committed poll, a consumer polls and dies at this point
    /// without committing; its records must come back to the next consumer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crash: Option<CrashPoint>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// How a history is run against the log.
///
/// Phases run in order; after them, whatever is left of the history is
/// produced and a final phase runs, so every history is produced in full.
/// Then a fresh group replays everything at once (the full replay).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Partition count of the topic.
    pub partitions: u32,
    #[serde(default)]
    pub phases: Vec<Phase>,
    /// If set, a late group starts at this phase index (`phases.len()` means
    /// the final phase), replaying from earliest, then goes on incrementally.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_join: Option<usize>,
}

impl Schedule {
    /// Plain split replay: produce up to each `split_at` point, then poll
    /// and commit. Points are sorted; repeats are allowed (empty phases).
    pub fn split_at(partitions: u32, split_at: &[usize]) -> Schedule {
        let mut points = split_at.to_vec();
        points.sort_unstable();
        let mut previous = 0;
        let phases = points
            .into_iter()
            .map(|point| {
                let phase = Phase { produce: point - previous, ..Phase::default() };
                previous = point;
                phase
            })
            .collect();
        Schedule { partitions, phases, late_join: None }
    }

    /// Checks the explicit bounds; the message says what to change.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=crate::log::MAX_PARTITIONS).contains(&self.partitions) {
            return Err(format!("partitions is {}; use 1 to {}", self.partitions, crate::log::MAX_PARTITIONS));
        }
        if self.phases.len() > MAX_PHASES {
            return Err(format!("{} phases; use at most {MAX_PHASES}", self.phases.len()));
        }
        if let Some(k) = self.late_join
            && k > self.phases.len()
        {
            return Err(format!("late_join is {k}; use a phase index from 0 to {}", self.phases.len()));
        }
        Ok(())
    }
}
