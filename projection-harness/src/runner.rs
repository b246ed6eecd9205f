//! A consumer group driving one projection: poll, decode, apply, commit.
//! One runner, [`Runner`], generic over where its checkpoint lives
//! ([`Checkpoint`]): in memory ([`InMemory`], the default) or, with the
//! `sqlite` feature, in the view store (`durable::StoreCheckpoint`, alias
//! `durable::DurableRunner`).
//!
//! Invariants the runner keeps, whatever its checkpoint:
//! - it never commits a record it did not apply (apply happens before the
//!   commit, and after a failed poll it does not commit at all);
//! - it applies each (partition, offset) at most once, even when the log
//!   redelivers records that were polled but not committed (it tracks the
//!   next offset it expects in each partition);
//! - a record that cannot be decoded is counted in [`Runner::rejected`] with
//!   its position, and is never applied.
//!
//! A durable checkpoint adds what a state that outlives the process needs:
//! the runner stops at a gap instead of applying past it, checks its
//! checkpoint against the log before each poll, stores each applied chunk
//! in one store transaction before committing on the log, and catches a
//! panicking projection to reload it from the store.
//!
//! A phase is a fixed sequence of [`Steps`]: get a consumer, poll, then
//! apply and commit. The steps are public so that the test suite builds its
//! deliberately broken runners from this runner with one step replaced
//! ([`Steps`]); they cannot drift from it, in memory or durable.

use crate::anomaly::Kind;
use crate::domain::{AnyView, BoxedProjection, Domain, Rejected, decode_record};
use crate::log::{GroupConsumer, Log, LogError};
use crate::record::{LogRecord, Position};
use std::collections::BTreeMap;
use std::collections::BTreeSet;

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
    /// What only a durable checkpoint can find: a store it cannot use, or a
    /// log that no longer matches it.
    #[cfg(feature = "sqlite")]
    #[error(transparent)]
    Checkpoint(#[from] crate::durable::CheckpointError),
    #[error(
        "projection {group}: partition {partition} delivered offset {got}, but the next offset to apply is {expected}: records {expected}..{got} are missing (a gap); nothing past it was applied. The log lost records (retention, a repaired index?): rebuild the view from a complete log"
    )]
    Gap { group: String, partition: u32, expected: u64, got: u64 },
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
            RunError::ProjectionPanicked { .. } => Some(Kind::ApplyPanic),
            #[cfg(feature = "sqlite")]
            RunError::Checkpoint(error) => error.anomaly(),
            RunError::Log(_) | RunError::NotRebuildable(_) => None,
        }
    }

    /// The positions the error is about (the damaged record, the records a
    /// gap leaves out, the record a projection panicked on): the first
    /// [`crate::anomaly::MAX_LISTED_POSITIONS`], and how many in all. What
    /// a report lists and highlights.
    pub fn involved(&self) -> (Vec<Position>, usize) {
        match self {
            RunError::Log(LogError::Damaged { partition, offset, .. })
            | RunError::ProjectionPanicked { partition, offset, .. } => listed(*partition, *offset, offset + 1),
            RunError::Gap { partition, expected, got, .. } => listed(*partition, *expected, *got),
            #[cfg(feature = "sqlite")]
            RunError::Checkpoint(error) => error.involved(),
            RunError::Log(_) | RunError::NotRebuildable(_) => (Vec::new(), 0),
        }
    }
}

/// Offsets `from..to` of `partition`: the first
/// [`crate::anomaly::MAX_LISTED_POSITIONS`] and how many in all.
pub(crate) fn listed(partition: u32, from: u64, to: u64) -> (Vec<Position>, usize) {
    let positions =
        (from..to).take(crate::anomaly::MAX_LISTED_POSITIONS).map(|offset| Position { partition, offset }).collect();
    (positions, usize::try_from(to.saturating_sub(from)).unwrap_or(usize::MAX))
}

/// The interface the harness drives: one consumer group, one projection.
/// [`Runner`] is the real one; implement it to check a runner of your own
/// with the harness's properties ([`crate::verify::System`]).
pub trait GroupRunner<D: Domain> {
    fn group_id(&self) -> &str;
    fn phase(&mut self, log: &dyn Log, options: PhaseOptions) -> Result<PhaseReport<D::Rejection>, RunError>;
    /// Closes the consumer, if any (before the log is reopened).
    fn release_consumer(&mut self) -> Result<(), RunError>;
    fn view(&self) -> AnyView;
}

