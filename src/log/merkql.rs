//! The merkql implementation of the log seam: the only module that knows
//! merkql (with its bulk loader, [`super::bulk`]).
//!
//! merkql 0.2 behaviours this adapter guards against (see README):
//! - `Consumer::poll` advances positions of partitions read before an error,
//!   and `commit_sync` commits positions: so after a failed poll the
//!   consumer is *poisoned* and refuses to commit ([`LogError::CommitAfterFailedPoll`]).
//! - Two `Broker` instances on one directory corrupt offsets: so
//!   [`Log::reopen`] refuses while a consumer still holds the broker.
//! - Group ids and topics become directory names: so they are validated.
//! - `auto_commit` commits on `Drop`: consumers are always made with it off.

use super::{GroupConsumer, Log, LogError, MAX_GROUP_ID_BYTES, MAX_PARTITIONS, is_safe_name};
use crate::record::{LogRecord, Position};
use merkql::broker::{Broker, BrokerConfig, BrokerRef};
use merkql::consumer::{Consumer, ConsumerConfig, OffsetReset};
use merkql::record::ProducerRecord;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Longest accepted topic name, in bytes (Kafka's limit).
const MAX_TOPIC_BYTES: usize = 249;

/// merkql ignores the poll timeout (it returns whatever is there); a nominal one.
const POLL_TIMEOUT: Duration = Duration::from_millis(0);

/// The lock file every process takes, exclusively, before it reads or
/// writes a log directory: merkql does not guard against two processes.
const LOCK_FILE: &str = ".event-sourced-cart.lock";

/// Present while a log is being written by a run that has not said it
/// finished ([`MerkqlLog::mark_complete`]): after a `kill -9` it remains,
/// and the next process is told the log may be partial.
const INCOMPLETE_FILE: &str = ".event-sourced-cart.incomplete";

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
        if !(1..=MAX_PARTITIONS).contains(&partitions) {
            return Err(LogError::BadPartitionCount(partitions));
        }
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
            _lock: lock,
        }
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
        if !dir.join(".merkql").join("topics").join(topic).exists() {
            return Err(missing());
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
        Ok(Box::new(MerkqlConsumer { inner: consumer, dir: self.dir.clone(), poisoned: false }))
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
        Ok(())
    }
}

/// One merkql consumer of one group on the topic.
struct MerkqlConsumer {
    inner: Consumer,
    dir: PathBuf,
    poisoned: bool,
}

impl GroupConsumer for MerkqlConsumer {
    fn poll(&mut self) -> Result<Vec<LogRecord>, LogError> {
        match self.inner.poll(POLL_TIMEOUT) {
            Ok(records) => Ok(records
                .into_iter()
                .map(|r| LogRecord {
                    topic: r.topic,
                    partition: r.partition,
                    offset: r.offset,
                    key: r.key,
                    value: r.value,
                })
                .collect()),
            Err(e) => {
                self.poisoned = true;
                Err(broker_error("poll", &self.dir, e))
            }
        }
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
    let broker = open_broker(dir, 1)?;
    let partitions = broker
        .topic(topic)
        .ok_or_else(|| LogError::Missing { place: crate::text::path(dir), topic: topic.to_string() })?
        .num_partitions();
    Ok((broker, partitions))
}

fn open_broker(dir: &Path, partitions: u32) -> Result<BrokerRef, LogError> {
    let config = BrokerConfig { default_partitions: partitions, auto_create_topics: false, ..BrokerConfig::new(dir) };
    Broker::open(config).map_err(|e| broker_error("open the broker", dir, e))
}

fn broker_error(action: &'static str, dir: &Path, error: anyhow::Error) -> LogError {
    LogError::Backend { action, place: crate::text::path(dir), message: format!("{error:#}") }
}
