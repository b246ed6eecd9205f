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

/// Written `p0@3`: partition 0, offset 3. The one form every message uses;
/// lists of positions are written by [`Positions`].
impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "p{}@{}", self.partition, self.offset)
    }
}

/// A list of positions written compactly, in its own order: a run of
/// consecutive offsets of one partition collapses to `p1@0..2` (both ends
/// included: offsets 0, 1 and 2), runs are separated by `, `, and an empty
/// list is `none`. `[p0@0, p0@1, p0@2, p2@5]` is written `p0@0..2, p2@5`.
pub struct Positions<'a>(pub &'a [Position]);

impl std::fmt::Display for Positions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        let runs = self.0.chunk_by(|a, b| a.partition == b.partition && a.offset.checked_add(1) == Some(b.offset));
        for (i, run) in runs.enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match run {
                [one] => write!(f, "{one}")?,
                [first, .., last] => write!(f, "{first}..{}", last.offset)?,
                [] => unreachable!("chunk_by yields no empty run"),
            }
        }
        Ok(())
    }
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
    use super::{Position, Positions, digest};

    #[test]
    fn positions_are_written_compactly_with_runs_collapsed() {
        let at = |partition, offset| Position { partition, offset };
        assert_eq!(at(1, 3).to_string(), "p1@3");
        let list = [at(0, 0), at(0, 1), at(0, 2), at(2, 5), at(2, 7), at(1, 8), at(1, 9), at(0, 3), at(0, 3)];
        assert_eq!(Positions(&list).to_string(), "p0@0..2, p2@5, p2@7, p1@8..9, p0@3, p0@3");
        assert_eq!(Positions(&[]).to_string(), "none");
        assert_eq!(Positions(&[at(3, u64::MAX)]).to_string(), format!("p3@{}", u64::MAX));
        assert_eq!(
            Positions(&[at(0, u64::MAX - 1), at(0, u64::MAX)]).to_string(),
            format!("p0@{}..{}", u64::MAX - 1, u64::MAX)
        );
    }

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
