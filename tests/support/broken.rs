//! Deliberately broken runners and projections: each property must be seen
//! catching one of these bugs.

use event_sourced_cart::event::{DomainEvent, decode};
use event_sourced_cart::log::{EventLog, GroupConsumer};
use event_sourced_cart::money::Cents;
use event_sourced_cart::projection::{CartStateView, Line, Projection, Revenue};
use event_sourced_cart::runner::{CrashPoint, GroupRunner, PhaseOptions, PhaseReport, RunError};
use event_sourced_cart::verify::System;
use std::collections::{BTreeMap, HashMap};

/// Bugs planted in a runner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunnerBug {
    /// Commits right after the poll, then applies.
    CommitsBeforeApplying,
    /// Skips the last record each partition returns in a poll (an
    /// off-by-one in a range loop). Per partition, so the bug does not
    /// depend on merkql's varying block order and shrinks deterministically.
    DropsLastRecord,
    /// Applies redelivered records again.
    NoDuplicateTracking,
    /// Reads with a new group id every phase, so never resumes from a commit.
    ForgetsCommits,
}

/// Bugs planted in the cart-state projection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProjectionBug {
    /// A re-added item takes the new price instead of keeping the first.
    KeepsLastPrice,
    /// `RemoveItem` does nothing.
    IgnoresRemovals,
    /// New lines take the price an item was first seen at in *any* cart,
    /// so the view depends on the order of carts across partitions.
    SharesPricesAcrossCarts,
}

/// A cart-state projection with one planted bug.
pub struct BuggyCartState {
    bug: ProjectionBug,
    view: CartStateView,
    first_seen_price: HashMap<String, Cents>,
}

impl BuggyCartState {
    pub fn new(bug: ProjectionBug) -> Self {
        BuggyCartState { bug, view: CartStateView::default(), first_seen_price: HashMap::new() }
    }
}

impl Projection for BuggyCartState {
    type View = CartStateView;
    fn group_id(&self) -> &str {
        "cart-state"
    }
    fn apply(&mut self, event: &DomainEvent) {
        match event {
            DomainEvent::AddItem { cart_id, item, qty, unit_price } => {
                let mut price = *unit_price;
                if self.bug == ProjectionBug::SharesPricesAcrossCarts {
                    price = *self.first_seen_price.entry(item.clone()).or_insert(price);
                }
                let cart = self.view.carts.entry(cart_id.clone()).or_default();
                match cart.lines.iter_mut().find(|l| &l.item == item) {
                    Some(line) => {
                        line.qty = line.qty.saturating_add(u64::from(*qty));
                        if self.bug == ProjectionBug::KeepsLastPrice {
                            line.unit_price = price;
                        }
                    }
                    None => cart.lines.push(Line { item: item.clone(), qty: u64::from(*qty), unit_price: price }),
                }
            }
            DomainEvent::RemoveItem { cart_id, item } => {
                if self.bug != ProjectionBug::IgnoresRemovals
                    && let Some(cart) = self.view.carts.get_mut(cart_id)
                {
                    cart.lines.retain(|l| &l.item != item);
                }
            }
            DomainEvent::Checkout { .. } => {}
        }
    }
    fn view(&self) -> CartStateView {
        self.view.clone()
    }
}

/// A runner with an optional planted bug; without one it behaves like the
/// production runner (same steps, same order).
pub struct BrokenRunner<P: Projection> {
    bug: Option<RunnerBug>,
    projection: P,
    group_id: String,
    phases_run: usize,
    consumer: Option<GroupConsumer>,
    next_offset: BTreeMap<u32, u64>,
}

impl<P: Projection> BrokenRunner<P> {
    pub fn new(bug: Option<RunnerBug>, projection: P, group_id: &str) -> Self {
        BrokenRunner {
            bug,
            projection,
            group_id: group_id.to_string(),
            phases_run: 0,
            consumer: None,
            next_offset: BTreeMap::new(),
        }
    }

    fn apply(&mut self, records: &[event_sourced_cart::record::LogRecord], report: &mut PhaseReport) {
        let last_of_block = |i: usize| records.get(i + 1).is_none_or(|next| next.partition != records[i].partition);
        for (i, record) in records.iter().enumerate() {
            if self.bug == Some(RunnerBug::DropsLastRecord) && last_of_block(i) {
                continue;
            }
            let expected = self.next_offset.entry(record.partition).or_insert(0);
            if record.offset < *expected && self.bug != Some(RunnerBug::NoDuplicateTracking) {
                report.duplicates.push(record.position());
                continue;
            }
            *expected = (*expected).max(record.offset + 1);
            match decode(record) {
                Ok(event) => {
                    self.projection.apply(&event);
                    report.applied.push(record.position());
                }
                Err(rejected) => report.rejected.push(rejected),
            }
        }
    }
}

