//! The properties, one check function each. A check returns the first
//! [`Violation`] it finds, named and explained, or `Ok(())`.
//!
//! Every check is generic over the domain: five need nothing from it
//! (split equivalence, only new events, late group, redelivery, partition
//! order); per-key ordering and model agreement use the domain's reference
//! model ([`Execution::model`]). Views are compared with their own
//! `PartialEq` and shown as a unified diff of their JSON.

use super::diff::json_diff;
use super::execute::{Execution, PhaseTrace, Trace};
use super::key_ids::KeyIds;
use super::{FastMap, FastSet};
use crate::domain::Domain;
use crate::record::{Position, Positions, sorted_positions as sorted};
use crate::text::quoted;

/// A broken property, with what was expected and what happened.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    #[error("split equivalence: {projection}: full replay and split replay differ\n{diff}")]
    SplitMismatch { projection: String, diff: String },
    #[error(
        "only new events: group {group}, phase {phase}: the poll returned {}, not exactly the {} produced since the last commit ({}).\n  returned: {}\n  expected: {}",
        crate::text::count(.got.len() as u64, "record"), crate::text::count(.expected.len() as u64, "record"),
        differences(.expected, .got), Positions(.got), Positions(.expected)
    )]
    NotOnlyNew { group: String, phase: usize, expected: Vec<Position>, got: Vec<Position> },
    #[error(
        "per-key ordering: group {group}, key {key}: its records were not applied as produced ({}).\n  applied: {}\n  produced: {}",
        differences(.expected, .got), Positions(.got), Positions(.expected)
    )]
    KeyOrder { group: String, key: String, expected: Vec<Position>, got: Vec<Position> },
    #[error("per-key ordering: group {group} applied the record at {position} {count} times")]
    AppliedTwice { group: String, position: Position, count: usize },
    #[error("per-key ordering: partition {partition} assigned offsets {offsets:?}, not 0, 1, 2, ... without gaps")]
    OffsetGap { partition: u32, offsets: Vec<u64> },
    #[error("model agreement: group {group}: the view differs from the model\n{diff}")]
    ModelMismatch { group: String, diff: String },
    #[error("model agreement: the model has no view of projection {projection}; add its part to the domain's model")]
    ModelMissing { projection: String },
    #[error(
        "model agreement: group {group} rejected other records than the model ({}).\n  rejected: {}\n  the model rejects: {}",
        differences(.expected, .got), Positions(.got), Positions(.expected)
    )]
    RejectedMismatch { group: String, expected: Vec<Position>, got: Vec<Position> },
    #[error(
        "partition-order independence: {projection}: partition blocks applied in order {order:?} give another view than arrival order {arrival:?}\n{diff}"
    )]
    PartitionOrder { projection: String, arrival: Vec<u32>, order: Vec<u32>, diff: String },
    #[error(
        "late group: {projection}: the group that joined at phase {joined} differs from the incremental group\n{diff}"
    )]
    LateGroupMismatch { projection: String, joined: usize, diff: String },
    #[error("redelivery: group {group}, phase {phase}: {detail}")]
    Redelivery { group: String, phase: usize, position: Position, detail: String },
    #[error("history: {0}")]
    Anomaly(crate::anomaly::Anomaly),
    #[error(
        "no silent divergence: group {group}: the view differs from the model, yet the group did not stop and the history shows no lost or changed record to explain it\n{diff}"
    )]
    SilentDivergence { group: String, diff: String },
}

/// What `got` has that `expected` lacks (extra) and the reverse
/// (missing), counting repeats, each in (partition, offset) order.
pub(crate) fn extra_and_missing(expected: &[Position], got: &[Position]) -> (Vec<Position>, Vec<Position>) {
    let mut balance: std::collections::BTreeMap<Position, i64> = std::collections::BTreeMap::new();
    for position in got {
        *balance.entry(*position).or_default() += 1;
    }
    for position in expected {
        *balance.entry(*position).or_default() -= 1;
    }
    let (mut extra, mut missing) = (Vec::new(), Vec::new());
    for (position, &n) in &balance {
        let times = n.unsigned_abs() as usize;
        match n.cmp(&0) {
            std::cmp::Ordering::Greater => extra.extend(std::iter::repeat_n(*position, times)),
            std::cmp::Ordering::Less => missing.extend(std::iter::repeat_n(*position, times)),
            std::cmp::Ordering::Equal => {}
        }
    }
    (extra, missing)
}

