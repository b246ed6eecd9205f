//! The log seam: the small interface the runner and the harness talk to.
//!
//! A log holds one topic of `P` partitions. It appends keyed records and
//! says where they landed, hands out group consumers that poll everything
//! up to each partition's current end, commit what they polled and close,
//! and can be dropped and reopened as a restarted broker process would.
//! [`merkql::MerkqlLog`] (the embedded merkql log on disk) is one
//! implementation and the only module that knows merkql; the Kafka-protocol
//! backend and the fault-injecting log are others.
//!
//! Values are text: merkql stores `String` values, and every domain here
//! reads JSON. Creating a log is implementation-specific (a directory for
//! merkql, a bootstrap address for Kafka), so it is not part of the trait.

pub mod bulk;
pub mod fault;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod merkql;
mod merkql_faults;

pub use self::fault::Fault;
pub use self::merkql::MerkqlLog;

use crate::record::{LogRecord, Position};

/// Partition counts accepted for a topic.
pub const MAX_PARTITIONS: u32 = 256;

/// Whether `partitions` is a partition count a new topic may have (1 to
/// [`MAX_PARTITIONS`]): the one rule for every backend.
pub fn check_partition_count(partitions: u32) -> Result<(), LogError> {
    if (1..=MAX_PARTITIONS).contains(&partitions) { Ok(()) } else { Err(LogError::BadPartitionCount(partitions)) }
}

/// Longest accepted consumer group id, in bytes.
pub const MAX_GROUP_ID_BYTES: usize = 128;

/// An open log holding one topic.
pub trait Log {
    /// The topic's name.
    fn topic(&self) -> &str;

    /// The topic's partition count.
    fn partitions(&self) -> u32;

    /// Appends `value` under `key` (any key, or none: real logs hold
    /// anything) and returns where the log put it.
    fn append(&self, key: Option<&str>, value: &str) -> Result<Position, LogError>;

    /// Appends `records` in order, as many `append`s would, and returns
    /// their positions in the same order. A log may do it faster (merkql:
    /// one index rewrite per partition and batch instead of one per record)
    /// but never differently: the records land where `append` would put
    /// them. [`PerRecord`] keeps the record-by-record path.
    fn append_batch(&self, records: &[(Option<&str>, &str)]) -> Result<Vec<Position>, LogError> {
        records.iter().map(|(key, value)| self.append(*key, value)).collect()
    }

    /// The next offset of each partition (its record count), by partition id.
    fn end_offsets(&self) -> Result<Vec<u64>, LogError>;

    /// A new consumer of `group_id`, starting at the group's committed
    /// offsets or, for a new group, at the earliest record. Auto-commit is
    /// off: a consumer commits only when told to.
    fn consumer(&self, group_id: &str) -> Result<Box<dyn GroupConsumer>, LogError>;

    /// Drops the broker and opens the log again, as a restarted process
    /// would. Every consumer must have been released first.
    fn reopen(&mut self) -> Result<(), LogError>;

    /// The record the log holds at `position`, as a poll would return it,
    /// or `None` if it holds none there (past the end, evicted). A durable
    /// runner reads its last applied record back with it, to notice a log
    /// that was rewritten under its checkpoint.
    fn record_at(&self, position: Position) -> Result<Option<LogRecord>, LogError>;

    /// This opening of the log: a number that changes whenever the log may
    /// have changed under its reader's feet (opened anew, reopened, a
    /// fault injected), or `None` if the log cannot tell. A durable runner
    /// reads back the record its checkpoint ends at only once per
    /// generation: within one, a record read back stays as it was read.
    fn generation(&self) -> Option<u64> {
        None
    }

    /// What to do to make `group_id` poll from the earliest record again
    /// (its committed offsets forgotten), in this log's terms: the advice
    /// a runner gives when the group's offsets are ahead of its checkpoint.
    fn reset_offsets_advice(&self, group_id: &str) -> String {
        format!("reset the offsets of group {} to the earliest record", crate::text::quoted(group_id))
    }

    /// Applies `fault` ([`Fault`]) and says in one line what it did. Every
    /// consumer must have been released first. A log that cannot have
    /// faults injected says so.
    fn inject(&mut self, fault: &Fault) -> Result<String, LogError> {
        Err(LogError::FaultUnsupported(fault.name()))
    }
}

/// A log whose batches are appended one record at a time through its own
/// [`Log::append`] (for merkql, one `Producer::send` per keyed record, as a
/// real producer sends, and a batch of one per keyless record, routed as
/// `send` would): slower, quadratic on merkql, and the way to reproduce a
/// problem in the per-record path itself.
pub struct PerRecord<L>(pub L);

