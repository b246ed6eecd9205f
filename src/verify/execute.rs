//! Runs a history under a schedule against a real log, recording what every
//! group saw. Judging is the checker's job ([`super::check`]).

use super::blocks::{block_orders, fold_blocks, partition_blocks};
use super::schedule::{Phase, Schedule};
use crate::event::Rejected;
use crate::log::EventLog;
use crate::projection::{CartState, CartStateView, Projection, Revenue, RevenueView};
use crate::record::{LogRecord, Position};
use crate::runner::{GroupRunner, PhaseOptions, PhaseReport, RunError, Runner};
use std::collections::HashMap;
use std::path::Path;

/// One record of a history: its key and its value, as produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryRecord {
    pub key: Option<String>,
    pub value: String,
}

/// The system under test: builds the runners of each projection.
pub trait System {
    type CartStateRunner: GroupRunner<View = CartStateView>;
    type RevenueRunner: GroupRunner<View = RevenueView>;
    fn cart_state(&self, group_id: &str) -> Self::CartStateRunner;
    fn revenue(&self, group_id: &str) -> Self::RevenueRunner;
    /// A fresh cart-state projection, folded outside any consumer group to
    /// check partition-order independence.
    fn cart_state_projection(&self) -> Box<dyn Projection<View = CartStateView>>;
    /// A fresh revenue projection, likewise.
    fn revenue_projection(&self) -> Box<dyn Projection<View = RevenueView>>;
}

/// The production system: [`Runner`] with [`CartState`] and [`Revenue`].
pub struct Production;

impl System for Production {
    type CartStateRunner = Runner<CartState>;
    type RevenueRunner = Runner<Revenue>;
    fn cart_state(&self, group_id: &str) -> Runner<CartState> {
        Runner::with_group(CartState::new(), group_id)
    }
    fn revenue(&self, group_id: &str) -> Runner<Revenue> {
        Runner::with_group(Revenue::new(), group_id)
    }
    fn cart_state_projection(&self) -> Box<dyn Projection<View = CartStateView>> {
        Box::new(CartState::new())
    }
    fn revenue_projection(&self) -> Box<dyn Projection<View = RevenueView>> {
        Box::new(Revenue::new())
    }
}

/// What one group did in one phase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhaseTrace {
    /// Index of the phase (`schedule.phases.len()` for the final one).
    pub phase: usize,
    /// Positions produced since the group's last commit: what a correct
    /// poll returns, in any order across partitions.
    pub expected_new: Vec<Position>,
    /// The crashed poll, if the phase had one.
    pub crashed: Option<PhaseReport>,
    /// The poll that committed.
    pub committed: PhaseReport,
}

/// Everything one group saw, and its final view.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace<V> {
    pub group_id: String,
    pub phases: Vec<PhaseTrace>,
    pub view: V,
    pub rejected: Vec<Rejected>,
}

/// The traces of the two projections read by one kind of group.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupPair {
    pub cart_state: Trace<CartStateView>,
    pub revenue: Trace<RevenueView>,
}

/// A finished execution.
#[derive(Clone, Debug, PartialEq)]
pub struct Execution {
    /// Every produced record with the position `send` gave it, in order.
    pub produced: Vec<(Position, HistoryRecord)>,
    /// Groups that polled and committed at every phase.
    pub incremental: GroupPair,
    /// Groups that joined at `schedule.late_join`, if any.
    pub late: Option<GroupPair>,
    /// Groups that replayed everything once, at the end.
    pub full: GroupPair,
    /// The full replay's poll re-folded block by block in other partition
    /// orders; the first entry is arrival order.
    pub block_orders: Vec<BlockOrderFold>,
}

/// The views of one partition-block order of the full replay's poll.
#[derive(Clone, Debug, PartialEq)]
pub struct BlockOrderFold {
    /// Partition ids in the order their blocks were folded.
    pub partitions: Vec<u32>,
    pub cart_state: CartStateView,
    pub revenue: RevenueView,
}

impl Execution {
    /// The records the full-replay group received, in arrival order.
    pub fn full_replay_records(&self) -> Vec<LogRecord> {
        full_replay_records(&self.produced, &self.full)
    }
}

fn full_replay_records(produced: &[(Position, HistoryRecord)], full: &GroupPair) -> Vec<LogRecord> {
    let by_position: HashMap<Position, &HistoryRecord> = produced.iter().map(|(p, r)| (*p, r)).collect();
    let delivered = full.cart_state.phases.iter().flat_map(|t| t.committed.delivered.iter());
    delivered
        .map(|p| {
            let record = by_position[p];
            LogRecord {
                topic: crate::log::TOPIC.to_string(),
                partition: p.partition,
                offset: p.offset,
                key: record.key.clone(),
                value: record.value.clone(),
            }
        })
        .collect()
}

fn fold_block_orders<S: System>(system: &S, records: &[LogRecord]) -> Vec<BlockOrderFold> {
    let blocks = partition_blocks(records);
    block_orders(blocks.len())
        .into_iter()
        .map(|order| BlockOrderFold {
            partitions: order.iter().map(|&i| blocks[i][0].partition).collect(),
            cart_state: fold_blocks(system.cart_state_projection(), &blocks, &order),
            revenue: fold_blocks(system.revenue_projection(), &blocks, &order),
        })
        .collect()
}

/// A group being driven, with what it has been expected to see.
struct Driven<R: GroupRunner> {
    runner: R,
    phases: Vec<PhaseTrace>,
    /// How many produced records the group's last commit covered.
    committed_upto: usize,
}

