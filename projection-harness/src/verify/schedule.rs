//! Schedules: how a history is produced and consumed, phase by phase.
//!
//! A [`Schedule`] is valid by construction: [`Schedule::new`] is the one
//! place its bounds are checked, used by replay files (through serde),
//! the CLI's `--split-at` and the generators alike.

use crate::log::Fault;
use crate::log::fault::MAX_FAULTS_PER_PHASE;
use crate::runner::CrashPoint;
use serde::{Deserialize, Serialize};

/// Upper bound on phases in one schedule (explicit bound, TigerStyle).
pub const MAX_PHASES: usize = 64;

/// Partition counts a schedule may ask for.
pub const MAX_PARTITIONS: u32 = crate::log::MAX_PARTITIONS;

/// One commit point of the incremental groups.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    /// Records produced (in history order) before this phase polls. Clamped
    /// to what is left of the history.
    pub produce: usize,
    /// Drop every consumer and the broker, and open the log again before
    /// polling, as a restarted broker process would. The runners and their
    /// in-memory views live on (see [`crate::runner::CrashPoint`]).
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
    /// Restart the process before polling: every runner of the incremental
    /// and late groups is dropped with its in-memory state and rebuilt by
    /// the system (a durable runner reloads from its store; an in-memory
    /// one starts empty, at merkql's committed offsets).
    #[serde(default, skip_serializing_if = "is_false")]
    pub restart: bool,
    /// Faults injected into the log after this phase's records are
    /// produced and before it polls, in order (see [`Fault`]). Every
    /// consumer is released first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<Fault>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Why a schedule is not valid; each message says what to change.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("partitions is {0}; use 1 to {MAX_PARTITIONS}")]
    Partitions(u32),
    #[error("{0} phases; use at most {MAX_PHASES}")]
    TooManyPhases(usize),
    #[error("late_join is {late_join}; use a phase index from 0 to {phases}")]
    LateJoin { late_join: usize, phases: usize },
    #[error("split point {point} is past the end: the history has {records} records")]
    SplitPastEnd { point: usize, records: usize },
    #[error("phase {phase} injects {faults} faults; use at most {MAX_FAULTS_PER_PHASE}")]
    TooManyFaults { phase: usize, faults: usize },
}

/// How a history is run against the log.
///
/// Phases run in order; after them, whatever is left of the history is
/// produced and a final phase runs, so every history is produced in full.
/// Then a fresh group replays everything at once (the full replay).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, try_from = "UncheckedSchedule")]
pub struct Schedule {
    /// Partition count of the topic.
    partitions: u32,
    phases: Vec<Phase>,
    /// If set, a late group starts at this phase index (`phases.len()` means
    /// the final phase), replaying from earliest, then goes on incrementally.
    #[serde(skip_serializing_if = "Option::is_none")]
    late_join: Option<usize>,
}

/// A schedule as read from a file, before [`Schedule::new`] checks it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UncheckedSchedule {
    partitions: u32,
    #[serde(default, deserialize_with = "at_most_max_phases")]
    phases: Vec<Phase>,
    #[serde(default)]
    late_join: Option<usize>,
}

/// Reads a list of phases, refusing it at the first phase past
/// [`MAX_PHASES`]: a file's list is never held in memory beyond the bound.
fn at_most_max_phases<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<Phase>, D::Error> {
    struct Phases;
    impl<'de> serde::de::Visitor<'de> for Phases {
        type Value = Vec<Phase>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(f, "a list of at most {MAX_PHASES} phases")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Phase>, A::Error> {
            let mut phases = Vec::new();
            while let Some(phase) = seq.next_element::<Phase>()? {
                if phases.len() == MAX_PHASES {
                    return Err(serde::de::Error::custom(format_args!(
                        "more than {MAX_PHASES} phases; use at most {MAX_PHASES}"
                    )));
                }
                phases.push(phase);
            }
            Ok(phases)
        }
    }
    deserializer.deserialize_seq(Phases)
}

impl TryFrom<UncheckedSchedule> for Schedule {
    type Error = ScheduleError;
    fn try_from(s: UncheckedSchedule) -> Result<Schedule, ScheduleError> {
        Schedule::new(s.partitions, s.phases, s.late_join)
    }
}

impl Schedule {
    /// A schedule, if within bounds.
    pub fn new(partitions: u32, phases: Vec<Phase>, late_join: Option<usize>) -> Result<Schedule, ScheduleError> {
        if !(1..=MAX_PARTITIONS).contains(&partitions) {
            return Err(ScheduleError::Partitions(partitions));
        }
        if phases.len() > MAX_PHASES {
            return Err(ScheduleError::TooManyPhases(phases.len()));
        }
        if let Some(k) = late_join
            && k > phases.len()
        {
            return Err(ScheduleError::LateJoin { late_join: k, phases: phases.len() });
        }
        if let Some((phase, p)) = phases.iter().enumerate().find(|(_, p)| p.faults.len() > MAX_FAULTS_PER_PHASE) {
            return Err(ScheduleError::TooManyFaults { phase, faults: p.faults.len() });
        }
        Ok(Schedule { partitions, phases, late_join })
    }