impl<L: Log> Log for PerRecord<L> {
    fn topic(&self) -> &str {
        self.0.topic()
    }
    fn partitions(&self) -> u32 {
        self.0.partitions()
    }
    fn append(&self, key: Option<&str>, value: &str) -> Result<Position, LogError> {
        self.0.append(key, value)
    }
    fn end_offsets(&self) -> Result<Vec<u64>, LogError> {
        self.0.end_offsets()
    }
    fn consumer(&self, group_id: &str) -> Result<Box<dyn GroupConsumer>, LogError> {
        self.0.consumer(group_id)
    }
    fn reopen(&mut self) -> Result<(), LogError> {
        self.0.reopen()
    }
    fn record_at(&self, position: Position) -> Result<Option<LogRecord>, LogError> {
        self.0.record_at(position)
    }
    fn reset_offsets_advice(&self, group_id: &str) -> String {
        self.0.reset_offsets_advice(group_id)
    }
    fn generation(&self) -> Option<u64> {
        self.0.generation()
    }
    fn inject(&mut self, fault: &Fault) -> Result<String, LogError> {
        self.0.inject(fault)
    }
}

/// One consumer of one group on the log's topic.
pub trait GroupConsumer {
    /// Everything from the consumer's positions to each partition's current
    /// end: in offset order within a partition, partition blocks in an
    /// order the log chooses.
    fn poll(&mut self) -> Result<Vec<LogRecord>, LogError>;

    /// Commits "everything previous polls returned". Refused after a failed
    /// poll, since the log may have advanced some positions.
    fn commit(&mut self) -> Result<(), LogError>;

    /// Closes without committing.
    fn close(self: Box<Self>) -> Result<(), LogError>;
}

/// Everything that can go wrong talking to a log, with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("{place} already holds a log{}; choose an empty or new directory", if *.partial { " written by a run that did not finish (killed?), so it may be partial" } else { "" })]
    AlreadyExists { place: String, partial: bool },
    #[error(
        "{place} is in use by another process (it holds the directory's lock); wait for it to finish or choose another directory"
    )]
    InUse { place: String },
    #[error("{place} holds no log with topic {topic}; create one first")]
    Missing { place: String, topic: String },
    #[error(
        "{place} holds a log of topic {found}, not of topic {expected}, which this program reads and writes; pass the directory of a {expected} log, or a new directory"
    )]
    OtherTopic { place: String, found: String, expected: String },
    #[error(
        "{place} is damaged: {detail}. merkql would open it without an error and read or route records wrongly; restore the log directory from a backup"
    )]
    BadLayout { place: String, detail: String },
    #[error("partition count {0} is out of range; use 1 to {MAX_PARTITIONS}")]
    BadPartitionCount(u32),
    #[error("topic name {0} is not usable; use 1-249 bytes of letters, digits, '-', '_' or '.', not starting with '.'")]
    BadTopic(String),
    #[error(
        "group id {0} is not usable; use 1-{MAX_GROUP_ID_BYTES} bytes of letters, digits, '-', '_' or '.', not starting with '.'"
    )]
    BadGroupId(String),
    #[error("cannot reopen the log while {0} consumer(s) still hold it; release every consumer first")]
    ConsumersStillOpen(usize),
    #[error(
        "commit refused: the previous poll failed after the log had advanced some positions, so committing would skip records; drop this consumer and poll with a new one"
    )]
    CommitAfterFailedPoll,
    #[error(
        "the log failed to {action} in {place}: {message}; check that the place is a log of this tool (a directory it wrote, or a reachable broker), readable and writable, then run again"
    )]
    Backend { action: &'static str, place: String, message: String },
    #[error(
        "the poll failed in {place}: {message}; the consumer may have moved past records it did not return, so it must not commit: poll again with a new consumer; if the same error comes back, the log is damaged: restore it from a backup"
    )]
    PollFailed { place: String, message: String },
    #[error(
        "this build has no Kafka backend; build it with `cargo run --release --features kafka -- ...` (librdkafka is compiled from source, nothing to install)"
    )]
    KafkaNotBuilt,
    #[error("this log cannot have the fault {0} injected; run fault schedules on a merkql log")]
    FaultUnsupported(&'static str),
    #[error(
        "{anomaly}: partition {partition}, offset {offset}: {detail}. The log is damaged; nothing from this poll was applied. Restore the log directory from a backup, or rebuild the views from a log that holds every record"
    )]
    Damaged { anomaly: crate::anomaly::Kind, partition: u32, offset: u64, detail: String },
}

