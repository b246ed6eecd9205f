//! The history checker: every append, poll and commit an execution makes is
//! recorded through [`Recording`] (a log wrapping the log under test), and
//! checked as it happens against what was acknowledged, in the manner of
//! Jepsen's Kafka workload; what the runners applied is checked after the
//! run ([`projection_anomalies`]). Both report named anomalies
//! ([`crate::anomaly`]).
//!
//! Appends are recorded when the log acknowledges them (returns their
//! positions); an append that fails ends the execution (the log failed),
//! so there are no indeterminate writes to judge. Polls are recorded per
//! consumer instance and group, commits when they succeed.
//!
//! Memory stays linear and small: per appended record, one 8-byte
//! fingerprint and a seen flag; per poll, one entry per partition block.
//! Records are compared by a fingerprint of key and value (foldhash with a
//! fixed seed: stable within a process, which is all a run needs).

use super::execute::{Execution, Trace};
use super::key_ids::KeyIds;
use super::{FastMap, FastSet};
use crate::anomaly::{Anomalies, Anomaly, Kind};
use crate::domain::Domain;
use crate::log::{Fault, GroupConsumer, Log, LogError};
use crate::record::{LogRecord, Position};
use std::collections::BTreeMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, MutexGuard};

/// A fingerprint of a record's key and value.
fn fingerprint(key: Option<&str>, value: &str) -> u64 {
    foldhash::quality::FixedState::with_seed(0x5eed).hash_one((key, value))
}

/// What the checker knows of one partition.
#[derive(Default)]
struct PartitionState {
    /// The fingerprint acknowledged at each offset (the latest append).
    acked: Vec<Option<u64>>,
    /// The operation sequence number of each offset's latest append.
    appended_at: Vec<u64>,
    /// Whether the latest append at each offset was read back intact.
    seen: Vec<bool>,
    /// Whether the latest append at each offset was reported lost.
    lost: Vec<bool>,
    /// The highest offset appended so far.
    last_sent: Option<u64>,
    /// (sequence number, highest offset) of every poll block read.
    reads: Vec<(u64, u64)>,
}

struct ConsumerState {
    group: String,
    /// The next offset it should receive, by partition; `None` once
    /// unknown (after a failed poll, which may have moved it anywhere up to
    /// the end).
    next: Vec<Option<u64>>,
}

/// The recorded history, checked as it is recorded.
#[derive(Default)]
pub struct History {
    /// Operations so far (the sequence number of the next one).
    sequence: u64,
    partitions: Vec<PartitionState>,
    consumers: Vec<ConsumerState>,
    /// Each group's committed offsets, as the checker has followed them.
    commits: FastMap<String, Vec<Option<u64>>>,
    /// Mismatched reads checked for a duplicate so far: each check scans
    /// the partition, so only the first [`MAX_DUPLICATE_SEARCHES`] are.
    duplicate_searches: usize,
    anomalies: Anomalies,
}

/// Furthest an append's offset may lie past its partition's end before
/// the checker stops following it (it is reported, not tabled).
const MAX_OFFSET_JUMP: usize = 1 << 20;

/// Mismatched reads searched for the record they duplicate; later ones are
/// reported as inconsistent offsets without the search, so that a log
/// returning every record wrong costs linear time, not quadratic.
const MAX_DUPLICATE_SEARCHES: usize = 100;

impl History {
    fn new(partitions: u32) -> History {
        History { partitions: (0..partitions).map(|_| PartitionState::default()).collect(), ..History::default() }
    }

    fn next_sequence(&mut self) -> u64 {
        self.sequence += 1;
        self.sequence
    }

