//! The durable runner: a consumer group driving one projection whose state
//! and checkpoint live in the view store ([`crate::store`]), so that a
//! restarted process resumes exactly where the store says, whatever
//! merkql's group offsets say.
//!
//! A phase: poll; skip every record below the stored next offset of its
//! partition (counted as a duplicate: a lost or reset merkql offset costs
//! time, never correctness); stop at a gap (a record above the next
//! offset: never apply past it); apply the rest; write the changed entries,
//! the next offsets and the counters in one store transaction; then commit
//! to merkql, as a hint of where to poll next. On first use the runner
//! loads its projection and offsets from the store. Before every poll it
//! checks its checkpoint against the log: a log that ends below a stored
//! offset went backwards, and a log whose record before a stored offset is
//! not the one the checkpoint covers (its digest differs) was rewritten;
//! either stops the runner, since applying on would silently skip records.
//!
//! A projection that panics in `apply` stops the phase: the panic is
//! caught, nothing of the batch is stored or committed, the in-memory
//! state is dropped and reloaded from the store by the next phase, and the
//! phase fails with [`RunError::ProjectionPanicked`].

use crate::domain::{AnyView, BoxedProjection, Domain, decode_record};
use crate::log::{GroupConsumer, Log};
use crate::record::{LogRecord, Position};
use crate::runner::{CrashPoint, GroupRunner, PhaseOptions, PhaseReport, RunError};
use crate::store::{Batch, ViewStore};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// One consumer group, one projection, its state in the view store.
pub struct DurableRunner<D: Domain> {
    domain: D,
    projection: BoxedProjection<D::Event>,
    group_id: String,
    store_path: PathBuf,
    /// Opened and loaded by the first phase.
    store: Option<ViewStore>,
    consumer: Option<Box<dyn GroupConsumer>>,
    /// The next offset to apply in each partition (absent: 0), as stored.
    next_offset: BTreeMap<u32, u64>,
    /// The digest of the record before the next offset, by partition, as
    /// stored (absent: none stored yet).
    last_digest: BTreeMap<u32, String>,
    /// The record being applied, for naming it if the projection panics.
    applying: Option<Position>,
    /// Set when the projection panicked and the domain registers no
    /// projection of its name to rebuild it from: its in-memory state
    /// cannot be trusted, so no further phase runs.
    unrebuildable: bool,
    /// Most records per store transaction (a poll is applied in chunks).
    batch_records: usize,
}

impl<D: Domain> DurableRunner<D> {
    /// A runner of `projection` reading with `group_id`, its state in the
    /// store at `store_path` (created on first use).
    pub fn new(domain: D, projection: BoxedProjection<D::Event>, group_id: &str, store_path: PathBuf) -> Self {
        DurableRunner {
            domain,
            projection,
            group_id: group_id.to_string(),
            store_path,
            store: None,
            consumer: None,
            next_offset: BTreeMap::new(),
            last_digest: BTreeMap::new(),
            applying: None,
            unrebuildable: false,
            batch_records: usize::MAX,
        }
    }

    /// At most `records` (at least 1) records per store transaction: a
    /// long-running projector commits its progress as it goes instead of
    /// once per poll.
    pub fn with_batch_records(mut self, records: usize) -> Self {
        self.batch_records = records.max(1);
        self
    }

    /// Opens the store, loads the projection's state and offsets, and
    /// checks them against the log. The first phase does it if it was not
    /// done before; callers that measure a restart call it on its own.
    pub fn open(&mut self, log: &dyn Log) -> Result<(), RunError> {
        if self.store.is_some() {
            return Ok(());
        }
        let version = self.projection.state_version();
        let mut store = ViewStore::open(&self.store_path, log.topic(), log.partitions())?;
        let stored = store.load(&self.group_id, version)?;
        for (key, state) in &stored.entries {
            self.projection.load_entry(key, state).map_err(|message| crate::store::StoreError::BadState {
                path: crate::text::path(&self.store_path),
                projection: self.quoted_group(),
                message: format!("the entry of key {}: {message}", crate::text::quoted(key)),
            })?;
        }
        self.next_offset = stored.next_offsets;
        self.last_digest = stored.last_digests;
        self.store = Some(store);
        Ok(())
    }