/// Longest path accepted for a log directory, a view store or an input
/// file, in bytes (Linux's `PATH_MAX` less its NUL).
pub const MAX_PATH_BYTES: usize = 4095;

/// Longest accepted path component, in bytes (the file systems' `NAME_MAX`).
pub const MAX_PATH_COMPONENT_BYTES: usize = 255;

/// A path from a user (a flag, a setting), checked before anything is
/// created or opened with it: not empty, no NUL byte, within the file
/// system's limits. Unlike group ids and topics, a path may hold `/`,
/// `\` and `..`: `../logs` names a directory on purpose. The error says
/// what is wrong and what to use instead.
pub fn check_path(path: &std::ffi::OsStr) -> Result<std::path::PathBuf, String> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_bytes();
    if bytes.is_empty() {
        return Err("the path is empty; give a directory or file".into());
    }
    if bytes.contains(&0) {
        return Err("the path holds a NUL byte, which no file name can; remove it".into());
    }
    if bytes.len() > MAX_PATH_BYTES {
        return Err(format!("the path is {} bytes long; use at most {MAX_PATH_BYTES}", bytes.len()));
    }
    if let Some(long) = bytes.split(|b| *b == b'/').map(<[u8]>::len).find(|n| *n > MAX_PATH_COMPONENT_BYTES) {
        return Err(format!("a component of the path is {long} bytes long; use at most {MAX_PATH_COMPONENT_BYTES}"));
    }
    Ok(std::path::PathBuf::from(path))
}

/// Whether `name` is usable as a group id or topic: it becomes a directory
/// name in merkql and must stay inside the log directory, so `/`, `\`,
/// `..` (any leading `.`), NUL, every other byte but letters, digits, `-`,
/// `_` and `.`, the empty name and names over `max_bytes` are refused.
pub(crate) fn is_safe_name(name: &str, max_bytes: usize) -> bool {
    !name.is_empty()
        && name.len() <= max_bytes
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A new log generation ([`Log::generation`]), unique in the process.
pub(crate) fn next_generation() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::{
        LogError, MAX_PARTITIONS, MAX_PATH_BYTES, MAX_PATH_COMPONENT_BYTES, check_partition_count, check_path,
        is_safe_name,
    };
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn a_topic_has_1_to_256_partitions() {
        for good in [1, 2, MAX_PARTITIONS] {
            assert!(check_partition_count(good).is_ok(), "{good}");
        }
        for bad in [0, MAX_PARTITIONS + 1, u32::MAX] {
            assert!(matches!(check_partition_count(bad), Err(LogError::BadPartitionCount(n)) if n == bad), "{bad}");
        }
    }

    #[test]
    fn paths_are_refused_when_empty_with_nul_or_over_the_limits() {
        let refused = |path: &[u8], why: &str| {
            let error = check_path(OsStr::from_bytes(path)).unwrap_err();
            assert!(error.contains(why), "{error}");
        };
        refused(b"", "empty");
        refused(b"logs/a\0b", "NUL");
        refused(&vec![b'a'; MAX_PATH_COMPONENT_BYTES + 1], "component of the path is 256 bytes");
        refused("a/".repeat(MAX_PATH_BYTES / 2 + 1).as_bytes(), "4096 bytes long; use at most 4095");
        for fine in ["../logs", "a\\b", "/tmp/x", "./y/", "\u{e9}t\u{e9}"] {
            assert_eq!(check_path(OsStr::new(fine)).unwrap(), std::path::PathBuf::from(fine));
        }
        let longest_component = "a".repeat(MAX_PATH_COMPONENT_BYTES);
        assert!(check_path(OsStr::new(&longest_component)).is_ok());
        let longest = format!("{}{}/{longest_component}", format!("{}/", "b".repeat(254)).repeat(15), "c".repeat(14));
        assert_eq!(longest.len(), MAX_PATH_BYTES);
        assert!(check_path(OsStr::new(&longest)).is_ok());
        assert!(check_path(OsStr::new(&format!("{longest}c"))).is_err());
    }

    #[test]
    fn names_hold_only_safe_bytes() {
        for bad in ["", "/", "a/b", "\\", "a\\b", "..", ".x", "a\0b", "a b", "\u{e9}"] {
            assert!(!is_safe_name(bad, 16), "{bad:?}");
        }
        assert!(!is_safe_name(&"a".repeat(17), 16));
        for good in ["a", "item-state", "a.b_c-1", "a..b", &"a".repeat(16)] {
            assert!(is_safe_name(good, 16), "{good:?}");
        }
    }
}
