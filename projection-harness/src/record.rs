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

    /// [`digest`] of its key and value.
    pub fn digest(&self) -> String {
        digest(self.key.as_deref(), &self.value)
    }
}

/// A short fingerprint of a record's key and value: the first 8 bytes of
/// SHA-256, in hex. Two different records have different digests (short of
/// a 64-bit collision); the same record always has the same one, in any
/// process. The history checker compares what was read with what was
/// written by it, and a durable checkpoint keeps the digest of the last
/// record it covers, to notice a log rewritten under it.
pub fn digest(key: Option<&str>, value: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    match key {
        // Length-prefixed, so that no key/value split collides with another.
        Some(key) => {
            hasher.update([1]);
            hasher.update((key.len() as u64).to_le_bytes());
            hasher.update(key.as_bytes());
        }
        None => hasher.update([0]),
    }
    hasher.update(value.as_bytes());
    let hash = hasher.finalize();
    hash[..8].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::digest;

    #[test]
    fn digests_tell_keys_values_and_their_split_apart() {
        let all = [
            digest(None, "ab"),
            digest(Some(""), "ab"),
            digest(Some("a"), "b"),
            digest(Some("ab"), ""),
            digest(Some("ab"), "c"),
            digest(Some("ab"), "d"),
        ];
        for (i, a) in all.iter().enumerate() {
            assert_eq!(a.len(), 16);
            assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(digest(Some("a"), "b"), digest(Some("a"), "b"), "stable");
        assert_eq!(
            digest(Some("k"), "v"),
            "5804a666cd9a8c83",
            "SHA-256 of 01, 1u64 LE, \"k\", \"v\" (computed with Python's hashlib)"
        );
    }
}