/// What one applied chunk changes in a checkpoint: built by a durable
/// runner, written by its [`Checkpoint`] in one transaction.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Batch {
    /// Changed entries: `Some(state)` (JSON text) to write, `None` to delete.
    pub entries: Vec<(String, Option<String>)>,
    /// The next offsets after the batch, for the partitions it touched.
    pub next_offsets: BTreeMap<u32, u64>,
    /// The digest of the last record of the batch in each partition it
    /// touched (the record before its next offset).
    pub last_digests: BTreeMap<u32, String>,
    pub applied: u64,
    pub duplicates: u64,
    /// Rejected records: partition, offset, reason.
    pub rejected: Vec<(u32, u64, String)>,
}

/// Where a checkpoint resumes: the next offset to apply in each partition
/// (absent: 0) and the digest of the record before it (absent: none kept).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resume {
    pub next_offsets: BTreeMap<u32, u64>,
    pub last_digests: BTreeMap<u32, String>,
}

/// The digests of log records a catch-up has read back to check
/// checkpoints against the log (`None`: no record there, or a damaged one).
#[derive(Clone, Debug, Default)]
pub struct LogDigests(
    // Read only by durable checkpoints, which need the `sqlite` feature.
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))] BTreeMap<Position, Option<String>>,
);

/// Where a runner's checkpoint (its projection's state and the offsets it
/// has applied) lives.
pub trait Checkpoint {
    /// Whether the checkpoint outlives the process. A durable runner stops
    /// at gaps, checks its checkpoint against the log, stores each chunk
    /// before its log commit and reloads a projection that panicked; an
    /// in-memory one has nothing to check against or reload from.
    const DURABLE: bool;

    /// Restores `projection` for `group_id` and says where to resume;
    /// called before the first phase, and again after a panic.
    fn load<E>(
        &mut self,
        group_id: &str,
        log: &dyn Log,
        projection: &mut BoxedProjection<E>,
    ) -> Result<Resume, RunError>;

    /// Writes one applied chunk, atomically.
    fn save(&mut self, group_id: &str, batch: &Batch) -> Result<(), RunError>;

    /// Drops whatever it holds open (after a panic: the next phase loads again).
    fn forget(&mut self);
}

/// A checkpoint in memory: the runner's offsets and its projection live as
/// long as the runner, and the log's committed offsets say where a new
/// consumer starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InMemory;

impl Checkpoint for InMemory {
    const DURABLE: bool = false;

    fn load<E>(&mut self, _: &str, _: &dyn Log, _: &mut BoxedProjection<E>) -> Result<Resume, RunError> {
        Ok(Resume::default())
    }

    fn save(&mut self, _: &str, _: &Batch) -> Result<(), RunError> {
        Ok(())
    }

    fn forget(&mut self) {}
}

/// Gets the consumer a phase polls with.
pub type ConsumerStep<D, C> = fn(&mut Runner<D, C>, &dyn Log, bool) -> Result<Box<dyn GroupConsumer>, LogError>;

/// Decodes one record under the domain's rules and the key rule.
pub type DecodeStep<D> = fn(&D, &LogRecord) -> Result<<D as Domain>::Event, Rejected<<D as Domain>::Rejection>>;

/// Applies one polled batch.
pub type ApplyStep<D, C> =
    fn(&mut Runner<D, C>, &[LogRecord], &mut PhaseReport<<D as Domain>::Rejection>) -> Result<(), RunError>;

/// The steps of a phase. [`Steps::production`] is what [`Runner`] runs; a
/// planted bug is these steps with one replaced, for example
/// `Steps { apply: drop_last_record, ..Steps::production() }`.
pub struct Steps<D: Domain, C: Checkpoint = InMemory> {
    /// New or reused consumer of the runner's group: [`Runner::open_consumer`].
    pub consumer: ConsumerStep<D, C>,
    /// Skip what was applied before, apply the rest: [`Runner::apply_batch`].
    pub apply: ApplyStep<D, C>,
    /// Decode each record to apply: [`decode_record`].
    pub decode: DecodeStep<D>,
    /// After the poll: apply, then commit.
    pub order: [Step; 2],
}

