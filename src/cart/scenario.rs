//! The seed's canonical scenario: 30 events, a full replay by one consumer
//! group per projection, 5 new events, and an incremental catch-up that
//! must see exactly those 5.

use super::event::{DecodeError, DomainEvent, encode, parse_event};
use super::{Cart, TOPIC};
use crate::domain::{AnyView, Domain, View};
use crate::log::{Log, MerkqlLog};
use crate::record::{Position, sorted_positions as sorted};
use crate::runner::{GroupRunner, PhaseReport, RunError, Runner};
use std::path::Path;

/// The seed's 35 events, one JSON object a line, in production order.
pub const CANONICAL_EVENTS_JSONL: &str = include_str!("../../data/canonical-events.jsonl");

/// Events produced before the first projection pass (steps 2-3).
pub const FIRST_BATCH: usize = 30;

/// Default partition count of the main job's topic.
pub const DEFAULT_PARTITIONS: u32 = 3;

/// The 35 canonical events, validated. The bundled file is part of the
/// binary and checked by the test suite, so a failure here is a build
/// defect, not bad input.
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
pub struct Pass {
    pub report: PhaseReport<DecodeError>,
    pub view: AnyView,
}

/// One projection's two passes.
#[derive(Clone, Debug)]
pub struct ProjectionRun {
    pub group_id: String,
    /// The full replay of the first batch.
    pub first: Pass,
    /// The incremental catch-up after the new events.
    pub incremental: Pass,
}

/// Everything the canonical run observed.
#[derive(Clone, Debug)]
pub struct CanonicalRun {
    /// The log it ran on, for the report's first line: `merkql`, `Kafka at ...`.
    pub backend: String,
    /// The topic's name on that log.
    pub topic: String,
    pub partitions: u32,
    pub first_batch: usize,
    /// Positions of the new events, as `send` reported them.
    pub new_positions: Vec<Position>,
    /// Every registered projection, in registration order.
    pub projections: Vec<ProjectionRun>,
}

impl CanonicalRun {
    /// The projection whose view is a `V`.
    fn projection_of<V: View>(&self) -> Option<&ProjectionRun> {
        self.projections.iter().find(|p| p.first.view.downcast_ref::<V>().is_some())
    }

    /// The view of type `V` after the first batch.
    pub fn first_view<V: View>(&self) -> Option<&V> {
        self.projection_of::<V>()?.first.view.downcast_ref()
    }

    /// The view of type `V` after all events.
    pub fn updated_view<V: View>(&self) -> Option<&V> {
        self.projection_of::<V>()?.incremental.view.downcast_ref()
    }

    /// `Err` with a readable reason unless each group's incremental poll
    /// returned exactly the new events (same positions, nothing else).
    pub fn check_incremental(&self) -> Result<(), String> {
        let expected = sorted(&self.new_positions);
        for projection in &self.projections {
            let got = sorted(&projection.incremental.report.delivered);
            if got != expected {
                return Err(format!(
                    "group {}: the incremental poll returned {} records at {:?}, expected exactly the {} new events at {:?}",
                    projection.group_id,
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

/// Runs steps 1-8 of the seed on `log` (new and empty) with every
/// projection of the cart domain; `backend` names the log in the report.
pub fn run_canonical_on(log: &mut dyn Log, backend: &str) -> Result<CanonicalRun, RunError> {
    let events = canonical_events();
    let (first, new) = events.split_at(FIRST_BATCH);
    for record in first.iter().map(encode) {
        log.append(record.key.as_deref(), &record.value)?;
    }
    let mut runners: Vec<Runner<Cart>> =
        Cart.projections().into_iter().map(|projection| Runner::new(Cart, projection)).collect();
    let mut first_passes = Vec::with_capacity(runners.len());
    for runner in &mut runners {
        let report = runner.catch_up(log)?;
        first_passes.push(Pass { report, view: runner.view() });
    }
    let mut new_positions = Vec::with_capacity(new.len());
    for record in new.iter().map(encode) {
        new_positions.push(log.append(record.key.as_deref(), &record.value)?);
    }
    let mut projections = Vec::with_capacity(runners.len());
    for (runner, first) in runners.iter_mut().zip(first_passes) {
        let report = runner.catch_up(log)?;
        let incremental = Pass { report, view: runner.view() };
        projections.push(ProjectionRun { group_id: runner.group_id().to_string(), first, incremental });
    }
    Ok(CanonicalRun {
        backend: backend.to_string(),
        topic: log.topic().to_string(),
        partitions: log.partitions(),
        first_batch: first.len(),
        new_positions,
        projections,
    })
}

/// Runs steps 1-8 of the seed on a new merkql log in `dir`, holding the
/// directory's lock throughout; the log is marked complete at the end.
pub fn run_canonical(dir: &Path, partitions: u32) -> Result<CanonicalRun, RunError> {
    let mut log = MerkqlLog::create(dir, TOPIC, partitions)?;
    let run = run_canonical_on(&mut log, "merkql")?;
    log.mark_complete()?;
    Ok(run)
}
