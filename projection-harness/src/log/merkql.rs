//! The merkql implementation of the log seam: the only module that knows
//! merkql (with its bulk loader, [`super::bulk`]).
//!
//! merkql 0.2 behaviours this adapter guards against (see KNOWN-ANOMALIES.md
//! and docs/internals.md, "merkql facts"):
//! - `Consumer::poll` advances positions of partitions read before an error,
//!   and `commit_sync` commits positions: so after a failed poll the
//!   consumer is *poisoned* and refuses to commit ([`LogError::CommitAfterFailedPoll`]).
//! - Two `Broker` instances on one directory corrupt offsets: so
//!   [`Log::reopen`] refuses while a consumer still holds the broker.
//! - Group ids and topics become directory names: so they are validated.
//! - `auto_commit` commits on `Drop`: consumers are always made with it off.
//! - `poll` returns a record whose payload was damaged as is, and leaves out
//!   records whose objects are missing or that retention evicted, without
//!   an error: so every poll is *verified* (`MerkqlLog::verified_reads`):
//!   each record is hashed again and compared with the content hash its
//!   offset index entry holds (the leaf merkql's merkle tree is built
//!   from), and each partition's records must run without a hole from
//!   where the consumer started to the end the partition had before the
//!   poll. A failed check is [`LogError::Damaged`] and poisons the consumer.
//! - `poll` returns its partition blocks in an order that varies from one
//!   consumer to the next (a hash map's): they are returned in partition
//!   order, so that a run is a function of its case.