impl<D: Domain, C: Checkpoint> Steps<D, C> {
    pub fn production() -> Steps<D, C> {
        Steps {
            consumer: Runner::open_consumer,
            apply: Runner::apply_batch,
            decode: decode_record::<D>,
            order: [Step::Apply, Step::Commit],
        }
    }
}

impl<D: Domain, C: Checkpoint> Clone for Steps<D, C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<D: Domain, C: Checkpoint> Copy for Steps<D, C> {}

/// The production runner, its checkpoint in memory (`C = InMemory`) or in
/// the view store (`durable::DurableRunner`).
///
/// ```
/// use projection_harness::domain::register;
/// use projection_harness::example::{Counters, Totals};
/// use projection_harness::log::{Log, MerkqlLog};
/// use projection_harness::runner::{GroupRunner, Runner};
/// use std::collections::BTreeMap;
///
/// let dir = tempfile::tempdir()?;
/// let log = MerkqlLog::create(dir.path(), "counter-events", 1)?;
/// log.append(Some("c1"), r#"{"counter":"c1","add":2}"#)?;
/// let mut runner = Runner::new(Counters, register(Totals::default()));
/// assert_eq!(runner.catch_up(&log)?.applied.len(), 1);
/// log.append(Some("c1"), r#"{"counter":"c1","add":5}"#)?;
/// assert_eq!(runner.catch_up(&log)?.applied.len(), 1, "only the new record");
/// let view = runner.view();
/// assert_eq!(view.downcast_ref::<BTreeMap<String, i64>>().unwrap()["c1"], 7);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Runner<D: Domain, C: Checkpoint = InMemory> {
    domain: D,
    projection: BoxedProjection<D::Event>,
    group_id: String,
    steps: Steps<D, C>,
    checkpoint: C,
    consumer: Option<Box<dyn GroupConsumer>>,
    /// Phases run so far (the first phase is 1).
    phases_run: usize,
    /// Whether the checkpoint was loaded (by the first phase, or `open`).
    loaded: bool,
    /// Next offset expected in each partition: below it, already applied.
    next_offset: BTreeMap<u32, u64>,
    /// The digest of the record before the next offset, by partition
    /// (durable checkpoints only).
    last_digest: BTreeMap<u32, String>,
    /// What the current chunk changes (durable checkpoints only).
    pending: Batch,
    /// Keys the current chunk changed (durable checkpoints only).
    changed: BTreeSet<String>,
    /// The record being applied, for naming it if the projection panics.
    applying: Option<Position>,
    /// Set when the projection panicked and the domain registers no
    /// projection of its name to rebuild it from: its in-memory state
    /// cannot be trusted, so no further phase runs.
    unrebuildable: bool,
    /// The log generation ([`Log::generation`]) in which the checkpoint was
    /// last seen to match the log; records applied since were read in it.
    verified_in: Option<u64>,
    /// Most records per checkpoint transaction (a poll is applied in chunks).
    batch_records: usize,
    rejected: Vec<Rejected<D::Rejection>>,
    /// A poll staged for a catch-up in rounds ([`Runner::stage_poll`]).
    staged: Option<Staged<D::Rejection>>,
}

/// A polled batch, applied chunk by chunk, its consumer not yet committed.
struct Staged<R> {
    consumer: Box<dyn GroupConsumer>,
    records: Vec<LogRecord>,
    next: usize,
    report: PhaseReport<R>,
}

impl<D: Domain> Runner<D> {
    /// An in-memory runner reading with the projection's own group id.
    pub fn new(domain: D, projection: BoxedProjection<D::Event>) -> Self {
        let group_id = projection.group_id().to_string();
        Self::with_group(domain, projection, &group_id)
    }

    /// An in-memory runner reading with another group id (a second copy of a view).
    pub fn with_group(domain: D, projection: BoxedProjection<D::Event>, group_id: &str) -> Self {
        Self::with_steps(domain, projection, group_id, Steps::production())
    }

