//! A consumer group driving one projection: poll, decode, apply, commit.
//!
//! Invariants the runner keeps:
//! - it never commits a record it did not apply (apply happens before the
//!   commit, and after a failed poll it does not commit at all);
//! - it applies each (partition, offset) at most once, even when the log
//!   redelivers records that were polled but not committed (it tracks the
//!   next offset it expects in each partition);
//! - a record that cannot be decoded is counted in [`Runner::rejected`] with
//!   its position, and is never applied.
//!
//! A phase is a fixed sequence of [`Steps`]: get a consumer, poll, then
//! apply and commit. The steps are public so that the test suite builds its
//! deliberately broken runners from this runner with one step replaced
//! ([`Steps`]); they cannot drift from it.

use crate::anomaly::Kind;
use crate::domain::{AnyView, BoxedProjection, Domain, Rejected, decode_record};
use crate::log::{GroupConsumer, Log, LogError};
use crate::record::{LogRecord, Position};
use std::collections::BTreeMap;

/// Where a simulated crash stops a phase: right before that step. The
/// *consumer* dies there, without committing or closing, as a consumer of a
/// killed process would.
///
/// Scope: the runner itself (its projection and the offsets it has applied)
/// lives on, so this models losing a consumer inside one running process
/// (a crashed worker thread, a dropped connection), not a process restart.
/// A restart loses the in-memory view while the group's commits remain, so
/// surviving it needs a checkpoint of view and offsets, which is the
/// checkpointed runner's job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum CrashPoint {
    /// After the poll, before any record is applied. Replay files write
    /// `BeforeApply`; `before-apply` (the spelling of fault kinds) reads
    /// too.
    #[serde(alias = "before-apply")]
    BeforeApply,
    /// After the records are applied, before the commit (`BeforeCommit`
    /// or `before-commit`).
    #[serde(alias = "before-commit")]
    BeforeCommit,
}

/// The two steps after a poll, in the order a phase runs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Apply,
    Commit,
}

impl Step {
    fn crash_point(self) -> CrashPoint {
        match self {
            Step::Apply => CrashPoint::BeforeApply,
            Step::Commit => CrashPoint::BeforeCommit,
        }
    }
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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhaseReport<R> {
    /// Every record the poll returned, in arrival order.
    pub delivered: Vec<Position>,
    /// The records applied in this phase (decoded and new), in order.
    pub applied: Vec<Position>,
    /// Delivered records skipped because they were applied before.
    pub duplicates: Vec<Position>,
    /// Records that could not be decoded (also counted in `Runner::rejected`).
    pub rejected: Vec<Rejected<R>>,
    /// Whether the phase committed (false when it crashed).
    pub committed: bool,
    /// The runner's own checkpoint after the phase: the next offset to
    /// apply by partition, for a runner that keeps one (the durable
    /// runner's view store); `None` for a runner that relies on the log's
    /// group offsets.
    pub checkpoint: Option<BTreeMap<u32, u64>>,
}

impl<R> Default for PhaseReport<R> {
    fn default() -> Self {
        PhaseReport {
            delivered: Vec::new(),
            applied: Vec::new(),
            duplicates: Vec::new(),
            rejected: Vec::new(),
            committed: false,
            checkpoint: None,
        }
    }
}

impl<R> PhaseReport<R> {
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
    #[cfg(feature = "sqlite")]
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(
        "projection {group}: partition {partition} delivered offset {got}, but the next offset to apply is {expected}: records {expected}..{got} are missing (a gap); nothing past it was applied. The log lost records (retention, a repaired index?): rebuild the view from a complete log"
    )]
    Gap { group: String, partition: u32, expected: u64, got: u64 },
    #[error(
        "projection {group}: in partition {partition} the consumer group's poll started at offset {delivered_from} (its committed offset, or the partition's end if that offset is past it), ahead of the view store's next offset ({stored_next}): records {stored_next}..{delivered_from} would never be applied. The store is older than the group's merkql offsets (a restored or replaced store?): use the store that belongs to these offsets, or delete the group's offsets.bin under the log's .merkql/ directory to poll from the earliest record (the store skips what it has applied)"
    )]
    OffsetsAhead { group: String, partition: u32, stored_next: u64, delivered_from: u64 },
    #[error(
        "projection {group}: partition {partition} ends at offset {log_end}, but the view store has applied up to {stored_next}: the log went backwards (replaced or truncated?). Use the log the store was built from, or delete the store to rebuild the views"
    )]
    LogWentBackwards { group: String, partition: u32, log_end: u64, stored_next: u64 },
    #[error(
        "projection {group}: partition {partition} holds another record at offset {offset} (digest {found}) than the one the view store's checkpoint covers (digest {stored}): the log was rewritten under the checkpoint (a repaired index tail gives its offsets out again), and the records now at and after it were never applied. Use the log the store was built from, or delete the store to rebuild the views"
    )]
    LogRewritten { group: String, partition: u32, offset: u64, stored: String, found: String },
    #[error(
        "projection {group} panicked applying the record at partition {partition}, offset {offset}: {message}. Nothing of its batch was stored, and its state is reloaded from the view store before the next phase. Fix the projection (apply must not panic for any event) or remove the record's cause"
    )]
    ProjectionPanicked { group: String, partition: u32, offset: u64, message: String },
    #[error(
        "projection {0} panicked earlier, and its domain registers no projection of that name to rebuild its state from the view store; restart the process"
    )]
    NotRebuildable(String),
}