/// [`extra_and_missing`] in one phrase: `extra p0@3; missing p1@0..2`, or
/// `the same records in another order`.
fn differences(expected: &[Position], got: &[Position]) -> String {
    let (extra, missing) = extra_and_missing(expected, got);
    match (extra.is_empty(), missing.is_empty()) {
        (true, true) => "the same records in another order".to_string(),
        (false, true) => format!("extra {}", Positions(&extra)),
        (true, false) => format!("missing {}", Positions(&missing)),
        (false, false) => format!("extra {}; missing {}", Positions(&extra), Positions(&missing)),
    }
}

/// The records that differ, in (partition, offset) order: extra and
/// missing ones, or, when only the order differs, those not where they
/// were expected.
fn differing(expected: &[Position], got: &[Position]) -> Vec<Position> {
    let (mut differ, missing) = extra_and_missing(expected, got);
    if differ.is_empty() && missing.is_empty() {
        differ = got.iter().zip(expected).filter(|(g, e)| g != e).map(|(g, _)| *g).collect();
    }
    differ.extend(missing);
    differ.sort();
    differ.dedup();
    differ
}

impl Violation {
    /// The property it breaks, as its message names it (`only new
    /// events`, `model agreement`, ...).
    pub fn property(&self) -> &'static str {
        match self {
            Violation::SplitMismatch { .. } => "split equivalence",
            Violation::NotOnlyNew { .. } => "only new events",
            Violation::KeyOrder { .. } | Violation::AppliedTwice { .. } | Violation::OffsetGap { .. } => {
                "per-key ordering"
            }
            Violation::ModelMismatch { .. } | Violation::ModelMissing { .. } | Violation::RejectedMismatch { .. } => {
                "model agreement"
            }
            Violation::PartitionOrder { .. } => "partition-order independence",
            Violation::LateGroupMismatch { .. } => "late group",
            Violation::Redelivery { .. } => "redelivery",
            Violation::Anomaly(_) => "history",
            Violation::SilentDivergence { .. } => "no silent divergence",
        }
    }

    /// The records it is about, in (partition, offset) order: those that
    /// differ from what was expected, the record applied twice or not
    /// redelivered, the offsets out of place, the anomaly's. Empty for a
    /// violation about views.
    pub fn positions(&self) -> Vec<Position> {
        match self {
            Violation::NotOnlyNew { expected, got, .. }
            | Violation::KeyOrder { expected, got, .. }
            | Violation::RejectedMismatch { expected, got, .. } => differing(expected, got),
            Violation::AppliedTwice { position, .. } | Violation::Redelivery { position, .. } => vec![*position],
            Violation::OffsetGap { partition, offsets } => offsets
                .iter()
                .enumerate()
                .filter(|(i, offset)| **offset != *i as u64)
                .map(|(_, offset)| Position { partition: *partition, offset: *offset })
                .collect(),
            Violation::Anomaly(anomaly) => sorted(&anomaly.positions),
            Violation::SplitMismatch { .. }
            | Violation::ModelMismatch { .. }
            | Violation::ModelMissing { .. }
            | Violation::PartitionOrder { .. }
            | Violation::LateGroupMismatch { .. }
            | Violation::SilentDivergence { .. } => Vec::new(),
        }
    }
}

/// A property check over a finished execution.
pub type Check<D> = fn(&Execution<D>) -> Result<(), Violation>;