    /// An in-memory runner whose phases run `steps` (the test suite's planted bugs).
    pub fn with_steps(domain: D, projection: BoxedProjection<D::Event>, group_id: &str, steps: Steps<D>) -> Self {
        Runner::with_checkpoint(domain, projection, group_id, steps, InMemory)
    }
}

impl<D: Domain, C: Checkpoint> Runner<D, C> {
    /// A runner of `projection` reading with `group_id`, running `steps`,
    /// its checkpoint in `checkpoint`.
    pub fn with_checkpoint(
        domain: D,
        projection: BoxedProjection<D::Event>,
        group_id: &str,
        steps: Steps<D, C>,
        checkpoint: C,
    ) -> Self {
        Runner {
            domain,
            projection,
            group_id: group_id.to_string(),
            steps,
            checkpoint,
            consumer: None,
            phases_run: 0,
            loaded: false,
            next_offset: BTreeMap::new(),
            last_digest: BTreeMap::new(),
            pending: Batch::default(),
            changed: BTreeSet::new(),
            applying: None,
            unrebuildable: false,
            verified_in: None,
            batch_records: usize::MAX,
            rejected: Vec::new(),
            staged: None,
        }
    }

    /// At most `records` (at least 1) records per checkpoint transaction:
    /// a long-running projector stores its progress as it goes instead of
    /// once per poll.
    pub fn with_batch_records(mut self, records: usize) -> Self {
        self.batch_records = records.max(1);
        self
    }

    /// New consumer, poll, decode, apply, commit, close.
    pub fn catch_up(&mut self, log: &dyn Log) -> Result<PhaseReport<D::Rejection>, RunError> {
        let report = self.phase(log, PhaseOptions::default())?;
        self.release_consumer()?;
        Ok(report)
    }

    /// Loads the checkpoint (the projection's state and offsets), once.
    /// The first phase does it if it was not done before; callers that
    /// measure a restart call it on its own.
    pub fn open(&mut self, log: &dyn Log) -> Result<(), RunError> {
        if self.loaded {
            return Ok(());
        }
        let resume = self.checkpoint.load(&self.group_id, log, &mut self.projection)?;
        self.next_offset = resume.next_offsets;
        self.last_digest = resume.last_digests;
        self.verified_in = None;
        self.loaded = true;
        Ok(())
    }

    /// Every rejected record so far, in the order met.
    pub fn rejected(&self) -> &[Rejected<D::Rejection>] {
        &self.rejected
    }

    /// Phases run so far, crashed ones included (the first phase is 1).
    pub fn phases_run(&self) -> usize {
        self.phases_run
    }

    /// The group id this runner reads with.
    pub fn group(&self) -> &str {
        &self.group_id
    }