    fn appended(&mut self, position: Position, fingerprint: u64) {
        let sequence = self.next_sequence();
        let Some(partition) = self.partitions.get_mut(position.partition as usize) else { return };
        let offset = position.offset;
        if let Some(last) = partition.last_sent
            && offset <= last
        {
            self.anomalies.add(Kind::NonmonotonicSend, None, &[position], || {
                format!(
                    "partition {} gave offset {offset} to an append after giving out offset {last}",
                    position.partition
                )
            });
        }
        partition.last_sent = Some(partition.last_sent.map_or(offset, |last| last.max(offset)));
        let index = offset as usize;
        if index > partition.acked.len().saturating_add(MAX_OFFSET_JUMP) {
            // Not followed: the checker's tables grow with offsets, and
            // no log jumps this far without lying about its offsets.
            self.anomalies.add(Kind::InconsistentOffsets, None, &[position], || {
                format!(
                    "partition {}: an append was given offset {offset}, far past the partition's {} records",
                    position.partition,
                    partition.acked.len()
                )
            });
            return;
        }
        if partition.acked.len() <= index {
            partition.acked.resize(index + 1, None);
            partition.appended_at.resize(index + 1, 0);
            partition.seen.resize(index + 1, false);
            partition.lost.resize(index + 1, false);
        }
        if partition.acked[index].is_some() {
            let lost = !partition.seen[index] && !partition.lost[index];
            self.anomalies.add(Kind::InconsistentOffsets, None, &[position], || {
                format!("two appends were acknowledged at partition {}, offset {offset}", position.partition)
            });
            if lost {
                self.anomalies.add(Kind::LostWrite, None, &[position], || {
                    format!(
                        "the record acknowledged at partition {}, offset {offset} was replaced before anyone read it",
                        position.partition
                    )
                });
            }
        }
        partition.acked[index] = Some(fingerprint);
        partition.appended_at[index] = sequence;
        partition.seen[index] = false;
        partition.lost[index] = false;
    }

    fn opened(&mut self, group: &str) -> usize {
        self.next_sequence();
        let next = self.commits.get(group).cloned().unwrap_or_else(|| vec![Some(0); self.partitions.len()]);
        self.consumers.push(ConsumerState { group: group.to_string(), next });
        self.consumers.len() - 1
    }

    fn polled(&mut self, consumer: usize, records: &[LogRecord]) {
        let sequence = self.next_sequence();
        let Some(state) = self.consumers.get_mut(consumer) else { return };
        let group = state.group.as_str();
        for block in records.chunk_by(|a, b| a.partition == b.partition) {
            let p = block[0].partition as usize;
            let (Some(partition), Some(next)) = (self.partitions.get_mut(p), state.next.get_mut(p)) else { continue };
            for record in block {
                let position = record.position();
                let offset = record.offset;
                match *next {
                    Some(due) if offset > due => {
                        // Listed up to the bound, counted in full: a log may
                        // jump over any number of offsets.
                        let listed = (due..offset)
                            .take(crate::anomaly::MAX_LISTED_POSITIONS)
                            .map(|o| Position { partition: position.partition, offset: o })
                            .collect::<Vec<_>>();
                        let count = usize::try_from(offset - due).unwrap_or(usize::MAX);
                        self.anomalies.add_counted(Kind::PollSkip, Some(group), &listed, count, || {
                            format!("partition {p}: the poll returned offset {offset} when offset {due} was due")
                        });
                    }
                    Some(due) if offset < due => {
                        self.anomalies.add(Kind::NonmonotonicPoll, Some(group), &[position], || {
                            format!("partition {p}: offset {offset} was returned when offset {due} was due")
                        });
                    }
                    _ => {}
                }
                *next = Some(offset + 1);
                let read = fingerprint(record.key.as_deref(), &record.value);
                match partition.acked.get(offset as usize).copied().flatten() {
                    Some(acked) if acked == read => partition.seen[offset as usize] = true,
                    acked => {
                        self.duplicate_searches += 1;
                        let elsewhere = (self.duplicate_searches <= MAX_DUPLICATE_SEARCHES)
                            .then(|| partition.acked.iter().position(|a| *a == Some(read)))
                            .flatten();
                        match elsewhere {
                            Some(other) => self.anomalies.add(Kind::Duplicate, None, &[position], || {
                                format!("partition {p}, offset {offset} returned the record appended at offset {other}")
                            }),
                            None => self.anomalies.add(Kind::InconsistentOffsets, None, &[position], || {
                                let what =
                                    if acked.is_some() { "another record than the one" } else { "a record none was" };
                                format!("partition {p}, offset {offset} returned {what} acknowledged there")
                            }),
                        }
                    }
                }
            }
            let highest = block.iter().map(|r| r.offset).max().unwrap_or(0);
            partition.reads.push((sequence, highest));
        }
    }

    /// The log says where its partitions end: acknowledged records at or
    /// past an end are gone (a truncated index), read before or not: no
    /// later reader can see them.
    fn observed_ends(&mut self, ends: &[u64]) {
        for (p, (partition, &end)) in self.partitions.iter_mut().zip(ends).enumerate() {
            for offset in end as usize..partition.acked.len() {
                if partition.acked[offset].is_none() || partition.lost[offset] {
                    continue;
                }
                let position = Position { partition: p as u32, offset: offset as u64 };
                self.anomalies.add(Kind::LostWrite, None, &[position], || {
                    format!("partition {p} now ends at offset {end}, below the record acknowledged at offset {offset}")
                });
                partition.lost[offset] = true;
            }
        }
    }