impl<P: Projection> GroupRunner for BrokenRunner<P> {
    type View = P::View;

    fn group_id(&self) -> &str {
        &self.group_id
    }

    fn phase(&mut self, log: &EventLog, options: PhaseOptions) -> Result<PhaseReport, RunError> {
        self.phases_run += 1;
        let group = match self.bug {
            Some(RunnerBug::ForgetsCommits) => format!("{}-{}", self.group_id, self.phases_run),
            _ => self.group_id.clone(),
        };
        let mut consumer = match self.consumer.take() {
            Some(c) if options.reuse_consumer && self.bug != Some(RunnerBug::ForgetsCommits) => c,
            _ => log.consumer(&group)?,
        };
        let records = consumer.poll()?;
        let mut report =
            PhaseReport { delivered: records.iter().map(|r| r.position()).collect(), ..Default::default() };
        let commits_first = self.bug == Some(RunnerBug::CommitsBeforeApplying);
        // The crash points sit where this runner's steps put them.
        let (first_crash, second_crash) = if commits_first {
            (CrashPoint::BeforeCommit, CrashPoint::BeforeApply)
        } else {
            (CrashPoint::BeforeApply, CrashPoint::BeforeCommit)
        };
        if options.crash == Some(first_crash) {
            return Ok(report);
        }
        if commits_first {
            consumer.commit()?;
        } else {
            self.apply(&records, &mut report);
        }
        if options.crash == Some(second_crash) {
            return Ok(report);
        }
        if commits_first {
            self.apply(&records, &mut report);
        } else {
            consumer.commit()?;
        }
        report.committed = true;
        self.consumer = Some(consumer);
        Ok(report)
    }

    fn release_consumer(&mut self) -> Result<(), RunError> {
        if let Some(c) = self.consumer.take() {
            c.close()?;
        }
        Ok(())
    }

    fn view(&self) -> P::View {
        self.projection.view()
    }
}

/// A system with planted bugs: the runner bug applies to both projections,
/// the projection bug to cart-state.
#[derive(Clone, Copy, Debug, Default)]
pub struct BrokenSystem {
    pub runner: Option<RunnerBug>,
    pub projection: Option<ProjectionBug>,
}

impl BrokenSystem {
    pub fn runner(bug: RunnerBug) -> Self {
        BrokenSystem { runner: Some(bug), projection: None }
    }
    pub fn projection(bug: ProjectionBug) -> Self {
        BrokenSystem { runner: None, projection: Some(bug) }
    }
}

/// Cart state through the broken runner: correct unless a bug is planted.
pub enum MaybeBuggyCartState {
    Correct(event_sourced_cart::projection::CartState),
    Buggy(BuggyCartState),
}

impl Projection for MaybeBuggyCartState {
    type View = CartStateView;
    fn group_id(&self) -> &str {
        "cart-state"
    }
    fn apply(&mut self, event: &DomainEvent) {
        match self {
            MaybeBuggyCartState::Correct(p) => p.apply(event),
            MaybeBuggyCartState::Buggy(p) => p.apply(event),
        }
    }
    fn view(&self) -> CartStateView {
        match self {
            MaybeBuggyCartState::Correct(p) => p.view(),
            MaybeBuggyCartState::Buggy(p) => p.view(),
        }
    }
}

impl BrokenSystem {
    fn cart_state_projection_of(&self) -> MaybeBuggyCartState {
        match self.projection {
            Some(bug) => MaybeBuggyCartState::Buggy(BuggyCartState::new(bug)),
            None => MaybeBuggyCartState::Correct(event_sourced_cart::projection::CartState::new()),
        }
    }
}

impl System for BrokenSystem {
    type CartStateRunner = BrokenRunner<MaybeBuggyCartState>;
    type RevenueRunner = BrokenRunner<Revenue>;
    fn cart_state(&self, group_id: &str) -> Self::CartStateRunner {
        BrokenRunner::new(self.runner, self.cart_state_projection_of(), group_id)
    }
    fn revenue(&self, group_id: &str) -> Self::RevenueRunner {
        BrokenRunner::new(self.runner, Revenue::new(), group_id)
    }
    fn cart_state_projection(&self) -> Box<dyn Projection<View = CartStateView>> {
        Box::new(self.cart_state_projection_of())
    }
    fn revenue_projection(&self) -> Box<dyn Projection<View = event_sourced_cart::projection::RevenueView>> {
        Box::new(Revenue::new())
    }
}