impl<R: GroupRunner> Driven<R> {
    fn new(runner: R) -> Self {
        Driven { runner, phases: Vec::new(), committed_upto: 0 }
    }

    fn run_phase(
        &mut self,
        log: &EventLog,
        index: usize,
        phase: &Phase,
        produced: &[(Position, HistoryRecord)],
    ) -> Result<(), RunError> {
        let expected_new = produced[self.committed_upto..].iter().map(|(p, _)| *p).collect();
        let crashed = match phase.crash {
            Some(point) => Some(
                self.runner.phase(log, PhaseOptions { reuse_consumer: phase.reuse_consumer, crash: Some(point) })?,
            ),
            None => None,
        };
        let options = PhaseOptions { reuse_consumer: phase.reuse_consumer && crashed.is_none(), crash: None };
        let committed = self.runner.phase(log, options)?;
        self.committed_upto = produced.len();
        self.phases.push(PhaseTrace { phase: index, expected_new, crashed, committed });
        Ok(())
    }

    fn finish(self, rejected: Vec<Rejected>) -> Trace<R::View> {
        Trace { group_id: self.runner.group_id().to_string(), phases: self.phases, view: self.runner.view(), rejected }
    }
}

fn rejected_of(phases: &[PhaseTrace]) -> Vec<Rejected> {
    phases
        .iter()
        .flat_map(|p| p.crashed.iter().chain(std::iter::once(&p.committed)))
        .flat_map(|r| r.rejected.iter().cloned())
        .collect()
}

struct DrivenPair<S: System> {
    cart_state: Driven<S::CartStateRunner>,
    revenue: Driven<S::RevenueRunner>,
}

impl<S: System> DrivenPair<S> {
    fn new(system: &S, suffix: &str) -> Self {
        DrivenPair {
            cart_state: Driven::new(system.cart_state(&format!("{}-{suffix}", CartState::GROUP_ID))),
            revenue: Driven::new(system.revenue(&format!("{}-{suffix}", Revenue::GROUP_ID))),
        }
    }

    fn run_phase(
        &mut self,
        log: &EventLog,
        index: usize,
        phase: &Phase,
        produced: &[(Position, HistoryRecord)],
    ) -> Result<(), RunError> {
        self.cart_state.run_phase(log, index, phase, produced)?;
        self.revenue.run_phase(log, index, phase, produced)
    }

    fn release(&mut self) -> Result<(), RunError> {
        self.cart_state.runner.release_consumer()?;
        self.revenue.runner.release_consumer()
    }

    fn finish(mut self) -> Result<GroupPair, RunError> {
        self.release()?;
        let cart_rejected = rejected_of(&self.cart_state.phases);
        let revenue_rejected = rejected_of(&self.revenue.phases);
        Ok(GroupPair {
            cart_state: self.cart_state.finish(cart_rejected),
            revenue: self.revenue.finish(revenue_rejected),
        })
    }
}

/// Why an execution could not run.
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError {
    #[error("invalid schedule: {0}")]
    Schedule(String),
    #[error(transparent)]
    Run(#[from] RunError),
}

impl From<crate::log::LogError> for ExecuteError {
    fn from(e: crate::log::LogError) -> Self {
        ExecuteError::Run(RunError::Log(e))
    }
}

/// Produces `history` into a new log in `dir` following `schedule`, driving
/// incremental, late and full-replay groups of both projections.
pub fn execute<S: System>(
    system: &S,
    history: &[HistoryRecord],
    schedule: &Schedule,
    dir: &Path,
) -> Result<Execution, ExecuteError> {
    schedule.validate().map_err(ExecuteError::Schedule)?;
    let mut log = EventLog::create(dir, schedule.partitions)?;
    let mut produced: Vec<(Position, HistoryRecord)> = Vec::with_capacity(history.len());
    let mut incremental = DrivenPair::new(system, "incremental");
    let mut late: Option<DrivenPair<S>> = None;

    let final_phase = Phase { produce: usize::MAX, ..Phase::default() };
    let phases = schedule.phases.iter().chain(std::iter::once(&final_phase));
    for (index, phase) in phases.enumerate() {
        let end = produced.len().saturating_add(phase.produce).min(history.len());
        for record in &history[produced.len()..end] {
            let position = log.append_raw(record.key.as_deref(), &record.value)?;
            produced.push((position, record.clone()));
        }
        if phase.reopen {
            incremental.release()?;
            if let Some(late) = late.as_mut() {
                late.release()?;
            }
            log.reopen()?;
        }
        if schedule.late_join == Some(index) {
            late = Some(DrivenPair::new(system, "late"));
        }
        incremental.run_phase(&log, index, phase, &produced)?;
        if let Some(late) = late.as_mut() {
            late.run_phase(&log, index, &Phase::default(), &produced)?;
        }
    }
    assert_eq!(produced.len(), history.len(), "the final phase produces the rest of the history");

    let mut full = DrivenPair::new(system, "full");
    full.run_phase(&log, schedule.phases.len() + 1, &Phase::default(), &produced)?;
    let full = full.finish()?;
    let block_orders = fold_block_orders(system, &full_replay_records(&produced, &full));
    Ok(Execution {
        produced,
        incremental: incremental.finish()?,
        late: late.map(DrivenPair::finish).transpose()?,
        full,
        block_orders,
    })
}