    /// Where its checkpoint lives.
    pub fn checkpoint(&self) -> &C {
        &self.checkpoint
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
    /// their partition (applied before, now redelivered), stops at a gap
    /// when the checkpoint is durable (a record above the next offset:
    /// never apply past it), and applies the rest with
    /// [`Runner::apply_record`].
    pub fn apply_batch(
        &mut self,
        records: &[LogRecord],
        report: &mut PhaseReport<D::Rejection>,
    ) -> Result<(), RunError> {
        for record in records {
            let expected = self.next_offset.get(&record.partition).copied().unwrap_or(0);
            if record.offset < expected {
                report.duplicates.push(record.position());
                self.pending.duplicates += 1;
                continue;
            }
            if C::DURABLE && record.offset > expected {
                return Err(RunError::Gap {
                    group: crate::text::quoted(&self.group_id),
                    partition: record.partition,
                    expected,
                    got: record.offset,
                });
            }
            self.apply_record(record, report);
        }
        Ok(())
    }

    /// Decodes one record and applies it, or counts it as rejected; either
    /// way the record's partition now expects the offset after it.
    pub fn apply_record(&mut self, record: &LogRecord, report: &mut PhaseReport<D::Rejection>) {
        self.applying = Some(record.position());
        match (self.steps.decode)(&self.domain, record) {
            Ok(event) => {
                self.projection.apply(&event);
                if C::DURABLE {
                    self.changed.insert(self.domain.key(&event).to_string());
                    self.pending.applied += 1;
                }
                report.applied.push(record.position());
            }
            Err(rejected) => {
                if C::DURABLE {
                    self.pending.rejected.push((record.partition, record.offset, rejected.error.to_string()));
                }
                report.rejected.push(rejected.clone());
                self.rejected.push(rejected);
            }
        }
        self.next_offset.insert(record.partition, record.offset + 1);
        if C::DURABLE {
            self.pending.next_offsets.insert(record.partition, record.offset + 1);
            let digest = record.digest();
            self.last_digest.insert(record.partition, digest.clone());
            self.pending.last_digests.insert(record.partition, digest);
        }
        self.applying = None;
    }

    /// The apply step over a poll: in one go in memory; in chunks for a
    /// durable checkpoint, each stored in one transaction, with a panic of
    /// the projection caught.
    fn apply_and_store(
        &mut self,
        log: &dyn Log,
        records: &[LogRecord],
        report: &mut PhaseReport<D::Rejection>,
    ) -> Result<(), RunError> {
        if !C::DURABLE {
            return (self.steps.apply)(self, records, report);
        }
        self.check_delivered_from_the_checkpoint(log, &log.end_offsets()?, records)?;
        for chunk in records.chunks(self.batch_records) {
            self.apply_catching_panics(chunk, report)?;
            let batch = self.take_batch();
            crate::crash::point("before-store-commit");
            self.checkpoint.save(&self.group_id, &batch)?;
            crate::crash::point("after-store-commit");
        }
        report.checkpoint = Some(self.next_offset.clone());
        Ok(())
    }

    /// What the applied records since the last batch change in the
    /// checkpoint: counters, offsets, digests and the changed entries.
    fn take_batch(&mut self) -> Batch {
        let mut batch = std::mem::take(&mut self.pending);
        batch.entries = std::mem::take(&mut self.changed)
            .into_iter()
            .map(|key| {
                let state = self.projection.save_entry(&key);
                (key, state)
            })
            .collect();
        batch
    }

    /// A phase in three steps, for a catch-up of several runners whose
    /// checkpoints share one store transaction per round
    /// ([`crate::projector::catch_up`]). First: poll with a new consumer,
    /// checked against the checkpoint, nothing applied or committed yet.
    /// `read` keeps the digests of the log's records already read back in
    /// this catch-up: runners at the same checkpoint read each record once.
    pub fn stage_poll(&mut self, log: &dyn Log, read: &mut LogDigests) -> Result<(), RunError> {
        if self.unrebuildable {
            return Err(RunError::NotRebuildable(crate::text::quoted(&self.group_id)));
        }
        self.phases_run += 1;
        self.open(log)?;
        if C::DURABLE {
            self.check_checkpoint_against_log(log, &log.end_offsets()?, read)?;
        }
        let mut consumer = (self.steps.consumer)(self, log, false)?;
        let records = consumer.poll()?;
        if C::DURABLE {
            self.check_delivered_from_the_checkpoint(log, &log.end_offsets()?, &records)?;
        }
        let report =
            PhaseReport { delivered: records.iter().map(LogRecord::position).collect(), ..PhaseReport::default() };
        self.staged = Some(Staged { consumer, records, next: 0, report });
        Ok(())
    }

    /// Second, repeated: applies the next chunk (at most the batch size) of
    /// the staged poll; the batch the checkpoint must store, or `None` once
    /// every record is applied.
    pub fn stage_apply(&mut self) -> Result<Option<Batch>, RunError> {
        let Some(mut staged) = self.staged.take() else { return Ok(None) };
        if staged.next >= staged.records.len() {
            self.staged = Some(staged);
            return Ok(None);
        }
        let end = staged.next.saturating_add(self.batch_records).min(staged.records.len());
        let records = std::mem::take(&mut staged.records);
        let applied = self.apply_catching_panics(&records[staged.next..end], &mut staged.report);
        staged.records = records;
        staged.next = end;
        applied?;
        self.staged = Some(staged);
        Ok(Some(self.take_batch()))
    }

    /// Last, once every batch is stored: commits on the log; the phase's report.
    pub fn stage_commit(&mut self) -> Result<PhaseReport<D::Rejection>, RunError> {
        let Some(Staged { mut consumer, mut report, .. }) = self.staged.take() else {
            return Ok(PhaseReport::default());
        };
        if C::DURABLE {
            report.checkpoint = Some(self.next_offset.clone());
        }
        consumer.commit()?;
        if C::DURABLE {
            crate::crash::point("after-log-commit");
        }
        report.committed = true;
        self.consumer = Some(consumer);
        Ok(report)
    }

    /// After a failed round: drops the staged poll uncommitted and, for a
    /// durable checkpoint, the in-memory state, which may be ahead of what
    /// was stored; the next phase reloads it.
    pub fn abandon_staged(&mut self) {
        self.staged = None;
        if C::DURABLE {
            self.forget_in_memory_state();
        }
    }

    /// The apply step, with a panic of the projection caught and turned
    /// into [`RunError::ProjectionPanicked`].
    fn apply_catching_panics(
        &mut self,
        records: &[LogRecord],
        report: &mut PhaseReport<D::Rejection>,
    ) -> Result<(), RunError> {
        let apply = self.steps.apply;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| apply(self, records, report))) {
            Ok(applied) => applied,
            Err(panic) => {
                let position = self.applying.take().unwrap_or(Position { partition: 0, offset: 0 });
                let message = panic_message(panic.as_ref());
                let group = crate::text::quoted(&self.group_id);
                self.forget_in_memory_state();
                Err(RunError::ProjectionPanicked {
                    group,
                    partition: position.partition,
                    offset: position.offset,
                    message: crate::text::quoted(&message),
                })
            }
        }
    }

    /// After a panic in `apply`: the in-memory state may be half-applied,
    /// so it is dropped with the checkpoint's connection; the next phase
    /// reloads a fresh projection from the checkpoint.
    fn forget_in_memory_state(&mut self) {
        let name = self.projection.group_id().to_string();
        match self.domain.projections().into_iter().find(|p| p.group_id() == name) {
            Some(fresh) => self.projection = fresh,
            None => self.unrebuildable = true,
        }
        self.checkpoint.forget();
        self.loaded = false;
        self.consumer = None;
        self.next_offset.clear();
        self.last_digest.clear();
        self.verified_in = None;
        self.pending = Batch::default();
        self.changed.clear();
    }

    /// Stops on a log that no longer holds what the checkpoint covers:
    /// a partition that ends below its next offset, or whose record before
    /// it is not the one applied there. A record retention evicted, or one
    /// whose object is missing, cannot be compared, and is not: what was
    /// applied from it is in the view, and later readers meet the damage.
    ///
    /// The records are read back once per log generation: within one, the
    /// runner's later checkpoints cover records it read itself.
    #[cfg(feature = "sqlite")]
    fn check_checkpoint_against_log(
        &mut self,
        log: &dyn Log,
        ends: &[u64],
        read: &mut LogDigests,
    ) -> Result<(), RunError> {
        use crate::durable::CheckpointError;
        let generation = log.generation();
        let read_back = generation.is_none() || generation != self.verified_in;
        for (&partition, &stored_next) in &self.next_offset {
            let log_end = ends.get(partition as usize).copied().unwrap_or(0);
            let group = || crate::text::quoted(&self.group_id);
            if log_end < stored_next {
                return Err(
                    CheckpointError::LogWentBackwards { group: group(), partition, log_end, stored_next }.into()
                );
            }
            if !read_back {
                continue;
            }
            let Some(stored) = self.last_digest.get(&partition) else { continue };
            let Some(offset) = stored_next.checked_sub(1) else { continue };
            let position = Position { partition, offset };
            let found = match read.0.get(&position) {
                Some(found) => found.clone(),
                None => {
                    let found = match log.record_at(position) {
                        // Damaged, not rewritten: what was applied from it is
                        // in the view; later readers meet the damage themselves.
                        Err(LogError::Damaged { .. }) => None,
                        other => other?.map(|record| record.digest()),
                    };
                    read.0.insert(position, found.clone());
                    found
                }
            };
            if let Some(found) = found
                && found != *stored
            {
                return Err(CheckpointError::LogRewritten {
                    group: group(),
                    partition,
                    offset,
                    stored: stored.clone(),
                    found,
                }
                .into());
            }
        }
        self.verified_in = generation;
        Ok(())
    }

    #[cfg(not(feature = "sqlite"))]
    fn check_checkpoint_against_log(&mut self, _: &dyn Log, _: &[u64], _: &mut LogDigests) -> Result<(), RunError> {
        Ok(())
    }

    /// A poll reads each partition from the group's committed offset to the
    /// end; when that offset is ahead of the checkpoint's next offset, the
    /// records in between would silently never be applied: stop instead.
    #[cfg(feature = "sqlite")]
    fn check_delivered_from_the_checkpoint(
        &self,
        log: &dyn Log,
        ends: &[u64],
        records: &[LogRecord],
    ) -> Result<(), RunError> {
        for (partition, &end) in ends.iter().enumerate() {
            let partition = partition as u32;
            let next = self.next_offset.get(&partition).copied().unwrap_or(0);
            let first = records.iter().find(|r| r.partition == partition).map_or(end, |r| r.offset);
            if first > next {
                return Err(crate::durable::CheckpointError::OffsetsAhead {
                    group: crate::text::quoted(&self.group_id),
                    partition,
                    stored_next: next,
                    delivered_from: first,
                    advice: log.reset_offsets_advice(&self.group_id),
                }
                .into());
            }
        }
        Ok(())
    }

    #[cfg(not(feature = "sqlite"))]
    fn check_delivered_from_the_checkpoint(&self, _: &dyn Log, _: &[u64], _: &[LogRecord]) -> Result<(), RunError> {
        Ok(())
    }
}