    /// A failed poll may have moved the consumer anywhere up to the end.
    fn poll_failed(&mut self, consumer: usize) {
        self.next_sequence();
        if let Some(state) = self.consumers.get_mut(consumer) {
            state.next.iter_mut().for_each(|next| *next = None);
        }
    }

    fn committed(&mut self, consumer: usize) {
        self.next_sequence();
        if let Some(state) = self.consumers.get(consumer) {
            self.commits.insert(state.group.clone(), state.next.clone());
        }
    }

    /// Ends the history: acknowledged records never read back are lost
    /// writes (if a read went past them later) or unseen.
    pub fn finish(mut self) -> Vec<Anomaly> {
        for (p, partition) in self.partitions.iter().enumerate() {
            for (offset, seen) in partition.seen.iter().enumerate() {
                if *seen || partition.lost[offset] || partition.acked[offset].is_none() {
                    continue;
                }
                let position = Position { partition: p as u32, offset: offset as u64 };
                let appended_at = partition.appended_at[offset];
                let read_past = partition
                    .reads
                    .iter()
                    .any(|&(sequence, highest)| after(sequence, appended_at) && highest > offset as u64);
                if read_past {
                    self.anomalies.add(Kind::LostWrite, None, &[position], || {
                        format!(
                            "partition {p}, offset {offset} was acknowledged and never read, though reads went past it"
                        )
                    });
                } else {
                    self.anomalies.add(Kind::Unseen, None, &[position], || {
                        format!("partition {p}, offset {offset} was acknowledged and never read")
                    });
                }
            }
        }
        self.anomalies.into_vec()
    }
}

/// Whether the operation numbered `later` came after the one numbered
/// `earlier`. Every operation has its own number, so they are never equal.
fn after(later: u64, earlier: u64) -> bool {
    debug_assert_ne!(later, earlier, "operation numbers are unique");
    later > earlier
}

/// A log that records every operation on the log it wraps into a
/// [`History`]. Consumers it hands out record their polls and commits.
pub struct Recording<'a> {
    inner: &'a mut dyn Log,
    history: Arc<Mutex<History>>,
}

fn lock(history: &Mutex<History>) -> MutexGuard<'_, History> {
    // A panic while recording leaves the history as it was: keep going.
    history.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<'a> Recording<'a> {
    pub fn new(inner: &'a mut dyn Log) -> Recording<'a> {
        let partitions = inner.partitions();
        Recording { inner, history: Arc::new(Mutex::new(History::new(partitions))) }
    }

    /// The history so far, checked; the recording goes on.
    pub fn anomalies(&self) -> Vec<Anomaly> {
        let history = std::mem::take(&mut *lock(&self.history));
        history.finish()
    }
}

impl Log for Recording<'_> {
    fn topic(&self) -> &str {
        self.inner.topic()
    }
    fn partitions(&self) -> u32 {
        self.inner.partitions()
    }
    fn append(&self, key: Option<&str>, value: &str) -> Result<Position, LogError> {
        let position = self.inner.append(key, value)?;
        lock(&self.history).appended(position, fingerprint(key, value));
        Ok(position)
    }
    fn append_batch(&self, records: &[(Option<&str>, &str)]) -> Result<Vec<Position>, LogError> {
        let positions = self.inner.append_batch(records)?;
        let mut history = lock(&self.history);
        for ((key, value), position) in records.iter().zip(&positions) {
            history.appended(*position, fingerprint(*key, value));
        }
        Ok(positions)
    }
    fn end_offsets(&self) -> Result<Vec<u64>, LogError> {
        let ends = self.inner.end_offsets()?;
        lock(&self.history).observed_ends(&ends);
        Ok(ends)
    }
    fn consumer(&self, group_id: &str) -> Result<Box<dyn GroupConsumer>, LogError> {
        let inner = self.inner.consumer(group_id)?;
        let id = lock(&self.history).opened(group_id);
        Ok(Box::new(RecordingConsumer { inner, id, history: Arc::clone(&self.history) }))
    }
    fn reopen(&mut self) -> Result<(), LogError> {
        self.inner.reopen()
    }
    fn record_at(&self, position: Position) -> Result<Option<LogRecord>, LogError> {
        self.inner.record_at(position)
    }
    fn reset_offsets_advice(&self, group_id: &str) -> String {
        self.inner.reset_offsets_advice(group_id)
    }
    fn generation(&self) -> Option<u64> {
        self.inner.generation()
    }
    /// Faults are not operations the checker judges: it keeps following
    /// the groups' commits as they were made, so a group that a fault
    /// makes read from elsewhere shows as a nonmonotonic poll or a poll
    /// skip, which is the point.
    fn inject(&mut self, fault: &Fault) -> Result<String, LogError> {
        self.inner.inject(fault)
    }
}