/// A panic's message, if it has one (the payload of `panic!` with a
/// literal or a formatted message).
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

impl RunError {
    /// The named anomaly ([`crate::anomaly`]) this error stops a
    /// runner for, or `None` for a failure that is not about the history
    /// (I/O, a bad store, a transient poll failure).
    pub fn anomaly(&self) -> Option<Kind> {
        match self {
            RunError::Log(LogError::Damaged { anomaly, .. }) => Some(*anomaly),
            RunError::Gap { .. } => Some(Kind::PollSkip),
            RunError::OffsetsAhead { .. } => Some(Kind::SkippedApply),
            RunError::LogWentBackwards { .. } | RunError::LogRewritten { .. } => Some(Kind::CheckpointAheadOfLog),
            RunError::ProjectionPanicked { .. } => Some(Kind::ApplyPanic),
            #[cfg(feature = "sqlite")]
            RunError::Store(_) => None,
            RunError::Log(_) | RunError::NotRebuildable(_) => None,
        }
    }
}

/// The interface the harness drives: one consumer group, one projection.
/// [`Runner`] is the real one.
pub trait GroupRunner<D: Domain> {
    fn group_id(&self) -> &str;
    fn phase(&mut self, log: &dyn Log, options: PhaseOptions) -> Result<PhaseReport<D::Rejection>, RunError>;
    /// Closes the consumer, if any (before the log is reopened).
    fn release_consumer(&mut self) -> Result<(), RunError>;
    fn view(&self) -> AnyView;
}

/// Gets the consumer a phase polls with.
pub type ConsumerStep<D> = fn(&mut Runner<D>, &dyn Log, bool) -> Result<Box<dyn GroupConsumer>, LogError>;

/// Decodes one record under the domain's rules and the key rule.
pub type DecodeStep<D> = fn(&D, &LogRecord) -> Result<<D as Domain>::Event, Rejected<<D as Domain>::Rejection>>;

/// Applies one polled batch.
pub type ApplyStep<D> = fn(&mut Runner<D>, &[LogRecord], &mut PhaseReport<<D as Domain>::Rejection>);

/// The steps of a phase. [`Steps::production`] is what [`Runner`] runs; a
/// planted bug is these steps with one replaced, for example
/// `Steps { apply: drop_last_record, ..Steps::production() }`.
pub struct Steps<D: Domain> {
    /// New or reused consumer of the runner's group: [`Runner::open_consumer`].
    pub consumer: ConsumerStep<D>,
    /// Skip what was applied before, apply the rest: [`Runner::apply_batch`].
    pub apply: ApplyStep<D>,
    /// Decode each record to apply: [`decode_record`].
    pub decode: DecodeStep<D>,
    /// After the poll: apply, then commit.
    pub order: [Step; 2],
}

impl<D: Domain> Steps<D> {
    pub fn production() -> Steps<D> {
        Steps {
            consumer: Runner::open_consumer,
            apply: Runner::apply_batch,
            decode: decode_record::<D>,
            order: [Step::Apply, Step::Commit],
        }
    }
}

impl<D: Domain> Clone for Steps<D> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<D: Domain> Copy for Steps<D> {}

/// The production runner.
pub struct Runner<D: Domain> {
    domain: D,
    projection: BoxedProjection<D::Event>,
    group_id: String,
    steps: Steps<D>,
    consumer: Option<Box<dyn GroupConsumer>>,
    /// Phases run so far (the first phase is 1).
    phases_run: usize,
    /// Next offset expected in each partition: below it, already applied.
    next_offset: BTreeMap<u32, u64>,
    rejected: Vec<Rejected<D::Rejection>>,
}

impl<D: Domain> Runner<D> {
    /// A runner reading with the projection's own group id.
    pub fn new(domain: D, projection: BoxedProjection<D::Event>) -> Self {
        let group_id = projection.group_id().to_string();
        Self::with_group(domain, projection, &group_id)
    }

    /// A runner reading with another group id (a second copy of a view).
    pub fn with_group(domain: D, projection: BoxedProjection<D::Event>, group_id: &str) -> Self {
        Self::with_steps(domain, projection, group_id, Steps::production())
    }