use super::{Fault, GroupConsumer, Log, LogError, MAX_GROUP_ID_BYTES, MAX_PARTITIONS, is_safe_name};
use crate::anomaly::Kind;
use crate::record::{LogRecord, Position};
use merkql::broker::{Broker, BrokerConfig, BrokerRef};
use merkql::consumer::{Consumer, ConsumerConfig, OffsetReset};
use merkql::group::TopicPartition;
use merkql::record::ProducerRecord;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Longest accepted topic name, in bytes (Kafka's limit).
const MAX_TOPIC_BYTES: usize = 249;

/// merkql ignores the poll timeout (it returns whatever is there); a nominal one.
const POLL_TIMEOUT: Duration = Duration::from_millis(0);

/// The lock file every process takes, exclusively, before it reads or
/// writes a log directory: merkql does not guard against two processes.
const LOCK_FILE: &str = ".projection-harness.lock";

/// Present while a log is being written by a run that has not said it
/// finished ([`MerkqlLog::mark_complete`]): after a `kill -9` it remains,
/// and the next process is told the log may be partial.
const INCOMPLETE_FILE: &str = ".projection-harness.incomplete";

/// An open merkql log in a directory, holding one topic.
pub struct MerkqlLog {
    dir: PathBuf,
    topic: String,
    partitions: u32,
    pub(super) broker: BrokerRef,
    /// The round-robin counter of keyless records, kept as merkql keeps its
    /// own in the broker's `Topic` (from 0 when the broker opens, one per
    /// keyless record, the partition is the counter modulo the partition
    /// count), so that keyless records land where one `send` each would put
    /// them. merkql's own counter is never used: keyless records are
    /// appended in batches, which `send` cannot do.
    pub(super) keyless_sent: std::sync::atomic::AtomicU32,
    /// Whether polls are verified (see the module doc); on unless a test
    /// shows what merkql alone returns.
    verified_reads: bool,
    /// Set by an injected [`Fault::PollError`]: the next poll of any
    /// consumer fails, after merkql has advanced its positions.
    pub(super) poll_fault: Arc<AtomicBool>,
    /// Records verified in this process, shared by its consumers.
    verified: Verified,
    /// This opening of the log ([`Log::generation`]): new at every open,
    /// reopen and injected fault.
    generation: u64,
    /// Held (locked) for as long as the log is open, reopens included.
    _lock: std::fs::File,
}

/// Takes the directory's lock, or says which process has it.
fn lock(dir: &Path) -> Result<std::fs::File, LogError> {
    let place = || crate::text::path(dir);
    let io =
        |action: &'static str, e: std::io::Error| LogError::Backend { action, place: place(), message: e.to_string() };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(LOCK_FILE))
        .map_err(|e| io("open the lock file", e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(LogError::InUse { place: place() }),
        Err(std::fs::TryLockError::Error(e)) => Err(io("lock the directory", e)),
    }
}

impl MerkqlLog {
    /// Creates a new log in `dir` (created if missing) with `topic` of
    /// `partitions` partitions. Refuses a directory that already holds a log.
    pub fn create(dir: &Path, topic: &str, partitions: u32) -> Result<MerkqlLog, LogError> {
        super::check_partition_count(partitions)?;
        validate_topic(topic)?;
        std::fs::create_dir_all(dir).map_err(|e| LogError::Backend {
            action: "create the directory",
            place: crate::text::path(dir),
            message: e.to_string(),
        })?;
        let lock = lock(dir)?;
        if dir.join(".merkql").exists() {
            let partial = dir.join(INCOMPLETE_FILE).exists();
            return Err(LogError::AlreadyExists { place: crate::text::path(dir), partial });
        }
        std::fs::write(dir.join(INCOMPLETE_FILE), b"").map_err(|e| LogError::Backend {
            action: "mark the run in progress",
            place: crate::text::path(dir),
            message: e.to_string(),
        })?;
        let broker = open_broker(dir, partitions)?;
        broker.create_topic(topic, partitions).map_err(|e| broker_error("create the topic", dir, e))?;
        Ok(MerkqlLog::opened(dir, topic, partitions, broker, lock))
    }

    /// A log over a broker just opened or created, holding the directory's lock.
    fn opened(dir: &Path, topic: &str, partitions: u32, broker: BrokerRef, lock: std::fs::File) -> MerkqlLog {
        MerkqlLog {
            dir: dir.to_path_buf(),
            topic: topic.to_string(),
            partitions,
            broker,
            keyless_sent: Default::default(),
            verified_reads: true,
            poll_fault: Default::default(),
            verified: Verified::default(),
            generation: super::next_generation(),
            _lock: lock,
        }
    }

    /// Turns poll verification off (`false`) or on: off, consumers return
    /// what merkql's `poll` returns, damaged or incomplete. For showing
    /// what a projection reading merkql directly would get; never for
    /// production.
    pub fn set_verified_reads(&mut self, verified: bool) {
        self.verified_reads = verified;
    }

    /// The directory of one of the topic's partitions.
    pub(super) fn partition_dir(&self, partition: u32) -> PathBuf {
        partition_dir(&self.dir, &self.topic, partition)
    }

    /// Says the run that created this log finished writing it: the next
    /// process that finds the directory is not told it may be partial.
    pub fn mark_complete(&self) -> Result<(), LogError> {
        match std::fs::remove_file(self.dir.join(INCOMPLETE_FILE)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(LogError::Backend {
                action: "mark the run complete",
                place: crate::text::path(&self.dir),
                message: e.to_string(),
            }),
        }
    }

    /// Opens an existing log; the partition count is the topic's own.
    pub fn open(dir: &Path, topic: &str) -> Result<MerkqlLog, LogError> {
        validate_topic(topic)?;
        let missing = || LogError::Missing { place: crate::text::path(dir), topic: topic.to_string() };
        let topics = dir.join(".merkql").join("topics");
        if !topics.join(topic).exists() {
            // A log of other topics is not a missing one: say whose it is.
            let mut found: Vec<String> = std::fs::read_dir(&topics)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|entry| entry.path().is_dir())
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .collect();
            found.sort();
            if found.is_empty() {
                return Err(missing());
            }
            let found = found.iter().map(|t| crate::text::quoted(t)).collect::<Vec<_>>().join(", ");
            return Err(LogError::OtherTopic {
                place: crate::text::path(dir),
                found,
                expected: crate::text::quoted(topic),
            });
        }
        let lock = lock(dir)?;
        let (broker, partitions) = open_existing(dir, topic)?;
        Ok(MerkqlLog::opened(dir, topic, partitions, broker, lock))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub(super) fn error(&self, action: &'static str, error: anyhow::Error) -> LogError {
        broker_error(action, &self.dir, error)
    }
}

impl Log for MerkqlLog {
    fn topic(&self) -> &str {
        &self.topic
    }

    fn partitions(&self) -> u32 {
        self.partitions
    }

    fn append(&self, key: Option<&str>, value: &str) -> Result<Position, LogError> {
        if key.is_none() {
            // Routed by the log's mirror of merkql's round-robin counter
            // (see `keyless_sent`), so that batches and single appends of
            // keyless records go where `send` would put them.
            let positions = self.bulk_append_positions([(None, value.to_string())], 1)?;
            return positions.into_iter().next().ok_or_else(|| {
                self.error("append a record", anyhow::anyhow!("the batch of one record returned no position"))
            });
        }
        let producer = Broker::producer(&self.broker);
        let record = producer
            .send(&ProducerRecord::new(self.topic.as_str(), key.map(str::to_string), value))
            .map_err(|e| self.error("append a record", e))?;
        Ok(Position { partition: record.partition, offset: record.offset })
    }

    /// Through the bulk loader ([`super::bulk`]): the layout `send` would
    /// give, in a few index rewrites per partition instead of one per record.
    fn append_batch(&self, records: &[(Option<&str>, &str)]) -> Result<Vec<Position>, LogError> {
        let owned = records.iter().map(|(key, value)| (key.map(str::to_string), value.to_string()));
        self.bulk_append_positions(owned, super::bulk::BULK_BATCH_RECORDS)
    }

    fn end_offsets(&self) -> Result<Vec<u64>, LogError> {
        let topic = self
            .broker
            .topic(&self.topic)
            .ok_or_else(|| LogError::Missing { place: crate::text::path(&self.dir), topic: self.topic.clone() })?;
        let mut ids = topic.partition_ids();
        ids.sort_unstable();
        ids.into_iter()
            .map(|id| {
                let partition = topic.partition(id).ok_or_else(|| {
                    self.error("read a partition", anyhow::anyhow!("partition {id} is listed but missing"))
                })?;
                let guard = partition.read().map_err(|_| {
                    self.error("read a partition", anyhow::anyhow!("partition {id}'s lock is poisoned"))
                })?;
                Ok(guard.next_offset())
            })
            .collect()
    }

    fn consumer(&self, group_id: &str) -> Result<Box<dyn GroupConsumer>, LogError> {
        if !is_safe_name(group_id, MAX_GROUP_ID_BYTES) {
            return Err(LogError::BadGroupId(crate::text::quoted(group_id)));
        }
        let mut consumer = Broker::consumer(
            &self.broker,
            ConsumerConfig { group_id: group_id.to_string(), auto_commit: false, offset_reset: OffsetReset::Earliest },
        );
        consumer.subscribe(&[self.topic.as_str()]).map_err(|e| self.error("subscribe", e))?;
        // Where merkql starts each partition: the group's commit, else the
        // earliest offset, read from the same broker state `subscribe` read.
        let group = self.broker.group(group_id);
        let starts = (0..self.partitions)
            .map(|partition| {
                let tp = TopicPartition { topic: self.topic.clone(), partition };
                group.as_ref().and_then(|g| g.lock().ok().and_then(|g| g.committed_offset(&tp))).unwrap_or(0)
            })
            .collect();
        Ok(Box::new(MerkqlConsumer {
            inner: consumer,
            dir: self.dir.clone(),
            poisoned: false,
            verified: self.verified_reads.then(|| Verifier {
                broker: Arc::downgrade(&self.broker),
                topic: self.topic.clone(),
                dir: self.dir.clone(),
                next: starts,
                verified: self.verified.clone(),
            }),
            poll_fault: Arc::clone(&self.poll_fault),
        }))
    }

    fn reset_offsets_advice(&self, group_id: &str) -> String {
        format!(
            "delete the group's offsets.bin under the log's .merkql/groups/{}/ directory to poll from the earliest record",
            crate::text::quoted_if_needed(group_id)
        )
    }

    fn record_at(&self, position: Position) -> Result<Option<LogRecord>, LogError> {
        let Some(partition) = self.broker.topic(&self.topic).and_then(|t| t.partition(position.partition)) else {
            return Ok(None);
        };
        let guard = partition.read().map_err(|_| {
            self.error("read a partition", anyhow::anyhow!("partition {}'s lock is poisoned", position.partition))
        })?;
        if position.offset < guard.min_valid_offset() || position.offset >= guard.next_offset() {
            return Ok(None);
        }
        // An index entry whose object is gone: merkql's read fails with
        // "object not found"; say what it is.
        let index = self.partition_dir(position.partition).join("offsets.idx");
        let entry = read_index_entries(&index, position.offset, 1).map_err(|e| LogError::Backend {
            action: "read the offset index",
            place: crate::text::path(&index),
            message: e.to_string(),
        })?;
        let mut hash = [0u8; 32];
        hash.copy_from_slice(&entry[4..]);
        if !guard.store().exists(&merkql::hash::Hash(hash)) {
            return Err(damaged(
                Kind::LostWrite,
                position.partition,
                position.offset,
                "the record's object is missing from the partition's pack file".into(),
            ));
        }
        let record = guard.read(position.offset).map_err(|e| self.error("read a record", e))?;
        // Verified as a poll's records are: a changed byte is damage, not
        // a record of its own.
        if let Some(record) = &record
            && record.hash().0[..] != entry[4..]
        {
            return Err(damaged(Kind::InconsistentOffsets, position.partition, position.offset, CHANGED_RECORD.into()));
        }
        Ok(record.map(log_record))
    }

    fn inject(&mut self, fault: &Fault) -> Result<String, LogError> {
        // Whatever the fault did, records read back before it prove nothing.
        self.generation = super::next_generation();
        self.inject_fault(fault)
    }

    fn generation(&self) -> Option<u64> {
        Some(self.generation)
    }

    fn reopen(&mut self) -> Result<(), LogError> {
        let holders = Arc::strong_count(&self.broker) - 1;
        if holders > 0 {
            return Err(LogError::ConsumersStillOpen(holders));
        }
        // The lock stays held: this process keeps the directory throughout.
        let (broker, partitions) = open_existing(&self.dir, &self.topic)?;
        if partitions != self.partitions {
            return Err(LogError::Backend {
                action: "reopen",
                place: crate::text::path(&self.dir),
                message: format!(
                    "the topic had {} and now has {}",
                    crate::text::count(self.partitions, "partition"),
                    crate::text::count(partitions, "partition")
                ),
            });
        }
        self.broker = broker;
        self.keyless_sent = Default::default();
        self.generation = super::next_generation();
        Ok(())
    }
}

fn log_record(r: merkql::record::Record) -> LogRecord {
    LogRecord { topic: r.topic, partition: r.partition, offset: r.offset, key: r.key, value: r.value }
}

/// The directory merkql keeps a partition in.
pub(super) fn partition_dir(dir: &Path, topic: &str, partition: u32) -> PathBuf {
    dir.join(".merkql").join("topics").join(topic).join("partitions").join(partition.to_string())
}

/// One merkql consumer of one group on the topic.
struct MerkqlConsumer {
    inner: Consumer,
    dir: PathBuf,
    poisoned: bool,
    /// `None` when the log's reads are not verified.
    verified: Option<Verifier>,
    poll_fault: Arc<AtomicBool>,
}

/// Checks each poll against the partitions' offset indexes.
struct Verifier {
    /// Weak, so that only the merkql consumer counts as holding the broker
    /// ([`Log::reopen`] counts holders).
    broker: std::sync::Weak<Broker>,
    topic: String,
    dir: PathBuf,
    /// The next offset this consumer must receive, by partition id.
    next: Vec<u64>,
    verified: Verified,
}

/// Fingerprints of the records verified against their merkle leaf in this
/// process, by partition and offset (0: none). Every group reads every
/// record, so a record is hashed in full once: read again with the same
/// fingerprint (key, value, timestamp, offset) it is the record verified
/// before; if its bytes changed on disk since, its fingerprint differs and
/// it is verified in full again. (The fingerprint is a 64-bit hash, not a
/// cryptographic one: it guards against damage, like merkql's CRCs, not
/// against forgery; the first read of each record is checked against the
/// SHA-256 leaf.) Kept across reopens and faults: a record changed or
/// replaced since (a reused offset) has another fingerprint.
#[derive(Clone, Default)]
struct Verified(Arc<std::sync::Mutex<Vec<Vec<u64>>>>);

impl Verified {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Vec<u64>>> {
        // A panic while holding it leaves fingerprints that are each
        // whole: keep them.
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A record's fingerprint for [`Verified`]; never 0.
fn fingerprint(record: &merkql::record::Record) -> u64 {
    use std::hash::BuildHasher;
    let state = foldhash::quality::FixedState::with_seed(0x7e41f1ed);
    state.hash_one((&record.key, &record.value, &record.timestamp, record.offset)) | 1
}

/// Why a record whose bytes changed on disk is refused.
const CHANGED_RECORD: &str = "the record read differs from the one written there (its content hash is not the one its offset index entry, the merkle leaf, holds): its bytes were damaged on disk";

/// Bytes of one entry of merkql's offset index: a CRC-32 of the hash, then
/// the record's SHA-256 content hash.
pub(super) const INDEX_ENTRY_BYTES: u64 = 36;

impl Verifier {
    /// Each partition's end before a poll: the poll must reach at least it.
    fn ends(&self) -> Vec<u64> {
        let topic = self.broker.upgrade().and_then(|b| b.topic(&self.topic));
        (0..self.next.len() as u32)
            .map(|id| {
                let partition = topic.as_ref().and_then(|t| t.partition(id));
                partition.and_then(|p| p.read().ok().map(|p| p.next_offset())).unwrap_or(0)
            })
            .collect()
    }

    fn min_valid_offset(&self, partition: u32) -> u64 {
        let topic = self.broker.upgrade().and_then(|b| b.topic(&self.topic));
        let partition = topic.as_ref().and_then(|t| t.partition(partition));
        partition.and_then(|p| p.read().ok().map(|p| p.min_valid_offset())).unwrap_or(0)
    }

    /// Checks one poll's records, in poll order; `ends` is [`Verifier::ends`]
    /// from before the poll.
    fn check(&mut self, records: &[merkql::record::Record], ends: &[u64]) -> Result<(), LogError> {
        let mut next = self.next.clone();
        for block in records.chunk_by(|a, b| a.partition == b.partition) {
            let partition = block[0].partition;
            let Some(expected) = next.get_mut(partition as usize) else {
                return Err(damaged(
                    Kind::PollSkip,
                    partition,
                    block[0].offset,
                    "a partition the topic does not have".into(),
                ));
            };
            for record in block {
                if record.offset != *expected {
                    return Err(self.skip_or_reorder(partition, *expected, record.offset));
                }
                *expected += 1;
            }
            let end = ends.get(partition as usize).copied().unwrap_or(0);
            self.check_hashes(block, end)?;
        }
        for (partition, (&reached, &end)) in next.iter().zip(ends).enumerate() {
            if reached < end {
                return Err(self.skip_or_reorder(partition as u32, reached, end));
            }
        }
        self.next = next;
        Ok(())
    }

    fn skip_or_reorder(&self, partition: u32, expected: u64, got: u64) -> LogError {
        if got < expected {
            return damaged(
                Kind::NonmonotonicPoll,
                partition,
                got,
                format!("the poll returned offset {got} after offset {}", expected - 1),
            );
        }
        let min_valid = self.min_valid_offset(partition);
        let cause = if min_valid > expected {
            format!("retention evicted them (the partition keeps offsets from {min_valid})")
        } else {
            "their objects are missing from the partition's pack file, or its offset index entries were removed or reordered".to_string()
        };
        damaged(
            Kind::PollSkip,
            partition,
            expected,
            format!("the poll left out offsets {expected}..{got}, which the group never received: {cause}"),
        )
    }

    /// Every record's content hash against its offset index entry.
    /// The block is contiguous (checked before). Records this process
    /// verified before, unchanged, are not hashed again ([`Verified`]);
    /// fingerprints are kept only below `end`, the partition's end before
    /// the poll, so the table never outgrows the index.
    fn check_hashes(&self, block: &[merkql::record::Record], end: u64) -> Result<(), LogError> {
        let partition = block[0].partition;
        let first = block[0].offset;
        let mut verified = self.verified.lock();
        if verified.len() <= partition as usize {
            verified.resize(partition as usize + 1, Vec::new());
        }
        let known = &mut verified[partition as usize];
        let fingerprints: Vec<u64> = block.iter().map(fingerprint).collect();
        let unverified: Vec<bool> =
            block.iter().zip(&fingerprints).map(|(r, f)| known.get(r.offset as usize) != Some(f)).collect();
        if !unverified.contains(&true) {
            return Ok(());
        }
        let path = partition_dir(&self.dir, &self.topic, partition).join("offsets.idx");
        let entries = read_index_entries(&path, first, block.len() as u64).map_err(|e| LogError::Backend {
            action: "read the offset index",
            place: crate::text::path(&path),
            message: e.to_string(),
        })?;
        for (i, (record, entry)) in block.iter().zip(entries.chunks_exact(INDEX_ENTRY_BYTES as usize)).enumerate() {
            if !unverified[i] {
                continue;
            }
            if record.hash().0[..] != entry[4..] {
                return Err(damaged(Kind::InconsistentOffsets, partition, record.offset, CHANGED_RECORD.into()));
            }
            if record.offset < end {
                let offset = record.offset as usize;
                if known.len() <= offset {
                    known.resize(offset + 1, 0);
                }
                known[offset] = fingerprints[i];
            }
        }
        Ok(())
    }
}

/// `count` entries of an offset index from entry `first`.
pub(super) fn read_index_entries(path: &Path, first: u64, count: u64) -> std::io::Result<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path)?;
    file.seek(SeekFrom::Start(first * INDEX_ENTRY_BYTES))?;
    let mut entries = vec![0; (count * INDEX_ENTRY_BYTES) as usize];
    file.read_exact(&mut entries)?;
    Ok(entries)
}

fn damaged(anomaly: Kind, partition: u32, offset: u64, detail: String) -> LogError {
    LogError::Damaged { anomaly, partition, offset, detail }
}

impl GroupConsumer for MerkqlConsumer {
    fn poll(&mut self) -> Result<Vec<LogRecord>, LogError> {
        let ends = self.verified.as_ref().map(Verifier::ends);
        let mut records = self.inner.poll(POLL_TIMEOUT).map_err(|e| {
            self.poisoned = true;
            LogError::PollFailed { place: crate::text::path(&self.dir), message: format!("{e:#}") }
        })?;
        // merkql returns one block per partition in the order of a hash map
        // seeded per consumer: the blocks are put in partition order (a
        // stable sort, so each block keeps merkql's own record order), so
        // that a case runs the same way every time. Which damage is found
        // first, and so which anomaly is named, and which record an
        // injected panic hits, are then a function of the case alone.
        // Projections are still checked against every block order
        // (`partition_order_independence`).
        records.sort_by_key(|record| record.partition);
        if self.poll_fault.swap(false, Ordering::SeqCst) {
            self.poisoned = true;
            return Err(LogError::PollFailed {
                place: crate::text::path(&self.dir),
                message: "an injected read error, after merkql had advanced the consumer's positions".into(),
            });
        }
        if let (Some(verifier), Some(ends)) = (self.verified.as_mut(), ends)
            && let Err(damage) = verifier.check(&records, &ends)
        {
            self.poisoned = true;
            return Err(damage);
        }
        Ok(records.into_iter().map(log_record).collect())
    }

    fn commit(&mut self) -> Result<(), LogError> {
        if self.poisoned {
            return Err(LogError::CommitAfterFailedPoll);
        }
        self.inner.commit_sync().map_err(|e| broker_error("commit offsets", &self.dir, e))
    }

    /// With auto-commit off, merkql 0.2's `close` only marks the consumer
    /// closed, as its `Drop` does; it is called so that a close error (or a
    /// later merkql that does more on close) is not lost.
    fn close(mut self: Box<Self>) -> Result<(), LogError> {
        self.inner.close().map_err(|e| broker_error("close a consumer", &self.dir, e))
    }
}

fn validate_topic(topic: &str) -> Result<(), LogError> {
    if is_safe_name(topic, MAX_TOPIC_BYTES) { Ok(()) } else { Err(LogError::BadTopic(crate::text::quoted(topic))) }
}

/// The broker of an existing log and its topic's partition count.
fn open_existing(dir: &Path, topic: &str) -> Result<(BrokerRef, u32), LogError> {
    check_layout(dir)?;
    let broker = open_broker(dir, 1)?;
    let partitions = broker
        .topic(topic)
        .ok_or_else(|| LogError::Missing { place: crate::text::path(dir), topic: topic.to_string() })?
        .num_partitions();
    Ok((broker, partitions))
}

/// Largest topic metadata file read: merkql's holds a name (at most
/// [`MAX_TOPIC_BYTES`]), its length and the partition count.
const MAX_TOPIC_META_BYTES: u64 = 4096;

/// Checks every topic of the log at `dir` before merkql opens it.
/// merkql's `Broker::open` trusts each topic's metadata (`meta.bin`, which
/// has no checksum) and creates every partition directory it names that is
/// missing: a damaged count would route keys to other partitions or hide a
/// partition's records, a huge one makes thousands of directories, and 0
/// makes an append divide by zero. So each topic's metadata must read, name
/// its directory, and count 1 to [`MAX_PARTITIONS`] partitions, and its
/// partition directories must be exactly `0..count`.
fn check_layout(dir: &Path) -> Result<(), LogError> {
    // Callers have seen their topic's directory: the topics' is there.
    let topics = dir.join(".merkql").join("topics");
    let entries = std::fs::read_dir(&topics).map_err(|e| layout_io("read the topics", &topics, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| layout_io("read the topics", &topics, e))?;
        let topic_dir = entry.path();
        let meta = topic_dir.join("meta.bin");
        // merkql opens exactly the directories that hold a `meta.bin`.
        if !topic_dir.is_dir() || !meta.exists() {
            continue;
        }
        let bad = |detail: String| LogError::BadLayout { place: crate::text::path(&topic_dir), detail };
        let config =
            read_topic_meta(&meta).map_err(|e| bad(format!("its topic metadata (meta.bin) does not read: {e}")))?;
        if std::ffi::OsStr::new(&config.name) != entry.file_name() {
            return Err(bad(format!(
                "its topic metadata (meta.bin) names the topic {}",
                crate::text::quoted(&config.name)
            )));
        }
        let count = config.num_partitions;
        if super::check_partition_count(count).is_err() {
            return Err(bad(format!(
                "its topic metadata (meta.bin) gives {}, not 1 to {MAX_PARTITIONS}",
                crate::text::count(count, "partition")
            )));
        }
        let partitions = topic_dir.join("partitions");
        let mut found = vec![false; count as usize];
        let listing = std::fs::read_dir(&partitions).map_err(|e| layout_io("read the partitions", &partitions, e))?;
        for partition in listing {
            let partition = partition.map_err(|e| layout_io("read the partitions", &partitions, e))?;
            // merkql names partition directories by their id, in decimal.
            let Some(id) =
                partition.file_name().to_str().and_then(|n| n.parse::<u32>().ok().filter(|id| id.to_string() == n))
            else {
                continue;
            };
            match found.get_mut(id as usize) {
                Some(seen) if partition.path().is_dir() => *seen = true,
                Some(_) => return Err(bad(format!("partition {id} is not a directory"))),
                None => {
                    return Err(bad(format!(
                        "it holds a directory for partition {id}, but its metadata (meta.bin) gives {}",
                        crate::text::count(count, "partition")
                    )));
                }
            }
        }
        if let Some(missing) = found.iter().position(|seen| !seen) {
            return Err(bad(format!(
                "the directory of partition {missing} of its {} is missing",
                crate::text::count(count, "partition")
            )));
        }
    }
    Ok(())
}

/// A topic's metadata as merkql writes it (bincode of its `TopicConfig`),
/// read with a bound on its size.
fn read_topic_meta(path: &Path) -> Result<merkql::topic::TopicConfig, String> {
    use bincode::Options;
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    file.take(MAX_TOPIC_META_BYTES + 1).read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_TOPIC_META_BYTES {
        return Err(format!("it is over {MAX_TOPIC_META_BYTES} bytes"));
    }
    bincode::options()
        .with_fixint_encoding()
        .allow_trailing_bytes()
        .with_limit(MAX_TOPIC_META_BYTES)
        .deserialize(&bytes)
        .map_err(|e| e.to_string())
}

fn layout_io(action: &'static str, path: &Path, error: std::io::Error) -> LogError {
    LogError::Backend { action, place: crate::text::path(path), message: error.to_string() }
}

fn open_broker(dir: &Path, partitions: u32) -> Result<BrokerRef, LogError> {
    let config = BrokerConfig { default_partitions: partitions, auto_create_topics: false, ..BrokerConfig::new(dir) };
    Broker::open(config).map_err(|e| broker_error("open the broker", dir, e))
}

fn broker_error(action: &'static str, dir: &Path, error: anyhow::Error) -> LogError {
    LogError::Backend { action, place: crate::text::path(dir), message: format!("{error:#}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(offset: u64) -> merkql::record::Record {
        merkql::record::Record {
            key: Some("k".into()),
            value: format!("v{offset}"),
            topic: "t".into(),
            partition: 0,
            offset,
            timestamp: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
        }
    }

    /// A verifier of one partition that expects offset `next` next (no
    /// broker behind it: its records are checked for order only).
    fn verifier(next: u64) -> Verifier {
        Verifier {
            broker: std::sync::Weak::new(),
            topic: "t".into(),
            dir: PathBuf::from("/nonexistent"),
            next: vec![next],
            verified: Verified::default(),
        }
    }

    #[test]
    fn an_offset_below_the_next_one_is_a_nonmonotonic_poll() {
        let error = verifier(5).check(&[record(3)], &[6]).unwrap_err();
        assert!(matches!(error, LogError::Damaged { anomaly: Kind::NonmonotonicPoll, offset: 3, .. }), "{error}");
        assert!(error.to_string().contains("returned offset 3 after offset 4"), "{error}");
    }

    #[test]
    fn an_offset_past_the_next_one_is_a_poll_skip() {
        let error = verifier(1).check(&[record(4)], &[5]).unwrap_err();
        assert!(matches!(error, LogError::Damaged { anomaly: Kind::PollSkip, offset: 1, .. }), "{error}");
        assert!(error.to_string().contains("offsets 1..4"), "{error}");
        let error = verifier(2).check(&[], &[3]).unwrap_err();
        assert!(error.to_string().contains("offsets 2..3"), "a poll that stops short of the end: {error}");
        assert!(verifier(3).check(&[], &[3]).is_ok(), "nothing new, nothing missing");
    }
}