    /// Stops on a log that no longer holds what the checkpoint covers:
    /// a partition that ends below its next offset, or whose record before
    /// it is not the one applied there. A record retention evicted, or one
    /// whose object is missing, cannot be compared, and is not: what was
    /// applied from it is in the view, and later readers meet the damage.
    fn check_checkpoint_against_log(&self, log: &dyn Log, ends: &[u64]) -> Result<(), RunError> {
        for (&partition, &stored_next) in &self.next_offset {
            let log_end = ends.get(partition as usize).copied().unwrap_or(0);
            if log_end < stored_next {
                return Err(RunError::LogWentBackwards { group: self.quoted_group(), partition, log_end, stored_next });
            }
            let Some(stored) = self.last_digest.get(&partition) else { continue };
            let Some(offset) = stored_next.checked_sub(1) else { continue };
            let record = match log.record_at(Position { partition, offset }) {
                // Damaged, not rewritten: what was applied from it is in
                // the view; later readers meet the damage themselves.
                Err(crate::log::LogError::Damaged { .. }) => continue,
                other => other?,
            };
            if let Some(record) = record
                && record.digest() != *stored
            {
                return Err(RunError::LogRewritten {
                    group: self.quoted_group(),
                    partition,
                    offset,
                    stored: stored.clone(),
                    found: record.digest(),
                });
            }
        }
        Ok(())
    }

    /// After a panic in `apply`: the in-memory state may be half-applied,
    /// so it is dropped with the store connection; the next phase reloads
    /// a fresh projection from the store.
    fn forget_in_memory_state(&mut self) {
        let name = self.projection.group_id().to_string();
        match self.domain.projections().into_iter().find(|p| p.group_id() == name) {
            Some(fresh) => self.projection = fresh,
            None => self.unrebuildable = true,
        }
        self.store = None;
        self.consumer = None;
        self.next_offset.clear();
        self.last_digest.clear();
    }

