//! Model-based test of the log and the runners with proptest-state-machine.
//!
//! Reference state: the events produced so far and, per group, how many of
//! them its last commit covered (the model). System under test: a real
//! merkql log and the two production runners. Transitions: produce events,
//! catch up a group, crash a group's consumer mid-phase, reopen the broker.
//! After every catch-up the group must have received exactly the events
//! produced since its last commit, and its view must equal the model's
//! fold of everything produced.

use event_sourced_cart::cart::Cart;
use event_sourced_cart::cart::event::{DecodeError, DomainEvent, encode};
use event_sourced_cart::cart::generate::{history_with, to_records};
use event_sourced_cart::cart::model::model;
use event_sourced_cart::cart::projection::{CartState, Revenue};
use event_sourced_cart::domain::{Model, register};
use event_sourced_cart::log::{Log, MerkqlLog};
use event_sourced_cart::record::Position;
use event_sourced_cart::runner::{CrashPoint, GroupRunner, PhaseOptions, PhaseReport, Runner};
use proptest::prelude::*;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};
use tempfile::TempDir;

/// The two groups, by index.
const GROUPS: usize = 2;

#[derive(Clone, Debug)]
enum Transition {
    Produce(Vec<DomainEvent>),
    CatchUp(usize),
    Crash(usize, CrashPoint),
    Reopen,
}

#[derive(Clone, Debug)]
struct LogModel {
    partitions: u32,
    produced: Vec<DomainEvent>,
    /// Events covered by each group's last commit.
    committed: [usize; GROUPS],
    /// Records the last poll must have returned.
    expected_delivery: usize,
}

impl LogModel {
    fn fold(&self) -> Model {
        let records = to_records(&self.produced);
        let positioned: Vec<_> =
            records.into_iter().enumerate().map(|(i, r)| (Position { partition: 0, offset: i as u64 }, r)).collect();
        model(&positioned)
    }
}

struct Reference;

impl ReferenceStateMachine for Reference {
    type State = LogModel;
    type Transition = Transition;

    fn init_state() -> BoxedStrategy<LogModel> {
        (1..=4u32)
            .prop_map(|partitions| LogModel {
                partitions,
                produced: Vec::new(),
                committed: [0; GROUPS],
                expected_delivery: 0,
            })
            .boxed()
    }

    fn transitions(_: &LogModel) -> BoxedStrategy<Transition> {
        let crash = prop_oneof![Just(CrashPoint::BeforeApply), Just(CrashPoint::BeforeCommit)];
        prop_oneof![
            4 => history_with(5).prop_map(Transition::Produce),
            4 => (0..GROUPS).prop_map(Transition::CatchUp),
            1 => ((0..GROUPS), crash).prop_map(|(g, c)| Transition::Crash(g, c)),
            1 => Just(Transition::Reopen),
        ]
        .boxed()
    }

    fn apply(mut state: LogModel, transition: &Transition) -> LogModel {
        match transition {
            Transition::Produce(events) => state.produced.extend(events.iter().cloned()),
            Transition::CatchUp(g) => {
                state.expected_delivery = state.produced.len() - state.committed[*g];
                state.committed[*g] = state.produced.len();
            }
            Transition::Crash(g, _) => state.expected_delivery = state.produced.len() - state.committed[*g],
            Transition::Reopen => {}
        }
        state
    }
}

struct Sut {
    _dir: TempDir,
    log: MerkqlLog,
    /// Where each produced event landed, in produced order.
    positions: Vec<Position>,
    cart_state: Runner<Cart>,
    revenue: Runner<Cart>,
}

impl Sut {
    fn phase(&mut self, group: usize, options: PhaseOptions) -> PhaseReport<DecodeError> {
        let report = match group {
            0 => self.cart_state.phase(&self.log, options),
            _ => self.revenue.phase(&self.log, options),
        };
        let report = report.expect("the log works");
        self.cart_state.release_consumer().unwrap();
        self.revenue.release_consumer().unwrap();
        report
    }

    /// The positions a poll must return: those produced since the commit
    /// that covered all but the last `count` events.
    fn assert_delivered_last(&self, report: &PhaseReport<DecodeError>, count: usize) {
        let mut expected = self.positions[self.positions.len() - count..].to_vec();
        let mut got = report.delivered.clone();
        expected.sort();
        got.sort();
        assert_eq!(got, expected, "a poll returns exactly the events produced since the last commit");
    }
}

struct LogAndRunners;

impl StateMachineTest for LogAndRunners {
    type SystemUnderTest = Sut;
    type Reference = Reference;

    fn init_test(state: &LogModel) -> Sut {
        let (dir, log) = crate::support::scratch_log(state.partitions);
        Sut {
            _dir: dir,
            log,
            positions: Vec::new(),
            cart_state: Runner::new(Cart, register(CartState::new())),
            revenue: Runner::new(Cart, register(Revenue::new())),
        }
    }

    fn apply(mut sut: Sut, state: &LogModel, transition: Transition) -> Sut {
        match transition {
            Transition::Produce(events) => {
                for record in events.iter().map(encode) {
                    let position = sut.log.append(record.key.as_deref(), &record.value).unwrap();
                    sut.positions.push(position);
                }
            }
            Transition::CatchUp(group) => {
                let report = sut.phase(group, PhaseOptions::default());
                sut.assert_delivered_last(&report, state.expected_delivery);
                let model = state.fold();
                let (view, projection) = match group {
                    0 => (sut.cart_state.view(), CartState::GROUP_ID),
                    _ => (sut.revenue.view(), Revenue::GROUP_ID),
                };
                assert_eq!(Some(&view), model.views.get(projection));
            }
            Transition::Crash(group, point) => {
                let report = sut.phase(group, PhaseOptions { crash: Some(point), ..PhaseOptions::default() });
                assert_eq!(
                    report.delivered.len(),
                    state.expected_delivery,
                    "a crashed poll returns the uncommitted events"
                );
                assert!(!report.committed);
            }
            Transition::Reopen => sut.log.reopen().unwrap(),
        }
        sut
    }
}

prop_state_machine! {
    #![proptest_config(crate::support::proptest_config("proptest-regressions/state_machine.txt"))]

    #[test]
    fn log_and_runners_follow_the_model(sequential 1..30 => LogAndRunners);
}
