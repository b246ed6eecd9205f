//! The merkql adapter: the only module that knows merkql.
//!
//! It opens a broker on a directory, creates the `cart-events` topic with a
//! chosen partition count, appends records keyed by cart id, and hands out
//! group consumers that speak [`LogRecord`]. Everything above it (runners,
//! harness, CLI) is broker-agnostic, so a Kafka-protocol adapter can later
//! stand beside this one.
//!
//! merkql 0.2 behaviours this adapter guards against (see README):
//! - `Consumer::poll` advances positions of partitions read before an error,
//!   and `commit_sync` commits positions: so after a failed poll the
//!   consumer is *poisoned* and refuses to commit ([`LogError::CommitAfterFailedPoll`]).
//! - Two `Broker` instances on one directory corrupt offsets: so
//!   [`EventLog::reopen`] refuses while a consumer still holds the broker.
//! - Group ids become directory names: so they are validated.
//! - `auto_commit` commits on `Drop`: consumers are always made with it off.

pub mod bulk;

use crate::event::DomainEvent;
use crate::record::{LogRecord, Position};
use merkql::broker::{Broker, BrokerConfig, BrokerRef};
use merkql::consumer::{Consumer, ConsumerConfig, OffsetReset};
use merkql::record::ProducerRecord;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The topic every cart event goes to.
pub const TOPIC: &str = "cart-events";

/// Partition counts accepted for the topic.
pub const MAX_PARTITIONS: u32 = 256;

/// Longest accepted consumer group id, in bytes.
pub const MAX_GROUP_ID_BYTES: usize = 128;

/// merkql ignores the poll timeout (it returns whatever is there); a nominal one.
const POLL_TIMEOUT: Duration = Duration::from_millis(0);

/// Everything that can go wrong talking to the log, with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("{dir} already holds a merkql log; choose an empty or new directory")]
    AlreadyExists { dir: PathBuf },
    #[error("{dir} holds no merkql log with topic {TOPIC}; create one first")]
    Missing { dir: PathBuf },
    #[error("partition count {0} is out of range; use 1 to {MAX_PARTITIONS}")]
    BadPartitionCount(u32),
    #[error(
        "group id {0:?} is not usable; use 1-{MAX_GROUP_ID_BYTES} bytes of letters, digits, '-', '_' or '.', not starting with '.'"
    )]
    BadGroupId(String),
    #[error("cannot reopen the broker while {0} consumer(s) still hold it; release every consumer first")]
    ConsumersStillOpen(usize),
    #[error(
        "commit refused: the previous poll failed after merkql had advanced some positions, so committing would skip records; drop this consumer and poll with a new one"
    )]
    CommitAfterFailedPoll,
    #[error("merkql failed to {action} in {dir}: {message}")]
    Broker { action: &'static str, dir: PathBuf, message: String },
}

/// An open merkql log holding the `cart-events` topic.
pub struct EventLog {
    dir: PathBuf,
    partitions: u32,
    broker: BrokerRef,
}

impl EventLog {
    /// Creates a new log in `dir` (created if missing) with `partitions`
    /// partitions. Refuses a directory that already holds a log.
    pub fn create(dir: &Path, partitions: u32) -> Result<EventLog, LogError> {
        if !(1..=MAX_PARTITIONS).contains(&partitions) {
            return Err(LogError::BadPartitionCount(partitions));
        }
        if dir.join(".merkql").exists() {
            return Err(LogError::AlreadyExists { dir: dir.to_path_buf() });
        }
        let broker = open_broker(dir, partitions)?;
        broker.create_topic(TOPIC, partitions).map_err(|e| broker_error("create the topic", dir, e))?;
        Ok(EventLog { dir: dir.to_path_buf(), partitions, broker })
    }

    /// Opens an existing log; the partition count is the topic's own.
    pub fn open(dir: &Path) -> Result<EventLog, LogError> {
        if !dir.join(".merkql").join("topics").join(TOPIC).exists() {
            return Err(LogError::Missing { dir: dir.to_path_buf() });
        }
        let broker = open_broker(dir, 1)?;
        let topic = broker.topic(TOPIC).ok_or_else(|| LogError::Missing { dir: dir.to_path_buf() })?;
        let partitions = topic.num_partitions();
        Ok(EventLog { dir: dir.to_path_buf(), partitions, broker })
    }