    /// A runner whose phases run `steps` (the test suite's planted bugs).
    pub fn with_steps(domain: D, projection: BoxedProjection<D::Event>, group_id: &str, steps: Steps<D>) -> Self {
        Runner {
            domain,
            projection,
            group_id: group_id.to_string(),
            steps,
            consumer: None,
            phases_run: 0,
            next_offset: BTreeMap::new(),
            rejected: Vec::new(),
        }
    }

    /// New consumer, poll, decode, apply, commit, close.
    pub fn catch_up(&mut self, log: &dyn Log) -> Result<PhaseReport<D::Rejection>, RunError> {
        let report = self.phase(log, PhaseOptions::default())?;
        self.release_consumer()?;
        Ok(report)
    }

    /// Every rejected record so far, in the order met.
    pub fn rejected(&self) -> &[Rejected<D::Rejection>] {
        &self.rejected
    }

    /// Phases run so far, crashed ones included (the first phase is 1).
    pub fn phases_run(&self) -> usize {
        self.phases_run
    }

    /// Closes the consumer, if any.
    pub fn close_consumer(&mut self) -> Result<(), LogError> {
        if let Some(consumer) = self.consumer.take() {
            consumer.close()?;
        }
        Ok(())
    }

    /// The consumer step: the previous phase's consumer if `reuse` and it is
    /// alive, else a new one of the runner's group (closing the old one).
    pub fn open_consumer(&mut self, log: &dyn Log, reuse: bool) -> Result<Box<dyn GroupConsumer>, LogError> {
        match self.consumer.take() {
            Some(consumer) if reuse => Ok(consumer),
            Some(old) => {
                old.close()?;
                log.consumer(&self.group_id)
            }
            None => log.consumer(&self.group_id),
        }
    }

    /// The apply step: skips records below the next expected offset of
    /// their partition (applied before, now redelivered) and applies the
    /// rest with [`Runner::apply_record`].
    pub fn apply_batch(&mut self, records: &[LogRecord], report: &mut PhaseReport<D::Rejection>) {
        for record in records {
            let expected = self.next_offset.entry(record.partition).or_insert(0);
            if record.offset < *expected {
                report.duplicates.push(record.position());
                continue;
            }
            *expected = record.offset + 1;
            self.apply_record(record, report);
        }
    }

    /// Decodes one record and applies it, or counts it as rejected.
    pub fn apply_record(&mut self, record: &LogRecord, report: &mut PhaseReport<D::Rejection>) {
        match (self.steps.decode)(&self.domain, record) {
            Ok(event) => {
                self.projection.apply(&event);
                report.applied.push(record.position());
            }
            Err(rejected) => {
                report.rejected.push(rejected.clone());
                self.rejected.push(rejected);
            }
        }
    }
}

impl<D: Domain> GroupRunner<D> for Runner<D> {
    fn group_id(&self) -> &str {
        &self.group_id
    }

    fn phase(&mut self, log: &dyn Log, options: PhaseOptions) -> Result<PhaseReport<D::Rejection>, RunError> {
        self.phases_run += 1;
        let mut consumer = (self.steps.consumer)(self, log, options.reuse_consumer)?;
        // On a poll error the consumer is dropped here, uncommitted.
        let records = consumer.poll()?;
        let mut report =
            PhaseReport { delivered: records.iter().map(LogRecord::position).collect(), ..PhaseReport::default() };
        for step in self.steps.order {
            if options.crash == Some(step.crash_point()) {
                drop(consumer);
                return Ok(report);
            }
            match step {
                Step::Apply => (self.steps.apply)(self, &records, &mut report),
                Step::Commit => consumer.commit()?,
            }
        }
        report.committed = true;
        self.consumer = Some(consumer);
        Ok(report)
    }

    fn release_consumer(&mut self) -> Result<(), RunError> {
        Ok(self.close_consumer()?)
    }

    fn view(&self) -> AnyView {
        self.projection.view()
    }
}

#[cfg(test)]
mod tests {
    use super::CrashPoint;

    #[test]
    fn crash_points_read_in_either_spelling_and_are_written_in_one() {
        for (text, point) in [
            ("\"BeforeApply\"", CrashPoint::BeforeApply),
            ("\"before-apply\"", CrashPoint::BeforeApply),
            ("\"BeforeCommit\"", CrashPoint::BeforeCommit),
            ("\"before-commit\"", CrashPoint::BeforeCommit),
        ] {
            assert_eq!(serde_json::from_str::<CrashPoint>(text).unwrap(), point, "{text}");
        }
        assert_eq!(serde_json::to_string(&CrashPoint::BeforeCommit).unwrap(), "\"BeforeCommit\"");
        assert!(serde_json::from_str::<CrashPoint>("\"before_commit\"").is_err());
    }
}