struct RecordingConsumer {
    inner: Box<dyn GroupConsumer>,
    id: usize,
    history: Arc<Mutex<History>>,
}

impl GroupConsumer for RecordingConsumer {
    fn poll(&mut self) -> Result<Vec<LogRecord>, LogError> {
        match self.inner.poll() {
            Ok(records) => {
                lock(&self.history).polled(self.id, &records);
                Ok(records)
            }
            Err(error) => {
                lock(&self.history).poll_failed(self.id);
                Err(error)
            }
        }
    }
    fn commit(&mut self) -> Result<(), LogError> {
        self.inner.commit()?;
        lock(&self.history).committed(self.id);
        Ok(())
    }
    fn close(self: Box<Self>) -> Result<(), LogError> {
        self.inner.close()
    }
}

/// What the runners applied, against what was produced and what the model
/// accepts: duplicate, skipped and reordered applies, and checkpoints
/// ahead of the log or behind the view. A group that stopped with a named
/// anomaly is reported with it, and only what its checkpoint covers is
/// expected of it.
pub fn projection_anomalies<D: Domain>(execution: &Execution<D>) -> Vec<Anomaly> {
    let produced = ProducedIndex::new(execution);
    let traces: Vec<&Trace<D::Rejection>> = execution.traces().collect();
    // Each group's applies are judged on their own, a large history's
    // groups shared out over the machine's cores (a 1M-record replay has
    // nine groups of a million applies each); every group has its own id,
    // so the results never overlap.
    let parallel = execution.produced.len() >= PARALLEL_FROM_RECORDS;
    let mut anomalies: Vec<Anomaly> = super::parallel::map_on_cores(&traces, parallel, |trace| {
        let mut anomalies = Anomalies::default();
        trace_anomalies(execution, &produced, trace, &mut anomalies);
        anomalies.into_vec()
    })
    .into_iter()
    .flatten()
    .collect();
    anomalies.sort_by(|a, b| (a.kind, &a.group).cmp(&(b.kind, &b.group)));
    anomalies
}

/// Histories from this size are judged on several threads.
const PARALLEL_FROM_RECORDS: usize = 10_000;

/// The produced records by position, computed once for every group.
struct ProducedIndex {
    /// The latest record produced at each position, by history index. A
    /// position the log gave out twice (the history checker names that)
    /// is ambiguous: runners report positions, not records, so what was
    /// applied there is not judged.
    index: FastMap<Position, usize>,
    reused: FastSet<Position>,
    rejected: FastSet<Position>,
    /// A small id of each produced record's key, by history index.
    key_ids: Vec<usize>,
    keys: usize,
}

impl ProducedIndex {
    fn new<D: Domain>(execution: &Execution<D>) -> ProducedIndex {
        let mut index: FastMap<Position, usize> =
            FastMap::with_capacity_and_hasher(execution.produced.len(), Default::default());
        let mut reused: FastSet<Position> = FastSet::default();
        for (i, (position, _)) in execution.produced.iter().enumerate() {
            if index.insert(*position, i).is_some() {
                reused.insert(*position);
            }
        }
        let keys = KeyIds::new(execution.produced.iter().map(|(_, record)| record.key.as_deref()));
        let rejected = execution.model.rejected.iter().copied().collect();
        ProducedIndex { index, reused, rejected, keys: keys.count(), key_ids: keys.of_record }
    }
}

