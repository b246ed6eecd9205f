//! The seed's canonical scenario: 30 events, a full replay by two consumer
//! groups, 5 new events, and an incremental catch-up that must see exactly
//! those 5.

use crate::event::{DomainEvent, parse_event};
use crate::log::{EventLog, LogError};
use crate::projection::{CartState, CartStateView, Revenue, RevenueView};
use crate::record::{Position, sorted_positions as sorted};
use crate::runner::{GroupRunner, PhaseReport, RunError, Runner};
use std::path::Path;

/// The seed's 35 events, one JSON object a line, in production order.
pub const CANONICAL_EVENTS_JSONL: &str = include_str!("../data/canonical-events.jsonl");

/// Events produced before the first projection pass (steps 2-3).
pub const FIRST_BATCH: usize = 30;

/// Default partition count of the main job's topic.
pub const DEFAULT_PARTITIONS: u32 = 3;

/// The 35 canonical events, validated.
pub fn canonical_events() -> Vec<DomainEvent> {
    let events: Vec<DomainEvent> = CANONICAL_EVENTS_JSONL
        .lines()
        .map(|line| parse_event(line).expect("the bundled canonical events are valid"))
        .collect();
    assert_eq!(events.len(), 35, "the canonical log has 30 + 5 events");
    events
}

/// One projection pass of one group: what it polled and the view after it.
#[derive(Clone, Debug)]
pub struct Pass<V> {
    pub report: PhaseReport,
    pub view: V,
}

/// Everything the canonical run observed.
#[derive(Clone, Debug)]
pub struct CanonicalRun {
    pub partitions: u32,
    pub first_batch: usize,
    pub cart_state: Pass<CartStateView>,
    pub revenue: Pass<RevenueView>,
    /// Positions of the new events, as `send` reported them.
    pub new_positions: Vec<Position>,
    pub cart_state_incremental: Pass<CartStateView>,
    pub revenue_incremental: Pass<RevenueView>,
}

impl CanonicalRun {
    /// `Err` with a readable reason unless each group's incremental poll
    /// returned exactly the new events (same positions, nothing else).
    pub fn check_incremental(&self) -> Result<(), String> {
        let expected = sorted(&self.new_positions);
        for (group, report) in [
            (CartState::GROUP_ID, &self.cart_state_incremental.report),
            (Revenue::GROUP_ID, &self.revenue_incremental.report),
        ] {
            let got = sorted(&report.delivered);
            if got != expected {
                return Err(format!(
                    "group {group}: the incremental poll returned {} records at {:?}, expected exactly the {} new events at {:?}",
                    got.len(),
                    got,
                    expected.len(),
                    expected
                ));
            }
        }
        Ok(())
    }
}

/// Runs steps 1-8 of the seed on a new log in `dir`.
pub fn run_canonical(dir: &Path, partitions: u32) -> Result<CanonicalRun, RunError> {
    let events = canonical_events();
    let (first, new) = events.split_at(FIRST_BATCH);
    let log = EventLog::create(dir, partitions)?;
    for event in first {
        log.append(event)?;
    }

    let mut cart_state = Runner::new(CartState::new());
    let report = cart_state.catch_up(&log)?;
    let cart_pass = Pass { report, view: cart_state.view() };
    let mut revenue = Runner::new(Revenue::new());
    let report = revenue.catch_up(&log)?;
    let revenue_pass = Pass { report, view: revenue.view() };

    let new_positions = new.iter().map(|e| log.append(e)).collect::<Result<Vec<_>, LogError>>()?;

    let report = cart_state.catch_up(&log)?;
    let cart_state_incremental = Pass { report, view: cart_state.view() };
    let report = revenue.catch_up(&log)?;
    let revenue_incremental = Pass { report, view: revenue.view() };

    Ok(CanonicalRun {
        partitions,
        first_batch: first.len(),
        cart_state: cart_pass,
        revenue: revenue_pass,
        new_positions,
        cart_state_incremental,
        revenue_incremental,
    })
}