impl<D: Domain, C: Checkpoint> GroupRunner<D> for Runner<D, C> {
    fn group_id(&self) -> &str {
        &self.group_id
    }

    fn phase(&mut self, log: &dyn Log, options: PhaseOptions) -> Result<PhaseReport<D::Rejection>, RunError> {
        if self.unrebuildable {
            return Err(RunError::NotRebuildable(crate::text::quoted(&self.group_id)));
        }
        self.phases_run += 1;
        self.open(log)?;
        if C::DURABLE {
            self.check_checkpoint_against_log(log, &log.end_offsets()?, &mut LogDigests::default())?;
        }
        let mut consumer = (self.steps.consumer)(self, log, options.reuse_consumer)?;
        // On a poll error the consumer is dropped here, uncommitted.
        let records = consumer.poll()?;
        let mut report =
            PhaseReport { delivered: records.iter().map(LogRecord::position).collect(), ..PhaseReport::default() };
        for step in self.steps.order {
            // Dying before the commit leaves a durable checkpoint ahead of
            // the log's offsets: the next poll redelivers, and the stored
            // offsets mark it as duplicates.
            if options.crash == Some(step.crash_point()) {
                drop(consumer);
                return Ok(report);
            }
            match step {
                Step::Apply => self.apply_and_store(log, &records, &mut report)?,
                Step::Commit => {
                    consumer.commit()?;
                    if C::DURABLE {
                        crate::crash::point("after-log-commit");
                    }
                }
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

    /// What a report lights of a stopped runner: the record it stopped at,
    /// or a gap's first missing records and how many are missing.
    #[test]
    fn an_error_names_the_records_it_is_about() {
        use super::{LogError, Position, RunError};
        let at = |partition, offset| Position { partition, offset };
        let damaged = RunError::Log(LogError::Damaged {
            anomaly: crate::anomaly::Kind::InconsistentOffsets,
            partition: 2,
            offset: 7,
            detail: String::new(),
        });
        assert_eq!(damaged.involved(), (vec![at(2, 7)], 1));
        let panicked =
            RunError::ProjectionPanicked { group: "g".into(), partition: 1, offset: 4, message: String::new() };
        assert_eq!(panicked.involved(), (vec![at(1, 4)], 1));
        let gap = RunError::Gap { group: "g".into(), partition: 0, expected: 3, got: 20 };
        let (listed, count) = gap.involved();
        assert_eq!(listed, (3..13).map(|o| at(0, o)).collect::<Vec<_>>(), "the first ten missing records");
        assert_eq!(count, 17, "of the 17 missing");
        assert_eq!(RunError::NotRebuildable("g".into()).involved(), (Vec::new(), 0));
    }
}