/// [`projection_anomalies`] of one group, added to `anomalies`.
fn trace_anomalies<D: Domain>(
    execution: &Execution<D>,
    produced: &ProducedIndex,
    trace: &Trace<D::Rejection>,
    anomalies: &mut Anomalies,
) {
    let ProducedIndex { index: produced_index, reused, rejected, key_ids, keys } = produced;
    let group = Some(trace.group_id.as_str());
    if let Some(stop) = &trace.stopped {
        anomalies.add_counted(stop.anomaly, group, &stop.positions, stop.count, || {
            format!("the runner stopped in phase {}: {}", stop.phase, stop.message)
        });
    }
    let mut applied_count: FastMap<Position, usize> =
        FastMap::with_capacity_and_hasher(execution.produced.len(), Default::default());
    // Per key id, the produced index of the last record applied.
    let mut last_by_key: Vec<Option<usize>> = vec![None; *keys];
    let mut highest_applied: BTreeMap<u32, u64> = BTreeMap::new();
    let mut last_checkpoint: Option<&BTreeMap<u32, u64>> = None;
    for phase in &trace.phases {
        for report in phase.reports() {
            for position in &report.applied {
                if reused.contains(position) {
                    continue;
                }
                let count = applied_count.entry(*position).or_default();
                *count += 1;
                if *count == 2 {
                    anomalies
                        .add(Kind::DuplicateApply, group, &[*position], || format!("{position} was applied twice"));
                }
                let highest = highest_applied.entry(position.partition).or_insert(position.offset);
                *highest = (*highest).max(position.offset);
                let Some(&index) = produced_index.get(position) else { continue };
                let key = key_ids[index];
                if let Some(before) = last_by_key[key]
                    && before > index
                {
                    anomalies.add(Kind::PerKeyReorder, group, &[*position], || {
                        format!("{position} was applied after a later record of its key")
                    });
                }
                last_by_key[key] = Some(index);
            }
            let Some(checkpoint) = &report.checkpoint else { continue };
            last_checkpoint = Some(checkpoint);
            for (&partition, &next) in checkpoint {
                let end = phase.log_ends.get(partition as usize).copied().unwrap_or(0);
                if next > end {
                    anomalies.add(Kind::CheckpointAheadOfLog, group, &[Position { partition, offset: end }], || {
                        format!(
                            "partition {partition}: the checkpoint's next offset {next} is past the log's end {end}"
                        )
                    });
                }
                if let Some(&highest) = highest_applied.get(&partition)
                    && highest >= next
                {
                    anomalies.add(Kind::CheckpointBehindView, group, &[Position { partition, offset: highest }], || {
                        format!("partition {partition}: offset {highest} is applied, the checkpoint's next offset is {next}")
                    });
                }
            }
        }
    }
    // What the group should have applied: everything the model
    // accepts, or, for a stopped group, what its checkpoint covers.
    let expected = |position: &Position| match (&trace.stopped, last_checkpoint) {
        (None, _) => true,
        (Some(_), Some(checkpoint)) => checkpoint.get(&position.partition).is_some_and(|&next| position.offset < next),
        (Some(_), None) => false,
    };
    let mut skipped: Vec<Position> = produced_index
        .keys()
        .filter(|p| !rejected.contains(p) && !reused.contains(p) && !applied_count.contains_key(p) && expected(p))
        .copied()
        .collect();
    skipped.sort_unstable();
    if let Some(first) = skipped.first() {
        let first = *first;
        anomalies.add(Kind::SkippedApply, group, &skipped, || format!("{first} was never applied"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AnyView, HistoryRecord, Model};
    use crate::example::Counters;
    use crate::runner::PhaseReport;
    use crate::verify::execute::{PhaseTrace, Stop, Trace};

    fn at(partition: u32, offset: u64) -> Position {
        Position { partition, offset }
    }

    fn record(partition: u32, offset: u64, value: &str) -> LogRecord {
        LogRecord { topic: "t".into(), partition, offset, key: Some("k".into()), value: value.into() }
    }

    fn kinds(anomalies: &[Anomaly]) -> Vec<Kind> {
        anomalies.iter().map(|a| a.kind).collect()
    }

    /// A history of one partition holding `values` at offsets 0, 1, ...
    fn appended(values: &[&str]) -> History {
        let mut history = History::new(2);
        for (offset, value) in values.iter().enumerate() {
            history.appended(at(0, offset as u64), fingerprint(Some("k"), value));
        }
        history
    }

    #[test]
    fn a_clean_history_has_no_anomaly() {
        let mut history = appended(&["a", "b", "c"]);
        let consumer = history.opened("g");
        history.polled(consumer, &[record(0, 0, "a"), record(0, 1, "b")]);
        history.committed(consumer);
        let consumer = history.opened("g");
        history.polled(consumer, &[record(0, 2, "c")]);
        history.observed_ends(&[3, 0]);
        assert_eq!(kinds(&history.finish()), []);
    }

    #[test]
    fn each_log_level_anomaly_is_named() {
        // poll-skip, then lost-write of the skipped record.
        let mut history = appended(&["a", "b", "c"]);
        let consumer = history.opened("g");
        history.polled(consumer, &[record(0, 0, "a"), record(0, 2, "c")]);
        let anomalies = history.finish();
        assert_eq!(kinds(&anomalies), [Kind::LostWrite, Kind::PollSkip]);
        assert_eq!(anomalies[1].positions, [at(0, 1)]);
        assert_eq!(anomalies[1].group.as_deref(), Some("g"));

        // unseen: nobody read it, nobody read past it.
        let mut history = appended(&["a", "b"]);
        let consumer = history.opened("g");
        history.polled(consumer, &[record(0, 0, "a")]);
        assert_eq!(kinds(&history.finish()), [Kind::Unseen]);

        // nonmonotonic-poll: the group's commit is lost, it reads again.
        let mut history = appended(&["a", "b"]);
        let consumer = history.opened("g");
        history.polled(consumer, &[record(0, 0, "a"), record(0, 1, "b")]);
        history.committed(consumer);
        let consumer = history.opened("g");
        history.polled(consumer, &[record(0, 0, "a")]);
        assert_eq!(kinds(&history.finish()), [Kind::NonmonotonicPoll]);

        // inconsistent-offsets: another value read than was written.
        let mut history = appended(&["a"]);
        let consumer = history.opened("g");
        history.polled(consumer, &[record(0, 0, "x")]);
        assert_eq!(kinds(&history.finish()), [Kind::Unseen, Kind::InconsistentOffsets]);

        // duplicate: the record written at 0 read at 1.
        let mut history = appended(&["a", "b"]);
        let consumer = history.opened("g");
        history.polled(consumer, &[record(0, 0, "a"), record(0, 1, "a")]);
        assert_eq!(kinds(&history.finish()), [Kind::Unseen, Kind::Duplicate]);

        // nonmonotonic-send and inconsistent-offsets: an offset given twice;
        // the first record, never read, is lost.
        let mut history = appended(&["a", "b"]);
        history.appended(at(0, 1), fingerprint(Some("k"), "c"));
        let kinds_found = kinds(&history.finish());
        assert_eq!(kinds_found, [Kind::LostWrite, Kind::Unseen, Kind::NonmonotonicSend, Kind::InconsistentOffsets]);

        // lost-write: the partition's end falls below an acknowledged record.
        let mut history = appended(&["a", "b"]);
        let consumer = history.opened("g");
        history.polled(consumer, &[record(0, 0, "a"), record(0, 1, "b")]);
        history.observed_ends(&[1, 0]);
        history.observed_ends(&[1, 0]);
        let anomalies = history.finish();
        assert_eq!(kinds(&anomalies), [Kind::LostWrite]);
        assert_eq!((anomalies[0].count, anomalies[0].positions.clone()), (1, vec![at(0, 1)]), "reported once");
    }

    #[test]
    fn an_offset_given_out_again_after_its_record_was_read_is_not_a_lost_write() {
        let mut history = appended(&["a", "b"]);
        let consumer = history.opened("g");
        history.polled(consumer, &[record(0, 0, "a"), record(0, 1, "b")]);
        history.appended(at(0, 1), fingerprint(Some("k"), "c"));
        history.polled(consumer, &[]);
        assert_eq!(kinds(&history.finish()), [Kind::Unseen, Kind::NonmonotonicSend, Kind::InconsistentOffsets]);

        // Lost when the end fell below it, then given out again: one
        // lost-write, not two.
        let mut history = appended(&["a", "b"]);
        history.observed_ends(&[1, 0]);
        history.appended(at(0, 1), fingerprint(Some("k"), "c"));
        let anomalies = history.finish();
        let lost = anomalies.iter().find(|a| a.kind == Kind::LostWrite).map(|a| a.count);
        assert_eq!(lost, Some(1), "{anomalies:?}");
    }

    #[test]
    fn offsets_no_append_was_given_are_not_judged() {
        let mut history = History::new(1);
        history.appended(at(0, 0), fingerprint(Some("k"), "a"));
        history.appended(at(0, 2), fingerprint(Some("k"), "c"));
        let consumer = history.opened("g");
        history.polled(consumer, &[record(0, 0, "a")]);
        let consumer = history.opened("h");
        history.polled(consumer, &[record(0, 2, "c")]);
        // Offset 1 holds nothing acknowledged: neither lost nor unseen.
        assert_eq!(kinds(&history.finish()), [Kind::PollSkip]);
    }

    #[test]
    fn recording_forwards_everything_to_the_log_it_wraps() {
        let dir = crate::settings::scratch_dir().unwrap();
        let mut log = crate::log::MerkqlLog::create(dir.path(), "t", 2).unwrap();
        let mut recording = Recording::new(&mut log);
        assert_eq!((recording.topic(), recording.partitions()), ("t", 2));
        let position = recording.append(Some("k"), "v").unwrap();
        let positions = recording.append_batch(&[(Some("k"), "w")]).unwrap();
        assert_eq!(positions, [Position { offset: position.offset + 1, ..position }]);
        assert_eq!(recording.record_at(position).unwrap().map(|r| r.value), Some("v".to_string()));
        let mut ends = vec![0, 0];
        ends[position.partition as usize] = 2;
        assert_eq!(recording.end_offsets().unwrap(), ends);
        let mut consumer = recording.consumer("g").unwrap();
        assert!(matches!(recording.reopen(), Err(LogError::ConsumersStillOpen(1))), "the wrapped log refuses");
        assert_eq!(consumer.poll().unwrap().len(), 2);
        consumer.commit().unwrap();
        consumer.close().unwrap();
        recording.reopen().unwrap();
        let mut consumer = recording.consumer("g").unwrap();
        assert_eq!(consumer.poll().unwrap(), [], "the commit reached the wrapped log");
        consumer.close().unwrap();
        assert!(matches!(recording.inject(&Fault::PanicInApply { after: 0 }), Err(LogError::FaultUnsupported(_))));
        assert_eq!(kinds(&recording.anomalies()), []);
    }

    #[test]
    fn only_the_first_mismatched_reads_are_searched_for_duplicates() {
        let values: Vec<String> = (0..=MAX_DUPLICATE_SEARCHES + 10).map(|i| format!("v{i}")).collect();
        let mut history = appended(&values.iter().map(String::as_str).collect::<Vec<_>>());
        let consumer = history.opened("g");
        // Every record read one offset late: offset i holds record i-1.
        let shifted: Vec<LogRecord> = (1..values.len()).map(|i| record(0, i as u64, &values[i - 1])).collect();
        history.polled(consumer, &shifted);
        let anomalies = history.finish();
        let count = |kind| anomalies.iter().find(|a| a.kind == kind).map_or(0, |a| a.count);
        assert_eq!(count(Kind::Duplicate), MAX_DUPLICATE_SEARCHES);
        assert_eq!(count(Kind::InconsistentOffsets), values.len() - 1 - MAX_DUPLICATE_SEARCHES);
    }

    #[test]
    fn absurd_offsets_are_reported_without_tables_that_size() {
        let mut history = appended(&["a"]);
        history.appended(at(0, u64::MAX / 2), fingerprint(Some("k"), "b"));
        let consumer = history.opened("g");
        history.polled(consumer, &[record(0, u64::MAX - 1, "a")]);
        let anomalies = history.finish();
        // The read at the absurd offset is "a" again: a duplicate of offset 0.
        assert_eq!(kinds(&anomalies), [Kind::LostWrite, Kind::Duplicate, Kind::PollSkip, Kind::InconsistentOffsets]);
        let skip = &anomalies[2];
        let expected = (usize::try_from(u64::MAX - 1).unwrap(), crate::anomaly::MAX_LISTED_POSITIONS);
        assert_eq!((skip.count, skip.positions.len()), expected);
    }

    #[test]
    fn a_failed_poll_makes_the_next_positions_unknown_not_anomalous() {
        let mut history = appended(&["a", "b", "c"]);
        let consumer = history.opened("g");
        history.poll_failed(consumer);
        history.committed(consumer);
        let consumer = history.opened("g");
        history.polled(consumer, &[record(0, 2, "c")]);
        // The group skipped 0 and 1 at the log's word (its own commit):
        // not a poll skip. No one read them and a read went past them:
        // lost, in Jepsen's sense (a full replay would have seen them).
        assert_eq!(kinds(&history.finish()), [Kind::LostWrite]);
    }

    /// An execution of `produced` (values under key "k") in which one
    /// group applied `applied`, reporting `checkpoint` with the log ending at
    /// `ends`; `stopped` if it stopped.
    fn execution(
        produced: usize,
        applied: &[Position],
        checkpoint: Option<&[(u32, u64)]>,
        ends: &[u64],
        stopped: bool,
    ) -> Execution<Counters> {
        let produced = (0..produced)
            .map(|i| (at(0, i as u64), HistoryRecord { key: Some("k".into()), value: format!("v{i}") }))
            .collect();
        let report = PhaseReport {
            applied: applied.to_vec(),
            checkpoint: checkpoint.map(|c| c.iter().copied().collect()),
            ..PhaseReport::default()
        };
        let trace = Trace {
            projection: "p".into(),
            group_id: "p-incremental".into(),
            phases: vec![PhaseTrace {
                phase: 0,
                expected_new: Vec::new(),
                crashed: None,
                committed: report,
                retries: 0,
                log_ends: ends.to_vec(),
            }],
            view: AnyView::new(0u32),
            rejected: Vec::new(),
            stopped: stopped.then(|| Stop {
                phase: 0,
                anomaly: Kind::PollSkip,
                message: "stopped".into(),
                positions: Vec::new(),
                count: 0,
            }),
        };
        Execution {
            produced,
            incremental: vec![trace],
            late: None,
            full: Vec::new(),
            block_orders: Vec::new(),
            model: Model::default(),
            faults: Vec::new(),
            anomalies: Vec::new(),
        }
    }

    #[test]
    fn each_projection_level_anomaly_is_named() {
        let found = |e: &Execution<Counters>| kinds(&projection_anomalies(e));
        assert_eq!(found(&execution(2, &[at(0, 0), at(0, 1)], Some(&[(0, 2)]), &[2], false)), []);
        assert_eq!(found(&execution(2, &[at(0, 0), at(0, 1), at(0, 1)], None, &[2], false)), [Kind::DuplicateApply]);
        assert_eq!(found(&execution(2, &[at(0, 1)], None, &[2], false)), [Kind::SkippedApply]);
        assert_eq!(found(&execution(2, &[at(0, 1), at(0, 0)], None, &[2], false)), [Kind::PerKeyReorder]);
        assert_eq!(
            found(&execution(2, &[at(0, 0), at(0, 1)], Some(&[(0, 3)]), &[2], false)),
            [Kind::CheckpointAheadOfLog]
        );
        assert_eq!(
            found(&execution(2, &[at(0, 0), at(0, 1)], Some(&[(0, 1)]), &[2], false)),
            [Kind::CheckpointBehindView]
        );
        // A stopped group is expected to have applied only what its
        // checkpoint covers; its stop is reported under its own name.
        assert_eq!(found(&execution(3, &[at(0, 0)], Some(&[(0, 1)]), &[3], true)), [Kind::PollSkip]);
        assert_eq!(found(&execution(3, &[], Some(&[(0, 1)]), &[3], true)), [Kind::PollSkip, Kind::SkippedApply]);
        assert_eq!(found(&execution(3, &[], None, &[3], true)), [Kind::PollSkip]);
    }

    /// A history large enough to be judged on several threads: each
    /// group's anomaly is found under its own name, in (kind, group) order.
    #[test]
    fn a_large_history_is_judged_group_by_group() {
        let records = PARALLEL_FROM_RECORDS;
        let all: Vec<Position> = (0..records as u64).map(|offset| at(0, offset)).collect();
        let mut execution = execution(records, &all, None, &[records as u64], false);
        let template = execution.incremental[0].clone();
        let group = |name: &str, applied: Vec<Position>| {
            let mut trace = template.clone();
            trace.group_id = name.into();
            trace.phases[0].committed.applied = applied;
            trace
        };
        let mut duplicated = all.clone();
        duplicated.insert(8, at(0, 7));
        let mut reordered = all.clone();
        reordered.swap(3, 4);
        execution.incremental = vec![group("a-incremental", all[1..].to_vec()), group("b-incremental", all.clone())];
        execution.full = vec![group("c-full", duplicated), group("d-full", reordered)];
        let found: Vec<(Kind, Option<String>)> =
            projection_anomalies(&execution).into_iter().map(|a| (a.kind, a.group)).collect();
        let mut expected = vec![
            (Kind::SkippedApply, Some("a-incremental".to_string())),
            (Kind::DuplicateApply, Some("c-full".to_string())),
            (Kind::PerKeyReorder, Some("d-full".to_string())),
        ];
        expected.sort();
        assert_eq!(found, expected);
    }
}