    /// Drops this broker and opens the directory again, as a restarted
    /// process would. Every consumer must have been released.
    pub fn reopen(&mut self) -> Result<(), LogError> {
        let holders = Arc::strong_count(&self.broker) - 1;
        if holders > 0 {
            return Err(LogError::ConsumersStillOpen(holders));
        }
        let reopened = EventLog::open(&self.dir)?;
        if reopened.partitions != self.partitions {
            return Err(LogError::Broker {
                action: "reopen",
                dir: self.dir.clone(),
                message: format!("the topic had {} partitions and now has {}", self.partitions, reopened.partitions),
            });
        }
        *self = reopened;
        Ok(())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn partitions(&self) -> u32 {
        self.partitions
    }

    /// Appends one event, keyed by its cart id, in the seed's wire format.
    pub fn append(&self, event: &DomainEvent) -> Result<Position, LogError> {
        self.append_raw(Some(event.cart_id()), &event.to_wire().to_json())
    }

    /// Appends any value under any key: real logs hold anything, and the
    /// harness uses this to feed malformed records.
    pub fn append_raw(&self, key: Option<&str>, value: &str) -> Result<Position, LogError> {
        let producer = Broker::producer(&self.broker);
        let record = producer
            .send(&ProducerRecord::new(TOPIC, key.map(str::to_string), value))
            .map_err(|e| broker_error("append a record", &self.dir, e))?;
        Ok(Position { partition: record.partition, offset: record.offset })
    }

    /// Number of records in each partition (the next offset of each).
    pub fn partition_lengths(&self) -> Vec<u64> {
        let topic = self.broker.topic(TOPIC).expect("the topic exists while the log is open");
        topic
            .partition_ids()
            .into_iter()
            .map(|id| {
                let partition = topic.partition(id).expect("listed partition exists");
                let guard = partition.read().expect("partition lock is not poisoned");
                guard.next_offset()
            })
            .collect()
    }

    /// A new consumer of `group_id`, subscribed to the topic, starting at the
    /// group's committed offsets or, for a new group, at the earliest record.
    pub fn consumer(&self, group_id: &str) -> Result<GroupConsumer, LogError> {
        validate_group_id(group_id)?;
        let mut consumer = Broker::consumer(
            &self.broker,
            ConsumerConfig { group_id: group_id.to_string(), auto_commit: false, offset_reset: OffsetReset::Earliest },
        );
        consumer.subscribe(&[TOPIC]).map_err(|e| broker_error("subscribe", &self.dir, e))?;
        Ok(GroupConsumer { inner: consumer, dir: self.dir.clone(), poisoned: false })
    }
}

/// One merkql consumer of one group on the topic.
pub struct GroupConsumer {
    inner: Consumer,
    dir: PathBuf,
    poisoned: bool,
}

impl GroupConsumer {
    /// Everything from the consumer's positions to each partition's tail:
    /// in offset order within a partition, partition blocks in an order that
    /// varies from one consumer to the next.
    pub fn poll(&mut self) -> Result<Vec<LogRecord>, LogError> {
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

    /// Commits "everything previous polls returned". Refused after a failed poll.
    pub fn commit(&mut self) -> Result<(), LogError> {
        if self.poisoned {
            return Err(LogError::CommitAfterFailedPoll);
        }
        self.inner.commit_sync().map_err(|e| broker_error("commit offsets", &self.dir, e))
    }

    /// Closes without committing (auto-commit is off).
    pub fn close(mut self) -> Result<(), LogError> {
        self.inner.close().map_err(|e| broker_error("close a consumer", &self.dir, e))
    }
}

fn open_broker(dir: &Path, partitions: u32) -> Result<BrokerRef, LogError> {
    let config = BrokerConfig { default_partitions: partitions, auto_create_topics: false, ..BrokerConfig::new(dir) };
    Broker::open(config).map_err(|e| broker_error("open the broker", dir, e))
}

fn broker_error(action: &'static str, dir: &Path, error: anyhow::Error) -> LogError {
    LogError::Broker { action, dir: dir.to_path_buf(), message: format!("{error:#}") }
}

fn validate_group_id(group_id: &str) -> Result<(), LogError> {
    let ok = !group_id.is_empty()
        && group_id.len() <= MAX_GROUP_ID_BYTES
        && !group_id.starts_with('.')
        && group_id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok { Ok(()) } else { Err(LogError::BadGroupId(group_id.to_string())) }
}

/// A temporary directory for a throwaway broker: under `$CART_SCRATCH_DIR`
/// if set (to measure or debug on a chosen disk), else on tmpfs
/// (`/dev/shm`) when it exists, because merkql fsyncs every send, else in
/// the system temp dir.
pub fn scratch_dir() -> std::io::Result<tempfile::TempDir> {
    let builder = || {
        let mut b = tempfile::Builder::new();
        b.prefix("cart-log-");
        b
    };
    if let Some(parent) = std::env::var_os("CART_SCRATCH_DIR") {
        std::fs::create_dir_all(&parent)?;
        return builder().tempdir_in(parent);
    }
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(dir) = builder().tempdir_in(shm)
    {
        return Ok(dir);
    }
    builder().tempdir()
}