    /// [`DurableRunner::apply`], with a panic of the projection caught and
    /// turned into [`RunError::ProjectionPanicked`].
    fn apply_catching_panics(
        &mut self,
        records: &[LogRecord],
        report: &mut PhaseReport<D::Rejection>,
    ) -> Result<Batch, RunError> {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.apply(records, report))) {
            Ok(applied) => applied,
            Err(panic) => {
                let position = self.applying.take().unwrap_or(Position { partition: 0, offset: 0 });
                let message = crate::runner::panic_message(panic.as_ref());
                let group = self.quoted_group();
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

    fn quoted_group(&self) -> String {
        crate::text::quoted(&self.group_id)
    }

    fn consumer(&mut self, log: &dyn Log, reuse: bool) -> Result<Box<dyn GroupConsumer>, RunError> {
        Ok(match self.consumer.take() {
            Some(consumer) if reuse => consumer,
            Some(old) => {
                old.close()?;
                log.consumer(&self.group_id)?
            }
            None => log.consumer(&self.group_id)?,
        })
    }

    /// A poll reads each partition from the group's merkql offset to the
    /// end; when that offset is ahead of the store's next offset, the
    /// records in between would silently never be applied: stop instead.
    fn check_delivered_from_the_store(&self, ends: &[u64], records: &[LogRecord]) -> Result<(), RunError> {
        for (partition, &end) in ends.iter().enumerate() {
            let partition = partition as u32;
            let next = self.next_offset.get(&partition).copied().unwrap_or(0);
            let first = records.iter().find(|r| r.partition == partition).map_or(end, |r| r.offset);
            if first > next {
                return Err(RunError::OffsetsAhead {
                    group: self.quoted_group(),
                    partition,
                    stored_next: next,
                    delivered_from: first,
                });
            }
        }
        Ok(())
    }

    /// Applies a polled batch to the projection and returns what the store
    /// must write; stops at a gap.
    fn apply(&mut self, records: &[LogRecord], report: &mut PhaseReport<D::Rejection>) -> Result<Batch, RunError> {
        let mut batch = Batch::default();
        let mut changed: BTreeSet<String> = BTreeSet::new();
        for record in records {
            let expected = self.next_offset.get(&record.partition).copied().unwrap_or(0);
            if record.offset < expected {
                report.duplicates.push(record.position());
                batch.duplicates += 1;
                continue;
            }
            if record.offset > expected {
                return Err(RunError::Gap {
                    group: self.quoted_group(),
                    partition: record.partition,
                    expected,
                    got: record.offset,
                });
            }
            self.applying = Some(record.position());
            match decode_record(&self.domain, record) {
                Ok(event) => {
                    self.projection.apply(&event);
                    changed.insert(self.domain.key(&event).to_string());
                    report.applied.push(record.position());
                    batch.applied += 1;
                }
                Err(rejected) => {
                    batch.rejected.push((record.partition, record.offset, rejected.error.to_string()));
                    report.rejected.push(rejected);
                }
            }
            self.next_offset.insert(record.partition, record.offset + 1);
            batch.next_offsets.insert(record.partition, record.offset + 1);
            let digest = record.digest();
            self.last_digest.insert(record.partition, digest.clone());
            batch.last_digests.insert(record.partition, digest);
        }
        self.applying = None;
        batch.entries = changed
            .into_iter()
            .map(|key| {
                let state = self.projection.save_entry(&key);
                (key, state)
            })
            .collect();
        Ok(batch)
    }
}

impl<D: Domain> GroupRunner<D> for DurableRunner<D> {
    fn group_id(&self) -> &str {
        &self.group_id
    }

    fn phase(&mut self, log: &dyn Log, options: PhaseOptions) -> Result<PhaseReport<D::Rejection>, RunError> {
        if self.unrebuildable {
            return Err(RunError::NotRebuildable(self.quoted_group()));
        }
        self.open(log)?;
        self.check_checkpoint_against_log(log, &log.end_offsets()?)?;
        let mut consumer = self.consumer(log, options.reuse_consumer)?;
        let records = consumer.poll()?;
        let mut report =
            PhaseReport { delivered: records.iter().map(LogRecord::position).collect(), ..PhaseReport::default() };
        if options.crash == Some(CrashPoint::BeforeApply) {
            return Ok(report);
        }
        self.check_delivered_from_the_store(&log.end_offsets()?, &records)?;
        for chunk in records.chunks(self.batch_records) {
            let batch = self.apply_catching_panics(chunk, &mut report)?;
            crate::crash::point("before-store-commit");
            if let Some(store) = self.store.as_mut() {
                store.commit(&self.group_id, &batch)?;
            }
            crate::crash::point("after-store-commit");
        }
        report.checkpoint = Some(self.next_offset.clone());
        // Dying here leaves the store ahead of merkql's offsets: the next
        // poll redelivers, and the stored offsets mark it as duplicates.
        if options.crash == Some(CrashPoint::BeforeCommit) {
            return Ok(report);
        }
        consumer.commit()?;
        crate::crash::point("after-log-commit");
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

    fn view(&self) -> AnyView {
        self.projection.view()
    }
}

/// The durable system: the domain's projections driven by
/// [`DurableRunner`]s whose state lives in the view store at `store`.
#[derive(Clone, Debug)]
pub struct Durable<D> {
    pub domain: D,
    pub store: std::path::PathBuf,
}

impl<D: Domain> crate::verify::System for Durable<D> {
    type Domain = D;
    type Runner = DurableRunner<D>;
    fn domain(&self) -> &D {
        &self.domain
    }
    fn runner(&self, projection: BoxedProjection<D::Event>, group_id: &str) -> DurableRunner<D> {
        DurableRunner::new(self.domain.clone(), projection, group_id, self.store.clone())
    }
}
