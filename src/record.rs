//! A record as read from the event log, independent of the log's crate.
//!
//! The adapter ([`crate::log`]) converts the broker's records into this type
//! so that decoding, runners and the harness never depend on merkql.

use serde::{Deserialize, Serialize};

/// Where a record sits: its partition and offset within the topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Position {
    pub partition: u32,
    pub offset: u64,
}

/// `positions` in (partition, offset) order: polls return partition blocks
/// in varying order, so comparisons of what was delivered sort first.
pub fn sorted_positions(positions: &[Position]) -> Vec<Position> {
    let mut sorted = positions.to_vec();
    sorted.sort();
    sorted
}

/// One record read from the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRecord {
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
    pub key: Option<String>,
    pub value: String,
}

impl LogRecord {
    pub fn position(&self) -> Position {
        Position { partition: self.partition, offset: self.offset }
    }
}
