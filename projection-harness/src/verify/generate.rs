//! proptest strategies for cases: a history and the schedule that runs it.
//!
//! The history comes from the domain (see [`cases`]); the schedule is
//! generic: 1-8 partitions, commit points anywhere (none, or repeated), new
//! or reused consumers, broker reopens, crashed polls and a late group.
//!
//! Commit points are generated *with the record they follow*, so that when
//! shrinking removes a record its commit points go too: the history and the
//! schedule shrink together to a handful of records and phases. (A separate
//! schedule with `produce` counts pins the history's length while it
//! shrinks, since proptest shrinks tuple members one after another.)

use super::schedule::{MAX_PHASES, Phase, Schedule};
use crate::domain::HistoryRecord;
use crate::log::Fault;
use crate::runner::CrashPoint;
use proptest::prelude::*;

/// Highest generated partition count.
pub const MAX_GENERATED_PARTITIONS: u32 = 8;

/// A history and the schedule that runs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    pub schedule: Schedule,
    pub history: Vec<HistoryRecord>,
}

/// How a commit point runs (its `produce` is filled in by [`cases`]).
pub fn commit_point() -> impl Strategy<Value = Phase> {
    (
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.3),
        prop_oneof![
            6 => Just(None),
            1 => Just(Some(CrashPoint::BeforeApply)),
            1 => Just(Some(CrashPoint::BeforeCommit)),
        ],
    )
        .prop_map(|(reopen, reuse_consumer, crash)| Phase {
            produce: 0,
            reopen,
            reuse_consumer,
            crash,
            restart: false,
            faults: Vec::new(),
        })
}

/// The commit points that follow one record: usually none, sometimes one
/// or two (a repeated commit point).
fn commit_points_after_record() -> impl Strategy<Value = Vec<Phase>> {
    prop_oneof![12 => Just(Vec::new()), 1 => prop::collection::vec(commit_point(), 1..=2)]
}

/// Cases of up to `max_records` records built by a domain's generator:
/// `context` is drawn once per case (pools of ids and names, say), then
/// each of the operations drawn from `op` is rendered into one record by
/// `render`.
pub fn cases<C, O>(
    context: impl Strategy<Value = C>,
    op: impl Strategy<Value = O>,
    max_records: usize,
    render: impl Fn(&C, O) -> HistoryRecord,
) -> impl Strategy<Value = Case>
where
    C: std::fmt::Debug + Clone,
    O: std::fmt::Debug + Clone,
{
    // proptest shrinks a tuple's members in order and does not go back:
    // the records first, then the schedule's other parts, so that a phase
    // or a late join that the shrunk history no longer needs still goes.
    (
        context,
        prop::collection::vec((op, commit_points_after_record()), 0..=max_records),
        prop::collection::vec(commit_point(), 0..=1),
        prop::option::weighted(0.4, 0..=MAX_PHASES),
        1..=MAX_GENERATED_PARTITIONS,
    )
        .prop_map(move |(context, ops, leading, late, partitions)| {
            let mut phases: Vec<Phase> = leading;
            let mut history = Vec::with_capacity(ops.len());
            for (index, (op, points)) in ops.into_iter().enumerate() {
                history.push(render(&context, op));
                for mut phase in points {
                    let produced: usize = phases.iter().map(|p| p.produce).sum();
                    phase.produce = index + 1 - produced;
                    phases.push(phase);
                }
            }
            phases.truncate(MAX_PHASES);
            // Modulo, not min: spreads joins over every phase of short schedules.
            let late_join = late.map(|k| k % (phases.len() + 1));
            let schedule = Schedule::new(partitions, phases, late_join)
                .expect("generated schedules are within bounds by construction");
            Case { schedule, history }
        })
}

/// `cases` with process restarts: about one phase in four also restarts
/// every runner ([`Phase::restart`]). For systems whose runners survive a
/// restart (the durable one); an in-memory runner loses its view.
pub fn with_restarts(cases: impl Strategy<Value = Case>) -> impl Strategy<Value = Case> {
    (cases, prop::collection::vec(prop::bool::weighted(0.25), MAX_PHASES)).prop_map(|(case, restarts)| {
        let phases = case
            .schedule
            .phases()
            .iter()
            .zip(restarts)
            .map(|(phase, restart)| Phase { restart, ..phase.clone() })
            .collect();
        let schedule = Schedule::new(case.schedule.partitions(), phases, case.schedule.late_join())
            .expect("the same bounds as the case's own schedule");
        Case { schedule, ..case }
    })
}

/// One fault, any kind; partitions and offsets are small numbers, taken
/// modulo what the log holds when the fault applies ([`Fault`]).
pub fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        Just(Fault::CorruptGroupOffsets),
        Just(Fault::DeleteGroupOffsets),
        (0..MAX_GENERATED_PARTITIONS, 1..8u64).prop_map(|(partition, evict)| Fault::Retention { partition, evict }),
        (0..MAX_GENERATED_PARTITIONS, 1..4u64)
            .prop_map(|(partition, records)| Fault::TruncateIndexTail { partition, records }),
        (0..MAX_GENERATED_PARTITIONS, 0..64u64)
            .prop_map(|(partition, offset)| Fault::MissingObject { partition, offset }),
        (0..MAX_GENERATED_PARTITIONS, 0..64u64)
            .prop_map(|(partition, offset)| Fault::FlipPayloadByte { partition, offset }),
        Just(Fault::PollError),
        (0..20u32).prop_map(|after| Fault::PanicInApply { after }),
    ]
}

/// `cases` with faults: about one phase in four injects one or two
/// [`fault`]s. The faults belong to their phase, and phases to the record
/// they follow, so they shrink away with the history; each fault then
/// shrinks on its own (fewer faults, smaller numbers).
pub fn with_faults(cases: impl Strategy<Value = Case>) -> impl Strategy<Value = Case> {
    let faults = prop_oneof![3 => Just(Vec::new()), 1 => prop::collection::vec(fault(), 1..=2)];
    (cases, prop::collection::vec(faults, MAX_PHASES)).prop_map(|(case, faults)| {
        let phases = case
            .schedule
            .phases()
            .iter()
            .zip(faults)
            .map(|(phase, faults)| Phase { faults, ..phase.clone() })
            .collect();
        let schedule = Schedule::new(case.schedule.partitions(), phases, case.schedule.late_join())
            .expect("at most two faults a phase, within the bounds");
        Case { schedule, ..case }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

    #[test]
    fn with_faults_adds_faults_to_about_one_phase_in_four() {
        let mut runner =
            TestRunner::new_with_rng(Config::default(), TestRng::from_seed(RngAlgorithm::ChaCha, &[3; 32]));
        let plain = cases(Just(()), Just(()), 20, |_, _| HistoryRecord { key: None, value: "v".into() });
        let faulty = with_faults(plain);
        let (mut with, mut phases) = (0, 0);
        for _ in 0..200 {
            let case = faulty.new_tree(&mut runner).unwrap().current();
            phases += case.schedule.phases().len();
            with += case.schedule.phases().iter().filter(|p| !p.faults.is_empty()).count();
            assert!(case.schedule.phases().iter().all(|p| p.faults.len() <= 2));
        }
        assert!(with > phases / 8 && with < phases / 2, "about one phase in four: {with} of {phases}");
    }
}