    /// Whether any phase injects a fault: the log's guarantees no longer
    /// hold, so the log-level properties give way to the history checker
    /// ([`super::check::under_faults`]).
    pub fn has_faults(&self) -> bool {
        self.phases.iter().any(|p| !p.faults.is_empty())
    }

    /// Plain split replay of `records` records: produce up to each point,
    /// then poll and commit. Points are sorted; repeats are allowed (empty
    /// phases); a point past the end is refused.
    pub fn split_at(partitions: u32, points: &[usize], records: usize) -> Result<Schedule, ScheduleError> {
        if points.len() > MAX_PHASES {
            return Err(ScheduleError::TooManyPhases(points.len()));
        }
        if let Some(&point) = points.iter().find(|p| **p > records) {
            return Err(ScheduleError::SplitPastEnd { point, records });
        }
        let mut points = points.to_vec();
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
        Schedule::new(partitions, phases, None)
    }

    pub fn partitions(&self) -> u32 {
        self.partitions
    }

    pub fn phases(&self) -> &[Phase] {
        &self.phases
    }

    pub fn late_join(&self) -> Option<usize> {
        self.late_join
    }

    /// The cumulative commit points of the phases, clamped to `records`.
    pub fn split_points(&self, records: usize) -> Vec<usize> {
        let mut total = 0usize;
        self.phases
            .iter()
            .map(|p| {
                total = total.saturating_add(p.produce).min(records);
                total
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_checked_on_construction_and_on_reading() {
        assert_eq!(Schedule::new(0, vec![], None), Err(ScheduleError::Partitions(0)));
        assert_eq!(Schedule::new(257, vec![], None), Err(ScheduleError::Partitions(257)));
        assert_eq!(
            Schedule::new(1, vec![Phase::default(); MAX_PHASES + 1], None),
            Err(ScheduleError::TooManyPhases(MAX_PHASES + 1))
        );
        assert_eq!(Schedule::new(1, vec![], Some(1)), Err(ScheduleError::LateJoin { late_join: 1, phases: 0 }));
        let s = Schedule::new(256, vec![Phase::default(); MAX_PHASES], Some(MAX_PHASES)).unwrap();
        assert_eq!((s.partitions(), s.phases().len(), s.late_join()), (256, MAX_PHASES, Some(MAX_PHASES)));
        assert_eq!(Schedule::new(1, vec![], None).unwrap().late_join(), None);
        let faulty = |n| Phase { faults: vec![Fault::PollError; n], ..Phase::default() };
        assert!(Schedule::new(1, vec![faulty(MAX_FAULTS_PER_PHASE)], None).unwrap().has_faults());
        assert!(!Schedule::new(1, vec![faulty(0)], None).unwrap().has_faults());
        assert_eq!(
            Schedule::new(1, vec![faulty(0), faulty(MAX_FAULTS_PER_PHASE + 1)], None),
            Err(ScheduleError::TooManyFaults { phase: 1, faults: MAX_FAULTS_PER_PHASE + 1 })
        );
        let error = serde_json::from_str::<Schedule>(r#"{"partitions":0}"#).unwrap_err();
        assert!(error.to_string().contains("partitions is 0; use 1 to 256"), "{error}");
        let error = serde_json::from_str::<Schedule>(r#"{"partitions":1,"late_join":2}"#).unwrap_err();
        assert!(error.to_string().contains("late_join is 2"), "{error}");
    }

    #[test]
    fn split_points_are_sorted_and_bounded() {
        let s = Schedule::split_at(2, &[3, 1, 3], 5).unwrap();
        assert_eq!(s.phases().iter().map(|p| p.produce).collect::<Vec<_>>(), [1, 2, 0]);
        assert_eq!(s.split_points(5), [1, 3, 3]);
        assert_eq!(Schedule::split_at(1, &[6], 5), Err(ScheduleError::SplitPastEnd { point: 6, records: 5 }));
        assert_eq!(Schedule::split_at(1, &[5], 5).map(|s| s.split_points(5)), Ok(vec![5]), "the end is a point");
        assert_eq!(Schedule::split_at(1, &[0; MAX_PHASES], 0).map(|s| s.phases().len()), Ok(MAX_PHASES));
        assert_eq!(Schedule::split_at(1, &[0; MAX_PHASES + 1], 0), Err(ScheduleError::TooManyPhases(MAX_PHASES + 1)));
        assert_eq!(Schedule::split_at(0, &[], 5), Err(ScheduleError::Partitions(0)));
    }
}