/// Every property, by name, in a fixed order.
pub fn all<D: Domain>() -> [(&'static str, Check<D>); 8] {
    [
        ("history", check_history),
        ("split_equivalence", check_split_equivalence),
        ("only_new_events", check_only_new_events),
        ("per_key_ordering", check_per_key_ordering),
        ("model_agreement", check_model_agreement),
        ("late_group", check_late_group),
        ("redelivery", check_redelivery),
        ("partition_order_independence", check_partition_order_independence),
    ]
}

/// Every property: all violations found (one per property at most).
pub fn check_all<D: Domain>(execution: &Execution<D>) -> Vec<Violation> {
    all::<D>().iter().filter_map(|(_, check)| check(execution).err()).collect()
}

/// The properties that hold when faults are injected into the log
/// ([`crate::verify::Phase::faults`]). The log's own guarantees (only new
/// events, redelivery after a crash) are broken by the faults themselves,
/// and the history checker names how; what must still hold is the
/// runners': no group diverges from the model silently, and no group
/// applies a record twice, out of its key's order, or past its
/// checkpoint.
pub fn under_faults<D: Domain>() -> [(&'static str, Check<D>); 2] {
    [("no_silent_divergence", check_no_silent_divergence), ("runner_anomalies", check_runner_anomalies)]
}

/// [`under_faults`], all violations found.
pub fn check_under_faults<D: Domain>(execution: &Execution<D>) -> Vec<Violation> {
    under_faults::<D>().iter().filter_map(|(_, check)| check(execution).err()).collect()
}

/// The history checker found nothing: the log kept every acknowledged
/// record and delivered it in order, and every runner applied each once.
pub fn check_history<D: Domain>(execution: &Execution<D>) -> Result<(), Violation> {
    match execution.anomalies.first() {
        Some(anomaly) => Err(Violation::Anomaly(anomaly.clone())),
        None => Ok(()),
    }
}

/// Every group's view equals the model's, unless the group stopped with a
/// named anomaly or the log lost or changed acknowledged records (a
/// data-loss anomaly: no reader can then see everything written).
pub fn check_no_silent_divergence<D: Domain>(execution: &Execution<D>) -> Result<(), Violation> {
    let data_lost = execution.anomalies.iter().any(|a| a.kind.is_data_loss());
    for trace in execution.traces() {
        if trace.stopped.is_some() || data_lost {
            continue;
        }
        let Some(expected) = execution.model.views.get(&trace.projection) else {
            return Err(Violation::ModelMissing { projection: trace.projection.clone() });
        };
        if &trace.view != expected {
            return Err(Violation::SilentDivergence {
                group: trace.group_id.clone(),
                diff: json_diff("model", expected, &trace.group_id, &trace.view),
            });
        }
    }
    Ok(())
}

/// No runner applied a record twice, out of its key's order, with its
/// checkpoint behind its view or ahead of the log; a skipped apply only
/// where the log lost records. A stop is not a violation: it is the
/// runner saying what it found.
pub fn check_runner_anomalies<D: Domain>(execution: &Execution<D>) -> Result<(), Violation> {
    use crate::anomaly::Kind;
    let data_lost = execution.anomalies.iter().any(|a| a.kind.is_data_loss());
    let stopped_for = |anomaly: &crate::anomaly::Anomaly| {
        execution.traces().any(|t| {
            t.stopped.as_ref().is_some_and(|s| s.anomaly == anomaly.kind)
                && anomaly.group.as_deref() == Some(&t.group_id)
        })
    };
    let found = execution.anomalies.iter().find(|anomaly| match anomaly.kind {
        Kind::DuplicateApply | Kind::PerKeyReorder | Kind::CheckpointBehindView | Kind::CheckpointAheadOfLog => {
            !stopped_for(anomaly)
        }
        Kind::SkippedApply => !data_lost && !stopped_for(anomaly),
        _ => false,
    });
    match found {
        Some(anomaly) => Err(Violation::Anomaly(anomaly.clone())),
        None => Ok(()),
    }
}

/// Full replay == split replay, for each projection.
pub fn check_split_equivalence<D: Domain>(execution: &Execution<D>) -> Result<(), Violation> {
    for (full, split) in execution.full.iter().zip(&execution.incremental) {
        same_view(full, split, |diff| Violation::SplitMismatch { projection: full.projection.clone(), diff })?;
    }
    Ok(())
}

/// A late group ends equal to the groups that were incremental all along.
pub fn check_late_group<D: Domain>(execution: &Execution<D>) -> Result<(), Violation> {
    let Some(late) = &execution.late else { return Ok(()) };
    for (incremental, late) in execution.incremental.iter().zip(late) {
        let joined = late.phases.first().map_or(0, |p| p.phase);
        same_view(incremental, late, |diff| Violation::LateGroupMismatch {
            projection: late.projection.clone(),
            joined,
            diff,
        })?;
    }
    Ok(())
}

fn same_view<R>(left: &Trace<R>, right: &Trace<R>, violation: impl Fn(String) -> Violation) -> Result<(), Violation> {
    if left.view == right.view {
        return Ok(());
    }
    Err(violation(json_diff(&left.group_id, &left.view, &right.group_id, &right.view)))
}

/// At each phase a group receives exactly the records produced since its
/// last commit (by partition and offset), crashed polls included.
pub fn check_only_new_events<D: Domain>(execution: &Execution<D>) -> Result<(), Violation> {
    for trace in execution.traces() {
        for phase in &trace.phases {
            let expected = sorted(&phase.expected_new);
            for report in phase.reports() {
                let got = sorted(&report.delivered);
                if got != expected {
                    return Err(Violation::NotOnlyNew {
                        group: trace.group_id.clone(),
                        phase: phase.phase,
                        expected,
                        got,
                    });
                }
            }
        }
    }
    Ok(())
}

/// Offsets run from 0 without gaps in every partition; every group applies
/// every record the model accepts exactly once, each key's in produced
/// order, and nothing else.
pub fn check_per_key_ordering<D: Domain>(execution: &Execution<D>) -> Result<(), Violation> {
    // Linear in the produced history and in what each group applied: every
    // position is turned into its index in `produced` (offsets are dense,
    // checked first) and every key into a small id, so the per-group work
    // is array indexing, not string maps.
    let mut index_by_partition: FastMap<u32, Vec<usize>> = FastMap::default();
    for (index, (position, _)) in execution.produced.iter().enumerate() {
        index_by_partition.entry(position.partition).or_default().push(index);
    }
    let mut partitions: Vec<u32> = index_by_partition.keys().copied().collect();
    partitions.sort_unstable();
    for partition in partitions {
        let indexes = &index_by_partition[&partition];
        let offsets: Vec<u64> = indexes.iter().map(|&i| execution.produced[i].0.offset).collect();
        if offsets.iter().enumerate().any(|(i, o)| *o != i as u64) {
            return Err(Violation::OffsetGap { partition, offsets });
        }
    }
    let produced_index =
        |p: &Position| index_by_partition.get(&p.partition).and_then(|indexes| indexes.get(p.offset as usize)).copied();

    let keys = KeyIds::new(execution.produced.iter().map(|(_, record)| record.key.as_deref()));
    let rejected: FastSet<Position> = execution.model.rejected.iter().copied().collect();
    let mut expected_by_key: Vec<Vec<Position>> = vec![Vec::new(); keys.count()];
    for (index, (position, _)) in execution.produced.iter().enumerate() {
        if !rejected.contains(position) {
            expected_by_key[keys.of_record[index]].push(*position);
        }
    }
    for trace in execution.traces() {
        let applied: Vec<Position> = trace.applied().collect();
        // Counts of produced positions by index; of others (a log that
        // invents records) in a map.
        let mut counts = vec![0usize; execution.produced.len()];
        let mut other_counts: FastMap<Position, usize> = FastMap::default();
        for p in &applied {
            match produced_index(p) {
                Some(index) => counts[index] += 1,
                None => *other_counts.entry(*p).or_default() += 1,
            }
        }
        let count = |p: &Position| produced_index(p).map_or_else(|| other_counts[p], |index| counts[index]);
        if let Some(position) = applied.iter().find(|p| count(p) > 1) {
            return Err(Violation::AppliedTwice {
                group: trace.group_id.clone(),
                position: *position,
                count: count(position),
            });
        }
        let mut got_by_key: Vec<Vec<Position>> = vec![Vec::new(); keys.count()];
        for p in &applied {
            // A position nothing was produced at sits under no key.
            let key = produced_index(p).map_or(keys.no_key, |index| keys.of_record[index]);
            got_by_key[key].push(*p);
        }
        for &key in &keys.sorted {
            if got_by_key[key] != expected_by_key[key] {
                return Err(Violation::KeyOrder {
                    group: trace.group_id.clone(),
                    key: keys.names[key].map_or_else(|| "(none)".to_string(), quoted),
                    expected: expected_by_key[key].clone(),
                    got: got_by_key[key].clone(),
                });
            }
        }
    }
    Ok(())
}

/// Every group's view equals the model's view of its projection, and every
/// group rejects exactly the records the model rejects.
pub fn check_model_agreement<D: Domain>(execution: &Execution<D>) -> Result<(), Violation> {
    let model = &execution.model;
    for trace in execution.traces() {
        let Some(expected) = model.views.get(&trace.projection) else {
            return Err(Violation::ModelMissing { projection: trace.projection.clone() });
        };
        if &trace.view != expected {
            return Err(Violation::ModelMismatch {
                group: trace.group_id.clone(),
                diff: json_diff("model", expected, &trace.group_id, &trace.view),
            });
        }
    }
    let expected = sorted(&model.rejected);
    for trace in execution.traces() {
        let got = sorted(&trace.rejected.iter().map(|r| r.position()).collect::<Vec<_>>());
        if got != expected {
            return Err(Violation::RejectedMismatch { group: trace.group_id.clone(), expected, got });
        }
    }
    Ok(())
}

/// Records polled but not committed come back to the next consumer of the
/// group, and the runner applies each of them exactly once.
pub fn check_redelivery<D: Domain>(execution: &Execution<D>) -> Result<(), Violation> {
    for trace in execution.traces() {
        for phase in &trace.phases {
            redelivered_once(&trace.group_id, phase)?;
        }
    }
    Ok(())
}

fn redelivered_once<R>(group: &str, phase: &PhaseTrace<R>) -> Result<(), Violation> {
    let Some(crashed) = &phase.crashed else { return Ok(()) };
    let fail = |position: &Position, detail: String| Violation::Redelivery {
        group: group.to_string(),
        phase: phase.phase,
        position: *position,
        detail: format!("{position} {detail}"),
    };
    let next = &phase.committed;
    if let Some(lost) = crashed.delivered.iter().find(|p| !next.delivered.contains(p)) {
        return Err(fail(lost, "was polled, not committed, and did not come back".into()));
    }
    if let Some(twice) = crashed.applied.iter().find(|p| next.applied.contains(p)) {
        return Err(fail(twice, "was applied before the crash and again after it".into()));
    }
    if let Some(missed) = crashed.applied.iter().find(|p| !next.duplicates.contains(p)) {
        return Err(fail(missed, "was applied before the crash but not recognised as a duplicate".into()));
    }
    Ok(())
}

/// The views do not depend on the order in which partition blocks arrive:
/// the full replay's poll, folded block by block in every rotation of the
/// arrival order and in reverse (by the domain's own projections), gives
/// the same views as arrival order.
pub fn check_partition_order_independence<D: Domain>(execution: &Execution<D>) -> Result<(), Violation> {
    let Some((arrival, others)) = execution.block_orders.split_first() else { return Ok(()) };
    for other in others {
        for ((projection, arrival_view), (_, other_view)) in arrival.views.iter().zip(&other.views) {
            if arrival_view != other_view {
                return Err(Violation::PartitionOrder {
                    projection: projection.clone(),
                    arrival: arrival.partitions.clone(),
                    order: other.partitions.clone(),
                    diff: json_diff("arrival order", arrival_view, "other order", other_view),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anomaly::{Anomaly, Kind};
    use crate::domain::{AnyView, Model};
    use crate::example::Counters;
    use crate::verify::execute::{Stop, Trace};

    /// A violation says first what differs, in one sentence, then the
    /// detail, positions in their compact form.
    #[test]
    fn position_violations_say_what_differs_first() {
        let at = |partition, offset| Position { partition, offset };
        let poll = Violation::NotOnlyNew {
            group: "g".into(),
            phase: 1,
            expected: vec![at(0, 0), at(0, 1), at(1, 0)],
            got: vec![at(0, 0), at(0, 1), at(0, 2), at(0, 2)],
        };
        assert_eq!(
            poll.to_string(),
            "only new events: group g, phase 1: the poll returned 4 records, not exactly the 3 records produced since the last commit (extra p0@2, p0@2; missing p1@0).\n  returned: p0@0..2, p0@2\n  expected: p0@0..1, p1@0"
        );
        let order = Violation::KeyOrder {
            group: "g".into(),
            key: "k".into(),
            expected: vec![at(0, 0), at(0, 1)],
            got: vec![at(0, 1), at(0, 0)],
        };
        assert_eq!(
            order.to_string(),
            "per-key ordering: group g, key k: its records were not applied as produced (the same records in another order).\n  applied: p0@1, p0@0\n  produced: p0@0..1"
        );
        let rejected = Violation::RejectedMismatch { group: "g".into(), expected: vec![at(2, 4)], got: vec![] };
        assert!(
            rejected
                .to_string()
                .starts_with("model agreement: group g rejected other records than the model (missing p2@4).")
        );
        assert_eq!(differences(&[at(0, 0)], &[at(0, 0), at(0, 1)]), "extra p0@1");
    }

    /// What a report lights: the records out of place, sorted, not every
    /// record of the key.
    #[test]
    fn a_violation_names_the_records_that_differ_in_order() {
        let at = |partition, offset| Position { partition, offset };
        let reordered = Violation::KeyOrder {
            group: "g".into(),
            key: "k".into(),
            expected: vec![at(0, 0), at(0, 1), at(0, 2), at(0, 3)],
            got: vec![at(0, 0), at(0, 3), at(0, 2), at(0, 1)],
        };
        assert_eq!(reordered.positions(), [at(0, 1), at(0, 3)]);
        let missing = Violation::NotOnlyNew {
            group: "g".into(),
            phase: 1,
            expected: vec![at(1, 0), at(0, 5)],
            got: vec![at(0, 5), at(0, 4), at(0, 4)],
        };
        assert_eq!(missing.positions(), [at(0, 4), at(1, 0)], "extra and missing, once each, sorted");
        let gap = Violation::OffsetGap { partition: 2, offsets: vec![0, 1, 3] };
        assert_eq!(gap.positions(), [at(2, 3)]);
    }

    fn trace(group: &str, stopped: Option<Kind>) -> Trace<crate::example::NotAnEvent> {
        Trace {
            projection: "p".into(),
            group_id: group.into(),
            phases: Vec::new(),
            view: AnyView::new(0u32),
            rejected: Vec::new(),
            stopped: stopped.map(|anomaly| Stop {
                phase: 0,
                anomaly,
                message: String::new(),
                positions: Vec::new(),
                count: 0,
            }),
        }
    }

    fn anomaly(kind: Kind, group: &str) -> Anomaly {
        Anomaly {
            kind,
            group: Some(group.into()),
            positions: Vec::new(),
            count: 1,
            detail: String::new(),
            explanation: kind.explanation(),
        }
    }

    fn execution(anomalies: Vec<Anomaly>) -> Execution<Counters> {
        Execution {
            produced: Vec::new(),
            incremental: vec![trace("a", Some(Kind::CheckpointAheadOfLog)), trace("b", None)],
            late: None,
            full: Vec::new(),
            block_orders: Vec::new(),
            model: Model::default(),
            faults: Vec::new(),
            anomalies,
        }
    }

    #[test]
    fn a_runner_anomaly_is_excused_only_for_the_group_that_stopped_for_it() {
        let stopped = execution(vec![anomaly(Kind::CheckpointAheadOfLog, "a")]);
        assert_eq!(check_runner_anomalies(&stopped), Ok(()));
        let other = execution(vec![anomaly(Kind::CheckpointAheadOfLog, "b")]);
        assert!(
            matches!(check_runner_anomalies(&other), Err(Violation::Anomaly(a)) if a.group.as_deref() == Some("b"))
        );
        let other_kind = execution(vec![anomaly(Kind::DuplicateApply, "a")]);
        assert!(check_runner_anomalies(&other_kind).is_err(), "stopped for another anomaly");
        let log_level = execution(vec![anomaly(Kind::NonmonotonicPoll, "b")]);
        assert_eq!(check_runner_anomalies(&log_level), Ok(()), "the log's anomalies are not the runner's");
    }
}
