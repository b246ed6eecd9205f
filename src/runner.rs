//! A consumer group driving one projection: poll, decode, apply, commit.
//!
//! Invariants the runner keeps:
//! - it never commits a record it did not apply (apply happens before the
//!   commit, and after a failed poll it does not commit at all);
//! - it applies each (partition, offset) at most once, even when merkql
//!   redelivers records that were polled but not committed (it tracks the
//!   next offset it expects in each partition);
//! - a record that cannot be decoded is counted in [`Runner::rejected`] with
//!   its position, and is never applied.

use crate::event::{Rejected, decode};
use crate::log::{EventLog, GroupConsumer, LogError};
use crate::projection::Projection;
use crate::record::{LogRecord, Position};
use std::collections::BTreeMap;

/// Where a simulated crash stops a phase. The *consumer* dies there, without
/// committing or closing, as a consumer of a killed process would.
///
/// Scope: the runner itself (its projection and the offsets it has applied)
/// lives on, so this models losing a consumer inside one running process
/// (a crashed worker thread, a dropped connection), not a process restart.
/// A restart loses the in-memory view while the group's commits remain, so
/// surviving it needs a checkpoint of view and offsets, which is the
/// checkpointed runner's job (a later issue).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CrashPoint {
    /// After the poll, before any record is applied.
    BeforeApply,
    /// After the records are applied, before the commit.
    BeforeCommit,
}

/// How one phase runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhaseOptions {
    /// Keep the previous phase's Consumer object, if it is still alive.
    pub reuse_consumer: bool,
    /// Die at this point instead of finishing the phase.
    pub crash: Option<CrashPoint>,
}

/// What one phase saw and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PhaseReport {
    /// Every record the poll returned, in arrival order.
    pub delivered: Vec<Position>,
    /// The records applied in this phase (decoded and new), in order.
    pub applied: Vec<Position>,
    /// Delivered records skipped because they were applied before.
    pub duplicates: Vec<Position>,
    /// Records that could not be decoded (also counted in `Runner::rejected`).
    pub rejected: Vec<Rejected>,
    /// Whether the phase committed (false when it crashed).
    pub committed: bool,
}

impl PhaseReport {
    /// How many records the poll returned from each partition.
    pub fn records_per_partition(&self) -> BTreeMap<u32, usize> {
        let mut counts = BTreeMap::new();
        for position in &self.delivered {
            *counts.entry(position.partition).or_insert(0) += 1;
        }
        counts
    }
}

/// Why a phase failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Log(#[from] LogError),
}

/// The interface the harness drives: one consumer group, one projection.
/// [`Runner`] is the real one; tests plant bugs in their own implementations.
pub trait GroupRunner {
    type View;
    fn group_id(&self) -> &str;
    fn phase(&mut self, log: &EventLog, options: PhaseOptions) -> Result<PhaseReport, RunError>;
    /// Closes the consumer, if any (before the broker is reopened).
    fn release_consumer(&mut self) -> Result<(), RunError>;
    fn view(&self) -> Self::View;
}

/// The production runner.
pub struct Runner<P: Projection> {
    projection: P,
    group_id: String,
    consumer: Option<GroupConsumer>,
    /// Next offset expected in each partition: below it, already applied.
    next_offset: BTreeMap<u32, u64>,
    rejected: Vec<Rejected>,
}

impl<P: Projection> Runner<P> {
    /// A runner reading with the projection's own group id.
    pub fn new(projection: P) -> Self {
        let group_id = projection.group_id().to_string();
        Self::with_group(projection, &group_id)
    }

    /// A runner reading with another group id (a second copy of a view).
    pub fn with_group(projection: P, group_id: &str) -> Self {
        Runner {
            projection,
            group_id: group_id.to_string(),
            consumer: None,
            next_offset: BTreeMap::new(),
            rejected: Vec::new(),
        }
    }

    /// New consumer, subscribe, poll, decode, apply, commit, close.
    pub fn catch_up(&mut self, log: &EventLog) -> Result<PhaseReport, RunError> {
        let report = self.phase(log, PhaseOptions::default())?;
        self.release_consumer()?;
        Ok(report)
    }

    /// Every rejected record so far, in the order met.
    pub fn rejected(&self) -> &[Rejected] {
        &self.rejected
    }

    pub fn projection(&self) -> &P {
        &self.projection
    }

    /// Applies one polled batch: decode, skip already-applied, apply.
    fn apply_batch(&mut self, records: &[LogRecord], report: &mut PhaseReport) {
        for record in records {
            let position = record.position();
            let expected = self.next_offset.entry(record.partition).or_insert(0);
            if record.offset < *expected {
                report.duplicates.push(position);
                continue;
            }
            *expected = record.offset + 1;
            match decode(record) {
                Ok(event) => {
                    self.projection.apply(&event);
                    report.applied.push(position);
                }
                Err(rejected) => {
                    report.rejected.push(rejected.clone());
                    self.rejected.push(rejected);
                }
            }
        }
    }
}

impl<P: Projection> GroupRunner for Runner<P> {
    type View = P::View;

    fn group_id(&self) -> &str {
        &self.group_id
    }

    fn phase(&mut self, log: &EventLog, options: PhaseOptions) -> Result<PhaseReport, RunError> {
        let mut consumer = match self.consumer.take() {
            Some(consumer) if options.reuse_consumer => consumer,
            Some(old) => {
                old.close()?;
                log.consumer(&self.group_id)?
            }
            None => log.consumer(&self.group_id)?,
        };
        // On a poll error the consumer is dropped here, uncommitted.
        let records = consumer.poll()?;
        let mut report =
            PhaseReport { delivered: records.iter().map(LogRecord::position).collect(), ..PhaseReport::default() };
        if options.crash == Some(CrashPoint::BeforeApply) {
            drop(consumer);
            return Ok(report);
        }
        self.apply_batch(&records, &mut report);
        if options.crash == Some(CrashPoint::BeforeCommit) {
            drop(consumer);
            return Ok(report);
        }
        consumer.commit()?;
        report.committed = true;
        self.consumer = Some(consumer);
        Ok(report)
    }

    fn release_consumer(&mut self) -> Result<(), RunError> {
        if let Some(consumer) = self.consumer.take() {
            consumer.close()?;
        }
        Ok(())
    }

    fn view(&self) -> P::View {
        self.projection.view()
    }
}
